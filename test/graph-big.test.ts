// A 10,000-service kube-proxy dump from the generator: every view aggregates, says so in the picture, loses no rule
// or service, and --namespace brings one namespace back chain by chain and service by service, as the generator's
// ground truth lists them.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { buildChainsSceneWithIndex, buildScene, DEFAULT_LIMITS, formatProbability, layoutScene, writeScene } from "../src/render/index.js";
import { generateKubeProxyDumpWithTruth } from "./support/kubegen.js";
import { overlaps } from "./support/overlap.js";
import { allText, parseXml } from "./support/xml.js";

const dump = generateKubeProxyDumpWithTruth({ services: 10_000, seed: 11, endpointsPerService: [1, 4] });
const { ruleset, diagnostics } = parseRuleset(dump.text);
const nat = ruleset.tables.find((t) => t.name === "nat")!;
const natRules = nat.chains.reduce((n, c) => n + c.rules.length, 0);

describe("graph of a 10,000-service dump", () => {
  it("parses without errors", () => {
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(nat.chains.length).toBeGreaterThan(20_000);
  });

  it("chains: aggregated into a readable number of nodes, every chain and rule accounted for, and the picture says so", () => {
    const { scene, nodeFor } = buildChainsSceneWithIndex(ruleset, {});
    expect(scene.aggregated).toBe(true);
    const natNodes = scene.nodes.filter((n) => n.group === "table:nat");
    expect(natNodes.length).toBeLessThanOrEqual(DEFAULT_LIMITS.chainsPerTable);
    expect(natNodes.reduce((n, node) => n + node.weight, 0)).toBe(natRules);
    for (const chain of nat.chains) expect(nodeFor("nat", chain.name)).toBeDefined();
    const note = scene.notes.find((n) => n.startsWith("nat: "))!;
    expect(note).toMatch(/^nat: [\d,]+ chains drawn as \d+ nodes — hashed chains \(.*KUBE-SEP-\*.*\) merged by namespace/);
    const layout = layoutScene(scene);
    expect(overlaps(layout.picture)).toEqual([]);
    const text = allText(parseXml(writeScene(scene, "svg")));
    expect(text).toContain("merged by namespace");
    expect(text).toMatch(/KUBE-SEP-\* \+\d+ namespaces/);
  });

  it("chains --namespace: that namespace's chains one by one, as the ground truth lists them, and no other namespace's", () => {
    const namespace = dump.truth[40]!.namespace;
    const own = dump.truth.filter((t) => t.namespace === namespace);
    const expected = new Set(own.flatMap((t) => [t.chains.svc, t.chains.svl, t.chains.ext, t.chains.fw, t.chains.xlb, ...t.chains.sep].filter((c): c is string => c !== undefined)));
    const others = new Set(dump.truth.filter((t) => t.namespace !== namespace).flatMap((t) => [t.chains.svc, ...t.chains.sep].filter((c): c is string => c !== undefined)));
    const scene = buildScene(ruleset, { view: "chains", table: "nat", namespace });
    const labels = new Set(scene.nodes.map((n) => n.label));
    for (const chain of expected) expect(labels.has(chain), chain).toBe(true);
    for (const label of labels) expect(others.has(label), label).toBe(false);
    expect(labels.has("KUBE-SERVICES")).toBe(true);
    expect(scene.notes.some((n) => n.startsWith(`nat: namespace ${namespace} — `))).toBe(true);
  });

  it("flow (filter): addresses folded into 'more' nodes, routes capped, and the notes say how many", () => {
    const scene = buildScene(ruleset, { view: "flow" });
    const filterRules = ruleset.tables.find((t) => t.name === "filter")!.chains.reduce((n, c) => n + c.rules.length, 0);
    expect(scene.aggregated).toBe(true);
    const perInterface = new Map<string, number>();
    for (const node of scene.nodes) if (node.parent && node.kind !== "interface") perInterface.set(node.parent, (perInterface.get(node.parent) ?? 0) + 1);
    for (const count of perInterface.values()) expect(count).toBeLessThanOrEqual(DEFAULT_LIMITS.addressesPerInterface);
    const more = scene.nodes.filter((n) => n.kind === "more");
    expect(more.length).toBeGreaterThan(0);
    const folded = Number(/^(\d+) address\(es\) folded/.exec(scene.notes.find((n) => n.includes("folded into"))!)![1]);
    expect(more.map((n) => Number(/^\+(\d+) more$/.exec(n.label)![1])).reduce((a, b) => a + b, 0)).toBe(folded);
    expect(scene.edges.length).toBeLessThanOrEqual(3 * DEFAULT_LIMITS.routes);
    const drawn = scene.edges.filter((e) => e.id.endsWith(":src")).reduce((n, e) => n + e.rules.length + e.rulesOmitted, 0);
    const notDrawn = Number(/^(\d+) rule\(s\) in \d+ further distinct routes not drawn/.exec(scene.notes.find((n) => n.includes("not drawn"))!)![1]);
    expect(drawn + notDrawn).toBe(filterRules);
    expect(scene.notes.some((n) => /address\(es\) folded into "more" nodes/.test(n))).toBe(true);
    expect(overlaps(layoutScene(scene).picture)).toEqual([]);
  });

  it("flow --namespace: only that namespace's rules", () => {
    const namespace = dump.truth[40]!.namespace;
    const scene = buildScene(ruleset, { view: "flow", table: "nat", namespace });
    const rules = scene.edges.filter((e) => e.id.endsWith(":src")).flatMap((e) => e.rules);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.text).toContain(` ${namespace}/`.trimStart());
  });

  it("services: namespaces, service ports and endpoints folded into '+N' nodes that count the rest, and the picture says so", () => {
    const scene = buildScene(ruleset, { view: "services" });
    expect(scene.aggregated).toBe(true);
    const namespaces = new Set(dump.truth.map((t) => t.namespace));
    const shown = scene.nodes.filter((n) => n.kind === "namespace");
    expect(shown.length).toBe(DEFAULT_LIMITS.namespaces - 1);
    expect(new Set(shown.map((n) => n.fill)).size).toBe(shown.length);
    const more = scene.nodes.find((n) => n.id === "more:namespaces")!;
    expect(more.label).toBe(`+${namespaces.size - shown.length} namespaces`);
    const drawnPorts = new Set(scene.nodes.filter((n) => n.kind === "frontend").map((n) => n.search[0]));
    const folded = scene.nodes.filter((n) => n.kind === "more" && n.parent?.startsWith("ns:")).reduce((n, m) => n + Number(/^\+([\d,]+) service port/.exec(m.label)![1]!.replace(/,/g, "")), 0);
    const inMore = Number(/^([\d,]+) service port/.exec(more.detail!)![1]!.replace(/,/g, ""));
    expect(drawnPorts.size + folded + inMore).toBe(dump.truth.length);
    expect(scene.nodes.filter((n) => n.kind === "frontend").length).toBeLessThanOrEqual(DEFAULT_LIMITS.frontends + 4);
    expect(scene.notes.find((n) => n.startsWith("aggregated: "))).toMatch(/^aggregated: \d+ frontends of [\d,]+ drawn, \d+ namespaces folded into "\+N namespaces", .*--namespace NS shows one namespace$/);
    expect(overlaps(layoutScene(scene).picture)).toEqual([]);
    expect(allText(parseXml(writeScene(scene, "svg")))).toContain("aggregated:");
  });

  it("services --namespace: that namespace's service ports, frontends and endpoints, as the ground truth lists them", () => {
    const namespace = dump.truth[40]!.namespace;
    const own = dump.truth.filter((t) => t.namespace === namespace);
    const nodeAddresses = [{ address: dump.cluster.nodeIP, source: { kind: "given" as const } }];
    const scene = buildScene(ruleset, { view: "services", namespace, nodeAddresses });
    expect(scene.nodes.filter((n) => n.kind === "namespace").map((n) => n.label)).toEqual([namespace]);
    const frontends = scene.nodes.filter((n) => n.kind === "frontend");
    expect(frontends.length).toBe(own.reduce((n, t) => n + t.frontends.length, 0));
    const endpoints = scene.nodes.filter((n) => n.kind === "endpoint").map((n) => n.label).sort();
    expect(endpoints).toEqual(own.flatMap((t) => t.frontends.flatMap((f) => f.endpoints.map((e) => `${e.address} · ${formatProbability(e.probability)}`))).sort());
    expect(overlaps(layoutScene(scene).picture)).toEqual([]);
  });
});
