// A table's chains by name, made once per table: the rules level and the change reach both look chains up by name,
// and a large nat table has tens of thousands.

import type { Chain, Table } from "../../model/types.js";

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
