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
/** Two kernel loads per rule take some 10 ms; a long sweep on a busy machine takes several times that. */
const RULE_BUDGET_MS = 60_000 + RULES * 100;
const FIRST_SEED = Number(process.env.IPTSCOPE_ACCEPT_SEED ?? 1);

/**
 * Save output without rule counters (restored without -c, the kernel has none), table by table in name order
 * (the backends print tables in different orders).
 */
function withoutRuleCounters(saved: string): string {
  return [...tablesOf(saved.replace(/^\[\d+:\d+\] /gm, ""))].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, lines]) => lines).join("\n");
}

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
          const { ruleset, diagnostics } = parseRuleset(c.text, { family, backend });
          // What only one backend refuses is a warning (the dump may come from the other).
          const refusedHere = (d: (typeof diagnostics)[number]) => d.kind === "backend-refuses" && d.details.backend === backend;
          const errors = diagnostics.filter((d) => d.severity === "error" || refusedHere(d)).map((d) => d.message);
          if (kernel.ok !== (errors.length === 0)) {
            disagreements.push({ rule: c.rule, table: c.table, kernel: kernel.ok ? "accepted" : kernel.stderr.split("\n")[0]!, iptscope: errors.join("; ") || "accepted" });
            continue;
          }
          if (!kernel.ok) continue;
          accepted++;
          const printed = withoutRuleCounters(formatRuleset(ruleset, { canonical: true, backend }));
          const saved = withoutRuleCounters(kernel.saved);
          if (printed !== saved) disagreements.push({ rule: c.rule, table: c.table, kernel: saved, iptscope: printed });
        }
        expect(disagreements).toEqual([]);
        // Both answers occur, so the comparison cannot pass by accepting or refusing everything.
        expect(accepted).toBeGreaterThan(RULES / 20);
        expect(accepted).toBeLessThan(RULES);
      }, RULE_BUDGET_MS);
    }
  }
});

// Whole dumps around chain declarations, addresses, interfaces and protocols, each loaded alone.
const DUMPS = [
  ":ABCDEFGHIJKLMNOPQRSTUVWXYZ01 - [0:0]", ":ABCDEFGHIJKLMNOPQRSTUVWXYZ012 - [0:0]", ":-X - [0:0]", ":!X - [0:0]", ":X ACCEPT [0:0]",
  "-A INPUT -j OUTPUT", "-A INPUT -g OUTPUT", "-A INPUT -j accept", ":INPUT DROP [0:0]\n-A INPUT -j RETURN", ":INPUT drop [0:0]",
  ":INPUT RETURN [0:0]", ":X - [0:0]\n-A INPUT -g X\n-A X -j RETURN", "-A INPUT -j ACCEPT\n:INPUT DROP [0:0]\n-A INPUT -j RETURN",
  ":X - [0:0]\n:X - [0:0]", "-A INPUT -j ACCEPT\n-D INPUT 1", "-I INPUT 2 -j ACCEPT", "-N X\n-X X", "-P INPUT DROP",
  "-A INPUT -s 10.0.0.1/33", "-A INPUT -s 10.0.0.1/255.0.255.0", "-A INPUT -s 10.1", "-A INPUT -s 010.0.0.1", "-A INPUT -s 0x0a000001",
  "-A INPUT -s 10.0.0.1/08", "-A INPUT -s 10.0.0.00000000000001", "-A INPUT -s 10.0.0.256", "-A INPUT -s 10.0.0.", "-A INPUT -i eth0+ -o lo",
  "-A INPUT -i abcdefghijklmnop", "-A INPUT -i eth/0", "-A INPUT -i \"\"", "-A INPUT -p 256", "-A INPUT -p 0", "-A INPUT -p ALL", "-A INPUT -p 0x11",
  "-A INPUT -p ip", "-A INPUT -s 10.0.0.1,10.0.0.2 ! -d 10.0.0.3", "-A INPUT -s 10.0.0.1,10.0.0.2 -d 10.1/0x10 -j ACCEPT",
  "-A INPUT -d 10.0.0.1,10.0.0.2 -s 10.0.0.3", "-A INPUT -s 10.0.0.1,10.0.0.2 -d 10.0.0.3,10.0.0.4",
  // getopt_long: abbreviations over iptables' own options and the loaded extensions' together, values after `=`,
  // quoted options, options iptables-restore takes and ignores.
  "-A INPUT --sou 10.0.0.1 -j ACCEPT", "-A INPUT --in-int eth0 --j ACCEPT", "-A INPUT --sr 10.0.0.1 --ds 10.0.0.2",
  "-A INPUT -p tcp --so 80 -j ACCEPT", "-A INPUT -p tcp -m tcp --so 80 -j ACCEPT", "-A INPUT -p tcp -m tcp --sp 80",
  "-A INPUT -m comment --c x", "-A INPUT -m comment --comm x --pro udp", "-A INPUT --ma tcp -p tcp", "-A INPUT --m tcp -p tcp",
  "-A INPUT --frag -j ACCEPT", "-A INPUT --fragment", "-A INPUT --ip -j ACCEPT", "-A INPUT --in eth0", "-A INPUT --p tcp",
  "-A INPUT -p tcp --dport=80 -j ACCEPT", "-A INPUT -p tcp --tcp-flags=SYN,ACK SYN", "-A INPUT -p tcp --syn=1",
  "-A INPUT -m comment --comment= -j ACCEPT", "-A INPUT -m comment --comment=\"a b\"", "-A INPUT -m comment \"--comment=a=b\"",
  "-A INPUT --source=10.0.0.1", "-A INPUT --fragments=1", "-A INPUT -p tcp -m tcp --dport 80 --",
  "-A INPUT -p tcp \"--dport\" 80", "-A INPUT \"-j\" ACCEPT", "-A INPUT \"!\" -s 10.0.0.1",
  "-A INPUT -v -v -j ACCEPT", "-A INPUT --verbose", "-A INPUT ! -v", "-A INPUT -M /bin/true -j ACCEPT", "-A INPUT --mod x",
  "-A INPUT -n", "-A INPUT --ex", "-A INPUT -p tcp --t 80", "-A INPUT --wait", "-A INPUT -p tcp -j REJECT --reject tcp-reset",
  // getopt's optarg (-m, -g, commands) or the whole word (-p, -s, -d, -i, -o, -j) as the value; short options in clusters.
  "-A INPUT -p tcp --match=tcp --dport 80", "-A INPUT -p tcp -mtcp --dport 80", ":X - [0:0]\n-A INPUT --goto=X", ":X - [0:0]\n-A INPUT -gX",
  "-A INPUT --jump=ACCEPT", "-A INPUT -jACCEPT", "-A INPUT --protocol=tcp", "-A INPUT -ptcp", "-A INPUT --in-interface=eth0", "-A INPUT -ieth0",
  "-A INPUT --modprobe=x", "-A INPUT -m ttl --ttl 3", "-A INPUT -vj ACCEPT", "-A INPUT -fj ACCEPT", "-A INPUT -4vj ACCEPT", "-A INPUT -vfs 10.0.0.1",
  "-A INPUT -p tcp -m tcp -dport 80", "-A INPUT -tfilter", "--append=INPUT -j ACCEPT", "-AINPUT -j ACCEPT", "-A INPUT -c 1 2 -j ACCEPT",
].map((lines) => `*filter\n:INPUT ACCEPT [0:0]\n${lines}\nCOMMIT\n`);

// Extensions allowed in some hooks only, in user chains reached (or not) from built-in chains, through jumps and
// gotos, before and after chain commands.
const NAT = "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:X - [0:0]\n:Y - [0:0]\n";
const HOOK_DUMPS = [
  "-A X -j MASQUERADE", "-A PREROUTING -j X\n-A X -j MASQUERADE", "-A POSTROUTING -j X\n-A X -j MASQUERADE", "-A PREROUTING -g X\n-A X -j MASQUERADE",
  "-A PREROUTING -j X\n-A X -j Y\n-A Y -j MASQUERADE", "-A PREROUTING -p tcp -j X\n-A POSTROUTING -j X\n-A X -p tcp -j DNAT --to-destination 10.0.0.1",
  "-A PREROUTING -j X\n-A X -j MASQUERADE\n-D PREROUTING 1", "-A PREROUTING -j X\n-A X -j MASQUERADE\n-F PREROUTING",
  "-A PREROUTING -j Y\n-A X -j MASQUERADE\n-F Y\n-A Y -j X", "-A POSTROUTING -j Y\n-A Y -j X\n-A X -j MASQUERADE\n-E X Z",
  "-A PREROUTING -j X\n-A X -m owner --uid-owner 0 -j ACCEPT", "-A POSTROUTING -j X\n-A X -m owner --uid-owner 0 -j ACCEPT",
].map((lines) => `${NAT}${lines}\nCOMMIT\n`);

kdescribe("whole dumps: iptscope accepts what the kernel accepts, and prints it as iptables-save does", () => {
  for (const backend of ["nft", "legacy"] as const) {
    it(`${DUMPS.length + HOOK_DUMPS.length} dumps, ${backend}`, () => {
      const disagreements: { dump: string; kernel: string; iptscope: string }[] = [];
      for (const text of [...DUMPS, ...HOOK_DUMPS]) {
        const kernel = kernelRoundTrip(text, { family: "ipv4", backend });
        const { ruleset, diagnostics } = parseRuleset(text, { family: "ipv4", backend });
        // A policy on a user chain is a warning that says iptables-legacy refuses it.
        const refusedHere = (d: (typeof diagnostics)[number]) =>
          (d.kind === "backend-refuses" && d.details.backend === backend) || (d.kind === "policy-on-user-chain" && backend === "legacy");
        const refused = diagnostics.some((d) => d.severity === "error" || refusedHere(d));
        // A user chain declared twice is an error here (as the issue asks), though iptables-nft flushes it instead.
        if (kernel.ok === refused && !(text.includes(":X - [0:0]\n:X - [0:0]") && backend === "nft")) {
          disagreements.push({ dump: text, kernel: kernel.ok ? "accepted" : kernel.stderr.split("\n")[0]!, iptscope: refused ? "refused" : "accepted" });
        } else if (kernel.ok && !refused) {
          const printed = withoutRuleCounters(formatRuleset(ruleset, { canonical: true, backend }));
          const saved = withoutRuleCounters(kernel.saved);
          if (printed !== saved) disagreements.push({ dump: text, kernel: saved, iptscope: printed });
        }
      }
      expect(disagreements).toEqual([]);
    });
  }
});
