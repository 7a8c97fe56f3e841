// Random single rules, valid or not (test/support/acceptgen.ts), loaded alone into the kernel: iptscope must
// refuse exactly what iptables-restore refuses, and print what iptables-save prints for what it accepts.
// IPTSCOPE_ACCEPT_RULES sets the rules per family and backend (default 100; a long sweep takes thousands).

import { expect, it } from "vitest";
import { formatRuleset, parseRuleset } from "../src/index.js";
import { generateAcceptCase } from "./support/acceptgen.js";
import { ipsetsReferenced, kernelDescribe, kernelRoundTrip } from "./support/kernel.js";
import { tablesOf } from "./support/files.js";

const kdescribe = kernelDescribe();
const RULES = Number(process.env.IPTSCOPE_ACCEPT_RULES ?? 100);
const FIRST_SEED = Number(process.env.IPTSCOPE_ACCEPT_SEED ?? 1);

kdescribe("random rules, valid or not: iptscope accepts what the kernel accepts, and prints it as iptables-save does", () => {
  for (const family of ["ipv4", "ipv6"] as const) {
    for (const backend of ["nft", "legacy"] as const) {
      it(`${RULES} rules, ${family}, ${backend}`, () => {
        const disagreements: { rule: string; table: string; kernel: string; iptscope: string }[] = [];
        let accepted = 0;
        for (let i = 0; i < RULES; i++) {
          const seed = FIRST_SEED + i * 7919 + (family === "ipv6" ? 1 : 0) + (backend === "legacy" ? 2 : 0);
          const c = generateAcceptCase(seed, family);
          const kernel = kernelRoundTrip(c.text, { family, backend, ipsets: ipsetsReferenced(c.text, family) });
          const { ruleset, diagnostics } = parseRuleset(c.text, { family });
          // What only iptables-legacy refuses is a warning (the dump may come from iptables-nft).
          const errors = diagnostics.filter((d) => d.severity === "error" || (backend === "legacy" && d.kind === "legacy-refuses")).map((d) => d.message);
          if (kernel.ok !== (errors.length === 0)) {
            disagreements.push({ rule: c.rule, table: c.table, kernel: kernel.ok ? "accepted" : kernel.stderr.split("\n")[0]!, iptscope: errors.join("; ") || "accepted" });
            continue;
          }
          if (!kernel.ok) continue;
          accepted++;
          const printed = tablesOf(formatRuleset(ruleset, { canonical: true, backend }));
          const saved = tablesOf(kernel.saved.replace(/^\[\d+:\d+\] /gm, ""));
          if (JSON.stringify(printed) !== JSON.stringify(saved)) {
            disagreements.push({ rule: c.rule, table: c.table, kernel: JSON.stringify(saved), iptscope: JSON.stringify(printed) });
          }
        }
        expect(disagreements).toEqual([]);
        // Both answers occur, so the comparison cannot pass by accepting or refusing everything.
        expect(accepted).toBeGreaterThan(RULES / 10);
        expect(accepted).toBeLessThan(RULES);
      });
    }
  }
});
