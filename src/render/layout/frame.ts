// The frame around a picture: title and notes above it, the legend beside it, margins; and the entry point
// that picks the layout for a scene.

import type { LegendItem, Scene } from "../scene.js";
import { layoutBands } from "./bands.js";
import { layoutRadial } from "./radial.js";
import { sansWidth, wrapSans } from "./text.js";
import type { Box, PictureLayout } from "./types.js";

const MARGIN = 24;
const TITLE_FONT = 18;
const NOTE_FONT = 12;
const LEGEND_FONT = 12;
const LEGEND_ROW = 20;
const LEGEND_GAP = 32;
const SAMPLE_WIDTH = 44;

export interface FrameText {
  text: string;
  x: number;
  y: number;
}

export interface LegendRow {
  item: LegendItem;
  x: number;
  y: number;
}

export interface Frame {
  width: number;
  height: number;
  /** Translation from picture coordinates to canvas coordinates. */
  offset: { x: number; y: number };
  title: FrameText & { fontSize: number };
  notes: (FrameText & { fontSize: number })[];
  legend: { box: Box; heading: FrameText; rows: LegendRow[]; fontSize: number; sampleWidth: number };
}

export interface SceneLayout {
  picture: PictureLayout;
  frame: Frame;
}

export function layoutScene(scene: Scene): SceneLayout {
  let picture: PictureLayout;
  switch (scene.layout) {
    case "radial":
      picture = layoutRadial(scene);
      break;
    case "bands":
      picture = layoutBands(scene);
      break;
    default: {
      const unreachable: never = scene.layout;
      throw new Error(`unknown layout ${String(unreachable)}`);
    }
  }
  return { picture, frame: frameFor(scene, picture) };
}

function legendLabelWidth(item: LegendItem): number {
  return sansWidth(item.label, LEGEND_FONT) + (item.kind === "palette" ? 11 * 12 + 8 : SAMPLE_WIDTH + 10);
}

function frameFor(scene: Scene, picture: PictureLayout): Frame {
  const notes = [...scene.notes];
  if (picture.hiddenLabels > 0) notes.push(`${picture.hiddenLabels} edge label(s) left off where there was no free space; hover the edges for them`);
  const hasLegend = scene.legend.length > 0;
  const legendWidth = hasLegend ? Math.max(160, ...scene.legend.map(legendLabelWidth)) + 20 : 0;
  const contentWidth = Math.max(picture.bounds.width + (hasLegend ? LEGEND_GAP + legendWidth : 0), 640);
  const wrapped = notes.flatMap((note) => wrapSans(note, NOTE_FONT, contentWidth));
  const headerHeight = TITLE_FONT + 10 + wrapped.length * (NOTE_FONT + 5) + 16;
  const legendHeight = hasLegend ? 30 + scene.legend.length * LEGEND_ROW + 8 : 0;
  const top = MARGIN + headerHeight;
  const legendX = MARGIN + picture.bounds.width + LEGEND_GAP;
  const width = Math.ceil(Math.max(MARGIN * 2 + contentWidth, MARGIN * 2 + sansWidth(scene.title, TITLE_FONT)));
  const height = Math.ceil(top + Math.max(picture.bounds.height, legendHeight) + MARGIN);
  return {
    width,
    height,
    offset: { x: MARGIN - picture.bounds.x, y: top - picture.bounds.y },
    title: { text: scene.title, x: MARGIN, y: MARGIN + TITLE_FONT, fontSize: TITLE_FONT },
    notes: wrapped.map((text, i) => ({ text, x: MARGIN, y: MARGIN + TITLE_FONT + 10 + (i + 1) * (NOTE_FONT + 5) - 4, fontSize: NOTE_FONT })),
    legend: {
      box: { x: legendX, y: top, width: legendWidth, height: legendHeight },
      heading: { text: "Legend", x: legendX + 10, y: top + 20 },
      rows: scene.legend.map((item, i) => ({ item, x: legendX + 10, y: top + 30 + i * LEGEND_ROW + LEGEND_ROW / 2 })),
      fontSize: LEGEND_FONT,
      sampleWidth: SAMPLE_WIDTH,
    },
  };
}
