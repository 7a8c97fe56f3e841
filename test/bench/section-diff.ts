// Diff benchmark: two kube-proxy dumps of the same cluster, 1% of its services changed (a quarter scaled out,
// a quarter scaled in, a quarter deleted, a quarter new), compared at every level iptscope has: in process
// after parsing, and end to end as `iptscope diff OLD NEW`. A second NEW has the same changes with the service
// rules in another order, as each kube-proxy sync writes them (Go map order).

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { diffRulesets, levelAvailability, DIFF_LEVELS, type RulesDiffSummary } from "../../src/analysis/diff/index.js";
import { parseRuleset } from "../../src/index.js";
import { generateCluster, mulberry32, renderDump, type Cluster } from "../support/kubegen.js";
import { formatNumber, median, timedSpawn, type BenchContext, type BenchSection, type Cell, type Check, type SectionResult } from "./harness.js";

const CHANGED_FRACTION = 0.01;
const LIMIT_S = 3;
const LIMIT_SIZE = 10_000;
/** Bump when the way the pair is made changes, so cached pairs are regenerated. */
const PAIR_VERSION = 2;

interface DumpPair {
  oldFile: string;
  newFile: string;
  /** The same cluster as newFile, its services in another order. */
  shuffledFile: string;
  changed: number;
}

/** The cluster before and after: `changed` services of the first `services` touched, new ones appended. */
function clusterPair(services: number): { before: Cluster; after: Cluster; shuffled: Cluster; changed: number } {
  const changed = Math.max(4, Math.round(services * CHANGED_FRACTION));
  const added = Math.floor(changed / 4);
  const all = generateCluster({ services: services + added, endpointsPerService: 3, seed: 1 });
  const before: Cluster = { ...all, services: all.services.slice(0, services) };
  const after = structuredClone(all);
  const random = mulberry32(77);
  const picked = new Set<number>();
  while (picked.size < changed - added) picked.add(2 + Math.floor(random() * (services - 2)));
  const deleted = new Set<number>();
  [...picked].forEach((index, i) => {
    const service = after.services[index];
    if (i % 3 === 0) {
      const donor = after.services[2 + Math.floor(random() * (services - 2))].pods.find((p) => !service.pods.some((q) => q.ip === p.ip));
      service.pods.push(donor ?? { ip: service.clusterIP.replace(/\d+$/, "1"), local: false });
    } else if (i % 3 === 1 && service.pods.length > 0) {
      service.pods.pop();
    } else {
      deleted.add(index);
    }
  });
  after.services = after.services.filter((_, index) => !deleted.has(index));
  const order = [...after.services];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { before, after, shuffled: { ...after, services: order }, changed };
}

function dumpPair(context: BenchContext, services: number): DumpPair {
  const base = path.join(context.benchDir, `diff-s${services}-${CHANGED_FRACTION * 100}pct-v${PAIR_VERSION}`);
  const oldFile = `${base}-old.txt`;
  const newFile = `${base}-new.txt`;
  const shuffledFile = `${base}-new-shuffled.txt`;
  const metaFile = `${base}.json`;
  if ([oldFile, newFile, shuffledFile, metaFile].every((file) => existsSync(file))) {
    return { oldFile, newFile, shuffledFile, changed: (JSON.parse(readFileSync(metaFile, "utf8")) as { changed: number }).changed };
  }
  context.log(`generating ${path.relative(context.root, base)}-{old,new,new-shuffled}.txt …`);
  const { before, after, shuffled, changed } = clusterPair(services);
  for (const [file, cluster] of [[oldFile, before], [newFile, after], [shuffledFile, shuffled]] as const) {
    const temporary = `${file}.tmp-${process.pid}`;
    writeFileSync(temporary, renderDump(cluster));
    renameSync(temporary, file);
  }
  writeFileSync(metaFile, JSON.stringify({ services, changed }) + "\n");
  return { oldFile, newFile, shuffledFile, changed };
}

interface Timing {
  parseMs: number;
  diffMs: number;
  summary: RulesDiffSummary;
}

function timeDiff(context: BenchContext, oldFile: string, newFile: string): Timing {
  let start = performance.now();
  const oldResult = parseRuleset(readFileSync(oldFile, "utf8"));
  const newResult = parseRuleset(readFileSync(newFile, "utf8"));
  const parseMs = performance.now() - start;
  const samples: number[] = [];
  let diff = diffRulesets(oldResult.ruleset, newResult.ruleset);
  for (let i = 0; i < context.runs; i++) {
    start = performance.now();
    diff = diffRulesets(oldResult.ruleset, newResult.ruleset);
    samples.push(performance.now() - start);
  }
  const rules = diff.levels.rules;
  if (rules?.status !== "compared") throw new Error("the rules level was not compared");
  return { parseMs, diffMs: median(samples), summary: rules.summary };
}

function timeCli(context: BenchContext, oldFile: string, newFile: string): { medianS: number } | { error: string } {
  const bin = path.join(context.root, "bin", "iptscope.js");
  const times: number[] = [];
  for (let i = 0; i < context.runs; i++) {
    const run = timedSpawn(process.execPath, [bin, "diff", oldFile, newFile], { cwd: context.root, stdio: ["ignore", "ignore", "pipe"] });
    if (run.error !== undefined) return { error: run.error.message };
    if (run.status !== 1) return { error: `exit ${run.status} (expected 1: differences): ${run.stderr.trim().split("\n")[0] ?? ""}` };
    times.push(run.ms / 1000);
  }
  return { medianS: median(times) };
}

export const diffSection: BenchSection = {
  name: "diff",
  description: "diff of two kube-proxy dumps differing in 1% of services, every available level",
  run(context: BenchContext): SectionResult {
    const available = DIFF_LEVELS.filter((level) => levelAvailability(level).available);
    const rows: Record<string, Cell>[] = [];
    const checks: Check[] = [];
    const notes = [
      `levels compared: ${available.join(", ")}; not yet available: ${DIFF_LEVELS.filter((l) => !available.includes(l)).join(", ") || "none"}`,
      "diff ms: diffRulesets() alone on parsed dumps (median); CLI s: wall time of `iptscope diff OLD NEW`, both parses included",
    ];
    for (const services of context.sizes) {
      const pair = dumpPair(context, services);
      context.log(`diff: ${services} services, ${pair.changed} changed`);
      const variants = [
        { name: "1% changed", newFile: pair.newFile },
        { name: "1% changed, shuffled", newFile: pair.shuffledFile },
      ];
      const summaries: RulesDiffSummary[] = [];
      for (const variant of variants) {
        const timing = timeDiff(context, pair.oldFile, variant.newFile);
        const cli = timeCli(context, pair.oldFile, variant.newFile);
        const s = timing.summary;
        summaries.push(s);
        rows.push({
          services: formatNumber(services),
          pair: variant.name,
          changed: formatNumber(pair.changed),
          parse: formatNumber(timing.parseMs),
          diff: formatNumber(timing.diffMs),
          cli: "error" in cli ? "failed" : cli.medianS.toFixed(2),
          chains: `+${s.chainsAdded} -${s.chainsRemoved} ~${s.chainsChanged}`,
          rules: `+${s.rulesAdded} -${s.rulesRemoved} ~${s.rulesMoved}`,
          reordered: formatNumber(s.rulesReordered),
        });
        if ("error" in cli) notes.push(`CLI @${services} (${variant.name}): ${cli.error}`);
        if (services === LIMIT_SIZE) {
          checks.push({
            name: `iptscope diff @${formatNumber(services)}, ${variant.name} (${available.join("+")})`,
            measured: "error" in cli ? "failed" : `${cli.medianS.toFixed(2)} s`,
            target: `≤ ${LIMIT_S} s (all levels)`,
            pass: "error" in cli ? false : cli.medianS <= LIMIT_S,
            note: "error" in cli ? cli.error : undefined,
          });
        }
      }
      const [plain, shuffled] = summaries;
      const found = plain.chainsAdded + plain.chainsRemoved + plain.chainsChanged;
      const sameChanges = plain.rulesReordered === 0 && JSON.stringify({ ...shuffled, rulesReordered: 0 }) === JSON.stringify(plain);
      checks.push({
        name: `@${formatNumber(services)}: changes found, the shuffle only reordered`,
        measured: `${found} chains; shuffled: ${sameChanges ? "same" : "other"} changes`,
        target: "> 0 chains, same changes",
        pass: found > 0 && sameChanges,
      });
    }
    return {
      title: "Diff (1% of services changed)",
      columns: [
        { key: "services", title: "services" },
        { key: "pair", title: "NEW", numeric: false },
        { key: "changed", title: "changed" },
        { key: "parse", title: "parse both ms" },
        { key: "diff", title: "diff ms" },
        { key: "cli", title: "CLI s" },
        { key: "chains", title: "chains +/-/~", numeric: false },
        { key: "rules", title: "rules +/-/moved", numeric: false },
        { key: "reordered", title: "reordered" },
      ],
      rows,
      checks,
      notes,
    };
  },
};
