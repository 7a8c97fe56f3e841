import { readServiceMap } from "../../analysis/kube/index.js";
import { answerWhere, formatWhereTarget, parseWhereTarget, type WhereReport } from "../../analysis/kube/where.js";
import { parseIp } from "../../analysis/ip.js";
import { createTracer } from "../../analysis/trace/walk.js";
import { renderWhereText } from "../../render/where-text.js";
import { paletteFor } from "../color.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";
import { contextFromArgs, type ContextArgs } from "../trace-options.js";

/** Version of the JSON that `where --json` prints; see the README. */
export const WHERE_SCHEMA_VERSION = 1;

export interface WhereArgs extends ContextArgs {
  target: string;
  src?: string;
  json: boolean;
  verbose: boolean;
}

function usage(message: string): ExitCode {
  process.stderr.write(`iptscope where: ${message}\n`);
  return ExitCode.usage;
}

export function whereJson(report: WhereReport, file: string, family: "ipv4" | "ipv6"): object {
  return {
    schemaVersion: WHERE_SCHEMA_VERSION,
    kind: "iptscope.where",
    file,
    target: formatWhereTarget(report.target, family),
    client: report.client,
    ...(report.sourceChosen ? { sourceChosen: report.sourceChosen } : {}),
    answers: report.answers.map(({ service, frontend, resolution, result }) => ({
      service: { ...service.name, protocol: service.protocol, type: service.type, hash: service.hash, line: service.line },
      frontend: { ...frontend, resolutions: undefined },
      summary: resolution,
      trace: result,
    })),
    ...(report.unserved ? { unserved: report.unserved.result } : {}),
  };
}

/** Exit 0 when some endpoint serves the target, 1 when nothing does (no service, or REJECT/DROP only). */
export function whereExitCode(report: WhereReport): ExitCode {
  return report.answers.some((a) => a.resolution.endpoints.length > 0) ? ExitCode.ok : ExitCode.negative;
}

export function runWhere(options: LoadOptions & WhereArgs): ExitCode {
  const loaded = loadDump({ ...options, quiet: options.json });
  if (!loaded.ok) return loaded.exitCode;
  const { ruleset } = loaded.result;
  const family = ruleset.family;
  const target = parseWhereTarget(options.target, family);
  if (typeof target === "string") return usage(target);
  const context = contextFromArgs(options, ruleset);
  if ("message" in context) return usage(context.message);
  if (options.src !== undefined && !parseIp(options.src, family)) {
    return usage(`--src '${options.src}': expected an ${family === "ipv4" ? "IPv4" : "IPv6"} address (the dump is ${family})`);
  }
  const given = options["node-ip"]?.length ? context.nodeAddresses : undefined;
  const map = readServiceMap(ruleset, given ? { nodeAddresses: given } : {});
  const report = answerWhere(createTracer(ruleset), map, target, {
    context: { ...context, nodeAddresses: map.nodeAddresses },
    ...(options.src !== undefined ? { src: parseIp(options.src, family)!.text } : {}),
  });
  if (options.json) process.stdout.write(JSON.stringify(whereJson(report, loaded.name, family), null, 2) + "\n");
  else process.stdout.write(renderWhereText(report, map, { palette: paletteFor(process.stdout), verbose: options.verbose }));
  return whereExitCode(report);
}
