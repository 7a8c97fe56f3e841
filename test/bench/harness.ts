// Shared pieces of the benchmark: section interface, fixtures, child processes, table output.

import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateKubeProxyDumpWithTruth, type KubeGenOptions } from "../support/kubegen.js";

export interface BenchContext {
  /** Repository root (the directory holding package.json). */
  root: string;
  /** `.bench/` under the root: cached fixtures and last.json. */
  benchDir: string;
  /** Service counts to measure (default 1k, 10k, 50k). */
  sizes: number[];
  /** Runs per timed measurement before taking the median. */
  runs: number;
  log(message: string): void;
}

export interface Column {
  key: string;
  title: string;
  /** Right-align (numbers). Default true. */
  numeric?: boolean;
}

export type Cell = string | number | null;

export interface Check {
  name: string;
  /** Measured value as displayed, e.g. "0.42×" or "n/a". */
  measured: string;
  target: string;
  /** null when the check could not be evaluated (missing data). */
  pass: boolean | null;
  note?: string;
}

export interface SectionResult {
  title: string;
  columns: Column[];
  rows: Record<string, Cell>[];
  checks: Check[];
  notes: string[];
  /** Extra machine-readable data for last.json. */
  data?: unknown;
}

/** One part of the benchmark. Add new sections to the list in bench.ts. */
export interface BenchSection {
  name: string;
  description: string;
  run(context: BenchContext): Promise<SectionResult> | SectionResult;
}

export function findRepoRoot(start: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "iptscope") return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the iptscope package.json above ${start}`);
    dir = parent;
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/** Bump when kubegen's output changes, so cached fixtures are regenerated. */
const FIXTURE_VERSION = 1;

export interface KubeFixture {
  file: string;
  services: number;
  bytes: number;
  lines: number;
  /** `-A` lines in the dump: the rule count a parser should report. */
  rules: number;
  generatedNow: boolean;
}

interface FixtureMeta {
  version: number;
  options: KubeGenOptions;
  bytes: number;
  lines: number;
  rules: number;
}

/** A kube-proxy dump of `services` services (3 endpoints each, canonical IPv4), cached under .bench/. */
export function kubeFixture(context: BenchContext, services: number, extra: Partial<KubeGenOptions> = {}): KubeFixture {
  const options: KubeGenOptions = { services, endpointsPerService: 3, seed: 1, generation: "new", family: "ipv4", order: "canonical", ...extra };
  const name = `kube-${options.generation}-${options.family}-${options.order}-s${services}-e${String(options.endpointsPerService)}-seed${options.seed}-v${FIXTURE_VERSION}`;
  const file = path.join(context.benchDir, `${name}.txt`);
  const metaFile = path.join(context.benchDir, `${name}.json`);
  if (existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, "utf8")) as FixtureMeta;
    if (meta.version === FIXTURE_VERSION) return { file, services, bytes: meta.bytes, lines: meta.lines, rules: meta.rules, generatedNow: false };
  }
  mkdirSync(context.benchDir, { recursive: true });
  context.log(`generating ${path.relative(context.root, file)} …`);
  let text: string | undefined = generateKubeProxyDumpWithTruth(options).text;
  let rules = 0;
  let lines = 0;
  for (let at = text.indexOf("\n"), start = 0; at !== -1; start = at + 1, at = text.indexOf("\n", start)) {
    lines++;
    if (text.startsWith("-A ", start) || (text.charCodeAt(start) === 91 /* [ */ && text.indexOf("] -A ", start) !== -1 && text.indexOf("] -A ", start) < at)) rules++;
  }
  const bytes = Buffer.byteLength(text);
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
  text = undefined;
  const meta: FixtureMeta = { version: FIXTURE_VERSION, options, bytes, lines, rules };
  writeFileSync(metaFile, JSON.stringify(meta, null, 2) + "\n");
  (globalThis as { gc?: () => void }).gc?.();
  return { file, services, bytes, lines, rules, generatedNow: true };
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

export interface TimedRun {
  ms: number;
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/** Runs a command to completion and measures its wall time. */
export function timedSpawn(command: string, args: readonly string[], options: SpawnSyncOptions = {}): TimedRun {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 512 * MIB, ...options });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return {
    ms,
    status: result.status,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    ...(result.error !== undefined ? { error: result.error } : {}),
  };
}

/** Last line of a child's stdout parsed as JSON. */
export function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function renderTable(columns: readonly Column[], rows: readonly Record<string, Cell>[]): string {
  const text = (cell: Cell | undefined): string => (cell === null || cell === undefined ? "n/a" : String(cell));
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => text(r[c.key]).length)));
  const pad = (value: string, i: number): string => ((columns[i].numeric ?? true) ? value.padStart(widths[i]) : value.padEnd(widths[i]));
  const lines = [
    columns.map((c, i) => pad(c.title, i)).join("  "),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map((row) => columns.map((c, i) => pad(text(row[c.key]), i)).join("  ")),
  ];
  return lines.join("\n");
}

export function renderChecks(checks: readonly Check[]): string {
  if (checks.length === 0) return "";
  const mark = (pass: boolean | null): string => (pass === null ? "[ -- ]" : pass ? "[PASS]" : "[FAIL]");
  const nameWidth = Math.max(...checks.map((c) => c.name.length));
  const measuredWidth = Math.max(...checks.map((c) => c.measured.length));
  return checks
    .map((c) => `${mark(c.pass)} ${c.name.padEnd(nameWidth)}  ${c.measured.padStart(measuredWidth)}  target ${c.target}${c.note ? `  (${c.note})` : ""}`)
    .join("\n");
}
