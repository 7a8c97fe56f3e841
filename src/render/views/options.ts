// Options shared by the views, and the limits past which a view aggregates instead of drawing everything.

import type { NodeAddress } from "../../analysis/trace/types.js";
import type { Ruleset, Table, TableName } from "../../model/types.js";

export interface AggregationLimits {
  /** Flow: distinct rule routes drawn. */
  routes: number;
  /** Flow: interfaces on the inner ring. */
  interfaces: number;
  /** Flow: addresses per interface on the outer ring. */
  addressesPerInterface: number;
  /** Chains: chains per table drawn one by one before families of hashed chains are merged. */
  chainsPerTable: number;
  /** Chains: namespaces per chain family shown as their own node when merging. */
  namespacesPerFamily: number;
  /** Services: namespaces on the inner ring before the rest fold into one "+N namespaces" node. */
  namespaces: number;
  /** Services: frontends drawn in all, shared out among the namespaces shown. */
  frontends: number;
  /** Services: endpoints drawn per frontend before the rest fold into "+N more". */
  endpointsPerFrontend: number;
  /** Rules kept per node or edge for hover and the HTML rule panel. */
  rulesPerNode: number;
}

export const DEFAULT_LIMITS: AggregationLimits = {
  routes: 240,
  interfaces: 16,
  addressesPerInterface: 36,
  chainsPerTable: 90,
  namespacesPerFamily: 6,
  namespaces: 10,
  frontends: 96,
  endpointsPerFrontend: 8,
  rulesPerNode: 200,
};

export interface ViewOptions {
  /** Flow: the table to draw (default filter). Chains: draw only this table (default all). */
  table?: TableName;
  /** Keep only what a Kubernetes namespace's rules (kube-proxy comments `ns/…`) touch. */
  namespace?: string;
  /** Shown in the title, e.g. the file name. */
  sourceName?: string;
  /** Services: the node's addresses, for NodePorts (default: what the dump reveals). */
  nodeAddresses?: NodeAddress[];
  limits?: Partial<AggregationLimits>;
}

export function viewLimits(options: ViewOptions): AggregationLimits {
  return { ...DEFAULT_LIMITS, ...options.limits };
}

/** The requested table, else the preferred one when it has rules, else the table with the most rules. */
export function chooseTable(ruleset: Ruleset, requested: TableName | undefined, preferred: TableName): Table | undefined {
  if (requested !== undefined) return ruleset.tables.find((t) => t.name === requested);
  const ruleCount = (t: Table) => t.chains.reduce((n, c) => n + c.rules.length, 0);
  const preferredTable = ruleset.tables.find((t) => t.name === preferred);
  if (preferredTable && ruleCount(preferredTable) > 0) return preferredTable;
  return [...ruleset.tables].sort((a, b) => ruleCount(b) - ruleCount(a))[0];
}
