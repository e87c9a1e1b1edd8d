// Every command's --help documents what the code does, read from the code itself: each flag of
// each parseArgs call under src/cli (and no flag that does not exist), every stdout line type the
// agent prints, every HTTP route the agent serves, and the text lines the client commands print.
// A flag, line type or route added without its line in the help fails here.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { OwnershipChange } from '../../src/partition/diff.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cliDir = join(root, 'src/cli');

/**
 * The agent prints one line per ring change, `{"event": change.type, ...}`. The compiler keeps
 * this list equal to OwnershipChange's types: a missing or unknown key does not type-check.
 */
const RING_LINE_TYPES: Record<OwnershipChange['type'], true> = { acquire: true, release: true, promote: true, demote: true };

const sources = new Map<string, ts.SourceFile>();
function source(path: string): ts.SourceFile {
  let sf = sources.get(path);
  if (sf === undefined) {
    sf = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    sources.set(path, sf);
  }
  return sf;
}

function nodes(node: ts.Node): ts.Node[] {
  const all: ts.Node[] = [];
  const visit = (n: ts.Node) => {
    all.push(n);
    ts.forEachChild(n, visit);
  };
  visit(node);
  return all;
}

function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  return `${relative(root, sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
}

/** `x as const`, `(x)`, `x satisfies T` → x. */
function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isAsExpression(e) || ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
  return e;
}

function propertyName(name: ts.PropertyName): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  throw new Error(`${where(name)}: cannot read this property name`);
}

/** The initializer of the one variable of this name declared in the same file. */
function initializerOf(id: ts.Identifier): ts.Expression {
  const found = nodes(id.getSourceFile()).filter(
    (n): n is ts.VariableDeclaration => ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === id.text,
  );
  if (found.length !== 1 || found[0]!.initializer === undefined) throw new Error(`${where(id)}: cannot resolve ${id.text} in its file`);
  return found[0]!.initializer;
}

interface Flags {
  long: string[];
  short: string[];
}

/** The flags of a parseArgs `options` object: its properties, spreads and same-file constants followed. */
function flagsOf(expr: ts.Expression, into: Flags = { long: [], short: [] }): Flags {
  const e = unwrap(expr);
  if (ts.isIdentifier(e)) return flagsOf(initializerOf(e), into);
  if (!ts.isObjectLiteralExpression(e))
    throw new Error(`${where(e)}: parseArgs options must be an object literal or a constant of this file`);
  for (const p of e.properties) {
    if (ts.isSpreadAssignment(p)) flagsOf(p.expression, into);
    else if (ts.isPropertyAssignment(p)) {
      into.long.push(propertyName(p.name));
      const spec = unwrap(p.initializer);
      const init = ts.isIdentifier(spec) ? unwrap(initializerOf(spec)) : spec;
      if (!ts.isObjectLiteralExpression(init)) throw new Error(`${where(p)}: cannot read the option ${propertyName(p.name)}`);
      for (const q of init.properties)
        if (ts.isPropertyAssignment(q) && propertyName(q.name) === 'short') {
          const short = unwrap(q.initializer);
          if (!ts.isStringLiteral(short)) throw new Error(`${where(q)}: short must be a string literal`);
          into.short.push(short.text);
        }
    } else throw new Error(`${where(p)}: cannot read this option`);
  }
  return into;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/**
 * Every parseArgs call under src/cli, by command: the function `<command>Command` it is in. Calls
 * elsewhere (a helper's lenient pre-parse) are under '' : they may only read a command's flags.
 */
function parseArgsFlags(): Map<string, Flags> {
  const byCommand = new Map<string, Flags>();
  for (const file of tsFiles(cliDir)) {
    for (const call of nodes(source(file))) {
      if (!ts.isCallExpression(call) || !ts.isIdentifier(call.expression) || call.expression.text !== 'parseArgs') continue;
      const config = call.arguments[0] && unwrap(call.arguments[0]);
      const options =
        config && ts.isObjectLiteralExpression(config)
          ? config.properties.find((p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && propertyName(p.name) === 'options')
          : undefined;
      if (options === undefined) throw new Error(`${where(call)}: parseArgs without a readable options property`);
      let fn: ts.Node | undefined = call.parent;
      while (fn !== undefined && !(ts.isFunctionDeclaration(fn) && fn.name !== undefined)) fn = fn.parent;
      const command = (fn && /^(\w+)Command$/.exec((fn as ts.FunctionDeclaration).name!.text)?.[1]) ?? '';
      const flags = byCommand.get(command) ?? { long: [], short: [] };
      flagsOf(options.initializer, flags);
      byCommand.set(command, flags);
    }
  }
  return byCommand;
}

/** The command names main.ts dispatches to (its `commands` object) and the flags it compares argv to. */
function mainCommandsAndFlags(): { commands: string[]; flags: string[] } {
  const sf = source(join(cliDir, 'main.ts'));
  const decl = nodes(sf).find(
    (n): n is ts.VariableDeclaration => ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'commands',
  );
  const init = decl?.initializer && unwrap(decl.initializer);
  if (init === undefined || !ts.isObjectLiteralExpression(init)) throw new Error('main.ts: no `commands` object');
  const commands = init.properties.map((p) => {
    if (!ts.isPropertyAssignment(p)) throw new Error(`${where(p)}: cannot read this command`);
    return propertyName(p.name);
  });
  const flags = nodes(sf)
    .filter((n): n is ts.StringLiteral => ts.isStringLiteral(n) && /^--?[a-z]/.test(n.text))
    .map((n) => n.text);
  return { commands, flags };
}

/** The `event` of every line agent.ts prints through its print(type, fields). */
function agentLineTypes(): string[] {
  const types: string[] = [];
  for (const call of nodes(source(join(cliDir, 'agent.ts')))) {
    if (!ts.isCallExpression(call) || !ts.isIdentifier(call.expression) || call.expression.text !== 'print') continue;
    const arg = call.arguments[0] && unwrap(call.arguments[0]);
    if (arg && ts.isStringLiteral(arg)) {
      types.push(arg.text);
      continue;
    }
    // print(event, …) inside `for (const event of ['a', 'b', …])`.
    let loop: ts.Node | undefined = call.parent;
    while (
      loop !== undefined &&
      !(
        ts.isForOfStatement(loop) &&
        arg !== undefined &&
        ts.isIdentifier(arg) &&
        ts.isVariableDeclarationList(loop.initializer) &&
        loop.initializer.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === arg.text)
      )
    )
      loop = loop.parent;
    const list = loop && unwrap((loop as ts.ForOfStatement).expression);
    if (list === undefined || !ts.isArrayLiteralExpression(list) || !list.elements.every(ts.isStringLiteral))
      throw new Error(`${where(call)}: cannot tell which line type this print writes`);
    types.push(...list.elements.map((e) => (e as ts.StringLiteral).text));
  }
  return types;
}

/**
 * What agent-http.ts routes: its `case 'METHOD /path'` labels, and every path-like string
 * literal ('/events', '/proxy/', a dashboard file's path …) in it and in the src/cli modules it
 * imports, followed transitively, where routes may be looked up. Text inside template literals
 * (the dashboard's own page and script) is not a string literal and is not read.
 */
function agentRoutes(): { routes: Set<string>; paths: Map<string, string> } {
  const routes = new Set<string>();
  const paths = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [join(cliDir, 'agent-http.ts')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const n of nodes(source(file))) {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier) && n.moduleSpecifier.text.startsWith('.')) {
        const target = resolve(dirname(file), n.moduleSpecifier.text.replace(/\.js$/, '.ts'));
        if (target.startsWith(`${cliDir}/`)) queue.push(target);
        continue;
      }
      if (ts.isCaseClause(n) && ts.isStringLiteral(n.expression) && /^[A-Z]+ \//.test(n.expression.text)) routes.add(n.expression.text);
      if (ts.isStringLiteral(n) && /^\/[\w./-]*$/.test(n.text) && !ts.isImportDeclaration(n.parent) && !ts.isExportDeclaration(n.parent))
        paths.set(n.text, where(n));
    }
  }
  return { routes, paths };
}

/** The help from its first line starting with `heading` to the next line that starts a new block. */
function section(help: string, heading: string): string {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(start >= 0, `the help has a section starting with ${JSON.stringify(heading)}`);
  let end = start + 1;
  while (end < lines.length && (lines[end] === '' ? lines[end + 1]?.startsWith(' ') : lines[end]!.startsWith(' '))) end++;
  return lines.slice(start, end).join('\n');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** `word` as a whole token: not part of a longer flag, name or path. */
const token = (word: string) => new RegExp(`(?<![\\w-])${escape(word)}(?![\\w-])`);

describe('--help documents every flag, line type and route, read from the code', () => {
  const { commands, flags: mainFlags } = mainCommandsAndFlags();
  const flagsByCommand = parseArgsFlags();
  const helperFlags = flagsByCommand.get('') ?? { long: [], short: [] };
  flagsByCommand.delete('');
  const help = new Map<string, string>();

  before(async () => {
    // All at once: each is a process of its own. A command's -h is its --help (parseArgs' short
    // alias, checked below); the top level compares its own spellings.
    const argvs = [['--help'], ['-h'], ['help'], [], ...commands.map((c) => [c, '-h'])];
    const runs = await Promise.all(argvs.map((argv) => runCli(argv)));
    runs.forEach((r, i) => {
      const argv = argvs[i]!;
      assert.equal(r.code, 0, `swimring ${argv.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      const command = argv.length === 2 ? argv[0]! : '';
      assert.ok(r.stdout.startsWith(`Usage: swimring ${command || '<command>'}`), r.stdout);
      if (help.has(command)) assert.equal(r.stdout, help.get(command), `swimring ${argv.join(' ')} prints the same help`);
      help.set(command, r.stdout);
    });
  });

  it('finds what it reads: the commands, their parseArgs calls, the agent lines and routes', () => {
    assert.deepEqual([...commands].sort(), ['agent', 'event', 'members', 'query', 'route']);
    // A command without a parseArgs call found here would have its flags unchecked.
    assert.deepEqual([...flagsByCommand.keys()].sort(), [...commands].sort());
    for (const [command, flags] of flagsByCommand) assert.ok(flags.long.includes('help') && flags.short.includes('h'), command);
    const known = new Set([...flagsByCommand.values()].flatMap((f) => f.long));
    for (const flag of helperFlags.long) assert.ok(known.has(flag), `--${flag} is read outside a command but no command takes it`);
    assert.ok(agentLineTypes().includes('member-join'));
    assert.ok(agentRoutes().routes.has('GET /members'));
  });

  it('swimring --help (also -h, help and no command) lists every command and every flag main.ts reads', () => {
    const top = help.get('')!;
    for (const command of commands) assert.match(section(top, 'Commands:'), new RegExp(`^  ${command} `, 'm'), command);
    for (const flag of mainFlags) assert.ok(token(flag).test(top), flag);
  });

  it("each command's help lists each of its flags (and -h), and no flag it does not take", () => {
    for (const [command, flags] of flagsByCommand) {
      const text = help.get(command)!;
      for (const long of flags.long) assert.ok(token(`--${long}`).test(text), `swimring ${command} --help lists --${long}`);
      for (const short of flags.short) assert.ok(token(`-${short}`).test(text), `swimring ${command} --help lists -${short}`);
      const documented = [...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
      for (const flag of documented)
        assert.ok(flags.long.includes(flag), `swimring ${command} --help names --${flag}, which it does not take`);
    }
  });

  it('the agent help lists every stdout line type, the ring changes included', () => {
    const out = section(help.get('agent')!, 'Output');
    const types = new Set([...agentLineTypes(), ...Object.keys(RING_LINE_TYPES)]);
    for (const type of types) assert.ok(token(type).test(out), `the agent's Output section lists ${type}`);
  });

  it('the agent help lists every route agent-http.ts serves', () => {
    const text = section(help.get('agent')!, 'HTTP');
    const { routes, paths } = agentRoutes();
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      assert.ok(new RegExp(`(?<![\\w-])${method} ${escape(path)}(?![\\w/-])`).test(text), `the agent's HTTP section lists ${route}`);
    }
    // Bare paths (guarded sets, prefixes, dashboard files): listed as such, or a path under a prefix.
    const listed = [...text.matchAll(/(?:^|\s)(\/[\w./-]*)/g)].map((m) => m[1]!);
    for (const [path, at] of paths) {
      const ok = listed.some((l) => l === path || (path !== '/' && l.startsWith(path.endsWith('/') ? path : `${path}/`)));
      assert.ok(ok, `the agent's HTTP section lists ${path} (${at})`);
    }
  });

  it('each client command documents the text lines it prints', () => {
    const sf = source(join(cliDir, 'client.ts'));
    let checked = 0;
    for (const call of nodes(sf)) {
      if (!ts.isCallExpression(call) || call.expression.getText() !== 'process.stdout.write') continue;
      let fn: ts.Node | undefined = call.parent;
      while (fn !== undefined && !(ts.isFunctionDeclaration(fn) && fn.name !== undefined)) fn = fn.parent;
      const command = fn && /^(\w+)Command$/.exec((fn as ts.FunctionDeclaration).name!.text)?.[1];
      if (command === undefined) throw new Error(`${where(call)}: stdout write outside a command`);
      // The literal text around the values, e.g. "Ack from '" and "'" of `Ack from '${r.from}'\n`.
      const pieces = nodes(call.arguments[0]!).flatMap((n) =>
        ts.isStringLiteral(n) ||
        ts.isNoSubstitutionTemplateLiteral(n) ||
        ts.isTemplateHead(n) ||
        ts.isTemplateMiddle(n) ||
        ts.isTemplateTail(n)
          ? n.text.split('\n')
          : [],
      );
      for (const piece of pieces.map((p) => p.trim()).filter((p) => /[a-z]/i.test(p))) {
        assert.ok(
          help.get(command)!.includes(piece),
          `swimring ${command} --help shows the line text ${JSON.stringify(piece)} (${where(call)})`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 7, `the text lines of event and query were found (${checked})`);
  });
});
