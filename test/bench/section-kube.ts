// Kubernetes view benchmark: `services` (the Service map: KUBE-* structure, then the tracer on every
// frontend) against the parse of the same kube-proxy dump, and the latency of `where` queries once
// the dump is loaded. Each size runs in fresh processes (kube-one.ts); medians over the runs.

import { fileURLToPath } from "node:url";
import { formatNumber, kubeFixture, lastJsonLine, median, timedSpawn, type BenchContext, type BenchSection, type Cell, type Check, type SectionResult } from "./harness.js";
import type { KubeOneResult } from "./kube-one.js";

const CHECK_SIZE = 10_000;
const SERVICES_RATIO_LIMIT = 1.5;
const WHERE_MEDIAN_LIMIT_MS = 1;
const WHERE_QUERIES = 300;
const CHILD_TIMEOUT_MS = 600_000;

interface SizeResult {
  services: number;
  runs: KubeOneResult[];
  error?: string;
}

function measure(context: BenchContext, file: string): KubeOneResult[] | string {
  const child = fileURLToPath(new URL("./kube-one.js", import.meta.url));
  const runs: KubeOneResult[] = [];
  for (let i = 0; i < context.runs; i++) {
    const run = timedSpawn(process.execPath, ["--expose-gc", child, file, String(WHERE_QUERIES)], { timeout: CHILD_TIMEOUT_MS });
    if (run.error !== undefined) return run.error.message;
    if (run.status !== 0) return `kube-one exited ${run.status}: ${run.stderr.trim().split("\n").slice(0, 3).join(" | ")}`;
    runs.push(lastJsonLine<KubeOneResult>(run.stdout));
  }
  return runs;
}

const med = (runs: readonly KubeOneResult[], pick: (r: KubeOneResult) => number) => median(runs.map(pick));
/** What `services` does beyond parsing the dump: structure, tracing every frontend, the table. */
const servicesMs = (r: KubeOneResult) => r.structureMs + r.resolveMs + r.renderMs;

export const kubeSection: BenchSection = {
  name: "kube",
  description: "services (Service map, every frontend traced) vs parse time, and where-query latency after loading",
  run(context: BenchContext): SectionResult {
    const results: SizeResult[] = [];
    for (const services of context.sizes) {
      const fixture = kubeFixture(context, services);
      context.log(`kube: ${formatNumber(services)} services, ${context.runs} runs`);
      const runs = measure(context, fixture.file);
      results.push(typeof runs === "string" ? { services, runs: [], error: runs } : { services, runs });
    }

    const rows = results.map((r): Record<string, Cell> => {
      if (r.runs.length === 0) return { services: formatNumber(r.services), parse: r.error ? "error" : null };
      const parse = med(r.runs, (x) => x.parseMs);
      const resolve = med(r.runs, (x) => x.resolveMs);
      const services = med(r.runs, servicesMs);
      return {
        services: formatNumber(r.services),
        ports: formatNumber(r.runs[0]!.servicePorts),
        frontends: formatNumber(r.runs[0]!.frontends),
        parse: formatNumber(parse),
        structure: formatNumber(med(r.runs, (x) => x.structureMs)),
        resolve: formatNumber(resolve),
        render: formatNumber(med(r.runs, (x) => x.renderMs)),
        ratio: `${(services / parse).toFixed(2)}×`,
        perFrontend: formatNumber((resolve * 1000) / r.runs[0]!.frontends),
        whereMedian: med(r.runs, (x) => x.where.medianMs).toFixed(3),
        whereP90: med(r.runs, (x) => x.where.p90Ms).toFixed(3),
        whereFirst: formatNumber(med(r.runs, (x) => x.where.firstMs), 1),
      };
    });

    const checks: Check[] = [];
    const anchor = results.find((r) => r.services === CHECK_SIZE) ?? results[results.length - 1];
    if (anchor) {
      const label = `@${formatNumber(anchor.services)}`;
      if (anchor.runs.length > 0) {
        const ratio = med(anchor.runs, servicesMs) / med(anchor.runs, (x) => x.parseMs);
        checks.push({ name: `services beyond parse / parse ${label}`, measured: `${ratio.toFixed(2)}×`, target: `≤ ${SERVICES_RATIO_LIMIT}×`, pass: ratio <= SERVICES_RATIO_LIMIT });
        const where = med(anchor.runs, (x) => x.where.medianMs);
        checks.push({ name: `where median after loading ${label}`, measured: `${where.toFixed(3)} ms`, target: `≤ ${WHERE_MEDIAN_LIMIT_MS} ms`, pass: where <= WHERE_MEDIAN_LIMIT_MS });
      } else {
        checks.push({ name: `services / parse ${label}`, measured: "n/a", target: `≤ ${SERVICES_RATIO_LIMIT}×`, pass: false, note: anchor.error });
      }
    }

    const notes = [
      "parse / structure / resolve / render ms: medians of parseRuleset(), readServiceMap() (KUBE-* structure), resolveServiceMap() (the tracer on every frontend) and the text table, each in a fresh `node --expose-gc` process.",
      "services/parse: (structure + resolve + render) / parse, what `services` costs beyond reading the dump; µs/frontend: resolve per traced frontend.",
      `where ms: ${WHERE_QUERIES} queries on random cluster IP:PORT targets after loading (parse, structure, tracer built), each parse-target + match + trace + text render; median and p90 exclude the first query (it compiles KUBE-SERVICES), shown apart.`,
    ];
    for (const r of results) if (r.error) notes.push(`${formatNumber(r.services)} services: ${r.error}`);
    return {
      title: "Kubernetes view (services, where)",
      columns: [
        { key: "services", title: "services" },
        { key: "ports", title: "svc ports" },
        { key: "frontends", title: "frontends" },
        { key: "parse", title: "parse ms" },
        { key: "structure", title: "structure ms" },
        { key: "resolve", title: "resolve ms" },
        { key: "render", title: "render ms" },
        { key: "ratio", title: "services/parse" },
        { key: "perFrontend", title: "µs/frontend" },
        { key: "whereMedian", title: "where med ms" },
        { key: "whereP90", title: "where p90 ms" },
        { key: "whereFirst", title: "where 1st ms" },
      ],
      rows,
      checks,
      notes,
      data: results,
    };
  },
};
