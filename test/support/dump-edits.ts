// Edits of dump text for diff tests: the changes an administrator, a CNI or kube-proxy make between snapshots.

import { BUILTIN_CHAINS, type TableName } from "../../src/model/types.js";
import { mulberry32 } from "./kubegen.js";

/**
 * Inserts `rule` into `table`, before its first rule or at its end; declares `newChain` first if it is not there,
 * and adds the table (with empty ACCEPT built-in chains) if the dump has none.
 */
export function insertRule(text: string, table: TableName, rule: string, where: "top" | "end", newChain?: string): string {
  const lines = text.split("\n");
  const start = lines.indexOf(`*${table}`);
  if (start < 0) {
    const builtins = BUILTIN_CHAINS[table].map((chain) => `:${chain} ACCEPT [0:0]`);
    return insertRule([`*${table}`, ...builtins, "COMMIT", text].join("\n"), table, rule, where, newChain);
  }
  const commit = lines.indexOf("COMMIT", start);
  let firstRule = start + 1;
  while (lines[firstRule]!.startsWith(":")) firstRule++;
  if (newChain && !lines.slice(start, commit).some((line) => line.startsWith(`:${newChain} `))) {
    lines.splice(firstRule, 0, `:${newChain} - [0:0]`);
    return insertRule(lines.join("\n"), table, rule, where);
  }
  lines.splice(where === "top" ? firstRule : commit, 0, rule);
  return lines.join("\n");
}

/** Whole `-A` lines deleted, copied or moved within their table, at random: NEW stays valid wherever OLD is. */
export function randomLineEdits(text: string, seed: number, count: number): string {
  const random = mulberry32(seed);
  const lines = text.split("\n");
  for (let edit = 0; edit < count; edit++) {
    const rules = lines.flatMap((line, index) => (line.startsWith("-A ") ? [index] : []));
    const at = rules[Math.floor(random() * rules.length)]!;
    const table = lines.slice(0, at).findLastIndex((l) => l.startsWith("*"));
    const commit = lines.indexOf("COMMIT", at);
    const to = table + 1 + Math.floor(random() * (commit - table - 1));
    const target = lines[to]!.startsWith(":") ? lines.slice(to).findIndex((l) => !l.startsWith(":")) + to : to;
    const roll = random();
    if (roll < 0.4) lines.splice(at, 1);
    else if (roll < 0.7) lines.splice(target, 0, lines[at]!);
    else {
      const [line] = lines.splice(at, 1);
      lines.splice(target > at ? target - 1 : target, 0, line!);
    }
  }
  return lines.join("\n");
}

/** The dump without kube-proxy's (or anyone's) rule comments, as some tools and old proxies leave it. */
export function withoutComments(text: string): string {
  return text.replace(/ -m comment --comment (?:"(?:[^"\\]|\\.)*"|\S+)/g, "");
}
