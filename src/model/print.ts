// Prints the model back as iptables-save text: faithfully (the input's own structure and
// spelling, whitespace normalised) or canonically (what iptables-save prints after loading).

import { saveString, tokenizeArgs } from "../../grammar/index.js";
import { formatAddressMask, isAnyAddress } from "./addresses.js";
import type { CodecContext } from "./codecs.js";
import { findOptionSpec, matchSpecs, targetSpecs, type ExtensionSpec } from "./extensions.js";
import { BUILTIN_CHAINS, type Chain, type ExtensionOption, type MatchModule, type Rule, type Ruleset, type Table, type Target } from "./types.js";

export interface FormatOptions {
  /** Print what iptables-save would print after loading this input. */
  canonical?: boolean;
  /** Whose iptables-save to reproduce (default nft, the default iptables on current distributions). */
  backend?: "nft" | "legacy";
}

export function formatRuleset(ruleset: Ruleset, options: FormatOptions = {}): string {
  const out: string[] = [];
  const context: CodecContext = { family: ruleset.family, backend: options.backend ?? "nft" };
  const commentsBefore = (index: number) =>
    ruleset.comments.filter((c) => c.beforeTable === index && !c.insideTable).forEach((c) => out.push(commentText(c.text)));
  ruleset.tables.forEach((table, index) => {
    commentsBefore(index);
    if (!options.canonical) printFaithfulTable(table, out);
    else if (!(table.nothingMade && context.backend === "nft")) printCanonicalTable(table, ruleset, context, out);
  });
  commentsBefore(ruleset.tables.length);
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/** A comment as read, but for CRs at its end: printed there they would make a CRLF line of it. */
function commentText(text: string): string {
  return text.endsWith("\r") ? text.replace(/\r+$/, "") : text;
}

function chainDeclaration(chain: Chain): string {
  return `:${chain.name} ${chain.policy} [${chain.counters.packets}:${chain.counters.bytes}]`;
}

function printFaithfulTable(table: Table, out: string[]): void {
  out.push(`*${table.name}`);
  const chains = new Map(table.chains.map((c) => [c.name, c]));
  for (const statement of table.statements) {
    switch (statement.kind) {
      case "chain-declaration": {
        const chain = chains.get(statement.chain);
        // A user chain deleted (-X) or renamed (-E) further down is still declared here, for that command.
        out.push(chain ? chainDeclaration(chain) : `:${statement.chain} - [0:0]`);
        break;
      }
      case "rule":
        out.push(normalizeCommandLine(statement.text));
        break;
      case "command":
        out.push(normalizeCommandLine(statement.command.text));
        break;
      case "comment":
        out.push(commentText(statement.text));
        break;
      default: {
        const never: never = statement;
        throw new Error(`unhandled statement ${JSON.stringify(never)}`);
      }
    }
  }
  // Always: without COMMIT iptables-restore drops the table, and with it every rule the model kept.
  out.push("COMMIT");
}

/** A command line with its arguments separated by single spaces, quoting kept as written. */
export function normalizeCommandLine(text: string): string {
  let from = 0;
  let prefix = "";
  if (text.startsWith("[")) {
    from = text.indexOf("]") + 1;
    prefix = text.slice(0, from) + " ";
  }
  const { tokens } = tokenizeArgs(text, from);
  const words = tokens.map((t) => text.slice(t.start, t.end));
  // A CR that was part of the last argument would read back as a CRLF line end: quoted, it stays an argument.
  const last = tokens[tokens.length - 1];
  if (last !== undefined && words[words.length - 1]!.endsWith("\r")) words[words.length - 1] = saveString(last.value);
  return prefix + words.join(" ");
}

/** strcmp order, as libiptc and nft_cache_sort_chains sort user chains. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function printCanonicalTable(table: Table, ruleset: Ruleset, context: CodecContext, out: string[]): void {
  out.push(`*${table.name}`);
  const builtins = BUILTIN_CHAINS[table.name]
    .map((name) => table.chains.find((c) => c.name === name))
    .filter((c): c is Chain => c !== undefined);
  const users = table.chains.filter((c) => !c.builtin).sort((a, b) => byteOrder(a.name, b.name));
  const ordered = [...builtins, ...users];
  for (const chain of ordered) out.push(chainDeclaration(chain));
  // ip6tables-nft-restore 1.8.9 -c loads every rule with no counters.
  const countersLoaded = !(context.backend === "nft" && ruleset.family === "ipv6");
  for (const chain of ordered) {
    for (const rule of chain.rules) {
      const loaded = countersLoaded || rule.counters === undefined ? rule : { ...rule, counters: undefined };
      out.push(formatRule(loaded, context, ruleset.hasRuleCounters));
    }
  }
  out.push("COMMIT");
}

/** One rule as iptables-save prints it. */
export function formatRule(rule: Rule, context: CodecContext, withCounters = rule.counters !== undefined): string {
  const parts: string[] = [];
  if (withCounters) {
    const counters = rule.counters ?? { packets: "0", bytes: "0" };
    parts.push(`[${counters.packets}:${counters.bytes}]`);
  }
  parts.push("-A", rule.chain);
  const bang = (negated: boolean) => (negated ? "! " : "");
  if (rule.source && (rule.source.negated || !isAnyAddress(rule.source.value))) {
    parts.push(`${bang(rule.source.negated)}-s ${formatAddressMask(rule.source.value)}`);
  }
  if (rule.destination && (rule.destination.negated || !isAnyAddress(rule.destination.value))) {
    parts.push(`${bang(rule.destination.negated)}-d ${formatAddressMask(rule.destination.value)}`);
  }
  if (rule.inInterface && (rule.inInterface.negated || rule.inInterface.value !== "+")) {
    parts.push(`${bang(rule.inInterface.negated)}-i ${rule.inInterface.value}`);
  }
  if (rule.outInterface && (rule.outInterface.negated || rule.outInterface.value !== "+")) {
    parts.push(`${bang(rule.outInterface.negated)}-o ${rule.outInterface.value}`);
  }
  if (rule.protocol && (rule.protocol.negated || rule.protocol.value.number !== 0)) {
    parts.push(`${bang(rule.protocol.negated)}-p ${rule.protocol.value.name}`);
  }
  if (rule.fragment) parts.push(`${bang(rule.fragment.negated)}-f`);
  for (const match of rule.matches) parts.push(formatMatch(match, context));
  if (rule.target) parts.push(formatTarget(rule.target, context));
  return parts.join(" ");
}

/** A name as one argument: the kernel's names need no quotes, but a module kept verbatim may have been quoted. */
function nameArgument(name: string): string {
  return name === "" || /[\s"'\\]/.test(name) ? saveString(name) : name;
}

function formatMatch(match: MatchModule, context: CodecContext): string {
  const options = formatOptions(match.options, match.known ? matchSpecs.get(match.name) : undefined, context);
  const name = nameArgument(match.name);
  return options ? `-m ${name} ${options}` : `-m ${name}`;
}

function formatTarget(target: Target, context: CodecContext): string {
  if (target.goto) return `-g ${target.name}`;
  const spec = target.kind === "extension" && target.known ? targetSpecs.get(target.name) : undefined;
  const options = formatOptions(target.options, spec, context);
  const name = nameArgument(target.name);
  return options ? `-j ${name} ${options}` : `-j ${name}`;
}

/** Options in the extension's save order, normalised as the kernel keeps them. */
export function canonicalOptions(options: ExtensionOption[], spec: ExtensionSpec | undefined, context: CodecContext): ExtensionOption[] {
  if (!spec) return options;
  const normalized = spec.normalize ? spec.normalize(options, context) : options;
  const order = (o: ExtensionOption) => {
    const index = spec.options.findIndex((s) => s.name === o.name);
    return index < 0 ? spec.options.length : index;
  };
  return [...normalized].sort((a, b) => order(a) - order(b));
}

function formatOptions(options: ExtensionOption[], spec: ExtensionSpec | undefined, context: CodecContext): string {
  const parts: string[] = [];
  for (const option of canonicalOptions(options, spec, context)) {
    const negation = option.negated ? "! " : "";
    if (option.value.kind === "raw") {
      const source = option.value.source;
      parts.push(`${negation}${option.written}${source ? " " + source : ""}`);
      continue;
    }
    const codec = spec && findOptionSpec(spec, option.name)?.codec;
    const args = codec ? codec.encode(option.value, context) : [];
    parts.push(`${negation}--${option.name}${args.map((a) => " " + a).join("")}`);
  }
  return parts.join(" ");
}
