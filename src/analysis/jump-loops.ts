// Jump loops: cycles in a table's chain call graph that a built-in chain reaches, which iptables refuses to load. Apart from the rule graph so
// that every command can check a dump without loading graphology.

import { diagnostic, type Diagnostic } from "../diagnostics.js";
import type { Ruleset, Table } from "../model/types.js";

const UNSEEN = 0;
const OPEN = 1;
const DONE = 2;

/**
 * Cycles in the chain call graph (jumps and gotos) that a built-in chain reaches, which iptables refuses to load
 * (both backends load a loop among user chains that no built-in chain reaches). Iterative
 * depth-first search, so 10,000-deep chains of jumps do not overflow the stack. Chains are numbered so that
 * a 10,000-service dump's 80,000 jumps cost one name lookup each. With `roots`, the search starts from the chains
 * it names in each table instead of the built-in ones: the cycles among the chains those lead to.
 */
export function findJumpLoops(ruleset: Ruleset, roots?: (table: Table) => readonly string[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const table of ruleset.tables) {
    const chains = table.chains;
    // A name declared twice stands for its last declaration, in the place of its first.
    const indexOf = new Map<string, number>();
    chains.forEach((chain, i) => indexOf.set(chain.name, i));
    const state = new Uint8Array(chains.length);
    const stackChains: number[] = [];
    // The index of the next rule to look at in each stacked chain.
    const stackNext: number[] = [];
    const starts = roots === undefined ? [...indexOf.values()].filter((i) => chains[i]!.builtin) : roots(table).map((name) => indexOf.get(name));
    for (const root of starts) {
      if (root === undefined || state[root] !== UNSEEN) continue;
      stackChains.push(root);
      stackNext.push(0);
      state[root] = OPEN;
      while (stackChains.length > 0) {
        const top = stackChains.length - 1;
        const current = stackChains[top]!;
        const rules = chains[current]!.rules;
        let next = stackNext[top]!;
        while (next < rules.length && rules[next]!.target?.kind !== "chain") next++;
        if (next >= rules.length) {
          state[current] = DONE;
          stackChains.pop();
          stackNext.pop();
          continue;
        }
        stackNext[top] = next + 1;
        const rule = rules[next]!;
        const target = rule.target!;
        const callee = indexOf.get(target.name);
        if (callee === undefined) continue;
        if (state[callee] === OPEN) {
          const start = stackChains.indexOf(callee);
          const cycle = [...stackChains.slice(start), callee].map((i) => `${table.name}/${chains[i]!.name}`);
          diagnostics.push(diagnostic("jump-loop", { line: rule.line, column: target.column, length: target.name.length }, { cycle }));
        } else if (state[callee] === UNSEEN) {
          state[callee] = OPEN;
          stackChains.push(callee);
          stackNext.push(0);
        }
      }
    }
  }
  return diagnostics;
}
