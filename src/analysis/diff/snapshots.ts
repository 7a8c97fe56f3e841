// Lookups both snapshots of a diff need often: chains by name (a large nat table has tens of thousands, and the
// rules level and the change reach both look them up), whether two rules are made of the very same parts (`diff`
// parses NEW reusing OLD's rules, so most of NEW's rules are OLD's parts under new line numbers), and where a line
// of one snapshot is in the other. The diff's loops over every chain or rule count by index: `iptscope diff` runs
// them mostly before they are optimised, and an unoptimised for-of makes an object per element.

import type { Chain, Rule, Table } from "../../model/types.js";

const indexes = new WeakMap<Table, ReadonlyMap<string, Chain>>();
const NO_CHAINS: ReadonlyMap<string, Chain> = new Map();

export function chainsByName(table: Table | undefined): ReadonlyMap<string, Chain> {
  if (table === undefined) return NO_CHAINS;
  let chains = indexes.get(table);
  if (chains === undefined) {
    const byName = new Map<string, Chain>();
    const all = table.chains;
    for (let i = 0; i < all.length; i++) byName.set(all[i]!.name, all[i]!);
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

/** The rule as written without its counters: equal texts are equal rules, whatever their canonical form. */
export function writtenText(rule: Rule): string {
  return rule.text.charCodeAt(0) === 91 /* [ */ ? rule.text.slice(rule.text.indexOf("]") + 1).trimStart() : rule.text;
}

/** Lines of one snapshot to lines of another (lines are numbered from 1). */
export class LineMap {
  private lines = new Int32Array(1 << 16);

  set(from: number, to: number): void {
    if (from >= this.lines.length) {
      const grown = new Int32Array(Math.max(from + 1, this.lines.length * 2));
      grown.set(this.lines);
      this.lines = grown;
    }
    this.lines[from] = to;
  }

  get(from: number): number | undefined {
    return from < this.lines.length && this.lines[from] !== 0 ? this.lines[from] : undefined;
  }
}

export function addTo<K, V>(lists: Map<K, V[]>, key: K, value: V): void {
  const list = lists.get(key);
  if (list) list.push(value);
  else lists.set(key, [value]);
}
