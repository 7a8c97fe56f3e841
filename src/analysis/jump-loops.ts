// Jump loops: cycles in a table's chain call graph, which iptables refuses to load. Apart from the rule graph so
// that every command can check a dump without loading graphology.

import { diagnostic, type Diagnostic } from "../diagnostics.js";
import type { Chain, Ruleset } from "../model/types.js";

/**
 * Cycles in the chain call graph (jumps and gotos), which iptables refuses to load. Iterative
 * depth-first search, so 10,000-deep chains of jumps do not overflow the stack.
 */
export function findJumpLoops(ruleset: Ruleset): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const table of ruleset.tables) {
    const chains = new Map<string, Chain>();
    for (const chain of table.chains) chains.set(chain.name, chain);
    const state = new Map<string, "open" | "done">();
    for (const root of chains.values()) {
      if (state.has(root.name)) continue;
      // `next`: the index of the next rule to look at in the frame's chain.
      const stack: { chain: Chain; next: number }[] = [{ chain: root, next: 0 }];
      state.set(root.name, "open");
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const rules = top.chain.rules;
        while (top.next < rules.length && rules[top.next]!.target?.kind !== "chain") top.next++;
        if (top.next >= rules.length) {
          state.set(top.chain.name, "done");
          stack.pop();
          continue;
        }
        const rule = rules[top.next++]!;
        const target = rule.target!;
        const callee = chains.get(target.name);
        if (!callee) continue;
        const seen = state.get(target.name);
        if (seen === "open") {
          const start = stack.findIndex((f) => f.chain.name === target.name);
          const cycle = [...stack.slice(start).map((f) => f.chain.name), target.name].map((c) => `${table.name}/${c}`);
          diagnostics.push(diagnostic("jump-loop", { line: rule.line, column: target.column, length: target.name.length }, { cycle }));
        } else if (seen === undefined) {
          state.set(target.name, "open");
          stack.push({ chain: callee, next: 0 });
        }
      }
    }
  }
  return diagnostics;
}
