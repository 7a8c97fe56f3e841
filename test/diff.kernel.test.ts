// The backend that saved a dump is noise: one ruleset loaded into iptables-nft and into iptables-legacy (each in
// a private network namespace) and saved back differs in table order, headers and a few normalisations, and
// `diff` must find no difference between the two. A one-rule change through the same kernels must show.

import { expect, it } from "vitest";
import { diffRulesets, parseRuleset, type RulesDiff, type Ruleset } from "../src/index.js";
import { ipsetsReferenced, kernelDescribe, kernelRoundTrip, type Backend, type Family } from "./support/kernel.js";
import { generateKubeProxyDump } from "./support/kubegen.js";
import { generateRestoreInput } from "./support/rulegen.js";

const kdescribe = kernelDescribe();

function saved(input: string, family: Family, backend: Backend, counters = false): string {
  const result = kernelRoundTrip(input, { family, backend, counters, ipsets: ipsetsReferenced(input, family) });
  if (!result.ok) throw new Error(`the kernel refused the input (${backend}):\n${result.stderr}`);
  return result.saved;
}

function parsed(text: string, family: Family): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text, { family });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return ruleset;
}

function rulesDiff(oldText: string, newText: string, family: Family): RulesDiff {
  const outcome = diffRulesets(parsed(oldText, family), parsed(newText, family), { levels: ["rules"] }).levels.rules;
  if (outcome?.status !== "compared") throw new Error("rules level not compared");
  return outcome;
}

function expectSameRuleset(input: string, family: Family): void {
  const nft = saved(input, family, "nft");
  const legacy = saved(input, family, "legacy", true);
  expect(legacy).not.toBe(nft);
  const diff = rulesDiff(nft, legacy, family);
  expect(diff.tables).toEqual([]);
  expect(diff.differs).toBe(false);
}

kdescribe("diff: a ruleset saved by iptables-nft and by iptables-legacy is the same ruleset", () => {
  for (const generation of ["new", "old"] as const) {
    for (const family of ["ipv4", "ipv6"] as const) {
      it(`kube-proxy ${generation} generation, ${family}`, () =>
        expectSameRuleset(
          generateKubeProxyDump({ services: 150, endpointsPerService: [0, 4], seed: 13, generation, family, order: "restore" }),
          family,
        ));
    }
  }

  for (const seed of [1, 2, 3]) {
    for (const family of [4, 6] as const) {
      it(`random ruleset of every modelled module, seed ${seed}, IPv${family}`, () =>
        expectSameRuleset(generateRestoreInput(seed, family, 40), family === 4 ? "ipv4" : "ipv6"));
    }
  }

  it("the backends' own normalisations (negated port ranges, --nflog-range) are no difference", () => {
    const input = [
      "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
      "-A INPUT -p tcp -m tcp ! --sport 0:1023 -j ACCEPT",
      "-A INPUT -p udp -m udp ! --dport 0:52 -j ACCEPT",
      "-A INPUT -j NFLOG --nflog-range 64",
      "COMMIT", "",
    ].join("\n");
    const rules = (text: string) => text.split("\n").filter((l) => l.startsWith("-A "));
    const nft = saved(input, "ipv4", "nft");
    const legacy = saved(input, "ipv4", "legacy");
    expect(rules(nft).filter((rule) => rules(legacy).includes(rule))).toEqual([]);
    const diff = rulesDiff(legacy, nft, "ipv4");
    expect(diff.tables).toEqual([]);
  });

  it("a changed rule through the same kernels is one removal and one addition", () => {
    const input = generateKubeProxyDump({ services: 80, seed: 17, order: "restore" });
    const target = input.split("\n").find((l) => l.startsWith("-A KUBE-SEP-") && l.includes("DNAT"))!;
    const changed = input.replace(target, target.replace(/--to-destination (\S+):(\d+)/, "--to-destination $1:9999"));
    const diff = rulesDiff(saved(input, "ipv4", "nft"), saved(changed, "ipv4", "legacy"), "ipv4");
    expect(diff.summary).toEqual(expect.objectContaining({ chainsChanged: 1, rulesAdded: 1, rulesRemoved: 1, rulesMoved: 0 }));
    const chain = diff.tables.flatMap((t) => t.chains)[0];
    expect(chain.kind === "changed" && chain.changes.map((c) => c.kind)).toEqual(["removed", "added"]);
  });
});
