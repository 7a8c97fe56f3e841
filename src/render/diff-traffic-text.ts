// The traffic level of `iptscope diff` for people: one line per packet that fares differently, its outcomes in
// OLD, then `→`, then in NEW: `10.96.0.10:53/udp from pod: 10.244.0.8:53 50% · 10.244.0.9:53 50%  →  10.244.0.8:53 100%`.
// `~` a target of both snapshots, `+` one only NEW serves or publishes, `-` one only OLD did.

import type { TrafficChange, TrafficDiff, TrafficOutcome, TrafficTarget } from "../analysis/diff/index.js";
import { formatEndpoint } from "../analysis/ip.js";
import type { Origin } from "../analysis/trace/types.js";
import type { Family } from "../model/types.js";
import type { Palette } from "../cli/color.js";
import { inert, lineOf, noteLines, plural, type LevelTextContext } from "./diff-words.js";
import { formatShare } from "./services-text.js";

const SHOWN_OUTCOMES = 6;

const ORIGIN_WORDS: Record<Origin, string> = { pod: "pod", node: "node", external: "outside" };

function outcomeText(outcome: TrafficOutcome, saySourceRewrite: boolean): string {
  let text: string;
  switch (outcome.verdict) {
    case "ACCEPT":
      if (outcome.translated) text = outcome.to;
      else if (outcome.delivery === "local") text = `delivered to the node (${outcome.to})`;
      else if (outcome.delivery === "output") text = `sent to ${outcome.to}, not translated`;
      else text = `forwarded to ${outcome.to}, not translated`;
      break;
    case "DROP":
    case "REJECT":
    case "QUEUE":
    case "ERROR":
      text = outcome.translated ? `${outcome.verdict} (after DNAT to ${outcome.to})` : outcome.verdict;
      break;
    default: {
      const never: never = outcome.verdict;
      throw new Error(`unhandled verdict ${String(never)}`);
    }
  }
  text += ` ${formatShare(outcome.probability)}`;
  if (saySourceRewrite) text += sourceRewrite(outcome);
  if (outcome.uncertain) text += " (assumed)";
  return text;
}

/** MASQUERADE's rewrite is known by its name; an SNAT's by its address. */
function sourceRewrite(outcome: TrafficOutcome): string {
  return outcome.masquerade ? " masqueraded" : outcome.snat ? ` SNAT to ${outcome.snat}` : "";
}

/** The outcomes, most likely first; a source rewrite all of them share is said once, at the end. */
export function trafficOutcomesText(outcomes: readonly TrafficOutcome[]): string {
  const shared = outcomes.length > 0 && outcomes.every((o) => sourceRewrite(o) === sourceRewrite(outcomes[0]!)) ? sourceRewrite(outcomes[0]!) : "";
  const parts = outcomes.map((o) => outcomeText(o, shared === ""));
  const suffix = shared === "" ? "" : `,${shared}`;
  if (parts.length <= SHOWN_OUTCOMES) return parts.join(" · ") + suffix;
  const rest = outcomes.slice(SHOWN_OUTCOMES - 1).reduce((sum, o) => sum + o.probability, 0);
  return [...parts.slice(0, SHOWN_OUTCOMES - 1), `… ${outcomes.length - SHOWN_OUTCOMES + 1} more (${formatShare(rest)} together)`].join(" · ") + suffix;
}

function targetLabel(target: TrafficTarget, family: Family): string {
  return `${formatEndpoint(target.destination, target.port, family)}/${target.protocol}`;
}

/** What the target is: the service ports it serves, NodePort, or the rule that publishes it. */
function targetRole(target: TrafficTarget): string {
  const roles: string[] = [];
  if (target.services.length > 0) {
    const shown = target.services.slice(0, 3).map(inert).join(", ");
    roles.push(target.services.length > 3 ? `${shown} and ${target.services.length - 3} more` : shown);
  }
  if (target.nodePort) roles.push("NodePort");
  if (target.published) {
    const { side, table, chain, line } = target.published;
    roles.push(`published by ${table}/${inert(chain)} ${lineOf(side === "old" ? "OLD" : "NEW", line)}`);
  }
  return roles.join("; ");
}

function changeLine(change: TrafficChange, family: Family, palette: Palette): string {
  const [marker, colour] =
    change.target.presence === "new-only" ? (["+", palette.green] as const) : change.target.presence === "old-only" ? (["-", palette.red] as const) : (["~", palette.yellow] as const);
  const head = `${marker} ${targetLabel(change.target, family)} from ${ORIGIN_WORDS[change.origin]}`;
  return colour(`${head}: ${trafficOutcomesText(change.old)}  →  ${trafficOutcomesText(change.new)}`) + palette.dim(`  (${targetRole(change.target)})`);
}

export function renderTraffic(diff: TrafficDiff, { palette, family, noted }: LevelTextContext): string[] {
  const { summary, setup } = diff;
  const fare = summary.changed > 0 ? `${plural(summary.changed, "packet")} ${summary.changed === 1 ? "fares" : "fare"} differently` : "no packet fares differently";
  const reach =
    summary.targetsTraced === summary.targets
      ? `all ${plural(summary.targets, "target")} traced`
      : `${summary.targetsTraced.toLocaleString("en-US")} of ${plural(summary.targets, "target")} traced: no change can reach the others`;
  const lines = [palette.bold(`[traffic] ${fare} (${reach})`)];
  const clients = `  · new connections from a pod (${setup.clients.pod}), the node (${setup.clients.node}) and outside (${setup.clients.external}, or inside a frontend's source ranges)`;
  lines.push(palette.dim(clients));
  lines.push(...noteLines(diff.notes, palette, noted));
  for (const change of diff.changes) lines.push(changeLine(change, family, palette));
  return lines;
}
