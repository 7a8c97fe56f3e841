// `iptscope diff` parses NEW reusing OLD's rules and looks for jump loops in NEW only where NEW has jumps of its
// own: a loop closed by one new jump, among jumps taken from OLD, must still stop the comparison.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { insertRule } from "./support/dump-edits.js";
import { repoRoot } from "./support/files.js";
import { generateCluster, renderDump } from "./support/kubegen.js";

const bin = join(repoRoot, "bin", "iptscope.js");
const work = mkdtempSync(join(tmpdir(), "iptscope-diff-loops-"));

function diff(oldText: string, newText: string, ...flags: string[]) {
  const oldFile = join(work, "old.txt");
  const newFile = join(work, "new.txt");
  writeFileSync(oldFile, oldText);
  writeFileSync(newFile, newText);
  return spawnSync(process.execPath, [bin, "diff", ...flags, oldFile, newFile], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 });
}

const base = renderDump(generateCluster({ services: 12, seed: 5 }));
const withChains = insertRule(insertRule(base, "filter", "-A FORWARD -j L0", "top", "L0"), "filter", "-A L0 -j L1", "end", "L1");
// A conditional RETURN: after an unconditional one, iptables-legacy would never meet the loop (see below).
const before = insertRule(withChains, "filter", "-A L1 -p tcp -j RETURN", "end");

describe("jump loops in NEW", () => {
  it("a loop closed by a new jump is found, and stops the comparison", () => {
    const result = diff(before, insertRule(before, "filter", "-A L1 -j L0", "end"));
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/error: jump loop: filter\/L[01] → filter\/L[01] → filter\/L[01]/);
  });

  it("with --lenient, the loop is a warning and the comparison goes on", () => {
    const result = diff(before, insertRule(before, "filter", "-A L1 -j L0", "end"), "--lenient");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/warning: jump loop/);
  });

  it("a loop past an unconditional RETURN is iptables-nft's alone: a warning, and the comparison goes on", () => {
    const unconditional = insertRule(withChains, "filter", "-A L1 -j RETURN", "end");
    const result = diff(unconditional, insertRule(unconditional, "filter", "-A L1 -j L0", "end"));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/warning: iptables-nft refuses this \(a jump loop filter\/L[01] → filter\/L[01] → filter\/L[01] reached only past/);
  });

  it("jumps all taken from a snapshot without loops: none reported", () => {
    const result = diff(before, before.replace(":FORWARD ACCEPT", ":FORWARD DROP"));
    expect(result.status).toBe(1);
    expect(result.stderr).not.toMatch(/jump loop/);
  });
});
