// The iptables model: what a dump says, typed and validated. Plain data, JSON-serialisable
// (counters are decimal strings because they are u64), independent of the parser.

export type Family = "ipv4" | "ipv6";

/** The two iptables-restore implementations; a few commands leave different rulesets in each. */
export type Backend = "nft" | "legacy";

export const TABLE_NAMES = ["raw", "mangle", "nat", "filter", "security"] as const;
export type TableName = (typeof TABLE_NAMES)[number];

export type BuiltinChainName = "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";

/** Built-in chains of each table, in the order iptables-save prints them (hook order). */
export const BUILTIN_CHAINS: Record<TableName, readonly BuiltinChainName[]> = {
  raw: ["PREROUTING", "OUTPUT"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  security: ["INPUT", "FORWARD", "OUTPUT"],
};

export interface SourceLocation {
  /** 1-based line number in the input. */
  line: number;
  /** 1-based column. */
  column: number;
}

export interface Counters {
  packets: string;
  bytes: string;
}

export type Policy = "ACCEPT" | "DROP" | "RETURN" | "-";

export interface Ruleset {
  family: Family;
  /** Tables in input order. */
  tables: Table[];
  /** `#` lines, with the position they had relative to tables, for faithful printing. */
  comments: CommentLine[];
  /** True if any rule carried `[p:b]` counters (`iptables-save -c`). */
  hasRuleCounters: boolean;
}

export interface CommentLine {
  line: number;
  text: string;
  /** Index of the table this comment precedes in the output (tables.length: after all). */
  beforeTable: number;
  /** True if the comment stood inside a table block (between `*table` and COMMIT). */
  insideTable: boolean;
}

export interface Table {
  name: TableName;
  line: number;
  /** Chains in declaration order; built-in chains included even when not declared. */
  chains: Chain[];
  /** Line of COMMIT, absent when missing. */
  commitLine?: number;
  /** Commands in input order, for restore input that is not plain `-A` (faithful printing). */
  statements: Statement[];
  /**
   * No line made a chain or a rule in the table (only -F, -Z or -X without a chain name, say): iptables-nft-restore
   * leaves no such table in the kernel, while iptables-legacy keeps its built-in chains.
   */
  nothingMade?: true;
}

/** A line inside a table block, in input order. */
export type Statement =
  | { kind: "chain-declaration"; chain: string; line: number }
  | Rule
  | { kind: "command"; command: ChainCommand }
  | { kind: "comment"; line: number; text: string };

export interface ChainCommand {
  kind: "new-chain" | "delete-chain" | "flush" | "zero" | "policy" | "rename-chain" | "delete" | "insert-position";
  line: number;
  text: string;
}

export interface Chain {
  name: string;
  builtin: boolean;
  /** `-` for user chains. */
  policy: Policy;
  counters: Counters;
  /** Line of the `:CHAIN` declaration (or `-N`), 0 if the chain was implied (a built-in not declared). */
  line: number;
  rules: Rule[];
}

export interface Rule {
  kind: "rule";
  table: TableName;
  chain: string;
  /** 1-based position within its chain, as `iptables -L --line-numbers` shows it. */
  position: number;
  line: number;
  /** The input line as written. */
  text: string;
  counters?: Counters;
  /** How the rule entered: `-A` appends, `-I` inserts. */
  command: "append" | "insert";
  source?: Negatable<AddressMask>;
  destination?: Negatable<AddressMask>;
  inInterface?: Negatable<string>;
  outInterface?: Negatable<string>;
  protocol?: Negatable<ProtocolSpec>;
  fragment?: { negated: boolean };
  /** Match extensions in order (implicit protocol matches included, marked). */
  matches: MatchModule[];
  target?: Target;
  /** `-4` or `-6` restriction, if written. */
  familyOnly?: Family;
}

export interface Negatable<T> {
  negated: boolean;
  value: T;
}

export interface AddressMask {
  /** Address as written after masking, in canonical text form (no prefix). */
  address: string;
  /** Prefix length when the mask is contiguous. */
  prefix?: number;
  /** The mask in address notation (always set). */
  mask: string;
  family: Family;
}

export interface ProtocolSpec {
  /** Canonical name as iptables 1.8.9 prints it, or the number. */
  name: string;
  number: number | undefined;
}

export interface MatchModule {
  name: string;
  /** Column of `-m` (0 for an implicit match). */
  column: number;
  /** Loaded by `-p tcp` without `-m tcp`; iptables-save prints it explicitly. */
  implicit: boolean;
  known: boolean;
  options: ExtensionOption[];
}

export interface Target {
  kind: "verdict" | "extension" | "chain";
  /** ACCEPT, DROP, DNAT, KUBE-SVC-…, … */
  name: string;
  goto: boolean;
  column: number;
  known: boolean;
  options: ExtensionOption[];
}

export interface ExtensionOption {
  /** Canonical option name without dashes, e.g. `dport`, `to-destination`. */
  name: string;
  /** The option as written (`--destination-port`). */
  written: string;
  negated: boolean;
  value: OptionValue;
  column: number;
}

export interface PortRange {
  from: number;
  to: number;
}

export interface NatRange {
  fromAddress?: string;
  toAddress?: string;
  fromPort?: number;
  toPort?: number;
  basePort?: number;
}

export type OptionValue =
  | { kind: "flag" }
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "number-range"; from: number; to: number }
  | { kind: "port-range"; range: PortRange }
  | { kind: "port-list"; ports: PortRange[] }
  | { kind: "mark"; value: number; mask: number | undefined }
  | { kind: "name-list"; names: string[] }
  | { kind: "tcp-flags"; mask: string[]; compare: string[] }
  | { kind: "icmp-type"; type: number | "any"; code?: PortRange; name?: string }
  | { kind: "address"; address: AddressMask }
  | { kind: "address-range"; from: string; to: string }
  | { kind: "nat-range"; range: NatRange }
  | { kind: "set"; name: string; directions: ("src" | "dst")[] }
  | { kind: "probability"; value: number; stored: number }
  | { kind: "rate"; per: number; unit: "sec" | "min" | "hour" | "day" }
  /** An option of an extension (or an option) iptscope does not model: kept as written. */
  /** Arguments of a modelled option that iptscope keeps as written and does not interpret (sctp --chunk-types). */
  | { kind: "words"; words: string[] }
  | { kind: "raw"; args: string[]; source: string };
