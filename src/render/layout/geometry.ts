// Small geometry: boxes, a grid index for collision tests, quadratic curves, node boundaries.

import type { Box, PictureLayout, Point } from "./types.js";

export function overlaps(a: Box, b: Box, margin = 0): boolean {
  return a.x < b.x + b.width + margin && b.x < a.x + a.width + margin && a.y < b.y + b.height + margin && b.y < a.y + a.height + margin;
}

/** Boxes in a uniform grid: collision queries cost the boxes near the query, not all of them. */
export class BoxIndex {
  private readonly cells = new Map<number, Box[]>();
  constructor(private readonly cellSize = 96) {}

  // A cell's two coordinates as one number key (no string per lookup). Cells past ±2^20 would share keys, which
  // only adds candidates: `overlaps` still decides.
  private static key(column: number, row: number): number {
    return (column + CELL_OFFSET) * CELL_SPAN + (row + CELL_OFFSET);
  }

  add(box: Box): void {
    const x1 = Math.floor((box.x + box.width) / this.cellSize);
    const y1 = Math.floor((box.y + box.height) / this.cellSize);
    for (let x = Math.floor(box.x / this.cellSize); x <= x1; x++) {
      for (let y = Math.floor(box.y / this.cellSize); y <= y1; y++) {
        const key = BoxIndex.key(x, y);
        const cell = this.cells.get(key);
        if (cell) cell.push(box);
        else this.cells.set(key, [box]);
      }
    }
  }

  collides(box: Box, margin = 2): boolean {
    const x1 = Math.floor((box.x + box.width) / this.cellSize);
    const y1 = Math.floor((box.y + box.height) / this.cellSize);
    for (let x = Math.floor(box.x / this.cellSize); x <= x1; x++) {
      for (let y = Math.floor(box.y / this.cellSize); y <= y1; y++) {
        const cell = this.cells.get(BoxIndex.key(x, y));
        if (cell === undefined) continue;
        for (const other of cell) if (overlaps(box, other, margin)) return true;
      }
    }
    return false;
  }
}

const CELL_OFFSET = 2 ** 20;
const CELL_SPAN = 2 ** 21;

/** The box of a text drawn at (x, y) with the given anchor and rotation (the rotated box's bounds). */
export function textBox(x: number, y: number, width: number, fontSize: number, anchor: "start" | "middle" | "end", rotateDegrees: number): Box {
  const left = anchor === "start" ? 0 : anchor === "middle" ? -width / 2 : -width;
  const corners: Point[] = [
    { x: left, y: -fontSize * 0.8 },
    { x: left + width, y: -fontSize * 0.8 },
    { x: left, y: fontSize * 0.25 },
    { x: left + width, y: fontSize * 0.25 },
  ];
  const angle = (rotateDegrees * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const xs = corners.map((c) => x + c.x * cos - c.y * sin);
  const ys = corners.map((c) => y + c.x * sin + c.y * cos);
  const minX = Math.min(...xs);
  const minY = Math.min(...ys);
  return { x: minX, y: minY, width: Math.max(...xs) - minX, height: Math.max(...ys) - minY };
}

export function quadraticPoint(a: Point, c: Point, b: Point, t: number): Point {
  const u = 1 - t;
  return { x: u * u * a.x + 2 * u * t * c.x + t * t * b.x, y: u * u * a.y + 2 * u * t * c.y + t * t * b.y };
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Where the ray from a node's centre towards `toward` leaves the node's ellipse (or box, for boxes). */
export function boundaryPoint(center: Point, rx: number, ry: number, toward: Point, box = false, rotateDegrees = 0): Point {
  const dx = toward.x - center.x;
  const dy = toward.y - center.y;
  if (dx === 0 && dy === 0) return center;
  const angle = (-rotateDegrees * Math.PI) / 180;
  const ux = dx * Math.cos(angle) - dy * Math.sin(angle);
  const uy = dx * Math.sin(angle) + dy * Math.cos(angle);
  let scale: number;
  if (box) scale = 1 / Math.max(Math.abs(ux) / Math.max(rx, 0.01), Math.abs(uy) / Math.max(ry, 0.01));
  else scale = 1 / Math.sqrt((ux * ux) / Math.max(rx * rx, 0.01) + (uy * uy) / Math.max(ry * ry, 0.01));
  return { x: center.x + dx * scale, y: center.y + dy * scale };
}

/** Moves `point` back towards `from` by `length` pixels (to leave room for an arrowhead). */
export function pullBack(point: Point, from: Point, length: number): Point {
  const d = distance(point, from);
  if (d <= length || d === 0) return point;
  return { x: point.x + ((from.x - point.x) * length) / d, y: point.y + ((from.y - point.y) * length) / d };
}

/** Picture bounds from every placed element. */
export function pictureBounds(layout: Omit<PictureLayout, "bounds" | "hiddenLabels">, extra: readonly Box[] = []): Box {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const include = (box: Box) => {
    minX = Math.min(minX, box.x);
    minY = Math.min(minY, box.y);
    maxX = Math.max(maxX, box.x + box.width);
    maxY = Math.max(maxY, box.y + box.height);
  };
  for (const node of layout.nodes.values()) include({ x: node.x - node.rx, y: node.y - node.ry, width: 2 * node.rx, height: 2 * node.ry });
  for (const block of layout.blocks) include(block.box);
  for (const group of layout.groups) include(group.box);
  for (const box of extra) include(box);
  if (minX === Infinity) return { x: 0, y: 0, width: 1, height: 1 };
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

export const round = (value: number): string => (Math.round(value * 10) / 10).toString();
