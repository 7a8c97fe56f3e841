// `diff` of two snapshots, level by level: rules (what the dumps say), services (the service maps kube-proxy's
// rules encode) and traffic (what new connections get). The levels share one SnapshotPair: the rules diff tells
// the others which packets a change can reach, and both trace with the same tracers, node addresses and clients.
//
// Adding a level: give it a result type with `differs`, add it to `LevelDiffs`, and the compiler asks for the
// rest: an entry in `comparers` and a renderer in src/render/diff-text.ts.

import type { Ruleset } from "../../model/types.js";
import { SnapshotPair, type PairOptions } from "./pair.js";
import { diffServices } from "./services.js";
import { diffTraffic } from "./traffic.js";
import type { RulesDiff, ServicesDiff, SnapshotFamilies, TrafficDiff } from "./types.js";

export type * from "./types.js";
export type { DiffNote, DiffNoteKind } from "./notes.js";
export { diffRules } from "./rules.js";
export { SnapshotPair, type PairOptions } from "./pair.js";

/** Levels in the order they are reported: from what the rules say to what packets get. */
export const DIFF_LEVELS = ["rules", "services", "traffic"] as const;
export type DiffLevel = (typeof DIFF_LEVELS)[number];

/** The result of each level. */
export interface LevelDiffs {
  rules: RulesDiff;
  services: ServicesDiff;
  traffic: TrafficDiff;
}

type Comparer<L extends DiffLevel> = (pair: SnapshotPair) => LevelDiffs[L] & { differs: boolean };

const comparers: { [L in DiffLevel]: Comparer<L> } = {
  rules: (pair) => pair.rules(),
  services: diffServices,
  traffic: diffTraffic,
};

export type LevelOutcome<L extends DiffLevel> = ({ status: "compared" } & LevelDiffs[L]) | { status: "not-compared"; reason: string };

export interface RulesetDiff {
  families: SnapshotFamilies;
  /** True when a compared level found a difference. */
  differs: boolean;
  /** The levels asked for, in DIFF_LEVELS order. */
  levels: { [L in DiffLevel]?: LevelOutcome<L> };
}

export interface DiffOptions extends PairOptions {
  /** Levels to compare; default all. */
  levels?: readonly DiffLevel[];
}

function compareLevel<L extends DiffLevel>(level: L, pair: SnapshotPair): LevelOutcome<L> {
  // The service map and the tracer read one family's addresses: an IPv4 dump against an IPv6 one has nothing in common.
  if (level !== "rules" && pair.old.ruleset.family !== pair.new.ruleset.family) {
    return { status: "not-compared", reason: `OLD is ${pair.old.ruleset.family} and NEW is ${pair.new.ruleset.family}` };
  }
  const comparer: Comparer<L> = comparers[level];
  return { status: "compared", ...comparer(pair) };
}

/** Compares the snapshots of a pair at the levels asked for; levels asked for later reuse what earlier ones found. */
export function diffSnapshots(pair: SnapshotPair, options: Pick<DiffOptions, "levels"> = {}): RulesetDiff {
  const wanted = new Set(options.levels ?? DIFF_LEVELS);
  const levels: RulesetDiff["levels"] = {};
  let differs = false;
  for (const level of DIFF_LEVELS) {
    if (!wanted.has(level)) continue;
    const outcome = compareLevel(level, pair);
    if (outcome.status === "compared") differs ||= outcome.differs;
    (levels as Record<DiffLevel, unknown>)[level] = outcome;
  }
  return { families: { old: pair.old.ruleset.family, new: pair.new.ruleset.family }, differs, levels };
}

/** Compares two snapshots (OLD, then NEW) at the levels asked for. Pure; never throws on valid models. */
export function diffRulesets(oldRuleset: Ruleset, newRuleset: Ruleset, options: DiffOptions = {}): RulesetDiff {
  return diffSnapshots(new SnapshotPair(oldRuleset, newRuleset, options), options);
}
