// Reading a dump from a file or standard input: gzip is detected by its magic bytes.

import { readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";

export type InputProblem =
  | { kind: "not-found"; path: string }
  | { kind: "is-directory"; path: string }
  | { kind: "unreadable"; path: string; reason: string }
  | { kind: "corrupt-gzip"; path: string; reason: string }
  | { kind: "stdin-is-terminal" };

export type InputResult = { ok: true; text: string; name: string } | { ok: false; problem: InputProblem };

export function inputProblemMessage(problem: InputProblem): string {
  switch (problem.kind) {
    case "not-found":
      return `${problem.path}: no such file`;
    case "is-directory":
      return `${problem.path}: is a directory, expected an iptables-save dump`;
    case "unreadable":
      return `${problem.path}: cannot read: ${problem.reason}`;
    case "corrupt-gzip":
      return `${problem.path}: looks gzip-compressed but cannot be decompressed: ${problem.reason}`;
    case "stdin-is-terminal":
      return "no input: give a FILE, or pipe iptables-save into iptscope (e.g. iptables-save | iptscope parse)";
    default: {
      const never: never = problem;
      throw new Error(`unhandled input problem ${JSON.stringify(never)}`);
    }
  }
}

function decode(bytes: Buffer, name: string): InputResult {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return { ok: true, text: gunzipSync(bytes).toString("utf8"), name };
    } catch (error) {
      return { ok: false, problem: { kind: "corrupt-gzip", path: name, reason: (error as Error).message } };
    }
  }
  return { ok: true, text: bytes.toString("utf8"), name };
}

/** Reads FILE, or standard input for `-` or no FILE when stdin is not a terminal. */
export function readInput(file: string | undefined): InputResult {
  // yargs hands a lone "-" over as an empty string.
  if (file === undefined || file === "-" || file === "") {
    if (file !== "-" && file !== "" && process.stdin.isTTY) return { ok: false, problem: { kind: "stdin-is-terminal" } };
    try {
      return decode(readFileSync(0), "<stdin>");
    } catch (error) {
      return { ok: false, problem: { kind: "unreadable", path: "<stdin>", reason: (error as Error).message } };
    }
  }
  try {
    if (statSync(file).isDirectory()) return { ok: false, problem: { kind: "is-directory", path: file } };
    return decode(readFileSync(file), file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, problem: { kind: "not-found", path: file } };
    return { ok: false, problem: { kind: "unreadable", path: file, reason: (error as Error).message } };
  }
}
