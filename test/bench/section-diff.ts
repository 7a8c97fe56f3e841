// Diff benchmark: two kube-proxy dumps of the same cluster, 1% of its services changed (a quarter scaled out,
// a quarter scaled in, a quarter deleted, a quarter new), compared at every level: in process after parsing, each
// level timed in turn on one SnapshotPair (services and traffic reuse what the levels before them found), and end
// to end as `iptscope diff OLD NEW`. A second NEW has the same changes with the service rules in another order, as
// each kube-proxy sync writes them (Go map order): the services and traffic levels must not see it.

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  diffSnapshots,
  DIFF_LEVELS,
  SnapshotPair,
  type DiffLevel,
  type RulesDiffSummary,
  type ServicesDiff,
  type TrafficDiff,
} from "../../src/analysis/diff/index.js";
import { parseRuleset } from "../../src/index.js";
import { generateCluster, groundTruth, mulberry32, renderDump, type Cluster } from "../support/kubegen.js";
import { formatNumber, median, timedSpawn, type BenchContext, type BenchSection, type Cell, type Check, type SectionResult } from "./harness.js";

const CHANGED_FRACTION = 0.01;
const LIMIT_S = 3;
const LIMIT_SIZE = 10_000;
/** Bump when the way the pair is made changes, so cached pairs are regenerated. */
const PAIR_VERSION = 4;

/** How many services each kind of change touched. */
interface PairChanges {
  changed: number;
  scaled: number;
  deleted: number;
  added: number;
  /** Service ports in both whose rules name other endpoints (a Local policy hides remote endpoints from the rules). */
  portsWithOtherEndpoints: number;
}

interface DumpPair extends PairChanges {
  oldFile: string;
  newFile: string;
  /** The same cluster as newFile, its services in another order. */
  shuffledFile: string;
}

/** The cluster before and after: `changed` services of the first `services` touched, new ones appended. */
function clusterPair(services: number): { before: Cluster; after: Cluster; shuffled: Cluster } & PairChanges {
  const changed = Math.max(4, Math.round(services * CHANGED_FRACTION));
  const added = Math.floor(changed / 4);
  const all = generateCluster({ services: services + added, endpointsPerService: 3, seed: 1 });
  const before: Cluster = { ...all, services: all.services.slice(0, services) };
  const after = structuredClone(all);
  const random = mulberry32(77);
  const picked = new Set<number>();
  while (picked.size < changed - added) picked.add(2 + Math.floor(random() * (services - 2)));
  const deleted = new Set<number>();
  let scaled = 0;
  [...picked].forEach((index, i) => {
    const service = after.services[index];
    if (i % 3 === 0) {
      const donor = after.services[2 + Math.floor(random() * (services - 2))].pods.find((p) => !service.pods.some((q) => q.ip === p.ip));
      service.pods.push(donor ?? { ip: service.clusterIP.replace(/\d+$/, "1"), local: false });
      scaled++;
    } else if (i % 3 === 1 && service.pods.length > 0) {
      service.pods.pop();
      scaled++;
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
  const endpointChains = new Map(groundTruth(before).map((t) => [`${t.key}/${t.protocol}`, t.chains.sep.join()]));
  const portsWithOtherEndpoints = groundTruth(after).filter((t) => {
    const chains = endpointChains.get(`${t.key}/${t.protocol}`);
    return chains !== undefined && chains !== t.chains.sep.join();
  }).length;
  return { before, after, shuffled: { ...after, services: order }, changed, scaled, deleted: deleted.size, added, portsWithOtherEndpoints };
}

function dumpPair(context: BenchContext, services: number): DumpPair {
  const base = path.join(context.benchDir, `diff-s${services}-${CHANGED_FRACTION * 100}pct-v${PAIR_VERSION}`);
  const oldFile = `${base}-old.txt`;
  const newFile = `${base}-new.txt`;
  const shuffledFile = `${base}-new-shuffled.txt`;
  const metaFile = `${base}.json`;
  if ([oldFile, newFile, shuffledFile, metaFile].every((file) => existsSync(file))) {
    return { oldFile, newFile, shuffledFile, ...(JSON.parse(readFileSync(metaFile, "utf8")) as PairChanges) };
  }
  context.log(`generating ${path.relative(context.root, base)}-{old,new,new-shuffled}.txt …`);
  const { before, after, shuffled, ...changes } = clusterPair(services);
  for (const [file, cluster] of [[oldFile, before], [newFile, after], [shuffledFile, shuffled]] as const) {
    const temporary = `${file}.tmp-${process.pid}`;
    writeFileSync(temporary, renderDump(cluster));
    renameSync(temporary, file);
  }
  writeFileSync(metaFile, JSON.stringify({ services, ...changes }) + "\n");
  return { oldFile, newFile, shuffledFile, ...changes };
}

interface Timing {
  parseMs: number;
  /** Each level in turn on one pair: what a level finds, the next reuses. */
  levelMs: Record<DiffLevel, number>;
  rules: RulesDiffSummary;
  services: ServicesDiff;
  traffic: TrafficDiff;
}

function timeDiff(context: BenchContext, oldFile: string, newFile: string): Timing {
  const start = performance.now();
  const oldResult = parseRuleset(readFileSync(oldFile, "utf8"));
  const newResult = parseRuleset(readFileSync(newFile, "utf8"));
  const parseMs = performance.now() - start;
  const samples: Record<DiffLevel, number[]> = { rules: [], services: [], traffic: [] };
  let levels: Partial<Record<DiffLevel, unknown>> = {};
  for (let i = 0; i <= context.runs; i++) {
    const pair = new SnapshotPair(oldResult.ruleset, newResult.ruleset);
    levels = {};
    for (const level of DIFF_LEVELS) {
      const levelStart = performance.now();
      levels[level] = diffSnapshots(pair, { levels: [level] }).levels[level];
      // The first run warms up the JIT.
      if (i > 0) samples[level].push(performance.now() - levelStart);
    }
  }
  const compared = <L extends DiffLevel>(level: L) => {
    const outcome = levels[level] as { status: string } | undefined;
    if (outcome?.status !== "compared") throw new Error(`the ${level} level was not compared`);
    return outcome as unknown as L extends "services" ? ServicesDiff : L extends "traffic" ? TrafficDiff : { summary: RulesDiffSummary };
  };
  return {
    parseMs,
    levelMs: { rules: median(samples.rules), services: median(samples.services), traffic: median(samples.traffic) },
    rules: compared("rules").summary,
    services: compared("services"),
    traffic: compared("traffic"),
  };
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

/** What the services and traffic levels found, without where in the files it is (the shuffle moves lines). */
function levelFindings(timing: Timing): string {
  const services = timing.services.servicePorts.map((d) => `${d.kind} ${d.kind === "removed" ? d.old.key : d.new.key} ${JSON.stringify(d.kind === "changed" ? d.changes.map((c) => c.kind) : [])}`);
  const traffic = timing.traffic.changes.map((c) => `${c.target.destination}:${c.target.port}/${c.target.protocol} ${c.origin} ${JSON.stringify(c.old)} ${JSON.stringify(c.new)}`);
  return JSON.stringify([services.sort(), traffic.sort()]);
}

export const diffSection: BenchSection = {
  name: "diff",
  description: "diff of two kube-proxy dumps differing in 1% of services, every level",
  run(context: BenchContext): SectionResult {
    const rows: Record<string, Cell>[] = [];
    const checks: Check[] = [];
    const notes = [
      "parse: both dumps; rules, services, traffic ms: each level in turn on one SnapshotPair (median), what the rules level found reused by the others; CLI s: wall time of `iptscope diff OLD NEW` (every level, both parses included)",
      "services: service ports +added -removed ~changed; traffic: packets (target and origin) that fare differently, of targets traced / all targets",
    ];
    for (const services of context.sizes) {
      const pair = dumpPair(context, services);
      context.log(`diff: ${services} services, ${pair.changed} changed`);
      const variants = [
        { name: "1% changed", newFile: pair.newFile },
        { name: "1% changed, shuffled", newFile: pair.shuffledFile },
      ];
      const timings: Timing[] = [];
      for (const variant of variants) {
        const timing = timeDiff(context, pair.oldFile, variant.newFile);
        const cli = timeCli(context, pair.oldFile, variant.newFile);
        const s = timing.rules;
        const sp = timing.services.summary;
        const t = timing.traffic.summary;
        timings.push(timing);
        rows.push({
          services: formatNumber(services),
          pair: variant.name,
          changed: formatNumber(pair.changed),
          parse: formatNumber(timing.parseMs),
          rulesMs: formatNumber(timing.levelMs.rules),
          servicesMs: formatNumber(timing.levelMs.services),
          trafficMs: formatNumber(timing.levelMs.traffic),
          cli: "error" in cli ? "failed" : cli.medianS.toFixed(2),
          chains: `+${s.chainsAdded} -${s.chainsRemoved} ~${s.chainsChanged}`,
          rules: `+${s.rulesAdded} -${s.rulesRemoved} ~${s.rulesMoved}`,
          reordered: formatNumber(s.rulesReordered),
          servicePorts: `+${sp.servicePortsAdded} -${sp.servicePortsRemoved} ~${sp.servicePortsChanged}`,
          traffic: `${formatNumber(t.changed)} (${formatNumber(t.targetsTraced)}/${formatNumber(t.targets)})`,
        });
        if ("error" in cli) notes.push(`CLI @${services} (${variant.name}): ${cli.error}`);
        if (services === LIMIT_SIZE) {
          const inProcess = timing.parseMs + timing.levelMs.rules + timing.levelMs.services + timing.levelMs.traffic;
          checks.push({
            name: `iptscope diff @${formatNumber(services)}, ${variant.name} (${DIFF_LEVELS.join("+")})`,
            measured: "error" in cli ? "failed" : `${cli.medianS.toFixed(2)} s`,
            target: `≤ ${LIMIT_S} s (all levels)`,
            pass: "error" in cli ? false : cli.medianS <= LIMIT_S,
            note:
              "error" in cli
                ? cli.error
                : `in process: parse ${formatNumber(timing.parseMs)} ms, rules ${formatNumber(timing.levelMs.rules)}, services ${formatNumber(timing.levelMs.services)}, traffic ${formatNumber(timing.levelMs.traffic)} (${formatNumber(inProcess)} ms)`,
          });
        }
      }
      const [plain, shuffled] = timings;
      const found = plain.rules.chainsAdded + plain.rules.chainsRemoved + plain.rules.chainsChanged;
      const sameChanges = plain.rules.rulesReordered === 0 && JSON.stringify({ ...shuffled.rules, rulesReordered: 0 }) === JSON.stringify(plain.rules);
      checks.push({
        name: `@${formatNumber(services)}: changes found, the shuffle only reordered`,
        measured: `${found} chains; shuffled: ${sameChanges ? "same" : "other"} changes`,
        target: "> 0 chains, same changes",
        pass: found > 0 && sameChanges,
      });
      const sp = plain.services.summary;
      const servicesFound = sp.servicesAdded === pair.added && sp.servicesRemoved === pair.deleted && sp.servicePortsChanged === pair.portsWithOtherEndpoints;
      const sameFindings = levelFindings(plain) === levelFindings(shuffled);
      checks.push({
        name: `@${formatNumber(services)}: services +${pair.added} -${pair.deleted}, ${pair.portsWithOtherEndpoints} ports with other endpoints, as made; the same in the shuffle`,
        measured: `+${sp.servicesAdded} -${sp.servicesRemoved}, ~${sp.servicePortsChanged} ports; shuffled: ${sameFindings ? "same" : "other"} services and traffic`,
        target: "as made, and the same",
        pass: servicesFound && sameFindings && plain.traffic.summary.changed > 0,
      });
    }
    return {
      title: "Diff (1% of services changed)",
      columns: [
        { key: "services", title: "services" },
        { key: "pair", title: "NEW", numeric: false },
        { key: "changed", title: "changed" },
        { key: "parse", title: "parse both ms" },
        { key: "rulesMs", title: "rules ms" },
        { key: "servicesMs", title: "services ms" },
        { key: "trafficMs", title: "traffic ms" },
        { key: "cli", title: "CLI s" },
        { key: "chains", title: "chains +/-/~", numeric: false },
        { key: "rules", title: "rules +/-/moved", numeric: false },
        { key: "reordered", title: "reordered" },
        { key: "servicePorts", title: "service ports +/-/~", numeric: false },
        { key: "traffic", title: "packets changed (traced/targets)", numeric: false },
      ],
      rows,
      checks,
      notes,
    };
  },
};
