// A trace over the chains view: each outcome's jumps and gotos, and its moves from one hook or table to the next.

import type { PathStep, TraceResult } from "../../analysis/trace/types.js";
import type { Ruleset, TableName } from "../../model/types.js";
import type { OverlayLink, OverlayPath, Scene } from "../scene.js";
import { buildChainsSceneWithIndex, type ChainsSceneIndex } from "./chains.js";
import type { ViewOptions } from "./options.js";
import { basePath, drawnOutcomes, labelWhereDistinct, tracedScene, unique } from "./trace-outcomes.js";

interface ChainRef {
  table: TableName;
  chain: string;
}

/** What one outcome's path does between chains, in order: chains entered, jumps and gotos, moves to the next hook or table. */
export interface ChainTransitions {
  chains: ChainRef[];
  jumps: { table: TableName; from: string; to: string; goto: boolean }[];
  /** From the built-in chain of one (hook, table) to the next one the packet traverses. */
  hooks: { from: ChainRef; to: ChainRef }[];
}

export function chainTransitions(path: readonly PathStep[]): ChainTransitions {
  const transitions: ChainTransitions = { chains: [], jumps: [], hooks: [] };
  let previous: PathStep | undefined;
  for (const step of path) {
    transitions.chains.push({ table: step.table, chain: step.chain });
    if (previous && (previous.hook !== step.hook || previous.table !== step.table)) {
      transitions.hooks.push({ from: { table: previous.table, chain: previous.hook }, to: { table: step.table, chain: step.hook } });
    }
    const effect = step.effect;
    if (effect.kind === "jump" || effect.kind === "goto") {
      transitions.jumps.push({ table: step.table, from: step.chain, to: effect.chain, goto: effect.kind === "goto" });
    }
    previous = step;
  }
  return transitions;
}

/** The outcome paths over a chains scene: nodes of the chains entered, edges of the jumps and gotos, links between hooks. */
export function chainsTracePaths(index: ChainsSceneIndex, result: TraceResult): OverlayPath[] {
  const paths = drawnOutcomes(result).map((outcome, i): OverlayPath => {
    const transitions = chainTransitions(outcome.path);
    const links: OverlayLink[] = [];
    for (const hop of transitions.hooks) {
      const from = index.nodeFor(hop.from.table, hop.from.chain);
      const to = index.nodeFor(hop.to.table, hop.to.chain);
      if (from !== undefined && to !== undefined && from !== to) links.push({ from, to });
    }
    return {
      ...basePath(outcome, i),
      nodes: unique(transitions.chains.map((c) => index.nodeFor(c.table, c.chain))),
      edges: unique(transitions.jumps.map((j) => index.edgeFor(j.table, j.from, j.to, j.goto))),
      links,
    };
  });
  return labelWhereDistinct(paths);
}

/** The chains view with a trace's outcomes drawn over it. */
export function buildTracedChainsScene(ruleset: Ruleset, options: ViewOptions, result: TraceResult): Scene {
  // The chains the drawn outcomes entered stay single nodes where their families are merged.
  const entered = new Map<TableName, Set<string>>();
  for (const outcome of drawnOutcomes(result)) {
    for (const step of outcome.path) (entered.get(step.table) ?? entered.set(step.table, new Set()).get(step.table)!).add(step.chain);
  }
  const index = buildChainsSceneWithIndex(ruleset, options, { keep: (table, chain) => entered.get(table)?.has(chain) ?? false });
  return tracedScene(index.scene, chainsTracePaths(index, result), result);
}
