// Colours. Spectral is gressgraph's palette (ColorBrewer, 11 classes); the table tints follow iptables-graph.

import type { TableName } from "../model/types.js";
import type { TargetClass } from "./scene.js";

export const SPECTRAL = [
  "#9E0142", "#D53E4F", "#F46D43", "#FDAE61", "#FEE08B", "#FFFFBF", "#E6F598", "#ABDDA4", "#66C2A5", "#3288BD", "#5E4FA2",
] as const;

/** gressgraph restarts the palette in every chain: rule i of every chain gets the same colour. */
export function spectralByPosition(position: number): string {
  return SPECTRAL[(position - 1) % SPECTRAL.length]!;
}

/**
 * Namespaces in the services view: ColorBrewer Set3 without its red (kept for "no endpoints") and its grey (the
 * background's), light enough for dark text on the flow view's grey.
 */
export const NAMESPACE_COLORS = [
  "#8DD3C7", "#FFFFB3", "#BEBADA", "#80B1D3", "#FDB462", "#B3DE69", "#FCCDE5", "#BC80BD", "#CCEBC5", "#FFED6F",
] as const;

/** Trace outcomes, one colour each: saturated, apart from the chains view's blue-grey jumps and from each other. */
export const OUTCOME_COLORS = ["#e41a1c", "#ff7f00", "#1b9e77", "#7570b3", "#e7298a", "#1f78b4", "#a6761d", "#66a61e"] as const;

export const NO_ENDPOINTS = { fill: "#fcbba1", stroke: "#cb181d", strong: "#ef3b2c" } as const;
/** Outline of frontends that clients outside the cluster reach (NodePort, external IP, load balancer). */
export const EXPOSED_STROKE = "#08306b";

/** `color` mixed with white: 0 keeps it, 1 is white. */
export function tint(color: string, amount: number): string {
  const hex = color.replace("#", "");
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16);
    return Math.round(c + (255 - c) * amount).toString(16).padStart(2, "0");
  };
  return `#${channel(0)}${channel(2)}${channel(4)}`;
}

export const FLOW_THEME = { background: "#808080", foreground: "#ffffff", node: "#d9d9d9", nodeStroke: "#333333" } as const;
export const CHAINS_THEME = { background: "#ffffff", foreground: "#222222" } as const;

export const TABLE_TINT: Record<TableName, { fill: string; stroke: string; strong: string }> = {
  raw: { fill: "#fdecec", stroke: "#FA7070", strong: "#fbb4b4" },
  mangle: { fill: "#eaf7ff", stroke: "#7fc8f0", strong: "#AEE2FF" },
  nat: { fill: "#f5effc", stroke: "#b89ae0", strong: "#E5D1FA" },
  filter: { fill: "#effaf2", stroke: "#7fcf96", strong: "#BEF0CB" },
  security: { fill: "#fdf7e6", stroke: "#e0c060", strong: "#f5e3a6" },
};

/** Outcome colours for the chains view's verdict bars (not used for flow edges, which cycle Spectral). */
export const TARGET_COLOR: Record<TargetClass, string> = {
  accept: "#1a9850",
  drop: "#d73027",
  reject: "#f46d43",
  jump: "#4575b4",
  goto: "#74add1",
  return: "#9e9e9e",
  rewrite: "#8e44ad",
  log: "#e0c200",
  queue: "#00897b",
  none: "#d0d0d0",
};

/** Relative luminance in [0, 1] of a #rrggbb colour. */
function luminance(color: string): number {
  const hex = color.replace("#", "");
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex.slice(0, 6);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** A backdrop for coloured text: dark behind light colours, light behind dark ones. */
export function backdropFor(color: string): string {
  return luminance(color) > 0.3 ? "#262626" : "#f2f2f2";
}
