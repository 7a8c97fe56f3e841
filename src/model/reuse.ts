// The rules of an earlier parse, found by the text of their line, for parsing a later snapshot
// of the same node: most of its lines are the same, and a rule's addresses, interfaces,
// protocol, matches and target follow from its text, its table and the family alone (the
// builder checks what depends on the chains around it: the chain, the kind of the jump).

import { leadingCounters, type CountersSyntax } from "../../grammar/index.js";
import type { ParseResult } from "./build.js";
import type { Rule, TableName } from "./types.js";

/** An unquoted `-c`: counters written in the text win over the `[p:b]` in front of it. */
const SETS_COUNTERS = /(^|[ \t])(-c|--set-counters)([ \t]|$)/;
const mayHaveSetCounters = (text: string): boolean =>
  (text.includes(" -c") || text.includes("--set-counters") || text.includes("\t")) && SETS_COUNTERS.test(text);

/** How far past the next earlier rule a line is looked for (lines removed since). */
const LOOKAHEAD = 16;
/** A chain with more rules than this has its rules hashed by text when a line of it is looked for out of order. */
const SCANNED_CHAIN = 16;

/** The rules of one chain (indices into the table's); a long chain's hashed by text when first looked for out of order. */
interface ChainRules {
  indices: number[];
  byText: Map<string, number> | undefined;
}

/**
 * The reusable rules of one table in line order, each with its line's text after the counters and the column where
 * its command starts (after the `[p:b]` counters: every column of the rule counts from 0 before them). A later
 * snapshot mostly has the same lines in the same order: each line is compared with the rule after the last one
 * found, then with a few past it. A line not found so is looked for among the rules of its chain: kube-proxy writes
 * the rules of a chain in another order on each sync (Go map order), but each chain's in one block, so only the
 * long chains whose rules moved are hashed, not the whole table.
 */
class TableRules {
  private next = 0;
  private chains: Map<string, ChainRules> | undefined;

  constructor(
    private readonly rules: readonly Rule[],
    private readonly keys: readonly string[],
    private readonly froms: readonly number[],
  ) {}

  find(key: string, from: number): Rule | undefined {
    const keys = this.keys;
    const end = Math.min(keys.length, this.next + LOOKAHEAD);
    for (let i = this.next; i < end; i++) {
      if (keys[i] === key && this.froms[i] === from) {
        this.next = i + 1;
        return this.rules[i];
      }
    }
    const found = this.inChain(key);
    if (found === undefined || this.froms[found] !== from) return undefined;
    this.next = found + 1;
    return this.rules[found];
  }

  /** The index of a rule with this text among the rules of the chain `-A CHAIN` names in it. */
  private inChain(key: string): number | undefined {
    if (!key.startsWith("-A ")) return undefined;
    const space = key.indexOf(" ", 3);
    const chain = this.chainRules().get(space < 0 ? key.slice(3) : key.slice(3, space));
    if (chain === undefined) return undefined;
    const { indices } = chain;
    if (indices.length <= SCANNED_CHAIN) {
      for (let i = 0; i < indices.length; i++) if (this.keys[indices[i]!] === key) return indices[i];
      return undefined;
    }
    if (chain.byText === undefined) {
      chain.byText = new Map();
      for (let i = indices.length - 1; i >= 0; i--) chain.byText.set(this.keys[indices[i]!]!, indices[i]!);
    }
    return chain.byText.get(key);
  }

  private chainRules(): Map<string, ChainRules> {
    if (this.chains !== undefined) return this.chains;
    const chains = new Map<string, ChainRules>();
    let name: string | undefined;
    let current: ChainRules | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const chain = this.rules[i]!.chain;
      if (chain !== name) {
        name = chain;
        current = chains.get(chain);
        if (current === undefined) chains.set(chain, (current = { indices: [], byText: undefined }));
      }
      current!.indices.push(i);
    }
    return (this.chains = chains);
  }
}

export class ReusableRules {
  private readonly byTable = new Map<TableName, TableRules>();
  /** The `[p:b]` of the line last found, if it had one. */
  counters: CountersSyntax | undefined;

  /** Only rules appended by a line that made no diagnostic and one rule, in tables no chain command changed. */
  constructor(previous: ParseResult) {
    const excluded = new Set<number>(previous.skippedLines);
    for (const d of previous.diagnostics) excluded.add(d.line);
    for (const table of previous.ruleset.tables) {
      // Lines that made several rules (`-s a,b`) are left out; their rules are next to each other.
      const multiple = new Set<number>();
      for (const chain of table.chains) {
        const rules = chain.rules;
        for (let i = 1; i < rules.length; i++) if (rules[i]!.line === rules[i - 1]!.line) multiple.add(rules[i]!.line);
      }
      const rules: Rule[] = [];
      const keys: string[] = [];
      const froms: number[] = [];
      let commands = false;
      for (const statement of table.statements) {
        if (statement.kind !== "rule") {
          commands ||= statement.kind === "command";
          continue;
        }
        const rule = statement;
        if (rule.command !== "append" || rule.position === 0 || excluded.has(rule.line) || multiple.has(rule.line)) continue;
        const text = rule.text;
        const from = text.charCodeAt(0) === 0x5b /* [ */ ? leadingCounters(text)?.after : 0;
        if (from === undefined) continue;
        // Without `[p:b]`, a rule has counters only from a `-c` in its text.
        if (from === 0 ? rule.counters !== undefined : mayHaveSetCounters(text)) continue;
        rules.push(rule);
        keys.push(from === 0 ? text : text.slice(from));
        froms.push(from);
      }
      if (rules.length > 0 && !commands) this.byTable.set(table.name, new TableRules(rules, keys, froms));
    }
  }

  /** The earlier rule of a line in `table` with the same text after its counters, which land in `counters`. */
  find(table: TableName, line: string): Rule | undefined {
    const rules = this.byTable.get(table);
    if (rules === undefined) return undefined;
    let from = 0;
    this.counters = undefined;
    if (line.charCodeAt(0) === 0x5b /* [ */) {
      const leading = leadingCounters(line);
      if (leading === undefined) return undefined;
      from = leading.after;
      this.counters = leading.counters;
    }
    return rules.find(from === 0 ? line : line.slice(from), from);
  }
}
