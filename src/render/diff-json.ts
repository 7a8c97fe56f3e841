// `iptscope diff --json`: the typed diff with a versioned envelope; the schema is documented in the README.

import type { RulesetDiff } from "../analysis/diff/index.js";

/** Version of the JSON that `diff --json` prints. Levels added later are new keys, not a new version. */
export const DIFF_SCHEMA_VERSION = 1;

export interface DiffFiles {
  old: string;
  new: string;
}

export function diffJson(diff: RulesetDiff, files: DiffFiles): object {
  return {
    schemaVersion: DIFF_SCHEMA_VERSION,
    kind: "iptscope.diff",
    old: { file: files.old, family: diff.families.old },
    new: { file: files.new, family: diff.families.new },
    differs: diff.differs,
    levels: diff.levels,
  };
}
