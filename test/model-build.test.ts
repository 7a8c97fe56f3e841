// The builder shares one frozen object between rules for equal values: nothing may change
// them, and equal values on different rules are the same object.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findJumpLoops, parseRuleset, type Rule } from "../src/index.js";
import { samplesDir } from "./support/files.js";
import { generateKubeProxyDump } from "./support/kubegen.js";

const rulesOf = (text: string): Rule[] =>
  parseRuleset(text).ruleset.tables.flatMap((table) => table.chains.flatMap((chain) => chain.rules));

describe("shared model objects", () => {
  const rules = rulesOf(generateKubeProxyDump({ services: 30, endpointsPerService: [1, 3], seed: 5, generation: "new", order: "canonical", family: "ipv4" }));

  it("equal protocols, options and matches are one frozen object", () => {
    const tcp = rules.filter((r) => r.protocol?.value.name === "tcp" && !r.protocol.negated);
    expect(tcp.length).toBeGreaterThan(10);
    expect(new Set(tcp.map((r) => r.protocol)).size).toBe(1);
    expect(Object.isFrozen(tcp[0]!.protocol)).toBe(true);
    expect(Object.isFrozen(tcp[0]!.protocol!.value)).toBe(true);

    const masquerading = rules.filter((r) => r.chain === "KUBE-POSTROUTING" && r.matches.some((m) => m.name === "mark"));
    const marks = masquerading.flatMap((r) => r.matches.filter((m) => m.name === "mark"));
    expect(marks.length).toBeGreaterThan(0);
    for (const match of rules.flatMap((r) => r.matches)) {
      expect(Object.isFrozen(match)).toBe(true);
      expect(Object.isFrozen(match.options)).toBe(true);
      for (const option of match.options) expect(Object.isFrozen(option) && Object.isFrozen(option.value)).toBe(true);
    }
    const statistic = rules.flatMap((r) => r.matches).filter((m) => m.name === "statistic");
    const modes = new Set(statistic.map((m) => m.options.find((o) => o.name === "mode")?.value));
    expect(statistic.length).toBeGreaterThan(modes.size);
  });

  it("refuses changes instead of changing every rule that holds the object", () => {
    const match = rules.flatMap((r) => r.matches).find((m) => m.options.length > 0)!;
    expect(() => {
      (match.options as unknown as { push(x: unknown): void }).push({});
    }).toThrow(TypeError);
    const option = rules.flatMap((r) => r.matches).flatMap((m) => m.options)[0]!;
    expect(() => {
      (option as { negated: boolean }).negated = !option.negated;
    }).toThrow(TypeError);
  });

  it("rules themselves stay separate objects", () => {
    const sample = readFileSync(join(samplesDir, "kubeadm-flannel.txt"), "utf8");
    const all = rulesOf(sample);
    expect(new Set(all).size).toBe(all.length);
    expect(Object.isFrozen(all[0])).toBe(false);
  });
});

describe("an option missing its argument", () => {
  const head = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  for (const [what, rule] of [
    ["--dport", "-A INPUT -p tcp --dport"],
    ["--comment", "-A INPUT -m comment --comment"],
    ["--to-destination", "-A INPUT -p tcp -j DNAT --to-destination"],
  ] as const) {
    it(`${what} at the end of the line is a located syntax error, not an exception`, () => {
      const { diagnostics } = parseRuleset(`${head}${rule}\nCOMMIT\n`);
      expect(diagnostics.map((d) => [d.kind, d.line, d.column, d.message])).toContainEqual([
        "syntax", 5, rule.length + 1, "unexpected end of line: expected a value",
      ]);
    });
  }
});

describe("-D and -R with a position that is not a number", () => {
  const head = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n";
  for (const command of ["-D INPUT x", "-R INPUT x -j DROP"]) {
    it(`${command}: no rule is found, and the chain keeps its rule`, () => {
      const { ruleset, diagnostics } = parseRuleset(`${head}${command}\nCOMMIT\n`);
      expect(diagnostics.map((d) => [d.kind, d.line])).toEqual([["rule-not-found", 6]]);
      const input = ruleset.tables[0]!.chains.find((c) => c.name === "INPUT")!;
      expect(input.rules.map((r) => [r.line, r.position, r.target?.name])).toEqual([[5, 1, "ACCEPT"]]);
    });
  }

  it("rules moved by -I and -D are numbered as the chain lists them", () => {
    const { ruleset } = parseRuleset(`${head}-A INPUT -j DROP\n-I INPUT 2 -j RETURN\n-D INPUT 1\nCOMMIT\n`);
    const input = ruleset.tables[0]!.chains.find((c) => c.name === "INPUT")!;
    expect(input.rules.map((r) => [r.target?.name, r.position])).toEqual([["RETURN", 1], ["DROP", 2]]);
    const removed = ruleset.tables[0]!.statements.find((s) => s.kind === "rule" && s.line === 5);
    expect(removed).toMatchObject({ position: 0 });
  });
});

describe("checks the builder skips for lines of a shape that passed them", () => {
  const errorsOf = (text: string) => parseRuleset(text).diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.kind}`);

  it("still runs them when the same words name a user chain in one table and a target in another", () => {
    const chainFirst = ["*nat", ":PREROUTING ACCEPT [0:0]", ":MARK - [0:0]", "-A PREROUTING -j MARK", "COMMIT",
      "*mangle", ":PREROUTING ACCEPT [0:0]", "-A PREROUTING -j MARK", "COMMIT", ""].join("\n");
    expect(errorsOf(chainFirst)).toEqual(["8:missing-option"]);
    const targetFirst = ["*mangle", ":PREROUTING ACCEPT [0:0]", "-A PREROUTING -j MARK", "COMMIT",
      "*nat", ":PREROUTING ACCEPT [0:0]", ":MARK - [0:0]", "-A PREROUTING -j MARK", "COMMIT", ""].join("\n");
    expect(errorsOf(targetFirst)).toEqual(["3:missing-option"]);
  });

  it("reports every line of a shape that fails them, and lines after one that failed for another reason", () => {
    const text = ["*filter", ":INPUT ACCEPT [0:0]",
      "-A INPUT -m mark --mark 0x1 -j ACCEPT",
      "-A INPUT -m tcp --dport 80 -j ACCEPT",
      "-A INPUT -m tcp --dport 81 -j ACCEPT",
      "-A INPUT -p tcp -m tcp --dport 82 -m connmark -j ACCEPT",
      "-A INPUT -p tcp -m tcp --dport 83 -m connmark -j ACCEPT",
      "-A INPUT -p tcp -m tcp --dport x -j ACCEPT",
      "-A INPUT -p tcp -m tcp --dport 84 -j ACCEPT",
      "-A INPUT -p udp -m tcp --dport 85 -j ACCEPT",
      "COMMIT", ""].join("\n");
    expect(errorsOf(text)).toEqual(["4:option-needs-protocol", "5:option-needs-protocol", "6:missing-option", "7:missing-option", "8:bad-value", "10:option-needs-protocol"]);
  });
});

describe("extensions allowed in some hooks only, checked through jumps at COMMIT", () => {
  const deep = (from: "PREROUTING" | "POSTROUTING", depth: number): string => {
    const names = Array.from({ length: depth }, (_, i) => `C${i}`);
    const lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", ...names.map((n) => `:${n} - [0:0]`), `-A ${from} -j C0`];
    for (let i = 0; i + 1 < depth; i++) lines.push(`-A C${i} -j C${i + 1}`);
    lines.push(`-A C${depth - 1} -j MASQUERADE`, "COMMIT", "");
    return lines.join("\n");
  };
  const errors = (text: string) => parseRuleset(text).diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.kind}`);

  it("follows a call chain thousands deep without recursion", () => {
    expect(errors(deep("PREROUTING", 20000))).toEqual([`${20000 + 4 + 20000}:extension-wrong-chain`]);
    expect(errors(deep("POSTROUTING", 20000))).toEqual([]);
  });

  it("reaches a chain through a loop's other callers, and ends", () => {
    const text = ["*nat", ":PREROUTING ACCEPT [0:0]", ":A - [0:0]", ":B - [0:0]", "-A PREROUTING -j A", "-A A -j B", "-A B -j A", "-A B -j MASQUERADE", "COMMIT", ""].join("\n");
    expect(errors(text)).toEqual(["8:extension-wrong-chain"]);
  });

  it("finds the callers again after chain commands", () => {
    const flushed = ["*nat", ":PREROUTING ACCEPT [0:0]", ":X - [0:0]", "-A PREROUTING -j X", "-A X -j MASQUERADE", "-F PREROUTING", "COMMIT", ""].join("\n");
    expect(errors(flushed)).toEqual([]);
    const added = ["*nat", ":PREROUTING ACCEPT [0:0]", ":X - [0:0]", ":Y - [0:0]", "-A X -j MASQUERADE", "-F Y", "-A Y -j X", "-A PREROUTING -j Y", "COMMIT", ""].join("\n");
    expect(errors(added)).toEqual(["5:extension-wrong-chain"]);
  });
});

describe("iptables-legacy's walk turns back at an unconditional verdict: no hook check, and no loop, past it", () => {
  const reported = (table: string, lines: string[], family: "ipv4" | "ipv6" = "ipv4") =>
    (["nft", "legacy"] as const).map((backend) => {
      const { ruleset, diagnostics } = parseRuleset([`*${table}`, ...lines, "COMMIT", ""].join("\n"), { family, backend });
      const all = [...diagnostics, ...findJumpLoops(ruleset, undefined, true)];
      return all.map((d) => `${d.line}:${d.kind}${d.kind === "backend-refuses" ? `:${d.details.backend}` : ""}`).join(" ");
    });
  const nftOnly = (line: number) => [`${line}:backend-refuses:nft`, `${line}:backend-refuses:nft`];
  const masquerade = (before: string, family?: "ipv4" | "ipv6") => reported("nat", ["-A OUTPUT -j MASQUERADE", `-I OUTPUT 1 ${before}`], family);

  it("a verdict with no match and only the 'any' forms of -s, -d and (IPv4) -p hides the rules after it", () => {
    expect(masquerade("-j RETURN")).toEqual(nftOnly(2));
    expect(masquerade("-s 1.2.3.4/0 -d 0/0 -p all -j ACCEPT")).toEqual(nftOnly(2));
    expect(masquerade("-j QUEUE")).toEqual(nftOnly(2));
    expect(masquerade("-s ::/0 -j RETURN", "ipv6")).toEqual(nftOnly(2));
  });

  it("a match, an interface (even +), -f, a negation, ip6tables' -p, or no verdict: the rules after it are checked", () => {
    const refused = ["2:extension-wrong-chain", "2:extension-wrong-chain"];
    for (const before of ["-p tcp -j RETURN", "-o + -j RETURN", "-m comment --comment x -j RETURN", "! -s 0.0.0.0/0 -j RETURN", "-f -j RETURN", "-j LOG", ""]) {
      expect(masquerade(before)).toEqual(refused);
    }
    expect(masquerade("-p all -j RETURN", "ipv6")).toEqual(refused);
  });

  it("in user chains too, and for every hook that reaches a chain past it", () => {
    expect(reported("nat", [":U - [0:0]", "-A OUTPUT -j U", "-A U -j RETURN", "-A U -j MASQUERADE"])).toEqual(nftOnly(5));
    expect(reported("nat", [":U - [0:0]", "-A OUTPUT -j ACCEPT", "-A OUTPUT -j U", "-A POSTROUTING -j U", "-A U -j MASQUERADE"])).toEqual(nftOnly(6));
    expect(reported("nat", [":U - [0:0]", "-A OUTPUT -j U", "-A U -j MASQUERADE", "-A U -j RETURN"])).toEqual(["4:extension-wrong-chain", "4:extension-wrong-chain"]);
  });

  it("looks again after chain commands", () => {
    expect(reported("nat", ["-A OUTPUT -j MASQUERADE", "-I OUTPUT 1 -j RETURN", "-D OUTPUT 1"])).toEqual(["2:extension-wrong-chain", "2:extension-wrong-chain"]);
    // (iptables-nft-restore crashes at the -R as well.)
    const replaced = reported("nat", ["-A OUTPUT -p tcp -j RETURN", "-A OUTPUT -j MASQUERADE", "-R OUTPUT 1 -j RETURN"]);
    expect(replaced).toEqual(["3:backend-refuses:nft 4:backend-refuses:nft", "3:backend-refuses:nft 4:backend-refuses:nft"]);
  });

  it("a loop met only past one is iptables-nft's alone; findJumpLoops without a backend counts every jump", () => {
    const behindAccept = [":U3 - [0:0]", "-A INPUT -j U3", "-A U3 -g U3", "-I INPUT 1 -j ACCEPT"];
    expect(reported("filter", behindAccept)).toEqual(nftOnly(4));
    expect(reported("filter", [":U3 - [0:0]", "-A INPUT -j U3", "-A U3 -j RETURN", "-A U3 -g U3"])).toEqual(nftOnly(5));
    expect(reported("filter", [":U - [0:0]", ":V - [0:0]", "-A INPUT -j U", "-A U -j V", "-A V -j DROP", "-A V -j U"], "ipv6")).toEqual(nftOnly(7));
    expect(reported("filter", [":U3 - [0:0]", "-A INPUT -j U3", "-A U3 -g U3", "-I INPUT 1 -p tcp -j ACCEPT"])).toEqual(["4:jump-loop", "4:jump-loop"]);
    const { ruleset } = parseRuleset(["*filter", ...behindAccept, "COMMIT", ""].join("\n"));
    expect(findJumpLoops(ruleset).map((d) => d.kind)).toEqual(["jump-loop"]);
  });
});

describe("commands each backend applies its own way", () => {
  const parsed = (lines: string[], backend: "nft" | "legacy") => parseRuleset([...lines, ""].join("\n"), { family: "ipv4", backend });
  const differs = (lines: string[]) =>
    parsed(lines, "nft").diagnostics.filter((d) => d.kind === "backend-differs").map((d) => `${d.line}:${d.column}:${d.severity}`);
  const chain = (lines: string[], backend: "nft" | "legacy", name: string) =>
    parsed(lines, backend).ruleset.tables[0]!.chains.find((c) => c.name === name)!;

  it("-F without a chain: nft flushes nothing, legacy every chain, and a warning says so", () => {
    const lines = ["*filter", ":INPUT DROP [3:4]", "-A INPUT -j ACCEPT", "-F", "COMMIT"];
    expect(chain(lines, "nft", "INPUT").rules).toHaveLength(1);
    expect(chain(lines, "legacy", "INPUT").rules).toHaveLength(0);
    expect(differs(lines)).toEqual(["4:1:warning"]);
  });

  it("-Z: nft sets a built-in chain back to ACCEPT without counters, legacy leaves it", () => {
    const lines = ["*filter", ":INPUT DROP [3:4]", "-Z INPUT", "COMMIT"];
    expect(chain(lines, "nft", "INPUT")).toMatchObject({ policy: "ACCEPT", counters: { packets: "0", bytes: "0" } });
    expect(chain(lines, "legacy", "INPUT")).toMatchObject({ policy: "DROP", counters: { packets: "3", bytes: "4" } });
    expect(differs(lines)).toEqual(["3:4:warning"]);
  });

  it("a built-in chain declared with '-' keeps its policy", () => {
    const lines = ["*filter", ":INPUT DROP [1:2]", ":INPUT - [7:8]", "COMMIT"];
    expect(chain(lines, "nft", "INPUT")).toMatchObject({ policy: "DROP", counters: { packets: "7", bytes: "8" } });
    expect(chain(lines, "legacy", "INPUT")).toMatchObject({ policy: "DROP", counters: { packets: "1", bytes: "2" } });
  });

  it("a table no line made anything in is marked, and -P DROP in nat is refused where it is written", () => {
    expect(parsed(["*filter", "-X", "COMMIT"], "nft").ruleset.tables[0]!.nothingMade).toBe(true);
    expect(parsed(["*filter", "-N U", "-X", "COMMIT"], "nft").ruleset.tables[0]!.nothingMade).toBeUndefined();
    const refused = parsed(["*nat", "-P PREROUTING DROP", "COMMIT"], "nft").diagnostics.filter((d) => d.severity === "error");
    expect(refused.map((d) => `${d.line}:${d.column}:${d.kind}`)).toEqual(["2:15:nat-filtering"]);
  });

  describe("-X without a chain on a built-in chain with rules: nft keeps it in the kernel but no longer sees it", () => {
    const filter = (lines: string[]) => ["*filter", ":OUTPUT DROP [5:6]", "-A OUTPUT -j ACCEPT", "-X", ...lines, "COMMIT"];
    const shown = (lines: string[], backend: "nft" | "legacy") => {
      const c = chain(filter(lines), backend, "OUTPUT");
      return `${c.policy} [${c.counters.packets}:${c.counters.bytes}] ${c.rules.map((r) => r.target?.name ?? "-").join(",")}`;
    };
    const reported = (lines: string[], backend: "nft" | "legacy" = "nft") =>
      parsed(filter(lines), backend).diagnostics.map((d) => `${d.line}:${d.kind}${d.kind === "backend-refuses" ? `:${d.details.backend}` : ""}`);

    it("keeps policy, counters and rules until a line names it; then nft sets the policy to ACCEPT and keeps the counters", () => {
      expect(shown([], "nft")).toBe("DROP [5:6] ACCEPT");
      expect(shown(["-F OUTPUT"], "nft")).toBe("ACCEPT [5:6] ");
      expect(shown(["-F OUTPUT"], "legacy")).toBe("DROP [5:6] ");
      expect(shown(["-A OUTPUT -j DROP"], "nft")).toBe("ACCEPT [5:6] ACCEPT,DROP");
      expect(shown([":OUTPUT - [7:8]"], "nft")).toBe("ACCEPT [7:8] ACCEPT");
      expect(shown(["-P OUTPUT DROP"], "nft")).toBe("DROP [0:0] ACCEPT");
      expect(reported(["-F OUTPUT"])).toEqual(["5:backend-differs"]);
      expect(reported(["-P OUTPUT DROP"])).toEqual([]);
      // -Z zeroes what nft sees: not this chain, nor, once made again, its rules from before the -X.
      expect(shown(["-Z", "-A OUTPUT"], "nft")).toBe("ACCEPT [5:6] ACCEPT,-");
    });

    it("-D, -I and -Z count only the rules added since in nft", () => {
      expect(reported(["-D OUTPUT 1"])).toEqual(["5:backend-refuses:nft"]);
      expect(reported(["-D OUTPUT -j ACCEPT"], "legacy")).toEqual(["5:backend-refuses:nft"]);
      expect(reported(["-Z OUTPUT"])).toContain("5:backend-refuses:nft");
      expect(reported(["-I OUTPUT 2 -j DROP"])).toEqual(["5:backend-differs", "5:backend-refuses:nft"]);
      expect(shown(["-A OUTPUT -j DROP", "-D OUTPUT 1"], "nft")).toBe("ACCEPT [5:6] ACCEPT");
      expect(shown(["-A OUTPUT -j DROP", "-D OUTPUT 1"], "legacy")).toBe("DROP [5:6] DROP");
      // -I 1 goes to the head of the kernel's chain; one past the rules nft sees, to its end.
      expect(shown(["-A OUTPUT -j DROP", "-I OUTPUT 1 -j RETURN"], "nft")).toBe("ACCEPT [5:6] RETURN,ACCEPT,DROP");
      expect(shown(["-A OUTPUT -j DROP", "-I OUTPUT 2 -j RETURN"], "nft")).toBe("ACCEPT [5:6] ACCEPT,DROP,RETURN");
      expect(shown(["-A OUTPUT -j DROP", "-I OUTPUT 2 -j RETURN"], "legacy")).toBe("DROP [5:6] ACCEPT,RETURN,DROP");
    });

    it("a second -X that sees none of its rules deletes it: the kernel refuses that unless a later -F took them out", () => {
      expect(reported(["-P OUTPUT DROP", "-X"])).toEqual(["6:backend-differs", "6:backend-refuses:nft"]);
      expect(reported(["-P OUTPUT DROP", "-X", "-F OUTPUT"])).toEqual(["6:backend-differs"]);
      expect(shown(["-P OUTPUT DROP", "-X", "-F OUTPUT"], "nft")).toBe("ACCEPT [0:0] ");
      expect(shown(["-A OUTPUT -j DROP", "-X", "-A OUTPUT -j RETURN"], "nft")).toBe("ACCEPT [5:6] ACCEPT,DROP,RETURN");
    });
  });

  describe("-D of a rule an -I was put before: iptables-nft's -I names it by an id the -D changes", () => {
    const filter = (lines: string[]) => ["*filter", "-A OUTPUT -j ACCEPT", "-A OUTPUT -j DROP", ...lines, "COMMIT"];
    const reported = (lines: string[], backend: "nft" | "legacy" = "nft") =>
      parsed(filter(lines), backend).diagnostics.map((d) => `${d.line}:${d.column}:${d.kind}${d.kind === "backend-refuses" ? `:${d.details.backend}` : ""}`);
    const shown = (lines: string[], backend: "nft" | "legacy") => chain(filter(lines), backend, "OUTPUT").rules.map((r) => r.target?.name).join(",");

    it("is refused by nft at the -I's line, whatever deletes the rule and whether -Z ran", () => {
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3"])).toEqual(["4:11:backend-refuses:nft"]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT -j DROP"])).toEqual(["4:11:backend-refuses:nft"]);
      expect(reported(["-Z", "-I OUTPUT 2 -j RETURN", "-D OUTPUT 3"])).toEqual(["5:11:backend-refuses:nft"]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3"], "legacy")).toEqual(["4:11:backend-refuses:nft"]);
      expect(shown(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3"], "legacy")).toBe("ACCEPT,RETURN");
      // The rule goes by what it is, not where: an -I 1 since moved it; the -I's own rule deleted first is no help.
      expect(reported(["-I OUTPUT 2 -j RETURN", "-I OUTPUT 1 -j LOG", "-D OUTPUT 4"])).toEqual(["4:11:backend-refuses:nft"]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 2", "-D OUTPUT 2"])).toEqual(["4:11:backend-refuses:nft"]);
      // An -I before a rule an -I added.
      expect(reported(["-I OUTPUT 2 -j RETURN", "-I OUTPUT 2 -j LOG", "-D OUTPUT -j RETURN"])).toEqual(["5:11:backend-refuses:nft"]);
    });

    it("needs an -I that names a rule: not -I 1, not one past the end, and not the -I's own rule", () => {
      expect(reported(["-I OUTPUT 1 -j RETURN", "-D OUTPUT 2"])).toEqual([]);
      expect(reported(["-I OUTPUT -j RETURN", "-D OUTPUT 2"])).toEqual([]);
      expect(reported(["-I OUTPUT 3 -j RETURN", "-D OUTPUT 2"])).toEqual([]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 2"])).toEqual([]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-I OUTPUT 3 -j LOG", "-D OUTPUT 2"])).toEqual([]);
      expect(shown(["-I OUTPUT 2 -j RETURN", "-I OUTPUT 3 -j LOG", "-D OUTPUT 2"], "nft")).toBe("ACCEPT,LOG,DROP");
    });

    it("a later -F of the chain takes both out of the batch; of another chain, or a `:` line, does not", () => {
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3", "-F OUTPUT"])).toEqual([]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3", "-F INPUT"])).toEqual(["4:11:backend-refuses:nft"]);
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3", "-F"])).toContain("4:11:backend-refuses:nft");
      expect(reported(["-I OUTPUT 2 -j RETURN", "-D OUTPUT 3", ":OUTPUT DROP [0:0]"])).toContain("4:11:backend-refuses:nft");
      expect(reported(["-I OUTPUT 2 -j RETURN", "-F OUTPUT", "-A OUTPUT -j DROP", "-D OUTPUT 1"])).toEqual([]);
    });
  });

  describe("-X of a chain with rules or jumped to: judged at COMMIT, after later -F's took rules out of nft's batch", () => {
    const outcome = (lines: string[], backend: "nft" | "legacy" = "nft") =>
      parsed(["*filter", ":U - [0:0]", ":V - [0:0]", ...lines, "COMMIT"], backend).diagnostics.map((d) => `${d.line}:${d.kind}:${d.severity}`);
    const chains = (lines: string[]) =>
      parsed(["*filter", ":U - [0:0]", ":V - [0:0]", ...lines, "COMMIT"], "nft").ruleset.tables[0]!.chains.map((c) => `${c.name}:${c.rules.length}`);

    it("passes in nft when a later -F of the chain holding the rules drops them, with a warning that legacy refuses it", () => {
      for (const backend of ["nft", "legacy"] as const) {
        expect(outcome(["-A U -j ACCEPT", "-X U", "-N U", "-F U"], backend)).toEqual(["5:backend-refuses:warning"]);
        expect(outcome(["-A V -j U", "-X U", "-F V"], backend)).toEqual(["5:backend-refuses:warning"]);
        expect(outcome(["-A U -j V", "-X", "-N U", "-F U"], backend)).toEqual(["5:backend-refuses:warning"]);
        expect(outcome(["-A INPUT -j U", "-X U", "-F INPUT"], backend)).toEqual(["5:backend-refuses:warning"]);
      }
      expect(chains(["-A U -j ACCEPT", "-X U", "-N U", "-F U", "-A U -j DROP"])).toEqual(["INPUT:0", "FORWARD:0", "OUTPUT:0", "V:0", "U:1"]);
      expect(chains(["-A V -j U", "-X U", "-F V"])).toEqual(["INPUT:0", "FORWARD:0", "OUTPUT:0", "V:0"]);
    });

    it("fails at the -X line when a rule that held the chain is still in the batch", () => {
      expect(outcome(["-A U -j ACCEPT", "-X U", "-N U"])).toEqual(["5:chain-not-empty:error"]);
      expect(outcome(["-A U -j ACCEPT", "-X U", "-N U", "-A U -j DROP"])).toEqual(["5:chain-not-empty:error"]);
      // -D adds a deletion to the batch, after the -X; -F without a chain flushes nothing in nft.
      expect(outcome(["-A V -j U", "-X U", "-D V 1"])).toEqual(["5:chain-in-use:error"]);
      expect(outcome(["-A U -j ACCEPT", "-X U", "-N U", "-F"])).toEqual(["5:chain-not-empty:error"]);
      // A -F in the next COMMIT is another batch.
      const later = parsed(["*filter", ":U - [0:0]", "-A U -j ACCEPT", "-X U", "COMMIT", "*nat", "-N U", "-F U", "COMMIT"], "nft");
      expect(later.diagnostics.map((d) => `${d.line}:${d.kind}`)).toEqual(["4:chain-not-empty"]);
    });

    it("--lenient judges the -X at its line and skips it, keeping the chain", () => {
      const text = "*filter\n:U - [0:0]\n-A U -j ACCEPT\n-X U\n-A U -j DROP\nCOMMIT\n";
      const { ruleset, skippedLines } = parseRuleset(text, { lenient: true });
      expect(skippedLines).toEqual([4]);
      expect(ruleset.tables[0]!.chains.find((c) => c.name === "U")!.rules).toHaveLength(2);
    });
  });
});
