import type { IToken, TokenType } from "chevrotain";
import type { ArgToken } from "./tokenizer.js";
import {
  Append, Bang, coreOptionTokens, Delete, DeleteChain, ExtensionOption, FamilyFlag, Flush, Goto, Insert, Jump,
  MatchFlag, NewChain, Protocol, RenameChain, Replace, SetCounters, SetPolicy, Value, Zero, Fragment,
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
  /** Set when the abbreviation fits options of several extensions. */
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

  get count(): number {
    return this.merged.length + (this.target === undefined ? 0 : 1);
  }
}

interface Resolution {
  owner: OptionOwner;
  arity: number;
  name: string;
}

/**
 * getopt_long over iptables' merged option table: an exact name wins; otherwise a prefix
 * of exactly one option is taken; several prefixes are ambiguous.
 */
function resolveOption(name: string, loaded: LoadedExtensions): Resolution | "ambiguous" | undefined {
  const count = loaded.count;
  for (let position = 0; position < count; position++) {
    const options = loaded.tableAt(position);
    const exact = options && exactName(options, name);
    if (exact) return { owner: loaded.ownerAt(position), arity: exact.arity, name: exact.names[0]! };
  }
  let prefix: Resolution | undefined;
  let prefixCount = 0;
  for (let position = 0; position < count; position++) {
    const options = loaded.tableAt(position);
    if (!options) continue;
    for (const option of options) {
      for (const candidate of option.names) {
        if (candidate.startsWith(name) && prefix?.name !== option.names[0]) {
          prefix = { owner: loaded.ownerAt(position), arity: option.arity, name: option.names[0]! };
          prefixCount++;
        }
      }
    }
  }
  if (prefixCount > 1) return "ambiguous";
  return prefix;
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

function isOptionLike(arg: ArgToken): boolean {
  return !arg.quoted && arg.value.length > 1 && arg.value.charCodeAt(0) === 0x2d;
}

function isBang(arg: ArgToken): boolean {
  return !arg.quoted && arg.value === "!";
}

const loaded = new LoadedExtensions();

/**
 * Classifies the arguments of one command line into grammar tokens, in place (the returned
 * array is `args`). A word is an option or a value depending on the options that the
 * extensions loaded so far define, exactly as iptables' getopt_long over its merged option
 * table decides.
 */
export function classifyArgs(args: readonly ArgToken[], catalog: ExtensionCatalog): ClassifiedToken[] {
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
    const core = coreOptionTokens.get(arg.value);
    if (core !== undefined) {
      token(core, arg);
      const next = args[index + 1];
      switch (core) {
        case MatchFlag:
          if (next) loaded.addMatch(next.value, catalog.matchOptions(next.value));
          forced = 1;
          break;
        case Jump:
          if (next) loaded.target = catalog.targetOptions(next.value);
          forced = 1;
          break;
        case Protocol:
          if (next) protocol = next.value;
          forced = 1;
          break;
        case Insert:
        case Delete:
          forced = args[index + 2] !== undefined && DIGITS.test(args[index + 2]!.value) ? 2 : 1;
          break;
        case Replace:
        case SetPolicy:
        case RenameChain:
        case SetCounters:
          forced = 2;
          break;
        case DeleteChain:
        case Flush:
        case Zero:
          forced = next !== undefined && !isOptionLike(next) && !isBang(next) ? 1 : 0;
          break;
        case Fragment:
        case FamilyFlag:
          forced = 0;
          break;
        case Append:
        case NewChain:
        case Goto:
        default:
          forced = 1;
      }
      continue;
    }
    const optionName = arg.value.startsWith("--") ? arg.value.slice(2) : arg.value.slice(1);
    const classified = token(ExtensionOption, arg);
    let arity: number | undefined;
    let owner: OptionOwner | undefined;
    let resolution = resolveOption(optionName, loaded);
    if (resolution === undefined && protocol !== undefined) {
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
      owner = resolution.owner;
      arity = resolution.arity;
      if (resolution.name !== optionName) classified.resolvedName = resolution.name;
    }
    if (owner === undefined) {
      // Options of an extension we do not know take every following plain word, so the
      // rule still round-trips; the model reports the option as unknown.
      if (!classified.ambiguous) {
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
        if (isOptionLike(following) || isBang(following)) break;
        arity++;
      }
    }
    classified.owner = owner;
    forced = arity ?? 0;
  }
  return args as unknown as ClassifiedToken[];
}
