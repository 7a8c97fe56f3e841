// fmt --canonical against the real kernel: restore input goes into iptables-restore in a
// private namespace, and iptscope must print exactly what iptables-save prints back.

import { expect, it } from "vitest";
import { formatRuleset, parseRuleset } from "../src/index.js";
import { ipsetsReferenced, kernelDescribe, kernelRoundTrip, type Backend } from "./support/kernel.js";
import { restoreFixtures, tablesOf } from "./support/files.js";
import { generateKubeProxyDump } from "./support/kubegen.js";
import { generateRestoreInput } from "./support/rulegen.js";

const kdescribe = kernelDescribe();
const SEEDS = Number(process.env.IPTSCOPE_CANONICAL_SEEDS ?? 12);

function expectKernelAgreement(input: string, family: "ipv4" | "ipv6", backend: Backend = "nft"): void {
  // fmt --canonical means `iptables-restore -c` then `iptables-save` (with -c when the input had rule counters).
  const ruleCounters = /^\[/m.test(input);
  const kernel = kernelRoundTrip(input, { family, backend, counters: true, ipsets: ipsetsReferenced(input, family) });
  if (!kernel.ok) throw new Error(`the kernel refused the input:\n${kernel.stderr}`);
  const saved = ruleCounters ? kernel.saved : kernel.saved.replace(/^\[\d+:\d+\] /gm, "");
  const { ruleset, diagnostics } = parseRuleset(input, { family });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  expect(tablesOf(formatRuleset(ruleset, { canonical: true, backend }))).toEqual(tablesOf(saved));
}

kdescribe("fmt --canonical agrees with iptables-save after iptables-restore", () => {
  for (const fixture of restoreFixtures()) {
    it(`fixture ${fixture.name}`, () => expectKernelAgreement(fixture.text, fixture.family));
  }

  for (let seed = 1; seed <= SEEDS; seed++) {
    for (const family of [4, 6] as const) {
      it(`generated ruleset, seed ${seed}, IPv${family}`, () =>
        expectKernelAgreement(generateRestoreInput(seed, family, 40), family === 4 ? "ipv4" : "ipv6"));
    }
  }

  it("generated ruleset on the legacy backend", () => expectKernelAgreement(generateRestoreInput(1001, 4, 60), "ipv4", "legacy"));

  for (const generation of ["old", "new"] as const) {
    for (const family of ["ipv4", "ipv6"] as const) {
      it(`kube-proxy ${generation} generation, restore order, ${family}`, () =>
        expectKernelAgreement(
          generateKubeProxyDump({ services: 40, endpointsPerService: [0, 4], seed: 7, generation, order: "restore", family }),
          family,
        ));
    }
  }
});
