// The flow view, gressgraph style: interfaces on an inner ring around an invisible hub, (interface, address)
// pairs on the outer ring, and every rule drawn as source → in-interface → out-interface → destination.

import type { Rule, Ruleset, Table } from "../../model/types.js";
import { FLOW_THEME, SPECTRAL, spectralByPosition } from "../palette.js";
import type { LegendItem, SceneRule, Scene, SceneEdge, SceneNode, TargetClass } from "../scene.js";
import {
  comments, compactCount, countersText, endpointAddress, inInterface, matchSummary, outInterface, ruleHover, ruleNamespace, ruleRef,
  shortChainName, sumCounters, TARGET_STYLE, targetClass, targetSummary,
} from "../rule-facts.js";
import { chooseTable, type ViewOptions, viewLimits } from "./options.js";

interface Route {
  rules: Rule[];
  source: string;
  inInterface: string;
  outInterface: string;
  destination: string;
  targetClass: TargetClass;
  label: string;
  color: string;
}

const HUB = "hub";
const interfaceId = (name: string) => `if:${name}`;
const addressId = (iface: string, address: string) => `addr:${iface}\u0000${address}`;
const moreAddressesId = (iface: string) => `more:${iface}`;
const OTHER_INTERFACES = "other interfaces";

interface RuleEnds {
  rule: Rule;
  /** Position in the table, for keeping rule order. */
  order: number;
  targetClass: TargetClass;
  label: string;
  color: string;
  inInterface: string;
  outInterface: string;
  source: string;
  destination: string;
}

/** Rules grouped by how they would be drawn, groups in order of their first rule. */
function groupRoutes(ends: readonly RuleEnds[], drawnAs: (end: RuleEnds) => RuleEnds): RuleEnds[][] {
  const groups = new Map<string, RuleEnds[]>();
  for (const end of ends) {
    const d = drawnAs(end);
    const key = [d.source, d.inInterface, d.outInterface, d.destination, d.targetClass, d.label, d.color].join("\u0000");
    const group = groups.get(key);
    if (group) group.push(end);
    else groups.set(key, [end]);
  }
  return [...groups.values()];
}

function routeLabel(rule: Rule, ruleset: Ruleset, cls: TargetClass): string {
  const matches = matchSummary(rule);
  // ACCEPT and DROP show in the arrowhead, a rule without target in its dotted line.
  const target = cls === "accept" || cls === "drop" || cls === "none" ? "" : `→${targetSummary(rule, ruleset.family)}`;
  return [`${shortChainName(rule.chain, 24)}:`, matches || (target ? "" : "all"), target].filter((p) => p !== "").join(" ");
}

/** The `limit` keys with the most rules (ties: first seen), keeping one place for the node the rest fold into. */
function keptKeys(counts: Map<string, number>, limit: number): Set<string> {
  if (counts.size <= limit) return new Set(counts.keys());
  const ranked = [...counts].map(([key, count], order) => ({ key, count, order }));
  ranked.sort((a, b) => b.count - a.count || a.order - b.order);
  return new Set(ranked.slice(0, limit - 1).map((r) => r.key));
}

export function buildFlowScene(ruleset: Ruleset, options: ViewOptions = {}): Scene {
  const limits = viewLimits(options);
  const table: Table | undefined = chooseTable(ruleset, options.table, "filter");
  const notes: string[] = [];
  let rules = table ? table.chains.flatMap((c) => c.rules) : [];
  const totalRules = rules.length;
  if (options.namespace !== undefined) {
    const namespace = options.namespace;
    rules = rules.filter((r) => ruleNamespace(r) === namespace);
    notes.push(`namespace ${namespace}: ${rules.length} of ${totalRules} rules (those whose kube-proxy comment names it)`);
  }
  const chainsShown = new Set(rules.map((r) => r.chain)).size;
  notes.unshift(
    table
      ? `table ${table.name}: ${rules.length} rule(s) in ${chainsShown} chain(s) — each rule drawn as source → in-interface → out-interface → destination`
      : "the dump has no tables",
  );

  // Routes: rules that would be drawn identically (same hops, label, target class and colour) share one route.
  // The first `limits.routes` distinct routes are drawn; addresses are then folded among those only.
  const ends: RuleEnds[] = rules.map((rule, order) => {
    const cls = targetClass(rule);
    return {
      rule, order, targetClass: cls, label: routeLabel(rule, ruleset, cls), color: spectralByPosition(rule.position),
      inInterface: inInterface(rule), outInterface: outInterface(rule), source: endpointAddress(rule, "src"), destination: endpointAddress(rule, "dst"),
    };
  });
  const rawRoutes = groupRoutes(ends, (end) => end);
  let selected = ends;
  if (rawRoutes.length > limits.routes) {
    const left = rawRoutes.slice(limits.routes).reduce((n, r) => n + r.length, 0);
    notes.push(`${left} rule(s) in ${rawRoutes.length - limits.routes} further distinct routes not drawn (limit ${limits.routes}); filter with --namespace or --table`);
    selected = rawRoutes.slice(0, limits.routes).flat().sort((a, b) => a.order - b.order);
  }

  // Interfaces and (interface, address) pairs, counted per rule occurrence as gressgraph sizes them.
  const interfaceCounts = new Map<string, number>();
  const addressCounts = new Map<string, Map<string, number>>();
  const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const end of selected) {
    bump(interfaceCounts, end.inInterface);
    bump(interfaceCounts, end.outInterface);
    for (const [iface, address] of [[end.inInterface, end.source], [end.outInterface, end.destination]] as const) {
      if (!addressCounts.has(iface)) addressCounts.set(iface, new Map());
      bump(addressCounts.get(iface)!, address);
    }
  }
  const keptInterfaces = keptKeys(interfaceCounts, limits.interfaces);
  const interfaceOf = (name: string) => (keptInterfaces.has(name) ? name : OTHER_INTERFACES);
  const keptPerInterface = new Map<string, Set<string>>();
  let foldedAddresses = 0;
  for (const [iface, counts] of addressCounts) {
    const kept = keptKeys(counts, limits.addressesPerInterface);
    keptPerInterface.set(iface, kept);
    foldedAddresses += counts.size - kept.size;
  }
  const addressNode = (iface: string, address: string) => {
    if (interfaceOf(iface) !== iface) return moreAddressesId(OTHER_INTERFACES);
    return keptPerInterface.get(iface)!.has(address) ? addressId(iface, address) : moreAddressesId(iface);
  };
  const placed = (end: RuleEnds): RuleEnds => ({
    ...end,
    source: addressNode(end.inInterface, end.source),
    destination: addressNode(end.outInterface, end.destination),
    inInterface: interfaceId(interfaceOf(end.inInterface)),
    outInterface: interfaceId(interfaceOf(end.outInterface)),
  });
  const drawn: Route[] = groupRoutes(selected, placed).map((group) => {
    const { source, inInterface: from, outInterface: to, destination, targetClass: cls, label, color } = placed(group[0]!);
    return { rules: group.map((e) => e.rule), source, inInterface: from, outInterface: to, destination, targetClass: cls, label, color };
  });
  const mergedRules = selected.length - drawn.length;
  if (mergedRules > 0) notes.push(`${mergedRules} rule(s) drawn together with an identical rule (same hops, label and colour; ×N on the label)`);
  if (foldedAddresses > 0) {
    notes.push(`${foldedAddresses} address(es) folded into "more" nodes (at most ${limits.addressesPerInterface} per interface)`);
  }
  if (keptInterfaces.size < interfaceCounts.size) {
    notes.push(`${interfaceCounts.size - keptInterfaces.size} interface(s) folded into "${OTHER_INTERFACES}"`);
  }

  // Nodes from the drawn routes only, so that sizes and hover texts describe what is on the picture. Sizes count
  // rule occurrences as gressgraph does (a rule in and out of one interface counts twice); lists hold each rule once.
  const nodeRules = new Map<string, Set<Rule>>();
  const occurrences = new Map<string, number>();
  const touch = (id: string, rule: Rule) => {
    (nodeRules.get(id) ?? nodeRules.set(id, new Set()).get(id)!).add(rule);
    bump(occurrences, id);
  };
  for (const route of drawn) {
    for (const rule of route.rules) {
      touch(route.source, rule);
      touch(route.inInterface, rule);
      touch(route.outInterface, rule);
      touch(route.destination, rule);
    }
  }
  const hasCounters = ruleset.hasRuleCounters;
  const nodes: SceneNode[] = [
    {
      id: HUB, kind: "hub", label: "", shape: "hidden", weight: 0, fill: "none", stroke: "none", textColor: FLOW_THEME.foreground,
      hover: [], search: [], rules: [], rulesOmitted: 0, emphasis: "normal",
    },
  ];
  const interfaceIds = new Set(drawn.flatMap((r) => [r.inInterface, r.outInterface]));
  for (const id of interfaceIds) {
    const name = id.slice("if:".length);
    const list = [...(nodeRules.get(id) ?? [])];
    nodes.push({
      id, kind: "interface", label: name, shape: "circle", weight: occurrences.get(id) ?? 0, parent: HUB,
      fill: FLOW_THEME.node, stroke: FLOW_THEME.nodeStroke, textColor: "#111111",
      hover: [name === "any" ? "any interface" : name === OTHER_INTERFACES ? `${interfaceCounts.size - keptInterfaces.size} other interfaces` : `interface ${name}`, `${list.length} rule(s)`],
      search: [name], ...cappedRules(list, limits.rulesPerNode), emphasis: "normal",
    });
  }
  const addressIds = new Set(drawn.flatMap((r) => [r.source, r.destination]));
  for (const id of addressIds) {
    const list = [...(nodeRules.get(id) ?? [])];
    const more = id.startsWith("more:");
    const iface = more ? id.slice("more:".length) : id.slice("addr:".length, id.indexOf("\u0000"));
    const address = more ? "" : id.slice(id.indexOf("\u0000") + 1);
    const folded = more ? (addressCounts.get(iface)?.size ?? 0) - (keptPerInterface.get(iface)?.size ?? 0) : 0;
    const label = more ? `+${iface === OTHER_INTERFACES ? "addresses on other interfaces" : `${folded} more`}` : address;
    nodes.push({
      id, kind: more ? "more" : "address", label, shape: "ellipse", weight: occurrences.get(id) ?? 0, parent: interfaceId(iface),
      fill: more ? "#bdbdbd" : FLOW_THEME.node, stroke: FLOW_THEME.nodeStroke, textColor: FLOW_THEME.foreground, dashed: more,
      hover: [more ? `${label} address(es) on ${iface}, folded to keep the picture readable` : `${address} on ${iface === "any" ? "any interface" : iface}`, `${list.length} rule(s)`],
      search: more ? [] : [address], ...cappedRules(list, limits.rulesPerNode), emphasis: "normal",
    });
  }

  const edges: SceneEdge[] = [];
  drawn.forEach((route, index) => {
    const refs = route.rules.slice(0, limits.rulesPerNode).map(ruleRef);
    const style = TARGET_STYLE[route.targetClass];
    const packets = hasCounters ? sumCounters(route.rules.map((r) => r.counters)) : undefined;
    const width = packets ? 1.4 + Math.min(3.5, Math.log10(Number(packets.packets) + 1) / 2.5) : 1.6;
    const suffix = [route.rules.length > 1 ? `×${route.rules.length}` : "", packets ? `${compactCount(packets.packets)} pkts` : ""].filter(Boolean);
    const label = [route.label, ...suffix].join(" · ");
    const hover = [...ruleHover(refs, route.rules.length), ...route.rules.flatMap((r) => comments(r).map((c) => `comment: ${c}`)).slice(0, 4)];
    if (packets) hover.push(`together: ${countersText(packets)}`);
    const search = [...new Set(route.rules.slice(0, limits.rulesPerNode).flatMap((r) => [r.chain, r.text, ...comments(r)]))];
    const base = { color: route.color, width, line: style.line, hover, search, rules: refs, rulesOmitted: route.rules.length - refs.length, emphasis: "normal" as const };
    edges.push({ ...base, id: `r${index}:src`, from: route.source, to: route.inInterface, label, arrow: "none" });
    edges.push({ ...base, id: `r${index}:through`, from: route.inInterface, to: route.outInterface, arrow: "none" });
    edges.push({ ...base, id: `r${index}:dst`, from: route.outInterface, to: route.destination, arrow: style.arrow });
  });

  return {
    view: "flow",
    layout: "radial",
    title: `iptscope flow${options.sourceName ? ` — ${options.sourceName}` : ""}`,
    notes,
    background: FLOW_THEME.background,
    foreground: FLOW_THEME.foreground,
    groups: [],
    nodes,
    edges,
    legend: flowLegend(new Set(drawn.map((r) => r.targetClass))),
    aggregated: foldedAddresses > 0 || selected.length < ends.length || keptInterfaces.size < interfaceCounts.size,
  };
}

function cappedRules(rules: readonly Rule[], limit: number): { rules: SceneRule[]; rulesOmitted: number } {
  return { rules: rules.slice(0, limit).map(ruleRef), rulesOmitted: Math.max(0, rules.length - limit) };
}

function flowLegend(present: Set<TargetClass>): LegendItem[] {
  const shown: TargetClass[] = ["accept", "drop", "reject"];
  for (const cls of present) if (!shown.includes(cls)) shown.push(cls);
  return [
    { kind: "palette", label: "rule position in its chain (1, 2, 3, …)", colors: SPECTRAL },
    ...shown.map((cls): LegendItem => ({ kind: "edge", label: TARGET_STYLE[cls].legend, color: "#ffffff", arrow: TARGET_STYLE[cls].arrow, line: TARGET_STYLE[cls].line })),
    { kind: "swatch", label: "interface (inner ring) / address on it (outer ring); size ∝ log10 rules", color: FLOW_THEME.node },
  ];
}
