// Random valid rulesets shaped for the tracer: user chains calling each other by jump and goto,
// RETURNs, random and uncertain matches, verdicts, marks, NAT, counters and quoted comments.
// Calls go to later chains only, unless the case asks for back edges (loops, which iptables refuses).

import fc from "fast-check";
import type { TableName } from "../../src/model/types.js";

export type MatchSpec =
  | "source" | "not-destination" | "tcp-dport" | "udp" | "random" | "nth" | "ctstate" | "mark" | "in-interface" | "comment" | "recent" | "set";

export type TargetSpec =
  | { kind: "verdict"; verdict: "ACCEPT" | "DROP" | "REJECT" | "RETURN" }
  | { kind: "call"; goto: boolean; chain: number }
  | { kind: "mark"; value: number }
  | { kind: "log" }
  | { kind: "nat" }
  | { kind: "none" };

export interface RuleSpec {
  matches: MatchSpec[];
  target: TargetSpec;
  probability: number;
  counters: [number, number] | null;
}

export interface ChainGraph {
  family: "ipv4" | "ipv6";
  table: TableName;
  builtin: "DROP" | "ACCEPT";
  /** Rules of the built-in chains of the table, then of each user chain U0… */
  builtinRules: RuleSpec[][];
  userRules: RuleSpec[][];
  loops: boolean;
}

const BUILTINS: Record<"filter" | "nat" | "mangle", readonly string[]> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
};

const matchSpec = fc.constantFrom<MatchSpec>(
  "source", "not-destination", "tcp-dport", "udp", "random", "random", "nth", "ctstate", "mark", "in-interface", "comment", "recent", "set",
);

function targetSpec(userChains: number): fc.Arbitrary<TargetSpec> {
  const calls: fc.Arbitrary<TargetSpec>[] =
    userChains > 0 ? [fc.record({ kind: fc.constant("call" as const), goto: fc.boolean(), chain: fc.nat({ max: userChains - 1 }) })] : [];
  return fc.oneof(
    fc.record({ kind: fc.constant("verdict" as const), verdict: fc.constantFrom("ACCEPT" as const, "DROP" as const, "REJECT" as const, "RETURN" as const) }),
    ...calls,
    ...calls,
    fc.record({ kind: fc.constant("mark" as const), value: fc.integer({ min: 0, max: 0xffff }) }),
    fc.constant({ kind: "log" as const }),
    fc.constant({ kind: "nat" as const }),
    fc.constant({ kind: "none" as const }),
  );
}

function ruleSpec(userChains: number): fc.Arbitrary<RuleSpec> {
  return fc.record({
    matches: fc.uniqueArray(matchSpec, { maxLength: 3 }),
    target: targetSpec(userChains),
    probability: fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
    counters: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: null }),
  });
}

export const chainGraphArbitrary: fc.Arbitrary<ChainGraph> = fc
  .record({
    family: fc.constantFrom<"ipv4" | "ipv6">("ipv4", "ipv4", "ipv6"),
    table: fc.constantFrom<"filter" | "nat" | "mangle">("filter", "nat", "mangle"),
    users: fc.integer({ min: 0, max: 8 }),
    loops: fc.boolean(),
    builtin: fc.constantFrom<"DROP" | "ACCEPT">("ACCEPT", "DROP"),
  })
  .chain(({ family, table, users, loops, builtin }) =>
    fc.record({
      family: fc.constant(family),
      table: fc.constant(table as TableName),
      builtin: fc.constant(table === "nat" ? ("ACCEPT" as const) : builtin),
      builtinRules: fc.array(fc.array(ruleSpec(users), { maxLength: 6 }), { minLength: BUILTINS[table].length, maxLength: BUILTINS[table].length }),
      userRules: fc.array(fc.array(ruleSpec(users), { maxLength: 6 }), { minLength: users, maxLength: users }),
      loops: fc.constant(loops),
    }),
  );

const ADDRESSES = {
  ipv4: { source: "10.244.0.0/16", destination: "10.0.0.2/32" },
  ipv6: { source: "fd00:10:244::/48", destination: "2001:db8::2/128" },
};

function matchText(match: MatchSpec, family: ChainGraph["family"], probability: number): string {
  switch (match) {
    case "source":
      return `-s ${ADDRESSES[family].source}`;
    case "not-destination":
      return `! -d ${ADDRESSES[family].destination}`;
    case "tcp-dport":
      return "-p tcp -m tcp --dport 80";
    case "udp":
      return "-p udp";
    case "random":
      return `-m statistic --mode random --probability ${probability.toFixed(11)}`;
    case "nth":
      return "-m statistic --mode nth --every 3 --packet 0";
    case "ctstate":
      return "-m conntrack --ctstate NEW,ESTABLISHED";
    case "mark":
      return "-m mark --mark 0x1/0x1";
    case "in-interface":
      return "-i eth0";
    case "comment":
      return '-m comment --comment "a \\"quoted\\" comment"';
    case "recent":
      return "-m recent --rcheck --seconds 60 --name fuzz --rsource";
    case "set":
      return "-m set --match-set FUZZ-SET dst";
    default: {
      const never: never = match;
      throw new Error(`unknown match ${String(never)}`);
    }
  }
}

/** The target, or undefined when it cannot stand in this chain (the rule then has none). */
function targetText(target: TargetSpec, graph: ChainGraph, chain: string, from: number | undefined, protocolKnown: boolean): string | undefined {
  switch (target.kind) {
    case "verdict":
      if (target.verdict === "REJECT" && graph.table !== "filter") return undefined;
      if (target.verdict === "DROP" && graph.table === "nat") return undefined;
      return `-j ${target.verdict}`;
    case "call": {
      // Forward calls only, except on purpose: a back edge (or a self-call) makes a loop.
      const to = from === undefined || target.chain > from || graph.loops ? target.chain : undefined;
      if (to === undefined) return undefined;
      return `${target.goto ? "-g" : "-j"} U${to}`;
    }
    case "mark":
      return graph.table === "mangle" ? `-j MARK --set-xmark 0x${target.value.toString(16)}/0xffffffff` : undefined;
    case "log":
      return '-j LOG --log-prefix "fuzz: "';
    case "nat":
      if (graph.table !== "nat") return undefined;
      if (chain === "POSTROUTING") return "-j MASQUERADE";
      if ((chain === "PREROUTING" || chain === "OUTPUT") && protocolKnown) {
        return graph.family === "ipv4" ? "-j DNAT --to-destination 10.1.2.3:8080" : "-j DNAT --to-destination [2001:db8::3]:8080";
      }
      return undefined;
    case "none":
      return undefined;
    default: {
      const never: never = target;
      throw new Error(`unknown target ${JSON.stringify(never)}`);
    }
  }
}

function ruleText(rule: RuleSpec, graph: ChainGraph, chain: string, from: number | undefined): string {
  const matches = rule.matches.filter((m) => !(m === "in-interface" && (chain === "OUTPUT" || chain === "POSTROUTING")));
  // One protocol per rule.
  const protocolMatches = matches.filter((m) => m === "tcp-dport" || m === "udp");
  const kept = protocolMatches.length > 1 ? matches.filter((m) => m !== "udp") : matches;
  const parts = kept.map((m) => matchText(m, graph.family, rule.probability));
  const target = targetText(rule.target, graph, chain, from, protocolMatches.length > 0);
  if (target) parts.push(target);
  const counters = rule.counters ? `[${rule.counters[0]}:${rule.counters[1]}] ` : "";
  return `${counters}-A ${chain}${parts.length > 0 ? " " + parts.join(" ") : ""}`;
}

/** The ruleset as iptables-restore input, and the calls it makes (for an independent loop check). */
export function renderChainGraph(graph: ChainGraph): { text: string; calls: Map<string, string[]> } {
  const builtins = BUILTINS[graph.table as "filter" | "nat" | "mangle"];
  const lines = [`*${graph.table}`];
  for (const name of builtins) lines.push(`:${name} ${graph.builtin} [0:0]`);
  graph.userRules.forEach((_, i) => lines.push(`:U${i} - [0:0]`));
  const calls = new Map<string, string[]>();
  const emit = (chain: string, rules: RuleSpec[], from: number | undefined) => {
    calls.set(chain, []);
    for (const rule of rules) {
      const text = ruleText(rule, graph, chain, from);
      const call = / -[jg] (U\d+)$/.exec(text);
      if (call) calls.get(chain)!.push(call[1]!);
      lines.push(text);
    }
  };
  builtins.forEach((name, i) => emit(name, graph.builtinRules[i] ?? [], undefined));
  graph.userRules.forEach((rules, i) => emit(`U${i}`, rules, i));
  // Counters on some rules only: iptables-save -c gives every rule counters.
  const counted = lines.some((l) => l.startsWith("["));
  const text = (counted ? lines.map((l) => (l.startsWith("-A") ? `[0:0] ${l}` : l)) : lines).join("\n") + "\nCOMMIT\n";
  return { text, calls };
}

/** Whether the call graph has a cycle, by Kahn's algorithm (independent of the depth-first search under test). */
export function hasCycle(calls: Map<string, string[]>): boolean {
  const indegree = new Map<string, number>([...calls.keys()].map((c) => [c, 0]));
  for (const targets of calls.values()) for (const t of targets) indegree.set(t, (indegree.get(t) ?? 0) + 1);
  const ready = [...indegree].filter(([, n]) => n === 0).map(([c]) => c);
  let removed = 0;
  while (ready.length > 0) {
    const chain = ready.pop()!;
    removed++;
    for (const t of calls.get(chain) ?? []) {
      const n = indegree.get(t)! - 1;
      indegree.set(t, n);
      if (n === 0) ready.push(t);
    }
  }
  return removed < indegree.size;
}

/** The calls of the chains a built-in chain reaches (the kernel looks for loops there only). */
export function reachableCalls(calls: Map<string, string[]>): Map<string, string[]> {
  const reached = [...calls.keys()].filter((chain) => !/^U\d+$/.test(chain));
  const seen = new Set(reached);
  for (let i = 0; i < reached.length; i++) {
    for (const callee of calls.get(reached[i]!) ?? []) {
      if (!seen.has(callee)) {
        seen.add(callee);
        reached.push(callee);
      }
    }
  }
  return new Map([...calls].filter(([chain]) => seen.has(chain)));
}
