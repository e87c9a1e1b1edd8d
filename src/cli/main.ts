#!/usr/bin/env node
/** swimring command line: dispatches to one command; bad usage is one stderr line and exit 2. */
import { readFileSync } from 'node:fs';
import { agentCommand } from './agent.js';
import { eventCommand, membersCommand, queryCommand } from './client.js';
import { routeCommand } from './route.js';
import { EXIT_USAGE, UsageError, asUsageError } from './usage.js';

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  agent: agentCommand,
  event: eventCommand,
  members: membersCommand,
  query: queryCommand,
  route: (argv) => routeCommand(argv, { stdin: process.stdin, stdout: process.stdout }),
};

const mainHelp = `Usage: swimring <command> [options]

Commands:
  agent     run a gossip node (joins Serf clusters too)
  event     send a user event through a running agent
  members   list the members a running agent knows
  query     run a query through a running agent and print the answers
  route     route keys to partitions and owners (no cluster needed)

Options:
  -h, --help     show this help (also: no command, or 'swimring help')
  -v, --version  print swimring's version

Run 'swimring <command> --help' (or -h) for a command's options and output.

Exit codes: 0 ok; 1 a failure, one line on stderr; 2 bad arguments, one line on stderr.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp}\n`);
    return;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}; run 'swimring --help'`);
  await command(rest);
}

// A reader that goes away (swimring route … | head) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// Any failure is one line on stderr and an exit: an agent that failed after binding must not
// linger with its sockets open.
main(process.argv.slice(2)).catch((err: unknown) => {
  const usage = asUsageError(err);
  const command = process.argv[2] && process.argv[2] in commands ? ` ${process.argv[2]}` : '';
  const message = usage ? usage.message : err instanceof Error ? err.message : String(err);
  process.stderr.write(`swimring${command}: ${message.split('\n')[0]}\n`);
  process.exit(usage ? EXIT_USAGE : 1);
});
