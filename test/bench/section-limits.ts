// Limits: the CLI on a 1,000,000-line kube-proxy dump (peak RSS is the figure that matters: the whole
// model is kept for the analyses), on 1,000,000 lines of repeated shapes, on 100,000 chains and on a
// 10,000-deep chain of jumps. Each run is a fresh process; peak RSS is its own getrusage maxRSS.

import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { deepChainDump, manyChainsDump, manyLinesDump } from "../support/limit-dumps.js";
import { formatNumber, kubeFixture, MIB, timedSpawn, type BenchContext, type BenchSection, type Cell, type Check, type SectionResult } from "./harness.js";

/** Services that make kubegen's canonical IPv4 dump (3 endpoints each) 1,000,000 lines long. */
const MILLION_LINE_SERVICES = 65_600;
const RSS_TARGET_MIB = 1_536;
const RSS_REPORT = `--import=data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss="+process.resourceUsage().maxRSS))`;

interface Measured {
  ms: number;
  status: number | null;
  rssMiB: number | undefined;
  error?: string;
}

function measure(context: BenchContext, args: readonly string[]): Measured {
  const bin = path.join(context.root, "bin", "iptscope.js");
  const run = timedSpawn(process.execPath, [RSS_REPORT, bin, ...args], { cwd: context.root, stdio: ["ignore", "ignore", "pipe"] });
  const rss = /maxrss=(\d+)\s*$/.exec(run.stderr);
  const trouble = run.error?.message ?? (run.status !== 0 && run.status !== 1 ? `exit ${run.status}: ${run.stderr.trim().split("\n")[0] ?? ""}` : undefined);
  return { ms: run.ms, status: run.status, rssMiB: rss ? Number(rss[1]) / 1024 : undefined, ...(trouble !== undefined ? { error: trouble } : {}) };
}

/** A generated dump under .bench/, written once. */
function cached(context: BenchContext, name: string, make: () => string): string {
  const file = path.join(context.benchDir, name);
  if (!existsSync(file)) {
    context.log(`generating ${path.relative(context.root, file)} …`);
    writeFileSync(file, make());
  }
  return file;
}

export const limitsSection: BenchSection = {
  name: "limits",
  description: "CLI time and peak RSS at the limits: 1,000,000-line dumps, 100,000 chains, a 10,000-deep chain",
  run(context: BenchContext): SectionResult {
    const kube = kubeFixture(context, MILLION_LINE_SERVICES);
    const cases: { input: string; lines: number; bytes: number; file: string; commands: string[][] }[] = [];
    cases.push({ input: `kube-proxy, ${formatNumber(MILLION_LINE_SERVICES)} services`, lines: kube.lines, bytes: kube.bytes, file: kube.file, commands: [["parse"], ["fmt"], ["services"]] });
    const repeated = cached(context, "limits-1m-lines.txt", () => manyLinesDump(1_000_000));
    cases.push({ input: "repeated filter shapes", lines: 1_000_000, bytes: 0, file: repeated, commands: [["parse"], ["fmt"]] });
    const chains = cached(context, "limits-100k-chains.txt", () => manyChainsDump(100_000));
    const traceArgs = ["--src", "10.244.1.5", "--dst", "10.0.1.44", "--dport", "80"];
    cases.push({ input: "100,000 chains (nat)", lines: 0, bytes: 0, file: chains, commands: [["parse"], ["trace", ...traceArgs], ["graph", "--view", "chains"], ["diff", "SELF"]] });
    const deep = cached(context, "limits-10k-deep.txt", () => deepChainDump(10_000));
    cases.push({ input: "10,000-deep jumps", lines: 0, bytes: 0, file: deep, commands: [["trace", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"], ["graph", "--view", "chains"], ["diff", "SELF"]] });

    const rows: Record<string, Cell>[] = [];
    const checks: Check[] = [];
    for (const c of cases) {
      for (const command of c.commands) {
        const args = command[0] === "diff" ? ["diff", c.file, c.file] : [command[0]!, c.file, ...command.slice(1)];
        context.log(`limits: ${args[0]} on ${c.input}`);
        const m = measure(context, args);
        rows.push({
          input: c.input,
          lines: c.lines ? formatNumber(c.lines) : null,
          mib: c.bytes ? formatNumber(c.bytes / MIB, 1) : null,
          command: command.filter((a) => a !== "SELF").join(" "),
          seconds: m.error ? "failed" : formatNumber(m.ms / 1000, 1),
          rss: m.rssMiB !== undefined ? formatNumber(m.rssMiB) : null,
        });
        if (m.error || m.rssMiB === undefined) {
          checks.push({ name: `${args[0]} on ${c.input}`, measured: "failed", target: "runs", pass: false, note: m.error ?? "no maxrss reported" });
        } else if (c.lines >= 1_000_000 && args[0] === "parse") {
          checks.push({ name: `peak RSS, parse of ${formatNumber(c.lines)} lines (${c.input})`, measured: `${formatNumber(m.rssMiB)} MiB`, target: `≤ ${formatNumber(RSS_TARGET_MIB)} MiB`, pass: m.rssMiB <= RSS_TARGET_MIB });
        }
      }
    }
    return {
      title: "Limits (CLI, one fresh process per row)",
      columns: [
        { key: "input", title: "input", numeric: false },
        { key: "lines", title: "lines" },
        { key: "mib", title: "MiB" },
        { key: "command", title: "command", numeric: false },
        { key: "seconds", title: "s" },
        { key: "rss", title: "peak RSS MiB" },
      ],
      rows,
      checks,
      notes: [
        "peak RSS: getrusage maxRSS of the CLI process (Node start-up included); the model of the whole dump is kept for the analyses, so RSS grows with the rules",
        "fmt holds the printed text as well as the model; diff SELF compares a dump with itself (both models in memory)",
      ],
    };
  },
};
