// Diagnostics for people: `FILE:LINE:COL: severity: message`, the offending line, a caret.

import type { Diagnostic } from "../diagnostics.js";
import type { Palette } from "./color.js";

/** Shows control characters visibly so the caret lines up and the terminal stays sane. */
function visible(line: string): string {
  return line.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => (c === "\r" ? "\\r" : c === "\0" ? "\\0" : "?"));
}

export class SourceLines {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  line(number: number): string | undefined {
    if (!this.starts) {
      this.starts = [0];
      for (let i = this.text.indexOf("\n"); i >= 0; i = this.text.indexOf("\n", i + 1)) this.starts.push(i + 1);
    }
    const start = this.starts[number - 1];
    if (start === undefined) return undefined;
    const end = this.starts[number] !== undefined ? this.starts[number]! - 1 : this.text.length;
    return this.text.slice(start, end).replace(/\r$/, "");
  }
}

const MAX_SHOWN_LINE = 200;

export function renderDiagnostic(d: Diagnostic, fileName: string, source: SourceLines, palette: Palette): string {
  const severity = d.severity === "error" ? palette.red("error") : d.severity === "warning" ? palette.yellow("warning") : palette.cyan("info");
  const location = d.line > 0 ? `${fileName}:${d.line}:${d.column}` : fileName;
  const head = `${palette.bold(location)}: ${severity}: ${d.message}`;
  const text = d.line > 0 ? source.line(d.line) : undefined;
  if (text === undefined || d.column === 0) return head;
  let shown = visible(text);
  let column = d.column - 1;
  if (shown.length > MAX_SHOWN_LINE) {
    const from = Math.max(0, Math.min(column - 40, shown.length - MAX_SHOWN_LINE));
    shown = (from > 0 ? "…" : "") + shown.slice(from, from + MAX_SHOWN_LINE) + (from + MAX_SHOWN_LINE < shown.length ? "…" : "");
    column = column - from + (from > 0 ? 1 : 0);
  }
  const width = Math.max(1, Math.min(d.length, shown.length - column));
  const caret = " ".repeat(Math.max(0, column)) + "^" + "~".repeat(Math.max(0, width - 1));
  return `${head}\n  ${shown}\n  ${palette.green(caret)}`;
}

/** At most `limit` diagnostics, then a count of the rest, so binary garbage does not flood. */
export function renderDiagnostics(
  diagnostics: readonly Diagnostic[], fileName: string, text: string, palette: Palette, limit = 50,
): string {
  const source = new SourceLines(text);
  const shown = diagnostics.slice(0, limit).map((d) => renderDiagnostic(d, fileName, source, palette));
  if (diagnostics.length > limit) shown.push(`… and ${diagnostics.length - limit} more (use --json for all)`);
  return shown.join("\n");
}
