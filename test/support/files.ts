// Paths of the bundled samples and fixtures, and table-wise comparison of save output.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const samplesDir = join(repoRoot, "samples");
export const restoreDir = join(repoRoot, "test", "fixtures", "restore");

export function sampleFiles(): { name: string; path: string; text: string }[] {
  return readdirSync(samplesDir)
    .filter((f) => f.endsWith(".txt"))
    .sort()
    .map((f) => ({ name: f.slice(0, -4), path: join(samplesDir, f), text: readFileSync(join(samplesDir, f), "utf8") }));
}

export function restoreFixtures(): { name: string; path: string; text: string; family: "ipv4" | "ipv6" }[] {
  return readdirSync(restoreDir)
    .filter((f) => f.endsWith(".rules"))
    .sort()
    .map((f) => {
      const text = readFileSync(join(restoreDir, f), "utf8");
      return { name: f.slice(0, -6), path: join(restoreDir, f), text, family: /^# family: ipv6\s*$/m.test(text) ? "ipv6" : "ipv4" };
    });
}

/**
 * Save output as a map from table to its lines, without comment lines: the backends print
 * tables in different orders, and the order of tables carries no meaning.
 */
export function tablesOf(saved: string): Map<string, string> {
  const tables = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of saved.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    if (line.startsWith("*")) {
      current = [];
      tables.set(line, current);
    }
    current?.push(line);
  }
  return new Map([...tables].map(([name, lines]) => [name, lines.join("\n")]));
}
