// The rules level of `diff` compares rules by their canonical text, but prints only the rules it must: those that
// jump where a rule written otherwise jumps. Random chains of rules, each written in one of
// several spellings iptables reads alike, must diff exactly as their canonical prints do.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffRulesets, formatRule, formatRuleset, parseRuleset, type RuleChange, type RulesDiff, type Ruleset } from "../src/index.js";

/** Rules as several spellings each; the spellings of one rule load into the same kernel rule. */
const MEANINGS: readonly (readonly string[])[] = [
  ["-d 10.96.0.10/32 -p tcp -m tcp --dport 53 -j KUBE-SVC-A", "-p tcp -d 10.96.0.10 --dport 53 -j KUBE-SVC-A", "--destination 10.96.0.10/255.255.255.255 -p 6 -m tcp --dport 53 --jump KUBE-SVC-A"],
  ["-d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-A", "-p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-A"],
  ["-d 10.96.0.10/32 -p tcp -m tcp --dport 9153 -j KUBE-SVC-A", "-p tcp --dport 9153 -d 10.96.0.10/32 -j KUBE-SVC-A"],
  ["-d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-B", "-p tcp -m tcp --dport 443 -d 10.96.0.1/32 -j KUBE-SVC-B"],
  ['-m comment --comment "default/web:http" -j KUBE-SVC-B', "-m comment --comment default/web:http -j KUBE-SVC-B"],
  ["-s 10.244.0.0/16 -d 10.96.0.1/32 -j DROP", "-d 10.96.0.1/32 -s 10.244.0.0/16 -j DROP", "-d 10.96.0.1 -s 10.244.0.0/255.255.0.0 -j DROP"],
  ["-d 10.96.0.1/32 -j DROP", "--dst 10.96.0.1 -j DROP"],
  ["-p tcp -m tcp --dport 80 -j ACCEPT", "-p tcp --dport 80 -j ACCEPT", "-p tcp --dport=80 -j ACCEPT"],
  ["-p tcp -m tcp --dport 81 -j ACCEPT", "-p tcp --dport 81 -j ACCEPT"],
  ["-m addrtype --dst-type LOCAL -j KUBE-SVC-A", "-m addrtype --dst-type=LOCAL -j KUBE-SVC-A"],
  ["-m addrtype --dst-type LOCAL -g KUBE-SVC-A", "-m addrtype --dst-type LOCAL --goto KUBE-SVC-A"],
  ["-j KUBE-SVC-B", "--jump KUBE-SVC-B"],
  ["-d 0.0.0.0/0 -j RETURN", "-j RETURN"],
];

interface Written {
  meaning: number;
  spelling: number;
}

function dump(chain: readonly Written[]): string {
  const rules = chain.map(({ meaning, spelling }) => {
    const spellings = MEANINGS[meaning]!;
    return `-A KUBE-SERVICES ${spellings[spelling % spellings.length]}`;
  });
  return ["*filter", ":INPUT ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", ":KUBE-SVC-A - [0:0]", ":KUBE-SVC-B - [0:0]", ...rules, "COMMIT", ""].join("\n");
}

function parsed(text: string): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return ruleset;
}

/** The changes of the rules level, without the lines (which a canonical print renumbers). */
function changes(oldRuleset: Ruleset, newRuleset: Ruleset): unknown[] {
  const outcome = diffRulesets(oldRuleset, newRuleset, { levels: ["rules"] }).levels.rules as RulesDiff & { status: string };
  expect(outcome.status).toBe("compared");
  return outcome.tables.flatMap((table) =>
    table.chains.flatMap((chain) =>
      chain.kind !== "changed"
        ? [{ chain: chain.chain, kind: chain.kind }]
        : chain.changes.map((change) => ({
            chain: chain.chain,
            kind: change.kind,
            ...("old" in change ? { old: [change.old.position, change.old.rule] } : {}),
            ...("new" in change ? { new: [change.new.position, change.new.rule] } : {}),
          })),
    ),
  );
}

/** The canonical text of each rule of the chain. */
function printed(ruleset: Ruleset): string[] {
  const chain = ruleset.tables[0]!.chains.find((c) => c.name === "KUBE-SERVICES")!;
  return chain.rules.map((rule) => formatRule(rule, { family: "ipv4", backend: "nft" }, false));
}

/** The changes say what changed between the canonical texts: rules they leave in place, or move, print alike. */
function expectFaithful(oldRuleset: Ruleset, newRuleset: Ruleset): void {
  const outcome = diffRulesets(oldRuleset, newRuleset, { levels: ["rules"] }).levels.rules as RulesDiff;
  const chain = outcome.tables.flatMap((t) => t.chains).find((c) => c.chain === "KUBE-SERVICES");
  const changes: RuleChange[] = chain?.kind === "changed" ? chain.changes : [];
  const oldTexts = printed(oldRuleset);
  const newTexts = printed(newRuleset);
  const oldGone = new Set<number>();
  const newCome = new Set<number>();
  for (const change of changes) {
    if ("old" in change) {
      oldGone.add(change.old.position);
      expect(change.old.rule).toBe(oldTexts[change.old.position - 1]);
    }
    if ("new" in change) {
      newCome.add(change.new.position);
      expect(change.new.rule).toBe(newTexts[change.new.position - 1]);
    }
    if ("old" in change && "new" in change) expect(change.old.rule).toBe(change.new.rule);
  }
  const kept = (texts: string[], changed: Set<number>) => texts.filter((_, i) => !changed.has(i + 1));
  expect(kept(newTexts, newCome)).toEqual(kept(oldTexts, oldGone));
}

const written = fc.record({ meaning: fc.nat(MEANINGS.length - 1), spelling: fc.nat(2) });

/** NEW from OLD: some rules respelled, some removed, some added, some swapped with the next. */
const edited = (chain: readonly Written[]) =>
  fc.array(fc.record({ edit: fc.constantFrom("keep", "keep", "keep", "respell", "remove", "add", "swap"), rule: written }), { minLength: chain.length, maxLength: chain.length }).map((edits) => {
    const out: Written[] = [];
    chain.forEach((rule, i) => {
      const { edit, rule: other } = edits[i]!;
      if (edit === "keep") out.push(rule);
      else if (edit === "respell") out.push({ meaning: rule.meaning, spelling: other.spelling });
      else if (edit === "add") out.push(other, rule);
      else if (edit === "swap") out.splice(Math.max(0, out.length - 1), 0, rule);
    });
    return out;
  });

describe("diff: rules written in other spellings", () => {
  it("diff as their canonical texts do, and exactly as their canonical prints", () => {
    fc.assert(
      fc.property(
        fc.array(written, { maxLength: 60 }).chain((chain) => fc.tuple(fc.constant(chain), edited(chain))),
        ([oldChain, newChain]) => {
          const oldRuleset = parsed(dump(oldChain));
          const newRuleset = parsed(dump(newChain));
          const canonical = (ruleset: Ruleset) => parsed(formatRuleset(ruleset, { canonical: true }));
          expectFaithful(oldRuleset, newRuleset);
          expect(changes(oldRuleset, newRuleset)).toEqual(changes(canonical(oldRuleset), canonical(newRuleset)));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a chain only respelled and with rules of one meaning reordered has no change", () => {
    const oldChain = MEANINGS.flatMap((spellings, meaning) => spellings.map((_, spelling) => ({ meaning, spelling })));
    const newChain = oldChain.map(({ meaning, spelling }) => ({ meaning, spelling: spelling + 1 }));
    expect(changes(parsed(dump(oldChain)), parsed(dump(newChain)))).toEqual([]);
  });
});
