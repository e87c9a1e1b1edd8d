/**
 * Query filters (docs/protocol.md#queries): [0] + msgpack array of node names, or [1] + msgpack
 * {Expr, Tag} where Expr is a Go RE2 regexp matched (unanchored) against the tag's value. A
 * node processes a query only when every filter matches; an unknown filter matches nothing.
 */
import { decodeStruct, str } from '../gossip/codec/fields.js';
import { DecodeError, Writer, decodeValue, text } from '../gossip/codec/msgpack.js';

export const FilterType = { node: 0, tag: 1 } as const;

export type QueryFilter =
  { readonly type: 'node'; readonly names: readonly string[] } | { readonly type: 'tag'; readonly tag: string; readonly expr: string };

/** Longest tag expression we compile; tag values are at most 512 bytes anyway. */
export const MAX_FILTER_EXPR_CHARS = 256;

export function encodeFilter(f: QueryFilter): Uint8Array {
  const w = new Writer();
  if (f.type === 'node') {
    w.u8(FilterType.node).arrayHeader(f.names.length);
    for (const name of f.names) w.str(name);
  } else {
    w.u8(FilterType.tag).mapHeader(2).key('Expr').str(f.expr).key('Tag').str(f.tag);
  }
  return w.finish();
}

/** A decoded filter, or null for a filter type we do not know. */
export function decodeFilter(raw: Uint8Array): QueryFilter | null {
  if (raw.length === 0) throw new DecodeError('empty query filter', 'malformed');
  if (raw[0] === FilterType.node) {
    const { value } = decodeValue(raw, 1);
    if (!Array.isArray(value)) throw new DecodeError('node filter is not an array', 'field');
    return {
      type: 'node',
      names: value.map((v) => {
        if (!(v instanceof Uint8Array)) throw new DecodeError('a node filter name is not a string', 'field');
        return text(v);
      }),
    };
  }
  if (raw[0] === FilterType.tag) {
    const m = decodeStruct(raw.subarray(1), 'tag filter');
    return { type: 'tag', tag: str(m, 'Tag'), expr: str(m, 'Expr') };
  }
  return null;
}

/**
 * Compiles a tag expression as a JavaScript RegExp, or returns null when it cannot be run
 * safely. RE2 runs in linear time; a backtracking engine does not, so a remote query could stall
 * the event loop with a pattern like (a+)+$. We refuse what RE2 refuses (backreferences,
 * lookaround) and any quantified group that itself contains a quantifier or an alternation, the
 * shapes that backtrack exponentially. What remains matches as RE2 does for the usual filters
 * (literals, classes, anchors, simple alternations).
 */
export function compileTagExpr(expr: string): RegExp | null {
  if (expr.length > MAX_FILTER_EXPR_CHARS) return null;
  if (/\\[1-9k]|\(\?[=!<]/.test(expr)) return null;
  if (nestedRepetition(expr)) return null;
  try {
    return new RegExp(expr, 'u');
  } catch {
    return null;
  }
}

/** Does a parenthesised group containing a quantifier or `|` carry a quantifier itself? */
function nestedRepetition(expr: string): boolean {
  const stack: boolean[] = []; // per open group: has it seen a quantifier or an alternation?
  let inClass = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === ')') {
      const risky = stack.pop() ?? false;
      const next = expr[i + 1];
      const quantified = next === '*' || next === '+' || next === '?' || next === '{';
      if (risky && quantified) return true;
      if (stack.length > 0 && (risky || quantified)) stack[stack.length - 1] = true;
    } else if ((c === '*' || c === '+' || c === '{' || c === '|') && stack.length > 0) {
      stack[stack.length - 1] = true;
    }
  }
  return false;
}

/** Do all filters admit a node with this name and these tags? */
export function filtersMatch(filters: readonly QueryFilter[], name: string, tags: Readonly<Record<string, string>>): boolean {
  for (const f of filters) {
    if (f.type === 'node') {
      if (!f.names.includes(name)) return false;
    } else {
      const value = tags[f.tag];
      if (value === undefined) return false;
      const re = compileTagExpr(f.expr);
      if (re === null || !re.test(value)) return false;
    }
  }
  return true;
}
