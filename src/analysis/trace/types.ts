// What a trace is asked and what it answers. Plain data: the JSON output is these objects.

import type { Family, TableName } from "../../model/types.js";

export type Origin = "pod" | "external" | "node";
export type ConnectionState = "new" | "established" | "related" | "invalid" | "untracked";
export type Hook = "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";

export interface PacketSpec {
  src: string;
  dst: string;
  /** Protocol number (6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp, …). */
  protocol: number;
  sport?: number;
  dport?: number;
  /** ICMP type and code (icmp and ipv6-icmp only). */
  icmpType?: number;
  icmpCode?: number;
  /** TCP flags set in the packet; a connection's first packet is a SYN. */
  tcpFlags?: TcpFlag[];
  /** Length of the IP packet in bytes, when known. */
  length?: number;
  /** TTL (hop limit), when known. */
  ttl?: number;
}

export type TcpFlag = "FIN" | "SYN" | "RST" | "PSH" | "ACK" | "URG" | "ECE" | "CWR";

export interface NodeAddress {
  address: string;
  /** Interface holding the address, when known. */
  interface?: string;
  /** Where the address came from: the command line, or the rule that revealed it. */
  source: { kind: "given" } | { kind: "inferred"; line: number; how: string };
}

export interface Route {
  /** Destination network, `10.244.1.0/24`. */
  network: string;
  interface: string;
}

export interface IpsetFacts {
  /** Sets by name, from `ipset save` output. */
  sets: Map<string, IpsetContents>;
}

export interface IpsetContents {
  name: string;
  type: string;
  family: Family;
  /** Dimensions of an entry, e.g. ["ip"], ["net", "port"]. */
  dimensions: IpsetDimension[];
  entries: IpsetEntry[];
  /** For list:set, the member sets in order. */
  members: string[];
  line: number;
}

export type IpsetDimension = "ip" | "net" | "port" | "mac" | "iface" | "mark" | "set";

export interface IpsetEntry {
  /** One value per dimension, as written (`10.0.0.0/8`, `tcp:80`). */
  values: string[];
  nomatch: boolean;
}

export interface TraceContext {
  origin: Origin;
  state: ConnectionState;
  /** Interface the packet arrives on (not for locally generated packets); undefined: unknown. */
  inInterface?: string;
  /** Interface the packet leaves by; undefined: found from routes, else unknown. */
  outInterface?: string;
  nodeAddresses: NodeAddress[];
  routes: Route[];
  /** Packet and connection marks at the start. */
  mark: number;
  ctmark: number;
  /** Assume no client has a recent-list entry (no session-affinity history). */
  assumeNoAffinity: boolean;
  ipsets?: IpsetFacts;
  /** UID/GID of the sending socket (locally generated packets). */
  uid?: number;
  gid?: number;
}

/** Why the dump alone cannot decide a match; each kind's prose lives in one table. */
export type UncertaintyKind =
  | "recent-list"
  | "ipset-contents"
  | "ipset-unsupported"
  | "unknown-match"
  | "unmodelled-option"
  | "unknown-target"
  | "in-interface-unknown"
  | "out-interface-unknown"
  | "address-unknown"
  | "rate-limit"
  | "nth-counter"
  | "mac-unknown"
  | "length-unknown"
  | "ttl-unknown"
  | "owner-unknown"
  | "tcp-options-unknown"
  | "reverse-path"
  | "queue-verdict"
  | "nat-range"
  | "nat-port"
  | "inverted-port-pair"
  | "route-localnet"
  | "established-nat"
  | "branch-limit";

export interface Uncertainty {
  kind: UncertaintyKind;
  /** The subject: set or list name, module, option, interface… */
  subject: string;
  /** The rule that raised it (0: none). */
  line: number;
  message: string;
}

export interface Assumption extends Uncertainty {
  /** The branch this outcome took: the match assumed to hold (true) or not (false). */
  assumed: boolean;
}

export type Verdict = "ACCEPT" | "DROP" | "REJECT" | "QUEUE" | "ERROR";
export type Delivery = "local" | "forward" | "output";

export interface PacketView {
  src: string;
  /** Absent when the port is not known: see `sportRandom`. */
  sport?: number;
  dst: string;
  dport?: number;
  proto: string;
  /** SNAT/MASQUERADE with --random, --random-fully or a port range: the kernel picks the source port. */
  sportRandom?: true;
}

export interface Rewrite {
  from: string;
  to: string;
  /** table/chain #position (line N) of the rule that rewrote. */
  line: number;
}

export type StepAction =
  | { kind: "jump"; chain: string }
  | { kind: "goto"; chain: string }
  | { kind: "return" }
  | { kind: "end-of-chain" }
  | { kind: "verdict"; verdict: "ACCEPT" | "DROP" | "REJECT" | "QUEUE" }
  | { kind: "policy"; policy: "ACCEPT" | "DROP" }
  | { kind: "nat"; target: "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT"; to: string }
  | { kind: "mark"; target: "MARK" | "CONNMARK"; mark: number; ctmark: number }
  | { kind: "untrack" }
  | { kind: "continue"; target: string }
  | { kind: "no-target" }
  | { kind: "loop"; chain: string };

export interface PathStep {
  hook: Hook;
  table: TableName;
  chain: string;
  /** 1-based rule position; 0 for a chain policy. */
  rule: number;
  /** Source line of the rule (or of the chain declaration for a policy; 0 if the chain was implied). */
  line: number;
  text: string;
  action: string;
  /** The same action as data. */
  effect: StepAction;
  /** Probability of the branch taken at this rule, when the rule split the walk (statistic). */
  branch?: { probability: number; matched: boolean };
  /** An uncertain match this branch assumed. */
  assumed?: { kind: UncertaintyKind; matched: boolean };
}

export interface Outcome {
  /** Share of new connections (of this packet) that end here. Uncertain splits count half each. */
  probability: number;
  /** Probability given the assumptions this outcome made (1 split by random matches only). */
  conditionalProbability: number;
  verdict: Verdict;
  delivery?: Delivery;
  /** The packet as it leaves (or as it was when dropped). */
  packet: PacketView;
  masquerade: boolean;
  snat?: Rewrite;
  dnat?: Rewrite;
  outInterface?: string;
  /** Final marks. */
  mark: number;
  ctmark: number;
  path: PathStep[];
  /** How many walks with this same result were merged into this outcome. */
  merged: number;
  uncertain: Assumption[];
  /** Why the walk ended outside any rule: the error of an ERROR verdict (jump loop, step limit), or the routing decision that refused the packet. */
  error?: string;
}

export interface TraceResult {
  schemaVersion: 1;
  kind: "iptscope.trace";
  family: Family;
  packet: PacketView & { icmpType?: number; icmpCode?: number };
  /** The context as given (ipset contents and socket owner left out), with the tracer's assumptions in words. */
  context: Omit<TraceContext, "ipsets" | "uid" | "gid"> & { assumptions: string[] };
  outcomes: Outcome[];
}
