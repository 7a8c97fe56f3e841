// Every iptscope command on one input FILE, in this process (what the CLI runs after argument parsing) or as
// a real process. In-process runs are fast enough to try every command on every class of bad input.

import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { join } from "node:path";
import { runDiff } from "../../src/cli/commands/diff.js";
import { runFmt } from "../../src/cli/commands/fmt.js";
import { runGraph } from "../../src/cli/commands/graph.js";
import { runParse } from "../../src/cli/commands/parse.js";
import { runServices } from "../../src/cli/commands/services.js";
import { runTrace } from "../../src/cli/commands/trace.js";
import { runWhere } from "../../src/cli/commands/where.js";
import { takeClosingNotes } from "../../src/cli/load.js";
import { repoRoot } from "./files.js";

export const COMMAND_NAMES = ["parse", "fmt", "trace", "services", "where", "graph", "diff"] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** A dump every command accepts, the other side of `diff`. */
export const GOOD_DUMP = join(repoRoot, "samples", "kubeadm-flannel.txt");

export interface CommandRun {
  status: number;
  stdout: string;
  stderr: string;
}

const CONTEXT = { from: "pod", state: "new", "assume-no-affinity": false } as const;

/** The command line arguments after `iptscope` for a command on FILE. */
export function commandArguments(command: CommandName, file: string, lenient: boolean): string[] {
  const flags = lenient ? ["--lenient"] : [];
  switch (command) {
    case "parse":
    case "fmt":
    case "services":
    case "graph":
      return [command, file, ...flags];
    case "trace":
      return ["trace", file, "--src", "10.244.1.5", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53", ...flags];
    case "where":
      return ["where", "10.96.0.10:53", file, ...flags];
    case "diff":
      return ["diff", file, GOOD_DUMP, ...flags];
    default: {
      const never: never = command;
      throw new Error(`unknown command ${String(never)}`);
    }
  }
}

async function dispatch(command: CommandName, file: string, lenient: boolean): Promise<number> {
  const input = { file, lenient };
  switch (command) {
    case "parse":
      return runParse({ ...input, json: false });
    case "fmt":
      return runFmt({ ...input, canonical: false, backend: "nft" });
    case "trace":
      return runTrace({ ...input, ...CONTEXT, src: "10.244.1.5", dst: "10.96.0.10", proto: "udp", dport: 53, json: false });
    case "services":
      return runServices({ ...input, json: false });
    case "where":
      return runWhere({ ...input, ...CONTEXT, target: "10.96.0.10:53", json: false, verbose: false });
    case "graph":
      return runGraph({ ...input, ...CONTEXT, view: "flow", trace: false, proto: "tcp" });
    case "diff":
      return runDiff({ old: file, new: GOOD_DUMP, level: "rules", json: false, lenient });
    default: {
      const never: never = command;
      throw new Error(`unknown command ${String(never)}`);
    }
  }
}

/** Runs a command as main.ts would after parsing its arguments, capturing what it writes. */
export async function runInProcess(command: CommandName, file: string, lenient = false): Promise<CommandRun> {
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    takeClosingNotes();
    const status = await dispatch(command, file, lenient);
    for (const note of takeClosingNotes()) stderr += note;
    return { status, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const CLI = join(repoRoot, "bin", "iptscope.js");

/** The real command line, in a child process. */
export function runProcess(args: readonly string[], options: SpawnSyncOptions = {}): CommandRun {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024, ...options });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
