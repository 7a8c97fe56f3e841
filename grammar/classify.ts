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

export interface ClassifiedToken extends IToken, Omit<ArgToken, "tokenType" | "endOffset"> {
  owner?: OptionOwner;
  /** True if the owner's arity was unknown and the option took every following value. */
  greedy?: boolean;
  /** The option's full name when it was given abbreviated (getopt_long accepts unique prefixes). */
  resolvedName?: string;
  /** Set when the abbreviation fits options of several extensions. */
  ambiguous?: boolean;
}

interface LoadedExtension {
  name: string;
  options: readonly OptionSyntax[] | null;
  owner: OptionOwner;
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
function resolveOption(name: string, extensions: readonly LoadedExtension[]): Resolution | "ambiguous" | undefined {
  let prefix: Resolution | undefined;
  let prefixCount = 0;
  for (const extension of extensions) {
    if (!extension.options) continue;
    for (const option of extension.options) {
      for (const candidate of option.names) {
        if (candidate === name) return { owner: extension.owner, arity: option.arity, name: option.names[0]! };
        if (candidate.startsWith(name) && prefix?.name !== option.names[0]) {
          prefix = { owner: extension.owner, arity: option.arity, name: option.names[0]! };
          prefixCount++;
        }
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

/**
 * Classifies the arguments of one command line into grammar tokens. A word is an option
 * or a value depending on the options that the extensions loaded so far define, exactly
 * as iptables' getopt_long over its merged option table decides.
 */
export function classifyArgs(args: readonly ArgToken[], catalog: ExtensionCatalog): ClassifiedToken[] {
  const out: ClassifiedToken[] = new Array(args.length);
  const matches: LoadedExtension[] = [];
  let target: LoadedExtension | undefined;
  let loaded: LoadedExtension[] = [];
  let protocol: string | undefined;
  let implicitLoaded: string | undefined;
  let forced = 0;
  let count = 0;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (forced > 0) {
      out[count++] = token(Value, arg);
      forced--;
      continue;
    }
    if (isBang(arg)) {
      out[count++] = token(Bang, arg);
      continue;
    }
    if (!isOptionLike(arg)) {
      out[count++] = token(Value, arg);
      continue;
    }
    const core = coreOptionTokens.get(arg.value);
    if (core !== undefined) {
      out[count++] = token(core, arg);
      const next = args[index + 1];
      switch (core) {
        case MatchFlag:
          if (next) {
            matches.push({ name: next.value, options: catalog.matchOptions(next.value), owner: { kind: "match", index: matches.length } });
            loaded = target ? [target, ...[...matches].reverse()] : [...matches].reverse();
          }
          forced = 1;
          break;
        case Jump:
          if (next) {
            target = { name: next.value, options: catalog.targetOptions(next.value), owner: { kind: "target" } };
            loaded = [target, ...[...matches].reverse()];
          }
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
        resolution = resolveOption(optionName, [{ name: implicit, options, owner: { kind: "implicit-match", module: implicit } }]);
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
      if (!classified.ambiguous) owner = loaded.find((extension) => extension.options === null)?.owner;
      owner ??= { kind: "none" };
      classified.greedy = true;
      arity = 0;
      while (index + 1 + arity < args.length) {
        const following = args[index + 1 + arity]!;
        if (isOptionLike(following) || isBang(following)) break;
        arity++;
      }
    }
    classified.owner = owner;
    out[count++] = classified;
    forced = arity ?? 0;
  }
  out.length = count;
  return out;
}

