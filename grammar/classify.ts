import type { IToken, TokenType } from "chevrotain";
import type { ArgToken } from "./tokenizer.js";
import { ArgToken as Word } from "./tokenizer.js";
import {
  Append, Bang, CORE_LONG_OPTIONS, CORE_SHORT_OPTIONS, coreOptionTokens, Delete, DeleteChain, ExtensionOption, FamilyFlag, Flush, Goto,
  IgnoredFlag, IgnoredValueOption, Insert, Jump, MatchFlag, NewChain, Protocol, RenameChain, Replace, SetCounters,
  SetPolicy, Value, Zero, Fragment, type CoreOption,
} from "./tokens.js";

/** One long option of an extension: its names without `--`, and how many arguments it takes. */
export interface OptionSyntax {
  names: readonly string[];
  arity: number;
}

/** What the grammar needs to know about extensions: their options and arities. */
export interface ExtensionCatalog {
  /** Options of match `module`, or `null` if the module is unknown. */
  matchOptions(module: string): readonly OptionSyntax[] | null;
  /** Options of target `target`, or `null` if it is not a known target (a chain, or unknown). */
  targetOptions(target: string): readonly OptionSyntax[] | null;
  /** The match iptables loads implicitly for `-p PROTO` (tcp → tcp, ipv6-icmp → icmp6). */
  implicitMatch(protocol: string): string | undefined;
}

/** Which extension an option was given to, resolved as iptables' merged getopt table does. */
export type OptionOwner =
  | { kind: "match"; index: number }
  | { kind: "implicit-match"; module: string }
  | { kind: "target" }
  | { kind: "none" };

export interface ClassifiedToken extends IToken, Omit<ArgToken, "tokenType" | "image" | "startOffset" | "endOffset"> {
  owner?: OptionOwner;
  /** True if the owner's arity was unknown and the option took every following value. */
  greedy?: boolean;
  /** The option's full name when it was given abbreviated (getopt_long accepts unique prefixes). */
  resolvedName?: string;
  /** Set when the abbreviation fits several options getopt_long knows at that point. */
  ambiguous?: boolean;
}

/** Owners are shared: options only carry them to the model builder. */
const TARGET_OWNER: OptionOwner = Object.freeze({ kind: "target" });
const NO_OWNER: OptionOwner = Object.freeze({ kind: "none" });
const matchOwners: OptionOwner[] = [];
const implicitOwners = new Map<string, OptionOwner>();

function matchOwner(index: number): OptionOwner {
  return (matchOwners[index] ??= Object.freeze({ kind: "match", index }));
}

function implicitOwner(module: string): OptionOwner {
  let owner = implicitOwners.get(module);
  if (owner === undefined) {
    owner = Object.freeze({ kind: "implicit-match", module });
    implicitOwners.set(module, owner);
  }
  return owner;
}

/** Each option table's names (and aliases) mapped to the first option that has the name. */
const exactNames = new WeakMap<readonly OptionSyntax[], Map<string, OptionSyntax>>();

function exactName(options: readonly OptionSyntax[], name: string): OptionSyntax | undefined {
  let names = exactNames.get(options);
  if (names === undefined) {
    names = new Map();
    for (const option of options) for (const candidate of option.names) if (!names.has(candidate)) names.set(candidate, option);
    exactNames.set(options, names);
  }
  return names.get(name);
}

/** A match's option table as merged into getopt_long's, and the instance its options go to. */
interface MergedMatch {
  name: string;
  table: readonly OptionSyntax[] | null;
  /** The last `-m` of this name: iptables marks the earlier ones completed, so their options reach it. */
  latest: number;
}

/**
 * The extensions loaded so far on one line, in the order getopt_long sees their options.
 * A second `-m` of a name is a clone that merges no options (xtables_find_match,
 * command_match), so options resolve by the order in which names were first loaded.
 */
class LoadedExtensions {
  /** Option tables of `-m` matches in command-line order; null for unknown modules. */
  readonly matches: (readonly OptionSyntax[] | null)[] = [];
  /** One entry per merged option table, oldest first. */
  private readonly merged: MergedMatch[] = [];
  /** Option table of the `-j` target; null for a chain or an unknown target. */
  target: readonly OptionSyntax[] | null | undefined = undefined;

  reset(): void {
    this.matches.length = 0;
    this.merged.length = 0;
    this.target = undefined;
  }

  addMatch(name: string, table: readonly OptionSyntax[] | null): void {
    const index = this.matches.length;
    this.matches.push(table);
    // Unknown modules keep an entry each: their options are taken greedily by the nearest one.
    const earlier = table === null ? undefined : this.merged.find((m) => m.name === name && m.table !== null);
    if (earlier) earlier.latest = index;
    else this.merged.push({ name, table, latest: index });
  }

  /** The target first, then the merged match tables from the last loaded. */
  tableAt(position: number): readonly OptionSyntax[] | null {
    if (this.target !== undefined) {
      if (position === 0) return this.target;
      position--;
    }
    return this.merged[this.merged.length - 1 - position]!.table;
  }

  ownerAt(position: number): OptionOwner {
    if (this.target !== undefined) {
      if (position === 0) return TARGET_OWNER;
      position--;
    }
    return matchOwner(this.merged[this.merged.length - 1 - position]!.latest);
  }

  /** Whether a module iptscope does not know is loaded: options nothing else has are taken to be its. */
  hasUnknown(): boolean {
    return this.merged.some((m) => m.table === null);
  }

  get count(): number {
    return this.merged.length + (this.target === undefined ? 0 : 1);
  }
}

interface Resolution {
  owner: OptionOwner;
  arity: number;
  name: string;
}

/** The option of an extension table that has `name` exactly, in getopt's order of the loaded tables. */
function exactExtensionOption(name: string, loaded: LoadedExtensions): Resolution | undefined {
  const count = loaded.count;
  for (let position = 0; position < count; position++) {
    const options = loaded.tableAt(position);
    const exact = options && exactName(options, name);
    if (exact) return { owner: loaded.ownerAt(position), arity: exact.arity, name: exact.names[0]! };
  }
  return undefined;
}

/** What getopt_long makes of `--NAME`: a core option, an extension's option, several (ambiguous) or none. */
type LongResolution = { kind: "core"; name: string; option: CoreOption } | { kind: "extension"; resolution: Resolution } | "ambiguous" | undefined;

/**
 * getopt_long over iptables' merged option table (its own options first, then the loaded extensions'): an exact
 * name wins; otherwise the options the name is a prefix of, which are ambiguous unless they are one option (one
 * `val`: `--sr` is `--src`, which is `--source`).
 */
function resolveLong(name: string, loaded: LoadedExtensions): LongResolution {
  if (name.length === 0) return undefined;
  for (const long of CORE_LONG_OPTIONS) if (long.name === name) return { kind: "core", name: long.name, option: long.option };
  const exact = exactExtensionOption(name, loaded);
  if (exact) return { kind: "extension", resolution: exact };
  let found: LongResolution;
  let foundKey: string | undefined;
  const take = (key: string, resolution: LongResolution): boolean => {
    if (foundKey === undefined) [found, foundKey] = [resolution, key];
    return foundKey === key;
  };
  for (const long of CORE_LONG_OPTIONS) {
    if (long.name.startsWith(name) && !take(`-${long.option.letter}`, { kind: "core", name: long.name, option: long.option })) return "ambiguous";
  }
  const count = loaded.count;
  for (let position = 0; position < count; position++) {
    const options = loaded.tableAt(position);
    if (!options) continue;
    for (const option of options) {
      if (!option.names.some((candidate) => candidate.startsWith(name))) continue;
      const resolution: Resolution = { owner: loaded.ownerAt(position), arity: option.arity, name: option.names[0]! };
      if (!take(`${position} ${option.names[0]}`, { kind: "extension", resolution })) return "ambiguous";
    }
  }
  return found;
}

function resolveImplicit(name: string, module: string, options: readonly OptionSyntax[]): Resolution | "ambiguous" | undefined {
  const exact = exactName(options, name);
  if (exact) return { owner: implicitOwner(module), arity: exact.arity, name: exact.names[0]! };
  let prefix: Resolution | undefined;
  let prefixCount = 0;
  for (const option of options) {
    for (const candidate of option.names) {
      if (candidate.startsWith(name) && prefix?.name !== option.names[0]) {
        prefix = { owner: implicitOwner(module), arity: option.arity, name: option.names[0]! };
        prefixCount++;
      }
    }
  }
  if (prefixCount > 1) return "ambiguous";
  return prefix;
}

/** Classifies in place: the argument object becomes the Chevrotain token. */
function token(type: TokenType, arg: ArgToken): ClassifiedToken {
  const classified = arg as unknown as ClassifiedToken;
  classified.tokenType = type;
  classified.tokenTypeIdx = type.tokenTypeIdx!;
  return classified;
}

const DIGITS = /^[0-9]+$/;

// Quotes only group characters into a word: getopt sees `"--dport"` and `"!"` as it sees them unquoted.
function isOptionLike(arg: ArgToken): boolean {
  return arg.value.length > 1 && arg.value.charCodeAt(0) === 0x2d;
}

function isBang(arg: ArgToken): boolean {
  return arg.value === "!";
}

/** How many words after a core option are its values. */
function coreValues(core: TokenType, args: readonly ArgToken[], index: number): number {
  const next = args[index + 1];
  switch (core) {
    case Insert:
    case Delete:
      return args[index + 2] !== undefined && DIGITS.test(args[index + 2]!.value) ? 2 : 1;
    case Replace:
    case SetPolicy:
    case RenameChain:
    case SetCounters:
      return 2;
    case DeleteChain:
    case Flush:
    case Zero:
      return next !== undefined && !isOptionLike(next) && !isBang(next) ? 1 : 0;
    case Fragment:
    case FamilyFlag:
    case IgnoredFlag:
      return 0;
    default:
      return 1;
  }
}

/** A word cut out of `arg` (an option of a cluster, a value written in an option's word), or made for it. */
function cutWord(arg: ArgToken, value: string, start: number, end: number): ArgToken {
  return new Word(value, start, end, arg.quoted);
}

/** The value getopt gives an option whose argument was written in its word: optarg, or the whole word. */
function writtenValue(arg: ArgToken, option: CoreOption, optarg: string, start: number): ArgToken {
  return option.value === "word" ? cutWord(arg, arg.value, arg.start, arg.end) : cutWord(arg, optarg, arg.quoted ? arg.start : start, arg.end);
}

/**
 * getopt's reading of `-abc`: options without an argument, then at most one that takes the rest of the word as
 * its argument (or the next word, when nothing is left). Undefined when a letter is not one iptables-restore takes
 * with a rule: the word is an unknown option, as iptables says.
 */
function shortCluster(arg: ArgToken): ArgToken[] | undefined {
  const words: ArgToken[] = [];
  for (let i = 1; i < arg.value.length; i++) {
    const option = CORE_SHORT_OPTIONS.get(arg.value[i]!);
    if (option?.token === undefined) return undefined;
    words.push(cutWord(arg, `-${option.letter}`, arg.quoted ? arg.start : arg.start + i, arg.quoted ? arg.end : arg.start + i + 1));
    if (option.argument === "none") continue;
    if (i + 1 < arg.value.length) words.push(writtenValue(arg, option, arg.value.slice(i + 1), arg.start + i + 1));
    break;
  }
  return words;
}

/** The long name of each of iptables' own options that iptables-restore does not take with a rule, by letter. */
const REFUSED_SHORT_NAMES: ReadonlyMap<string, string> = new Map(
  CORE_LONG_OPTIONS.filter((long) => long.option.token === undefined)
    .reverse()
    .map((long) => [long.option.letter, long.name]),
);

const loaded = new LoadedExtensions();

/**
 * Classifies the arguments of one command line into grammar tokens, in place (the returned
 * array is `args`, with words spliced in where getopt reads one word as several: `--dport=80`,
 * `-vj`; so it is longer than `args` was exactly then). A word is an option or a value depending
 * on the options that the extensions loaded so far define, exactly as iptables' getopt_long over
 * its merged option table decides.
 */
export function classifyArgs(args: ArgToken[], catalog: ExtensionCatalog): ClassifiedToken[] {
  loaded.reset();
  let protocol: string | undefined;
  let implicitLoaded: string | undefined;
  let forced = 0;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (forced > 0) {
      token(Value, arg);
      forced--;
      continue;
    }
    if (isBang(arg)) {
      token(Bang, arg);
      continue;
    }
    if (!isOptionLike(arg)) {
      token(Value, arg);
      continue;
    }
    if (arg.value === "--" && index === args.length - 1) {
      // getopt's end of options, with nothing after it (iptables refuses any word left over).
      token(IgnoredFlag, arg);
      continue;
    }
    let core = coreOptionTokens.get(arg.value);
    let long: LongResolution;
    /** iptables' own option the word names, when iptables-restore does not take it with a rule. */
    let refusedCore: string | undefined;
    const isLong = arg.value.charCodeAt(1) === 0x2d;
    // getopt_long reads `--name=value` as the option `name` with its value.
    const equals = isLong ? arg.value.indexOf("=", 2) : -1;
    const optionName = isLong ? arg.value.slice(2, equals < 0 ? undefined : equals) : arg.value.slice(1);
    const attached = equals < 0 ? undefined : arg.value.slice(equals + 1);
    if (core === undefined && !isLong) {
      refusedCore = arg.value.length === 2 ? REFUSED_SHORT_NAMES.get(arg.value[1]!) : undefined;
      const cluster = shortCluster(arg);
      if (cluster !== undefined) {
        // Each option of the cluster (and a value written in it) is read as a word of its own.
        args.splice(index, 1, ...cluster);
        index--;
        continue;
      }
    }
    if (core === undefined && isLong) {
      long = resolveLong(optionName, loaded);
      if (long !== undefined && long !== "ambiguous" && long.kind === "core") {
        // An option iptables-restore refuses with a rule (--table, --numeric, …) goes the unknown-option way.
        if (long.option.token !== undefined && (attached === undefined || long.option.argument !== "none")) core = long.option.token;
        else refusedCore = long.name;
      }
    }
    if (core !== undefined) {
      token(core, arg);
      if (attached !== undefined && long !== undefined && long !== "ambiguous" && long.kind === "core") {
        args.splice(index + 1, 0, writtenValue(arg, long.option, attached, arg.end - attached.length));
      }
      forced = coreValues(core, args, index);
      const next = args[index + 1];
      if (next) {
        if (core === MatchFlag) loaded.addMatch(next.value, catalog.matchOptions(next.value));
        else if (core === Jump) loaded.target = catalog.targetOptions(next.value);
        else if (core === Protocol) protocol = next.value;
      }
      continue;
    }
    const classified = token(ExtensionOption, arg);
    let arity: number | undefined;
    let owner: OptionOwner | undefined;
    // A single dash starts short options, and no extension has any.
    let resolution: Resolution | "ambiguous" | undefined =
      !isLong || refusedCore !== undefined ? undefined : long === "ambiguous" ? "ambiguous" : long?.kind === "extension" ? long.resolution : undefined;
    if (resolution === undefined && protocol !== undefined && isLong && refusedCore === undefined && optionName.length > 0) {
      const implicit = implicitLoaded ?? catalog.implicitMatch(protocol);
      const options = implicit === undefined ? null : catalog.matchOptions(implicit);
      if (implicit !== undefined && options) {
        resolution = resolveImplicit(optionName, implicit, options);
        if (resolution !== undefined) implicitLoaded = implicit;
      }
    }
    if (resolution === "ambiguous") {
      classified.ambiguous = true;
    } else if (resolution !== undefined) {
      if (attached !== undefined && resolution.arity === 0) {
        // getopt refuses a value for an option without one: iptables reports the word as an unknown option.
        resolution = undefined;
      } else {
        owner = resolution.owner;
        arity = resolution.arity;
        if (resolution.name !== optionName || attached !== undefined) classified.resolvedName = resolution.name;
        if (attached !== undefined) {
          args.splice(index + 1, 0, cutWord(arg, attached, arg.quoted ? arg.start : arg.end - attached.length, arg.end));
            arity--;
          forced = 1;
        }
      }
    }
    if (owner === undefined && attached !== undefined && !classified.ambiguous && !loaded.hasUnknown()) {
      // A word with `=` that names no option getopt knows (or one without a value) is an unknown option; after a
      // module iptscope does not know, it is that module's, kept verbatim.
      classified.owner = NO_OWNER;
      forced = 0;
      continue;
    }
    if (owner === undefined) {
      // Options of an extension we do not know take every following plain word, so the
      // rule still round-trips; the model reports the option as unknown.
      if (!classified.ambiguous && refusedCore === undefined) {
        for (let position = 0; position < loaded.count; position++) {
          if (loaded.tableAt(position) === null) {
            owner = loaded.ownerAt(position);
            break;
          }
        }
      }
      owner ??= NO_OWNER;
      classified.greedy = true;
      arity = 0;
      while (index + 1 + arity < args.length) {
        const following = args[index + 1 + arity]!;
        // iptables-save quotes values and never options: a quoted word is taken as a value here, where the arity
        // that would decide it is unknown.
        if ((isOptionLike(following) || isBang(following)) && !following.quoted) break;
        arity++;
      }
    }
    if (refusedCore !== undefined) classified.resolvedName = refusedCore;
    classified.owner = owner;
    forced += arity ?? 0;
  }
  return args as unknown as ClassifiedToken[];
}
