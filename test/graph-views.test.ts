// Every sample in every view and format: what the picture claims is what the dump says (rules, jumps, targets,
// counters), labels do not overlap, SVG is well-formed XML, Graphviz accepts the DOT, JSON carries positions.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import type { Rule, Ruleset } from "../src/index.js";
import { buildScene, chainEdgeId, chainNodeId, GRAPH_FORMATS, layoutScene, overlayPaths, VIEW_NAMES, writeScene, type Scene } from "../src/render/index.js";
import { graphviz, graphvizDescribe } from "./support/browser.js";
import { sampleFiles } from "./support/files.js";
import { overlaps } from "./support/overlap.js";
import { generateRestoreInput } from "./support/rulegen.js";
import { elements, parseXml } from "./support/xml.js";

const samples = sampleFiles().map((s) => ({ ...s, ruleset: parseRuleset(s.text).ruleset }));

const allRules = (ruleset: Ruleset, table: string): Rule[] =>
  ruleset.tables.filter((t) => t.name === table).flatMap((t) => t.chains.flatMap((c) => c.rules));

const gvDescribe = graphvizDescribe();

for (const sample of samples) {
  describe(`graph of ${sample.name}`, () => {
    for (const view of VIEW_NAMES) {
      const scene = buildScene(sample.ruleset, { view, sourceName: `${sample.name}.txt` });
      const layout = layoutScene(scene);

      it(`${view}: no two labels overlap, every node and edge is placed`, () => {
        expect(overlaps(layout.picture)).toEqual([]);
        for (const node of scene.nodes) expect(layout.picture.nodes.has(node.id)).toBe(true);
        for (const edge of scene.edges) expect(layout.picture.edges.get(edge.id)?.path).toMatch(/^M[-\d.]+,[-\d.]+[QC]/);
        const ids = new Set(scene.nodes.map((n) => n.id));
        for (const edge of scene.edges) expect(ids.has(edge.from) && ids.has(edge.to)).toBe(true);
      });

      it(`${view} svg: well-formed XML with a title, a legend and a hover text per node and edge`, () => {
        const document = parseXml(writeScene(scene, "svg"));
        const svg = document.children[0]!;
        expect(svg.name).toBe("svg");
        expect(Number(svg.attributes.width)).toBeGreaterThan(300);
        const groups = [...elements(svg)].filter((e) => e.name === "g");
        const drawnNodes = groups.filter((g) => g.attributes.class === "node");
        const drawnEdges = groups.filter((g) => g.attributes.class === "edge");
        expect(drawnNodes.length).toBe(scene.nodes.filter((n) => n.shape !== "hidden").length);
        expect(drawnEdges.length).toBe(scene.edges.length);
        for (const g of [...drawnNodes, ...drawnEdges]) expect(g.children[0]!.name).toBe("title");
        // A services view without services draws one box saying so, and nothing to explain in a legend.
        expect(groups.some((g) => g.attributes.class === "legend")).toBe(scene.legend.length > 0);
        expect(scene.legend.length > 0 || (view === "services" && scene.nodes.some((n) => n.label === "no Kubernetes services in this dump"))).toBe(true);
      });

      it(`${view} json: schemaVersion, kind, positions`, () => {
        const document = JSON.parse(writeScene(scene, "json")) as {
          schemaVersion: number; kind: string; view: string; width: number; nodes: { id: string; x: number; y: number }[]; edges: { path: string }[];
        };
        expect(document).toMatchObject({ schemaVersion: 1, kind: "iptscope.graph", view });
        expect(document.nodes).toHaveLength(scene.nodes.length);
        for (const node of document.nodes) expect(Number.isFinite(node.x) && Number.isFinite(node.y)).toBe(true);
        for (const edge of document.edges) expect(typeof edge.path).toBe("string");
      });

      it(`${view} html: one self-contained page, its data matching the picture`, () => {
        const html = writeScene(scene, "html");
        expect(html).toMatch(/^<!DOCTYPE html>/);
        expect(html).toContain(`content="default-src 'none'; script-src 'sha256-`);
        expect(html.match(/<script\b/g)).toHaveLength(3);
        expect(html).not.toMatch(/\b(src|href)="(?!data:)/);
        const data = JSON.parse(/<script type="application\/json" id="iptscope-data">([^<]*)<\/script>/.exec(html)![1]!) as { nodes: unknown[]; edges: unknown[] };
        expect(data.nodes).toHaveLength(scene.nodes.length);
        expect(data.edges).toHaveLength(scene.edges.length);
      });

      gvDescribe(`${view} dot`, () => {
        it(`${scene.layout === "radial" ? "twopi" : "dot"} -Tsvg accepts it`, () => {
          const result = graphviz(scene.layout === "radial" ? "twopi" : "dot", writeScene(scene, "dot"));
          if (!result.ok) throw new Error(result.error);
          const document = parseXml(result.svg);
          const titles = [...elements(document)].filter((e) => e.name === "title").length;
          expect(titles).toBeGreaterThan(scene.nodes.length / 2);
        });
      });
    }

    it("flow: every rule of the table drawn once, as three hops, arrow by target", () => {
      const scene = buildScene(sample.ruleset, { view: "flow" });
      const table = sample.ruleset.tables.some((t) => t.name === "filter" && t.chains.some((c) => c.rules.length > 0)) ? "filter" : scene.notes[0]!.split(" ")[1]!.replace(":", "");
      const rules = allRules(sample.ruleset, table);
      const first = scene.edges.filter((e) => e.id.endsWith(":src"));
      const last = scene.edges.filter((e) => e.id.endsWith(":dst"));
      expect(first.length).toBe(last.length);
      expect(scene.edges.length).toBe(3 * first.length);
      expect(first.reduce((n, e) => n + e.rules.length + e.rulesOmitted, 0)).toBe(rules.length);
      expect(new Set(first.flatMap((e) => e.rules.map((r) => r.line)))).toEqual(new Set(rules.map((r) => r.line)));
      const byLine = new Map(rules.map((r) => [r.line, r]));
      for (const edge of last) {
        const rule = byLine.get(edge.rules[0]!.line)!;
        const expected = rule.target?.kind === "chain" ? "vee" : ({ ACCEPT: "normal", DROP: "tee", REJECT: "reject", RETURN: "inv" } as Record<string, string>)[rule.target?.name ?? ""];
        if (expected) expect(edge.arrow).toBe(expected);
      }
      const counted = first.some((e) => /pkts/.test(e.label ?? ""));
      expect(counted).toBe(sample.ruleset.hasRuleCounters);
    });

    it("chains: one node per chain with its rule count, one edge per jump or goto", () => {
      const scene = buildScene(sample.ruleset, { view: "chains" });
      const nodes = new Map(scene.nodes.map((n) => [n.id, n]));
      const edges = new Map(scene.edges.map((e) => [e.id, e]));
      for (const table of sample.ruleset.tables) {
        for (const chain of table.chains) {
          expect(nodes.get(chainNodeId(table.name, chain.name))?.weight).toBe(chain.rules.length);
          for (const rule of chain.rules) {
            if (rule.target?.kind !== "chain") continue;
            const edge = edges.get(chainEdgeId(table.name, chain.name, rule.target.name, rule.target.goto));
            expect(edge?.from).toBe(chainNodeId(table.name, chain.name));
            expect(edge?.rules.some((r) => r.line === rule.line)).toBe(true);
          }
        }
      }
      const jumps = sample.ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)).filter((r) => r.target?.kind === "chain").length;
      expect(scene.edges.reduce((n, e) => n + e.rules.length + e.rulesOmitted, 0)).toBe(jumps);
      // Built-in chains come first in each table, in hook order.
      for (const table of sample.ruleset.tables) {
        const builtins = scene.nodes.filter((n) => n.group === `table:${table.name}` && n.anchor).map((n) => n.label);
        const order = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
        expect(builtins).toEqual([...builtins].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
      }
    });
  });
}

describe("random rulesets (every modelled match and target, IPv4 and IPv6)", () => {
  for (const seed of [3, 17, 29]) {
    for (const family of [4, 6] as const) {
      const { ruleset } = parseRuleset(generateRestoreInput(seed, family, 40), { lenient: true });
      for (const view of VIEW_NAMES) {
        it(`seed ${seed}, IPv${family}, ${view}: well-formed SVG, no overlapping labels, every format`, () => {
          const scene = buildScene(ruleset, { view });
          expect(overlaps(layoutScene(scene).picture)).toEqual([]);
          expect(() => parseXml(writeScene(scene, "svg"))).not.toThrow();
          for (const format of GRAPH_FORMATS) expect(writeScene(scene, format).length).toBeGreaterThan(500);
        });
      }
    }
  }
});

describe("graph options", () => {
  const kube = samples.find((s) => s.name === "kubeadm-flannel")!;

  it("the overlap check finds planted overlaps (rotated and straight)", () => {
    for (const view of VIEW_NAMES) {
      const picture = layoutScene(buildScene(kube.ruleset, { view })).picture;
      expect(overlaps(picture)).toEqual([]);
      const labelled = [...picture.nodes.values()].filter((n) => n.label?.text);
      const victim = labelled[labelled.length - 1]!;
      picture.nodes.set("planted", { ...victim, id: "planted", detail: undefined, label: { ...victim.label!, x: victim.label!.x + 3, text: "planted" } });
      expect(overlaps(picture)).toContain(`label ${victim.label!.text} × label planted`);
    }
  });

  it("flow --table nat draws the nat rules", () => {
    const scene = buildScene(kube.ruleset, { view: "flow", table: "nat" });
    expect(scene.notes[0]).toMatch(/^table nat: 77 rule/);
    expect(scene.edges.filter((e) => e.id.endsWith(":src")).reduce((n, e) => n + e.rules.length, 0)).toBe(allRules(kube.ruleset, "nat").length);
  });

  it("chains --table draws one band", () => {
    const scene = buildScene(kube.ruleset, { view: "chains", table: "filter" });
    expect(scene.groups.map((g) => g.id)).toEqual(["table:filter"]);
  });

  it("--namespace keeps the namespace's rules (flow) and chains with their callers and callees (chains)", () => {
    const flow = buildScene(kube.ruleset, { view: "flow", table: "nat", namespace: "kube-system" });
    const lines = flow.edges.filter((e) => e.id.endsWith(":src")).flatMap((e) => e.rules.map((r) => r.text));
    expect(lines.length).toBeGreaterThan(0);
    for (const text of lines) expect(text).toMatch(/--comment "kube-system\//);
    const chains = buildScene(kube.ruleset, { view: "chains", table: "nat", namespace: "kube-system" });
    const labels = chains.nodes.map((n) => n.label);
    expect(labels).toContain("KUBE-SVC-TCOU7JCQXEZGVUNU");
    expect(labels).toContain("KUBE-SERVICES");
    expect(labels).toContain("KUBE-MARK-MASQ");
    expect(labels).not.toContain("KUBE-SVC-HV6DMF63W6MGLRDE");
  });

  it("every format of every view writes", () => {
    for (const view of VIEW_NAMES) for (const format of GRAPH_FORMATS) expect(writeScene(buildScene(kube.ruleset, { view }), format).length).toBeGreaterThan(1000);
  });

  it("overlayPaths emphasises a path and dims the rest, for the trace overlay", () => {
    const scene: Scene = buildScene(kube.ruleset, { view: "chains", table: "nat" });
    const path = [chainNodeId("nat", "PREROUTING"), chainNodeId("nat", "KUBE-SERVICES"), chainNodeId("nat", "KUBE-SVC-TCOU7JCQXEZGVUNU")];
    const edges = [chainEdgeId("nat", "PREROUTING", "KUBE-SERVICES", false), chainEdgeId("nat", "KUBE-SERVICES", "KUBE-SVC-TCOU7JCQXEZGVUNU", false)];
    const overlaid = overlayPaths(scene, [{ label: "to kube-dns", color: "#d7191c", probability: 0.5, nodes: path, edges }]);
    expect(overlaid.nodes.filter((n) => n.emphasis === "highlighted").map((n) => n.id)).toEqual(path);
    expect(overlaid.edges.filter((e) => e.emphasis === "highlighted").map((e) => e.label)).toEqual(["to kube-dns 50%", "to kube-dns 50%"]);
    expect(overlaid.edges.length).toBe(scene.edges.length + 2);
    expect(overlaid.legend[0]).toMatchObject({ label: "to kube-dns (50%)", color: "#d7191c" });
    expect(() => parseXml(writeScene(overlaid, "svg"))).not.toThrow();
  });
});
