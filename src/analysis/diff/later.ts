// NEW as the service map reader sees it after OLD (readLaterServiceMap): which chains differ, which of their rules
// one snapshot has alone or elsewhere, and where each rule stands in NEW. The rules level found all of it: chains
// it does not list are the same in both, rule for rule.

import type { LaterSnapshot } from "../kube/structure.js";
import type { Chain, Rule, Ruleset, TableName } from "../../model/types.js";
import { chainsByName, sameParts, writtenText } from "./snapshots.js";
import type { RulesCorrespondence } from "./rules.js";
import type { ChainDiff, RulesDiff } from "./types.js";

/** NEW as the service map reader sees it after OLD. */
export function laterSnapshot(oldRuleset: Ruleset, newRuleset: Ruleset, rules: RulesDiff, correspondence: RulesCorrespondence): LaterSnapshot {
  const chains = (ruleset: Ruleset) => new Map(ruleset.tables.map((table) => [table.name, chainsByName(table)]));
  const oldChains = chains(oldRuleset);
  const newChains = chains(newRuleset);
  const chainOf = (ruleset: Ruleset, table: TableName, name: string) => (ruleset === oldRuleset ? oldChains : newChains).get(table)?.get(name);
  const changedChains = correspondence.differing;
  const changedRules: Rule[] = [];
  const movedRules: Rule[] = [];
  /** OLD's rules in NEW, in the chains whose rules changed. */
  const places = new Map<Rule, Rule>();
  for (const table of rules.tables) {
    for (const chain of table.chains) {
      if (chain.kind !== "changed" || chain.renamedTo !== undefined) continue;
      const oldChain = chainOf(oldRuleset, table.table, chain.chain);
      const newChain = chainOf(newRuleset, table.table, chain.chain);
      if (oldChain && newChain) placeRules(oldChain, newChain, chain.changes, { places, changedRules, movedRules });
    }
  }
  // The changed chains' rules in both, where the rules level left them alike in print (their words are checked).
  places.forEach((to, from) => correspondence.lines.set(from.line, to.line));
  let order: Map<string, number> | undefined;
  const sameOrder = new Map<TableName, boolean>();
  return {
    ruleset: newRuleset,
    changedChains,
    changedRules,
    movedRules,
    counterpart(rule) {
      const placed = places.get(rule);
      if (placed !== undefined) return placed;
      const inPlace = chainOf(newRuleset, rule.table, rule.chain)?.rules[rule.position - 1];
      // A rule of NEW is its own; OLD's is in the same place, unless its chain changed (then it is gone).
      if (inPlace === rule) return rule;
      return changedChains.get(rule.table)?.has(rule.chain) ? undefined : inPlace;
    },
    sameRule: (earlier, later) => sameParts(earlier, later) || writtenText(earlier) === writtenText(later),
    line: (earlier) => correspondence.lines.get(earlier),
    chain: (snapshot, table, name) => chainOf(snapshot === "earlier" ? oldRuleset : newRuleset, table, name),
    order(table, name) {
      if (order === undefined) {
        order = new Map();
        newRuleset.tables.find((t) => t.name === table)?.chains.forEach((chain, i) => order!.set(chain.name, i));
      }
      return order.get(name) ?? -1;
    },
    sameChainOrder(table) {
      let same = sameOrder.get(table);
      if (same === undefined) sameOrder.set(table, (same = inSameOrder(oldRuleset, newRuleset, table, changedChains.get(table))));
      return same;
    },
  };
}

/** The chains of a table both snapshots have (those not `differing`) stand in the same order in both. */
function inSameOrder(oldRuleset: Ruleset, newRuleset: Ruleset, table: TableName, differing: ReadonlySet<string> | undefined): boolean {
  const chainsOf = (ruleset: Ruleset) => ruleset.tables.find((t) => t.name === table)?.chains ?? [];
  const oldChains = chainsOf(oldRuleset);
  const newChains = chainsOf(newRuleset);
  const inBoth = (chain: Chain) => differing === undefined || !differing.has(chain.name);
  let j = 0;
  for (let i = 0; i < oldChains.length; i++) {
    if (!inBoth(oldChains[i]!)) continue;
    while (j < newChains.length && !inBoth(newChains[j]!)) j++;
    if (j === newChains.length || newChains[j]!.name !== oldChains[i]!.name) return false;
    j++;
  }
  return true;
}

/** A changed chain's rules: those kept in order and those moved, each OLD rule with its NEW one; the others alone. */
function placeRules(
  oldChain: Chain,
  newChain: Chain,
  changes: Extract<ChainDiff, { kind: "changed" }>["changes"],
  into: { places: Map<Rule, Rule>; changedRules: Rule[]; movedRules: Rule[] },
): void {
  const oldAlone = new Set<number>();
  const newAlone = new Set<number>();
  for (const change of changes) {
    switch (change.kind) {
      case "added":
        newAlone.add(change.new.position);
        into.changedRules.push(newChain.rules[change.new.position - 1]!);
        break;
      case "removed":
        oldAlone.add(change.old.position);
        into.changedRules.push(oldChain.rules[change.old.position - 1]!);
        break;
      case "moved":
      case "reordered": {
        oldAlone.add(change.old.position);
        newAlone.add(change.new.position);
        const from = oldChain.rules[change.old.position - 1]!;
        const to = newChain.rules[change.new.position - 1]!;
        into.places.set(from, to);
        into.movedRules.push(from, to);
        break;
      }
      default: {
        const never: never = change;
        throw new Error(`unhandled rule change ${JSON.stringify(never)}`);
      }
    }
  }
  // The rules kept in place are in both, in the same order.
  let n = 0;
  for (let o = 0; o < oldChain.rules.length; o++) {
    if (oldAlone.has(o + 1)) continue;
    while (newAlone.has(n + 1)) n++;
    into.places.set(oldChain.rules[o]!, newChain.rules[n]!);
    n++;
  }
}
