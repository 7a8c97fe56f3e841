// The fuzz properties by name: the vitest files run each with a small count, `npm run fuzz` with a large one.

import fc from "fast-check";
import { buildHostileInput, describeInput, hostileInputArbitrary, type HostileInput } from "./inputs.js";
import { chainGraphArbitrary, renderChainGraph, type ChainGraph } from "./chains.js";
import { checkChainGraph, checkHostileInput, checkRoundTrip } from "./properties.js";
import { generateKubeProxyDump, type Generation } from "../support/kubegen.js";
import { generateRestoreInput } from "../support/rulegen.js";

export interface Suite<T> {
  name: string;
  description: string;
  /** Share of `npm run fuzz -- --count N` among the suites run (normalised over those selected). */
  share: number;
  arbitrary: fc.Arbitrary<T>;
  /** Throws a PropertyFailure (or anything else: a crash) when the case breaks a property. */
  check(value: T, boundMs: number): void;
  describe(value: T): string;
}

export const hostileSuite: Suite<HostileInput> = {
  name: "hostile",
  description: "mutated real dumps, raw bytes and word soups through parse, fmt, services, trace, graph and diff",
  share: 0.6,
  arbitrary: hostileInputArbitrary,
  check: (value, boundMs) => void checkHostileInput(buildHostileInput(value), boundMs),
  describe: describeInput,
};

export const traceSuite: Suite<ChainGraph> = {
  name: "trace",
  description: "generated chains calling each other (jump, goto, RETURN, random and uncertain matches, loops on purpose): loops, tracer invariants, round trip",
  share: 0.3,
  arbitrary: chainGraphArbitrary,
  check: (value, boundMs) => checkChainGraph(value, boundMs),
  describe: (value) => renderChainGraph(value).text,
};

export type ValidInput =
  | { kind: "rules"; seed: number; family: 4 | 6; rules: number }
  | { kind: "kube"; seed: number; services: number; generation: Generation; family: "ipv4" | "ipv6"; counters: boolean; restoreOrder: boolean };

function validText(input: ValidInput): string {
  return input.kind === "rules"
    ? generateRestoreInput(input.seed, input.family, input.rules)
    : generateKubeProxyDump({
        services: input.services, seed: input.seed, generation: input.generation, family: input.family, counters: input.counters,
        order: input.restoreOrder ? "restore" : "canonical", endpointsPerService: [0, 4],
      });
}

export const roundTripSuite: Suite<ValidInput> = {
  name: "roundtrip",
  description: "generated valid rulesets (rulegen: every modelled module; kubegen: both generations, v4/v6, counters): fmt(parse(x)) == x for canonical x, parse(fmt(m)) == m",
  share: 0.1,
  arbitrary: fc.oneof(
    fc.record({ kind: fc.constant("rules" as const), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), family: fc.constantFrom<4 | 6>(4, 6), rules: fc.integer({ min: 1, max: 40 }) }),
    fc.record({
      kind: fc.constant("kube" as const), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), services: fc.integer({ min: 1, max: 15 }),
      generation: fc.constantFrom<Generation>("old", "new"), family: fc.constantFrom<"ipv4" | "ipv6">("ipv4", "ipv6"), counters: fc.boolean(), restoreOrder: fc.boolean(),
    }),
  ),
  check: (value) => {
    const family = value.kind === "rules" ? (value.family === 4 ? "ipv4" : "ipv6") : value.family;
    checkRoundTrip(validText(value), family);
  },
  describe: (value) => JSON.stringify(value),
};

// Suites are listed by name for the fuzz script's --suite flag.
export const SUITES: readonly Suite<never>[] = [hostileSuite as Suite<never>, roundTripSuite as Suite<never>, traceSuite as Suite<never>];
