// What `diff` finds, as data: JSON-serialisable, every change pointing at its line in OLD and/or NEW.

import type { Family, Policy, TableName } from "../../model/types.js";

/** A rule of one snapshot. */
export interface RuleRef {
  /** Line in that snapshot's input. */
  line: number;
  /** 1-based position within its chain. */
  position: number;
  /** The rule as iptables-save prints it (canonical, without counters): what the comparison uses. */
  rule: string;
}

/** A chain of one snapshot. */
export interface ChainRef {
  /** Line of the `:CHAIN` declaration; 0 for a built-in chain the input left implied. */
  line: number;
  policy: Policy;
  rules: number;
}

export type RuleChange =
  | { kind: "added"; new: RuleRef }
  | { kind: "removed"; old: RuleRef }
  /** The same rule at another place in the chain, past rules that may match the same packets. */
  | { kind: "moved"; old: RuleRef; new: RuleRef }
  /**
   * The same rule at another place, having passed only rules that cannot match the same packets (different
   * protocol, addresses, ports or interfaces): no packet can tell. kube-proxy writes its service rules in Go map
   * order, so every sync shuffles KUBE-SERVICES; this is noise, not a difference.
   */
  | { kind: "reordered"; old: RuleRef; new: RuleRef };

export type RuleChangeKind = RuleChange["kind"];

export type ChainDiff =
  | { kind: "added"; chain: string; new: ChainRef; rules: RuleRef[] }
  | { kind: "removed"; chain: string; old: ChainRef; rules: RuleRef[] }
  /** In both snapshots; `changes` in NEW order (a removal where the rule stood in OLD). */
  | { kind: "changed"; chain: string; old: ChainRef; new: ChainRef; policyChanged: boolean; changes: RuleChange[] };

export interface TableDiff {
  table: TableName;
  /** A table missing on one side compares as an empty one (built-in chains ACCEPT, no rules). */
  presence: "both" | "old-only" | "new-only";
  /** Only chains with a difference (or a reordering), built-in chains first in hook order, then by name. */
  chains: ChainDiff[];
}

export interface RulesDiffSummary {
  tablesChanged: number;
  chainsAdded: number;
  chainsRemoved: number;
  policiesChanged: number;
  /** Chains in both snapshots whose rules differ. */
  chainsChanged: number;
  /** Rules added, those of added chains included. */
  rulesAdded: number;
  /** Rules removed, those of removed chains included. */
  rulesRemoved: number;
  rulesMoved: number;
  /** Not a difference: see the `reordered` change. */
  rulesReordered: number;
}

/** The rules level: tables, chains and rules compared after normalisation. */
export interface RulesDiff {
  differs: boolean;
  summary: RulesDiffSummary;
  tables: TableDiff[];
}

export interface SnapshotFamilies {
  old: Family;
  new: Family;
}
