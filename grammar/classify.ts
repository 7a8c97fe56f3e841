import type { IToken, TokenType } from "chevrotain";
import type { ArgToken } from "./tokenizer.js";
import {
  Append, Bang, coreOptionTokens, Delete, DeleteChain, ExtensionOption, FamilyFlag, Flush, Goto, Insert, Jump,
  MatchFlag, NewChain, Protocol, RenameChain, Replace, SetCounters, SetPolicy, Value, Zero, Fragment,
} from "./tokens.js";

/** What the grammar needs to know about extensions: how many arguments each option takes. */
export interface ExtensionCatalog {
  /** Arity of `option` in match `module`; `undefined` if the module lacks it, `null` if the module is unknown. */
  matchOptionArity(module: string, option: string): number | undefined | null;
  targetOptionArity(target: string, option: string): number | undefined | null;
  /** The match iptables loads implicitly for `-p PROTO` (tcp → tcp, ipv6-icmp → icmp6). */
  implicitMatch(protocol: string): string | undefined;
}

/** Which extension an option was given to, resolved as iptables' merged getopt table does. */
export type OptionOwner =
  | { kind: "match"; index: number }
  | { kind: "implicit-match"; module: string }
  | { kind: "target" }
  | { kind: "none" };

export interface ClassifiedToken extends IToken {
  arg: ArgToken;
  owner?: OptionOwner;
  /** True if the owner's arity was unknown and the option took every following value. */
  greedy?: boolean;
}

interface LoadedExtension {
  name: string;
  known: boolean;
}

function token(type: TokenType, arg: ArgToken): ClassifiedToken {
  return {
    image: arg.value,
    startOffset: arg.start,
    endOffset: arg.end - 1,
    tokenType: type,
    tokenTypeIdx: type.tokenTypeIdx!,
    arg,
  };
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
          if (next) matches.push({ name: next.value, known: catalog.matchOptionArity(next.value, "") !== null });
          forced = 1;
          break;
        case Jump:
          if (next) target = { name: next.value, known: catalog.targetOptionArity(next.value, "") !== null };
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
    const optionName = arg.value;
    const classified = token(ExtensionOption, arg);
    let arity: number | undefined;
    let owner: OptionOwner | undefined;
    if (target) {
      const found = catalog.targetOptionArity(target.name, optionName);
      if (typeof found === "number") {
        arity = found;
        owner = { kind: "target" };
      }
    }
    for (let m = matches.length - 1; owner === undefined && m >= 0; m--) {
      const found = catalog.matchOptionArity(matches[m]!.name, optionName);
      if (typeof found === "number") {
        arity = found;
        owner = { kind: "match", index: m };
      }
    }
    if (owner === undefined && protocol !== undefined) {
      const implicit = implicitLoaded ?? catalog.implicitMatch(protocol);
      if (implicit !== undefined) {
        const found = catalog.matchOptionArity(implicit, optionName);
        if (typeof found === "number") {
          arity = found;
          owner = { kind: "implicit-match", module: implicit };
          implicitLoaded = implicit;
        }
      }
    }
    if (owner === undefined) {
      // Options of an extension we do not know take every following plain word, so the
      // rule still round-trips; the model reports the option as unknown.
      if (target && !target.known) owner = { kind: "target" };
      else {
        for (let m = matches.length - 1; owner === undefined && m >= 0; m--) {
          if (!matches[m]!.known) owner = { kind: "match", index: m };
        }
      }
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

