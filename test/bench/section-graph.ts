// Pictures: wall time of `iptscope graph` (a whole CLI process: start-up, parse, scene, layout, SVG) for the
// kubeadm sample (cold start target 0.5 s) and for generated kube-proxy dumps (10k services: 3 s per view), for
// every view and for the chains view with a pod's DNS query traced over it.

import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cpuReportArgs, reportedCpuSeconds } from "./cpu.js";
import { formatNumber, kubeFixture, median, MIB, timedSpawn, type BenchContext, type BenchSection, type Cell, type Check, type SectionResult } from "./harness.js";

/** A pod's DNS query: kube-dns has this cluster IP in the kubeadm sample and in generated dumps. */
const TRACED_PACKET = ["--trace", "--src", "10.244.1.5", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53"];
const VIEWS: readonly { name: string; args: readonly string[] }[] = [
  { name: "flow", args: ["--view", "flow"] },
  { name: "chains", args: ["--view", "chains"] },
  { name: "services", args: ["--view", "services"] },
  { name: "chains --trace", args: ["--view", "chains", ...TRACED_PACKET] },
];
const SAMPLE_RUNS = 5;
const SAMPLE_LIMIT_S = 0.5;
const DUMP_LIMIT_S = 3;
const DUMP_LIMIT_SIZE = 10_000;
/** Above the target size one run is enough to see the trend and keeps the bench short. */
const LARGE_RUNS = 1;

interface Measured {
  times: number[];
  /** CPU seconds of each run, as the process reported them. */
  cpu: number[];
  bytes: number;
  failure?: string;
}

function measure(context: BenchContext, input: string, viewArgs: readonly string[], runs: number, output: string): Measured {
  const bin = path.join(context.root, "bin", "iptscope.js");
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = timedSpawn(process.execPath, [...cpuReportArgs(), bin, "graph", input, ...viewArgs, "--format", "svg", "-o", output], { cwd: context.root, stdio: ["ignore", "ignore", "pipe"] });
    if (run.error !== undefined || run.status !== 0) {
      return { times, cpu, bytes: 0, failure: run.error?.message ?? `exit ${run.status}: ${run.stderr.trim().split("\n")[0] ?? ""}` };
    }
    times.push(run.ms / 1000);
    const seconds = reportedCpuSeconds(run.stderr);
    if (seconds !== undefined) cpu.push(seconds);
  }
  return { times, cpu, bytes: statSync(output).size };
}

function row(input: string, view: string, mb: string, m: Measured): Record<string, Cell> {
  const failed = m.failure !== undefined;
  return {
    input, view, mb, runs: m.times.length,
    median: failed ? "failed" : median(m.times).toFixed(3),
    min: failed ? null : Math.min(...m.times).toFixed(3),
    max: failed ? null : Math.max(...m.times).toFixed(3),
    cpu: failed || m.cpu.length === 0 ? null : median(m.cpu).toFixed(3),
    svgKb: formatNumber(m.bytes / 1024),
  };
}

function check(name: string, m: Measured, limitS: number): Check {
  if (m.failure !== undefined) return { name, measured: "failed", target: `≤ ${limitS} s`, pass: false, note: m.failure };
  const mid = median(m.times);
  return { name, measured: `${mid.toFixed(3)} s`, target: `≤ ${limitS} s`, pass: mid <= limitS };
}

export const graphSection: BenchSection = {
  name: "graph",
  description: "iptscope graph to SVG: kubeadm sample cold, and kube-proxy dumps by size, per view and traced",
  run(context: BenchContext): SectionResult {
    const columns = [
      { key: "input", title: "input", numeric: false },
      { key: "view", title: "view", numeric: false },
      { key: "mb", title: "input MB" },
      { key: "runs", title: "runs" },
      { key: "median", title: "median s" },
      { key: "min", title: "min s" },
      { key: "max", title: "max s" },
      { key: "cpu", title: "CPU s" },
      { key: "svgKb", title: "SVG KB" },
    ];
    const rows: Record<string, Cell>[] = [];
    const checks: Check[] = [];
    const notes: string[] = [];
    const title = "graph (SVG, whole CLI process)";
    if (!existsSync(path.join(context.root, "dist", "src", "cli", "main.js"))) {
      return { title, columns, rows, checks: [{ name: "graph", measured: "n/a (not built)", target: "built", pass: null }], notes: ["run npm run build first"] };
    }
    const scratch = mkdtempSync(path.join(tmpdir(), "iptscope-bench-graph-"));
    const output = path.join(scratch, "out.svg");
    try {
      const sample = path.join(context.root, "samples", "kubeadm-flannel.txt");
      for (const view of VIEWS) {
        context.log(`graph: kubeadm-flannel --view ${view.name} × ${SAMPLE_RUNS}`);
        const m = measure(context, sample, view.args, SAMPLE_RUNS, output);
        rows.push(row("kubeadm-flannel.txt", view.name, (statSync(sample).size / MIB).toFixed(3), m));
        checks.push(check(`kubeadm sample, ${view.name}, cold (median of ${SAMPLE_RUNS})`, m, SAMPLE_LIMIT_S));
      }
      for (const services of context.sizes) {
        const fixture = kubeFixture(context, services);
        for (const view of VIEWS) {
          const runs = services > DUMP_LIMIT_SIZE ? LARGE_RUNS : context.runs;
          context.log(`graph: ${formatNumber(services)} services --view ${view.name} × ${runs}`);
          const m = measure(context, fixture.file, view.args, runs, output);
          rows.push(row(`kube ${formatNumber(services)} services`, view.name, (fixture.bytes / MIB).toFixed(1), m));
          if (services === DUMP_LIMIT_SIZE) checks.push(check(`${formatNumber(services)} services, ${view.name} (median of ${runs})`, m, DUMP_LIMIT_S));
        }
      }
      if (!context.sizes.includes(DUMP_LIMIT_SIZE)) {
        checks.push({ name: `${formatNumber(DUMP_LIMIT_SIZE)} services`, measured: "n/a", target: `≤ ${DUMP_LIMIT_S} s`, pass: null, note: "size not in --sizes" });
      }
      notes.push(`wall time of node bin/iptscope.js graph FILE --view V [--trace …] --format svg -o FILE, including Node start-up, parsing and writing; traced: ${TRACED_PACKET.join(" ")}`);
      notes.push("CPU s: median CPU time (user + system) the process reported at exit; other load on the machine stretches the wall time, hardly this");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return { title, columns, rows, checks, notes };
  },
};
