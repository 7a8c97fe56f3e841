// sortStably sorts short lists by insertion and long ones with the built-in sort: either way the order the built-in
// sort gives, ties kept in place.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sortStably } from "../src/analysis/trace/order.js";

describe("sortStably", () => {
  it("orders as Array.prototype.sort does, stably, short lists and long", () => {
    const byRank = (a: { rank: number }, b: { rank: number }) => a.rank - b.rank;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 40 }), (ranks) => {
        const items = ranks.map((rank, at) => ({ rank, at }));
        expect(sortStably([...items], byRank)).toEqual([...items].sort(byRank));
      }),
      { numRuns: 500, seed: 20_260_803 },
    );
  });
});
