// `where TARGET`: which service ports answer on a target, and where the tracer sends a new
// connection from the chosen client to each of them.

import type { Family, Ruleset } from "../../model/types.js";
import { formatEndpoint, isLoopback, parseIp } from "../ip.js";
import type { PacketSpec, TraceContext, TraceResult } from "../trace/types.js";
import { createTracer, type Tracer } from "../trace/walk.js";
import { clientPicker } from "./clients.js";
import { parseServicePortName } from "./names.js";
import { protocolNumber, summarize } from "./resolve.js";
import type { ClientClass, Frontend, FrontendResolution, ServiceMap, ServicePort, ServiceProtocol } from "./types.js";

export type WhereTarget =
  /** `IP:PORT`, `IP:PORT/PROTO`, `[IPv6]:PORT…`. */
  | { kind: "address-port"; address: string; port: number; protocol?: ServiceProtocol }
  /** `IP`: every port. */
  | { kind: "address"; address: string }
  /** `:NODEPORT`, `:NODEPORT/PROTO`. */
  | { kind: "node-port"; port: number; protocol?: ServiceProtocol }
  /** `namespace/name` or `namespace/name:port`. */
  | { kind: "service"; key: string };

const PROTOCOLS = new Set<string>(["tcp", "udp", "sctp"]);

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= 65535 ? value : undefined;
}

/** Reads a TARGET; a string is the reason it cannot be read. */
export function parseWhereTarget(text: string, family: Family): WhereTarget | string {
  if (parseServicePortName(text)) return { kind: "service", key: text };
  let rest = text;
  let protocol: ServiceProtocol | undefined;
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const name = rest.slice(slash + 1).toLowerCase();
    if (!PROTOCOLS.has(name)) return `'${text}': unknown protocol '${rest.slice(slash + 1)}' (tcp, udp or sctp)`;
    protocol = name as ServiceProtocol;
    rest = rest.slice(0, slash);
  }
  const familyName = family === "ipv4" ? "IPv4" : "IPv6";
  const withPort = /^(?:\[([^\]]+)\]|([^:\]]*)):(\d+)$/.exec(rest);
  const bracketed = /^\[([^\]]+)\]$/.exec(rest);
  if (withPort || (family === "ipv4" && /^[^:]*:\d+$/.test(rest))) {
    const address = withPort?.[1] ?? withPort?.[2] ?? "";
    const number = port(withPort?.[3] ?? "");
    if (number === undefined) return `'${text}': the port must be 1-65535`;
    if (address === "") return { kind: "node-port", port: number, ...(protocol ? { protocol } : {}) };
    const ip = parseIp(address, family);
    if (!ip) return `'${text}': '${address}' is not an ${familyName} address (the dump is ${familyName})`;
    return { kind: "address-port", address: ip.text, port: number, ...(protocol ? { protocol } : {}) };
  }
  const ip = parseIp(bracketed?.[1] ?? rest, family);
  if (!ip) return `'${text}': expected IP:PORT[/PROTO], IP, :NODEPORT or namespace/name[:port] (the dump is ${familyName}${family === "ipv6" ? "; write [IPv6]:PORT" : ""})`;
  if (protocol) return `'${text}': a protocol needs a port (IP:PORT/PROTO)`;
  return { kind: "address", address: ip.text };
}

export function formatWhereTarget(target: WhereTarget, family: Family): string {
  switch (target.kind) {
    case "address-port":
      return formatEndpoint(target.address, target.port, family) + (target.protocol ? `/${target.protocol}` : "");
    case "address":
      return target.address;
    case "node-port":
      return `:${target.port}${target.protocol ? `/${target.protocol}` : ""}`;
    case "service":
      return target.key;
  }
}

export interface WhereMatch {
  service: ServicePort;
  frontend: Frontend;
  /** The destination address the traced packet carries. */
  destination: string;
}

function isNodeAddress(map: ServiceMap, address: string, frontend: Frontend): boolean {
  if (map.nodeAddresses.some((a) => a.address === address)) return true;
  const ip = parseIp(address, map.family);
  return frontend.localhost === true && ip !== undefined && isLoopback(ip);
}

interface Located {
  service: ServicePort;
  frontend: Frontend;
}

const byAddress = new WeakMap<ServiceMap, Map<string, Located[]>>();

/** The map's frontends by address (NodePorts under ""), built once per map. */
function frontendIndex(map: ServiceMap): Map<string, Located[]> {
  let index = byAddress.get(map);
  if (!index) {
    index = new Map();
    for (const service of map.services) {
      for (const frontend of service.frontends) {
        const key = frontend.address ?? "";
        const list = index.get(key);
        if (list) list.push({ service, frontend });
        else index.set(key, [{ service, frontend }]);
      }
    }
    byAddress.set(map, index);
  }
  return index;
}

/** The service ports (and their frontends) that answer on the target. */
export function matchWhereTarget(map: ServiceMap, target: WhereTarget): WhereMatch[] {
  const nodeDestination = map.nodeAddresses[0]?.address;
  const index = frontendIndex(map);
  const nodePorts = index.get("") ?? [];
  const withDestination = (list: readonly Located[], destination?: string): WhereMatch[] =>
    list.flatMap(({ service, frontend }) => {
      const to = destination ?? frontend.address ?? nodeDestination;
      return to === undefined ? [] : [{ service, frontend, destination: to }];
    });
  const protocolMatches = (frontend: Frontend, protocol: ServiceProtocol | undefined) => protocol === undefined || frontend.protocol === protocol;
  switch (target.kind) {
    case "address-port": {
      const onAddress = (index.get(target.address) ?? []).filter((l) => l.frontend.port === target.port && protocolMatches(l.frontend, target.protocol));
      const onNode = nodePorts.filter((l) => l.frontend.port === target.port && protocolMatches(l.frontend, target.protocol) && isNodeAddress(map, target.address, l.frontend));
      return [...withDestination(onAddress), ...withDestination(onNode, target.address)];
    }
    case "address": {
      const onNode = nodePorts.filter((l) => isNodeAddress(map, target.address, l.frontend));
      return [...withDestination(index.get(target.address) ?? []), ...withDestination(onNode, target.address)];
    }
    case "node-port":
      return withDestination(nodePorts.filter((l) => l.frontend.port === target.port && protocolMatches(l.frontend, target.protocol)));
    case "service": {
      const named = map.services.filter((s) => s.name.key === target.key || (!target.key.includes(":") && s.name.key.startsWith(`${target.key}:`)));
      return withDestination(named.flatMap((service) => service.frontends.map((frontend) => ({ service, frontend }))));
    }
  }
}

export interface WhereAnswer {
  service: ServicePort;
  frontend: Frontend;
  packet: PacketSpec;
  result: TraceResult;
  resolution: FrontendResolution;
}

export interface WhereReport {
  target: WhereTarget;
  client: ClientClass;
  /** How the client's address was chosen, when the user did not give it. */
  sourceChosen?: "pod-in-cluster-cidr" | "off-cluster" | "inside-source-ranges" | "node-address" | "no-cluster-cidr";
  answers: WhereAnswer[];
  /** Nothing serves the target: where the same packet goes instead. */
  unserved?: { packet: PacketSpec; result: TraceResult };
}

export interface WhereOptions {
  context: TraceContext;
  /** Source address; default: a representative client of `context.origin`. */
  src?: string;
}

const CLIENT_OF_ORIGIN: Record<TraceContext["origin"], ClientClass> = { pod: "pod", external: "off-cluster", node: "node" };

/** Traces the target's frontends; new clients only: session-affinity history belongs to clients, not rules. */
export function answerWhere(source: Tracer | Ruleset, map: ServiceMap, target: WhereTarget, options: WhereOptions): WhereReport {
  const tracer = "trace" in source ? source : createTracer(source);
  const context: TraceContext = { ...options.context, assumeNoAffinity: true };
  const client = CLIENT_OF_ORIGIN[context.origin];
  const picker = clientPicker(map);
  const pick = (frontend: Frontend | undefined): { src: string; chosen?: WhereReport["sourceChosen"] } => {
    if (options.src !== undefined) return { src: options.src };
    switch (context.origin) {
      case "node":
        return { src: context.nodeAddresses[0]?.address ?? map.nodeAddresses[0]!.address, chosen: "node-address" };
      case "external":
        return frontend?.sourceRanges ? { src: picker.inside(frontend.sourceRanges), chosen: "inside-source-ranges" } : { src: picker.offCluster(), chosen: "off-cluster" };
      case "pod": {
        const pod = picker.pod();
        return pod !== undefined ? { src: pod, chosen: "pod-in-cluster-cidr" } : { src: picker.offCluster(), chosen: "no-cluster-cidr" };
      }
    }
  };
  const report: WhereReport = { target, client, answers: [] };
  for (const match of matchWhereTarget(map, target)) {
    const { src, chosen } = pick(match.frontend);
    if (chosen && report.sourceChosen === undefined) report.sourceChosen = chosen;
    const packet: PacketSpec = { src, dst: match.destination, protocol: protocolNumber(match.frontend.protocol), dport: match.frontend.port };
    const result = tracer.trace(packet, context);
    report.answers.push({ ...match, packet, result, resolution: summarize(result, client, match.service, map.masqueradeMark) });
  }
  if (report.answers.length === 0 && target.kind !== "service") {
    const { src, chosen } = pick(undefined);
    if (chosen) report.sourceChosen = chosen;
    const destination = target.kind === "node-port" ? map.nodeAddresses[0]!.address : target.address;
    const packet: PacketSpec = { src, dst: destination, protocol: protocolNumber(target.kind === "address" ? "tcp" : (target.protocol ?? "tcp")) };
    if (target.kind !== "address") packet.dport = target.port;
    report.unserved = { packet, result: tracer.trace(packet, context) };
  }
  return report;
}
