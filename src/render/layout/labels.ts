// Edge labels placed where nothing else is: candidate positions spiral out from the labelled point, the first
// free one wins, and a label with no free place is left to the hover text rather than drawn over something.

import { backdropFor } from "../palette.js";
import { BoxIndex, textBox } from "./geometry.js";
import { monoWidth } from "./text.js";
import type { Box, PlacedLabelBlock, Point } from "./types.js";

export interface LabelRequest {
  lines: { text: string; color: string }[];
  anchor: Point;
  edges: string[];
  fontSize: number;
  /** Farthest distance from the anchor to try, in pixels. */
  reach: number;
  /** Backdrop colour; by default chosen for contrast with the first line's colour. */
  backdrop?: string;
  /** Draw every line in this colour after a swatch of the line's own colour (colours too dark or light to read). */
  textColor?: string;
}

const LINE_GAP = 1.25;
const PADDING = 4;

export const SWATCH_WIDTH = 12;

function blockSize(lines: readonly { text: string }[], fontSize: number, swatches: boolean): { width: number; height: number } {
  const width = Math.max(...lines.map((l) => monoWidth(l.text, fontSize))) + 2 * PADDING + (swatches ? SWATCH_WIDTH : 0);
  return { width, height: lines.length * fontSize * LINE_GAP + 2 * PADDING - (LINE_GAP - 1) * fontSize };
}

function* candidates(anchor: Point, width: number, height: number, reach: number): Generator<Box> {
  const centred = (p: Point): Box => ({ x: p.x - width / 2, y: p.y - height / 2, width, height });
  yield centred(anchor);
  for (let radius = 14; radius <= reach; radius += 14) {
    const steps = Math.max(8, Math.round((2 * Math.PI * radius) / 28));
    for (let i = 0; i < steps; i++) {
      const angle = (2 * Math.PI * i) / steps;
      yield centred({ x: anchor.x + radius * Math.cos(angle), y: anchor.y + radius * Math.sin(angle) });
    }
  }
}

/**
 * Places each request at the first free candidate. `soft` obstacles (edge samples) are avoided when the
 * reach allows; `hard` ones (nodes, texts, earlier labels) always.
 */
export function placeLabels(requests: readonly LabelRequest[], hard: BoxIndex, soft?: BoxIndex): { blocks: PlacedLabelBlock[]; hidden: number } {
  const blocks: PlacedLabelBlock[] = [];
  let hidden = 0;
  for (const request of requests) {
    const { width, height } = blockSize(request.lines, request.fontSize, request.textColor !== undefined);
    const free = (avoidSoft: boolean) => {
      for (const box of candidates(request.anchor, width, height, request.reach)) {
        if (!hard.collides(box, 3) && !(avoidSoft && soft?.collides(box, 1))) return box;
      }
      return undefined;
    };
    const placed = (soft ? free(true) : undefined) ?? free(false);
    if (!placed) {
      hidden += request.lines.length;
      continue;
    }
    hard.add(placed);
    const centre = { x: placed.x + width / 2, y: placed.y + height / 2 };
    const far = Math.hypot(centre.x - request.anchor.x, centre.y - request.anchor.y) > Math.max(width, height) / 2 + 6;
    blocks.push({
      box: placed,
      lines: request.lines,
      backdrop: request.backdrop ?? backdropFor(request.lines[0]!.color),
      fontSize: request.fontSize,
      edges: request.edges,
      ...(request.textColor !== undefined ? { textColor: request.textColor } : {}),
      ...(far ? { leader: { from: nearestOnBox(placed, request.anchor), to: request.anchor } } : {}),
    });
  }
  return { blocks, hidden };
}

/** Small boxes along a path given by a point function, as soft obstacles for labels. */
export function sampleCurve(index: BoxIndex, at: (t: number) => Point, length: number): void {
  const steps = Math.max(2, Math.ceil(length / 14));
  for (let i = 0; i <= steps; i++) {
    const p = at(i / steps);
    index.add({ x: p.x - 3, y: p.y - 3, width: 6, height: 6 });
  }
}

function nearestOnBox(box: Box, point: Point): Point {
  return {
    x: Math.min(Math.max(point.x, box.x), box.x + box.width),
    y: Math.min(Math.max(point.y, box.y), box.y + box.height),
  };
}

/** Registers a text's box as an obstacle and returns it. */
export function reserveText(obstacles: BoxIndex, text: string, x: number, y: number, fontSize: number, anchor: "start" | "middle" | "end", rotate: number): Box {
  const box = textBox(x, y, monoWidth(text, fontSize), fontSize, anchor, rotate);
  obstacles.add(box);
  return box;
}
