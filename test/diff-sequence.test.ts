// The sequence alignment under `diff`: valid, shortest where Myers runs alone, and one edit for one edit.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { alignSequences, type Alignment } from "../src/analysis/diff/sequence.js";

function lcsLength(a: readonly number[], b: readonly number[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) row[j] = a[i - 1] === b[j - 1] ? previous[j - 1] + 1 : Math.max(previous[j], row[j - 1]);
    previous = row;
  }
  return previous[b.length];
}

/** The kept pairs, checked: equal elements, increasing on both sides, the two maps inverse of each other. */
function keptPairs(a: readonly number[], b: readonly number[], alignment: Alignment): [number, number][] {
  const pairs: [number, number][] = [];
  alignment.oldToNew.forEach((n, o) => {
    if (n < 0) return;
    expect(a[o]).toBe(b[n]);
    expect(alignment.newToOld[n]).toBe(o);
    pairs.push([o, n]);
  });
  for (let i = 1; i < pairs.length; i++) expect(pairs[i][1]).toBeGreaterThan(pairs[i - 1][1]);
  expect(alignment.newToOld.filter((o) => o >= 0).length).toBe(pairs.length);
  return pairs;
}

const smallList = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 40 });

describe("alignSequences", () => {
  it("always returns a valid common subsequence", () => {
    fc.assert(
      fc.property(smallList, smallList, (a, b) => {
        keptPairs(a, b, alignSequences(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it("without anchors, is a longest common subsequence (Myers)", () => {
    fc.assert(
      fc.property(smallList, smallList, (a, b) => {
        expect(keptPairs(a, b, alignSequences(a, b, { anchors: false })).length).toBe(lcsLength(a, b));
      }),
      { numRuns: 1000 },
    );
  });

  it("finds one insertion or one deletion as exactly that in long lists of repeated items", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 3000 }),
        fc.nat(),
        fc.integer({ min: 1000, max: 2000 }),
        (base, at, fresh) => {
          const position = at % (base.length + 1);
          const inserted = [...base.slice(0, position), fresh, ...base.slice(position)];
          let alignment = alignSequences(base, inserted);
          expect(alignment.oldToNew.every((n) => n >= 0)).toBe(true);
          expect([...alignment.newToOld].filter((o) => o < 0)).toEqual([-1]);
          expect(alignment.newToOld[position]).toBe(-1);
          alignment = alignSequences(inserted, base);
          expect([...alignment.oldToNew].filter((n) => n < 0)).toEqual([-1]);
          expect(alignment.oldToNew[position]).toBe(-1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps all but the moved element of a list of distinct items", () => {
    const items = Array.from({ length: 5000 }, (_, i) => i);
    const moved = [...items.slice(0, 100), ...items.slice(101, 4000), 100, ...items.slice(4000)];
    const alignment = alignSequences(items, moved);
    expect([...alignment.oldToNew.entries()].filter(([, n]) => n < 0).map(([o]) => o)).toEqual([100]);
  });

  it("aligns a shuffled 20,000-item list and two unrelated lists quickly", () => {
    const items = Array.from({ length: 20_000 }, (_, i) => i);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const shuffled = [...items];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const started = performance.now();
    keptPairs(items, shuffled, alignSequences(items, shuffled));
    const unrelated = alignSequences(items, items.map((i) => i + 100_000));
    expect(unrelated.oldToNew.every((n) => n < 0)).toBe(true);
    const repeated = alignSequences(new Array(20_000).fill(1), new Array(20_000).fill(2));
    expect(repeated.newToOld.every((o) => o < 0)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
