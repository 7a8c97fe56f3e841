// Shared by every command: read the input, parse it, report diagnostics, decide whether to go on.

import { findJumpLoops } from "../analysis/jump-loops.js";
import { hasErrors, type Diagnostic } from "../diagnostics.js";
import { inputProblemMessage, readInput, type InputProblem } from "../input.js";
import { parseRulesetText, type ParseResult } from "../model/build.js";
import type { Family, Ruleset, Target } from "../model/types.js";
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
 * A parse that reused an earlier one without loops has none either when each of its jumps is one the earlier
 * parse made (the same target in the same chain): only a jump of its own could close a loop.
 */
function jumpLoops(result: ParseResult, earlier: ParseResult | undefined): Diagnostic[] {
  const earlierLoopFree = earlier !== undefined && loopsChecked.has(earlier) && !earlier.diagnostics.some((d) => d.kind === "jump-loop");
  return earlierLoopFree && jumpsAllTakenFrom(result.ruleset, earlier.ruleset) ? [] : findJumpLoops(result.ruleset);
}

function jumpsAllTakenFrom(ruleset: Ruleset, earlier: Ruleset): boolean {
  const jumps = new Set<Target>();
  everyJump(earlier, (target) => {
    jumps.add(target);
    return true;
  });
  return everyJump(ruleset, (target) => jumps.has(target));
}

/** Whether `test` holds for the target of every jump and goto (asked until it does not). */
function everyJump(ruleset: Ruleset, test: (target: Target) => boolean): boolean {
  for (const table of ruleset.tables) {
    for (let c = 0; c < table.chains.length; c++) {
      const rules = table.chains[c]!.rules;
      for (let r = 0; r < rules.length; r++) {
        const target = rules[r]!.target;
        if (target?.kind === "chain" && !test(target)) return false;
      }
    }
  }
  return true;
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
  const result = parseRulesetText(input.text, { lenient: options.lenient, family: options.family, reuse: options.reuse });
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
