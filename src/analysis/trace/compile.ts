// Rules compiled into conditions (what must hold for the rule to match) and an effect (what its
// target does, compiled when the rule first matches). A condition answers true, false, or a split:
// a random share, or an uncertain fact the walk must branch on.

import { canonicalOptions } from "../../model/print.js";
import { matchSpecs, targetSpecs, type ExtensionSpec } from "../../model/extensions.js";
import type { CodecContext } from "../../model/codecs.js";
import type { AddressMask, ExtensionOption, Family, MatchModule, NatRange, Rule, Target } from "../../model/types.js";
import { parseIpv4 } from "../../model/addresses.js";
import { compareWords, inNet, isLimitedBroadcast, isMulticast, isUnspecified, netOf, parseIp, type Ip } from "../ip.js";
import { OwnedFlow, type Address, type CtState, type Env, type Flow, type InterfaceKnowledge } from "./flow.js";
import { ipsetMembership } from "./ipset.js";
import type { Uncertainty, UncertaintyKind } from "./types.js";
import { uncertainty } from "./uncertainty.js";

export type Split =
  | { kind: "random"; probability: number }
  | {
      kind: "uncertain";
      uncertainty: Uncertainty;
      /** The condition holds when the uncertain fact is `!negated`. */
      negated: boolean;
      /** A copy of the flow that records the assumed fact, so later questions agree with it. */
      assume(flow: Flow, fact: boolean): OwnedFlow;
    };

export type ConditionResult = boolean | Split;
export type Condition = (flow: Flow, env: Env) => ConditionResult;

export type Effect =
  | { kind: "accept" }
  | { kind: "drop" }
  | { kind: "queue"; name: string }
  | { kind: "reject"; with: string }
  | { kind: "return" }
  | { kind: "jump"; chain: string; goto: boolean }
  | { kind: "dnat"; pick: NatPick; target: "DNAT" }
  | { kind: "redirect"; ports: { from: number; to: number } | undefined }
  | { kind: "snat"; pick: NatPick; ports: { from: number; to: number } | undefined; randomPort: boolean }
  | { kind: "masquerade"; ports: { from: number; to: number } | undefined; randomPort: boolean }
  | { kind: "mark"; value: number; mask: number }
  | { kind: "connmark-set"; value: number; mask: number }
  | { kind: "connmark-save"; nfmask: number; ctmask: number }
  | { kind: "connmark-restore"; nfmask: number; ctmask: number }
  | { kind: "untrack" }
  | { kind: "ttl"; op: "set" | "dec" | "inc"; value: number }
  | { kind: "continue"; target: string }
  | { kind: "tproxy" }
  | { kind: "unknown"; target: string }
  | { kind: "none" };

/** What a NAT target takes from its range: the first address and port (none: the packet's own), and whether there were more. */
export interface NatPick {
  address: Address | undefined;
  port: number | undefined;
  several: boolean;
}

export interface CompiledRule {
  rule: Rule;
  /** The rule's line, kept at hand: the rule object itself is rarely in the cache when a rewrite or an assumption names it. */
  line: number;
  conditions: Condition[];
  /** Compiled when the rule first matches (ruleEffect): many rules a walk tries never do. */
  effect: Effect | undefined;
  /** The chain a jump or goto enters, resolved on first use (null: no such chain). */
  jumpTarget: unknown;
}

const ALWAYS_FALSE: Condition = () => false;
const NO_CONDITIONS: Condition[] = [];
const NEVER: Condition[] = [ALWAYS_FALSE];
const CONTEXTS: Record<Family, CodecContext> = { ipv4: { family: "ipv4", backend: "nft" }, ipv6: { family: "ipv6", backend: "nft" } };

export function compileRule(rule: Rule, family: Family): CompiledRule {
  const context = CONTEXTS[family];
  const conditions: Condition[] = [];
  const { protocol, source, destination, inInterface, outInterface, fragment, matches } = rule;
  let possible = true;
  if (protocol) possible = addCondition(conditions, protocolCondition(protocol.value.number ?? -1, protocol.negated));
  if (possible && source) possible = addCondition(conditions, addressCondition(source.value, source.negated, "src", rule.line));
  if (possible && destination) possible = addCondition(conditions, addressCondition(destination.value, destination.negated, "dst", rule.line));
  if (possible && inInterface) possible = addCondition(conditions, interfaceCondition("in", inInterface.value, inInterface.negated, rule.line));
  if (possible && outInterface) possible = addCondition(conditions, interfaceCondition("out", outInterface.value, outInterface.negated, rule.line));
  // Trace packets are never non-first fragments.
  if (possible && fragment) possible = addCondition(conditions, fragment.negated);
  for (let m = 0; possible && m < matches.length; m++) compileMatch(matches[m]!, rule, context, conditions);
  // slice(): an array grown by push keeps room for more, and the tracer keeps compiled rules.
  return { rule, line: rule.line, conditions: !possible ? NEVER : conditions.length === 0 ? NO_CONDITIONS : conditions.slice(), effect: undefined, jumpTarget: undefined };
}

/** What the rule's target does. */
export function ruleEffect(rule: Rule, family: Family): Effect {
  return compileTarget(rule.target, CONTEXTS[family]);
}

/** Adds a core match's condition to the rule's; false when the match can never hold. */
function addCondition(conditions: Condition[], condition: Condition | boolean): boolean {
  if (condition === false) return false;
  if (condition !== true) conditions.push(condition);
  return true;
}

// ---------------------------------------------------------------------------------------
// Core matches

const protocolConditions = new Map<number, Condition>();

function protocolCondition(number: number, negated: boolean): Condition | boolean {
  if (number === 0) return !negated;
  const key = negated ? -1 - number : number;
  let condition = protocolConditions.get(key);
  if (!condition) protocolConditions.set(key, (condition = (flow) => (flow.protocol === number) !== negated));
  return condition;
}

function addressCondition(mask: AddressMask, negated: boolean, which: "src" | "dst", line: number): Condition | boolean {
  if (mask.prefix === 0) return !negated;
  // An IPv4 mask is the last word (inNet compares the others under a zero mask): two numbers, no network object.
  if (mask.family === "ipv4") {
    const maskWord = parseIpv4(mask.mask) ?? 0;
    return ipv4Condition(maskWord, ((parseIpv4(mask.address) ?? 0) & maskWord) >>> 0, negated, which, mask, line);
  }
  const net = netOf(mask);
  return (flow, env) => {
    const address = which === "src" ? flow.src : flow.dst;
    return address.words === undefined ? unknownAddress(address, env, mask, negated, line) : inNet(address.words, net) !== negated;
  };
}

function unknownAddress(address: Exclude<Address, Ip>, env: Env, mask: AddressMask, negated: boolean, line: number): ConditionResult {
  // An address known only by role is a node address: it is not a host the rule names unless that host is one.
  const host = mask.prefix === (mask.family === "ipv4" ? 32 : 128);
  if (host && !(address.local && env.isLocalText(mask.address))) return negated;
  return unknownFact("address-unknown", `${address.text} in ${mask.address}/${mask.prefix ?? mask.mask}`, line, negated);
}

function ipv4Condition(maskWord: number, netWord: number, negated: boolean, which: "src" | "dst", mask: AddressMask, line: number): Condition {
  if (which === "src") return (flow, env) => (flow.src.words === undefined ? unknownAddress(flow.src, env, mask, negated, line) : (((flow.src.words[3] & maskWord) >>> 0) === netWord) !== negated);
  return (flow, env) => (flow.dst.words === undefined ? unknownAddress(flow.dst, env, mask, negated, line) : (((flow.dst.words[3] & maskWord) >>> 0) === netWord) !== negated);
}

/** iptables interface names: a trailing `+` matches any name with that prefix. */
function interfaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("+") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** Decides `pattern` from what earlier assumptions established about an unknown interface. */
function knownInterfaceAnswer(knowledge: InterfaceKnowledge, pattern: string): boolean | undefined {
  const prefixOf = (p: string) => (p.endsWith("+") ? p.slice(0, -1) : undefined);
  for (const known of knowledge.matches) {
    if (known === pattern) return true;
    const knownPrefix = prefixOf(known);
    const prefix = prefixOf(pattern);
    if (knownPrefix === undefined) return interfaceMatches(pattern, known);
    if (prefix !== undefined && knownPrefix.startsWith(prefix)) return true;
    if (prefix !== undefined ? !knownPrefix.startsWith(prefix) && !prefix.startsWith(knownPrefix) : !pattern.startsWith(knownPrefix)) return false;
  }
  for (const known of knowledge.notMatches) {
    if (known === pattern) return false;
    const knownPrefix = prefixOf(known);
    if (knownPrefix !== undefined && pattern.startsWith(knownPrefix)) return false;
  }
  return undefined;
}

function interfaceCondition(direction: "in" | "out", pattern: string, negated: boolean, line: number): Condition {
  const kind: UncertaintyKind = direction === "in" ? "in-interface-unknown" : "out-interface-unknown";
  const question = uncertainty(kind, pattern, line);
  const assume = (flow: Flow, fact: boolean): OwnedFlow => {
    const key = direction === "in" ? "inKnowledge" : "outKnowledge";
    const knowledge = flow[key];
    const copy = new OwnedFlow(flow);
    copy[key] = fact
      ? { matches: [...knowledge.matches, pattern], notMatches: knowledge.notMatches }
      : { matches: knowledge.matches, notMatches: [...knowledge.notMatches, pattern] };
    return copy;
  };
  return (flow) => {
    const name = direction === "in" ? flow.inInterface : flow.outInterface;
    if (name === null) return negated;
    if (name !== undefined) return interfaceMatches(pattern, name) !== negated;
    const known = knownInterfaceAnswer(direction === "in" ? flow.inKnowledge : flow.outKnowledge, pattern);
    if (known !== undefined) return known !== negated;
    return { kind: "uncertain", uncertainty: question, negated, assume };
  };
}

/** A split on a fact that has no structure beyond its key: the same key always gets the same answer. */
function unknownFact(kind: UncertaintyKind, subject: string, line: number, negated: boolean): Split {
  const key = `${kind}\u0000${subject}`;
  return {
    kind: "uncertain",
    uncertainty: uncertainty(kind, subject, line),
    negated,
    assume: (flow, fact) => {
      const copy = new OwnedFlow(flow);
      copy.facts = new Map(flow.facts).set(key, fact);
      return copy;
    },
  };
}

function factCondition(kind: UncertaintyKind, subject: string, line: number, negated: boolean): Condition {
  const key = `${kind}\u0000${subject}`;
  const split = unknownFact(kind, subject, line, negated);
  return (flow) => {
    const known = flow.facts.get(key);
    return known === undefined ? split : known !== negated;
  };
}

// ---------------------------------------------------------------------------------------
// Match extensions

type OptionCompiler = (option: ExtensionOption, rule: Rule, module: MatchModule) => Condition | boolean;

function inRange(value: number | undefined, from: number, to: number): boolean {
  return value !== undefined && value >= from && value <= to;
}

type PortRange = { readonly from: number; readonly to: number };

/** Whether the source port is in one of the ranges; undefined when the kernel picked it from a range straddling them. */
function sourcePortIn(flow: Flow, ranges: readonly PortRange[]): boolean | undefined {
  const picked = flow.sport === undefined ? flow.sportRange : undefined;
  if (!picked) return ranges.some((r) => inRange(flow.sport, r.from, r.to));
  if (ranges.some((r) => r.from <= picked.from && r.to >= picked.to)) return true;
  if (!ranges.some((r) => r.from <= picked.to && r.to >= picked.from)) return false;
  return undefined;
}

/** A source-port condition on a port NAT may have picked at random. */
function sourcePortCondition(ranges: readonly PortRange[], negated: boolean, written: string, line: number, alsoDestination = false): Condition {
  const wanted = `${negated ? "! " : ""}${written} ${ranges.map((r) => (r.from === r.to ? r.from : `${r.from}:${r.to}`)).join(",")}`;
  return (flow) => {
    if (alsoDestination && ranges.some((r) => inRange(flow.dport, r.from, r.to))) return !negated;
    const hit = sourcePortIn(flow, ranges);
    if (hit === undefined) return unknownFact("nat-port", `${flow.sportRange!.from}-${flow.sportRange!.to} against ${wanted}`, line, negated);
    return hit !== negated;
  };
}

function portOption(which: "sport" | "dport"): OptionCompiler {
  return (option, rule) => {
    if (option.value.kind !== "port-range") return true;
    const { from, to } = option.value.range;
    const negated = option.negated;
    if (which === "sport") return sourcePortCondition([{ from, to }], negated, option.written, rule.line);
    return (flow) => inRange(flow.dport, from, to) !== negated;
  };
}

function portListOption(which: "sport" | "dport" | "either"): OptionCompiler {
  return (option, rule) => {
    if (option.value.kind !== "port-list") return true;
    const ranges = option.value.ports;
    const negated = option.negated;
    if (which !== "dport") return sourcePortCondition(ranges, negated, option.written, rule.line, which === "either");
    return (flow) => ranges.some((r) => inRange(flow.dport, r.from, r.to)) !== negated;
  };
}

function markOption(which: "mark" | "ctmark"): OptionCompiler {
  return (option) => {
    if (option.value.kind !== "mark") return true;
    const value = option.value.value >>> 0;
    const mask = (option.value.mask ?? 0xffffffff) >>> 0;
    const negated = option.negated;
    // Without a conntrack entry connmark matches nothing, negated or not.
    if (which === "ctmark") return (flow) => flow.conntrack !== "none" && ((flow.ctmark & mask) >>> 0 === value) !== negated;
    return (flow) => ((flow.mark & mask) >>> 0 === value) !== negated;
  };
}

const CT_STATE_NAMES = new Set(["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"]);

/** The state conntrack reports: a packet without an entry (in the raw table, say) is INVALID unless untracked. */
function reportedState(flow: Flow): CtState {
  if (flow.conntrack !== "none" || flow.ctState === "UNTRACKED") return flow.ctState;
  return "INVALID";
}

function stateOption(option: ExtensionOption): Condition | boolean {
  if (option.value.kind !== "name-list") return true;
  const names = new Set(option.value.names);
  const negated = option.negated;
  return (flow) => {
    const state = reportedState(flow);
    const tracked = flow.conntrack !== "none";
    const hit =
      (CT_STATE_NAMES.has(state) && names.has(state)) ||
      (tracked && names.has("SNAT") && flow.snat !== undefined) ||
      (tracked && names.has("DNAT") && flow.dnat !== undefined);
    return hit !== negated;
  };
}

/** The status bits a connection's first packet can see: CONFIRMED once it has looped back through the node. */
function ctstatusOption(option: ExtensionOption, rule: Rule): Condition | boolean {
  const names = option.value.kind === "name-list" ? new Set(option.value.names) : new Set<string>();
  const negated = option.negated;
  const question = factCondition("unmodelled-option", `conntrack ${option.written}`, rule.line, negated);
  return (flow, env) => {
    if (flow.ctState !== "NEW") return question(flow, env);
    return (flow.conntrack === "confirmed" && names.has("CONFIRMED")) !== negated;
  };
}

function tupleAddressOption(pick: (flow: Flow) => Address): OptionCompiler {
  return (option, rule) => {
    if (option.value.kind !== "address") return true;
    const net = netOf(option.value.address);
    const negated = option.negated;
    return (flow) => {
      const address = pick(flow);
      if (address.words === undefined) return unknownFact("address-unknown", `${address.text} (${option.written})`, rule.line, negated);
      return inNet(address.words, net) !== negated;
    };
  };
}

function tuplePortOption(pick: (flow: Flow) => number | undefined): OptionCompiler {
  return (option) => {
    if (option.value.kind !== "port-range") return true;
    const { from, to } = option.value.range;
    const negated = option.negated;
    return (flow) => inRange(pick(flow), from, to) !== negated;
  };
}

const isIpv4Mapped = (words: readonly number[]) => words[0] === 0 && words[1] === 0 && words[2] === 0xffff;

/** IPv4 (inet_addr_type): zero-net and limited broadcast, multicast, then the local table: LOCAL or UNICAST. */
function ipv4TypeMatches(address: Address, local: boolean, names: ReadonlySet<string>): boolean {
  if (address.words !== undefined && (address.words[3]! >>> 24 === 0 || isLimitedBroadcast(address))) return names.has("BROADCAST");
  if (address.words !== undefined && isMulticast(address)) return names.has("MULTICAST");
  return names.has(local ? "LOCAL" : "UNICAST");
}

/**
 * IPv6 (xt_addrtype match_type6): every named class the address has the wrong kind for fails the match, then
 * LOCAL/ANYCAST/UNREACHABLE ask the routing table. So a node's own address is UNICAST too, and
 * "LOCAL,UNICAST" means local. undefined: the routes the context gives cannot say.
 */
function ipv6TypeMatches(address: Address, local: boolean, names: ReadonlySet<string>, env: Env): boolean | undefined {
  const kind = address.words === undefined ? "unicast" : isMulticast(address) ? "multicast" : isUnspecified(address) ? "any" : isIpv4Mapped(address.words) ? "mapped" : "unicast";
  if (names.has("MULTICAST") && kind !== "multicast") return false;
  if (names.has("UNICAST") && kind !== "unicast") return false;
  if (names.has("UNSPEC") && kind !== "any") return false;
  if (!names.has("LOCAL") && !names.has("ANYCAST") && !names.has("UNREACHABLE")) return true;
  if (names.has("LOCAL") && local) return true;
  if (names.has("ANYCAST")) return undefined;
  if (names.has("UNREACHABLE") && !local) return env.routeInterface(address) !== undefined ? false : undefined;
  return false;
}

/** Whether addrtype counts the address as LOCAL: with --limit-iface-*, only if it is on that interface. */
function addrtypeLocal(address: Address, device: string | null | undefined, limited: boolean, env: Env): boolean | undefined {
  if (!env.isLocal(address)) return false;
  // Without a device (none at this hook) the kernel looks at every interface.
  if (!limited || device === null) return true;
  const holder = env.interfaceOf(address);
  return device === undefined || holder === undefined ? undefined : holder === device;
}

function addrtypeCompiler(module: MatchModule, rule: Rule): Condition[] {
  const limit = module.options.some((o) => o.name === "limit-iface-in") ? "in" : module.options.some((o) => o.name === "limit-iface-out") ? "out" : undefined;
  const conditions: Condition[] = [];
  for (const option of module.options) {
    if ((option.name !== "src-type" && option.name !== "dst-type") || option.value.kind !== "name-list") continue;
    const names: ReadonlySet<string> = new Set(option.value.names);
    const negated = option.negated;
    const which = option.name === "src-type" ? "src" : "dst";
    conditions.push((flow, env) => {
      const address = flow[which];
      const device = limit === "in" ? flow.inInterface : limit === "out" ? flow.outInterface : null;
      const local = addrtypeLocal(address, device, limit !== undefined, env);
      if (local === undefined) return unknownFact("unmodelled-option", `addrtype --limit-iface-${limit}: is ${address.text} on ${device ?? "the interface"}?`, rule.line, negated);
      if (address.words === undefined && !local) return unknownFact("address-unknown", address.text, rule.line, negated);
      const holds = env.family === "ipv4" ? ipv4TypeMatches(address, local, names) : ipv6TypeMatches(address, local, names, env);
      if (holds === undefined) return unknownFact("unmodelled-option", `addrtype ${[...names].join(",")} for ${address.text}`, rule.line, negated);
      return holds !== negated;
    });
  }
  return conditions;
}

function statisticCompiler(module: MatchModule): readonly Condition[] {
  const mode = findValue(module, "mode");
  const probability = optionNamed(module.options, "probability");
  if (mode === "random" && probability?.value.kind === "probability") {
    const share = probability.value.stored / 0x80000000;
    return randomShare(probability.negated ? 1 - share : share);
  }
  const every = optionNamed(module.options, "every");
  if (mode === "nth" && every?.value.kind === "number") {
    // One packet in N matches: over many new connections, a share of 1/N.
    const share = 1 / every.value.value;
    return randomShare(every.negated ? 1 - share : share);
  }
  return NO_CONDITIONS;
}

// The same shares come back in every service (1/2, 1/3…): one condition each.
const randomShares = new Map<number, readonly Condition[]>();

function randomShare(probability: number): readonly Condition[] {
  let conditions = randomShares.get(probability);
  if (!conditions) {
    const split: Split = { kind: "random", probability };
    if (randomShares.size >= 10_000) randomShares.clear();
    randomShares.set(probability, (conditions = [() => split]));
  }
  return conditions;
}

/** The first option of the name: a loop, as quick as find without making a closure per call (rules are many). */
function optionNamed(options: readonly ExtensionOption[], name: string): ExtensionOption | undefined {
  for (const option of options) if (option.name === name) return option;
  return undefined;
}

function findValue(module: MatchModule, name: string): string | undefined {
  const option = optionNamed(module.options, name);
  return option?.value.kind === "string" ? option.value.value : undefined;
}

function recentCompiler(module: MatchModule, rule: Rule): Condition[] {
  const name = findValue(module, "name") ?? "DEFAULT";
  const side = module.options.some((o) => o.name === "rdest") ? "destination" : "source";
  for (const option of module.options) {
    if (option.name === "set") return option.negated ? [ALWAYS_FALSE] : [];
    if (option.name === "rcheck" || option.name === "update" || option.name === "remove") {
      const negated = option.negated;
      const question = factCondition("recent-list", `${name} (by ${side} address)`, rule.line, negated);
      return [(flow, env) => (env.context.assumeNoAffinity ? negated : question(flow, env))];
    }
  }
  return [];
}

function setCompiler(module: MatchModule, rule: Rule): Condition[] {
  const conditions: Condition[] = [];
  for (const option of module.options) {
    if (option.name === "match-set" && option.value.kind === "set") {
      const { name, directions } = option.value;
      const negated = option.negated;
      const subject = `${name} ${directions.join(",")}`;
      const question = factCondition("ipset-contents", subject, rule.line, negated);
      conditions.push((flow, env) => {
        const sets = env.context.ipsets;
        if (!sets) return question(flow, env);
        const member = ipsetMembership(sets, name, directions, flow);
        if (member === "unknown-set") return question(flow, env);
        if (member === "unsupported") return unknownFact("ipset-unsupported", subject, rule.line, negated);
        return member !== negated;
      });
    } else if (/^(packets|bytes)-(eq|lt|gt)$/.test(option.name)) {
      conditions.push(factCondition("ipset-unsupported", `${option.written} on a set entry's counters`, rule.line, option.negated));
    }
  }
  return conditions;
}

/** A non-bridged packet (the tracer's packets are routed) matches physdev only if every option is negated. */
function physdevCompiler(module: MatchModule): Condition[] {
  return module.options.every((o) => o.negated) ? [] : [ALWAYS_FALSE];
}

function ownerCompiler(module: MatchModule, rule: Rule): Condition[] {
  const conditions: Condition[] = [];
  const allNegated = module.options.every((o) => o.negated);
  conditions.push((flow, env) => (env.context.origin === "node" && (env.hook === "OUTPUT" || env.hook === "POSTROUTING") ? true : allNegated));
  for (const option of module.options) {
    const negated = option.negated;
    if (option.name === "uid-owner" || option.name === "gid-owner") {
      const range = option.value.kind === "number-range" ? option.value : option.value.kind === "number" ? { from: option.value.value, to: option.value.value } : undefined;
      if (!range) continue;
      const which = option.name === "uid-owner" ? "uid" : "gid";
      const question = factCondition("owner-unknown", `${option.written} ${range.from}-${range.to}`, rule.line, negated);
      conditions.push((flow, env) => {
        if (env.context.origin !== "node") return true;
        const id = env.context[which];
        return id === undefined ? question(flow, env) : inRange(id, range.from, range.to) !== negated;
      });
    }
  }
  return conditions;
}

function rangeOption(which: "src" | "dst"): OptionCompiler {
  return (option, rule, module) => {
    if (option.value.kind !== "address-range") return true;
    const family = module.name === "iprange" && option.value.from.includes(":") ? "ipv6" : "ipv4";
    const from = parseIp(option.value.from, family)?.words;
    const to = parseIp(option.value.to, family)?.words;
    if (!from || !to) return true;
    const negated = option.negated;
    return (flow) => {
      const address = flow[which];
      if (address.words === undefined) return unknownFact("address-unknown", `${address.text} (${option.written})`, rule.line, negated);
      return (compareWords(address.words, from) >= 0 && compareWords(address.words, to) <= 0) !== negated;
    };
  };
}

function numberOption(pick: (flow: Flow) => number | undefined, kind: UncertaintyKind, compare: (value: number, limit: number) => boolean): OptionCompiler {
  return (option, rule) => {
    const limit = option.value.kind === "number" ? option.value.value : undefined;
    const range = option.value.kind === "number-range" ? option.value : undefined;
    const negated = option.negated;
    const question = factCondition(kind, `${option.written} ${limit ?? `${range?.from}:${range?.to}`}`, rule.line, negated);
    return (flow, env) => {
      const value = pick(flow);
      if (value === undefined) return question(flow, env);
      const holds = range ? value >= range.from && value <= range.to : limit !== undefined && compare(value, limit);
      return holds !== negated;
    };
  };
}

const equal = (a: number, b: number) => a === b;
const below = (a: number, b: number) => a < b;
const above = (a: number, b: number) => a > b;

const TCP_FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];

const tcpFlagsOption: OptionCompiler = (option) => {
  if (option.value.kind !== "tcp-flags") return true;
  const mask = new Set(option.value.mask.flatMap((f) => (f === "ALL" ? TCP_FLAG_NAMES : [f])));
  const compare = new Set(option.value.compare.flatMap((f) => (f === "ALL" ? TCP_FLAG_NAMES : [f])));
  const negated = option.negated;
  return (flow) => {
    let holds = true;
    for (const flag of mask) if (flow.tcpFlags.includes(flag as never) !== compare.has(flag)) holds = false;
    return holds !== negated;
  };
};

const icmpTypeOption: OptionCompiler = (option) => {
  if (option.value.kind !== "icmp-type") return true;
  const { type, code } = option.value;
  const negated = option.negated;
  if (type === "any") return !negated;
  return (flow) => (flow.icmpType === type && (code === undefined || inRange(flow.icmpCode, code.from, code.to))) !== negated;
};

const pkttypeOption: OptionCompiler = (option) => {
  if (option.value.kind !== "string") return true;
  const wanted = option.value.value;
  const negated = option.negated;
  return (flow) => {
    const dst = flow.dst;
    const type = dst.words === undefined ? "unicast" : isMulticast(dst) ? "multicast" : isLimitedBroadcast(dst) ? "broadcast" : "unicast";
    return (type === wanted) !== negated;
  };
};

const OPTION_COMPILERS: Record<string, Record<string, OptionCompiler>> = {
  tcp: { sport: portOption("sport"), dport: portOption("dport"), "tcp-flags": tcpFlagsOption },
  udp: { sport: portOption("sport"), dport: portOption("dport") },
  sctp: { sport: portOption("sport"), dport: portOption("dport") },
  dccp: { sport: portOption("sport"), dport: portOption("dport") },
  icmp: { "icmp-type": icmpTypeOption },
  icmp6: { "icmpv6-type": icmpTypeOption },
  multiport: { sports: portListOption("sport"), dports: portListOption("dport"), ports: portListOption("either") },
  conntrack: {
    ctstate: stateOption,
    ctproto: (option) => {
      const number = option.value.kind === "number" ? option.value.value : -1;
      const negated = option.negated;
      return (flow) => (flow.protocol === number) !== negated;
    },
    ctorigsrc: tupleAddressOption((f) => f.orig.src),
    ctorigdst: tupleAddressOption((f) => f.orig.dst),
    ctreplsrc: tupleAddressOption((f) => f.dst),
    ctrepldst: tupleAddressOption((f) => f.src),
    ctorigsrcport: tuplePortOption((f) => f.orig.sport),
    ctorigdstport: tuplePortOption((f) => f.orig.dport),
    ctreplsrcport: tuplePortOption((f) => f.dport),
    ctrepldstport: (option, rule) =>
      option.value.kind === "port-range" ? sourcePortCondition([option.value.range], option.negated, option.written, rule.line) : true,
    ctdir: (option) => option.value.kind === "string" && option.value.value === "ORIGINAL",
    ctstatus: ctstatusOption,
  },
  state: { state: stateOption },
  mark: { mark: markOption("mark") },
  connmark: { mark: markOption("ctmark") },
  comment: { comment: () => true },
  iprange: { "src-range": rangeOption("src"), "dst-range": rangeOption("dst") },
  pkttype: { "pkt-type": pkttypeOption },
  length: { length: numberOption((f) => f.length, "length-unknown", equal) },
  ttl: {
    "ttl-eq": numberOption((f) => f.ttl, "ttl-unknown", equal),
    "ttl-lt": numberOption((f) => f.ttl, "ttl-unknown", below),
    "ttl-gt": numberOption((f) => f.ttl, "ttl-unknown", above),
  },
  hl: {
    "hl-eq": numberOption((f) => f.ttl, "ttl-unknown", equal),
    "hl-lt": numberOption((f) => f.ttl, "ttl-unknown", below),
    "hl-gt": numberOption((f) => f.ttl, "ttl-unknown", above),
  },
};

type ModuleCompiler = (module: MatchModule, rule: Rule) => readonly Condition[];

/**
 * xt_conntrack on a packet without an entry (raw table, untracked) checks --ctstate alone: the match holds if
 * that option was given and passed, and fails otherwise, whatever the other options and their negations say.
 */
function conntrackCompiler(module: MatchModule, rule: Rule): Condition[] {
  const compilers = OPTION_COMPILERS.conntrack!;
  const hasState = module.options.some((o) => o.name === "ctstate");
  const conditions: Condition[] = [];
  for (const option of module.options) {
    const compiler = compilers[option.name];
    const compiled = compiler ? compiler(option, rule, module) : factCondition("unmodelled-option", `conntrack ${option.written}`, rule.line, option.negated);
    if (option.name === "ctstate") {
      if (compiled === false) return [ALWAYS_FALSE];
      if (compiled !== true) conditions.push(compiled);
    } else if (compiled !== true) {
      const withEntry: Condition = compiled === false ? () => false : compiled;
      conditions.push((flow, env) => (flow.conntrack === "none" ? hasState : withEntry(flow, env)));
    }
  }
  return conditions;
}

const MODULE_COMPILERS: Record<string, ModuleCompiler> = {
  addrtype: addrtypeCompiler,
  conntrack: conntrackCompiler,
  statistic: statisticCompiler,
  recent: recentCompiler,
  set: setCompiler,
  physdev: physdevCompiler,
  owner: ownerCompiler,
  limit: (module, rule) => [factCondition("rate-limit", moduleText(module), rule.line, false)],
  mac: (module, rule) => [factCondition("mac-unknown", moduleText(module), rule.line, false)],
  rpfilter: rpfilterCompiler,
};

/**
 * rpfilter (PREROUTING only): the route back to the source must leave through the interface the packet came
 * in on (any interface with --loose); a local source passes only with --accept-local (IPv4: on that interface
 * too, unless --loose). Decided from the routes the context gives, like forwarding; a source no given route
 * covers, or an unknown incoming interface, leaves it uncertain.
 */
function rpfilterCompiler(module: MatchModule, rule: Rule): Condition[] {
  const has = (name: string) => module.options.some((o) => o.name === name);
  const loose = has("loose");
  const acceptLocal = has("accept-local");
  const invert = has("invert");
  const question = factCondition("reverse-path", moduleText(module), rule.line, false);
  const valid = (flow: Flow, env: Env): boolean | undefined => {
    const incoming = flow.inInterface;
    if (incoming === "lo") return true;
    if (typeof incoming !== "string" || flow.src.words === undefined) return undefined;
    if (env.isLocal(flow.src)) {
      if (!acceptLocal) return false;
      if (env.family === "ipv6" || loose) return true;
      const holder = env.interfaceOf(flow.src);
      return holder === undefined ? undefined : holder === incoming;
    }
    const via = env.routeInterface(flow.src);
    return via === undefined ? undefined : loose || via === incoming;
  };
  return [
    (flow, env) => {
      const answer = valid(flow, env);
      return answer === undefined ? question(flow, env) : answer !== invert;
    },
  ];
}

function moduleText(module: MatchModule): string {
  const options = module.options.map((o) => `${o.negated ? "! " : ""}${o.written}${o.value.kind === "raw" ? " " + o.value.source : ""}`);
  return [module.name, ...options].join(" ").trim();
}

/** Modules whose normalisation only rewrites their port options: no option, or one plain port range, stays as it is. */
const PORT_MODULES: ReadonlySet<string> = new Set(["tcp", "udp"]);

function plainPortRange(option: ExtensionOption): boolean {
  if ((option.name !== "dport" && option.name !== "sport") || option.negated || option.value.kind !== "port-range") return false;
  const { from, to } = option.value.range;
  return !(from === 0 && to === 65535);
}

/** Whether options are already in the order canonicalOptions sorts them into (the spec's, unknown ones last). */
function inSpecOrder(options: readonly ExtensionOption[], spec: ExtensionSpec): boolean {
  let last = -1;
  for (let i = 0; i < options.length; i++) {
    const name = options[i]!.name;
    let index = 0;
    while (index < spec.options.length && spec.options[index]!.name !== name) index++;
    if (index < last) return false;
    last = index;
  }
  return true;
}

/** canonicalOptions, without copying options that are already canonical (most rules write them so). */
function orderedOptions(options: ExtensionOption[], spec: ExtensionSpec, context: CodecContext): ExtensionOption[] {
  if (PORT_MODULES.has(spec.name) && (options.length === 0 || (options.length === 1 && plainPortRange(options[0]!)))) return options;
  return !spec.normalize && inSpecOrder(options, spec) ? options : canonicalOptions(options, spec, context);
}

function isComment(match: MatchModule): boolean {
  if (match.name !== "comment" || !match.known) return false;
  for (let i = 0; i < match.options.length; i++) if (match.options[i]!.name !== "comment") return false;
  return true;
}

/** Adds the match's conditions to the rule's. */
function compileMatch(match: MatchModule, rule: Rule, context: CodecContext, conditions: Condition[]): void {
  // Most kube-proxy rules carry one: it matches every packet.
  if (isComment(match)) return;
  const spec = matchSpecs.get(match.name);
  if (!match.known || !spec) {
    conditions.push(factCondition("unknown-match", moduleText(match), rule.line, false));
    return;
  }
  const moduleCompiler = MODULE_COMPILERS[match.name];
  if (moduleCompiler) {
    const options = orderedOptions(match.options, spec, context);
    for (const condition of moduleCompiler(options === match.options ? match : { ...match, options }, rule)) conditions.push(condition);
    return;
  }
  const compilers = OPTION_COMPILERS[match.name] ?? {};
  const before = conditions.length;
  for (const option of orderedOptions(match.options, spec, context)) {
    const compiler = compilers[option.name];
    const condition = compiler ? compiler(option, rule, match) : factCondition("unmodelled-option", `${match.name} ${option.written}`, rule.line, option.negated);
    if (condition === false) {
      // The match can never hold: it stands as that one condition.
      conditions.length = before;
      conditions.push(ALWAYS_FALSE);
      return;
    }
    if (condition !== true) conditions.push(condition);
  }
}

// ---------------------------------------------------------------------------------------
// Targets

function optionValue(options: ExtensionOption[], name: string): ExtensionOption["value"] | undefined {
  return optionNamed(options, name)?.value;
}

function portsOf(options: ExtensionOption[]): { from: number; to: number } | undefined {
  const value = optionValue(options, "to-ports");
  return value?.kind === "port-range" ? value.range : undefined;
}

function firstAddress(range: NatRange, family: Family): Address | undefined {
  if (range.fromAddress === undefined) return undefined;
  return parseIp(range.fromAddress, family) ?? { family, text: range.fromAddress, words: undefined, local: false };
}

/** --random and --random-fully make the kernel pick the source port instead of keeping it. */
function randomizesPorts(options: ExtensionOption[]): boolean {
  return options.some((o) => o.name === "random" || o.name === "random-fully");
}

const NONE: Effect = { kind: "none" };
const ACCEPT: Effect = { kind: "accept" };
const DROP: Effect = { kind: "drop" };
const RETURN: Effect = { kind: "return" };
function compileTarget(target: Target | undefined, context: CodecContext): Effect {
  if (!target) return NONE;
  // One per rule: sharing them by chain name would cost a lookup of the name, which the walk makes anyway.
  if (target.kind === "chain") return { kind: "jump", chain: target.name, goto: target.goto };
  switch (target.name) {
    case "ACCEPT":
      return ACCEPT;
    case "DROP":
      return DROP;
    case "RETURN":
      return RETURN;
    case "QUEUE":
    case "NFQUEUE":
      return { kind: "queue", name: target.name };
  }
  const spec = targetSpecs.get(target.name);
  if (!target.known || !spec) return { kind: "unknown", target: target.name };
  const options = orderedOptions(target.options, spec, context);
  switch (target.name) {
    case "REJECT": {
      const value = optionValue(options, "reject-with");
      return { kind: "reject", with: value?.kind === "string" ? value.value : "icmp-port-unreachable" };
    }
    case "DNAT": {
      const value = optionValue(options, "to-destination");
      const range: NatRange = value?.kind === "nat-range" ? value.range : {};
      const several = range.fromAddress !== range.toAddress || (range.fromPort !== undefined && range.fromPort !== range.toPort);
      return { kind: "dnat", pick: { address: firstAddress(range, context.family), port: range.fromPort, several }, target: "DNAT" };
    }
    case "SNAT": {
      // The source port is not picked from the range: it is kept when it is in it.
      const value = optionValue(options, "to-source");
      const range: NatRange = value?.kind === "nat-range" ? value.range : {};
      const ports = range.fromPort !== undefined ? { from: range.fromPort, to: range.toPort ?? range.fromPort } : undefined;
      const pick = { address: firstAddress(range, context.family), port: undefined, several: range.fromAddress !== range.toAddress };
      return { kind: "snat", pick, ports, randomPort: randomizesPorts(options) };
    }
    case "MASQUERADE":
      return { kind: "masquerade", ports: portsOf(options), randomPort: randomizesPorts(options) };
    case "REDIRECT":
      return { kind: "redirect", ports: portsOf(options) };
    case "MARK": {
      const value = optionValue(options, "set-xmark");
      return value?.kind === "mark" ? { kind: "mark", value: value.value >>> 0, mask: (value.mask ?? 0xffffffff) >>> 0 } : { kind: "unknown", target: "MARK" };
    }
    case "CONNMARK": {
      const value = optionValue(options, "set-xmark");
      if (value?.kind === "mark") return { kind: "connmark-set", value: value.value >>> 0, mask: (value.mask ?? 0xffffffff) >>> 0 };
      const maskOf = (name: string) => {
        const v = optionValue(options, name);
        return v?.kind === "mark" ? v.value >>> 0 : 0xffffffff;
      };
      if (options.some((o) => o.name === "save-mark")) return { kind: "connmark-save", nfmask: maskOf("nfmask"), ctmask: maskOf("ctmask") };
      if (options.some((o) => o.name === "restore-mark")) return { kind: "connmark-restore", nfmask: maskOf("nfmask"), ctmask: maskOf("ctmask") };
      return { kind: "unknown", target: "CONNMARK" };
    }
    case "NOTRACK":
      return { kind: "untrack" };
    case "CT":
      return options.some((o) => o.name === "notrack") ? { kind: "untrack" } : { kind: "continue", target: "CT" };
    case "TTL":
    case "HL": {
      for (const op of ["set", "dec", "inc"] as const) {
        const value = optionValue(options, `${target.name.toLowerCase()}-${op}`);
        if (value?.kind === "number") return { kind: "ttl", op, value: value.value };
      }
      return { kind: "continue", target: target.name };
    }
    case "TPROXY":
      return { kind: "tproxy" };
    default:
      return { kind: "continue", target: target.name };
  }
}

