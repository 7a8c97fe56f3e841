// The argv tokenizer of iptables-restore (xshared.c add_param_to_argv), reproduced exactly:
// only space, TAB and LF separate; `"` opens a quote anywhere; inside quotes `\x` is `x`;
// a closing quote ends the token; outside quotes a backslash is literal.

/** iptables reads lines with fgets into a 10240-byte buffer. */
export const MAX_LINE_BYTES = 10239;
/** add_param_to_argv refuses longer parameters ("Parameter too long!"). */
export const MAX_TOKEN_BYTES = 1023;
/** MAX_ARGC in xshared.c. */
export const MAX_ARGS = 255;

/**
 * One argument, allocated once and used as the Chevrotain token too: Chevrotain's view
 * (image, offsets) is read only on errors, so it is derived instead of stored.
 */
export class ArgToken {
  /** Set by the classifier. */
  tokenType: unknown = undefined;
  tokenTypeIdx = 0;

  constructor(
    /** The argument after unquoting, as iptables would see it. */
    readonly value: string,
    /** 0-based column of the first character of the token in its line. */
    readonly start: number,
    /** 0-based column one past the last character of the token in its line. */
    readonly end: number,
    /** True if any part of the token was inside quotes. */
    readonly quoted: boolean,
  ) {}

  get image(): string {
    return this.value;
  }

  get startOffset(): number {
    return this.start;
  }

  get endOffset(): number {
    return this.end - 1;
  }
}

export type TokenizeProblem =
  | { kind: "unterminated-quote"; column: number }
  | { kind: "token-too-long"; column: number; bytes: number };

export interface TokenizeResult {
  tokens: ArgToken[];
  problem?: TokenizeProblem;
}

/** An argument split() has not read out of its line yet. */
const UNREAD = undefined as unknown as string;

const isSeparator = (code: number): boolean => code === 0x20 || code === 0x09 || code === 0x0a;

const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The arguments of one line as parallel arrays, refilled for every line: the fast path
 * makes no object per argument. Tokens (objects) are made from it only for the parser.
 */
export class Words {
  count = 0;
  /**
   * Each argument after unquoting, as iptables would see it. After split(), an unquoted argument is not read out of
   * the line (undefined) until read() or readAll(): the shape trie knows most option words and compares them in
   * place (is()), so that a line of a known shape makes strings only of its values.
   */
  readonly values: string[] = [];
  /** The line split last. */
  private line = "";
  /** 0-based column of the first character of each argument. */
  readonly starts: number[] = [];
  /** 0-based column one past the last character of each argument. */
  readonly ends: number[] = [];
  /** Whether any part of each argument was inside quotes. */
  readonly quoted: boolean[] = [];

  private add(value: string, start: number, end: number, quoted: boolean): void {
    const i = this.count++;
    this.values[i] = value;
    this.starts[i] = start;
    this.ends[i] = end;
    this.quoted[i] = quoted;
  }

  /**
   * Splits one line (without its line terminator) into arguments from column `from`,
   * replacing what the words held. On a problem, the words so far include the bad one.
   */
  split(line: string, from = 0): TokenizeProblem | undefined {
    this.count = 0;
    this.line = line;
    const length = line.length;
    let index = from;
    while (index < length) {
      let code = line.charCodeAt(index);
      if (code === SPACE || code === TAB || code === 0x0a) {
        index++;
        continue;
      }
      const start = index;
      // Fast path: an unquoted token without backslashes is a plain slice. Space, TAB, LF
      // and `"` are all at most 0x22, so most characters are told apart by one comparison.
      let plainEnd = index;
      while (plainEnd < length) {
        code = line.charCodeAt(plainEnd);
        if (code <= QUOTE && (code === SPACE || code === TAB || code === 0x0a || code === QUOTE)) break;
        plainEnd++;
      }
      if (plainEnd === length || code !== QUOTE) {
        this.add(UNREAD, start, plainEnd, false);
        if (plainEnd - start > SHORT_TOKEN) {
          const problem = tooLong(this.read(this.count - 1), start);
          if (problem) return problem;
        }
        index = plainEnd;
        continue;
      }
      // A quote: the token is what came before it plus the quoted text, and ends at the closing quote.
      const close = line.indexOf('"', plainEnd + 1);
      if (close > 0) {
        const backslash = line.indexOf("\\", plainEnd + 1);
        if (backslash < 0 || backslash > close) {
          const inner = line.slice(plainEnd + 1, close);
          const value = plainEnd === start ? inner : line.slice(start, plainEnd) + inner;
          this.add(value, start, close + 1, true);
          const problem = tooLong(value, start);
          if (problem) return problem;
          index = close + 1;
          continue;
        }
      }
      let value = line.slice(start, plainEnd);
      index = plainEnd;
      let quoted = false;
      let inQuote = false;
      let closedQuoteEndsToken = false;
      while (index < length) {
        code = line.charCodeAt(index);
        if (inQuote) {
          if (code === BACKSLASH && index + 1 < length) {
            value += line[index + 1];
            index += 2;
            continue;
          }
          if (code === QUOTE) {
            index++;
            closedQuoteEndsToken = true;
            break;
          }
          value += line[index];
          index++;
          continue;
        }
        if (code === QUOTE) {
          inQuote = true;
          quoted = true;
          index++;
          continue;
        }
        if (code === SPACE || code === TAB || code === 0x0a) break;
        value += line[index];
        index++;
      }
      if (inQuote && !closedQuoteEndsToken) {
        this.add(value, start, index, true);
        return { kind: "unterminated-quote", column: start };
      }
      this.add(value, start, index, quoted);
      const problem = tooLong(value, start);
      if (problem) return problem;
    }
    return undefined;
  }

  /**
   * Splits on space, TAB and LF like strtok(…, " \t\n"), with no quoting (how
   * iptables-restore reads `*table` and `:CHAIN` lines), into at most `limit` words.
   */
  splitFields(line: string, from: number, limit: number): void {
    this.count = 0;
    this.line = line;
    const length = line.length;
    let index = from;
    while (index < length && this.count < limit) {
      while (index < length && isSeparator(line.charCodeAt(index))) index++;
      if (index === length) break;
      const start = index;
      while (index < length && !isSeparator(line.charCodeAt(index))) index++;
      this.add(line.slice(start, index), start, index, false);
    }
  }

  /** Argument `i` as iptables sees it. */
  read(i: number): string {
    return (this.values[i] ??= this.line.slice(this.starts[i], this.ends[i]));
  }

  /** Reads every argument not read yet. */
  readAll(): void {
    for (let i = 0; i < this.count; i++) this.read(i);
  }

  /** Whether argument `i` is an option word or `!`, as getopt tells them (a word of more than `-`), told without reading it. */
  isOption(i: number): boolean {
    const value = this.values[i];
    if (value !== undefined) return (value.length > 1 && value.charCodeAt(0) === 0x2d) || value === "!";
    const start = this.starts[i]!;
    const length = this.ends[i]! - start;
    const first = this.line.charCodeAt(start);
    return (length > 1 && first === 0x2d) || (length === 1 && first === 0x21);
  }

  /** Whether argument `i` is `word`, told without reading it out of the line; when it is, it is read as `word`. */
  is(i: number, word: string): boolean {
    const value = this.values[i];
    if (value !== undefined) return value === word;
    const start = this.starts[i]!;
    if (this.ends[i]! - start !== word.length || !this.line.startsWith(word, start)) return false;
    this.values[i] = word;
    return true;
  }

  /** Replaces the words with `tokens` (the classifier may have split some). */
  refill(tokens: readonly ArgToken[]): void {
    this.count = 0;
    for (const token of tokens) this.add(token.value, token.start, token.end, token.quoted);
  }

  /** The words as tokens, for the parser. */
  tokens(): ArgToken[] {
    this.readAll();
    const tokens: ArgToken[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) tokens[i] = new ArgToken(this.values[i]!, this.starts[i]!, this.ends[i]!, this.quoted[i]!);
    return tokens;
  }
}

/** Splits one line (without its line terminator) into arguments from column `from`. */
export function tokenizeArgs(line: string, from = 0): TokenizeResult {
  const words = new Words();
  const problem = words.split(line, from);
  return problem ? { tokens: words.tokens(), problem } : { tokens: words.tokens() };
}


/** A token this short cannot exceed MAX_TOKEN_BYTES, at up to 4 UTF-8 bytes per UTF-16 unit. */
const SHORT_TOKEN = MAX_TOKEN_BYTES / 4;

function tooLong(value: string, column: number): TokenizeProblem | undefined {
  if (value.length <= SHORT_TOKEN) return undefined;
  const bytes = Buffer.byteLength(value, "utf8");
  return bytes > MAX_TOKEN_BYTES ? { kind: "token-too-long", column, bytes } : undefined;
}

/** Byte length of a line, computed only when it might exceed the limit. */
export function lineExceedsLimit(line: string): number | undefined {
  if (line.length <= MAX_LINE_BYTES / 4) return undefined;
  const bytes = Buffer.byteLength(line, "utf8");
  return bytes > MAX_LINE_BYTES ? bytes : undefined;
}

/**
 * Quotes a value the way xtables_save_string does: bare when it is non-empty and only
 * [A-Za-z0-9_-], otherwise in double quotes with `"`, `\` and `'` escaped.
 */
export function saveString(value: string): string {
  if (value.length > 0 && /^[A-Za-z0-9_-]+$/.test(value)) return value;
  return `"${value.replace(/["\\']/g, (c) => "\\" + c)}"`;
}
