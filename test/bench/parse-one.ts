// Child process of the parse benchmark: parses one file and prints one JSON line.
// Run as `node --expose-gc dist/test/bench/parse-one.js FILE`; each run is a fresh
// process so that maxRSS belongs to that run alone.

import { readFileSync } from "node:fs";
import { parseRuleset } from "../../src/index.js";

export interface ParseOneResult {
  /** Wall time of the parseRuleset() call alone (file already read). */
  ms: number;
  /** Sum of chains[].rules.length over all tables. */
  rules: number;
  /** process.resourceUsage().maxRSS of this process, in MiB. */
  maxRssMB: number;
  /** Heap still in use after the parse with the result alive, after a GC, in MiB. */
  heapMB: number;
  diagnostics: number;
  errors: number;
}

const file = process.argv[2];
if (file === undefined) {
  console.error("usage: node --expose-gc parse-one.js FILE");
  process.exit(2);
}
const text = readFileSync(file, "utf8");
const gc = (globalThis as { gc?: () => void }).gc;

// No forced collection before the parse: the CLI does not make one, and a full collection
// of the small start-up heap would set V8's next old-generation limit low enough to add a
// full collection in mid-parse that no user run has.
const start = performance.now();
const result = parseRuleset(text);
const ms = performance.now() - start;

let rules = 0;
for (const table of result.ruleset.tables) for (const chain of table.chains) rules += chain.rules.length;
const errors = result.diagnostics.filter((d) => (d as { severity?: string }).severity === "error").length;
gc?.();
const heapMB = process.memoryUsage().heapUsed / (1024 * 1024);

const output: ParseOneResult = {
  ms,
  rules,
  maxRssMB: process.resourceUsage().maxRSS / 1024,
  heapMB,
  diagnostics: result.diagnostics.length,
  errors,
};
console.log(JSON.stringify(output));
