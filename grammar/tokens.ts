import type { TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

// Token types of one iptables command line. They are produced by the classifier
// (grammar/classify.ts), not by a Chevrotain lexer: iptables decides whether a word is an
// option or a value from the option table of the loaded extensions, which a regular lexer
// cannot know. The patterns are never run.
const never = Lexer.NA;

export const CommandToken = createToken({ name: "CommandToken", pattern: never });
export const Append = createToken({ name: "Append", pattern: never, categories: CommandToken });
export const Insert = createToken({ name: "Insert", pattern: never, categories: CommandToken });
export const Delete = createToken({ name: "Delete", pattern: never, categories: CommandToken });
export const Replace = createToken({ name: "Replace", pattern: never, categories: CommandToken });
export const NewChain = createToken({ name: "NewChain", pattern: never, categories: CommandToken });
export const DeleteChain = createToken({ name: "DeleteChain", pattern: never, categories: CommandToken });
export const Flush = createToken({ name: "Flush", pattern: never, categories: CommandToken });
export const Zero = createToken({ name: "Zero", pattern: never, categories: CommandToken });
export const SetPolicy = createToken({ name: "SetPolicy", pattern: never, categories: CommandToken });
export const RenameChain = createToken({ name: "RenameChain", pattern: never, categories: CommandToken });

export const CoreValueOption = createToken({ name: "CoreValueOption", pattern: never });
export const Source = createToken({ name: "Source", pattern: never, categories: CoreValueOption });
export const Destination = createToken({ name: "Destination", pattern: never, categories: CoreValueOption });
export const InInterface = createToken({ name: "InInterface", pattern: never, categories: CoreValueOption });
export const OutInterface = createToken({ name: "OutInterface", pattern: never, categories: CoreValueOption });
export const Protocol = createToken({ name: "Protocol", pattern: never, categories: CoreValueOption });

export const Fragment = createToken({ name: "Fragment", pattern: never });
export const MatchFlag = createToken({ name: "MatchFlag", pattern: never });
export const Jump = createToken({ name: "Jump", pattern: never });
export const Goto = createToken({ name: "Goto", pattern: never });
export const SetCounters = createToken({ name: "SetCounters", pattern: never });
export const FamilyFlag = createToken({ name: "FamilyFlag", pattern: never });
/** `-v`: iptables-restore takes it with a rule and it changes nothing there. */
export const IgnoredFlag = createToken({ name: "IgnoredFlag", pattern: never });
/** `-M PROGRAM`: the modprobe program; it changes nothing in the ruleset. */
export const IgnoredValueOption = createToken({ name: "IgnoredValueOption", pattern: never });
export const Bang = createToken({ name: "Bang", pattern: never });
/** An option of a match or target extension (`--dport`, `--to-destination`, …). */
export const ExtensionOption = createToken({ name: "ExtensionOption", pattern: never });
export const Value = createToken({ name: "Value", pattern: never });

export const allTokens: TokenType[] = [
  CommandToken, Append, Insert, Delete, Replace, NewChain, DeleteChain, Flush, Zero, SetPolicy, RenameChain,
  CoreValueOption, Source, Destination, InInterface, OutInterface, Protocol,
  Fragment, MatchFlag, Jump, Goto, SetCounters, FamilyFlag, IgnoredFlag, IgnoredValueOption, Bang, ExtensionOption, Value,
];

/** Short and long spellings of iptables' own options (xshared.c), mapped to token types. */
export const coreOptionTokens: ReadonlyMap<string, TokenType> = new Map<string, TokenType>([
  ["-A", Append], ["--append", Append],
  ["-I", Insert], ["--insert", Insert],
  ["-D", Delete], ["--delete", Delete],
  ["-R", Replace], ["--replace", Replace],
  ["-N", NewChain], ["--new-chain", NewChain],
  ["-X", DeleteChain], ["--delete-chain", DeleteChain],
  ["-F", Flush], ["--flush", Flush],
  ["-Z", Zero], ["--zero", Zero],
  ["-P", SetPolicy], ["--policy", SetPolicy],
  ["-E", RenameChain], ["--rename-chain", RenameChain],
  ["-s", Source], ["--source", Source], ["--src", Source],
  ["-d", Destination], ["--destination", Destination], ["--dst", Destination],
  ["-i", InInterface], ["--in-interface", InInterface],
  ["-o", OutInterface], ["--out-interface", OutInterface],
  ["-p", Protocol], ["--protocol", Protocol],
  ["-f", Fragment], ["--fragments", Fragment],
  ["-m", MatchFlag], ["--match", MatchFlag],
  ["-j", Jump], ["--jump", Jump],
  ["-g", Goto], ["--goto", Goto],
  ["-c", SetCounters], ["--set-counters", SetCounters],
  ["-4", FamilyFlag], ["--ipv4", FamilyFlag],
  ["-6", FamilyFlag], ["--ipv6", FamilyFlag],
  ["-v", IgnoredFlag], ["--verbose", IgnoredFlag],
  ["-M", IgnoredValueOption], ["--modprobe", IgnoredValueOption],
]);

/** A long option of iptables' own table (original_opts in iptables.c), in its order there. */
export interface CoreLongOption {
  name: string;
  /** getopt's `val`: options with one are the same option (`--source`, `--src`). */
  letter: string;
  takesArgument: boolean;
  /** The token of the option; undefined for those iptables-restore refuses with a rule (`--table`, `--numeric`, …). */
  token: TokenType | undefined;
}

const longOption = (name: string, letter: string, takesArgument: boolean): CoreLongOption => ({
  name, letter, takesArgument, token: coreOptionTokens.get(`-${letter}`),
});

/**
 * getopt_long resolves an abbreviation over this table and the loaded extensions' options together, so an
 * abbreviation may name a core option (`--sou` is `--source`) or be ambiguous with one (`--so` after `-m tcp`).
 * Options with an optional argument (`--list`, `--wait`, …) count as taking one.
 */
export const CORE_LONG_OPTIONS: readonly CoreLongOption[] = [
  longOption("append", "A", true), longOption("delete", "D", true), longOption("check", "C", true),
  longOption("insert", "I", true), longOption("replace", "R", true), longOption("list", "L", true),
  longOption("list-rules", "S", true), longOption("flush", "F", true), longOption("zero", "Z", true),
  longOption("new-chain", "N", true), longOption("delete-chain", "X", true), longOption("rename-chain", "E", true),
  longOption("policy", "P", true), longOption("source", "s", true), longOption("destination", "d", true),
  longOption("src", "s", true), longOption("dst", "d", true), longOption("protocol", "p", true),
  longOption("in-interface", "i", true), longOption("jump", "j", true), longOption("table", "t", true),
  longOption("match", "m", true), longOption("numeric", "n", false), longOption("out-interface", "o", true),
  longOption("verbose", "v", false), longOption("wait", "w", true), longOption("wait-interval", "W", true),
  longOption("exact", "x", false), longOption("fragments", "f", false), longOption("version", "V", false),
  longOption("help", "h", true), longOption("line-numbers", "0", false), longOption("modprobe", "M", true),
  longOption("set-counters", "c", true), longOption("goto", "g", true), longOption("ipv4", "4", false),
  longOption("ipv6", "6", false),
];
