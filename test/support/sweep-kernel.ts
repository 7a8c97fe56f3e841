// The long kernel-agreement sweep over random rulesets (test/support/tracegen.ts):
//
//   npm run sweep:kernel -- --seeds 300 --start 1 [--flows 12] [--family ipv4|ipv6] [--backend nft|legacy] [--no-minimize]
//   npm run sweep:kernel -- --case repro.json    (one case: {"family", "ruleset", "flows"} in the generator's lab)
//
// For each seed it loads the generated ruleset into a packet lab, sends the flows, and judges every packet with
// test/support/agreement.ts. It prints one line per seed, every disagreement with a minimal repro (the ruleset
// cut down to the rules the disagreement needs, the flow, the tracer's prediction with its paths, the kernel's
// observation) and the totals. Exit status: 0 all agreed, 1 a disagreement or a lab error, 2 no usable lab.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { judgeFlow, labContext, sampledFlows, tracersFor, type AgreementTracers, type FlowVerdict } from "./agreement.js";
import { NetLab, netlabStatus, type LabFlow, type LabObservation, type LabTopology } from "./netlab.js";
import type { Backend, Family } from "./kernel.js";
import { generateTraceCase, traceTopology, type TraceCase } from "./tracegen.js";

interface Arguments {
  seeds: number;
  start: number;
  flows: number;
  family?: Family;
  backend: Backend;
  minimize: boolean;
  /** A JSON file holding one case to run instead of generated ones. */
  caseFile?: string;
}

const USAGE = "usage: sweep:kernel -- --seeds N [--start S] [--flows F] [--family ipv4|ipv6] [--backend nft|legacy] [--no-minimize] | --case FILE";
// Each minimisation step is one lab run (about half a second); a greedy pass over a ruleset stays well below this.
const MAX_MINIMIZE_RUNS = 400;

function parseArguments(argv: readonly string[]): Arguments {
  const result: Arguments = { seeds: 20, start: 1, flows: 12, backend: "nft", minimize: true };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argument} needs a value\n${USAGE}`);
      return next;
    };
    const count = (text: string, least: number) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < least) throw new Error(`${argument}: expected an integer ≥ ${least}, got "${text}"\n${USAGE}`);
      return n;
    };
    switch (argument) {
      case "--seeds":
        result.seeds = count(value(), 1);
        break;
      case "--start":
        result.start = count(value(), 0);
        break;
      case "--flows":
        result.flows = count(value(), 1);
        break;
      case "--family": {
        const family = value();
        if (family !== "ipv4" && family !== "ipv6") throw new Error(`--family: ipv4 or ipv6\n${USAGE}`);
        result.family = family;
        break;
      }
      case "--backend": {
        const backend = value();
        if (backend !== "nft" && backend !== "legacy") throw new Error(`--backend: nft or legacy\n${USAGE}`);
        result.backend = backend;
        break;
      }
      case "--no-minimize":
        result.minimize = false;
        break;
      case "--case":
        result.caseFile = value();
        break;
      default:
        throw new Error(`unknown argument "${argument}"\n${USAGE}`);
    }
  }
  return result;
}

async function observe(ruleset: string, topology: LabTopology, flows: LabFlow[], backend: Backend): Promise<LabObservation[]> {
  const lab = await NetLab.open(ruleset, topology, { backend });
  try {
    return await lab.run(flows);
  } finally {
    await lab.close();
  }
}

interface Repro {
  ruleset: string;
  rulesBefore: number;
  verdict: FlowVerdict;
  observation: LabObservation;
}

const isRule = (line: string) => line.startsWith("-A ");

/** Drops rules one at a time, last first, keeping each removal after which the flow still disagrees. */
async function minimize(ruleset: string, topology: LabTopology, flow: LabFlow, backend: Backend, first: { verdict: FlowVerdict; observation: LabObservation }): Promise<Repro> {
  let lines = ruleset.trimEnd().split("\n");
  let best = { ...first };
  let runs = 0;
  const rulesBefore = lines.filter(isRule).length;
  for (let i = lines.length - 1; i >= 0 && runs < MAX_MINIMIZE_RUNS; i--) {
    if (!isRule(lines[i]!)) continue;
    const candidate = [...lines.slice(0, i), ...lines.slice(i + 1)];
    const text = candidate.join("\n") + "\n";
    runs++;
    try {
      const [observation] = await observe(text, topology, [flow], backend);
      const verdict = judgeFlow(tracersFor(text, topology.family), text, topology, observation!);
      if (verdict.problems.length > 0) {
        lines = candidate;
        best = { verdict, observation: observation! };
      }
    } catch (error) {
      // The rule stays; say why, since a lab error here is worth knowing about.
      console.error(`minimize: without "${lines[i]}": ${(error as Error).message.split("\n")[0]}`);
    }
  }
  return { ruleset: lines.join("\n") + "\n", rulesBefore, ...best };
}

function printRepro(seed: number, index: number, repro: Repro, topology: LabTopology): void {
  const { verdict, observation } = repro;
  const flow = verdict.flow;
  const out: string[] = [];
  out.push(`\n=== disagreement: seed ${seed}, flow ${index + 1} ===`);
  out.push(`flow: ${JSON.stringify(flow)}`);
  out.push(`context: ${JSON.stringify({ ...labContext(topology, flow, repro.ruleset), ipsets: undefined })}`);
  out.push("problems:", ...verdict.problems.map((p) => `  ${p}`));
  out.push(`ruleset (${repro.ruleset.split("\n").filter(isRule).length} of ${repro.rulesBefore} rules):`, repro.ruleset.trimEnd());
  out.push("prediction:");
  for (const o of verdict.prediction.outcomes) {
    const p = o.packet;
    out.push(
      `  ${o.probability.toFixed(4)} ${o.verdict}${o.delivery ? "/" + o.delivery : ""}${o.outInterface ? " via " + o.outInterface : ""} ` +
        `${p.src}:${p.sportRandom ? "random" : p.sport} → ${p.dst}:${p.dport}${o.masquerade ? " (masquerade)" : ""}` +
        `${o.uncertain.length ? " uncertain: " + o.uncertain.map((u) => `${u.kind} ${u.subject} = ${u.assumed}`).join("; ") : ""}`,
    );
    for (const s of o.path) out.push(`      ${s.hook} ${s.table}/${s.chain} #${s.rule} (line ${s.line}): ${s.text} → ${s.action}`);
  }
  out.push("observation:");
  for (const p of observation.perPacket) {
    const fate = p.fate;
    const packet = "packet" in fate ? ` ${fate.packet.src}:${fate.packet.sport} → ${fate.packet.dst}:${fate.packet.dport}` : "";
    out.push(`  sport ${p.sport}: ${fate.kind}${"interface" in fate ? " via " + fate.interface : ""}${packet}${p.responses.length ? " responses " + JSON.stringify(p.responses) : ""}${p.sendError ? " sendError " + p.sendError : ""}`);
  }
  for (const h of observation.ruleHits) out.push(`  counted ${h.packets}: ${h.table}/${h.chain} #${h.position} ${h.rule}`);
  for (const h of observation.policyHits) out.push(`  counted ${h.packets}: ${h.table}/${h.chain} policy ${h.policy}`);
  console.log(out.join("\n"));
}

function readCase(file: string): TraceCase {
  const data = JSON.parse(readFileSync(file, "utf8")) as { family?: Family; ruleset?: string; flows?: LabFlow[] };
  if ((data.family !== "ipv4" && data.family !== "ipv6") || typeof data.ruleset !== "string" || !Array.isArray(data.flows)) {
    throw new Error(`${file}: expected {"family": "ipv4"|"ipv6", "ruleset": "…", "flows": [...]}`);
  }
  return { seed: 0, family: data.family, ruleset: data.ruleset, topology: traceTopology(data.family), flows: data.flows };
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2));
  const status = netlabStatus();
  if (!status.usable) {
    console.error(`sweep:kernel: no packet lab here: ${status.reason}`);
    return 2;
  }
  const tally = { seeds: 0, flows: 0, agreedFlows: 0, packets: 0, agreedPackets: 0, disagreements: 0, labErrors: 0 };
  const coverage = new Coverage();
  const started = performance.now();
  const cases: (() => TraceCase)[] = args.caseFile
    ? [() => readCase(args.caseFile!)]
    : Array.from({ length: args.seeds }, (_, i) => () => generateTraceCase(args.start + i, { flows: args.flows, ...(args.family ? { family: args.family } : {}) }));
  for (const next of cases) {
    const testCase = next();
    const seed = testCase.seed;
    const { ruleset, topology } = testCase;
    tally.seeds++;
    let observations: LabObservation[];
    let tracers: AgreementTracers;
    try {
      tracers = tracersFor(ruleset, topology.family);
      observations = await observe(ruleset, topology, sampledFlows(tracers, ruleset, topology, testCase.flows), args.backend);
    } catch (error) {
      tally.labErrors++;
      console.log(`seed ${seed} (${testCase.family}): lab error: ${(error as Error).message}\n${ruleset}`);
      continue;
    }
    let agreed = 0;
    coverage.addRuleset(ruleset, observations);
    for (const [index, observation] of observations.entries()) {
      const verdict = judgeFlow(tracers, ruleset, topology, observation);
      coverage.addFlow(observation, verdict);
      const packets = observation.perPacket.length;
      tally.flows++;
      tally.packets += packets;
      if (verdict.problems.length === 0) {
        agreed++;
        tally.agreedFlows++;
        tally.agreedPackets += packets;
        continue;
      }
      tally.disagreements++;
      const repro = args.minimize
        ? await minimize(ruleset, topology, observation.flow, args.backend, { verdict, observation })
        : { ruleset, rulesBefore: ruleset.split("\n").filter(isRule).length, verdict, observation };
      printRepro(seed, index, repro, topology);
    }
    console.log(`seed ${seed} (${testCase.family}, ${ruleset.split("\n").filter(isRule).length} rules): ${agreed}/${observations.length} flows agree`);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `\nsweep: ${args.caseFile ?? `seeds ${args.start}..${args.start + args.seeds - 1}`} (${args.backend}): ${tally.agreedFlows}/${tally.flows} flows and ` +
      `${tally.agreedPackets}/${tally.packets} packets agree; ${tally.disagreements} disagreement(s), ${tally.labErrors} lab error(s); ${seconds} s`,
  );
  console.log(coverage.describe());
  return tally.disagreements > 0 || tally.labErrors > 0 ? 1 : 0;
}

/** What the sweep exercised, from the kernel's side: fates, rewrites, rules counted, predictions that branched. */
class Coverage {
  private readonly fates = new Map<string, number>();
  private rules = 0;
  private rulesCounted = 0;
  private dnat = 0;
  private snat = 0;
  private branched = 0;
  private uncertain = 0;
  private readonly uncertainKinds = new Map<string, number>();

  addRuleset(ruleset: string, observations: LabObservation[]): void {
    this.rules += ruleset.split("\n").filter(isRule).length;
    this.rulesCounted += new Set(observations.flatMap((o) => o.ruleHits.map((h) => `${h.table} ${h.chain} ${h.position}`))).size;
  }

  addFlow(observation: LabObservation, verdict: FlowVerdict): void {
    const { flow } = observation;
    for (const p of observation.perPacket) {
      const fate = p.fate.kind === "dropped" && p.responses.length > 0 ? "rejected" : p.fate.kind;
      this.fates.set(fate, (this.fates.get(fate) ?? 0) + 1);
      if ("packet" in p.fate) {
        if (p.fate.packet.dst !== flow.dst || p.fate.packet.dport !== flow.dport) this.dnat++;
        if (p.fate.packet.src !== flow.src) this.snat++;
      }
    }
    if (verdict.prediction.outcomes.length > 1) this.branched++;
    if (verdict.prediction.outcomes.some((o) => o.uncertain.length > 0)) this.uncertain++;
    for (const kind of new Set(verdict.prediction.outcomes.flatMap((o) => o.uncertain.map((u) => u.kind)))) {
      this.uncertainKinds.set(kind, (this.uncertainKinds.get(kind) ?? 0) + 1);
    }
  }

  describe(): string {
    const fates = [...this.fates].sort().map(([k, n]) => `${k} ${n}`).join(", ");
    return (
      `coverage: packets ${fates}; destination rewritten ${this.dnat}, source rewritten ${this.snat}; ` +
      `${this.rulesCounted} of ${this.rules} rules counted a packet; ${this.branched} flows predicted more than one outcome, ${this.uncertain} with an uncertain one` +
      (this.uncertainKinds.size > 0 ? ` (${[...this.uncertainKinds].map(([k, n]) => `${k} ${n}`).join(", ")})` : "")
    );
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
