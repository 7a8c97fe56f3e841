// Model values repeat across rules (`-p tcp`, `--ctstate NEW`, `-m statistic --mode random`):
// the builder shares one frozen object per distinct value, so a large dump holds far fewer
// objects than it has options. Frozen, because a change to a shared object would change
// every rule that holds it.

import type { ExtensionOption, MatchModule, Negatable, OptionValue } from "./types.js";

export const NO_OPTIONS: ExtensionOption[] = Object.freeze([]) as unknown as ExtensionOption[];
export const NO_MATCHES: MatchModule[] = Object.freeze([]) as unknown as MatchModule[];

/** Freezes a value built by a codec, with the arrays and objects inside it. */
export function freezeDeep<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key in value) {
    const inner = value[key];
    if (typeof inner === "object" && inner !== null) freezeDeep(inner);
  }
  return value;
}

/** The negatables of one shared value, each built when a rule first needs it. */
export interface Negatables<T> {
  readonly value: T;
  positive: Negatable<T> | undefined;
  negative: Negatable<T> | undefined;
}

export function negatables<T>(value: T): Negatables<T> {
  return { value, positive: undefined, negative: undefined };
}

export function negatable<T>(shared: Negatables<T>, negated: boolean): Negatable<T> {
  if (negated) return (shared.negative ??= Object.freeze({ negated: true, value: shared.value }));
  return (shared.positive ??= Object.freeze({ negated: false, value: shared.value }));
}

/**
 * Shared objects per key: one object (the common case) or a few candidates. Past
 * MAX_CANDIDATES new objects are still built but no longer remembered, so a lookup stays cheap.
 */
type Candidates<T> = T | T[];

const MAX_CANDIDATES = 8;

function added<T extends object>(found: Candidates<T> | undefined, value: T): Candidates<T> {
  if (found === undefined) return value;
  if (!Array.isArray(found)) return [found, value];
  if (found.length < MAX_CANDIDATES) found.push(value);
  return found;
}

/** A decoded option value and the options built around it so far. */
export interface SharedValue {
  readonly value: OptionValue;
  options: Candidates<ExtensionOption> | undefined;
}

const sameOption = (o: ExtensionOption, name: string, written: string, negated: boolean, column: number): boolean =>
  o.column === column && o.negated === negated && o.written === written && o.name === name;

function sameOptions(a: readonly ExtensionOption[], b: readonly ExtensionOption[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const sameModule = (m: MatchModule, name: string, column: number, implicit: boolean, known: boolean, options: readonly ExtensionOption[]): boolean =>
  m.column === column && m.name === name && m.implicit === implicit && m.known === known && sameOptions(m.options, options);

/**
 * Options as rules hold them: frozen, and exact-size (arrays of one or two options are
 * built as literals, so they are frozen as they are; longer ones grew by push and are copied).
 */
export function frozenOptions(options: ExtensionOption[]): ExtensionOption[] {
  if (options.length === 0) return NO_OPTIONS;
  return Object.freeze(options.length <= 2 ? options : options.slice()) as ExtensionOption[];
}

/**
 * The shared objects of one parse. An object built from a value seen for the first time
 * cannot equal an earlier one: it is built without a lookup, and `fresh` says so.
 */
export class Interner {
  private readonly modules = new Map<string | ExtensionOption, Candidates<MatchModule>>();
  /** Set by option(): whether it built a new object. */
  fresh = false;

  option(shared: SharedValue, name: string, written: string, negated: boolean, column: number): ExtensionOption {
    const found = shared.options;
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (sameOption(found, name, written, negated, column)) {
          this.fresh = false;
          return found;
        }
      } else {
        for (const o of found) {
          if (sameOption(o, name, written, negated, column)) {
            this.fresh = false;
            return o;
          }
        }
      }
    }
    const option: ExtensionOption = Object.freeze({ name, written, negated, value: shared.value, column });
    shared.options = added(found, option);
    this.fresh = true;
    return option;
  }

  /**
   * A module of shared options; `fresh` when one of them is new, so no earlier module can be equal.
   * `options` is the caller's, built for this module: it becomes the module's, frozen.
   */
  module(name: string, column: number, implicit: boolean, known: boolean, options: ExtensionOption[], fresh: boolean): MatchModule {
    if (fresh) return Object.freeze({ name, column, implicit, known, options: frozenOptions(options) });
    const key = options.length === 0 ? name : options[0]!;
    const found = this.modules.get(key);
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (sameModule(found, name, column, implicit, known, options)) return found;
      } else {
        for (const m of found) if (sameModule(m, name, column, implicit, known, options)) return m;
      }
    }
    const module: MatchModule = Object.freeze({ name, column, implicit, known, options: frozenOptions(options) });
    const candidates = added(found, module);
    if (candidates !== found) this.modules.set(key, candidates);
    return module;
  }
}
