// One self-contained HTML page: the SVG inline, the scene data as JSON, d3 and the page script inline. A
// Content-Security-Policy allows exactly those two scripts (by hash) and no network access at all.

import { scriptJson, scriptSource, xmlText } from "../escape.js";
import type { SceneLayout } from "../layout/frame.js";
import { MONO_FONT, SANS_FONT } from "../layout/text.js";
import type { SceneRule, Scene } from "../scene.js";
import { d3Bundle } from "./d3-bundle.js";
import { CLIENT_SCRIPT } from "./html-client.js";
import { writeSvg } from "./svg.js";

interface PanelItem {
  title: string;
  hover: string[];
  /** Lower-cased search terms, one per line, for substring search. */
  search: string;
  rules: SceneRule[];
  rulesOmitted: number;
}

const STYLE = `
html, body { margin: 0; height: 100%; font-family: ${SANS_FONT}; }
body { display: flex; flex-direction: column; background: #1e1e1e; }
header { display: flex; gap: 10px; align-items: center; padding: 6px 12px; background: #262626; color: #eeeeee; font-size: 13px; }
header input { width: 320px; padding: 4px 8px; font: inherit; border-radius: 4px; border: 1px solid #777777; }
header button { font: inherit; padding: 3px 10px; }
header .hint { color: #aaaaaa; margin-left: auto; }
main { flex: 1; display: flex; min-height: 0; }
#canvas { flex: 1; min-width: 0; }
#canvas svg { width: 100%; height: 100%; display: block; cursor: grab; }
aside { width: min(620px, 45vw); overflow: auto; background: #fbfbfb; border-left: 1px solid #bbbbbb; padding: 8px 14px; }
aside[hidden] { display: none; }
aside h2 { font-size: 15px; margin: 6px 0; font-family: ${MONO_FONT}; word-break: break-all; }
#panel-detail { white-space: pre-wrap; color: #444444; font-size: 12px; }
#panel-rules { padding-left: 0; list-style: none; }
#panel-rules li { margin: 0 0 8px; border-left: 3px solid #cccccc; padding-left: 8px; }
.where { color: #666666; font-size: 11px; }
.rule { font-family: ${MONO_FONT}; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
svg.searching g.node:not(.hit), svg.searching g.edge:not(.hit) { opacity: 0.12; }
g.node.hit .shape { stroke: #ffcc00; stroke-width: 4px; }
g.edge.hit .line { stroke-width: 4px; }
g.selected .shape { stroke: #00a8ff; stroke-width: 4px; }
g.node, g.edge { cursor: pointer; }
`;

function hash(source: string): string {
  // Loaded on use: node:crypto costs a few milliseconds of start-up that the svg format does not need.
  const { createHash } = process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
  return `'sha256-${createHash("sha256").update(source, "utf8").digest("base64")}'`;
}

function panelItems(scene: Scene): { nodes: PanelItem[]; edges: PanelItem[] } {
  const labels = new Map(scene.nodes.map((n) => [n.id, n.label]));
  const search = (terms: readonly string[]) => [...new Set(terms.map((t) => t.toLowerCase()))].join("\n");
  return {
    nodes: scene.nodes.map((n) => ({ title: n.label, hover: n.hover, search: search([n.label, ...n.search]), rules: n.rules, rulesOmitted: n.rulesOmitted })),
    edges: scene.edges.map((e) => ({
      title: `${labels.get(e.from) || "·"} → ${labels.get(e.to) || "·"}`,
      hover: e.hover,
      search: search(e.search),
      rules: e.rules,
      rulesOmitted: e.rulesOmitted,
    })),
  };
}

export function writeHtml(scene: Scene, layout: SceneLayout): string {
  const d3 = scriptSource(d3Bundle());
  const client = scriptSource(CLIENT_SCRIPT);
  const policy = `default-src 'none'; script-src ${hash(d3)} ${hash(client)}; style-src 'unsafe-inline'; img-src data:`;
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${policy}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${xmlText(scene.title)}</title>`,
    '<link rel="icon" href="data:,">',
    `<style>${STYLE}</style>`,
    "</head><body>",
    '<header><input id="search" type="search" placeholder="search a chain, service, address, rule text…" autocomplete="off" spellcheck="false">',
    '<span id="count"></span><button id="fit" type="button">reset view</button>',
    '<span class="hint">drag to pan · wheel to zoom · click a chain, node or edge for its rules · / to search</span></header>',
    `<main><div id="canvas">${writeSvg(scene, layout, { standalone: false })}</div>`,
    '<aside id="panel" hidden><button id="close" type="button">close</button><h2 id="panel-title"></h2><div id="panel-detail"></div><ol id="panel-rules"></ol><div id="panel-more"></div></aside></main>',
    `<script type="application/json" id="iptscope-data">${scriptJson(panelItems(scene))}</script>`,
    `<script>${d3}</script>`,
    `<script>${client}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}
