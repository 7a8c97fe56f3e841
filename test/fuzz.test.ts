// The fuzz properties with a small, fixed budget (seeded, so a failure replays; IPTSCOPE_FUZZ_SEED
// picks another seed, IPTSCOPE_FUZZ_SCALE multiplies the counts). Long runs: `npm run fuzz`.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { buildHostileInput, hostileInputArbitrary } from "./fuzz/inputs.js";
import { hostileSuite, roundTripSuite, traceSuite, type Suite } from "./fuzz/suites.js";
import { repoRoot } from "./support/files.js";

const SEED = Number(process.env.IPTSCOPE_FUZZ_SEED ?? 20_260_801);
const SCALE = Number(process.env.IPTSCOPE_FUZZ_SCALE ?? 1);
/** Per case; generous because two test files share two busy cores. */
const BOUND_MS = 10_000;

function run<T>(suite: Suite<T>, runs: number): void {
  fc.assert(
    fc.property(suite.arbitrary, (value) => suite.check(value, BOUND_MS)),
    { numRuns: Math.max(1, Math.round(runs * SCALE)), seed: SEED, includeErrorInReport: true },
  );
}

describe("fuzz (bounded budget)", () => {
  it("hostile input: mutated dumps, bytes and word soups end in a result or located diagnostics, lose nothing with --lenient", () => {
    run(hostileSuite, 200);
  });

  it("valid generated rulesets: fmt(parse(x)) == x for canonical x, and parse(fmt(m)) == m", () => {
    run(roundTripSuite, 60);
  });

  it("generated calling chains: loops reported with their cycle, traces end, add up to 1 and walk only existing rules", () => {
    run(traceSuite, 250);
  });
});

const CLI = join(repoRoot, "bin", "iptscope.js");
const EXIT_CODES = new Set([0, 1, 2, 3]);

interface CommandCase {
  args: (file: string, family: "ipv4" | "ipv6") => string[];
  /** Exit status for "differences"/"nothing serves it" as well as success. */
  answers: number[];
}

const COMMANDS: Record<string, CommandCase> = {
  parse: { args: (f) => ["parse", f], answers: [0] },
  fmt: { args: (f) => ["fmt", f], answers: [0] },
  "fmt --canonical": { args: (f) => ["fmt", "--canonical", f], answers: [0] },
  services: { args: (f) => ["services", f], answers: [0] },
  trace: {
    args: (f, family) => ["trace", f, "--src", family === "ipv4" ? "10.244.1.5" : "fd00::5", "--dst", family === "ipv4" ? "10.96.0.10" : "fd00::a", "--proto", "udp", "--dport", "53"],
    answers: [0],
  },
  where: { args: (f) => ["where", ":30080", f], answers: [0, 1] },
  graph: { args: (f) => ["graph", f], answers: [0] },
  diff: { args: (f) => ["diff", join(repoRoot, "samples", "kubeadm-flannel.txt"), f], answers: [0, 1] },
};

describe("fuzz through the CLI process", () => {
  // A few cases only: each is a process start (~0.5 s on a busy machine).
  const cases = fc.sample(hostileInputArbitrary, { numRuns: 4, seed: SEED }).map(buildHostileInput);
  const work = mkdtempSync(join(tmpdir(), "iptscope-fuzz-"));
  const names = Object.keys(COMMANDS);

  cases.forEach((input, index) => {
    const command = names[index % names.length]!;
    const file = join(work, `case-${index}.txt`);
    writeFileSync(file, input.text);
    const expected = parseRuleset(input.text, input.family ? { family: input.family } : {});
    const lenientModel = parseRuleset(input.text, { lenient: true, ...(input.family ? { family: input.family } : {}) });

    for (const lenient of [false, true]) {
      it(`case ${index} through ${command}${lenient ? " --lenient" : ""}: a documented exit status, located errors, no stack trace`, () => {
        const args = COMMANDS[command]!.args(file, lenientModel.ruleset.family);
        const family = input.family === "ipv6" ? ["--ipv6"] : [];
        const result = spawnSync(process.execPath, [CLI, ...args, ...family, ...(lenient ? ["--lenient"] : [])], { encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
        expect(result.error).toBeUndefined();
        const status = result.status!;
        expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
        expect(EXIT_CODES.has(status) || COMMANDS[command]!.answers.includes(status)).toBe(true);
        const model = lenient ? lenientModel : expected;
        if (model.skippedLines.length > 0) expect(result.stderr).toContain(`skipped ${model.skippedLines.length} line(s)`);
        const errors = model.diagnostics.filter((d) => d.severity === "error" && d.line > 0);
        if (!lenient && errors.length > 0) {
          expect(status).toBe(2);
          expect(result.stderr).toContain(`${file}:${errors[0]!.line}:${errors[0]!.column}: error:`);
        }
      });
    }
  });
});
