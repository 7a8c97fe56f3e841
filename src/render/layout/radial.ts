// The radial layout (Graphviz twopi, as gressgraph uses it): an invisible hub in the centre, its children on
// the first ring, theirs on the next. Angles come from d3-hierarchy's tree; ring radii are chosen so that
// neighbours and their labels do not touch. Edges are quadratic curves, parallel ones fanned out.

import { stratify, tree, type HierarchyNode, type HierarchyPointNode } from "d3-hierarchy";
import type { Scene, SceneEdge, SceneNode } from "../scene.js";
import { BoxIndex, boundaryPoint, distance, pictureBounds, pullBack, quadraticPoint, round } from "./geometry.js";
import { placeLabels, reserveText, sampleCurve, type LabelRequest } from "./labels.js";
import { BOX_DETAIL_FONT, LABEL_FONT, nodeExtent } from "./sizes.js";
import { monoWidth } from "./text.js";
import type { Arrowhead, Box, PictureLayout, PlacedEdge, PlacedNode, Point } from "./types.js";

const VIRTUAL_HUB = "\u0000hub";
const RING_GAP = 260;
/** Three rings (services) would spread too far apart with the two-ring gap; their spokes are short and straight. */
const DEEP_RING_GAP = 120;
const INNER_RING_MIN = 150;
const MAX_LABEL_LINES = 24;
const ARROW_LENGTH = 9;
const INNER_LABEL_FONT = 12;
/** Pixels between neighbouring leaves that one unit of d3's separation stands for. */
const LEAF_SPACING = 18;
const CROWDED_RADIUS = 700;

// Digit runs compare as numbers ("10.0.0.9" before "10.0.0.10"). Not Intl.Collator: building one costs ~20 ms of
// ICU start-up, a tenth of the cold-start budget.
function naturalOrder(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const numeric = i % 2 === 1;
    if (numeric && pa[i]!.length !== pb[i]!.length) return pa[i]!.length - pb[i]!.length;
    return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

function ringOrder(a: SceneNode, b: SceneNode): number {
  if ((a.kind === "more") !== (b.kind === "more")) return a.kind === "more" ? 1 : -1;
  if ((a.label === "any") !== (b.label === "any")) return a.label === "any" ? -1 : 1;
  return naturalOrder(a.label, b.label);
}

export function layoutRadial(scene: Scene): PictureLayout {
  const hub = scene.nodes.find((n) => n.kind === "hub");
  const hubId = hub?.id ?? VIRTUAL_HUB;
  const known = new Set(scene.nodes.map((n) => n.id));
  const items: SceneNode[] = hub
    ? scene.nodes
    : [{ id: hubId, kind: "hub", label: "", shape: "hidden", weight: 0, fill: "none", stroke: "none", textColor: "none", hover: [], search: [], rules: [], rulesOmitted: 0, emphasis: "normal" }, ...scene.nodes];
  const root = stratify<SceneNode>()
    .id((n) => n.id)
    .parentId((n) => (n.id === hubId ? null : n.parent !== undefined && known.has(n.parent) ? n.parent : hubId))(items);
  root.sort((a, b) => ringOrder(a.data, b.data));
  const extents = new Map(items.map((n) => [n.id, nodeExtent(n)]));
  const turned = crowdedBoxRings(root, extents);
  const isTurned = (n: HierarchyNode<SceneNode>) => n.data.shape === "box" && turned.has(n.depth);
  // Half the room a node takes along its ring, at the top or bottom where upright labels are widest.
  const halfAlong = (n: HierarchyNode<SceneNode>) => {
    const { rx, ry } = extents.get(n.data.id)!;
    if (!labelInside(n)) return Math.max(ry, LABEL_FONT * 0.7);
    return isTurned(n) ? ry : Math.max(rx, monoWidth(n.data.label, INNER_LABEL_FONT) / 2 + 4);
  };
  // Siblings one leaf apart, cousins two; wide nodes (boxes, upright labels) get the angle their width needs.
  const separation = (a: HierarchyNode<SceneNode>, b: HierarchyNode<SceneNode>) =>
    Math.max(a.parent === b.parent ? 1 : 2, (halfAlong(a) + halfAlong(b) + 4) / LEAF_SPACING) / Math.max(1, a.depth);
  const placedTree = closeRing(tree<SceneNode>().nodeSize([1, 1]).separation(separation)(root), separation);

  const byDepth: HierarchyPointNode<SceneNode>[][] = [];
  for (const node of placedTree.descendants()) (byDepth[node.depth] ??= []).push(node);
  const centredSingleChild = (byDepth[1]?.length ?? 0) === 1;

  // Radius per ring: far enough out for neighbours (and, for leaves, their radial labels) not to touch.
  const radii: number[] = [0];
  for (let depth = 1; depth < byDepth.length; depth++) {
    const ring = [...byDepth[depth]!].sort((a, b) => a.x - b.x);
    const gap = byDepth.length > 3 ? DEEP_RING_GAP : RING_GAP;
    let needed = depth === 1 ? (centredSingleChild ? 0 : INNER_RING_MIN) : radii[depth - 1]! + gap + maxExtent(byDepth[depth - 1]!, extents, isTurned) + maxExtent(ring, extents, isTurned);
    for (let i = 0; i < ring.length && ring.length > 1; i++) {
      const a = ring[i]!;
      const b = ring[(i + 1) % ring.length]!;
      const gap = i + 1 < ring.length ? b.x - a.x : b.x + 2 * Math.PI - a.x;
      // Inner nodes carry their label across them, upright: along the ring they take their width at the top and
      // bottom, their height at the sides. Leaves carry it along the radius.
      const tangential = (n: HierarchyPointNode<SceneNode>) => {
        const { rx, ry } = extents.get(n.data.id)!;
        if (!labelInside(n)) return Math.max(ry, LABEL_FONT * 0.7);
        if (isTurned(n)) return ry;
        const halfWidth = Math.max(rx, monoWidth(n.data.label, INNER_LABEL_FONT) / 2 + 4);
        const halfHeight = Math.max(ry, INNER_LABEL_FONT);
        return halfWidth * Math.abs(Math.cos(n.x)) + halfHeight * Math.abs(Math.sin(n.x));
      };
      const spacing = tangential(a) + tangential(b) + (depth === 1 ? 18 : 4);
      if (gap > 0) needed = Math.max(needed, spacing / Math.min(gap, Math.PI));
    }
    radii.push(depth === 1 && centredSingleChild ? 0 : needed);
  }

  const obstacles = new BoxIndex();
  const textBoxes: Box[] = [];
  const nodes = new Map<string, PlacedNode>();
  const angleOf = new Map<string, number>();
  for (const node of placedTree.descendants()) {
    const radius = radii[node.depth] ?? 0;
    const angle = node.x;
    const x = radius * Math.cos(angle - Math.PI / 2);
    const y = radius * Math.sin(angle - Math.PI / 2);
    const { rx, ry } = extents.get(node.data.id)!;
    angleOf.set(node.data.id, angle);
    const placed: PlacedNode = { id: node.data.id, x, y, rx, ry, ...(node.data.shape === "box" ? { box: true } : {}) };
    if (node.data.shape === "ellipse" && radius > 0) placed.rotate = (angle * 180) / Math.PI - 90;
    // Turned boxes read outwards on the right half and inwards on the left, as leaf labels do.
    if (isTurned(node) && radius > 0) placed.rotate = (angle * 180) / Math.PI - 90 + (angle > Math.PI ? 180 : 0);
    if (node.data.shape !== "hidden") {
      obstacles.add({ x: x - Math.max(rx, ry), y: y - Math.max(rx, ry), width: 2 * Math.max(rx, ry), height: 2 * Math.max(rx, ry) });
      placed.label = nodeLabel(node, placed, radius, angle);
      const turn = node.data.shape === "box" ? (placed.rotate ?? 0) : 0;
      // Offsets across the box's own text lines, turned with it.
      const across = (offset: number) => ({ x: x - offset * Math.sin((turn * Math.PI) / 180), y: y + offset * Math.cos((turn * Math.PI) / 180) });
      if (node.data.shape === "box") placed.label = { ...placed.label, ...across(node.data.detail ? -4 : 4), rotate: turn };
      if (node.data.shape === "box" && node.data.detail) {
        placed.detail = { text: node.data.detail, ...across(10), anchor: "middle", rotate: turn, fontSize: BOX_DETAIL_FONT, color: "#333333" };
      }
      for (const { text, x: lx, y: ly, fontSize, anchor, rotate } of placed.detail ? [placed.label, placed.detail] : [placed.label]) {
        textBoxes.push(reserveText(obstacles, text, lx, ly, fontSize, anchor, rotate));
      }
    }
    nodes.set(node.data.id, placed);
  }
  if (!hub) nodes.delete(hubId);

  const parentOf = new Map(placedTree.descendants().map((n) => [n.data.id, n.parent?.data.id]));
  const soft = new BoxIndex();
  const { edges, labelRequests } = routeEdges(scene.edges, nodes, parentOf, angleOf, soft);
  const { blocks, hidden } = placeLabels(labelRequests, obstacles, soft);
  const picture = { nodes, edges, blocks, groups: [] };
  return { ...picture, bounds: pictureBounds(picture, textBoxes), hiddenLabels: hidden };
}

/**
 * Turns d3's positions (in separation units, along a line) into angles around the ring, leaving at every depth the
 * separation its last and first nodes need where the ring closes (d3's own `size` leaves only that of the leaves).
 */
function closeRing(root: HierarchyPointNode<SceneNode>, separation: (a: HierarchyNode<SceneNode>, b: HierarchyNode<SceneNode>) => number): HierarchyPointNode<SceneNode> {
  const ends: { first: HierarchyPointNode<SceneNode>; last: HierarchyPointNode<SceneNode> }[] = [];
  for (const node of root.descendants()) {
    if (node.depth === 0) continue;
    const end = ends[node.depth];
    if (!end) ends[node.depth] = { first: node, last: node };
    else {
      if (node.x < end.first.x) end.first = node;
      if (node.x > end.last.x) end.last = node;
    }
  }
  let start = Infinity;
  let stop = -Infinity;
  for (const end of ends) {
    if (!end) continue;
    const seam = end.first === end.last ? 1 : separation(end.last, end.first);
    start = Math.min(start, end.first.x - seam / 2);
    stop = Math.max(stop, end.last.x + seam / 2);
  }
  const span = stop > start ? stop - start : 1;
  for (const node of root.descendants()) node.x = node.depth === 0 ? 0 : ((node.x - start) / span) * 2 * Math.PI;
  return root;
}

/**
 * Depths whose boxes, standing upright, would need a ring wider than CROWDED_RADIUS: their boxes are turned along
 * the radius, where each takes only its height of the ring.
 */
function crowdedBoxRings(root: HierarchyNode<SceneNode>, extents: Map<string, { rx: number; ry: number }>): Set<number> {
  const widths: number[] = [];
  for (const node of root.descendants()) {
    if (node.data.shape === "box") widths[node.depth] = (widths[node.depth] ?? 0) + 2 * extents.get(node.data.id)!.rx + 4;
  }
  const crowded = new Set<number>();
  widths.forEach((width, depth) => {
    if (width / (2 * Math.PI) > CROWDED_RADIUS) crowded.add(depth);
  });
  return crowded;
}

/** How far a ring's nodes reach out along their radius: upright boxes their half width at the sides only. */
function maxExtent(ring: readonly HierarchyPointNode<SceneNode>[], extents: Map<string, { rx: number; ry: number }>, isTurned: (n: HierarchyNode<SceneNode>) => boolean): number {
  return Math.max(
    0,
    ...ring.map((n) => {
      const { rx, ry } = extents.get(n.data.id)!;
      return n.data.shape === "box" && !isTurned(n) ? rx * Math.abs(Math.sin(n.x)) + ry * Math.abs(Math.cos(n.x)) : rx;
    }),
  );
}

/**
 * Inner nodes and boxes carry their name on them. Other leaves carry it radially outside, flipped on the left half
 * (a leaf on an inner ring would send its label across the rings outside it, so views make those boxes).
 */
function labelInside(node: HierarchyNode<SceneNode>): boolean {
  return node.children !== undefined || node.data.shape === "box";
}

function nodeLabel(node: HierarchyNode<SceneNode>, placed: PlacedNode, radius: number, angle: number) {
  const data = node.data;
  if (labelInside(node) || radius === 0) {
    return { text: data.label, x: placed.x, y: placed.y + 4, anchor: "middle" as const, rotate: 0, fontSize: INNER_LABEL_FONT, color: data.textColor, bold: true, halo: "#f5f5f5" };
  }
  const degrees = (angle * 180) / Math.PI - 90;
  const leftHalf = angle > Math.PI;
  const distance = radius + placed.rx + 5;
  const x = distance * Math.cos(angle - Math.PI / 2);
  const y = distance * Math.sin(angle - Math.PI / 2);
  // The baseline sits a third of the font below the radius so the glyphs are centred on it.
  const shift = LABEL_FONT / 3;
  return {
    text: data.label,
    x: x - shift * Math.sin(angle - Math.PI / 2),
    y: y + shift * Math.cos(angle - Math.PI / 2),
    anchor: leftHalf ? ("end" as const) : ("start" as const),
    rotate: leftHalf ? degrees + 180 : degrees,
    fontSize: LABEL_FONT,
    color: data.textColor,
    halo: "#5a5a5a",
  };
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

function routeEdges(
  sceneEdges: readonly SceneEdge[],
  nodes: Map<string, PlacedNode>,
  parentOf: Map<string, string | undefined>,
  angleOf: Map<string, number>,
  soft: BoxIndex,
): { edges: Map<string, PlacedEdge>; labelRequests: LabelRequest[] } {
  const bundles = new Map<string, SceneEdge[]>();
  for (const edge of sceneEdges) {
    if (!nodes.has(edge.from) || !nodes.has(edge.to)) continue;
    const key = pairKey(edge.from, edge.to);
    const bundle = bundles.get(key);
    if (bundle) bundle.push(edge);
    else bundles.set(key, [edge]);
  }
  const edges = new Map<string, PlacedEdge>();
  const labelRequests: (LabelRequest & { size: number })[] = [];
  const neighbours = neighbourPoints(bundles, nodes);
  for (const bundle of bundles.values()) {
    const first = bundle[0]!;
    const [a, b] = first.from < first.to ? [first.from, first.to] : [first.to, first.from];
    const nodeA = nodes.get(a)!;
    const nodeB = nodes.get(b)!;
    const midpoints: Point[] = [];
    bundle.forEach((edge, k) => {
      const from = nodes.get(edge.from)!;
      const to = nodes.get(edge.to)!;
      if (edge.from === edge.to) {
        const placed = loopPath(edge, from, k, bundle.length, freeDirection(from, neighbours.get(edge.from) ?? []));
        edges.set(edge.id, placed.edge);
        midpoints.push(placed.apex);
        if (k === bundle.length - 1) soft.add({ x: from.x - placed.reach, y: from.y - placed.reach, width: 2 * placed.reach, height: 2 * placed.reach });
        return;
      }
      const related = parentOf.get(edge.from) === edge.to || parentOf.get(edge.to) === edge.from;
      const middle = { x: (nodeA.x + nodeB.x) / 2, y: (nodeA.y + nodeB.y) / 2 };
      let pull = 0;
      if (!related) {
        const angularDistance = Math.abs(((angleOf.get(a) ?? 0) - (angleOf.get(b) ?? 0) + 3 * Math.PI) % (2 * Math.PI) - Math.PI);
        pull = 0.25 + 0.45 * (1 - angularDistance / Math.PI);
      }
      const base = { x: middle.x * (1 - pull), y: middle.y * (1 - pull) };
      const length = Math.hypot(nodeB.x - nodeA.x, nodeB.y - nodeA.y) || 1;
      const normal = { x: -(nodeB.y - nodeA.y) / length, y: (nodeB.x - nodeA.x) / length };
      const step = Math.min(7, 90 / bundle.length);
      const offset = (k - (bundle.length - 1) / 2) * step;
      const control = { x: base.x + normal.x * offset, y: base.y + normal.y * offset };
      const start = boundaryPoint(from, from.rx, from.ry, control, from.box, from.rotate);
      const tip = boundaryPoint(to, to.rx, to.ry, control, to.box, to.rotate);
      edges.set(edge.id, curve(edge, start, control, tip));
      midpoints.push(quadraticPoint(start, control, tip, 0.5));
      if (k === 0 || k === bundle.length - 1) sampleCurve(soft, (t) => quadraticPoint(start, control, tip, t), distance(start, tip));
    });
    const labelled = bundle.filter((e) => e.label);
    if (labelled.length === 0) continue;
    const lines: { text: string; color: string }[] = [];
    const seen = new Set<string>();
    for (const edge of labelled) {
      const key = `${edge.label}\u0000${edge.labelColor ?? edge.color}`;
      if (seen.has(key)) continue;
      seen.add(key);
      lines.push({ text: edge.label!, color: edge.labelColor ?? edge.color });
    }
    const shown = lines.length > MAX_LABEL_LINES ? [...lines.slice(0, MAX_LABEL_LINES - 1), { text: `… ${lines.length - MAX_LABEL_LINES + 1} more (hover the edges)`, color: "#ffffff" }] : lines;
    const anchor = midpoints[Math.floor(midpoints.length / 2)] ?? { x: (nodeA.x + nodeB.x) / 2, y: (nodeA.y + nodeB.y) / 2 };
    labelRequests.push({ lines: shown, anchor, edges: labelled.map((e) => e.id), fontSize: 10.5, reach: 560, size: shown.length, backdrop: "#333333", textColor: "#f2f2f2" });
  }
  labelRequests.sort((x, y) => y.size - x.size);
  return { edges, labelRequests };
}

function neighbourPoints(bundles: Map<string, SceneEdge[]>, nodes: Map<string, PlacedNode>): Map<string, Point[]> {
  const points = new Map<string, Point[]>();
  const add = (id: string, point: Point) => {
    const list = points.get(id);
    if (list) list.push(point);
    else points.set(id, [point]);
  };
  for (const bundle of bundles.values()) {
    const edge = bundle[0]!;
    if (edge.from === edge.to) continue;
    add(edge.from, nodes.get(edge.to)!);
    add(edge.to, nodes.get(edge.from)!);
  }
  return points;
}

/** The middle of the widest angular gap between a node's neighbours: where a self-loop disturbs least. */
function freeDirection(node: PlacedNode, neighbours: readonly Point[]): number {
  const towardsCentre = Math.atan2(-node.y, -node.x);
  if (neighbours.length === 0) return node.x === 0 && node.y === 0 ? -Math.PI / 2 : towardsCentre;
  const angles = neighbours.map((p) => Math.atan2(p.y - node.y, p.x - node.x)).sort((a, b) => a - b);
  let best = towardsCentre;
  let widest = -1;
  angles.forEach((angle, i) => {
    const next = i + 1 < angles.length ? angles[i + 1]! : angles[0]! + 2 * Math.PI;
    if (next - angle > widest) {
      widest = next - angle;
      best = angle + (next - angle) / 2;
    }
  });
  return best;
}

function loopPath(edge: SceneEdge, node: PlacedNode, index: number, count: number, direction: number): { edge: PlacedEdge; apex: Point; reach: number } {
  const r = Math.max(node.rx, node.ry, 4);
  const reach = r + 22 + Math.min(6, 70 / count) * index;
  const spread = 0.5;
  const at = (angle: number, distance: number): Point => ({ x: node.x + distance * Math.cos(angle), y: node.y + distance * Math.sin(angle) });
  const start = at(direction - spread, r);
  const end = at(direction + spread, r);
  const c1 = at(direction - spread * 1.6, reach * 1.25);
  const c2 = at(direction + spread * 1.6, reach * 1.25);
  const arrow = arrowhead(edge, end, c2);
  const stop = arrow && needsRoom(arrow.kind) ? pullBack(end, c2, ARROW_LENGTH) : end;
  return {
    edge: {
      id: edge.id,
      path: `M${round(start.x)},${round(start.y)}C${round(c1.x)},${round(c1.y)} ${round(c2.x)},${round(c2.y)} ${round(stop.x)},${round(stop.y)}`,
      ...(arrow ? { arrow } : {}),
    },
    apex: at(direction, reach),
    reach: reach * 1.1,
  };
}

function needsRoom(kind: Arrowhead["kind"]): boolean {
  return kind === "normal" || kind === "diamond" || kind === "inv" || kind === "box" || kind === "dot" || kind === "vee";
}

function arrowhead(edge: SceneEdge, tip: Point, from: Point): Arrowhead | undefined {
  if (edge.arrow === "none") return undefined;
  return { kind: edge.arrow, tip, angle: Math.atan2(tip.y - from.y, tip.x - from.x) };
}

function curve(edge: SceneEdge, start: Point, control: Point, tip: Point): PlacedEdge {
  const arrow = arrowhead(edge, tip, control);
  const stop = arrow && needsRoom(arrow.kind) ? pullBack(tip, control, ARROW_LENGTH) : tip;
  return {
    id: edge.id,
    path: `M${round(start.x)},${round(start.y)}Q${round(control.x)},${round(control.y)} ${round(stop.x)},${round(stop.y)}`,
    ...(arrow ? { arrow } : {}),
  };
}
