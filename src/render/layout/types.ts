// A placed scene: coordinates for every node, edge, label and group, ready for the SVG/HTML/JSON writers.

import type { ArrowKind } from "../scene.js";

export interface Point {
  x: number;
  y: number;
}

/** Axis-aligned, top-left corner. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedText {
  text: string;
  x: number;
  y: number;
  anchor: "start" | "middle" | "end";
  /** Degrees, around (x, y). */
  rotate: number;
  fontSize: number;
  color: string;
  bold?: boolean;
  /** Outline colour drawn under the glyphs for contrast. */
  halo?: string;
}

export interface PlacedNode {
  id: string;
  x: number;
  y: number;
  /** Half width and half height (radius for circles). */
  rx: number;
  ry: number;
  /** Degrees: ellipses on a ring lie along the radius, and so do boxes on a crowded ring. */
  rotate?: number;
  /** Drawn as a box: edges end on its sides, not on an ellipse inside it. */
  box?: boolean;
  label?: PlacedText;
  detail?: PlacedText;
}

export interface Arrowhead {
  kind: ArrowKind;
  tip: Point;
  /** Radians: the direction the arrow points. */
  angle: number;
}

export interface PlacedEdge {
  id: string;
  /** SVG path data. */
  path: string;
  arrow?: Arrowhead;
}

/** A block of edge labels (one line per label, each in its edge's colour) with an optional leader line. */
export interface PlacedLabelBlock {
  box: Box;
  lines: { text: string; color: string }[];
  backdrop: string;
  fontSize: number;
  /** When set, lines are drawn in this colour, each after a swatch of its own colour. */
  textColor?: string;
  edges: string[];
  leader?: { from: Point; to: Point };
}

export interface PlacedGroup {
  id: string;
  box: Box;
  label: PlacedText;
}

export interface PictureLayout {
  /** Bounds of everything drawn, in picture coordinates. */
  bounds: Box;
  nodes: Map<string, PlacedNode>;
  edges: Map<string, PlacedEdge>;
  blocks: PlacedLabelBlock[];
  groups: PlacedGroup[];
  /** Edge labels left off the picture because no free place was found (they stay in the hover text). */
  hiddenLabels: number;
}
