import { EmbeddedActionsParser, type IRecognitionException, type TokenType } from "chevrotain";
import type { ClassifiedToken, OptionOwner } from "./classify.js";
import type { ArgToken } from "./tokenizer.js";
import {
  allTokens, Append, Bang, CoreValueOption, Delete, DeleteChain, Destination, ExtensionOption, FamilyFlag, Flush,
  Fragment, Goto, InInterface, Insert, Jump, MatchFlag, NewChain, OutInterface, Protocol, RenameChain, Replace,
  SetCounters, SetPolicy, Source, Value, Zero,
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
      resolvedName?: string;
      ambiguous: boolean;
    }
  | { kind: "set-counters"; optionToken: ArgToken; packets: ArgToken; bytes: ArgToken }
  | { kind: "family"; optionToken: ArgToken; family: 4 | 6 };

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

const arg = (token: ClassifiedToken): ArgToken => token as unknown as ArgToken;

class CommandParser extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { maxLookahead: 1, skipValidations: process.env.IPTSCOPE_GRAMMAR_CHECKS !== "1" });
    this.performSelfAnalysis();
  }

  // getopt lets rule options come before the command too (`-c 1 2 -A INPUT …`).
  public command = this.RULE("command", (): CommandSyntax => {
    let result!: CommandSyntax;
    const leading: RuleItemSyntax[] = [];
    this.MANY(() => {
      const item = this.SUBRULE(this.ruleItem);
      this.ACTION(() => leading.push(item));
    });
    this.OR([
      { ALT: () => { result = this.SUBRULE(this.ruleCommand); } },
      { ALT: () => { result = this.SUBRULE(this.chainCommand); } },
    ]);
    return this.ACTION(() => (leading.length === 0 ? result : { ...result, items: [...leading, ...result.items] }));
  });

  private ruleCommand = this.RULE("ruleCommand", (): CommandSyntax => {
    let kind: CommandKind = "append";
    let commandToken!: ClassifiedToken;
    const operands: ArgToken[] = [];
    this.OR([
      { ALT: () => { commandToken = this.CONSUME(Append) as ClassifiedToken; kind = "append"; this.operand(operands); } },
      {
        ALT: () => {
          commandToken = this.CONSUME(Insert) as ClassifiedToken;
          kind = "insert";
          this.operand(operands);
          this.OPTION(() => this.operand(operands, 2));
        },
      },
      {
        ALT: () => {
          commandToken = this.CONSUME(Delete) as ClassifiedToken;
          kind = "delete";
          this.operand(operands);
          this.OPTION2(() => this.operand(operands, 2));
        },
      },
      {
        ALT: () => {
          commandToken = this.CONSUME(Replace) as ClassifiedToken;
          kind = "replace";
          this.operand(operands);
          this.operand(operands, 2);
        },
      },
    ]);
    const items: RuleItemSyntax[] = [];
    this.MANY(() => {
      const item = this.SUBRULE(this.ruleItem);
      this.ACTION(() => items.push(item));
    });
    return this.ACTION(() => ({ kind, commandToken: arg(commandToken), operands, items }));
  });

  private operand(operands: ArgToken[], idx = 1): void {
    const token = (idx === 1 ? this.CONSUME(Value) : this.CONSUME2(Value)) as ClassifiedToken;
    this.ACTION(() => operands.push(arg(token)));
  }

  private chainCommand = this.RULE("chainCommand", (): CommandSyntax => {
    let kind: CommandKind = "new-chain";
    let commandToken!: ClassifiedToken;
    const operands: ArgToken[] = [];
    this.OR([
      { ALT: () => { commandToken = this.CONSUME(NewChain) as ClassifiedToken; kind = "new-chain"; this.operand(operands); } },
      {
        ALT: () => {
          commandToken = this.CONSUME(DeleteChain) as ClassifiedToken;
          kind = "delete-chain";
          this.OPTION(() => this.operand(operands));
        },
      },
      {
        ALT: () => {
          commandToken = this.CONSUME(Flush) as ClassifiedToken;
          kind = "flush";
          this.OPTION2(() => this.operand(operands));
        },
      },
      {
        ALT: () => {
          commandToken = this.CONSUME(Zero) as ClassifiedToken;
          kind = "zero";
          this.OPTION3(() => this.operand(operands));
        },
      },
      {
        ALT: () => {
          commandToken = this.CONSUME(SetPolicy) as ClassifiedToken;
          kind = "policy";
          this.operand(operands);
          this.operand(operands, 2);
        },
      },
      {
        ALT: () => {
          commandToken = this.CONSUME(RenameChain) as ClassifiedToken;
          kind = "rename-chain";
          this.operand(operands);
          this.operand(operands, 2);
        },
      },
    ]);
    return this.ACTION(() => ({ kind, commandToken: arg(commandToken), operands, items: [] }));
  });

  private ruleItem = this.RULE("ruleItem", (): RuleItemSyntax => {
    let item!: RuleItemSyntax;
    this.OR([
      { ALT: () => { item = this.SUBRULE(this.negatable); } },
      {
        ALT: () => {
          const optionToken = this.CONSUME(MatchFlag) as ClassifiedToken;
          const name = this.CONSUME(Value) as ClassifiedToken;
          item = this.ACTION(() => ({ kind: "match", optionToken: arg(optionToken), name: arg(name) }));
        },
      },
      {
        ALT: () => {
          const optionToken = this.CONSUME(Jump) as ClassifiedToken;
          const target = this.CONSUME2(Value) as ClassifiedToken;
          item = this.ACTION(() => ({ kind: "jump", optionToken: arg(optionToken), target: arg(target) }));
        },
      },
      {
        ALT: () => {
          const optionToken = this.CONSUME(Goto) as ClassifiedToken;
          const target = this.CONSUME3(Value) as ClassifiedToken;
          item = this.ACTION(() => ({ kind: "goto", optionToken: arg(optionToken), target: arg(target) }));
        },
      },
      {
        ALT: () => {
          const optionToken = this.CONSUME(SetCounters) as ClassifiedToken;
          const packets = this.CONSUME4(Value) as ClassifiedToken;
          const bytes = this.CONSUME5(Value) as ClassifiedToken;
          item = this.ACTION(() => ({
            kind: "set-counters", optionToken: arg(optionToken), packets: arg(packets), bytes: arg(bytes),
          }));
        },
      },
      {
        ALT: () => {
          const optionToken = this.CONSUME(FamilyFlag) as ClassifiedToken;
          item = this.ACTION(() => ({
            kind: "family",
            optionToken: arg(optionToken),
            family: optionToken.image === "-6" || optionToken.image === "--ipv6" ? 6 : 4,
          }));
        },
      },
    ]);
    return item;
  });

  private negatable = this.RULE("negatable", (): RuleItemSyntax => {
    let negation: ClassifiedToken | undefined;
    let item!: RuleItemSyntax;
    this.OPTION(() => { negation = this.CONSUME(Bang) as ClassifiedToken; });
    this.OR([
      {
        ALT: () => {
          const optionToken = this.CONSUME(CoreValueOption) as ClassifiedToken;
          const value = this.CONSUME(Value) as ClassifiedToken;
          item = this.ACTION(() => ({
            kind: "core",
            option: coreOptionNames.get(optionToken.tokenType)!,
            negation: negation && arg(negation),
            optionToken: arg(optionToken),
            value: arg(value),
          }));
        },
      },
      {
        ALT: () => {
          const optionToken = this.CONSUME(Fragment) as ClassifiedToken;
          item = this.ACTION(() => ({ kind: "fragment", negation: negation && arg(negation), optionToken: arg(optionToken) }));
        },
      },
      {
        ALT: () => {
          const optionToken = this.CONSUME(ExtensionOption) as ClassifiedToken;
          const values: ArgToken[] = [];
          this.MANY(() => {
            const value = this.CONSUME2(Value) as ClassifiedToken;
            this.ACTION(() => values.push(arg(value)));
          });
          item = this.ACTION(() => ({
            kind: "option",
            negation: negation && arg(negation),
            optionToken: arg(optionToken),
            values,
            owner: optionToken.owner!,
            greedy: optionToken.greedy === true,
            resolvedName: optionToken.resolvedName,
            ambiguous: optionToken.ambiguous === true,
          }));
        },
      },
    ]);
    return item;
  });
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
