import { createTracer } from "../../analysis/trace/walk.js";
import { renderTraceText } from "../../render/trace-text.js";
import { paletteFor } from "../color.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";
import { contextFromArgs, packetFromArgs, type ContextArgs, type PacketArgs } from "../trace-options.js";

export interface TraceArgs extends ContextArgs, PacketArgs {
  dst: string;
  json: boolean;
}

function usage(message: string): ExitCode {
  process.stderr.write(`iptscope trace: ${message}\n`);
  return ExitCode.usage;
}

export function runTrace(options: LoadOptions & TraceArgs): ExitCode {
  const loaded = loadDump({ ...options, quiet: options.json });
  if (!loaded.ok) return loaded.exitCode;
  const { ruleset } = loaded.result;
  const context = contextFromArgs(options, ruleset);
  if ("message" in context) return usage(context.message);
  const built = packetFromArgs(options, context, ruleset.family);
  if ("message" in built) return usage(built.message);
  const { packet, sourcePortAssumed } = built;
  const result = createTracer(ruleset).trace(packet, context);
  if (options.json) {
    process.stdout.write(JSON.stringify({ ...result, file: loaded.name }, null, 2) + "\n");
  } else {
    process.stdout.write(renderTraceText(result, { palette: paletteFor(process.stdout) }));
    if (sourcePortAssumed) {
      process.stdout.write(`\n(source port ${packet.sport} was assumed: pass --sport to trace another)\n`);
    }
  }
  return ExitCode.ok;
}
