// Trace benchmark: one packet traced through the kube-proxy dumps, after the ruleset is loaded,
// next to the same tracer without its chain index (a linear scan of every rule) as the baseline.

import { readFileSync } from "node:fs";
import { defaultContext } from "../../src/analysis/trace/context.js";
import type { PacketSpec } from "../../src/analysis/trace/types.js";
import { createTracer, type Tracer } from "../../src/analysis/trace/walk.js";
import { parseRuleset } from "../../src/index.js";
import type { Ruleset } from "../../src/model/types.js";
import { formatNumber, kubeFixture, median, type BenchContext, type BenchSection, type Cell, type Check, type SectionResult } from "./harness.js";

const TRACE_LIMIT_MS = 2;
const LIMIT_SIZE = 10_000;
const PACKETS = 300;

/** Cluster-IP frontends (`-d IP/32 -p PROTO --dport N`) of nat KUBE-SERVICES. */
function frontends(ruleset: Ruleset): PacketSpec[] {
  const chain = ruleset.tables.find((t) => t.name === "nat")?.chains.find((c) => c.name === "KUBE-SERVICES");
  const found: PacketSpec[] = [];
  for (const rule of chain?.rules ?? []) {
    const dport = rule.matches.flatMap((m) => m.options).find((o) => o.name === "dport")?.value;
    if (!rule.destination || rule.destination.negated || !rule.protocol || dport?.kind !== "port-range") continue;
    found.push({ src: "10.128.0.5", dst: rule.destination.value.address, protocol: rule.protocol.value.number ?? 6, sport: 40000, dport: dport.range.from });
  }
  return found;
}

interface Timing {
  firstMs: number;
  medianMs: number;
  p95Ms: number;
  outcomes: number;
}

function time(tracer: Tracer, packets: PacketSpec[]): Timing {
  const context = defaultContext({ origin: "pod" });
  let start = process.hrtime.bigint();
  tracer.trace(packets[0]!, context);
  const firstMs = Number(process.hrtime.bigint() - start) / 1e6;
  const samples: number[] = [];
  let outcomes = 0;
  for (const packet of packets) {
    start = process.hrtime.bigint();
    outcomes += tracer.trace(packet, context).outcomes.length;
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { firstMs, medianMs: median(samples), p95Ms: samples[Math.floor(samples.length * 0.95)]!, outcomes };
}

export const traceSection: BenchSection = {
  name: "trace",
  description: "one trace on the kube-proxy dumps after loading, indexed vs linear scan",
  run(context: BenchContext): SectionResult {
    const rows: Record<string, Cell>[] = [];
    const checks: Check[] = [];
    for (const services of context.sizes) {
      const fixture = kubeFixture(context, services);
      const { ruleset } = parseRuleset(readFileSync(fixture.file, "utf8"));
      const all = frontends(ruleset);
      const step = Math.max(1, Math.floor(all.length / PACKETS));
      const packets = all.filter((_, i) => i % step === 0).slice(0, PACKETS);
      context.log(`trace: ${formatNumber(services)} services, ${packets.length} packets …`);
      const indexed = time(createTracer(ruleset), packets);
      const linear = time(createTracer(ruleset, { index: false }), packets);
      rows.push({
        services: formatNumber(services),
        packets: packets.length,
        first: indexed.firstMs.toFixed(1),
        median: indexed.medianMs.toFixed(3),
        p95: indexed.p95Ms.toFixed(3),
        linearMedian: linear.medianMs.toFixed(3),
        speedup: `${(linear.medianMs / indexed.medianMs).toFixed(1)}×`,
        outcomes: (indexed.outcomes / packets.length).toFixed(2),
      });
      if (services === LIMIT_SIZE) {
        checks.push({ name: `trace median @${formatNumber(services)}`, measured: `${indexed.medianMs.toFixed(3)} ms`, target: `≤ ${TRACE_LIMIT_MS} ms`, pass: indexed.medianMs <= TRACE_LIMIT_MS });
      }
      checks.push({
        name: `indexed = linear outcomes @${formatNumber(services)}`,
        measured: `${indexed.outcomes}/${linear.outcomes}`,
        target: "equal",
        pass: indexed.outcomes === linear.outcomes,
      });
    }
    return {
      title: "Trace",
      columns: [
        { key: "services", title: "services" },
        { key: "packets", title: "packets" },
        { key: "first", title: "first trace ms" },
        { key: "median", title: "median ms" },
        { key: "p95", title: "p95 ms" },
        { key: "linearMedian", title: "linear-scan median ms" },
        { key: "speedup", title: "speedup" },
        { key: "outcomes", title: "outcomes/trace" },
      ],
      rows,
      checks,
      notes: [
        "packets: UDP/TCP from a pod to cluster IPs spread over nat KUBE-SERVICES; times exclude parsing; the first trace compiles the chains it meets.",
        "linear-scan: the same tracer with its destination index off (every rule of KUBE-SERVICES tested), measured in the same run.",
      ],
    };
  },
};
