// What the fuzzer found that only the kernel can settle: a jump to a chain declared further down (both
// backends refuse it, legacy at the rule, nft at COMMIT, so iptscope reports it at the rule), a stray word
// after an option's arguments, a chain name with white space.

import { expect, it } from "vitest";
import { formatRuleset, parseRuleset } from "../src/index.js";
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

kdescribe("words iptables refuses", () => {
  const cases = [
    ["a stray word after an option", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 80 x -j ACCEPT\nCOMMIT\n"],
    ["a stray word after a quoted comment", '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "abc"x -j ACCEPT\nCOMMIT\n'],
    ["a new chain named with a space", '*filter\n:INPUT ACCEPT [0:0]\n-N "a b"\nCOMMIT\n'],
    ["a new chain named with a leading '!'", '*filter\n:INPUT ACCEPT [0:0]\n-N "!x"\nCOMMIT\n'],
    ["-X without a name while a chain is jumped to", "*filter\n:INPUT ACCEPT [0:0]\n-N A\n-N B\n-A INPUT -j A\n-X\nCOMMIT\n"],
    ["-X without a name while a chain has rules", "*filter\n:INPUT ACCEPT [0:0]\n-N A\n-N B\n-A A -j ACCEPT\n-X\nCOMMIT\n"],
    // A second -m of a name merges no options: --mark goes to the match whose name was loaded last (connmark), twice.
    ["--mark after a second -m mark", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m mark --mark 1 -m connmark --mark 2 -m mark --mark 3 -j ACCEPT\nCOMMIT\n"],
    ["--mark after a second -m connmark", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m connmark -m mark --mark 3 -m connmark --mark 4 -j ACCEPT\nCOMMIT\n"],
  ] as const;
  for (const [name, text] of cases) {
    it(`${name}: the kernel's iptables-restore refuses it, and iptscope reports an error`, () => {
      expect(kernelRoundTrip(text).ok).toBe(false);
      expect(parseRuleset(text).diagnostics.filter((d) => d.severity === "error")).toHaveLength(1);
    });
  }
});

kdescribe("options of a match loaded twice", () => {
  it("reach its last instance, as iptables-save shows", () => {
    const text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m mark --mark 1 -m connmark --mark 2/3 -m connmark --mark 4 -j ACCEPT\nCOMMIT\n";
    const saved = kernelRoundTrip(text);
    expect(saved.ok).toBe(true);
    if (!saved.ok) return;
    const kernelRule = saved.saved.split("\n").find((l) => l.startsWith("-A INPUT"));
    const ours = formatRuleset(parseRuleset(text).ruleset, { canonical: true }).split("\n").find((l) => l.startsWith("-A INPUT"));
    expect(ours).toBe(kernelRule);
  });
});

kdescribe("-c counters", () => {
  it("are read as iptables-restore -c reads them: leading digits, the rest ignored", () => {
    const text = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-c 1x 20y -A INPUT -j ACCEPT\n-c +7 010 -A INPUT -j DROP\nCOMMIT\n";
    const saved = kernelRoundTrip(text, { counters: true });
    expect(saved.ok).toBe(true);
    if (!saved.ok) return;
    const kernelRules = saved.saved.split("\n").filter((l) => l.includes("-A INPUT"));
    const ours = formatRuleset(parseRuleset(text).ruleset, { canonical: true }).split("\n").filter((l) => l.includes("-A INPUT"));
    expect(ours).toEqual(kernelRules);
  });
});
