// Node sizes: circles and ellipses grow with log10 of the node's rule count (gressgraph: log10(n) + 0.25 in);
// boxes fit their text.

import type { SceneNode } from "../scene.js";
import { monoWidth } from "./text.js";

export const LABEL_FONT = 11;
export const BOX_LABEL_FONT = 12;
export const BOX_DETAIL_FONT = 10;
export const BOX_HEIGHT = 44;

export function logSize(weight: number): number {
  return Math.log10(Math.max(1, weight));
}

/** Half width and half height of a node as drawn. */
export function nodeExtent(node: SceneNode): { rx: number; ry: number } {
  switch (node.shape) {
    case "hidden":
      return { rx: 0, ry: 0 };
    case "circle": {
      const r = Math.min(46, 10 + 10 * logSize(node.weight));
      return { rx: r, ry: r };
    }
    case "ellipse": {
      const ry = Math.min(18, 5 + 4 * logSize(node.weight));
      return { rx: ry * 1.6, ry };
    }
    case "box": {
      const width = Math.max(monoWidth(node.label, BOX_LABEL_FONT), node.detail ? monoWidth(node.detail, BOX_DETAIL_FONT) : 0) + 18;
      return { rx: Math.max(40, width / 2), ry: BOX_HEIGHT / 2 };
    }
    default: {
      const unreachable: never = node.shape;
      throw new Error(`unknown shape ${String(unreachable)}`);
    }
  }
}
