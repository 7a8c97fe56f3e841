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

/**
 * One of iptables' own options as getopt sees it (the optstring and original_opts of iptables.c). iptables reads
 * the value of some from getopt's optarg (what follows `=` or the letter) and of others from the whole word that
 * held it (argv[optind - 1]: `-ptcp` names the protocol "-ptcp", `-mtcp` loads tcp).
 */
export interface CoreOption {
  letter: string;
  argument: "none" | "required" | "optional";
  value: "optarg" | "word";
  /** The token of the option; undefined for those iptables-restore refuses with a rule (`-t`, `-n`, `-L`, …). */
  token: TokenType | undefined;
}

const coreOption = (letter: string, argument: CoreOption["argument"], value: CoreOption["value"] = "optarg"): CoreOption => ({
  letter, argument, value, token: coreOptionTokens.get(`-${letter}`),
});

export const CORE_SHORT_OPTIONS: ReadonlyMap<string, CoreOption> = new Map(
  [
    coreOption("A", "required"), coreOption("C", "required"), coreOption("D", "required"), coreOption("R", "required"),
    coreOption("I", "required"), coreOption("L", "optional"), coreOption("S", "optional"), coreOption("M", "required"),
    coreOption("F", "optional"), coreOption("Z", "optional"), coreOption("N", "required"), coreOption("X", "optional"),
    coreOption("E", "required"), coreOption("P", "required"), coreOption("V", "none"), coreOption("h", "optional"),
    coreOption("o", "required", "word"), coreOption("p", "required", "word"), coreOption("s", "required", "word"),
    coreOption("d", "required", "word"), coreOption("j", "required", "word"), coreOption("i", "required", "word"),
    coreOption("f", "none"), coreOption("v", "none"), coreOption("w", "optional"), coreOption("W", "optional"),
    coreOption("n", "none"), coreOption("t", "required"), coreOption("m", "required"), coreOption("x", "none"),
    coreOption("c", "required"), coreOption("g", "required"), coreOption("4", "none"), coreOption("6", "none"),
    coreOption("0", "none"),
  ].map((option) => [option.letter, option]),
);

/** A long option of iptables' own table, in its order there. */
export interface CoreLongOption {
  name: string;
  option: CoreOption;
}

/**
 * getopt_long resolves an abbreviation over this table and the loaded extensions' options together, so an
 * abbreviation may name a core option (`--sou` is `--source`) or be ambiguous with one (`--so` after `-m tcp`).
 * Options with one letter are one option (getopt's `val`: `--source`, `--src`).
 */
export const CORE_LONG_OPTIONS: readonly CoreLongOption[] = (
  [
    ["append", "A"], ["delete", "D"], ["check", "C"], ["insert", "I"], ["replace", "R"], ["list", "L"], ["list-rules", "S"],
    ["flush", "F"], ["zero", "Z"], ["new-chain", "N"], ["delete-chain", "X"], ["rename-chain", "E"], ["policy", "P"],
    ["source", "s"], ["destination", "d"], ["src", "s"], ["dst", "d"], ["protocol", "p"], ["in-interface", "i"], ["jump", "j"],
    ["table", "t"], ["match", "m"], ["numeric", "n"], ["out-interface", "o"], ["verbose", "v"], ["wait", "w"],
    ["wait-interval", "W"], ["exact", "x"], ["fragments", "f"], ["version", "V"], ["help", "h"], ["line-numbers", "0"],
    ["modprobe", "M"], ["set-counters", "c"], ["goto", "g"], ["ipv4", "4"], ["ipv6", "6"],
  ] as const
).map(([name, letter]) => ({ name, option: CORE_SHORT_OPTIONS.get(letter)! }));
