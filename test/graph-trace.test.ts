// Trace overlays: for packets to every service frontend of the samples (and packets no service rule touches), the
// edges drawn over the chains view are exactly the path's chain transitions (its jumps and gotos, and its moves to
// the next hook or table), the nodes lit are the chains it entered, and the services view lights the frontend and
// the endpoints the tracer reached. On a 10,000-service dump, where chains are merged, the overlay stays on drawn
// edges and the services view keeps the traced service and its ground-truth endpoints.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { resolveServices, type ServiceMap } from "../src/analysis/kube/index.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import type { PathStep, TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import type { Ruleset } from "../src/model/types.js";
import {
  buildChainsSceneWithIndex, buildServicesSceneWithIndex, buildTracedScene, chainEdgeId, chainNodeId, chainsTracePaths, formatProbability,
  layoutScene, overlayPaths, servicesTracePaths, writeScene, type Scene,
} from "../src/render/index.js";
import { OUTCOME_COLORS } from "../src/render/palette.js";
import { graphviz, graphvizDescribe } from "./support/browser.js";
import { sampleFiles } from "./support/files.js";
import { generateKubeProxyDumpWithTruth } from "./support/kubegen.js";
import { overlaps } from "./support/overlap.js";
import { parseXml } from "./support/xml.js";

const pair = (from: string, to: string) => `${from} → ${to}`;

/** Straight from the path: chain → chain for each jump or goto, built-in → built-in where the hook or table changes. */
function expectedTransitions(path: readonly PathStep[]): { jumps: Set<string>; hops: Set<string>; chains: Set<string> } {
  const jumps = new Set<string>();
  const hops = new Set<string>();
  const chains = new Set<string>();
  path.forEach((step, i) => {
    chains.add(chainNodeId(step.table, step.chain));
    if (step.effect.kind === "jump" || step.effect.kind === "goto") jumps.add(pair(chainNodeId(step.table, step.chain), chainNodeId(step.table, step.effect.chain)));
    const previous = path[i - 1];
    if (previous && (previous.hook !== step.hook || previous.table !== step.table)) {
      const from = chainNodeId(previous.table, previous.hook);
      const to = chainNodeId(step.table, step.hook);
      if (from !== to) hops.add(pair(from, to));
    }
  });
  return { jumps, hops, chains };
}

/** The overlay drawn for outcome `index`: its copies of scene edges and its links, as node pairs. */
function drawnOverlay(scene: Scene, index: number): { jumps: Set<string>; hops: Set<string>; labels: string[] } {
  const mine = scene.edges.filter((e) => e.emphasis === "highlighted" && e.id.endsWith(`\u0000path${index}`));
  return {
    jumps: new Set(mine.filter((e) => !e.id.startsWith("link")).map((e) => pair(e.from, e.to))),
    hops: new Set(mine.filter((e) => e.id.startsWith("link")).map((e) => pair(e.from, e.to))),
    labels: mine.flatMap((e) => (e.label ? [e.label] : [])),
  };
}

interface Probe {
  name: string;
  trace: TraceResult;
}

/** A packet from off the cluster to every frontend (as the service map traces them), and a few no service rule touches. */
function probes(ruleset: Ruleset, map: ServiceMap): Probe[] {
  const tracer = createTracer(ruleset);
  const external = defaultContext({ origin: "external", nodeAddresses: map.nodeAddresses, assumeNoAffinity: true });
  const list: Probe[] = [];
  for (const service of map.services) {
    for (const frontend of service.frontends) {
      const dst = frontend.address ?? map.nodeAddresses[0]!.address;
      const packet = { src: frontend.resolutions[0]!.source, dst, protocol: frontend.protocol === "udp" ? 17 : frontend.protocol === "sctp" ? 132 : 6, sport: 40000, dport: frontend.port };
      list.push({ name: `${service.name.key} ${frontend.kind} ${dst}:${frontend.port}`, trace: tracer.trace(packet, external) });
    }
  }
  const v6 = ruleset.family === "ipv6";
  const plain = [
    { src: v6 ? "2001:db8::5" : "203.0.113.5", dst: v6 ? "2001:db8::1:1" : "198.51.100.1", protocol: 6, sport: 40000, dport: 22 },
    { src: v6 ? "2001:db8::5" : "203.0.113.5", dst: v6 ? "2001:db8::1:1" : "198.51.100.1", protocol: 17, sport: 40000, dport: 53 },
  ];
  for (const origin of ["external", "node"] as const) {
    for (const packet of plain) list.push({ name: `${origin} ${packet.protocol === 6 ? "tcp" : "udp"}`, trace: tracer.trace(packet, defaultContext({ origin, nodeAddresses: map.nodeAddresses })) });
  }
  return list;
}

const samples = sampleFiles().map((s) => ({ ...s, ruleset: parseRuleset(s.text).ruleset }));

for (const sample of samples) {
  describe(`trace overlay on ${sample.name}`, () => {
    const map = resolveServices(sample.ruleset);
    const chains = buildChainsSceneWithIndex(sample.ruleset);
    const services = buildServicesSceneWithIndex(sample.ruleset);
    for (const probe of probes(sample.ruleset, map)) {
      it(`${probe.name}: chains lit are the chains entered, edges drawn are exactly the path's transitions`, () => {
        const paths = chainsTracePaths(chains, probe.trace);
        const scene = overlayPaths(chains.scene, paths);
        expect(paths.length).toBe(Math.min(probe.trace.outcomes.length, OUTCOME_COLORS.length));
        const lit = new Set(scene.nodes.filter((n) => n.emphasis === "highlighted").map((n) => n.id));
        const entered = new Set<string>();
        paths.forEach((path, i) => {
          const outcome = probe.trace.outcomes[i]!;
          const expected = expectedTransitions(outcome.path);
          const drawn = drawnOverlay(scene, i);
          expect(drawn.jumps).toEqual(expected.jumps);
          expect(drawn.hops).toEqual(expected.hops);
          expect(new Set(path.nodes)).toEqual(expected.chains);
          for (const id of expected.chains) entered.add(id);
          expect(path.color).toBe(OUTCOME_COLORS[i]);
          // One label per path, on the edge where it parts from the paths before it.
          if (expected.jumps.size > 0) expect(drawn.labels).toEqual([`#${i + 1} ${formatProbability(outcome.probability)}`]);
          expect(scene.legend[i]).toMatchObject({ kind: "edge", color: OUTCOME_COLORS[i], label: expect.stringMatching(new RegExp(`^#${i + 1} .*\\(${formatProbability(outcome.probability).replace(".", "\\.")}\\)$`)) });
        });
        expect(lit).toEqual(entered);
        for (const node of scene.nodes) if (!lit.has(node.id)) expect(node.emphasis).toBe("dimmed");
        for (const edge of scene.edges) expect(edge.emphasis).toBe(edge.decorative ? "highlighted" : "dimmed");
      });

      it(`${probe.name}: the services view lights the frontend and the endpoints reached`, () => {
        const paths = servicesTracePaths(services, probe.trace);
        const scene = overlayPaths(services.scene, paths);
        const lit = scene.nodes.filter((n) => n.emphasis === "highlighted");
        const reached = probe.trace.outcomes.slice(0, OUTCOME_COLORS.length).flatMap((o) => (o.dnat ? [o.dnat.to] : []));
        expect(lit.filter((n) => n.kind === "endpoint").map((n) => n.label.split(" ")[0]).sort()).toEqual([...new Set(reached)].sort());
        const frontends = lit.filter((n) => n.kind === "frontend");
        if (probe.name.startsWith("external") || probe.name.startsWith("node")) expect(frontends).toEqual([]);
        else expect(frontends.length).toBe(1);
      });
    }

    it("a traced picture is well-formed, placed and labelled without overlaps, in every format", () => {
      const probe = probes(sample.ruleset, map).find((p) => p.trace.outcomes.length > 1) ?? probes(sample.ruleset, map)[0]!;
      for (const view of ["chains", "services"] as const) {
        const scene = buildTracedScene(sample.ruleset, { view }, probe.trace);
        const layout = layoutScene(scene);
        expect(overlaps(layout.picture)).toEqual([]);
        for (const edge of scene.edges) expect(layout.picture.edges.get(edge.id)?.path).toMatch(/^M[-\d.]+,[-\d.]+[QC]/);
        expect(scene.notes.some((n) => n.startsWith("trace: "))).toBe(true);
        expect(() => parseXml(writeScene(scene, "svg"))).not.toThrow();
        expect(JSON.parse(writeScene(scene, "json"))).toMatchObject({ kind: "iptscope.graph", view });
        expect(writeScene(scene, "html")).toMatch(/^<!DOCTYPE html>/);
      }
    });

    graphvizDescribe()("traced dot", () => {
      it("Graphviz lays out the traced chains and services views", () => {
        const probe = probes(sample.ruleset, map)[0]!;
        for (const view of ["chains", "services"] as const) {
          const scene = buildTracedScene(sample.ruleset, { view }, probe.trace);
          const result = graphviz(scene.layout === "radial" ? "twopi" : "dot", writeScene(scene, "dot"));
          if (!result.ok) throw new Error(result.error);
          expect(() => parseXml(result.svg)).not.toThrow();
        }
      });
    });
  });
}

describe("trace overlay on a 10,000-service dump", () => {
  const dump = generateKubeProxyDumpWithTruth({ services: 10_000, seed: 12, endpointsPerService: [1, 4] });
  const { ruleset } = parseRuleset(dump.text);
  const nodeAddresses = [{ address: dump.cluster.nodeIP, source: { kind: "given" as const } }];
  // A service far down the list: its namespace is folded in the untraced services view.
  const truth = dump.truth.filter((t) => t.frontends[0]!.kind === "clusterIP" && t.frontends[0]!.endpoints.length > 1).at(-1)!;
  const frontend = truth.frontends[0]!;
  const trace = createTracer(ruleset).trace(
    { src: "203.0.113.9", dst: frontend.ip!, protocol: frontend.protocol === "udp" ? 17 : 6, sport: 40000, dport: frontend.port },
    defaultContext({ origin: "external", nodeAddresses, assumeNoAffinity: true }),
  );

  it("chains: merged nodes and edges carry the path, every drawn transition is a jump of the path", () => {
    const index = buildChainsSceneWithIndex(ruleset);
    expect(index.scene.aggregated).toBe(true);
    const paths = chainsTracePaths(index, trace);
    expect(paths.length).toBe(frontend.endpoints.length);
    const edgeIds = new Set(index.scene.edges.map((e) => e.id));
    paths.forEach((path, i) => {
      const jumps = trace.outcomes[i]!.path.flatMap((s) => (s.effect.kind === "jump" || s.effect.kind === "goto" ? [index.edgeFor(s.table, s.chain, s.effect.chain, s.effect.kind === "goto")] : []));
      expect(new Set(path.edges)).toEqual(new Set(jumps.filter((e) => e !== undefined)));
      for (const id of path.edges) expect(edgeIds.has(id)).toBe(true);
      expect(path.nodes).toContain(index.nodeFor("nat", truth.chains.svc!));
    });
  });

  it("chains, traced: the chains the packet entered are drawn on their own among the merged families", () => {
    const scene = buildTracedScene(ruleset, { view: "chains" }, trace);
    const lit = new Set(scene.nodes.filter((n) => n.emphasis === "highlighted").map((n) => n.id));
    for (const chain of [truth.chains.svc!, ...frontend.endpoints.map((e) => e.sepChain)]) expect(lit.has(chainNodeId("nat", chain)), chain).toBe(true);
    for (const outcome of trace.outcomes) expect(expectedTransitions(outcome.path).chains).toEqual(new Set([...expectedTransitions(outcome.path).chains].filter((id) => lit.has(id))));
    expect(scene.notes.some((n) => /^nat: [\d,]+ chains drawn as \d+ nodes/.test(n))).toBe(true);
  });

  it("services: the traced service is drawn although its namespace is folded, with the generator's endpoints lit", () => {
    const untraced = buildServicesSceneWithIndex(ruleset, { nodeAddresses });
    expect(untraced.scene.nodes.some((n) => n.kind === "namespace" && n.label === truth.namespace)).toBe(false);
    const scene = buildTracedScene(ruleset, { view: "services", nodeAddresses }, trace);
    const lit = scene.nodes.filter((n) => n.emphasis === "highlighted");
    expect(lit.filter((n) => n.kind === "namespace").map((n) => n.label)).toEqual([truth.namespace]);
    expect(lit.filter((n) => n.kind === "frontend").map((n) => n.detail)).toEqual([`${frontend.ip}:${frontend.port}/${frontend.protocol}`]);
    expect(lit.filter((n) => n.kind === "endpoint").map((n) => n.label).sort()).toEqual(frontend.endpoints.map((e) => `${e.address} · ${formatProbability(e.probability)}`).sort());
  });
});

describe("trace overlay with more outcomes than colours", () => {
  const dump = generateKubeProxyDumpWithTruth({ services: 4, seed: 5, endpointsPerService: 12 });
  const { ruleset } = parseRuleset(dump.text);
  const nodeAddresses = [{ address: dump.cluster.nodeIP, source: { kind: "given" as const } }];
  const frontend = dump.truth.flatMap((t) => t.frontends).find((f) => f.kind === "clusterIP" && f.endpoints.length === 12)!;
  const packet = { src: "203.0.113.9", dst: frontend.ip!, protocol: frontend.protocol === "udp" ? 17 : 6, sport: 40000, dport: frontend.port };
  const context = defaultContext({ origin: "external", nodeAddresses, assumeNoAffinity: true });
  const trace = createTracer(ruleset).trace(packet, context);

  it("the legend says how many outcomes are not drawn and their share, right after the drawn ones", () => {
    expect(trace.outcomes.length).toBe(12);
    const rest = trace.outcomes.slice(OUTCOME_COLORS.length).reduce((n, o) => n + o.probability, 0);
    const line = `4 more outcomes not drawn (${formatProbability(rest)} together): see iptscope trace`;
    for (const view of ["chains", "services"] as const) {
      const scene = buildTracedScene(ruleset, { view, nodeAddresses }, trace);
      expect(scene.legend.slice(0, OUTCOME_COLORS.length).map((item) => item.label.slice(0, 3))).toEqual(OUTCOME_COLORS.map((_, i) => `#${i + 1} `));
      expect(scene.legend[OUTCOME_COLORS.length]).toMatchObject({ kind: "edge", label: line });
      expect(scene.notes).toContain(line);
      const legend = parseXml(writeScene(scene, "svg")).children[0]!.children.find((e) => e.attributes.class === "legend")!;
      expect(JSON.stringify(legend)).toContain(line);
    }
  });

  it("no such line when every outcome is drawn", () => {
    const few = { ...trace, outcomes: trace.outcomes.slice(0, OUTCOME_COLORS.length) };
    const scene = buildTracedScene(ruleset, { view: "chains" }, few);
    expect(scene.legend.some((item) => item.label.includes("not drawn"))).toBe(false);
    expect(scene.notes.some((note) => note.includes("not drawn"))).toBe(false);
  });

  it("the services view resolves its frontends with the tracer it is given, to the same picture", () => {
    const tracer = createTracer(ruleset);
    let traced = 0;
    const counting = { family: tracer.family, trace: (p: Parameters<typeof tracer.trace>[0], c: Parameters<typeof tracer.trace>[1]) => (traced++, tracer.trace(p, c)) };
    const shared = buildTracedScene(ruleset, { view: "services", nodeAddresses }, trace, { tracer: counting });
    const frontends = shared.nodes.filter((n) => n.kind === "frontend").length;
    expect(traced).toBeGreaterThanOrEqual(frontends);
    expect(shared).toEqual(buildTracedScene(ruleset, { view: "services", nodeAddresses }, trace));
  });
});
