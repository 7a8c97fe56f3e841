// ipset contents from `ipset save` output, so that `-m set` can be decided instead of split.

import type { Family } from "../../model/types.js";
import { inNet, parseNet } from "../ip.js";
import type { Flow } from "./flow.js";
import type { IpsetContents, IpsetDimension, IpsetEntry, IpsetFacts } from "./types.js";

export type IpsetProblem = { line: number; message: string };

const DIMENSIONS: Record<string, IpsetDimension> = { ip: "ip", net: "net", port: "port", mac: "mac", iface: "iface", mark: "mark", set: "set" };

/** Parses `ipset save` (or `ipset list -o save`) output: `create NAME TYPE [opts]` and `add NAME ENTRY [opts]`. */
export function parseIpsetSave(text: string): { facts: IpsetFacts; problems: IpsetProblem[] } {
  const sets = new Map<string, IpsetContents>();
  const problems: IpsetProblem[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const words = raw.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || words[0]!.startsWith("#")) return;
    const [command, name, value] = words;
    if (command === "create" && name && value) {
      const [method, dims] = value.split(":");
      const dimensions = (method === "list" ? ["set"] : (dims ?? "").split(",")).map((d) => DIMENSIONS[d]);
      if (dimensions.some((d) => d === undefined)) {
        problems.push({ line, message: `unknown set type '${value}'` });
        return;
      }
      const familyIndex = words.indexOf("family");
      const family: Family = familyIndex > 0 && words[familyIndex + 1] === "inet6" ? "ipv6" : "ipv4";
      sets.set(name, { name, type: value, family, dimensions: dimensions as IpsetDimension[], entries: [], members: [], line });
    } else if (command === "add" && name && value) {
      const set = sets.get(name);
      if (!set) {
        problems.push({ line, message: `'add' to set '${name}' before its 'create'` });
        return;
      }
      if (set.type === "list:set") set.members.push(value);
      else set.entries.push({ values: value.split(","), nomatch: words.includes("nomatch") });
    } else {
      problems.push({ line, message: "expected 'create NAME TYPE …' or 'add NAME ENTRY …'" });
    }
  });
  return { facts: { sets }, problems };
}

const PROTOCOL_NAMES: Record<number, string> = { 6: "tcp", 17: "udp", 132: "sctp", 136: "udplite", 1: "icmp", 58: "icmpv6" };

function portMatches(written: string, flowPort: number | undefined, protocol: number): boolean {
  const colon = written.indexOf(":");
  const proto = colon < 0 ? "tcp" : written.slice(0, colon);
  const portText = colon < 0 ? written : written.slice(colon + 1);
  if (proto !== PROTOCOL_NAMES[protocol]) return false;
  const dash = portText.indexOf("-");
  const from = Number(dash < 0 ? portText : portText.slice(0, dash));
  const to = dash < 0 ? from : Number(portText.slice(dash + 1));
  return flowPort !== undefined && flowPort >= from && flowPort <= to;
}

function prefixLength(written: string, family: Family): number {
  const slash = written.indexOf("/");
  return slash < 0 ? (family === "ipv4" ? 32 : 128) : Number(written.slice(slash + 1));
}

/** How well an entry covers the flow: undefined if it does not, else the total prefix length (more is more specific). */
function entryScore(set: IpsetContents, entry: IpsetEntry, directions: readonly ("src" | "dst")[], flow: Flow): number | undefined {
  let score = 0;
  for (let i = 0; i < set.dimensions.length; i++) {
    const dimension = set.dimensions[i]!;
    const written = entry.values[i] ?? "";
    const direction = directions[Math.min(i, directions.length - 1)]!;
    if (dimension === "ip" || dimension === "net") {
      const address = direction === "src" ? flow.src : flow.dst;
      if (address.words === undefined) return undefined;
      const dash = written.indexOf("-");
      const net = parseNet(dash < 0 ? written : written.slice(0, dash), set.family);
      if (!net || !inNet(address.words, net)) return undefined;
      score += prefixLength(written, set.family);
    } else if (dimension === "port") {
      if (!portMatches(written, direction === "src" ? flow.sport : flow.dport, flow.protocol)) return undefined;
    } else {
      return undefined;
    }
  }
  return score;
}

/** Whether the flow is in the set; `unknown-set` when the facts do not have it. */
export function ipsetMembership(
  facts: IpsetFacts,
  name: string,
  directions: readonly ("src" | "dst")[],
  flow: Flow,
  depth = 0,
): boolean | "unknown-set" | "unsupported" {
  const set = facts.sets.get(name);
  if (!set) return "unknown-set";
  if (set.type === "list:set") {
    if (depth > 0) return "unsupported";
    let unsupported = false;
    for (const member of set.members) {
      const hit = ipsetMembership(facts, member, directions, flow, depth + 1);
      if (hit === true) return true;
      if (hit !== false) unsupported = true;
    }
    return unsupported ? "unsupported" : false;
  }
  if (set.dimensions.some((d) => d !== "ip" && d !== "net" && d !== "port")) return "unsupported";
  let best: { score: number; nomatch: boolean } | undefined;
  for (const entry of set.entries) {
    const score = entryScore(set, entry, directions, flow);
    if (score !== undefined && (!best || score > best.score)) best = { score, nomatch: entry.nomatch };
  }
  return best !== undefined && !best.nomatch;
}
