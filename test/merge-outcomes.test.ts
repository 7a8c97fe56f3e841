// mergeOutcomes against a plain statement of it. Walks that end alike add up: the same verdict, delivery,
// packet, NAT, interface and error under the same assumptions. Without any assumption that is all there is to
// it, and the plain version below groups by those fields one by one, with no key at all. With assumptions, an
// outcome that assumes nothing never joins one that assumes something, however alike they otherwise are.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Assumption, Outcome } from "../src/analysis/trace/types.js";
import { mergeOutcomes } from "../src/analysis/trace/walk.js";

const FIELDS = ["verdict", "delivery", "masquerade", "outInterface", "error"] as const;

function alike(a: Outcome, b: Outcome): boolean {
  const p = a.packet;
  const q = b.packet;
  return (
    FIELDS.every((f) => a[f] === b[f]) &&
    p.src === q.src && p.sport === q.sport && p.dst === q.dst && p.dport === q.dport && p.proto === q.proto &&
    a.snat?.to === b.snat?.to && a.dnat?.to === b.dnat?.to
  );
}

/** Outcomes that assume nothing: alike ones add up (the likelier one's details kept), likeliest first. */
function plainMerge(outcomes: readonly Outcome[]): Outcome[] {
  const merged: Outcome[] = [];
  for (const o of outcomes) {
    const at = merged.findIndex((m) => alike(m, o));
    if (at < 0) {
      merged.push(o);
      continue;
    }
    const into = merged[at]!;
    const keep = o.probability > into.probability ? o : into;
    merged[at] = { ...keep, probability: into.probability + o.probability, conditionalProbability: into.conditionalProbability + o.conditionalProbability, merged: into.merged + o.merged, uncertain: into.uncertain };
  }
  const key = (o: Outcome) => [o.verdict, o.delivery, o.packet.src, o.packet.sport, o.packet.dst, o.packet.dport, o.packet.proto, o.masquerade, o.snat?.to, o.dnat?.to, o.outInterface, o.error].join("\u0001");
  return merged.sort((a, b) => b.probability - a.probability || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);

const outcomeArbitrary: fc.Arbitrary<Outcome> = fc
  .record({
    probability: pick([0.5, 0.25, 0.125, 1 / 3]),
    verdict: pick(["ACCEPT", "DROP", "REJECT"] as const),
    delivery: pick([undefined, "local", "forward"] as const),
    dst: pick(["10.0.0.1", "10.0.0.2"]),
    dport: pick([undefined, 80, 8080]),
    dnat: pick([undefined, "10.0.0.1:80", "10.0.0.2:8080"]),
    masquerade: fc.boolean(),
    outInterface: pick([undefined, "eth0"]),
    error: pick([undefined, "walk longer than 1 steps"]),
  })
  .map((r): Outcome => {
    const outcome: Outcome = {
      probability: r.probability,
      conditionalProbability: r.probability,
      verdict: r.verdict,
      ...(r.delivery ? { delivery: r.delivery } : {}),
      packet: { src: "203.0.113.9", dst: r.dst, proto: "tcp", ...(r.dport !== undefined ? { dport: r.dport } : {}) },
      masquerade: r.masquerade,
      mark: 0,
      ctmark: 0,
      path: [],
      merged: 1,
      uncertain: [],
    };
    if (r.dnat) outcome.dnat = { from: "10.96.0.1:80", to: r.dnat, line: 7 };
    if (r.outInterface) outcome.outInterface = r.outInterface;
    if (r.error) outcome.error = r.error;
    return outcome;
  });

const question = (assumed: boolean): Assumption => ({ kind: "ipset-contents", subject: "allowed src", line: 3, message: "the contents of ipset allowed src are not in the dump", assumed });

describe("mergeOutcomes", () => {
  it("adds up outcomes that assume nothing exactly as the plain version does", () => {
    fc.assert(
      fc.property(fc.array(outcomeArbitrary, { maxLength: 12 }), (outcomes) => {
        expect(mergeOutcomes(outcomes)).toEqual(plainMerge(outcomes));
      }),
      { numRuns: 500, seed: 20_260_802 },
    );
  });

  it("keeps an outcome that assumes nothing apart from an alike one that assumes something", () => {
    const [a, b] = fc.sample(outcomeArbitrary, { numRuns: 1, seed: 3 }).flatMap((o) => [o, { ...o, uncertain: [question(true)] }]);
    expect(mergeOutcomes([a!, b!]).map((o) => o.uncertain.length).sort()).toEqual([0, 1]);
  });

  it("drops an assumption taken both ways when it changes neither the outcome nor its share", () => {
    const [base] = fc.sample(outcomeArbitrary, { numRuns: 1, seed: 4 });
    const merged = mergeOutcomes([{ ...base!, uncertain: [question(true)] }, { ...base!, uncertain: [question(false)] }]);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ probability: 2 * base!.probability, merged: 2, uncertain: [] });
  });
});
