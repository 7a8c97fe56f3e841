import { formatRuleset } from "../../model/print.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";

export function runFmt(options: LoadOptions & { canonical: boolean }): ExitCode {
  const loaded = loadDump(options);
  if (!loaded.ok) return loaded.exitCode;
  process.stdout.write(formatRuleset(loaded.result.ruleset, { canonical: options.canonical }));
  return ExitCode.ok;
}
