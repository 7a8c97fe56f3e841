// The iptscope command line: argument parsing only; the work is in the library.

import { readFileSync } from "node:fs";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import type { Family } from "../model/types.js";
import { GRAPH_DESCRIPTION, graphOptions } from "./commands/graph.js";
import { ExitCode } from "./exit-codes.js";
import { withContextOptions, withPacketOptions } from "./trace-options.js";

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
    .option("ipv6", { alias: "6", type: "boolean", describe: "read the dump as ip6tables-save output (default: from its header)" });
}

function family(args: CommonArgs): Family | undefined {
  return args.ipv6 === undefined ? undefined : args.ipv6 ? "ipv6" : "ipv4";
}

let exitCode: number = ExitCode.ok;
/** Set by commands whose trouble has one status (diff(1): 2) for usage and internal errors alike. */
let troubleExitCode: number | undefined;

/** Set when a command handler starts; then (and only then) a dump may have been loaded. */
let commandRan = false;

/** The part of yargs' instance that renders help ahead of a command (not in its typings). */
interface YargsInternals {
  getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: () => void } | undefined };
}

/**
 * yargs renders a command's whole help text before running its handler, in case the handler asks for it: ~70 ms
 * of start-up for graph's forty options. No handler here does, and --help renders the text anew.
 */
function skipHelpPrerendering(parser: Argv): void {
  const usage = (parser as unknown as YargsInternals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === "function") usage.cacheHelpMessage = () => {};
}

/** Thrown from yargs' fail handler so that no command runs after a usage error. */
class UsageError extends Error {}

async function main(): Promise<void> {
  // `iptscope … | head` closes the pipe early: stop quietly, as other Unix tools do.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(exitCode);
    throw error;
  });
  const argv = hideBin(process.argv);
  const debug = argv.includes("--debug");
  try {
    const parser = yargs(argv)
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
          commandRan = true;
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
          commandRan = true;
          const { runFmt } = await import("./commands/fmt.js");
          exitCode = runFmt({ file: args.file, lenient: args.lenient, family: family(args), canonical: args.canonical, backend: args.backend });
        },
      )
      .command(
        "trace [file]",
        "follow a packet through every table and chain as the kernel does, with NAT and branches",
        (y) =>
          withPacketOptions(withContextOptions(withInput(y)))
            .option("dst", { type: "string", demandOption: true, describe: "destination address" })
            .option("json", { type: "boolean", default: false, describe: "print the outcomes as JSON (kind iptscope.trace, schemaVersion 1)" })
            .example("iptables-save | $0 trace --src 10.244.1.5 --dst 10.96.0.10 --proto udp --dport 53", "where does a pod's DNS query go?")
            .example("$0 trace node.txt --from external --src 203.0.113.9 --dst 192.168.1.2 --dport 30071 --in eth0", "a NodePort from outside")
            .example("$0 trace node.txt --from node --dst 10.96.0.1 --dport 443 --json", "from the node itself, as JSON"),
        async (args) => {
          commandRan = true;
          const { runTrace } = await import("./commands/trace.js");
          exitCode = runTrace({ ...args, file: args.file, lenient: args.lenient, family: family(args) });
        },
      )
      .command(
        "services [file]",
        "the node's Kubernetes Services: every frontend, its endpoints with their shares, and flags",
        (y) =>
          withInput(y)
            .option("namespace", { type: "string", describe: "only the services of this namespace" })
            .option("node-ip", { type: "string", array: true, nargs: 1, describe: "an address of the node, for NodePorts (repeatable); default: inferred from the dump" })
            .option("json", { type: "boolean", default: false, describe: "print the Service map as JSON (kind iptscope.services, schemaVersion 1)" })
            .example("iptables-save | $0 services", "every service port this node serves")
            .example("$0 services node.txt --namespace kube-system --json", "one namespace, as JSON"),
        async (args) => {
          commandRan = true;
          const { runServices } = await import("./commands/services.js");
          exitCode = runServices({ ...args, file: args.file, lenient: args.lenient, family: family(args) });
        },
      )
      .command(
        "where <target> [file]",
        "where a new connection to a service goes: TARGET is IP:PORT[/PROTO], IP, :NODEPORT or namespace/name[:port]; exit 1 if nothing serves it",
        (y) =>
          withContextOptions(withInput(y))
            .positional("target", { type: "string", demandOption: true, describe: "IP:PORT[/PROTO], IP, :NODEPORT or namespace/name[:port]" })
            .option("src", { type: "string", describe: "client address (default: a representative pod, off-cluster client or node address, after --from)" })
            .option("json", { type: "boolean", default: false, describe: "print each answer's service and the tracer's outcomes as JSON (kind iptscope.where, schemaVersion 1)" })
            .option("verbose", { type: "boolean", default: false, describe: "print the full trace of every branch under each answer" })
            .example("$0 where 10.96.0.10:53 node.txt", "where do DNS queries from pods go?")
            .example("$0 where :30071 node.txt --from external", "a NodePort, from off the cluster")
            .example("$0 where kube-system/kube-dns node.txt --verbose", "every port of a service, with the rules on the way"),
        async (args) => {
          commandRan = true;
          const { runWhere } = await import("./commands/where.js");
          exitCode = runWhere({ ...args, target: args.target, file: args.file, lenient: args.lenient, family: family(args) });
        },
      )
      .command(
        "diff <old> <new>",
        "compare two dumps: exit 0 no difference, 1 differences, 2 trouble (as diff(1))",
        (y) => {
          troubleExitCode = ExitCode.malformedInput;
          return y
            .positional("old", { type: "string", demandOption: true, describe: "the earlier dump (plain or gzip; '-' for standard input)" })
            .positional("new", { type: "string", demandOption: true, describe: "the later dump (plain or gzip; '-' for standard input)" })
            .option("level", {
              choices: ["rules", "services", "traffic", "all"] as const,
              default: "all" as const,
              describe: "what to compare: rules (tables, chains, rules), services (service ports, frontends, endpoints), traffic (what new connections get); all: every level",
            })
            .option("node-ip", { type: "string", array: true, nargs: 1, describe: "an address of the node, for both snapshots' traces (repeatable; IP or IP@IFACE); default: inferred from OLD, else NEW" })
            .option("json", { type: "boolean", default: false, describe: "print the diff as JSON (kind iptscope.diff, schemaVersion 1)" })
            .option("lenient", { type: "boolean", default: false, describe: "skip bad lines (each reported) instead of failing" })
            .option("ipv6", { alias: "6", type: "boolean", describe: "read both dumps as ip6tables-save output (default: from their headers)" })
            .example("$0 diff before.txt after.txt", "what changed between two iptables-save snapshots")
            .example("$0 diff --level rules --json before.txt.gz after.txt.gz", "the rule changes as JSON")
            .example("$0 diff --level traffic --node-ip 10.0.0.5 before.txt after.txt", "does any new connection fare differently?");
        },
        async (args) => {
          commandRan = true;
          const { runDiff } = await import("./commands/diff.js");
          exitCode = runDiff({ old: args.old, new: args.new, level: args.level, json: args.json, lenient: args.lenient, family: family(args), nodeIp: args["node-ip"] });
        },
      )
      .command(
        "graph [file]",
        GRAPH_DESCRIPTION,
        (y) => graphOptions(withInput(y)),
        async (args) => {
          commandRan = true;
          const { runGraph } = await import("./commands/graph.js");
          exitCode = await runGraph({ ...args, file: args.file, lenient: args.lenient, family: family(args) });
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
      .wrap(Math.min(110, process.stdout.columns ?? 100));
    skipHelpPrerendering(parser);
    await parser.parseAsync();
  } catch (error) {
    if (error instanceof UsageError) {
      process.exitCode = troubleExitCode ?? ExitCode.usage;
      return;
    }
    process.stderr.write(`iptscope: internal error: ${(error as Error).message}\n`);
    if (debug) process.stderr.write(`${(error as Error).stack}\n`);
    else process.stderr.write("(run with --debug for details, and please report it)\n");
    exitCode = troubleExitCode ?? ExitCode.internal;
  }
  // Only commands load dumps, so --help and --version do not load the parser for notes they cannot have.
  if (commandRan) for (const note of (await import("./load.js")).takeClosingNotes()) process.stderr.write(note);
  process.exitCode = exitCode;
}

await main();
