// The services level of `diff`: both snapshots' service maps, compared as Kubernetes knows them. kube-proxy's
// chain names are hashes and its rule layout changes between versions, so service ports match by
// `namespace/name:port` and protocol, endpoints by address, and frontends by address, port and protocol; a
// service port no comment names is paired by a frontend it shares. Where new connections go (shares, verdicts,
// masquerading) is the tracer's answer for the same clients on both sides, asked only for the frontends a
// change can reach.

import { protocolNumber, summarize } from "../kube/resolve.js";
import type { ClientClass, Frontend, FrontendKind, FrontendResolution, MasqueradePolicy, ServiceMap, ServicePort } from "../kube/types.js";
import { frontendLabel } from "../kube/names.js";
import { portsTaken } from "../kube/structure.js";
import type { Family } from "../../model/types.js";
import { diffNote, type DiffNote } from "./notes.js";
import { sameShare, type SnapshotPair } from "./pair.js";
import type {
  EndpointRef,
  FrontendRef,
  ServicePortChange,
  ServicePortDiff,
  ServicePortRef,
  ServicesDiff,
  ServicesDiffSummary,
  ShareView,
} from "./types.js";

const labels = new WeakMap<Frontend, string>();

/** The label of a map's frontend, made once: matching, frontends and shares all ask. */
function labelOf(frontend: Frontend, family: Family): string {
  let label = labels.get(frontend);
  if (label === undefined) labels.set(frontend, (label = frontendLabel(frontend, family)));
  return label;
}

const portKey = (service: ServicePort) => `${service.name.key}/${service.protocol}`;

function servicePortRef(service: ServicePort): ServicePortRef {
  return { key: service.name.key, protocol: service.protocol, nameFrom: service.name.from, type: service.type, line: service.line };
}

function frontendRef(frontend: Frontend): FrontendRef {
  return { kind: frontend.kind, ...(frontend.address !== undefined ? { address: frontend.address } : {}), port: frontend.port, protocol: frontend.protocol, line: frontend.line };
}

function endpointRef(endpoint: ServicePort["endpoints"][number]): EndpointRef {
  return { address: endpoint.address, ...(endpoint.local !== undefined ? { local: endpoint.local } : {}), line: endpoint.line };
}

interface Matched {
  old: ServicePort;
  new: ServicePort;
  matchedBy: "name" | "frontend";
}

/** Pairs service ports by name and protocol; then, where a name is missing on one side, by a shared frontend. */
function matchServicePorts(oldMap: ServiceMap, newMap: ServiceMap): { matched: Matched[]; removed: ServicePort[]; added: ServicePort[] } {
  const byName = new Map<string, ServicePort[]>();
  for (let i = 0; i < newMap.services.length; i++) {
    const service = newMap.services[i]!;
    if (service.name.from !== "comment") continue;
    const list = byName.get(portKey(service));
    if (list) list.push(service);
    else byName.set(portKey(service), [service]);
  }
  const matched: Matched[] = [];
  const paired = new Set<ServicePort>();
  const unmatchedOld: ServicePort[] = [];
  for (let i = 0; i < oldMap.services.length; i++) {
    const service = oldMap.services[i]!;
    const partner = service.name.from === "comment" ? byName.get(portKey(service))?.shift() : undefined;
    if (partner) {
      matched.push({ old: service, new: partner, matchedBy: "name" });
      paired.add(partner);
    } else {
      unmatchedOld.push(service);
    }
  }
  const unmatchedNew = newMap.services.filter((s) => !paired.has(s));
  const byFrontend = new Map<string, ServicePort>();
  for (const service of unmatchedNew) for (const f of service.frontends) if (!byFrontend.has(labelOf(f, newMap.family))) byFrontend.set(labelOf(f, newMap.family), service);
  const removed: ServicePort[] = [];
  for (const service of unmatchedOld) {
    const partner = service.frontends
      .map((f) => byFrontend.get(labelOf(f, oldMap.family)))
      .find((p) => p !== undefined && !paired.has(p) && (p.name.from === "chain" || service.name.from === "chain"));
    if (partner) {
      matched.push({ old: service, new: partner, matchedBy: "frontend" });
      paired.add(partner);
    } else {
      removed.push(service);
    }
  }
  return { matched, removed, added: newMap.services.filter((s) => !paired.has(s)) };
}

/** The same clients masqueraded (where the rule stands does not count). */
function sameMasquerade(a: MasqueradePolicy, b: MasqueradePolicy): boolean {
  switch (a.kind) {
    case "all":
    case "node-sources":
    case "none":
      return a.kind === b.kind;
    case "off-cluster":
      return b.kind === a.kind && b.clusterCidr === a.clusterCidr;
    case "not-from-interface":
      return b.kind === a.kind && b.interface === a.interface;
  }
}

/** An external or load-balancer IP of a service without endpoints is "either": its REJECT rule does not say. */
function sameFrontendKind(a: FrontendKind, b: FrontendKind): boolean {
  const either = (k: FrontendKind) => k === "externalOrLoadBalancerIP" || k === "externalIP" || k === "loadBalancerIP";
  return a === b || ((a === "externalOrLoadBalancerIP" || b === "externalOrLoadBalancerIP") && either(a) && either(b));
}

function shareView(resolution: FrontendResolution): ShareView {
  return {
    verdict: resolution.verdict,
    endpoints: resolution.endpoints.map((e) => ({
      address: e.address,
      probability: e.probability,
      masquerade: e.masquerade,
      ...(e.blocked ? { blocked: e.blocked.verdict } : {}),
    })),
    other: resolution.other.map((o) => ({ verdict: o.verdict, ...(o.delivery ? { delivery: o.delivery } : {}), probability: o.probability })),
  };
}

function sameShares(a: ShareView, b: ShareView): boolean {
  if (a.verdict !== b.verdict || a.endpoints.length !== b.endpoints.length || a.other.length !== b.other.length) return false;
  const endpoints = new Map(b.endpoints.map((e) => [e.address, e]));
  const others = new Map(b.other.map((o) => [`${o.verdict} ${o.delivery ?? ""}`, o]));
  return (
    a.endpoints.every((e) => {
      const partner = endpoints.get(e.address);
      return partner !== undefined && sameShare(e.probability, partner.probability) && e.masquerade === partner.masquerade && e.blocked === partner.blocked;
    }) &&
    a.other.every((o) => {
      const partner = others.get(`${o.verdict} ${o.delivery ?? ""}`);
      return partner !== undefined && sameShare(o.probability, partner.probability);
    })
  );
}

/** Frontends at the same address, port and protocol: of the same label. */
const sameFrontendPlace = (a: Frontend, b: Frontend) => a.address === b.address && a.port === b.port && a.protocol === b.protocol;

interface FrontendPartners {
  /** NEW's frontend for each of OLD's, by index. */
  partners: readonly (Frontend | undefined)[];
  added: readonly Frontend[];
}

/** How many services (namespace/name) some of `ports` name and no port of `map` does. */
function servicesNotIn(ports: readonly ServicePort[], map: ServiceMap): number {
  const counted = new Set<string>();
  for (const { name } of ports) {
    if (name.from !== "comment") continue;
    const service = `${name.namespace}/${name.name}`;
    if (!counted.has(service) && !namesService(map, name)) counted.add(service);
  }
  return counted.size;
}

/** A port of the map (in name order) names the service: its key is `namespace/name`, or that and a port name. */
function namesService(map: ServiceMap, { namespace, name }: ServicePort["name"]): boolean {
  const prefix = `${namespace}/${name}`;
  const ports = map.services;
  let low = 0;
  let high = ports.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ports[middle]!.name.key < prefix) low = middle + 1;
    else high = middle;
  }
  // Keys that start alike are together in name order.
  for (let i = low; i < ports.length && ports[i]!.name.key.startsWith(prefix); i++) {
    const other = ports[i]!.name;
    if (other.from === "comment" && other.namespace === namespace && other.name === name) return true;
  }
  return false;
}

const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined) => a === b || [...(a ?? [])].sort().join(",") === [...(b ?? [])].sort().join(",");

class ServicesComparer {
  readonly summary: ServicesDiffSummary;
  private readonly maps: { old: ServiceMap; new: ServiceMap };
  private readonly family: Family;
  /** NEW's ports taken from OLD's map, with OLD's. */
  private readonly taken: ReadonlyMap<ServicePort, ServicePort>;

  constructor(private readonly pair: SnapshotPair) {
    this.maps = pair.serviceMaps();
    this.taken = portsTaken(this.maps.new);
    this.family = this.maps.old.family;
    this.summary = {
      oldServicePorts: this.maps.old.services.length,
      newServicePorts: this.maps.new.services.length,
      servicesAdded: 0,
      servicesRemoved: 0,
      servicePortsAdded: 0,
      servicePortsRemoved: 0,
      servicePortsChanged: 0,
      frontendsAdded: 0,
      frontendsRemoved: 0,
      endpointsAdded: 0,
      endpointsRemoved: 0,
      matchedByFrontend: 0,
      sharesTraced: 0,
    };
  }

  compare(): ServicesDiff {
    const { matched, removed, added } = matchServicePorts(this.maps.old, this.maps.new);
    const diffs: { order: string; diff: ServicePortDiff }[] = [];
    for (const service of removed) {
      diffs.push({ order: portKey(service), diff: { kind: "removed", old: servicePortRef(service), frontends: service.frontends.map(frontendRef), endpoints: service.endpoints.map(endpointRef) } });
    }
    for (const service of added) {
      diffs.push({ order: portKey(service), diff: { kind: "added", new: servicePortRef(service), frontends: service.frontends.map(frontendRef), endpoints: service.endpoints.map(endpointRef) } });
    }
    for (const match of matched) {
      if (match.matchedBy === "frontend") this.summary.matchedByFrontend++;
      const changes = this.changes(match.old, match.new);
      if (changes.length > 0) {
        diffs.push({ order: portKey(match.new), diff: { kind: "changed", old: servicePortRef(match.old), new: servicePortRef(match.new), matchedBy: match.matchedBy, changes } });
      }
    }
    diffs.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : a.diff.kind.localeCompare(b.diff.kind)));
    const servicePorts = diffs.map((d) => d.diff);
    this.summary.servicePortsAdded = added.length;
    this.summary.servicePortsRemoved = removed.length;
    this.summary.servicePortsChanged = servicePorts.filter((d) => d.kind === "changed").length;
    // A service only one side names has a port there that is not paired by name.
    const pairedByFrontend = matched.filter((m) => m.matchedBy === "frontend");
    this.summary.servicesAdded = servicesNotIn([...added, ...pairedByFrontend.map((m) => m.new)], this.maps.old);
    this.summary.servicesRemoved = servicesNotIn([...removed, ...pairedByFrontend.map((m) => m.old)], this.maps.new);
    return { differs: servicePorts.length > 0, summary: this.summary, setup: this.pair.traceSetup().setup, notes: this.notes(), servicePorts };
  }

  private notes(): DiffNote[] {
    const notes: DiffNote[] = [];
    const oldEmpty = this.maps.old.services.length === 0;
    const newEmpty = this.maps.new.services.length === 0;
    if (oldEmpty || newEmpty) notes.push(diffNote("no-service-rules", { side: oldEmpty && newEmpty ? "both" : oldEmpty ? "old" : "new" }));
    if (this.summary.matchedByFrontend > 0) notes.push(diffNote("matched-by-frontend", { servicePorts: this.summary.matchedByFrontend }));
    const hasNodePorts = (map: ServiceMap) => map.services.some((s) => s.frontends.some((f) => f.kind === "nodePort"));
    if (hasNodePorts(this.maps.old) || hasNodePorts(this.maps.new)) notes.push(...this.pair.traceSetup().notes.filter((n) => n.kind === "node-address"));
    return notes;
  }

  private changes(old: ServicePort, now: ServicePort): ServicePortChange[] {
    const changes: ServicePortChange[] = [];
    // A port NEW's map took from OLD's says the same: only where its connections go may differ.
    if (this.taken.get(now) === old) {
      this.shareChanges(old, now, this.frontendPartners(old, now), changes);
      return changes;
    }
    // Rules say which service has no (local) endpoints only in their comments: where one side has none, the
    // states cannot be compared (the traced shares still are).
    if (old.state !== now.state && old.name.from === now.name.from) changes.push({ kind: "state", old: old.state, new: now.state });
    if (old.externalTrafficPolicy !== now.externalTrafficPolicy) {
      changes.push({ kind: "traffic-policy", policy: "external", old: old.externalTrafficPolicy, new: now.externalTrafficPolicy });
    }
    if (old.internalTrafficPolicy !== now.internalTrafficPolicy) {
      changes.push({ kind: "traffic-policy", policy: "internal", old: old.internalTrafficPolicy, new: now.internalTrafficPolicy });
    }
    if (old.affinity?.seconds !== now.affinity?.seconds) {
      changes.push({ kind: "affinity", ...(old.affinity ? { old: old.affinity } : {}), ...(now.affinity ? { new: now.affinity } : {}) });
    }
    const partners = this.frontendPartners(old, now);
    this.frontendChanges(old, partners, changes);
    this.endpointChanges(old, now, changes);
    this.shareChanges(old, now, partners, changes);
    return changes;
  }

  /** Each frontend of OLD's port with NEW's frontend of the same label (if any), and NEW's frontends OLD's has not. */
  private frontendPartners(old: ServicePort, now: ServicePort): FrontendPartners {
    // Mostly a port keeps its frontends in their order: then no label need be made.
    const inPlace = old.frontends.length === now.frontends.length && old.frontends.every((f, i) => sameFrontendPlace(f, now.frontends[i]!));
    if (inPlace) return { partners: now.frontends, added: [] };
    const newFrontends = new Map(now.frontends.map((f) => [labelOf(f, this.family), f]));
    const partners = old.frontends.map((f) => newFrontends.get(labelOf(f, this.family)));
    const paired = new Set(partners);
    return { partners, added: [...newFrontends.values()].filter((f) => !paired.has(f)) };
  }

  private frontendChanges(old: ServicePort, { partners, added }: FrontendPartners, changes: ServicePortChange[]): void {
    old.frontends.forEach((frontend, i) => {
      const partner = partners[i];
      if (!partner) {
        changes.push({ kind: "frontend-removed", old: frontendRef(frontend) });
        this.summary.frontendsRemoved++;
        return;
      }
      if (!sameFrontendKind(frontend.kind, partner.kind)) changes.push({ kind: "frontend-kind", frontend: labelOf(frontend, this.family), old: frontend.kind, new: partner.kind });
      if (!sameList(frontend.sourceRanges, partner.sourceRanges)) {
        changes.push({ kind: "source-ranges", frontend: labelOf(frontend, this.family), old: frontend.sourceRanges ?? [], new: partner.sourceRanges ?? [] });
      }
      if (!sameMasquerade(frontend.masquerade, partner.masquerade)) {
        changes.push({ kind: "masquerade", frontend: labelOf(frontend, this.family), old: frontend.masquerade, new: partner.masquerade });
      }
    });
    for (const frontend of added) {
      changes.push({ kind: "frontend-added", new: frontendRef(frontend) });
      this.summary.frontendsAdded++;
    }
  }

  private endpointChanges(old: ServicePort, now: ServicePort, changes: ServicePortChange[]): void {
    const unchanged = old.endpoints.length === now.endpoints.length && old.endpoints.every((e, i) => e.address === now.endpoints[i]!.address && e.local === now.endpoints[i]!.local);
    if (unchanged) return;
    const newEndpoints = new Map(now.endpoints.map((e) => [e.address, e]));
    const oldAddresses = new Set<string>();
    for (const endpoint of old.endpoints) {
      oldAddresses.add(endpoint.address);
      const partner = newEndpoints.get(endpoint.address);
      if (!partner) {
        changes.push({ kind: "endpoint-removed", old: endpointRef(endpoint) });
        this.summary.endpointsRemoved++;
      } else if (endpoint.local !== undefined && partner.local !== undefined && endpoint.local !== partner.local) {
        changes.push({ kind: "endpoint-locality", old: endpointRef(endpoint), new: endpointRef(partner) });
      }
    }
    for (const endpoint of now.endpoints) {
      if (oldAddresses.has(endpoint.address)) continue;
      changes.push({ kind: "endpoint-added", new: endpointRef(endpoint) });
      this.summary.endpointsAdded++;
    }
  }

  /** Where new connections go, for the clients `services` shows, on frontends both snapshots have. */
  private shareChanges(old: ServicePort, now: ServicePort, { partners }: FrontendPartners, changes: ServicePortChange[]): void {
    const setup = this.pair.traceSetup().setup;
    let groups: Map<string, Extract<ServicePortChange, { kind: "shares" }>> | undefined;
    old.frontends.forEach((frontend, i) => {
      const partner = partners[i];
      if (!partner) return;
      const destination = frontend.address ?? setup.nodeAddresses[0]!.address;
      const protocol = protocolNumber(frontend.protocol);
      if (!this.pair.mayDiffer({ dst: destination, protocol, dport: frontend.port })) return;
      const clients: ClientClass[] = ["off-cluster"];
      // As `services` does: pods are traced apart where externalTrafficPolicy=Local treats them differently.
      if ((old.externalTrafficPolicy === "Local" || now.externalTrafficPolicy === "Local") && frontend.kind !== "clusterIP") clients.push("pod");
      for (const client of clients) {
        const ranges = frontend.sourceRanges ?? partner.sourceRanges;
        const src = client === "pod" ? setup.clients.pod : ranges ? this.pair.clientInside(ranges) : setup.clients.external;
        const origin = client === "pod" ? "pod" : "external";
        const packet = { src, dst: destination, protocol, dport: frontend.port };
        this.summary.sharesTraced++;
        const oldView = shareView(summarize(this.pair.old.trace(packet, this.pair.context(origin)), client, old, this.maps.old.masqueradeMark));
        const newView = shareView(summarize(this.pair.new.trace(packet, this.pair.context(origin)), client, now, this.maps.new.masqueradeMark));
        if (sameShares(oldView, newView)) continue;
        const key = `${client} ${JSON.stringify(oldView)} ${JSON.stringify(newView)}`;
        const label = labelOf(frontend, this.family);
        const group = (groups ??= new Map()).get(key);
        if (group) group.frontends.push(label);
        else groups.set(key, { kind: "shares", client, frontends: [label], old: oldView, new: newView });
      }
    });
    if (groups) changes.push(...groups.values());
  }
}

export function diffServices(pair: SnapshotPair): ServicesDiff {
  return new ServicesComparer(pair).compare();
}
