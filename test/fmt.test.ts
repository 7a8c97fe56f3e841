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
