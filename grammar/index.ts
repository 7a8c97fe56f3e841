// The grammar of iptables-save output and iptables-restore input, one line at a time.
// Line structure follows iptables-restore (xtables-restore.c / iptables-restore.c): `#` in
// column 0 is a comment, `*table`, `:CHAIN POLICY [p:b]`, `COMMIT`, and any other line is an
// iptables command, optionally prefixed by `[p:b]` in column 0.

import { classifyArgs, type ExtensionCatalog } from "./classify.js";
import { parseCommand, type CommandSyntax } from "./parser.js";
import { knownShape, rememberShape, shapeCache, type CommandShape } from "./shapes.js";
import { lineExceedsLimit, MAX_ARGS, MAX_LINE_BYTES, MAX_TOKEN_BYTES, Words } from "./tokenizer.js";

export type { ArgToken, Words } from "./tokenizer.js";
export type { ExtensionCatalog, OptionOwner, OptionSyntax } from "./classify.js";
export type { CommandKind, CoreOptionName } from "./parser.js";
export type { CommandShape, RuleItemShape } from "./shapes.js";
export { MAX_LINE_BYTES, MAX_TOKEN_BYTES, MAX_ARGS, saveString, tokenizeArgs } from "./tokenizer.js";

export interface CountersSyntax {
  packets: bigint;
  bytes: bigint;
  /** Column of the opening `[`. */
  column: number;
}

/** What is wrong with a line, as the grammar sees it. */
export type LineProblem =
  | { kind: "nul-byte"; column: number }
  | { kind: "line-too-long"; bytes: number }
  | { kind: "token-too-long"; column: number; bytes: number }
  | { kind: "too-many-arguments"; column: number; count: number }
  | { kind: "unterminated-quote"; column: number }
  | { kind: "bad-counters"; column: number; text: string }
  | { kind: "bad-table-line"; column: number }
  | { kind: "bad-chain-line"; column: number; reason: "missing-name" | "missing-policy" }
  | { kind: "commit-trailing"; column: number }
  | { kind: "indented-comment"; column: number }
  | { kind: "syntax"; column: number; length: number; found: string; expected: string };

export type LineSyntax =
  | { kind: "blank" }
  | { kind: "comment"; text: string }
  | { kind: "table"; name: string; column: number }
  /** The name starts in column 1, after the colon. */
  | { kind: "chain"; name: string; policy: string; policyColumn: number; counters?: CountersSyntax }
  | { kind: "commit" }
  /** `words` is refilled by the next parseLine call: read it before. */
  | { kind: "command"; counters?: CountersSyntax; command: CommandShape; words: Words }
  | { kind: "error"; problem: LineProblem };

const COUNTERS = /^\[(\d+):(\d+)\]/;

function parseCounters(text: string, column: number): CountersSyntax | undefined {
  // What kernels print for most chains and rules, without a regular expression or BigInt.
  if (text.startsWith("[0:0]", column)) return { packets: 0n, bytes: 0n, column };
  const match = COUNTERS.exec(column === 0 ? text : text.slice(column));
  if (!match) return undefined;
  return { packets: BigInt(match[1]!), bytes: BigInt(match[2]!), column };
}

/**
 * The `[p:b]` a command line starts with and the column after it; undefined when the counters
 * are malformed or run into the next word.
 */
export function leadingCounters(line: string): { counters: CountersSyntax; after: number } | undefined {
  const counters = parseCounters(line, 0);
  if (!counters) return undefined;
  const after = line.indexOf("]") + 1;
  if (after < line.length && line[after] !== " " && line[after] !== "\t") return undefined;
  return { counters, after };
}

/** The words of the line being parsed; one set, refilled line after line. */
const words = new Words();

/**
 * Parses one line (without its line terminator). `catalog` tells the arity of extension
 * options, which decides what is an option and what is a value.
 */
export function parseLine(line: string, catalog: ExtensionCatalog): LineSyntax {
  if (line.length === 0) return { kind: "blank" };
  const nul = line.indexOf("\0");
  if (nul >= 0) return { kind: "error", problem: { kind: "nul-byte", column: nul } };
  const tooLong = lineExceedsLimit(line);
  if (tooLong !== undefined) return { kind: "error", problem: { kind: "line-too-long", bytes: tooLong } };
  const first = line.charCodeAt(0);
  if (first === 0x23 /* # */) return { kind: "comment", text: line };
  if (first === 0x2a /* * */) {
    words.splitFields(line, 1, 1);
    if (words.count === 0 || words.starts[0] !== 1) return { kind: "error", problem: { kind: "bad-table-line", column: 1 } };
    return { kind: "table", name: words.values[0]!, column: 1 };
  }
  if (first === 0x3a /* : */) {
    words.splitFields(line, 1, 3);
    if (words.count === 0 || words.starts[0] !== 1) {
      return { kind: "error", problem: { kind: "bad-chain-line", column: 1, reason: "missing-name" } };
    }
    if (words.count === 1) {
      return { kind: "error", problem: { kind: "bad-chain-line", column: words.ends[0]!, reason: "missing-policy" } };
    }
    let counters: CountersSyntax | undefined;
    // iptables-restore reads the counters only with -c and tolerates a `-` there (felix writes `:X - -`).
    if (words.count === 3 && words.values[2]!.startsWith("[")) {
      const text = words.values[2]!;
      const column = words.starts[2]!;
      counters = parseCounters(text, 0);
      if (!counters || text.length !== text.indexOf("]") + 1) {
        return { kind: "error", problem: { kind: "bad-counters", column, text } };
      }
      counters.column = column;
    }
    return { kind: "chain", name: words.values[0]!, policy: words.values[1]!, policyColumn: words.starts[1]!, counters };
  }
  if (first === 0x43 /* C */ && line.startsWith("COMMIT")) {
    if (line.length === 6) return { kind: "commit" };
    const rest = line.charCodeAt(6);
    if (rest === 0x20 || rest === 0x09) return { kind: "error", problem: { kind: "commit-trailing", column: 6 } };
  }
  let from = 0;
  let counters: CountersSyntax | undefined;
  if (first === 0x5b /* [ */) {
    const leading = leadingCounters(line);
    if (leading === undefined) {
      const end = line.search(/[ \t]|$/);
      return { kind: "error", problem: { kind: "bad-counters", column: 0, text: line.slice(0, end) } };
    }
    counters = leading.counters;
    from = leading.after;
  }
  const problem = words.split(line, from);
  if (problem) return { kind: "error", problem };
  const count = words.count;
  if (count === 0) return { kind: "blank" };
  if (count > MAX_ARGS) {
    return { kind: "error", problem: { kind: "too-many-arguments", column: words.starts[MAX_ARGS]!, count } };
  }
  const leading = words.starts[0]!;
  if (line.charCodeAt(leading) === 0x23 && leading > 0 && !words.quoted[0]) {
    return { kind: "error", problem: { kind: "indented-comment", column: leading } };
  }
  const shapes = shapeCache(catalog);
  const known = knownShape(shapes, words, catalog);
  if (known !== undefined) return { kind: "command", counters, command: known, words };
  const tokens = words.tokens();
  const classified = classifyArgs(tokens, catalog);
  // Words getopt reads as several are words of their own from here on, so the line's shape, which is looked
  // up by its words as written, is not kept.
  const split = classified.length !== words.count;
  if (split) words.refill(tokens);
  const result = parseCommand(classified, line.length);
  if (!result.ok) {
    return {
      kind: "error",
      problem: {
        kind: "syntax", column: result.column, length: result.length, found: result.message, expected: result.expected,
      },
    };
  }
  return { kind: "command", counters, command: rememberShape(shapes, words, tokens, catalog, result.command, !split), words };
}
