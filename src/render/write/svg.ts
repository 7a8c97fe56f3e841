// SVG as text: a placed scene written out element by element. Every dump string passes through escape.ts.

import { cssColor, xmlAttribute, xmlText } from "../escape.js";
import type { Frame, SceneLayout } from "../layout/frame.js";
import { SWATCH_WIDTH } from "../layout/labels.js";
import { round } from "../layout/geometry.js";
import { MONO_FONT, SANS_FONT } from "../layout/text.js";
import type { Arrowhead, PlacedLabelBlock, PlacedNode, PlacedText, Point } from "../layout/types.js";
import { TARGET_COLOR } from "../palette.js";
import { TARGET_CLASSES } from "../rule-facts.js";
import type { ArrowKind, Emphasis, LegendItem, LineStyle, Scene, SceneEdge, SceneNode } from "../scene.js";

export interface SvgOptions {
  /** With the XML declaration, for a .svg file; without, for inlining into HTML. */
  standalone: boolean;
}

const DASH: Record<LineStyle, string | undefined> = { solid: undefined, dashed: "7 4", dotted: "2 3" };
// Dimmed parts stay legible enough to show where the lit path runs among them.
const OPACITY: Record<Emphasis, string | undefined> = { normal: undefined, dimmed: "0.22", highlighted: undefined };

const attribute = (name: string, value: string | number | undefined): string =>
  value === undefined ? "" : ` ${name}="${typeof value === "number" ? round(value) : xmlAttribute(value)}"`;

function title(lines: readonly string[]): string {
  return lines.length > 0 ? `<title>${xmlText(lines.join("\n"))}</title>` : "";
}

function text(placed: PlacedText, font: string, extra = ""): string {
  const halo = placed.halo
    ? `${attribute("stroke", cssColor(placed.halo))} stroke-width="3" stroke-linejoin="round" paint-order="stroke"`
    : "";
  const rotate = placed.rotate !== 0 ? attribute("transform", `rotate(${round(placed.rotate)} ${round(placed.x)} ${round(placed.y)})`) : "";
  return (
    `<text${attribute("x", placed.x)}${attribute("y", placed.y)}${attribute("font-size", placed.fontSize)}${attribute("font-family", font)}` +
    `${placed.anchor !== "start" ? attribute("text-anchor", placed.anchor) : ""}${placed.bold ? ' font-weight="bold"' : ""}` +
    `${attribute("fill", cssColor(placed.color))}${halo}${rotate}${extra}>${xmlText(placed.text)}</text>`
  );
}

function polygon(points: readonly Point[]): string {
  return points.map((p) => `${round(p.x)},${round(p.y)}`).join(" ");
}

/** Arrowheads drawn as shapes at the tip (not markers), so every viewer draws them alike. */
function arrowShape(arrow: Arrowhead, color: string, background: string): string {
  const length = 9;
  const half = 4.2;
  const d = { x: Math.cos(arrow.angle), y: Math.sin(arrow.angle) };
  const n = { x: -d.y, y: d.x };
  const at = (back: number, side: number): Point => ({ x: arrow.tip.x - d.x * back + n.x * side, y: arrow.tip.y - d.y * back + n.y * side });
  const fill = cssColor(color);
  const kind: ArrowKind = arrow.kind;
  switch (kind) {
    case "none":
      return "";
    case "normal":
      return `<polygon points="${polygon([at(0, 0), at(length, half), at(length, -half)])}" fill="${fill}"/>`;
    case "vee": {
      const base = at(length, 0);
      return `<path d="M${polygon([at(length, half)])}L${polygon([at(0, 0)])}L${polygon([at(length, -half)])}M${polygon([base])}L${polygon([at(0, 0)])}" fill="none" stroke="${fill}" stroke-width="1.6"/>`;
    }
    case "tee":
      return `<path d="M${polygon([at(0, 6)])}L${polygon([at(0, -6)])}" stroke="${fill}" stroke-width="3"/>`;
    case "reject": {
      const centre = at(7, 0);
      return (
        `<path d="M${polygon([at(0, 6)])}L${polygon([at(0, -6)])}" stroke="${fill}" stroke-width="3"/>` +
        `<circle cx="${round(centre.x)}" cy="${round(centre.y)}" r="3.6" fill="${cssColor(background)}" stroke="${fill}" stroke-width="1.8"/>`
      );
    }
    case "inv":
      return `<polygon points="${polygon([at(0, half), at(0, -half), at(length, 0)])}" fill="${fill}"/>`;
    case "diamond":
      return `<polygon points="${polygon([at(0, 0), at(length / 2, half), at(length, 0), at(length / 2, -half)])}" fill="${fill}"/>`;
    case "dot": {
      const centre = at(4, 0);
      return `<circle cx="${round(centre.x)}" cy="${round(centre.y)}" r="3.8" fill="${fill}"/>`;
    }
    case "box":
      return `<polygon points="${polygon([at(0, 3.5), at(0, -3.5), at(7.5, -3.5), at(7.5, 3.5)])}" fill="${fill}"/>`;
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown arrow ${String(unreachable)}`);
    }
  }
}

function edgeElement(edge: SceneEdge, index: number, layout: SceneLayout, background: string): string {
  const placed = layout.picture.edges.get(edge.id);
  if (!placed) return "";
  const color = cssColor(edge.color);
  return (
    `<g class="edge" data-index="${index}"${attribute("opacity", OPACITY[edge.emphasis])}>${title(edge.hover)}` +
    `<path class="line"${attribute("d", placed.path)} fill="none" stroke="${color}"${attribute("stroke-width", edge.width)}${attribute("stroke-dasharray", DASH[edge.line])}/>` +
    (placed.arrow ? arrowShape(placed.arrow, edge.color, background) : "") +
    `<path class="hit"${attribute("d", placed.path)} fill="none" stroke="#000" stroke-opacity="0" stroke-width="9"/></g>`
  );
}

function verdictBar(node: SceneNode, placed: PlacedNode): string {
  const verdicts = node.verdicts;
  if (!verdicts) return "";
  const total = TARGET_CLASSES.reduce((n, c) => n + (verdicts[c] ?? 0), 0);
  if (total === 0) return "";
  const width = 2 * placed.rx - 12;
  let x = placed.x - placed.rx + 6;
  const y = placed.y + placed.ry - 8;
  const parts: string[] = [];
  for (const cls of TARGET_CLASSES) {
    const count = verdicts[cls] ?? 0;
    if (count === 0) continue;
    const w = (width * count) / total;
    parts.push(`<rect x="${round(x)}" y="${round(y)}" width="${round(w)}" height="4" fill="${TARGET_COLOR[cls]}"/>`);
    x += w;
  }
  return `<g class="verdicts">${parts.join("")}</g>`;
}

function nodeElement(node: SceneNode, index: number, layout: SceneLayout): string {
  const placed = layout.picture.nodes.get(node.id);
  if (!placed || node.shape === "hidden") return "";
  const width = node.strokeWidth ?? (node.kind === "chain" || node.kind === "chain-group" ? 1.2 : 1.5);
  const paint = `${attribute("fill", cssColor(node.fill))}${attribute("stroke", cssColor(node.stroke))}${attribute("stroke-width", width)}${node.dashed ? ' stroke-dasharray="4 3"' : ""}`;
  let shape: string;
  switch (node.shape) {
    case "circle":
      shape = `<circle class="shape"${attribute("cx", placed.x)}${attribute("cy", placed.y)}${attribute("r", placed.rx)}${paint}/>`;
      break;
    case "ellipse": {
      const rotate = placed.rotate ? attribute("transform", `rotate(${round(placed.rotate)} ${round(placed.x)} ${round(placed.y)})`) : "";
      shape = `<ellipse class="shape"${attribute("cx", placed.x)}${attribute("cy", placed.y)}${attribute("rx", placed.rx)}${attribute("ry", placed.ry)}${rotate}${paint}/>`;
      break;
    }
    case "box": {
      const rotate = placed.rotate ? attribute("transform", `rotate(${round(placed.rotate)} ${round(placed.x)} ${round(placed.y)})`) : "";
      shape = `<rect class="shape"${attribute("x", placed.x - placed.rx)}${attribute("y", placed.y - placed.ry)}${attribute("width", 2 * placed.rx)}${attribute("height", 2 * placed.ry)} rx="5"${rotate}${paint}/>`;
      break;
    }
    default: {
      const unreachable: never = node.shape;
      throw new Error(`unknown shape ${String(unreachable)}`);
    }
  }
  return (
    `<g class="node" data-index="${index}"${attribute("opacity", OPACITY[node.emphasis])}>${title(node.hover)}${shape}` +
    (placed.label ? text(placed.label, MONO_FONT) : "") +
    (placed.detail ? text(placed.detail, MONO_FONT) : "") +
    verdictBar(node, placed) +
    "</g>"
  );
}

function labelBlock(block: PlacedLabelBlock, leaderColor: string, emphasis: Emphasis): string {
  const { box, fontSize } = block;
  const leader = block.leader
    ? `<line${attribute("x1", block.leader.from.x)}${attribute("y1", block.leader.from.y)}${attribute("x2", block.leader.to.x)}${attribute("y2", block.leader.to.y)} stroke="${cssColor(leaderColor)}" stroke-width="0.8" stroke-dasharray="2 2"/>`
    : "";
  const baseline = (i: number) => box.y + 4 + fontSize * 0.85 + i * fontSize * 1.25;
  const textX = box.x + 4 + (block.textColor !== undefined ? SWATCH_WIDTH : 0);
  const swatches =
    block.textColor !== undefined
      ? block.lines.map((line, i) => `<rect${attribute("x", box.x + 4)}${attribute("y", baseline(i) - fontSize * 0.72)}${attribute("width", fontSize * 0.75)}${attribute("height", fontSize * 0.75)}${attribute("fill", cssColor(line.color))}/>`).join("")
      : "";
  const lines = block.lines
    .map((line, i) => `<tspan${attribute("x", textX)}${attribute("y", baseline(i))}${attribute("fill", cssColor(block.textColor ?? line.color))}>${xmlText(line.text)}</tspan>`)
    .join("");
  return (
    `<g class="edge-label"${attribute("opacity", OPACITY[emphasis])}>${leader}<rect${attribute("x", box.x)}${attribute("y", box.y)}${attribute("width", box.width)}${attribute("height", box.height)} rx="3"` +
    `${attribute("fill", cssColor(block.backdrop))} fill-opacity="0.85"/>${swatches}<text${attribute("font-size", fontSize)}${attribute("font-family", MONO_FONT)}>${lines}</text></g>`
  );
}

function legendSample(row: { item: LegendItem; x: number; y: number }, frame: Frame, background: string): string {
  const { item, x, y } = row;
  switch (item.kind) {
    case "edge": {
      const end = { x: x + frame.legend.sampleWidth, y };
      return (
        `<path d="M${round(x)},${round(y)}L${round(end.x - (item.arrow === "tee" || item.arrow === "reject" || item.arrow === "none" ? 0 : 9))},${round(y)}" stroke="${cssColor(item.color)}"${attribute("stroke-width", item.width ?? 1.8)}${attribute("stroke-dasharray", DASH[item.line])}/>` +
        arrowShape({ kind: item.arrow, tip: end, angle: 0 }, item.color, background)
      );
    }
    case "swatch":
      return `<rect x="${round(x + 15)}" y="${round(y - 7)}" width="14" height="14" rx="2" fill="${cssColor(item.color)}"${attribute("stroke", cssColor(item.stroke ?? "#444444"))}${attribute("stroke-width", item.strokeWidth ?? 1)}/>`;
    case "palette":
      return item.colors.map((c, i) => `<rect x="${round(x + i * 12)}" y="${round(y - 6)}" width="12" height="12" fill="${cssColor(c)}"/>`).join("");
    default: {
      const unreachable: never = item;
      throw new Error(`unknown legend item ${JSON.stringify(unreachable)}`);
    }
  }
}

function legend(scene: Scene, frame: Frame): string {
  if (scene.legend.length === 0) return "";
  const dark = scene.layout === "radial";
  const panel = dark ? "#5e5e5e" : "#fafafa";
  const ink = dark ? "#ffffff" : "#222222";
  const { box, heading, rows, fontSize, sampleWidth } = frame.legend;
  const items = rows
    .map((row) => {
      const offset = row.item.kind === "palette" ? row.item.colors.length * 12 + 8 : sampleWidth + 10;
      return `<g class="legend-item">${legendSample(row, frame, panel)}<text x="${round(row.x + offset)}" y="${round(row.y + 4)}" font-size="${fontSize}" fill="${ink}">${xmlText(row.item.label)}</text></g>`;
    })
    .join("");
  return (
    `<g class="legend"><rect${attribute("x", box.x)}${attribute("y", box.y)}${attribute("width", box.width)}${attribute("height", box.height)} rx="6" fill="${panel}" stroke="${dark ? "#3c3c3c" : "#bbbbbb"}"/>` +
    `<text x="${round(heading.x)}" y="${round(heading.y)}" font-size="13" font-weight="bold" fill="${ink}">Legend</text>${items}</g>`
  );
}

export function writeSvg(scene: Scene, layout: SceneLayout, options: SvgOptions): string {
  const { frame, picture } = layout;
  const parts: string[] = [];
  if (options.standalone) parts.push('<?xml version="1.0" encoding="UTF-8"?>\n');
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="iptscope-graph" width="${frame.width}" height="${frame.height}" viewBox="0 0 ${frame.width} ${frame.height}"` +
      `${attribute("font-family", SANS_FONT)} data-view="${scene.view}">\n`,
  );
  parts.push(`<title>${xmlText(scene.title)}</title><desc>${xmlText(scene.notes.join("\n"))}</desc>\n`);
  parts.push(`<rect class="background" width="${frame.width}" height="${frame.height}" fill="${cssColor(scene.background)}"/>\n`);
  parts.push(
    `<g class="header">${text({ ...frame.title, anchor: "start", rotate: 0, color: scene.foreground, bold: true }, SANS_FONT)}` +
      frame.notes.map((note) => text({ ...note, anchor: "start", rotate: 0, color: scene.foreground }, SANS_FONT)).join("") +
      "</g>\n",
  );
  parts.push(`<g class="viewport"><g transform="translate(${round(frame.offset.x)} ${round(frame.offset.y)})">\n`);
  parts.push('<g class="groups">');
  for (const group of picture.groups) {
    const data = scene.groups.find((g) => g.id === group.id);
    if (!data) continue;
    parts.push(
      `<g class="group">${title(data.hover)}<rect${attribute("x", group.box.x)}${attribute("y", group.box.y)}${attribute("width", group.box.width)}${attribute("height", group.box.height)} rx="8"` +
        `${attribute("fill", cssColor(data.fill))}${attribute("stroke", cssColor(data.stroke))}/>${text(group.label, MONO_FONT)}</g>`,
    );
  }
  parts.push("</g>\n<g class=\"edges\">");
  scene.edges.forEach((edge, i) => parts.push(edgeElement(edge, i, layout, scene.background)));
  parts.push("</g>\n<g class=\"nodes\">");
  scene.nodes.forEach((node, i) => parts.push(nodeElement(node, i, layout)));
  parts.push("</g>\n<g class=\"edge-labels\">");
  const leaderColor = scene.layout === "radial" ? "#e8e8e8" : "#999999";
  const dimmed = new Set(scene.edges.filter((e) => e.emphasis === "dimmed").map((e) => e.id));
  for (const block of picture.blocks) parts.push(labelBlock(block, leaderColor, block.edges.every((id) => dimmed.has(id)) ? "dimmed" : "normal"));
  parts.push("</g>\n</g></g>\n");
  parts.push(legend(scene, frame));
  parts.push("\n</svg>\n");
  return parts.join("");
}
