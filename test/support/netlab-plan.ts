// What a packet lab builds, as data: namespaces, sysctls, `ip -batch` lines and nftables observer tables.
// Pure functions; netlab.ts runs the plan.
//
// Shape: a node namespace holds the ruleset; each of its links (external, pods, remote, extra) is a veth pair
// whose other end sits in a peer namespace of its own. The peers own the client addresses, send every locally
// generated packet to the node (policy routing on `iif lo`, so even pod-to-pod traffic crosses the node as it
// does through a bridge with br_netfilter), and record then drop whatever arrives: nothing ever answers, so the
// node's rule counters only count the flows' own packets. Neighbours are static and every node route points at a
// fixed next hop on its link, so no ARP/ND is needed and any destination routed to a link arrives behind it.

import { formatAddress, parseAddress, parseAddressMask } from "../../src/model/addresses.js";
import type { Family } from "./kernel.js";
import type { LabSide, LabTopology } from "./netlab-types.js";

/** The observer table in every lab namespace; it never exists in the host namespace. */
export const OBSERVER_TABLE = "iptscope";
/** Name of the veth end inside every peer namespace. */
export const PEER_IFNAME = "uplink";
/** Policy routing table of the peers that sends everything to the node. */
const PEER_ROUTE_TABLE = 100;

// Next hops that exist only as static neighbour entries: never assigned to an interface, never in a packet.
const NEXT_HOP: Record<Family, { node: string; peer: string }> = {
  ipv4: { node: "169.254.255.1", peer: "169.254.255.2" },
  ipv6: { node: "fe80::1", peer: "fe80::2" },
};

export type LinkSide = Exclude<LabSide, "node"> | "extra";

export interface LinkPlan {
  side: LinkSide;
  nodeIfname: string;
  namespace: string;
  nodeMac: string;
  peerMac: string;
  /** Observer sets on the node for packets leaving through this link. */
  egressSet: string;
  egressNotrackSet: string;
}

export interface NamespaceSetup {
  name: string;
  /** [path under /proc/sys, value], applied before any link exists so `default` entries reach the new links. */
  sysctls: [string, string][];
  nft: string;
  /** `ip -batch` input, run after every namespace exists (the node's first: it creates the veth pairs). */
  ipBatch: string;
  /** nft input that empties the observer sets. */
  resetNft: string;
}

export interface LabPlan {
  family: Family;
  node: NamespaceSetup;
  peers: NamespaceSetup[];
  links: LinkPlan[];
  /** Node sysctls from the topology, applied once the links exist. */
  nodeSysctls: [string, string][];
  /** For each side that can send: its namespace and the source addresses it owns (canonical text). */
  sources: Record<LabSide, { namespace: string; addresses: Set<string> } | undefined>;
}

export const NODE_SETS = {
  arrived: "arrived",
  local: "local",
  localNotrack: "local_notrack",
  responseReset: "response_reset",
  responseSynAck: "response_syn_ack",
  responseIcmp: "response_icmp",
} as const;
export const PEER_ARRIVED_SET = "arrived";
export const MARK_CHAIN = "flow_mark";

const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** Canonical text of an address (as conntrack and nft print it); throws on anything else. */
export function canonicalAddress(text: string, family: Family, what: string): string {
  const parsed = parseAddress(text, family, "pton");
  if (!parsed) throw new Error(`netlab: ${what}: "${text}" is not an ${family} address`);
  return formatAddress(parsed);
}

interface Cidr {
  address: string;
  prefix: number;
  network: string;
}

function parseCidr(text: string, family: Family, what: string): Cidr {
  const host = parseAddressMask(text, family, false);
  const network = parseAddressMask(text, family, true);
  if (typeof host === "string" || typeof network === "string" || host.prefix === undefined) {
    throw new Error(`netlab: ${what}: "${text}" is not an ${family} address with a prefix length`);
  }
  return { address: host.address, prefix: host.prefix, network: network.address };
}

const hostPrefix = (family: Family) => (family === "ipv4" ? 32 : 128);

function mac(linkIndex: number, end: 1 | 2): string {
  return `02:1a:b0:00:${linkIndex.toString(16).padStart(2, "0")}:0${end}`;
}

interface LinkSpec {
  side: LinkSide;
  nodeIfname: string;
  namespaceSuffix: string;
  /** Node-side addresses with prefix: assigned to the node's end, their prefixes routed to the link. */
  nodeAddresses: Cidr[];
  /** Extra destinations routed to the link. */
  routes: Cidr[];
  /** Addresses owned by the peer namespace (flow sources). */
  peerAddresses: string[];
  defaultRoute: boolean;
}

function linkSpecs(topology: LabTopology): LinkSpec[] {
  const { family } = topology;
  const cidrs = (texts: string[], what: string) => texts.map((t) => parseCidr(t, family, what));
  const hosts = (texts: string[], what: string) => texts.map((t) => canonicalAddress(t, family, what));
  const specs: LinkSpec[] = [
    {
      side: "external",
      nodeIfname: topology.external.ifname,
      namespaceSuffix: "ext",
      nodeAddresses: cidrs(topology.external.nodeAddresses, "external.nodeAddresses"),
      routes: [],
      peerAddresses: hosts(topology.external.clientAddresses, "external.clientAddresses"),
      defaultRoute: true,
    },
    {
      side: "pod",
      nodeIfname: topology.pods.ifname,
      namespaceSuffix: "pod",
      nodeAddresses: cidrs([topology.pods.gateway], "pods.gateway"),
      routes: [],
      peerAddresses: hosts(topology.pods.localPodAddresses, "pods.localPodAddresses"),
      defaultRoute: false,
    },
  ];
  const remote = topology.remote;
  if (remote) {
    specs.push({
      side: "remote",
      nodeIfname: remote.ifname,
      namespaceSuffix: "remote",
      nodeAddresses: cidrs(remote.nodeAddress === undefined ? [] : [remote.nodeAddress], "remote.nodeAddress"),
      routes: cidrs(remote.routes, "remote.routes"),
      peerAddresses: hosts(remote.addresses, "remote.addresses"),
      defaultRoute: false,
    });
  }
  (topology.extraLinks ?? []).forEach((extra, i) => {
    specs.push({
      side: "extra",
      nodeIfname: extra.ifname,
      namespaceSuffix: `x${i}`,
      nodeAddresses: cidrs(extra.nodeAddresses, `extraLinks[${i}].nodeAddresses`),
      routes: [],
      peerAddresses: [],
      defaultRoute: false,
    });
  });
  const seen = new Set<string>();
  for (const spec of specs) {
    if (!INTERFACE_NAME.test(spec.nodeIfname) || spec.nodeIfname === "lo") {
      throw new Error(`netlab: "${spec.nodeIfname}" is not a usable interface name`);
    }
    if (seen.has(spec.nodeIfname)) throw new Error(`netlab: interface "${spec.nodeIfname}" is used twice`);
    seen.add(spec.nodeIfname);
  }
  return specs;
}

const NODE_SYSCTLS: Record<Family, [string, string][]> = {
  ipv4: [
    ["net/ipv4/ip_forward", "1"],
    ["net/ipv4/conf/all/rp_filter", "0"],
    ["net/ipv4/conf/default/rp_filter", "0"],
    // kube-proxy sets it for NodePorts on 127.0.0.1.
    ["net/ipv4/conf/all/route_localnet", "1"],
    // A redirect would be one more packet through OUTPUT; send_redirects is all OR interface, so both.
    ["net/ipv4/conf/all/send_redirects", "0"],
    ["net/ipv4/conf/default/send_redirects", "0"],
    // Rate limits would make REJECT's answers depend on timing.
    ["net/ipv4/icmp_ratelimit", "0"],
    ["net/ipv4/icmp_ratemask", "0"],
    ["net/ipv6/conf/all/disable_ipv6", "1"],
    ["net/ipv6/conf/default/disable_ipv6", "1"],
  ],
  ipv6: [
    ["net/ipv6/conf/all/forwarding", "1"],
    ["net/ipv6/conf/default/forwarding", "1"],
    // No link-local addresses, no DAD: nothing but the flows crosses ip6tables.
    ["net/ipv6/conf/default/addr_gen_mode", "1"],
    ["net/ipv6/conf/default/accept_dad", "0"],
    ["net/ipv6/conf/default/accept_ra", "0"],
    ["net/ipv6/icmp/ratelimit", "0"],
    ["net/ipv6/icmp/ratemask", ""],
  ],
};

const PEER_SYSCTLS: Record<Family, [string, string][]> = {
  ipv4: [
    ["net/ipv4/conf/all/rp_filter", "0"],
    ["net/ipv4/conf/default/rp_filter", "0"],
    ["net/ipv6/conf/all/disable_ipv6", "1"],
    ["net/ipv6/conf/default/disable_ipv6", "1"],
  ],
  ipv6: [
    ["net/ipv6/conf/default/addr_gen_mode", "1"],
    ["net/ipv6/conf/default/accept_dad", "0"],
    ["net/ipv6/conf/default/accept_ra", "0"],
  ],
};

/** "net.ipv4.ip_forward" → "net/ipv4/ip_forward"; a key with a slash is already a path. */
export function sysctlPath(key: string): string {
  const path = key.includes("/") ? key : key.replaceAll(".", "/");
  if (!/^net\/[A-Za-z0-9_./:-]+$/.test(path) || path.split("/").includes("..")) {
    throw new Error(`netlab: sysctl "${key}" is not a net.* setting`);
  }
  return path;
}

interface NftWords {
  ip: string;
  addr: string;
  icmp: string;
  icmpProto: string;
  icmpErrors: string;
  /** Bit offset of the inner source and destination ports in an ICMP error (inner header without options). */
  innerPortsOffset: number;
}

const NFT_WORDS: Record<Family, NftWords> = {
  ipv4: {
    ip: "ip",
    addr: "ipv4_addr",
    icmp: "icmp",
    icmpProto: "icmp",
    icmpErrors: "destination-unreachable, source-quench, time-exceeded, parameter-problem",
    innerPortsOffset: (8 + 20) * 8,
  },
  ipv6: {
    ip: "ip6",
    addr: "ipv6_addr",
    icmp: "icmpv6",
    icmpProto: "ipv6-icmp",
    icmpErrors: "destination-unreachable, packet-too-big, time-exceeded, parameter-problem",
    innerPortsOffset: (8 + 40) * 8,
  },
};

// nft 1.0.6 garbles concatenations of more than five fields and cannot list concatenations holding raw payload or
// TCP flags, hence one egress set per link, a set per TCP answer and explicit set types.
function nodeNft(family: Family, links: LinkPlan[]): string {
  const w = NFT_WORDS[family];
  const headers = `${w.ip} saddr . th sport . ${w.ip} daddr . th dport`;
  const headerType = `${w.addr} . inet_service . ${w.addr} . inet_service`;
  const trackedType = `inet_service . ${headerType}`;
  const tracked = `ct original proto-src . ${headers}`;
  const set = (name: string, type: string) => `  set ${name} { type ${type}; flags dynamic; }`;
  const lines = [
    `table inet ${OBSERVER_TABLE} {`,
    set(NODE_SETS.arrived, headerType),
    set(NODE_SETS.local, trackedType),
    set(NODE_SETS.localNotrack, headerType),
    ...links.flatMap((link) => [set(link.egressSet, trackedType), set(link.egressNotrackSet, headerType)]),
    set(NODE_SETS.responseReset, `${w.addr} . inet_service . inet_service`),
    set(NODE_SETS.responseSynAck, `${w.addr} . inet_service . inet_service`),
    set(NODE_SETS.responseIcmp, `${w.addr} . ${w.icmp}_type . ${w.icmp}_code . mark`),
    `  chain ${MARK_CHAIN} { type route hook output priority -1001; policy accept; }`,
    // Answers the node generates are recorded and dropped before the ruleset sees them, so that only the flows'
    // packets move its counters; ND, MLD, IGMP and the like are not needed (static neighbours) and dropped too.
    `  chain sent {`,
    `    type filter hook output priority -1000; policy accept;`,
    `    tcp flags & rst == rst add @${NODE_SETS.responseReset} { ${w.ip} daddr . th sport . th dport } drop`,
    `    tcp flags & (syn | ack) == syn | ack add @${NODE_SETS.responseSynAck} { ${w.ip} daddr . th sport . th dport } drop`,
    `    tcp flags & (rst | ack) != 0 drop`,
    // The error's inner ports travel through the packet mark: raw payload fields in set keys break nft 1.0.6's listing.
    `    ${w.icmp} type { ${w.icmpErrors} } meta mark set @th,${w.innerPortsOffset},32 add @${NODE_SETS.responseIcmp} { ${w.ip} daddr . ${w.icmp} type . ${w.icmp} code . meta mark } drop`,
    `    meta l4proto != { tcp, udp } drop`,
    `    add @${NODE_SETS.arrived} { ${headers} }`,
    `  }`,
    `  chain received {`,
    `    type filter hook prerouting priority -1000; policy accept;`,
    `    iifname != "lo" meta l4proto { tcp, udp } add @${NODE_SETS.arrived} { ${headers} }`,
    `  }`,
    // After every iptables hook (mangle -150 … nat 100): what gets here has passed the whole ruleset.
    // `ct original proto-src` ties a NATed packet to the flow's packet; packets without conntrack are not NATed.
    `  chain delivered {`,
    `    type filter hook input priority 10000; policy accept;`,
    `    meta l4proto { tcp, udp } ct state { invalid, untracked } add @${NODE_SETS.localNotrack} { ${headers} }`,
    `    meta l4proto { tcp, udp } add @${NODE_SETS.local} { ${tracked} }`,
    `  }`,
    `  chain departed {`,
    `    type filter hook postrouting priority 10000; policy accept;`,
    ...links.flatMap((link) => [
      `    oifname "${link.nodeIfname}" meta l4proto { tcp, udp } ct state { invalid, untracked } add @${link.egressNotrackSet} { ${headers} }`,
      `    oifname "${link.nodeIfname}" meta l4proto { tcp, udp } add @${link.egressSet} { ${tracked} }`,
    ]),
    `  }`,
    `}`,
  ];
  return lines.join("\n") + "\n";
}

function peerNft(family: Family): string {
  const w = NFT_WORDS[family];
  const headers = `${w.ip} saddr . th sport . ${w.ip} daddr . th dport`;
  return [
    `table inet ${OBSERVER_TABLE} {`,
    `  set ${PEER_ARRIVED_SET} { type ${w.addr} . inet_service . ${w.addr} . inet_service; flags dynamic; }`,
    `  chain received {`,
    `    type filter hook prerouting priority -1000; policy accept;`,
    `    iifname "${PEER_IFNAME}" meta l4proto { tcp, udp } add @${PEER_ARRIVED_SET} { ${headers} }`,
    `    iifname "${PEER_IFNAME}" drop`,
    `  }`,
    `  chain sent {`,
    `    type filter hook output priority -1000; policy accept;`,
    `    meta l4proto != { tcp, udp } drop`,
    `  }`,
    `}`,
  ].join("\n") + "\n";
}

function nodeIpBatch(family: Family, links: LinkPlan[], specs: LinkSpec[]): string {
  const hop = NEXT_HOP[family].peer;
  const dad = family === "ipv6" ? " nodad" : "";
  const lines = ["link set lo up"];
  links.forEach((link, i) => {
    const spec = specs[i]!;
    const dev = link.nodeIfname;
    lines.push(
      `link add ${dev} address ${link.nodeMac} type veth peer name ${PEER_IFNAME} address ${link.peerMac} netns ${link.namespace}`,
      `link set ${dev} up`,
      `neigh add ${hop} lladdr ${link.peerMac} dev ${dev} nud permanent`,
    );
    for (const a of spec.nodeAddresses) lines.push(`address add ${a.address}/${a.prefix} dev ${dev} noprefixroute${dad}`);
    const routed = new Set([...spec.nodeAddresses, ...spec.routes].map((c) => `${c.network}/${c.prefix}`));
    for (const prefix of routed) lines.push(`route add ${prefix} via ${hop} dev ${dev} onlink`);
    if (spec.defaultRoute) lines.push(`route add default via ${hop} dev ${dev} onlink`);
  });
  return lines.join("\n") + "\n";
}

function peerIpBatch(family: Family, link: LinkPlan, spec: LinkSpec): string {
  const hop = NEXT_HOP[family].node;
  const dad = family === "ipv6" ? " nodad" : "";
  return [
    "link set lo up",
    `link set ${PEER_IFNAME} up`,
    ...spec.peerAddresses.map((a) => `address add ${a}/${hostPrefix(family)} dev ${PEER_IFNAME}${dad}`),
    `neigh add ${hop} lladdr ${link.nodeMac} dev ${PEER_IFNAME} nud permanent`,
    `route add default via ${hop} dev ${PEER_IFNAME} onlink table ${PEER_ROUTE_TABLE}`,
    // Locally generated packets (iif lo) all go to the node, even those for the peer's own addresses.
    `rule add pref 100 iif lo lookup ${PEER_ROUTE_TABLE}`,
    "rule add pref 200 lookup local",
    "rule del pref 0 lookup local",
  ].join("\n") + "\n";
}

function resetNft(sets: string[]): string {
  return sets.map((s) => `flush set inet ${OBSERVER_TABLE} ${s}\n`).join("");
}

export interface FlowMark {
  src: string;
  proto: string;
  value: number;
}

/** nft input that makes the flow's packets carry `mark` from the first hook on (a route chain: like SO_MARK). */
export function nodeMarkNft(plan: LabPlan, mark: FlowMark | undefined): string {
  const ip = NFT_WORDS[plan.family].ip;
  const rule = mark
    ? [`add rule inet ${OBSERVER_TABLE} ${MARK_CHAIN} ${ip} saddr ${mark.src} meta l4proto ${mark.proto} meta mark set 0x${mark.value.toString(16)}`]
    : [];
  return [`flush chain inet ${OBSERVER_TABLE} ${MARK_CHAIN}`, ...rule].join("\n") + "\n";
}



export function buildPlan(topology: LabTopology, namespacePrefix: string): LabPlan {
  const { family } = topology;
  if (family !== "ipv4" && family !== "ipv6") throw new Error(`netlab: unknown family "${String(family)}"`);
  const specs = linkSpecs(topology);
  const links: LinkPlan[] = specs.map((spec, i) => ({
    side: spec.side,
    nodeIfname: spec.nodeIfname,
    namespace: `${namespacePrefix}-${spec.namespaceSuffix}`,
    nodeMac: mac(i, 1),
    peerMac: mac(i, 2),
    egressSet: `egress_${i}`,
    egressNotrackSet: `egress_notrack_${i}`,
  }));
  const nodeName = `${namespacePrefix}-node`;
  const node: NamespaceSetup = {
    name: nodeName,
    sysctls: NODE_SYSCTLS[family],
    nft: nodeNft(family, links),
    ipBatch: nodeIpBatch(family, links, specs),
    resetNft: resetNft([...Object.values(NODE_SETS), ...links.flatMap((l) => [l.egressSet, l.egressNotrackSet])]),
  };
  const peers: NamespaceSetup[] = links.map((link, i) => ({
    name: link.namespace,
    sysctls: PEER_SYSCTLS[family],
    nft: peerNft(family),
    ipBatch: peerIpBatch(family, link, specs[i]!),
    resetNft: resetNft([PEER_ARRIVED_SET]),
  }));
  const loopback = family === "ipv4" ? "127.0.0.1" : "::1";
  const nodeAddresses = new Set([loopback, ...specs.flatMap((s) => s.nodeAddresses.map((a) => a.address))]);
  const sourceOf = (side: LinkSide) => {
    const i = specs.findIndex((s) => s.side === side);
    return i < 0 ? undefined : { namespace: links[i]!.namespace, addresses: new Set(specs[i]!.peerAddresses) };
  };
  return {
    family,
    node,
    peers,
    links,
    nodeSysctls: Object.entries(topology.sysctls ?? {}).map(([key, value]) => [sysctlPath(key), value]),
    sources: {
      node: { namespace: nodeName, addresses: nodeAddresses },
      pod: sourceOf("pod"),
      external: sourceOf("external"),
      remote: sourceOf("remote"),
    },
  };
}
