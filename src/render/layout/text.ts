// Text sizes without a browser. Labels use a monospace font, whose advance is 0.6 em for ASCII in DejaVu Sans
// Mono, Menlo, Consolas and Liberation Mono alike, so widths computed here match what viewers draw.

export const MONO_FONT = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";
export const SANS_FONT = "'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif";

const MONO_ADVANCE = 0.602;
// Sans text (titles, notes, legend) is not collision-checked; this average errs on the wide side.
const SANS_ADVANCE = 0.6;

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    code >= 0x1f300
  );
}

function columns(text: string): number {
  let count = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    if (code >= 0x300 && code <= 0x36f) continue;
    count += isWide(code) ? 2 : 1;
  }
  return count;
}

export function monoWidth(text: string, fontSize: number): number {
  return columns(text) * MONO_ADVANCE * fontSize;
}

export function sansWidth(text: string, fontSize: number): number {
  return columns(text) * SANS_ADVANCE * fontSize;
}

/** Words of `text` in lines no wider than `width` pixels of sans text. */
export function wrapSans(text: string, fontSize: number, width: number): string[] {
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(/\s+/)) {
    const candidate = current ? `${current} ${word}` : word;
    if (current && sansWidth(candidate, fontSize) > width) {
      lines.push(current);
      current = word;
    } else current = candidate;
  }
  if (current) lines.push(current);
  return lines;
}
