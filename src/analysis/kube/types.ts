// The node's Service map as kube-proxy's rules encode it. Plain data: `services --json` prints it.
// Frontends, names and policies come from reading the KUBE-* chains; where a new connection to a
// frontend goes (endpoints and their shares, verdicts, masquerading) comes from the tracer.

import type { Family } from "../../model/types.js";
import type { NodeAddress, Verdict } from "../trace/types.js";
import type { KubeNote } from "./notes.js";

export type ServiceProtocol = "tcp" | "udp" | "sctp";

/** Which kube-proxy rule layout the dump follows (see the README's services section). */
export type RuleGeneration = "old" | "new" | "unknown";

export type FrontendKind =
  | "clusterIP"
  | "externalIP"
  | "loadBalancerIP"
  | "nodePort"
  /** An external or load-balancer IP of a service without endpoints: its REJECT rule does not say which. */
  | "externalOrLoadBalancerIP";

export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";

export type TrafficPolicy = "Cluster" | "Local";

/** Who kube-proxy marks for masquerading, as one frontend's rules say. */
export type MasqueradePolicy =
  /** `--masquerade-all`: every client. */
  | { kind: "all"; line: number }
  /** Clients outside the cluster CIDR (`! -s CIDR`), the usual local-traffic detector. */
  | { kind: "off-cluster"; clusterCidr: string; line: number }
  /** Clients not arriving on an interface (`! -i IFACE`): the interface-based detectors. */
  | { kind: "not-from-interface"; interface: string; line: number }
  /** externalTrafficPolicy=Local: only connections from the node itself, to keep client addresses. */
  | { kind: "node-sources"; line: number }
  /** No rule marks this frontend's traffic. */
  | { kind: "none" };

export interface ServiceName {
  /** kube-proxy's ServicePortName: `namespace/name:port`, `namespace/name` for an unnamed port. */
  key: string;
  namespace?: string;
  name?: string;
  /** Empty for an unnamed port. */
  portName?: string;
  /** "comment": from kube-proxy's rule comments; "chain": no comment names it, the chain name stands in. */
  from: "comment" | "chain";
}

export interface Endpoint {
  /** `ip:port`, `[ip]:port` for IPv6, as the DNAT rule writes it. */
  address: string;
  ip: string;
  port: number;
  /** The KUBE-SEP chain that DNATs to it. */
  chain: string;
  /** On this node (listed in KUBE-SVL/KUBE-XLB); undefined when the rules do not say. */
  local?: boolean;
  /** Line of the DNAT rule. */
  line: number;
  /** Session affinity: the `--rcheck` rule that sends a client seen recently back here. */
  affinityLine?: number;
}

/** One endpoint's share of the new connections a client class sends to a frontend. */
export interface EndpointShare {
  address: string;
  /** Share of new connections DNATed to this endpoint, as the tracer computes it. */
  probability: number;
  local?: boolean;
  chain?: string;
  /** The connection is marked for masquerading (SNAT to a node address on the way out). */
  masquerade: boolean;
  /** Some branches masquerade and others do not (an uncertain match decides); `masquerade` is then true. */
  masqueradeUncertain?: boolean;
  /** What the node finally does with the DNATed packet, when not ACCEPT for every branch. */
  blocked?: { verdict: Verdict; probability: number; uncertain: boolean };
}

/** What happens to new connections of one kind of client. */
export type FrontendVerdict =
  | "dnat"
  /** REJECT: "has no endpoints". */
  | "reject"
  /** DROP: "has no local endpoints", or a firewall. */
  | "drop"
  /** No kube-proxy rule applies: the packet goes on unchanged (routed or delivered). */
  | "pass"
  /** Several of these, or an outcome the tracer could not decide. */
  | "mixed";

export type ClientClass = "off-cluster" | "pod" | "node";

export interface FrontendResolution {
  client: ClientClass;
  /** The representative client address the tracer followed. */
  source: string;
  verdict: FrontendVerdict;
  endpoints: EndpointShare[];
  /** Share of connections that are not DNATed, by final verdict. */
  other: { verdict: Verdict; delivery?: string; probability: number }[];
  /** The tracer had to assume something (ipset contents, interfaces…): see `where --verbose`. */
  uncertain: boolean;
}

export interface Frontend {
  kind: FrontendKind;
  /** Destination address; absent for a NodePort (any local address). */
  address?: string;
  port: number;
  protocol: ServiceProtocol;
  /** NodePort: also answered on 127.0.0.0/8 (kube-proxy's localhost NodePorts). */
  localhost?: boolean;
  /** loadBalancerSourceRanges: other clients are dropped. */
  sourceRanges?: string[];
  masquerade: MasqueradePolicy;
  /** The rule that defines the frontend (the first, when several do). */
  line: number;
  /**
   * Where new connections go, for a client off the cluster (inside the source ranges, if any), and,
   * when it differs, for a pod (externalTrafficPolicy=Local sends pods to every endpoint).
   * Empty until the tracer has resolved the map.
   */
  resolutions: FrontendResolution[];
}

export interface ServicePort {
  /** The 16-character hash shared by the service port's KUBE-SVC/SVL/EXT/FW/XLB chains. */
  hash: string;
  name: ServiceName;
  protocol: ServiceProtocol;
  type: ServiceType;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** sessionAffinity ClientIP. */
  affinity?: { seconds: number; line: number };
  healthCheckNodePort?: { port: number; line: number };
  /** "no-endpoints": kube-proxy REJECTs; "no-local-endpoints": it DROPs the Local-policy traffic. */
  state: "ok" | "no-endpoints" | "no-local-endpoints";
  chains: { svc?: string; svl?: string; ext?: string; fw?: string; xlb?: string };
  /** Every endpoint the rules name, in kube-proxy's order. */
  endpoints: Endpoint[];
  frontends: Frontend[];
  /** First line of the dump that belongs to this service port. */
  line: number;
}

export interface ServiceMap {
  family: Family;
  generation: RuleGeneration;
  /** Cluster CIDRs the local-traffic detector reveals (`! -s CIDR`, `-s CIDR`). */
  clusterCidrs: string[];
  /** The packet mark KUBE-MARK-MASQ sets, if the chain is there. */
  masqueradeMark?: number;
  /** Node addresses used for NodePorts (given, inferred, or a stand-in: see notes). */
  nodeAddresses: NodeAddress[];
  services: ServicePort[];
  notes: KubeNote[];
}
