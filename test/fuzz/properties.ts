// What must hold for any input, however broken, and for generated valid rulesets. Shared by the
// bounded property tests (vitest) and the long fuzz runs (`npm run fuzz`); a violated property
// throws a PropertyFailure saying which one, so fast-check can shrink the input that broke it.

import { findJumpLoops } from "../../src/analysis/rule-graph.js";
import { defaultContext, inferNodeAddresses } from "../../src/analysis/trace/context.js";
import type { Origin, PacketSpec, TraceResult } from "../../src/analysis/trace/types.js";
import { createTracer } from "../../src/analysis/trace/walk.js";
import { diagnosticSeverity, type Diagnostic } from "../../src/diagnostics.js";
import { diffRulesets, formatRule, formatRuleset, parseRuleset, resolveServices, type ParseResult } from "../../src/index.js";
import type { Family, Ruleset } from "../../src/model/types.js";
import { renderGraph } from "../../src/render/index.js";
import { hasCycle, reachableCalls, renderChainGraph, type ChainGraph } from "./chains.js";

export class PropertyFailure extends Error {
  override name = "PropertyFailure";
}

function fail(message: string): never {
  throw new PropertyFailure(message);
}

/** Diagnostics that concern the whole input rather than a line. */
const WHOLE_INPUT_KINDS: ReadonlySet<Diagnostic["kind"]> = new Set(["empty-input"]);

const lineCount = (text: string) => (text.length === 0 ? 0 : text.split("\n").length);

/** Every diagnostic is located on a line of the input (or concerns the whole input) and says something. */
export function checkDiagnostics(text: string, result: ParseResult, lenient: boolean): void {
  const lines = lineCount(text);
  for (const d of result.diagnostics) {
    const where = `${d.kind} at ${d.line}:${d.column}`;
    if (typeof d.message !== "string" || d.message.length === 0) fail(`${where}: no message`);
    if (!["error", "warning", "info"].includes(d.severity)) fail(`${where}: severity ${String(d.severity)}`);
    if (diagnosticSeverity(d.kind) === undefined) fail(`${where}: kind not in the table`);
    if (!Number.isInteger(d.line) || d.line < 0 || d.line > lines) fail(`${where}: line outside the input (1..${lines})`);
    if (d.line === 0 && !WHOLE_INPUT_KINDS.has(d.kind)) fail(`${where}: not located`);
    if (!Number.isInteger(d.column) || d.column < 0 || !(d.length >= 1)) fail(`${where}: bad column ${d.column} or length ${d.length}`);
    if (lenient && d.severity === "error" && d.line > 0) fail(`${where}: an error with --lenient (the line should be skipped)`);
  }
  const skipped = result.skippedLines;
  if (!lenient && skipped.length > 0) fail(`skipped lines without --lenient: ${skipped.slice(0, 5).join(", ")}`);
  for (let i = 0; i < skipped.length; i++) {
    const line = skipped[i]!;
    if (i > 0 && line <= skipped[i - 1]!) fail(`skipped lines not strictly increasing: ${skipped.slice(0, 10).join(", ")}`);
    if (line < 1 || line > lines) fail(`skipped line ${line} outside the input (1..${lines})`);
  }
  const reported = new Set(result.diagnostics.filter((d) => d.line > 0 && d.severity !== "info").map((d) => d.line));
  for (const line of skipped) if (!reported.has(line)) fail(`line ${line} skipped without a diagnostic on it`);
  // A diagnostic that says its line was skipped must be right about it.
  const claimed = new Set(result.diagnostics.filter((d) => d.message.endsWith("(line skipped)")).map((d) => d.line));
  const skippedSet = new Set(skipped);
  for (const line of claimed) if (!skippedSet.has(line)) fail(`line ${line} reported as skipped but not in skippedLines`);
}

/** Every rule of the model, as iptables-save would print it, per table and chain (chains in name order: the canonical printing sorts them). */
export function ruleSignature(ruleset: Ruleset): string[] {
  const context = { family: ruleset.family, backend: "nft" as const };
  const out: string[] = [];
  for (const table of [...ruleset.tables].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const chain of [...table.chains].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      out.push(`*${table.name} :${chain.name} ${chain.policy}`);
      for (const rule of chain.rules) out.push(formatRule(rule, context, false));
    }
  }
  return out;
}

function firstDifference(a: readonly string[], b: readonly string[]): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `#${i}: ${JSON.stringify(a[i]?.slice(0, 200))} vs ${JSON.stringify(b[i]?.slice(0, 200))}`;
  }
  return "none";
}

const errorsOf = (result: ParseResult) => result.diagnostics.filter((d) => d.severity === "error");

/**
 * What `fmt` prints from a (lenient) model loads back without errors into the same rules, in both
 * printings: nothing the model kept is dropped, nothing skipped comes back.
 */
export function checkNothingLost(model: ParseResult): void {
  const { ruleset } = model;
  if (ruleset.tables.length === 0) return;
  for (const canonical of [false, true]) {
    // iptables-nft-save prints no table that no line made anything in.
    const expected = ruleSignature(canonical ? { ...ruleset, tables: ruleset.tables.filter((table) => !table.nothingMade) } : ruleset);
    const printed = formatRuleset(ruleset, { canonical });
    // iptables-nft-save prints no table that no line made anything in.
    if (canonical && ruleset.tables.every((table) => table.nothingMade)) continue;
    const again = parseRuleset(printed, { family: ruleset.family });
    const errors = errorsOf(again);
    const label = canonical ? "fmt --canonical" : "fmt";
    if (errors.length > 0) {
      const first = errors[0]!;
      fail(`${label} output does not load back: line ${first.line}: ${first.message} — ${JSON.stringify(printed.split("\n")[first.line - 1]?.slice(0, 200))}`);
    }
    const got = ruleSignature(again.ruleset);
    if (got.join("\n") !== expected.join("\n")) fail(`${label} output loads back into other rules: ${firstDifference(expected, got)}`);
    if (formatRuleset(again.ruleset, { canonical }) !== printed) fail(`${label} is not idempotent`);
  }
}

/** Where packets are sent in traces of an arbitrary ruleset: addresses the rules name, and one they do not. */
function traceDestinations(ruleset: Ruleset, limit: number): string[] {
  const found = new Set<string>();
  for (const table of ruleset.tables) {
    for (const chain of table.chains) {
      for (const rule of chain.rules) {
        const address = rule.destination?.value;
        if (address && address.family === ruleset.family) found.add(address.address);
        if (found.size >= limit) return [...found];
      }
    }
  }
  found.add(ruleset.family === "ipv4" ? "192.0.2.77" : "2001:db8::77");
  return [...found];
}

/** Outcome probabilities add up to 1; every step is a rule (or chain policy) of the ruleset, with its line and text. */
export function checkTrace(ruleset: Ruleset, result: TraceResult): void {
  const chains = new Map(ruleset.tables.flatMap((t) => t.chains.map((c) => [`${t.name}/${c.name}`, c] as const)));
  let total = 0;
  for (const outcome of result.outcomes) {
    if (!(outcome.probability >= 0 && outcome.probability <= 1 + 1e-12)) fail(`outcome probability ${outcome.probability}`);
    total += outcome.probability;
    for (const step of outcome.path) {
      const chain = chains.get(`${step.table}/${step.chain}`);
      if (!chain) fail(`path step in ${step.table}/${step.chain}, which the ruleset does not have`);
      if (step.rule === 0) {
        if (step.line !== chain.line) fail(`policy step of ${step.chain} at line ${step.line}, the chain is at ${chain.line}`);
        continue;
      }
      const rule = chain.rules[step.rule - 1];
      if (!rule) fail(`path step ${step.table}/${step.chain} #${step.rule}: no such rule`);
      if (rule.line !== step.line || rule.text !== step.text) {
        fail(`path step ${step.table}/${step.chain} #${step.rule} says line ${step.line} ${JSON.stringify(step.text)}, the rule is line ${rule.line} ${JSON.stringify(rule.text)}`);
      }
    }
  }
  if (result.outcomes.length === 0) fail("a trace without outcomes");
  if (Math.abs(total - 1) > 1e-9) fail(`outcome probabilities add up to ${total}`);
}

const ORIGINS: readonly Origin[] = ["pod", "external", "node"];

/** Traces a few packets through any ruleset and checks each result. */
export function traceAround(ruleset: Ruleset, destinations = 2): number {
  const tracer = createTracer(ruleset);
  const nodeAddresses = inferNodeAddresses(ruleset);
  const src = ruleset.family === "ipv4" ? "10.244.1.5" : "fd00:10:244:1::5";
  let traces = 0;
  for (const dst of traceDestinations(ruleset, destinations)) {
    for (const origin of ORIGINS) {
      const packet: PacketSpec = { src, dst, protocol: traces % 2 === 0 ? 6 : 17, sport: 40000, dport: 53 + traces };
      checkTrace(ruleset, tracer.trace(packet, defaultContext({ origin, nodeAddresses, assumeNoAffinity: traces % 2 === 1 })));
      traces++;
    }
  }
  return traces;
}

/** `services`, `graph` (one view per case) and `diff` against another model: each ends with a result. */
export function analyse(ruleset: Ruleset, other: Ruleset | undefined): void {
  const map = resolveServices(ruleset);
  if (!Array.isArray(map.services)) fail("services: no service list");
  // One view per case, by the size of the ruleset: drawing is a quarter of a case's time, and runs are many.
  const rules = ruleset.tables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
  const view = rules % 2 === 0 ? "flow" : "chains";
  const picture = renderGraph(ruleset, { view, format: "svg", sourceName: "fuzz" });
  if (!picture.startsWith("<svg") && !picture.startsWith("<?xml")) fail(`graph --view ${view}: not an SVG: ${picture.slice(0, 80)}`);
  if (other && other.family === ruleset.family) {
    const there = diffRulesets(other, ruleset, { levels: ["rules"] });
    const back = diffRulesets(ruleset, other, { levels: ["rules"] });
    if (there.differs !== back.differs) fail("diff is not symmetric in whether the dumps differ");
  }
  const self = diffRulesets(ruleset, ruleset, { levels: ["rules"] });
  if (self.differs) fail("diff of a ruleset with itself finds differences");
}

export interface HostileCase {
  text: string;
  /** The model of the text this one was mutated from, for diff. */
  base?: Ruleset;
  family?: Family;
}

export interface CaseTiming {
  ms: number;
}

/**
 * Any text through parse (strict and --lenient), fmt, services, trace, graph and diff. The time
 * bound is checked after the fact: a hang shows as the run not finishing, and the fuzz script's
 * watchdog names the case.
 */
export function checkHostileInput(input: HostileCase, boundMs: number): CaseTiming {
  const start = performance.now();
  const options = input.family ? { family: input.family } : {};
  const strict = parseRuleset(input.text, options);
  checkDiagnostics(input.text, strict, false);
  const lenient = parseRuleset(input.text, { ...options, lenient: true });
  checkDiagnostics(input.text, lenient, true);
  if (errorsOf(strict).length === 0) {
    if (lenient.skippedLines.length > 0) fail(`no errors, yet --lenient skips lines ${lenient.skippedLines.slice(0, 5).join(", ")}`);
    if (ruleSignature(lenient.ruleset).join("\n") !== ruleSignature(strict.ruleset).join("\n")) fail("--lenient changes a model that had no errors");
  }
  checkNothingLost(lenient);
  // The CLI reports loops; the analyses must still end on a model that has them.
  for (const loop of findJumpLoops(lenient.ruleset)) {
    if (loop.kind !== "jump-loop" || loop.details.cycle.length < 2) fail(`jump loop reported without its cycle: ${loop.message}`);
  }
  traceAround(lenient.ruleset);
  analyse(lenient.ruleset, input.base);
  const ms = performance.now() - start;
  if (ms > boundMs) fail(`took ${Math.round(ms)} ms, bound ${boundMs} ms`);
  return { ms };
}

/**
 * Valid input: the canonical text of a model prints back byte for byte, through both printers,
 * and loading what fmt prints gives the same model (positions aside).
 */
export function checkRoundTrip(text: string, family: Family): void {
  const first = parseRuleset(text, { family });
  const errors = errorsOf(first);
  if (errors.length > 0) fail(`generated input has errors: line ${errors[0]!.line}: ${errors[0]!.message}`);
  const canonical = formatRuleset(first.ruleset, { canonical: true });
  const model = parseRuleset(canonical, { family });
  if (errorsOf(model).length > 0) fail(`canonical text has errors: ${errorsOf(model)[0]!.message}`);
  if (formatRuleset(model.ruleset) !== canonical) fail(`fmt(parse(x)) != x for canonical x: ${firstLineDifference(canonical, formatRuleset(model.ruleset))}`);
  if (formatRuleset(model.ruleset, { canonical: true }) !== canonical) {
    fail(`fmt --canonical(parse(x)) != x for canonical x: ${firstLineDifference(canonical, formatRuleset(model.ruleset, { canonical: true }))}`);
  }
  for (const source of [first, model]) {
    const printed = formatRuleset(source.ruleset);
    const again = parseRuleset(printed, { family });
    const a = withoutPositions(source.ruleset);
    const b = withoutPositions(again.ruleset);
    if (a !== b) fail(`parse(fmt(m)) != m: ${firstLineDifference(a, b)}`);
  }
}

function firstLineDifference(a: string, b: string): string {
  return firstDifference(a.split("\n"), b.split("\n"));
}

/** Where things are in the source (lines, columns, spelling of the line) differs between an input and its printing. */
const POSITION_KEYS = new Set(["line", "column", "text", "commitLine", "written"]);

function withoutPositions(ruleset: Ruleset): string {
  return JSON.stringify(ruleset, (key, value: unknown) => (POSITION_KEYS.has(key) ? undefined : value), 1);
}

/**
 * A generated ruleset of calling chains: it loads without errors and prints back; loops are
 * reported exactly when the calls a built-in chain reaches have a cycle, each with a real cycle; traces end, add up
 * to 1, walk only the ruleset's rules, and meet a loop only when there is one.
 */
export function checkChainGraph(graph: ChainGraph, boundMs: number): void {
  const start = performance.now();
  const { text, calls } = renderChainGraph(graph);
  checkRoundTrip(text, graph.family);
  const { ruleset } = parseRuleset(text, { family: graph.family });
  const loops = findJumpLoops(ruleset);
  const cyclic = hasCycle(reachableCalls(calls));
  if (cyclic !== loops.length > 0) fail(cyclic ? "the calls have a cycle and no jump loop is reported" : `jump loop reported without a cycle: ${loops[0]!.message}`);
  for (const loop of loops) {
    if (loop.kind !== "jump-loop") continue;
    const cycle = loop.details.cycle.map((c) => c.slice(c.indexOf("/") + 1));
    if (cycle.length < 2 || cycle[0] !== cycle.at(-1)) fail(`reported cycle does not close: ${cycle.join(" → ")}`);
    for (let i = 0; i + 1 < cycle.length; i++) {
      if (!calls.get(cycle[i]!)?.includes(cycle[i + 1]!)) fail(`reported cycle has no call ${cycle[i]} → ${cycle[i + 1]}: ${cycle.join(" → ")}`);
    }
  }
  const tracer = createTracer(ruleset);
  const destination = graph.family === "ipv4" ? "10.0.0.2" : "2001:db8::2";
  const source = graph.family === "ipv4" ? "10.244.1.5" : "fd00:10:244::5";
  for (const origin of ORIGINS) {
    for (const protocol of [6, 17]) {
      const packet: PacketSpec = { src: source, dst: destination, protocol, sport: 40000, dport: 80 };
      const result = tracer.trace(packet, defaultContext({ origin, inInterface: origin === "node" ? undefined : "eth0" }));
      checkTrace(ruleset, result);
      for (const outcome of result.outcomes) {
        if (outcome.verdict !== "ERROR") continue;
        // The tracer's documented bounds end a walk too; anything else in error needs a loop.
        const bounded = /^more than [\d,]+ branches|^walk longer than/.test(outcome.error ?? "");
        if (!cyclic && !bounded) fail(`ERROR outcome without a loop: ${outcome.error}`);
        if (!cyclic && /loop/.test(outcome.error ?? "")) fail(`loop reported without a cycle: ${outcome.error}`);
      }
    }
  }
  const ms = performance.now() - start;
  if (ms > boundMs) fail(`took ${Math.round(ms)} ms, bound ${boundMs} ms`);
}
