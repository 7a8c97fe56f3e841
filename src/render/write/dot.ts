// DOT for Graphviz: radial scenes as gressgraph emits them (twopi, invisible root, grey background), band
// scenes as clusters laid out left to right. Positions are Graphviz's business; ids are generated, never taken
// from the dump, and every dump string goes through dotString / dotHtmlText.

import { cssColor, dotHtmlText, dotString, dotTooltip } from "../escape.js";
import { TARGET_COLOR } from "../palette.js";
import { TARGET_CLASSES } from "../rule-facts.js";
import type { ArrowKind, Emphasis, LegendItem, LineStyle, Scene, SceneEdge, SceneNode } from "../scene.js";
import { logSize } from "../layout/sizes.js";

const FONT = "DejaVu Sans Mono";

const ARROWHEAD: Record<ArrowKind, string> = {
  normal: "normal",
  tee: "tee",
  // Graphviz builds combined heads from the tip backwards: a bar, then an open circle.
  reject: "teeodot",
  vee: "vee",
  inv: "inv",
  diamond: "diamond",
  dot: "dot",
  box: "box",
  none: "none",
};

const STYLE: Record<LineStyle, string | undefined> = { solid: undefined, dashed: "dashed", dotted: "dotted" };

function faded(color: string, emphasis: Emphasis): string {
  const checked = cssColor(color);
  return emphasis === "dimmed" && /^#[0-9a-fA-F]{6}$/.test(checked) ? `${checked}40` : checked;
}

function attributes(list: Record<string, string | number | undefined>): string {
  const parts = Object.entries(list)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${typeof value === "number" ? Number(value.toFixed(3)) : value}`);
  return parts.length > 0 ? ` [${parts.join(", ")}]` : "";
}

const tooltip = (lines: readonly string[]) => (lines.length > 0 ? dotTooltip(lines.join("\n")) : undefined);

function radialNode(node: SceneNode, id: string): string {
  if (node.shape === "hidden") return `  ${id}${attributes({ style: "invis", label: '""', root: "true" })};`;
  // gressgraph: size = log10(rule occurrences) + 0.25 inches.
  const size = logSize(node.weight) + 0.25;
  return `  ${id}${attributes({
    label: dotString(node.detail && node.shape === "box" ? `${node.label}\n${node.detail}` : node.label),
    shape: node.shape === "circle" ? "circle" : node.shape === "box" ? "box" : "ellipse",
    height: size,
    width: node.shape === "circle" ? size : undefined,
    fixedsize: node.shape === "circle" ? "false" : undefined,
    style: node.dashed ? '"filled,dashed"' : "filled",
    fillcolor: dotString(faded(node.fill, node.emphasis)),
    color: dotString(faded(node.stroke, node.emphasis)),
    penwidth: node.strokeWidth,
    tooltip: tooltip(node.hover),
  })};`;
}

function chainLabel(node: SceneNode): string {
  const verdicts = node.verdicts ?? {};
  const shown = TARGET_CLASSES.filter((c) => (verdicts[c] ?? 0) > 0);
  const total = shown.reduce((n, c) => n + verdicts[c]!, 0);
  const span = Math.max(1, shown.length);
  const rows = [`<TR><TD COLSPAN="${span}"><B>${dotHtmlText(node.label)}</B></TD></TR>`];
  if (node.detail) rows.push(`<TR><TD COLSPAN="${span}"><FONT POINT-SIZE="9">${dotHtmlText(node.detail)}</FONT></TD></TR>`);
  if (shown.length > 0) {
    rows.push(`<TR>${shown.map((c) => `<TD BGCOLOR="${TARGET_COLOR[c]}" WIDTH="${Math.max(2, Math.round((60 * verdicts[c]!) / total))}" HEIGHT="4"></TD>`).join("")}</TR>`);
  }
  const border = node.dashed ? ' STYLE="dashed"' : "";
  return `<<TABLE BORDER="${Math.max(1, Math.round(node.strokeWidth ?? 1))}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="${faded(node.fill, node.emphasis)}" COLOR="${faded(node.stroke, node.emphasis)}"${border}>${rows.join("")}</TABLE>>`;
}

function bandNode(node: SceneNode, id: string): string {
  return `  ${id}${attributes({ shape: "plain", label: chainLabel(node), tooltip: tooltip(node.hover) })};`;
}

function edgeLine(edge: SceneEdge, ids: Map<string, string>, radial: boolean): string | undefined {
  const from = ids.get(edge.from);
  const to = ids.get(edge.to);
  if (from === undefined || to === undefined) return undefined;
  const color = faded(edge.color, edge.emphasis);
  return `  ${from} -> ${to}${attributes({
    color: dotString(color),
    fontcolor: dotString(faded(edge.labelColor ?? edge.color, edge.emphasis)),
    penwidth: edge.width,
    arrowhead: ARROWHEAD[edge.arrow],
    style: STYLE[edge.line],
    label: edge.label ? dotString(edge.label) : undefined,
    tooltip: tooltip(edge.hover),
    labeltooltip: edge.label ? tooltip(edge.hover) : undefined,
    fontsize: radial ? 9 : 8,
    constraint: edge.decorative ? "false" : undefined,
  })};`;
}

function legendNode(items: readonly LegendItem[], background: string, foreground: string): string {
  const rows = items.map((item) => {
    switch (item.kind) {
      case "edge":
        return `<TR><TD ALIGN="LEFT"><FONT COLOR="#222222">${item.line === "solid" ? "───" : item.line === "dashed" ? "‐ ‐ ‐" : "·····"} ${ARROWHEAD[item.arrow]}</FONT></TD><TD ALIGN="LEFT">${dotHtmlText(item.label)}</TD></TR>`;
      case "swatch":
        return `<TR><TD BGCOLOR="${cssColor(item.color)}" BORDER="1"> </TD><TD ALIGN="LEFT">${dotHtmlText(item.label)}</TD></TR>`;
      case "palette":
        return `<TR><TD><TABLE BORDER="0" CELLSPACING="0"><TR>${item.colors.map((c) => `<TD BGCOLOR="${cssColor(c)}" WIDTH="8"> </TD>`).join("")}</TR></TABLE></TD><TD ALIGN="LEFT">${dotHtmlText(item.label)}</TD></TR>`;
      default: {
        const unreachable: never = item;
        throw new Error(`unknown legend item ${JSON.stringify(unreachable)}`);
      }
    }
  });
  const label = `<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="2" BGCOLOR="${cssColor(background)}"><TR><TD COLSPAN="2"><B>Legend</B></TD></TR>${rows.join("")}</TABLE>>`;
  return `  legend${attributes({ shape: "plain", label, fontcolor: dotString(cssColor(foreground)) })};`;
}

export function writeDot(scene: Scene): string {
  const radial = scene.layout === "radial";
  const ids = new Map(scene.nodes.map((n, i) => [n.id, `n${i}`]));
  const lines: string[] = ["digraph iptscope {"];
  const label = dotString([scene.title, ...scene.notes].join("\n"));
  if (radial) {
    const hub = scene.nodes.find((n) => n.kind === "hub");
    lines.push(
      `  graph${attributes({ layout: "twopi", root: hub ? ids.get(hub.id) : undefined, ranksep: 3.0, overlap: "false", splines: "true", bgcolor: dotString(cssColor(scene.background)), fontname: dotString(FONT), fontcolor: dotString(cssColor(scene.foreground)), label, labelloc: "t", labeljust: "l" })};`,
      `  node${attributes({ fontname: dotString(FONT), fontsize: 10 })};`,
      `  edge${attributes({ fontname: dotString(FONT) })};`,
    );
    for (const node of scene.nodes) lines.push(radialNode(node, ids.get(node.id)!));
    // Invisible tree edges put each node on the ring below its parent, as gressgraph's "iface -> root" do.
    for (const node of scene.nodes) {
      if (node.parent !== undefined && ids.has(node.parent)) lines.push(`  ${ids.get(node.parent)} -> ${ids.get(node.id)}${attributes({ style: "invis" })};`);
    }
  } else {
    lines.push(
      `  graph${attributes({ rankdir: "LR", newrank: "true", nodesep: 0.2, ranksep: 0.8, bgcolor: dotString(cssColor(scene.background)), fontname: dotString(FONT), label, labelloc: "t", labeljust: "l" })};`,
      `  node${attributes({ fontname: dotString(FONT), fontsize: 11 })};`,
      `  edge${attributes({ fontname: dotString(FONT) })};`,
    );
    scene.groups.forEach((group, g) => {
      lines.push(
        `  subgraph cluster_${g} {`,
        `    graph${attributes({ label: dotString(group.label), style: "filled", fillcolor: dotString(cssColor(group.fill)), color: dotString(cssColor(group.stroke)), tooltip: tooltip(group.hover) })};`,
      );
      const members = scene.nodes.filter((n) => n.group === group.id);
      for (const node of members) lines.push(`  ${bandNode(node, ids.get(node.id)!)}`);
      const anchors = members.filter((n) => n.anchor);
      if (anchors.length > 0) lines.push(`    { rank=same; ${anchors.map((n) => ids.get(n.id)).join("; ")}; }`);
      lines.push("  }");
    });
    for (const node of scene.nodes) if (node.group === undefined || !scene.groups.some((g) => g.id === node.group)) lines.push(bandNode(node, ids.get(node.id)!));
  }
  for (const edge of scene.edges) {
    const line = edgeLine(edge, ids, radial);
    if (line) lines.push(line);
  }
  if (scene.legend.length > 0) {
    lines.push(legendNode(scene.legend, radial ? "#d9d9d9" : "#fafafa", "#222222"));
    // twopi (Graphviz 2.43) crashes on a node that is not connected to the root.
    const hub = scene.nodes.find((n) => n.kind === "hub");
    if (radial && hub) lines.push(`  ${ids.get(hub.id)} -> legend${attributes({ style: "invis" })};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
