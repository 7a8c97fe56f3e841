// Damage done to real dumps the way broken nodes, pastes and tickets do it, as data: a failing case
// prints as a short list of mutations, and fast-check can shrink that list.

import fc from "fast-check";

/** Text put into a line; the hostile ones are what iptables-restore's tokenizer and our grammar treat specially. */
export const INSERTIONS = ['"', "'", "!", " ! ", "\0", "\r", "\\", "#", " # ", "*", ":", "[", "]", "[0:0]", " -j ", " -m ", "--", "\t", "é", "\u{1F600}", "\uFEFF"] as const;
export type Insertion = (typeof INSERTIONS)[number];

/**
 * Line and token indexes are taken modulo what the text has when the mutation applies, so any
 * mutation applies to any text and shrinking towards 0 stays meaningful.
 */
export type Mutation =
  | { kind: "drop-line"; line: number }
  | { kind: "duplicate-line"; line: number }
  | { kind: "swap-lines"; line: number; other: number }
  | { kind: "swap-tokens"; line: number; token: number; other: number }
  | { kind: "insert"; line: number; column: number; text: Insertion }
  | { kind: "long-token"; line: number; token: number; bytes: number }
  | { kind: "long-line"; line: number; bytes: number }
  | { kind: "replace-token"; line: number; token: number; from: number; fromToken: number }
  | { kind: "crlf-line"; line: number }
  | { kind: "crlf-all" }
  | { kind: "byte-order-mark" }
  | { kind: "truncate"; permille: number }
  | { kind: "random-bytes"; line: number; column: number; bytes: number[] };

export type MutationKind = Mutation["kind"];

const TOKEN = /[^ \t]+/g;

function tokenSpans(line: string): { start: number; end: number }[] {
  return [...line.matchAll(TOKEN)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
}

const modulo = (value: number, size: number) => (size === 0 ? 0 : value % size);

/** A token of `bytes` ASCII bytes that still looks like an argument (a comment, a chain name). */
function longToken(bytes: number): string {
  return `"${"x".repeat(Math.max(0, bytes - 2))}"`;
}

function applyOne(lines: string[], mutation: Mutation): string[] {
  const at = (line: number) => modulo(line, lines.length);
  switch (mutation.kind) {
    case "drop-line":
      return lines.filter((_, i) => i !== at(mutation.line));
    case "duplicate-line": {
      const i = at(mutation.line);
      return [...lines.slice(0, i + 1), lines[i] ?? "", ...lines.slice(i + 1)];
    }
    case "swap-lines": {
      const copy = [...lines];
      const i = at(mutation.line);
      const j = at(mutation.other);
      [copy[i], copy[j]] = [copy[j] ?? "", copy[i] ?? ""];
      return copy;
    }
    case "swap-tokens": {
      const i = at(mutation.line);
      const line = lines[i] ?? "";
      const spans = tokenSpans(line);
      if (spans.length < 2) return lines;
      const [a, b] = [spans[modulo(mutation.token, spans.length)]!, spans[modulo(mutation.other, spans.length)]!].sort((x, y) => x.start - y.start);
      if (a === b) return lines;
      const swapped = line.slice(0, a.start) + line.slice(b.start, b.end) + line.slice(a.end, b.start) + line.slice(a.start, a.end) + line.slice(b.end);
      return lines.map((l, k) => (k === i ? swapped : l));
    }
    case "insert": {
      const i = at(mutation.line);
      const line = lines[i] ?? "";
      const column = modulo(mutation.column, line.length + 1);
      return lines.map((l, k) => (k === i ? line.slice(0, column) + mutation.text + line.slice(column) : l));
    }
    case "long-token": {
      const i = at(mutation.line);
      const line = lines[i] ?? "";
      const spans = tokenSpans(line);
      const span = spans[modulo(mutation.token, spans.length)] ?? { start: line.length, end: line.length };
      const replaced = line.slice(0, span.start) + longToken(mutation.bytes) + line.slice(span.end);
      return lines.map((l, k) => (k === i ? replaced : l));
    }
    case "long-line": {
      const i = at(mutation.line);
      const line = lines[i] ?? "";
      const padding = " -m comment --comment " + longToken(Math.min(1000, mutation.bytes));
      const grown = line + padding.repeat(Math.max(1, Math.ceil((mutation.bytes - line.length) / padding.length)));
      return lines.map((l, k) => (k === i ? grown : l));
    }
    case "replace-token": {
      const i = at(mutation.line);
      const line = lines[i] ?? "";
      const spans = tokenSpans(line);
      const donorLine = lines[at(mutation.from)] ?? "";
      const donorSpans = tokenSpans(donorLine);
      if (spans.length === 0 || donorSpans.length === 0) return lines;
      const span = spans[modulo(mutation.token, spans.length)]!;
      const donor = donorSpans[modulo(mutation.fromToken, donorSpans.length)]!;
      const replaced = line.slice(0, span.start) + donorLine.slice(donor.start, donor.end) + line.slice(span.end);
      return lines.map((l, k) => (k === i ? replaced : l));
    }
    case "crlf-line": {
      const i = at(mutation.line);
      return lines.map((l, k) => (k === i && k < lines.length - 1 ? l + "\r" : l));
    }
    case "crlf-all":
      return lines.map((l, k) => (k < lines.length - 1 ? l + "\r" : l));
    case "byte-order-mark":
      return lines.length === 0 ? ["\uFEFF"] : [`\uFEFF${lines[0]}`, ...lines.slice(1)];
    case "truncate": {
      const text = lines.join("\n");
      return text.slice(0, Math.floor((text.length * mutation.permille) / 1000)).split("\n");
    }
    case "random-bytes": {
      const i = at(mutation.line);
      const line = lines[i] ?? "";
      const column = modulo(mutation.column, line.length + 1);
      // Latin-1 decoding keeps every byte one character, as a mis-decoded binary paste would be.
      const garbage = Buffer.from(mutation.bytes).toString("latin1");
      return lines.map((l, k) => (k === i ? line.slice(0, column) + garbage + line.slice(column) : l));
    }
    default: {
      const never: never = mutation;
      throw new Error(`unhandled mutation ${JSON.stringify(never)}`);
    }
  }
}

/** Applies the mutations in order. Lines are split on LF only, so CRs stay where they are. */
export function mutate(text: string, mutations: readonly Mutation[]): string {
  let lines = text.split("\n");
  for (const mutation of mutations) lines = applyOne(lines, mutation);
  return lines.join("\n");
}

/** The lines of `text` from `from` (inclusive) to `to` (exclusive), indexes taken modulo the line count. */
export function lineWindow(text: string, from: number, length: number): string {
  const lines = text.split("\n");
  const start = modulo(from, lines.length);
  return lines.slice(start, start + length).join("\n");
}

const line = fc.nat({ max: 100_000 });
const small = fc.nat({ max: 64 });

/** Long tokens around iptables' limits (1,023 bytes per argument, 10,239 per line) and well past them. */
const tokenBytes = fc.oneof(fc.integer({ min: 1000, max: 1100 }), fc.integer({ min: 1, max: 3000 }));
const lineBytes = fc.oneof(fc.integer({ min: 10_200, max: 10_300 }), fc.integer({ min: 1, max: 40_000 }));

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("drop-line" as const), line }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("duplicate-line" as const), line }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("swap-lines" as const), line, other: line }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("swap-tokens" as const), line, token: small, other: small }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("insert" as const), line, column: fc.nat({ max: 400 }), text: fc.constantFrom(...INSERTIONS) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant("long-token" as const), line, token: small, bytes: tokenBytes }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("long-line" as const), line, bytes: lineBytes }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("replace-token" as const), line, token: small, from: line, fromToken: small }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("crlf-line" as const), line }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("crlf-all" as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("byte-order-mark" as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("truncate" as const), permille: fc.integer({ min: 0, max: 999 }) }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant("random-bytes" as const), line, column: fc.nat({ max: 400 }), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 12 }) }),
    weight: 2,
  },
);

export const mutationsArbitrary = fc.array(mutationArbitrary, { minLength: 1, maxLength: 6 });
