// CPU time of a timed CLI process, beside its wall time: on a busy machine other processes stretch the wall time
// of a run, not its CPU time. The process reports it itself (cpu-report.ts, loaded with --import).

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const CPU_MARK = "iptscope-bench-cpu-ms ";

/** Node options that make a child print its CPU time at exit, on standard error. */
export function cpuReportArgs(): string[] {
  return ["--import", pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "cpu-report.js")).href];
}

/** The CPU seconds a child reported, if it did. */
export function reportedCpuSeconds(stderr: string): number | undefined {
  const line = stderr.split("\n").find((l) => l.startsWith(CPU_MARK));
  return line === undefined ? undefined : Number(line.slice(CPU_MARK.length)) / 1000;
}
