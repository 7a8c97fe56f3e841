// The simulator: walks a packet through netfilter's hooks, tables and chains in the kernel's
// order. Random matches and undecidable matches split the walk; every branch ends in an outcome,
// and equal outcomes are merged. Iterative throughout: no recursion, bounded steps and branches.

import { parseProtocol } from "../../model/protocols.js";
import type { Chain, Family, Rule, Ruleset, TableName } from "../../model/types.js";
import { compareWords, formatEndpoint, isLoopback, parseIp, parseNet, inNet, type Net } from "../ip.js";
import { natRangeAddress } from "./nat-address.js";
import { compileRule, inRange, invertedPortPairsOf, ruleEffect, type CompiledRule, type Effect, type InvertedPortPairs, type NatPick, type Split } from "./compile.js";
import { OwnedFlow, type Address, type CtState, type Env, type Flow, type InterfaceKnowledge } from "./flow.js";
import { sortStably } from "./order.js";
import type {
  Assumption,
  Delivery,
  Hook,
  Outcome,
  PacketSpec,
  PacketView,
  PathStep,
  Rewrite,
  StepAction,
  TraceContext,
  TraceResult,
  Uncertainty,
  Verdict,
} from "./types.js";
import { CONTAINER_INTERFACES } from "./context.js";
import { uncertainty } from "./uncertainty.js";

const HOOK_TABLES: Record<Hook, readonly TableName[]> = {
  PREROUTING: ["raw", "mangle", "nat"],
  INPUT: ["mangle", "filter", "security", "nat"],
  FORWARD: ["mangle", "filter", "security"],
  OUTPUT: ["raw", "mangle", "nat", "filter", "security"],
  POSTROUTING: ["mangle", "nat"],
};

const MAX_BRANCHES = 20_000;
const MAX_STEPS_PER_BRANCH = 1_000_000;
/** All branches together: random splits inside a long walk would otherwise multiply the per-branch bound. */
const MAX_STEPS_PER_TRACE = 10_000_000;
const INDEX_THRESHOLD = 16;

class CompiledChain {
  /** How many times a walk has started to go through the chain (entered it, come back to it, split in it). */
  activations = 0;

  constructor(
    readonly table: TableName,
    readonly chain: Chain,
    /**
     * Each rule compiled when a walk first reaches it: most of a large chain is never reached by a query. Kept only
     * once the chain has been gone through twice: most chains of a large ruleset are gone through once (a service's
     * endpoint chains, for one trace), and keeping what they compiled only gives the garbage collector more to copy.
     */
    readonly rules: (CompiledRule | undefined)[],
    /** Large chains only. */
    readonly index: ChainIndex | undefined,
  ) {}
}

/** A walk starts (again) to go through `chain` at rule `index`. */
function activate(chain: CompiledChain, index: number, via: Frame["via"]): Frame {
  chain.activations++;
  return { chain, index, via };
}

/** A large chain's rules by the destination they require, so that a walk skips those that cannot match. */
interface ChainIndex {
  /** Rule indexes that can match a destination host, by host. */
  byHost: Map<string, number[]>;
  /** Rules of no destination host that can match only one destination port, by port. */
  byPort: Map<number, number[]>;
  /** Rules in neither index. */
  generic: number[];
  /** The rules of byPort together, in order: the candidates when the port index does not hold. */
  anyPort: number[] | undefined;
}

interface Frame {
  chain: CompiledChain;
  index: number;
  /** Chains this call level left by goto to reach `chain`: entering one of them again is a loop. */
  via: readonly CompiledChain[] | undefined;
}

interface PathNode {
  step: PathStep;
  previous: PathNode | undefined;
}

/** One walk through the hooks. A class, copied field by field, for the same reason as OwnedFlow: one shape. */
class Branch {
  /** This branch's alone: a split gives the other branch a copy. */
  declare flow: OwnedFlow;
  declare probability: number;
  declare conditional: number;
  declare assumptions: Assumption[];
  declare path: PathNode | undefined;
  declare hook: Hook;
  declare tableIndex: number;
  /** The chain the table pass started in (its policy applies at the end). */
  declare base: CompiledChain | undefined;
  /** This branch's alone; the callers' frames on the stack may be shared with branches split off below them. */
  declare frame: Frame | undefined;
  declare conditionIndex: number;
  declare stack: Frame[];
  /** A locally generated packet to a local address comes back in through lo. */
  declare loopback: boolean;
  /** The nat table has been consulted for the destination (PREROUTING/OUTPUT) and the source (POSTROUTING/INPUT). */
  declare dnatDone: boolean;
  declare snatDone: boolean;
  declare steps: number;
  /** What the split at the current rule decided, for the path step of that rule. */
  declare note: { branch?: { probability: number; matched: boolean }; assumed?: { kind: Uncertainty["kind"]; matched: boolean } } | undefined;

  /** A copy of `branch`: its flow, frame and stack still shared. */
  constructor(branch: Branch) {
    this.flow = branch.flow;
    this.probability = branch.probability;
    this.conditional = branch.conditional;
    this.assumptions = branch.assumptions;
    this.path = branch.path;
    this.hook = branch.hook;
    this.tableIndex = branch.tableIndex;
    this.base = branch.base;
    this.frame = branch.frame;
    this.conditionIndex = branch.conditionIndex;
    this.stack = branch.stack;
    this.loopback = branch.loopback;
    this.dnatDone = branch.dnatDone;
    this.snatDone = branch.snatDone;
    this.steps = branch.steps;
    this.note = branch.note;
  }
}

export interface Tracer {
  readonly family: Family;
  trace(packet: PacketSpec, context: TraceContext): TraceResult;
}

export interface TracerOptions {
  /** Index large chains by destination host (default true; false gives the linear scan, for the bench). */
  index?: boolean;
  /** Merge equal outcomes (default true); false keeps every walk with its own path. */
  merge?: boolean;
  /** Record each outcome's path (default true); false is faster for callers that only need the outcomes. */
  paths?: boolean;
}

export function createTracer(ruleset: Ruleset, options: TracerOptions = {}): Tracer {
  const compiled = new CompiledRuleset(ruleset, options.index !== false);
  return {
    family: ruleset.family,
    trace: (packet, context) => new Walk(compiled, packet, context, options.merge !== false, options.paths !== false).run(),
  };
}

/** A ruleset as walks see it: each chain compiled in place of itself when a walk first enters it. */
class CompiledRuleset {
  readonly family: Family;
  readonly invertedPortPairs: InvertedPortPairs;
  private readonly chainsByTable = new Map<TableName, Map<string, Chain | CompiledChain>>();
  /** The chain each table pass of a hook starts in, once looked up (null: there is none). */
  private readonly starts: Record<Hook, (CompiledChain | null | undefined)[]> = { PREROUTING: [], INPUT: [], FORWARD: [], OUTPUT: [], POSTROUTING: [] };

  constructor(
    ruleset: Ruleset,
    private readonly indexLargeChains: boolean,
  ) {
    this.family = ruleset.family;
    this.invertedPortPairs = invertedPortPairsOf(ruleset);
    for (const table of ruleset.tables) {
      const chains = new Map<string, Chain | CompiledChain>();
      for (const chain of table.chains) chains.set(chain.name, chain);
      this.chainsByTable.set(table.name, chains);
    }
  }

  chain(table: TableName, name: string): CompiledChain | undefined {
    const chains = this.chainsByTable.get(table);
    const found = chains?.get(name);
    if (found === undefined || found instanceof CompiledChain) return found;
    const rules = new Array<CompiledRule | undefined>(found.rules.length).fill(undefined);
    const compiled = new CompiledChain(table, found, rules, this.indexLargeChains && rules.length >= INDEX_THRESHOLD ? chainIndex(found, this.family) : undefined);
    chains!.set(name, compiled);
    return compiled;
  }

  /** The built-in chain of the hook in its `tableIndex`th table (HOOK_TABLES). */
  start(hook: Hook, tableIndex: number): CompiledChain | undefined {
    const starts = this.starts[hook];
    let start = starts[tableIndex];
    if (start === undefined) starts[tableIndex] = start = this.chain(HOOK_TABLES[hook][tableIndex]!, hook) ?? null;
    return start ?? undefined;
  }
}

function chainIndex(chain: Chain, family: Family): ChainIndex {
  const byHost = new Map<string, number[]>();
  const byPort = new Map<number, number[]>();
  const generic: number[] = [];
  chain.rules.forEach((rule, i) => {
    const host = destinationHostOf(rule, family);
    const port = host === undefined ? onlyDestinationPort(rule) : undefined;
    if (host !== undefined) addIndex(byHost, host, i);
    else if (port !== undefined) addIndex(byPort, port, i);
    else generic.push(i);
  });
  return { byHost, byPort, generic, anyPort: undefined };
}

function addIndex<K>(index: Map<K, number[]>, key: K, rule: number): void {
  const list = index.get(key);
  if (list) list.push(rule);
  else index.set(key, [rule]);
}

/** The destination host a rule requires (`-d X/32`, `-d X/128`). */
function destinationHostOf(rule: Rule, family: Family): string | undefined {
  const destination = rule.destination;
  return destination && !destination.negated && destination.value.prefix === (family === "ipv4" ? 32 : 128) ? destination.value.address : undefined;
}

/**
 * The one destination port a rule requires (`-m tcp --dport N`, `-m udp --dport N`), when nothing the rule asks
 * before it can split the walk: then a packet to another port passes the rule exactly as if it were not there.
 * Interface and address questions come first and may be undecided, so such rules are left out (see nextCandidate).
 */
function onlyDestinationPort(rule: Rule): number | undefined {
  if (rule.inInterface || rule.outInterface) return undefined;
  for (const match of rule.matches) {
    if (match.name === "comment") continue;
    // A source port is asked before the destination port, and may be unknown.
    if (!match.known || (match.name !== "tcp" && match.name !== "udp") || match.options.length !== 1) return undefined;
    const option = match.options[0]!;
    if (option.name !== "dport" || option.negated || option.value.kind !== "port-range") return undefined;
    const { from, to } = option.value.range;
    return from === to ? from : undefined;
  }
  return undefined;
}

/** The next rule at or after `from` that can match the flow's packet. */
function nextCandidate(chain: CompiledChain, from: number, flow: Flow): number {
  const destination = flow.dst;
  const index = chain.index;
  if (!index || destination.words === undefined) return from < chain.rules.length ? from : -1;
  // The port index holds when the addresses are known: then no earlier condition of its rules can split.
  const portRules =
    flow.src.words !== undefined && flow.dport !== undefined ? index.byPort.get(flow.dport) : (index.anyPort ??= [...index.byPort.values()].flat().sort((a, b) => a - b));
  // The candidates are the generic rules, the host's and the port's: the first of them at or after `from`.
  const next = Math.min(firstAtOrAfter(index.generic, from), firstAtOrAfter(index.byHost.get(destination.text), from), firstAtOrAfter(portRules, from));
  return next === Infinity ? -1 : next;
}

/** The first rule index at or after `from` in an ordered list; Infinity when there is none. */
function firstAtOrAfter(list: readonly number[] | undefined, from: number): number {
  if (list === undefined) return Infinity;
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (list[middle]! < from) low = middle + 1;
    else high = middle;
  }
  return low < list.length ? list[low]! : Infinity;
}

/** Routing has sent the packet to the first table of `hook`. */
function enterHook(branch: Branch, hook: Hook): true {
  branch.hook = hook;
  branch.tableIndex = 0;
  return true;
}

/** Whether the call level of `frame` is in `chain`, or left `chain` by goto to get where it is. */
function inChain(frame: Frame, chain: CompiledChain): boolean {
  return frame.chain === chain || (frame.via !== undefined && frame.via.includes(chain));
}

/** Where the kernel picks a source port when no range is given: in the original port's class (nf_nat_l4proto_unique_tuple). */
function ephemeralRange(port: number): { from: number; to: number } {
  if (port < 512) return { from: 1, to: 511 };
  if (port < 1024) return { from: 600, to: 1023 };
  return { from: 1024, to: 65535 };
}

/** The entry the conntrack hook gives a packet: none for invalid or untracked ones, confirmed for an existing connection. */
function attachConntrack(flow: OwnedFlow): void {
  if (flow.ctState === "INVALID" || flow.ctState === "UNTRACKED") return;
  flow.conntrack = flow.ctState === "ESTABLISHED" ? "confirmed" : "unconfirmed";
}

const protocolNames: string[] = [];

function protocolName(number: number): string {
  return (protocolNames[number] ??= parseProtocol(String(number))?.name ?? String(number));
}

const CT_STATES: Record<TraceContext["state"], CtState> = {
  new: "NEW",
  established: "ESTABLISHED",
  related: "RELATED",
  invalid: "INVALID",
  untracked: "UNTRACKED",
};

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

interface DerivedContext {
  localAddresses: Set<string>;
  routes: { net: Net; prefix: number; iface: string }[];
  assumptions?: string[];
  /** The node's address on each interface a walk asked about (interfaceAddress), by family. */
  interfaceAddresses: Record<Family, Map<string | null | undefined, Address>>;
}

// What a context implies is computed once per context object: bulk callers trace many packets with one.
const derivedContexts = new WeakMap<TraceContext, DerivedContext>();

function derivedContext(context: TraceContext, family: Family): DerivedContext {
  let derived = derivedContexts.get(context);
  if (!derived) {
    derived = {
      localAddresses: new Set(context.nodeAddresses.map((a) => parseIp(a.address, family)?.text ?? a.address)),
      routes: context.routes
        .map((r) => ({ net: parseNet(r.network, family), prefix: Number(r.network.split("/")[1] ?? (family === "ipv4" ? 32 : 128)), iface: r.interface }))
        .filter((r): r is { net: Net; prefix: number; iface: string } => r.net !== undefined)
        .sort((a, b) => b.prefix - a.prefix),
      interfaceAddresses: { ipv4: new Map(), ipv6: new Map() },
    };
    derivedContexts.set(context, derived);
  }
  return derived;
}

/** What conditions ask of the node, for one walk: its hook is the step's. */
class WalkEnv implements Env {
  hook: Hook = "PREROUTING";

  constructor(
    readonly context: TraceContext,
    readonly family: Family,
    private readonly derived: DerivedContext,
  ) {}

  isLocal(address: Address): boolean {
    return address.words === undefined ? address.local : isLoopback(address) || this.derived.localAddresses.has(address.text);
  }

  isLocalText(text: string): boolean {
    const ip = parseIp(text, this.family);
    return ip !== undefined && (isLoopback(ip) || this.derived.localAddresses.has(ip.text));
  }

  interfaceOf(address: Address): string | undefined {
    if (address.words === undefined) return undefined;
    if (isLoopback(address)) return "lo";
    return this.context.nodeAddresses.find((n) => parseIp(n.address, this.family)?.text === address.text)?.interface;
  }

  routeInterface(address: Address): string | undefined {
    return address.words === undefined ? undefined : this.derived.routes.find((r) => inNet(address.words, r.net))?.iface;
  }
}

// A flow's facts and interface knowledge are replaced, never changed in place: every walk can start from these.
const NO_FACTS: ReadonlyMap<string, boolean> = new Map();
const NOTHING_KNOWN: InterfaceKnowledge = { matches: [], notMatches: [] };
const NOT_A_CONTAINER_INTERFACE: InterfaceKnowledge = { matches: [], notMatches: CONTAINER_INTERFACES };

class Walk {
  private readonly outcomes: Outcome[] = [];
  private readonly pending: Branch[] = [];
  private readonly env: WalkEnv;
  private readonly routes: { net: Net; prefix: number; iface: string }[];
  private branchesStarted = 0;
  private steps = 0;
  private readonly initial: Flow;

  private readonly family: Family;
  private readonly derived: DerivedContext;

  constructor(
    private readonly ruleset: CompiledRuleset,
    private readonly packet: PacketSpec,
    private readonly context: TraceContext,
    private readonly merge: boolean,
    private readonly recordPaths: boolean,
  ) {
    this.family = ruleset.family;
    this.derived = derivedContext(context, this.family);
    this.routes = this.derived.routes;
    this.env = new WalkEnv(context, this.family, this.derived);
    this.initial = this.initialFlow();
  }

  private address(text: string): Address {
    if (text === "@node") return { family: this.family, text: "(a node address)", words: undefined, local: true };
    const ip = parseIp(text, this.family);
    if (!ip) throw new RangeError(`'${text}' is not an ${this.family === "ipv4" ? "IPv4" : "IPv6"} address`);
    return ip;
  }

  private initialFlow(): Flow {
    const { packet, context } = this;
    const src = this.address(packet.src);
    const dst = this.address(packet.dst);
    const ctState = CT_STATES[context.state];
    const tcpFlags = packet.tcpFlags ?? (packet.protocol === 6 ? (ctState === "NEW" ? ["SYN"] : ["ACK"]) : []);
    return {
      src,
      dst,
      sport: packet.sport,
      dport: packet.dport,
      sportRandom: false,
      sportRange: undefined,
      protocol: packet.protocol,
      icmpType: packet.icmpType,
      icmpCode: packet.icmpCode,
      tcpFlags,
      length: packet.length,
      ttl: packet.ttl,
      mark: context.mark >>> 0,
      ctmark: context.ctmark >>> 0,
      ctState,
      conntrack: "none",
      orig: { src, dst, sport: packet.sport, dport: packet.dport },
      dnat: undefined,
      snat: undefined,
      masquerade: false,
      inInterface: context.origin === "node" ? null : context.inInterface,
      outInterface: null,
      inKnowledge: context.origin === "external" && context.inInterface === undefined ? NOT_A_CONTAINER_INTERFACE : NOTHING_KNOWN,
      outKnowledge: NOTHING_KNOWN,
      facts: NO_FACTS,
    };
  }

  run(): TraceResult {
    const origin = this.context.origin;
    // The initial flow stays as it is: the result describes the packet from it.
    const flow = new OwnedFlow(this.initial);
    if (origin === "node") flow.outInterface = this.route(flow.dst);
    this.pending.push(
      new Branch({
        flow,
        probability: 1,
        conditional: 1,
        assumptions: [],
        path: undefined,
        hook: origin === "node" ? "OUTPUT" : "PREROUTING",
        tableIndex: 0,
        base: undefined,
        frame: undefined,
        conditionIndex: 0,
        stack: [],
        loopback: false,
        dnatDone: false,
        snatDone: false,
        steps: 0,
        note: undefined,
      }),
    );
    while (this.pending.length > 0) {
      const branch = this.pending.pop()!;
      if (++this.branchesStarted > MAX_BRANCHES) {
        this.finish(branch, "ERROR", undefined, `more than ${MAX_BRANCHES} branches`, [
          { ...uncertainty("branch-limit", String(MAX_BRANCHES), 0), assumed: true },
        ]);
        continue;
      }
      this.advance(branch);
    }
    return this.result();
  }

  /** Interface a packet to `destination` (`local`: one of the node's addresses) leaves by: `lo`, else the routes. */
  private route(destination: Address, local = this.env.isLocal(destination)): string | undefined {
    if (local) return "lo";
    if (this.context.outInterface !== undefined) return this.context.outInterface;
    if (destination.words === undefined) return undefined;
    for (const r of this.routes) if (inNet(destination.words, r.net)) return r.iface;
    return undefined;
  }

  private natSkipped(branch: Branch): boolean {
    if (branch.flow.ctState !== "NEW") return true;
    return branch.hook === "PREROUTING" || branch.hook === "OUTPUT" ? branch.dnatDone : branch.snatDone;
  }

  /** Runs one branch until it ends or splits (the other side of a split goes to `pending`). */
  private advance(branch: Branch): void {
    for (;;) {
      if (branch.frame === undefined) {
        // Between table passes: start the next table of this hook, or move to the next hook.
        const tables = HOOK_TABLES[branch.hook];
        if (branch.tableIndex >= tables.length) {
          if (!this.nextHook(branch)) return;
          continue;
        }
        const table = tables[branch.tableIndex]!;
        // The conntrack hook runs between raw and mangle: from there on the packet carries its entry.
        if (table !== "raw" && branch.flow.conntrack === "none") attachConntrack(branch.flow);
        if (table === "nat" && this.natSkipped(branch)) {
          branch.tableIndex++;
          continue;
        }
        const start = this.ruleset.start(branch.hook, branch.tableIndex);
        if (!start) {
          this.endTablePass(branch);
          continue;
        }
        branch.base = start;
        branch.frame = activate(start, 0, undefined);
        branch.conditionIndex = 0;
      }
      // Branches split from this one are as long: they end with it rather than each build a path this long.
      if (++branch.steps > MAX_STEPS_PER_BRANCH) {
        this.abandonPending(branch, `walk longer than ${MAX_STEPS_PER_BRANCH} steps (a jump loop?)`);
        return;
      }
      if (++this.steps > MAX_STEPS_PER_TRACE) {
        this.abandonPending(branch, `walk longer than ${MAX_STEPS_PER_TRACE} steps in all branches`);
        return;
      }
      const frame = branch.frame!;
      this.env.hook = branch.hook;
      const index = nextCandidate(frame.chain, frame.index, branch.flow);
      if (index < 0) {
        if (!this.endOfChain(branch)) return;
        continue;
      }
      if (index !== frame.index) {
        frame.index = index;
        branch.conditionIndex = 0;
      }
      const compiled = frame.chain.rules[index] ?? this.compile(frame.chain, index);
      let matched = true;
      while (branch.conditionIndex < compiled.conditions.length) {
        const result = compiled.conditions[branch.conditionIndex]!(branch.flow, this.env);
        if (result === true) {
          branch.conditionIndex++;
          continue;
        }
        if (result === false) {
          matched = false;
          break;
        }
        if (result.kind === "random" && (result.probability >= 1 || result.probability <= 0)) {
          if (result.probability <= 0) {
            matched = false;
            break;
          }
          branch.conditionIndex++;
          continue;
        }
        this.split(branch, result);
      }
      if (!matched) {
        frame.index = index + 1;
        branch.conditionIndex = 0;
        branch.note = undefined;
        continue;
      }
      if (!this.apply(branch, compiled)) return;
    }
  }

  private compile(chain: CompiledChain, index: number): CompiledRule {
    const compiled = compileRule(chain.chain.rules[index]!, this.family, this.ruleset.invertedPortPairs);
    if (chain.activations > 1) chain.rules[index] = compiled;
    return compiled;
  }

  /** Forks the branch at a split: the pending copy takes "does not match", this branch goes on matching. */
  private split(branch: Branch, split: Split): void {
    const frame = branch.frame!;
    const other = new Branch(branch);
    other.frame = activate(frame.chain, frame.index + 1, frame.via);
    other.stack = branch.stack.slice();
    other.conditionIndex = 0;
    other.note = undefined;
    if (split.kind === "random") {
      const p = split.probability;
      other.flow = new OwnedFlow(branch.flow);
      other.probability = branch.probability * (1 - p);
      other.conditional = branch.conditional * (1 - p);
      branch.probability *= p;
      branch.conditional *= p;
      if (this.recordPaths) branch.note = { ...branch.note, branch: { probability: p, matched: true } };
    } else {
      const holds = !split.negated;
      other.flow = split.assume(branch.flow, !holds);
      other.probability = branch.probability / 2;
      other.assumptions = [...branch.assumptions, { ...split.uncertainty, assumed: false }];
      branch.flow = split.assume(branch.flow, holds);
      branch.probability /= 2;
      branch.assumptions = [...branch.assumptions, { ...split.uncertainty, assumed: true }];
      if (this.recordPaths) branch.note = { ...branch.note, assumed: { kind: split.uncertainty.kind, matched: true } };
    }
    this.pending.push(other);
    branch.conditionIndex++;
  }

  private step(branch: Branch, chain: CompiledChain, rule: number, effect: StepAction, action: string): void {
    const source = rule > 0 ? chain.chain.rules[rule - 1]! : undefined;
    const step: PathStep = {
      hook: branch.hook,
      table: chain.table,
      chain: chain.chain.name,
      rule,
      line: source ? source.line : chain.chain.line,
      text: source ? source.text : `:${chain.chain.name} ${chain.chain.policy} [${chain.chain.counters.packets}:${chain.chain.counters.bytes}]`,
      action,
      effect,
    };
    if (source && branch.note?.branch) step.branch = branch.note.branch;
    if (source && branch.note?.assumed) step.assumed = branch.note.assumed;
    branch.note = undefined;
    branch.path = { step, previous: branch.path };
  }

  /** Applies a matched rule's target; false when the branch has ended. */
  private apply(branch: Branch, compiled: CompiledRule): boolean {
    const frame = branch.frame!;
    const position = frame.index + 1;
    const effect: Effect = (compiled.effect ??= ruleEffect(compiled.rule, this.family));
    // Without paths no step consumes the note of a split, so it is cleared here.
    if (!this.recordPaths) branch.note = undefined;
    switch (effect.kind) {
      case "accept":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "verdict", verdict: "ACCEPT" }, "ACCEPT");
        return this.endTablePass(branch);
      case "drop":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "verdict", verdict: "DROP" }, "DROP");
        return this.finish(branch, "DROP");
      case "reject":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "verdict", verdict: "REJECT" }, `REJECT (${effect.with})`);
        return this.finish(branch, "REJECT");
      case "queue":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "verdict", verdict: "QUEUE" }, effect.name);
        return this.finish(branch, "QUEUE", undefined, undefined, [
          { ...uncertainty("queue-verdict", effect.name, compiled.line), assumed: true },
        ]);
      case "return":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "return" }, "RETURN");
        return this.leaveChain(branch);
      case "jump": {
        const jumping = compiled as CompiledRule & { jumpTarget?: CompiledChain | null };
        if (jumping.jumpTarget === undefined) jumping.jumpTarget = this.ruleset.chain(frame.chain.table, effect.chain) ?? null;
        const target = jumping.jumpTarget ?? undefined;
        if (!target) {
          if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "loop", chain: effect.chain }, `${effect.goto ? "goto" : "jump"} ${effect.chain}: no such chain`);
          return this.finish(branch, "ERROR", undefined, `jump to missing chain ${effect.chain}`);
        }
        let loop = inChain(frame, target);
        for (let i = 0; !loop && i < branch.stack.length; i++) loop = inChain(branch.stack[i]!, target);
        if (loop) {
          const verb = effect.goto ? "goto" : "jump";
          if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "loop", chain: effect.chain }, `${verb} ${effect.chain}: loop`);
          return this.finish(branch, "ERROR", undefined, `${verb} loop through ${effect.chain}`);
        }
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: effect.goto ? "goto" : "jump", chain: effect.chain }, `${effect.goto ? "goto" : "jump"} ${effect.chain}`);
        if (effect.goto) branch.frame = activate(target, 0, [...(frame.via ?? []), frame.chain]);
        else {
          // The branch's own frame becomes the caller's, to go on after the jump.
          frame.index++;
          branch.stack.push(frame);
          branch.frame = activate(target, 0, undefined);
        }
        branch.conditionIndex = 0;
        return true;
      }
      case "dnat":
      case "redirect": {
        const rewrite =
          effect.kind === "dnat"
            ? this.pickFromRange(branch, effect.pick, "destination", effect.randomPort, compiled, branch.flow.dst, branch.flow.dport)
            : this.redirectTarget(branch, effect.ports, effect.randomPort, compiled);
        const flow = branch.flow;
        const from = formatEndpoint(flow.dst.text, flow.dport, this.family);
        const to = formatEndpoint(rewrite.address.text, rewrite.port, this.family);
        if (from !== to) flow.dnat = { from: flow.dnat?.from ?? from, to, line: compiled.line };
        flow.dst = rewrite.address;
        flow.dport = rewrite.port;
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "nat", target: effect.kind === "dnat" ? "DNAT" : "REDIRECT", to }, `${effect.kind === "dnat" ? "DNAT" : "REDIRECT"} → ${to}`);
        return this.endTablePass(branch);
      }
      case "snat":
      case "masquerade": {
        const flow = branch.flow;
        let address: Address = flow.src;
        let port = flow.sport;
        let portRange: { from: number; to: number } | undefined;
        if (effect.kind === "snat") {
          // get_unique_tuple keeps a source already in the range (its port too, when the range gives ports).
          const kept = !effect.randomPort && this.inAddressRange(flow.src, effect.pick) && (effect.ports === undefined || inRange(port, effect.ports.from, effect.ports.to));
          if (!kept) address = this.pickFromRange(branch, effect.pick, "source", false, compiled, flow.src, flow.sport).address;
          portRange = effect.ports;
        } else {
          // IPv6 picks the source by RFC 6724, whose first rule prefers the destination itself when it is local;
          // but for ::1 (host scope) ipv6_dev_get_saddr looks only at the outgoing interface's addresses.
          const candidate = this.family === "ipv6" && flow.dst.words !== undefined && this.env.isLocal(flow.dst) && (!isLoopback(flow.dst) || flow.outInterface === "lo");
          address = candidate ? flow.dst : this.interfaceAddress(flow.outInterface);
          portRange = effect.ports;
        }
        // The kernel keeps the source port when it can, unless told to randomise or given a range
        // the port is not in; a single-port range is the port.
        let sportRandom = flow.sportRandom || effect.randomPort;
        if (portRange && port !== undefined && (port < portRange.from || port > portRange.to)) {
          if (portRange.from === portRange.to) port = portRange.from;
          else sportRandom = true;
        }
        const sportRange = sportRandom ? (portRange ?? (flow.sport === undefined ? flow.sportRange : ephemeralRange(flow.sport))) : undefined;
        if (sportRandom) port = undefined;
        const from = formatEndpoint(flow.src.text, flow.sport, this.family);
        const to = formatEndpoint(address.text, sportRandom ? "(random port)" : port, this.family);
        if (from !== to || effect.kind === "masquerade") flow.snat = { from, to, line: compiled.line };
        flow.src = address;
        flow.sport = port;
        flow.sportRandom = sportRandom;
        flow.sportRange = sportRange;
        if (effect.kind === "masquerade") flow.masquerade = true;
        const name = effect.kind === "snat" ? "SNAT" : "MASQUERADE";
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "nat", target: name, to }, `${name} → ${to}`);
        return this.endTablePass(branch);
      }
      case "mark": {
        const mark = ((branch.flow.mark & ~effect.mask) ^ effect.value) >>> 0;
        branch.flow.mark = mark;
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "mark", target: "MARK", mark, ctmark: branch.flow.ctmark }, `MARK → mark ${hex(mark)}`);
        return this.nextRule(branch, frame);
      }
      case "connmark-set":
      case "connmark-save":
      case "connmark-restore": {
        const { mark, ctmark } = branch.flow;
        if (branch.flow.conntrack === "none") {
          if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "continue", target: "CONNMARK" }, "CONNMARK (no connection yet: no effect)");
          return this.nextRule(branch, frame);
        }
        let newMark = mark;
        let newCtmark = ctmark;
        if (effect.kind === "connmark-set") newCtmark = ((ctmark & ~effect.mask) ^ effect.value) >>> 0;
        else if (effect.kind === "connmark-save") newCtmark = ((ctmark & ~effect.ctmask) ^ (mark & effect.nfmask)) >>> 0;
        else newMark = ((mark & ~effect.nfmask) ^ (ctmark & effect.ctmask)) >>> 0;
        branch.flow.mark = newMark;
        branch.flow.ctmark = newCtmark;
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "mark", target: "CONNMARK", mark: newMark, ctmark: newCtmark }, `CONNMARK → mark ${hex(newMark)}, ctmark ${hex(newCtmark)}`);
        return this.nextRule(branch, frame);
      }
      case "untrack":
        // A looped-back packet already carries its entry, and NOTRACK leaves such a packet alone.
        if (frame.chain.table === "raw" && branch.flow.conntrack === "none") {
          branch.flow.ctState = "UNTRACKED";
          if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "untrack" }, "NOTRACK (connection untracked)");
        } else {
          if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "continue", target: "NOTRACK" }, "NOTRACK (already tracked: no effect)");
        }
        return this.nextRule(branch, frame);
      case "ttl": {
        const ttl = branch.flow.ttl;
        const value = ttl === undefined && effect.op !== "set" ? undefined : effect.op === "set" ? effect.value : effect.op === "dec" ? Math.max(0, ttl! - effect.value) : Math.min(255, ttl! + effect.value);
        branch.flow.ttl = value;
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "continue", target: "TTL" }, `TTL ${effect.op} ${effect.value}`);
        return this.nextRule(branch, frame);
      }
      case "continue":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "continue", target: effect.target }, `${effect.target} (continue)`);
        return this.nextRule(branch, frame);
      case "unknown":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "continue", target: effect.target }, `${effect.target} (not modelled; continue)`);
        branch.assumptions = [...branch.assumptions, { ...uncertainty("unknown-target", effect.target, compiled.line), assumed: true }];
        return this.nextRule(branch, frame);
      case "tproxy":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "continue", target: "TPROXY" }, "TPROXY (to a local socket)");
        branch.assumptions = [...branch.assumptions, { ...uncertainty("unknown-target", "TPROXY", compiled.line), assumed: true }];
        return this.finish(branch, "ACCEPT", "local");
      case "none":
        if (this.recordPaths) this.step(branch, frame.chain, position, { kind: "no-target" }, "no target (counted; continue)");
        return this.nextRule(branch, frame);
    }
  }

  private nextRule(branch: Branch, frame: Frame): true {
    frame.index++;
    branch.conditionIndex = 0;
    return true;
  }

  /** The address NAT picks from its range (where it names none, the packet's own) and the port destination NAT gives. */
  private pickFromRange(
    branch: Branch,
    pick: NatPick,
    rewrites: "source" | "destination",
    randomPort: boolean,
    compiled: CompiledRule,
    address: Address,
    port: number | undefined,
  ): { address: Address; port: number | undefined } {
    return { address: this.rangeAddress(branch, pick, compiled, rewrites) ?? address, port: this.destinationPort(branch, pick.ports, randomPort, compiled, port) };
  }

  /** One address of several is picked by a hash of the connection's current addresses; unknown ones leave the first, assumed. */
  private rangeAddress(branch: Branch, pick: NatPick, compiled: CompiledRule, rewrites: "source" | "destination"): Address | undefined {
    if (!pick.several) return pick.address;
    const { src, dst } = branch.flow;
    const { address: first, last } = pick;
    if (first?.words !== undefined && last?.words !== undefined && src.words !== undefined && dst.words !== undefined) {
      return natRangeAddress(src, dst, first, last, pick.persistent, rewrites);
    }
    this.assumeNatRange(branch, compiled);
    return first;
  }

  private inAddressRange(address: Address, pick: NatPick): boolean {
    const { address: first, last } = pick;
    if (address.words === undefined || first?.words === undefined || last?.words === undefined) return false;
    return compareWords(address.words, first.words) >= 0 && compareWords(address.words, last.words) <= 0;
  }

  /**
   * get_unique_tuple keeps a destination port that is in the range; nf_nat_l4proto_unique_tuple gives any other
   * the range's first port, or with --random a random one, which the walk cannot know.
   */
  private destinationPort(branch: Branch, ports: { from: number; to: number } | undefined, randomPort: boolean, compiled: CompiledRule, port: number | undefined): number | undefined {
    if (!ports) return port;
    if (randomPort && ports.from !== ports.to) {
      this.assumeNatRange(branch, compiled);
      return ports.from;
    }
    return inRange(port, ports.from, ports.to) ? port : ports.from;
  }

  private assumeNatRange(branch: Branch, compiled: CompiledRule): void {
    if (branch.assumptions.some((a) => a.kind === "nat-range" && a.line === compiled.line)) return;
    branch.assumptions = [...branch.assumptions, { ...uncertainty("nat-range", compiled.rule.text.split(" --to")[1]?.trim() ?? "the range", compiled.line), assumed: true }];
  }

  private redirectTarget(branch: Branch, ports: { from: number; to: number } | undefined, randomPort: boolean, compiled: CompiledRule): { address: Address; port: number | undefined } {
    const flow = branch.flow;
    const address: Address =
      branch.hook === "OUTPUT" ? this.address(this.family === "ipv4" ? "127.0.0.1" : "::1") : this.interfaceAddress(flow.inInterface);
    return { address, port: this.destinationPort(branch, ports, randomPort, compiled, flow.dport) };
  }

  /**
   * The node's address on an interface, or a stand-in that is known to be local. Out of `lo` the
   * kernel takes the first address of the first interface that has one; iptscope takes the first
   * node address it was given.
   */
  private interfaceAddress(iface: string | null | undefined): Address {
    const addresses = this.derived.interfaceAddresses[this.family];
    let address = addresses.get(iface);
    if (!address) {
      const known =
        iface === "lo"
          ? this.context.nodeAddresses.find((a) => parseIp(a.address, this.family) && !isLoopback(parseIp(a.address, this.family)!))
          : this.context.nodeAddresses.find((a) => a.interface !== undefined && a.interface === iface);
      const ip = known ? parseIp(known.address, this.family) : undefined;
      address = ip ?? { family: this.family, text: `(address of ${iface ?? "the outgoing interface"})`, words: undefined, local: true };
      addresses.set(iface, address);
    }
    return address;
  }

  /** RETURN or the end of a user chain: back to the caller, or the policy when there is none. */
  private leaveChain(branch: Branch): boolean {
    const caller = branch.stack.pop();
    if (!caller) return this.applyPolicy(branch);
    // A copy: branches split inside the callee share the caller's frame, and the walk moves its index.
    branch.frame = activate(caller.chain, caller.index, caller.via);
    branch.conditionIndex = 0;
    return true;
  }

  private endOfChain(branch: Branch): boolean {
    const frame = branch.frame!;
    if (frame.chain.chain.builtin && branch.stack.length === 0) return this.applyPolicy(branch);
    if (this.recordPaths) {
      const caller = branch.stack[branch.stack.length - 1];
      this.step(branch, frame.chain, 0, { kind: "end-of-chain" }, caller ? `end of chain → back to ${caller.chain.chain.name}` : "end of chain");
    }
    return this.leaveChain(branch);
  }

  private applyPolicy(branch: Branch): boolean {
    const base = branch.base!;
    const policy = base.chain.policy === "DROP" ? "DROP" : "ACCEPT";
    // An empty chain that accepts says nothing worth a line of the path.
    if (this.recordPaths && (policy === "DROP" || base.chain.rules.length > 0)) this.step(branch, base, 0, { kind: "policy", policy }, `policy ${policy}`);
    return policy === "DROP" ? this.finish(branch, "DROP") : this.endTablePass(branch);
  }

  private endTablePass(branch: Branch): boolean {
    const table = HOOK_TABLES[branch.hook][branch.tableIndex];
    if (table === "nat") {
      const dnatHook = branch.hook === "PREROUTING" || branch.hook === "OUTPUT";
      if (dnatHook) branch.dnatDone = true;
      else branch.snatDone = true;
    }
    branch.tableIndex++;
    branch.frame = undefined;
    branch.base = undefined;
    if (branch.stack.length > 0) branch.stack = [];
    branch.conditionIndex = 0;
    return true;
  }

  /** Routing between hooks; false when the packet has left netfilter (the branch is finished). */
  private nextHook(branch: Branch): boolean {
    const flow = branch.flow;
    const local = this.env.isLocal(flow.dst);
    switch (branch.hook) {
      case "PREROUTING":
        if (local && !branch.loopback && flow.dst.words !== undefined && isLoopback(flow.dst)) return this.loopbackFromOutside(branch);
        if (local) {
          flow.outInterface = null;
          return enterHook(branch, "INPUT");
        }
        flow.outInterface = this.route(flow.dst, local);
        return this.forward(branch);
      case "INPUT":
        return this.finish(branch, "ACCEPT", "local");
      case "FORWARD":
        return enterHook(branch, "POSTROUTING");
      case "OUTPUT":
        // Rerouted after OUTPUT: a DNAT there may have changed the destination.
        flow.outInterface = this.route(flow.dst, local);
        return enterHook(branch, "POSTROUTING");
      case "POSTROUTING":
        if (this.context.origin === "node" && local && !branch.loopback) {
          branch.loopback = true;
          // The looped-back packet keeps its conntrack entry, confirmed on the way out.
          flow.inInterface = "lo";
          flow.outInterface = null;
          if (flow.conntrack !== "none") flow.conntrack = "confirmed";
          return enterHook(branch, "PREROUTING");
        }
        return this.finish(branch, "ACCEPT", branch.loopback ? "local" : this.context.origin === "node" ? "output" : "forward");
    }
  }

  /**
   * Routing of a packet that came in on another interface, bound for a loopback address (after a DNAT, say).
   * IPv4 drops it as a martian unless the interface has route_localnet, a sysctl no dump shows. IPv6 looks a
   * loopback destination up strictly (rt6_need_strict): only routes through the incoming interface count, so
   * a route back out of it (a default route, say) forwards the packet and no such route refuses it with
   * ICMPv6 "no route". false: the branch has ended.
   */
  private loopbackFromOutside(branch: Branch): boolean {
    const flow = branch.flow;
    const incoming = flow.inInterface;
    const iface = typeof incoming === "string" ? incoming : "the incoming interface";
    const fork = (question: Uncertainty, ends: (other: Branch) => void) => {
      const other = new Branch(branch);
      other.probability = branch.probability / 2;
      other.assumptions = [...branch.assumptions, { ...question, assumed: false }];
      ends(other);
      branch.probability /= 2;
      branch.assumptions = [...branch.assumptions, { ...question, assumed: true }];
    };
    if (this.family === "ipv4") {
      fork(uncertainty("route-localnet", iface, 0), (other) => this.finish(other, "DROP", undefined, `routing: martian destination ${flow.dst.text} from ${iface}`));
      flow.outInterface = null;
      return enterHook(branch, "INPUT");
    }
    const refuse = (other: Branch) => this.finish(other, "REJECT", undefined, `routing: no route to ${flow.dst.text} through ${iface} (ICMPv6 no route)`);
    const routes = flow.dst.words === undefined ? [] : this.routes.filter((r) => inNet(flow.dst.words!, r.net));
    const back = typeof incoming === "string" ? routes.find((r) => r.iface === incoming) : routes[0];
    if (!back) return refuse(branch);
    if (typeof incoming !== "string") {
      fork(uncertainty("in-interface-unknown", back.iface, 0), refuse);
      flow.inKnowledge = { matches: [...flow.inKnowledge.matches, back.iface], notMatches: flow.inKnowledge.notMatches };
    }
    flow.outInterface = back.iface;
    return this.forward(branch);
  }

  /**
   * ip_forward and ip6_forward take one off the TTL (hop limit) before the FORWARD hook, and a packet that has
   * no hop left is answered with ICMP time exceeded and goes no further. false: the branch has ended.
   */
  private forward(branch: Branch): boolean {
    const flow = branch.flow;
    if (flow.ttl !== undefined) {
      if (flow.ttl <= 1) return this.finish(branch, "REJECT", undefined, `routing: TTL ${flow.ttl} cannot be forwarded (ICMP time exceeded)`);
      flow.ttl--;
    }
    return enterHook(branch, "FORWARD");
  }

  private finish(branch: Branch, verdict: Verdict, delivery?: Delivery, error?: string, extra: Assumption[] = []): false {
    const flow = branch.flow;
    const path: PathStep[] = [];
    if (this.recordPaths) {
      for (let node = branch.path; node; node = node.previous) path.push(node.step);
      path.reverse();
    }
    const { probability, conditional: conditionalProbability } = branch;
    const packet = this.view(flow);
    const { masquerade, mark, ctmark } = flow;
    const uncertain = extra.length === 0 ? branch.assumptions.slice() : [...branch.assumptions, ...extra];
    // Two literals rather than a spread of an optional delivery: a literal of a fixed shape is much quicker to make.
    const outcome: Outcome = delivery
      ? { probability, conditionalProbability, verdict, delivery, packet, masquerade, mark, ctmark, path, merged: 1, uncertain }
      : { probability, conditionalProbability, verdict, packet, masquerade, mark, ctmark, path, merged: 1, uncertain };
    if (flow.snat) outcome.snat = flow.snat;
    if (flow.dnat) outcome.dnat = flow.dnat;
    if (typeof flow.outInterface === "string" && delivery !== "local") outcome.outInterface = flow.outInterface;
    if (error) outcome.error = error;
    this.outcomes.push(outcome);
    return false;
  }

  /** Ends `branch` and every branch still pending as one ERROR outcome carrying their probability together. */
  private abandonPending(branch: Branch, error: string): void {
    for (const other of this.pending) {
      branch.probability += other.probability;
      branch.conditional = Math.max(branch.conditional, other.conditional);
    }
    this.pending.length = 0;
    this.finish(branch, "ERROR", undefined, error);
  }

  private view(flow: Flow): PacketView {
    const view: PacketView = { src: flow.src.text, dst: flow.dst.text, proto: protocolName(flow.protocol) };
    if (flow.sport !== undefined) view.sport = flow.sport;
    if (flow.sportRandom) view.sportRandom = true;
    if (flow.dport !== undefined) view.dport = flow.dport;
    return view;
  }

  private result(): TraceResult {
    const { context, packet } = this;
    const first = this.initial;
    const packetView: TraceResult["packet"] = this.view(first);
    if (packet.icmpType !== undefined) packetView.icmpType = packet.icmpType;
    if (packet.icmpCode !== undefined) packetView.icmpCode = packet.icmpCode;
    return {
      schemaVersion: 1,
      kind: "iptscope.trace",
      family: this.family,
      packet: packetView,
      context: {
        origin: context.origin,
        state: context.state,
        ...(context.inInterface !== undefined ? { inInterface: context.inInterface } : {}),
        ...(context.outInterface !== undefined ? { outInterface: context.outInterface } : {}),
        nodeAddresses: context.nodeAddresses,
        routes: context.routes,
        mark: context.mark,
        ctmark: context.ctmark,
        assumeNoAffinity: context.assumeNoAffinity,
        assumptions: this.assumptionsInWords(),
      },
      outcomes: this.merge ? mergeOutcomes(this.outcomes) : this.outcomes,
    };
  }

  private assumptionsInWords(): string[] {
    this.derived.assumptions ??= this.describeAssumptions();
    return [...this.derived.assumptions];
  }

  private describeAssumptions(): string[] {
    const { context } = this;
    const words = [
      "packets are routed, not bridged (physdev matches see no bridge port)",
      context.nodeAddresses.length === 0
        ? "no node address is known: only loopback addresses count as local (pass --node-ip)"
        : `local addresses: loopback and ${context.nodeAddresses.map((a) => a.address).join(", ")}; any other address is not local`,
    ];
    if (context.origin === "external" && context.inInterface === undefined) {
      words.push(`a packet from outside arrives on none of the container interfaces (${CONTAINER_INTERFACES.join(" ")}); pass --in to say which it is`);
    }
    if (context.state === "new") words.push("the packet is the first of a new connection (conntrack NEW), so the nat table is consulted");
    else words.push(`the connection is ${context.state}: the nat table is not consulted and earlier NAT bindings are not known`);
    return words;
  }
}

// ---------------------------------------------------------------------------------------
// Merging

/** What makes two outcomes the same, but for their assumptions. */
function outcomeKey(o: Outcome): string {
  const p = o.packet;
  // join gives one flat string, quicker to hash than the tree of parts a concatenation builds.
  return [o.verdict, o.delivery, p.src, p.sport, p.dst, p.dport, p.proto, o.masquerade, o.snat?.to, o.dnat?.to, o.outInterface, o.error].join("\u0001");
}

/** An outcome with its key, made once. */
interface Keyed {
  outcome: Outcome;
  key: string;
}

/** Up to this many outcomes, equal keys are found by comparing them: quicker than hashing a key used once. */
const SCANNED_OUTCOMES = 8;

function assumptionKey(a: Assumption): string {
  return `${a.kind}\u0000${a.subject}\u0000${a.line}`;
}

function combine(into: Outcome, from: Outcome, uncertain: Assumption[], keep: Outcome = from.probability > into.probability ? from : into): Outcome {
  return {
    ...keep,
    probability: into.probability + from.probability,
    conditionalProbability: into.conditionalProbability + from.conditionalProbability,
    merged: into.merged + from.merged,
    uncertain,
  };
}

/**
 * Equal outcomes under the same assumptions add up. Then two outcomes that differ only in one
 * assumption taken both ways do not depend on it: they merge and the assumption is dropped.
 */
export function mergeOutcomes(outcomes: readonly Outcome[]): Outcome[] {
  if (outcomes.length <= 1) return [...outcomes];
  let current: Keyed[] = [];
  const fullKeys: string[] = [];
  const byKey = outcomes.length > SCANNED_OUTCOMES ? new Map<string, number>() : undefined;
  const assuming = outcomes.some((o) => o.uncertain.length > 0);
  for (const o of outcomes) {
    const key = outcomeKey(o);
    // Without any assumption, the key alone tells equal outcomes.
    const fullKey = assuming ? key + "\u0002" + o.uncertain.map((a) => assumptionKey(a) + a.assumed).sort().join("|") : key;
    const at = byKey ? (byKey.get(fullKey) ?? -1) : fullKeys.indexOf(fullKey);
    if (at >= 0) current[at]!.outcome = combine(current[at]!.outcome, o, current[at]!.outcome.uncertain);
    else {
      byKey?.set(fullKey, current.length);
      fullKeys.push(fullKey);
      current.push({ outcome: o, key });
    }
  }
  // Without assumptions there is nothing to drop (the common case: kube-proxy's rules ask nothing undecidable).
  for (let changed = assuming; changed; ) {
    changed = false;
    const index = new Map<string, number>();
    const next: (Keyed | undefined)[] = [...current];
    for (let i = 0; i < current.length && !changed; i++) {
      const { outcome: o, key: outcomeKeyOfO } = current[i]!;
      for (let j = 0; j < o.uncertain.length; j++) {
        const rest = o.uncertain.filter((_, k) => k !== j);
        const a = o.uncertain[j]!;
        const key = `${outcomeKeyOfO}\u0002${assumptionKey(a)}\u0002${rest.map((r) => assumptionKey(r) + r.assumed).sort().join("|")}`;
        const partner = index.get(key);
        const other = partner === undefined ? undefined : next[partner]?.outcome;
        // Only an assumption that changes neither the outcome nor its share may be dropped.
        const same = other !== undefined && Math.abs(other.conditionalProbability - o.conditionalProbability) < 1e-12;
        if (same && other.uncertain.find((u) => assumptionKey(u) === assumptionKey(a))?.assumed !== a.assumed) {
          // The path shown is the one where the dropped question was answered "no": the usual case.
          const merged = combine(other, o, rest, a.assumed ? other : o);
          // Both halves of an uncertain split with the same share: the share stands without the assumption.
          merged.conditionalProbability = o.conditionalProbability;
          next[partner!] = { outcome: merged, key: outcomeKeyOfO };
          next[i] = undefined;
          changed = true;
          break;
        }
        index.set(key, i);
      }
    }
    current = next.filter((k): k is Keyed => k !== undefined);
  }
  sortStably(current, (a, b) => b.outcome.probability - a.outcome.probability || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return current.map((k) => k.outcome);
}
