// The tracer against the kernel: for a ruleset, a lab topology and flows, predict each packet's fate
// with the tracer and compare it with what the packet lab observed. A disagreement is returned as
// text naming the flow, the packet, the prediction and the observation.

import { defaultContext } from "../../src/analysis/trace/context.js";
import { parseIpsetSave } from "../../src/analysis/trace/ipset.js";
import type { NodeAddress, Outcome, Route, TraceContext, TraceResult } from "../../src/analysis/trace/types.js";
import { createTracer, type Tracer } from "../../src/analysis/trace/walk.js";
import { formatEndpoint } from "../../src/analysis/ip.js";
import { parseRuleset } from "../../src/index.js";
import { ipsetsReferenced } from "./kernel.js";
import type { LabFlow, LabObservation, LabTopology, PacketObservation } from "./netlab.js";

const stripPrefix = (cidr: string) => cidr.split("/")[0]!;

/** Everything the lab built, told to the tracer: node addresses per interface, routes, ipset contents. */
export function labContext(topology: LabTopology, flow: LabFlow, ruleset: string): TraceContext {
  const { external, pods, remote, extraLinks = [] } = topology;
  const nodeAddresses: NodeAddress[] = [
    ...external.nodeAddresses.map((a) => ({ address: stripPrefix(a), interface: external.ifname, source: { kind: "given" as const } })),
    { address: stripPrefix(pods.gateway), interface: pods.ifname, source: { kind: "given" } },
    ...(remote?.nodeAddress ? [{ address: stripPrefix(remote.nodeAddress), interface: remote.ifname, source: { kind: "given" as const } }] : []),
    ...extraLinks.flatMap((l) => l.nodeAddresses.map((a) => ({ address: stripPrefix(a), interface: l.ifname, source: { kind: "given" as const } }))),
  ];
  const network = (cidr: string) => {
    const [address, prefix] = cidr.split("/");
    return `${address}/${prefix ?? (topology.family === "ipv4" ? 32 : 128)}`;
  };
  const routes: Route[] = [
    { network: network(pods.gateway), interface: pods.ifname },
    ...(remote?.routes ?? []).map((r) => ({ network: r, interface: remote!.ifname })),
    ...external.nodeAddresses.map((a) => ({ network: network(a), interface: external.ifname })),
    ...extraLinks.flatMap((l) => l.nodeAddresses.map((a) => ({ network: network(a), interface: l.ifname }))),
    { network: topology.family === "ipv4" ? "0.0.0.0/0" : "::/0", interface: external.ifname },
  ];
  const sets = topology.ipsets ?? ipsetsReferenced(ruleset, topology.family);
  const save = sets
    .map((s) => [`create ${s.name} ${s.type} family ${s.family ?? (topology.family === "ipv4" ? "inet" : "inet6")}`, ...("members" in s ? ((s as { members?: string[] }).members ?? []) : []).map((m) => `add ${s.name} ${m}`)].join("\n"))
    .join("\n");
  const inInterface = flow.from === "pod" ? pods.ifname : flow.from === "remote" ? remote?.ifname : flow.from === "external" ? external.ifname : undefined;
  return defaultContext({
    origin: flow.from === "node" ? "node" : flow.from === "external" ? "external" : "pod",
    ...(inInterface ? { inInterface } : {}),
    nodeAddresses,
    routes,
    mark: flow.mark ?? 0,
    // The lab's senders run as root.
    ...(flow.from === "node" ? { uid: 0, gid: 0 } : {}),
    assumeNoAffinity: true,
    ipsets: parseIpsetSave(save).facts,
  });
}

export interface FlowVerdict {
  flow: LabFlow;
  prediction: TraceResult;
  problems: string[];
}

function describeOutcome(o: Outcome, family: "ipv4" | "ipv6"): string {
  const packet = `${formatEndpoint(o.packet.src, o.packet.sport, family)} → ${formatEndpoint(o.packet.dst, o.packet.dport, family)}`;
  return `${o.verdict}${o.delivery ? "/" + o.delivery : ""}${o.outInterface ? " via " + o.outInterface : ""} ${packet}${o.uncertain.length ? " (uncertain)" : ""}`;
}

function describeObservation(p: PacketObservation): string {
  const f = p.fate;
  const t = "packet" in f ? ` ${f.packet.src}:${f.packet.sport} → ${f.packet.dst}:${f.packet.dport}` : "";
  const via = "interface" in f ? ` via ${f.interface}` : "";
  const responses = p.responses.length ? ` responses ${JSON.stringify(p.responses)}` : "";
  return `${f.kind}${via}${t}${responses}${p.sendError ? ` sendError ${p.sendError}` : ""}`;
}

// The tracer names a node address it cannot pick (MASQUERADE out of a link without an address of its own, where
// the kernel takes the first address of any interface) by role: "(address of cali4cb69fbbe33)".
const ROLE_ADDRESS = /^\(address of /;

/**
 * Whether one observed packet is what the outcome predicts: verdict, where it went, and the packet itself.
 * `strict`: a REJECT needs the answer it sends. A datagram the node's own output path drops fails its send with
 * EPERM and leaves no answer, so a bare send error (or no answer at all, for a source NAT rewrote) is a REJECT's
 * only when no DROP explains it.
 */
function agrees(o: Outcome, p: PacketObservation, nodeAddresses: ReadonlySet<string>, strict: boolean): boolean {
  const fate = p.fate;
  const sameAddress = (predicted: string, observed: string) => predicted === observed || (ROLE_ADDRESS.test(predicted) && nodeAddresses.has(observed));
  const samePacket = (t: { src: string; sport: number; dst: string; dport: number }) =>
    sameAddress(o.packet.src, t.src) && (o.packet.sportRandom ? true : o.packet.sport === t.sport) && sameAddress(o.packet.dst, t.dst) && o.packet.dport === t.dport;
  switch (fate.kind) {
    case "local":
      return o.verdict === "ACCEPT" && o.delivery === "local" && samePacket(fate.packet);
    // Lost: the node sent it out but the peer's stack discarded it before its first hook (IPv6 does so with a
    // loopback source, RFC 4291 2.5.3); for the node, that is the same as forwarded.
    case "forwarded":
    case "lost":
      return o.verdict === "ACCEPT" && (o.delivery === "forward" || o.delivery === "output") && o.outInterface === fate.interface && samePacket(fate.packet);
    case "dropped":
      // The lab ties answers to the source the packet was sent from; the answer to a packet whose source NAT
      // rewrote (masqueraded on its way out, then rejected when it came back in through lo) goes elsewhere.
      if (o.verdict === "REJECT") return p.responses.some((r) => r.kind === "icmp" || r.kind === "tcp-reset") || (!strict && (p.sendError !== undefined || (o.snat !== undefined && p.responses.length === 0)));
      return o.verdict === "DROP" && p.responses.length === 0;
  }
}

/**
 * What the lab can tell apart: where an accepted packet went and how it looked, without its source port,
 * which differs from packet to packet. A dropped or rejected packet shows nothing but that.
 */
const destinationKey = (o: Outcome) =>
  o.verdict === "ACCEPT" ? [o.verdict, o.delivery, o.outInterface, o.packet.src, o.packet.dst, o.packet.dport].join(" ") : o.verdict;

// Every lab namespace is new, so its sockets send with the default TTL and hop limit.
const LAB_TTL = 64;

const ruleId = (table: string, chain: string, position: number) => `${table}/${chain} #${position}`;

/** A tracer for the ruleset, and one that keeps every walk unmerged with its own path (for rule counters). */
export interface AgreementTracers {
  merged: Tracer;
  walks: Tracer;
}

/** Compares the lab's observation of one flow with the tracer's prediction for each of its packets. */
export function judgeFlow(tracers: AgreementTracers, ruleset: string, topology: LabTopology, observation: LabObservation): FlowVerdict {
  const tracer = tracers.merged;
  const flow = observation.flow;
  const context = labContext(topology, flow, ruleset);
  const nodeAddresses = new Set(context.nodeAddresses.map((a) => a.address));
  const problems: string[] = [];
  const family = topology.family;
  let prediction: TraceResult | undefined;
  const destinations = new Map<string, number>();
  // Per destination, the expected count of packets and its variance (a sum of Bernoulli trials, one per packet).
  const expected = new Map<string, { mean: number; variance: number }>();
  let sharesKnown = true;
  const protocol = flow.proto === "tcp" ? 6 : 17;
  // Session affinity: recent lists remember clients across packets and flows, so a sticky service's
  // packets are judged against every branch, the affinity ones included.
  const first = { src: flow.src, dst: flow.dst, protocol, sport: observation.perPacket[0]?.sport ?? 40000, dport: flow.dport, ttl: LAB_TTL };
  const affinityOutcomes = tracers.walks.trace(first, { ...context, assumeNoAffinity: false }).outcomes;
  const sticky = affinityOutcomes.some((o) => o.uncertain.some((u) => u.kind === "recent-list"));
  for (const [i, packet] of observation.perPacket.entries()) {
    const spec = { ...first, sport: packet.sport };
    const result = tracer.trace(spec, context);
    prediction ??= result;
    if (result.outcomes.some((o) => o.uncertain.length > 0)) sharesKnown = false;
    for (const o of result.outcomes) {
      const e = expected.get(destinationKey(o)) ?? { mean: 0, variance: 0 };
      expected.set(destinationKey(o), { mean: e.mean + o.probability, variance: e.variance + o.probability * (1 - o.probability) });
    }
    const candidates = sticky ? [...result.outcomes, ...tracer.trace(spec, { ...context, assumeNoAffinity: false }).outcomes] : result.outcomes;
    const match = candidates.find((o) => agrees(o, packet, nodeAddresses, true)) ?? candidates.find((o) => agrees(o, packet, nodeAddresses, false));
    if (!match) {
      problems.push(`packet ${i + 1} (sport ${packet.sport}): kernel ${describeObservation(packet)}; tracer ${result.outcomes.map((o) => describeOutcome(o, family)).join(" | ")}`);
      continue;
    }
    const key = destinationKey(match);
    destinations.set(key, (destinations.get(key) ?? 0) + 1);
  }
  if (!prediction) return { flow, prediction: tracer.trace(first, context), problems: ["no packets observed"] };

  // Every packet of a sticky flow goes where the first went; otherwise every likely outcome shows up.
  if (sticky && destinations.size > 1) problems.push(`session affinity: packets spread over ${[...destinations.keys()].join(", ")}`);
  if (!sticky && problems.length === 0) {
    const n = observation.perPacket.length;
    for (const o of prediction.outcomes) {
      // A share p missed by n packets has chance (1-p)^n; below 1e-6 that counts as a disagreement.
      if (o.uncertain.length === 0 && Math.pow(1 - o.probability, n) < 1e-6 && !destinations.has(destinationKey(o))) {
        problems.push(`outcome with share ${o.probability.toFixed(3)} never seen in ${n} packets: ${describeOutcome(o, family)}`);
      }
    }
    // Frequencies: each destination's count within five standard deviations of what the shares predict.
    if (sharesKnown) {
      for (const [key, e] of expected) {
        const seen = destinations.get(key) ?? 0;
        if (Math.abs(seen - e.mean) > 5 * Math.sqrt(e.variance) + 0.5) {
          problems.push(`${key}: ${seen} of ${n} packets, the tracer's shares predict ${e.mean.toFixed(1)} ± ${Math.sqrt(e.variance).toFixed(1)}`);
        }
      }
    }
  }

  // Rules hit: every rule the kernel counted must be on a predicted walk. Each packet has its own source port,
  // so each is walked: where every walk of every packet agrees how often it crosses a rule (whichever branch is
  // real), the kernel must have counted the sum of those.
  const predicted = new Set<string>();
  if (sticky) for (const o of affinityOutcomes) for (const s of o.path) if (s.rule > 0) predicted.add(ruleId(s.table, s.chain, s.rule));
  const packetCrossings = observation.perPacket.map((packet) =>
    tracers.walks.trace({ ...first, sport: packet.sport }, context).outcomes.map((o) => {
      const times = new Map<string, number>();
      for (const s of o.path) {
        if (s.rule === 0) continue;
        const id = ruleId(s.table, s.chain, s.rule);
        predicted.add(id);
        times.set(id, (times.get(id) ?? 0) + 1);
      }
      return times;
    }),
  );
  for (const hit of observation.ruleHits) {
    const id = ruleId(hit.table, hit.chain, hit.position);
    if (!predicted.has(id)) problems.push(`kernel counted ${hit.packets} packet(s) on ${id} (${hit.rule}), which no predicted path crosses`);
  }
  if (!sticky) {
    const counted = new Map(observation.ruleHits.map((h) => [ruleId(h.table, h.chain, h.position), h.packets]));
    for (const id of predicted) {
      let expected = 0;
      let determined = true;
      for (const walks of packetCrossings) {
        const times = walks[0]?.get(id) ?? 0;
        if (!walks.every((w) => (w.get(id) ?? 0) === times)) determined = false;
        expected += times;
      }
      if (determined && (counted.get(id) ?? 0) !== expected) {
        problems.push(`every predicted path crosses ${id} ${expected} time(s) in all, but the kernel counted ${counted.get(id) ?? 0} for ${observation.perPacket.length} packet(s)`);
      }
    }
  }
  return { flow, prediction, problems };
}

/**
 * Flows the tracer predicts to split at random get `packets` packets, enough to check the shares (a share of
 * 1/2 read as 3/10 is 6 standard deviations off at 240); the others keep theirs.
 */
export function sampledFlows(tracers: AgreementTracers, ruleset: string, topology: LabTopology, flows: LabFlow[], packets = 240): LabFlow[] {
  return flows.map((flow) => {
    if (flow.sport !== undefined || flow.packets >= packets) return flow;
    const packet = { src: flow.src, dst: flow.dst, protocol: flow.proto === "tcp" ? 6 : 17, sport: 40000, dport: flow.dport, ttl: LAB_TTL };
    const outcomes = tracers.merged.trace(packet, labContext(topology, flow, ruleset)).outcomes;
    const random = outcomes.length > 1 && outcomes.every((o) => o.uncertain.length === 0);
    return random ? { ...flow, packets } : flow;
  });
}

/** The family is the lab's: a small ruleset may name too few addresses to tell. */
export function tracersFor(ruleset: string, family: "ipv4" | "ipv6"): AgreementTracers {
  const parsed = parseRuleset(ruleset, { family });
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(`ruleset does not parse: ${errors[0]!.message} (line ${errors[0]!.line})`);
  return { merged: createTracer(parsed.ruleset), walks: createTracer(parsed.ruleset, { merge: false }) };
}
