// Random rulesets and flows for proving the tracer against the kernel: a seeded ruleset over the four common
// tables (user chains, jumps, gotos, RETURNs, policies, marks and connmarks, conntrack states, NAT, NOTRACK,
// REJECT, random shares) whose addresses, interfaces, ports and marks are drawn from the lab topology, so
// that rules match the flows sent through it often enough to matter. Every rule is one the kernel accepts
// where it is put: targets only in chains reachable from hooks that allow them, no jump loops.

import type { Family } from "./kernel.js";
import { mulberry32 } from "./kubegen.js";
import type { LabFlow, LabProtocol, LabSide, LabTopology } from "./netlab-types.js";

type Random = () => number;
type TableName = "raw" | "mangle" | "nat" | "filter";
type Hook = "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";

export interface TraceCase {
  seed: number;
  family: Family;
  ruleset: string;
  topology: LabTopology;
  flows: LabFlow[];
}

export interface TraceCaseOptions {
  /** Default: IPv4 for even seeds, IPv6 for odd ones. */
  family?: Family;
  /** Flows per case; default 12. */
  flows?: number;
}

/** The lab every case runs in, and the address pools rules and flows draw from. */
interface AddressPlan {
  topology: LabTopology;
  hostPrefix: number;
  /** Node addresses by link, loopback last. */
  node: { external: string; pods: string; remote: string; extra: string; loopback: string };
  subnets: string[];
  pods: string[];
  remote: string[];
  /** The external side's own addresses (flow sources). */
  clients: string[];
  /** Routed out of eth0 but owned by nobody. */
  internet: string[];
  /** Behind the extra link: recorded, never answered. */
  extra: string[];
  /** Service-like addresses only DNAT gives a meaning. */
  virtual: string[];
  /** Pairs for iprange. */
  ranges: [string, string][];
}

const PLANS: Record<Family, AddressPlan> = {
  ipv4: {
    topology: {
      family: "ipv4",
      external: { ifname: "eth0", nodeAddresses: ["192.168.1.2/24"], clientAddresses: ["192.168.1.100", "203.0.113.7"] },
      pods: { ifname: "cni0", gateway: "10.244.0.1/24", localPodAddresses: ["10.244.0.5", "10.244.0.8", "10.244.0.9"] },
      remote: { ifname: "flannel.1", routes: ["10.244.1.0/24"], addresses: ["10.244.1.5"], nodeAddress: "10.244.0.0/32" },
      extraLinks: [{ ifname: "docker0", nodeAddresses: ["172.17.0.1/16"] }],
      ipsets: [
        { name: "ts-nets", type: "hash:net", members: ["10.244.0.0/25", "203.0.113.0/24"] },
        { name: "ts-hosts", type: "hash:ip", members: ["10.244.0.8", "192.168.1.2", "10.96.0.10"] },
        { name: "ts-svc", type: "hash:ip,port", members: ["10.96.0.10,tcp:80", "10.96.0.20,udp:53", "192.168.1.2,tcp:22", "10.244.0.5,tcp:443"] },
      ],
    },
    hostPrefix: 32,
    node: { external: "192.168.1.2", pods: "10.244.0.1", remote: "10.244.0.0", extra: "172.17.0.1", loopback: "127.0.0.1" },
    subnets: ["192.168.1.0/24", "10.244.0.0/24", "10.244.0.0/16", "10.244.1.0/24", "172.17.0.0/16", "203.0.113.0/24", "10.96.0.0/12", "127.0.0.0/8"],
    pods: ["10.244.0.5", "10.244.0.8", "10.244.0.9"],
    remote: ["10.244.1.5", "10.244.1.77"],
    clients: ["192.168.1.100", "203.0.113.7"],
    internet: ["198.51.100.20"],
    extra: ["172.17.0.2"],
    virtual: ["10.96.0.10", "10.96.0.20"],
    ranges: [["10.244.0.4", "10.244.0.8"], ["192.168.1.1", "192.168.1.150"], ["10.96.0.1", "10.96.0.15"], ["198.51.100.0", "203.0.113.10"]],
  },
  ipv6: {
    topology: {
      family: "ipv6",
      external: { ifname: "eth0", nodeAddresses: ["2001:db8:0:1::10/64"], clientAddresses: ["2001:db8:0:1::5", "2001:db8:ff::9"] },
      pods: { ifname: "cni0", gateway: "fd00:10:244:1::1/64", localPodAddresses: ["fd00:10:244:1::5", "fd00:10:244:1::8", "fd00:10:244:1::9"] },
      remote: { ifname: "flannel.1", routes: ["fd00:10:244:2::/64"], addresses: ["fd00:10:244:2::5"], nodeAddress: "fd00:10:244:ff::1/128" },
      extraLinks: [{ ifname: "docker0", nodeAddresses: ["fd00:172:17::1/64"] }],
      ipsets: [
        { name: "ts-nets", type: "hash:net", family: "inet6", members: ["fd00:10:244:1::/120", "2001:db8:ff::/48"] },
        { name: "ts-hosts", type: "hash:ip", family: "inet6", members: ["fd00:10:244:1::8", "2001:db8:0:1::10", "fd00:10:96::a"] },
        { name: "ts-svc", type: "hash:ip,port", family: "inet6", members: ["fd00:10:96::a,tcp:80", "fd00:10:96::14,udp:53", "2001:db8:0:1::10,tcp:22", "fd00:10:244:1::5,tcp:443"] },
      ],
    },
    hostPrefix: 128,
    node: { external: "2001:db8:0:1::10", pods: "fd00:10:244:1::1", remote: "fd00:10:244:ff::1", extra: "fd00:172:17::1", loopback: "::1" },
    subnets: ["2001:db8:0:1::/64", "fd00:10:244:1::/64", "fd00:10:244::/48", "fd00:10:244:2::/64", "fd00:172:17::/64", "2001:db8:ff::/48", "fd00:10:96::/112"],
    pods: ["fd00:10:244:1::5", "fd00:10:244:1::8", "fd00:10:244:1::9"],
    remote: ["fd00:10:244:2::5", "fd00:10:244:2::77"],
    clients: ["2001:db8:0:1::5", "2001:db8:ff::9"],
    internet: ["2001:db8:ff00::20"],
    extra: ["fd00:172:17::2"],
    virtual: ["fd00:10:96::a", "fd00:10:96::14"],
    ranges: [["fd00:10:244:1::4", "fd00:10:244:1::8"], ["2001:db8:0:1::1", "2001:db8:0:1::ff"], ["fd00:10:96::1", "fd00:10:96::f"]],
  },
};

const PORTS = [22, 53, 80, 443, 8080, 9100];
const MARK_VALUES = [0x1, 0x2, 0x4, 0x10, 0x20, 0x100, 0x101];
const MARK_MASKS = [0xff, 0xf, 0xf0, 0x1ff, 0xffffffff];
const BUILTINS: Record<TableName, Hook[]> = {
  raw: ["PREROUTING", "OUTPUT"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  filter: ["INPUT", "FORWARD", "OUTPUT"],
};
const TABLES: TableName[] = ["raw", "mangle", "nat", "filter"];
const HOOK_SHORT: Record<Hook, string> = { PREROUTING: "PRE", INPUT: "IN", FORWARD: "FWD", OUTPUT: "OUT", POSTROUTING: "POST" };

const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: Random, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: Random, p: number) => r() < p;
const bang = (r: Random, p = 0.2) => (chance(r, p) ? "! " : "");
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

/** Picks by weight; entries with weight 0 (or undefined) are never picked. */
function weighted<T>(r: Random, entries: readonly [T, number | undefined][]): T {
  const live = entries.filter(([, w]) => (w ?? 0) > 0) as [T, number][];
  let roll = r() * live.reduce((sum, [, w]) => sum + w, 0);
  for (const [item, w] of live) {
    roll -= w;
    if (roll < 0) return item;
  }
  return live[live.length - 1]![0];
}

interface ChainPlan {
  name: string;
  /** The built-in chain whose hook this chain is reached from (one only, so its targets stay valid). */
  owner: Hook;
  builtin: boolean;
  /** User chains this one may jump or go to: same owner, later in the list (no loops). */
  callees: string[];
}

interface RuleContext {
  r: Random;
  plan: AddressPlan;
  family: Family;
  table: TableName;
  chain: ChainPlan;
  protocol?: LabProtocol;
}

function anyAddress(plan: AddressPlan, r: Random): string {
  const n = plan.node;
  return pick(r, [
    n.external, n.pods, n.remote, n.extra, n.loopback,
    ...plan.pods, ...plan.remote, ...plan.clients, ...plan.internet, ...plan.extra, ...plan.virtual,
  ]);
}

function addressWithPrefix(c: RuleContext): string {
  return chance(c.r, 0.6) ? `${anyAddress(c.plan, c.r)}/${c.plan.hostPrefix}` : pick(c.r, c.plan.subnets);
}

function portText(r: Random): string {
  const p = pick(r, PORTS);
  return chance(r, 0.2) ? `${p}:${p + int(r, 0, 400)}` : String(p);
}

/** A port or range as a source port may be: the lab's senders take theirs from 20000 up, NAT may move them below. */
function sourcePortText(r: Random): string {
  return pick(r, ["1024:65535", "20000:30000", "20000:20100", "0:1023", String(pick(r, PORTS))]);
}

const markText = (r: Random, masked: boolean) => {
  const value = pick(r, MARK_VALUES);
  return masked ? `${hex(value)}/${hex(pick(r, MARK_MASKS))}` : hex(value);
};

/** Matches by name and relative weight; each returns undefined when it does not fit the rule or its chain. */
const MATCHES: [string, number, (c: RuleContext) => string | undefined][] = [
  ["source", 0.3, (c) => `${bang(c.r, 0.15)}-s ${addressWithPrefix(c)}`],
  ["destination", 0.35, (c) => `${bang(c.r, 0.15)}-d ${addressWithPrefix(c)}`],
  [
    "in",
    0.2,
    (c) => (["PREROUTING", "INPUT", "FORWARD"].includes(c.chain.owner) ? `${bang(c.r)}-i ${pick(c.r, ["eth0", "cni0", "flannel.1", "lo", "cni+", "flannel+"])}` : undefined),
  ],
  [
    "out",
    0.2,
    (c) => (["FORWARD", "OUTPUT", "POSTROUTING"].includes(c.chain.owner) ? `${bang(c.r)}-o ${pick(c.r, ["eth0", "cni0", "flannel.1", "docker0", "lo", "e+"])}` : undefined),
  ],
  [
    "ports",
    0.35,
    (c) => {
      if (!c.protocol) return undefined;
      const parts: string[] = [];
      if (chance(c.r, 0.3)) parts.push(`${bang(c.r, 0.15)}--sport ${chance(c.r, 0.5) ? sourcePortText(c.r) : portText(c.r)}`);
      if (parts.length === 0 || chance(c.r, 0.7)) parts.push(`${bang(c.r, 0.15)}--dport ${portText(c.r)}`);
      return `-m ${c.protocol} ${parts.join(" ")}`;
    },
  ],
  [
    "multiport",
    0.12,
    (c) => {
      if (!c.protocol) return undefined;
      const option = pick(c.r, ["--dports", "--dports", "--sports", "--ports"]);
      const port = () => (option !== "--dports" && chance(c.r, 0.3) ? sourcePortText(c.r) : chance(c.r, 0.15) ? portText(c.r) : String(pick(c.r, PORTS)));
      const ports = [...new Set(Array.from({ length: int(c.r, 1, 3) }, port))].join(",");
      return `-m multiport ${bang(c.r, 0.15)}${option} ${ports}`;
    },
  ],
  [
    "conntrack",
    0.18,
    (c) => {
      const states = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED", "SNAT", "DNAT"];
      const parts: string[] = [];
      if (chance(c.r, 0.85)) parts.push(`${bang(c.r, 0.25)}--ctstate ${[...new Set(Array.from({ length: int(c.r, 1, 2) }, () => pick(c.r, states)))].join(",")}`);
      if (chance(c.r, 0.15)) parts.push(`${bang(c.r)}--ctorigdst ${addressWithPrefix(c)}`);
      if (chance(c.r, 0.1)) parts.push(`${bang(c.r)}--ctorigsrc ${addressWithPrefix(c)}`);
      if (chance(c.r, 0.1)) parts.push(`${bang(c.r)}--ctreplsrc ${addressWithPrefix(c)}`);
      if (chance(c.r, 0.1)) parts.push(`${bang(c.r)}--ctrepldst ${addressWithPrefix(c)}`);
      if (chance(c.r, 0.1)) parts.push(`${bang(c.r)}--ctorigdstport ${pick(c.r, PORTS)}`);
      if (chance(c.r, 0.06)) parts.push(`${bang(c.r)}--ctorigsrcport ${sourcePortText(c.r)}`);
      if (chance(c.r, 0.06)) parts.push(`${bang(c.r)}--ctreplsrcport ${pick(c.r, PORTS)}`);
      if (chance(c.r, 0.06)) parts.push(`${bang(c.r)}--ctrepldstport ${sourcePortText(c.r)}`);
      if (chance(c.r, 0.1)) parts.push(`${bang(c.r)}--ctproto ${pick(c.r, ["tcp", "udp"])}`);
      if (chance(c.r, 0.05)) parts.push(`--ctdir ${pick(c.r, ["ORIGINAL", "REPLY"])}`);
      if (chance(c.r, 0.08)) parts.push(`${bang(c.r)}--ctstatus ${pick(c.r, ["CONFIRMED", "SEEN_REPLY", "ASSURED", "EXPECTED"])}`);
      if (parts.length === 0) parts.push("--ctstate NEW");
      return `-m conntrack ${parts.join(" ")}`;
    },
  ],
  ["state", 0.05, (c) => `-m state ${bang(c.r)}--state ${pick(c.r, ["NEW", "ESTABLISHED,RELATED", "INVALID", "UNTRACKED", "NEW,UNTRACKED"])}`],
  ["mark", 0.22, (c) => `-m mark ${bang(c.r)}--mark ${markText(c.r, chance(c.r, 0.5))}`],
  ["connmark", 0.12, (c) => `-m connmark ${bang(c.r)}--mark ${markText(c.r, chance(c.r, 0.5))}`],
  [
    "addrtype",
    0.1,
    (c) => {
      const types = c.family === "ipv4" ? ["LOCAL", "UNICAST", "MULTICAST", "BROADCAST", "LOCAL,UNICAST"] : ["LOCAL", "UNICAST", "MULTICAST", "LOCAL,UNICAST"];
      const parts: string[] = [];
      if (chance(c.r, 0.4)) parts.push(`${bang(c.r, 0.3)}--src-type ${pick(c.r, types)}`);
      if (parts.length === 0 || chance(c.r, 0.5)) parts.push(`${bang(c.r, 0.3)}--dst-type ${pick(c.r, types)}`);
      // The kernel allows each limit only at hooks that have that interface.
      const owner = c.chain.owner;
      if (chance(c.r, 0.3) && (owner === "PREROUTING" || owner === "INPUT" || owner === "FORWARD")) parts.push("--limit-iface-in");
      else if (chance(c.r, 0.3) && (owner === "OUTPUT" || owner === "POSTROUTING" || owner === "FORWARD")) parts.push("--limit-iface-out");
      return `-m addrtype ${parts.join(" ")}`;
    },
  ],
  [
    "iprange",
    0.07,
    (c) => {
      const [from, to] = pick(c.r, c.plan.ranges);
      return `-m iprange ${bang(c.r)}${pick(c.r, ["--src-range", "--dst-range"])} ${from}-${to}`;
    },
  ],
  [
    "set",
    0.1,
    (c) => {
      const name = pick(c.r, ["ts-nets", "ts-hosts", "ts-svc"]);
      const side = pick(c.r, ["src", "dst"]);
      return `-m set ${bang(c.r)}--match-set ${name} ${name === "ts-svc" ? `${side},${side}` : side}`;
    },
  ],
  [
    "tcp-flags",
    0.06,
    (c) => (c.protocol === "tcp" ? `-m tcp ${pick(c.r, ["--syn", "! --syn", "--tcp-flags SYN,ACK SYN", "--tcp-flags ALL ACK", "! --tcp-flags FIN,SYN,RST SYN"])}` : undefined),
  ],
  [
    "owner",
    0.08,
    (c) => (c.chain.owner === "OUTPUT" || c.chain.owner === "POSTROUTING" ? `-m owner ${bang(c.r)}${pick(c.r, ["--uid-owner", "--gid-owner"])} ${pick(c.r, [0, 1000])}` : undefined),
  ],
  [
    "rpfilter",
    0.05,
    (c) => {
      if (c.chain.owner !== "PREROUTING" || (c.table !== "raw" && c.table !== "mangle")) return undefined;
      const options = ["--loose", "--validmark", "--accept-local", "--invert"].filter(() => chance(c.r, 0.4));
      return `-m rpfilter${options.map((o) => ` ${o}`).join("")}`;
    },
  ],
  [
    "ttl",
    0.04,
    (c) => {
      // Senders start at 64; forwarding takes one off before FORWARD, a TTL target may set any.
      const [module, prefix] = c.family === "ipv4" ? ["ttl", "ttl"] : ["hl", "hl"];
      const value = pick(c.r, [64, 63, 1, 2]);
      return pick(c.r, [`-m ${module} ${bang(c.r)}--${prefix}-eq ${value}`, `-m ${module} --${prefix}-lt ${value}`, `-m ${module} --${prefix}-gt ${value}`]);
    },
  ],
  ["pkttype", 0.03, (c) => `-m pkttype ${bang(c.r, 0.3)}--pkt-type ${pick(c.r, ["unicast", "unicast", "multicast", "broadcast"])}`],
  ["statistic", 0.12, (c) => `-m statistic --mode random ${bang(c.r, 0.1)}--probability ${pick(c.r, ["0.25", "0.5", "0.33333333349", "0.75"])}`],
  ["comment", 0.08, (c) => `-m comment --comment "${pick(c.r, ["allow web", "kube: svc", "policy 7"])}"`],
];

type TargetName =
  | "ACCEPT" | "DROP" | "RETURN" | "REJECT" | "jump" | "goto" | "MARK" | "CONNMARK" | "NOTRACK"
  | "DNAT" | "REDIRECT" | "SNAT" | "MASQUERADE" | "TTL" | "none";

function targetWeights(c: RuleContext): [TargetName, number | undefined][] {
  const { table, chain } = c;
  const owner = chain.owner;
  const hasCallees = chain.callees.length > 0;
  const nat = table === "nat";
  return [
    ["ACCEPT", table === "filter" ? 0.2 : 0.08],
    ["DROP", table === "filter" ? 0.15 : nat ? 0 : 0.03],
    ["RETURN", chain.builtin ? 0.03 : 0.1],
    ["REJECT", table === "filter" ? 0.12 : 0],
    ["jump", hasCallees ? 0.25 : 0],
    ["goto", hasCallees ? 0.1 : 0],
    ["MARK", 0.14],
    ["CONNMARK", table === "nat" ? 0 : 0.1],
    ["NOTRACK", table === "raw" ? 0.12 : 0],
    ["DNAT", nat && (owner === "PREROUTING" || owner === "OUTPUT") ? 0.5 : 0],
    ["REDIRECT", nat && (owner === "PREROUTING" || owner === "OUTPUT") && c.protocol ? 0.08 : 0],
    ["SNAT", nat && (owner === "POSTROUTING" || owner === "INPUT") ? 0.15 : 0],
    ["MASQUERADE", nat && owner === "POSTROUTING" ? 0.2 : 0],
    ["TTL", table === "mangle" ? 0.04 : 0],
    ["none", 0.04],
  ];
}

/** Ranges that hold some of PORTS and not others, so that both a kept port and the range's first show up. */
const PORT_RANGES = ["8000-8100", "50-100", "20-30"];

function natAddress(c: RuleContext, address: string, port: number | string | undefined): string {
  if (port === undefined) return address;
  return c.family === "ipv6" ? `[${address}]:${port}` : `${address}:${port}`;
}

function target(c: RuleContext): string {
  const { r, plan } = c;
  const name = weighted(r, targetWeights(c));
  switch (name) {
    case "ACCEPT":
    case "DROP":
    case "RETURN":
      return `-j ${name}`;
    case "REJECT": {
      const v4 = ["icmp-port-unreachable", "icmp-host-unreachable", "icmp-net-prohibited", "icmp-admin-prohibited"];
      const v6 = ["icmp6-port-unreachable", "icmp6-adm-prohibited", "icmp6-no-route", "icmp6-addr-unreachable"];
      const types = [...(c.family === "ipv4" ? v4 : v6), ...(c.protocol === "tcp" ? ["tcp-reset", "tcp-reset"] : [])];
      return chance(r, 0.2) ? "-j REJECT" : `-j REJECT --reject-with ${pick(r, types)}`;
    }
    case "jump":
      return `-j ${pick(r, c.chain.callees)}`;
    case "goto":
      return `-g ${pick(r, c.chain.callees)}`;
    case "MARK":
      return pick(r, [
        `-j MARK --set-mark ${markText(r, false)}`,
        `-j MARK --set-xmark ${markText(r, true)}`,
        `-j MARK --or-mark ${markText(r, false)}`,
        `-j MARK --and-mark ${hex(pick(r, MARK_MASKS))}`,
        `-j MARK --xor-mark ${markText(r, false)}`,
      ]);
    case "CONNMARK":
      return pick(r, [
        `-j CONNMARK --set-mark ${markText(r, chance(r, 0.5))}`,
        "-j CONNMARK --save-mark",
        `-j CONNMARK --save-mark --nfmask ${hex(pick(r, MARK_MASKS))} --ctmask ${hex(pick(r, MARK_MASKS))}`,
        "-j CONNMARK --restore-mark",
        `-j CONNMARK --restore-mark --nfmask ${hex(pick(r, MARK_MASKS))} --ctmask ${hex(pick(r, MARK_MASKS))}`,
      ]);
    case "NOTRACK":
      return pick(r, ["-j NOTRACK", "-j CT --notrack"]);
    case "DNAT": {
      const to = chance(r, 0.05)
        ? plan.node.loopback
        : pick(r, [plan.node.external, plan.node.pods, ...plan.pods, ...plan.remote, ...plan.clients, ...plan.internet, ...plan.extra]);
      const port = c.protocol && chance(r, 0.6) ? (chance(r, 0.25) ? pick(r, PORT_RANGES) : pick(r, PORTS)) : undefined;
      // iptables 1.8.9 reads an IPv6 address range only bracketed with a port: [FIRST-LAST]:PORT.
      const [first, last] = pick(r, plan.ranges);
      const persistent = chance(r, 0.3) ? " --persistent" : "";
      if (chance(r, 0.15) && c.family === "ipv4") return `-j DNAT --to-destination ${first}-${last}${port === undefined ? "" : `:${port}`}${persistent}`;
      if (chance(r, 0.15) && c.family === "ipv6" && port !== undefined) return `-j DNAT --to-destination [${first}-${last}]:${port}${persistent}`;
      return `-j DNAT --to-destination ${natAddress(c, to, port)}`;
    }
    case "REDIRECT":
      return `-j REDIRECT${chance(r, 0.8) ? ` --to-ports ${chance(r, 0.25) ? pick(r, PORT_RANGES) : pick(r, PORTS)}` : ""}`;
    case "SNAT": {
      const [first, last] = pick(r, plan.ranges);
      const range = c.protocol && chance(r, 0.25) ? `:${int(r, 1024, 2000)}-${int(r, 2001, 3000)}` : "";
      const several = chance(r, 0.15) && (c.family === "ipv4" || range !== "");
      const to = several ? `${first}-${last}` : pick(r, [plan.node.external, plan.node.pods, plan.node.remote, ...plan.internet, ...plan.clients]);
      const address = range && c.family === "ipv6" ? `[${to}]` : to;
      return `-j SNAT --to-source ${address}${range}${chance(r, 0.2) ? " --random-fully" : ""}`;
    }
    case "MASQUERADE": {
      const ports = c.protocol && chance(r, 0.2) ? ` --to-ports ${int(r, 1024, 2000)}-${int(r, 2001, 3000)}` : "";
      return `-j MASQUERADE${ports}${chance(r, 0.25) ? pick(r, [" --random", " --random-fully"]) : ""}`;
    }
    case "TTL": {
      const [name, prefix] = c.family === "ipv4" ? ["TTL", "ttl"] : ["HL", "hl"];
      return pick(r, [`-j ${name} --${prefix}-set ${pick(r, [1, 2, 64, 200])}`, `-j ${name} --${prefix}-dec ${pick(r, [1, 63])}`, `-j ${name} --${prefix}-inc 1`]);
    }
    case "none":
      return "";
  }
}

/** Targets after which no later rule of the chain sees the packet. */
const ENDS_CHAIN = /^-[jg] (ACCEPT|DROP|RETURN|REJECT|DNAT|REDIRECT|SNAT|MASQUERADE)\b|^-g /;

function rule(c: RuleContext, last: boolean): string {
  const { r } = c;
  const parts: string[] = [];
  if (chance(r, 0.45)) {
    c.protocol = chance(r, 0.6) ? "tcp" : "udp";
    parts.push(`-p ${c.protocol}`);
  } else if (chance(r, 0.05)) {
    // Not one protocol: no port match can follow.
    parts.push(`! -p ${pick(r, ["tcp", "udp"])}`);
  }
  let action = target(c);
  // Few matches per rule, so that rules match often enough for their targets to matter; but a rule that
  // matches everything and ends the chain only goes last, or it would leave the rest of the chain dead.
  const fewest = ENDS_CHAIN.test(action) && !last && parts.length === 0 ? 1 : 0;
  const count = Math.max(fewest, weighted(r, [[0, 0.3], [1, 0.45], [2, 0.2], [3, 0.05]]));
  const chosen = new Set<string>();
  for (let tries = 0; chosen.size < count && tries < 10; tries++) {
    const [name, , generate] = weighted(r, MATCHES.map((m) => [m, m[1]] as const));
    if (chosen.has(name)) continue;
    const text = generate(c);
    if (text === undefined) continue;
    chosen.add(name);
    parts.push(text);
  }
  // Services: a DNAT for one virtual address, which flows aim at.
  if (action.startsWith("-j DNAT") && !chosen.has("destination") && chance(r, 0.6)) parts.push(`-d ${pick(r, c.plan.virtual)}/${c.plan.hostPrefix}`);
  // netlab's counter scan misses a rule with neither matches nor target ("-A CHAIN" alone).
  if (parts.length === 0 && action === "") action = "-j RETURN";
  return `-A ${c.chain.name} ${[...parts, action].join(" ")}`.trimEnd();
}

function chainsOf(r: Random, table: TableName): ChainPlan[] {
  const builtins: ChainPlan[] = BUILTINS[table].map((hook) => ({ name: hook, owner: hook, builtin: true, callees: [] }));
  const users: ChainPlan[] = [];
  const count = int(r, 0, 4);
  for (let i = 0; i < count; i++) {
    const owner = pick(r, BUILTINS[table]);
    users.push({ name: `${HOOK_SHORT[owner]}-${String.fromCharCode(65 + i)}`, owner, builtin: false, callees: [] });
  }
  for (const [i, chain] of users.entries()) chain.callees = users.slice(i + 1).filter((u) => u.owner === chain.owner).map((u) => u.name);
  for (const chain of builtins) chain.callees = users.filter((u) => u.owner === chain.owner).map((u) => u.name);
  return [...builtins, ...users];
}

function policyOf(r: Random, table: TableName): string {
  if (table === "filter") return chance(r, 0.25) ? "DROP" : "ACCEPT";
  if (table === "mangle") return chance(r, 0.04) ? "DROP" : "ACCEPT";
  return "ACCEPT";
}

function generateRuleset(r: Random, plan: AddressPlan, family: Family): string {
  const lines: string[] = [];
  for (const table of TABLES) {
    if (chance(r, 0.15)) continue;
    const chains = chainsOf(r, table);
    lines.push(`*${table}`);
    for (const chain of chains) lines.push(`:${chain.name} ${chain.builtin ? policyOf(r, table) : "-"} [0:0]`);
    for (const chain of chains) {
      const count = chain.builtin ? int(r, 0, 6) : int(r, 1, 5);
      for (let i = 0; i < count; i++) lines.push(rule({ r, plan, family, table, chain }, i === count - 1));
    }
    lines.push("COMMIT");
  }
  return lines.join("\n") + "\n";
}

function flowOf(r: Random, plan: AddressPlan, packets: number): LabFlow {
  const n = plan.node;
  const from: LabSide = weighted(r, [["pod", 0.3], ["external", 0.3], ["remote", 0.15], ["node", 0.25]]);
  const proto: LabProtocol = chance(r, 0.6) ? "tcp" : "udp";
  const dport = pick(r, PORTS);
  const destinations = () =>
    weighted(r, [
      [[n.external, n.pods, n.remote], 0.25],
      [plan.virtual, 0.3],
      [plan.pods, 0.15],
      [plan.remote, 0.1],
      [[...plan.clients, ...plan.internet], 0.2],
      [plan.extra, 0.1],
    ]);
  if (from === "node") {
    // A socket bound to a loopback address only reaches local addresses.
    const loopback = chance(r, 0.15);
    const src = loopback ? n.loopback : pick(r, [n.external, n.external, n.pods, n.remote]);
    const dst = loopback ? pick(r, [n.loopback, n.external]) : pick(r, destinations());
    return { from, proto, src, dst, dport, packets, ...(chance(r, 0.3) ? { mark: pick(r, MARK_VALUES) } : {}) };
  }
  const src = pick(r, from === "pod" ? plan.pods : from === "remote" ? plan.topology.remote!.addresses : plan.clients);
  return { from, proto, src, dst: pick(r, destinations()), dport, packets };
}

/** The lab every generated case runs in. */
export function traceTopology(family: Family): LabTopology {
  return PLANS[family].topology;
}

/** A random ruleset and flows over the lab topology, the same for the same seed and options. */
export function generateTraceCase(seed: number, options: TraceCaseOptions = {}): TraceCase {
  const r = mulberry32(seed);
  const family = options.family ?? (seed % 2 === 0 ? "ipv4" : "ipv6");
  const plan = PLANS[family];
  const ruleset = generateRuleset(r, plan, family);
  // Random shares need enough packets for every likely branch to show up: a share of 1/4 is missed by 48
  // packets one time in a million, which is where the judge starts to count a missing branch as wrong.
  const packets = ruleset.includes("--mode random") ? 48 : 1;
  const flows = Array.from({ length: options.flows ?? 12 }, () => flowOf(r, plan, packets));
  return { seed, family, ruleset, topology: plan.topology, flows };
}
