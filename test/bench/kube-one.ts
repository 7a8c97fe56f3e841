// Child process of the kube benchmark: on one dump, times parsing, the Service map (structure,
// then tracing every frontend) and `where` queries after loading; prints one JSON line.
// Run as `node --expose-gc dist/test/bench/kube-one.js FILE [QUERIES]`.

import { readFileSync } from "node:fs";
import { parseRuleset } from "../../src/index.js";
import { readServiceMap, resolveServiceMap } from "../../src/analysis/kube/index.js";
import { answerWhere, parseWhereTarget } from "../../src/analysis/kube/where.js";
import { defaultContext } from "../../src/analysis/trace/context.js";
import { createTracer } from "../../src/analysis/trace/walk.js";
import { renderServicesText } from "../../src/render/services-text.js";
import { renderWhereText } from "../../src/render/where-text.js";
import { formatEndpoint } from "../../src/analysis/ip.js";
import { mulberry32 } from "../support/kubegen.js";

export interface KubeOneResult {
  parseMs: number;
  /** readServiceMap: the KUBE-* structure alone (what `where` needs before its first query). */
  structureMs: number;
  /** resolveServiceMap: tracing every frontend. */
  resolveMs: number;
  renderMs: number;
  servicePorts: number;
  frontends: number;
  /** `where` on random cluster-IP targets after loading (parse, structure, tracer), each query timed alone. */
  where: { queries: number; firstMs: number; medianMs: number; p90Ms: number; maxMs: number };
}

const [file, queriesText] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node --expose-gc kube-one.js FILE [QUERIES]");
  process.exit(2);
}
const queries = Number(queriesText ?? 200);
const text = readFileSync(file, "utf8");
const gc = (globalThis as { gc?: () => void }).gc;
const time = <T>(work: () => T): [T, number] => {
  gc?.();
  const start = performance.now();
  const value = work();
  return [value, performance.now() - start];
};

const [{ ruleset }, parseMs] = time(() => parseRuleset(text));
const [structure, structureMs] = time(() => readServiceMap(ruleset));
const whereMap = readServiceMap(ruleset);
const [map, resolveMs] = time(() => resolveServiceMap(ruleset, structure));
const [, renderMs] = time(() => renderServicesText(map));

const tracer = createTracer(ruleset);
const context = defaultContext({ origin: "pod", nodeAddresses: whereMap.nodeAddresses });
const random = mulberry32(42);
const targets = whereMap.services.flatMap((s) => s.frontends.filter((f) => f.kind === "clusterIP").map((f) => formatEndpoint(f.address!, f.port, whereMap.family)));
const times: number[] = [];
for (let i = 0; i < queries && targets.length > 0; i++) {
  const target = targets[Math.floor(random() * targets.length)]!;
  const start = performance.now();
  const parsed = parseWhereTarget(target, whereMap.family);
  if (typeof parsed === "string") throw new Error(parsed);
  renderWhereText(answerWhere(tracer, whereMap, parsed, { context }), whereMap);
  times.push(performance.now() - start);
}
const sorted = [...times.slice(1)].sort((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const result: KubeOneResult = {
  parseMs,
  structureMs,
  resolveMs,
  renderMs,
  servicePorts: map.services.length,
  frontends: map.services.reduce((n, s) => n + s.frontends.length, 0),
  where: { queries: times.length, firstMs: times[0] ?? Number.NaN, medianMs: at(0.5), p90Ms: at(0.9), maxMs: sorted[sorted.length - 1] ?? Number.NaN },
};
console.log(JSON.stringify(result));
