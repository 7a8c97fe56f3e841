// `diff` of two snapshots, level by level. Each level is a pure function of the two rulesets; the levels
// iptscope cannot compare yet report why instead of a result.
//
// Adding a level (services, traffic): give it a result type with `differs`, add it to `LevelDiffs`, and the
// compiler asks for the rest: an entry in `comparers` (and none in `notComparedReasons`), and a renderer in
// src/render/diff-text.ts.

import type { Ruleset } from "../../model/types.js";
import { diffRules } from "./rules.js";
import type { RulesDiff, SnapshotFamilies } from "./types.js";

export type * from "./types.js";
export { diffRules } from "./rules.js";

/** Levels in the order they are reported: from what the rules say to what packets get. */
export const DIFF_LEVELS = ["rules", "services", "traffic"] as const;
export type DiffLevel = (typeof DIFF_LEVELS)[number];

/** The result of each level iptscope can compare. */
export interface LevelDiffs {
  rules: RulesDiff;
}

export type ComparedLevel = keyof LevelDiffs & DiffLevel;
type NotComparedLevel = Exclude<DiffLevel, ComparedLevel>;

type Comparer<L extends ComparedLevel> = (oldRuleset: Ruleset, newRuleset: Ruleset) => LevelDiffs[L] & { differs: boolean };

const comparers: { [L in ComparedLevel]: Comparer<L> } = {
  rules: diffRules,
};

const notComparedReasons: { [L in NotComparedLevel]: string } = {
  services: "not implemented in diff yet (it will compare the service maps that `iptscope services` shows)",
  traffic: "not implemented in diff yet (it will compare what `iptscope trace` gives a packet to each frontend)",
};

export type LevelOutcome<L extends DiffLevel> =
  | (L extends ComparedLevel ? { status: "compared" } & LevelDiffs[L] : never)
  | { status: "not-compared"; reason: string };

export interface RulesetDiff {
  families: SnapshotFamilies;
  /** True when a compared level found a difference. */
  differs: boolean;
  /** The levels asked for, in DIFF_LEVELS order. */
  levels: { [L in DiffLevel]?: LevelOutcome<L> };
}

export interface DiffOptions {
  /** Levels to compare; default all. Levels iptscope cannot compare yet come back as `not-compared`. */
  levels?: readonly DiffLevel[];
}

export type LevelAvailability = { available: true } | { available: false; reason: string };

export function levelAvailability(level: DiffLevel): LevelAvailability {
  return level in comparers ? { available: true } : { available: false, reason: notComparedReasons[level as NotComparedLevel] };
}

function isCompared(level: DiffLevel): level is ComparedLevel {
  return level in comparers;
}

function compareLevel<L extends ComparedLevel>(level: L, oldRuleset: Ruleset, newRuleset: Ruleset): { status: "compared" } & LevelDiffs[L] {
  const comparer: Comparer<L> = comparers[level];
  return { status: "compared", ...comparer(oldRuleset, newRuleset) };
}

/** Compares two snapshots (OLD, then NEW) at the levels asked for. Pure; never throws on valid models. */
export function diffRulesets(oldRuleset: Ruleset, newRuleset: Ruleset, options: DiffOptions = {}): RulesetDiff {
  const wanted = new Set(options.levels ?? DIFF_LEVELS);
  const levels: RulesetDiff["levels"] = {};
  let differs = false;
  for (const level of DIFF_LEVELS) {
    if (!wanted.has(level)) continue;
    if (isCompared(level)) {
      const outcome = compareLevel(level, oldRuleset, newRuleset);
      differs ||= outcome.differs;
      (levels as Record<ComparedLevel, unknown>)[level] = outcome;
    } else {
      levels[level] = { status: "not-compared", reason: notComparedReasons[level] };
    }
  }
  return { families: { old: oldRuleset.family, new: newRuleset.family }, differs, levels };
}
