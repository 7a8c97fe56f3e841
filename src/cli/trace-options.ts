// Trace flags shared by `trace`, `where` and `graph --trace`: the packet, where it comes from,
// and the facts the dump does not hold (node addresses, routes, ipsets, affinity).

import { readFileSync } from "node:fs";
import type { Argv } from "yargs";
import { parseIp, parseNet } from "../analysis/ip.js";
import { inferNodeAddresses } from "../analysis/trace/context.js";
import { parseIpsetSave } from "../analysis/trace/ipset.js";
import type { ConnectionState, IpsetFacts, NodeAddress, Origin, PacketSpec, Route, TraceContext } from "../analysis/trace/types.js";
import { parseProtocol } from "../model/protocols.js";
import type { Family, Ruleset } from "../model/types.js";

export const ORIGINS = ["pod", "node", "external"] as const;
export const STATES = ["new", "established", "related", "invalid", "untracked"] as const;

/** The ephemeral source port used when none is given (inside Linux's default 32768-60999). */
export const DEFAULT_SOURCE_PORT = 40000;

export interface ContextArgs {
  from: Origin;
  in?: string;
  out?: string;
  "node-ip"?: string[];
  route?: string[];
  state: ConnectionState;
  mark?: string;
  ctmark?: string;
  "ipset-file"?: string;
  "assume-no-affinity": boolean;
  uid?: number;
  gid?: number;
}

/** Options that describe where a packet comes from and what the node knows; no packet fields. */
export function withContextOptions<T>(y: Argv<T>) {
  return y
    .option("from", { choices: ORIGINS, default: "pod" as Origin, describe: "pod/external: the packet arrives (PREROUTING); node: locally generated (OUTPUT)" })
    .option("in", { type: "string", describe: "interface the packet arrives on (default: unknown; rules testing -i then branch as uncertain)" })
    .option("out", { type: "string", describe: "interface a forwarded or sent packet leaves by (default: from --route, else unknown)" })
    .option("node-ip", { type: "string", array: true, nargs: 1, describe: "an address of the node (repeatable; IP or IP@IFACE); default: inferred from the dump" })
    .option("route", { type: "string", array: true, nargs: 1, describe: "a route, CIDR=IFACE (repeatable), to find the outgoing interface" })
    .option("state", { choices: STATES, default: "new" as ConnectionState, describe: "conntrack state of the packet's connection" })
    .option("mark", { type: "string", describe: "packet mark at the start (number or 0x hex)" })
    .option("ctmark", { type: "string", describe: "connection mark at the start" })
    .option("ipset-file", { type: "string", describe: "'ipset save' output, so -m set matches are decided" })
    .option("assume-no-affinity", { type: "boolean", default: false, describe: "assume no client has session-affinity history (recent lists empty)" })
    .option("uid", { type: "number", describe: "UID of the sending socket (--from node)" })
    .option("gid", { type: "number", describe: "GID of the sending socket (--from node)" });
}

export type ContextProblem = { message: string };

function parseNumber(text: string | undefined, what: string): number | ContextProblem {
  if (text === undefined) return 0;
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value > 0xffffffff) return { message: `${what} '${text}': expected a number (decimal or 0x hex) up to 0xffffffff` };
  return value;
}

/** Builds the trace context from the flags; problems are usage errors. */
export function contextFromArgs(args: ContextArgs, ruleset: Ruleset): TraceContext | ContextProblem {
  const family = ruleset.family;
  let nodeAddresses: NodeAddress[];
  if (args["node-ip"] && args["node-ip"].length > 0) {
    nodeAddresses = [];
    for (const written of args["node-ip"]) {
      const [address, iface] = written.split("@");
      if (!parseIp(address!, family)) return { message: `--node-ip '${written}': expected an ${family === "ipv4" ? "IPv4" : "IPv6"} address, optionally @IFACE` };
      nodeAddresses.push({ address: parseIp(address!, family)!.text, ...(iface ? { interface: iface } : {}), source: { kind: "given" } });
    }
  } else {
    nodeAddresses = inferNodeAddresses(ruleset);
  }
  const routes: Route[] = [];
  for (const written of args.route ?? []) {
    const [network, iface] = written.split("=");
    if (!network || !iface || !parseNet(network, family)) return { message: `--route '${written}': expected CIDR=IFACE, e.g. 10.244.1.0/24=flannel.1` };
    routes.push({ network, interface: iface });
  }
  const mark = parseNumber(args.mark, "--mark");
  if (typeof mark !== "number") return mark;
  const ctmark = parseNumber(args.ctmark, "--ctmark");
  if (typeof ctmark !== "number") return ctmark;
  let ipsets: IpsetFacts | undefined;
  if (args["ipset-file"]) {
    let text: string;
    try {
      text = readFileSync(args["ipset-file"], "utf8");
    } catch (error) {
      return { message: `--ipset-file: cannot read ${args["ipset-file"]}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
    }
    const parsed = parseIpsetSave(text);
    if (parsed.problems.length > 0) {
      const first = parsed.problems[0]!;
      return { message: `--ipset-file ${args["ipset-file"]}:${first.line}: ${first.message}` };
    }
    ipsets = parsed.facts;
  }
  return {
    origin: args.from,
    state: args.state,
    ...(args.in !== undefined ? { inInterface: args.in } : {}),
    ...(args.out !== undefined ? { outInterface: args.out } : {}),
    nodeAddresses,
    routes,
    mark,
    ctmark,
    assumeNoAffinity: args["assume-no-affinity"],
    ...(ipsets ? { ipsets } : {}),
    ...(args.uid !== undefined ? { uid: args.uid } : {}),
    ...(args.gid !== undefined ? { gid: args.gid } : {}),
  };
}

/** A protocol name or number as -p takes it; undefined if unknown. */
export function protocolNumberOf(text: string): number | undefined {
  return parseProtocol(text)?.number;
}

export interface PacketArgs {
  src?: string;
  dst?: string;
  proto: string;
  sport?: number;
  dport?: number;
  "icmp-type"?: number;
  "icmp-code"?: number;
  length?: number;
  ttl?: number;
}

/** The packet's fields but its destination (`trace` demands --dst, `graph` only with --trace). */
export function withPacketOptions<T>(y: Argv<T>) {
  return y
    .option("src", { type: "string", describe: "source address (default with --from node: a node address)" })
    .option("proto", { type: "string", default: "tcp", describe: "protocol: tcp, udp, icmp, ipv6-icmp, sctp, or a number" })
    .option("sport", { type: "number", describe: `source port (default ${DEFAULT_SOURCE_PORT}, an ephemeral port)` })
    .option("dport", { type: "number", describe: "destination port (required for tcp, udp, sctp)" })
    .option("icmp-type", { type: "number", describe: "ICMP type (default: echo request)" })
    .option("icmp-code", { type: "number", describe: "ICMP code (default 0)" })
    .option("length", { type: "number", describe: "IP packet length, for -m length (default: unknown)" })
    .option("ttl", { type: "number", describe: "TTL / hop limit, for -m ttl/hl (default: unknown)" });
}

const PORT_PROTOCOLS = new Set([6, 17, 33, 132, 136]);
const ICMP = new Set([1, 58]);

/** The packet the flags describe; problems are usage errors. `sourcePortAssumed`: no --sport for a port protocol. */
export function packetFromArgs(
  args: PacketArgs & { dst: string; from: Origin },
  context: TraceContext,
  family: Family,
): { packet: PacketSpec; sourcePortAssumed: boolean } | ContextProblem {
  const protocol = protocolNumberOf(args.proto);
  if (protocol === undefined) return { message: `--proto '${args.proto}': unknown protocol (a name like tcp, udp, icmp, or a number)` };
  const src = args.src ?? (args.from === "node" ? context.nodeAddresses[0]?.address : undefined);
  if (src === undefined) return { message: "--src is required (with --from node it defaults to a node address, and none is known: pass --node-ip)" };
  for (const [flag, value] of [["--src", src], ["--dst", args.dst]] as const) {
    if (!parseIp(value, family)) return { message: `${flag} '${value}': expected an ${family === "ipv4" ? "IPv4" : "IPv6"} address (the dump is ${family})` };
  }
  const packet: PacketSpec = { src, dst: args.dst, protocol };
  if (PORT_PROTOCOLS.has(protocol)) {
    if (args.dport === undefined) return { message: `--dport is required for ${args.proto}` };
    packet.sport = args.sport ?? DEFAULT_SOURCE_PORT;
    packet.dport = args.dport;
  }
  if (ICMP.has(protocol)) {
    packet.icmpType = args["icmp-type"] ?? (protocol === 1 ? 8 : 128);
    packet.icmpCode = args["icmp-code"] ?? 0;
  }
  if (args.length !== undefined) packet.length = args.length;
  if (args.ttl !== undefined) packet.ttl = args.ttl;
  return { packet, sourcePortAssumed: args.sport === undefined && packet.sport !== undefined };
}
