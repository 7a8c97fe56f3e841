// Lines of one shape — the same options in the same places, the same modules, targets and
// protocols, other values anywhere — classify and parse alike: the classifier reads only
// what the shape trie holds, and the parser reads only token types. So the grammar's
// outcome for a shape is kept, as word positions, and given again for the next line of
// that shape; the Chevrotain parser still decides every shape, and lines it rejects are
// never kept.

import type { ExtensionCatalog, OptionOwner } from "./classify.js";
import type { CommandSyntax, RuleItemSyntax } from "./parser.js";
import type { ArgToken, Words } from "./tokenizer.js";

/** A syntax value with word positions in place of tokens. */
type Position<V> = V extends ArgToken ? number : V extends ArgToken[] ? number[] : V extends RuleItemSyntax[] ? RuleItemShape[] : V;

/** A syntax object with word positions in place of tokens; an absent token is -1. */
type Positions<T> = T extends unknown ? { [K in keyof T]-?: Position<T[K]> } : never;

/** One item of a command, with word positions in place of tokens. */
export type RuleItemShape = Positions<RuleItemSyntax>;

/** A parsed command with word positions in place of tokens. */
export type CommandShape = Positions<CommandSyntax>;

/**
 * Shapes kept per catalog, as a trie with one level per argument. Each argument is
 * reduced to what the classifier reads of it: an option word as written, `!`, the word
 * after -m/-p, whether the word after -j names a target with options (else only that it
 * does not), and of any other word nothing. (`-I CHAIN 2` tests a word for digits, but a
 * word that is not an option is a value whatever that test says.)
 */
class ShapeNode {
  /** What the classifier reads of the next word, when this node's word is an option. */
  constructor(readonly reads: Reads = Reads.Nothing) {}

  /** Option words and `!`, as written. */
  words: Children | undefined;
  /** The word after -m or -p, or after -j when it names a target with options. */
  names: Children | undefined;
  /** After -j: a chain, or a target without an option table. */
  chain: ShapeNode | undefined;
  /** Any other word: the classifier reads nothing of it but that it is not an option. */
  other: ShapeNode | undefined;
  outcome: CommandShape | undefined;
}

/**
 * The children of a node by word. Most nodes have one, and comparing it in place with the line finds it (a map
 * would need the word read out of the line and hashed).
 */
class Children {
  private readonly others = new Map<string, ShapeNode>();

  constructor(
    private readonly word: string,
    private readonly node: ShapeNode,
  ) {}

  /** The child for argument `i` of `words`, compared in place with the first child's word. */
  find(words: Words, i: number): ShapeNode | undefined {
    if (words.is(i, this.word)) return this.node;
    return this.others.size === 0 ? undefined : this.others.get(words.read(i));
  }

  set(word: string, node: ShapeNode): void {
    this.others.set(word, node);
  }
}

function adopt(parent: ShapeNode, kind: "words" | "names", word: string, node: ShapeNode): ShapeNode {
  const children = parent[kind];
  if (children === undefined) parent[kind] = new Children(word, node);
  else children.set(word, node);
  return node;
}

/** Past this many trie nodes new shapes are parsed but not kept. */
const MAX_NODES = 65536;

interface ShapeCache {
  root: ShapeNode;
  nodes: number;
}

const caches = new WeakMap<ExtensionCatalog, ShapeCache>();

/** The catalog of the previous line, which is the catalog of nearly every line. */
let lastCatalog: ExtensionCatalog | undefined;
let lastCache: ShapeCache | undefined;

export function shapeCache(catalog: ExtensionCatalog): ShapeCache {
  if (catalog === lastCatalog) return lastCache!;
  let cache = caches.get(catalog);
  if (cache === undefined) {
    cache = { root: new ShapeNode(), nodes: 1 };
    caches.set(catalog, cache);
  }
  lastCatalog = catalog;
  lastCache = cache;
  return cache;
}

const enum Reads {
  Nothing,
  Name,
  Target,
}

/** Core options whose next word the classifier reads: a match name, a protocol, a target. */
const READERS: ReadonlyMap<string, Reads> = new Map([
  ["-m", Reads.Name], ["--match", Reads.Name], ["-p", Reads.Name], ["--protocol", Reads.Name],
  ["-j", Reads.Target], ["--jump", Reads.Target],
]);

/** Walks the trie along `words`; with `cache` set, adds the missing nodes. */
function walk(node: ShapeNode, words: Words, catalog: ExtensionCatalog, cache?: ShapeCache): ShapeNode | undefined {
  let reads = Reads.Nothing;
  for (let i = 0; i < words.count; i++) {
    let next: ShapeNode | undefined;
    if (words.isOption(i)) {
      next = node.words?.find(words, i);
      if (next === undefined && cache) next = adopt(node, "words", words.read(i), added(cache, READERS.get(words.read(i))));
    } else if (reads === Reads.Name || (reads === Reads.Target && catalog.targetOptions(words.read(i)) !== null)) {
      next = node.names?.find(words, i);
      if (next === undefined && cache) next = adopt(node, "names", words.read(i), added(cache));
    } else {
      // The trie reads nothing of a value, but the builder will.
      words.read(i);
      if (reads === Reads.Target) {
        next = node.chain;
        if (next === undefined && cache) next = node.chain = added(cache);
      } else {
        next = node.other;
        if (next === undefined && cache) next = node.other = added(cache);
      }
    }
    if (next === undefined) return undefined;
    reads = next.reads;
    node = next;
  }
  return node;
}

function added(cache: ShapeCache, reads?: Reads): ShapeNode {
  cache.nodes++;
  return new ShapeNode(reads);
}

/** The kept outcome for a line of these words, if its shape was parsed before. */
export function knownShape(cache: ShapeCache, words: Words, catalog: ExtensionCatalog): CommandShape | undefined {
  return walk(cache.root, words, catalog)?.outcome;
}

/** The shape of a line the parser accepted (`tokens` made from `words`), kept for the next lines. */
export function rememberShape(
  cache: ShapeCache, words: Words, tokens: readonly ArgToken[], catalog: ExtensionCatalog, command: CommandSyntax, keep = true,
): CommandShape {
  const at = new Map<ArgToken, number>();
  tokens.forEach((token, index) => at.set(token, index));
  const position = (token: ArgToken | undefined): number => (token === undefined ? -1 : at.get(token)!);
  const items = command.items.map((item): RuleItemShape => {
    switch (item.kind) {
      case "core":
        return uniform({ kind: "core", option: item.option, negation: position(item.negation), optionToken: position(item.optionToken), value: position(item.value) });
      case "fragment":
        return uniform({ kind: "fragment", negation: position(item.negation), optionToken: position(item.optionToken) });
      case "match":
        return uniform({ kind: "match", optionToken: position(item.optionToken), name: position(item.name) });
      case "jump":
      case "goto":
        return uniform({ kind: item.kind, optionToken: position(item.optionToken), target: position(item.target) });
      case "option":
        return uniform({
          kind: "option", negation: position(item.negation), optionToken: position(item.optionToken), values: item.values.map(position),
          owner: item.owner, greedy: item.greedy, resolvedName: item.resolvedName, ambiguous: item.ambiguous,
        });
      case "set-counters":
        return uniform({ kind: "set-counters", optionToken: position(item.optionToken), packets: position(item.packets), bytes: position(item.bytes) });
      case "family":
        return uniform({ kind: "family", optionToken: position(item.optionToken), family: item.family });
      case "ignored":
        return uniform({ kind: "ignored", optionToken: position(item.optionToken), value: position(item.value) });
      default: {
        const never: never = item;
        throw new Error(`unhandled rule item ${JSON.stringify(never)}`);
      }
    }
  });
  const shape: CommandShape = { kind: command.kind, commandToken: position(command.commandToken), operands: command.operands.map(position), items };
  if (keep && cache.nodes + words.count <= MAX_NODES) walk(cache.root, words, catalog, cache)!.outcome = shape;
  return shape;
}

/**
 * The item with every field any item kind has, in one order. The builder reads items of all
 * kinds at the same places, and one hidden class for them all keeps those reads monomorphic
 * (a union of object shapes made the builder deoptimise as each new kind turned up).
 */
function uniform<T extends RuleItemShape>(item: T): T {
  const every = {
    kind: item.kind, option: undefined, negation: -1, optionToken: -1, value: -1, name: -1, target: -1, values: NO_WORDS,
    owner: undefined, greedy: false, resolvedName: undefined, ambiguous: false, packets: -1, bytes: -1, family: undefined,
  };
  return Object.assign(every, item);
}

const NO_WORDS: readonly number[] = Object.freeze([]);
