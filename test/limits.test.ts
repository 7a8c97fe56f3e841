// iptables' limits and iptscope's: each ends with a result or a located diagnostic, never a crash, a stack
// overflow or running out of memory. Lines and arguments over iptables' sizes, 10,000-deep chains of jumps
// and gotos, jump loops (with their cycle), 100,000 chains, a 1,000,000-line dump in bounded memory.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findJumpLoops } from "../src/analysis/rule-graph.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import type { TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import { ExitCode } from "../src/cli/exit-codes.js";
import { diffRulesets, formatRuleset, parseRuleset, renderGraph, resolveServices, type ParseResult, type Ruleset } from "../src/index.js";
import { checkTrace } from "./fuzz/properties.js";
import { runInProcess } from "./support/commands.js";
import { repoRoot } from "./support/files.js";
import { deepChainDump, loopDump, manyChainsDump, manyLinesDump } from "./support/limit-dumps.js";

const work = mkdtempSync(join(tmpdir(), "iptscope-limits-"));
const HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
const bytes = (s: string) => Buffer.byteLength(s, "utf8");

/** `-A INPUT` with comments (at most 255 bytes each, as the comment match allows) up to exactly `size` bytes. */
function ruleOfBytes(size: number, filler = "x"): string {
  let line = "-A INPUT";
  const tail = " -j ACCEPT";
  const piece = (n: number) => ` -m comment --comment ${filler.repeat(n)}`;
  while (bytes(line) + bytes(piece(200)) * 2 + bytes(tail) <= size) line += piece(200);
  const left = size - bytes(line) - bytes(tail) - bytes(piece(0));
  const per = bytes(filler);
  const whole = Math.floor(left / per);
  line += piece(whole) + "y".repeat(left - whole * per) + tail;
  return line;
}

const errors = (r: ParseResult) => r.diagnostics.filter((d) => d.severity === "error");

describe("lines and arguments at iptables' sizes", () => {
  it("a line of 10,239 bytes loads; one of 10,240 bytes is line-too-long, located at that line", () => {
    const fits = ruleOfBytes(10_239);
    expect(bytes(fits)).toBe(10_239);
    expect(errors(parseRuleset(`${HEAD}${fits}\nCOMMIT\n`))).toEqual([]);
    const over = ruleOfBytes(10_240);
    const result = parseRuleset(`${HEAD}${over}\nCOMMIT\n`);
    expect(errors(result).map((d) => [d.kind, d.line])).toEqual([["line-too-long", 5]]);
    expect(errors(result)[0]!.message).toBe("line is 10240 bytes; iptables-restore reads at most 10239 bytes per line");
  });

  it("counts bytes, not characters: 3,500 three-byte characters are over the limit", () => {
    const line = ruleOfBytes(10_500, "€");
    expect(line.length).toBeLessThan(10_239);
    expect(errors(parseRuleset(`${HEAD}${line}\nCOMMIT\n`)).map((d) => d.kind)).toEqual(["line-too-long"]);
  });

  it("an argument of 1,023 bytes is read (the comment match then refuses it); 1,024 bytes is token-too-long at its column", () => {
    const rule = (n: number, quoted: boolean) => `-A INPUT -m comment --comment ${quoted ? `"${"x".repeat(n)}"` : "x".repeat(n)} -j ACCEPT`;
    for (const quoted of [false, true]) {
      const fits = parseRuleset(`${HEAD}${rule(1_023, quoted)}\nCOMMIT\n`);
      expect(errors(fits).map((d) => d.kind)).not.toContain("token-too-long");
      const over = parseRuleset(`${HEAD}${rule(1_024, quoted)}\nCOMMIT\n`);
      expect(errors(over).map((d) => [d.kind, d.line, d.column])).toEqual([["token-too-long", 5, 31]]);
      expect(errors(over)[0]!.message).toMatch(/^argument is 1024 bytes; iptables-restore accepts at most 1023/);
    }
  });

  it("--lenient skips the over-long line and the over-long argument, lists them at the end, and keeps the rest", async () => {
    const lines = [HEAD.trimEnd(), "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", ruleOfBytes(20_000), "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT",
      `-A INPUT -m comment --comment ${"z".repeat(2_000)} -j DROP`, "-A INPUT -p udp -j DROP", "COMMIT"];
    const file = join(work, "long-lines.txt");
    writeFileSync(file, lines.join("\n") + "\n");
    const run = await runInProcess("fmt", file, true);
    expect(run.status).toBe(ExitCode.ok);
    expect(run.stdout.split("\n").filter((l) => l.startsWith("-A"))).toEqual([lines[1], lines[3], lines[5]]);
    expect(run.stderr).toContain(`${file}:6:`);
    expect(run.stderr).toContain("warning: line is 20000 bytes");
    expect(run.stderr).toContain(`${file}:8:31: warning: argument is 2000 bytes`);
    expect(run.stderr.trimEnd().split("\n").at(-1)).toBe(`iptscope: ${file}: skipped 2 line(s) (--lenient): 6, 8`);
  });
});

function traceAll(ruleset: Ruleset): TraceResult {
  const result = createTracer(ruleset).trace({ src: "10.0.0.1", dst: "10.0.0.2", protocol: 6, sport: 40000, dport: 80 }, defaultContext({ origin: "external" }));
  checkTrace(ruleset, result);
  return result;
}

describe("10,000-deep chains", () => {
  for (const how of ["jump", "goto"] as const) {
    it(`of ${how}s: parse, fmt, loops, trace, services, graph (both views) and diff all end`, () => {
      const depth = 10_000;
      const text = deepChainDump(depth, how);
      const { ruleset, diagnostics } = parseRuleset(text);
      expect(diagnostics).toEqual([]);
      expect(formatRuleset(ruleset)).toBe(text);
      expect(findJumpLoops(ruleset)).toEqual([]);
      const traced = traceAll(ruleset);
      expect(traced.outcomes.map((o) => o.verdict)).toEqual(["DROP"]);
      expect(traced.outcomes[0]!.path).toHaveLength(depth + 1);
      expect(resolveServices(ruleset).services).toEqual([]);
      for (const view of ["chains", "flow"] as const) expect(renderGraph(ruleset, { view, format: "svg" })).toMatch(/^<(\?xml|svg)/);
      const changed = parseRuleset(text.replace(`-A C${depth - 1} -j DROP`, `-A C${depth - 1} -j ACCEPT`)).ruleset;
      const diff = diffRulesets(ruleset, changed, { levels: ["rules"] });
      expect(diff.differs).toBe(true);
    });
  }
});

describe("jump loops: iptables refuses them; iptscope reports the cycle", () => {
  for (const [length, how] of [[1, "jump"], [2, "goto"], [3, "jump"], [10_000, "jump"], [10_000, "goto"]] as const) {
    it(`a loop through ${length.toLocaleString("en-US")} chain(s) by ${how}`, () => {
      const { ruleset } = parseRuleset(loopDump(length, how));
      const loops = findJumpLoops(ruleset);
      expect(loops).toHaveLength(1);
      const loop = loops[0]!;
      if (loop.kind !== "jump-loop") throw new Error(loop.kind);
      const cycle = loop.details.cycle;
      expect(cycle).toHaveLength(length + 1);
      expect(cycle[0]).toBe(cycle.at(-1));
      expect(new Set(cycle.slice(0, -1))).toEqual(new Set(Array.from({ length }, (_, i) => `filter/L${i}`)));
      // Located at the rule that closes the loop.
      expect(loop.line).toBeGreaterThan(4);
      const traced = traceAll(ruleset);
      const errorOutcome = traced.outcomes.find((o) => o.verdict === "ERROR")!;
      expect(errorOutcome.error).toBe(`${how} loop through L0`);
    });
  }

  it("the command line refuses a loop with its cycle (exit 2), and with --lenient warns and traces to an ERROR outcome", async () => {
    const file = join(work, "loop.txt");
    writeFileSync(file, loopDump(2));
    const strict = await runInProcess("trace", file);
    expect(strict.status).toBe(ExitCode.malformedInput);
    expect(strict.stderr).toMatch(new RegExp(`${file}:\\d+:\\d+: error: jump loop: filter/L\\d → filter/L\\d → filter/L\\d \\(iptables refuses to load a loop that a built-in chain reaches\\)`));
    const lenient = await runInProcess("trace", file, true);
    expect(lenient.status).toBe(ExitCode.ok);
    expect(lenient.stderr).toMatch(/warning: jump loop: filter\/L\d → filter\/L\d → filter\/L\d/);
    expect(lenient.stdout).toContain("jump loop through L0");
  });
});

describe("100,000 chains", () => {
  it("parse, fmt, trace, services, graph (aggregated) and diff each end in bounded time", () => {
    const text = manyChainsDump(100_000);
    const started = performance.now();
    const { ruleset, diagnostics } = parseRuleset(text);
    expect(diagnostics).toEqual([]);
    const nat = ruleset.tables.find((t) => t.name === "nat")!;
    expect(nat.chains.filter((c) => !c.builtin)).toHaveLength(100_000);
    expect(formatRuleset(ruleset)).toBe(text);
    const traced = createTracer(ruleset).trace({ src: "10.244.1.5", dst: "10.0.1.44", protocol: 6, sport: 40000, dport: 80 }, defaultContext({ origin: "pod" }));
    checkTrace(ruleset, traced);
    expect(traced.outcomes.map((o) => o.dnat?.to).sort()).toHaveLength(3);
    expect(Array.isArray(resolveServices(ruleset).services)).toBe(true);
    const chains = renderGraph(ruleset, { view: "chains", format: "svg" });
    expect(chains).toContain("merged by namespace");
    expect(diffRulesets(ruleset, ruleset, { levels: ["rules"] }).differs).toBe(false);
    expect(performance.now() - started).toBeLessThan(120_000);
  });
});

describe("a 1,000,000-line dump", () => {
  it("loads in a process whose heap is limited to 1 GiB, and says how many rules it read", () => {
    const lines = 1_000_000;
    const file = join(work, "million.txt");
    const text = manyLinesDump(lines);
    writeFileSync(file, text);
    expect(text.split("\n")).toHaveLength(lines + 1);
    // All but two comments, the table, four chain declarations and COMMIT.
    const rules = lines - 8;
    const report = `--import=data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss="+process.resourceUsage().maxRSS))`;
    const result = spawnSync(process.execPath, ["--max-old-space-size=1024", report, join(repoRoot, "bin", "iptscope.js"), "parse", file], { encoding: "utf8", timeout: 300_000 });
    expect(result.stderr.replace(/maxrss=\d+$/, "")).toBe("");
    expect(result.status).toBe(ExitCode.ok);
    expect(result.stdout).toContain(`1 table(s), 4 chains, ${rules} rules`);
    const maxRssMiB = Number(/maxrss=(\d+)/.exec(result.stderr)![1]) / 1024;
    console.log(`parse of ${lines.toLocaleString("en-US")} lines: peak RSS ${maxRssMiB.toFixed(0)} MiB`);
    expect(maxRssMiB).toBeLessThan(1_536);
  });
});
