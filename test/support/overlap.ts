// Readability check for laid-out pictures: no two texts (node labels, details, edge label blocks, group titles)
// overlap. Texts are oriented boxes (radial labels are rotated); overlap is tested with separating axes.

import { monoWidth } from "../../src/render/layout/text.js";
import type { PictureLayout, Point } from "../../src/render/layout/types.js";

type Polygon = Point[];

function textPolygon(text: { text: string; x: number; y: number; fontSize: number; anchor: string; rotate: number }): Polygon {
  const width = monoWidth(text.text, text.fontSize);
  const left = text.anchor === "start" ? 0 : text.anchor === "middle" ? -width / 2 : -width;
  const angle = (text.rotate * Math.PI) / 180;
  const corners = [
    { x: left, y: -text.fontSize * 0.75 },
    { x: left + width, y: -text.fontSize * 0.75 },
    { x: left + width, y: text.fontSize * 0.2 },
    { x: left, y: text.fontSize * 0.2 },
  ];
  return corners.map((c) => ({ x: text.x + c.x * Math.cos(angle) - c.y * Math.sin(angle), y: text.y + c.x * Math.sin(angle) + c.y * Math.cos(angle) }));
}

function boxPolygon(x: number, y: number, width: number, height: number): Polygon {
  return [{ x, y }, { x: x + width, y }, { x: x + width, y: y + height }, { x, y: y + height }];
}

function separated(a: Polygon, b: Polygon): boolean {
  for (const polygon of [a, b]) {
    for (let i = 0; i < polygon.length; i++) {
      const p = polygon[i]!;
      const q = polygon[(i + 1) % polygon.length]!;
      const axis = { x: q.y - p.y, y: p.x - q.x };
      const project = (poly: Polygon) => poly.map((v) => v.x * axis.x + v.y * axis.y);
      const pa = project(a);
      const pb = project(b);
      if (Math.max(...pa) <= Math.min(...pb) || Math.max(...pb) <= Math.min(...pa)) return true;
    }
  }
  return false;
}

/** Pairs of overlapping texts/labels: node labels, details, edge label blocks, group titles. */
export function overlaps(picture: PictureLayout): string[] {
  const items: { name: string; polygon: Polygon }[] = [];
  for (const node of picture.nodes.values()) {
    if (node.label && node.label.text) items.push({ name: `label ${node.label.text}`, polygon: textPolygon(node.label) });
    if (node.detail) items.push({ name: `detail ${node.detail.text}`, polygon: textPolygon(node.detail) });
  }
  for (const block of picture.blocks) items.push({ name: `edge label ${block.lines[0]!.text}`, polygon: boxPolygon(block.box.x, block.box.y, block.box.width, block.box.height) });
  for (const group of picture.groups) items.push({ name: `group ${group.label.text}`, polygon: textPolygon(group.label) });
  const found: string[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      // A node's detail line sits under its own label by design.
      if (!separated(items[i]!.polygon, items[j]!.polygon)) found.push(`${items[i]!.name} × ${items[j]!.name}`);
    }
  }
  return found;
}
