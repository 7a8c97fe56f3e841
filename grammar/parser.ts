import type { IOrAlt, IRecognitionException, IToken, TokenType } from "chevrotain";
import { EmbeddedActionsParser } from "./chevrotain.js";
import type { ClassifiedToken, OptionOwner } from "./classify.js";
import type { ArgToken } from "./tokenizer.js";
import {
  allTokens, Append, Bang, CoreValueOption, Delete, DeleteChain, Destination, ExtensionOption, FamilyFlag, Flush,
  Fragment, Goto, IgnoredFlag, IgnoredValueOption, InInterface, Insert, Jump, MatchFlag, NewChain, OutInterface,
  Protocol, RenameChain, Replace, SetCounters, SetPolicy, Source, Value, Zero,
} from "./tokens.js";

export type CommandKind =
  | "append" | "insert" | "delete" | "replace" | "new-chain" | "delete-chain" | "flush" | "zero" | "policy"
  | "rename-chain";

export type CoreOptionName = "source" | "destination" | "in-interface" | "out-interface" | "protocol";

export type RuleItemSyntax =
  | { kind: "core"; option: CoreOptionName; negation?: ArgToken; optionToken: ArgToken; value: ArgToken }
  | { kind: "fragment"; negation?: ArgToken; optionToken: ArgToken }
  | { kind: "match"; optionToken: ArgToken; name: ArgToken }
  | { kind: "jump" | "goto"; optionToken: ArgToken; target: ArgToken }
  | {
      kind: "option";
      negation?: ArgToken;
      optionToken: ArgToken;
      values: ArgToken[];
      owner: OptionOwner;
      greedy: boolean;
      /** Full option name when it was abbreviated. */
      resolvedName: string | undefined;
      ambiguous: boolean;
    }
  | { kind: "set-counters"; optionToken: ArgToken; packets: ArgToken; bytes: ArgToken }
  | { kind: "family"; optionToken: ArgToken; family: 4 | 6 }
  /** `-v`, `-M PROGRAM`: taken and without effect on the rule. */
  | { kind: "ignored"; optionToken: ArgToken; value?: ArgToken };

/** One iptables command (`-A CHAIN rule…`, `-N CHAIN`, …) as written. */
export interface CommandSyntax {
  kind: CommandKind;
  commandToken: ArgToken;
  /** Chain name, then rule number / new name / policy, as the command takes them. */
  operands: ArgToken[];
  items: RuleItemSyntax[];
}

const coreOptionNames = new Map<TokenType, CoreOptionName>([
  [Source, "source"], [Destination, "destination"], [InInterface, "in-interface"],
  [OutInterface, "out-interface"], [Protocol, "protocol"],
]);

const arg = (token: IToken): ArgToken => token as unknown as ArgToken;

function coreItem(negation: IToken | undefined, optionToken: IToken, value: IToken): RuleItemSyntax {
  return {
    kind: "core",
    option: coreOptionNames.get(optionToken.tokenType)!,
    negation: negation && arg(negation),
    optionToken: arg(optionToken),
    value: arg(value),
  };
}

function optionItem(negation: IToken | undefined, optionToken: IToken, values: ArgToken[]): RuleItemSyntax {
  const classified = optionToken as ClassifiedToken;
  return {
    kind: "option",
    negation: negation && arg(negation),
    optionToken: arg(optionToken),
    values,
    owner: classified.owner!,
    greedy: classified.greedy === true,
    resolvedName: classified.resolvedName,
    ambiguous: classified.ambiguous === true,
  };
}

// Performance: the alternatives of each OR are built once (Chevrotain's guidance) and take
// no closure variables, and all rule items of a command are parsed by one rule invocation;
// the actions only build plain objects, which is harmless during Chevrotain's recording phase.
class CommandParser extends EmbeddedActionsParser {
  /** The values of the extension option being parsed. */
  private optionValues: ArgToken[] = [];

  private readonly pushOptionValue = (): void => {
    this.optionValues.push(arg(this.CONSUME8(Value)));
  };

  private readonly pushNegatedOptionValue = (): void => {
    this.optionValues.push(arg(this.CONSUME9(Value)));
  };

  private readonly negatedAlternatives: IOrAlt<RuleItemSyntax>[] = [
    { ALT: () => coreItem(this.LA(0), this.CONSUME2(CoreValueOption), this.CONSUME7(Value)) },
    { ALT: () => ({ kind: "fragment", negation: arg(this.LA(0)), optionToken: arg(this.CONSUME2(Fragment)) }) },
    {
      ALT: () => {
        const negation = this.LA(0);
        const optionToken = this.CONSUME2(ExtensionOption);
        const values: ArgToken[] = (this.optionValues = []);
        this.MANY3(this.pushNegatedOptionValue);
        return optionItem(negation, optionToken, values);
      },
    },
  ];

  private readonly itemAlternatives: IOrAlt<RuleItemSyntax>[] = [
    {
      ALT: () => {
        this.CONSUME(Bang);
        return this.OR2(this.negatedAlternatives);
      },
    },
    { ALT: () => coreItem(undefined, this.CONSUME(CoreValueOption), this.CONSUME6(Value)) },
    { ALT: () => ({ kind: "fragment", optionToken: arg(this.CONSUME(Fragment)) }) },
    {
      ALT: () => {
        const optionToken = this.CONSUME(ExtensionOption);
        const values: ArgToken[] = (this.optionValues = []);
        this.MANY2(this.pushOptionValue);
        return optionItem(undefined, optionToken, values);
      },
    },
    { ALT: () => ({ kind: "match", optionToken: arg(this.CONSUME(MatchFlag)), name: arg(this.CONSUME1(Value)) }) },
    { ALT: () => ({ kind: "jump", optionToken: arg(this.CONSUME(Jump)), target: arg(this.CONSUME2(Value)) }) },
    { ALT: () => ({ kind: "goto", optionToken: arg(this.CONSUME(Goto)), target: arg(this.CONSUME3(Value)) }) },
    {
      ALT: () => ({
        kind: "set-counters", optionToken: arg(this.CONSUME(SetCounters)), packets: arg(this.CONSUME4(Value)), bytes: arg(this.CONSUME5(Value)),
      }),
    },
    { ALT: () => ({ kind: "ignored", optionToken: arg(this.CONSUME(IgnoredFlag)) }) },
    { ALT: () => ({ kind: "ignored", optionToken: arg(this.CONSUME(IgnoredValueOption)), value: arg(this.consume(10, Value)) }) },
    {
      ALT: () => {
        const optionToken = this.CONSUME(FamilyFlag);
        return { kind: "family", optionToken: arg(optionToken), family: optionToken.image === "-6" || optionToken.image === "--ipv6" ? 6 : 4 };
      },
    },
  ];

  // Each operand position is its own occurrence of Value in the grammar.
  private readonly commandAlternatives: IOrAlt<CommandSyntax>[] = [
    { ALT: () => command("append", this.CONSUME(Append), this.consume(1, Value), undefined, this.SUBRULE1(this.ruleItems)) },
    {
      ALT: () =>
        command("insert", this.CONSUME(Insert), this.consume(2, Value), this.OPTION(() => this.consume(3, Value)), this.SUBRULE2(this.ruleItems)),
    },
    {
      ALT: () =>
        command("delete", this.CONSUME(Delete), this.consume(4, Value), this.OPTION2(() => this.consume(5, Value)), this.SUBRULE3(this.ruleItems)),
    },
    { ALT: () => command("replace", this.CONSUME(Replace), this.consume(6, Value), this.consume(7, Value), this.SUBRULE4(this.ruleItems)) },
    { ALT: () => command("new-chain", this.CONSUME(NewChain), this.consume(8, Value)) },
    { ALT: () => command("delete-chain", this.CONSUME(DeleteChain), this.OPTION3(() => this.consume(9, Value))) },
    { ALT: () => command("flush", this.CONSUME(Flush), this.OPTION4(() => this.consume(10, Value))) },
    { ALT: () => command("zero", this.CONSUME(Zero), this.OPTION5(() => this.consume(11, Value))) },
    { ALT: () => command("policy", this.CONSUME(SetPolicy), this.consume(12, Value), this.consume(13, Value)) },
    { ALT: () => command("rename-chain", this.CONSUME(RenameChain), this.consume(14, Value), this.consume(15, Value)) },
  ];

  constructor() {
    super(allTokens, { maxLookahead: 1, skipValidations: process.env.IPTSCOPE_GRAMMAR_CHECKS !== "1" });
    this.performSelfAnalysis();
  }

  // getopt lets rule options come before the command too (`-c 1 2 -A INPUT …`).
  public command = this.RULE("command", (): CommandSyntax => {
    const leading = this.SUBRULE(this.ruleItems);
    const result = this.OR(this.commandAlternatives);
    if (leading.length === 0) return result;
    return this.ACTION(() => ({ ...result, items: [...leading, ...result.items] }));
  });

  private ruleItems = this.RULE("ruleItems", (): RuleItemSyntax[] => {
    const items: RuleItemSyntax[] = [];
    this.MANY(() => {
      items.push(this.OR(this.itemAlternatives));
    });
    return items;
  });
}

const NO_ITEMS: RuleItemSyntax[] = [];

function command(kind: CommandKind, token: IToken, first?: IToken, second?: IToken, items = NO_ITEMS): CommandSyntax {
  const operands = first === undefined ? [] : second === undefined ? [arg(first)] : [arg(first), arg(second)];
  return { kind, commandToken: arg(token), operands, items };
}

/** Built once: Chevrotain parsers are reusable and costly to construct. */
const parser = new CommandParser();

export type CommandParseResult =
  | { ok: true; command: CommandSyntax }
  | { ok: false; column: number; length: number; message: string; expected: string };

const tokenLabels: Record<string, string> = {
  Value: "a value",
  Bang: "an option after '!'",
  ExtensionOption: "an option",
  CoreValueOption: "an option",
  Source: "an option",
  Destination: "an option",
  InInterface: "an option",
  OutInterface: "an option",
  Protocol: "an option",
  Fragment: "an option",
  MatchFlag: "an option",
  Jump: "an option",
  Goto: "an option",
  SetCounters: "an option",
  FamilyFlag: "an option",
  IgnoredFlag: "an option",
  IgnoredValueOption: "an option",
  CommandToken: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  Append: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  Insert: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  Delete: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  Replace: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  NewChain: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  DeleteChain: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  Flush: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  Zero: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  SetPolicy: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
  RenameChain: "a command (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E)",
};

/** Turns Chevrotain's token-type list into words a person reads. */
function describeError(error: IRecognitionException): { expected: string; found: string } {
  const isEnd = error.token.tokenType?.name === "EOF";
  const found = isEnd ? "end of line" : error.token.tokenType === Value ? `value '${error.token.image}'` : `'${error.token.image}'`;
  const labels = new Set<string>();
  for (const match of error.message.matchAll(/\b([A-Z][A-Za-z]+)\b/g)) {
    const label = tokenLabels[match[1]!];
    if (label) labels.add(label);
  }
  return { expected: [...labels].join(" or "), found };
}

/** Parses one classified command line. Never throws. */
export function parseCommand(tokens: ClassifiedToken[], lineLength: number): CommandParseResult {
  parser.input = tokens;
  const command = parser.command();
  if (parser.errors.length === 0) return { ok: true, command };
  const error = parser.errors[0]!;
  const { expected, found } = describeError(error);
  const isEof = error.token.tokenType?.name === "EOF" || Number.isNaN(error.token.startOffset);
  const column = isEof ? lineLength : error.token.startOffset;
  const length = isEof ? 1 : Math.max(1, (error.token.endOffset ?? column) - column + 1);
  return { ok: false, column, length, message: `unexpected ${found}`, expected };
}
