// Builds the iptables model from the grammar's lines, applying restore semantics
// (declarations, -N/-X/-F/-I/-D/-P/-E) the way iptables-restore loads a table.

import {
  MAX_ARGS, MAX_LINE_BYTES, MAX_TOKEN_BYTES, parseLine,
  type CommandShape, type CoreOptionName, type CountersSyntax, type LineProblem, type LineSyntax, type RuleItemShape,
  type Words,
} from "../../grammar/index.js";
import { diagnostic, type Diagnostic, type DiagnosticPosition } from "../diagnostics.js";
import { parseAddressMask, type AddressProblem } from "./addresses.js";
import { IMPOSSIBLE_INTERFACE, interfaceProblem } from "./codecs.js";
import {
  extensionCatalog, MATCH_ALIASES, optionSpecNamed, matchSpecs, targetSpecs, VERDICT_NAMES, type ExtensionSpec, type OptionSpec,
} from "./extensions.js";
import type { Codec, CodecContext, Decoded } from "./codecs.js";
import {
  freezeDeep, frozenOptions, Interner, negatable, negatables, NO_MATCHES, NO_OPTIONS, type Negatables, type SharedValue,
} from "./intern.js";
import { parseProtocol } from "./protocols.js";
import { isPortProtocol } from "./services.js";
import { ReusableRules } from "./reuse.js";
import { endsLegacyWalk, legacyWalkedRules } from "./legacy-walk.js";
import {
  BUILTIN_CHAINS, TABLE_NAMES,
  type AddressMask, type Backend, type BuiltinChainName, type Chain, type Counters, type ExtensionOption, type Family, type MatchModule, type Negatable,
  type OptionValue, type Policy, type ProtocolSpec, type Rule, type Ruleset, type Table, type TableName, type Target,
} from "./types.js";

export interface ParseOptions {
  /** Skip bad lines (reported as warnings) instead of failing. */
  lenient?: boolean;
  /** Force the address family; by default it is read from the header or the addresses. */
  family?: Family;
  /**
   * The result of parsing an earlier snapshot of the same family (as `iptscope diff` compares two):
   * a rule line whose text after its `[p:b]` counters is that of a rule line there (counters of the same
   * printed length), in the same table, takes that rule's addresses, interfaces, protocol, matches and
   * target instead of being built again. The result is the same as without `reuse`, diagnostics
   * included; only objects are shared between the two results.
   */
  reuse?: ParseResult;
  /** Whose iptables-restore to follow where the two leave different rulesets (-F and -Z, say); default nft, as fmt's. */
  backend?: Backend;
}

export interface ParseResult {
  ruleset: Ruleset;
  diagnostics: Diagnostic[];
  /** Line numbers skipped in lenient mode. */
  skippedLines: number[];
}

/**
 * Of a parse that reused an earlier one, the rules it built itself (not taken from the earlier parse), some of them
 * perhaps not kept: what is new in it is among them.
 */
const builtRulesOf = new WeakMap<ParseResult, readonly Rule[]>();

export function rulesBuiltAfterReuse(result: ParseResult): readonly Rule[] | undefined {
  return builtRulesOf.get(result);
}

/** The negatables of a value the builder shares among rules (interfaces, protocols), made at its first use. */
function sharedNegatables<T>(cache: Map<T, Negatables<T>>, value: T): Negatables<T> {
  let shared = cache.get(value);
  if (shared === undefined) cache.set(value, (shared = negatables(value)));
  return shared;
}

/** libxt_DNAT, _MASQUERADE and _REDIRECT take ports only after -p tcp, udp, sctp, dccp or icmp (in ip6tables too; `!` is not looked at). */
const NAT_PORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 132, 33, 1]);

/** Target extensions that exist in iptables but are not modelled: kept verbatim, not errors. */
const UNMODELLED_TARGETS = new Set([
  "AUDIT", "CLUSTERIP", "CONNSECMARK", "DNPT", "ECN", "HMARK", "IDLETIMER", "LED", "NETMAP",
  "RATEEST", "SECMARK", "SET", "SNPT", "SYNPROXY", "TEE", "ULOG", "MIRROR", "SAME", "IPV4OPTSSTRIP",
]);

const MAX_CHAIN_NAME = 28;
const MAX_VERDICT_LENGTH = Math.max(...[...VERDICT_NAMES.keys()].map((name) => name.length));

interface TableState {
  table: Table;
  chains: Map<string, Chain>;
  /** A command other than -A/-I ran: a jump checked when its rule was read may be wrong by COMMIT. */
  chainsChanged: boolean;
  /** Chains in the order their `:` lines declared them, and where the rules have got to in it. */
  declared: Chain[];
  cursor: number;
  /** The user chains each chain's rules jump or go to, recorded as rules are placed (see checkHooks). */
  callers: Map<Chain, Chain | Chain[]>;
  /** Rules placed with an extension the kernel allows in some hooks only. */
  restricted: RestrictedUse[];
  /** Some rule placed ends iptables-legacy's walk of its chain: checkHooks then looks for what the walk skips. */
  legacyWalkEnds: boolean;
  /** Built-in chains a line made (iptables-nft creates them when first named), and whether any line made a chain. */
  madeBuiltins: Set<Chain>;
  madeAny: boolean;
  /** -X lines whose deletions the kernel judges at COMMIT (see holdDeletions). */
  heldDeletions: HeldDeletion[];
  /**
   * Built-in chains a -X without a chain took out of iptables-nft-restore's view while the kernel kept them, until a
   * line makes them again; and the rules iptables-nft no longer sees, until a -F of their chain (see deleteBuiltins).
   */
  keptBuiltins: Set<Chain>;
  unseen: Set<Rule>;
  /**
   * Rules an -I with a position put others before, and where that -I is: iptables-nft-restore's batch names them by
   * their id, which a -D of the rule changes (see brokenInserts).
   */
  insertedBefore: Map<Rule, DiagnosticPosition>;
  /** -I lines whose rule a later -D deleted, which the kernel refuses at COMMIT unless a -F took them out of the batch. */
  brokenInserts: BrokenInsert[];
}

/** An -I that put rules before a rule of `chain` that the -D on line `deletedOn` deleted. */
interface BrokenInsert {
  chain: string;
  at: DiagnosticPosition;
  deletedOn: number;
}

/**
 * A -X line that deleted user chains which still had rules or were jumped to, and for each chain the rules
 * that kept it busy, less those a later -F has taken out of iptables-nft-restore's batch since.
 */
interface HeldDeletion {
  at: DiagnosticPosition;
  busy: Map<Chain, Set<Rule>>;
}

/** A rule with an extension the kernel allows in some hooks only, and the chain it was placed in. */
interface RestrictedUse {
  chain: Chain;
  rule: Rule;
  extension: string;
  column: number;
  allowed: readonly BuiltinChainName[];
}

function toCounters(c: CountersSyntax | undefined): Counters | undefined {
  if (c === undefined) return undefined;
  return c.packets === 0n && c.bytes === 0n ? ZERO : { packets: c.packets.toString(), bytes: c.bytes.toString() };
}

const ZERO: Counters = Object.freeze({ packets: "0", bytes: "0" });
const FRAGMENT = Object.freeze({ negated: false });
const NOT_FRAGMENT = Object.freeze({ negated: true });

const CORE_OPTION_BITS: Record<CoreOptionName, number> = {
  source: 1, destination: 2, "in-interface": 4, "out-interface": 8, protocol: 16,
};

/** A match or target while its rule is being built: options still come in. Reused rule after rule. */
class ModuleDraft {
  name = "";
  column = 0;
  implicit = false;
  known = false;
  options: ExtensionOption[] = NO_OPTIONS;
  spec: ExtensionSpec | undefined = undefined;
  /** Set for the target, undefined for matches. */
  targetKind: Target["kind"] | undefined = undefined;
  goto = false;
  /** One of the options is a new object, so the module cannot equal an earlier one. */
  fresh = false;

  init(name: string, column: number, implicit: boolean, known: boolean, spec: ExtensionSpec | undefined, targetKind?: Target["kind"], goto = false): this {
    this.name = name;
    this.column = column;
    this.implicit = implicit;
    this.known = known;
    this.options = NO_OPTIONS;
    this.spec = spec;
    this.targetKind = targetKind;
    this.goto = goto;
    this.fresh = false;
    return this;
  }

  /** Arrays of one or two options are built exact-size, so that the module can keep them as they are. */
  add(option: ExtensionOption): void {
    const options = this.options;
    if (options === NO_OPTIONS) this.options = [option];
    else if (options.length === 1) this.options = [options[0]!, option];
    else options.push(option);
  }
}

type OptionItem = Extract<RuleItemShape, { kind: "option" }>;
type CoreItem = Extract<RuleItemShape, { kind: "core" }>;
type MatchItem = Extract<RuleItemShape, { kind: "match" }>;
type SetCountersItem = Extract<RuleItemShape, { kind: "set-counters" }>;

/** What the items of the rule being built have set so far. Reused rule after rule. */
class RuleDraft {
  counters: Counters | undefined = undefined;
  source: Negatable<AddressMask> | undefined = undefined;
  destination: Negatable<AddressMask> | undefined = undefined;
  /** Set when `-s`/`-d` lists several addresses: the rule expands into one per address. */
  sources: Negatables<AddressMask>[] | undefined = undefined;
  destinations: Negatables<AddressMask>[] | undefined = undefined;
  inInterface: Negatable<string> | undefined = undefined;
  outInterface: Negatable<string> | undefined = undefined;
  protocol: Negatable<ProtocolSpec> | undefined = undefined;
  fragment: { negated: boolean } | undefined = undefined;
  familyOnly: Family | undefined = undefined;
  target: ModuleDraft | undefined = undefined;
  /**
   * Explicit and implicit matches in rule order, the first `matchCount`; `explicitMatches` indexes the `-m`
   * ones as the grammar counts them. Counted rather than emptied: setting an array's length is a call into V8.
   */
  readonly matches: ModuleDraft[] = [];
  matchCount = 0;
  readonly explicitMatches: ModuleDraft[] = [];
  explicitCount = 0;
  /** CORE_OPTION_BITS of the core options seen. */
  seenCore = 0;
  ownFamily = true;

  reset(counters: Counters | undefined): this {
    this.counters = counters;
    this.source = undefined;
    this.destination = undefined;
    this.sources = undefined;
    this.destinations = undefined;
    this.inInterface = undefined;
    this.outInterface = undefined;
    this.protocol = undefined;
    this.fragment = undefined;
    this.familyOnly = undefined;
    this.target = undefined;
    this.matchCount = 0;
    this.explicitCount = 0;
    this.seenCore = 0;
    this.ownFamily = true;
    return this;
  }

  addMatch(module: ModuleDraft, explicit: boolean): void {
    if (explicit) this.explicitMatches[this.explicitCount++] = module;
    this.matches[this.matchCount++] = module;
  }

  explicitMatch(index: number): ModuleDraft | undefined {
    return index < this.explicitCount ? this.explicitMatches[index] : undefined;
  }
}

/**
 * What the lines of one shape share, by item: the spec a module name or an option word
 * names. Each entry holds the words it was found for and is used only for the same words.
 */
interface ShapeMemo {
  names: (string | undefined)[];
  specs: (ExtensionSpec | undefined)[];
  optionSpecs: (OptionSpec | undefined)[];
  /**
   * Set when a line of this shape, built without an error, passed checkProtocols and checkRequiredOptions
   * with a target of this kind. Those checks read only which modules, options and protocol a rule has,
   * which the shape fixes for a line built without an error, and whether its target is an extension.
   */
  checkedWithTarget: Target["kind"] | "none" | undefined;
}

/**
 * The decoded texts of one codec. A lookup in a large map costs more than decoding again
 * and building the option anew (kube-proxy's comments and DNAT destinations hardly repeat):
 * once the map is large and lookups miss often, the cache stops. Small maps of repeated
 * values (ports, states, modes) stay, and their rules share one object per value.
 */
class ValueCache {
  readonly entries = new Map<string, DecodeEntry>();
  private lookups = 0;
  private misses = 0;
  useless = false;

  get(key: string): DecodeEntry | undefined {
    const entry = this.entries.get(key);
    this.lookups++;
    if (entry === undefined) this.misses++;
    if ((this.lookups & 4095) === 0 && this.entries.size > 1024 && this.misses > 0.25 * this.lookups) {
      this.useless = true;
      this.entries.clear();
    }
    return entry;
  }
}

/** One decoded text; `value` is what rules hold (the kernel's value when it adjusts it). */
interface DecodeEntry extends SharedValue {
  readonly decoded: Decoded;
}

// A literal, not a class: V8 allocates literals that outlive many collections straight
// in the old generation, and these live as long as the parse.
function decodeEntry(decoded: Decoded): DecodeEntry {
  return { decoded, value: "adjusted" in decoded ? decoded.adjusted : (decoded as OptionValue), options: undefined };
}

/** Guesses the family from the header comment or the first address. */
function detectFamily(text: string): Family {
  const head = text.slice(0, 4096);
  if (/^# Generated by ip6tables/m.test(head)) return "ipv6";
  if (/^# Generated by (iptables|xtables)/m.test(head)) return "ipv4";
  const body = text.slice(0, 1 << 20);
  const address = /\s-[sd] (\S+)/.exec(body);
  if (address) return address[1]!.includes(":") ? "ipv6" : "ipv4";
  return IPV6_ONLY_SPELLINGS.test(body) ? "ipv6" : "ipv4";
}

/**
 * Without a header or an -s/-d address, what only ip6tables writes: ICMPv6, hop limits, bracketed NAT addresses,
 * an IPv6 address (two colons: `A:P` has one, and no option here takes a MAC address) in a conntrack, iprange or NAT option.
 */
const IPV6_ONLY_SPELLINGS =
  /\s(?:-p (?:ipv6-icmp|icmpv6)\s|-m (?:icmp6|hl)\s|-j HL\s|--reject-with icmp6-|--to-(?:destination|source) \[|--(?:ct(?:orig|repl)(?:src|dst)|src-range|dst-range|to-destination|to-source) (?:! )?[0-9A-Fa-f]*:[0-9A-Fa-f]*:)/;

export function parseRulesetText(input: string, options: ParseOptions = {}): ParseResult {
  const builder = new RulesetBuilder(options.family ?? detectFamily(input), options.lenient === true, options.reuse, options.backend ?? "nft");
  let text = input;
  if (text.charCodeAt(0) === 0xfeff) {
    builder.reportWorkedAround(diagnostic("byte-order-mark", { line: 1, column: 1 }, {}), "ignored");
    text = text.slice(1);
  }
  // Lines as fgets reads them; a CR before the LF is taken off the line and counted.
  const length = text.length;
  let number = 1;
  for (let start = 0; start < length; number++) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = length;
    const crlf = end > start && text.charCodeAt(end - 1) === 0x0d;
    builder.addLine(text.slice(start, crlf ? end - 1 : end), number, crlf);
    start = end + 1;
  }
  return builder.finish();
}

export class RulesetBuilder {
  private readonly ruleset: Ruleset;
  private readonly diagnostics: Diagnostic[] = [];
  private readonly skippedLines: number[] = [];
  /** Lines skipped after they were read (at COMMIT), merged into skippedLines at the end. */
  private readonly lateSkipped: number[] = [];
  /** Rules whose jump was not checked when they were read (-R replacements); `jumpsReported`: checked and found to have no chain. */
  private readonly jumpsUnchecked = new Set<Rule>();
  private readonly jumpsReported = new Set<Rule>();
  /** The chain that the target of the rule last built names, looked up once for checkJump. */
  private jumpChain: Chain | undefined;
  private current: TableState | undefined;
  private readonly tables = new Map<TableName, TableState>();
  private crlfLines = 0;
  private firstCrlfLine = 0;
  private sawContent = false;
  private skippingUnknownTable = false;
  private lineErrors = 0;
  private lineNumber = 0;
  private lastLine = 0;
  /** Decoded values per codec and text: the value, or what is wrong with it, shared by every rule that writes it. */
  private readonly valueCache = new Map<Codec, ValueCache>();
  private readonly interner = new Interner();
  private readonly memos = new WeakMap<CommandShape, ShapeMemo>();
  private readonly codecContext: CodecContext;
  private readonly oneArgument: string[] = [""];
  /** Chains whose rules moved (-I, -D, -R): appended rules are numbered as they come. */
  private readonly renumber = new Set<Chain>();
  /** The words of the command line being applied (the grammar refills them line after line). */
  private words!: Words;
  private readonly ruleDraft = new RuleDraft();
  private readonly drafts: ModuleDraft[] = [];
  private draftsUsed = 0;
  /** The chain of the previous rule, valid while no chain command ran. */
  private lastChain: Chain | undefined;
  private lastChains: Map<string, Chain> | undefined;
  private readonly addressCache = new Map<string, Negatables<AddressMask> | AddressProblem>();
  private readonly interfaces = new Map<string, Negatables<string>>();
  private readonly protocols = new Map<ProtocolSpec, Negatables<ProtocolSpec>>();

  /** Rules of an earlier parse that lines of the same text take instead of being built again. */
  private readonly reusable: ReusableRules | undefined;
  /** With `reusable`: the rules built here, not taken from it. */
  private readonly built: Rule[] | undefined;

  constructor(
    private readonly family: Family,
    private readonly lenient: boolean,
    reuse?: ParseResult,
    private readonly backend: Backend = "nft",
  ) {
    this.ruleset = { family, tables: [], comments: [], hasRuleCounters: false };
    this.codecContext = { family, protocol: undefined };
    this.reusable = reuse !== undefined && reuse.ruleset.family === family ? new ReusableRules(reuse) : undefined;
    this.built = this.reusable === undefined ? undefined : [];
  }

  report(d: Diagnostic): void {
    if (this.lenient && d.severity === "error" && d.line > 0) {
      this.diagnostics.push({ ...d, severity: "warning", message: `${d.message} (line skipped)` });
      this.lineErrors++;
      return;
    }
    if (d.severity === "error" && d.line > 0) this.lineErrors++;
    this.diagnostics.push(d);
  }

  /** A problem --lenient works around without skipping a line (a byte order mark, a missing COMMIT): a warning saying how. */
  reportWorkedAround(d: Diagnostic, how: string): void {
    this.diagnostics.push(this.lenient ? { ...d, severity: "warning", message: `${d.message} (${how})` } : d);
  }

  /**
   * A rule found wrong only when its table is committed (the chain it jumps to was deleted since):
   * with --lenient it leaves the model and the printing, and its own line, not the COMMIT's, is skipped.
   */
  private reportRule(d: Diagnostic, state: TableState, chain: Chain, rule: Rule): void {
    if (!this.lenient) return this.report(d);
    this.diagnostics.push({ ...d, severity: "warning", message: `${d.message} (line skipped)` });
    chain.rules = chain.rules.filter((r) => r.line !== rule.line);
    state.table.statements = state.table.statements.filter((s) => !(s.kind === "rule" && s.line === rule.line));
    this.renumber.add(chain);
    this.lateSkipped.push(rule.line);
  }

  addLine(text: string, number: number, crlf: boolean): void {
    this.lineNumber = number;
    this.lastLine = number;
    if (crlf) {
      if (this.crlfLines === 0) this.firstCrlfLine = number;
      this.crlfLines++;
    }
    const errorsBefore = this.lineErrors;
    const statements = this.current?.table.statements;
    const statementsBefore = statements?.length ?? 0;
    if (this.reusable === undefined || !this.reuseRule(this.reusable, text, number)) this.apply(parseLine(text, extensionCatalog), text, number);
    if (this.lineErrors > errorsBefore && this.lenient) {
      this.skippedLines.push(number);
      // A skipped command leaves no statement behind, or fmt would print it back.
      if (statements !== undefined && this.current?.table.statements === statements) statements.length = statementsBefore;
    }
  }

  private lineProblem(problem: LineProblem, number: number): void {
    const at = (column: number, length = 1) => ({ line: number, column: column + 1, length });
    switch (problem.kind) {
      case "nul-byte":
        return this.report(diagnostic("nul-byte", at(problem.column), {}));
      case "line-too-long":
        return this.report(diagnostic("line-too-long", at(MAX_LINE_BYTES), { bytes: problem.bytes, limit: MAX_LINE_BYTES }));
      case "token-too-long":
        return this.report(diagnostic("token-too-long", at(problem.column), { bytes: problem.bytes, limit: MAX_TOKEN_BYTES }));
      case "too-many-arguments":
        return this.report(diagnostic("too-many-arguments", at(problem.column), { count: problem.count, limit: MAX_ARGS }));
      case "unterminated-quote":
        return this.report(diagnostic("unterminated-quote", at(problem.column), {}));
      case "bad-counters":
        return this.report(diagnostic("bad-counters", at(problem.column, problem.text.length), { text: problem.text }));
      case "bad-table-line":
        return this.report(diagnostic("bad-table-line", at(problem.column), {}));
      case "bad-chain-line":
        return this.report(diagnostic("bad-chain-line", at(problem.column), { reason: problem.reason }));
      case "commit-trailing":
        return this.report(diagnostic("commit-trailing", at(problem.column), {}));
      case "indented-comment":
        return this.report(diagnostic("indented-comment", at(problem.column), {}));
      case "syntax":
        return this.report(
          diagnostic("syntax", at(problem.column, problem.length), { found: problem.found, expected: problem.expected }),
        );
      default: {
        const never: never = problem;
        throw new Error(`unhandled line problem ${JSON.stringify(never)}`);
      }
    }
  }

  private apply(syntax: LineSyntax, text: string, number: number): void {
    switch (syntax.kind) {
      case "blank":
        return;
      case "error":
        this.sawContent = true;
        return this.lineProblem(syntax.problem, number);
      case "comment":
        this.ruleset.comments.push({
          line: number, text, beforeTable: this.ruleset.tables.length - (this.current ? 1 : 0), insideTable: !!this.current,
        });
        this.current?.table.statements.push({ kind: "comment", line: number, text });
        return;
      case "table":
        this.sawContent = true;
        return this.openTable(syntax.name, number, syntax.column);
      case "commit":
        this.sawContent = true;
        if (this.skippingUnknownTable) {
          this.skippingUnknownTable = false;
          return;
        }
        if (!this.current) return this.report(diagnostic("outside-table", { line: number, column: 1 }, { what: "COMMIT" }));
        this.commit(number);
        return;
      case "chain":
        this.sawContent = true;
        if (this.skippingUnknownTable) return;
        if (!this.current) {
          return this.report(diagnostic("outside-table", { line: number, column: 1 }, { what: "chain declaration" }));
        }
        return this.declareChain(syntax.name, syntax.policy, syntax.policyColumn, toCounters(syntax.counters), number);
      case "command":
        this.sawContent = true;
        if (this.skippingUnknownTable) return;
        if (!this.current) {
          return this.report(diagnostic("outside-table", { line: number, column: 1 }, { what: "command" }));
        }
        this.words = syntax.words;
        return this.command(syntax.command, syntax.counters, text, number);
      default: {
        const never: never = syntax;
        throw new Error(`unhandled line ${JSON.stringify(never)}`);
      }
    }
  }

  private openTable(name: string, line: number, column: number): void {
    if (this.current) {
      this.reportWorkedAround(diagnostic("missing-commit", { line, column: 1 }, { table: this.current.table.name }), "kept as if committed");
      this.commit(undefined);
    }
    this.skippingUnknownTable = false;
    if (!(TABLE_NAMES as readonly string[]).includes(name)) {
      this.report(diagnostic("unknown-table", { line, column: column + 1, length: name.length }, { table: name }));
      this.skippingUnknownTable = true;
      return;
    }
    const tableName = name as TableName;
    const existing = this.tables.get(tableName);
    if (existing) {
      this.report(diagnostic("duplicate-table", { line, column: column + 1, length: name.length }, { table: name }));
      this.current = existing;
      return;
    }
    const chains = new Map<string, Chain>();
    const table: Table = { name: tableName, line, chains: [], statements: [] };
    for (const builtin of BUILTIN_CHAINS[tableName]) {
      const chain: Chain = { name: builtin, builtin: true, policy: "ACCEPT", counters: ZERO, line: 0, rules: [] };
      chains.set(builtin, chain);
    }
    this.current = {
      table, chains, chainsChanged: false, declared: [], cursor: 0, callers: new Map(), restricted: [], madeBuiltins: new Set(), madeAny: false,
      heldDeletions: [], keptBuiltins: new Set(), unseen: new Set(), insertedBefore: new Map(), brokenInserts: [], legacyWalkEnds: false,
    };
    this.tables.set(tableName, this.current);
    this.ruleset.tables.push(table);
  }

  /** `name` is in column 1 (0-based), after the colon. */
  private declareChain(name: string, policy: string, policyColumn: number, counters: Counters | undefined, line: number): void {
    const state = this.current!;
    if (name.length > MAX_CHAIN_NAME) {
      this.report(diagnostic("chain-name-too-long", chainNameAt(name, line), { chain: name, length: name.length }));
      return;
    }
    const existing = state.chains.get(name);
    if (existing && !existing.builtin) {
      this.report(diagnostic("duplicate-chain", chainNameAt(name, line), { chain: name }));
      return;
    }
    // Both backends take a built-in chain declared again: its last policy and counters stand, its rules stay.
    if (existing?.builtin && existing.line !== 0) this.report(diagnostic("duplicate-chain", chainNameAt(name, line), { chain: name }, "warning"));
    if (!existing && (name.startsWith("-") || name.startsWith("!"))) {
      this.report(diagnostic("backend-refuses", chainNameAt(name, line), { backend: "nft", reason: `a chain name that starts with '${name[0]}'` }));
    }
    if (existing?.builtin) {
      if (policy !== "ACCEPT" && policy !== "DROP" && policy !== "-") {
        this.report(diagnostic("bad-policy", { line, column: policyColumn + 1, length: policy.length }, { chain: name, policy }));
        return;
      }
      this.made(state, existing, policy === "-" ? chainNameAt(name, line) : undefined);
      // `-` keeps the policy; iptables-nft takes the counters all the same, iptables-legacy sets both or neither.
      const newCounters = counters ?? ZERO;
      if (policy === "-" && !sameCounters(existing.counters, newCounters)) {
        this.report(diagnostic("backend-differs", chainNameAt(name, line), {
          command: `:${name} -`, nft: "sets the chain's counters", legacy: "keeps them", applied: this.backend,
        }));
      }
      if (policy !== "-") existing.policy = policy;
      if (policy !== "-" || this.backend === "nft") existing.counters = newCounters;
      existing.line = line;
      state.declared.push(existing);
    } else {
      if (policy !== "-") {
        this.report(
          diagnostic("policy-on-user-chain", { line, column: policyColumn + 1, length: policy.length }, { chain: name, policy }, "warning"),
        );
      }
      const chain: Chain = { name, builtin: false, policy: "-", counters: ZERO, line, rules: [] };
      state.chains.set(name, chain);
      state.declared.push(chain);
    }
    state.madeAny = true;
    state.table.statements.push({ kind: "chain-declaration", chain: name, line });
  }

  private commit(line: number | undefined): void {
    const state = this.current!;
    if (line !== undefined) state.table.commitLine = line;
    this.judgeHeldDeletions(state);
    this.judgeBrokenInserts(state);
    state.table.chains = [...state.chains.values()];
    if (state.madeAny) delete state.table.nothingMade;
    else state.table.nothingMade = true;
    this.checkHooks(state);
    // Jumps were checked as their rules were read; only a chain command since can make one wrong.
    if (state.chainsChanged) this.resolveTargets(state);
    this.current = undefined;
  }

  /**
   * iptables resolves a jump when it reads the rule (legacy at that line, nft at COMMIT): the chain must be
   * declared above it. A target extension iptscope does not model is kept verbatim instead.
   */
  private checkJump(state: TableState, rules: readonly Rule[], line: number): void {
    const target = rules[0]!.target;
    if (!target || target.kind !== "chain") return;
    const chain = this.jumpChain;
    if (chain && !chain.builtin) {
      if (target.options.length > 0) this.report(diagnostic("options-on-chain-target", { line, column: target.column }, { target: target.name }));
      return;
    }
    if (UNMODELLED_TARGETS.has(target.name)) {
      for (const rule of rules) rule.target = { ...target, kind: "extension", known: false };
      this.report(diagnostic("unknown-target", { line, column: target.column, length: target.name.length }, { target: target.name }));
      return;
    }
    this.report(diagnostic("jump-to-undeclared-chain", { line, column: target.column, length: target.name.length }, { chain: target.name }));
    for (const rule of rules) this.jumpsReported.add(rule);
  }

  private resolveTargets(state: TableState): void {
    for (const chain of state.chains.values()) {
      for (const rule of chain.rules) {
        const target = rule.target;
        if (!target || target.kind !== "chain") continue;
        if (state.chains.has(target.name) && !(state.chains.get(target.name)!.builtin)) {
          if (target.options.length > 0 && this.jumpsUnchecked.has(rule)) {
            this.reportRule(diagnostic("options-on-chain-target", { line: rule.line, column: target.column }, { target: target.name }), state, chain, rule);
          }
          continue;
        }
        if (this.jumpsReported.size > 0 && this.jumpsReported.has(rule)) continue;
        if (UNMODELLED_TARGETS.has(target.name)) {
          rule.target = { ...target, kind: "extension", known: false };
          this.report(diagnostic("unknown-target", { line: rule.line, column: target.column, length: target.name.length }, { target: target.name }));
          continue;
        }
        this.reportRule(
          diagnostic("jump-to-undeclared-chain", { line: rule.line, column: target.column, length: target.name.length }, { chain: target.name }),
          state, chain, rule,
        );
      }
    }
  }

  private command(command: CommandShape, counters: CountersSyntax | undefined, text: string, line: number): void {
    const state = this.current!;
    const words = this.words;
    const chainWord = command.operands[0];
    if (command.kind === "append" || command.kind === "insert") return this.addRules(state, command, chainWord, counters, text, line);
    state.chainsChanged = true;
    const chainName = chainWord === undefined ? undefined : words.values[chainWord]!;
    const chainAt = chainWord === undefined ? { line, column: 1 } : this.named(chainWord, line);
    const statements = state.table.statements;
    const getChain = (): Chain | undefined => {
      const chain = this.chainNamed(state, chainWord, line);
      // Chain commands change what names mean.
      this.lastChain = undefined;
      return chain;
    };
    this.lastChain = undefined;
    switch (command.kind) {
      case "delete":
      case "replace": {
        const chain = getChain();
        statements.push({ kind: "command", command: { kind: "delete", line, text } });
        if (!chain) return;
        const positionWord = command.operands[1];
        // iptables-nft counts and matches only the rules it sees (see deleteBuiltins).
        const seen = this.seenRules(state, chain);
        let index: number;
        let seenRule: Rule | undefined;
        if (positionWord !== undefined) {
          index = Number(words.values[positionWord]) - 1;
          seenRule = seen[index];
        } else {
          const spec = this.buildRules(command, counters, text, line, state.table.name, chain.name)[0];
          const key = spec ? ruleKey(spec) : "";
          index = chain.rules.findIndex((r) => ruleKey(r) === key);
          if (seen !== chain.rules) seenRule = seen.find((r) => ruleKey(r) === key);
        }
        // A position that is not a number is no rule either (iptables: "Invalid rule number").
        if (!Number.isInteger(index) || index < 0 || index >= chain.rules.length) {
          this.report(diagnostic("rule-not-found", chainAt, { chain: chain.name, position: Number.isInteger(index) ? index + 1 : 0 }));
          return;
        }
        // -R: iptables-nft refuses it anyway (below).
        if (seen !== chain.rules && command.kind === "delete") {
          index = this.indexSeenByNft(index, seenRule === undefined ? -1 : chain.rules.indexOf(seenRule), chainAt, {
            refused: `-D of a rule of '${chain.name}' it no longer sees after -X without a chain`,
            command: `-D in '${chain.name}' after -X without a chain`, nft: "finds the rule among those added since", legacy: "among all",
          });
        }
        if (command.kind === "delete") {
          if (state.insertedBefore.size > 0) this.breakInserts(state, chain, chain.rules[index]!, line);
          unnumber(chain.rules.splice(index, 1));
        } else {
          const replacement = this.buildRules(command, counters, text, line, state.table.name, chain.name)[0];
          // iptables-nft-restore 1.8.9 dies (SIGSEGV) replacing a rule of the batch it is building, which all are.
          this.report(diagnostic("backend-refuses", chainAt, { backend: "nft", reason: "-R of a rule this input added: iptables-nft-restore crashes" }));
          if (replacement) {
            this.built?.push(replacement);
            if (replacement.counters) this.ruleset.hasRuleCounters = true;
            unnumber(chain.rules.splice(index, 1, replacement));
            this.jumpsUnchecked.add(replacement);
          }
        }
        this.renumber.add(chain);
        return;
      }
      case "new-chain": {
        statements.push({ kind: "command", command: { kind: "new-chain", line, text } });
        if (chainName === undefined) return;
        if (chainName.length > MAX_CHAIN_NAME) {
          this.report(diagnostic("chain-name-too-long", chainAt, { chain: chainName, length: chainName.length }));
          return;
        }
        const invalid = chainNameProblem(chainName);
        if (invalid !== undefined) {
          this.report(diagnostic("bad-value", chainAt, { option: "-N", value: chainName, expected: invalid }));
          return;
        }
        if (state.chains.has(chainName)) {
          this.report(diagnostic("duplicate-chain", chainAt, { chain: chainName }));
          return;
        }
        state.chains.set(chainName, { name: chainName, builtin: false, policy: "-", counters: ZERO, line, rules: [] });
        state.madeAny = true;
        return;
      }
      case "delete-chain": {
        statements.push({ kind: "command", command: { kind: "delete-chain", line, text } });
        const targets = chainName === undefined ? [...state.chains.values()].filter((c) => !c.builtin) : [getChain()];
        const deletable: Chain[] = [];
        for (const chain of targets) {
          if (!chain) continue;
          if (chain.builtin && state.madeBuiltins.has(chain) && chain.rules.length === 0) {
            // iptables-nft deletes a built-in chain it has made, when it holds no rules.
            this.report(diagnostic("backend-refuses", chainAt, { backend: "legacy", reason: `-X of built-in chain '${chain.name}'` }));
            deletable.push(chain);
          } else if (chain.builtin) {
            this.report(diagnostic("builtin-chain-operation", chainAt, { chain: chain.name, operation: "delete" }));
          } else deletable.push(chain);
        }
        if (deletable.length < targets.length) return;
        if (!this.holdDeletions(state, deletable, chainAt)) return;
        for (const chain of deletable) {
          if (chain.builtin) {
            this.unmake(state, chain);
            continue;
          }
          state.chains.delete(chain.name);
          unnumber(chain.rules);
        }
        if (chainName === undefined) this.deleteBuiltins(state, line);
        return;
      }
      case "flush": {
        statements.push({ kind: "command", command: { kind: "flush", line, text } });
        let targets: Chain[];
        if (chainName !== undefined) {
          const chain = getChain();
          if (chain) {
            this.made(state, chain, chainAt);
            this.releaseHeldDeletions(state, chain.name);
            this.releaseBrokenInserts(state, chain);
            if (state.unseen.size > 0) for (const rule of chain.rules) state.unseen.delete(rule);
          }
          targets = chain ? [chain] : [];
        } else {
          targets = [...state.chains.values()];
          // iptables-nft-restore flushes nothing of the table it is restoring when -F names no chain.
          if (targets.some((c) => c.rules.length > 0)) {
            this.report(diagnostic("backend-differs", { line, column: 1, length: 2 }, {
              command: "-F without a chain", nft: "flushes nothing of the table it restores", legacy: "flushes every chain", applied: this.backend,
            }));
          }
          if (this.backend === "nft") targets = [];
        }
        for (const chain of targets) {
          unnumber(chain.rules);
          chain.rules = [];
        }
        return;
      }
      case "zero": {
        statements.push({ kind: "command", command: { kind: "zero", line, text } });
        return this.zero(state, chainName === undefined ? undefined : getChain(), chainName === undefined, chainAt, line);
      }
      case "policy": {
        statements.push({ kind: "command", command: { kind: "policy", line, text } });
        const chain = getChain();
        const policyWord = command.operands[1]!;
        const policy = words.values[policyWord]!;
        if (!chain) return;
        if (!chain.builtin) {
          this.report(diagnostic("builtin-chain-operation", chainAt, { chain: chain.name, operation: "set the policy of non-" }));
          return;
        }
        if (policy !== "ACCEPT" && policy !== "DROP") {
          this.report(diagnostic("bad-policy", this.named(policyWord, line), { chain: chain.name, policy }));
          return;
        }
        // A `:` line may give a nat chain a DROP policy, -P may not (both backends).
        if (policy === "DROP" && state.table.name === "nat") {
          this.report(diagnostic("nat-filtering", this.named(policyWord, line), {}));
          return;
        }
        this.made(state, chain);
        chain.policy = policy;
        // iptables -P resets the policy counters.
        chain.counters = ZERO;
        return;
      }
      case "rename-chain": {
        statements.push({ kind: "command", command: { kind: "rename-chain", line, text } });
        const chain = getChain();
        const newName = words.values[command.operands[1]!]!;
        if (!chain) return;
        if (chain.builtin) {
          this.report(diagnostic("builtin-chain-operation", chainAt, { chain: chain.name, operation: "rename" }));
          return;
        }
        const invalid = chainNameProblem(newName);
        if (invalid !== undefined) {
          this.report(diagnostic("bad-value", this.at(command.operands[1]!, line), { option: "-E", value: newName, expected: invalid }));
          return;
        }
        if (state.chains.has(newName)) {
          this.report(diagnostic("duplicate-chain", { line, column: words.starts[command.operands[1]!]! + 1 }, { chain: newName }));
          return;
        }
        this.report(diagnostic("backend-refuses", chainAt, { backend: "nft", reason: "-E of a chain this input declares" }));
        const renamed = new Map<string, Chain>();
        for (const [name, c] of state.chains) {
          if (name === chain.name) {
            c.name = newName;
            for (const rule of c.rules) rule.chain = newName;
            renamed.set(newName, c);
          } else renamed.set(name, c);
          for (const rule of c.rules) {
            const t = rule.target;
            if (t !== undefined && t.name === chainName && t.kind === "chain") rule.target = { ...t, name: newName };
          }
        }
        state.chains = renamed;
        return;
      }
      default: {
        const never: never = command.kind;
        throw new Error(`unhandled command ${String(never)}`);
      }
    }
  }

  /**
   * iptables-nft-restore takes a user chain out of its view at -X whatever it holds, and sends the deletion in its
   * batch; the kernel refuses it at COMMIT if the chain then still has rules or rules jump to it. A later -F of a
   * chain takes all of that chain's rules so far out of the batch (releaseHeldDeletions), so such a -X may pass.
   * iptables-legacy-restore refuses the -X at its line. The model follows iptables-nft, and judges at COMMIT;
   * --lenient, which cannot take back what later lines did without the chains, judges at the line as legacy does
   * and skips it whole (false: nothing to delete).
   */
  private holdDeletions(state: TableState, chains: readonly Chain[], at: DiagnosticPosition): boolean {
    const busy = new Map<Chain, Set<Rule>>();
    for (const chain of chains) if (chain.rules.length > 0) busy.set(chain, new Set(chain.rules));
    const byName = new Map(chains.map((c) => [c.name, c]));
    for (const c of state.chains.values()) {
      for (const rule of c.rules) {
        const callee = rule.target?.kind === "chain" ? byName.get(rule.target.name) : undefined;
        if (callee === undefined) continue;
        const rules = busy.get(callee);
        if (rules === undefined) busy.set(callee, new Set([rule]));
        else rules.add(rule);
      }
    }
    if (busy.size === 0) return true;
    if (!this.lenient) {
      state.heldDeletions.push({ at, busy });
      return true;
    }
    for (const [chain, rules] of busy) this.report(busyChain(chain, rules, at));
    return false;
  }

  /** -F of `chainName`: iptables-nft-restore drops every rule command of that name from its batch (batch_chain_flush). */
  private releaseHeldDeletions(state: TableState, chainName: string): void {
    for (const held of state.heldDeletions) {
      for (const rules of held.busy.values()) for (const rule of rules) if (rule.chain === chainName) rules.delete(rule);
    }
  }

  /** The kernel's verdict on held -X lines; the jumps to a chain it keeps are not reported again. */
  private judgeHeldDeletions(state: TableState): void {
    for (const { at, busy } of state.heldDeletions) {
      const refused = [...busy].filter(([, rules]) => rules.size > 0);
      // Built-in chains: only iptables-nft deletes them (see deleteBuiltins).
      if ([...busy.keys()].some((c) => c.builtin)) {
        for (const [chain] of refused) {
          const reason = `-X without a chain of built-in chain '${chain.name}', whose rules it no longer sees`;
          this.report(diagnostic("backend-refuses", at, { backend: "nft", reason }));
        }
        continue;
      }
      if (refused.length === 0) {
        const names = [...busy.keys()].map((c) => `'${c.name}'`).join(", ");
        const reason = `-X of ${busy.size > 1 ? "chains" : "chain"} ${names} that rules still hold, until a later -F takes them out of iptables-nft's batch`;
        this.report(diagnostic("backend-refuses", at, { backend: "legacy", reason }));
        continue;
      }
      for (const [chain, rules] of refused) {
        for (const rule of rules) if (rule.chain !== chain.name) this.jumpsReported.add(rule);
        this.report(busyChain(chain, rules, at));
      }
    }
    state.heldDeletions = [];
  }

  /**
   * -D of `rule`, which an -I put rules before: iptables-nft-restore's -I names that rule in its batch by the id it
   * gave it, the -D gives it a new one (to delete it by), and at COMMIT the kernel finds no rule of the old id for the
   * -I (ENOENT). Only a later -F of the chain, which takes both out of the batch, saves it (releaseBrokenInserts).
   */
  private breakInserts(state: TableState, chain: Chain, rule: Rule, line: number): void {
    const at = state.insertedBefore.get(rule);
    if (at === undefined) return;
    state.insertedBefore.delete(rule);
    state.brokenInserts.push({ chain: chain.name, at, deletedOn: line });
  }

  /** -F of `chain`: its -I and -D lines are out of iptables-nft-restore's batch (see releaseHeldDeletions). */
  private releaseBrokenInserts(state: TableState, chain: Chain): void {
    if (state.insertedBefore.size > 0) for (const rule of chain.rules) state.insertedBefore.delete(rule);
    if (state.brokenInserts.length > 0) state.brokenInserts = state.brokenInserts.filter((b) => b.chain !== chain.name);
  }

  private judgeBrokenInserts(state: TableState): void {
    for (const { chain, at, deletedOn } of state.brokenInserts) {
      const reason = `-I before a rule of '${chain}' that the -D on line ${deletedOn} deletes`;
      this.report(diagnostic("backend-refuses", at, { backend: "nft", reason }));
    }
    state.brokenInserts = [];
    state.insertedBefore.clear();
  }

  /**
   * A line made or changed `chain`: iptables-nft now has it (and its table) in the kernel. `at`: where to report
   * a difference between the backends a built-in chain made again makes, unless the line sets the policy itself.
   */
  private made(state: TableState, chain: Chain, at?: DiagnosticPosition): void {
    state.madeAny = true;
    if (!chain.builtin) return;
    state.madeBuiltins.add(chain);
    if (state.keptBuiltins.size > 0 && state.keptBuiltins.delete(chain)) this.remakeKept(chain, at);
  }

  /**
   * iptables-nft-restore makes a built-in chain that -X took out of its view anew: it sends the chain with policy
   * ACCEPT and no counters, so the kernel's chain, which kept its rules, gets policy ACCEPT and keeps its counters.
   */
  private remakeKept(chain: Chain, at: DiagnosticPosition | undefined): void {
    if (chain.policy === "ACCEPT") return;
    if (at !== undefined) {
      this.report(diagnostic("backend-differs", at, {
        command: `'${chain.name}' named again after -X without a chain`, nft: "sets its policy to ACCEPT", legacy: "keeps its policy",
        applied: this.backend,
      }));
    }
    if (this.backend === "nft") chain.policy = "ACCEPT";
  }

  /**
   * -Z. iptables-legacy-restore zeroes only what the kernel held before, so nothing of what it restores.
   * iptables-nft-restore zeroes the chains it has made so far (a built-in chain nothing made yet is no chain to
   * it), which sets a built-in chain's policy back to ACCEPT; iptables-nft cannot zero a rule given counters.
   */
  private zero(state: TableState, named: Chain | undefined, all: boolean, chainAt: DiagnosticPosition, line: number): void {
    if (!all && named === undefined) return;
    const exists = (c: Chain) => !c.builtin || (state.madeBuiltins.has(c) && !state.keptBuiltins.has(c));
    if (named !== undefined && !exists(named)) {
      const reason = `-Z of built-in chain '${named.name}', which no line above makes`;
      this.report(diagnostic("backend-refuses", chainAt, { backend: "nft", reason }));
    }
    const zeroed = all ? [...state.chains.values()].filter(exists) : named !== undefined && exists(named) ? [named] : [];
    // It zeroes the rules it sees (see deleteBuiltins).
    const counted = zeroed.find((c) => this.seenRules(state, c).some((r) => r.counters !== undefined && !sameCounters(r.counters, ZERO)));
    // iptables-nft fails to replace such rules; ip6tables-nft loaded them without counters (see printCanonicalTable).
    if (counted !== undefined && this.family === "ipv4") {
      const reason = `-Z of chain '${counted.name}', whose rules were given counters`;
      this.report(diagnostic("backend-refuses", all ? { line, column: 1, length: 2 } : chainAt, { backend: "nft", reason }));
    }
    const changed = zeroed.filter((c) => c.builtin && (c.policy !== "ACCEPT" || !sameCounters(c.counters, ZERO)));
    if (changed.length > 0) {
      this.report(diagnostic("backend-differs", all ? { line, column: 1, length: 2 } : chainAt, {
        command: `-Z of ${changed.map((c) => c.name).join(", ")}`,
        nft: "sets the policy to ACCEPT and the counters to 0", legacy: "leaves both as this input sets them", applied: this.backend,
      }));
    }
    if (this.backend === "legacy") return;
    for (const chain of changed) {
      chain.policy = "ACCEPT";
      chain.counters = ZERO;
    }
    for (const chain of zeroed) for (const rule of this.seenRules(state, chain)) if (rule.counters !== undefined) rule.counters = ZERO;
  }

  /**
   * iptables-nft-restore's -X without a chain name deletes the built-in chains it has made and sees no rules in
   * too: they are no chains to it until a line makes them again, and save prints them with policy ACCEPT and no
   * counters. A built-in chain it sees rules in it does not delete, but takes out of its view all the same: the
   * kernel keeps the chain (policy, counters, rules), a line naming it makes it again (remakeKept), and the rules
   * are no rules to iptables-nft's -D, -I, -R and -Z, until a -F of the chain. A chain all of whose rules are such
   * rules it does delete, and the kernel refuses that at COMMIT unless a later -F took them out of the batch.
   */
  private deleteBuiltins(state: TableState, line: number): void {
    const at = { line, column: 1, length: 2 };
    const empty: Chain[] = [];
    const kept: Chain[] = [];
    for (const chain of state.madeBuiltins) {
      // iptables-legacy's model keeps them made (see below).
      if (state.keptBuiltins.has(chain)) continue;
      if (this.seenRules(state, chain).length > 0) kept.push(chain);
      else empty.push(chain);
    }
    const changed = empty.filter((c) => c.policy !== "ACCEPT" || !sameCounters(c.counters, ZERO));
    if (changed.length > 0) {
      this.report(diagnostic("backend-differs", at, {
        command: `-X without a chain, on ${changed.map((c) => c.name).join(", ")}`,
        nft: "deletes the built-in chains without rules (ACCEPT, no counters)", legacy: "keeps them", applied: this.backend,
      }));
    }
    for (const chain of kept) {
      state.keptBuiltins.add(chain);
      for (const rule of chain.rules) state.unseen.add(rule);
    }
    const busy = new Map<Chain, Set<Rule>>();
    for (const chain of empty) if (chain.rules.length > 0) busy.set(chain, new Set(chain.rules));
    if (busy.size > 0) state.heldDeletions.push({ at, busy });
    if (this.backend === "legacy") return;
    for (const chain of kept) state.madeBuiltins.delete(chain);
    for (const chain of empty) this.unmake(state, chain);
  }

  /**
   * Where a -D or -I applies in a chain holding rules iptables-nft no longer sees (see deleteBuiltins): at `index`
   * for iptables-legacy, at `seenIndex` for iptables-nft (-1: nowhere, it refuses the line); the chosen backend's.
   */
  private indexSeenByNft(
    index: number, seenIndex: number, at: DiagnosticPosition, says: { refused: string; command: string; nft: string; legacy: string },
  ): number {
    if (seenIndex < 0) {
      this.report(diagnostic("backend-refuses", at, { backend: "nft", reason: says.refused }));
      return index;
    }
    if (seenIndex === index) return index;
    this.report(diagnostic("backend-differs", at, { command: says.command, nft: says.nft, legacy: says.legacy, applied: this.backend }));
    return this.backend === "nft" ? seenIndex : index;
  }

  /** The rules of `chain` iptables-nft-restore sees (see deleteBuiltins). */
  private seenRules(state: TableState, chain: Chain): Rule[] {
    return state.unseen.size === 0 ? chain.rules : chain.rules.filter((r) => !state.unseen.has(r));
  }

  /** iptables-nft deleted a built-in chain: save prints it with policy ACCEPT and no counters, and it is no chain to -Z. */
  private unmake(state: TableState, chain: Chain): void {
    state.madeBuiltins.delete(chain);
    chain.policy = "ACCEPT";
    chain.counters = ZERO;
  }

  private addRules(
    state: TableState, command: CommandShape, chainWord: number | undefined, counters: CountersSyntax | undefined, text: string, line: number,
  ): void {
    const chain = this.chainNamed(state, chainWord, line);
    if (!chain) return;
    const errorsBefore = this.lineErrors;
    const rules = this.buildRules(command, counters, text, line, state.table.name, chain.name);
    if (this.built !== undefined) for (let i = 0; i < rules.length; i++) this.built.push(rules[i]!);
    this.placeRules(state, chain, command, rules, line, errorsBefore);
  }

  /** Checks the jump of rules just built for one line and puts them in their chain; `command` undefined: appended. */
  private placeRules(state: TableState, chain: Chain, command: CommandShape | undefined, rules: Rule[], line: number, errorsBefore: number): void {
    const statements = state.table.statements;
    if (rules.length > 0) this.checkJump(state, rules, line);
    if (this.lenient && this.lineErrors > errorsBefore) return;
    if (rules.length === 0) return;
    if (rules[0]!.counters) this.ruleset.hasRuleCounters = true;
    this.made(state, chain, chain.builtin ? { line, column: 1 } : undefined);
    if (command === undefined || command.kind === "append") {
      for (let i = 0; i < rules.length; i++) append(chain, rules[i]!);
    } else {
      const positionWord = command.operands[1];
      const position = positionWord === undefined ? 1 : Number(this.words.values[positionWord]);
      if (position < 1 || position > chain.rules.length + 1) {
        this.report(diagnostic("rule-not-found", { line, column: this.words.starts[positionWord!]! + 1 }, { chain: chain.name, position }));
        return;
      }
      let index = position - 1;
      const seen = this.seenRules(state, chain);
      if (seen !== chain.rules && position > 1) {
        // iptables-nft inserts before the rule at that position among those it sees, one past them at the end of the
        // chain, and at 1 at the head of the kernel's chain.
        const seenIndex = position <= seen.length ? chain.rules.indexOf(seen[position - 1]!) : position === seen.length + 1 ? chain.rules.length : -1;
        index = this.indexSeenByNft(index, seenIndex, { line, column: this.words.starts[positionWord!]! + 1 }, {
          refused: `-I at ${position} in '${chain.name}', which holds rules it no longer sees after -X without a chain`,
          command: `-I in '${chain.name}' after -X without a chain`, nft: "counts the rules added since", legacy: "counts all",
        });
      }
      // iptables-nft inserts before the rule it sees at that position; at 1 it names no rule, one past the end it appends.
      if (position > 1 && position <= seen.length && !state.insertedBefore.has(seen[position - 1]!)) {
        state.insertedBefore.set(seen[position - 1]!, { line, column: this.words.starts[positionWord!]! + 1 });
      }
      chain.rules.splice(index, 0, ...rules);
      this.renumber.add(chain);
    }
    statements.push(rules[0]!);
    this.noteHookUses(state, chain, rules);
  }

  /** What checkHooks needs of rules just placed: the chain they jump to, and extensions allowed in some hooks only. */
  private noteHookUses(state: TableState, chain: Chain, rules: readonly Rule[]): void {
    const callee = this.jumpChain;
    if (callee !== undefined && !callee.builtin && rules[0]!.target?.kind === "chain") addCaller(state.callers, callee, chain);
    for (const rule of rules) {
      restrictedUses(rule, chain, state.restricted);
      if (!state.legacyWalkEnds && endsLegacyWalk(rule, this.family)) state.legacyWalkEnds = true;
    }
  }

  /** The chain a command names, reported when undeclared. */
  private chainNamed(state: TableState, word: number | undefined, line: number): Chain | undefined {
    if (word === undefined) return undefined;
    const name = this.words.values[word]!;
    const chain = this.chainCalled(state, name);
    if (!chain) {
      this.report(diagnostic("undeclared-chain", { line, column: this.words.starts[word]! + 1, length: name.length }, { chain: name }));
      return undefined;
    }
    return chain;
  }

  /** Consecutive rules mostly name the same chain. */
  private chainCalled(state: TableState, name: string): Chain | undefined {
    const last = this.lastChain;
    if (last !== undefined && last.name === name && this.lastChains === state.chains) return last;
    const chain = this.nextDeclared(state, name) ?? state.chains.get(name);
    if (chain) {
      this.lastChain = chain;
      this.lastChains = state.chains;
    }
    return chain;
  }

  /**
   * Appends, for a line of the same text as a rule of the earlier parse, a rule with that rule's parts, as
   * building it would. False, having done nothing, when the outcome may differ: then the line is parsed.
   */
  private reuseRule(reusable: ReusableRules, text: string, line: number): boolean {
    const state = this.current;
    if (state === undefined || this.skippingUnknownTable) return false;
    const first = text.charCodeAt(0);
    if (first !== 0x2d /* - */ && first !== 0x5b /* [ */) return false;
    const earlier = reusable.find(state.table.name, text);
    if (earlier === undefined) return false;
    const chain = this.chainCalled(state, earlier.chain);
    if (chain === undefined) return false;
    const target = earlier.target === undefined ? undefined : this.sameTarget(state, earlier.target);
    if (target === null) return false;
    this.sawContent = true;
    const rule: Rule = {
      kind: "rule", table: state.table.name, chain: chain.name, position: 0, line, text, counters: toCounters(reusable.counters),
      command: "append",
      source: earlier.source, destination: earlier.destination, inInterface: earlier.inInterface, outInterface: earlier.outInterface,
      protocol: earlier.protocol, fragment: earlier.fragment,
      matches: earlier.matches,
      target,
      familyOnly: earlier.familyOnly,
    };
    this.placeRules(state, chain, undefined, [rule], line, this.lineErrors);
    return true;
  }

  /**
   * An earlier rule's target if its name means the same here (targetDraft's choice between a user chain and
   * a target extension depends on the chains declared so far), else null. Sets jumpChain as targetDraft does.
   */
  private sameTarget(state: TableState, target: Target): Target | null {
    this.jumpChain = undefined;
    switch (target.kind) {
      case "verdict":
        return target;
      case "chain": {
        const chain = (this.jumpChain = state.chains.get(target.name));
        if (chain !== undefined && !chain.builtin) return target;
        return !target.goto && targetSpecs.has(target.name) ? null : target;
      }
      case "extension": {
        const chain = (this.jumpChain = state.chains.get(target.name));
        return chain !== undefined && !chain.builtin ? null : target;
      }
      default: {
        const never: never = target.kind;
        throw new Error(`unhandled target kind ${String(never)}`);
      }
    }
  }

  /**
   * iptables-save prints rules chain by chain in the order it declares the chains: the
   * chain of a rule is mostly one of the next few declared, found without hashing its name.
   */
  private nextDeclared(state: TableState, name: string): Chain | undefined {
    if (state.chainsChanged) return undefined;
    const declared = state.declared;
    const end = Math.min(declared.length, state.cursor + 4);
    for (let i = state.cursor; i < end; i++) {
      if (declared[i]!.name === name) {
        state.cursor = i;
        return declared[i];
      }
    }
    return undefined;
  }

  /** One command may expand into several rules (`-s a,b`), as iptables does. */
  private buildRules(
    command: CommandShape, counters: CountersSyntax | undefined, text: string, line: number, table: TableName, chain: string,
  ): Rule[] {
    const items = command.items;
    let memo = this.memos.get(command);
    if (memo === undefined) {
      memo = { names: [], specs: [], optionSpecs: [], checkedWithTarget: undefined };
      this.memos.set(command, memo);
    }
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.kind === "family" && (item.family === 4 ? "ipv4" : "ipv6") !== this.family) {
        this.report(diagnostic("other-family-rule", { line, column: this.words.starts[item.optionToken]! + 1 }, { family: item.family === 4 ? "ipv4" : "ipv6" }));
        return [];
      }
    }
    const errorsBefore = this.lineErrors;
    const draft = this.ruleDraft.reset(toCounters(counters));
    this.draftsUsed = 0;
    this.jumpChain = undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      switch (item.kind) {
        case "core":
          this.coreItem(draft, item, line);
          break;
        case "fragment":
          // ip6tables has no -f ("use -m frag instead").
          if (this.family === "ipv6") this.report(diagnostic("extension-not-in-family", this.at(item.optionToken, line), { extension: "-f", family: "ipv6" }));
          draft.fragment = item.negation >= 0 ? NOT_FRAGMENT : FRAGMENT;
          break;
        case "match":
          this.matchItem(draft, item, i, memo, line);
          break;
        case "jump":
        case "goto":
          if (draft.target) {
            this.report(diagnostic("duplicate-option", this.at(item.optionToken, line), { option: this.words.values[item.optionToken]! }));
            break;
          }
          draft.target = this.targetDraft(item.target, item.kind === "goto");
          this.checkFamily(draft.target.spec, item.target, line);
          break;
        case "option":
          this.optionItem(draft, item, i, memo, line, text);
          break;
        case "set-counters":
          this.setCountersItem(draft, item, line);
          break;
        case "family": {
          const wanted: Family = item.family === 4 ? "ipv4" : "ipv6";
          if (wanted !== this.family) draft.ownFamily = false;
          draft.familyOnly = wanted;
          break;
        }
        case "ignored":
          break;
        default: {
          const never: never = item;
          throw new Error(`unhandled rule item ${JSON.stringify(never)}`);
        }
      }
    }
    const target = draft.target;
    const rule: Rule = {
      kind: "rule", table, chain, position: 0, line, text, counters: draft.counters,
      command: command.kind === "insert" ? "insert" : "append",
      source: draft.source, destination: draft.destination, inInterface: draft.inInterface, outInterface: draft.outInterface,
      protocol: draft.protocol, fragment: draft.fragment,
      matches: this.sealMatches(draft),
      target: target && this.sealTarget(target),
      familyOnly: draft.familyOnly,
    };
    const targetKind = target?.targetKind ?? "none";
    if (this.lineErrors !== errorsBefore || memo.checkedWithTarget !== targetKind) {
      const reported = this.diagnostics.length;
      this.checkProtocols(rule, draft.matches, line);
      // Only on a line without an error yet: a missing option is then not the echo of one refused.
      if (this.lineErrors === errorsBefore) {
        this.checkRequiredOptions(rule, draft);
        if (this.diagnostics.length === reported) memo.checkedWithTarget = targetKind;
      }
    }
    this.checkKernelConstraints(rule, draft, table, line);
    if (!draft.ownFamily) {
      this.report(diagnostic("other-family-rule", { line, column: 1 }, { family: rule.familyOnly! }));
      return [];
    }
    const { sources, destinations } = draft;
    if ((sources === undefined || sources.length <= 1) && (destinations === undefined || destinations.length <= 1)) return [rule];
    if (rule.source?.negated || rule.destination?.negated) {
      this.report(diagnostic("negated-address-list", { line, column: 1 }, {}));
      return [];
    }
    const out: Rule[] = [];
    for (const s of sources?.length ? sources : [undefined]) {
      for (const d of destinations?.length ? destinations : [undefined]) {
        out.push({
          ...rule,
          // A side given one address (no list) keeps it in every rule.
          source: s ? negatable(s, rule.source!.negated) : rule.source,
          destination: d ? negatable(d, rule.destination!.negated) : rule.destination,
        });
      }
    }
    return out;
  }

  private coreItem(draft: RuleDraft, item: CoreItem, line: number): void {
    const values = this.words.values;
    const bit = CORE_OPTION_BITS[item.option];
    if ((draft.seenCore & bit) !== 0) {
      this.report(diagnostic("duplicate-option", this.at(item.optionToken, line), { option: values[item.optionToken]! }));
      return;
    }
    draft.seenCore |= bit;
    const negated = item.negation >= 0;
    const value = values[item.value]!;
    switch (item.option) {
      case "source":
      case "destination": {
        let first: Negatables<AddressMask> | undefined;
        let list: Negatables<AddressMask>[] | undefined;
        if (value.indexOf(",") < 0) {
          first = this.checkedAddress(value, item.value, line);
        } else {
          list = [];
          for (const part of value.split(",")) {
            const parsed = this.checkedAddress(part, item.value, line);
            if (parsed !== undefined) list.push(parsed);
          }
          first = list[0];
        }
        const address = first === undefined ? undefined : negatable(first, negated);
        if (item.option === "source") {
          draft.sources = list;
          if (address) draft.source = address;
        } else {
          draft.destinations = list;
          if (address) draft.destination = address;
        }
        return;
      }
      case "in-interface":
      case "out-interface": {
        const problem = interfaceProblem(value);
        // iptables refuses an empty -i/-o ("Empty interface is likely to be undesired"); physdev takes one.
        if (problem === "too-long" || value === "") {
          this.report(diagnostic("bad-interface", this.at(item.value, line), { value }));
          return;
        }
        if (problem === "impossible") this.report(diagnostic("value-adjusted", this.at(item.value, line), { option: values[item.optionToken]!, reason: IMPOSSIBLE_INTERFACE }));
        const iface = negatable(sharedNegatables(this.interfaces, value), negated);
        if (item.option === "in-interface") draft.inInterface = iface;
        else draft.outInterface = iface;
        return;
      }
      case "protocol": {
        const spec = parseProtocol(value);
        if (!spec) {
          this.report(diagnostic("bad-protocol", this.at(item.value, line), { value }));
          return;
        }
        draft.protocol = negatable(sharedNegatables(this.protocols, spec), negated);
        return;
      }
      default: {
        const never: never = item.option;
        throw new Error(`unhandled core option ${String(never)}`);
      }
    }
  }

  private matchItem(draft: RuleDraft, item: MatchItem, index: number, memo: ShapeMemo, line: number): void {
    const written = this.words.values[item.name]!;
    let spec: ExtensionSpec | undefined;
    if (memo.names[index] === written) spec = memo.specs[index];
    else {
      spec = matchSpecs.get(MATCH_ALIASES.get(written) ?? written);
      memo.names[index] = written;
      memo.specs[index] = spec;
    }
    const module = this.draft().init(spec ? spec.name : written, this.words.starts[item.optionToken]! + 1, false, spec !== undefined, spec);
    draft.addMatch(module, true);
    if (!spec) this.report(diagnostic("unknown-match", this.at(item.name, line), { module: written }));
    this.checkFamily(spec, item.name, line);
  }

  /** Extensions that exist for one family only (libipt_ttl, libip6t_mh, …): the other's iptables cannot load them. */
  private checkFamily(spec: ExtensionSpec | undefined, word: number, line: number): void {
    if (spec?.families && !spec.families.includes(this.family)) {
      this.report(diagnostic("extension-not-in-family", this.named(word, line), { extension: spec.name, family: this.family }));
    }
  }

  private optionItem(draft: RuleDraft, item: OptionItem, index: number, memo: ShapeMemo, line: number, text: string): void {
    const owner = item.owner;
    let module: ModuleDraft | undefined;
    switch (owner.kind) {
      case "match":
        module = draft.explicitMatch(owner.index);
        break;
      case "implicit-match":
        module = this.implicitMatch(draft, owner.module);
        break;
      case "target":
        module = draft.target;
        break;
      case "none":
        module = undefined;
        break;
      default: {
        const never: never = owner;
        throw new Error(`unhandled owner ${JSON.stringify(never)}`);
      }
    }
    // -p loads no match that this family's iptables lacks (ip6tables -p icmp): the option is unknown, as iptables says.
    if (module && owner.kind === "implicit-match" && module.spec?.families && !module.spec.families.includes(this.family)) module = undefined;
    if (!module) {
      const optionWord = this.words.values[item.optionToken]!;
      this.report(
        item.ambiguous
          ? diagnostic("ambiguous-option", this.at(item.optionToken, line), { option: optionWord })
          : diagnostic("unknown-option", this.at(item.optionToken, line), { option: optionWord, ...(item.resolvedName === undefined ? {} : { coreOption: item.resolvedName }) }),
      );
      return;
    }
    if (module.known && module.targetKind === undefined && module.name === "multiport") {
      // libxt_multiport checks the protocol while parsing its option, so order matters; it looks service names up for it.
      const protocol = draft.protocol;
      const name = protocol === undefined || protocol.negated ? undefined : protocol.value.name;
      this.codecContext.protocol = name !== undefined && isPortProtocol(name) ? name : undefined;
      if (this.codecContext.protocol === undefined) {
        const optionWord = this.words.values[item.optionToken]!;
        this.report(diagnostic("option-needs-protocol", this.at(item.optionToken, line), { option: optionWord, module: "multiport" }));
      }
    }
    const option = this.decodeOption(module, item, index, memo, line, text);
    if (option) {
      if (module.known && hasOption(module.options, option.name)) {
        this.report(diagnostic("duplicate-option", this.at(item.optionToken, line), { option: this.words.values[item.optionToken]! }));
      } else module.add(option);
    }
  }

  /** The implicit match (`-p tcp` loads tcp) an option belongs to, added at its first option. */
  private implicitMatch(draft: RuleDraft, name: string): ModuleDraft {
    const matches = draft.matches;
    for (let m = 0; m < draft.matchCount; m++) {
      if (matches[m]!.implicit && matches[m]!.name === name) return matches[m]!;
    }
    const module = this.draft().init(name, 0, true, true, matchSpecs.get(name));
    draft.addMatch(module, false);
    return module;
  }

  private setCountersItem(draft: RuleDraft, item: SetCountersItem, line: number): void {
    const values = this.words.values;
    const packets = counterValue(values[item.packets]!);
    const bytes = counterValue(values[item.bytes]!);
    if (packets === undefined || bytes === undefined) {
      const [word, what] = packets === undefined ? [item.packets, "packet"] : [item.bytes, "byte"];
      this.report(diagnostic("bad-value", this.at(word, line), { option: "-c", value: values[word]!, expected: `a ${what} count (a number)` }));
    } else draft.counters = { packets, bytes };
  }

  /** Where a word is, for a diagnostic. */
  private at(word: number, line: number): DiagnosticPosition {
    const start = this.words.starts[word]!;
    return { line, column: start + 1, length: this.words.ends[word]! - start };
  }

  /** Where a word is, spanning its value (as unquoted), for a diagnostic about a name. */
  private named(word: number, line: number): DiagnosticPosition {
    return { line, column: this.words.starts[word]! + 1, length: this.words.values[word]!.length };
  }

  /** An address of -s/-d, or undefined after reporting why it is not one. */
  private checkedAddress(part: string, word: number, line: number): Negatables<AddressMask> | undefined {
    const parsed = this.address(part);
    if (typeof parsed !== "string") return parsed;
    const otherFamily = parseAddressMask(part, this.family === "ipv4" ? "ipv6" : "ipv4");
    if (typeof otherFamily !== "string") {
      this.report(diagnostic("family-mismatch", this.at(word, line), { value: part, family: this.family }));
    } else {
      this.report(diagnostic("bad-address", this.at(word, line), { value: part, reason: parsed }));
    }
    return undefined;
  }

  private draft(): ModuleDraft {
    return (this.drafts[this.draftsUsed++] ??= new ModuleDraft());
  }

  private sealMatches(draft: RuleDraft): MatchModule[] {
    const drafts = draft.matches;
    switch (draft.matchCount) {
      case 0:
        return NO_MATCHES;
      case 1:
        return [this.sealMatch(drafts[0]!)];
      case 2:
        return [this.sealMatch(drafts[0]!), this.sealMatch(drafts[1]!)];
      case 3:
        return [this.sealMatch(drafts[0]!), this.sealMatch(drafts[1]!), this.sealMatch(drafts[2]!)];
      default:
        return drafts.slice(0, draft.matchCount).map((d) => this.sealMatch(d));
    }
  }

  private sealTarget(d: ModuleDraft): Target {
    return { kind: d.targetKind!, name: d.name, goto: d.goto, column: d.column, known: d.known, options: frozenOptions(d.options) };
  }

  private sealMatch(d: ModuleDraft): MatchModule {
    return this.interner.module(d.name, d.column, d.implicit, d.known, d.options, d.fresh);
  }

  private targetDraft(word: number, goto: boolean): ModuleDraft {
    const written = this.words.values[word]!;
    const column = this.words.starts[word]! + 1;
    const verdict = goto || written.length > MAX_VERDICT_LENGTH ? undefined : VERDICT_NAMES.get(written);
    if (verdict !== undefined) return this.draft().init(verdict, column, false, true, undefined, "verdict", goto);
    // Looked up here for checkJump too; a rule then holds the chain's own name string.
    const chain = (this.jumpChain = this.current!.chains.get(written));
    if (chain && !chain.builtin) return this.draft().init(chain.name, column, false, true, undefined, "chain", goto);
    // A user chain may have the name of a target extension; any other name is a chain,
    // checked by checkJump (it may be undeclared yet, or an unmodelled extension).
    const spec = goto ? undefined : targetSpecs.get(written);
    if (spec) return this.draft().init(spec.name, column, false, true, spec, "extension", goto);
    return this.draft().init(chain ? chain.name : written, column, false, true, undefined, "chain", goto);
  }

  private decodeOption(module: ModuleDraft, item: OptionItem, index: number, memo: ShapeMemo, line: number, text: string): ExtensionOption | undefined {
    const words = this.words;
    const written = words.values[item.optionToken]!;
    const values = item.values;
    const negated = item.negation >= 0;
    const column = words.starts[negated ? item.negation : item.optionToken]! + 1;
    const spec = module.spec;
    if (!spec || !module.known) return this.rawOption(module, item, text);
    const name = item.resolvedName ?? written;
    let optionSpec: OptionSpec | undefined;
    if (memo.specs[index] === spec && memo.names[index] === name) optionSpec = memo.optionSpecs[index];
    else {
      optionSpec = optionSpecNamed(spec, name);
      memo.specs[index] = spec;
      memo.names[index] = name;
      memo.optionSpecs[index] = optionSpec;
    }
    if (!optionSpec || (optionSpec.families && !optionSpec.families.includes(this.family))) {
      this.report(diagnostic("unknown-option", this.named(item.optionToken, line), { option: written }));
      return undefined;
    }
    if (values.length < optionSpec.arity) {
      // The option is the last word of the line: iptables says it "requires an argument".
      this.report(diagnostic("syntax", { line, column: text.length + 1 }, { found: "unexpected end of line", expected: "a value" }));
      return undefined;
    }
    if (values.length > optionSpec.arity) {
      // The grammar hands an option every plain word after it; iptables takes its arguments only ("Bad argument").
      const stray = values[optionSpec.arity]!;
      this.report(diagnostic("syntax", this.at(stray, line), { found: `unexpected value '${words.values[stray]}'`, expected: "" }));
      return undefined;
    }
    if (negated && !optionSpec.negatable) {
      this.report(diagnostic("option-not-negatable", { line, column, length: written.length }, { option: written }));
    }
    const entry = this.decodeCached(optionSpec, values);
    const decoded = entry.decoded;
    if ("adjusted" in decoded) {
      this.report(diagnostic("value-adjusted", this.at(values[0] ?? item.optionToken, line), { option: written, reason: decoded.warning }));
    } else if ("error" in decoded) {
      const first = words.starts[values[0] ?? item.optionToken]!;
      const last = words.ends[values[values.length - 1] ?? item.optionToken]!;
      this.report(
        diagnostic(
          "bad-value",
          { line, column: first + 1, length: last - first },
          { option: written, value: this.valuesOf(values).join(" "), expected: decoded.error || optionSpec.codec.expected },
        ),
      );
      return this.rawOption(module, item, text);
    }
    const spelling = written === optionSpec.spelling ? optionSpec.spelling : written;
    const option = this.interner.option(entry, optionSpec.name, spelling, negated, column);
    if (this.interner.fresh) module.fresh = true;
    return option;
  }

  /** The arguments of an option for its codec (which reads them and keeps nothing): one array for single words. */
  private argumentsOf(words: readonly number[]): readonly string[] {
    if (words.length !== 1) return this.valuesOf(words);
    this.oneArgument[0] = this.words.values[words[0]!]!;
    return this.oneArgument;
  }

  private valuesOf(words: readonly number[]): string[] {
    const values: string[] = new Array(words.length);
    for (let i = 0; i < words.length; i++) values[i] = this.words.values[words[i]!]!;
    return values;
  }

  /** An option kept as written: of an unknown module or target, or with a value that does not decode. */
  private rawOption(module: ModuleDraft, item: OptionItem, text: string): ExtensionOption {
    module.fresh = true;
    const words = this.words;
    const written = words.values[item.optionToken]!;
    // The arguments exactly as written (quotes included), so unmodelled options print back as they came.
    const source = item.values.map((w) => text.slice(words.starts[w], words.ends[w])).join(" ");
    return {
      name: written.replace(/^--?/, ""),
      written,
      negated: item.negation >= 0,
      value: { kind: "raw", args: this.valuesOf(item.values), source },
      column: words.starts[item.negation >= 0 ? item.negation : item.optionToken]! + 1,
    };
  }

  private decodeCached(optionSpec: OptionSpec, words: readonly number[]): DecodeEntry {
    let cache = this.valueCache.get(optionSpec.codec);
    if (!cache) {
      cache = new ValueCache();
      this.valueCache.set(optionSpec.codec, cache);
    }
    let key = words.length === 1 ? this.words.values[words[0]!]! : this.valuesOf(words).join("\0");
    if (optionSpec.codec.readsProtocol) key = `${this.codecContext.protocol ?? ""}\0${key}`;
    let entry = cache.useless ? undefined : cache.get(key);
    if (entry === undefined) {
      entry = decodeEntry(freezeDeep(optionSpec.codec.decode(this.argumentsOf(words), this.codecContext)));
      if (!cache.useless) cache.entries.set(key, entry);
    }
    return entry;
  }

  private address(text: string): Negatables<AddressMask> | AddressProblem {
    let parsed = this.addressCache.get(text);
    if (parsed === undefined) {
      const mask = parseAddressMask(text, this.family);
      parsed = typeof mask === "string" ? mask : negatables(Object.freeze(mask));
      this.addressCache.set(text, parsed);
    }
    return parsed;
  }

  /**
   * Rules the kernel (or iptables' final checks) refuse, so that a dump iptscope accepts also loads. `draft`
   * holds the specs the rule's matches and target were built from. Chains a rule is reached from: checkHooks.
   */
  private checkKernelConstraints(rule: Rule, draft: RuleDraft, table: TableName, line: number): void {
    const target = rule.target;
    if (table === "nat" && target?.name === "DROP" && !target.goto) {
      this.report(diagnostic("nat-filtering", { line, column: target.column, length: 4 }, {}));
    }
    if (target?.kind === "extension" && target.known) this.checkTargetConstraints(rule, target, draft.target!.spec, table, line);
    for (let i = 0; i < rule.matches.length; i++) {
      const module = rule.matches[i]!;
      if (!module.known) continue;
      const spec = draft.matches[i]!.spec;
      if (spec?.tables && !spec.tables.includes(table)) {
        this.report(diagnostic("extension-wrong-table", { line, column: module.column, length: module.name.length }, { extension: module.name, table, tables: spec.tables }));
      }
      if (module.name === "statistic") this.checkStatistic(module, line);
      else if (module.name === "recent") this.checkRecent(module, line);
    }
    // iptables checks the interfaces against the chain's name, built-in or not, and the kernel does not look.
    if (rule.inInterface && (rule.chain === "OUTPUT" || rule.chain === "POSTROUTING")) {
      this.report(diagnostic("interface-in-chain", { line, column: 1 }, { option: "-i", chain: rule.chain }));
    }
    if (rule.outInterface && (rule.chain === "PREROUTING" || rule.chain === "INPUT")) {
      this.report(diagnostic("interface-in-chain", { line, column: 1 }, { option: "-o", chain: rule.chain }));
    }
  }

  private checkTargetConstraints(rule: Rule, target: Target, spec: ExtensionSpec | undefined, table: TableName, line: number): void {
    const at = { line, column: target.column, length: target.name.length };
    if (spec?.tables && !spec.tables.includes(table)) {
      this.report(diagnostic("extension-wrong-table", at, { extension: target.name, table, tables: spec.tables }));
    }
    const protocol = rule.protocol;
    if (spec?.protocols && (protocol === undefined || protocol.negated || !spec.protocols.includes(protocol.value.name))) {
      this.report(diagnostic("target-needs-protocol", at, { target: target.name, protocols: spec.protocols }));
    }
    switch (target.name) {
      case "DNAT":
      case "SNAT":
      case "MASQUERADE":
      case "REDIRECT": {
        const ports = target.options.find((o) => o.value.kind === "port-range" || (o.value.kind === "nat-range" && o.value.range.fromPort !== undefined));
        if (ports && (protocol?.value.number === undefined || !NAT_PORT_PROTOCOLS.has(protocol.value.number))) {
          this.report(diagnostic("option-needs-protocol", { line, column: ports.column, length: ports.written.length }, { option: ports.written, module: target.name }));
        }
        return;
      }
      case "REJECT": {
        const reply = target.options.find((o) => o.name === "reject-with");
        if (reply?.value.kind === "string" && reply.value.value === "tcp-reset" && (protocol === undefined || protocol.negated || protocol.value.name !== "tcp")) {
          this.report(diagnostic("option-needs-protocol", { line, column: reply.column, length: reply.written.length }, { option: `${reply.written} tcp-reset`, module: "REJECT" }));
        }
        return;
      }
      // iptables-nft translates TRACE to nftrace anywhere, and its compat layer skips TCPMSS's SYN check.
      case "TRACE":
        if (table !== "raw") this.report(diagnostic("backend-refuses", at, { backend: "legacy", reason: "TRACE outside the raw table" }));
        return;
      case "TCPMSS":
        if (!rule.matches.some(isSynMatch)) this.report(diagnostic("backend-refuses", at, { backend: "legacy", reason: "TCPMSS without a match of TCP SYN packets (--syn, --tcp-flags … SYN)" }));
        return;
      default:
        return;
    }
  }

  private checkStatistic(module: MatchModule, line: number): void {
    const every = module.options.find((o) => o.name === "every");
    const packet = module.options.find((o) => o.name === "packet");
    if ((every === undefined) !== (packet === undefined)) {
      this.report(diagnostic("missing-option", { line, column: module.column }, { module: "statistic", option: every ? "--packet" : "--every" }));
    }
    if (!hasOption(module.options, "mode")) this.report(diagnostic("missing-option", { line, column: module.column }, { module: "statistic", option: "--mode" }));
    if (every?.value.kind === "number" && packet?.value.kind === "number" && packet.value.value >= every.value.value) {
      this.report(
        diagnostic("bad-value", { line, column: packet.column }, { option: "--packet", value: String(packet.value.value), expected: `a packet number below --every (${every.value.value})` }),
      );
    }
  }

  /** xt_recent's checkentry: --set and --remove take no --seconds, --hitcount, --rttl or --reap; --reap needs --seconds. */
  private checkRecent(module: MatchModule, line: number): void {
    const action = module.options.find((o) => o.name === "set" || o.name === "remove");
    const modifier = module.options.find((o) => o.name === "seconds" || o.name === "hitcount" || o.name === "rttl" || o.name === "reap");
    if (action && modifier) {
      this.report(diagnostic("conflicting-options", { line, column: modifier.column }, { module: "recent", options: [action.written, modifier.written] }));
    }
    const reap = module.options.find((o) => o.name === "reap");
    if (reap && !hasOption(module.options, "seconds")) {
      this.report(diagnostic("missing-option", { line, column: reap.column }, { module: "recent", option: "--seconds with --reap" }));
    }
  }

  /**
   * The kernel checks an extension allowed in some hooks only against every built-in chain that reaches the rule's
   * chain, through jumps and gotos, when the table is committed; a rule in a chain nothing reaches is not checked.
   * The uses and the callers were noted as rules were placed; a command other than -A/-I may have changed both,
   * and then they are found again in the committed chains. iptables-legacy does not look past a rule that ends
   * its walk of a chain (see legacy-walk.ts): what only iptables-nft finds there, it alone refuses.
   */
  private checkHooks(state: TableState): void {
    let uses = state.restricted;
    let callers = state.callers;
    if (state.chainsChanged) {
      uses = [];
      callers = new Map();
      state.legacyWalkEnds = false;
      for (const chain of state.table.chains) {
        for (const rule of chain.rules) {
          restrictedUses(rule, chain, uses);
          const callee = rule.target?.kind === "chain" ? state.chains.get(rule.target.name) : undefined;
          if (callee !== undefined && !callee.builtin) addCaller(callers, callee, chain);
          else if (!state.legacyWalkEnds && endsLegacyWalk(rule, this.family)) state.legacyWalkEnds = true;
        }
      }
    }
    if (uses.length === 0) return;
    const legacy = state.legacyWalkEnds ? this.legacyWalk(state) : undefined;
    const masks = new Map<Chain, number>();
    const legacyMasks = new Map<Chain, number>();
    for (const { chain, rule, extension, column, allowed } of uses) {
      const reaching = hookMask(chain, callers, masks);
      if ((reaching & ~allowedMask(allowed)) === 0) continue;
      const at = { line: rule.line, column, length: extension.length };
      const legacyReaching = legacy === undefined ? reaching : legacy.unwalked.has(rule) ? 0 : hookMask(chain, legacy.callers, legacyMasks);
      if ((legacyReaching & ~allowedMask(allowed)) === 0) {
        const reason = `${extension} reached from ${hookNames(reaching, allowed).join(", ")} only past an unconditional verdict, where iptables-legacy does not look`;
        this.report(diagnostic("backend-refuses", at, { backend: "nft", reason }));
        continue;
      }
      const refused = hookNames(this.backend === "legacy" ? legacyReaching : reaching, allowed);
      this.reportRule(diagnostic("extension-wrong-chain", at, { extension, chain: chain.name, reachedFrom: refused, allowed }), state, chain, rule);
    }
  }

  /** The rules iptables-legacy's walk never looks at, and the callers of each chain among the rules it does. */
  private legacyWalk(state: TableState): { unwalked: Set<Rule>; callers: Map<Chain, Chain | Chain[]> } {
    const unwalked = new Set<Rule>();
    const callers = new Map<Chain, Chain | Chain[]>();
    for (const chain of state.table.chains) {
      const walked = legacyWalkedRules(chain, this.family);
      chain.rules.forEach((rule, i) => {
        if (i >= walked) return void unwalked.add(rule);
        const callee = rule.target?.kind === "chain" ? state.chains.get(rule.target.name) : undefined;
        if (callee !== undefined && !callee.builtin) addCaller(callers, callee, chain);
      });
    }
    return { unwalked, callers };
  }

  /**
   * iptables refuses an extension without the options it insists on ("mark: option --mark must be specified").
   * The rule's explicit matches and target, with the specs their drafts were built from (in the same order).
   */
  private checkRequiredOptions(rule: Rule, draft: RuleDraft): void {
    const target = rule.target;
    if (target?.kind === "extension" && target.known) {
      this.checkRequired(draft.target!.spec, target.options, target.name, rule.line, target.column);
      this.checkExclusive(draft.target!.spec, target.options, target.name, rule.line);
    }
    for (let i = 0; i < rule.matches.length; i++) {
      const module = rule.matches[i]!;
      if (!module.known) continue;
      if (!module.implicit) this.checkRequired(draft.matches[i]!.spec, module.options, module.name, rule.line, module.column);
      this.checkExclusive(draft.matches[i]!.spec, module.options, module.name, rule.line);
    }
  }

  /** iptables refuses two options of one group ("MARK: option --set-xmark cannot be used together with --or-mark"). */
  private checkExclusive(spec: ExtensionSpec | undefined, options: readonly ExtensionOption[], name: string, line: number): void {
    if (!spec?.exclusive || options.length < 2) return;
    for (const group of spec.exclusive) {
      const given = options.filter((o) => group.includes(o.name));
      if (given.length < 2) continue;
      const second = given[1]!;
      const at = { line, column: second.column, length: second.written.length };
      this.report(diagnostic("conflicting-options", at, { module: name, options: [given[0]!.written, second.written] }));
    }
  }

  private checkRequired(spec: ExtensionSpec | undefined, options: readonly ExtensionOption[], name: string, line: number, column: number): void {
    if (!spec?.required) return;
    for (const group of spec.required) {
      // A known extension keeps only its own options, so "any" asks for one at all.
      if (group === "any" ? options.length > 0 : options.some((o) => group.includes(o.name))) continue;
      const spelled = (group === "any" ? spec.options.map((o) => o.name) : group).map((n) => `--${n}`);
      const option = spelled.length === 1 ? spelled[0]! : `one of ${spelled.slice(0, -1).join(", ")} or ${spelled.at(-1)}`;
      this.report(diagnostic("missing-option", { line, column }, { module: name, option }));
    }
  }

  /** `drafts` are the rule's matches as they were built, in the same order. */
  private checkProtocols(rule: Rule, drafts: readonly ModuleDraft[], line: number): void {
    for (let i = 0; i < rule.matches.length; i++) {
      const module = rule.matches[i]!;
      const spec = drafts[i]!.spec;
      if (!spec?.protocols || module.options.length === 0 || module.name === "multiport") continue;
      if (spec.protocolsNeededIn && !spec.protocolsNeededIn.includes(this.family)) continue;
      const protocol = rule.protocol;
      const option = module.options[0]!;
      if (protocol?.negated && protocol.value.name === module.name && nftWritesNatively(module)) {
        // iptables-nft writes tcp and udp matches as nft expressions, which the kernel's protocol check never sees.
        const reason = `a ${module.name} match under ! -p ${module.name}`;
        this.report(diagnostic("backend-refuses", { line, column: option.column, length: option.written.length }, { backend: "legacy", reason }));
      } else if (!protocol || protocol.negated || !spec.protocols.includes(protocol.value.name)) {
        this.report(
          diagnostic("option-needs-protocol", { line, column: option.column, length: option.written.length }, { option: option.written, module: module.name }),
        );
      }
    }
  }

  finish(): ParseResult {
    if (this.current) {
      this.reportWorkedAround(diagnostic("missing-commit", { line: this.lastLine, column: 1 }, { table: this.current.table.name }), "kept as if committed");
      this.commit(undefined);
    }
    if (this.crlfLines > 0) {
      const d = diagnostic("crlf-line-ends", { line: this.firstCrlfLine, column: 1 }, { lines: this.crlfLines });
      this.diagnostics.push(this.lenient ? { ...d, severity: "warning" } : d);
    }
    if (!this.sawContent) this.diagnostics.push(diagnostic("empty-input", { line: 0, column: 0 }, {}));
    if (this.lateSkipped.length > 0) {
      const all = [...new Set([...this.skippedLines, ...this.lateSkipped])].sort((a, b) => a - b);
      this.skippedLines.length = 0;
      for (const line of all) this.skippedLines.push(line);
    }
    for (const chain of this.renumber) chain.rules.forEach((rule, index) => (rule.position = index + 1));
    this.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
    const result: ParseResult = { ruleset: this.ruleset, diagnostics: this.diagnostics, skippedLines: this.skippedLines };
    if (this.built !== undefined) builtRulesOf.set(result, this.built);
    return result;
  }
}

/** A `-c` count as iptables reads it (sscanf "%llu": leading digits, the rest ignored); undefined when there are none. */
function counterValue(text: string): string | undefined {
  const digits = /^[ \t]*\+?(\d+)/.exec(text);
  return digits ? BigInt(digits[1]!).toString() : undefined;
}

/** What iptables (xshared.c) refuses in a new chain name; undefined when the name is fine. */
function chainNameProblem(name: string): string | undefined {
  if (/\s/.test(name)) return "a chain name without white space";
  if (name.startsWith("-") || name.startsWith("!")) return "a chain name that does not start with '-' or '!'";
  return undefined;
}

/**
 * Appends and numbers a rule. Most chains of a kube-proxy dump hold one or two rules: such
 * arrays are built exact-size (a first push would reserve 17 slots).
 */
function append(chain: Chain, rule: Rule): void {
  const rules = chain.rules;
  if (rules.length === 0) chain.rules = [rule];
  else if (rules.length === 1) chain.rules = [rules[0]!, rule];
  else rules.push(rule);
  rule.position = chain.rules.length;
}

const chainNameAt = (name: string, line: number): DiagnosticPosition => ({ line, column: 2, length: name.length });

/** Why -X cannot delete `chain`, given the rules that keep it busy. */
function busyChain(chain: Chain, rules: ReadonlySet<Rule>, at: DiagnosticPosition): Diagnostic {
  const own = [...rules].some((r) => r.chain === chain.name);
  return diagnostic(own ? "chain-not-empty" : "chain-in-use", at, { chain: chain.name });
}

/** Does iptables-nft write this match as nft expressions rather than load the kernel's xt match? udp, and tcp without --tcp-option. */
function nftWritesNatively(module: MatchModule): boolean {
  return module.name === "udp" || (module.name === "tcp" && !hasOption(module.options, "tcp-option"));
}

/** The built-in chains in hook order: bit i of a hook mask is BUILTIN_ORDER[i]. */
const BUILTIN_ORDER: readonly BuiltinChainName[] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

const HOOK_BITS: ReadonlyMap<string, number> = new Map(BUILTIN_ORDER.map((hook, bit) => [hook, 1 << bit]));

/** Matches whose spec limits the hooks: the others need no lookup when a table is committed. */
const HOOKED_MATCHES: ReadonlySet<string> = new Set([...matchSpecs.values()].filter((spec) => spec.hooks !== undefined).map((spec) => spec.name));

/** The uses of extensions allowed in some hooks only in a rule, added to `uses`. */
function restrictedUses(rule: Rule, chain: Chain, uses: RestrictedUse[]): void {
  const target = rule.target;
  if (target !== undefined && target.kind === "extension" && target.known) {
    const allowed = targetSpecs.get(target.name)?.hooks?.(target.options);
    if (allowed) uses.push({ chain, rule, extension: target.name, column: target.column, allowed });
  }
  for (let i = 0; i < rule.matches.length; i++) {
    const module = rule.matches[i]!;
    if (!module.known || !HOOKED_MATCHES.has(module.name)) continue;
    const allowed = matchSpecs.get(module.name)?.hooks?.(module.options);
    if (allowed) uses.push({ chain, rule, extension: module.name, column: module.column, allowed });
  }
}

/** Most chains have one caller: it is kept as it is, and a list made at the second. */
function addCaller(callers: Map<Chain, Chain | Chain[]>, callee: Chain, caller: Chain): void {
  const known = callers.get(callee);
  if (known === undefined) callers.set(callee, caller);
  else if (Array.isArray(known)) known.push(caller);
  else callers.set(callee, [known, caller]);
}

const asList = (callers: Chain | Chain[] | undefined): readonly Chain[] => (callers === undefined ? [] : Array.isArray(callers) ? callers : [callers]);

/**
 * The built-in chains whose packets reach `chain` (a mask of BUILTIN_ORDER bits): its own bit for a built-in chain,
 * else the masks of its callers. Computed up the callers without recursion (chains can nest thousands deep), each
 * chain once (`masks` keeps them, OPEN while its callers are being computed); a chain met again while open is in a
 * loop, which adds nothing.
 */
function hookMask(chain: Chain, callers: ReadonlyMap<Chain, Chain | Chain[]>, masks: Map<Chain, number>): number {
  const known = masks.get(chain);
  if (known !== undefined && known !== OPEN) return known;
  const stack = SCRATCH_STACK;
  stack.push(chain);
  while (stack.length > 0) {
    const current = stack[stack.length - 1]!;
    const state = masks.get(current);
    if (current.builtin) {
      masks.set(current, HOOK_BITS.get(current.name) ?? 0);
      stack.pop();
      continue;
    }
    const up = callers.get(current);
    if (state === undefined) {
      masks.set(current, OPEN);
      if (up !== undefined) {
        if (!Array.isArray(up)) {
          if (masks.get(up) === undefined) stack.push(up);
        } else {
          for (const caller of up) if (masks.get(caller) === undefined) stack.push(caller);
        }
      }
      continue;
    }
    if (state === OPEN) {
      let mask = 0;
      if (up !== undefined) {
        if (!Array.isArray(up)) mask = maskOf(masks, up);
        else for (const caller of up) mask |= maskOf(masks, caller);
      }
      masks.set(current, mask);
    }
    stack.pop();
  }
  return masks.get(chain)!;
}

const OPEN = -1;

function maskOf(masks: ReadonlyMap<Chain, number>, chain: Chain): number {
  const mask = masks.get(chain);
  return mask === undefined || mask === OPEN ? 0 : mask;
}

/** hookMask's stack, empty between calls (it runs to the end without yielding). */
const SCRATCH_STACK: Chain[] = [];

/** The hooks of `reaching` that `allowed` leaves out, in hook order. */
function hookNames(reaching: number, allowed: readonly BuiltinChainName[]): BuiltinChainName[] {
  return BUILTIN_ORDER.filter((hook, bit) => (reaching & (1 << bit)) !== 0 && !allowed.includes(hook));
}

/** The mask of hooks an extension allows, per list (specs give the same list object each time). */
const ALLOWED_MASKS = new WeakMap<readonly BuiltinChainName[], number>();

function allowedMask(allowed: readonly BuiltinChainName[]): number {
  let mask = ALLOWED_MASKS.get(allowed);
  if (mask === undefined) {
    mask = 0;
    for (const hook of allowed) mask |= HOOK_BITS.get(hook) ?? 0;
    ALLOWED_MASKS.set(allowed, mask);
  }
  return mask;
}

/** A tcp match of SYN packets, as TCPMSS on iptables-legacy wants one (find_syn_match in xt_TCPMSS.c). */
function isSynMatch(module: MatchModule): boolean {
  if (module.name !== "tcp") return false;
  return module.options.some(
    (o) => !o.negated && (o.name === "syn" || (o.value.kind === "tcp-flags" && (o.value.compare.includes("SYN") || o.value.compare.includes("ALL")))),
  );
}

function hasOption(options: readonly ExtensionOption[], name: string): boolean {
  for (let i = 0; i < options.length; i++) if (options[i]!.name === name) return true;
  return false;
}

function sameCounters(a: Counters, b: Counters): boolean {
  return a.packets === b.packets && a.bytes === b.bytes;
}

/** Rules out of their chain keep no position (statements still list them). */
function unnumber(rules: readonly Rule[]): void {
  for (const rule of rules) rule.position = 0;
}

/** Identity of a rule's matching spec, for `-D CHAIN rule-spec`. */
function ruleKey(rule: Rule): string {
  return JSON.stringify([rule.source, rule.destination, rule.inInterface, rule.outInterface, rule.protocol, rule.fragment,
    rule.matches.map((m) => [m.name, m.options.map((o) => [o.name, o.negated, o.value])]),
    rule.target && [rule.target.name, rule.target.goto, rule.target.options.map((o) => [o.name, o.value])]]);
}
