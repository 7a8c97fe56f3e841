// The traffic level of `diff`: what a new connection gets, asked of the tracer in both snapshots. The targets are
// every service frontend of either snapshot and the node's other published ports (what a rule outside kube-proxy's
// chains DNATs, or ACCEPTs on INPUT); each is traced from a pod, from the node and from outside, with the same
// node addresses and clients on both sides. Targets no change can reach are not traced: they fare alike.

import { protocolNumber } from "../kube/resolve.js";
import { portsTaken } from "../kube/structure.js";
import type { ServiceMap, ServiceProtocol } from "../kube/types.js";
import { formatEndpoint } from "../ip.js";
import type { Origin, TraceResult } from "../trace/types.js";
import { addressInNetwork } from "../../model/addresses.js";
import type { Family, Rule, Ruleset, Table } from "../../model/types.js";
import { sameShare, type SnapshotPair } from "./pair.js";
import type { TrafficChange, TrafficDiff, TrafficOutcome, TrafficTarget } from "./types.js";

export const TRAFFIC_ORIGINS: readonly Origin[] = ["pod", "node", "external"];

const PROTOCOLS: Record<string, ServiceProtocol> = { tcp: "tcp", udp: "udp", sctp: "sctp" };
/** Ports taken from one multiport rule; published ports per snapshot. */
const PORTS_PER_RULE = 16;
const PUBLISHED_LIMIT = 4096;

interface TargetDraft {
  destination: string;
  port: number;
  protocol: ServiceProtocol;
  services: Set<string>;
  nodePort: boolean;
  sourceRanges?: string[];
  published?: TrafficTarget["published"];
  inOld: boolean;
  inNew: boolean;
}

interface PublishedPort {
  destination: string;
  port: number;
  protocol: ServiceProtocol;
  rule: Rule;
}

const isKubeChain = (name: string) => name.startsWith("KUBE-");

/** The destination ports a rule matches, as single ports (the first port of a range). */
function destinationPorts(rule: Rule): number[] {
  const ports: number[] = [];
  for (const match of rule.matches) {
    for (const option of match.options) {
      if (option.negated) continue;
      if (option.name === "dport" && option.value.kind === "port-range") ports.push(option.value.range.from);
      else if (match.name === "multiport" && (option.name === "dports" || option.name === "ports") && option.value.kind === "port-list") {
        ports.push(...option.value.ports.slice(0, PORTS_PER_RULE).map((range) => range.from));
      }
    }
  }
  return ports;
}

/** Where a publishing rule's packets go: its destination host, else the node (if its network holds the node). */
function publishedDestination(rule: Rule, nodeAddress: string): string | undefined {
  const destination = rule.destination;
  if (!destination || destination.negated) return nodeAddress;
  const bits = destination.value.family === "ipv4" ? 32 : 128;
  if (destination.value.prefix === bits) return destination.value.address;
  return addressInNetwork(nodeAddress, destination.value) ? nodeAddress : undefined;
}

/** Chains a packet can reach from the given built-in chains of a table. */
function reachableChains(table: Table, from: readonly string[]): Set<string> {
  const chains = new Map(table.chains.map((c) => [c.name, c]));
  const reached = new Set<string>(from);
  const queue = [...from];
  while (queue.length > 0) {
    for (const rule of chains.get(queue.pop()!)?.rules ?? []) {
      const target = rule.target;
      if (target?.kind === "chain" && !reached.has(target.name)) {
        reached.add(target.name);
        queue.push(target.name);
      }
    }
  }
  return reached;
}

/** Ports a rule outside kube-proxy's chains publishes: DNATed or REDIRECTed in nat, ACCEPTed on the way to INPUT. */
function publishedPorts(ruleset: Ruleset, nodeAddress: string): PublishedPort[] {
  const published: PublishedPort[] = [];
  for (const table of ruleset.tables) {
    const chains = table.name === "filter" ? reachableChains(table, ["INPUT"]) : undefined;
    for (let c = 0; c < table.chains.length; c++) {
      const chain = table.chains[c]!;
      if (isKubeChain(chain.name) || (chains && !chains.has(chain.name))) continue;
      for (const rule of chain.rules) {
        const target = rule.target?.name;
        const publishes = table.name === "nat" ? target === "DNAT" || target === "REDIRECT" : table.name === "filter" && target === "ACCEPT";
        const protocol = rule.protocol && !rule.protocol.negated ? PROTOCOLS[rule.protocol.value.name] : undefined;
        if (!publishes || !protocol) continue;
        const destination = publishedDestination(rule, nodeAddress);
        if (destination === undefined) continue;
        for (const port of destinationPorts(rule)) {
          if (published.length === PUBLISHED_LIMIT) return published;
          published.push({ destination, port, protocol, rule });
        }
      }
    }
  }
  return published;
}

/** Every target of both snapshots, in no order. */
function collectTargets(pair: SnapshotPair): TargetDraft[] {
  const maps = pair.serviceMaps();
  const nodeAddress = pair.traceSetup().setup.nodeAddresses[0]!.address;
  const drafts = new Map<string, TargetDraft>();
  const draft = (destination: string, port: number, protocol: ServiceProtocol, side: "old" | "new"): TargetDraft => {
    const key = `${destination}|${port}|${protocol}`;
    let found = drafts.get(key);
    if (!found) drafts.set(key, (found = { destination, port, protocol, services: new Set(), nodePort: false, inOld: false, inNew: false }));
    if (side === "old") found.inOld = true;
    else found.inNew = true;
    return found;
  };
  const sides: ["old" | "new", ServiceMap, Ruleset][] = [
    ["old", maps.old, pair.old.ruleset],
    ["new", maps.new, pair.new.ruleset],
  ];
  // A port NEW took from OLD has OLD's frontends: they are NEW's targets too.
  const taken = portsTaken(maps.new);
  const inBoth = new Set(taken.values());
  for (const [side, map] of sides) {
    for (let s = 0; s < map.services.length; s++) {
      const service = map.services[s]!;
      if (side === "new" && taken.has(service)) continue;
      for (let f = 0; f < service.frontends.length; f++) {
        const frontend = service.frontends[f]!;
        const target = draft(frontend.address ?? nodeAddress, frontend.port, frontend.protocol, side);
        if (inBoth.has(service)) target.inNew = true;
        target.services.add(service.name.key);
        if (frontend.kind === "nodePort") target.nodePort = true;
        if (frontend.sourceRanges) target.sourceRanges ??= frontend.sourceRanges;
      }
    }
  }
  for (const [side, , ruleset] of sides) {
    for (const port of publishedPorts(ruleset, nodeAddress)) {
      const target = draft(port.destination, port.port, port.protocol, side);
      target.published ??= { side, table: port.rule.table, chain: port.rule.chain, line: port.rule.line };
    }
  }
  return [...drafts.values()];
}

function publicTarget(draft: TargetDraft): TrafficTarget {
  return {
    destination: draft.destination,
    port: draft.port,
    protocol: draft.protocol,
    services: [...draft.services].sort(),
    nodePort: draft.nodePort,
    ...(draft.published ? { published: draft.published } : {}),
    presence: draft.inOld && draft.inNew ? "both" : draft.inOld ? "old-only" : "new-only",
  };
}

const outcomeKey = (o: TrafficOutcome) => `${o.verdict}|${o.delivery ?? ""}|${o.to}|${o.translated}|${o.masquerade}|${o.snat ?? ""}`;

/** A trace's outcomes merged by what differs to the client and the endpoint; the most likely first. */
export function trafficOutcomes(result: TraceResult, family: Family): TrafficOutcome[] {
  const merged = new Map<string, TrafficOutcome>();
  for (const outcome of result.outcomes) {
    const view: TrafficOutcome = {
      verdict: outcome.verdict,
      ...(outcome.delivery ? { delivery: outcome.delivery } : {}),
      to: formatEndpoint(outcome.packet.dst, outcome.packet.dport, family),
      translated: outcome.dnat !== undefined,
      masquerade: outcome.masquerade,
      ...(outcome.snat ? { snat: outcome.snat.to } : {}),
      probability: outcome.probability,
      uncertain: outcome.uncertain.length > 0,
    };
    const key = outcomeKey(view);
    const known = merged.get(key);
    if (known) {
      known.probability += view.probability;
      known.uncertain ||= view.uncertain;
    } else {
      merged.set(key, view);
    }
  }
  return [...merged.values()].sort((a, b) => b.probability - a.probability || (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
}

/** Same outcomes with the same shares; whether the tracer had to assume something is not a difference. */
function sameOutcomes(a: readonly TrafficOutcome[], b: readonly TrafficOutcome[]): boolean {
  if (a.length !== b.length) return false;
  const others = new Map(b.map((o) => [outcomeKey(o), o]));
  return a.every((o) => {
    const partner = others.get(outcomeKey(o));
    return partner !== undefined && sameShare(o.probability, partner.probability);
  });
}

export function diffTraffic(pair: SnapshotPair): TrafficDiff {
  const { setup, notes } = pair.traceSetup();
  const family = pair.old.ruleset.family;
  const targets = collectTargets(pair);
  // Only the targets a change can reach are traced, and only they need their order.
  const traced = targets
    .filter((draft) => pair.mayDiffer({ dst: draft.destination, protocol: protocolNumber(draft.protocol), dport: draft.port }))
    .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : a.port - b.port || a.protocol.localeCompare(b.protocol)));
  const changes: TrafficChange[] = [];
  for (const draft of traced) {
    const protocol = protocolNumber(draft.protocol);
    let target: TrafficTarget | undefined;
    for (const origin of TRAFFIC_ORIGINS) {
      const src = origin === "external" && draft.sourceRanges ? pair.clientInside(draft.sourceRanges) : setup.clients[origin];
      const packet = { src, dst: draft.destination, protocol, dport: draft.port };
      const old = trafficOutcomes(pair.old.trace(packet, pair.context(origin)), family);
      const now = trafficOutcomes(pair.new.trace(packet, pair.context(origin)), family);
      if (sameOutcomes(old, now)) continue;
      target ??= publicTarget(draft);
      changes.push({ target, origin, source: src, old, new: now });
    }
  }
  return {
    differs: changes.length > 0,
    summary: { targets: targets.length, targetsTraced: traced.length, changed: changes.length },
    setup,
    notes,
    changes,
  };
}
