// The rules level of `diff`: tables, chains and rules of two rulesets, compared as the kernel holds them.
//
// Rules compare by their canonical text without counters (what iptables-nft-save prints after loading them),
// so spelling, option order, restore commands and the backend that saved the dump do not count. Tables and
// chains compare by name, so their order does not count either. Each chain present on both sides is aligned
// as a sequence (src/analysis/diff/sequence.ts); a rule deleted at one place and inserted at another is a
// move, and a move past rules that cannot match the same packets is a mere reordering. A user chain that only
// changed its name (same rules, every jump to it renamed too) is a rename, not a removal and an addition.

import type { CodecContext } from "../../model/codecs.js";
import { formatRule } from "../../model/print.js";
import { BUILTIN_CHAINS, TABLE_NAMES, type Chain, type ExtensionOption, type MatchModule, type Rule, type Ruleset, type Table, type TableName } from "../../model/types.js";
import { addTo, chainsByName, LineMap, sameParts, writtenText } from "./snapshots.js";
import { footprintOf, footprintsDisjoint, pointOf, shapeOf, type Footprint } from "./footprint.js";
import { alignSequences } from "./sequence.js";
import type { ChainDiff, ChainRef, RuleChange, RuleRef, RulesDiff, RulesDiffSummary, TableDiff } from "./types.js";

/** Pairs examined per chain when telling reorderings from moves; beyond it, moves stay moves (safe side). */
const REORDER_CHECK_BUDGET = 5_000_000;

interface Side {
  ruleset: Ruleset;
  context: CodecContext;
  /** Jumps to these chains print with the name given (OLD: the chains renamed in NEW, so that jumps compare alike). */
  renames?: ReadonlyMap<string, string>;
  printed: PrintedRules;
}

/** What the comparison found beyond the diff: which rules are in both snapshots in the same words, and where. */
export interface RulesCorrespondence {
  /** NEW's line of each OLD line of a rule in a chain written alike in both, and of each chain's declaration in both. */
  lines: LineMap;
  /**
   * By table, the chains not written alike in both: added, removed, renamed (both names), changed, and those whose
   * rules print alike but are written otherwise. Any other chain is in both, rule for rule in the same words.
   */
  differing: Map<TableName, Set<string>>;
}

/**
 * Canonical texts printed so far, by the rule's matches: a rule of the same chain made of the same parts prints
 * the same. Both sides share one when they print alike, so that NEW's rules taken from OLD are not printed again.
 */
class PrintedRules {
  private readonly byMatches = new Map<readonly MatchModule[], { rule: Rule; text: string }>();

  constructor(readonly context: CodecContext) {}

  text(rule: Rule): string {
    const known = this.byMatches.get(rule.matches);
    if (known !== undefined && known.rule.chain === rule.chain && sameParts(known.rule, rule)) return known.text;
    const text = formatRule(rule, this.context, false);
    this.byMatches.set(rule.matches, { rule, text });
    return text;
  }
}

export function diffRules(oldRuleset: Ruleset, newRuleset: Ruleset): RulesDiff {
  return compareRules(oldRuleset, newRuleset).diff;
}

/** The rules diff, and the correspondence of the rules it found alike (for the levels after it). */
export function compareRules(oldRuleset: Ruleset, newRuleset: Ruleset): { diff: RulesDiff; correspondence: RulesCorrespondence } {
  const correspondence: RulesCorrespondence = { lines: new LineMap(), differing: new Map() };
  // Both sides print as iptables-nft would, so a legacy dump and an nft dump of one ruleset print alike.
  const oldPrinted = new PrintedRules({ family: oldRuleset.family, backend: "nft" });
  const newPrinted = newRuleset.family === oldRuleset.family ? oldPrinted : new PrintedRules({ family: newRuleset.family, backend: "nft" });
  const old: Side = { ruleset: oldRuleset, context: oldPrinted.context, printed: oldPrinted };
  const now: Side = { ruleset: newRuleset, context: newPrinted.context, printed: newPrinted };
  const tables: TableDiff[] = [];
  for (const name of TABLE_NAMES) {
    const oldTable = oldRuleset.tables.find((t) => t.name === name);
    const newTable = newRuleset.tables.find((t) => t.name === name);
    if (!oldTable && !newTable) continue;
    const chains = diffTable(name, oldTable, newTable, old, now, correspondence);
    if (chains.length === 0) continue;
    tables.push({ table: name, presence: oldTable && newTable ? "both" : oldTable ? "old-only" : "new-only", chains });
    for (const chain of chains) {
      differingIn(correspondence, name).add(chain.chain);
      if (chain.kind === "changed" && chain.renamedTo !== undefined) differingIn(correspondence, name).add(chain.renamedTo);
    }
  }
  const summary = summarise(tables);
  const differs =
    summary.chainsAdded + summary.chainsRemoved + summary.chainsRenamed + summary.policiesChanged + summary.rulesAdded + summary.rulesRemoved + summary.rulesMoved > 0;
  return { diff: { differs, summary, tables }, correspondence };
}

function differingIn(correspondence: RulesCorrespondence, table: TableName): Set<string> {
  let chains = correspondence.differing.get(table);
  if (!chains) correspondence.differing.set(table, (chains = new Set()));
  return chains;
}

/** User chains of either table, each name once. */
function userChainNames(oldTable: Table | undefined, newTable: Table | undefined, oldChains: ReadonlyMap<string, Chain>): string[] {
  const names: string[] = [];
  const oldAll = oldTable?.chains ?? [];
  const newAll = newTable?.chains ?? [];
  for (let i = 0; i < oldAll.length; i++) if (!oldAll[i]!.builtin) names.push(oldAll[i]!.name);
  for (let i = 0; i < newAll.length; i++) if (!newAll[i]!.builtin && !oldChains.has(newAll[i]!.name)) names.push(newAll[i]!.name);
  return names;
}

/** strcmp order, as iptables-save lists user chains. */
function byteOrder(a: ChainDiff, b: ChainDiff): number {
  return Buffer.compare(Buffer.from(a.chain, "utf8"), Buffer.from(b.chain, "utf8"));
}

/** A built-in chain the dump does not show behaves as an empty chain with policy ACCEPT. */
function impliedBuiltin(name: string): Chain {
  return { name, builtin: true, policy: "ACCEPT", counters: { packets: "0", bytes: "0" }, line: 0, rules: [] };
}

/**
 * User chains of OLD that are in NEW under another name: the same rules (jumps to renamed chains read with their
 * new names) and as many jumps into them. A chain is paired only when its rules identify it on both sides.
 */
function findRenames(oldChains: ReadonlyMap<string, Chain>, newChains: ReadonlyMap<string, Chain>, old: Side, now: Side): Map<string, string> {
  const gone = [...oldChains.values()].filter((c) => !c.builtin && !newChains.has(c.name));
  const fresh = [...newChains.values()].filter((c) => !c.builtin && !oldChains.has(c.name));
  const renames = new Map<string, string>();
  if (gone.length === 0 || fresh.length === 0) return renames;
  // Jumps to unpaired chains are keyed without the name: their targets may be renamed themselves.
  const keyOf = (chain: Chain, side: Side) => chain.rules.map((r) => ruleBody(r, side)).join("\n");
  const unnamed = (chains: readonly Chain[], side: Side): Side => ({ ...side, renames: new Map(chains.map((c) => [c.name, "?"])) });
  const byKey = new Map<string, { old: Chain[]; new: Chain[] }>();
  const oldKeys = unnamed(gone, old);
  const newKeys = unnamed(fresh, now);
  for (const chain of gone) addCandidate(byKey, keyOf(chain, oldKeys), "old", chain);
  for (const chain of fresh) addCandidate(byKey, keyOf(chain, newKeys), "new", chain);
  const pairs: [Chain, Chain][] = [];
  for (const { old: [from, ...moreOld], new: [to, ...moreNew] } of byKey.values()) {
    if (from && to && moreOld.length === 0 && moreNew.length === 0) pairs.push([from, to]);
  }
  if (pairs.length === 0) return renames;
  // Counted only for the paired chains: a large table has tens of thousands of jump targets.
  const jumpsInto = (chains: ReadonlyMap<string, Chain>, counted: ReadonlySet<string>) => {
    const counts = new Map<string, number>();
    for (const chain of chains.values()) {
      for (const rule of chain.rules) {
        const target = rule.target;
        if (target?.kind === "chain" && counted.has(target.name)) counts.set(target.name, (counts.get(target.name) ?? 0) + 1);
      }
    }
    return counts;
  };
  const oldJumps = jumpsInto(oldChains, new Set(pairs.map(([from]) => from.name)));
  const newJumps = jumpsInto(newChains, new Set(pairs.map(([, to]) => to.name)));
  for (const [from, to] of pairs) if ((oldJumps.get(from.name) ?? 0) === (newJumps.get(to.name) ?? 0)) renames.set(from.name, to.name);
  // With every rename known, a pair stands only if its rules are equal once jumps use the new names.
  const renamedOld: Side = { ...old, renames };
  for (const [from, to] of [...renames]) {
    const oldRules = oldChains.get(from)!.rules;
    const newRules = newChains.get(to)!.rules;
    if (!oldRules.every((rule, i) => ruleBody(rule, renamedOld) === ruleBody(newRules[i]!, now))) renames.delete(from);
  }
  return renames;
}

function addCandidate(byKey: Map<string, { old: Chain[]; new: Chain[] }>, key: string, side: "old" | "new", chain: Chain): void {
  let candidates = byKey.get(key);
  if (!candidates) byKey.set(key, (candidates = { old: [], new: [] }));
  candidates[side].push(chain);
}

/** Built-in chains in hook order, then user chains in strcmp order, as iptables-save lists them. */
function diffTable(
  name: TableName, oldTable: Table | undefined, newTable: Table | undefined, plainOld: Side, now: Side, correspondence: RulesCorrespondence,
): ChainDiff[] {
  const oldChains = chainsByName(oldTable);
  const newChains = chainsByName(newTable);
  const renames = findRenames(oldChains, newChains, plainOld, now);
  const old: Side = renames.size > 0 ? { ...plainOld, renames } : plainOld;
  const renamedTo = new Set(renames.values());
  const diffOf = (chainName: string, builtin: boolean): ChainDiff | undefined => {
    const renamed = renames.get(chainName);
    if (renamed !== undefined) {
      const oldChain = oldChains.get(chainName)!;
      const newChain = newChains.get(renamed)!;
      return { kind: "changed", chain: chainName, renamedTo: renamed, old: chainRef(oldChain), new: chainRef(newChain), policyChanged: false, changes: [] };
    }
    const oldChain = oldChains.get(chainName) ?? (builtin ? impliedBuiltin(chainName) : undefined);
    const newChain = newChains.get(chainName) ?? (builtin ? impliedBuiltin(chainName) : undefined);
    if (oldChain && newChain) return diffChain(name, oldChain, newChain, old, now, correspondence);
    if (newChain) return { kind: "added", chain: chainName, new: chainRef(newChain), rules: newChain.rules.map((r) => ruleRef(r, now)) };
    if (oldChain) return { kind: "removed", chain: chainName, old: chainRef(oldChain), rules: oldChain.rules.map((r) => ruleRef(r, old)) };
    return undefined;
  };
  const builtinDiffs: ChainDiff[] = [];
  for (const chainName of BUILTIN_CHAINS[name]) {
    const diff = diffOf(chainName, true);
    if (diff) builtinDiffs.push(diff);
  }
  // Most chains have no difference: only those that do are put in order.
  const userDiffs: ChainDiff[] = [];
  const names = userChainNames(oldTable, newTable, oldChains);
  for (let i = 0; i < names.length; i++) {
    const chainName = names[i]!;
    if (renamedTo.has(chainName)) continue;
    const diff = diffOf(chainName, false);
    if (diff) userDiffs.push(diff);
  }
  return [...builtinDiffs, ...userDiffs.sort(byteOrder)];
}

function chainRef(chain: Chain): ChainRef {
  return { line: chain.line, policy: chain.policy, rules: chain.rules.length };
}

function canonicalText(rule: Rule, side: Side): string {
  const target = rule.target;
  const renamed = target?.kind === "chain" ? side.renames?.get(target.name) : undefined;
  // A copy: the model is shared and frozen.
  if (renamed !== undefined) return formatRule({ ...rule, target: { ...target!, name: renamed } }, side.context, false);
  return side.printed.text(rule);
}

/** The canonical text after `-A CHAIN`: what a rule says, wherever it stands. */
function ruleBody(rule: Rule, side: Side): string {
  return canonicalText(rule, side).slice(rule.chain.length + 3);
}

function ruleRef(rule: Rule, side: Side, text = canonicalText(rule, side)): RuleRef {
  return { line: rule.line, position: rule.position, rule: text };
}

function sameWriting(a: readonly Rule[], b: readonly Rule[]): boolean {
  return a.length === b.length && a.every((rule, i) => writtenText(rule) === writtenText(b[i]));
}

function diffChain(table: TableName, oldChain: Chain, newChain: Chain, old: Side, now: Side, correspondence: RulesCorrespondence): ChainDiff | undefined {
  const policyChanged = oldChain.policy !== newChain.policy;
  if (oldChain.line !== 0) correspondence.lines.set(oldChain.line, newChain.line);
  // Most chains of two snapshots are written identically; canonical printing is only needed for the others.
  if (sameWriting(oldChain.rules, newChain.rules) && old.ruleset.family === now.ruleset.family) {
    oldChain.rules.forEach((rule, i) => correspondence.lines.set(rule.line, newChain.rules[i]!.line));
    return policyChanged ? { kind: "changed", chain: oldChain.name, old: chainRef(oldChain), new: chainRef(newChain), policyChanged, changes: [] } : undefined;
  }
  const { oldIds, newIds } = ruleIds(oldChain.rules, newChain.rules, old, now);
  const { oldToNew, newToOld } = alignSequences(oldIds, newIds);

  // A rule deleted in one place and inserted in another is a move: pair them per text, in order.
  const deletedById = new Map<number, number[]>();
  oldToNew.forEach((n, o) => {
    if (n < 0) addTo(deletedById, oldIds[o], o);
  });
  const movedFrom = new Int32Array(newIds.length).fill(-1);
  const movedTo = new Int32Array(oldIds.length).fill(-1);
  newToOld.forEach((o, n) => {
    if (o >= 0) return;
    const from = deletedById.get(newIds[n])?.shift();
    if (from === undefined) return;
    movedFrom[n] = from;
    movedTo[from] = n;
  });
  const neutral = neutralMoves(oldChain.rules, oldToNew, movedTo);

  const changes: RuleChange[] = [];
  const oldRef = (o: number) => ruleRef(oldChain.rules[o]!, old);
  const newRef = (n: number) => ruleRef(newChain.rules[n]!, now);
  // Hunk by hunk, between rules kept in place: removals first, as diff(1) prints them.
  let o = 0;
  let n = 0;
  while (o < oldIds.length || n < newIds.length) {
    for (; o < oldIds.length && oldToNew[o] < 0; o++) if (movedTo[o] < 0) changes.push({ kind: "removed", old: oldRef(o) });
    for (; n < newIds.length && newToOld[n] < 0; n++) {
      const from = movedFrom[n];
      if (from < 0) changes.push({ kind: "added", new: newRef(n) });
      else changes.push({ kind: neutral.has(from) ? "reordered" : "moved", old: oldRef(from), new: newRef(n) });
    }
    o++;
    n++;
  }
  if (changes.length === 0 && !policyChanged) {
    differingIn(correspondence, table).add(oldChain.name);
    return undefined;
  }
  return { kind: "changed", chain: oldChain.name, old: chainRef(oldChain), new: chainRef(newChain), policyChanged, changes };
}

/**
 * Ids for the rules of a chain on both sides, equal where the canonical texts are. Printing every rule of a long
 * chain that changed (kube-proxy's KUBE-SERVICES) would cost more than the rest of the comparison, and is not
 * needed: rules that print alike jump to the same place, and rules written alike print alike. So only rules that
 * jump where a rule written otherwise jumps are printed.
 */
function ruleIds(oldRules: readonly Rule[], newRules: readonly Rule[], old: Side, now: Side): { oldIds: Int32Array; newIds: Int32Array } {
  let next = 0;
  const printedIds = new Map<string, number>();
  const printedId = (rule: Rule, side: Side) => {
    const text = canonicalText(rule, side);
    let id = printedIds.get(text);
    if (id === undefined) printedIds.set(text, (id = next++));
    return id;
  };
  // Equal words make equal rules only within one family; a module kept verbatim prints its words as they came.
  if (old.ruleset.family !== now.ruleset.family || !printsFromModel(oldRules) || !printsFromModel(newRules)) {
    return { oldIds: Int32Array.from(oldRules, (rule) => printedId(rule, old)), newIds: Int32Array.from(newRules, (rule) => printedId(rule, now)) };
  }
  /** By where rules jump, the one text they are written with, or null when they are written in several ways. */
  const writings = new Map<string, string | null>();
  const note = (rules: readonly Rule[], side: Side) => {
    for (let i = 0; i < rules.length; i++) {
      const jump = jumpedTo(rules[i]!, side);
      const written = writtenText(rules[i]!);
      const known = writings.get(jump);
      if (known === undefined) writings.set(jump, written);
      else if (known !== null && known !== written) writings.set(jump, null);
    }
  };
  note(oldRules, old);
  note(newRules, now);
  const writtenIds = new Map<string, number>();
  const idsOf = (rules: readonly Rule[], side: Side) => {
    const ids = new Int32Array(rules.length);
    for (let i = 0; i < rules.length; i++) {
      const jump = jumpedTo(rules[i]!, side);
      if (writings.get(jump) === null) {
        ids[i] = printedId(rules[i]!, side);
        continue;
      }
      let id = writtenIds.get(jump);
      if (id === undefined) writtenIds.set(jump, (id = next++));
      ids[i] = id;
    }
    return ids;
  };
  return { oldIds: idsOf(oldRules, old), newIds: idsOf(newRules, now) };
}

/** The rules' matches and targets print from their typed values (no option kept as written). */
function printsFromModel(rules: readonly Rule[]): boolean {
  for (let i = 0; i < rules.length; i++) {
    const { matches, target } = rules[i]!;
    for (let m = 0; m < matches.length; m++) if (!matches[m]!.known || !typedOptions(matches[m]!.options)) return false;
    if (target !== undefined && (!target.known || !typedOptions(target.options))) return false;
  }
  return true;
}

function typedOptions(options: readonly ExtensionOption[]): boolean {
  for (let i = 0; i < options.length; i++) if (options[i]!.value.kind === "raw") return false;
  return true;
}

/** The target's name as the rule's canonical text has it (its chain's new name, for a chain renamed); "" for none. */
function jumpedTo(rule: Rule, side: Side): string {
  const target = rule.target;
  if (target === undefined) return "";
  return (target.kind === "chain" ? side.renames?.get(target.name) : undefined) ?? target.name;
}

/**
 * The moved rules (OLD indices) that only passed rules which cannot match the same packets. A rule and one it
 * passed are "inverted": their order in NEW is the reverse of their order in OLD. If every inverted pair is
 * disjoint, the chain treats every packet as before.
 */
function neutralMoves(oldRules: readonly Rule[], oldToNew: Int32Array, movedTo: Int32Array): Set<number> {
  const neutral = new Set<number>();
  const moved: number[] = [];
  movedTo.forEach((n, o) => {
    if (n >= 0) moved.push(o);
  });
  if (moved.length === 0) return neutral;

  // Rules on both sides, by OLD index, with their NEW index.
  const common: number[] = [];
  const newIndex = new Int32Array(oldRules.length).fill(-1);
  for (let o = 0; o < oldRules.length; o++) {
    const n = oldToNew[o] >= 0 ? oldToNew[o] : movedTo[o];
    if (n < 0) continue;
    newIndex[o] = n;
    common.push(o);
  }
  // By OLD index, for the rules on both sides.
  const footprints: Footprint[] = [];
  const shapes: string[] = [];
  const points: string[] = [];
  const byShape = new Map<string, number[]>();
  const byPoint = new Map<string, number[]>();
  for (let i = 0; i < common.length; i++) {
    const o = common[i]!;
    const footprint = (footprints[o] = footprintOf(oldRules[o]));
    const shape = (shapes[o] = shapeOf(footprint));
    const point = (points[o] = pointOf(footprint, shape));
    addTo(byShape, shape, o);
    addTo(byPoint, point, o);
  }

  let budget = REORDER_CHECK_BUDGET;
  const passesOnlyDisjoint = (m: number, others: readonly number[]): boolean => {
    budget -= others.length;
    if (budget < 0) return false;
    const footprint = footprints[m]!;
    for (let i = 0; i < others.length; i++) {
      const p = others[i]!;
      if (p === m || (p < m) === (newIndex[p] < newIndex[m])) continue;
      if (!footprintsDisjoint(footprint, footprints[p]!)) return false;
    }
    return true;
  };
  for (let i = 0; i < moved.length; i++) {
    const m = moved[i]!;
    // Same shape, other point: disjoint by construction. Same point, or another shape: test each.
    const shape = shapes[m]!;
    let ok = passesOnlyDisjoint(m, byPoint.get(points[m]!)!);
    for (const [otherShape, members] of byShape) {
      if (!ok) break;
      if (otherShape !== shape) ok = passesOnlyDisjoint(m, members);
    }
    if (ok) neutral.add(m);
  }
  return neutral;
}

function summarise(tables: readonly TableDiff[]): RulesDiffSummary {
  const summary: RulesDiffSummary = {
    tablesChanged: 0, chainsAdded: 0, chainsRemoved: 0, chainsRenamed: 0, policiesChanged: 0, chainsChanged: 0,
    rulesAdded: 0, rulesRemoved: 0, rulesMoved: 0, rulesReordered: 0,
  };
  for (const table of tables) {
    let tableChanged = false;
    for (const chain of table.chains) {
      switch (chain.kind) {
        case "added":
          summary.chainsAdded++;
          summary.rulesAdded += chain.rules.length;
          tableChanged = true;
          break;
        case "removed":
          summary.chainsRemoved++;
          summary.rulesRemoved += chain.rules.length;
          tableChanged = true;
          break;
        case "changed": {
          if (chain.policyChanged) summary.policiesChanged++;
          if (chain.renamedTo !== undefined) {
            summary.chainsRenamed++;
            tableChanged = true;
          }
          let rulesChanged = false;
          for (const change of chain.changes) {
            switch (change.kind) {
              case "added":
                summary.rulesAdded++;
                break;
              case "removed":
                summary.rulesRemoved++;
                break;
              case "moved":
                summary.rulesMoved++;
                break;
              case "reordered":
                summary.rulesReordered++;
                continue;
              default: {
                const never: never = change;
                throw new Error(`unhandled rule change ${JSON.stringify(never)}`);
              }
            }
            rulesChanged = true;
          }
          if (rulesChanged) summary.chainsChanged++;
          if (rulesChanged || chain.policyChanged) tableChanged = true;
          break;
        }
        default: {
          const never: never = chain;
          throw new Error(`unhandled chain diff ${JSON.stringify(never)}`);
        }
      }
    }
    if (tableChanged) summary.tablesChanged++;
  }
  return summary;
}
