// Numbers as libxtables reads them (xtables_strtoui, which calls strtoumax with base 0): used by the option
// codecs, addresses and protocols alike.

/** strtoumax(text + from, 0): the number and where it stopped, undefined when no digit was read. No '-', as xtables_strtoui. */
export function readCNumber(text: string, from = 0): { value: number; end: number } | undefined {
  let at = from;
  if (text.charCodeAt(at) === 0x2b /* + */) at++;
  let base = 10;
  if (text[at] === "0") {
    base = 8;
    if ((text[at + 1] === "x" || text[at + 1] === "X") && digitValue(text.charCodeAt(at + 2)) < 16) {
      base = 16;
      at += 2;
    }
  }
  const start = at;
  let value = 0;
  for (; at < text.length; at++) {
    const digit = digitValue(text.charCodeAt(at));
    if (digit >= base) break;
    value = value * base + digit;
  }
  return at === start ? undefined : { value, end: at };
}

function digitValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : 99;
}

/** A whole C number (xtables_strtoui: 0x hex, 0 octal, an optional '+') up to `max`. */
export function parseUnsigned(text: string, max = 0xffffffff): number | undefined {
  const read = readCNumber(text);
  return read !== undefined && read.end === text.length && read.value <= max ? read.value : undefined;
}
