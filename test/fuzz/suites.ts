// The fuzz properties by name: the vitest files run each with a small count, `npm run fuzz` with a large one.

import fc from "fast-check";
import { buildHostileInput, describeInput, hostileInputArbitrary, type HostileInput } from "./inputs.js";
import { checkHostileInput } from "./properties.js";

export interface Suite<T> {
  name: string;
  description: string;
  arbitrary: fc.Arbitrary<T>;
  /** Throws a PropertyFailure (or anything else: a crash) when the case breaks a property. */
  check(value: T, boundMs: number): void;
  describe(value: T): string;
}

export const hostileSuite: Suite<HostileInput> = {
  name: "hostile",
  description: "mutated real dumps, raw bytes and word soups through parse, fmt, services, trace, graph and diff",
  arbitrary: hostileInputArbitrary,
  check: (value, boundMs) => void checkHostileInput(buildHostileInput(value), boundMs),
  describe: describeInput,
};

// Suites are listed by name for the fuzz script's --suite flag.
export const SUITES: readonly Suite<never>[] = [hostileSuite as Suite<never>];
