// Parse benchmark: iptscope's parseRuleset() on kube-proxy dumps of growing size, each run in
// a fresh process, next to `iptables-legacy-restore --test` on the same file.

import { closeSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  formatNumber,
  kubeFixture,
  lastJsonLine,
  median,
  MIB,
  timedSpawn,
  type BenchContext,
  type BenchSection,
  type Cell,
  type Check,
  type SectionResult,
} from "./harness.js";
import type { ParseOneResult } from "./parse-one.js";

const RATIO_LIMIT = 1.0;
const RATIO_GOAL = 0.5;
const RSS_LIMIT_MB = 400;
const RSS_CHECK_SIZE = 10_000;
const GROWTH_LIMIT = 5.5;

interface SizeResult {
  services: number;
  file: string;
  bytes: number;
  lines: number;
  expectedRules: number;
  parse?: { runs: ParseOneResult[]; medianMs: number; peakRssMB: number; rules: number; errors: number; diagnostics: number; heapMB: number };
  parseError?: string;
  iptables?: { runsMs: number[]; medianMs: number };
  /** iptscope/iptables: the median over the alternating pairs of runs. */
  ratio?: number;
  iptablesError?: string;
}

type Availability = { available: true } | { available: false; reason: string };

function probeLegacyRestore(): Availability {
  const run = timedSpawn("unshare", ["-n", "iptables-legacy-restore", "--test"], { input: "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n" });
  if (run.error !== undefined) return { available: false, reason: run.error.message };
  if (run.status !== 0) return { available: false, reason: run.stderr.trim().split("\n")[0] || `exit ${run.status}` };
  return { available: true };
}

function parseOnce(file: string): ParseOneResult | string {
  const parseOne = fileURLToPath(new URL("./parse-one.js", import.meta.url));
  const run = timedSpawn(process.execPath, ["--expose-gc", parseOne, file]);
  if (run.error !== undefined) return run.error.message;
  if (run.status !== 0) return `parse-one exited ${run.status}: ${run.stderr.trim().split("\n").slice(0, 3).join(" | ")}`;
  try {
    return lastJsonLine<ParseOneResult>(run.stdout);
  } catch {
    return `unreadable parse-one output: ${run.stdout.slice(0, 200)}`;
  }
}

function legacyRestoreOnce(file: string): number | string {
  const fd = openSync(file, "r");
  try {
    const run = timedSpawn("unshare", ["-n", "iptables-legacy-restore", "--test"], { stdio: [fd, "ignore", "pipe"] });
    if (run.error !== undefined) return run.error.message;
    if (run.status !== 0) return `exit ${run.status}: ${run.stderr.trim().split("\n")[0]}`;
    return run.ms;
  } finally {
    closeSync(fd);
  }
}

/**
 * iptscope's runs and iptables' alternate: other work on the machine that comes and goes then slows both alike.
 * The ratio is the median of each pair's ratio, so that a slow spell weighs on both sides of the pairs it falls in.
 */
function measureSize(context: BenchContext, result: SizeResult, legacy: Availability): void {
  const runs: ParseOneResult[] = [];
  const runsMs: number[] = [];
  if (!legacy.available) result.iptablesError = `unavailable: ${legacy.reason}`;
  for (let i = 0; i < context.runs; i++) {
    if (result.parseError === undefined) {
      const parse = parseOnce(result.file);
      if (typeof parse === "string") result.parseError = parse;
      else runs.push(parse);
    }
    if (result.iptablesError === undefined) {
      const ms = legacyRestoreOnce(result.file);
      if (typeof ms === "string") result.iptablesError = ms;
      else runsMs.push(ms);
    }
  }
  if (result.parseError === undefined && runs[0] !== undefined) {
    result.parse = {
      runs,
      medianMs: median(runs.map((r) => r.ms)),
      peakRssMB: Math.max(...runs.map((r) => r.maxRssMB)),
      rules: runs[0].rules,
      errors: runs[0].errors,
      diagnostics: runs[0].diagnostics,
      heapMB: median(runs.map((r) => r.heapMB)),
    };
  }
  if (result.iptablesError === undefined && runsMs.length > 0) result.iptables = { runsMs, medianMs: median(runsMs) };
  if (result.parse && result.iptables && runs.length === runsMs.length) result.ratio = median(runs.map((r, i) => r.ms / runsMs[i]!));
}

export const parseSection: BenchSection = {
  name: "parse",
  description: "parseRuleset() on kube-proxy dumps (3 endpoints/service, canonical IPv4) vs iptables-legacy-restore --test",
  run(context: BenchContext): SectionResult {
    const legacy = probeLegacyRestore();
    const results: SizeResult[] = [];
    for (const services of context.sizes) {
      const fixture = kubeFixture(context, services);
      const result: SizeResult = { services, file: fixture.file, bytes: fixture.bytes, lines: fixture.lines, expectedRules: fixture.rules };
      context.log(`parse: ${formatNumber(services)} services (${formatNumber(fixture.bytes / MIB, 1)} MiB), ${context.runs} runs`);
      measureSize(context, result, legacy);
      results.push(result);
    }

    const rows = results.map((r): Record<string, Cell> => {
      const seconds = r.parse ? r.parse.medianMs / 1000 : undefined;
      return {
        services: formatNumber(r.services),
        mb: formatNumber(r.bytes / MIB, 1),
        lines: formatNumber(r.lines),
        rules: r.parse ? formatNumber(r.parse.rules) + (r.parse.rules === r.expectedRules ? "" : ` (expected ${formatNumber(r.expectedRules)})`) : null,
        parseMs: r.parse ? formatNumber(r.parse.medianMs) : r.parseError ? "error" : null,
        mbPerS: seconds ? formatNumber(r.bytes / MIB / seconds, 1) : null,
        linesPerS: seconds ? formatNumber(r.lines / seconds) : null,
        rss: r.parse ? formatNumber(r.parse.peakRssMB) : null,
        heap: r.parse ? formatNumber(r.parse.heapMB) : null,
        diagnostics: r.parse ? `${r.parse.diagnostics}${r.parse.errors ? ` (${r.parse.errors} err)` : ""}` : null,
        iptablesMs: r.iptables ? formatNumber(r.iptables.medianMs) : null,
        ratio: r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : null,
      };
    });

    const checks: Check[] = [];
    const at = (services: number): SizeResult | undefined => results.find((r) => r.services === services);
    const anchor = at(RSS_CHECK_SIZE) ?? results[results.length - 1];
    if (anchor !== undefined) {
      const label = `@${formatNumber(anchor.services)}`;
      if (anchor.ratio !== undefined) {
        const ratio = anchor.ratio;
        checks.push({
          name: `parse time iptscope/iptables ${label}`,
          measured: `${ratio.toFixed(2)}×`,
          target: `≤ ${RATIO_LIMIT.toFixed(1)}× (goal ≤ ${RATIO_GOAL}×)`,
          pass: ratio <= RATIO_LIMIT,
          note: ratio <= RATIO_GOAL ? "goal met" : "goal not met",
        });
      } else {
        checks.push({ name: `parse time iptscope/iptables ${label}`, measured: "n/a", target: `≤ ${RATIO_LIMIT.toFixed(1)}×`, pass: null, note: anchor.parseError ?? anchor.iptablesError });
      }
      checks.push({
        name: `peak RSS ${label}`,
        measured: anchor.parse ? `${formatNumber(anchor.parse.peakRssMB)} MiB` : "n/a",
        target: `≤ ${RSS_LIMIT_MB} MiB`,
        pass: anchor.parse ? anchor.parse.peakRssMB <= RSS_LIMIT_MB : null,
      });
    }
    const small = at(10_000);
    const large = at(50_000);
    if (small && large) {
      const growth = small.parse && large.parse ? large.parse.medianMs / small.parse.medianMs : undefined;
      checks.push({
        name: "growth time(50k)/time(10k)",
        measured: growth === undefined ? "n/a" : `${growth.toFixed(2)}×`,
        target: `≤ ${GROWTH_LIMIT}× (linear = 5×)`,
        pass: growth === undefined ? null : growth <= GROWTH_LIMIT,
      });
    }
    const parsed = results.filter((r) => r.parse);
    if (parsed.length > 0) {
      const matching = parsed.filter((r) => r.parse?.rules === r.expectedRules).length;
      checks.push({ name: "rules parsed = -A lines in dump", measured: `${matching}/${parsed.length} sizes`, target: "all", pass: matching === parsed.length });
    }

    const notes = [
      "parse ms: median of the parseRuleset() call alone, each run in a fresh `node --expose-gc` process; RSS: peak (maxRSS) of those processes.",
      "iptables ms: median wall time of `unshare -n iptables-legacy-restore --test < FILE` (process start and reading included); its runs alternate with iptscope's; ratio: the median of each pair's ratio.",
      "heap MiB: heap in use after the parse with the result still referenced (after GC).",
    ];
    if (!legacy.available) notes.push(`iptables-legacy-restore --test is n/a here: ${legacy.reason}`);
    for (const r of results) {
      if (r.parseError) notes.push(`${formatNumber(r.services)} services: parse failed: ${r.parseError}`);
      if (r.iptablesError && legacy.available) notes.push(`${formatNumber(r.services)} services: iptables-legacy-restore --test failed: ${r.iptablesError}`);
    }

    return {
      title: "Parse",
      columns: [
        { key: "services", title: "services" },
        { key: "mb", title: "MiB" },
        { key: "lines", title: "lines" },
        { key: "rules", title: "rules" },
        { key: "parseMs", title: "parse ms" },
        { key: "mbPerS", title: "MiB/s" },
        { key: "linesPerS", title: "lines/s" },
        { key: "rss", title: "peak RSS MiB" },
        { key: "heap", title: "heap MiB" },
        { key: "diagnostics", title: "diags" },
        { key: "iptablesMs", title: "iptables --test ms" },
        { key: "ratio", title: "ratio" },
      ],
      rows,
      checks,
      notes,
      data: results.map(({ file: _file, ...rest }) => rest),
    };
  },
};
