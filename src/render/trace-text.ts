// The tracer's answer for a terminal: one block per outcome, the path as
// `table/CHAIN #rule (line N): rule text → action`.

import type { Palette } from "../cli/color.js";
import { formatEndpoint } from "../analysis/ip.js";
import type { Outcome, PacketView, PathStep, TraceResult } from "../analysis/trace/types.js";

const plain: Palette = { red: (t) => t, yellow: (t) => t, green: (t) => t, cyan: (t) => t, dim: (t) => t, bold: (t) => t };

export interface TraceTextOptions {
  palette?: Palette;
  /** Print the path of each outcome (default true). */
  paths?: boolean;
}

export function formatPercent(probability: number): string {
  const percent = probability * 100;
  if (percent === 100 || percent === 0) return `${percent}%`;
  if (percent >= 99.95 || percent < 0.05) return `${percent.toPrecision(3)}%`;
  return `${percent.toFixed(1)}%`;
}

export function formatPacket(packet: PacketView, family: "ipv4" | "ipv6"): string {
  const sport = packet.sportRandom ? "(random port)" : packet.sport;
  return `${formatEndpoint(packet.src, sport, family)} → ${formatEndpoint(packet.dst, packet.dport, family)} ${packet.proto}`;
}

function fate(outcome: Outcome): string {
  switch (outcome.verdict) {
    case "ACCEPT":
      if (outcome.delivery === "local") return "ACCEPT, delivered to the node";
      return `ACCEPT, ${outcome.delivery === "output" ? "sent" : "forwarded"}${outcome.outInterface ? ` via ${outcome.outInterface}` : ""}`;
    case "DROP":
      return "DROP";
    case "REJECT":
      return "REJECT";
    case "QUEUE":
      return "QUEUE (to user space)";
    case "ERROR":
      return `ERROR: ${outcome.error ?? "walk failed"}`;
  }
}

export function formatStep(step: PathStep): string {
  const where = `${step.table}/${step.chain}${step.rule > 0 ? ` #${step.rule}` : ""} (line ${step.line})`;
  const branch = step.branch ? ` [random ${formatPercent(step.branch.probability)}]` : "";
  const assumed = step.assumed ? " [assumed]" : "";
  return `${where}: ${step.text.replace(/^\[\d+:\d+\]\s+/, "")} → ${step.action}${branch}${assumed}`;
}

export function renderOutcome(outcome: Outcome, index: number, total: number, family: "ipv4" | "ipv6", options: TraceTextOptions = {}): string {
  const p = options.palette ?? plain;
  const lines: string[] = [];
  const verdictColor = outcome.verdict === "ACCEPT" ? p.green : outcome.verdict === "ERROR" ? p.red : outcome.verdict === "QUEUE" ? p.yellow : p.red;
  const share = outcome.uncertain.length > 0 ? `uncertain, ${formatPercent(outcome.conditionalProbability)} if so` : formatPercent(outcome.probability);
  lines.push(p.bold(`outcome ${index + 1} of ${total}`) + ` · ${share} · ${verdictColor(fate(outcome))}`);
  lines.push(`  packet      ${formatPacket(outcome.packet, family)}`);
  if (outcome.dnat) lines.push(`  dnat        ${outcome.dnat.from} → ${outcome.dnat.to} (line ${outcome.dnat.line})`);
  if (outcome.snat) lines.push(`  ${outcome.masquerade ? "masquerade" : "snat      "}  ${outcome.snat.from} → ${outcome.snat.to} (line ${outcome.snat.line})`);
  else lines.push(`  masquerade  no`);
  if (outcome.mark !== 0 || outcome.ctmark !== 0) lines.push(`  marks       mark 0x${outcome.mark.toString(16)}, ctmark 0x${outcome.ctmark.toString(16)}`);
  for (const u of outcome.uncertain) {
    lines.push(p.yellow(`  uncertain   ${u.assumed ? "if" : "if not"}: ${u.message}${u.line > 0 ? ` (line ${u.line})` : ""}`));
  }
  if (outcome.merged > 1) lines.push(p.dim(`  (${outcome.merged} walks with this result merged; the most likely path is shown)`));
  if (options.paths !== false) {
    lines.push("  path");
    for (const step of outcome.path) lines.push(`    ${step.hook.padEnd(11)} ${formatStep(step)}`);
  }
  return lines.join("\n");
}

export function renderTraceText(result: TraceResult, options: TraceTextOptions = {}): string {
  const p = options.palette ?? plain;
  const c = result.context;
  const header = [
    p.bold(`trace ${formatPacket(result.packet, result.family)}`) + ` from ${c.origin}${c.inInterface ? ` on ${c.inInterface}` : ""}, ${c.state} connection`,
    ...c.assumptions.map((a) => p.dim(`  assuming ${a}`)),
  ];
  const blocks = result.outcomes.map((o, i) => renderOutcome(o, i, result.outcomes.length, result.family, options));
  return [header.join("\n"), ...blocks].join("\n\n") + "\n";
}
