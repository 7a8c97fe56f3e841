// parseRuleset(next, { reuse: parseRuleset(previous) }) must be parseRuleset(next) exactly,
// diagnostics and skipped lines included, whatever changed between the two snapshots.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRuleset, type ParseOptions, type ParseResult } from "../src/index.js";
import { baseArbitrary, baseText } from "./fuzz/inputs.js";
import { mutate, mutationsArbitrary } from "./support/mutate.js";

const SEED = Number(process.env.IPTSCOPE_FUZZ_SEED ?? 20_261_126);

function expectSameAsFresh(
  previous: string, next: string, options: ParseOptions = {}, previousOptions: ParseOptions = options,
): { reused: ParseResult; earlier: ParseResult } {
  const earlier = parseRuleset(previous, previousOptions);
  const reused = parseRuleset(next, { ...options, reuse: earlier });
  const fresh = parseRuleset(next, options);
  expect(reused).toEqual(fresh);
  // Key order too, so that JSON output is the same byte for byte.
  expect(JSON.stringify(reused)).toBe(JSON.stringify(fresh));
  return { reused, earlier };
}

/** How many rules of `next` share their matches array with a rule of `earlier` (taken, not built). */
function sharedRules(earlier: ParseResult, next: ParseResult): number {
  const arrays = new Set<unknown>();
  for (const table of earlier.ruleset.tables) for (const chain of table.chains) for (const rule of chain.rules) if (rule.matches.length > 0) arrays.add(rule.matches);
  let shared = 0;
  for (const table of next.ruleset.tables) for (const chain of table.chains) for (const rule of chain.rules) if (arrays.has(rule.matches)) shared++;
  return shared;
}

const FILTER = (lines: string[]) => ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...lines, "COMMIT", ""].join("\n");

describe("parse with reuse of an earlier snapshot", () => {
  it("takes the unchanged rules of a kube-proxy dump from the earlier parse and still numbers and counts them anew", () => {
    const { text } = baseText({ kind: "kube", seed: 3, services: 12, generation: "new", family: "ipv4", restoreOrder: false, counters: true });
    const lines = text.split("\n");
    const ruleLines = lines.map((l, i) => [l, i] as const).filter(([l]) => /^(\[\d+:\d+\] )?-A /.test(l));
    // A later snapshot: other counters (of the same printed length on one line, longer on another), one rule gone.
    const next = [...lines];
    const [first, firstIndex] = ruleLines[0]!;
    const [second, secondIndex] = ruleLines[1]!;
    next[firstIndex] = first.replace(/^\[(\d+):(\d+)\]/, (_, packets: string, bytes: string) => `[${"7".repeat(packets.length)}:${"8".repeat(bytes.length)}]`);
    next[secondIndex] = second.replace(/^\[\d+:\d+\]/, "[123456:7890123]");
    next.splice(ruleLines[5]![1], 1);
    const nextText = next.join("\n");
    const { reused, earlier } = expectSameAsFresh(text, nextText);
    expect(reused.diagnostics).toEqual([]);
    expect(sharedRules(earlier, reused)).toBeGreaterThan(ruleLines.length / 2);
  });

  it("takes the rules of chains whose rules another sync wrote in another order", () => {
    const { text } = baseText({ kind: "kube", seed: 5, services: 40, generation: "new", family: "ipv4", restoreOrder: false, counters: false });
    const lines = text.split("\n");
    // kube-proxy writes the rules of KUBE-SERVICES (a long chain) and KUBE-NODEPORTS in Go map order: reversed here.
    const next = [...lines];
    const tableOf = (i: number) => lines.slice(0, i + 1).filter((l) => l.startsWith("*")).length;
    for (const chain of ["KUBE-SERVICES", "KUBE-NODEPORTS"]) {
      const at = lines.flatMap((line, i) => (line.startsWith(`-A ${chain} `) ? [i] : []));
      for (const table of new Set(at.map(tableOf))) {
        const inTable = at.filter((i) => tableOf(i) === table);
        const reversed = inTable.map((i) => lines[i]!).reverse();
        inTable.forEach((i, k) => (next[i] = reversed[k]!));
      }
    }
    const ruleCount = lines.filter((l) => l.startsWith("-A ")).length;
    const { reused, earlier } = expectSameAsFresh(text, next.join("\n"));
    expect(reused.diagnostics).toEqual([]);
    const withMatches = reused.ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)).filter((r) => r.matches.length > 0).length;
    expect(sharedRules(earlier, reused)).toBe(withMatches);
    expect(withMatches).toBeGreaterThan(ruleCount / 2);
  });

  it("builds again what depends on the chains around a line: a chain declared later, a user chain named like a target", () => {
    const previous = FILTER([":MARK - [0:0]", ":X - [0:0]", "-A INPUT -j MARK", "-A INPUT -j X", "-A INPUT -g X", "-A X -j RETURN"]);
    // MARK is now the target extension (which needs an option), X is declared after the rules that jump to it.
    const next = FILTER(["-A INPUT -j MARK", "-A INPUT -j X", "-A INPUT -g X", ":X - [0:0]", "-A X -j RETURN"]);
    for (const lenient of [false, true]) {
      const { reused } = expectSameAsFresh(previous, next, { lenient });
      expect(reused.diagnostics.map((d) => d.kind)).toEqual(expect.arrayContaining(["jump-to-undeclared-chain"]));
    }
    // And back: the extension becomes a user chain.
    expectSameAsFresh(FILTER(["-A INPUT -j MARK --set-mark 1"]), FILTER([":MARK - [0:0]", "-A INPUT -j MARK --set-mark 1"]));
  });

  it("does not take rules whose line had a diagnostic, set counters in its text, or made several rules", () => {
    const lines = [
      ":X - [0:0]", "-A INPUT -s 10.0.0.1,10.0.0.2 -j X", "-A INPUT -c 5 6 -j ACCEPT", "[1:1] -A INPUT -c 7 8 -j ACCEPT",
      "-A INPUT -p tcp --dport 99999 -j ACCEPT", "-A INPUT -j Y",
    ];
    const previous = FILTER(lines);
    const next = FILTER(["-A INPUT -j ACCEPT", ...lines]).replace("[1:1]", "[2:2]");
    expectSameAsFresh(previous, next);
    expectSameAsFresh(previous, next, { lenient: true });
  });

  it("takes nothing from a parse of the other family or from tables a chain command changed", () => {
    const previous = FILTER(["-N Y", "-A INPUT -p tcp --dport 22 -j ACCEPT", "-E Y Z"]);
    expectSameAsFresh(previous, FILTER(["-A INPUT -p tcp --dport 22 -j ACCEPT"]));
    // After -E the earlier rules name Z, as their lines do not.
    expectSameAsFresh(FILTER([":Y - [0:0]", "-A INPUT -j Y", "-E Y Z"]), FILTER([":Y - [0:0]", "-A INPUT -j Y"]));
    const v4 = FILTER(["-A INPUT -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT"]);
    expectSameAsFresh(v4, v4, { family: "ipv6" }, { family: "ipv4" });
    // The same line in another table is built for that table (DROP is refused in nat).
    expectSameAsFresh(FILTER(["-A INPUT -j DROP"]), "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DROP\nCOMMIT\n");
  });

  it("property: parsing a changed dump with reuse of the original's parse gives what parsing it alone gives", () => {
    fc.assert(
      fc.property(
        baseArbitrary,
        fc.array(mutationsArbitrary.map((m) => m), { minLength: 0, maxLength: 1 }),
        mutationsArbitrary,
        fc.boolean(),
        fc.boolean(),
        (base, previousMutations, nextMutations, lenient, previousLenient) => {
          const { text, family } = baseText(base);
          const previous = previousMutations.length === 0 ? text : mutate(text, previousMutations[0]!);
          const next = mutate(text, nextMutations);
          const options: ParseOptions = family ? { lenient, family } : { lenient };
          expectSameAsFresh(previous, next, options, { ...options, lenient: previousLenient });
        },
      ),
      { numRuns: 300, seed: SEED, includeErrorInReport: true },
    );
  });
});
