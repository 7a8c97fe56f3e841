// `npm run bench`: builds, then runs `node --expose-gc dist/test/bench/bench.js [options]`.
//
//   --only parse,cli         run only these sections
//   --sizes 1000,10000       service counts for the size-based sections (default 1000,10000,50000)
//   --runs 3                 runs per timed measurement (median is reported)
//   --strict                 exit 1 if any check fails
//
// Prints one table per section plus pass/fail checks against the targets, and writes
// everything to .bench/last.json. Generated fixtures are cached in .bench/ (git-ignored).
//
// To add a section (trace, services, where, diff, SVG, …): write a BenchSection in a
// section-*.ts file — typically one row per size from kubeFixture(context, services),
// timing child processes with timedSpawn() — and append it to `sections` below.

import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findRepoRoot, renderChecks, renderTable, type BenchContext, type BenchSection, type SectionResult } from "./harness.js";
import { cliStartSection } from "./section-cli.js";
import { diffSection } from "./section-diff.js";
import { graphSection } from "./section-graph.js";
import { kubeSection } from "./section-kube.js";
import { limitsSection } from "./section-limits.js";
import { parseSection } from "./section-parse.js";
import { traceSection } from "./section-trace.js";

const sections: BenchSection[] = [parseSection, cliStartSection, traceSection, diffSection, kubeSection, graphSection, limitsSection];

interface Arguments {
  only?: string[];
  sizes: number[];
  runs: number;
  strict: boolean;
}

function parseArguments(argv: readonly string[]): Arguments {
  const result: Arguments = { sizes: [1_000, 10_000, 50_000], runs: 3, strict: false };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argument} needs a value`);
      return next;
    };
    switch (argument) {
      case "--only":
        result.only = value().split(",");
        break;
      case "--sizes":
        result.sizes = value().split(",").map((s) => Number(s.replace(/k$/i, "000")));
        if (result.sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error("--sizes takes positive integers, e.g. 1000,10k");
        break;
      case "--runs":
        result.runs = Number(value());
        if (!Number.isInteger(result.runs) || result.runs < 1) throw new Error("--runs takes a positive integer");
        break;
      case "--strict":
        result.strict = true;
        break;
      case "-h":
      case "--help":
        console.log("usage: bench.js [--only parse,cli] [--sizes 1000,10000,50000] [--runs 3] [--strict]");
        console.log(`sections: ${sections.map((s) => `${s.name} (${s.description})`).join("; ")}`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${argument} (try --help)`);
    }
  }
  if (result.only) {
    const unknown = result.only.filter((name) => !sections.some((s) => s.name === name));
    if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(", ")}; known: ${sections.map((s) => s.name).join(", ")}`);
  }
  return result;
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2));
  const root = findRepoRoot();
  const benchDir = path.join(root, ".bench");
  mkdirSync(benchDir, { recursive: true });
  const context: BenchContext = { root, benchDir, sizes: args.sizes, runs: args.runs, log: (message) => console.error(`· ${message}`) };

  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const environment = {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu,
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
  const startedAt = new Date().toISOString();
  console.log(`iptscope bench — ${startedAt}`);
  console.log(`${environment.node}, ${environment.platform}, ${environment.cpus}× ${cpu}, ${environment.memoryGiB} GiB\n`);

  const results: (SectionResult & { name: string })[] = [];
  let failed = false;
  for (const section of sections) {
    if (args.only && !args.only.includes(section.name)) continue;
    let result: SectionResult;
    try {
      result = await section.run(context);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      result = { title: section.name, columns: [], rows: [], checks: [{ name: `${section.name} section`, measured: "crashed", target: "runs", pass: false }], notes: [message] };
    }
    results.push({ name: section.name, ...result });
    if (result.checks.some((c) => c.pass === false)) failed = true;

    console.log(`== ${result.title} ==`);
    if (result.columns.length > 0) console.log(renderTable(result.columns, result.rows));
    const checks = renderChecks(result.checks);
    if (checks) console.log(`\n${checks}`);
    for (const note of result.notes) console.log(`  note: ${note}`);
    console.log("");
  }

  const report = { startedAt, finishedAt: new Date().toISOString(), environment, arguments: args, sections: results };
  const output = path.join(benchDir, "last.json");
  writeFileSync(output, JSON.stringify(report, null, 2) + "\n");
  console.log(`results written to ${path.relative(process.cwd(), output) || output}`);
  return args.strict && failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
