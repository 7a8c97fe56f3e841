import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatRuleset, parseRuleset } from "../src/index.js";
import { restoreFixtures, sampleFiles, tablesOf } from "./support/files.js";

describe("fmt on kernel-printed dumps", () => {
  for (const sample of sampleFiles()) {
    it(`${sample.name}: parses without diagnostics and prints back byte-identically`, () => {
      const { ruleset, diagnostics } = parseRuleset(sample.text);
      expect(diagnostics.filter((d) => d.severity !== "info")).toEqual([]);
      expect(formatRuleset(ruleset)).toBe(sample.text);
      expect(formatRuleset(ruleset, { canonical: true })).toBe(sample.text);
    });

    it(`${sample.name}: the model survives JSON and prints the same`, () => {
      const { ruleset } = parseRuleset(sample.text);
      const copy = JSON.parse(JSON.stringify(ruleset));
      expect(copy).toEqual(ruleset);
      expect(formatRuleset(copy, { canonical: true })).toBe(sample.text);
    });
  }
});

describe("fmt --canonical on restore input equals what the kernel printed", () => {
  for (const fixture of restoreFixtures()) {
    const expectedPath = fixture.path.replace(/\.rules$/, ".expected");
    const samplePath = fixture.path.replace("test/fixtures/restore", "samples").replace(/\.rules$/, ".txt");
    const expectedFile = existsSync(expectedPath) ? expectedPath : existsSync(samplePath) ? samplePath : undefined;
    if (!expectedFile) continue;
    it(fixture.name, () => {
      const { ruleset, diagnostics } = parseRuleset(fixture.text, { family: fixture.family });
      expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const printed = tablesOf(formatRuleset(ruleset, { canonical: true }));
      const expected = tablesOf(readFileSync(expectedFile, "utf8"));
      expect(printed).toEqual(expected);
    });
  }
});

describe("fmt (faithful) keeps the input's structure", () => {
  it("keeps restore commands, order and spelling, normalising only whitespace", () => {
    const input = [
      "*filter",
      ":INPUT DROP [0:0]",
      "-N MY",
      "-A MY   -p tcp  --dport 22 -m comment --comment \"ssh  in\"\t-j ACCEPT",
      "-I INPUT 1 -j MY",
      "COMMIT",
      "",
    ].join("\n");
    const { ruleset } = parseRuleset(input);
    expect(formatRuleset(ruleset)).toBe(
      ["*filter", ":INPUT DROP [0:0]", "-N MY", '-A MY -p tcp --dport 22 -m comment --comment "ssh  in" -j ACCEPT', "-I INPUT 1 -j MY", "COMMIT", ""].join("\n"),
    );
    expect(formatRuleset(ruleset, { canonical: true })).toBe(
      [
        "*filter",
        ":INPUT DROP [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":MY - [0:0]",
        "-A INPUT -j MY",
        '-A MY -p tcp -m tcp --dport 22 -m comment --comment "ssh  in" -j ACCEPT',
        "COMMIT",
        "",
      ].join("\n"),
    );
  });
});

describe("options as getopt_long reads them for iptables", () => {
  const canonical = (rule: string) => {
    const { ruleset, diagnostics } = parseRuleset(`*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n${rule}\nCOMMIT\n`);
    const errors = diagnostics.filter((d) => d.severity === "error").map((d) => d.message);
    return errors.length > 0 ? errors : formatRuleset(ruleset, { canonical: true }).split("\n").filter((l) => l.startsWith("-A "));
  };

  it("resolves abbreviations over iptables' own options and the loaded extensions' together", () => {
    expect(canonical("-A INPUT --sou 10.0.0.1 --in-int eth0 --j ACCEPT")).toEqual(["-A INPUT -s 10.0.0.1/32 -i eth0 -j ACCEPT"]);
    // Before tcp is loaded --so can only be --source; after -m tcp it is ambiguous with --source-port.
    expect(canonical("-A INPUT -p tcp --so 80")).toEqual(["-A INPUT -s 80.0.0.0/32 -p tcp"]);
    expect(canonical("-A INPUT -p tcp -m tcp --so 80")).toEqual([expect.stringContaining("'--so' abbreviates several options")]);
    expect(canonical("-A INPUT -m ttl --ttl 3")).toEqual(["-A INPUT -m ttl --ttl-eq 3"]);
    expect(canonical("-A INPUT --num")).toEqual([expect.stringContaining("iptables' own --numeric")]);
  });

  it("takes a value after '=' from optarg or, for -p -s -d -i -o -j, the whole word; short options cluster", () => {
    expect(canonical("-A INPUT -p tcp --match=tcp --dport=80 --goto=X")).toEqual(["-A INPUT -p tcp -m tcp --dport 80 -g X"]);
    expect(canonical('-A INPUT -m comment --comment="a b" -vj ACCEPT')).toEqual(['-A INPUT -m comment --comment "a b" -j ACCEPT']);
    expect(canonical("-A INPUT -ieth0 -mtcp -ptcp")).toEqual([expect.stringContaining("unknown protocol '-ptcp'")]);
    expect(canonical("-A INPUT -ieth0 -4fj DROP")).toEqual(["-A INPUT -i -ieth0 -f -j DROP"]);
    expect(canonical("-A INPUT --protocol=tcp")).toEqual([expect.stringContaining("unknown protocol '--protocol=tcp'")]);
  });

  it("reads quoted options and '!' as options, but keeps a quoted word a value of a module it does not model", () => {
    expect(canonical('-A INPUT "!" -s 10.0.0.1 "-j" ACCEPT')).toEqual(["-A INPUT ! -s 10.0.0.1/32 -j ACCEPT"]);
    expect(canonical('-A INPUT -p tcp "--dport" 22 -M x -v --')).toEqual(["-A INPUT -p tcp -m tcp --dport 22"]);
    expect(canonical('-A INPUT -m string --string "-foo" --algo bm -j DROP')).toEqual(['-A INPUT -m string --string "-foo" --algo bm -j DROP']);
  });
});
