// The ruleset as a graph: chains and rules as nodes; entry, fall-through, jump, goto, return and
// policy edges. Built once per ruleset; also where jump loops and jumps to missing chains are found.

import { DirectedGraph } from "graphology";
import { diagnostic, type Diagnostic } from "../diagnostics.js";
import type { Policy, Ruleset, TableName } from "../model/types.js";
import { findJumpLoops } from "./jump-loops.js";

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

export { findJumpLoops };
