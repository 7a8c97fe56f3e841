// The iptscope command line: argument parsing only; the work is in the library.

import { readFileSync } from "node:fs";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import type { Family } from "../model/types.js";
import { ExitCode } from "./exit-codes.js";

const packageJson = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };

interface CommonArgs {
  file?: string;
  lenient: boolean;
  ipv6?: boolean;
  debug: boolean;
}

function withInput<T>(y: Argv<T>) {
  return y
    .positional("file", { type: "string", describe: "iptables-save output (plain or gzip); '-' or omitted: standard input" })
    .option("lenient", { type: "boolean", default: false, describe: "skip bad lines (each reported) instead of failing" })
    .option("ipv6", { type: "boolean", describe: "read the dump as ip6tables-save output (default: from its header)" });
}

function family(args: CommonArgs): Family | undefined {
  return args.ipv6 === undefined ? undefined : args.ipv6 ? "ipv6" : "ipv4";
}

let exitCode: number = ExitCode.ok;

/** Thrown from yargs' fail handler so that no command runs after a usage error. */
class UsageError extends Error {}

async function main(): Promise<void> {
  const argv = hideBin(process.argv);
  const debug = argv.includes("--debug");
  try {
    await yargs(argv)
      .scriptName("iptscope")
      .usage("$0 <command> [options]\n\nRead iptables-save dumps and tell what the node does with a packet.")
      .option("debug", { type: "boolean", default: false, describe: "show stack traces of internal errors" })
      .command(
        "parse [file]",
        "parse a dump and summarise it (tables, chains, rules, diagnostics)",
        (y) =>
          withInput(y)
            .option("json", { type: "boolean", default: false, describe: "print the full typed model as JSON (schemaVersion 1)" })
            .example("iptables-save | $0 parse", "summarise this node's ruleset")
            .example("$0 parse --json node1.txt.gz > model.json", "the typed model of a saved (gzipped) dump"),
        async (args) => {
          const { runParse } = await import("./commands/parse.js");
          exitCode = runParse({ file: args.file, lenient: args.lenient, family: family(args), json: args.json });
        },
      )
      .command(
        "fmt [file]",
        "print a dump back as iptables-save text",
        (y) =>
          withInput(y)
            .option("canonical", {
              type: "boolean",
              default: false,
              describe: "print what iptables-save would print after loading the input (restore input → save output)",
            })
            .option("backend", {
              choices: ["nft", "legacy"] as const,
              default: "nft" as const,
              describe: "with --canonical: whose iptables-save to reproduce (they differ in a few normalisations)",
            })
            .example("$0 fmt dump.txt", "normalise whitespace, keep the input's order and spelling")
            .example("$0 fmt --canonical kube-proxy-restore.txt", "what the kernel will show after iptables-restore"),
        async (args) => {
          const { runFmt } = await import("./commands/fmt.js");
          exitCode = runFmt({ file: args.file, lenient: args.lenient, family: family(args), canonical: args.canonical, backend: args.backend });
        },
      )
      .demandCommand(1, "give a command; see iptscope --help")
      .strict()
      .fail((message, error) => {
        if (error) throw error;
        process.stderr.write(`iptscope: ${message}\n(see iptscope --help)\n`);
        throw new UsageError(message);
      })
      .help()
      .alias("h", "help")
      .version(packageJson.version)
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .parseAsync();
  } catch (error) {
    if (error instanceof UsageError) {
      process.exitCode = ExitCode.usage;
      return;
    }
    process.stderr.write(`iptscope: internal error: ${(error as Error).message}\n`);
    if (debug) process.stderr.write(`${(error as Error).stack}\n`);
    else process.stderr.write("(run with --debug for details, and please report it)\n");
    exitCode = ExitCode.internal;
  }
  process.exitCode = exitCode;
}

await main();
