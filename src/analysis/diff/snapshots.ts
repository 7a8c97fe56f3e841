// Lookups both snapshots of a diff need often: chains by name (a large nat table has tens of thousands, and the
// rules level and the change reach both look them up), and whether two rules are made of the very same parts
// (`diff` parses NEW reusing OLD's rules, so most of NEW's rules are OLD's parts under new line numbers).

import type { Chain, Rule, Table } from "../../model/types.js";

const indexes = new WeakMap<Table, ReadonlyMap<string, Chain>>();
const NO_CHAINS: ReadonlyMap<string, Chain> = new Map();

export function chainsByName(table: Table | undefined): ReadonlyMap<string, Chain> {
  if (table === undefined) return NO_CHAINS;
  let chains = indexes.get(table);
  if (chains === undefined) {
    const byName = new Map<string, Chain>();
    for (const chain of table.chains) byName.set(chain.name, chain);
    indexes.set(table, (chains = byName));
  }
  return chains;
}

/** Every part a rule says something with (all but its place, line and counters) is the same object in both. */
export function sameParts(rule: Rule, other: Rule): boolean {
  return (
    rule.matches === other.matches &&
    rule.target === other.target &&
    rule.protocol === other.protocol &&
    rule.source === other.source &&
    rule.destination === other.destination &&
    rule.inInterface === other.inInterface &&
    rule.outInterface === other.outInterface &&
    rule.fragment === other.fragment &&
    rule.familyOnly === other.familyOnly
  );
}
