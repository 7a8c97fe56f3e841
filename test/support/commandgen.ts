// Random iptables-restore inputs of a few lines that mix chain declarations and the chain and rule commands
// (-N -X -F -Z -E -P -A -I -D -R) over a few chains of one or two tables, valid or not: whether such an input
// loads, and what it leaves, is the kernel's call, and iptscope must make the same one. The rules are simple
// on purpose (acceptgen.ts covers what a rule may hold): what varies is which chains exist, hold rules and are
// jumped to when each command runs.

import { mulberry32 } from "./kubegen.js";

type Random = () => number;
type TableName = "filter" | "nat" | "mangle" | "raw";

const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Random, p: number) => r() < p;
const between = (r: Random, low: number, high: number) => low + Math.floor(r() * (high - low + 1));

const BUILTINS: Record<TableName, readonly string[]> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  raw: ["PREROUTING", "OUTPUT"],
};

/** User chains the commands name; the last is never declared at first, so that -E and -N have a free name. */
const USER_CHAINS = ["U1", "U2", "U3", "U4"] as const;

/** Rule bodies by table; JUMP becomes `-j` or `-g` to a user chain (declared or not), ADDR an address. */
const BODIES: Record<TableName, readonly string[]> = {
  filter: ["-j ACCEPT", "-j DROP", "-s ADDR -j ACCEPT", "-p tcp --dport 22 -j ACCEPT", "-j RETURN", "-m comment --comment c", "", "JUMP", "JUMP", "-p udp JUMP", "-j REJECT"],
  nat: ["-j ACCEPT", "-j RETURN", "-p tcp --dport 80 -j REDIRECT --to-ports 8080", "-j MASQUERADE", "-j DROP", "", "JUMP", "JUMP", "-d ADDR JUMP"],
  mangle: ["-j MARK --set-mark 1", "-j ACCEPT", "-j RETURN", "-s ADDR", "", "JUMP", "JUMP", "-j TPROXY --on-port 1 --tproxy-mark 1 -p tcp"],
  raw: ["-j CT --notrack", "-j ACCEPT", "-j DROP", "", "JUMP", "JUMP", "-p tcp JUMP"],
};

const POLICIES = ["ACCEPT", "DROP", "ACCEPT", "DROP", "-", "REJECT", "drop", "RETURN"];

export interface CommandCase {
  family: "ipv4" | "ipv6";
  text: string;
}

interface TableDraft {
  table: TableName;
  r: Random;
  family: "ipv4" | "ipv6";
  /** User chains a `:` line or -N above declared (not undone by -X or -E): most commands name one of these. */
  declared: Set<string>;
  /**
   * Draws for the lines that make an -I and a later -D meet (see tableLines), apart from `r` so that an input
   * without them is the same as before they were added; `inserted`: where that -I went.
   */
  aside: Random;
  inserted?: { chain: string; position: number };
}

function address(d: TableDraft): string {
  const host = between(d.r, 1, 9);
  return d.family === "ipv4" ? `10.0.0.${host}` : `fd00::${host}`;
}

function body(d: TableDraft): string {
  const text = pick(d.r, BODIES[d.table]).replace(/ADDR/g, () => address(d));
  if (!text.includes("JUMP")) return text;
  const kind = chance(d.r, 0.75) ? "-j" : "-g";
  // Now and then a built-in chain, which no rule may jump to.
  const chain = chance(d.r, 0.1) ? pick(d.r, BUILTINS[d.table]) : userChain(d);
  return text.replace("JUMP", `${kind} ${chain}`);
}

/** Mostly a user chain declared above, so that more inputs load; now and then any. */
function userChain(d: TableDraft): string {
  return d.declared.size > 0 && chance(d.r, 0.7) ? pick(d.r, [...d.declared]) : pick(d.r, USER_CHAINS);
}

function anyChain(d: TableDraft): string {
  return chance(d.r, 0.6) ? userChain(d) : pick(d.r, BUILTINS[d.table]);
}

/** A rule's spec, now and then with counters: `[p:b]` before the command, or `-c p b` after it. */
function ruleLine(d: TableDraft, command: string): string {
  const spec = body(d);
  const [packets, bytes] = [between(d.r, 0, 9), between(d.r, 0, 99)];
  const prefix = chance(d.r, 0.05) ? `[${packets}:${bytes}] ` : "";
  const option = prefix === "" && chance(d.r, 0.04) ? ` -c ${packets} ${bytes}` : "";
  return `${prefix}${command}${option}${spec ? ` ${spec}` : ""}`;
}

function counters(d: TableDraft): string {
  return chance(d.r, 0.7) ? "[0:0]" : `[${between(d.r, 1, 9)}:${between(d.r, 10, 999)}]`;
}

function declaration(d: TableDraft): string {
  if (chance(d.r, 0.5)) {
    const chain = pick(d.r, BUILTINS[d.table]);
    return `:${chain} ${chance(d.r, 0.85) ? pick(d.r, ["ACCEPT", "DROP"]) : pick(d.r, POLICIES)} ${counters(d)}`;
  }
  const chain = pick(d.r, USER_CHAINS.slice(0, 3));
  d.declared.add(chain);
  return `:${chain} ${chance(d.r, 0.9) ? "-" : pick(d.r, POLICIES)} ${counters(d)}`;
}

/** A position for -I, -D, -R: mostly a small number, now and then zero or beyond any chain here. */
function position(d: TableDraft): number {
  return pick(d.r, [1, 1, 1, 2, 2, 3, 0, 5]);
}

function commandLine(d: TableDraft): string {
  const r = d.r;
  switch (pick(r, ["A", "A", "A", "A", "I", "I", "D", "D", "R", "N", "X", "F", "Z", "E", "P", ":"] as const)) {
    case "A":
      return ruleLine(d, `-A ${anyChain(d)}`);
    case "I":
      return ruleLine(d, chance(r, 0.3) ? `-I ${anyChain(d)}` : `-I ${anyChain(d)} ${position(d)}`);
    case "D": {
      const line = chance(r, 0.5) ? `-D ${anyChain(d)} ${position(d)}` : `-D ${anyChain(d)} ${body(d)}`.trimEnd();
      // Now and then the rule that -I was put before (if nothing moved it since).
      return d.inserted !== undefined && chance(d.aside, 0.5) ? `-D ${d.inserted.chain} ${d.inserted.position + 1}` : line;
    }
    case "R":
      return ruleLine(d, `-R ${anyChain(d)} ${position(d)}`);
    case "N": {
      if (chance(r, 0.15)) return `-N ${pick(r, BUILTINS[d.table])}`;
      const chain = pick(r, USER_CHAINS);
      d.declared.add(chain);
      return `-N ${chain}`;
    }
    case "X": {
      const chain = chance(r, 0.3) ? undefined : anyChain(d);
      if (chain !== undefined) d.declared.delete(chain);
      return chain === undefined ? "-X" : `-X ${chain}`;
    }
    case "F":
      return chance(r, 0.3) ? "-F" : `-F ${anyChain(d)}`;
    case "Z":
      return chance(r, 0.4) ? "-Z" : `-Z ${anyChain(d)}`;
    case "E": {
      const [from, to] = [anyChain(d), chance(r, 0.8) ? pick(r, USER_CHAINS) : pick(r, BUILTINS[d.table])];
      if (d.declared.delete(from) && !BUILTINS[d.table].includes(to)) d.declared.add(to);
      return `-E ${from} ${to}`;
    }
    case "P":
      return `-P ${anyChain(d)} ${chance(r, 0.8) ? pick(r, ["ACCEPT", "DROP"]) : pick(r, POLICIES)}`;
    case ":":
      return declaration(d);
  }
}

function tableLines(d: TableDraft, bodyLines: number): string[] {
  const lines = [`*${d.table}`];
  // Most inputs declare their chains first, as iptables-save does; the commands may then undo it.
  const leading = chance(d.r, 0.8) ? between(d.r, 1, 3) : 0;
  for (let i = 0; i < leading && i < bodyLines; i++) lines.push(declaration(d));
  let i = leading;
  // Now and then two rules in a chain and an -I among them first, for a -D to find what the -I was put before.
  if (chance(d.aside, 0.15)) {
    const aside = { ...d, r: d.aside };
    const chain = anyChain(aside);
    for (; i < leading + 2 && i < bodyLines; i++) lines.push(ruleLine(aside, `-A ${chain}`));
    if (i < bodyLines) {
      d.inserted = { chain, position: position(aside) };
      lines.push(ruleLine(aside, `-I ${chain} ${d.inserted.position}`));
      i++;
    }
  }
  for (; i < bodyLines; i++) lines.push(commandLine(d));
  lines.push("COMMIT");
  return lines;
}

/** One input of 3 to 12 lines in one table, or two tables. */
export function generateCommandCase(seed: number, family: "ipv4" | "ipv6"): CommandCase {
  const r = mulberry32(seed);
  const aside = mulberry32(seed ^ 0x5bd1e995);
  const tables: TableName[] = ["filter", "filter", "nat", "mangle", "raw"];
  const first = pick(r, tables);
  const second = chance(r, 0.2) ? pick(r, tables.filter((t) => t !== first)) : undefined;
  const lines: string[] = [];
  if (second === undefined) lines.push(...tableLines({ table: first, r, family, declared: new Set(), aside }, between(r, 1, 10)));
  else {
    lines.push(...tableLines({ table: first, r, family, declared: new Set(), aside }, between(r, 1, 4)));
    lines.push(...tableLines({ table: second, r, family, declared: new Set(), aside }, between(r, 1, 4)));
  }
  return { family, text: `${lines.join("\n")}\n` };
}
