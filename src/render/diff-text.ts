// `iptscope diff` for people: one section per level, `+` added, `-` removed, `~` changed or moved, and every
// rule with its line in OLD and/or NEW, so each line can be read on its own.

import type { DiffLevel, LevelDiffs, LevelOutcome, RulesetDiff } from "../analysis/diff/index.js";
import { DIFF_LEVELS } from "../analysis/diff/index.js";
import type { ChainDiff, ChainRef, RuleChange, RuleRef, RulesDiff, RulesDiffSummary } from "../analysis/diff/types.js";
import type { Palette } from "../cli/color.js";
import { renderServices } from "./diff-services-text.js";
import { renderTraffic } from "./diff-traffic-text.js";
import { inert, lineOf, plural, type LevelTextContext } from "./diff-words.js";

export interface DiffTextOptions {
  /** File names shown in the `---`/`+++` header. */
  oldName: string;
  newName: string;
  palette: Palette;
}

type LevelRenderer<L extends DiffLevel> = (result: LevelDiffs[L], context: LevelTextContext) => string[];

const levelRenderers: { [L in DiffLevel]: LevelRenderer<L> } = {
  rules: renderRules,
  services: renderServices,
  traffic: renderTraffic,
};

export function renderDiffText(diff: RulesetDiff, options: DiffTextOptions): string {
  const { palette } = options;
  const lines = [palette.bold(`--- OLD ${inert(options.oldName)}`), palette.bold(`+++ NEW ${inert(options.newName)}`)];
  const context: LevelTextContext = { palette, family: diff.families.old, noted: new Set() };
  for (const level of DIFF_LEVELS) {
    const outcome = diff.levels[level];
    if (outcome) lines.push(...renderLevel(level, outcome, context));
  }
  return lines.join("\n") + "\n";
}

function renderLevel<L extends DiffLevel>(level: L, outcome: LevelOutcome<L>, context: LevelTextContext): string[] {
  if (outcome.status === "not-compared") return [context.palette.dim(`[${level}] not compared: ${outcome.reason}`)];
  const render = levelRenderers[level] as LevelRenderer<DiffLevel>;
  return render(outcome as LevelDiffs[DiffLevel], context);
}

function rulesSummaryText(summary: RulesDiffSummary): string {
  const chains = [
    summary.chainsAdded && `${plural(summary.chainsAdded, "chain")} added`,
    summary.chainsRemoved && `${plural(summary.chainsRemoved, "chain")} removed`,
    summary.chainsRenamed && `${plural(summary.chainsRenamed, "chain")} renamed`,
    summary.chainsChanged && `${plural(summary.chainsChanged, "chain")} with rule changes`,
    summary.policiesChanged && `${plural(summary.policiesChanged, "policy", "policies")} changed`,
  ].filter(Boolean);
  const rules = [
    summary.rulesAdded && `${plural(summary.rulesAdded, "rule")} added`,
    summary.rulesRemoved && `${plural(summary.rulesRemoved, "rule")} removed`,
    summary.rulesMoved && `${plural(summary.rulesMoved, "rule")} moved`,
  ].filter(Boolean);
  const parts = [chains.join(", "), rules.join(", ")].filter((p) => p !== "");
  const text = parts.length > 0 ? parts.join("; ") : "no differences";
  return summary.rulesReordered > 0
    ? `${text} (${plural(summary.rulesReordered, "rule")} reordered with no effect on packets: not a difference)`
    : text;
}

function renderRules(diff: RulesDiff, { palette }: LevelTextContext): string[] {
  const lines = [palette.bold(`[rules] ${rulesSummaryText(diff.summary)}`)];
  for (const table of diff.tables) {
    const chains = table.chains.filter(hasDifference);
    if (chains.length === 0) continue;
    const presence = table.presence === "both" ? "" : table.presence === "old-only" ? "  (only in OLD)" : "  (only in NEW)";
    lines.push(palette.cyan(`*${table.table}`) + palette.dim(presence));
    for (const chain of chains) lines.push(...renderChain(chain, palette));
  }
  return lines;
}

function hasDifference(chain: ChainDiff): boolean {
  return chain.kind !== "changed" || chain.renamedTo !== undefined || chain.policyChanged || chain.changes.some((c) => c.kind !== "reordered");
}

function chainPlace(side: "OLD" | "NEW", chain: ChainRef): string {
  return `${lineOf(side, chain.line)}, ${plural(chain.rules, "rule")}`;
}

function ruleLocation(side: "OLD" | "NEW", rule: RuleRef): string {
  return `${side}:${rule.line} #${rule.position}`;
}

function renderChain(chain: ChainDiff, palette: Palette): string[] {
  switch (chain.kind) {
    case "added":
      return [
        palette.green(`+ :${inert(chain.chain)} ${chain.new.policy}`) + palette.dim(`  (${chainPlace("NEW", chain.new)})`),
        ...ruleLines(chain.rules.map((rule) => ({ kind: "added", new: rule })), palette),
      ];
    case "removed":
      return [
        palette.red(`- :${inert(chain.chain)} ${chain.old.policy}`) + palette.dim(`  (${chainPlace("OLD", chain.old)})`),
        ...ruleLines(chain.rules.map((rule) => ({ kind: "removed", old: rule })), palette),
      ];
    case "changed": {
      if (chain.renamedTo !== undefined) {
        return [palette.yellow(`~ chain ${inert(chain.chain)} renamed ${inert(chain.renamedTo)}`) + palette.dim(`  (${lineOf("OLD", chain.old.line)}, ${chainPlace("NEW", chain.new)})`)];
      }
      const policy = chain.policyChanged ? ` policy ${chain.old.policy} → ${chain.new.policy}` : "";
      const head =
        palette.yellow(`~ :${inert(chain.chain)}${policy}`) + palette.dim(`  (${lineOf("OLD", chain.old.line)}, ${lineOf("NEW", chain.new.line)})`);
      const reordered = chain.changes.filter((c) => c.kind === "reordered").length;
      const lines = [head, ...ruleLines(chain.changes.filter((c) => c.kind !== "reordered"), palette)];
      if (reordered > 0) lines.push(palette.dim(`    · ${plural(reordered, "other rule")} reordered with no effect on packets`));
      return lines;
    }
    default: {
      const never: never = chain;
      throw new Error(`unhandled chain diff ${JSON.stringify(never)}`);
    }
  }
}

/** Rule lines with their locations padded to one column, so the rules line up within a chain. */
function ruleLines(changes: readonly RuleChange[], palette: Palette): string[] {
  const rows = changes.map((change): { marker: string; location: string; rule: string; colour: (text: string) => string } => {
    switch (change.kind) {
      case "added":
        return { marker: "+", location: ruleLocation("NEW", change.new), rule: change.new.rule, colour: palette.green };
      case "removed":
        return { marker: "-", location: ruleLocation("OLD", change.old), rule: change.old.rule, colour: palette.red };
      case "moved":
      case "reordered":
        return {
          marker: "~",
          location: `${ruleLocation("OLD", change.old)} → ${ruleLocation("NEW", change.new)}`,
          rule: `${change.new.rule}  (${change.kind})`,
          colour: palette.yellow,
        };
      default: {
        const never: never = change;
        throw new Error(`unhandled rule change ${JSON.stringify(never)}`);
      }
    }
  });
  const width = Math.max(0, ...rows.map((r) => r.location.length));
  return rows.map((r) => r.colour(`    ${r.marker} ${r.location.padEnd(width)}  ${inert(r.rule)}`));
}
