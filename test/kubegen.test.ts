import { spawnSync } from "node:child_process";
import { describe, expect, it, type TestContext } from "vitest";
import {
  canonicalProbability,
  endpointChainName,
  formatFixed,
  formatIPv6,
  generateCluster,
  generateKubeProxyDump,
  generateKubeProxyDumpWithTruth,
  kubeProxyProbability,
  saveString,
  serviceChainName,
  type Family,
  RICH_FEATURE_MIX,
  type Generation,
  type KubeGenOptions,
} from "./support/kubegen.js";

const RICH_MIX = RICH_FEATURE_MIX;

// ---------------------------------------------------------------------------
// Kernel oracle: load into a private network namespace and save back.
// ---------------------------------------------------------------------------

type KernelStatus = { usable: true } | { usable: false; reason: string };

function probeKernel(): KernelStatus {
  if (process.platform !== "linux") return { usable: false, reason: `platform is ${process.platform}, not linux` };
  const probe = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
  for (const tool of ["iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy"]) {
    const result = spawnSync("unshare", ["-n", "sh", "-c", `${tool}-restore && ${tool}-save`], { input: probe, encoding: "utf8", timeout: 20_000 });
    if (result.error !== undefined) return { usable: false, reason: `cannot run unshare: ${result.error.message}` };
    if (result.status !== 0 || !result.stdout.includes("*filter")) {
      const uid = process.getuid?.();
      return { usable: false, reason: `unshare -n ${tool}-restore failed (uid ${uid}, exit ${result.status}): ${result.stderr.trim()}` };
    }
  }
  return { usable: true };
}

const kernel = probeKernel();

/** Skips (locally) or fails (when CI is set) a kernel test if no kernel oracle is available. */
function requireKernel(context: TestContext): void {
  if (kernel.usable) return;
  if (process.env.CI) throw new Error(`kernel oracle unavailable in CI: ${kernel.reason}`);
  console.warn(`skipping kernel test: ${kernel.reason}`);
  context.skip();
}

function kernelRoundTrip(input: string, tool: string, counters: boolean): string {
  const c = counters ? " -c" : "";
  const result = spawnSync("unshare", ["-n", "sh", "-c", `${tool}-restore${c} && ${tool}-save${c}`], {
    input,
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`${tool}-restore failed (exit ${result.status}): ${result.stderr}`);
  return result.stdout;
}

function withoutCommentLines(text: string): string[] {
  return text.split("\n").filter((line) => !line.startsWith("#") && line !== "");
}

/** undefined when equal, else the first differing line of each side. */
function firstDifference(actual: string[], expected: string[]): string | undefined {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    if (actual[i] !== expected[i]) return `line ${i + 1}\n  kernel:    ${actual[i] ?? "<end>"}\n  generated: ${expected[i] ?? "<end>"}`;
  }
  return undefined;
}

const toolFor = (family: Family, backend: "nft" | "legacy"): string => `${family === "ipv4" ? "iptables" : "ip6tables"}-${backend}`;

// ---------------------------------------------------------------------------
// Pure tests
// ---------------------------------------------------------------------------

describe("kube-proxy chain names", () => {
  it("match the hashes in upstream kube-proxy dumps", () => {
    // From pkg/proxy/iptables/proxier_test.go and real clusters.
    expect(serviceChainName("ns1/svc1:p80", "TCP")).toBe("KUBE-SVC-XPGD46QRK7WJZT7O");
    expect(serviceChainName("ns4/svc4:p80", "tcp")).toBe("KUBE-SVC-4SW47YFZTEDKD3PK");
    expect(endpointChainName("ns1/svc1:p80", "tcp", "10.180.0.1:80")).toBe("KUBE-SEP-SXIVWICOYRO3J4NJ");
    expect(serviceChainName("kube-system/kube-dns:dns", "udp")).toBe("KUBE-SVC-TCOU7JCQXEZGVUNU");
    expect(serviceChainName("default/kubernetes:https", "tcp")).toBe("KUBE-SVC-NPX46M4PTMTKRN6Y");
  });

  it("share the SVC hash across EXT/SVL/FW/XLB chains of one service port", () => {
    const { truth } = generateKubeProxyDumpWithTruth({ services: 60, seed: 3, mix: RICH_MIX });
    for (const port of truth) {
      const suffixes = new Set(
        [port.chains.svc, port.chains.svl, port.chains.ext, port.chains.fw, port.chains.xlb]
          .filter((c): c is string => c !== undefined)
          .map((c) => c.slice(c.lastIndexOf("-") + 1)),
      );
      expect(suffixes.size).toBeLessThanOrEqual(1);
    }
  });
});

describe("number and string formatting", () => {
  it("re-prints probabilities the way libxt_statistic does", () => {
    expect(canonicalProbability("0.3333333333")).toBe("0.33333333349");
    expect(canonicalProbability("0.5000000000")).toBe("0.50000000000");
    expect(canonicalProbability("0.1")).toBe("0.10000000009");
    expect(canonicalProbability("0.33333")).toBe("0.33332999982");
  });

  it("formats kube-proxy probabilities with Go's ties-to-even rounding", () => {
    expect(kubeProxyProbability(3, "new")).toBe("0.3333333333");
    expect(kubeProxyProbability(3, "old")).toBe("0.33333");
    // 1/64 = 0.015625 exactly: Go prints 0.01562, Number#toFixed(5) would give 0.01563.
    expect(kubeProxyProbability(64, "old")).toBe("0.01562");
    expect(formatFixed(2.5, 0)).toBe("2");
    expect(formatFixed(0.125, 2)).toBe("0.12");
  });

  it("prints IPv6 addresses like inet_ntop", () => {
    expect(formatIPv6([0xfd00, 0x10, 0x244, 0, 0, 0, 0, 5])).toBe("fd00:10:244::5");
    expect(formatIPv6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x10])).toBe("2001:db8:0:1::10");
    expect(formatIPv6([0, 0, 0, 0, 0, 0, 0, 0])).toBe("::");
    expect(formatIPv6([1, 0, 0, 2, 0, 0, 0, 3])).toBe("1:0:0:2::3");
  });

  it("quotes comments like xtables_save_string", () => {
    expect(saveString("simple_word-1")).toBe("simple_word-1");
    expect(saveString("ns1/svc1:p80")).toBe('"ns1/svc1:p80"');
    expect(saveString(`a"b'c\\d`)).toBe(`"a\\"b\\'c\\\\d"`);
  });
});

describe("generator", () => {
  it("is deterministic for a seed", () => {
    const options: KubeGenOptions = { services: 80, seed: 42, mix: RICH_MIX, endpointsPerService: [0, 6] };
    expect(generateKubeProxyDump(options)).toBe(generateKubeProxyDump(options));
    expect(generateKubeProxyDump({ ...options, order: "restore" })).toBe(generateKubeProxyDump({ ...options, order: "restore" }));
    expect(generateKubeProxyDump({ ...options, seed: 43 })).not.toBe(generateKubeProxyDump(options));
  });

  it("spells restore input like kube-proxy and canonical output like iptables-save", () => {
    const base: KubeGenOptions = { services: 30, seed: 5, endpointsPerService: 3 };
    const newRestore = generateKubeProxyDump({ ...base, order: "restore" });
    expect(newRestore).toContain("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000");
    expect(newRestore).toMatch(/-m comment --comment "[^"]+ cluster IP" -m tcp -p tcp -d 10\.96\.\d+\.\d+ --dport \d+ -j KUBE-SVC-/);
    expect(newRestore).toContain("--probability 0.3333333333 ");
    const newCanonical = generateKubeProxyDump(base);
    expect(newCanonical).toContain("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000");
    expect(newCanonical).toMatch(/-d 10\.96\.\d+\.\d+\/32 -p tcp -m comment --comment "[^"]+ cluster IP" -m tcp --dport \d+ -j KUBE-SVC-/);
    expect(newCanonical).toContain("--probability 0.33333333349 ");
    expect(newCanonical.split("\n")[0]).toBe("# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024");

    const oldRestore = generateKubeProxyDump({ ...base, generation: "old", order: "restore" });
    expect(oldRestore).toContain("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x00004000/0x00004000");
    expect(oldRestore).toContain("--probability 0.33333 ");
    expect(oldRestore).toMatch(/-A KUBE-SERVICES -m comment --comment "[^"]+ cluster IP" -m tcp -p tcp -d 10\.96\.\d+\.\d+\/32 --dport \d+ ! -s 10\.128\.0\.0\/9 -j KUBE-MARK-MASQ/);
    const oldCanonical = generateKubeProxyDump({ ...base, generation: "old" });
    expect(oldCanonical).toContain("--probability 0.33332999982 ");
    expect(oldCanonical).toMatch(/-A KUBE-SERVICES ! -s 10\.128\.0\.0\/9 -d 10\.96\.\d+\.\d+\/32 -p tcp -m comment/);
  });

  it("produces a ground truth consistent with the dump", () => {
    for (const generation of ["old", "new"] as const) {
      const { text, truth, cluster } = generateKubeProxyDumpWithTruth({ services: 120, seed: 9, generation, mix: RICH_MIX, endpointsPerService: [0, 7] });
      const declared = new Set(text.split("\n").filter((l) => l.startsWith(":")).map((l) => l.slice(1, l.indexOf(" "))));
      expect(truth.length).toBeGreaterThan(cluster.services.length);
      const verdicts = new Set<string>();
      for (const port of truth) {
        for (const chain of [port.chains.svc, port.chains.svl, port.chains.ext, port.chains.fw, port.chains.xlb, ...port.chains.sep]) {
          if (chain !== undefined) expect(declared.has(chain), `${chain} of ${port.key}`).toBe(true);
        }
        for (const frontend of port.frontends) {
          verdicts.add(`${frontend.kind}:${frontend.verdict}`);
          if (frontend.ip !== undefined) expect(text).toContain(` ${frontend.ip}/`);
          if (frontend.verdict === "dnat") {
            const total = frontend.endpoints.reduce((sum, e) => sum + e.probability, 0);
            expect(total).toBeCloseTo(1, 12);
            for (const endpoint of frontend.endpoints) expect(text).toContain(`--to-destination ${endpoint.address}`);
          } else {
            expect(frontend.endpoints).toEqual([]);
          }
        }
      }
      // The rich mix exercises every outcome.
      const externalIPWithoutEndpoints = generation === "old" ? "externalIP:forward" : "externalIP:reject";
      for (const expected of ["clusterIP:dnat", "clusterIP:reject", "nodePort:dnat", "nodePort:drop", "loadBalancerIP:dnat", "externalIP:dnat", externalIPWithoutEndpoints]) {
        expect(verdicts.has(expected), expected).toBe(true);
      }
      if (generation === "new") expect(verdicts.has("clusterIP:drop")).toBe(true);
    }
  });

  it("keeps the model independent of rendering options", () => {
    const cluster = generateCluster({ services: 50, seed: 11, mix: RICH_MIX });
    expect(cluster.services).toHaveLength(50);
    expect(cluster.services[0]).toMatchObject({ namespace: "default", name: "kubernetes" });
    expect(cluster.services[1]).toMatchObject({ namespace: "kube-system", name: "kube-dns" });
  });
});

// ---------------------------------------------------------------------------
// Kernel tests
// ---------------------------------------------------------------------------

const KERNEL_TIMEOUT = 120_000;

describe("canonical form equals what the kernel saves", () => {
  const cases: { generation: Generation; family: Family; seed: number }[] = [];
  for (const generation of ["old", "new"] as const) {
    for (const family of ["ipv4", "ipv6"] as const) {
      for (const seed of [1, 2]) cases.push({ generation, family, seed });
    }
  }

  for (const { generation, family, seed } of cases) {
    it(`${generation} ${family} seed ${seed} (nft)`, (context) => {
      requireKernel(context);
      const options: KubeGenOptions = { services: 40, seed, generation, family, mix: RICH_MIX, endpointsPerService: [0, 6] };
      const canonical = withoutCommentLines(generateKubeProxyDump(options));
      const tool = toolFor(family, "nft");
      const fromCanonical = withoutCommentLines(kernelRoundTrip(generateKubeProxyDump(options), tool, false));
      expect(firstDifference(fromCanonical, canonical)).toBeUndefined();
      const fromRestore = withoutCommentLines(kernelRoundTrip(generateKubeProxyDump({ ...options, order: "restore" }), tool, false));
      expect(firstDifference(fromRestore, canonical)).toBeUndefined();
    }, KERNEL_TIMEOUT);
  }

  for (const family of ["ipv4", "ipv6"] as const) {
    for (const generation of ["old", "new"] as const) {
      it(`${generation} ${family} with counters, legacy backend`, (context) => {
        requireKernel(context);
        // iptables-nft-restore 1.8.9 loads rule counters as [0:0], so counters are checked with legacy.
        const options: KubeGenOptions = { services: 25, seed: 7, generation, family, mix: RICH_MIX, counters: true, backend: "legacy" };
        const canonical = withoutCommentLines(generateKubeProxyDump(options));
        expect(canonical.some((line) => /^\[[1-9]\d*:\d+\] -A /.test(line))).toBe(true);
        const saved = withoutCommentLines(kernelRoundTrip(generateKubeProxyDump({ ...options, order: "restore" }), toolFor(family, "legacy"), true));
        expect(firstDifference(saved, canonical)).toBeUndefined();
      }, KERNEL_TIMEOUT);
    }
  }

  it("large-cluster mode (no per-endpoint comments) and many endpoints", (context) => {
    requireKernel(context);
    for (const generation of ["old", "new"] as const) {
      const options: KubeGenOptions = { services: 12, seed: 4, generation, mix: RICH_MIX, endpointsPerService: [10, 40], largeClusterMode: true };
      const canonical = withoutCommentLines(generateKubeProxyDump(options));
      const saved = withoutCommentLines(kernelRoundTrip(generateKubeProxyDump({ ...options, order: "restore" }), "iptables-nft", false));
      expect(firstDifference(saved, canonical)).toBeUndefined();
    }
  }, KERNEL_TIMEOUT);

  it("reproduces the kernel's probability rounding for 1/n, n = 2..300, in both precisions", (context) => {
    requireKernel(context);
    const texts: string[] = [];
    for (let n = 2; n <= 300; n++) texts.push(kubeProxyProbability(n, "new"), kubeProxyProbability(n, "old"));
    texts.push("0.1", "0.3333333333", "0.00048828125", "0.0004882812", "0.9999999999");
    const input = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", ":P - [0:0]"];
    for (const text of texts) input.push(`-A P -m statistic --mode random --probability ${text} -j RETURN`);
    input.push("COMMIT", "");
    const saved = withoutCommentLines(kernelRoundTrip(input.join("\n"), "iptables-nft", false)).filter((l) => l.startsWith("-A P "));
    expect(saved).toEqual(texts.map((t) => `-A P -m statistic --mode random --probability ${canonicalProbability(t)} -j RETURN`));
  }, KERNEL_TIMEOUT);
});
