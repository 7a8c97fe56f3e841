// Reading what the kernel recorded: nft observer sets (`nft -j -n`), `conntrack -L` and `iptables-save -c`,
// and turning them into per-packet observations. Pure functions over command output.

import { endianness } from "node:os";
import { parseRuleset, TABLE_NAMES } from "../../src/index.js";
import type { Policy, TableName } from "../../src/model/types.js";
import type { Family } from "./kernel.js";
import { canonicalAddress, NODE_SETS, type LabPlan } from "./netlab-plan.js";
import type {
  ConntrackEntry, LabProtocol, NodeResponse, PacketFate, PacketObservation, PolicyHit, RuleHit, Tuple,
} from "./netlab-types.js";

export type SetElement = (string | number)[];

/** Set name → elements, from `nft -j -n list table|set …`. */
export function parseNftSets(json: string): Map<string, SetElement[]> {
  const sets = new Map<string, SetElement[]>();
  const document = JSON.parse(json) as { nftables: Record<string, unknown>[] };
  for (const item of document.nftables) {
    const set = item.set as { name: string; elem?: unknown[] } | undefined;
    if (set) sets.set(set.name, (set.elem ?? []).map(elementFields));
  }
  return sets;
}

// An element is {"concat": [...]}, or {"elem": {"val": …}} when it carries counters or timeouts;
// a bitmask value with several bits set is {"|": [bits…]}.
function elementFields(element: unknown): SetElement {
  const value = (element as { elem?: { val: unknown } }).elem?.val ?? element;
  const fields = (value as { concat?: unknown[] }).concat ?? [value];
  return fields.map((field) => {
    if (typeof field === "string" || typeof field === "number") return field;
    const bits = (field as { "|"?: number[] })["|"];
    if (bits) return bits.reduce((a, b) => a | b, 0);
    throw new Error(`netlab: unexpected nft set field ${JSON.stringify(field)}`);
  });
}

const tupleKey = (t: Tuple) => `${t.src} ${t.sport} ${t.dst} ${t.dport}`;

function headerTuple(fields: SetElement, family: Family, offset = 0): Tuple {
  return {
    src: canonicalAddress(String(fields[offset]), family, "nft set element"),
    sport: Number(fields[offset + 1]),
    dst: canonicalAddress(String(fields[offset + 2]), family, "nft set element"),
    dport: Number(fields[offset + 3]),
  };
}

export interface ConntrackRecord extends ConntrackEntry {
  proto: string;
}

/**
 * Parses `conntrack -L` lines:
 * `udp 17 29 src=A dst=B sport=1 dport=2 [UNREPLIED] src=B dst=A sport=2 dport=1 mark=0 use=1`
 * (the first src/dst/sport/dport group is the original direction, the second the reply).
 */
export function parseConntrack(text: string, family: Family): ConntrackRecord[] {
  const records: ConntrackRecord[] = [];
  for (const line of text.split("\n")) {
    const tokens = line.trim().split(/\s+/);
    if (tokens.length < 4 || !tokens.some((t) => t.startsWith("src="))) continue;
    const proto = tokens[0] === "ipv4" || tokens[0] === "ipv6" ? tokens[2]! : tokens[0]!;
    const groups: Partial<Record<"src" | "dst" | "sport" | "dport", string>>[] = [{}, {}];
    const flags: string[] = [];
    let state: string | undefined;
    let mark = 0;
    for (const token of tokens.slice(1)) {
      const bracket = /^\[(.+)\]$/.exec(token);
      if (bracket) {
        flags.push(bracket[1]!);
        continue;
      }
      const eq = token.indexOf("=");
      if (eq < 0) {
        if (/^[A-Z_]+$/.test(token)) state ??= token;
        continue;
      }
      const key = token.slice(0, eq);
      const value = token.slice(eq + 1);
      if (key === "mark") mark = Number(value);
      if (key !== "src" && key !== "dst" && key !== "sport" && key !== "dport") continue;
      const group = groups[0]![key] === undefined ? groups[0]! : groups[1]!;
      group[key] ??= value;
    }
    const tuple = (g: (typeof groups)[number]): Tuple => ({
      src: canonicalAddress(g.src ?? "", family, "conntrack src"),
      sport: Number(g.sport ?? 0),
      dst: canonicalAddress(g.dst ?? "", family, "conntrack dst"),
      dport: Number(g.dport ?? 0),
    });
    records.push({ proto, original: tuple(groups[0]!), reply: tuple(groups[1]!), state, mark, flags });
  }
  return records;
}

/** What each counter of a loaded ruleset belongs to, keyed as {@link readCounters} keys them. */
export interface RuleCatalog {
  rules: Map<string, { table: TableName; chain: string; position: number; rule: string }>;
  policies: Map<string, { table: TableName; chain: string; policy: Policy }>;
}

/** Packet counters by "table chain position" (rules) and "table chain" (built-in chains' policies). */
export interface CounterSnapshot {
  rules: Map<string, bigint>;
  policies: Map<string, bigint>;
}

const ruleKey = (table: string, chain: string, position: number) => `${table} ${chain} ${position}`;
const policyKey = (table: string, chain: string) => `${table} ${chain}`;

/** The rules and policies of `iptables-save -c` output, read with the project's parser. */
export function ruleCatalog(saved: string): RuleCatalog {
  const { ruleset, diagnostics } = parseRuleset(saved);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    throw new Error(`netlab: cannot parse the kernel's iptables-save -c output: ${errors.map((d) => d.message).join("; ")}`);
  }
  const catalog: RuleCatalog = { rules: new Map(), policies: new Map() };
  for (const table of ruleset.tables) {
    for (const chain of table.chains) {
      if (chain.builtin) catalog.policies.set(policyKey(table.name, chain.name), { table: table.name, chain: chain.name, policy: chain.policy });
      for (const rule of chain.rules) {
        const text = rule.text.replace(/^\[\d+:\d+\]\s*/, "");
        catalog.rules.set(ruleKey(table.name, chain.name, rule.position), { table: table.name, chain: chain.name, position: rule.position, rule: text });
      }
    }
  }
  return catalog;
}

const CHAIN_LINE = /^:(\S+) (\S+) \[(\d+):\d+\]/;
const RULE_LINE = /^\[(\d+):\d+\] -A (\S+) /;

/**
 * Only the counters of `iptables-save -c` output: a line scan, since the kernel's own output has one fixed shape
 * and parsing a large dump after every flow would dominate the lab's time. {@link ruleCatalog} says what they count.
 */
export function readCounters(saved: string): CounterSnapshot {
  const snapshot: CounterSnapshot = { rules: new Map(), policies: new Map() };
  const positions = new Map<string, number>();
  let table = "";
  for (const line of saved.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    const chainLine = CHAIN_LINE.exec(line);
    if (chainLine && chainLine[2] !== "-") snapshot.policies.set(policyKey(table, chainLine[1]!), BigInt(chainLine[3]!));
    const ruleLine = RULE_LINE.exec(line);
    if (ruleLine) {
      const chain = policyKey(table, ruleLine[2]!);
      const position = (positions.get(chain) ?? 0) + 1;
      positions.set(chain, position);
      snapshot.rules.set(ruleKey(table, ruleLine[2]!, position), BigInt(ruleLine[1]!));
    }
  }
  return snapshot;
}

/** Throws unless the line scan and the parser see the same rules and policies. */
export function checkCatalog(catalog: RuleCatalog, counters: CounterSnapshot): void {
  const same = (a: Iterable<string>, b: Iterable<string>) => [...a].sort().join("\n") === [...b].sort().join("\n");
  if (!same(catalog.rules.keys(), counters.rules.keys()) || !same(catalog.policies.keys(), counters.policies.keys())) {
    throw new Error("netlab: the counter scan and the parser disagree on the rules of the loaded ruleset");
  }
}

/** Counters that moved between two snapshots of the same loaded ruleset, in table, chain, position order. */
export function counterDeltas(catalog: RuleCatalog, before: CounterSnapshot, after: CounterSnapshot): { ruleHits: RuleHit[]; policyHits: PolicyHit[] } {
  const ruleHits: RuleHit[] = [];
  for (const [key, packets] of after.rules) {
    const delta = packets - (before.rules.get(key) ?? 0n);
    const rule = catalog.rules.get(key);
    if (delta !== 0n && rule) ruleHits.push({ ...rule, packets: Number(delta) });
  }
  const policyHits: PolicyHit[] = [];
  for (const [key, packets] of after.policies) {
    const delta = packets - (before.policies.get(key) ?? 0n);
    const policy = catalog.policies.get(key);
    if (delta !== 0n && policy) policyHits.push({ ...policy, packets: Number(delta) });
  }
  const order = (h: { table: TableName; chain: string }, position = 0) => [TABLE_NAMES.indexOf(h.table), h.chain, position] as const;
  const compare = (a: readonly [number, string, number], b: readonly [number, string, number]) =>
    a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) || a[2] - b[2];
  ruleHits.sort((a, b) => compare(order(a, a.position), order(b, b.position)));
  policyHits.sort((a, b) => compare(order(a), order(b)));
  return { ruleHits, policyHits };
}

/** Everything read from the lab's namespaces at one moment. */
export interface LabSnapshot {
  node: NodeRecords;
  /** Peer namespace → its arrival set, as tuple keys. */
  peerArrivals: Map<string, Set<string>>;
  conntrack: ConntrackRecord[];
  counters: CounterSnapshot;
}

export interface NodeRecords {
  arrived: Set<string>;
  /** Original source port → the packet as it was delivered or sent out. */
  local: Map<number, Tuple>;
  localNotrack: Tuple[];
  egress: { ifname: string; namespace: string; tracked: Map<number, Tuple>; notrack: Tuple[] }[];
  responseTcp: { client: string; kind: "tcp-reset" | "tcp-syn-ack"; clientPort: number }[];
  responseIcmp: { client: string; type: number; code: number; clientPort: number }[];
}

/** The node's observer sets, from `nft -j -n list table inet iptscope`. */
export function nodeRecords(plan: LabPlan, sets: Map<string, SetElement[]>): NodeRecords {
  const family = plan.family;
  const elements = (name: string) => sets.get(name) ?? [];
  const tracked = (name: string) => new Map(elements(name).map((e) => [Number(e[0]), headerTuple(e, family, 1)] as const));
  const plain = (name: string) => elements(name).map((e) => headerTuple(e, family));
  return {
    arrived: new Set(plain(NODE_SETS.arrived).map(tupleKey)),
    local: tracked(NODE_SETS.local),
    localNotrack: plain(NODE_SETS.localNotrack),
    egress: plan.links.map((link) => ({
      ifname: link.nodeIfname,
      namespace: link.namespace,
      tracked: tracked(link.egressSet),
      notrack: plain(link.egressNotrackSet),
    })),
    responseTcp: [
      ...elements(NODE_SETS.responseReset).map((e) => ({ e, kind: "tcp-reset" as const })),
      ...elements(NODE_SETS.responseSynAck).map((e) => ({ e, kind: "tcp-syn-ack" as const })),
    ].map(({ e, kind }) => ({ client: canonicalAddress(String(e[0]), family, "nft set element"), kind, clientPort: Number(e[2]) })),
    responseIcmp: elements(NODE_SETS.responseIcmp).map((e) => ({
      client: canonicalAddress(String(e[0]), family, "nft set element"),
      type: Number(e[1]),
      code: Number(e[2]),
      clientPort: innerSourcePort(Number(e[3])),
    })),
  };
}

// The ICMP error's inner source and destination ports, four bytes in network order, were copied into the packet
// mark, which nft handles (and prints) in host byte order.
function innerSourcePort(mark: number): number {
  if (endianness() === "BE") return mark >>> 16;
  return ((mark & 0xff) << 8) | ((mark >>> 8) & 0xff);
}

function responsesTo(packet: Tuple, records: NodeRecords): NodeResponse[] {
  const responses: NodeResponse[] = [];
  for (const r of records.responseTcp) {
    if (r.client === packet.src && r.clientPort === packet.sport) responses.push({ kind: r.kind });
  }
  for (const r of records.responseIcmp) {
    if (r.client === packet.src && r.clientPort === packet.sport) responses.push({ kind: "icmp", type: r.type, code: r.code });
  }
  return responses;
}

const untrackedMatch = (packet: Tuple) => (t: Tuple) => t.src === packet.src && t.sport === packet.sport;

/** The link a packet sent as `packet` left the node through, and how it looked then. */
function egressOf(packet: Tuple, records: NodeRecords): { ifname: string; namespace: string; packet: Tuple } | undefined {
  for (const egress of records.egress) {
    const seen = egress.tracked.get(packet.sport) ?? egress.notrack.find(untrackedMatch(packet));
    if (seen) return { ifname: egress.ifname, namespace: egress.namespace, packet: seen };
  }
  return undefined;
}

/** Where the node's observers and the peers saw the packet that left as `packet`; see PacketFate. */
function fateOf(packet: Tuple, snapshot: LabSnapshot): PacketFate {
  const records = snapshot.node;
  const local = records.local.get(packet.sport) ?? records.localNotrack.find(untrackedMatch(packet));
  if (local) return { kind: "local", packet: local };
  const egress = egressOf(packet, records);
  if (!egress) return { kind: "dropped" };
  const arrived = snapshot.peerArrivals.get(egress.namespace)?.has(tupleKey(egress.packet)) ?? false;
  return { kind: arrived ? "forwarded" : "lost", interface: egress.ifname, packet: egress.packet };
}

/** The peer namespaces the node sent any of these packets to: the only ones worth reading. */
export function peersReached(sent: SentPacket[], records: NodeRecords): string[] {
  return [...new Set(sent.flatMap((p) => egressOf(p.tuple, records)?.namespace ?? []))];
}

export interface SentPacket {
  proto: LabProtocol;
  tuple: Tuple;
  sendError: string | null;
}

export type PacketProgress = "settled" | "not-at-node" | "in-flight";

/**
 * Whether a packet's fate is final in this snapshot: it reached the node's first hook (so the node had finished
 * with it by the time the counters were read), and if it left through a link it has arrived behind it.
 */
export function packetProgress(sent: SentPacket, snapshot: LabSnapshot): PacketProgress {
  if (!snapshot.node.arrived.has(tupleKey(sent.tuple))) return "not-at-node";
  return fateOf(sent.tuple, snapshot).kind === "lost" ? "in-flight" : "settled";
}

export function observePacket(sent: SentPacket, snapshot: LabSnapshot): PacketObservation {
  const packet = sent.tuple;
  const observation: PacketObservation = { sport: packet.sport, fate: fateOf(packet, snapshot), responses: responsesTo(packet, snapshot.node) };
  const entry = snapshot.conntrack.find((c) => c.proto === sent.proto && tupleKey(c.original) === tupleKey(packet));
  if (entry) {
    const { proto: _proto, ...conntrack } = entry;
    observation.conntrack = conntrack;
  }
  if (sent.sendError !== null) observation.sendError = sent.sendError;
  return observation;
}

export function parsePeerArrivals(json: string, family: Family, setName: string): Set<string> {
  return new Set((parseNftSets(json).get(setName) ?? []).map((e) => tupleKey(headerTuple(e, family))));
}
