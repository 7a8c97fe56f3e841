// The services view: a radial map of the node's Kubernetes Services. An invisible hub, namespaces on the inner
// ring, the service frontends (ClusterIP, NodePort, external and load-balancer addresses) around them, and the
// endpoints each frontend DNATs to on the outer ring, edge width by the share of new connections. Shares come
// from the tracer (resolveServiceMap), for the drawn services only: big dumps fold namespaces, service ports and
// endpoints into "+N more" nodes and say so.

import { readServiceMap, resolveServiceMap } from "../../analysis/kube/index.js";
import type { EndpointShare, Frontend, FrontendKind, FrontendResolution, ServiceMap, ServicePort } from "../../analysis/kube/types.js";
import type { Verdict } from "../../analysis/trace/types.js";
import type { Tracer } from "../../analysis/trace/walk.js";
import type { Chain, Rule, Ruleset } from "../../model/types.js";
import { truncate } from "../escape.js";
import { EXPOSED_STROKE, FLOW_THEME, NAMESPACE_COLORS, NO_ENDPOINTS, tint } from "../palette.js";
import { ruleHover, ruleRef, thousands } from "../rule-facts.js";
import type { ArrowKind, LegendItem, LineStyle, Scene, SceneEdge, SceneNode, SceneRule } from "../scene.js";
import { formatProbability } from "../scene.js";
import { frontendLabel, masqueradeWords, resolutionText } from "../services-text.js";
import { viewLimits, type AggregationLimits, type ViewOptions } from "./options.js";

const HUB = "hub";
const NO_NAMESPACE = "(no namespace)";
const SERVICE_LABEL_LENGTH = 36;
const SEARCH_RULES = 20;
/** The service map's own notes (names read from chains, ignored rules, node addresses) shown under the title. */
const MAP_NOTES = 4;

export const namespaceNodeId = (namespace: string): string => `ns:${namespace}`;
export const frontendNodeId = (service: ServicePort, frontendIndex: number): string => `fe:${service.hash}\u0000${frontendIndex}`;
export const servicesEdgeId = (from: string, to: string): string => `link:${from}\u0000${to}`;

export interface ServicesSceneIndex {
  scene: Scene;
  /** The service map of the drawn services, their frontends resolved. */
  map: ServiceMap;
  /** The node a namespace is drawn as (itself, or "+N namespaces"). */
  namespaceNode(namespace: string | undefined): string;
  /** The node of a frontend, if it is drawn on its own (not folded into "+N more"). */
  frontendNode(frontend: Frontend): string | undefined;
  /** Where a frontend's new connections to an endpoint address are drawn (the endpoint, or its "+N more"). */
  endpointNode(frontend: Frontend, address: string): string | undefined;
  /** The node showing a frontend's non-translated outcome with this verdict (REJECT for no endpoints …). */
  verdictNode(frontend: Frontend, verdict: Verdict): string | undefined;
}

export interface ServicesBuildOptions {
  /** Picks service ports to draw on their own even when their namespace is folded or full (a traced service). */
  keep?: (services: readonly ServicePort[]) => readonly ServicePort[];
  /** Resolves the drawn frontends (a trace's tracer, whose compiled chains are then shared). */
  tracer?: Tracer;
}

interface NamespacePlan {
  name: string;
  services: ServicePort[];
  frontends: number;
  color: string;
}

export function buildServicesScene(ruleset: Ruleset, options: ViewOptions = {}): Scene {
  return buildServicesSceneWithIndex(ruleset, options).scene;
}

export function buildServicesSceneWithIndex(ruleset: Ruleset, options: ViewOptions = {}, build: ServicesBuildOptions = {}): ServicesSceneIndex {
  const limits = viewLimits(options);
  const map = readServiceMap(ruleset, options.nodeAddresses ? { nodeAddresses: options.nodeAddresses } : {});
  const namespaceOf = (service: ServicePort) => service.name.namespace ?? NO_NAMESPACE;
  const kept = new Set(build.keep?.(map.services) ?? []);
  const keep = (service: ServicePort) => kept.has(service);
  const notes: string[] = [];

  let services = map.services;
  if (options.namespace !== undefined) {
    services = services.filter((s) => namespaceOf(s) === options.namespace);
    notes.push(`namespace ${options.namespace}: ${plural(services.length, "service port")} of ${thousands(map.services.length)}`);
  }
  const byNamespace = new Map<string, ServicePort[]>();
  for (const service of services) {
    const name = namespaceOf(service);
    (byNamespace.get(name) ?? byNamespace.set(name, []).get(name)!).push(service);
  }
  const ranked = [...byNamespace].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  const shownNamespaces = ranked.length <= limits.namespaces ? ranked : [
    ...ranked.slice(0, limits.namespaces - 1),
    ...ranked.slice(limits.namespaces - 1).filter(([, list]) => list.some(keep)),
  ];
  const shownNames = new Set(shownNamespaces.map(([name]) => name));
  // Colours go to the drawn namespaces in name order: distinct (up to the palette's size) and stable as counts change.
  const colorOf = new Map([...shownNames].sort().map((name, i) => [name, NAMESPACE_COLORS[i % NAMESPACE_COLORS.length]!]));
  const foldedNamespaces = ranked.filter(([name]) => !shownNames.has(name));
  const perNamespace = Math.max(4, Math.floor((options.namespace === undefined ? limits.frontends : limits.frontends * 4) / Math.max(1, shownNamespaces.length)));
  const plans: NamespacePlan[] = shownNamespaces.map(([name, list]) => {
    const drawn: ServicePort[] = [];
    let frontends = 0;
    for (const service of list) {
      if (keep(service) || drawn.length === 0 || frontends + service.frontends.length <= perNamespace) {
        drawn.push(service);
        frontends += service.frontends.length;
      }
    }
    return { name, services: drawn, frontends, color: colorOf.get(name)! };
  });

  // Only what is drawn is traced: a 10,000-service dump draws about a hundred frontends.
  const drawnServices = plans.flatMap((p) => p.services);
  const resolved = resolveServiceMap(ruleset, { ...map, services: drawnServices }, build.tracer ? { tracer: build.tracer } : {});
  const rules = new RuleFinder(ruleset, new Set(drawnServices.flatMap((s) => s.frontends.map((f) => f.line))));
  const builder = new SceneBuilder(limits, rules, map);

  for (const plan of plans) {
    const all = byNamespace.get(plan.name)!;
    const namespaceId = builder.namespace(plan, all);
    for (const service of plan.services) service.frontends.forEach((frontend, i) => builder.frontend(namespaceId, plan, service, frontend, i));
    const drawn = new Set(plan.services);
    const folded = all.filter((s) => !drawn.has(s));
    if (folded.length > 0) builder.moreServices(namespaceId, plan, folded);
  }
  if (foldedNamespaces.length > 0) builder.moreNamespaces(foldedNamespaces.map(([name, list]) => ({ name, services: list })));

  const frontendCount = services.reduce((n, s) => n + s.frontends.length, 0);
  const drawnFrontends = drawnServices.reduce((n, s) => n + s.frontends.length, 0);
  notes.unshift(
    map.services.length === 0
      ? "no kube-proxy (iptables mode) service rules in this dump"
      : `${plural(services.length, "service port")}, ${plural(frontendCount, "frontend")} in ${plural(byNamespace.size, "namespace")} — hub → namespace → frontend → endpoint; edge width: share of new connections from a client off the cluster (the tracer's)`,
  );
  if (drawnFrontends < frontendCount) {
    notes.push(
      `aggregated: ${plural(drawnFrontends, "frontend")} of ${thousands(frontendCount)} drawn` +
        (foldedNamespaces.length > 0 ? `, ${plural(foldedNamespaces.length, "namespace")} folded into "+N namespaces"` : "") +
        `, the other service ports of each namespace into "+N service ports"` +
        (options.namespace === undefined ? "; --namespace NS shows one namespace" : ""),
    );
  }
  if (builder.foldedEndpoints > 0) notes.push(`${thousands(builder.foldedEndpoints)} endpoint(s) folded into "+N more" nodes (at most ${limits.endpointsPerFrontend} per frontend)`);
  const mapNotes = map.notes.filter((n) => n.kind !== "no-kube-proxy-rules");
  notes.push(...mapNotes.slice(0, MAP_NOTES).map((n) => n.message));
  if (mapNotes.length > MAP_NOTES) notes.push(`… ${mapNotes.length - MAP_NOTES} more note(s): see iptscope services`);
  if (services.length === 0) {
    if (map.services.length === 0) builder.empty("no Kubernetes services in this dump", "no kube-proxy (iptables mode) service rules");
    else builder.empty(`no services in namespace ${options.namespace}`, `${plural(map.services.length, "service port")} in other namespaces`);
  }

  const scene: Scene = {
    view: "services",
    layout: "radial",
    title: `iptscope services${options.sourceName ? ` — ${options.sourceName}` : ""}`,
    notes,
    background: FLOW_THEME.background,
    foreground: FLOW_THEME.foreground,
    groups: [],
    nodes: builder.nodes,
    edges: builder.edges,
    // Nothing drawn, nothing to explain: the one box says why.
    legend: services.length === 0 ? [] : servicesLegend(plans, foldedNamespaces.length > 0, builder),
    aggregated: drawnFrontends < frontendCount || builder.foldedEndpoints > 0,
  };
  const frontendIds = builder.frontendIds;
  return {
    scene,
    map: resolved,
    namespaceNode: (namespace) => {
      const name = namespace ?? NO_NAMESPACE;
      return shownNames.has(name) ? namespaceNodeId(name) : MORE_NAMESPACES;
    },
    frontendNode: (frontend) => frontendIds.get(frontend),
    endpointNode: (frontend, address) => {
      const id = frontendIds.get(frontend);
      return id === undefined ? undefined : builder.endpointIds.get(id)?.get(address);
    },
    verdictNode: (frontend, verdict) => {
      const id = frontendIds.get(frontend);
      return id === undefined ? undefined : builder.verdictIds.get(id)?.get(verdict);
    },
  };
}

const MORE_NAMESPACES = "more:namespaces";

function plural(count: number, noun: string): string {
  return `${thousands(count)} ${noun}${count === 1 ? "" : "s"}`;
}

function kindTag(kind: FrontendKind): string {
  switch (kind) {
    case "clusterIP":
      return "";
    case "nodePort":
      return "NodePort ";
    case "externalIP":
      return "ExternalIP ";
    case "loadBalancerIP":
      return "LB ";
    case "externalOrLoadBalancerIP":
      return "External/LB ";
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown frontend kind ${String(unreachable)}`);
    }
  }
}

/** The service port as the map shows it inside its namespace: `name:port`, or the chain standing in for it. */
function serviceLabel(service: ServicePort): string {
  const name = service.name;
  const short = name.name !== undefined ? `${name.name}${name.portName ? `:${name.portName}` : ""}` : name.key;
  return truncate(short, SERVICE_LABEL_LENGTH);
}

/** The rules that define the drawn frontends (by line), and nat chains by name (service and endpoint chains). */
class RuleFinder {
  private readonly byLine = new Map<number, Rule>();
  private natChains: Map<string, Chain> | undefined;
  constructor(
    private readonly ruleset: Ruleset,
    definitions: ReadonlySet<number>,
  ) {
    // Only the lines wanted are kept: a 10,000-service dump has over 100,000 rules.
    for (const table of ruleset.tables) for (const chain of table.chains) for (const rule of chain.rules) if (definitions.has(rule.line)) this.byLine.set(rule.line, rule);
  }

  line(line: number): Rule | undefined {
    return this.byLine.get(line);
  }

  chain(name: string | undefined): Chain | undefined {
    if (name === undefined) return undefined;
    if (!this.natChains) this.natChains = new Map(this.ruleset.tables.find((t) => t.name === "nat")?.chains.map((c) => [c.name, c]) ?? []);
    return this.natChains.get(name);
  }
}

class SceneBuilder {
  readonly nodes: SceneNode[] = [
    { id: HUB, kind: "hub", label: "", shape: "hidden", weight: 0, fill: "none", stroke: "none", textColor: FLOW_THEME.foreground, hover: [], search: [], rules: [], rulesOmitted: 0, emphasis: "normal" },
  ];
  readonly edges: SceneEdge[] = [];
  readonly frontendIds = new Map<Frontend, string>();
  readonly endpointIds = new Map<string, Map<string, string>>();
  readonly verdictIds = new Map<string, Map<Verdict, string>>();
  foldedEndpoints = 0;
  exposed = false;
  noEndpoints = false;
  /** Some endpoint's translated connections are then dropped or rejected (by a filter rule, say). */
  blockedEndpoint = false;
  verdicts = new Set<Verdict>();

  constructor(
    private readonly limits: AggregationLimits,
    private readonly rules: RuleFinder,
    private readonly map: ServiceMap,
  ) {}

  private capped(list: readonly Rule[]): { rules: SceneRule[]; rulesOmitted: number } {
    return { rules: list.slice(0, this.limits.rulesPerNode).map(ruleRef), rulesOmitted: Math.max(0, list.length - this.limits.rulesPerNode) };
  }

  namespace(plan: NamespacePlan, all: readonly ServicePort[]): string {
    const id = namespaceNodeId(plan.name);
    const frontends = all.reduce((n, s) => n + s.frontends.length, 0);
    const endpoints = all.reduce((n, s) => n + s.endpoints.length, 0);
    const empty = all.filter((s) => s.state === "no-endpoints").length;
    const defining = plan.services.flatMap((s) => s.frontends.map((f) => this.rules.line(f.line))).filter((r): r is Rule => r !== undefined);
    this.nodes.push({
      id, kind: "namespace", label: plan.name, shape: "circle", weight: frontends, parent: HUB,
      fill: plan.color, stroke: "#333333", textColor: "#111111",
      hover: [`namespace ${plan.name}`, `${plural(all.length, "service port")}, ${plural(frontends, "frontend")}, ${plural(endpoints, "endpoint")}`, ...(empty > 0 ? [`${empty} without endpoints (REJECT)`] : [])],
      search: [plan.name], ...this.capped(defining), emphasis: "normal",
    });
    return id;
  }

  frontend(namespaceId: string, plan: NamespacePlan, service: ServicePort, frontend: Frontend, index: number): void {
    const id = frontendNodeId(service, index);
    this.frontendIds.set(frontend, id);
    const exposed = frontend.kind !== "clusterIP";
    const empty = service.state === "no-endpoints";
    this.exposed ||= exposed;
    this.noEndpoints ||= empty;
    const address = frontendLabel(frontend, this.map.family);
    const defining = this.rules.line(frontend.line);
    const chainRules = [service.chains.fw, service.chains.ext, service.chains.xlb, service.chains.svc, service.chains.svl].flatMap((name) => this.rules.chain(name)?.rules ?? []);
    const list = defining ? [defining, ...chainRules] : chainRules;
    const resolution = frontend.resolutions[0];
    const hover = [
      `${service.name.key} — ${kindTag(frontend.kind) || "ClusterIP "}${address}`,
      `type ${service.type} · externalTrafficPolicy ${service.externalTrafficPolicy} · internalTrafficPolicy ${service.internalTrafficPolicy}`,
    ];
    if (empty) hover.push("no endpoints: kube-proxy REJECTs new connections");
    if (service.state === "no-local-endpoints") hover.push("no local endpoints: kube-proxy DROPs traffic that must stay on this node");
    if (service.affinity) hover.push(`session affinity ClientIP, ${service.affinity.seconds} s`);
    if (frontend.sourceRanges) hover.push(`loadBalancerSourceRanges ${frontend.sourceRanges.join(", ")}`);
    hover.push(masqueradeWords(frontend.masquerade));
    for (const r of frontend.resolutions) hover.push(`from ${r.client === "off-cluster" ? "a client off the cluster" : `a ${r.client}`} (${r.source}): ${resolutionText(service, r)}${r.uncertain ? " (uncertain: see where --verbose)" : ""}`);
    hover.push(...ruleHover(list.slice(0, 6).map(ruleRef), list.length, 6));
    this.nodes.push({
      id, kind: "frontend", label: serviceLabel(service), detail: `${kindTag(frontend.kind)}${address}`, shape: "box", weight: service.endpoints.length, parent: namespaceId,
      fill: empty ? NO_ENDPOINTS.fill : tint(plan.color, 0.55), stroke: exposed ? EXPOSED_STROKE : empty ? NO_ENDPOINTS.stroke : "#333333",
      ...(exposed ? { strokeWidth: 3 } : empty ? { strokeWidth: 2 } : {}),
      textColor: "#111111",
      hover,
      search: [service.name.key, address, frontend.address ?? "", ...Object.values(service.chains), ...list.slice(0, SEARCH_RULES).map((r) => r.text)].filter(Boolean),
      ...this.capped(list), emphasis: "normal",
    });
    this.link(namespaceId, id, plan.color, 1.4, "none", "solid", [`${plan.name} → ${service.name.key} ${address}`]);
    if (resolution) this.outcomes(id, plan, service, frontend, resolution);
  }

  private outcomes(frontendId: string, plan: NamespacePlan, service: ServicePort, frontend: Frontend, resolution: FrontendResolution): void {
    const shown = resolution.endpoints.length <= this.limits.endpointsPerFrontend ? resolution.endpoints : resolution.endpoints.slice(0, this.limits.endpointsPerFrontend - 1);
    const ids = new Map<string, string>();
    this.endpointIds.set(frontendId, ids);
    for (const share of shown) {
      const id = `ep:${frontendId}\u0000${share.address}`;
      ids.set(share.address, id);
      const endpoint = service.endpoints.find((e) => e.address === share.address);
      const list = this.rules.chain(share.chain)?.rules ?? [];
      const hover = [`endpoint ${share.address} of ${service.name.key}${share.local === true ? " (on this node)" : share.local === false ? " (on another node)" : ""}`, `${formatProbability(share.probability)} of new connections to ${frontendLabel(frontend, this.map.family)}`];
      if (share.masquerade) hover.push(`masqueraded${share.masqueradeUncertain ? " (for some clients)" : ""}`);
      if (share.blocked) {
        hover.push(`then ${share.blocked.uncertain ? "maybe " : ""}${share.blocked.verdict} (${formatProbability(share.blocked.probability)})`);
        this.blockedEndpoint = true;
      }
      hover.push(...ruleHover(list.map(ruleRef)));
      this.nodes.push({
        id, kind: "endpoint", label: `${share.address} · ${formatProbability(share.probability)}`, shape: "ellipse", weight: shareWeight(share.probability), parent: frontendId,
        fill: plan.color, stroke: "#333333", textColor: FLOW_THEME.foreground, dashed: share.local === false,
        hover, search: [share.address, endpoint?.ip ?? "", service.name.key, share.chain ?? ""].filter(Boolean), ...this.capped(list), emphasis: "normal",
      });
      this.link(frontendId, id, share.blocked ? NO_ENDPOINTS.strong : plan.color, shareWidth(share.probability), share.blocked ? "tee" : "normal", "solid", [`${service.name.key} → ${share.address}: ${formatProbability(share.probability)}`]);
    }
    const rest = resolution.endpoints.slice(shown.length);
    if (rest.length > 0) this.moreEndpoints(frontendId, plan, service, rest, ids);
    const verdictIds = new Map<Verdict, string>();
    this.verdictIds.set(frontendId, verdictIds);
    for (const other of resolution.other) {
      const id = `verdict:${frontendId}\u0000${other.verdict}\u0000${other.delivery ?? ""}`;
      if (!verdictIds.has(other.verdict)) verdictIds.set(other.verdict, id);
      const blocked = other.verdict === "REJECT" || other.verdict === "DROP";
      const why = other.verdict === "REJECT" && service.state === "no-endpoints" ? "no endpoints: " : other.verdict === "DROP" && service.state === "no-local-endpoints" ? "no local endpoints: " : "";
      const what = other.verdict === "ACCEPT" ? `not translated (${other.delivery === "local" ? "to the node" : "goes on"})` : other.verdict;
      this.verdicts.add(other.verdict);
      this.nodes.push({
        id, kind: "verdict", label: `${why}${what} · ${formatProbability(other.probability)}`, shape: "ellipse", weight: shareWeight(other.probability), parent: frontendId,
        fill: blocked ? NO_ENDPOINTS.strong : "#d9d9d9", stroke: "#333333", textColor: blocked ? "#ffd0c8" : FLOW_THEME.foreground,
        hover: [`${service.name.key} ${frontendLabel(frontend, this.map.family)}: ${why}${what}, ${formatProbability(other.probability)} of new connections`], search: [service.name.key], rules: [], rulesOmitted: 0, emphasis: "normal",
      });
      const arrow: ArrowKind = other.verdict === "REJECT" ? "reject" : other.verdict === "DROP" ? "tee" : "normal";
      this.link(frontendId, id, blocked ? NO_ENDPOINTS.strong : "#e0e0e0", shareWidth(other.probability), arrow, other.verdict === "REJECT" ? "dashed" : "solid", [`${service.name.key}: ${what} ${formatProbability(other.probability)}`]);
    }
  }

  private moreEndpoints(frontendId: string, plan: NamespacePlan, service: ServicePort, rest: readonly EndpointShare[], ids: Map<string, string>): void {
    const id = `more:${frontendId}`;
    const share = rest.reduce((n, s) => n + s.probability, 0);
    this.foldedEndpoints += rest.length;
    for (const s of rest) ids.set(s.address, id);
    this.nodes.push({
      id, kind: "more", label: `+${rest.length} more · ${formatProbability(share)}`, shape: "ellipse", weight: shareWeight(share), parent: frontendId,
      fill: tint(plan.color, 0.5), stroke: "#333333", textColor: FLOW_THEME.foreground, dashed: true,
      hover: [`${rest.length} more endpoints of ${service.name.key}, ${formatProbability(share)} together`, ...rest.slice(0, 12).map((s) => `${s.address} ${formatProbability(s.probability)}`)],
      search: rest.slice(0, 50).map((s) => s.address), rules: [], rulesOmitted: 0, emphasis: "normal",
    });
    this.link(frontendId, id, plan.color, shareWidth(share), "normal", "dashed", [`${rest.length} more endpoints: ${formatProbability(share)}`]);
  }

  moreServices(namespaceId: string, plan: NamespacePlan, folded: readonly ServicePort[]): void {
    const id = `more:${namespaceId}`;
    const frontends = folded.reduce((n, s) => n + s.frontends.length, 0);
    const empty = folded.filter((s) => s.state === "no-endpoints").length;
    this.nodes.push({
      id, kind: "more", label: `+${plural(folded.length, "service port")}`, detail: `${plural(frontends, "frontend")}${empty > 0 ? ` · ${empty} without endpoints` : ""}`,
      shape: "box", weight: frontends, parent: namespaceId, fill: tint(plan.color, 0.7), stroke: "#333333", textColor: "#111111", dashed: true,
      hover: [`${folded.length} more service ports of ${plan.name} (${frontends} frontends), folded to keep the picture readable; --namespace ${plan.name} shows them`, ...folded.slice(0, 12).map((s) => s.name.key)],
      search: folded.slice(0, 200).map((s) => s.name.key), rules: [], rulesOmitted: 0, emphasis: "normal",
    });
    this.link(namespaceId, id, plan.color, 1.2, "none", "dashed", [`${folded.length} more service ports`]);
  }

  moreNamespaces(folded: readonly { name: string; services: readonly ServicePort[] }[]): void {
    const services = folded.reduce((n, f) => n + f.services.length, 0);
    this.nodes.push({
      id: MORE_NAMESPACES, kind: "more", label: `+${plural(folded.length, "namespace")}`, detail: plural(services, "service port"), shape: "box", weight: services, parent: HUB,
      fill: "#d9d9d9", stroke: "#333333", textColor: "#111111", dashed: true,
      hover: [`${folded.length} more namespaces with ${services} service ports, folded to keep the picture readable; --namespace NS shows one`, ...folded.slice(0, 20).map((f) => `${f.name}: ${f.services.length}`)],
      search: folded.map((f) => f.name), rules: [], rulesOmitted: 0, emphasis: "normal",
    });
  }

  empty(label: string, detail: string): void {
    this.nodes.push({
      id: "more:none", kind: "more", label, detail, shape: "box", weight: 0, parent: HUB,
      fill: "#d9d9d9", stroke: "#333333", textColor: "#111111", dashed: true,
      hover: [label, detail], search: [], rules: [], rulesOmitted: 0, emphasis: "normal",
    });
  }

  private link(from: string, to: string, color: string, width: number, arrow: ArrowKind, line: LineStyle, hover: string[]): void {
    this.edges.push({ id: servicesEdgeId(from, to), from, to, color, width, line, arrow, tree: true, hover, search: [], rules: [], rulesOmitted: 0, emphasis: "normal" });
  }
}

function shareWidth(probability: number): number {
  return 1 + 7 * probability;
}

/** Node sizes grow with log10 of the weight: 1 to 10 keeps an endpoint taking every connection a modest ellipse. */
function shareWeight(probability: number): number {
  return 1 + 9 * probability;
}

function servicesLegend(plans: readonly NamespacePlan[], foldedNamespaces: boolean, builder: SceneBuilder): LegendItem[] {
  const items: LegendItem[] = plans.map((p) => ({ kind: "swatch", label: `namespace ${p.name}`, color: p.color }));
  if (foldedNamespaces) items.push({ kind: "swatch", label: "other namespaces (folded)", color: "#bdbdbd" });
  items.push({ kind: "swatch", label: "frontend: service port at its address", color: "#ffffff", stroke: "#333333" });
  if (builder.exposed) items.push({ kind: "swatch", label: "frontend reachable from outside (NodePort, external IP, LB)", color: "#ffffff", stroke: EXPOSED_STROKE, strokeWidth: 3 });
  if (builder.noEndpoints) items.push({ kind: "swatch", label: "service without endpoints (REJECT)", color: NO_ENDPOINTS.fill, stroke: NO_ENDPOINTS.stroke, strokeWidth: 2 });
  items.push({ kind: "edge", label: "to an endpoint; width ∝ share of new connections", color: "#ffffff", arrow: "normal", line: "solid", width: 4 });
  if (builder.verdicts.has("REJECT")) items.push({ kind: "edge", label: "REJECT (answers the client)", color: NO_ENDPOINTS.strong, arrow: "reject", line: "dashed" });
  if (builder.verdicts.has("DROP")) items.push({ kind: "edge", label: "DROP", color: NO_ENDPOINTS.strong, arrow: "tee", line: "solid" });
  if (builder.blockedEndpoint) items.push({ kind: "edge", label: "to an endpoint, then dropped or rejected (hover for why)", color: NO_ENDPOINTS.strong, arrow: "tee", line: "solid", width: 3 });
  items.push({ kind: "swatch", label: "endpoint (dashed: on another node)", color: "#ffffff" });
  return items;
}
