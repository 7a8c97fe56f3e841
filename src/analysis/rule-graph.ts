// The ruleset as a graph: chains and rules as nodes; entry, fall-through, jump, goto, return and
// policy edges. Built once per ruleset; also where jump loops and jumps to missing chains are found.

import { DirectedGraph } from "graphology";
import { diagnostic, type Diagnostic } from "../diagnostics.js";
import type { Policy, Ruleset, TableName } from "../model/types.js";

export type RuleGraphNode =
  | { kind: "chain"; table: TableName; chain: string; builtin: boolean; policy: Policy; line: number; rules: number }
  | { kind: "rule"; table: TableName; chain: string; position: number; line: number; text: string };

export type RuleGraphEdgeKind = "entry" | "fallthrough" | "jump" | "goto" | "return" | "policy";
export interface RuleGraphEdge {
  kind: RuleGraphEdgeKind;
}

export type RuleGraph = DirectedGraph<RuleGraphNode, RuleGraphEdge>;

export const chainKey = (table: TableName, chain: string) => `${table}/${chain}`;
export const ruleKey = (table: TableName, chain: string, position: number) => `${table}/${chain}#${position}`;

export function buildRuleGraph(ruleset: Ruleset): { graph: RuleGraph; diagnostics: Diagnostic[] } {
  const graph: RuleGraph = new DirectedGraph<RuleGraphNode, RuleGraphEdge>();
  const diagnostics: Diagnostic[] = [];
  for (const table of ruleset.tables) {
    for (const chain of table.chains) {
      graph.addNode(chainKey(table.name, chain.name), {
        kind: "chain",
        table: table.name,
        chain: chain.name,
        builtin: chain.builtin,
        policy: chain.policy,
        line: chain.line,
        rules: chain.rules.length,
      });
    }
  }
  for (const table of ruleset.tables) {
    for (const chain of table.chains) {
      const self = chainKey(table.name, chain.name);
      chain.rules.forEach((rule, index) => {
        const key = ruleKey(table.name, chain.name, index + 1);
        graph.addNode(key, { kind: "rule", table: table.name, chain: chain.name, position: index + 1, line: rule.line, text: rule.text });
        if (index === 0) graph.addDirectedEdge(self, key, { kind: "entry" });
        else graph.addDirectedEdge(ruleKey(table.name, chain.name, index), key, { kind: "fallthrough" });
        const target = rule.target;
        if (target?.kind === "chain") {
          const to = chainKey(table.name, target.name);
          if (graph.hasNode(to)) graph.addDirectedEdge(key, to, { kind: target.goto ? "goto" : "jump" });
          else diagnostics.push(diagnostic("jump-to-undeclared-chain", { line: rule.line, column: target.column, length: target.name.length }, { chain: target.name }));
        } else if (target?.name === "RETURN") {
          graph.addDirectedEdge(key, self, { kind: "return" });
        }
      });
      const last = chain.rules.length > 0 ? ruleKey(table.name, chain.name, chain.rules.length) : self;
      if (last !== self) graph.addDirectedEdge(last, self, { kind: chain.builtin ? "policy" : "return" });
    }
  }
  diagnostics.push(...findJumpLoops(ruleset));
  return { graph, diagnostics };
}

/**
 * Cycles in the chain call graph (jumps and gotos), which iptables refuses to load. Iterative
 * depth-first search, so 10,000-deep chains of jumps do not overflow the stack.
 */
export function findJumpLoops(ruleset: Ruleset): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const table of ruleset.tables) {
    const calls = new Map<string, { chain: string; line: number; column: number }[]>();
    for (const chain of table.chains) {
      calls.set(
        chain.name,
        chain.rules.flatMap((r) => (r.target?.kind === "chain" ? [{ chain: r.target.name, line: r.line, column: r.target.column }] : [])),
      );
    }
    const state = new Map<string, "open" | "done">();
    for (const root of calls.keys()) {
      if (state.has(root)) continue;
      const stack: { chain: string; next: number }[] = [{ chain: root, next: 0 }];
      state.set(root, "open");
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const edges = calls.get(top.chain) ?? [];
        if (top.next >= edges.length) {
          state.set(top.chain, "done");
          stack.pop();
          continue;
        }
        const edge = edges[top.next++]!;
        if (!calls.has(edge.chain)) continue;
        const seen = state.get(edge.chain);
        if (seen === "open") {
          const start = stack.findIndex((f) => f.chain === edge.chain);
          const cycle = [...stack.slice(start).map((f) => f.chain), edge.chain].map((c) => `${table.name}/${c}`);
          diagnostics.push(diagnostic("jump-loop", { line: edge.line, column: edge.column, length: edge.chain.length }, { cycle }));
        } else if (seen === undefined) {
          state.set(edge.chain, "open");
          stack.push({ chain: edge.chain, next: 0 });
        }
      }
    }
  }
  return diagnostics;
}
