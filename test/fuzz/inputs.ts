// Inputs for the fuzz properties: real dumps (samples, restore fixtures, kubegen, rulegen), windows
// of them, mutated; raw bytes; soups of iptables words. Cases are small data (a base name, a
// window, mutations) so that a failure prints short and shrinks well; texts are built and cached here.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseRuleset } from "../../src/index.js";
import type { Family, Ruleset } from "../../src/model/types.js";
import { findRepoRoot } from "../bench/harness.js";
import { generateKubeProxyDump, type Generation } from "../support/kubegen.js";
import { lineWindow, mutate, mutationsArbitrary, type Mutation } from "../support/mutate.js";
import { generateRestoreInput } from "../support/rulegen.js";

export type BaseName =
  | { kind: "sample"; name: string }
  | { kind: "fixture"; name: string }
  | { kind: "kube"; seed: number; services: number; generation: Generation; family: Family; restoreOrder: boolean; counters: boolean }
  | { kind: "rules"; seed: number; family: 4 | 6; rules: number };

// Found from the repository root, so that the compiled copy under dist/ reads the same files.
const root = findRepoRoot();
function textFiles(directory: string, extension: string): Map<string, string> {
  const path = join(root, directory);
  return new Map(readdirSync(path).filter((f) => f.endsWith(extension)).sort().map((f) => [f.slice(0, -extension.length), readFileSync(join(path, f), "utf8")]));
}
const samples = textFiles("samples", ".txt");
const fixtures = new Map(
  [...textFiles("test/fixtures/restore", ".rules")].map(([name, text]) => [name, { text, family: /^# family: ipv6\s*$/m.test(text) ? ("ipv6" as const) : ("ipv4" as const) }]),
);

function baseKey(base: BaseName): string {
  return JSON.stringify(base);
}

const cache = new Map<string, { text: string; model: Ruleset; family: Family | undefined }>();
/** More than there are bases (about 500), so each is generated once per process. */
const CACHE_LIMIT = 1024;

export function baseText(base: BaseName): { text: string; model: Ruleset; family: Family | undefined } {
  const key = baseKey(base);
  const cached = cache.get(key);
  if (cached) return cached;
  let text: string;
  let family: Family | undefined;
  switch (base.kind) {
    case "sample":
      text = samples.get(base.name) ?? "";
      break;
    case "fixture": {
      const fixture = fixtures.get(base.name);
      text = fixture?.text ?? "";
      family = fixture?.family;
      break;
    }
    case "kube":
      text = generateKubeProxyDump({
        services: base.services, seed: base.seed, generation: base.generation, family: base.family, endpointsPerService: [0, 3],
        order: base.restoreOrder ? "restore" : "canonical", counters: base.counters,
      });
      family = base.family;
      break;
    case "rules":
      text = generateRestoreInput(base.seed, base.family, base.rules);
      family = base.family === 4 ? "ipv4" : "ipv6";
      break;
    default: {
      const never: never = base;
      throw new Error(`unknown base ${JSON.stringify(never)}`);
    }
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  const entry = { text, model: parseRuleset(text, { lenient: true, ...(family ? { family } : {}) }).ruleset, family };
  cache.set(key, entry);
  return entry;
}

export const baseArbitrary: fc.Arbitrary<BaseName> = fc.oneof(
  { arbitrary: fc.constantFrom(...[...samples.keys()].map((name) => ({ kind: "sample" as const, name }))), weight: 4 },
  { arbitrary: fc.constantFrom(...[...fixtures.keys()].map((name) => ({ kind: "fixture" as const, name }))), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("kube" as const),
      seed: fc.integer({ min: 1, max: 8 }),
      services: fc.constantFrom(2, 5, 12),
      generation: fc.constantFrom<Generation>("new", "old"),
      family: fc.constantFrom<Family>("ipv4", "ipv6"),
      restoreOrder: fc.boolean(),
      counters: fc.boolean(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("rules" as const), seed: fc.integer({ min: 1, max: 16 }), family: fc.constantFrom<4 | 6>(4, 6), rules: fc.constantFrom(5, 15, 30) }),
    weight: 2,
  },
);

export type HostileInput =
  | { kind: "mutated"; base: BaseName; window: { from: number; length: number } | null; mutations: Mutation[] }
  | { kind: "bytes"; bytes: Uint8Array; encoding: "utf8" | "latin1" }
  | { kind: "soup"; lines: string[][] };

/** Words iptables-save prints and a few it never does, for lines that look almost right. */
const SOUP_WORDS = [
  "*filter", "*nat", "*mangle", "*raw", "*security", "*bogus", "COMMIT", ":INPUT", ":FORWARD", ":OUTPUT", ":PREROUTING", ":POSTROUTING", ":KUBE-X",
  "ACCEPT", "DROP", "-", "[0:0]", "[1:2]", "[x:y]", "-A", "-I", "-D", "-N", "-X", "-F", "-Z", "-P", "-E", "-R", "INPUT", "FORWARD", "KUBE-X", "KUBE-Y",
  "-j", "-g", "RETURN", "REJECT", "DNAT", "SNAT", "MASQUERADE", "MARK", "LOG", "KUBE-X", "KUBE-Y", "-s", "-d", "10.0.0.1", "10.0.0.0/8", "::1",
  "fe80::/10", "0.0.0.0/0", "-p", "tcp", "udp", "icmp", "-m", "comment", "--comment", '"a b"', '"', "'", "!", "--dport", "80", "1:65535", "--sport",
  "statistic", "--mode", "random", "--probability", "0.5", "0.00000000001", "1.5", "recent", "--name", "--rcheck", "--seconds", "10800", "--reap",
  "--to-destination", "10.1.2.3:8080", "[::1]:80", "--set-xmark", "0x4000/0x4000", "mark", "--mark", "conntrack", "--ctstate", "NEW,ESTABLISHED",
  "multiport", "--dports", "1,2,3", "set", "--match-set", "KUBE-SET", "dst", "-i", "-o", "eth0", "lo+", "--random-fully", "\t", "#", "-4", "-6",
] as const;

export const hostileInputArbitrary: fc.Arbitrary<HostileInput> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("mutated" as const),
      base: baseArbitrary,
      window: fc.option(fc.record({ from: fc.nat({ max: 2000 }), length: fc.integer({ min: 1, max: 60 }) }), { nil: null }),
      mutations: mutationsArbitrary,
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 600 }), encoding: fc.constantFrom<"utf8" | "latin1">("utf8", "latin1") }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("soup" as const),
      lines: fc.array(fc.array(fc.constantFrom(...SOUP_WORDS), { maxLength: 12 }), { maxLength: 30 }),
    }),
    weight: 2,
  },
);

export interface BuiltInput {
  text: string;
  base?: Ruleset;
  family?: Family;
}

export function buildHostileInput(input: HostileInput): BuiltInput {
  switch (input.kind) {
    case "mutated": {
      const base = baseText(input.base);
      const start = input.window ? lineWindow(base.text, input.window.from, input.window.length) : base.text;
      const built: BuiltInput = { text: mutate(start, input.mutations), base: base.model };
      if (base.family) built.family = base.family;
      return built;
    }
    case "bytes":
      return { text: Buffer.from(input.bytes).toString(input.encoding) };
    case "soup":
      return { text: input.lines.map((words) => words.join(" ")).join("\n") + "\n" };
    default: {
      const never: never = input;
      throw new Error(`unknown input ${JSON.stringify(never)}`);
    }
  }
}

/** A short description of a case for failure reports (the text itself can be megabytes). */
export function describeInput(input: HostileInput): string {
  if (input.kind === "bytes") return `bytes(${input.encoding}) ${Buffer.from(input.bytes).toString("hex").slice(0, 400)}`;
  return JSON.stringify(input, (_, value: unknown) => (typeof value === "string" && value.length > 200 ? `${value.slice(0, 200)}…(${value.length})` : value));
}
