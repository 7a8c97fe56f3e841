// The services level of `iptscope diff` for people: one block per service port that differs, `+` added, `-`
// removed, `~` changed, each change on its own line with the snapshot line it comes from.

import type {
  EndpointRef,
  FrontendRef,
  ServicePortChange,
  ServicePortDiff,
  ServicePortState,
  ServicesDiff,
  ServicesDiffSummary,
  ShareView,
} from "../analysis/diff/index.js";
import { frontendLabel } from "../analysis/kube/names.js";
import type { Family } from "../model/types.js";
import type { Palette } from "../cli/color.js";
import { inert, lineOf, noteLines, plural, type LevelTextContext } from "./diff-words.js";
import { formatShare, masqueradeWords } from "./services-text.js";

const SHOWN_ENDPOINTS = 6;

const STATE_WORDS: Record<ServicePortState, string> = {
  ok: "has endpoints",
  "no-endpoints": "has no endpoints (REJECT)",
  "no-local-endpoints": "has no local endpoints (DROP)",
};

function summaryText(summary: ServicesDiffSummary): string {
  const counts = (n: number, word: string, verb: string) => (n > 0 ? `${plural(n, word)} ${verb}` : "");
  const ports = [
    counts(summary.servicesAdded, "service", "added"),
    counts(summary.servicesRemoved, "service", "removed"),
    counts(summary.servicePortsAdded, "service port", "added"),
    counts(summary.servicePortsRemoved, "service port", "removed"),
    counts(summary.servicePortsChanged, "service port", "changed"),
  ].filter(Boolean);
  const parts = [
    ports.join(", "),
    [
      counts(summary.frontendsAdded, "frontend", "added"),
      counts(summary.frontendsRemoved, "frontend", "removed"),
      counts(summary.endpointsAdded, "endpoint", "added"),
      counts(summary.endpointsRemoved, "endpoint", "removed"),
    ]
      .filter(Boolean)
      .join(", "),
  ].filter((p) => p !== "");
  const sizes =
    summary.oldServicePorts === summary.newServicePorts
      ? `${plural(summary.oldServicePorts, "service port")} on each side`
      : `${plural(summary.oldServicePorts, "service port")} in OLD, ${summary.newServicePorts.toLocaleString("en-US")} in NEW`;
  return `${parts.length > 0 ? parts.join("; ") : "no differences"} (${sizes})`;
}

const frontendText = (frontend: FrontendRef, family: Family) => `${frontendLabel(frontend, family)} ${frontend.kind}`;

function endpointText(endpoint: EndpointRef): string {
  return `${endpoint.address}${endpoint.local === true ? " (local)" : ""}`;
}

function listed(items: readonly string[]): string {
  if (items.length <= SHOWN_ENDPOINTS) return items.join(" · ");
  return [...items.slice(0, SHOWN_ENDPOINTS - 1), `… ${items.length - SHOWN_ENDPOINTS + 1} more`].join(" · ");
}

/** Where new connections go, as `services` writes it: endpoints with shares, then what is not translated. */
export function shareViewText(view: ShareView): string {
  const everyMasqueraded = view.endpoints.length > 0 && view.endpoints.every((e) => e.masquerade);
  const parts = view.endpoints.map(
    (e) => `${e.address} ${formatShare(e.probability)}${e.masquerade && !everyMasqueraded ? " masqueraded" : ""}${e.blocked ? ` then ${e.blocked}` : ""}`,
  );
  for (const other of view.other) {
    const what = other.verdict === "ACCEPT" ? `not translated (${other.delivery === "local" ? "delivered to the node" : "goes on unchanged"})` : other.verdict;
    parts.push(`${what} ${formatShare(other.probability)}`);
  }
  return listed(parts) + (everyMasqueraded ? ", masqueraded" : "");
}

const CLIENT_WORDS = { "off-cluster": "from off the cluster", pod: "from a pod", node: "from the node" } as const;

function changeLine(change: ServicePortChange, family: Family, palette: Palette): string {
  switch (change.kind) {
    case "frontend-added":
      return palette.green(`    + frontend ${frontendText(change.new, family)}`) + palette.dim(`  (${lineOf("NEW", change.new.line)})`);
    case "frontend-removed":
      return palette.red(`    - frontend ${frontendText(change.old, family)}`) + palette.dim(`  (${lineOf("OLD", change.old.line)})`);
    case "frontend-kind":
      return palette.yellow(`    ~ frontend ${change.frontend}: ${change.old} → ${change.new}`);
    case "source-ranges": {
      const ranges = (list: readonly string[]) => (list.length > 0 ? list.join(",") : "any source");
      return palette.yellow(`    ~ source ranges of ${change.frontend}: ${ranges(change.old)} → ${ranges(change.new)}`);
    }
    case "masquerade":
      return palette.yellow(`    ~ ${change.frontend}: ${inert(masqueradeWords(change.old))} → ${inert(masqueradeWords(change.new))}`);
    case "endpoint-added":
      return palette.green(`    + endpoint ${endpointText(change.new)}`) + palette.dim(`  (${lineOf("NEW", change.new.line)})`);
    case "endpoint-removed":
      return palette.red(`    - endpoint ${endpointText(change.old)}`) + palette.dim(`  (${lineOf("OLD", change.old.line)})`);
    case "endpoint-locality": {
      const where = (e: EndpointRef) => (e.local ? "local" : "on another node");
      return palette.yellow(`    ~ endpoint ${change.new.address}: ${where(change.old)} → ${where(change.new)}`) + palette.dim(`  (${lineOf("NEW", change.new.line)})`);
    }
    case "state":
      return palette.yellow(`    ~ ${STATE_WORDS[change.old]} → ${STATE_WORDS[change.new]}`);
    case "affinity": {
      const affinity = (a: typeof change.old) => (a ? `ClientIP ${a.seconds}s` : "none");
      return palette.yellow(`    ~ session affinity: ${affinity(change.old)} → ${affinity(change.new)}`);
    }
    case "traffic-policy":
      return palette.yellow(`    ~ ${change.policy}TrafficPolicy: ${change.old} → ${change.new}`);
    case "shares":
      return palette.yellow(`    ~ ${CLIENT_WORDS[change.client]} to ${change.frontends.join(", ")}: ${shareViewText(change.old)}  →  ${shareViewText(change.new)}`);
    default: {
      const never: never = change;
      throw new Error(`unhandled service port change ${JSON.stringify(never)}`);
    }
  }
}

function portLines(diff: ServicePortDiff, family: Family, palette: Palette): string[] {
  switch (diff.kind) {
    case "added":
    case "removed": {
      const [marker, colour, ref, side] = diff.kind === "added" ? (["+", palette.green, diff.new, "NEW"] as const) : (["-", palette.red, diff.old, "OLD"] as const);
      const frontends = diff.frontends.map((f) => frontendText(f, family));
      const endpoints = diff.endpoints.length > 0 ? listed(diff.endpoints.map(endpointText)) : "no endpoints";
      return [
        colour(`${marker} ${inert(ref.key)} ${ref.protocol}  ${ref.type}`) + palette.dim(`  (${lineOf(side, ref.line)})`),
        colour(`    frontends ${listed(frontends)}; endpoints ${endpoints}`),
      ];
    }
    case "changed": {
      const name = diff.old.key === diff.new.key ? inert(diff.new.key) : `${inert(diff.old.key)} → ${inert(diff.new.key)}`;
      const matched = diff.matchedBy === "frontend" ? "  matched by frontend (no name in the rules)" : "";
      return [
        palette.yellow(`~ ${name} ${diff.new.protocol}`) + palette.dim(`  (${lineOf("OLD", diff.old.line)}, ${lineOf("NEW", diff.new.line)})${matched}`),
        ...diff.changes.map((change) => changeLine(change, family, palette)),
      ];
    }
    default: {
      const never: never = diff;
      throw new Error(`unhandled service port diff ${JSON.stringify(never)}`);
    }
  }
}

export function renderServices(diff: ServicesDiff, { palette, family, noted }: LevelTextContext): string[] {
  const lines = [palette.bold(`[services] ${summaryText(diff.summary)}`), ...noteLines(diff.notes, palette, noted)];
  for (const port of diff.servicePorts) lines.push(...portLines(port, family, palette));
  return lines;
}
