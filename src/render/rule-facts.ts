// What the pictures need to know about one rule: where it goes, what it matches in a few characters, what its
// target does, which Kubernetes namespace it belongs to. Read from the typed model only.

import { formatAddressMaskShort } from "../model/addresses.js";
import { findOptionSpec, targetSpecs } from "../model/extensions.js";
import { formatPortRange } from "../model/codecs.js";
import type { Counters, ExtensionOption, Family, Negatable, PortRange, Rule } from "../model/types.js";
import type { ArrowKind, LineStyle, SceneRule, TargetClass } from "./scene.js";

const REWRITE_TARGETS = new Set([
  "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "MARK", "CONNMARK", "TPROXY", "TCPMSS", "TTL", "HL", "DSCP", "TOS",
  "CLASSIFY", "CHECKSUM", "CT", "NOTRACK", "SET", "SECMARK", "CONNSECMARK",
]);
const LOG_TARGETS = new Set(["LOG", "NFLOG", "ULOG", "TRACE", "AUDIT"]);

export function targetClass(rule: Rule): TargetClass {
  const target = rule.target;
  if (!target) return "none";
  if (target.kind === "chain") return target.goto ? "goto" : "jump";
  switch (target.name) {
    case "ACCEPT":
      return "accept";
    case "DROP":
      return "drop";
    case "REJECT":
      return "reject";
    case "RETURN":
      return "return";
    case "QUEUE":
    case "NFQUEUE":
      return "queue";
  }
  if (LOG_TARGETS.has(target.name)) return "log";
  if (REWRITE_TARGETS.has(target.name)) return "rewrite";
  return "rewrite";
}

/** How each target class is drawn; gressgraph draws every non-DROP target alike, these tell them apart. */
export const TARGET_STYLE: Record<TargetClass, { arrow: ArrowKind; line: LineStyle; legend: string }> = {
  accept: { arrow: "normal", line: "solid", legend: "ACCEPT" },
  drop: { arrow: "tee", line: "solid", legend: "DROP" },
  reject: { arrow: "reject", line: "dashed", legend: "REJECT (answers the sender)" },
  jump: { arrow: "vee", line: "solid", legend: "jump to a chain" },
  goto: { arrow: "vee", line: "dotted", legend: "goto a chain" },
  return: { arrow: "inv", line: "solid", legend: "RETURN" },
  rewrite: { arrow: "diamond", line: "solid", legend: "rewrite (DNAT, SNAT, MASQUERADE, MARK, …)" },
  log: { arrow: "dot", line: "solid", legend: "LOG / NFLOG (continues)" },
  queue: { arrow: "box", line: "solid", legend: "QUEUE / NFQUEUE" },
  none: { arrow: "dot", line: "dotted", legend: "no target (counts only)" },
};

export const TARGET_CLASSES = Object.keys(TARGET_STYLE) as TargetClass[];

export function ruleRef(rule: Rule): SceneRule {
  return {
    table: rule.table,
    chain: rule.chain,
    position: rule.position,
    line: rule.line,
    text: rule.text,
    ...(rule.counters ? { counters: rule.counters } : {}),
  };
}

// Plain loops: the chains view asks these of thousands of rules, and arrays built per question add up.
function* options(rule: Rule, module: string): Generator<ExtensionOption> {
  for (const match of rule.matches) if (match.name === module) yield* match.options;
}

function option(rule: Rule, module: string, name: string): ExtensionOption | undefined {
  for (const match of rule.matches) {
    if (match.name !== module) continue;
    for (const found of match.options) if (found.name === name) return found;
  }
  return undefined;
}

/** All `--comment` strings of a rule, in order. */
export function comments(rule: Rule): string[] {
  const found: string[] = [];
  for (const match of rule.matches) {
    if (match.name !== "comment") continue;
    for (const option of match.options) if (option.value.kind === "string") found.push(option.value.value);
  }
  return found;
}

// kube-proxy names the service port "namespace/name:port" in its comments, first ("ns/svc:http cluster IP") or
// inside a sentence ("masquerade traffic for ns/svc:http external destinations").
const KUBE_COMMENT = /(?:^|\s)([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/[a-z0-9][-a-z0-9.]*(?::[-a-z0-9]+)?(?=\s|$)/;

/** The Kubernetes namespace a rule belongs to, read from a kube-proxy style comment. */
export function ruleNamespace(rule: Rule): string | undefined {
  for (const match of rule.matches) {
    if (match.name !== "comment") continue;
    for (const option of match.options) {
      if (option.value.kind !== "string") continue;
      const found = KUBE_COMMENT.exec(option.value.value);
      if (found) return found[1];
    }
  }
  return undefined;
}

const bang = (negated: boolean): string => (negated ? "!" : "");

function interfaceName(value: Negatable<string> | undefined): string {
  if (!value || (!value.negated && value.value === "+")) return "any";
  return bang(value.negated) + value.value;
}

export function inInterface(rule: Rule): string {
  return interfaceName(rule.inInterface);
}

export function outInterface(rule: Rule): string {
  return interfaceName(rule.outInterface);
}

function nameList(option: ExtensionOption | undefined): string | undefined {
  return option?.value.kind === "name-list" ? bang(option.negated) + option.value.names.join(",") : undefined;
}

/** The source or destination as `iptables -L` would name it, with sets, address types and ranges too. */
export function endpointAddress(rule: Rule, side: "src" | "dst"): string {
  const parts: string[] = [];
  const address = side === "src" ? rule.source : rule.destination;
  if (address && (address.negated || address.value.prefix !== 0)) parts.push(bang(address.negated) + formatAddressMaskShort(address.value));
  const range = option(rule, "iprange", `${side}-range`);
  if (range?.value.kind === "address-range") parts.push(`${bang(range.negated)}${range.value.from}-${range.value.to}`);
  for (const set of options(rule, "set")) {
    if (set.value.kind === "set" && set.value.directions[0] === side) parts.push(`${bang(set.negated)}set:${set.value.name}`);
  }
  const type = nameList(option(rule, "addrtype", `${side}-type`));
  if (type) parts.push(`type:${type}`);
  return parts.length > 0 ? parts.join(" ") : "anywhere";
}

const STATE_ABBREVIATIONS: Record<string, string> = {
  NEW: "New", ESTABLISHED: "Est", RELATED: "Rel", INVALID: "Inv", UNTRACKED: "Untr", SNAT: "Snat", DNAT: "Dnat",
};

function ports(option: ExtensionOption | undefined): string | undefined {
  if (!option) return undefined;
  const value = option.value;
  const list: PortRange[] = value.kind === "port-range" ? [value.range] : value.kind === "port-list" ? value.ports : [];
  return list.length > 0 ? bang(option.negated) + list.map((r) => formatPortRange(r)).join(",") : undefined;
}

/** gressgraph's edge label, `Proto:port(s) States`, from the typed matches. */
export function matchSummary(rule: Rule): string {
  const parts: string[] = [];
  const protocol = rule.protocol ? bang(rule.protocol.negated) + rule.protocol.value.name : undefined;
  const protocolName = rule.protocol?.value.name ?? "";
  const destinationPorts =
    ports(option(rule, protocolName, "dport")) ?? ports(option(rule, "multiport", "dports")) ?? ports(option(rule, "multiport", "ports"));
  const sourcePorts = ports(option(rule, protocolName, "sport")) ?? ports(option(rule, "multiport", "sports"));
  if (protocol) parts.push(destinationPorts ? `${protocol}:${destinationPorts}` : protocol);
  else if (destinationPorts) parts.push(`port ${destinationPorts}`);
  if (sourcePorts) parts.push(`from :${sourcePorts}`);
  const icmp = option(rule, "icmp", "icmp-type") ?? option(rule, "icmp6", "icmpv6-type");
  if (icmp?.value.kind === "icmp-type") parts.push(bang(icmp.negated) + (icmp.value.name ?? String(icmp.value.type)));
  const state = option(rule, "conntrack", "ctstate") ?? option(rule, "state", "state");
  if (state?.value.kind === "name-list") {
    parts.push(bang(state.negated) + state.value.names.map((n) => STATE_ABBREVIATIONS[n] ?? n).join(","));
  }
  const mark = option(rule, "mark", "mark");
  if (mark?.value.kind === "mark") parts.push(`${bang(mark.negated)}mark 0x${mark.value.value.toString(16)}`);
  const probability = option(rule, "statistic", "probability");
  if (probability?.value.kind === "probability") parts.push(`p=${probability.value.value.toFixed(3).replace(/\.?0+$/, "")}`);
  return parts.join(" ");
}

/** The target options as iptables-save prints them, e.g. `--to-destination 10.244.1.6:8080`. */
function targetArguments(rule: Rule, family: Family, names: readonly string[]): string[] {
  const target = rule.target;
  const spec = target ? targetSpecs.get(target.name) : undefined;
  if (!target || !spec) return [];
  return target.options
    .filter((o) => names.includes(o.name))
    .flatMap((o) => {
      if (o.value.kind === "raw") return [o.value.source];
      const codec = findOptionSpec(spec, o.name)?.codec;
      return codec ? codec.encode(o.value, { family }) : [];
    });
}

const TARGET_DETAIL_OPTIONS: Record<string, readonly string[]> = {
  DNAT: ["to-destination"],
  SNAT: ["to-source"],
  REDIRECT: ["to-ports"],
  MARK: ["set-xmark", "set-mark", "or-mark", "and-mark", "xor-mark"],
  LOG: ["log-prefix"],
  NFLOG: ["nflog-prefix"],
  REJECT: ["reject-with"],
};

/** A short name of the target: `DNAT 10.244.1.6:8080`, `KUBE-SVC-…`, `LOG "prefix"`. */
export function targetSummary(rule: Rule, family: Family, maxChainName = 22): string {
  const target = rule.target;
  if (!target) return "";
  if (target.kind === "chain") return shortChainName(target.name, maxChainName);
  const details = targetArguments(rule, family, TARGET_DETAIL_OPTIONS[target.name] ?? []);
  return [target.name, ...details].join(" ");
}

/** Chain names up to `max` characters; kube-proxy's 16-character hashes are cut first. */
export function shortChainName(name: string, max = 22): string {
  if (name.length <= max) return name;
  const hashed = /^(.*-)([A-Z0-9]{16})$/.exec(name);
  if (hashed && hashed[1]!.length + 5 <= max) return `${hashed[1]}${hashed[2]!.slice(0, max - hashed[1]!.length - 1)}…`;
  return `${name.slice(0, max - 1)}…`;
}

/** 12345 → "12,345". Not toLocaleString: its first call starts ICU, ~30 ms of a 500 ms cold start. */
export function thousands(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const COUNT_UNITS = ["", "k", "M", "G", "T", "P", "E"];

/** 1234567 → "1.2M"; counters are u64 decimal strings. */
export function compactCount(value: string | number | bigint): string {
  let number = typeof value === "string" ? Number(value) : Number(value);
  let unit = 0;
  while (number >= 1000 && unit < COUNT_UNITS.length - 1) {
    number /= 1000;
    unit++;
  }
  const digits = unit === 0 || number >= 100 ? 0 : 1;
  return `${number.toFixed(digits).replace(/\.0$/, "")}${COUNT_UNITS[unit]}`;
}

export function countersText(counters: Counters | undefined): string | undefined {
  return counters ? `${compactCount(counters.packets)} pkts, ${compactCount(counters.bytes)}B` : undefined;
}

export function sumCounters(list: readonly (Counters | undefined)[]): Counters | undefined {
  let packets = 0n;
  let bytes = 0n;
  let any = false;
  for (const c of list) {
    if (!c) continue;
    any = true;
    packets += BigInt(c.packets);
    bytes += BigInt(c.bytes);
  }
  return any ? { packets: packets.toString(), bytes: bytes.toString() } : undefined;
}

/** Hover lines for a list of rules: location then text, at most `limit` rules. */
export function ruleHover(rules: readonly SceneRule[], total = rules.length, limit = 8): string[] {
  const lines: string[] = [];
  for (const rule of rules.slice(0, limit)) {
    const counters = countersText(rule.counters);
    lines.push(`${rule.table} ${rule.chain} #${rule.position} (line ${rule.line})${counters ? ` [${counters}]` : ""}`, `  ${rule.text}`);
  }
  if (total > Math.min(limit, rules.length)) lines.push(`… ${total - Math.min(limit, rules.length)} more rule(s)`);
  return lines;
}
