// `iptscope graph`: options, then load → picture → stdout or -o FILE. The renderer is imported only when the
// command runs, so other commands do not pay for d3.

import { writeFileSync } from "node:fs";
import type { Argv } from "yargs";
import { TABLE_NAMES, type TableName } from "../../model/types.js";
import { formatFromFileName, GRAPH_FORMATS, type GraphFormat } from "../../render/formats.js";
import { VIEW_NAMES, type ViewName } from "../../render/scene.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";

export const GRAPH_DESCRIPTION = "draw the ruleset: flow (gressgraph style) or the chain call graph, as svg, dot, html or json";

export function graphOptions<T>(y: Argv<T>) {
  return y
    .option("view", { choices: VIEW_NAMES, default: "flow" as ViewName, describe: "flow: interfaces and addresses, every rule as its hops; chains: chain call graph per table" })
    .option("format", { choices: GRAPH_FORMATS, describe: "output format (default: from the -o file name, else svg)" })
    .option("table", { choices: TABLE_NAMES, describe: "flow: the table to draw (default filter); chains: only this table (default all)" })
    .option("namespace", { type: "string", describe: "keep the rules and chains of one Kubernetes namespace (kube-proxy comments)" })
    .option("output", { alias: "o", type: "string", describe: "write to this file instead of standard output" })
    .example("iptables-save | $0 graph -o node.svg", "gressgraph-style picture of the filter table")
    .example("$0 graph --view chains --table nat dump.txt -o nat.html", "interactive chain graph: zoom, search, click a chain for its rules")
    .example("$0 graph --format dot dump.txt | twopi -Tsvg > flow.svg", "lay the flow view out with Graphviz, as gressgraph does")
    .example("$0 graph --view chains --namespace kube-system big.txt -o ks.svg", "one namespace of a large kube-proxy dump");
}

export interface GraphCommandOptions extends LoadOptions {
  view: ViewName;
  format?: GraphFormat;
  table?: TableName;
  namespace?: string;
  output?: string;
}

export async function runGraph(options: GraphCommandOptions): Promise<ExitCode> {
  const loaded = loadDump(options);
  if (!loaded.ok) return loaded.exitCode;
  const { ruleset } = loaded.result;
  if (options.table !== undefined && !ruleset.tables.some((t) => t.name === options.table)) {
    const present = ruleset.tables.map((t) => t.name).join(", ") || "none";
    process.stderr.write(`iptscope: ${loaded.name} has no ${options.table} table (tables: ${present})\n`);
    return ExitCode.usage;
  }
  const format = options.format ?? (options.output !== undefined ? formatFromFileName(options.output) : undefined) ?? "svg";
  const { renderGraph } = await import("../../render/index.js");
  const sourceName = loaded.name.split("/").pop() ?? loaded.name;
  const picture = renderGraph(ruleset, {
    view: options.view,
    format,
    sourceName,
    ...(options.table !== undefined ? { table: options.table } : {}),
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
  });
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
