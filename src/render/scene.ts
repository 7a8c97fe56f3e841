// The scene: what a picture shows, independent of layout and output format. Views build scenes from the model
// (flow, chains, services), trace overlays emphasise paths in them; layouts place them; writers print
// svg/dot/html/json.

import type { Counters, TableName } from "../model/types.js";
import type { ViewName } from "./formats.js";
import { formatShare } from "./services-text.js";

export { VIEW_NAMES, type ViewName } from "./formats.js";

export const SCENE_SCHEMA_VERSION = 1;

/** How the scene is placed: rings around a hub (flow, services) or per-table bands of trees (chains). */
export type LayoutKind = "radial" | "bands";

export type NodeShape = "circle" | "ellipse" | "box" | "hidden";

export type NodeKind =
  | "hub"
  | "interface"
  | "address"
  | "chain"
  | "chain-group"
  | "namespace"
  | "frontend"
  | "endpoint"
  /** What a frontend does instead of translating (REJECT for a service without endpoints, DROP, no rule). */
  | "verdict"
  | "more";

/** What a rule does to a packet, as far as a picture cares. */
export type TargetClass = "accept" | "drop" | "reject" | "jump" | "goto" | "return" | "rewrite" | "log" | "queue" | "none";

export type ArrowKind = "normal" | "tee" | "reject" | "vee" | "inv" | "diamond" | "dot" | "box" | "none";

export type LineStyle = "solid" | "dashed" | "dotted";

export type Emphasis = "normal" | "dimmed" | "highlighted";

/** A rule as the picture shows it on hover and in the HTML rule panel; points back to its source line. */
export interface SceneRule {
  table: TableName;
  chain: string;
  position: number;
  line: number;
  text: string;
  counters?: Counters;
}

export interface SceneNode {
  /** Unique within the scene; may hold any characters (it is escaped or replaced by an index on output). */
  id: string;
  kind: NodeKind;
  label: string;
  /** A second, smaller line (rule counts, policy, counters). */
  detail?: string;
  shape: NodeShape;
  /** Rule occurrences: node size grows with its log10. */
  weight: number;
  /** Tree parent for the layouts (radial rings, chain trees). */
  parent?: string;
  group?: string;
  /** A fixed starting point of its group (built-in chains): drawn first, kept in one rank by Graphviz. */
  anchor?: boolean;
  fill: string;
  stroke: string;
  /** Outline width when it carries meaning (frontends reachable from outside, trace paths). */
  strokeWidth?: number;
  textColor: string;
  dashed?: boolean;
  /** Shares of target classes among the node's rules, drawn as a small bar (chains view). */
  verdicts?: Partial<Record<TargetClass, number>>;
  /** Lines of the hover text (`<title>`). */
  hover: string[];
  /** Strings the HTML search matches (chain names, addresses, comments). */
  search: string[];
  /** Rules shown when the node is clicked (capped; see rulesOmitted). */
  rules: SceneRule[];
  rulesOmitted: number;
  emphasis: Emphasis;
}

export interface SceneEdge {
  id: string;
  from: string;
  to: string;
  label?: string;
  /** Label text colour; the edge colour when absent. */
  labelColor?: string;
  color: string;
  width: number;
  line: LineStyle;
  arrow: ArrowKind;
  /** Tree edges are drawn as the layout's links; others as curves between the nodes. */
  tree?: boolean;
  /** Drawn over the layout without shaping it (trace overlays): no column or rank is computed from it. */
  decorative?: boolean;
  hover: string[];
  search: string[];
  rules: SceneRule[];
  rulesOmitted: number;
  emphasis: Emphasis;
}

/** A labelled region: a table's band in the chains view, a namespace sector in the services view. */
export interface SceneGroup {
  id: string;
  label: string;
  fill: string;
  stroke: string;
  hover: string[];
}

export type LegendItem =
  | { kind: "edge"; label: string; color: string; arrow: ArrowKind; line: LineStyle; width?: number }
  | { kind: "swatch"; label: string; color: string; stroke?: string; strokeWidth?: number }
  | { kind: "palette"; label: string; colors: readonly string[] };

export interface Scene {
  view: ViewName;
  layout: LayoutKind;
  title: string;
  /** Sentences shown under the title: the table shown, filters, aggregation ("N chains shown as …"). */
  notes: string[];
  background: string;
  foreground: string;
  groups: SceneGroup[];
  nodes: SceneNode[];
  edges: SceneEdge[];
  legend: LegendItem[];
  /** True when the view merged or left out parts of the dump to stay readable. */
  aggregated: boolean;
}

/** A connection a path makes between nodes the scene does not join (a packet moving on to the next hook or table). */
export interface OverlayLink {
  from: string;
  to: string;
}

/** One outcome path to emphasise (a trace result): its nodes and edges by scene id. */
export interface OverlayPath {
  /** Short text on the path's labelled edges, followed by the probability. */
  label: string;
  /** Longer text for the legend and hover; the label when absent. */
  description?: string;
  color: string;
  probability?: number;
  nodes: readonly string[];
  edges: readonly string[];
  links?: readonly OverlayLink[];
  /** The edges (of `edges`) that carry the label; every edge when absent. */
  labelled?: readonly string[];
}

const PATH_WIDTH = 3.2;

/**
 * The scene with the given paths emphasised and everything else dimmed: each path's edges drawn again in the
 * path's colour (so an edge on two paths shows both), its links added, its nodes outlined in its colour (the
 * first path's, when several share a node), a label with the probability, and a legend entry per path.
 */
export function overlayPaths(scene: Scene, paths: readonly OverlayPath[]): Scene {
  const accent = new Map<string, string>();
  for (const path of paths) for (const id of path.nodes) if (!accent.has(id)) accent.set(id, path.color);
  const nodeIds = new Set(scene.nodes.map((n) => n.id));
  const edgesById = new Map(scene.edges.map((e) => [e.id, e]));
  const overlayEdges: SceneEdge[] = [];
  paths.forEach((path, index) => {
    const text = path.probability === undefined ? path.label : `${path.label} ${formatProbability(path.probability)}`;
    const hover = [path.description ?? text];
    const labelled = path.labelled === undefined ? undefined : new Set(path.labelled);
    for (const id of path.edges) {
      const edge = edgesById.get(id);
      if (!edge) continue;
      const copy: SceneEdge = {
        ...edge,
        id: `${edge.id}\u0000path${index}`,
        color: path.color,
        labelColor: path.color,
        width: Math.max(edge.width, 1) + PATH_WIDTH - 1,
        line: "solid",
        label: text,
        hover: [...hover, ...edge.hover],
        tree: false,
        decorative: true,
        emphasis: "highlighted",
      };
      if (labelled !== undefined && !labelled.has(id)) delete copy.label;
      overlayEdges.push(copy);
    }
    (path.links ?? []).forEach((link, k) => {
      if (!nodeIds.has(link.from) || !nodeIds.has(link.to)) return;
      overlayEdges.push({
        id: `link${k}\u0000path${index}`, from: link.from, to: link.to, color: path.color, width: PATH_WIDTH - 1, line: "dashed", arrow: "vee",
        decorative: true, hover: [...hover, "the packet goes on to the next hook or table"], search: [], rules: [], rulesOmitted: 0, emphasis: "highlighted",
      });
    });
  });
  const legend: LegendItem[] = paths.map((p) => ({
    kind: "edge",
    label: `${p.description ?? p.label}${p.probability === undefined ? "" : ` (${formatProbability(p.probability)})`}`,
    color: p.color,
    arrow: "normal",
    line: "solid",
    width: PATH_WIDTH,
  }));
  return {
    ...scene,
    nodes: scene.nodes.map((n) => {
      const color = accent.get(n.id);
      if (color !== undefined) return { ...n, stroke: color, strokeWidth: PATH_WIDTH, emphasis: "highlighted" };
      return { ...n, emphasis: n.kind === "hub" ? n.emphasis : "dimmed" };
    }),
    edges: [...scene.edges.map((e) => ({ ...e, emphasis: "dimmed" as const })), ...overlayEdges],
    legend: [...legend, ...scene.legend],
  };
}

/** A share as every picture and text prints it: `50%`, `33.3%`, `0.01%`. */
export const formatProbability: (p: number) => string = formatShare;
