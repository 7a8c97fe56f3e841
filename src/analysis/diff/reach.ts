// Which packets the changes between two snapshots can reach, so that the services and traffic levels trace only
// those. A trace reads nothing but the chains it enters; when no rule that changed can match the packet in a
// chain it can enter, both snapshots give it the same outcomes, and tracing it twice would only confirm that.
//
// Everything here over-approximates. A packet may enter a chain when some path of jump rules from a built-in
// chain could match it; a rule could match it unless its protocol, destination or destination port rule it out
// (the fields kube-proxy tells its services apart by): sources, interfaces, marks and states count as "any".
// A packet is judged as sent and also with every destination a DNAT rule it may meet could give it.

import { addressToBigInt } from "../../model/addresses.js";
import { targetSpecs } from "../../model/extensions.js";
import { BUILTIN_CHAINS, type Chain, type PortRange, type Rule, type Ruleset, type TableName } from "../../model/types.js";
import { addTo, chainsByName, sameParts } from "./snapshots.js";
import { footprintOf, networksDisjoint, type Network } from "./footprint.js";
import type { RulesDiff } from "./types.js";

/** The packets a rule, or a path of jump rules, can match; an absent field matches anything. */
interface Reach {
  protocol?: number;
  destination?: Network;
  destinationPorts?: PortRange;
}

/** A packet as the changes see it: its destination and port may be unknown ("any") after a translation. */
interface Candidate {
  destination: Network | undefined;
  port: number | undefined;
}

/** What a destination-rewriting rule makes of a packet's destination and port. */
interface Translation {
  destination: Network | "same" | "any";
  port: number | "same" | "any";
}

interface DnatRegion {
  reach: Reach;
  translation: Translation;
}

export interface ProbePacket {
  dst: string;
  protocol: number;
  dport?: number;
}

const ANYTHING: Reach = {};
/** Distinct guards kept per chain; beyond it the chain counts as reachable by any packet. */
const GUARD_LIMIT = 32;
/** Rounds of "a translated destination meets another DNAT"; beyond them every packet may differ. */
const TRANSLATION_ROUNDS = 4;
const CANDIDATE_LIMIT = 64;
/** Rules of a called chain taken one by one for a changed jump into it; beyond, the jump counts as a whole. */
const CALLED_RULES_LIMIT = 256;
const REWRITING_TARGETS = new Set(["DNAT", "REDIRECT", "NETMAP", "TPROXY"]);

const chainKey = (table: TableName, chain: string) => `${table} ${chain}`;

function isAnything(reach: Reach): boolean {
  return reach.protocol === undefined && reach.destination === undefined && reach.destinationPorts === undefined;
}

function reachKey(reach: Reach): string {
  const destination = reach.destination ? `${reach.destination.address.toString(16)}/${reach.destination.mask.toString(16)}` : "";
  const ports = reach.destinationPorts ? `${reach.destinationPorts.from}-${reach.destinationPorts.to}` : "";
  return `${reach.protocol ?? ""}|${destination}|${ports}`;
}

/** The packets both match; undefined when none. */
function intersect(a: Reach, b: Reach): Reach | undefined {
  if (a.protocol !== undefined && b.protocol !== undefined && a.protocol !== b.protocol) return undefined;
  if (networksDisjoint(a.destination, b.destination)) return undefined;
  const result: Reach = {};
  const protocol = a.protocol ?? b.protocol;
  if (protocol !== undefined) result.protocol = protocol;
  if (a.destination && b.destination) {
    // Networks that share an address share exactly those agreeing with both: the union of the masks.
    const mask = a.destination.mask | b.destination.mask;
    result.destination = { address: (a.destination.address | b.destination.address) & mask, mask, host: a.destination.host || b.destination.host };
  } else if (a.destination ?? b.destination) {
    result.destination = a.destination ?? b.destination;
  }
  if (a.destinationPorts && b.destinationPorts) {
    const from = Math.max(a.destinationPorts.from, b.destinationPorts.from);
    const to = Math.min(a.destinationPorts.to, b.destinationPorts.to);
    if (from > to) return undefined;
    result.destinationPorts = { from, to };
  } else if (a.destinationPorts ?? b.destinationPorts) {
    result.destinationPorts = a.destinationPorts ?? b.destinationPorts;
  }
  return result;
}

function hits(reach: Reach, protocol: number | undefined, candidate: Candidate): boolean {
  if (reach.protocol !== undefined && protocol !== undefined && reach.protocol !== protocol) return false;
  if (networksDisjoint(reach.destination, candidate.destination)) return false;
  const ports = reach.destinationPorts;
  return !ports || candidate.port === undefined || (candidate.port >= ports.from && candidate.port <= ports.to);
}

const ANY_REGION = () => true;

/**
 * Regions by destination host, and the others by destination port: a packet to one address and port looks at the
 * regions of its own host and port, and at those that pin neither (the others cannot hold it).
 */
class RegionIndex<T extends { reach: Reach }> {
  private readonly byHost = new Map<bigint, T[]>();
  private readonly byPort = new Map<number, T[]>();
  private readonly generic: T[] = [];
  size = 0;

  add(region: T): void {
    this.size++;
    const { destination, destinationPorts: ports } = region.reach;
    if (destination?.host) addTo(this.byHost, destination.address, region);
    else if (ports && ports.from === ports.to) addTo(this.byPort, ports.from, region);
    else this.generic.push(region);
  }

  /** Calls `visit` with each region the candidate hits, until it returns true; true if one did. */
  some(protocol: number | undefined, candidate: Candidate, visit: (region: T) => boolean = ANY_REGION): boolean {
    const host = candidate.destination?.host ? candidate.destination.address : undefined;
    if (host !== undefined ? this.scan(this.byHost.get(host), protocol, candidate, visit) : this.scanAll(this.byHost, protocol, candidate, visit)) return true;
    if (candidate.port !== undefined ? this.scan(this.byPort.get(candidate.port), protocol, candidate, visit) : this.scanAll(this.byPort, protocol, candidate, visit)) return true;
    return this.scan(this.generic, protocol, candidate, visit);
  }

  private scan(list: readonly T[] | undefined, protocol: number | undefined, candidate: Candidate, visit: (region: T) => boolean): boolean {
    if (list === undefined) return false;
    for (let i = 0; i < list.length; i++) if (hits(list[i]!.reach, protocol, candidate) && visit(list[i]!)) return true;
    return false;
  }

  private scanAll(lists: ReadonlyMap<unknown, T[]>, protocol: number | undefined, candidate: Candidate, visit: (region: T) => boolean): boolean {
    for (const list of lists.values()) if (this.scan(list, protocol, candidate, visit)) return true;
    return false;
  }
}

const ANY_TRANSLATION: Translation = { destination: "any", port: "any" };
const UNKNOWN: Candidate = { destination: undefined, port: undefined };

/** A rule that may rewrite a packet's destination, with one of the rewritings it may make. */
interface Rewriting {
  rule: Rule;
  /** The protocol it matches (undefined: any). */
  protocol: number | undefined;
  translation: Translation;
}

/** What a destination-rewriting rule may make of a packet's destination. */
function translationsOf(rule: Rule, hostMask: bigint): Translation[] {
  const target = rule.target!;
  // REDIRECT, NETMAP, TPROXY and targets iptscope does not know may send the packet anywhere.
  if (target.name !== "DNAT") return [ANY_TRANSLATION];
  const translations: Translation[] = [];
  for (const option of target.options) {
    if (option.name !== "to-destination" || option.value.kind !== "nat-range") continue;
    const range = option.value.range;
    const address = range.fromAddress === undefined ? undefined : addressToBigInt(range.fromAddress);
    const oneAddress = range.toAddress === undefined || range.toAddress === range.fromAddress;
    translations.push({
      destination: range.fromAddress === undefined ? "same" : address === undefined || !oneAddress ? "any" : { address, mask: hostMask, host: true },
      port: range.fromPort === undefined ? "same" : range.toPort === undefined || range.toPort === range.fromPort ? range.fromPort : "any",
    });
  }
  return translations.length > 0 ? translations : [ANY_TRANSLATION];
}

function translate(translation: Translation, candidate: Candidate): Candidate {
  const { destination, port } = translation;
  return {
    destination: destination === "same" ? candidate.destination : destination === "any" ? undefined : destination,
    port: port === "same" ? candidate.port : port === "any" ? undefined : port,
  };
}

function candidateKey(candidate: Candidate): string {
  return `${candidate.destination ? `${candidate.destination.address.toString(16)}/${candidate.destination.mask.toString(16)}` : "*"}:${candidate.port ?? "*"}`;
}

type ChainsByTable = Map<TableName, ReadonlyMap<string, Chain>>;

/** A user chain has the name of a target extension: a jump by that name is parsed by what is declared before it. */
function namesTargetExtension(chains: ReadonlyMap<string, Chain>): boolean {
  for (const name of targetSpecs.keys()) if (chains.get(name)?.builtin === false) return true;
  return false;
}

export class ChangeReach {
  /** The jump and goto rules into each chain, from both snapshots. */
  private readonly parents = new Map<TableName, Map<string, Rule[]>>();
  /** Rules of both snapshots that may rewrite a packet's destination. */
  private readonly rewriting: Rule[] = [];
  private readonly chains: { old: ChainsByTable; new: ChainsByTable };
  private readonly guardMemo = new Map<string, Reach[]>();
  private readonly ruleReach = new Map<Rule, Reach>();
  private readonly changed = new RegionIndex<{ reach: Reach }>();
  private readonly translations = new RegionIndex<DnatRegion>();
  /** The translations could not be followed to the end: every packet may differ. */
  private unbounded = false;
  private readonly hostMask: bigint;

  /** `differing`: by table, NEW's chains not written alike in OLD (see RulesCorrespondence). */
  constructor(oldRuleset: Ruleset, newRuleset: Ruleset, rules: RulesDiff, differing: ReadonlyMap<TableName, ReadonlySet<string>>) {
    this.hostMask = oldRuleset.family === "ipv4" ? 0xffffffffn : (1n << 128n) - 1n;
    const old = this.index(oldRuleset);
    this.chains = { old, new: this.index(newRuleset, { chains: old, differing }) };
    this.collectChanges(rules);
    if (this.changed.size > 0) this.collectTranslations();
  }

  /**
   * One pass over a snapshot: its chains by name, and its jumps and rewriting rules into the shared lists. What a
   * later snapshot has as the earlier had it leads the same packets to the same places, and is left out: its chains
   * written alike (unless a user chain named like a target extension makes a jump's kind depend on the chains
   * declared), and its rules made of the earlier rule's very parts (NEW parsed reusing OLD).
   */
  private index(ruleset: Ruleset, earlier?: { chains: ChainsByTable; differing: ReadonlyMap<TableName, ReadonlySet<string>> }): ChainsByTable {
    const byTable: ChainsByTable = new Map();
    for (let t = 0; t < ruleset.tables.length; t++) {
      const table = ruleset.tables[t]!;
      byTable.set(table.name, chainsByName(table));
      let parents = this.parents.get(table.name);
      if (!parents) this.parents.set(table.name, (parents = new Map()));
      const earlierChains = earlier?.chains.get(table.name);
      const differing = earlier?.differing.get(table.name);
      const alikeKnown = earlierChains !== undefined && !namesTargetExtension(earlierChains) && !namesTargetExtension(chainsByName(table));
      for (let c = 0; c < table.chains.length; c++) {
        const chain = table.chains[c]!;
        if (alikeKnown && !differing?.has(chain.name)) continue;
        const earlierRules = earlierChains?.get(chain.name)?.rules;
        const rules = chain.rules;
        for (let i = 0; i < rules.length; i++) {
          const rule = rules[i]!;
          const target = rule.target;
          const leads = target?.kind === "chain" || (target?.kind === "extension" && (!target.known || REWRITING_TARGETS.has(target.name)));
          if (!leads) continue;
          const earlierRule = earlierRules?.[i];
          if (earlierRule !== undefined && sameParts(rule, earlierRule)) continue;
          if (target.kind === "chain") addTo(parents, target.name, rule);
          else this.rewriting.push(rule);
        }
      }
    }
    return byTable;
  }

  /** False when the packet is sure to fare alike in both snapshots, from any client. */
  mayDiffer(packet: ProbePacket): boolean {
    if (this.changed.size === 0) return false;
    if (this.unbounded) return true;
    const address = addressToBigInt(packet.dst);
    const first: Candidate = { destination: address === undefined ? undefined : { address, mask: this.hostMask, host: true }, port: packet.dport };
    if (this.changed.some(packet.protocol, first)) return true;
    if (!this.translations.some(packet.protocol, first)) return false;
    const candidates = [first];
    const seen = new Set([candidateKey(first)]);
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      if (this.changed.some(packet.protocol, candidate)) return true;
      const overflow = this.translations.some(packet.protocol, candidate, (region) => {
        const next = translate(region.translation, candidate);
        const key = candidateKey(next);
        if (seen.has(key)) return false;
        if (candidates.length >= CANDIDATE_LIMIT) return true;
        seen.add(key);
        candidates.push(next);
        return false;
      });
      if (overflow) return true;
    }
    return false;
  }

  private reachOf(rule: Rule): Reach {
    let reach = this.ruleReach.get(rule);
    if (!reach) {
      const footprint = footprintOf(rule);
      reach = {};
      if (footprint.protocol !== undefined) reach.protocol = footprint.protocol;
      if (footprint.destination) reach.destination = footprint.destination;
      if (footprint.destinationPorts) reach.destinationPorts = footprint.destinationPorts;
      this.ruleReach.set(rule, reach);
    }
    return reach;
  }

  /** The packets that may enter a chain, as a union of reaches (one per path of jumps, merged when equal). */
  private guards(table: TableName, chain: string, visiting = new Set<string>()): Reach[] {
    const key = chainKey(table, chain);
    const known = this.guardMemo.get(key);
    if (known) return known;
    if ((BUILTIN_CHAINS[table] as readonly string[]).includes(chain)) return [ANYTHING];
    // A jump loop: the chain is entered however its callers are (the tracer stops such walks; this stays safe).
    if (visiting.has(key)) return [ANYTHING];
    visiting.add(key);
    const found = new Map<string, Reach>();
    let result: Reach[] | undefined;
    for (const rule of this.parents.get(table)?.get(chain) ?? []) {
      for (const guard of this.guards(rule.table, rule.chain, visiting)) {
        const reach = intersect(guard, this.reachOf(rule));
        if (!reach) continue;
        if (isAnything(reach)) result = [ANYTHING];
        else found.set(reachKey(reach), reach);
        if (found.size > GUARD_LIMIT) result = [ANYTHING];
        if (result) break;
      }
      if (result) break;
    }
    visiting.delete(key);
    result ??= [...found.values()];
    this.guardMemo.set(key, result);
    return result;
  }

  /** The packets a rule that was added, removed or moved can treat differently, wherever it stands. */
  private effectOf(table: TableName, rule: Rule | undefined): Reach[] {
    if (!rule) return [ANYTHING];
    const reach = this.reachOf(rule);
    const target = rule.target;
    // A jump (not a goto) to a chain changes only what a rule of that chain matches: the others return.
    if (target?.kind !== "chain" || target.goto) return [reach];
    const chains = [this.chains.old, this.chains.new].map((chains) => chains.get(table)?.get(target.name)).filter((c): c is Chain => c !== undefined);
    const called = chains.flatMap((chain) => chain.rules);
    // A jump to a chain neither snapshot has is the tracer's to judge: take the rule as a whole.
    if (chains.length === 0 || called.length > CALLED_RULES_LIMIT) return [reach];
    return called.map((r) => intersect(reach, this.reachOf(r))).filter((r): r is Reach => r !== undefined);
  }

  private addChanged(table: TableName, chain: string, rule: Rule | undefined): void {
    const effects = this.effectOf(table, rule);
    if (effects.length === 0) return;
    for (const guard of this.guards(table, chain)) {
      for (const effect of effects) {
        const region = intersect(guard, effect);
        if (region) this.changed.add({ reach: region });
      }
    }
  }

  private collectChanges(rules: RulesDiff): void {
    const ruleAt = (chains: ChainsByTable, table: TableName, chain: string, position: number) => chains.get(table)?.get(chain)?.rules[position - 1];
    const { old: oldChains, new: newChains } = this.chains;
    for (const table of rules.tables) {
      for (const chain of table.chains) {
        switch (chain.kind) {
          // Only the jumps into a chain added or removed lead packets to it, and they changed too; there a packet
          // meets one of the chain's rules or returns as if it had not been there.
          case "added":
            for (const ref of chain.rules) this.addChanged(table.table, chain.chain, ruleAt(newChains, table.table, chain.chain, ref.position));
            break;
          case "removed":
            for (const ref of chain.rules) this.addChanged(table.table, chain.chain, ruleAt(oldChains, table.table, chain.chain, ref.position));
            break;
          case "changed":
            if (chain.policyChanged) {
              this.addChanged(table.table, chain.chain, undefined);
              break;
            }
            for (const change of chain.changes) {
              switch (change.kind) {
                case "added":
                  this.addChanged(table.table, chain.chain, ruleAt(newChains, table.table, chain.chain, change.new.position));
                  break;
                case "removed":
                case "moved":
                  this.addChanged(table.table, chain.chain, ruleAt(oldChains, table.table, chain.chain, change.old.position));
                  break;
                case "reordered":
                  break;
                default: {
                  const never: never = change;
                  throw new Error(`unhandled rule change ${JSON.stringify(never)}`);
                }
              }
            }
            break;
          default: {
            const never: never = chain;
            throw new Error(`unhandled chain diff ${JSON.stringify(never)}`);
          }
        }
      }
    }
  }

  /**
   * The destination-rewriting rules whose result may meet a change (directly, or through further rewriting
   * rules), with the packets that may reach them. Other rewriting rules cannot bring a packet to a change.
   */
  private collectTranslations(): void {
    let rest: Rewriting[] = [];
    for (let r = 0; r < this.rewriting.length; r++) {
      const rule = this.rewriting[r]!;
      const protocol = rule.protocol && !rule.protocol.negated ? rule.protocol.value.number || undefined : undefined;
      const translations = translationsOf(rule, this.hostMask);
      for (let t = 0; t < translations.length; t++) rest.push({ rule, protocol, translation: translations[t]! });
    }
    let frontier: Rewriting[] = [];
    // The rewriting rules whose result the index holds go to the frontier; the others wait for the next round.
    const split = (index: RegionIndex<{ reach: Reach }>) => {
      const next: Rewriting[] = [];
      frontier = [];
      for (let i = 0; i < rest.length; i++) (index.some(rest[i]!.protocol, translate(rest[i]!.translation, UNKNOWN)) ? frontier : next).push(rest[i]!);
      rest = next;
    };
    split(this.changed);
    for (let round = 0; frontier.length > 0; round++) {
      if (round === TRANSLATION_ROUNDS) {
        this.unbounded = true;
        return;
      }
      const added = new RegionIndex<DnatRegion>();
      for (const { rule, translation } of frontier) {
        for (const guard of this.guards(rule.table, rule.chain)) {
          const reach = intersect(guard, this.reachOf(rule));
          if (!reach) continue;
          this.translations.add({ reach, translation });
          added.add({ reach, translation });
        }
      }
      split(added);
    }
  }
}
