// What the fuzzer found that only the kernel can settle: a jump to a chain declared further down. Both
// backends refuse it (legacy at the rule, nft at COMMIT), so iptscope reports it at the rule.

import { expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { kernelDescribe, kernelRoundTrip } from "./support/kernel.js";

const kdescribe = kernelDescribe();

kdescribe("a jump to a chain declared below the rule", () => {
  const text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j LATER\n:LATER - [0:0]\n-A LATER -j ACCEPT\nCOMMIT\n";
  const declaredFirst = "*filter\n:INPUT ACCEPT [0:0]\n:LATER - [0:0]\n-A INPUT -j LATER\n-A LATER -j ACCEPT\nCOMMIT\n";

  for (const backend of ["nft", "legacy"] as const) {
    it(`is refused by iptables-${backend}-restore, accepted once declared above`, () => {
      const refused = kernelRoundTrip(text, { backend });
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.stderr).toMatch(/LATER/);
      expect(kernelRoundTrip(declaredFirst, { backend }).ok).toBe(true);
    });
  }

  it("is an error at the rule for iptscope too, and fine once declared above", () => {
    const { diagnostics } = parseRuleset(text);
    expect(diagnostics.map((d) => [d.kind, d.line, d.severity])).toEqual([["jump-to-undeclared-chain", 3, "error"]]);
    expect(parseRuleset(declaredFirst).diagnostics).toEqual([]);
  });
});
