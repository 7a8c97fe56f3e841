// Bad input of every class through every command: one human error naming the file (and the line when
// there is one), the documented exit status, and the same answer from every command. `diff` has diff(1)'s
// status 2 for any trouble. With --lenient, what can be read is read, and nothing is skipped silently.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../src/cli/exit-codes.js";
import { COMMAND_NAMES, commandArguments, GOOD_DUMP, runInProcess, runProcess, type CommandName, type CommandRun } from "./support/commands.js";

const work = mkdtempSync(join(tmpdir(), "iptscope-hygiene-"));
// Open to others: one check runs the command as nobody.
chmodSync(work, 0o755);
const good = readFileSync(GOOD_DUMP, "utf8");
const goodLines = good.split("\n");
const write = (name: string, content: string | Buffer) => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

/** What a command answers on the good dump: success, or `where`'s/`diff`'s negative answer. */
const ANSWERS = new Set<number>([ExitCode.ok, ExitCode.negative]);

interface BadInput {
  name: string;
  file: string;
  /** Exit status of every command but diff (diff: 2). */
  status: number;
  /** The first line of standard error, FILE standing for the file's name. */
  first: (file: string) => RegExp;
  /** True when the whole message is that one line. */
  oneLine: boolean;
  /** With --lenient: the warning it gets, and whether the rest is then exactly the good dump. */
  lenient?: { warning: (file: string) => RegExp; same: boolean; skipped?: number[] };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const nulLine = 6;
const cut = good.lastIndexOf("-A ");
const truncatedAt = good.slice(0, cut).split("\n").length;

const BAD: BadInput[] = [
  {
    name: "UTF-8 byte order mark",
    file: write("bom.txt", `\uFEFF${good}`),
    status: ExitCode.malformedInput,
    first: (f) => new RegExp(`^${escape(f)}:1:1: error: UTF-8 byte order mark`),
    oneLine: false,
    lenient: { warning: (f) => new RegExp(`${escape(f)}:1:1: warning: UTF-8 byte order mark`), same: true },
  },
  {
    name: "CRLF line ends",
    file: write("crlf.txt", good.replace(/\n/g, "\r\n")),
    status: ExitCode.malformedInput,
    first: (f) => new RegExp(`^${escape(f)}:1:1: error: CRLF line ends \\(${goodLines.length - 1} lines\\)`),
    oneLine: false,
    lenient: { warning: (f) => new RegExp(`${escape(f)}:1:1: warning: CRLF line ends`), same: true },
  },
  {
    name: "NUL byte",
    file: write("nul.txt", [...goodLines.slice(0, nulLine - 1), "-A INPUT -j ACC\0EPT", ...goodLines.slice(nulLine - 1)].join("\n")),
    status: ExitCode.malformedInput,
    first: (f) => new RegExp(`^${escape(f)}:${nulLine}:16: error: NUL byte in line`),
    oneLine: false,
    // Not the same output: the lines after it move down by one.
    lenient: { warning: (f) => new RegExp(`${escape(f)}:${nulLine}:16: warning: NUL byte`), same: false, skipped: [nulLine] },
  },
  {
    name: "truncated in the middle of its last line",
    file: write("truncated.txt", good.slice(0, cut + 20)),
    status: ExitCode.malformedInput,
    first: (f) => new RegExp(`^${escape(f)}:${truncatedAt}:1: error: table '\\w+' is not closed: expected COMMIT`),
    oneLine: false,
    lenient: { warning: (f) => new RegExp(`${escape(f)}:${truncatedAt}:\\d+: warning: `), same: false },
  },
  {
    name: "corrupt gzip",
    file: write("corrupt.txt.gz", Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03])),
    status: ExitCode.unreadableInput,
    first: (f) => new RegExp(`^iptscope: ${escape(f)}: looks gzip-compressed but cannot be decompressed: `),
    oneLine: true,
  },
  {
    name: "gzip cut short",
    file: write("short.txt.gz", gzipSync(good).subarray(0, 200)),
    status: ExitCode.unreadableInput,
    first: (f) => new RegExp(`^iptscope: ${escape(f)}: looks gzip-compressed but cannot be decompressed: unexpected end of file`),
    oneLine: true,
  },
  {
    name: "a directory",
    file: (mkdirSync(join(work, "dir.txt")), join(work, "dir.txt")),
    status: ExitCode.unreadableInput,
    first: (f) => new RegExp(`^iptscope: ${escape(f)}: is a directory, expected an iptables-save dump$`),
    oneLine: true,
  },
  {
    name: "a missing file",
    file: join(work, "missing.txt"),
    status: ExitCode.unreadableInput,
    first: (f) => new RegExp(`^iptscope: ${escape(f)}: no such file$`),
    oneLine: true,
  },
  {
    name: "an unreadable file (a symbolic link loop)",
    file: (symlinkSync("loop-b", join(work, "loop-a")), symlinkSync("loop-a", join(work, "loop-b")), join(work, "loop-a")),
    status: ExitCode.unreadableInput,
    first: (f) => new RegExp(`^iptscope: ${escape(f)}: cannot read: ELOOP`),
    oneLine: true,
  },
  {
    name: "an empty file",
    file: write("empty.txt", ""),
    status: ExitCode.emptyInput,
    first: (f) => new RegExp(`^${escape(f)}: error: empty input: no tables`),
    oneLine: true,
  },
  {
    name: "comments and blank lines only",
    file: write("comments.txt", "# Generated by iptables-save v1.8.9\n\n# Completed\n"),
    status: ExitCode.emptyInput,
    first: (f) => new RegExp(`^${escape(f)}: error: empty input: no tables`),
    oneLine: true,
  },
];

const expectedStatus = (command: CommandName, bad: BadInput) => (command === "diff" ? ExitCode.malformedInput : bad.status);

describe("every class of bad input, every command", () => {
  for (const bad of BAD) {
    describe(bad.name, () => {
      const runs = new Map<CommandName, CommandRun>();
      for (const command of COMMAND_NAMES) {
        it(`${command}: exit ${expectedStatus(command, bad)}, the error first, nothing on standard output`, async () => {
          const run = await runInProcess(command, bad.file);
          runs.set(command, run);
          expect(run.status).toBe(expectedStatus(command, bad));
          expect(run.stdout).toBe("");
          const lines = run.stderr.trimEnd().split("\n");
          expect(lines[0]).toMatch(bad.first(bad.file));
          if (bad.oneLine) expect(lines).toHaveLength(1);
          else expect(lines.at(-1)).toMatch(new RegExp(`^iptscope: ${escape(bad.file)}: \\d+ error\\(s\\); nothing printed \\(use --lenient to skip bad lines\\)$`));
          expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
        });
      }
      it("every command says the same", () => {
        const parse = runs.get("parse")?.stderr;
        expect(parse).toBeDefined();
        for (const [command, run] of runs) expect(run.stderr, command).toBe(parse);
      });
    });
  }
});

describe("--lenient reads what can be read, the same way in every command", () => {
  for (const bad of BAD.filter((b) => b.lenient)) {
    const lenient = bad.lenient!;
    for (const command of COMMAND_NAMES) {
      it(`${bad.name}: ${command} --lenient goes on, with the warning${lenient.skipped ? " and the skipped line numbers at the end" : ""}`, async () => {
        const run = await runInProcess(command, bad.file, true);
        expect(ANSWERS.has(run.status), run.stderr).toBe(true);
        expect(run.stderr).toMatch(lenient.warning(bad.file));
        if (lenient.skipped) {
          expect(run.stderr.trimEnd().split("\n").at(-1)).toBe(
            `iptscope: ${bad.file}: skipped ${lenient.skipped.length} line(s) (--lenient): ${lenient.skipped.join(", ")}`,
          );
        }
        if (lenient.same) {
          const reference = await runInProcess(command, GOOD_DUMP);
          const sameAs = (stdout: string) => stdout.replaceAll(bad.file, GOOD_DUMP).replaceAll(basename(bad.file), basename(GOOD_DUMP));
          if (command === "diff") expect(run.status).toBe(ExitCode.ok);
          // parse's summary counts the warning: the rest of it must not change.
          else if (command === "parse") expect(sameAs(run.stdout).split("\n")[0]).toBe(reference.stdout.split("\n")[0]);
          else expect(sameAs(run.stdout)).toBe(reference.stdout);
        }
      });
    }
  }
});

describe("input that is fine", () => {
  it("a last line without its line end (COMMIT) is read as iptables-restore reads it", async () => {
    const file = write("no-final-newline.txt", good.trimEnd());
    for (const command of COMMAND_NAMES) {
      const run = await runInProcess(command, file);
      expect(ANSWERS.has(run.status), `${command}: ${run.stderr}`).toBe(true);
      expect(run.stderr, command).toBe("");
    }
  });

  it("binary garbage with --lenient: every line skipped and listed, then 'no table left', exit 3", async () => {
    const file = write("garbage.bin", Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)));
    const run = await runInProcess("fmt", file, true);
    expect(run.status).toBe(ExitCode.emptyInput);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(new RegExp(`iptscope: ${escape(file)}: no table left after skipping \\d+ line\\(s\\); nothing to work on`));
    expect(run.stderr.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^iptscope: ${escape(file)}: skipped (\\d+) line\\(s\\) \\(--lenient\\): 1-\\d+$`));
  });
});

describe("through the real command line", () => {
  for (const command of COMMAND_NAMES) {
    it(`${command}: empty standard input is exit ${command === "diff" ? 2 : 3} with one line`, () => {
      const args = commandArguments(command, "-", false);
      const run = runProcess(args, { input: "" });
      expect(run.status).toBe(command === "diff" ? ExitCode.malformedInput : ExitCode.emptyInput);
      expect(run.stderr.trimEnd().split("\n")).toEqual(["<stdin>: error: empty input: no tables (expected iptables-save output)"]);
    });
  }

  it("a file without read permission: exit 4 with one line, in parse and in diff", () => {
    const file = write("secret.txt", good);
    chmodSync(file, 0o000);
    // root reads anything: the check runs the command as nobody.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const parse = runProcess(["parse", file], asNobody);
    expect(parse.status).toBe(ExitCode.unreadableInput);
    expect(parse.stderr.trimEnd().split("\n")).toEqual([`iptscope: ${file}: cannot read: EACCES: permission denied, open '${file}'`]);
    const diff = runProcess(["diff", GOOD_DUMP, file], asNobody);
    expect(diff.status).toBe(ExitCode.malformedInput);
    expect(diff.stderr.trimEnd().split("\n")).toEqual([`iptscope: ${file}: cannot read: EACCES: permission denied, open '${file}'`]);
  });

  it("the in-process runs are what the command line does (a class each of located, read and empty trouble)", () => {
    for (const bad of [BAD[2]!, BAD[4]!, BAD[9]!]) {
      const run = runProcess(commandArguments("trace", bad.file, false));
      expect(run.status).toBe(bad.status);
      expect(run.stderr.split("\n")[0]).toMatch(bad.first(bad.file));
    }
  });
});
