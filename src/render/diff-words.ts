// Small words shared by the text of every diff level.

import type { DiffNote } from "../analysis/diff/index.js";
import type { Palette } from "../cli/color.js";
import type { Family } from "../model/types.js";
import { representable } from "./escape.js";

export interface LevelTextContext {
  palette: Palette;
  family: Family;
  /** Notes already printed by an earlier level (the services and traffic levels share the node address). */
  noted: Set<string>;
}

/** Dump text made inert for a terminal: comments and chain names may hold escape sequences or line breaks. */
export function inert(text: string): string {
  return representable(text).replace(/[\t\n\r]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export const plural = (count: number, word: string, words = `${word}s`) => `${count.toLocaleString("en-US")} ${count === 1 ? word : words}`;

/** `OLD:12`, `NEW:40`: a line of one snapshot. */
export const lineOf = (side: "OLD" | "NEW", line: number) => `${side}:${line > 0 ? line : "implied"}`;

/** A level's notes, each printed once per diff. */
export function noteLines(notes: readonly DiffNote[], palette: Palette, noted: Set<string>): string[] {
  const fresh = notes.filter((note) => !noted.has(note.message));
  for (const note of fresh) noted.add(note.message);
  return fresh.map((note) => palette.dim(`  · ${note.message}`));
}
