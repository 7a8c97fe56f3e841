// Reads kube-proxy's KUBE-* chains into the Service map's skeleton: service ports, their names,
// frontends, endpoints, policies and masquerade rules. Where connections go is left to the tracer
// (resolve.ts). Both rule generations are understood, in any rule order, IPv4 and IPv6; see
// ../shared/docs/kube-proxy-rules.md for the shapes. The loops over every chain and rule count by index: a command
// reads a dump once, mostly before its code is optimised, and an unoptimised for-of makes an object per element.

import type { Chain, Family, Rule, Ruleset, Table, TableName } from "../../model/types.js";
import { inferNodeAddresses } from "../trace/context.js";
import type { NodeAddress } from "../trace/types.js";
import { inNet, isLoopback, netOf, parseIp } from "../ip.js";
import {
  kubeComment,
  parseServiceChain,
  parseServicePortName,
  serviceChainHash,
  serviceChainHashOf,
  serviceChainKind,
  type KubeComment,
  type ServiceChainKind,
} from "./names.js";
import { kubeNote, type KubeNote } from "./notes.js";
import {
  addressTypeLocal,
  affinitySeconds,
  hasComment,
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

/**
 * A later snapshot of the node a service map was read from, and how its nat and filter rules relate to the
 * earlier snapshot's (see readLaterServiceMap).
 */
export interface LaterSnapshot {
  ruleset: Ruleset;
  /** Chains of nat and filter not written alike in both snapshots: added, removed, renamed (both names), with other rules or words. */
  changedChains: ReadonlyMap<TableName, ReadonlySet<string>>;
  /** The rules of those chains that one snapshot has and the other has not. */
  changedRules: readonly Rule[];
  /** The rules of those chains that both snapshots have, in other places (either snapshot's). */
  movedRules: readonly Rule[];
  /** The later snapshot's rule in the place of a rule of either snapshot (moved or not); undefined when it is gone. */
  counterpart(rule: Rule): Rule | undefined;
  /** The later rule says what the earlier one says, in the same words or with the same parts. */
  sameRule(earlier: Rule, later: Rule): boolean;
  /** The later line of an earlier rule's or chain declaration's line, where the later snapshot has it in the same words. */
  line(earlier: number): number | undefined;
  chain(snapshot: "earlier" | "later", table: TableName, name: string): Chain | undefined;
  /** Where the later snapshot's chain of that name stands among its table's chains. */
  order(table: TableName, name: string): number;
  /** The chains both snapshots have stand in the same order in both. */
  sameChainOrder(table: TableName): boolean;
}

/** Where a line of the map comes from: a rule, or a chain (its declaration). */
type LineSource = Rule | Chain;

type OwnChainKind = Exclude<ServiceChainKind, "SEP">;

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
  /** The service port name of the first rule comment read that names one. */
  key?: string;
  protocol?: ServiceProtocol;
  frontends: FrontendDraft[];
  /** Its own chains by kind, and in the order read (KUBE-SVC first, then the others in table order). */
  chains: Partial<Record<OwnChainKind, Chain>>;
  ownChains: Chain[];
  /** Rules of KUBE-SERVICES, KUBE-NODEPORTS and filter's KUBE-SERVICES / KUBE-EXTERNAL-SERVICES read for it, in order. */
  sharedRules: Rule[];
  /** filter KUBE-NODEPORTS rules of its health check node port, in order. */
  healthCheckRules?: Rule[];
  clusterMasquerade?: MasqueradePolicy;
  externalMasquerade?: MasqueradePolicy;
  /** KUBE-SEP chains in kube-proxy's order: the cluster policy chain first, then local-only ones. */
  endpointChains: string[];
  localChains?: Set<string>;
  affinity?: { seconds: number; line: number };
  /** The line of the `--rcheck` rule that sends a returning client back to each endpoint chain. */
  affinityRules?: Map<string, number>;
  externalLocal: boolean;
  internalLocal: boolean;
  noLocalEndpoints: boolean;
  noEndpoints: boolean;
  sourceRanges?: string[];
  healthCheckNodePort?: { port: number; line: number };
  /** How often its own chains speak for the old and the new rule generation. */
  evidenceOld: number;
  evidenceNew: number;
  /** How often its own chains reveal a cluster CIDR. */
  revealedCidrs: number;
}

interface Evidence {
  old: number;
  new: number;
}

const frontendKey = (address: string | undefined, port: number, protocol: string) => `${address ?? "node"}|${port}|${protocol}`;

/** A draft's frontend at an address (none: a NodePort), port and protocol; a port has a few. */
function frontendAt(draft: Draft, address: string | undefined, port: number, protocol: ServiceProtocol): FrontendDraft | undefined {
  return draft.frontends.find((f) => f.address === address && f.port === port && f.protocol === protocol);
}

const NAT_CHAINS_READ: ReadonlySet<string> = new Set(["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ"]);
const FILTER_CHAINS_READ: ReadonlySet<string> = new Set(["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]);
const FILTER_SERVICE_CHAINS = ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"] as const;

/** The chains of a table the reader asks for by name (the last of a name, as a map of all would hold): a nat table has tens of thousands. */
function namedChains(table: Table | undefined, names: ReadonlySet<string>): Map<string, Chain> {
  const chains = new Map<string, Chain>();
  const all = table?.chains ?? [];
  for (let i = 0; i < all.length; i++) if (names.has(all[i]!.name)) chains.set(all[i]!.name, all[i]!);
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

const isChain = (source: LineSource): source is Chain => "builtin" in source;
const chainLine = (chain: Chain) => chain.line || (chain.rules[0]?.line ?? 0);
const lineAsRead = (source: LineSource) => (isChain(source) ? chainLine(source) : source.line);

/**
 * The hash of the port a rule of nat KUBE-SERVICES is read for; "global" for one that concerns no one port (the
 * jump to KUBE-NODEPORTS, old kube-proxy's masquerade rules, unrecognised rules); undefined for one not read.
 */
function servicesRulePort(rule: Rule): string | "global" | undefined {
  const target = rule.target?.name ?? "";
  if (target === "KUBE-NODEPORTS" || target === "KUBE-MARK-MASQ") return "global";
  const kind = serviceChainKind(target);
  if (kind !== undefined && kind !== "SEP") return serviceChainHashOf(target);
  return kind !== undefined || kubeComment(rule) ? "global" : undefined;
}

/** The hash of the service port a rule of nat KUBE-NODEPORTS is for; undefined for others (masquerade, unrecognised). */
function nodePortsRuleHash(rule: Rule): string | undefined {
  const chain = parseServiceChain(rule.target?.name ?? "");
  return chain && chain.kind !== "SEP" && protocolOf(rule) && destinationPort(rule) !== undefined ? chain.hash : undefined;
}

/** What a REJECT or DROP of filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES says: a service port, or nothing readable. */
function filterRule(rule: Rule): { hash: string; comment: KubeComment; protocol: ServiceProtocol; port: number } | "unrecognised" | undefined {
  const verdict = rule.target?.name;
  if (verdict !== "REJECT" && verdict !== "DROP") return undefined;
  const comment = kubeComment(rule);
  const protocol = protocolOf(rule);
  const port = destinationPort(rule);
  if (!comment || !protocol || port === undefined) return "unrecognised";
  return { hash: serviceChainHash(comment.key, protocol), comment, protocol, port };
}

/** The service port name a health check rule of filter KUBE-NODEPORTS is for. */
function healthCheck(rule: Rule): { key: string; port: number } | undefined {
  const comment = kubeComment(rule);
  const port = destinationPort(rule);
  return comment?.role === "health check node port" && port !== undefined ? { key: comment.key, port } : undefined;
}

class Reader {
  readonly drafts = new Map<string, Draft>();
  /** Each KUBE-SEP chain's DNAT rule. */
  readonly endpointRules = new Map<string, { rule: Rule; to: { ip: string; port: number; address: string } }>();
  /** Masquerade rules in KUBE-SERVICES / KUBE-NODEPORTS (old generation), by frontend. */
  frontendMasquerade = new Map<string, MasqueradePolicy>();
  readonly nat: Map<string, Chain>;
  private readonly natChains: readonly Chain[];
  readonly filter: Map<string, Chain>;
  readonly notes: KubeNote[] = [];
  /** Cluster CIDRs in the order read, and those that KUBE-SERVICES reveals. */
  readonly clusterCidrs = new Set<string>();
  sharedClusterCidrs: string[] = [];
  nodePortAddresses: NodeAddress[] = [];
  loopbackNodePorts: boolean;
  private uncommentedEndpointRules = 0;
  /** Evidence of the rule generation: all of it, and what KUBE-SERVICES / KUBE-NODEPORTS say. */
  private readonly evidence: Evidence = { old: 0, new: 0 };
  sharedEvidence: Evidence = { old: 0, new: 0 };
  /** The rules of KUBE-SERVICES and KUBE-NODEPORTS that concern no one port (node ports, old masquerade rules), in order. */
  readonly globalRules: Rule[] = [];
  private masqueradeMark: number | undefined;
  generation: RuleGeneration = "unknown";
  /** The rules made notes (those on node addresses come after). */
  noted = false;

  /**
   * `only`: read just these service ports; the others, and what concerns no one port, are taken from an earlier
   * read, whose lines `earlierLine` gives in this snapshot.
   */
  constructor(
    readonly ruleset: Ruleset,
    private readonly only?: ReadonlySet<string>,
    private readonly earlierLine: (line: number) => number = (line) => line,
  ) {
    const nat = ruleset.tables.find((t) => t.name === "nat");
    this.nat = namedChains(nat, NAT_CHAINS_READ);
    this.natChains = nat?.chains ?? [];
    this.filter = namedChains(ruleset.tables.find((t) => t.name === "filter"), FILTER_CHAINS_READ);
    this.loopbackNodePorts = ruleset.family === "ipv4";
  }

  get family(): Family {
    return this.ruleset.family;
  }

  private wanted(hash: string): boolean {
    return this.only === undefined || this.only.has(hash);
  }

  private draft(hash: string): Draft {
    let draft = this.drafts.get(hash);
    if (!draft) {
      draft = {
        hash,
        frontends: [],
        chains: {},
        ownChains: [],
        sharedRules: [],
        endpointChains: [],
        externalLocal: false,
        internalLocal: false,
        noLocalEndpoints: false,
        noEndpoints: false,
        evidenceOld: 0,
        evidenceNew: 0,
        revealedCidrs: 0,
      };
      this.drafts.set(hash, draft);
    }
    return draft;
  }

  private sharedRuleDraft(hash: string, rule: Rule): Draft {
    const draft = this.draft(hash);
    draft.sharedRules.push(rule);
    return draft;
  }

  private name(draft: Draft, comment: KubeComment | undefined): void {
    if (comment && draft.key === undefined) draft.key = comment.key;
  }

  /** Names the draft from the rule's comment, reading the comment only while the draft has no name. */
  private nameFrom(draft: Draft, rule: Rule): void {
    if (draft.key === undefined) this.name(draft, kubeComment(rule));
  }

  private unrecognised(rule: Rule): void {
    this.notes.push(kubeNote("unrecognised-rule", { chain: rule.chain, line: rule.line }));
  }

  private addClusterCidr(cidr: string, draft: Draft | undefined): void {
    this.clusterCidrs.add(cidr);
    if (draft === undefined) this.sharedClusterCidrs.push(cidr);
    else draft.revealedCidrs++;
  }

  private addEvidence(generation: "old" | "new", draft: Draft | undefined): void {
    this.evidence[generation]++;
    if (draft === undefined) this.sharedEvidence[generation]++;
    else if (generation === "old") draft.evidenceOld++;
    else draft.evidenceNew++;
  }

  private addFrontend(draft: Draft, frontend: FrontendDraft): void {
    const known = frontendAt(draft, frontend.address, frontend.port, frontend.protocol);
    if (!known) draft.frontends.push(frontend);
    else {
      if (frontend.localhost) known.localhost = true;
      known.via ??= frontend.via;
      if (known.kind === "externalOrLoadBalancerIP") known.kind = frontend.kind;
    }
    draft.protocol ??= frontend.protocol;
  }

  read(): ServiceMap {
    this.readShared();
    // KUBE-SVC chains first, so that every service port lists its cluster-wide endpoints first.
    const later: [OwnChainKind, string, Chain][] = [];
    const natChains = this.natChains;
    for (let i = 0; i < natChains.length; i++) {
      const chain = natChains[i]!;
      const kind = serviceChainKind(chain.name);
      if (kind === undefined) continue;
      if (kind === "SEP") this.readEndpointChain(chain);
      else if (kind === "SVC") this.readServiceChain(kind, serviceChainHashOf(chain.name), chain);
      else later.push([kind, serviceChainHashOf(chain.name), chain]);
    }
    for (const [kind, hash, chain] of later) this.readServiceChain(kind, hash, chain);
    return this.readRest(this.evidence);
  }

  /**
   * The service ports `only` names, their chains found by name, the endpoint chains they jump to read; `earlier`
   * gives the rest: the other ports, shown with this snapshot's lines, and what concerns no one port. Undefined
   * when the rule generation changed (filter rules read otherwise).
   */
  readOnly(earlier: Reader, earlierMap: ServiceMap, chainNamed: (name: string) => Chain | undefined, orderOf: (chain: Chain) => number): ServiceMap | undefined {
    const only = this.only!;
    this.readShared();
    const own: [OwnChainKind, string, Chain][] = [];
    for (const hash of only) {
      for (const kind of OWN_CHAIN_KINDS) {
        const chain = chainNamed(`KUBE-${kind}-${hash}`);
        if (chain) own.push([kind, hash, chain]);
      }
    }
    // As read() reads them: KUBE-SVC chains first, then the others in table order (which matters within a port only).
    own.sort(([a, h, x], [b, k, y]) => Number(a !== "SVC") - Number(b !== "SVC") || (h < k ? -1 : h > k ? 1 : a === "SVC" ? 0 : orderOf(x) - orderOf(y)));
    for (const [kind, hash, chain] of own) this.readServiceChain(kind, hash, chain);
    for (const draft of this.drafts.values()) {
      for (const name of endpointChainsOf(draft)) {
        const chain = chainNamed(name);
        if (chain) this.readEndpointChain(chain);
      }
    }
    this.frontendMasquerade = earlier.frontendMasquerade;
    this.nodePortAddresses = earlier.nodePortAddresses;
    this.loopbackNodePorts = earlier.loopbackNodePorts;
    this.sharedClusterCidrs = earlier.sharedClusterCidrs;
    // The earlier drafts' CIDRs are known only where there was one: then theirs is that one.
    if (earlier.clusterCidrs.size > 1) return undefined;
    const evidence: Evidence = { ...earlier.sharedEvidence };
    this.drafts.forEach((draft) => {
      evidence.old += draft.evidenceOld;
      evidence.new += draft.evidenceNew;
    });
    earlier.drafts.forEach((draft) => {
      if (only.has(draft.hash)) return;
      evidence.old += draft.evidenceOld;
      evidence.new += draft.evidenceNew;
      if (draft.revealedCidrs > 0) for (const cidr of earlier.clusterCidrs) this.clusterCidrs.add(cidr);
    });
    for (const cidr of this.sharedClusterCidrs) this.clusterCidrs.add(cidr);
    this.readMasqueradeMark();
    this.generation = generationOf(evidence, this.filter.has("KUBE-PROXY-FIREWALL"));
    if (this.generation !== earlier.generation) return undefined;
    this.readFiltered();
    const read = this.ports();
    const takenFrom = new Map<ServicePort, ServicePort>();
    const ports = earlierMap.services;
    for (let i = 0; i < ports.length; i++) if (!only.has(ports[i]!.hash)) takenFrom.set(this.relined(ports[i]!, earlier.drafts.get(ports[i]!.hash)!), ports[i]!);
    const map = this.mapOf(mergeByName(read, [...takenFrom.keys()]));
    taken.set(map, takenFrom);
    return map;
  }

  /** An earlier read's port as this snapshot has it: the same, but for its lines. */
  private relined(port: ServicePort, draft: Draft): ServicePort {
    const line = this.earlierLine;
    const masquerade = (policy: MasqueradePolicy): MasqueradePolicy => (policy.kind === "none" ? policy : { ...policy, line: line(policy.line) });
    const frontends = port.frontends.map((f) => ({ ...f, masquerade: masquerade(f.masquerade), line: line(f.line), resolutions: [] })).sort(byKindAndLine);
    const endpoints = port.endpoints.map((e) => ({ ...e, line: line(e.line), ...(e.affinityLine !== undefined ? { affinityLine: line(e.affinityLine) } : {}) }));
    const copy: ServicePort = { ...port, endpoints, frontends, line: firstLine(draft, (source) => line(lineAsRead(source))) };
    if (port.affinity) copy.affinity = { seconds: port.affinity.seconds, line: line(port.affinity.line) };
    if (port.healthCheckNodePort) copy.healthCheckNodePort = { port: port.healthCheckNodePort.port, line: line(port.healthCheckNodePort.line) };
    return copy;
  }

  /** KUBE-SERVICES and KUBE-NODEPORTS of nat. */
  private readShared(): void {
    this.readServices();
    this.readNodePorts();
  }

  /** What follows the service chains: the masquerade mark, the generation, filter's rules, the map. */
  private readRest(evidence: Evidence): ServiceMap {
    this.readMasqueradeMark();
    this.generation = generationOf(evidence, this.filter.has("KUBE-PROXY-FIREWALL"));
    this.readFiltered();
    return this.mapOf(this.ports());
  }

  /** filter's rules: "has no (local) endpoints", health checks. */
  private readFiltered(): void {
    for (const chainName of FILTER_SERVICE_CHAINS) this.readFilter(chainName, this.generation);
    this.readHealthChecks();
  }

  private readServices(): void {
    const rules = this.nat.get("KUBE-SERVICES")?.rules ?? [];
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (this.only !== undefined) {
        const port = servicesRulePort(rule);
        if (port === undefined || port === "global" || !this.only.has(port)) continue;
      }
      const target = rule.target?.name ?? "";
      if (target === "KUBE-NODEPORTS") {
        this.globalRules.push(rule);
        this.readNodePortJump(rule);
        continue;
      }
      const comment = kubeComment(rule);
      const protocol = protocolOf(rule);
      const port = destinationPort(rule);
      const address = destinationHost(rule);
      if (target === "KUBE-MARK-MASQ" && comment && protocol && port !== undefined && address) {
        // Old kube-proxy marks in KUBE-SERVICES itself, before jumping to the service chain.
        this.addEvidence("old", undefined);
        this.globalRules.push(rule);
        this.frontendMasquerade.set(frontendKey(address, port, protocol), masqueradePolicy(rule, this.family));
        const source = sourceNet(rule);
        if (source?.negated) this.addClusterCidr(source.cidr, undefined);
        continue;
      }
      const chain = parseServiceChain(target);
      if (!chain || chain.kind === "SEP" || !protocol || port === undefined || !address) {
        if (comment || chain) this.unrecognised(rule);
        continue;
      }
      const draft = this.sharedRuleDraft(chain.hash, rule);
      this.name(draft, comment);
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
    const rules = this.nat.get("KUBE-NODEPORTS")?.rules ?? [];
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (this.only !== undefined) {
        const hash = nodePortsRuleHash(rule);
        if (hash === undefined || !this.only.has(hash)) continue;
      }
      const protocol = protocolOf(rule);
      const port = destinationPort(rule);
      const target = rule.target?.name ?? "";
      if (!protocol || port === undefined) {
        this.unrecognised(rule);
        continue;
      }
      if (target === "KUBE-MARK-MASQ") {
        this.addEvidence("old", undefined);
        this.globalRules.push(rule);
        this.frontendMasquerade.set(frontendKey(undefined, port, protocol), masqueradePolicy(rule, this.family));
        continue;
      }
      const chain = parseServiceChain(target);
      if (!chain || chain.kind === "SEP") {
        this.unrecognised(rule);
        continue;
      }
      const draft = this.sharedRuleDraft(chain.hash, rule);
      this.nameFrom(draft, rule);
      const loopbackOnly = rule.destination !== undefined && !rule.destination.negated && isLoopbackAddress(rule.destination.value.address, this.family);
      this.addFrontend(draft, { kind: "nodePort", port, protocol, via: chain.kind, line: rule.line, ...(loopbackOnly ? { localhost: true } : {}) });
    }
  }

  private readServiceChain(kind: OwnChainKind, hash: string, chain: Chain): void {
    const draft = this.draft(hash);
    draft.chains[kind] = chain;
    draft.ownChains.push(chain);
    if (kind === "EXT" || kind === "SVL") this.addEvidence("new", draft);
    if (kind === "XLB") {
      // kube-proxy creates KUBE-XLB only for externalTrafficPolicy=Local, even while it is empty.
      this.addEvidence("old", draft);
      draft.externalLocal = true;
    }
    const local = kind === "SVL" || kind === "XLB";
    if (local) draft.localChains ??= new Set();
    const rules = chain.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      this.nameFrom(draft, rule);
      const target = rule.target?.name;
      const targetKind = target === undefined ? undefined : serviceChainKind(target);
      if (target === "KUBE-MARK-MASQ") {
        const policy = masqueradePolicy(rule, this.family);
        if (kind === "SVC" || kind === "SVL") {
          this.addEvidence("new", draft);
          draft.clusterMasquerade = policy;
        } else draft.externalMasquerade = policy;
        if (policy.kind === "off-cluster") this.addClusterCidr(policy.clusterCidr, draft);
      } else if (target === "KUBE-MARK-DROP") {
        if (kind === "FW") this.addEvidence("old", draft);
        else draft.noLocalEndpoints = true;
      } else if (targetKind === "SEP") {
        this.readEndpointRule(draft, rule, local);
      } else if (targetKind !== undefined && target!.endsWith(hash)) {
        this.readInnerJump(draft, kind, rule, targetKind);
      } else if (!(kind === "FW" && !target)) {
        // The comment-only rule ending KUBE-FW is kube-proxy's: "other traffic … will be dropped".
        this.unrecognised(rule);
      }
    }
  }

  private readEndpointChain(chain: Chain): void {
    const rules = chain.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const to = dnatDestination(rule, this.family);
      if (to) {
        this.endpointRules.set(chain.name, { rule, to });
        return;
      }
    }
  }

  private readEndpointRule(draft: Draft, rule: Rule, local: boolean): void {
    const chain = rule.target!.name;
    if (!hasComment(rule)) this.uncommentedEndpointRules++;
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
        if (!(source.host && draft.frontends.some((f) => f.address === source.cidr.split("/")[0]))) (draft.sourceRanges ??= []).push(source.cidr);
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
        this.addClusterCidr(source.cidr, draft);
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

  /** filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES: "has no endpoints" REJECTs, "has no local endpoints" DROPs. */
  private readFilter(chainName: (typeof FILTER_SERVICE_CHAINS)[number], generation: RuleGeneration): void {
    for (const rule of this.filter.get(chainName)?.rules ?? []) {
      const reading = filterRule(rule);
      if (reading === undefined || (this.only !== undefined && (reading === "unrecognised" || !this.only.has(reading.hash)))) continue;
      if (reading === "unrecognised") {
        this.unrecognised(rule);
        continue;
      }
      const { hash, comment, protocol, port } = reading;
      const verdict = rule.target!.name;
      const draft = this.sharedRuleDraft(hash, rule);
      this.name(draft, comment);
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
      const known = frontendAt(draft, address, port, protocol);
      const kind: FrontendKind = known?.kind ?? this.filterFrontendKind(draft, chainName, generation);
      if (verdict === "DROP") {
        if (kind === "clusterIP") draft.internalLocal = true;
        else draft.externalLocal = true;
      }
      if (!known) this.addFrontend(draft, { kind, address, port, protocol, line: rule.line });
    }
  }

  private filterFrontendKind(draft: Draft, chainName: string, generation: RuleGeneration): FrontendKind {
    const hasClusterIP = draft.frontends.some((f) => f.kind === "clusterIP");
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
      if (draft.key === undefined || !this.wanted(draft.hash)) continue;
      const list = byKey.get(draft.key);
      if (list) list.push(draft);
      else byKey.set(draft.key, [draft]);
    }
    for (const rule of this.filter.get("KUBE-NODEPORTS")?.rules ?? []) {
      const check = healthCheck(rule);
      if (check === undefined) continue;
      for (const draft of byKey.get(check.key) ?? []) {
        draft.healthCheckNodePort = { port: check.port, line: rule.line };
        (draft.healthCheckRules ??= []).push(rule);
        draft.externalLocal = true;
      }
    }
  }

  private endpoints(draft: Draft): Endpoint[] {
    const localKnown = draft.localChains !== undefined || (draft.noLocalEndpoints && (draft.externalLocal || draft.internalLocal));
    const endpoints: Endpoint[] = [];
    const chains = draft.endpointChains;
    for (let i = 0; i < chains.length; i++) {
      const chainName = chains[i]!;
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

  /** The masquerade rule of a frontend in KUBE-SERVICES / KUBE-NODEPORTS (a later read takes them from the earlier one). */
  private frontendMasqueradePolicy(f: FrontendDraft): MasqueradePolicy | undefined {
    if (this.frontendMasquerade.size === 0) return undefined;
    const policy = this.frontendMasquerade.get(frontendKey(f.address, f.port, f.protocol));
    return policy === undefined || policy.kind === "none" || this.only === undefined ? policy : { ...policy, line: this.earlierLine(policy.line) };
  }

  private frontend(draft: Draft, f: FrontendDraft): Frontend {
    const masquerade =
      this.frontendMasqueradePolicy(f) ??
      (f.via === undefined ? undefined : f.kind === "clusterIP" ? draft.clusterMasquerade : draft.externalMasquerade) ??
      ({ kind: "none" } as const);
    const frontend: Frontend = { kind: f.kind, port: f.port, protocol: f.protocol, masquerade, line: f.line, resolutions: [] };
    if (f.address !== undefined) frontend.address = f.address;
    if (f.kind === "nodePort") frontend.localhost = f.localhost === true || this.loopbackNodePorts;
    if (f.kind === "loadBalancerIP" && draft.sourceRanges !== undefined && (f.via === "FW" || f.via === undefined)) frontend.sourceRanges = [...draft.sourceRanges];
    return frontend;
  }

  private servicePort(draft: Draft): ServicePort | undefined {
    if (draft.frontends.length === 0) return undefined;
    const protocol = draft.protocol!;
    const firstChain = (draft.chains.SVC ?? draft.chains.SVL ?? draft.chains.EXT ?? draft.chains.FW ?? draft.chains.XLB)?.name;
    let name: ServicePort["name"];
    const parsed = draft.key !== undefined ? parseServicePortName(draft.key) : undefined;
    if (parsed) {
      name = parsed;
      if (firstChain && serviceChainHash(parsed.key, protocol) !== draft.hash) this.notes.push(kubeNote("name-mismatch", { chain: firstChain, key: parsed.key }));
    } else {
      const chain = firstChain ?? `KUBE-SVC-${draft.hash}`;
      name = { key: chain, from: "chain" };
      this.notes.push(kubeNote("name-from-chain", { chain }));
    }
    const frontends = draft.frontends.map((f) => this.frontend(draft, f)).sort(byKindAndLine);
    const endpoints = this.endpoints(draft);
    const hasLoadBalancer = frontends.some((f) => f.kind === "loadBalancerIP");
    const type: ServiceType = hasLoadBalancer ? "LoadBalancer" : frontends.some((f) => f.kind === "nodePort") ? "NodePort" : "ClusterIP";
    const state: ServicePort["state"] = endpoints.length === 0 && draft.noEndpoints ? "no-endpoints" : draft.noLocalEndpoints ? "no-local-endpoints" : "ok";
    const chains: ServicePort["chains"] = {};
    if (draft.chains.SVC) chains.svc = draft.chains.SVC.name;
    if (draft.chains.SVL) chains.svl = draft.chains.SVL.name;
    if (draft.chains.EXT) chains.ext = draft.chains.EXT.name;
    if (draft.chains.FW) chains.fw = draft.chains.FW.name;
    if (draft.chains.XLB) chains.xlb = draft.chains.XLB.name;
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
      line: firstLine(draft, lineAsRead),
    };
    if (draft.affinity) port.affinity = draft.affinity;
    if (draft.healthCheckNodePort) port.healthCheckNodePort = draft.healthCheckNodePort;
    return port;
  }

  /** The ports of the drafts read, by name. */
  private ports(): ServicePort[] {
    return [...this.drafts.values()]
      .map((d) => this.servicePort(d))
      .filter((s): s is ServicePort => s !== undefined)
      .sort(byName);
  }

  private mapOf(services: ServicePort[]): ServiceMap {
    if (this.uncommentedEndpointRules > 0) this.notes.push(kubeNote("endpoint-comments-omitted", { rules: this.uncommentedEndpointRules }));
    if (services.length === 0) this.notes.push(kubeNote("no-kube-proxy-rules", {}));
    this.noted = this.notes.length > 0;
    const map: ServiceMap = {
      family: this.family,
      generation: this.generation,
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

const OWN_CHAIN_KINDS: readonly OwnChainKind[] = ["SVC", "SVL", "EXT", "FW", "XLB"];

/** KUBE-SEP chains a draft jumps to: for endpoints or session affinity. */
function endpointChainsOf(draft: Draft): Iterable<string> {
  return draft.affinityRules ? new Set([...draft.endpointChains, ...draft.affinityRules.keys()]) : draft.endpointChains;
}

function generationOf(evidence: Evidence, firewall: boolean): RuleGeneration {
  if (evidence.new > 0 || firewall) return "new";
  return evidence.old > 0 ? "old" : "unknown";
}

const byName = (a: ServicePort, b: ServicePort) => (a.name.key < b.name.key ? -1 : a.name.key > b.name.key ? 1 : a.protocol.localeCompare(b.protocol));

const byKindAndLine = (a: Frontend, b: Frontend) => FRONTEND_ORDER[a.kind] - FRONTEND_ORDER[b.kind] || a.line - b.line;

/** A few ports put in their places in a long list of ports, both in name order (a few before their equals). */
function mergeByName(few: readonly ServicePort[], many: readonly ServicePort[]): ServicePort[] {
  const merged: ServicePort[] = [];
  let from = 0;
  for (const port of few) {
    let low = from;
    let high = many.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (byName(many[middle]!, port) < 0) low = middle + 1;
      else high = middle;
    }
    for (let i = from; i < low; i++) merged.push(many[i]!);
    merged.push(port);
    from = low;
  }
  for (let i = from; i < many.length; i++) merged.push(many[i]!);
  return merged;
}

/** A port's first line: of the rules and chains read for it, the first. */
function firstLine(draft: Draft, lineOf: (source: LineSource) => number): number {
  let line = Infinity;
  for (let i = 0; i < draft.sharedRules.length; i++) line = Math.min(line, lineOf(draft.sharedRules[i]!));
  for (let i = 0; i < draft.ownChains.length; i++) line = Math.min(line, lineOf(draft.ownChains[i]!));
  return line;
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
    const services = map.services;
    for (let i = 0; i < services.length; i++) {
      const { frontends, endpoints } = services[i]!;
      for (let j = 0; j < frontends.length; j++) if (frontends[j]!.address) found.add(frontends[j]!.address!);
      for (let j = 0; j < endpoints.length; j++) found.add(endpoints[j]!.ip);
    }
    named.set(map, (addresses = found));
  }
  return addresses;
}

/** What each map was read with: its drafts give a later snapshot's map the ports that did not change. */
const readers = new WeakMap<ServiceMap, Reader>();

/** The Service map as the KUBE-* chains describe it; frontends are not resolved yet (see resolveServiceMap). */
export function readServiceMap(ruleset: Ruleset, options: ReadOptions = {}): ServiceMap {
  const reader = new Reader(ruleset);
  const map = reader.read();
  map.nodeAddresses = reader.nodeAddresses(options.nodeAddresses, map);
  readers.set(map, reader);
  return map;
}

/**
 * The map of a later snapshot of the node `earlier` was read from, with the node addresses given: what
 * readServiceMap(later.ruleset, options) returns. Only the service ports whose rules changed are read again; the
 * others are the earlier drafts, shown with the later lines. Where that could come out otherwise (notes, rule
 * order that decides, a new rule generation), the later snapshot is read whole.
 */
export function readLaterServiceMap(earlier: ServiceMap, later: LaterSnapshot, options: ReadOptions = {}): ServiceMap {
  const reader = readers.get(earlier);
  const given = options.nodeAddresses;
  const map = reader !== undefined && given !== undefined && given.length > 0 ? readAfter(reader, earlier, later) : undefined;
  if (map === undefined) return readServiceMap(later.ruleset, options);
  map.nodeAddresses = given!;
  return map;
}

const taken = new WeakMap<ServiceMap, ReadonlyMap<ServicePort, ServicePort>>();

/** The ports of a later map (readLaterServiceMap) taken from the earlier map, each with that port: the same but for its lines. */
export function portsTaken(map: ServiceMap): ReadonlyMap<ServicePort, ServicePort> {
  return taken.get(map) ?? NONE_TAKEN;
}

const NONE_TAKEN: ReadonlyMap<ServicePort, ServicePort> = new Map();

function readAfter(earlier: Reader, earlierMap: ServiceMap, later: LaterSnapshot): ServiceMap | undefined {
  // What concerns no one port is taken from the earlier read: its rules must be there, as they were.
  if (earlier.noted || earlier.family !== later.ruleset.family || !inOrder(earlier.globalRules, later)) return undefined;
  const dirty = changedPorts(earlier, later);
  if (dirty === undefined) return undefined;
  earlier.drafts.forEach((draft) => {
    if (!dirty.has(draft.hash) && !unchanged(draft, later)) dirty.add(draft.hash);
  });
  const earlierLine = (line: number): number => {
    const now = later.line(line);
    if (now === undefined) throw new Error(`line ${line} of a port taken from the earlier snapshot is not in the later one`);
    return now;
  };
  const reader = new Reader(later.ruleset, dirty, earlierLine);
  const map = reader.readOnly(earlier, earlierMap, (name) => later.chain("later", "nat", name), (chain) => later.order("nat", chain.name));
  if (map === undefined || map.notes.length > 0 || map.clusterCidrs.length > 1) return undefined;
  // Ports of one name sort in the order read: the earlier drafts' order is not the later snapshot's.
  if (map.services.some((port, i) => i > 0 && byName(map.services[i - 1]!, port) === 0)) return undefined;
  return map;
}

/** Hashes of the service ports whose shared rules (KUBE-SERVICES, KUBE-NODEPORTS, filter) or own chains changed; undefined when what concerns all ports did. */
function changedPorts(earlier: Reader, later: LaterSnapshot): Set<string> | undefined {
  const dirty = new Set<string>();
  for (const [table, names] of later.changedChains) {
    for (const name of names) {
      if (SHARED_CHAINS[table]?.has(name)) {
        // Their rules say which ports changed, as long as both snapshots have the chain.
        if (later.chain("earlier", table, name) === undefined || later.chain("later", table, name) === undefined) return undefined;
        continue;
      }
      const parsed = table === "nat" ? parseServiceChain(name) : undefined;
      if (parsed && parsed.kind !== "SEP") dirty.add(parsed.hash);
    }
  }
  for (const [rules, moved] of [[later.changedRules, false], [later.movedRules, true]] as const) {
    for (let i = 0; i < rules.length; i++) {
      const port = sharedRulePort(rules[i]!);
      if (port === "global") return undefined;
      // A port whose rules only moved is checked in its own order (see unchanged).
      if (port === undefined || moved) continue;
      if (typeof port === "string") dirty.add(port);
      else for (const draft of earlier.drafts.values()) if (draft.key === port.healthCheckKey) dirty.add(draft.hash);
    }
  }
  return dirty;
}

/** The chains whose rules several ports share. */
const SHARED_CHAINS: Partial<Record<TableName, ReadonlySet<string>>> = {
  nat: new Set(["KUBE-SERVICES", "KUBE-NODEPORTS"]),
  filter: new Set([...FILTER_SERVICE_CHAINS, "KUBE-NODEPORTS"]),
};

/** The port a rule of a shared chain is read for (a hash, or the name of a health check's ports); "global" for one that concerns them all. */
function sharedRulePort(rule: Rule): string | { healthCheckKey: string } | "global" | undefined {
  switch (rule.table) {
    case "nat":
      if (rule.chain === "KUBE-SERVICES") return servicesRulePort(rule);
      if (rule.chain === "KUBE-NODEPORTS") return nodePortsRuleHash(rule) ?? "global";
      return undefined;
    case "filter": {
      if (rule.chain === "KUBE-NODEPORTS") {
        const check = healthCheck(rule);
        return check === undefined ? undefined : { healthCheckKey: check.key };
      }
      if (!(FILTER_SERVICE_CHAINS as readonly string[]).includes(rule.chain)) return undefined;
      const reading = filterRule(rule);
      return reading === "unrecognised" ? "global" : reading?.hash;
    }
    case "raw":
    case "mangle":
    case "security":
      return undefined;
  }
}

/** The draft reads the same in the later snapshot: its own and its endpoint chains the same, its shared rules there in the same order. */
function unchanged(draft: Draft, later: LaterSnapshot): boolean {
  const changed = later.changedChains.get("nat");
  const own = draft.ownChains;
  if (changed !== undefined) {
    for (let i = 0; i < own.length; i++) if (changed.has(own[i]!.name)) return false;
    const endpoints = draft.endpointChains;
    for (let i = 0; i < endpoints.length; i++) if (changed.has(endpoints[i]!)) return false;
    if (draft.affinityRules !== undefined) for (const name of draft.affinityRules.keys()) if (changed.has(name)) return false;
  }
  // KUBE-SVC is read first; the others in table order, which both snapshots mostly share.
  if (!later.sameChainOrder("nat")) {
    let previousChain: Chain | undefined;
    for (let i = 0; i < own.length; i++) {
      if (own[i] === draft.chains.SVC) continue;
      if (previousChain !== undefined && later.order("nat", previousChain.name) > later.order("nat", own[i]!.name)) return false;
      previousChain = own[i];
    }
  }
  return inOrder(draft.sharedRules, later) && inOrder(draft.healthCheckRules ?? [], later);
}

/** Rules read one chain after the other are in the later snapshot, each as it was, in the same order. */
function inOrder(rules: readonly Rule[], later: LaterSnapshot): boolean {
  let previous: Rule | undefined;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const now = later.counterpart(rule);
    if (now === undefined || !later.sameRule(rule, now)) return false;
    if (previous !== undefined && previous.table === now.table && previous.chain === now.chain && now.position <= previous.position) return false;
    previous = now;
  }
  return true;
}

