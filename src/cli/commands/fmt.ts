import { formatRuleset } from "../../model/print.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";

export function runFmt(options: LoadOptions & { canonical: boolean; backend: "nft" | "legacy" }): ExitCode {
  const loaded = loadDump(options);
  if (!loaded.ok) return loaded.exitCode;
  process.stdout.write(formatRuleset(loaded.result.ruleset, { canonical: options.canonical, backend: options.backend }));
  return ExitCode.ok;
}
