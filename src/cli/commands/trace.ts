import { parseIp } from "../../analysis/ip.js";
import { createTracer } from "../../analysis/trace/walk.js";
import type { PacketSpec } from "../../analysis/trace/types.js";
import { renderTraceText } from "../../render/trace-text.js";
import { paletteFor } from "../color.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";
import { contextFromArgs, DEFAULT_SOURCE_PORT, protocolNumberOf, type ContextArgs } from "../trace-options.js";

export interface TraceArgs extends ContextArgs {
  src?: string;
  dst: string;
  proto: string;
  sport?: number;
  dport?: number;
  "icmp-type"?: number;
  "icmp-code"?: number;
  length?: number;
  ttl?: number;
  json: boolean;
}

const PORT_PROTOCOLS = new Set([6, 17, 33, 132, 136]);
const ICMP = new Set([1, 58]);

function usage(message: string): ExitCode {
  process.stderr.write(`iptscope trace: ${message}\n`);
  return ExitCode.usage;
}

export function runTrace(options: LoadOptions & TraceArgs): ExitCode {
  const loaded = loadDump({ ...options, quiet: options.json });
  if (!loaded.ok) return loaded.exitCode;
  const { ruleset } = loaded.result;
  const family = ruleset.family;
  const context = contextFromArgs(options, ruleset);
  if ("message" in context) return usage(context.message);
  const protocol = protocolNumberOf(options.proto);
  if (protocol === undefined) return usage(`--proto '${options.proto}': unknown protocol (a name like tcp, udp, icmp, or a number)`);
  const src = options.src ?? (options.from === "node" ? context.nodeAddresses[0]?.address : undefined);
  if (src === undefined) return usage("--src is required (with --from node it defaults to a node address, and none is known: pass --node-ip)");
  for (const [flag, value] of [["--src", src], ["--dst", options.dst]] as const) {
    if (!parseIp(value, family)) return usage(`${flag} '${value}': expected an ${family === "ipv4" ? "IPv4" : "IPv6"} address (the dump is ${family})`);
  }
  const packet: PacketSpec = { src, dst: options.dst, protocol };
  if (PORT_PROTOCOLS.has(protocol)) {
    if (options.dport === undefined) return usage(`--dport is required for ${options.proto}`);
    packet.sport = options.sport ?? DEFAULT_SOURCE_PORT;
    packet.dport = options.dport;
  }
  if (ICMP.has(protocol)) {
    packet.icmpType = options["icmp-type"] ?? (protocol === 1 ? 8 : 128);
    packet.icmpCode = options["icmp-code"] ?? 0;
  }
  if (options.length !== undefined) packet.length = options.length;
  if (options.ttl !== undefined) packet.ttl = options.ttl;
  const result = createTracer(ruleset).trace(packet, context);
  if (options.json) {
    process.stdout.write(JSON.stringify({ ...result, file: loaded.name }, null, 2) + "\n");
  } else {
    process.stdout.write(renderTraceText(result, { palette: paletteFor(process.stdout) }));
    if (options.sport === undefined && packet.sport !== undefined) {
      process.stdout.write(`\n(source port ${packet.sport} was assumed: pass --sport to trace another)\n`);
    }
  }
  return ExitCode.ok;
}
