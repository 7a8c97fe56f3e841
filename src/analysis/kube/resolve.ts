// Where new connections to each frontend go, asked of the tracer: one representative client per
// frontend (off the cluster, inside the source ranges when there are some), plus a pod when
// externalTrafficPolicy=Local treats pods differently. The tracer is the one source of truth for
// endpoints, shares, verdicts and masquerading; this module only sums its outcomes up.

import type { Ruleset } from "../../model/types.js";
import { defaultContext } from "../trace/context.js";
import type { Outcome, PacketSpec, TraceContext, TraceResult } from "../trace/types.js";
import { sortStably } from "../trace/order.js";
import { createTracer, type Tracer } from "../trace/walk.js";
import { clientPicker } from "./clients.js";
import type { ClientClass, Endpoint, EndpointShare, Frontend, FrontendResolution, FrontendVerdict, ServiceMap, ServicePort, ServiceProtocol } from "./types.js";

const PROTOCOL_NUMBERS: Record<ServiceProtocol, number> = { tcp: 6, udp: 17, sctp: 132 };

export function protocolNumber(protocol: ServiceProtocol): number {
  return PROTOCOL_NUMBERS[protocol];
}

/** The destination a packet to the frontend carries: its address, or a node address for a NodePort. */
export function frontendDestination(map: ServiceMap, frontend: Frontend): string {
  return frontend.address ?? map.nodeAddresses[0]!.address;
}

/** Did kube-proxy mark this connection for masquerading (whether or not POSTROUTING ran yet)? */
export function masqueraded(outcome: Outcome, masqueradeMark: number | undefined): boolean {
  return outcome.masquerade || (masqueradeMark !== undefined && masqueradeMark !== 0 && (outcome.mark & masqueradeMark) === masqueradeMark);
}

// A trace's outcomes and a service's endpoints are few: scanning them beats hashing their freshly built address strings.
const SCANNED = 16;

/** The first item with the address: a loop, as quick as find without making a closure per call. */
function withAddress<T extends { address: string }>(items: readonly T[], address: string): T | undefined {
  for (const item of items) if (item.address === address) return item;
  return undefined;
}

/** A service port's endpoints by address: the first one with the address, and the last position it has (its rank). */
class EndpointsByAddress {
  private readonly index: Map<string, { endpoint: Endpoint; rank: number }> | undefined;

  constructor(private readonly endpoints: readonly Endpoint[]) {
    if (endpoints.length <= SCANNED) return;
    this.index = new Map();
    endpoints.forEach((endpoint, rank) => {
      const known = this.index!.get(endpoint.address);
      if (known) known.rank = rank;
      else this.index!.set(endpoint.address, { endpoint, rank });
    });
  }

  endpoint(address: string): Endpoint | undefined {
    return this.index ? this.index.get(address)?.endpoint : withAddress(this.endpoints, address);
  }

  rank(address: string): number {
    if (this.index) return this.index.get(address)?.rank ?? Number.MAX_SAFE_INTEGER;
    for (let rank = this.endpoints.length - 1; rank >= 0; rank--) if (this.endpoints[rank]!.address === address) return rank;
    return Number.MAX_SAFE_INTEGER;
  }
}

/** Sums a trace's outcomes up by endpoint; the endpoint details come from the service port. */
export function summarize(result: TraceResult, client: ClientClass, service: ServicePort | undefined, masqueradeMark: number | undefined): FrontendResolution {
  const shares: EndpointShare[] = [];
  const sharesByAddress = result.outcomes.length > SCANNED ? new Map<string, EndpointShare>() : undefined;
  const others: FrontendResolution["other"] = [];
  const endpoints = new EndpointsByAddress(service?.endpoints ?? []);
  let uncertain = false;
  for (const outcome of result.outcomes) {
    if (outcome.uncertain.length > 0) uncertain = true;
    if (!outcome.dnat) {
      const known = others.find((o) => o.verdict === outcome.verdict && o.delivery === outcome.delivery);
      if (known) known.probability += outcome.probability;
      else others.push({ verdict: outcome.verdict, ...(outcome.delivery ? { delivery: outcome.delivery } : {}), probability: outcome.probability });
      continue;
    }
    const address = outcome.dnat.to;
    const masquerade = masqueraded(outcome, masqueradeMark);
    let share = sharesByAddress ? sharesByAddress.get(address) : withAddress(shares, address);
    if (!share) {
      const endpoint = endpoints.endpoint(address);
      share = { address, probability: 0, masquerade };
      if (endpoint) {
        share.chain = endpoint.chain;
        if (endpoint.local !== undefined) share.local = endpoint.local;
      }
      shares.push(share);
      sharesByAddress?.set(address, share);
    }
    share.probability += outcome.probability;
    if (!share.masqueradeUncertain && masquerade !== share.masquerade) {
      share.masquerade = true;
      share.masqueradeUncertain = true;
    }
    if (outcome.verdict !== "ACCEPT") {
      share.blocked = {
        verdict: outcome.verdict,
        probability: (share.blocked?.probability ?? 0) + outcome.probability,
        uncertain: (share.blocked?.uncertain ?? false) || outcome.uncertain.length > 0,
      };
    }
  }
  // In kube-proxy's order (the tracer lists outcomes by probability), unknown endpoints last.
  sortStably(shares, (a, b) => endpoints.rank(a.address) - endpoints.rank(b.address) || a.address.localeCompare(b.address));
  let verdict: FrontendVerdict = "mixed";
  if (others.length === 0 && shares.length > 0) verdict = "dnat";
  else if (shares.length === 0 && others.length === 1) {
    const only = others[0]!.verdict;
    verdict = only === "REJECT" ? "reject" : only === "DROP" ? "drop" : only === "ACCEPT" ? "pass" : "mixed";
  }
  return { client, source: result.packet.src, verdict, endpoints: shares, other: others, uncertain };
}

export interface ResolveOptions {
  /** A tracer over the same ruleset, to share its compiled chains. */
  tracer?: Tracer;
}

/** Traces a representative client to every frontend and fills in `resolutions`. */
export function resolveServiceMap(ruleset: Ruleset, map: ServiceMap, options: ResolveOptions = {}): ServiceMap {
  // Only outcomes are summed here: no paths to record.
  const tracer = options.tracer ?? createTracer(ruleset, { paths: false });
  const clients = clientPicker(map);
  const offCluster = clients.offCluster();
  const pod = clients.pod();
  // Shares for new clients: session-affinity history is a property of clients, not of the rules.
  const external: TraceContext = defaultContext({ origin: "external", nodeAddresses: map.nodeAddresses, assumeNoAffinity: true });
  const fromPod: TraceContext = { ...external, origin: "pod" };
  for (const service of map.services) {
    for (const frontend of service.frontends) {
      const packet: PacketSpec = {
        src: frontend.sourceRanges ? clients.inside(frontend.sourceRanges) : offCluster,
        dst: frontendDestination(map, frontend),
        protocol: protocolNumber(frontend.protocol),
        dport: frontend.port,
      };
      const resolutions = [summarize(tracer.trace(packet, external), "off-cluster", service, map.masqueradeMark)];
      if (pod !== undefined && service.externalTrafficPolicy === "Local" && frontend.kind !== "clusterIP") {
        resolutions.push(summarize(tracer.trace({ ...packet, src: pod }, fromPod), "pod", service, map.masqueradeMark));
      }
      frontend.resolutions = resolutions;
    }
  }
  return map;
}
