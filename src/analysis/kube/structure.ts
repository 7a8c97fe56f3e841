// Reads kube-proxy's KUBE-* chains into the Service map's skeleton: service ports, their names,
// frontends, endpoints, policies and masquerade rules. Where connections go is left to the tracer
// (resolve.ts). Both rule generations are understood, in any rule order, IPv4 and IPv6; see
// ../shared/docs/kube-proxy-rules.md for the shapes.

import type { Chain, Family, Rule, Ruleset, Table } from "../../model/types.js";
import { inferNodeAddresses } from "../trace/context.js";
import type { NodeAddress } from "../trace/types.js";
import { inNet, isLoopback, netOf, parseIp } from "../ip.js";
import { kubeComment, parseServiceChain, parseServicePortName, serviceChainHash, type KubeComment, type ServiceChainKind } from "./names.js";
import { kubeNote, type KubeNote } from "./notes.js";
import {
  addressTypeLocal,
  affinitySeconds,
  destinationHost,
  destinationPort,
  dnatDestination,
  markValue,
  protocolOf,
  sourceNet,
} from "./rules.js";
import type {
  Endpoint,
  Frontend,
  FrontendKind,
  MasqueradePolicy,
  RuleGeneration,
  ServiceMap,
  ServicePort,
  ServiceProtocol,
  ServiceType,
} from "./types.js";

export interface ReadOptions {
  /** The node's addresses, for NodePorts; default: what the dump reveals, else a stand-in. */
  nodeAddresses?: NodeAddress[];
}

interface FrontendDraft {
  kind: FrontendKind;
  address?: string;
  port: number;
  protocol: ServiceProtocol;
  localhost?: boolean;
  /** The kind of chain the frontend enters (undefined: filter rules only). */
  via?: ServiceChainKind;
  line: number;
}

interface Draft {
  hash: string;
  comment?: { key: string; line: number };
  protocol?: ServiceProtocol;
  frontends: Map<string, FrontendDraft>;
  chains: Partial<Record<Exclude<ServiceChainKind, "SEP">, string>>;
  clusterMasquerade?: MasqueradePolicy;
  externalMasquerade?: MasqueradePolicy;
  /** KUBE-SEP chains in kube-proxy's order: the cluster policy chain first, then local-only ones. */
  endpointChains: string[];
  localChains?: Set<string>;
  affinity?: { seconds: number; line: number };
  /** The `--rcheck` rule that sends a returning client back to each endpoint chain. */
  affinityRules?: Map<string, number>;
  externalLocal: boolean;
  internalLocal: boolean;
  noLocalEndpoints: boolean;
  noEndpoints: boolean;
  sourceRanges: string[];
  healthCheckNodePort?: { port: number; line: number };
  line: number;
}

const frontendKey = (address: string | undefined, port: number, protocol: string) => `${address ?? "node"}|${port}|${protocol}`;

const NAT_CHAINS_READ: ReadonlySet<string> = new Set(["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ"]);
const FILTER_CHAINS_READ: ReadonlySet<string> = new Set(["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]);

/** The chains of a table the reader asks for by name (the last of a name, as a map of all would hold): a nat table has tens of thousands. */
function namedChains(table: Table | undefined, names: ReadonlySet<string>): Map<string, Chain> {
  const chains = new Map<string, Chain>();
  for (const chain of table?.chains ?? []) if (names.has(chain.name)) chains.set(chain.name, chain);
  return chains;
}

function isLoopbackAddress(address: string, family: Family): boolean {
  const ip = parseIp(address, family);
  return ip !== undefined && isLoopback(ip);
}

function masqueradePolicy(rule: Rule, family: Family): MasqueradePolicy {
  const source = sourceNet(rule);
  if (source?.negated) return { kind: "off-cluster", clusterCidr: source.cidr, line: rule.line };
  if (rule.inInterface?.negated) return { kind: "not-from-interface", interface: rule.inInterface.value, line: rule.line };
  // Old kube-proxy's `-s 127.0.0.0/8` for Local NodePorts: only the node's own (loopback) clients.
  const sourceIsLoopback = rule.source !== undefined && isLoopbackAddress(rule.source.value.address, family);
  if (addressTypeLocal(rule, "src-type") || sourceIsLoopback) return { kind: "node-sources", line: rule.line };
  return { kind: "all", line: rule.line };
}

class Reader {
  private readonly drafts = new Map<string, Draft>();
  /** Each KUBE-SEP chain's DNAT rule. */
  private readonly endpointRules = new Map<string, { rule: Rule; to: { ip: string; port: number; address: string } }>();
  /** Masquerade rules in KUBE-SERVICES / KUBE-NODEPORTS (old generation), by frontend. */
  private readonly frontendMasquerade = new Map<string, MasqueradePolicy>();
  private readonly nat: Map<string, Chain>;
  private readonly natChains: readonly Chain[];
  private readonly filter: Map<string, Chain>;
  private readonly notes: KubeNote[] = [];
  private readonly clusterCidrs = new Set<string>();
  private readonly nodePortAddresses: NodeAddress[] = [];
  private loopbackNodePorts: boolean;
  private uncommentedEndpointRules = 0;
  private evidence = { old: 0, new: 0 };
  private masqueradeMark: number | undefined;

  constructor(private readonly ruleset: Ruleset) {
    const nat = ruleset.tables.find((t) => t.name === "nat");
    this.nat = namedChains(nat, NAT_CHAINS_READ);
    this.natChains = nat?.chains ?? [];
    this.filter = namedChains(ruleset.tables.find((t) => t.name === "filter"), FILTER_CHAINS_READ);
    this.loopbackNodePorts = ruleset.family === "ipv4";
  }

  private get family(): Family {
    return this.ruleset.family;
  }

  private draft(hash: string, line: number): Draft {
    let draft = this.drafts.get(hash);
    if (!draft) {
      draft = {
        hash,
        frontends: new Map(),
        chains: {},
        endpointChains: [],
        externalLocal: false,
        internalLocal: false,
        noLocalEndpoints: false,
        noEndpoints: false,
        sourceRanges: [],
        line,
      };
      this.drafts.set(hash, draft);
    }
    draft.line = Math.min(draft.line, line);
    return draft;
  }

  private name(draft: Draft, comment: KubeComment | undefined, line: number): void {
    if (comment && !draft.comment) draft.comment = { key: comment.key, line };
  }

  /** Names the draft from the rule's comment, reading the comment only while the draft has no name. */
  private nameFrom(draft: Draft, rule: Rule): void {
    if (!draft.comment) this.name(draft, kubeComment(rule), rule.line);
  }

  private unrecognised(rule: Rule): void {
    this.notes.push(kubeNote("unrecognised-rule", { chain: rule.chain, line: rule.line }));
  }

  private addFrontend(draft: Draft, frontend: FrontendDraft): void {
    const key = frontendKey(frontend.address, frontend.port, frontend.protocol);
    const known = draft.frontends.get(key);
    if (!known) draft.frontends.set(key, frontend);
    else {
      if (frontend.localhost) known.localhost = true;
      known.via ??= frontend.via;
      if (known.kind === "externalOrLoadBalancerIP") known.kind = frontend.kind;
    }
    draft.protocol ??= frontend.protocol;
  }

  read(): ServiceMap {
    this.readServices();
    this.readNodePorts();
    // KUBE-SVC chains first, so that every service port lists its cluster-wide endpoints first.
    const later: [Exclude<ServiceChainKind, "SEP">, string, Chain][] = [];
    for (const chain of this.natChains) {
      const parsed = parseServiceChain(chain.name);
      if (!parsed) continue;
      if (parsed.kind === "SEP") this.readEndpointChain(chain);
      else if (parsed.kind === "SVC") this.readServiceChain(parsed.kind, parsed.hash, chain);
      else later.push([parsed.kind, parsed.hash, chain]);
    }
    for (const [kind, hash, chain] of later) this.readServiceChain(kind, hash, chain);
    this.readMasqueradeMark();
    const generation = this.generation();
    this.readFilter("KUBE-SERVICES", generation);
    this.readFilter("KUBE-EXTERNAL-SERVICES", generation);
    this.readHealthChecks();
    return this.finish(generation);
  }

  private readServices(): void {
    for (const rule of this.nat.get("KUBE-SERVICES")?.rules ?? []) {
      const target = rule.target?.name ?? "";
      if (target === "KUBE-NODEPORTS") {
        this.readNodePortJump(rule);
        continue;
      }
      const comment = kubeComment(rule);
      const protocol = protocolOf(rule);
      const port = destinationPort(rule);
      const address = destinationHost(rule);
      if (target === "KUBE-MARK-MASQ" && comment && protocol && port !== undefined && address) {
        // Old kube-proxy marks in KUBE-SERVICES itself, before jumping to the service chain.
        this.evidence.old++;
        this.frontendMasquerade.set(frontendKey(address, port, protocol), masqueradePolicy(rule, this.family));
        const source = sourceNet(rule);
        if (source?.negated) this.clusterCidrs.add(source.cidr);
        continue;
      }
      const chain = parseServiceChain(target);
      if (!chain || chain.kind === "SEP" || !protocol || port === undefined || !address) {
        if (comment || chain) this.unrecognised(rule);
        continue;
      }
      const draft = this.draft(chain.hash, rule.line);
      this.name(draft, comment, rule.line);
      const kind = this.frontendKind(comment, chain.kind);
      if (kind === "clusterIP" && chain.kind === "SVL") draft.internalLocal = true;
      this.addFrontend(draft, { kind, address, port, protocol, via: chain.kind, line: rule.line });
    }
  }

  private frontendKind(comment: KubeComment | undefined, via: ServiceChainKind): FrontendKind {
    switch (comment?.role) {
      case "cluster IP":
        return "clusterIP";
      case "external IP":
        return "externalIP";
      case "loadbalancer IP":
        return "loadBalancerIP";
      default:
        return via === "SVC" || via === "SVL" ? "clusterIP" : via === "FW" ? "loadBalancerIP" : "externalOrLoadBalancerIP";
    }
  }

  private readNodePortJump(rule: Rule): void {
    const host = destinationHost(rule);
    if (host) {
      // --nodeport-addresses: kube-proxy names the node's addresses instead of matching LOCAL.
      this.nodePortAddresses.push({ address: host, source: { kind: "inferred", line: rule.line, how: "a NodePort address (kube-proxy --nodeport-addresses)" } });
      return;
    }
    // `! -d ::1/128` (IPv6) or `! -d 127.0.0.0/8` (localhost NodePorts turned off).
    const loopback = parseIp(this.family === "ipv4" ? "127.0.0.1" : "::1", this.family)!;
    if (rule.destination?.negated && inNet(loopback.words, netOf(rule.destination.value))) this.loopbackNodePorts = false;
  }

  private readNodePorts(): void {
    for (const rule of this.nat.get("KUBE-NODEPORTS")?.rules ?? []) {
      const protocol = protocolOf(rule);
      const port = destinationPort(rule);
      const target = rule.target?.name ?? "";
      if (!protocol || port === undefined) {
        this.unrecognised(rule);
        continue;
      }
      if (target === "KUBE-MARK-MASQ") {
        this.evidence.old++;
        this.frontendMasquerade.set(frontendKey(undefined, port, protocol), masqueradePolicy(rule, this.family));
        continue;
      }
      const chain = parseServiceChain(target);
      if (!chain || chain.kind === "SEP") {
        this.unrecognised(rule);
        continue;
      }
      const draft = this.draft(chain.hash, rule.line);
      this.nameFrom(draft, rule);
      const loopbackOnly = rule.destination !== undefined && !rule.destination.negated && isLoopbackAddress(rule.destination.value.address, this.family);
      this.addFrontend(draft, { kind: "nodePort", port, protocol, via: chain.kind, line: rule.line, ...(loopbackOnly ? { localhost: true } : {}) });
    }
  }

  private readServiceChain(kind: Exclude<ServiceChainKind, "SEP">, hash: string, chain: Chain): void {
    const draft = this.draft(hash, chain.line || (chain.rules[0]?.line ?? 0));
    draft.chains[kind] = chain.name;
    if (kind === "EXT" || kind === "SVL") this.evidence.new++;
    if (kind === "XLB") {
      // kube-proxy creates KUBE-XLB only for externalTrafficPolicy=Local, even while it is empty.
      this.evidence.old++;
      draft.externalLocal = true;
    }
    const local = kind === "SVL" || kind === "XLB";
    if (local) draft.localChains ??= new Set();
    for (const rule of chain.rules) {
      this.nameFrom(draft, rule);
      const target = rule.target?.name;
      const targetChain = target ? parseServiceChain(target) : undefined;
      if (target === "KUBE-MARK-MASQ") {
        const policy = masqueradePolicy(rule, this.family);
        if (kind === "SVC" || kind === "SVL") {
          this.evidence.new++;
          draft.clusterMasquerade = policy;
        } else draft.externalMasquerade = policy;
        if (policy.kind === "off-cluster") this.clusterCidrs.add(policy.clusterCidr);
      } else if (target === "KUBE-MARK-DROP") {
        if (kind === "FW") this.evidence.old++;
        else draft.noLocalEndpoints = true;
      } else if (targetChain?.kind === "SEP") {
        this.readEndpointRule(draft, rule, local);
      } else if (targetChain && targetChain.hash === hash) {
        this.readInnerJump(draft, kind, rule, targetChain.kind);
      } else if (!(kind === "FW" && !target)) {
        // The comment-only rule ending KUBE-FW is kube-proxy's: "other traffic … will be dropped".
        this.unrecognised(rule);
      }
    }
  }

  private readEndpointChain(chain: Chain): void {
    for (const rule of chain.rules) {
      const to = dnatDestination(rule, this.family);
      if (to) {
        this.endpointRules.set(chain.name, { rule, to });
        return;
      }
    }
  }

  private readEndpointRule(draft: Draft, rule: Rule, local: boolean): void {
    const chain = rule.target!.name;
    if (!rule.matches.some((m) => m.name === "comment")) this.uncommentedEndpointRules++;
    const seconds = affinitySeconds(rule);
    if (seconds !== undefined) {
      draft.affinity ??= { seconds, line: rule.line };
      draft.affinityRules ??= new Map();
      if (!draft.affinityRules.has(chain)) draft.affinityRules.set(chain, rule.line);
      return;
    }
    if (local) draft.localChains!.add(chain);
    if (!draft.endpointChains.includes(chain)) draft.endpointChains.push(chain);
  }

  /** EXT → SVC/SVL, FW → EXT/SVC/XLB, XLB → SVC: the traffic policies and source ranges. */
  private readInnerJump(draft: Draft, from: ServiceChainKind, rule: Rule, to: ServiceChainKind): void {
    const source = sourceNet(rule);
    if (from === "FW") {
      if (source && !source.negated) {
        // A host range that is one of the service's own IPs is kube-proxy's "allow from node" rule.
        if (!(source.host && [...draft.frontends.values()].some((f) => f.address === source.cidr.split("/")[0]))) draft.sourceRanges.push(source.cidr);
      }
      if (to === "XLB") draft.externalLocal = true;
      return;
    }
    if (from === "EXT" && to === "SVL") {
      draft.externalLocal = true;
      return;
    }
    if ((from === "EXT" || from === "XLB") && to === "SVC") {
      if (source && !source.negated) {
        // "pod traffic for … external destinations": the local-traffic detector's CIDR.
        draft.externalLocal = true;
        this.clusterCidrs.add(source.cidr);
      } else if (rule.inInterface && !rule.inInterface.negated) {
        draft.externalLocal = true;
      } else if (addressTypeLocal(rule, "src-type")) {
        draft.externalLocal = true;
      }
    }
  }

  private readMasqueradeMark(): void {
    for (const rule of this.nat.get("KUBE-MARK-MASQ")?.rules ?? []) {
      const mark = markValue(rule);
      if (mark !== undefined) this.masqueradeMark = mark;
    }
  }

  private generation(): RuleGeneration {
    if (this.filter.has("KUBE-PROXY-FIREWALL")) this.evidence.new++;
    if (this.evidence.new > 0) return "new";
    return this.evidence.old > 0 ? "old" : "unknown";
  }

  /** filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES: "has no endpoints" REJECTs, "has no local endpoints" DROPs. */
  private readFilter(chainName: string, generation: RuleGeneration): void {
    for (const rule of this.filter.get(chainName)?.rules ?? []) {
      const verdict = rule.target?.name;
      if (verdict !== "REJECT" && verdict !== "DROP") continue;
      const comment = kubeComment(rule);
      const protocol = protocolOf(rule);
      const port = destinationPort(rule);
      if (!comment || !protocol || port === undefined) {
        this.unrecognised(rule);
        continue;
      }
      const hash = serviceChainHash(comment.key, protocol);
      const draft = this.draft(hash, rule.line);
      this.name(draft, comment, rule.line);
      if (verdict === "REJECT") draft.noEndpoints = true;
      else draft.noLocalEndpoints = true;
      const address = destinationHost(rule);
      if (!address) {
        if (addressTypeLocal(rule, "dst-type")) {
          if (verdict === "DROP") draft.externalLocal = true;
          this.addFrontend(draft, { kind: "nodePort", port, protocol, line: rule.line });
        } else this.unrecognised(rule);
        continue;
      }
      const known = draft.frontends.get(frontendKey(address, port, protocol));
      const kind: FrontendKind = known?.kind ?? this.filterFrontendKind(draft, chainName, generation);
      if (verdict === "DROP") {
        if (kind === "clusterIP") draft.internalLocal = true;
        else draft.externalLocal = true;
      }
      if (!known) this.addFrontend(draft, { kind, address, port, protocol, line: rule.line });
    }
  }

  private filterFrontendKind(draft: Draft, chainName: string, generation: RuleGeneration): FrontendKind {
    const hasClusterIP = [...draft.frontends.values()].some((f) => f.kind === "clusterIP");
    if (chainName === "KUBE-SERVICES") {
      // kube-proxy writes the cluster IP first; old versions put load-balancer IPs' REJECTs here too.
      if (!hasClusterIP) return "clusterIP";
      return generation === "old" ? "loadBalancerIP" : "externalOrLoadBalancerIP";
    }
    return generation === "old" ? "externalIP" : "externalOrLoadBalancerIP";
  }

  private readHealthChecks(): void {
    const byKey = new Map<string, Draft[]>();
    for (const draft of this.drafts.values()) {
      if (!draft.comment) continue;
      const list = byKey.get(draft.comment.key);
      if (list) list.push(draft);
      else byKey.set(draft.comment.key, [draft]);
    }
    for (const rule of this.filter.get("KUBE-NODEPORTS")?.rules ?? []) {
      const comment = kubeComment(rule);
      const port = destinationPort(rule);
      if (comment?.role !== "health check node port" || port === undefined) continue;
      for (const draft of byKey.get(comment.key) ?? []) {
        draft.healthCheckNodePort = { port, line: rule.line };
        draft.externalLocal = true;
      }
    }
  }

  private endpoints(draft: Draft): Endpoint[] {
    const localKnown = draft.localChains !== undefined || (draft.noLocalEndpoints && (draft.externalLocal || draft.internalLocal));
    const endpoints: Endpoint[] = [];
    for (const chainName of draft.endpointChains) {
      const found = this.endpointRules.get(chainName);
      if (!found) continue;
      this.nameFrom(draft, found.rule);
      const endpoint: Endpoint = { ip: found.to.ip, port: found.to.port, address: found.to.address, chain: chainName, line: found.rule.line };
      if (localKnown) endpoint.local = draft.localChains?.has(chainName) ?? false;
      const affinityLine = draft.affinityRules?.get(chainName);
      if (affinityLine !== undefined) endpoint.affinityLine = affinityLine;
      endpoints.push(endpoint);
    }
    return endpoints;
  }

  private frontend(draft: Draft, f: FrontendDraft): Frontend {
    const masquerade =
      this.frontendMasquerade.get(frontendKey(f.address, f.port, f.protocol)) ??
      (f.via === undefined ? undefined : f.kind === "clusterIP" ? draft.clusterMasquerade : draft.externalMasquerade) ??
      ({ kind: "none" } as const);
    const frontend: Frontend = { kind: f.kind, port: f.port, protocol: f.protocol, masquerade, line: f.line, resolutions: [] };
    if (f.address !== undefined) frontend.address = f.address;
    if (f.kind === "nodePort") frontend.localhost = f.localhost === true || this.loopbackNodePorts;
    if (f.kind === "loadBalancerIP" && draft.sourceRanges.length > 0 && (f.via === "FW" || f.via === undefined)) frontend.sourceRanges = [...draft.sourceRanges];
    return frontend;
  }

  private servicePort(draft: Draft): ServicePort | undefined {
    if (draft.frontends.size === 0) return undefined;
    const protocol = draft.protocol!;
    let name: ServicePort["name"];
    const parsed = draft.comment ? parseServicePortName(draft.comment.key) : undefined;
    if (parsed) {
      name = parsed;
      const chain = draft.chains.SVC ?? draft.chains.SVL ?? draft.chains.EXT ?? draft.chains.FW ?? draft.chains.XLB;
      if (chain && serviceChainHash(parsed.key, protocol) !== draft.hash) this.notes.push(kubeNote("name-mismatch", { chain, key: parsed.key }));
    } else {
      const chain = draft.chains.SVC ?? draft.chains.SVL ?? draft.chains.EXT ?? draft.chains.FW ?? draft.chains.XLB ?? `KUBE-SVC-${draft.hash}`;
      name = { key: chain, from: "chain" };
      this.notes.push(kubeNote("name-from-chain", { chain }));
    }
    const frontends = [...draft.frontends.values()].sort((a, b) => FRONTEND_ORDER[a.kind] - FRONTEND_ORDER[b.kind] || a.line - b.line).map((f) => this.frontend(draft, f));
    const endpoints = this.endpoints(draft);
    const hasLoadBalancer = frontends.some((f) => f.kind === "loadBalancerIP");
    const type: ServiceType = hasLoadBalancer ? "LoadBalancer" : frontends.some((f) => f.kind === "nodePort") ? "NodePort" : "ClusterIP";
    const state: ServicePort["state"] = endpoints.length === 0 && draft.noEndpoints ? "no-endpoints" : draft.noLocalEndpoints ? "no-local-endpoints" : "ok";
    const chains: ServicePort["chains"] = {};
    if (draft.chains.SVC) chains.svc = draft.chains.SVC;
    if (draft.chains.SVL) chains.svl = draft.chains.SVL;
    if (draft.chains.EXT) chains.ext = draft.chains.EXT;
    if (draft.chains.FW) chains.fw = draft.chains.FW;
    if (draft.chains.XLB) chains.xlb = draft.chains.XLB;
    const port: ServicePort = {
      hash: draft.hash,
      name,
      protocol,
      type,
      externalTrafficPolicy: draft.externalLocal ? "Local" : "Cluster",
      internalTrafficPolicy: draft.internalLocal ? "Local" : "Cluster",
      state,
      chains,
      endpoints,
      frontends,
      line: draft.line,
    };
    if (draft.affinity) port.affinity = draft.affinity;
    if (draft.healthCheckNodePort) port.healthCheckNodePort = draft.healthCheckNodePort;
    return port;
  }

  private finish(generation: RuleGeneration): ServiceMap {
    const services = [...this.drafts.values()]
      .map((d) => this.servicePort(d))
      .filter((s): s is ServicePort => s !== undefined)
      .sort((a, b) => (a.name.key < b.name.key ? -1 : a.name.key > b.name.key ? 1 : a.protocol.localeCompare(b.protocol)));
    if (this.uncommentedEndpointRules > 0) this.notes.push(kubeNote("endpoint-comments-omitted", { rules: this.uncommentedEndpointRules }));
    if (services.length === 0) this.notes.push(kubeNote("no-kube-proxy-rules", {}));
    const map: ServiceMap = {
      family: this.family,
      generation,
      clusterCidrs: [...this.clusterCidrs],
      nodeAddresses: [],
      services,
      notes: this.notes,
    };
    if (this.masqueradeMark !== undefined) map.masqueradeMark = this.masqueradeMark;
    return map;
  }

  nodeAddresses(given: NodeAddress[] | undefined, map: ServiceMap): NodeAddress[] {
    if (given && given.length > 0) return given;
    if (this.nodePortAddresses.length > 0) return this.nodePortAddresses;
    const inferred = inferNodeAddresses(this.ruleset);
    if (inferred.length > 0) {
      const first = inferred[0]!;
      const line = first.source.kind === "inferred" ? first.source.line : 0;
      if (hasNodePorts(map)) map.notes.push(kubeNote("node-address-inferred", { address: first.address, line }));
      return inferred;
    }
    const named = namedAddresses(map);
    const standIn = STAND_IN_NODE_ADDRESSES[this.family].find((a) => !named.has(a))!;
    if (hasNodePorts(map)) map.notes.push(kubeNote("node-address-stand-in", { address: standIn }));
    return [{ address: standIn, source: { kind: "inferred", line: 0, how: "a stand-in: no rule names a node address" } }];
  }
}

const FRONTEND_ORDER: Record<FrontendKind, number> = {
  clusterIP: 0,
  externalIP: 1,
  loadBalancerIP: 2,
  externalOrLoadBalancerIP: 3,
  nodePort: 4,
};

// Documentation addresses (RFC 5737, RFC 3849): no cluster routes them.
const STAND_IN_NODE_ADDRESSES: Record<Family, string[]> = {
  ipv4: ["192.0.2.10", "192.0.2.11", "192.0.2.12"],
  ipv6: ["2001:db8:ffff::10", "2001:db8:ffff::11", "2001:db8:ffff::12"],
};

function hasNodePorts(map: ServiceMap): boolean {
  return map.services.some((s) => s.frontends.some((f) => f.kind === "nodePort"));
}

const named = new WeakMap<ServiceMap, ReadonlySet<string>>();

/** Addresses the service map names: frontends and endpoints. Made once per map: clients and diffs ask again. */
export function namedAddresses(map: ServiceMap): ReadonlySet<string> {
  let addresses = named.get(map);
  if (!addresses) {
    const found = new Set<string>();
    for (const service of map.services) {
      for (const f of service.frontends) if (f.address) found.add(f.address);
      for (const e of service.endpoints) found.add(e.ip);
    }
    named.set(map, (addresses = found));
  }
  return addresses;
}

/** The Service map as the KUBE-* chains describe it; frontends are not resolved yet (see resolveServiceMap). */
export function readServiceMap(ruleset: Ruleset, options: ReadOptions = {}): ServiceMap {
  const reader = new Reader(ruleset);
  const map = reader.read();
  map.nodeAddresses = reader.nodeAddresses(options.nodeAddresses, map);
  return map;
}

