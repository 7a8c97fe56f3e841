// The chains view: per table, the chain call graph (nodes = chains with their rule counts and outcomes, edges =
// jumps and gotos), tables in netfilter priority order and built-in chains in hook order. Tables with more
// chains than the limit fold kube-proxy/calico style hashed chains into families, split by namespace.

import { TABLE_NAMES, type Chain, type Counters, type Rule, type Ruleset, type Table, type TableName } from "../../model/types.js";
import { CHAINS_THEME, TABLE_TINT, TARGET_COLOR } from "../palette.js";
import type { LegendItem, Scene, SceneEdge, SceneGroup, SceneNode, TargetClass } from "../scene.js";
import {
  comments, compactCount, countersText, endpointAddress, ruleHover, ruleNamespace, ruleRef, sumCounters, TARGET_CLASSES, TARGET_STYLE, targetClass,
  thousands,
} from "../rule-facts.js";
import { type AggregationLimits, type ViewOptions, viewLimits } from "./options.js";

export const chainNodeId = (table: TableName, chain: string): string => `chain:${table}\u0000${chain}`;
export const chainEdgeId = (table: TableName, from: string, to: string, goto: boolean): string =>
  `${goto ? "goto" : "jump"}:${table}\u0000${from}\u0000${to}`;

const HOOK_ORDER = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
const JUMP_COLOR = "#3d4f66";
const GOTO_COLOR = "#7b61a8";
const SEARCH_TERMS_PER_NODE = 300;

/** kube-proxy's base32 hashes (16 characters) and calico's interface/policy ids end the names of per-object chains. */
const HASHED_CHAIN = /^(.+?-)([A-Z2-7]{16}|(?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,})$/;

function chainFamily(name: string): string | undefined {
  return HASHED_CHAIN.exec(name)?.[1];
}

/** What a drawn node stands for: one chain, or a family of chains (of one namespace, or of the rest). */
interface DrawnEdge {
  from: NodePlan;
  to: NodePlan;
  goto: boolean;
  rules: Rule[];
}

interface NodePlan {
  id: string;
  table: TableName;
  kind: "chain" | "chain-group" | "more";
  label: string;
  chains: Chain[];
  builtin: boolean;
  /** Merged nodes: the family prefix (`KUBE-SEP-`) and how many namespaces they hold. */
  family?: string;
  namespaces?: number;
}

export interface ChainsSceneIndex {
  scene: Scene;
  /** The node a chain is drawn as (itself or its family), if drawn. */
  nodeFor(table: TableName, chain: string): string | undefined;
  /** The edge a jump (or goto) from one chain to another is drawn as, if drawn. */
  edgeFor(table: TableName, from: string, to: string, goto: boolean): string | undefined;
}

export function buildChainsScene(ruleset: Ruleset, options: ViewOptions = {}): Scene {
  return buildChainsSceneWithIndex(ruleset, options).scene;
}

export interface ChainsBuildOptions {
  /** Chains drawn on their own even where their family is merged (the chains a trace went through). */
  keep?: (table: TableName, chain: string) => boolean;
}

export function buildChainsSceneWithIndex(ruleset: Ruleset, options: ViewOptions = {}, build: ChainsBuildOptions = {}): ChainsSceneIndex {
  const limits = viewLimits(options);
  const tables = TABLE_NAMES.flatMap((name) => ruleset.tables.filter((t) => t.name === name)).filter(
    (t) => options.table === undefined || t.name === options.table,
  );
  const notes: string[] = [];
  const groups: SceneGroup[] = [];
  const nodes: SceneNode[] = [];
  const edges: SceneEdge[] = [];
  const drawnOf = new Map<TableName, DrawnTable>();
  const present = new Set<TargetClass>();
  let aggregated = false;
  let totalChains = 0;
  let totalRules = 0;

  for (const table of tables) {
    const facts = tableFacts(table);
    let chains = orderedChains(table, facts);
    totalChains += chains.length;
    totalRules += chains.reduce((n, c) => n + c.rules.length, 0);
    if (options.namespace !== undefined) {
      const kept = namespaceChains(table, facts, options.namespace);
      if (kept.size < chains.length) notes.push(`${table.name}: namespace ${options.namespace} — ${kept.size} of ${chains.length} chains (its chains, their callers and callees)`);
      chains = chains.filter((c) => kept.has(c.name));
    }
    // One namespace is what the reader asked to see: draw it chain by chain unless it is itself huge.
    const keep = build.keep;
    const plans = planNodes(
      table, chains, options.namespace === undefined ? limits : { ...limits, chainsPerTable: limits.chainsPerTable * 4 }, keep ? (chain) => keep(table.name, chain) : () => false,
    );
    if (plans.length < chains.length) {
      aggregated = true;
      const families = new Set(plans.flatMap((p) => (p.family === undefined ? [] : [`${p.family}*`])));
      notes.push(
        `${table.name}: ${thousands(chains.length)} chains drawn as ${plans.length} nodes — hashed chains (${[...families].join(", ")}) merged by namespace, at most ${limits.namespacesPerFamily} per family` +
          (options.namespace === undefined ? "; --namespace NS shows one namespace" : ""),
      );
    }
    // By chain index: the plan drawing the chain, -1 for chains not drawn.
    const planIndex = new Int32Array(table.chains.length).fill(-1);
    plans.forEach((plan, p) => {
      for (const chain of plan.chains) planIndex[facts.indexOf.get(chain.name)!] = p;
    });
    drawnOf.set(table.name, { facts, plans, planIndex });
    // Each plan's target-class counts, summed in one loop: families hold tens of thousands of chains.
    const planCounts = new Int32Array(plans.length * TARGET_CLASSES.length);
    for (let i = 0; i < planIndex.length; i++) {
      const p = planIndex[i]!;
      if (p < 0) continue;
      for (let k = 0; k < TARGET_CLASSES.length; k++) planCounts[p * TARGET_CLASSES.length + k]! += facts.classCounts[i * TARGET_CLASSES.length + k]!;
    }

    const tableRules = chains.reduce((n, c) => n + c.rules.length, 0);
    const tint = TABLE_TINT[table.name];
    groups.push({
      id: `table:${table.name}`,
      label: `${table.name} · ${plural(chains.length, "chain")} · ${plural(tableRules, "rule")}`,
      fill: tint.fill,
      stroke: tint.stroke,
      hover: [`table ${table.name} (line ${table.line})`, `${chains.length} chains, ${tableRules} rules`],
    });

    // Edges first: node details mention callers and entry counters. One drawn edge per (from, to, jump or goto),
    // keyed by plan numbers: a 10,000-service table has ~80,000 jumps.
    const drawn: DrawnEdge[] = [];
    const drawnByKey = new Map<number, DrawnEdge>();
    for (const chain of chains) {
      const index = facts.indexOf.get(chain.name)!;
      const from = planIndex[index]!;
      for (let j = facts.jumpStart[index]!; j < facts.jumpStart[index + 1]!; j++) {
        const callee = facts.jumpTo[j]!;
        const to = callee < 0 ? -1 : planIndex[callee]!;
        if (to < 0 || to === from) continue;
        const rule = facts.jumpRules[j]!;
        const goto = rule.target!.goto;
        const key = (from * plans.length + to) * 2 + (goto ? 1 : 0);
        const existing = drawnByKey.get(key);
        if (existing) existing.rules.push(rule);
        else {
          const edge: DrawnEdge = { from: plans[from]!, to: plans[to]!, goto, rules: [rule] };
          drawnByKey.set(key, edge);
          drawn.push(edge);
        }
      }
    }
    const callers = new Map<NodePlan, Set<string>>();
    const entries = new Map<NodePlan, Counters[]>();
    for (const edge of drawn) {
      (callers.get(edge.to) ?? callers.set(edge.to, new Set()).get(edge.to)!).add(edge.from.label);
      const count = edge.rules.length;
      const packets = ruleset.hasRuleCounters ? sumCounters(edge.rules.map((r) => r.counters)) : undefined;
      if (packets) (entries.get(edge.to) ?? entries.set(edge.to, []).get(edge.to)!).push(packets);
      const label = [count > 1 ? `×${thousands(count)}` : "", packets && packets.packets !== "0" ? `${compactCount(packets.packets)} pkts` : ""]
        .filter(Boolean)
        .join(" · ");
      const refs = edge.rules.slice(0, limits.rulesPerNode).map(ruleRef);
      edges.push({
        id: drawnEdgeId(table.name, edge.from, edge.to, edge.goto),
        from: edge.from.id,
        to: edge.to.id,
        ...(label ? { label } : {}),
        labelColor: "#333333",
        color: edge.goto ? GOTO_COLOR : JUMP_COLOR,
        width: Math.min(4.5, 1.1 + 0.9 * Math.log10(count)),
        line: edge.goto ? "dashed" : "solid",
        arrow: "vee",
        hover: [`${edge.goto ? "goto" : "jump"}: ${plural(count, "rule")}`, ...ruleHover(refs, count)],
        search: [],
        rules: refs,
        rulesOmitted: count - refs.length,
        emphasis: "normal",
      });
    }

    for (const [p, plan] of plans.entries()) {
      const counts = planCounts.subarray(p * TARGET_CLASSES.length, (p + 1) * TARGET_CLASSES.length);
      const node = chainNode(plan, table, counts, ruleset, limits, callers.get(plan), entries.get(plan));
      for (const cls of Object.keys(node.verdicts ?? {}) as TargetClass[]) present.add(cls);
      nodes.push(node);
    }
  }

  notes.unshift(
    tables.length === 0
      ? options.table !== undefined ? `table ${options.table} is not in the dump` : "the dump has no tables"
      : `${tables.map((t) => t.name).join(", ")}: ${plural(totalChains, "chain")}, ${plural(totalRules, "rule")} — tables in netfilter priority order (raw → mangle → nat → filter → security), built-in chains in hook order, columns by call depth`,
  );
  const scene: Scene = {
    view: "chains",
    layout: "bands",
    title: `iptscope chains${options.sourceName ? ` — ${options.sourceName}` : ""}`,
    notes,
    background: CHAINS_THEME.background,
    foreground: CHAINS_THEME.foreground,
    groups,
    nodes,
    edges,
    legend: chainsLegend(present, tables.map((t) => t.name), aggregated),
    aggregated,
  };
  return {
    scene,
    nodeFor: (table, chain) => drawnPlan(drawnOf.get(table), chain)?.id,
    edgeFor: (table, from, to, goto) => {
      const fromPlan = drawnPlan(drawnOf.get(table), from);
      const toPlan = drawnPlan(drawnOf.get(table), to);
      return fromPlan && toPlan && fromPlan !== toPlan ? drawnEdgeId(table, fromPlan, toPlan, goto) : undefined;
    },
  };
}

/** An edge between two drawn nodes: named after the chains when both are single chains. */
function drawnEdgeId(table: TableName, from: NodePlan, to: NodePlan, goto: boolean): string {
  return from.kind === "chain" && to.kind === "chain"
    ? chainEdgeId(table, from.label, to.label, goto)
    : `${goto ? "goto" : "jump"}:${from.id}\u0000${to.id}`;
}

/** A table as drawn: by chain index, the plan drawing the chain (-1: not drawn). */
interface DrawnTable {
  facts: TableFacts;
  plans: readonly NodePlan[];
  planIndex: Int32Array;
}

function drawnPlan(drawn: DrawnTable | undefined, chain: string): NodePlan | undefined {
  const index = drawn?.facts.indexOf.get(chain);
  return index === undefined ? undefined : drawn!.plans[drawn!.planIndex[index]!];
}

const CLASS_INDEX = Object.fromEntries(TARGET_CLASSES.map((cls, i) => [cls, i])) as Record<TargetClass, number>;

/**
 * One pass over a table's rules, by chain index: what each chain's rules do (counts per target class) and whom
 * they call. A 10,000-service table has ~40,000 chains, ~110,000 rules and ~80,000 jumps.
 */
interface TableFacts {
  indexOf: Map<string, number>;
  /** TARGET_CLASSES.length counts per chain, in TARGET_CLASSES order. */
  classCounts: Int32Array;
  /** Chain i's jumps and gotos are jumpRules[jumpStart[i]] … jumpRules[jumpStart[i + 1] - 1], in rule order. */
  jumpStart: Int32Array;
  jumpRules: Rule[];
  /** The index of the chain each jump goes to; -1 when the table has no such chain. */
  jumpTo: Int32Array;
  called: Uint8Array;
}

function tableFacts(table: Table): TableFacts {
  const chains = table.chains;
  const indexOf = new Map<string, number>();
  chains.forEach((chain, i) => indexOf.set(chain.name, i));
  const classCounts = new Int32Array(chains.length * TARGET_CLASSES.length);
  const jumpStart = new Int32Array(chains.length + 1);
  const jumpRules: Rule[] = [];
  const jumpTo: number[] = [];
  const called = new Uint8Array(chains.length);
  chains.forEach((chain, i) => {
    jumpStart[i] = jumpRules.length;
    for (const rule of chain.rules) {
      const cls = targetClass(rule);
      classCounts[i * TARGET_CLASSES.length + CLASS_INDEX[cls]]!++;
      if (cls !== "jump" && cls !== "goto") continue;
      const callee = indexOf.get(rule.target!.name) ?? -1;
      jumpRules.push(rule);
      jumpTo.push(callee);
      if (callee >= 0) called[callee] = 1;
    }
  });
  jumpStart[chains.length] = jumpRules.length;
  return { indexOf, classCounts, jumpStart, jumpRules, jumpTo: Int32Array.from(jumpTo), called };
}

/** Built-in chains in hook order, then called user chains, then uncalled ones, each in declaration order. */
function orderedChains(table: Table, facts: TableFacts): Chain[] {
  const hookIndex = (c: Chain) => (c.builtin ? HOOK_ORDER.indexOf(c.name) : HOOK_ORDER.length);
  const builtins = table.chains.filter((c) => c.builtin).sort((a, b) => hookIndex(a) - hookIndex(b));
  const called: Chain[] = [];
  const uncalled: Chain[] = [];
  table.chains.forEach((c, i) => {
    if (!c.builtin) (facts.called[i] ? called : uncalled).push(c);
  });
  return [...builtins, ...called, ...uncalled];
}

/**
 * The namespace's own chains (every namespaced rule in them is of the namespace) with their callers and callees,
 * plus shared chains (KUBE-SERVICES …) that mention it, without expanding those to other namespaces.
 */
function namespaceChains(table: Table, facts: TableFacts, namespace: string): Set<string> {
  // By name, as jumps name them: a jump to a chain the dump lacks still counts as a callee.
  const callers = new Map<string, string[]>();
  const callees = new Map<string, string[]>();
  table.chains.forEach((chain, i) => {
    for (let j = facts.jumpStart[i]!; j < facts.jumpStart[i + 1]!; j++) {
      const target = facts.jumpRules[j]!.target!.name;
      (callers.get(target) ?? callers.set(target, []).get(target)!).push(chain.name);
      (callees.get(chain.name) ?? callees.set(chain.name, []).get(chain.name)!).push(target);
    }
  });
  const seeds: string[] = [];
  const kept = new Set<string>(table.chains.filter((c) => c.builtin).map((c) => c.name));
  for (const chain of table.chains) {
    const namespaces = new Set(chain.rules.map(ruleNamespace).filter((n) => n !== undefined));
    if (!namespaces.has(namespace)) continue;
    if (namespaces.size === 1) seeds.push(chain.name);
    else kept.add(chain.name);
  }
  const walk = (next: Map<string, string[]>) => {
    const stack = [...seeds];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      kept.add(node);
      for (const neighbour of next.get(node) ?? []) stack.push(neighbour);
    }
  };
  walk(callers);
  walk(callees);
  return kept;
}

function chainNamespace(chain: Chain): string | undefined {
  for (const rule of chain.rules) {
    const namespace = ruleNamespace(rule);
    if (namespace !== undefined) return namespace;
  }
  return undefined;
}

function planNodes(table: Table, chains: readonly Chain[], limits: AggregationLimits, keep: (chain: string) => boolean): NodePlan[] {
  const single = (chain: Chain): NodePlan => ({
    id: chainNodeId(table.name, chain.name), table: table.name, kind: "chain", label: chain.name, chains: [chain], builtin: chain.builtin,
  });
  if (chains.length <= limits.chainsPerTable) return chains.map(single);
  const plans: NodePlan[] = [];
  const families = new Map<string, Map<string, Chain[]>>();
  const namespaceSize = new Map<string, number>();
  for (const chain of chains) {
    const family = chain.builtin || keep(chain.name) ? undefined : chainFamily(chain.name);
    if (family === undefined) {
      plans.push(single(chain));
      continue;
    }
    const namespace = chainNamespace(chain) ?? "";
    namespaceSize.set(namespace, (namespaceSize.get(namespace) ?? 0) + 1);
    const byNamespace = families.get(family) ?? families.set(family, new Map()).get(family)!;
    (byNamespace.get(namespace) ?? byNamespace.set(namespace, []).get(namespace)!).push(chain);
  }
  // The same namespaces in every family, so that one namespace's SVC, SEP, EXT … nodes line up.
  const ranked = [...namespaceSize].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([namespace]) => namespace);
  const shown = new Set(ranked.length <= limits.namespacesPerFamily ? ranked : ranked.slice(0, limits.namespacesPerFamily - 1));
  for (const [family, byNamespace] of families) {
    const rest: Chain[] = [];
    let restNamespaces = 0;
    for (const namespace of ranked) {
      const members = byNamespace.get(namespace);
      if (!members) continue;
      if (!shown.has(namespace)) {
        rest.push(...members);
        restNamespaces++;
        continue;
      }
      plans.push({
        id: `group:${table.name}\u0000${family}\u0000${namespace}`, table: table.name, kind: "chain-group",
        label: `${family}* ${namespace || "(no namespace)"}`, chains: members, builtin: false, family, namespaces: 1,
      });
    }
    if (rest.length > 0) {
      plans.push({
        id: `more:${table.name}\u0000${family}`, table: table.name, kind: "more",
        label: `${family}* +${restNamespaces} namespaces`, chains: rest, builtin: false, family, namespaces: restNamespaces,
      });
    }
  }
  return plans;
}

/** A drawn node; `counts`: its rules' target classes, in TARGET_CLASSES order. */
function chainNode(
  plan: NodePlan, table: Table, counts: Int32Array, ruleset: Ruleset, limits: AggregationLimits, callers: Set<string> | undefined, entries: Counters[] | undefined,
): SceneNode {
  // Families hold tens of thousands of rules: keep only the first few.
  const firstRules: Rule[] = [];
  for (const member of plan.chains) {
    for (let i = 0; i < member.rules.length && firstRules.length < limits.rulesPerNode; i++) firstRules.push(member.rules[i]!);
    if (firstRules.length >= limits.rulesPerNode) break;
  }
  const verdicts: Partial<Record<TargetClass, number>> = {};
  let ruleCount = 0;
  TARGET_CLASSES.forEach((cls, k) => {
    if (counts[k]! > 0) verdicts[cls] = counts[k]!;
    ruleCount += counts[k]!;
  });
  const tint = TABLE_TINT[table.name];
  const chain = plan.chains[0]!;
  const counters = ruleset.hasRuleCounters;
  const detailParts = [plan.kind === "chain" ? plural(ruleCount, "rule") : `${plural(plan.chains.length, "chain")} · ${plural(ruleCount, "rule")}`];
  if (plan.builtin) detailParts.push(`policy ${chain.policy}${counters ? ` ${compactCount(chain.counters.packets)} pkts` : ""}`);
  else if (counters && entries) {
    const entered = sumCounters(entries);
    if (entered) detailParts.push(`in ${compactCount(entered.packets)} pkts`);
  }
  const hover = [
    plan.kind === "chain"
      ? `${table.name} ${plan.builtin ? "built-in" : "user"} chain ${chain.name}${chain.line > 0 ? ` (line ${chain.line})` : ""}`
      : `${table.name}: ${plan.chains.length} chains ${plan.label}${plan.namespaces && plan.namespaces > 1 ? ` (${plan.namespaces} namespaces)` : ""}`,
    `${ruleCount} rule(s)${plan.builtin ? `, policy ${chain.policy}${counters ? ` [${countersText(chain.counters)}]` : ""}` : ""}`,
  ];
  if (callers && callers.size > 0) hover.push(`called from: ${[...callers].slice(0, 6).join(", ")}${callers.size > 6 ? ", …" : ""}`);
  else if (!plan.builtin) hover.push("not called from any drawn chain");
  hover.push(...ruleHover(firstRules.slice(0, 12).map(ruleRef), ruleCount, 12));
  return {
    id: plan.id,
    kind: plan.kind,
    label: plan.label,
    detail: detailParts.join(" · "),
    shape: "box",
    weight: ruleCount,
    group: `table:${table.name}`,
    anchor: plan.builtin,
    fill: plan.builtin ? tint.strong : plan.kind === "chain" ? "#ffffff" : "#f1f1f1",
    stroke: plan.builtin ? "#333333" : plan.kind === "chain" ? "#8a8a8a" : "#555555",
    textColor: "#1a1a1a",
    dashed: !plan.builtin && (!callers || callers.size === 0),
    verdicts,
    hover,
    search: searchTerms(plan, firstRules),
    rules: firstRules.map(ruleRef),
    rulesOmitted: ruleCount - firstRules.length,
    emphasis: "normal",
  };
}

function plural(count: number, noun: string): string {
  return `${thousands(count)} ${noun}${count === 1 ? "" : "s"}`;
}

function searchTerms(plan: NodePlan, rules: readonly Rule[]): string[] {
  const terms = new Set<string>([plan.label, ...plan.chains.slice(0, 50).map((c) => c.name)]);
  for (const rule of rules) {
    if (terms.size >= SEARCH_TERMS_PER_NODE) break;
    for (const comment of comments(rule)) terms.add(comment);
    for (const side of ["src", "dst"] as const) {
      const address = endpointAddress(rule, side);
      if (address !== "anywhere") terms.add(address);
    }
  }
  return [...terms];
}

function chainsLegend(present: Set<TargetClass>, tables: readonly TableName[], merged: boolean): LegendItem[] {
  const items: LegendItem[] = tables.map((t) => ({ kind: "swatch", label: `built-in chain of ${t}`, color: TABLE_TINT[t].strong }));
  items.push({ kind: "swatch", label: "user chain (dashed: never called)", color: "#ffffff" });
  if (merged) items.push({ kind: "swatch", label: "merged chains (a family, per namespace)", color: "#f1f1f1" });
  items.push({ kind: "edge", label: "jump (-j), width ∝ log10 rules", color: JUMP_COLOR, arrow: "vee", line: "solid" });
  items.push({ kind: "edge", label: "goto (-g)", color: GOTO_COLOR, arrow: "vee", line: "dashed" });
  for (const cls of Object.keys(TARGET_STYLE) as TargetClass[]) {
    if (present.has(cls)) items.push({ kind: "swatch", label: `bar: ${TARGET_STYLE[cls].legend}`, color: TARGET_COLOR[cls] });
  }
  return items;
}
