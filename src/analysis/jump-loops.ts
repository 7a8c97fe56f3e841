// Jump loops: cycles in a table's chain call graph that a built-in chain reaches, which iptables refuses to load. Apart from the rule graph so
// that every command can check a dump without loading graphology.

import { diagnostic, type Diagnostic } from "../diagnostics.js";
import { legacyWalkedRules } from "../model/legacy-walk.js";
import type { Chain, Ruleset, Table } from "../model/types.js";

const UNSEEN = 0;
const OPEN = 1;
const DONE = 2;

/**
 * Cycles in the chain call graph (jumps and gotos) that a built-in chain reaches, which iptables refuses to load
 * (both backends load a loop among user chains that no built-in chain reaches). Iterative
 * depth-first search, so 10,000-deep chains of jumps do not overflow the stack. Chains are numbered so that
 * a 10,000-service dump's 80,000 jumps cost one name lookup each. With `roots`, the search starts from the chains
 * it names in each table instead of the built-in ones: the cycles among the chains those lead to.
 *
 * Every jump counts, as in iptables-nft. With `perBackend`, a table's loops that iptables-legacy never meets, its
 * walk having turned back at an unconditional verdict before them (see legacy-walk.ts), are `backend-refuses`
 * warnings for iptables-nft instead (whichever backend the model follows: as for every refusal by one backend).
 */
export function findJumpLoops(ruleset: Ruleset, roots?: (table: Table) => readonly string[], perBackend = false): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const table of ruleset.tables) {
    const loops = tableLoops(table, roots, everyRule);
    if (loops.length === 0 || !perBackend) {
      diagnostics.push(...loops);
      continue;
    }
    const legacyLoops = tableLoops(table, roots, (chain) => legacyWalkedRules(chain, ruleset.family));
    if (legacyLoops.length > 0) {
      diagnostics.push(...legacyLoops);
      continue;
    }
    for (const loop of loops) {
      if (loop.kind !== "jump-loop") continue;
      const { cycle } = loop.details;
      const reason = `a jump loop ${cycle.join(" → ")} reached only past an unconditional verdict, where iptables-legacy does not look`;
      diagnostics.push(diagnostic("backend-refuses", loop, { backend: "nft", reason, cycle }));
    }
  }
  return diagnostics;
}

/** Is this a loop findJumpLoops reported, refused by both backends or by iptables-nft alone? */
export function isJumpLoop(d: Diagnostic): boolean {
  return d.kind === "jump-loop" || (d.kind === "backend-refuses" && d.details.cycle !== undefined);
}

const everyRule = (chain: Chain): number => chain.rules.length;

/** The loops of one table, looking at the first `walked(chain)` rules of each chain. */
function tableLoops(table: Table, roots: ((table: Table) => readonly string[]) | undefined, walked: (chain: Chain) => number): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const chains = table.chains;
  // A name declared twice stands for its last declaration, in the place of its first.
  const indexOf = new Map<string, number>();
  chains.forEach((chain, i) => indexOf.set(chain.name, i));
  const state = new Uint8Array(chains.length);
  const stackChains: number[] = [];
  // The index of the next rule to look at in each stacked chain, and where the look ends.
  const stackNext: number[] = [];
  const stackEnd: number[] = [];
  const starts = roots === undefined ? [...indexOf.values()].filter((i) => chains[i]!.builtin) : roots(table).map((name) => indexOf.get(name));
  for (const root of starts) {
    if (root === undefined || state[root] !== UNSEEN) continue;
    stackChains.push(root);
    stackNext.push(0);
    stackEnd.push(walked(chains[root]!));
    state[root] = OPEN;
    while (stackChains.length > 0) {
      const top = stackChains.length - 1;
      const current = stackChains[top]!;
      const rules = chains[current]!.rules;
      const end = stackEnd[top]!;
      let next = stackNext[top]!;
      while (next < end && rules[next]!.target?.kind !== "chain") next++;
      if (next >= end) {
        state[current] = DONE;
        stackChains.pop();
        stackNext.pop();
        stackEnd.pop();
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
        stackEnd.push(walked(chains[callee]!));
      }
    }
  }
  return diagnostics;
}
