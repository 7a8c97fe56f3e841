// Loaded with `node --import` into a timed CLI process by the bench (see cpu.ts): at exit, the process's CPU time
// (user + system, every thread) on standard error.

import { CPU_MARK } from "./cpu.js";

process.on("exit", () => {
  const usage = process.cpuUsage();
  process.stderr.write(`${CPU_MARK}${(usage.user + usage.system) / 1000}\n`);
});
