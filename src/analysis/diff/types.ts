// What `diff` finds, as data: JSON-serialisable, every change pointing at its line in OLD and/or NEW.

import type {
  ClientClass,
  FrontendKind,
  FrontendResolution,
  FrontendVerdict,
  MasqueradePolicy,
  ServicePort,
  ServiceProtocol,
  ServiceType,
  TrafficPolicy,
} from "../kube/types.js";
import type { Delivery, NodeAddress, Origin, Verdict } from "../trace/types.js";
import type { Family, Policy, TableName } from "../../model/types.js";
import type { DiffNote } from "./notes.js";

/** A rule of one snapshot. */
export interface RuleRef {
  /** Line in that snapshot's input. */
  line: number;
  /** 1-based position within its chain. */
  position: number;
  /** The rule as iptables-save prints it (canonical, without counters): what the comparison uses. */
  rule: string;
}

/** A chain of one snapshot. */
export interface ChainRef {
  /** Line of the `:CHAIN` declaration; 0 for a built-in chain the input left implied. */
  line: number;
  policy: Policy;
  rules: number;
}

export type RuleChange =
  | { kind: "added"; new: RuleRef }
  | { kind: "removed"; old: RuleRef }
  /** The same rule at another place in the chain, past rules that may match the same packets. */
  | { kind: "moved"; old: RuleRef; new: RuleRef }
  /**
   * The same rule at another place, having passed only rules that cannot match the same packets (different
   * protocol, addresses, ports or interfaces): no packet can tell. kube-proxy writes its service rules in Go map
   * order, so every sync shuffles KUBE-SERVICES; this is noise, not a difference.
   */
  | { kind: "reordered"; old: RuleRef; new: RuleRef };

export type RuleChangeKind = RuleChange["kind"];

export type ChainDiff =
  | { kind: "added"; chain: string; new: ChainRef; rules: RuleRef[] }
  | { kind: "removed"; chain: string; old: ChainRef; rules: RuleRef[] }
  /**
   * In both snapshots; `changes` in NEW order (a removal where the rule stood in OLD). With `renamedTo`, the user
   * chain `chain` of OLD is that chain of NEW: the same rules, every jump to it renamed too (`changes` is empty).
   */
  | { kind: "changed"; chain: string; renamedTo?: string; old: ChainRef; new: ChainRef; policyChanged: boolean; changes: RuleChange[] };

export interface TableDiff {
  table: TableName;
  /** A table missing on one side compares as an empty one (built-in chains ACCEPT, no rules). */
  presence: "both" | "old-only" | "new-only";
  /** Only chains with a difference (or a reordering), built-in chains first in hook order, then by name. */
  chains: ChainDiff[];
}

export interface RulesDiffSummary {
  tablesChanged: number;
  chainsAdded: number;
  chainsRemoved: number;
  /** User chains with a new name and nothing else changed (not counted as added or removed). */
  chainsRenamed: number;
  policiesChanged: number;
  /** Chains in both snapshots whose rules differ. */
  chainsChanged: number;
  /** Rules added, those of added chains included. */
  rulesAdded: number;
  /** Rules removed, those of removed chains included. */
  rulesRemoved: number;
  rulesMoved: number;
  /** Not a difference: see the `reordered` change. */
  rulesReordered: number;
}

/** The rules level: tables, chains and rules compared after normalisation. */
export interface RulesDiff {
  differs: boolean;
  summary: RulesDiffSummary;
  tables: TableDiff[];
}

export interface SnapshotFamilies {
  old: Family;
  new: Family;
}

/** What every trace of both snapshots used, so that only the rules can make outcomes differ. */
export interface TraceSetup {
  nodeAddresses: NodeAddress[];
  /** Given (--node-ip), inferred from OLD or else NEW, or a stand-in no rule names. */
  nodeAddressesFrom: "given" | "old" | "new" | "stand-in";
  /** The representative client of each origin; `external` is replaced by an address inside a frontend's source ranges. */
  clients: { pod: string; node: string; external: string };
  /** "cluster-cidr": the pod client lies in the cluster CIDR the rules reveal; "none-revealed": it is an off-cluster address. */
  podClientFrom: "cluster-cidr" | "none-revealed";
}

/** A service port of one snapshot. */
export interface ServicePortRef {
  /** `namespace/name:port` (`namespace/name` for an unnamed port); the chain name when no rule comment names it. */
  key: string;
  protocol: ServiceProtocol;
  nameFrom: "comment" | "chain";
  type: ServiceType;
  /** First line of that snapshot that belongs to the service port. */
  line: number;
}

export interface FrontendRef {
  kind: FrontendKind;
  /** Absent for a NodePort (any node address). */
  address?: string;
  port: number;
  protocol: ServiceProtocol;
  line: number;
}

export interface EndpointRef {
  /** `ip:port`, `[ip]:port` for IPv6. */
  address: string;
  /** On this node; absent when the rules do not say. */
  local?: boolean;
  /** Line of its DNAT rule. */
  line: number;
}

/** Where one class of client's new connections to a frontend go, as `services` shows it. */
export interface ShareView {
  verdict: FrontendVerdict;
  endpoints: { address: string; probability: number; masquerade: boolean; blocked?: Verdict }[];
  /** Connections not translated, by final verdict. */
  other: FrontendResolution["other"];
}

export type ServicePortChange =
  | { kind: "frontend-added"; new: FrontendRef }
  | { kind: "frontend-removed"; old: FrontendRef }
  /** An external IP became a load-balancer IP, or the reverse. */
  | { kind: "frontend-kind"; frontend: string; old: FrontendKind; new: FrontendKind }
  | { kind: "source-ranges"; frontend: string; old: string[]; new: string[] }
  | { kind: "masquerade"; frontend: string; old: MasqueradePolicy; new: MasqueradePolicy }
  | { kind: "endpoint-added"; new: EndpointRef }
  | { kind: "endpoint-removed"; old: EndpointRef }
  | { kind: "endpoint-locality"; old: EndpointRef; new: EndpointRef }
  /** "has no endpoints" (REJECT) or "has no local endpoints" (DROP) appearing or clearing. */
  | { kind: "state"; old: ServicePortState; new: ServicePortState }
  | { kind: "affinity"; old?: { seconds: number; line: number }; new?: { seconds: number; line: number } }
  | { kind: "traffic-policy"; policy: "external" | "internal"; old: TrafficPolicy; new: TrafficPolicy }
  /** Shares, verdicts or masquerading of new connections changed, alike for every frontend listed. */
  | { kind: "shares"; client: ClientClass; frontends: string[]; old: ShareView; new: ShareView };

export type ServicePortState = ServicePort["state"];

export type ServicePortDiff =
  | { kind: "added"; new: ServicePortRef; frontends: FrontendRef[]; endpoints: EndpointRef[] }
  | { kind: "removed"; old: ServicePortRef; frontends: FrontendRef[]; endpoints: EndpointRef[] }
  /** `matchedBy: "frontend"`: no comment names it on one side, a frontend they share paired them. */
  | { kind: "changed"; old: ServicePortRef; new: ServicePortRef; matchedBy: "name" | "frontend"; changes: ServicePortChange[] };

export interface ServicesDiffSummary {
  oldServicePorts: number;
  newServicePorts: number;
  /** Services (namespace/name) all of whose ports are new, or gone. */
  servicesAdded: number;
  servicesRemoved: number;
  servicePortsAdded: number;
  servicePortsRemoved: number;
  servicePortsChanged: number;
  /** Of the frontends and endpoints of service ports in both snapshots. */
  frontendsAdded: number;
  frontendsRemoved: number;
  endpointsAdded: number;
  endpointsRemoved: number;
  /** Service ports paired by a frontend because a name was missing. */
  matchedByFrontend: number;
  /** Frontend and client pairs whose connections a change could reach, traced in both snapshots. */
  sharesTraced: number;
}

/** The services level: the service maps of both snapshots, matched by name and protocol, endpoints by address. */
export interface ServicesDiff {
  differs: boolean;
  summary: ServicesDiffSummary;
  setup: TraceSetup;
  notes: DiffNote[];
  /** Service ports with a difference, by key and protocol. */
  servicePorts: ServicePortDiff[];
}

/** A destination traced in both snapshots: a service frontend, a NodePort, or a port a rule publishes. */
export interface TrafficTarget {
  /** The traced packet's destination (the node's address for a NodePort or a port published on the node). */
  destination: string;
  port: number;
  protocol: ServiceProtocol;
  /** Service ports with a frontend here, in either snapshot. */
  services: string[];
  nodePort: boolean;
  /** A rule outside kube-proxy's chains that DNATs this port, or ACCEPTs it on INPUT. */
  published?: { side: "old" | "new"; table: TableName; chain: string; line: number };
  /** Whether a frontend or publishing rule names it in both snapshots, or in one. */
  presence: "both" | "old-only" | "new-only";
}

/** One outcome of a traced packet, merged over the paths that end alike. */
export interface TrafficOutcome {
  verdict: Verdict;
  delivery?: Delivery;
  /** The packet's destination as it leaves (or is dropped), `ip:port`. */
  to: string;
  /** A DNAT (or REDIRECT) rewrote the destination. */
  translated: boolean;
  masquerade: boolean;
  /** SNAT's new source. */
  snat?: string;
  /** Share of new connections. */
  probability: number;
  /** The tracer had to assume something on the way (see `iptscope trace`). */
  uncertain: boolean;
}

export interface TrafficChange {
  target: TrafficTarget;
  origin: Origin;
  /** The client address traced. */
  source: string;
  old: TrafficOutcome[];
  new: TrafficOutcome[];
}

export interface TrafficDiffSummary {
  targets: number;
  /** Targets a change could reach: these were traced from every origin in both snapshots. */
  targetsTraced: number;
  /** Packets (target and origin) whose outcomes differ. */
  changed: number;
}

/** The traffic level: what a new connection from each origin to each target gets, compared. */
export interface TrafficDiff {
  differs: boolean;
  summary: TrafficDiffSummary;
  setup: TraceSetup;
  notes: DiffNote[];
  changes: TrafficChange[];
}
