import { readServiceMap, resolveServiceMap, type ServiceMap } from "../../analysis/kube/index.js";
import { renderServicesText } from "../../render/services-text.js";
import { paletteFor } from "../color.js";
import { ExitCode } from "../exit-codes.js";
import { loadDump, type LoadOptions } from "../load.js";
import { contextFromArgs } from "../trace-options.js";

/** Version of the JSON that `services --json` prints; see the README. */
export const SERVICES_SCHEMA_VERSION = 1;

export interface ServicesArgs {
  namespace?: string;
  json: boolean;
  "node-ip"?: string[];
}

export function servicesJson(map: ServiceMap, file: string): object {
  return { schemaVersion: SERVICES_SCHEMA_VERSION, kind: "iptscope.services", file, ...map };
}

export function runServices(options: LoadOptions & ServicesArgs): ExitCode {
  const loaded = loadDump({ ...options, quiet: options.json });
  if (!loaded.ok) return loaded.exitCode;
  const { ruleset } = loaded.result;
  let nodeAddresses;
  if (options["node-ip"]?.length) {
    const context = contextFromArgs({ from: "external", state: "new", "assume-no-affinity": true, "node-ip": options["node-ip"] }, ruleset);
    if ("message" in context) {
      process.stderr.write(`iptscope services: ${context.message}\n`);
      return ExitCode.usage;
    }
    nodeAddresses = context.nodeAddresses;
  }
  const map = readServiceMap(ruleset, nodeAddresses ? { nodeAddresses } : {});
  if (options.namespace !== undefined) map.services = map.services.filter((s) => s.name.namespace === options.namespace);
  resolveServiceMap(ruleset, map);
  if (options.json) process.stdout.write(JSON.stringify(servicesJson(map, loaded.name), null, 2) + "\n");
  else process.stdout.write(renderServicesText(map, { palette: paletteFor(process.stdout) }));
  return ExitCode.ok;
}
