// The bands layout (chains view): one horizontal band per group (table), stacked in scene order. Inside a band
// nodes sit in columns by longest call depth from the band's first nodes, so every edge points right; rows
// come from d3-hierarchy's tree over "first caller one column to the left", which keeps callees by their caller.

import { stratify, tree } from "d3-hierarchy";
import type { Scene, SceneEdge, SceneNode } from "../scene.js";
import { BoxIndex, pictureBounds, pullBack, quadraticPoint, round } from "./geometry.js";
import { placeLabels, type LabelRequest } from "./labels.js";
import { BOX_DETAIL_FONT, BOX_HEIGHT, BOX_LABEL_FONT, nodeExtent } from "./sizes.js";
import { monoWidth } from "./text.js";
import type { Box, PictureLayout, PlacedEdge, PlacedGroup, PlacedNode, Point } from "./types.js";

const ROW = BOX_HEIGHT + 14;
const COLUMN_GAP = 84;
const BAND_PADDING = 18;
const BAND_TITLE = 26;
const BAND_GAP = 26;
const ARROW_LENGTH = 9;
const MARGIN_LANE = 7;
const VIRTUAL_ROOT = "\u0000root";

/** Longest-path column per node (iptables forbids jump loops; a loop would just stop the longer path). */
function columns(members: readonly SceneNode[], edges: readonly SceneEdge[]): Map<string, number> {
  const outgoing = new Map<string, string[]>();
  const incoming = new Map<string, number>();
  for (const node of members) incoming.set(node.id, 0);
  for (const edge of edges) {
    (outgoing.get(edge.from) ?? outgoing.set(edge.from, []).get(edge.from)!).push(edge.to);
    incoming.set(edge.to, (incoming.get(edge.to) ?? 0) + 1);
  }
  const column = new Map<string, number>(members.map((n) => [n.id, 0]));
  const queue = members.filter((n) => incoming.get(n.id) === 0).map((n) => n.id);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    for (const next of outgoing.get(id) ?? []) {
      column.set(next, Math.max(column.get(next)!, column.get(id)! + 1));
      const left = incoming.get(next)! - 1;
      incoming.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  return column;
}

export function layoutBands(scene: Scene): PictureLayout {
  const nodes = new Map<string, PlacedNode>();
  const groups: PlacedGroup[] = [];
  const obstacles = new BoxIndex();
  const extents = new Map(scene.nodes.map((n) => [n.id, nodeExtent(n)]));
  const columnOf = new Map<string, number>();
  const groupIds = scene.groups.map((g) => g.id);
  const ungrouped = scene.nodes.some((n) => n.group === undefined || !groupIds.includes(n.group));
  const bands = ungrouped ? [...groupIds, undefined] : groupIds;
  let top = 0;
  let widest = 0;
  const placedBands: { group: string | undefined; top: number; height: number; width: number }[] = [];

  for (const groupId of bands) {
    const members = scene.nodes.filter((n) => (groupId === undefined ? n.group === undefined || !groupIds.includes(n.group) : n.group === groupId));
    if (members.length === 0 && groupId === undefined) continue;
    const memberIds = new Set(members.map((n) => n.id));
    const inside = scene.edges.filter((e) => !e.decorative && e.from !== e.to && memberIds.has(e.from) && memberIds.has(e.to));
    const column = columns(members, inside);
    const parent = new Map<string, string>();
    for (const edge of inside) {
      if (!parent.has(edge.to) && column.get(edge.from)! === column.get(edge.to)! - 1) parent.set(edge.to, edge.from);
    }
    const root = stratify<{ id: string }>()
      .id((n) => n.id)
      .parentId((n) => (n.id === VIRTUAL_ROOT ? null : (parent.get(n.id) ?? VIRTUAL_ROOT)))([{ id: VIRTUAL_ROOT }, ...members]);
    const placed = tree<{ id: string }>()
      .nodeSize([ROW, 1])
      .separation((a, b) => (a.parent === b.parent ? 1 : 1.3))(root);

    const columnWidths: number[] = [];
    for (const node of members) {
      const c = column.get(node.id)!;
      columnWidths[c] = Math.max(columnWidths[c] ?? 0, 2 * extents.get(node.id)!.rx);
    }
    const columnLeft: number[] = [];
    let x = BAND_PADDING;
    for (let c = 0; c < columnWidths.length; c++) {
      columnLeft[c] = x;
      x += (columnWidths[c] ?? 0) + COLUMN_GAP;
    }
    const bandWidth = x - COLUMN_GAP + BAND_PADDING;
    const breadths = placed.descendants().filter((n) => n.data.id !== VIRTUAL_ROOT).map((n) => n.x);
    const minBreadth = breadths.length > 0 ? Math.min(...breadths) : 0;
    const maxBreadth = breadths.length > 0 ? Math.max(...breadths) : 0;
    const contentTop = top + BAND_TITLE + BAND_PADDING + BOX_HEIGHT / 2;
    const memberById = new Map(members.map((m) => [m.id, m]));
    for (const node of placed.descendants()) {
      if (node.data.id === VIRTUAL_ROOT) continue;
      const data = memberById.get(node.data.id);
      if (!data) continue;
      const { rx, ry } = extents.get(data.id)!;
      const c = column.get(data.id)!;
      const cx = columnLeft[c]! + rx;
      const cy = contentTop + node.x - minBreadth;
      columnOf.set(data.id, c);
      const placedNode: PlacedNode = {
        id: data.id, x: cx, y: cy, rx, ry,
        label: { text: data.label, x: cx, y: cy - 5, anchor: "middle", rotate: 0, fontSize: BOX_LABEL_FONT, color: data.textColor, bold: true },
        ...(data.detail ? { detail: { text: data.detail, x: cx, y: cy + 9, anchor: "middle" as const, rotate: 0, fontSize: BOX_DETAIL_FONT, color: "#555555" } } : {}),
      };
      nodes.set(data.id, placedNode);
      obstacles.add({ x: cx - rx, y: cy - ry, width: 2 * rx, height: 2 * ry });
    }
    const height = BAND_TITLE + 2 * BAND_PADDING + (members.length > 0 ? maxBreadth - minBreadth + BOX_HEIGHT : 0);
    placedBands.push({ group: groupId, top, height, width: bandWidth });
    const title = scene.groups.find((g) => g.id === groupId)?.label ?? "";
    widest = Math.max(widest, bandWidth, monoWidth(title, 13) + 2 * BAND_PADDING);
    top += height + BAND_GAP;
  }

  for (const band of placedBands) {
    const group = scene.groups.find((g) => g.id === band.group);
    const box = { x: 0, y: band.top, width: widest, height: band.height };
    obstacles.add({ x: 0, y: band.top, width: widest, height: BAND_TITLE });
    groups.push({
      id: band.group ?? "",
      box,
      label: { text: group?.label ?? "", x: BAND_PADDING, y: band.top + 19, anchor: "start", rotate: 0, fontSize: 13, color: "#333333", bold: true },
    });
  }

  const { edges, requests, reach } = routeEdges(scene.edges, nodes);
  const { blocks, hidden } = placeLabels(requests, obstacles);
  const picture = { nodes, edges, blocks, groups };
  return { ...picture, bounds: pictureBounds(picture, reach), hiddenLabels: hidden };
}

/** Between bands (a trace moving on to the next table): down the left margin, outside the columns. */
function marginCurve(from: PlacedNode, to: PlacedNode, lane: number): { start: Point; c1: Point; c2: Point; tip: Point; reach: Box } {
  const start = { x: from.x - from.rx, y: from.y };
  const tip = { x: to.x - to.rx, y: to.y };
  const out = Math.min(start.x, tip.x) - MARGIN_LANE * (lane + 1);
  const c1 = { x: out, y: start.y + Math.sign(tip.y - start.y) * 12 };
  const c2 = { x: out, y: tip.y - Math.sign(tip.y - start.y) * 12 };
  return { start, c1, c2, tip, reach: { x: out, y: Math.min(start.y, tip.y), width: 1, height: Math.abs(tip.y - start.y) } };
}

function routeEdges(sceneEdges: readonly SceneEdge[], nodes: Map<string, PlacedNode>): { edges: Map<string, PlacedEdge>; requests: LabelRequest[]; reach: Box[] } {
  const edges = new Map<string, PlacedEdge>();
  const requests: LabelRequest[] = [];
  const reach: Box[] = [];
  const parallel = new Map<string, number>();
  let lanes = 0;
  for (const edge of sceneEdges) {
    const from = nodes.get(edge.from);
    const to = nodes.get(edge.to);
    if (!from || !to) continue;
    const key = `${edge.from}\u0000${edge.to}`;
    const index = parallel.get(key) ?? 0;
    parallel.set(key, index + 1);
    const shift = index === 0 ? 0 : (index % 2 === 1 ? 1 : -1) * Math.ceil(index / 2) * 5;
    let start: Point;
    let tip: Point;
    let c1: Point;
    let c2: Point;
    if (edge.decorative && Math.abs(to.x - to.rx - (from.x - from.rx)) < 1 && Math.abs(to.y - from.y) > BOX_HEIGHT) {
      const curve = marginCurve(from, to, lanes++ % 4);
      ({ start, c1, c2, tip } = curve);
      reach.push(curve.reach);
    } else if (to.x > from.x) {
      start = { x: from.x + from.rx, y: from.y + shift };
      tip = { x: to.x - to.rx, y: to.y + shift };
      const bend = Math.max(30, (tip.x - start.x) / 2);
      c1 = { x: start.x + bend, y: start.y };
      c2 = { x: tip.x - bend, y: tip.y };
    } else {
      // Same column or leftwards (only for drawn loops of merged families): arc over the top.
      start = { x: from.x, y: from.y - from.ry };
      tip = { x: to.x + to.rx * 0.6, y: to.y - to.ry };
      c1 = { x: start.x + 40, y: Math.min(start.y, tip.y) - 60 };
      c2 = { x: tip.x + 30, y: Math.min(start.y, tip.y) - 50 };
    }
    const angle = Math.atan2(tip.y - c2.y, tip.x - c2.x);
    const stop = pullBack(tip, c2, ARROW_LENGTH);
    edges.set(edge.id, {
      id: edge.id,
      path: `M${round(start.x)},${round(start.y)}C${round(c1.x)},${round(c1.y)} ${round(c2.x)},${round(c2.y)} ${round(stop.x)},${round(stop.y)}`,
      ...(edge.arrow !== "none" ? { arrow: { kind: edge.arrow, tip, angle } } : {}),
    });
    if (edge.label) {
      // Near the target rather than mid-way: fan-outs from one chain crowd their midpoints.
      const middle = cubicPoint(start, c1, c2, tip, 0.75);
      requests.push({ lines: [{ text: edge.label, color: edge.labelColor ?? edge.color }], anchor: middle, edges: [edge.id], fontSize: 10, reach: 42, backdrop: "#ffffff" });
    }
  }
  return { edges, requests, reach };
}

function cubicPoint(a: Point, b: Point, c: Point, d: Point, t: number): Point {
  const abc = quadraticPoint(a, b, c, t);
  const bcd = quadraticPoint(b, c, d, t);
  return { x: abc.x + (bcd.x - abc.x) * t, y: abc.y + (bcd.y - abc.y) * t };
}
