// The graph as JSON (schemaVersion 1, kind "iptscope.graph"): the scene with the computed positions. Positions
// and edge paths are in picture coordinates; the picture sits at `offset` in a `width` × `height` canvas.

import type { SceneLayout } from "../layout/frame.js";
import { SCENE_SCHEMA_VERSION, type Scene } from "../scene.js";

function graphDocument(scene: Scene, layout: SceneLayout): object {
  const { picture, frame } = layout;
  return {
    schemaVersion: SCENE_SCHEMA_VERSION,
    kind: "iptscope.graph",
    view: scene.view,
    layout: scene.layout,
    title: scene.title,
    notes: scene.notes,
    aggregated: scene.aggregated,
    hiddenLabels: picture.hiddenLabels,
    width: frame.width,
    height: frame.height,
    offset: frame.offset,
    groups: scene.groups.map((group) => {
      const placed = picture.groups.find((g) => g.id === group.id);
      return { ...group, ...(placed ? { box: placed.box } : {}) };
    }),
    nodes: scene.nodes.map((node) => {
      const placed = picture.nodes.get(node.id);
      return { ...node, ...(placed ? { x: placed.x, y: placed.y, rx: placed.rx, ry: placed.ry, ...(placed.rotate ? { rotate: placed.rotate } : {}) } : {}) };
    }),
    edges: scene.edges.map((edge) => {
      const placed = picture.edges.get(edge.id);
      return { ...edge, ...(placed ? { path: placed.path, ...(placed.arrow ? { arrowTip: placed.arrow.tip } : {}) } : {}) };
    }),
    labels: picture.blocks.map((block) => ({ box: block.box, lines: block.lines, edges: block.edges })),
    legend: scene.legend,
  };
}

export function writeGraphJson(scene: Scene, layout: SceneLayout): string {
  return JSON.stringify(graphDocument(scene, layout), null, 1) + "\n";
}
