// `iptscope graph`: options, then load → picture (with a trace drawn over it, for --trace) → stdout or -o FILE.
// Only the modules of the asked view and format are imported, when the command runs: the options alone (for
// --help and for every other command's start-up) load no parser, view, layout or writer.

import { writeFileSync } from "node:fs";
import type { Argv } from "yargs";
import type { TraceResult } from "../../analysis/trace/types.js";
import type { Tracer } from "../../analysis/trace/walk.js";
import { TABLE_NAMES, type Ruleset, type TableName } from "../../model/types.js";
import { formatFromFileName, GRAPH_FORMATS, VIEW_NAMES, type GraphFormat, type ViewName } from "../../render/formats.js";
import type { Scene } from "../../render/scene.js";
import type { ViewOptions } from "../../render/views/options.js";
import type { TracedViewName } from "../../render/views/trace.js";
import { ExitCode } from "../exit-codes.js";
import type { LoadOptions } from "../load.js";
import { contextFromArgs, packetFromArgs, withContextOptions, withPacketOptions, type ContextArgs, type PacketArgs } from "../trace-options.js";

export const GRAPH_DESCRIPTION =
  "draw the ruleset: flow (gressgraph style), the chain call graph or the Kubernetes service map, as svg, dot, html or json; --trace draws a packet's paths over it";

/** Flags that only describe the traced packet (--node-ip also tells the services view the node's addresses). */
const PACKET_FLAGS = ["src", "dst", "sport", "dport", "icmp-type", "icmp-code", "length", "ttl", "in", "out", "route", "mark", "ctmark", "ipset-file", "uid", "gid"] as const;

export function graphOptions<T>(y: Argv<T>) {
  return withContextOptions(withPacketOptions(y))
    .option("view", {
      choices: VIEW_NAMES,
      describe: "flow: interfaces and addresses, every rule as its hops (default); chains: chain call graph per table (default with --trace); services: Kubernetes service map",
    })
    .option("format", { choices: GRAPH_FORMATS, describe: "output format (default: from the -o file name, else svg)" })
    .option("table", { choices: TABLE_NAMES, describe: "flow: the table to draw (default filter); chains: only this table (default all)" })
    .option("namespace", { type: "string", describe: "keep the rules, chains or services of one Kubernetes namespace (kube-proxy comments)" })
    .option("output", { alias: "o", type: "string", describe: "write to this file instead of standard output" })
    .option("trace", { type: "boolean", default: false, describe: "draw the paths of the packet that --src, --dst, --proto, --dport … describe (as iptscope trace takes them) over the chains or services view" })
    .option("dst", { type: "string", describe: "destination address of the traced packet" })
    .group(["view", "format", "table", "namespace", "output"], "Picture:")
    .group(["trace", "src", "dst", "proto", "sport", "dport", "icmp-type", "icmp-code", "length", "ttl"], "Trace overlay (--trace; the flags of iptscope trace):")
    .group(["from", "in", "out", "node-ip", "route", "state", "mark", "ctmark", "ipset-file", "assume-no-affinity", "uid", "gid"], "Trace context (--node-ip also places NodePorts in --view services):")
    .example("iptables-save | $0 graph -o node.svg", "gressgraph-style picture of the filter table")
    .example("$0 graph --view chains --table nat dump.txt -o nat.html", "interactive chain graph: zoom, search, click a chain for its rules")
    .example("$0 graph --view services dump.txt -o services.html", "the service map: namespaces, frontends, endpoints with their shares")
    .example("$0 graph dump.txt --trace --src 10.244.1.5 --dst 10.96.0.10 --proto udp --dport 53 -o dns.svg", "a pod's DNS query drawn over the chain graph")
    .example("$0 graph --format dot dump.txt | twopi -Tsvg > flow.svg", "lay the flow view out with Graphviz, as gressgraph does")
    .example("$0 graph --view chains --namespace kube-system big.txt -o ks.svg", "one namespace of a large kube-proxy dump");
}

export interface GraphCommandOptions extends LoadOptions, ContextArgs, PacketArgs {
  view?: ViewName;
  format?: GraphFormat;
  table?: TableName;
  namespace?: string;
  output?: string;
  trace: boolean;
}

function usage(message: string): ExitCode {
  process.stderr.write(`iptscope graph: ${message}\n`);
  return ExitCode.usage;
}

export async function runGraph(options: GraphCommandOptions): Promise<ExitCode> {
  if (options.trace) {
    if (options.view === "flow") return usage("--trace draws on --view chains (the default with --trace) or --view services, not on flow");
    if (options.dst === undefined) return usage("--trace needs the packet: --dst, and --src, --proto, --dport … as iptscope trace takes them");
  } else {
    const given = PACKET_FLAGS.filter((flag) => options[flag] !== undefined);
    if (given.length > 0) return usage(`${given.map((f) => `--${f}`).join(", ")}: only with --trace (the packet to draw the paths of)`);
  }
  const { loadDump } = await import("../load.js");
  const loaded = loadDump(options);
  if (!loaded.ok) return loaded.exitCode;
  const { ruleset } = loaded.result;
  if (options.table !== undefined && !ruleset.tables.some((t) => t.name === options.table)) {
    const present = ruleset.tables.map((t) => t.name).join(", ") || "none";
    process.stderr.write(`iptscope: ${loaded.name} has no ${options.table} table (tables: ${present})\n`);
    return ExitCode.usage;
  }
  // Inferring node addresses scans every endpoint rule: only for a trace, or to check the addresses given.
  const context = options.trace || options["node-ip"]?.length ? contextFromArgs(options, ruleset) : undefined;
  if (context && "message" in context) return usage(context.message);
  const format = options.format ?? (options.output !== undefined ? formatFromFileName(options.output) : undefined) ?? "svg";
  const viewOptions: ViewOptions = {
    sourceName: loaded.name.split("/").pop() ?? loaded.name,
    ...(options.table !== undefined ? { table: options.table } : {}),
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(context && options["node-ip"]?.length ? { nodeAddresses: context.nodeAddresses } : {}),
  };
  let scene: Scene;
  if (options.trace && context) {
    const built = packetFromArgs({ ...options, dst: options.dst! }, context, ruleset.family);
    if ("message" in built) return usage(built.message);
    const { createTracer } = await import("../../analysis/trace/walk.js");
    const view = options.view === "services" ? "services" : "chains";
    // The services overlay draws where each outcome ends, not its path; the same tracer then resolves the frontends.
    const tracer = createTracer(ruleset, { paths: view === "chains" });
    scene = await tracedScene(ruleset, view, viewOptions, tracer, tracer.trace(built.packet, context));
  } else {
    scene = await plainScene(ruleset, options.view ?? "flow", viewOptions);
  }
  const picture = await writePicture(scene, format);
  if (options.output !== undefined) {
    try {
      writeFileSync(options.output, picture);
    } catch (error) {
      process.stderr.write(`iptscope: cannot write ${options.output}: ${(error as Error).message}\n`);
      return ExitCode.usage;
    }
  } else process.stdout.write(picture);
  return ExitCode.ok;
}

async function plainScene(ruleset: Ruleset, view: ViewName, options: ViewOptions): Promise<Scene> {
  switch (view) {
    case "flow":
      return (await import("../../render/views/flow.js")).buildFlowScene(ruleset, options);
    case "chains":
      return (await import("../../render/views/chains.js")).buildChainsScene(ruleset, options);
    case "services":
      return (await import("../../render/views/services.js")).buildServicesScene(ruleset, options);
    default: {
      const unreachable: never = view;
      throw new Error(`unknown view ${String(unreachable)}`);
    }
  }
}

/** The traced view; the services view resolves its frontends with the tracer that traced the packet. */
async function tracedScene(ruleset: Ruleset, view: TracedViewName, options: ViewOptions, tracer: Tracer, result: TraceResult): Promise<Scene> {
  switch (view) {
    case "chains":
      return (await import("../../render/views/trace-chains.js")).buildTracedChainsScene(ruleset, options, result);
    case "services":
      return (await import("../../render/views/trace-services.js")).buildTracedServicesScene(ruleset, options, result, tracer);
    default: {
      const unreachable: never = view;
      throw new Error(`view ${String(unreachable)} cannot be traced`);
    }
  }
}

/** As render's writeScene, loading only what the format needs (the page script and d3 only for html, no layout for dot). */
async function writePicture(scene: Scene, format: GraphFormat): Promise<string> {
  switch (format) {
    case "svg": {
      const [{ layoutScene }, { writeSvg }] = await Promise.all([import("../../render/layout/frame.js"), import("../../render/write/svg.js")]);
      return writeSvg(scene, layoutScene(scene), { standalone: true });
    }
    case "dot":
      return (await import("../../render/write/dot.js")).writeDot(scene);
    case "html": {
      const [{ layoutScene }, { writeHtml }] = await Promise.all([import("../../render/layout/frame.js"), import("../../render/write/html.js")]);
      return writeHtml(scene, layoutScene(scene));
    }
    case "json": {
      const [{ layoutScene }, { writeGraphJson }] = await Promise.all([import("../../render/layout/frame.js"), import("../../render/write/json.js")]);
      return writeGraphJson(scene, layoutScene(scene));
    }
    default: {
      const unreachable: never = format;
      throw new Error(`unknown format ${String(unreachable)}`);
    }
  }
}
