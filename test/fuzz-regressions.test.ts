// Cases the fuzzer found, each reduced to the smallest input that showed the fault, kept so the
// fault stays fixed. The property each one broke is named in its title.

import { describe, expect, it } from "vitest";
import { defaultContext } from "../src/analysis/trace/context.js";
import type { PacketSpec, TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import { formatRuleset, parseRuleset } from "../src/index.js";
import { checkHostileInput, checkNothingLost, checkTrace } from "./fuzz/properties.js";

const PACKET: PacketSpec = { src: "10.0.0.1", dst: "10.0.0.2", protocol: 6, sport: 40000, dport: 80 };

const mangle = (chains: string, rules: string) =>
  `*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${chains}${rules}COMMIT\n`;

function traced(dump: string, merge = true): { result: TraceResult; ms: number } {
  const { ruleset, diagnostics } = parseRuleset(dump);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const start = performance.now();
  const result = createTracer(ruleset, { merge }).trace(PACKET, defaultContext({ origin: "external" }));
  const ms = performance.now() - start;
  checkTrace(ruleset, result);
  return { result, ms };
}

describe("tracer", () => {
  it("ends a goto loop at the first chain entered again, even when a random match splits the walk on every pass (was: a hang)", () => {
    const { result, ms } = traced(
      mangle(":A - [0:0]\n", "-A FORWARD -j A\n-A A -m statistic --mode random --probability 0.5 -g A\n-A A -g A\n"),
    );
    expect(ms).toBeLessThan(5_000);
    expect(result.outcomes.map((o) => [o.verdict, o.error])).toEqual([["ERROR", "goto loop through A"]]);
    expect(result.outcomes[0]!.path.at(-1)).toMatchObject({ chain: "A", effect: { kind: "loop", chain: "A" } });
  });

  it("finds a goto loop through several chains and a jump", () => {
    const { result } = traced(mangle(":A - [0:0]\n:B - [0:0]\n:C - [0:0]\n", "-A FORWARD -j A\n-A A -g B\n-A B -j C\n-A C -g A\n"));
    expect(result.outcomes.map((o) => o.error)).toEqual(["goto loop through A"]);
  });

  it("calls one chain twice in a row without taking it for a loop", () => {
    const { result } = traced(mangle(":A - [0:0]\n:B - [0:0]\n", "-A FORWARD -g A\n-A FORWARD -j DROP\n-A A -j B\n-A A -g B\n-A B -j RETURN\n"));
    expect(result.outcomes.map((o) => o.verdict)).toEqual(["ACCEPT"]);
  });

  it("returns both halves of a split in a called chain to the rule after the call (was: the second half skipped it)", () => {
    const { result } = traced(
      mangle(
        ":A - [0:0]\n",
        "-A FORWARD -j A\n-A FORWARD -j MARK --set-xmark 0x1/0xffffffff\n-A FORWARD -j DROP\n-A A -m statistic --mode random --probability 0.5 -j RETURN\n",
      ),
      false,
    );
    expect(result.outcomes).toHaveLength(2);
    for (const outcome of result.outcomes) {
      expect(outcome.mark).toBe(1);
      expect(outcome.path.map((s) => `${s.chain}#${s.rule}`).slice(-2)).toEqual(["FORWARD#2", "FORWARD#3"]);
    }
  });

  it("bounds an exponentially long walk with random splits in time and memory: one ERROR outcome takes the rest (was: out of memory)", () => {
    const depth = 22;
    const chains = Array.from({ length: depth + 1 }, (_, i) => `:C${i} - [0:0]\n`).join("");
    const calls = Array.from({ length: depth }, (_, i) => `-A C${i} -j C${i + 1}\n-A C${i} -j C${i + 1}\n`).join("");
    const { result, ms } = traced(
      mangle(chains, `-A FORWARD -j C0\n${calls}-A C${depth} -m statistic --mode random --probability 0.5 -j MARK --set-xmark 0x1/0xffffffff\n`),
    );
    expect(ms).toBeLessThan(20_000);
    const errors = result.outcomes.filter((o) => o.verdict === "ERROR");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error).toMatch(/^walk longer than [\d,]+ steps/);
  });
});

describe("fmt --lenient", () => {
  it("closes a table whose COMMIT is missing, so that the rules the model kept load back (was: printed without COMMIT)", () => {
    const text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n";
    const lenient = parseRuleset(text, { lenient: true });
    expect(lenient.ruleset.tables[0]!.chains[0]!.rules).toHaveLength(1);
    expect(formatRuleset(lenient.ruleset)).toBe(`${text}COMMIT\n`);
    checkNothingLost(lenient);
  });
});

describe("--lenient says what it skipped, and only that (was: the COMMIT or the *table line listed, the rule kept)", () => {
  const HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";

  it("a jump to a chain that does not exist: its own line is skipped, and the rule is neither in the model nor printed", () => {
    const text = `${HEAD}-A INPUT -j NOPE\n-A INPUT -j ACCEPT\nCOMMIT\n`;
    const result = parseRuleset(text, { lenient: true });
    expect(result.skippedLines).toEqual([5]);
    expect(result.diagnostics.map((d) => [d.kind, d.line, d.severity])).toEqual([["jump-to-undeclared-chain", 5, "warning"]]);
    expect(result.ruleset.tables[0]!.chains[0]!.rules.map((r) => r.text)).toEqual(["-A INPUT -j ACCEPT"]);
    expect(formatRuleset(result.ruleset)).toBe(`${HEAD}-A INPUT -j ACCEPT\nCOMMIT\n`);
  });

  it("a missing COMMIT keeps the table and skips no line", () => {
    for (const text of [`${HEAD}-A INPUT -j ACCEPT\n`, `${HEAD}-A INPUT -j ACCEPT\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n`]) {
      const result = parseRuleset(text, { lenient: true });
      expect(result.skippedLines).toEqual([]);
      expect(result.diagnostics.map((d) => [d.kind, d.severity, d.message])).toEqual([
        ["missing-commit", "warning", "table 'filter' is not closed: expected COMMIT (kept as if committed)"],
      ]);
      checkNothingLost(result);
    }
  });

  it("a byte order mark is ignored, and line 1 is read", () => {
    const result = parseRuleset(`\uFEFF${HEAD}COMMIT\n`, { lenient: true });
    expect(result.skippedLines).toEqual([]);
    expect(result.diagnostics.map((d) => [d.kind, d.severity])).toEqual([["byte-order-mark", "warning"]]);
    expect(result.diagnostics[0]!.message).toMatch(/\(ignored\)$/);
    expect(result.ruleset.tables).toHaveLength(1);
  });

  it("a command that fails is skipped and not printed back (-D of a rule that is not there, -X of a chain in use)", () => {
    const text = `${HEAD}:A - [0:0]\n-A INPUT -j A\n-D INPUT 6\n-X A\n-A A -j DROP\nCOMMIT\n`;
    const result = parseRuleset(text, { lenient: true });
    expect(result.skippedLines).toEqual([7, 8]);
    expect(formatRuleset(result.ruleset)).toBe(`${HEAD}:A - [0:0]\n-A INPUT -j A\n-A A -j DROP\nCOMMIT\n`);
    checkNothingLost(result);
  });
});

describe("fmt prints what loads back", () => {
  it("declares a chain that a later -X deletes or -E renames (was: the declaration dropped, so -X failed on reload)", () => {
    const text = "*filter\n:INPUT ACCEPT [0:0]\n:TEMP - [0:0]\n:OLD - [0:0]\n-A TEMP -j RETURN\n-F TEMP\n-X TEMP\n-E OLD NEW\n-A NEW -j ACCEPT\nCOMMIT\n";
    const result = parseRuleset(text);
    // iptables-legacy loads it; iptables-nft refuses -E of a chain declared in the same input.
    expect(result.diagnostics.map((d) => [d.kind, d.line, d.severity])).toEqual([["backend-refuses", 8, "warning"]]);
    expect(formatRuleset(result.ruleset)).toBe(text);
    checkNothingLost(result);
  });

  it("quotes a module kept verbatim whose name has a space (was: printed bare, two arguments on reload)", () => {
    const text = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m "odd name" -j ACCEPT\nCOMMIT\n';
    const result = parseRuleset(text, { lenient: true });
    expect(formatRuleset(result.ruleset, { canonical: true })).toContain('-A INPUT -m "odd name" -j ACCEPT');
    checkNothingLost(result);
  });

  it("drops CRs at the end of a comment (was: printed, they made a CRLF line that the reload refused)", () => {
    const text = "# Generated by iptables-save\r\r\n*filter\r\n:INPUT ACCEPT [0:0]\r\nCOMMIT\r\n";
    const result = parseRuleset(text, { lenient: true });
    expect(formatRuleset(result.ruleset)).toBe("# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
    checkNothingLost(result);
  });
});

describe("words iptables refuses are refused (was: silently dropped)", () => {
  const HEAD = "*filter\n:INPUT ACCEPT [0:0]\n";

  it("a stray word after an option's arguments is an error at that word, not part of the option", () => {
    for (const [rule, column] of [["-A INPUT -p tcp --dport 80 x -j ACCEPT", 28], ['-A INPUT -m comment --comment "abc"x -j ACCEPT', 36], ["-A INPUT -m mark --mark 1 x y -j ACCEPT", 27]] as const) {
      const { diagnostics } = parseRuleset(`${HEAD}${rule}\nCOMMIT\n`);
      expect(diagnostics.map((d) => [d.kind, d.line, d.column]), rule).toEqual([["syntax", 3, column]]);
      expect(diagnostics[0]!.message).toBe("unexpected value 'x'");
    }
  });

  it("a chain name with white space or a leading '-' or '!' (-N, -E)", () => {
    for (const command of ['-N "a b"', '-N "!x"', '-N "-x"', ':A - [0:0]\n-E A "b c"']) {
      const { diagnostics } = parseRuleset(`${HEAD}${command}\nCOMMIT\n`);
      expect(diagnostics.map((d) => d.kind), command).toEqual(["bad-value"]);
      expect(diagnostics[0]!.message).toMatch(/^bad value '.+' for -[NE]: expected a chain name /);
    }
  });
});

describe("-X without a name (was: deleted chains still jumped to, so a rule was lost at COMMIT and -D N before it moved)", () => {
  const HEAD = "*filter\n:INPUT ACCEPT [0:0]\n-N A\n-N B\n";

  it("fails, deleting nothing, when a user chain has rules or is jumped to", () => {
    for (const [rules, kind] of [["-A INPUT -j A\n", "chain-in-use"], ["-A A -j ACCEPT\n", "chain-not-empty"]] as const) {
      const strict = parseRuleset(`${HEAD}${rules}-X\nCOMMIT\n`);
      expect(strict.diagnostics.map((d) => [d.kind, d.line])).toEqual([[kind, 6]]);
      const lenient = parseRuleset(`${HEAD}${rules}-X\nCOMMIT\n`, { lenient: true });
      expect(lenient.skippedLines).toEqual([6]);
      expect(lenient.ruleset.tables[0]!.chains.map((c) => c.name)).toEqual(["INPUT", "FORWARD", "OUTPUT", "A", "B"]);
      checkNothingLost(lenient);
    }
  });

  it("deletes every user chain when all are empty and none is jumped to", () => {
    const { ruleset, diagnostics } = parseRuleset(`${HEAD}-X\nCOMMIT\n`);
    expect(diagnostics).toEqual([]);
    expect(ruleset.tables[0]!.chains.map((c) => c.name)).toEqual(["INPUT", "FORWARD", "OUTPUT"]);
  });
});

describe("-c counters as iptables reads them (was: kept as written, printed as invalid [p:b])", () => {
  it("leading digits count, the rest is ignored; no digits is an error", () => {
    const { ruleset, diagnostics } = parseRuleset("*filter\n:INPUT ACCEPT [0:0]\n-c 1x 20y -A INPUT -j ACCEPT\n-c +7 010 -A INPUT -j ACCEPT\nCOMMIT\n");
    expect(diagnostics).toEqual([]);
    expect(ruleset.tables[0]!.chains[0]!.rules.map((r) => r.counters)).toEqual([{ packets: "1", bytes: "20" }, { packets: "7", bytes: "10" }]);
    const bad = parseRuleset("*filter\n:INPUT ACCEPT [0:0]\n-c 3 x -A INPUT -j ACCEPT\nCOMMIT\n");
    expect(bad.diagnostics.map((d) => [d.kind, d.line, d.column, d.message])).toEqual([["bad-value", 3, 6, "bad value 'x' for -c: expected a byte count (a number)"]]);
  });
});

describe("a CR inside the last argument", () => {
  it("is quoted by fmt, so that it does not read back as a CRLF line end", () => {
    const text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NFLOG --nflog-prefix drop\r\r\nCOMMIT\n";
    const result = parseRuleset(text, { lenient: true });
    expect(formatRuleset(result.ruleset).split("\n")[2]).toBe('-A INPUT -j NFLOG --nflog-prefix "drop\r"');
    checkNothingLost(result);
  });
});

describe("a whole case through every analysis", () => {
  it("a kube-proxy dump cut in the middle of a jump", () => {
    const text =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-";
    expect(() => checkHostileInput({ text }, 10_000)).not.toThrow();
  });
});
