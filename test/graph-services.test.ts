// The services view against what it draws from: the samples' service maps (resolveServices, the tracer's shares)
// and generated kube-proxy dumps with the generator's ground truth (frontends, endpoints, exact shares, REJECT for
// services without endpoints), both rule generations and IPv6; big dumps fold namespaces, service ports and
// endpoints into "+N" nodes that account for everything left out.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { resolveServices, type ServiceMap } from "../src/analysis/kube/index.js";
import { EXPOSED_STROKE, NO_ENDPOINTS } from "../src/render/palette.js";
import { buildServicesSceneWithIndex, formatProbability, frontendNodeId, layoutScene, namespaceNodeId, servicesEdgeId, writeScene, type Scene, type SceneNode } from "../src/render/index.js";
import { sampleFiles } from "./support/files.js";
import { generateKubeProxyDumpWithTruth, RICH_FEATURE_MIX, type GeneratedDump, type TruthFrontend } from "./support/kubegen.js";
import { overlaps } from "./support/overlap.js";
import { allText, parseXml } from "./support/xml.js";

const UNLIMITED = { frontends: 1_000_000, namespaces: 1_000_000, endpointsPerFrontend: 1_000_000 };

const children = (scene: Scene, parent: string): SceneNode[] => scene.nodes.filter((n) => n.parent === parent);

/** Every frontend of the map drawn under its namespace, with its endpoints and shares (or its verdict) around it. */
function expectMapDrawn(scene: Scene, map: ServiceMap): void {
  const nodes = new Map(scene.nodes.map((n) => [n.id, n]));
  const edges = new Map(scene.edges.map((e) => [e.id, e]));
  for (const service of map.services) {
    const namespace = namespaceNodeId(service.name.namespace ?? "(no namespace)");
    service.frontends.forEach((frontend, i) => {
      const id = frontendNodeId(service, i);
      const node = nodes.get(id)!;
      const where = `${service.name.key} ${frontend.kind} ${frontend.address ?? ""}:${frontend.port}`;
      expect(node, where).toBeDefined();
      expect(node.parent, where).toBe(namespace);
      expect(edges.has(servicesEdgeId(namespace, id)), where).toBe(true);
      expect(node.search, where).toContain(service.name.key);
      // NodePort, external and load-balancer frontends are marked; services without endpoints are red.
      expect(node.stroke === EXPOSED_STROKE, where).toBe(frontend.kind !== "clusterIP");
      expect(node.fill === NO_ENDPOINTS.fill, where).toBe(service.state === "no-endpoints");
      const resolution = frontend.resolutions[0]!;
      const drawn = children(scene, id);
      const endpoints = drawn.filter((n) => n.kind === "endpoint");
      expect(endpoints.map((n) => n.label).sort(), where).toEqual(resolution.endpoints.map((e) => `${e.address} · ${formatProbability(e.probability)}`).sort());
      for (const endpoint of endpoints) {
        const share = resolution.endpoints.find((e) => endpoint.label.startsWith(`${e.address} `))!;
        expect(edges.get(servicesEdgeId(id, endpoint.id))!.width, where).toBeCloseTo(1 + 7 * share.probability, 6);
      }
      const verdicts = drawn.filter((n) => n.kind === "verdict").map((n) => n.label);
      expect(verdicts.length, where).toBe(resolution.other.length);
      if (service.state === "no-endpoints") expect(verdicts, where).toEqual(["no endpoints: REJECT · 100%"]);
    });
  }
}

const samples = sampleFiles().map((s) => ({ ...s, ruleset: parseRuleset(s.text).ruleset }));

describe("services view of the samples", () => {
  for (const sample of samples) {
    const map = resolveServices(sample.ruleset);
    it(`${sample.name}: ${map.services.length} service ports, each frontend with the tracer's endpoints and shares`, () => {
      const { scene } = buildServicesSceneWithIndex(sample.ruleset, { limits: UNLIMITED });
      expect(scene.view).toBe("services");
      expect(scene.layout).toBe("radial");
      expectMapDrawn(scene, map);
      expect(scene.nodes.filter((n) => n.kind === "frontend").length).toBe(map.services.reduce((n, s) => n + s.frontends.length, 0));
      if (map.services.length === 0) {
        expect(scene.notes[0]).toBe("no kube-proxy (iptables mode) service rules in this dump");
        const nothing = scene.nodes.find((n) => n.kind !== "hub")!;
        expect(scene.nodes).toHaveLength(2);
        expect(nothing).toMatchObject({ shape: "box", label: "no Kubernetes services in this dump", detail: "no kube-proxy (iptables mode) service rules" });
        expect(scene.legend).toEqual([]);
      }
    });
  }

  it("namespaces have one colour each, shared by their frontends' edges, and a legend entry", () => {
    const kubeadm = samples.find((s) => s.name === "kubeadm-flannel")!;
    const scene = buildServicesSceneWithIndex(kubeadm.ruleset).scene;
    const namespaces = scene.nodes.filter((n) => n.kind === "namespace");
    expect(namespaces.map((n) => n.label).sort()).toEqual(["default", "ingress-nginx", "kube-system", "kubernetes-dashboard"]);
    expect(new Set(namespaces.map((n) => n.fill)).size).toBe(namespaces.length);
    for (const namespace of namespaces) {
      expect(scene.legend).toContainEqual({ kind: "swatch", label: `namespace ${namespace.label}`, color: namespace.fill });
      for (const frontend of children(scene, namespace.id)) {
        for (const endpoint of children(scene, frontend.id)) expect(scene.edges.find((e) => e.to === endpoint.id)!.color).toBe(namespace.fill);
      }
    }
  });

  it("--namespace keeps one namespace's service ports", () => {
    const kubeadm = samples.find((s) => s.name === "kubeadm-flannel")!;
    const scene = buildServicesSceneWithIndex(kubeadm.ruleset, { namespace: "kube-system" }).scene;
    expect(scene.nodes.filter((n) => n.kind === "namespace").map((n) => n.label)).toEqual(["kube-system"]);
    expect(scene.nodes.filter((n) => n.kind === "frontend").map((n) => n.label).sort()).toEqual(["kube-dns:dns", "kube-dns:dns-tcp", "kube-dns:metrics"]);
    expect(scene.notes).toContain("namespace kube-system: 3 service ports of 9");
    const none = buildServicesSceneWithIndex(kubeadm.ruleset, { namespace: "nowhere" }).scene;
    expect(none.nodes.find((n) => n.kind !== "hub")).toMatchObject({ shape: "box", label: "no services in namespace nowhere", detail: "9 service ports in other namespaces" });
    expect(none.legend).toEqual([]);
  });
});

/** The detail line a frontend of the truth is drawn with; without endpoints an external or LB address is not told apart. */
function truthDetails(frontend: TruthFrontend, family: "ipv4" | "ipv6"): string[] {
  const host = (ip: string) => (family === "ipv6" ? `[${ip}]` : ip);
  const at = `${frontend.ip === undefined ? "" : host(frontend.ip)}:${frontend.port}/${frontend.protocol}`;
  switch (frontend.kind) {
    case "clusterIP":
      return [at];
    case "nodePort":
      return [`NodePort ${at}`];
    case "externalIP":
      return [`ExternalIP ${at}`, `External/LB ${at}`];
    case "loadBalancerIP":
      return [`LB ${at}`, `External/LB ${at}`];
  }
}

const VERDICT_LABEL: Record<TruthFrontend["verdict"], RegExp> = {
  dnat: /^$/,
  reject: /^no endpoints: REJECT · 100%$/,
  drop: /^(no local endpoints: )?DROP · 100%$/,
  forward: /^not translated \(goes on\) · 100%$/,
};

function expectTruthDrawn(dump: GeneratedDump, scene: Scene): void {
  const family = dump.cluster.family;
  const frontends = scene.nodes.filter((n) => n.kind === "frontend");
  let checked = 0;
  for (const truth of dump.truth) {
    for (const tf of truth.frontends) {
      const details = truthDetails(tf, family);
      const node = frontends.find((n) => details.includes(n.detail!) && n.search.includes(truth.key))!;
      const where = `${truth.key} ${details[0]}`;
      expect(node, where).toBeDefined();
      const drawn = children(scene, node.id);
      const endpoints = drawn.filter((n) => n.kind === "endpoint").map((n) => n.label).sort();
      expect(endpoints, where).toEqual(tf.endpoints.map((e) => `${e.address} · ${formatProbability(e.probability)}`).sort());
      const verdicts = drawn.filter((n) => n.kind === "verdict").map((n) => n.label);
      if (tf.verdict === "dnat") expect(verdicts, where).toEqual([]);
      else expect(verdicts, where).toEqual([expect.stringMatching(VERDICT_LABEL[tf.verdict])]);
      checked++;
    }
  }
  expect(frontends.length).toBe(checked);
}

describe("services view of generated dumps, against the generator's ground truth", () => {
  const cases = [
    { generation: "new" as const, family: "ipv4" as const, seed: 31 },
    { generation: "old" as const, family: "ipv4" as const, seed: 32 },
    { generation: "new" as const, family: "ipv6" as const, seed: 33 },
  ];
  for (const options of cases) {
    it(`${options.generation} rules, ${options.family}: every frontend, endpoint and share; verdicts where nothing is translated`, () => {
      const dump = generateKubeProxyDumpWithTruth({ services: 40, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 5], ...options });
      const { ruleset } = parseRuleset(dump.text);
      const nodeAddresses = [{ address: dump.cluster.nodeIP, source: { kind: "given" as const } }];
      const { scene } = buildServicesSceneWithIndex(ruleset, { limits: UNLIMITED, nodeAddresses });
      expectTruthDrawn(dump, scene);
      expect(scene.aggregated).toBe(false);
      expect(overlaps(layoutScene(scene).picture)).toEqual([]);
      expect(() => parseXml(writeScene(scene, "svg"))).not.toThrow();
    });
  }

  it("aggregates past the limits: every service port and endpoint is drawn or counted in a '+N' node, and the notes say so", () => {
    const dump = generateKubeProxyDumpWithTruth({ services: 400, seed: 34, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 12] });
    const { ruleset } = parseRuleset(dump.text);
    const { scene } = buildServicesSceneWithIndex(ruleset);
    expect(scene.aggregated).toBe(true);
    const namespaces = new Set(dump.truth.map((t) => t.namespace));
    const shownNamespaces = scene.nodes.filter((n) => n.kind === "namespace");
    const moreNamespaces = scene.nodes.find((n) => n.id === "more:namespaces");
    const foldedNamespaces = moreNamespaces ? Number(/^\+(\d+) namespaces/.exec(moreNamespaces.label)![1]) : 0;
    expect(shownNamespaces.length + foldedNamespaces).toBe(namespaces.size);
    // Service ports: drawn ones, "+N service ports" per namespace, and those of folded namespaces.
    const drawnKeys = new Set(scene.nodes.filter((n) => n.kind === "frontend").map((n) => n.search[0]!));
    const foldedPorts = scene.nodes.filter((n) => n.kind === "more" && n.parent?.startsWith("ns:")).reduce((n, m) => n + Number(/^\+(\d+) service port/.exec(m.label)![1]), 0);
    const inFoldedNamespaces = moreNamespaces ? Number(/^(\d+) service port/.exec(moreNamespaces.detail!)![1]) : 0;
    expect(drawnKeys.size + foldedPorts + inFoldedNamespaces).toBe(dump.truth.length);
    expect(scene.nodes.filter((n) => n.kind === "frontend").length).toBeLessThanOrEqual(96 + 12);
    // Endpoints of a drawn frontend: drawn, or in its "+N more" with their shares summed.
    for (const frontend of scene.nodes.filter((n) => n.kind === "frontend")) {
      const more = children(scene, frontend.id).find((n) => n.kind === "more");
      const shown = children(scene, frontend.id).filter((n) => n.kind === "endpoint").length;
      expect(shown).toBeLessThanOrEqual(8);
      if (more) expect(shown).toBe(7);
    }
    expect(scene.notes.some((n) => /^aggregated: \d+ frontends of [\d,]+ drawn, .*--namespace NS shows one namespace$/.test(n))).toBe(true);
    expect(overlaps(layoutScene(scene).picture)).toEqual([]);
    expect(allText(parseXml(writeScene(scene, "svg")))).toContain("aggregated:");
  });
});
