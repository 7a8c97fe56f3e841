// Diagnostics are data: a union of kinds, each with its details; the prose lives in one
// table keyed by kind, so a new kind without a message does not compile.

export type Severity = "error" | "warning" | "info";

interface DiagnosticDetails {
  "empty-input": Record<string, never>;
  "crlf-line-ends": { lines: number };
  "byte-order-mark": Record<string, never>;
  "nul-byte": Record<string, never>;
  "line-too-long": { bytes: number; limit: number };
  "token-too-long": { bytes: number; limit: number };
  "too-many-arguments": { count: number; limit: number };
  "unterminated-quote": Record<string, never>;
  "bad-counters": { text: string };
  "bad-table-line": Record<string, never>;
  "bad-chain-line": { reason: "missing-name" | "missing-policy" };
  "commit-trailing": Record<string, never>;
  "indented-comment": Record<string, never>;
  syntax: { found: string; expected: string };
  "unknown-table": { table: string };
  "outside-table": { what: string };
  "missing-commit": { table: string };
  "duplicate-table": { table: string };
  "duplicate-chain": { chain: string };
  "undeclared-chain": { chain: string };
  "jump-to-undeclared-chain": { chain: string };
  "bad-policy": { chain: string; policy: string };
  "policy-on-user-chain": { chain: string; policy: string };
  "builtin-chain-operation": { chain: string; operation: string };
  "chain-name-too-long": { chain: string; length: number };
  "chain-in-use": { chain: string };
  "chain-not-empty": { chain: string };
  "rule-not-found": { chain: string; position: number };
  "unsupported-command": { command: string };
  "duplicate-option": { option: string };
  "bad-address": { value: string; reason: "bad-address" | "bad-mask" | "hostname" };
  "bad-interface": { value: string };
  "bad-protocol": { value: string };
  "bad-value": { option: string; value: string; expected: string };
  "option-not-negatable": { option: string };
  /** `coreOption`: iptables' own option the word names, one iptables-restore does not take with a rule. */
  "unknown-option": { option: string; coreOption?: string };
  "ambiguous-option": { option: string };
  "option-needs-protocol": { option: string; module: string };
  "unknown-match": { module: string };
  "unknown-target": { target: string };
  "extension-not-in-family": { extension: string; family: "ipv4" | "ipv6" };
  "options-on-chain-target": { target: string };
  "other-family-rule": { family: "ipv4" | "ipv6" };
  "family-mismatch": { value: string; family: "ipv4" | "ipv6" };
  "skipped-line": Record<string, never>;
  "jump-loop": { cycle: string[] };
  "missing-option": { module: string; option: string };
  "nat-filtering": Record<string, never>;
  "value-adjusted": { option: string; reason: string };
  "extension-wrong-table": { extension: string; table: string; tables: readonly string[] };
  "extension-wrong-chain": { extension: string; chain: string; reachedFrom: readonly string[]; allowed: readonly string[] };
  "interface-in-chain": { option: string; chain: string };
  "target-needs-protocol": { target: string; protocols: readonly string[] };
  "conflicting-options": { module: string; options: readonly string[] };
  /** `cycle`: the refusal is of this jump loop (which the other backend's walk never meets). */
  "backend-refuses": { backend: "legacy" | "nft"; reason: string; cycle?: string[] };
  /** A command each backend applies its own way; `applied`: the backend whose outcome the model holds. */
  "backend-differs": { command: string; nft: string; legacy: string; applied: "legacy" | "nft" };
  "negated-address-list": Record<string, never>;
}

export type DiagnosticKind = keyof DiagnosticDetails;

export type Diagnostic = {
  [K in DiagnosticKind]: {
    kind: K;
    severity: Severity;
    /** 1-based; 0 when the problem concerns the whole input. */
    line: number;
    /** 1-based; 0 when not tied to a column. */
    column: number;
    /** Characters the problem spans (for the caret), at least 1. */
    length: number;
    details: DiagnosticDetails[K];
    message: string;
  };
}[DiagnosticKind];

interface KindInfo<K extends DiagnosticKind> {
  severity: Severity;
  message: (details: DiagnosticDetails[K]) => string;
}

const info: { [K in DiagnosticKind]: KindInfo<K> } = {
  "empty-input": { severity: "error", message: () => "empty input: no tables (expected iptables-save output)" },
  "crlf-line-ends": {
    severity: "error",
    message: (d) =>
      `CRLF line ends (${d.lines} line${d.lines === 1 ? "" : "s"}); iptables-restore rejects them ` +
      `(use --lenient to accept, or convert with dos2unix)`,
  },
  "byte-order-mark": {
    severity: "error",
    message: () => "UTF-8 byte order mark at the start of the input; iptables-restore rejects it (use --lenient to skip it)",
  },
  "nul-byte": { severity: "error", message: () => "NUL byte in line (binary data?)" },
  "line-too-long": {
    severity: "error",
    message: (d) => `line is ${d.bytes} bytes; iptables-restore reads at most ${d.limit} bytes per line`,
  },
  "token-too-long": {
    severity: "error",
    message: (d) => `argument is ${d.bytes} bytes; iptables-restore accepts at most ${d.limit} ("Parameter too long!")`,
  },
  "too-many-arguments": {
    severity: "error",
    message: (d) => `${d.count} arguments; iptables-restore accepts at most ${d.limit}`,
  },
  "unterminated-quote": { severity: "error", message: () => "unterminated quote: expected a closing '\"'" },
  "bad-counters": { severity: "error", message: (d) => `bad counters '${d.text}': expected [PACKETS:BYTES]` },
  "bad-table-line": { severity: "error", message: () => "expected a table name after '*'" },
  "bad-chain-line": {
    severity: "error",
    message: (d) =>
      d.reason === "missing-name"
        ? "expected a chain name after ':'"
        : "expected a policy after the chain name (ACCEPT, DROP or '-' for a user chain)",
  },
  "commit-trailing": { severity: "error", message: () => "trailing characters after COMMIT" },
  "indented-comment": {
    severity: "error",
    message: () => "'#' starts a comment only in column 1; iptables-restore reads this line as a command",
  },
  syntax: { severity: "error", message: (d) => `${d.found}${d.expected ? `: expected ${d.expected}` : ""}` },
  "unknown-table": {
    severity: "error",
    message: (d) => `unknown table '${d.table}': expected raw, mangle, nat, filter or security`,
  },
  "outside-table": { severity: "error", message: (d) => `${d.what} before any '*table' line` },
  "missing-commit": { severity: "error", message: (d) => `table '${d.table}' is not closed: expected COMMIT` },
  "duplicate-table": {
    severity: "warning",
    message: (d) => `table '${d.table}' appears again; its contents are merged as iptables-restore would`,
  },
  "duplicate-chain": { severity: "error", message: (d) => `chain '${d.chain}' is declared twice` },
  "undeclared-chain": { severity: "error", message: (d) => `chain '${d.chain}' does not exist (declare it with ':${d.chain} - [0:0]')` },
  "jump-to-undeclared-chain": {
    severity: "error",
    message: (d) => `jump to '${d.chain}', which is neither a chain declared above nor a known target`,
  },
  "bad-policy": { severity: "error", message: (d) => `bad policy '${d.policy}' for '${d.chain}': expected ACCEPT or DROP` },
  "policy-on-user-chain": {
    severity: "error",
    message: (d) => `user chain '${d.chain}' cannot have policy '${d.policy}': expected '-' (iptables-legacy refuses it, iptables-nft ignores it)`,
  },
  "builtin-chain-operation": {
    severity: "error",
    message: (d) => `cannot ${d.operation} built-in chain '${d.chain}'`,
  },
  "chain-name-too-long": {
    severity: "error",
    message: (d) => `chain name '${d.chain}' is ${d.length} characters; iptables allows at most 28`,
  },
  "chain-in-use": { severity: "error", message: (d) => `cannot delete chain '${d.chain}': rules still jump to it` },
  "chain-not-empty": { severity: "error", message: (d) => `cannot delete chain '${d.chain}': it still has rules` },
  "rule-not-found": { severity: "error", message: (d) => `chain '${d.chain}' has no rule ${d.position}` },
  "unsupported-command": {
    severity: "error",
    message: (d) => `'${d.command}' cannot be evaluated offline; the line is kept but not applied`,
  },
  "duplicate-option": { severity: "error", message: (d) => `option '${d.option}' given twice` },
  "bad-address": {
    severity: "error",
    message: (d) =>
      d.reason === "hostname"
        ? `'${d.value}' is a host name; iptables-save never prints names, expected an address`
        : d.reason === "bad-mask"
          ? `bad mask in '${d.value}': expected a prefix length or a mask in address notation`
          : `bad address '${d.value}'`,
  },
  "bad-interface": {
    severity: "error",
    message: (d) => `bad interface name '${d.value}': expected 1 to 15 characters`,
  },
  "bad-protocol": { severity: "error", message: (d) => `unknown protocol '${d.value}'` },
  "bad-value": { severity: "error", message: (d) => `bad value '${d.value}' for ${d.option}: expected ${d.expected}` },
  "option-not-negatable": { severity: "error", message: (d) => `'${d.option}' cannot be negated with '!'` },
  "unknown-option": {
    severity: "error",
    message: (d) =>
      d.coreOption === undefined
        ? `unknown option '${d.option}'`
        : `'${d.option}' is iptables' own --${d.coreOption}, which has no place in a rule (iptables-restore refuses it, or for --help and --version prints and stops reading)`,
  },
  "ambiguous-option": {
    severity: "error",
    message: (d) => `'${d.option}' abbreviates several options iptables knows there (its own and the loaded extensions'); write it in full`,
  },
  "option-needs-protocol": {
    severity: "error",
    message: (d) => `'${d.option}' of '${d.module}' needs a matching '-p'; the kernel refuses such a rule`,
  },
  "unknown-match": {
    severity: "warning",
    message: (d) => `match '${d.module}' is not modelled: kept verbatim; analyses treat it as uncertain`,
  },
  "unknown-target": {
    severity: "warning",
    message: (d) => `target '${d.target}' is not modelled: kept verbatim; analyses treat it as uncertain`,
  },
  "extension-not-in-family": {
    severity: "error",
    message: (d) => `'${d.extension}' exists only in ${d.family === "ipv4" ? "ip6tables" : "iptables"}; ${d.family === "ipv4" ? "iptables" : "ip6tables"} refuses this rule`,
  },
  "options-on-chain-target": {
    severity: "error",
    message: (d) => `'${d.target}' is a chain; a jump to a chain takes no options`,
  },
  "other-family-rule": {
    severity: "info",
    message: (d) => `rule restricted to ${d.family === "ipv4" ? "-4" : "-6"}: skipped, as iptables-restore of this family does`,
  },
  "family-mismatch": {
    severity: "error",
    message: (d) => `'${d.value}' is not an ${d.family === "ipv4" ? "IPv4" : "IPv6"} address, but the dump is ${d.family}`,
  },
  "skipped-line": { severity: "warning", message: () => "line skipped (--lenient)" },
  "jump-loop": {
    severity: "error",
    message: (d) => `jump loop: ${d.cycle.join(" → ")} (iptables refuses to load a loop that a built-in chain reaches)`,
  },
  "missing-option": { severity: "error", message: (d) => `'${d.module}' needs ${d.option}; the kernel refuses it without` },
  "value-adjusted": { severity: "warning", message: (d) => `value of ${d.option}: ${d.reason}` },
  "nat-filtering": {
    severity: "error",
    message: () => "DROP in the nat table: iptables refuses it (the nat table is not intended for filtering)",
  },
  "extension-wrong-table": {
    severity: "error",
    message: (d) => `'${d.extension}' works only in the ${orList(d.tables)} table; the kernel refuses it in '${d.table}'`,
  },
  "extension-wrong-chain": {
    severity: "error",
    message: (d) =>
      `'${d.extension}' works only in rules reached from ${orList(d.allowed)}; the kernel refuses it in '${d.chain}'` +
      (d.reachedFrom.length === 1 && d.reachedFrom[0] === d.chain ? "" : `, which ${orList(d.reachedFrom)} reaches`),
  },
  "interface-in-chain": {
    severity: "error",
    message: (d) => `iptables refuses ${d.option} in ${d.chain} ("Can't use ${d.option} with ${d.chain}")`,
  },
  "target-needs-protocol": {
    severity: "error",
    message: (d) => `'${d.target}' needs -p ${orList(d.protocols)} (not negated); the kernel refuses it without`,
  },
  "conflicting-options": {
    severity: "error",
    message: (d) => `${d.options.join(" and ")} of '${d.module}' cannot be used together; iptables refuses such a rule`,
  },
  "negated-address-list": {
    severity: "error",
    message: () => "'!' with several -s or -d addresses: iptables refuses such a rule",
  },
  "backend-refuses": {
    severity: "warning",
    message: (d) => `iptables-${d.backend} refuses this (${d.reason}); iptables-${d.backend === "legacy" ? "nft" : "legacy"} accepts it`,
  },
  "backend-differs": {
    severity: "warning",
    message: (d) =>
      `${d.command}: iptables-nft-restore ${d.nft}, iptables-legacy-restore ${d.legacy}; the model follows iptables-${d.applied} (see fmt --backend)`,
  },
};

function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

export function diagnosticSeverity(kind: DiagnosticKind): Severity {
  return info[kind].severity;
}

export interface DiagnosticPosition {
  line: number;
  column: number;
  length?: number;
}

/** Builds a diagnostic with its message from the table. Columns are 1-based. */
export function diagnostic<K extends DiagnosticKind>(
  kind: K,
  position: DiagnosticPosition,
  details: DiagnosticDetails[K],
  severity: Severity = info[kind].severity,
): Diagnostic {
  const message = (info[kind] as KindInfo<K>).message(details);
  return {
    kind,
    severity,
    line: position.line,
    column: position.column,
    length: Math.max(1, position.length ?? 1),
    details,
    message,
  } as Diagnostic;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}
