// The packet lab's vocabulary: the namespaces a lab builds (topology), the packets it sends (flows) and what
// the kernel did with them (observations). See netlab.ts for how each observation is made.

import type { Policy, TableName } from "../../src/model/types.js";
import type { Backend, Family, IpsetSpec } from "./kernel.js";

export type LabProtocol = "tcp" | "udp";

/** Where a flow starts: a namespace behind one of the node's links, or the node itself (locally generated). */
export type LabSide = "pod" | "external" | "remote" | "node";

/** The node's uplink (e.g. eth0). Everything the node does not route elsewhere goes out here (default route). */
export interface ExternalLink {
  ifname: string;
  /** Node addresses with prefix, e.g. "192.168.1.2/24"; the prefix is routed to this link. */
  nodeAddresses: string[];
  /** Sources of "external" flows, e.g. "192.168.1.100", "203.0.113.7": owned by the external namespace. */
  clientAddresses: string[];
}

/** The bridge the local pods sit behind (e.g. cni0). */
export interface PodLink {
  ifname: string;
  /** Node-side address with the pod subnet's prefix, e.g. "10.244.0.1/24"; the prefix is routed to this link. */
  gateway: string;
  /** Pod IPs behind this link, both clients and endpoints: owned by the pod namespace. */
  localPodAddresses: string[];
}

/** An overlay to other nodes (e.g. flannel.1). */
export interface RemoteLink {
  ifname: string;
  /** CIDRs routed to this link, e.g. "10.244.1.0/24". */
  routes: string[];
  /** Remote pod IPs that can send "remote" flows: owned by the remote namespace. */
  addresses: string[];
  /** Node-side address of the link, e.g. "10.244.0.0/32" (flannel's); MASQUERADE out of this link needs one. */
  nodeAddress?: string;
}

/** Any other node interface, e.g. docker0 with "172.17.0.1/16"; what is routed there is recorded, never answered. */
export interface ExtraLink {
  ifname: string;
  nodeAddresses: string[];
}

/** An ipset created in the node namespace before the ruleset is loaded, optionally with members. */
export interface LabIpset extends IpsetSpec {
  /** Entries as `ipset add` takes them, e.g. "10.0.0.0/8" or "10.0.0.1,tcp:80". */
  members?: string[];
}

export interface LabTopology {
  family: Family;
  external: ExternalLink;
  pods: PodLink;
  remote?: RemoteLink;
  extraLinks?: ExtraLink[];
  /**
   * Node namespace sysctls applied after the defaults and after the links exist, keyed by their /proc/sys path
   * ("net/ipv4/conf/flannel.1/rp_filter") or dotted name ("net.ipv4.ip_forward").
   * Defaults: forwarding on, rp_filter 0, route_localnet 1, no ICMP rate limits, no redirects.
   */
  sysctls?: Record<string, string>;
  /** Default: every set the ruleset refers to, empty (see ipsetsReferenced in kernel.ts). */
  ipsets?: LabIpset[];
}

export interface LabFlow {
  from: LabSide;
  proto: LabProtocol;
  src: string;
  dst: string;
  dport: number;
  /** Fixed source port (then `packets` must be 1). Default: a distinct port per packet. */
  sport?: number;
  /** Each packet is a new connection: one TCP SYN or one UDP datagram, from its own source port. */
  packets: number;
  /** Firewall mark the packets carry from their first hook on, like SO_MARK; node flows only. */
  mark?: number;
}

export interface Tuple {
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

/** One entry of `conntrack -L` in the node namespace. DNAT shows as reply.src, SNAT/MASQUERADE as reply.dst. */
export interface ConntrackEntry {
  original: Tuple;
  reply: Tuple;
  /** TCP state, e.g. "SYN_SENT"; absent for UDP. */
  state?: string;
  mark: number;
  /** Bracketed flags such as "UNREPLIED", "ASSURED". */
  flags: string[];
}

/**
 * What became of a packet:
 * - local: it passed every INPUT hook of the node and reached its socket layer (packet = as the node received it);
 * - forwarded: it passed the node's POSTROUTING hooks towards `interface` and arrived in the namespace behind it
 *   (packet = as that namespace saw it);
 * - lost: it passed the node's POSTROUTING hooks towards `interface` but never arrived behind it;
 * - dropped: it reached the node but neither of the above.
 */
export type PacketFate =
  | { kind: "local"; packet: Tuple }
  | { kind: "forwarded"; interface: string; packet: Tuple }
  | { kind: "lost"; interface: string; packet: Tuple }
  | { kind: "dropped" };

/** A packet the node generated in answer (REJECT, a closed local port, no route), recorded as it left. */
export type NodeResponse =
  | { kind: "tcp-reset" }
  | { kind: "tcp-syn-ack" }
  | { kind: "icmp"; type: number; code: number };

export interface PacketObservation {
  sport: number;
  /** Absent when the connection was never confirmed (the packet was dropped) or is untracked. */
  conntrack?: ConntrackEntry;
  fate: PacketFate;
  responses: NodeResponse[];
  /** The error the sender's socket call gave, e.g. "EPERM" when the node's own OUTPUT dropped a datagram. */
  sendError?: string;
}

/** A rule whose packet counter moved while the flow ran, addressed as `iptables -L --line-numbers` does. */
export interface RuleHit {
  table: TableName;
  chain: string;
  position: number;
  packets: number;
  /** The rule as the kernel saves it, without counters. */
  rule: string;
}

/** A built-in chain whose policy applied to packets of the flow. */
export interface PolicyHit {
  table: TableName;
  chain: string;
  policy: Policy;
  packets: number;
}

export interface LabObservation {
  flow: LabFlow;
  perPacket: PacketObservation[];
  ruleHits: RuleHit[];
  policyHits: PolicyHit[];
}

export interface LabOptions {
  /**
   * Default "nft". Counters are read with `iptables-save -c` after every flow; iptables-nft-save slows down with
   * the ruleset's size (≈0.6 s at 15k rules), iptables-legacy-save much less (≈0.06 s).
   */
  backend?: Backend;
  /** Bound on every kernel command the lab runs, in milliseconds. Default 30 000. */
  timeoutMs?: number;
  /** How long to wait for packets in flight to show up before a flow's observation is final. Default 1 000. */
  settleMs?: number;
}
