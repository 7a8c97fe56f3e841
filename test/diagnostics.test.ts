// Malformed input: every problem is located (line, column), reported as data, and the CLI
// shows FILE:LINE:COL, the line and a caret, exits 2 and never prints a stack trace.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseRuleset, type DiagnosticKind } from "../src/index.js";
import { repoRoot } from "./support/files.js";

const HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";

interface Case {
  name: string;
  input: string;
  kind: DiagnosticKind;
  line: number;
  column?: number;
}

const cases: Case[] = [
  { name: "binary garbage", input: "\x7fELF\x02\x01\x01\x00\x00garbage\n\xff\xfe", kind: "nul-byte", line: 1, column: 8 },
  { name: "NUL byte in a rule", input: `${HEAD}-A INPUT -j ACC\0EPT\nCOMMIT\n`, kind: "nul-byte", line: 5, column: 16 },
  { name: "CRLF line ends", input: HEAD.replace(/\n/g, "\r\n") + "COMMIT\r\n", kind: "crlf-line-ends", line: 1 },
  { name: "unterminated quote", input: `${HEAD}-A INPUT -m comment --comment "open -j ACCEPT\nCOMMIT\n`, kind: "unterminated-quote", line: 5, column: 31 },
  { name: "missing COMMIT", input: HEAD + "-A INPUT -j ACCEPT\n", kind: "missing-commit", line: 5 },
  { name: "rule before any table", input: "-A INPUT -j ACCEPT\n" + HEAD + "COMMIT\n", kind: "outside-table", line: 1, column: 1 },
  { name: "rule in an undeclared chain", input: `${HEAD}-A NOPE -j ACCEPT\nCOMMIT\n`, kind: "undeclared-chain", line: 5, column: 4 },
  { name: "jump to an undeclared chain", input: `${HEAD}-A INPUT -p tcp -j MISSING\nCOMMIT\n`, kind: "jump-to-undeclared-chain", line: 5, column: 20 },
  { name: "duplicate chain declaration", input: `${HEAD}:MY - [0:0]\n:MY - [0:0]\nCOMMIT\n`, kind: "duplicate-chain", line: 6, column: 2 },
  { name: "unknown table", input: "*bogus\n:INPUT ACCEPT [0:0]\nCOMMIT\n", kind: "unknown-table", line: 1, column: 2 },
  { name: "over-long line", input: `${HEAD}-A INPUT -m comment --comment ${"x".repeat(10300)} -j ACCEPT\nCOMMIT\n`, kind: "line-too-long", line: 5 },
  { name: "over-long token", input: `${HEAD}-A INPUT -m comment --comment ${"x".repeat(1100)} -j ACCEPT\nCOMMIT\n`, kind: "token-too-long", line: 5, column: 31 },
  { name: "empty input", input: "", kind: "empty-input", line: 0 },
  { name: "a stray word", input: `${HEAD}-A INPUT -p tcp stray -j ACCEPT\nCOMMIT\n`, kind: "syntax", line: 5, column: 17 },
  { name: "a bad port", input: `${HEAD}-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n`, kind: "bad-value", line: 5, column: 25 },
  { name: "an option no loaded extension has", input: `${HEAD}-A INPUT --dport 80 -j ACCEPT\nCOMMIT\n`, kind: "unknown-option", line: 5, column: 10 },
  { name: "trailing space after COMMIT", input: `${HEAD}COMMIT \n`, kind: "commit-trailing", line: 5, column: 7 },
];

describe("malformed input gives located diagnostics", () => {
  for (const c of cases) {
    it(c.name, () => {
      const { diagnostics } = parseRuleset(c.input);
      const found = diagnostics.find((d) => d.kind === c.kind);
      expect(found, JSON.stringify(diagnostics.map((d) => `${d.kind}@${d.line}:${d.column}`))).toBeDefined();
      expect(found!.severity).toBe("error");
      expect(found!.line).toBe(c.line);
      if (c.column !== undefined) expect(found!.column).toBe(c.column);
      expect(found!.message.length).toBeGreaterThan(10);
    });
  }

  it("reports every problem, not just the first", () => {
    const input = `${HEAD}-A INPUT -p tcp --dport x -j ACCEPT\n-A NOPE -j DROP\n-A INPUT -j GONE\nCOMMIT\n`;
    const kinds = parseRuleset(input).diagnostics.map((d) => `${d.kind}:${d.line}`);
    expect(kinds).toEqual(["bad-value:5", "undeclared-chain:6", "jump-to-undeclared-chain:7"]);
  });

  it("lenient mode skips bad lines as warnings and keeps the rest", () => {
    const input = `${HEAD}-A INPUT -p tcp --dport x -j ACCEPT\n-A INPUT -p udp --dport 53 -j ACCEPT\nCOMMIT\n`;
    const result = parseRuleset(input, { lenient: true });
    expect(result.diagnostics.every((d) => d.severity !== "error")).toBe(true);
    expect(result.skippedLines).toEqual([5]);
    const rules = result.ruleset.tables[0]!.chains.find((c) => c.name === "INPUT")!.rules;
    expect(rules.map((r) => r.line)).toEqual([6]);
  });

  it("getopt abbreviations resolve as in iptables (and clash where iptables' do)", () => {
    const ok = parseRuleset(`${HEAD}-A INPUT -p tcp -m multiport --destination-port 80,443 -j ACCEPT\nCOMMIT\n`);
    expect(ok.diagnostics).toEqual([]);
    const rule = ok.ruleset.tables[0]!.chains[0]!.rules[0]!;
    expect(rule.matches.map((m) => [m.name, m.options.map((o) => o.name)])).toEqual([["multiport", ["dports"]]]);
    const clash = parseRuleset(`${HEAD}-A INPUT -p udp -m multiport --sports 1 --source-port 2 -j ACCEPT\nCOMMIT\n`);
    expect(clash.diagnostics.map((d) => d.kind)).toContain("duplicate-option");
  });
});

const bin = join(repoRoot, "bin", "iptscope.js");
const work = mkdtempSync(join(tmpdir(), "iptscope-diag-"));

function cli(args: string[], input?: string | Buffer) {
  return spawnSync(process.execPath, [bin, ...args], { input, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 });
}

describe("the CLI on bad input", () => {
  for (const c of cases) {
    it(`${c.name}: exit ${c.kind === "empty-input" ? 3 : 2}, located message, no stack trace`, () => {
      const file = join(work, `${c.kind}.txt`);
      writeFileSync(file, c.input, "latin1");
      const result = cli(["fmt", file]);
      expect(result.status).toBe(c.kind === "empty-input" ? 3 : 2);
      expect(result.stdout).toBe("");
      expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
      if (c.line > 0) {
        expect(result.stderr).toContain(`${file}:${c.line}:`);
        expect(result.stderr).toMatch(/error: /);
        if (c.column !== undefined && c.kind !== "line-too-long") expect(result.stderr).toMatch(/\n {2}\s*\^/);
      }
    });
  }

  it("a dump without header or -s/-d is IPv6 when it spells what only ip6tables writes", () => {
    const file = join(work, "v6-dnat.txt");
    writeFileSync(file, "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::7]:80\nCOMMIT\n");
    expect(cli(["parse", file]).stdout).toMatch(/IPv6, 1 table/);
  });

  it("a dump without header or -s/-d is IPv6 when a conntrack, iprange or NAT option holds an IPv6 address", () => {
    const family = (rule: string) => parseRuleset(`*nat\n:PREROUTING ACCEPT [0:0]\n${rule}\nCOMMIT\n`).ruleset.family;
    expect(family("-A PREROUTING -m conntrack --ctorigsrc 2001:db8::7 -j ACCEPT")).toBe("ipv6");
    expect(family("-A PREROUTING -m conntrack ! --ctrepldst ::1/128 -j ACCEPT")).toBe("ipv6");
    expect(family("-A PREROUTING -m iprange --src-range fd00::1-fd00::9 -j ACCEPT")).toBe("ipv6");
    expect(family("-A PREROUTING -p tcp -j DNAT --to-destination fd00::5")).toBe("ipv6");
    expect(family("-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.5:8080")).toBe("ipv4");
    expect(family("-A PREROUTING -m mac --mac-source 00:11:22:33:44:55 -j ACCEPT")).toBe("ipv4");
  });

  it("-6 reads an ip6tables dump without header as IPv6, as --ipv6 does", () => {
    const file = join(work, "v6-no-header.txt");
    writeFileSync(file, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment v6 -j ACCEPT\nCOMMIT\n");
    expect(cli(["parse", file]).stdout).toMatch(/IPv4, 1 table/);
    for (const flag of ["-6", "--ipv6"]) {
      const result = cli(["parse", flag, file]);
      expect(result.stderr).toBe("");
      expect(result.stdout).toMatch(/IPv6, 1 table/);
    }
  });

  it("shows the offending line with a caret under the column", () => {
    const file = join(work, "caret.txt");
    writeFileSync(file, `${HEAD}-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n`);
    const lines = cli(["parse", file]).stderr.split("\n");
    expect(lines[0]).toBe(`${file}:5:25: error: bad value '99999' for --dport: expected a port or range (N, N:M)`);
    expect(lines[1]).toBe("  -A INPUT -p tcp --dport 99999 -j ACCEPT");
    expect(lines[2]).toBe("  " + " ".repeat(24) + "^~~~~");
  });

  it("reads gzip and standard input; refuses a directory and corrupt gzip with exit 4", () => {
    const dump = `${HEAD}-A INPUT -j ACCEPT\nCOMMIT\n`;
    const gz = join(work, "dump.txt.gz");
    writeFileSync(gz, gzipSync(dump));
    expect(cli(["fmt", gz]).stdout).toBe(dump);
    expect(cli(["fmt", "-"], dump).stdout).toBe(dump);
    expect(cli(["fmt"], dump).stdout).toBe(dump);
    expect(cli(["parse", work]).status).toBe(4);
    const corrupt = join(work, "bad.gz");
    writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]));
    const result = cli(["parse", corrupt]);
    expect(result.status).toBe(4);
    expect(result.stderr).toMatch(/gzip/);
    expect(cli(["parse", join(work, "missing.txt")]).status).toBe(4);
  });

  it("rejects unknown options with a usage error", () => {
    const result = cli(["parse", "--bogus"]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/Unknown argument/);
  });
});
