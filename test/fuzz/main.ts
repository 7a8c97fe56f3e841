// `npm run fuzz -- --count N --seed S [--suite NAME,...] [--bound-ms MS] [--path P]`: long fuzz runs.
// N runs in all, shared among the suites by their weight (hostile 60%, trace 30%, roundtrip 10%).
//
// Each suite runs in a worker thread under a watchdog: a case that hangs (no progress for
// --hang-s seconds) or exhausts memory is reported with the seed and path that replay it.
// A failing case is shrunk by fast-check and printed with `--seed S --path P` to replay it alone.

import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import fc from "fast-check";
import { SUITES, type Suite } from "./suites.js";

interface Options {
  count: number;
  seed: number;
  suites: string[];
  boundMs: number;
  hangSeconds: number;
  path?: string;
  memoryMb: number;
  /** Go on after failures, collecting one case per kind of failure (no shrinking). */
  survey: boolean;
  /** Workers per suite, each with its own seed (seed, seed+1, …) and a share of the count. */
  jobs: number;
}

interface WorkerInput {
  suite: string;
  count: number;
  seed: number;
  boundMs: number;
  path?: string;
  survey: boolean;
  /** [runs started, index of the first failing run + 1 (0: none yet)] */
  progress: SharedArrayBuffer;
}

type WorkerReport =
  | { kind: "passed"; runs: number; ms: number }
  | { kind: "failed"; runs: number; ms: number; seed: number; path: string; counterexample: string; error: string; shrinks: number }
  | { kind: "surveyed"; runs: number; ms: number; failures: { kind: string; count: number; run: number; counterexample: string; error: string }[] };

const USAGE = `usage: npm run fuzz -- [--count N] [--seed S] [--suite ${SUITES.map((s) => s.name).join(",")}] [--bound-ms MS] [--hang-s S] [--path P] [--memory-mb MB] [--survey] [--jobs N]`;

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { count: 10_000, seed: Date.now() % 2 ** 31, suites: SUITES.map((s) => s.name), boundMs: 10_000, hangSeconds: 120, memoryMb: 3072, survey: false, jobs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return next;
    };
    const integer = (): number => {
      const text = value();
      const number = Number(text.replace(/_/g, ""));
      if (!Number.isInteger(number) || number < 0) throw new Error(`${flag} takes a non-negative integer, not '${text}'`);
      return number;
    };
    switch (flag) {
      case "--count":
        options.count = integer();
        break;
      case "--seed":
        options.seed = integer();
        break;
      case "--suite":
        options.suites = value().split(",");
        break;
      case "--bound-ms":
        options.boundMs = integer();
        break;
      case "--hang-s":
        options.hangSeconds = integer();
        break;
      case "--memory-mb":
        options.memoryMb = integer();
        break;
      case "--path":
        options.path = value();
        break;
      case "--survey":
        options.survey = true;
        break;
      case "--jobs":
        options.jobs = Math.max(1, integer());
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        for (const suite of SUITES) console.log(`  ${suite.name}: ${suite.description}`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  const unknown = options.suites.filter((name) => !SUITES.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`unknown suite(s) ${unknown.join(", ")}; known: ${SUITES.map((s) => s.name).join(", ")}`);
  return options;
}

function runInWorker(input: WorkerInput): void {
  const suite = SUITES.find((s) => s.name === input.suite) as Suite<unknown> | undefined;
  if (!suite) throw new Error(`no suite ${input.suite}`);
  const progress = new Int32Array(input.progress);
  const start = performance.now();
  if (input.survey) {
    parentPort!.postMessage(survey(suite, input, progress, start));
    return;
  }
  const property = fc.property(suite.arbitrary, (value) => {
    Atomics.add(progress, 0, 1);
    try {
      suite.check(value, input.boundMs);
    } catch (error) {
      if (Atomics.load(progress, 1) === 0) Atomics.store(progress, 1, Atomics.load(progress, 0));
      throw error;
    }
  });
  const details = fc.check(property, {
    numRuns: input.count,
    seed: input.seed,
    ...(input.path !== undefined ? { path: input.path } : {}),
    // Counterexamples can be big; fast-check should not spend minutes printing them.
    includeErrorInReport: false,
  });
  const ms = performance.now() - start;
  const report: WorkerReport = details.failed
    ? {
        kind: "failed",
        runs: details.numRuns,
        ms,
        seed: details.seed,
        path: details.counterexamplePath ?? "",
        counterexample: details.counterexample ? suite.describe(details.counterexample[0]) : "(none)",
        error: details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance),
        shrinks: details.numShrinks,
      }
    : { kind: "passed", runs: details.numRuns, ms };
  parentPort!.postMessage(report);
}

/** Failures grouped by their message with numbers and quoted text blanked out. */
function survey(suite: Suite<unknown>, input: WorkerInput, progress: Int32Array, start: number): WorkerReport {
  const failures = new Map<string, { kind: string; count: number; run: number; counterexample: string; error: string }>();
  const samples = fc.sample(suite.arbitrary, { numRuns: input.count, seed: input.seed });
  samples.forEach((value, run) => {
    Atomics.add(progress, 0, 1);
    try {
      suite.check(value, input.boundMs);
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const kind = message.replace(/"(?:[^"\\]|\\.)*"|'[^']*'|\d+/g, "#").slice(0, 160);
      const known = failures.get(kind);
      if (known) known.count++;
      else failures.set(kind, { kind, count: 1, run, counterexample: suite.describe(value), error: error instanceof Error ? (error.stack ?? message) : message });
    }
  });
  return { kind: "surveyed", runs: samples.length, ms: performance.now() - start, failures: [...failures.values()] };
}

const format = (n: number) => n.toLocaleString("en-US");
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs one suite in `jobs` workers; resolves to true when every one passed. */
async function runSuite(suite: Suite<unknown>, options: Options): Promise<boolean> {
  console.log(`${suite.name}: ${suite.description}`);
  const jobs = options.path !== undefined ? 1 : options.jobs;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: jobs }, (_, job) => {
      const count = Math.floor(options.count / jobs) + (job < options.count % jobs ? 1 : 0);
      return runJob(suite, { ...options, seed: options.seed + job, count }, jobs > 1 ? `[${job + 1}/${jobs}] ` : "");
    }),
  );
  const runs = results.reduce((n, r) => n + r.runs, 0);
  const ms = performance.now() - started;
  console.log(`  ${suite.name}: ${format(runs)} runs in ${seconds(ms)} (${(runs / (ms / 1000)).toFixed(0)} runs/s), ${results.filter((r) => !r.passed).length} of ${jobs} job(s) failed`);
  return results.every((r) => r.passed);
}

/** One worker: resolves with whether it passed and how many runs it made. */
function runJob(suite: Suite<unknown>, options: Options, label: string): Promise<{ passed: boolean; runs: number }> {
  const progress = new SharedArrayBuffer(8);
  const counters = new Int32Array(progress);
  const input: WorkerInput = { suite: suite.name, count: options.count, seed: options.seed, boundMs: options.boundMs, survey: options.survey, progress, ...(options.path !== undefined ? { path: options.path } : {}) };
  const started = performance.now();
  const replay = (path: string | number) => `npm run fuzz -- --suite ${suite.name} --seed ${options.seed} --path ${path} --count 1 --bound-ms ${options.boundMs}`;
  const log = (line: string) => console.log(`  ${label}${line.trimStart()}`);
  log(`seed ${options.seed}, ${format(options.count)} runs, bound ${options.boundMs} ms per case`);
  return new Promise((resolve) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: input, resourceLimits: { maxOldGenerationSizeMb: options.memoryMb } });
    let lastRuns = 0;
    let lastChange = performance.now();
    let lastPrint = performance.now();
    let settled = false;
    const settle = (passed: boolean) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      resolve({ passed, runs: Atomics.load(counters, 0) });
    };
    const watchdog = setInterval(() => {
      const runs = Atomics.load(counters, 0);
      const now = performance.now();
      if (runs !== lastRuns) {
        lastRuns = runs;
        lastChange = now;
      }
      if (now - lastPrint >= 30_000) {
        lastPrint = now;
        const rate = runs / ((now - started) / 1000);
        log(`… ${format(runs)} runs, ${seconds(now - started)}, ${rate.toFixed(0)} runs/s`);
      }
      if (now - lastChange > options.hangSeconds * 1000) {
        const failing = Atomics.load(counters, 1);
        const run = failing > 0 ? failing - 1 : runs - 1;
        log(`HANG: run ${run} made no progress for ${options.hangSeconds} s${failing > 0 ? " (while shrinking an earlier failure)" : ""}`);
        log(`replay: ${replay(run)}`);
        void worker.terminate();
        settle(false);
      }
    }, 1000);
    worker.on("message", (report: WorkerReport) => {
      log(`${format(report.runs)} runs in ${seconds(report.ms)} (${(report.runs / (report.ms / 1000)).toFixed(0)} runs/s)`);
      if (report.kind === "surveyed") {
        for (const failure of report.failures) {
          log(`${failure.count}× ${failure.kind}`);
          log(`   first at run ${failure.run}: ${failure.counterexample.slice(0, 600)}`);
          log(`   ${failure.error.split("\n").slice(0, 4).join("\n     ")}`);
        }
        settle(report.failures.length === 0);
        return;
      }
      if (report.kind === "failed") {
        log(`FAILED after ${report.shrinks} shrinks: seed ${report.seed}, path ${report.path}`);
        log(`minimal counterexample: ${report.counterexample}`);
        log(`${report.error.split("\n").slice(0, 8).join("\n  ")}`);
        log(`replay: ${replay(report.path)}`);
      }
      settle(report.kind === "passed");
    });
    worker.on("error", (error) => {
      const runs = Atomics.load(counters, 0);
      log(`CRASH of the worker at run ${runs - 1}: ${error.message}`);
      log(`replay: ${replay(runs - 1)}`);
      settle(false);
    });
    worker.on("exit", (code) => {
      if (!settled) {
        log(`worker exited with ${code} before reporting`);
        settle(false);
      }
    });
  });
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const selected = options.suites.map((name) => SUITES.find((s) => s.name === name)! as Suite<unknown>);
  const shares = selected.reduce((n, s) => n + s.share, 0);
  let failed = 0;
  let runs = 0;
  for (const [i, suite] of selected.entries()) {
    // The last suite takes the rounding, so the counts add up to --count.
    const count = i === selected.length - 1 ? options.count - runs : Math.round((options.count * suite.share) / shares);
    runs += count;
    if (!(await runSuite(suite, { ...options, count }))) failed++;
  }
  console.log(`fuzz: ${format(options.count)} runs, ${selected.length - failed}/${selected.length} suites passed, ${seconds(performance.now() - started)} in all`);
  return failed > 0 ? 1 : 0;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
} else {
  runInWorker(workerData as WorkerInput);
}
