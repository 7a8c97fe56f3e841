// What every trace overlay shares: the outcomes drawn (most likely first), their colours, labels and words, the
// notes under the title, and the legend line for the outcomes left out.

import type { Outcome, TraceResult } from "../../analysis/trace/types.js";
import { OUTCOME_COLORS } from "../palette.js";
import { thousands } from "../rule-facts.js";
import { formatProbability, overlayPaths, type LegendItem, type OverlayPath, type Scene } from "../scene.js";

/** Outcomes drawn, most likely first; the rest are counted in the notes and the legend. */
export const MAX_DRAWN_OUTCOMES = OUTCOME_COLORS.length;

/** The outcome in a few words: where it is translated to and what the node finally does. */
export function outcomeDescription(outcome: Outcome): string {
  const parts: string[] = [];
  if (outcome.dnat) parts.push(`DNAT → ${outcome.dnat.to}`);
  const delivery = outcome.delivery === "local" ? " (delivered to the node)" : outcome.delivery === "forward" ? " (forwarded)" : outcome.delivery === "output" ? " (sent)" : "";
  parts.push(`${outcome.verdict}${delivery}`);
  if (outcome.masquerade) parts.push("masqueraded");
  else if (outcome.snat) parts.push(`SNAT → ${outcome.snat.to}`);
  if (outcome.uncertain.length > 0) parts.push(`assuming ${outcome.uncertain.length} uncertain match(es)`);
  return parts.join(" · ");
}

export function drawnOutcomes(result: TraceResult): Outcome[] {
  return result.outcomes.slice(0, MAX_DRAWN_OUTCOMES);
}

export function basePath(outcome: Outcome, index: number): Pick<OverlayPath, "label" | "description" | "color" | "probability"> {
  return { label: `#${index + 1}`, description: `#${index + 1} ${outcomeDescription(outcome)}`, color: OUTCOME_COLORS[index % OUTCOME_COLORS.length]!, probability: outcome.probability };
}

/** Each path labelled once, on its first edge no earlier path took (where it parts from them), else its last. */
export function labelWhereDistinct(paths: OverlayPath[]): OverlayPath[] {
  const taken = new Set<string>();
  return paths.map((path) => {
    const own = path.edges.find((id) => !taken.has(id)) ?? path.edges[path.edges.length - 1];
    for (const id of path.edges) taken.add(id);
    return { ...path, labelled: own === undefined ? [] : [own] };
  });
}

export function unique<T>(list: readonly (T | undefined)[]): T[] {
  return [...new Set(list.filter((x): x is T => x !== undefined))];
}

/** The outcomes past the drawn ones, in words: `3 more outcomes not drawn (1.2% together)`. */
function undrawnText(result: TraceResult): string | undefined {
  const rest = result.outcomes.slice(MAX_DRAWN_OUTCOMES);
  if (rest.length === 0) return undefined;
  return `${thousands(rest.length)} more outcome${rest.length === 1 ? "" : "s"} not drawn (${formatProbability(rest.reduce((n, o) => n + o.probability, 0))} together)`;
}

function traceNotes(result: TraceResult): string[] {
  const p = result.packet;
  const port = (address: string, value: number | undefined) => (value === undefined ? address : `${address}:${value}`);
  const notes = [
    `trace: ${port(p.src, p.sport)} → ${port(p.dst, p.dport)} ${p.proto} from ${result.context.origin}, ${result.context.state} — ${thousands(result.outcomes.length)} outcome(s), each in its colour with its share; what the packet does not go through is dimmed`,
  ];
  const undrawn = undrawnText(result);
  if (undrawn !== undefined) notes.push(`${undrawn}: see iptscope trace`);
  return notes;
}

/**
 * The scene with the outcome paths drawn over it, titled as traced, the trace described under the title and, when
 * outcomes were left out, a legend line saying how many right after the drawn ones.
 */
export function tracedScene(scene: Scene, paths: readonly OverlayPath[], result: TraceResult, extraNotes: readonly string[] = []): Scene {
  const overlaid = overlayPaths(scene, paths);
  const undrawn = undrawnText(result);
  const legend: LegendItem[] = [...overlaid.legend];
  if (undrawn !== undefined) {
    legend.splice(paths.length, 0, { kind: "edge", label: `${undrawn}: see iptscope trace`, color: "#9e9e9e", arrow: "none", line: "dotted", width: 3.2 });
  }
  return { ...overlaid, legend, title: `${scene.title} · traced`, notes: [...scene.notes, ...traceNotes(result), ...extraNotes] };
}
