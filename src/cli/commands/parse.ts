import type { ParseResult } from "../../model/build.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";

/** Version of the JSON that `parse --json` prints; see the README. */
export const RULESET_SCHEMA_VERSION = 1;

export function rulesetJson(result: ParseResult, file: string): object {
  return {
    schemaVersion: RULESET_SCHEMA_VERSION,
    kind: "iptscope.ruleset",
    file,
    ruleset: result.ruleset,
    diagnostics: result.diagnostics,
    skippedLines: result.skippedLines,
  };
}

export function summary(result: ParseResult, name: string): string {
  const { ruleset } = result;
  const lines: string[] = [];
  const chains = ruleset.tables.reduce((n, t) => n + t.chains.length, 0);
  const rules = ruleset.tables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
  lines.push(
    `${name}: ${ruleset.family === "ipv4" ? "IPv4" : "IPv6"}, ${ruleset.tables.length} table(s), ${chains} chains, ${rules} rules` +
      (ruleset.hasRuleCounters ? ", with counters" : ""),
  );
  for (const table of ruleset.tables) {
    const tableRules = table.chains.reduce((m, c) => m + c.rules.length, 0);
    const user = table.chains.filter((c) => !c.builtin).length;
    const policies = table.chains
      .filter((c) => c.builtin)
      .map((c) => `${c.name}:${c.policy}`)
      .join(" ");
    lines.push(`  ${table.name.padEnd(9)}${String(table.chains.length).padStart(6)} chains (${user} user)${String(tableRules).padStart(8)} rules   ${policies}`);
  }
  const warnings = result.diagnostics.filter((d) => d.severity === "warning").length;
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  lines.push(`  ${errors} error(s), ${warnings} warning(s)`);
  return lines.join("\n");
}

export function runParse(options: LoadOptions & { json: boolean }): ExitCode {
  const loaded = loadDump({ ...options, quiet: options.json });
  if (options.json && loaded.result) {
    process.stdout.write(JSON.stringify(rulesetJson(loaded.result, loaded.name), null, 2) + "\n");
  }
  if (!loaded.ok) return loaded.exitCode;
  if (!options.json) process.stdout.write(summary(loaded.result, loaded.name) + "\n");
  return ExitCode.ok;
}
