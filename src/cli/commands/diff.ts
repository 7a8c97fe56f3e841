// `iptscope diff OLD NEW`: exit status as diff(1) has it: 0 no difference, 1 differences, 2 trouble.

import { DIFF_LEVELS, diffRulesets, type DiffLevel } from "../../analysis/diff/index.js";
import type { Family } from "../../model/types.js";
import { diffJson } from "../../render/diff-json.js";
import { renderDiffText } from "../../render/diff-text.js";
import { paletteFor } from "../color.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump } from "../load.js";
import { contextFromArgs } from "../trace-options.js";

/** diff(1): any trouble (unreadable, malformed or empty input, bad usage) is exit status 2. */
export const DIFF_TROUBLE = ExitCode.malformedInput;

export const LEVEL_CHOICES = [...DIFF_LEVELS, "all"] as const;
export type LevelChoice = (typeof LEVEL_CHOICES)[number];

export interface DiffCommandOptions {
  old: string;
  new: string;
  level: LevelChoice;
  json: boolean;
  lenient: boolean;
  family?: Family;
  /** `--node-ip`: the node's addresses for both snapshots' traces. */
  nodeIp?: string[];
}

function trouble(message: string): ExitCode {
  process.stderr.write(`iptscope diff: ${message}\n`);
  return DIFF_TROUBLE;
}

const familyName = (family: Family) => (family === "ipv4" ? "IPv4" : "IPv6");

export function runDiff(options: DiffCommandOptions): ExitCode {
  const levels: readonly DiffLevel[] = options.level === "all" ? DIFF_LEVELS : [options.level];
  if (isStdin(options.old) && isStdin(options.new)) return trouble("OLD and NEW cannot both be standard input");

  const loadOptions = { lenient: options.lenient, family: options.family };
  const old = loadDump({ ...loadOptions, file: options.old });
  if (!old.ok) return DIFF_TROUBLE;
  const now = loadDump({ ...loadOptions, file: options.new, reuse: old.result });
  if (!now.ok) return DIFF_TROUBLE;
  const oldRuleset = old.result.ruleset;
  const newRuleset = now.result.ruleset;
  if (oldRuleset.family !== newRuleset.family) {
    return trouble(
      `OLD (${old.name}) is ${familyName(oldRuleset.family)} and NEW (${now.name}) is ${familyName(newRuleset.family)}: ` +
        "compare dumps of one family (iptables-save with iptables-save, ip6tables-save with ip6tables-save)",
    );
  }

  let nodeAddresses;
  if (options.nodeIp?.length) {
    const context = contextFromArgs({ from: "external", state: "new", "assume-no-affinity": true, "node-ip": options.nodeIp }, oldRuleset);
    if ("message" in context) return trouble(context.message);
    nodeAddresses = context.nodeAddresses;
  }

  const diff = diffRulesets(oldRuleset, newRuleset, { levels, ...(nodeAddresses ? { nodeAddresses } : {}) });
  if (options.json) {
    process.stdout.write(JSON.stringify(diffJson(diff, { old: old.name, new: now.name }), null, 2) + "\n");
  } else {
    process.stdout.write(renderDiffText(diff, { oldName: old.name, newName: now.name, palette: paletteFor(process.stdout) }));
  }
  return diff.differs ? ExitCode.negative : ExitCode.ok;
}

function isStdin(file: string): boolean {
  // yargs hands a lone "-" over as an empty string.
  return file === "-" || file === "";
}
