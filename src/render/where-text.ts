// `iptscope where`: one line per service port (and frontend) that answers on the target, e.g.
// `10.96.0.10:53/udp  kube-system/kube-dns:dns  →  10.244.0.8:53 50%  ·  10.244.0.9:53 50%  (masquerade: from off-cluster sources)`.

import type { Palette } from "../cli/color.js";
import { formatEndpoint } from "../analysis/ip.js";
import type { ServiceMap } from "../analysis/kube/types.js";
import { formatWhereTarget, type WhereAnswer, type WhereReport } from "../analysis/kube/where.js";
import type { Outcome, PacketSpec, TraceResult } from "../analysis/trace/types.js";
import { frontendLabel, masqueradedWords, masqueradeWords, resolutionText } from "./services-text.js";
import { renderTraceText } from "./trace-text.js";

const plain: Palette = { red: (t) => t, yellow: (t) => t, green: (t) => t, cyan: (t) => t, dim: (t) => t, bold: (t) => t };

export interface WhereTextOptions {
  palette?: Palette;
  /** Print the tracer's full answer (every branch, every rule) under each line. */
  verbose?: boolean;
}

const SOURCE_WORDS: Record<NonNullable<WhereReport["sourceChosen"]>, string> = {
  "pod-in-cluster-cidr": "an address in the cluster CIDR",
  "off-cluster": "an address off the cluster",
  "inside-source-ranges": "inside the load balancer's source ranges",
  "node-address": "a node address",
  "no-cluster-cidr": "the rules reveal no cluster CIDR, so an off-cluster address",
};

const CLIENT_WORDS: Record<WhereReport["client"], string> = { pod: "a pod", "off-cluster": "a client off the cluster", node: "the node itself" };

function protocolName(packet: PacketSpec): string {
  return packet.protocol === 6 ? "tcp" : packet.protocol === 17 ? "udp" : packet.protocol === 132 ? "sctp" : String(packet.protocol);
}

/** Where the most likely outcome was decided: `filter/KUBE-SERVICES #3 (line 40)`. */
function decidedAt(outcome: Outcome): string | undefined {
  const step = [...outcome.path].reverse().find((s) => s.effect.kind === "verdict" || s.effect.kind === "policy");
  if (!step) return undefined;
  return `${step.table}/${step.chain}${step.rule > 0 ? ` #${step.rule}` : " policy"} (line ${step.line})`;
}

function fate(outcome: Outcome, family: ServiceMap["family"]): string {
  const at = decidedAt(outcome);
  const where = at ? ` at ${at}` : "";
  const dnat = outcome.dnat ? `DNAT to ${outcome.dnat.to}, then ` : "";
  switch (outcome.verdict) {
    case "ACCEPT": {
      const to = formatEndpoint(outcome.packet.dst, outcome.packet.dport, family);
      if (outcome.delivery === "local") return `${dnat}delivered to the node (${to})`;
      return `${dnat}${outcome.delivery === "output" ? "sent" : "forwarded"} to ${to}${outcome.outInterface ? ` via ${outcome.outInterface}` : ""}${outcome.dnat ? "" : ", not translated"}`;
    }
    case "DROP":
    case "REJECT":
      return `${dnat}${outcome.verdict}${where}`;
    case "QUEUE":
      return `${dnat}queued to user space${where}`;
    case "ERROR":
      return `the trace failed: ${outcome.error ?? "unknown error"}`;
  }
}

function notes(answer: WhereAnswer): string[] {
  const { service, frontend, resolution } = answer;
  const list: string[] = [];
  if (resolution.endpoints.length > 0) {
    const masqueraded = resolution.endpoints.every((e) => e.masquerade);
    if (resolution.endpoints.some((e) => e.masqueradeUncertain)) list.push("masqueraded in some branches only");
    else list.push(masqueraded ? masqueradedWords(frontend.masquerade) : masqueradeWords(frontend.masquerade));
  }
  if (frontend.kind !== "clusterIP" && service.externalTrafficPolicy === "Local") list.push("externalTrafficPolicy=Local");
  if (frontend.kind === "clusterIP" && service.internalTrafficPolicy === "Local") list.push("internalTrafficPolicy=Local");
  if (service.affinity && resolution.endpoints.length > 0) list.push(`session affinity ${service.affinity.seconds}s: shares are for new clients`);
  if (service.name.from === "chain") list.push("no rule comment names this service");
  if (answer.result.outcomes.some((o) => o.uncertain.length > 0)) list.push("uncertain: the shares rest on assumptions, below");
  return list;
}

function destinationText(answer: WhereAnswer, family: ServiceMap["family"], palette: Palette): string {
  const { resolution, result } = answer;
  if (resolution.endpoints.length > 0) return resolutionText(answer.service, resolution, palette, "  ·  ");
  const top = result.outcomes[0];
  const text = resolutionText(answer.service, resolution, palette, "  ·  ");
  const at = top ? decidedAt(top) : undefined;
  return at && resolution.other.length === 1 ? `${text} at ${at}` : text || (top ? fate(top, family) : "no outcome");
}

const MAX_BRANCH_LINES = 6;

/** Sub-lines for what the shares leave open: session affinity, and outcomes that rest on an assumption. */
function branchLines(answer: WhereAnswer, family: ServiceMap["family"]): string[] {
  const lines: string[] = [];
  const { service } = answer;
  if (service.affinity && answer.resolution.endpoints.length > 0) {
    for (const endpoint of service.endpoints) {
      if (endpoint.affinityLine === undefined || !answer.resolution.endpoints.some((e) => e.address === endpoint.address)) continue;
      lines.push(`if the client has affinity to ${endpoint.address} (it connected in the last ${service.affinity.seconds}s): → ${endpoint.address} (line ${endpoint.affinityLine})`);
    }
  }
  // Outcomes that rest on an assumption, grouped by what happens; --verbose has every branch.
  const byFate = new Map<string, { probability: number; questions: Set<string> }>();
  for (const outcome of answer.result.outcomes) {
    if (outcome.uncertain.length === 0) continue;
    const key = fate(outcome, family);
    const group = byFate.get(key) ?? { probability: 0, questions: new Set<string>() };
    group.probability += outcome.probability;
    for (const u of outcome.uncertain) group.questions.add(`${u.kind} ${u.subject}${u.line > 0 ? ` (line ${u.line})` : ""}`);
    byFate.set(key, group);
  }
  const groups = [...byFate].sort((a, b) => b[1].probability - a[1].probability);
  for (const [what, group] of groups.slice(0, MAX_BRANCH_LINES)) lines.push(`uncertain: ${what}, depending on ${[...group.questions].join("; ")}`);
  if (groups.length > MAX_BRANCH_LINES) lines.push(`… ${groups.length - MAX_BRANCH_LINES} more uncertain outcomes (--verbose shows every branch)`);
  return lines.map((l) => `    ${l}`);
}

function traceBlock(result: TraceResult, palette: Palette): string {
  return renderTraceText(result, { palette })
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

export function renderWhereText(report: WhereReport, map: ServiceMap, options: WhereTextOptions = {}): string {
  const p = options.palette ?? plain;
  const family = map.family;
  const lines: string[] = [];
  const first = report.answers[0]?.packet ?? report.unserved?.packet;
  if (first) {
    const chosen = report.sourceChosen ? `, ${SOURCE_WORDS[report.sourceChosen]}; pass --src to choose` : "";
    lines.push(p.dim(`new connections from ${CLIENT_WORDS[report.client]} (${first.src}${chosen}):`));
  }
  const targets = report.answers.map((a) => frontendLabel(a.frontend, family));
  const names = report.answers.map((a) => a.service.name.key);
  const targetWidth = Math.max(0, ...targets.map((t) => t.length));
  const nameWidth = Math.max(0, ...names.map((n) => n.length));
  report.answers.forEach((answer, i) => {
    const extra = notes(answer);
    const destination = destinationText(answer, family, p);
    lines.push(`${p.cyan(targets[i]!.padEnd(targetWidth))}  ${p.bold(names[i]!.padEnd(nameWidth))}  →  ${destination}${extra.length > 0 ? `  (${extra.join("; ")})` : ""}`);
    if (options.verbose) lines.push(traceBlock(answer.result, p), "");
    else lines.push(...branchLines(answer, family).map((l) => p.dim(l)));
  });
  if (report.answers.length === 0) {
    const target = formatWhereTarget(report.target, family);
    if (report.target.kind === "service") {
      lines.push(`nothing is named ${target} in this dump: no kube-proxy service port has that name`);
    } else {
      lines.push(`nothing serves ${target} in this dump: no kube-proxy service port answers there`);
    }
    if (report.unserved) {
      const { packet, result } = report.unserved;
      const to = formatEndpoint(packet.dst, packet.dport, family);
      const outcomes = result.outcomes.map((o) => `${fate(o, family)}${result.outcomes.length > 1 ? ` (${Math.round(o.probability * 1000) / 10}%)` : ""}`);
      lines.push(`a new ${protocolName(packet)} connection to ${to}${packet.dport === undefined ? " (any port)" : ""} meets instead: ${outcomes.join("; ") || "nothing"}`);
      if (options.verbose) lines.push(traceBlock(result, p));
    }
  } else if (!report.answers.some((a) => a.resolution.endpoints.length > 0)) {
    lines.push(p.yellow("no endpoint serves the target: every connection is refused or dropped"));
  }
  return lines.join("\n").trimEnd() + "\n";
}
