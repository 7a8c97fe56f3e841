// CLI cold start: wall time of `node bin/iptscope.js parse samples/kubeadm-flannel.txt`.

import { existsSync } from "node:fs";
import path from "node:path";
import { cpuReportArgs, reportedCpuSeconds } from "./cpu.js";
import { median, timedSpawn, type BenchContext, type BenchSection, type SectionResult } from "./harness.js";

const RUNS = 5;
const LIMIT_S = 0.5;

export const cliStartSection: BenchSection = {
  name: "cli",
  description: "cold start of the iptscope CLI on a small sample",
  run(context: BenchContext): SectionResult {
    const bin = path.join(context.root, "bin", "iptscope.js");
    const sample = path.join(context.root, "samples", "kubeadm-flannel.txt");
    const command = "node bin/iptscope.js parse samples/kubeadm-flannel.txt";
    const base = {
      title: "CLI cold start",
      columns: [
        { key: "command", title: "command", numeric: false },
        { key: "median", title: "median s" },
        { key: "min", title: "min s" },
        { key: "max", title: "max s" },
        { key: "cpu", title: "CPU s" },
      ],
    };
    const missing = [bin, sample].filter((f) => !existsSync(f)).map((f) => path.relative(context.root, f));
    if (missing.length > 0) {
      return {
        ...base,
        rows: [{ command, median: "n/a (not built)", min: null, max: null, cpu: null }],
        checks: [{ name: "CLI cold start", measured: "n/a (not built)", target: `≤ ${LIMIT_S} s`, pass: null }],
        notes: [`missing: ${missing.join(", ")}`],
      };
    }
    context.log(`cli: ${command} × ${RUNS}`);
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = timedSpawn(process.execPath, [...cpuReportArgs(), bin, "parse", sample], { cwd: context.root, stdio: ["ignore", "ignore", "pipe"] });
      if (run.error !== undefined || run.status !== 0) {
        const reason = run.error?.message ?? `exit ${run.status}: ${run.stderr.trim().split("\n")[0] ?? ""}`;
        return {
          ...base,
          rows: [{ command, median: "failed", min: null, max: null, cpu: null }],
          checks: [{ name: "CLI cold start", measured: "failed", target: `≤ ${LIMIT_S} s`, pass: false, note: reason }],
          notes: [reason],
        };
      }
      times.push(run.ms / 1000);
      const seconds = reportedCpuSeconds(run.stderr);
      if (seconds !== undefined) cpu.push(seconds);
    }
    const mid = median(times);
    return {
      ...base,
      rows: [{ command, median: mid.toFixed(3), min: Math.min(...times).toFixed(3), max: Math.max(...times).toFixed(3), cpu: cpu.length > 0 ? median(cpu).toFixed(3) : null }],
      checks: [{ name: "CLI cold start (median of 5)", measured: `${mid.toFixed(3)} s`, target: `≤ ${LIMIT_S} s`, pass: mid <= LIMIT_S }],
      notes: [
        "wall time of the whole process, including Node start-up and module loading",
        "CPU s: median CPU time (user + system) the process reported at exit; other load on the machine stretches the wall time, hardly this",
      ],
      data: { runsS: times, cpuS: cpu },
    };
  },
};
