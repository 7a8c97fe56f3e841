// Shared by every command: read the input, parse it, report diagnostics, decide whether to go on.

import { findJumpLoops, isJumpLoop } from "../analysis/jump-loops.js";
import { hasErrors, type Diagnostic } from "../diagnostics.js";
import { inputProblemMessage, readInput, type InputProblem } from "../input.js";
import { parseRulesetText, rulesBuiltAfterReuse, type ParseResult } from "../model/build.js";
import type { Backend, Family, Rule, Table } from "../model/types.js";
import { paletteFor } from "./color.js";
import { ExitCode } from "./exit-codes.js";
import { renderDiagnostics } from "./render-diagnostics.js";

export interface LoadOptions {
  file: string | undefined;
  lenient: boolean;
  family?: Family;
  /** Print warnings (errors are always printed). */
  quiet?: boolean;
  /** An earlier snapshot's parse, whose unchanged rule lines this one takes instead of building them again. */
  reuse?: ParseResult;
  /** Whose iptables-restore to follow where the backends differ (fmt --backend). */
  backend?: Backend;
}

export type Loaded =
  | { ok: true; result: ParseResult; text: string; name: string }
  | { ok: false; exitCode: ExitCode; result?: ParseResult; name: string };

/** Said after the command's output, so that a long output does not scroll it away. */
const closingNotes: string[] = [];

export function takeClosingNotes(): string[] {
  return closingNotes.splice(0);
}

/** `3, 7-9, 12`: every line, consecutive ones as a range. */
export function lineRanges(lines: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < lines.length; ) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j++;
    parts.push(j === i ? String(lines[i]) : `${lines[i]}-${lines[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/** Parses whose jump loops were looked for, and added to their diagnostics. */
const loopsChecked = new WeakSet<ParseResult>();

/**
 * The jump loops of a parse. One that reused an earlier parse without loops holds the earlier parse's jumps (their
 * very targets, in the same chains) and jumps of its own: any loop goes through one of its own, so it is among the
 * chains those lead to (for kube-proxy's rules, a few service chains), looked through first.
 */
function jumpLoops(result: ParseResult, earlier: ParseResult | undefined): Diagnostic[] {
  const earlierLoopFree = earlier !== undefined && loopsChecked.has(earlier) && !earlier.diagnostics.some(isJumpLoop);
  const built = earlierLoopFree ? rulesBuiltAfterReuse(result) : undefined;
  if (built !== undefined && findJumpLoops(result.ruleset, (table) => jumpTargets(built, table)).length === 0) return [];
  return findJumpLoops(result.ruleset, undefined, true);
}

/** The chains the rules of `table` among `rules` jump to. */
function jumpTargets(rules: readonly Rule[], table: Table): string[] {
  const targets: string[] = [];
  for (const rule of rules) if (rule.table === table.name && rule.target?.kind === "chain") targets.push(rule.target.name);
  return targets;
}

function inputExitCode(problem: InputProblem): ExitCode {
  return problem.kind === "stdin-is-terminal" ? ExitCode.usage : ExitCode.unreadableInput;
}

export function loadDump(options: LoadOptions): Loaded {
  const input = readInput(options.file);
  if (!input.ok) {
    process.stderr.write(`iptscope: ${inputProblemMessage(input.problem)}\n`);
    return { ok: false, exitCode: inputExitCode(input.problem), name: options.file ?? "<stdin>" };
  }
  const result = parseRulesetText(input.text, { lenient: options.lenient, family: options.family, reuse: options.reuse, backend: options.backend });
  // iptables refuses to load jump loops; a dump that has one did not come from the kernel.
  for (const loop of jumpLoops(result, options.reuse)) {
    result.diagnostics.push(options.lenient ? { ...loop, severity: "warning" } : loop);
  }
  loopsChecked.add(result);
  const shown: Diagnostic[] = options.quiet ? result.diagnostics.filter((d) => d.severity === "error") : result.diagnostics;
  if (shown.length > 0) {
    process.stderr.write(renderDiagnostics(shown, input.name, input.text, paletteFor(process.stderr)) + "\n");
  }
  if (result.skippedLines.length > 0) {
    // Every number, even past the diagnostics shown above (they stop at 50).
    closingNotes.push(`iptscope: ${input.name}: skipped ${result.skippedLines.length} line(s) (--lenient): ${lineRanges(result.skippedLines)}\n`);
  }
  if (result.diagnostics.some((d) => d.kind === "empty-input")) {
    return { ok: false, exitCode: ExitCode.emptyInput, result, name: input.name };
  }
  if (hasErrors(result.diagnostics)) {
    const errors = result.diagnostics.filter((d) => d.severity === "error").length;
    process.stderr.write(`iptscope: ${input.name}: ${errors} error(s); nothing printed (use --lenient to skip bad lines)\n`);
    return { ok: false, exitCode: ExitCode.malformedInput, result, name: input.name };
  }
  if (result.ruleset.tables.length === 0) {
    process.stderr.write(`iptscope: ${input.name}: no table left after skipping ${result.skippedLines.length} line(s); nothing to work on\n`);
    return { ok: false, exitCode: ExitCode.emptyInput, result, name: input.name };
  }
  return { ok: true, result, text: input.text, name: input.name };
}
