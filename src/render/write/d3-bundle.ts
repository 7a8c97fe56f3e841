// The d3 modules the HTML page needs (zoom, and what zoom needs), read from their published UMD builds so the
// page carries them inline and works offline. UMD builds extend one global `d3`, so order matters.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Each module with the module it is resolved from (its dependant), so nested installs are found too. */
const MODULES: readonly (readonly [name: string, from: string | undefined])[] = [
  ["d3-zoom", undefined],
  ["d3-selection", "d3-zoom"],
  ["d3-dispatch", "d3-zoom"],
  ["d3-interpolate", "d3-zoom"],
  ["d3-transition", "d3-zoom"],
  ["d3-drag", "d3-zoom"],
  ["d3-color", "d3-interpolate"],
  ["d3-ease", "d3-transition"],
  ["d3-timer", "d3-transition"],
];
const LOAD_ORDER = ["d3-dispatch", "d3-selection", "d3-color", "d3-interpolate", "d3-ease", "d3-timer", "d3-transition", "d3-drag", "d3-zoom"];

function packageRoot(entry: string, name: string): string {
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string };
      if (manifest.name === name) return dir;
    } catch {
      // no manifest here; keep walking up
    }
  }
  throw new Error(`cannot find the package root of ${name} above ${entry}`);
}

let cached: string | undefined;

/** The concatenated minified d3 modules, licence headers kept, source-map comments removed. */
export function d3Bundle(): string {
  if (cached !== undefined) return cached;
  const roots = new Map<string, string>();
  for (const [name, from] of MODULES) {
    const base = from === undefined ? fileURLToPath(import.meta.url) : path.join(roots.get(from)!, "package.json");
    roots.set(name, packageRoot(createRequire(base).resolve(name), name));
  }
  cached = LOAD_ORDER.map((name) =>
    readFileSync(path.join(roots.get(name)!, "dist", `${name}.min.js`), "utf8").replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, ""),
  ).join("\n;\n");
  return cached;
}
