// The rules level of `diff` on realistic dumps: kube-proxy clusters from the generator (whose model gives the
// chains each change must touch), and random restore rulesets with random edits.

import { describe, expect, it } from "vitest";
import { diffRulesets, formatRule, parseRuleset, type RuleChange, type RulesDiff, type Ruleset } from "../src/index.js";
import type { Palette } from "../src/cli/color.js";
import { renderDiffText } from "../src/render/diff-text.js";
import { generateCluster, groundTruth, mulberry32, renderDump, type Cluster, type TruthServicePort } from "./support/kubegen.js";
import { generateRestoreInput } from "./support/rulegen.js";

function parsed(text: string): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return ruleset;
}

function rulesDiff(oldText: string, newText: string): RulesDiff {
  const outcome = diffRulesets(parsed(oldText), parsed(newText), { levels: ["rules"] }).levels.rules;
  if (outcome?.status !== "compared") throw new Error("rules level not compared");
  return outcome;
}

function changedChain(diff: RulesDiff, table: string, chain: string) {
  const found = diff.tables.find((t) => t.table === table)?.chains.find((c) => c.chain === chain);
  if (found?.kind !== "changed") throw new Error(`${table}/${chain} is not a changed chain: ${JSON.stringify(found)}`);
  return found;
}

function chainNames(diff: RulesDiff, kind: "added" | "removed" | "changed"): string[] {
  return diff.tables.flatMap((t) => t.chains.filter((c) => c.kind === kind).map((c) => `${t.table} ${c.chain}`)).sort();
}

/** `-A` lines of a kernel-printed dump per "table chain", counters stripped. */
function chainLines(text: string): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  let table = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1);
    const rule = line.replace(/^\[\d+:\d+\] /, "");
    if (!rule.startsWith("-A ")) continue;
    const key = `${table} ${rule.split(" ")[1]}`;
    chains.set(key, [...(chains.get(key) ?? []), rule]);
  }
  return chains;
}

/** Lines of `a` not matched by a line of `b` (multiset difference), in order. */
function without(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const line of b) left.set(line, (left.get(line) ?? 0) + 1);
  return a.filter((line) => {
    const count = left.get(line) ?? 0;
    if (count > 0) left.set(line, count - 1);
    return count === 0;
  });
}

const ruleOf = (change: RuleChange) => (change.kind === "removed" ? change.old.rule : change.new.rule);

/**
 * Where no rule changed place, a sequence diff and a multiset difference of the dump lines agree: check every
 * changed chain against the dumps themselves.
 */
function expectChangesMatchLines(diff: RulesDiff, oldText: string, newText: string): void {
  const oldChains = chainLines(oldText);
  const newChains = chainLines(newText);
  for (const table of diff.tables) {
    for (const chain of table.chains) {
      if (chain.kind !== "changed") continue;
      const key = `${table.table} ${chain.chain}`;
      const before = oldChains.get(key) ?? [];
      const after = newChains.get(key) ?? [];
      expect(chain.changes.filter((c) => c.kind === "added").map(ruleOf), key).toEqual(without(after, before));
      expect(chain.changes.filter((c) => c.kind === "removed").map(ruleOf), key).toEqual(without(before, after));
    }
  }
}

function serviceChains(truth: readonly TruthServicePort[], namespace: string, name: string): string[] {
  return truth
    .filter((t) => t.namespace === namespace && t.name === name)
    .flatMap((t) => [t.chains.svc, t.chains.svl, t.chains.ext, t.chains.fw, t.chains.xlb, ...t.chains.sep])
    .filter((c): c is string => c !== undefined)
    .map((c) => `nat ${c}`);
}

const MIX = { nodePort: 0.3, loadBalancer: 0.1, externalIPs: 0.1, clientIPAffinity: 0.1, noEndpoints: 0.05 };

describe("noise is not change", () => {
  for (const generation of ["new", "old"] as const) {
    for (const family of ["ipv4", "ipv6"] as const) {
      it(`kube-proxy restore input and the saved dump of the same ${generation}-generation ${family} cluster`, () => {
        const cluster = generateCluster({ services: 300, seed: 11, generation, family, mix: MIX });
        const restore = renderDump(cluster, { order: "restore" });
        const saved = renderDump(cluster, { order: "canonical" });
        expect(restore).not.toBe(saved);
        const diff = rulesDiff(restore, saved);
        expect(diff.summary).toEqual(expect.objectContaining({ rulesAdded: 0, rulesRemoved: 0, rulesMoved: 0, rulesReordered: 0 }));
        expect(diff.differs).toBe(false);
        expect(diff.tables).toEqual([]);
      });
    }
  }

  it("counters-only change: rule and policy counters differ, nothing else", () => {
    const cluster = generateCluster({ services: 200, seed: 5, mix: MIX });
    const before = renderDump(cluster, { counters: true });
    const after = renderDump({ ...cluster, seed: 99 }, { counters: true });
    expect(before).not.toBe(after);
    expect(before.replace(/\[\d+:\d+\]/g, "")).toBe(after.replace(/\[\d+:\d+\]/g, ""));
    const diff = rulesDiff(before, after);
    expect(diff.differs).toBe(false);
    expect(diff.tables).toEqual([]);
  });

  it("legacy table order, headers and timestamps", () => {
    const cluster = generateCluster({ services: 100, seed: 8 });
    const nft = renderDump(cluster, { backend: "nft", date: "Mon Jan  1 00:00:00 2024" });
    const legacy = renderDump(cluster, { backend: "legacy", date: "Tue Feb  2 12:00:00 2027" });
    expect(nft.split("\n").filter((l) => l.startsWith("*"))).not.toEqual(legacy.split("\n").filter((l) => l.startsWith("*")));
    expect(rulesDiff(nft, legacy).differs).toBe(false);
  });

  for (const generation of ["new", "old"] as const) {
    it(`kube-proxy's map-order shuffle of service rules (${generation} generation) is a reordering, not a difference`, () => {
      const cluster = generateCluster({ services: 400, seed: 21, generation, mix: MIX });
      const random = mulberry32(4);
      const services = [...cluster.services];
      for (let i = services.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [services[i], services[j]] = [services[j], services[i]];
      }
      const before = renderDump(cluster);
      const after = renderDump({ ...cluster, services });
      expect(before).not.toBe(after);
      const diff = rulesDiff(before, after);
      expect(diff.summary).toEqual(expect.objectContaining({ rulesAdded: 0, rulesRemoved: 0, rulesMoved: 0 }));
      expect(diff.summary.rulesReordered).toBeGreaterThan(100);
      expect(diff.differs).toBe(false);
      const reordered = diff.tables.flatMap((t) => t.chains.map((c) => `${t.table} ${c.chain}`));
      expect(reordered).toContain("nat KUBE-SERVICES");
    });
  }
});

describe("kube-proxy changes show as rule changes", () => {
  const cluster = generateCluster({ services: 60, seed: 3, mix: MIX });
  const truth = groundTruth(cluster);
  const before = renderDump(cluster);
  // A Cluster-policy service with endpoints and a node port: scaling it touches SVC, SEP and no filter rule.
  const target = truth.find((t) => t.type === "NodePort" && t.externalTrafficPolicy === "Cluster" && t.internalTrafficPolicy === "Cluster" && t.endpoints.length >= 2)!;
  const targetIndex = cluster.services.findIndex((s) => s.namespace === target.namespace && s.name === target.name);

  function withService(change: (cluster: Cluster) => void): { text: string; truth: TruthServicePort[] } {
    const copy = structuredClone(cluster);
    change(copy);
    return { text: renderDump(copy), truth: groundTruth(copy) };
  }

  function sepChains(ports: readonly TruthServicePort[]): Set<string> {
    return new Set(ports.filter((t) => t.namespace === target.namespace && t.name === target.name).flatMap((t) => t.chains.sep));
  }

  for (const direction of ["out", "in"] as const) {
    it(`an endpoint scaled ${direction}: its SEP chain ${direction === "out" ? "added" : "removed"}, the SVC chain's rules changed`, () => {
      const scaled = withService((c) => {
        const pods = c.services[targetIndex].pods;
        if (direction === "out") pods.push({ ip: target.endpoints[0].ip.replace(/\d+$/, "250"), local: false });
        else pods.pop();
      });
      const diff = rulesDiff(before, scaled.text);
      const oldSeps = sepChains(truth);
      const newSeps = sepChains(scaled.truth);
      const added = [...newSeps].filter((c) => !oldSeps.has(c)).map((c) => `nat ${c}`);
      const removed = [...oldSeps].filter((c) => !newSeps.has(c)).map((c) => `nat ${c}`);
      expect(added.length + removed.length).toBe(1);
      expect(chainNames(diff, "added")).toEqual(added);
      expect(chainNames(diff, "removed")).toEqual(removed);
      expect(chainNames(diff, "changed")).toEqual([`nat ${target.chains.svc}`]);
      expect(diff.differs).toBe(true);
      expect(diff.summary.rulesMoved).toBe(0);
      expectChangesMatchLines(diff, before, scaled.text);
    });
  }

  it("the same changes inside a kube-proxy shuffle: found alike, the rest only reordered", () => {
    const changed = structuredClone(cluster);
    changed.services[targetIndex].pods.pop();
    changed.services.splice(targetIndex + 1, 1);
    const random = mulberry32(12);
    const shuffled = [...changed.services];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const plain = rulesDiff(before, renderDump(changed));
    const mixed = rulesDiff(before, renderDump({ ...changed, services: shuffled }));
    expect(mixed.summary.rulesReordered).toBeGreaterThan(20);
    expect({ ...mixed.summary, rulesReordered: 0 }).toEqual(plain.summary);
    const significant = (diff: RulesDiff) =>
      diff.tables.flatMap((t) => t.chains.flatMap((c) => (c.kind === "changed" ? c.changes.filter((x) => x.kind !== "reordered").map(ruleOf) : [c.chain])));
    expect(significant(mixed).sort()).toEqual(significant(plain).sort());
  });

  it("a service removed, then added back: exactly its chains, and its rules in the shared chains", () => {
    const removed = withService((c) => c.services.splice(targetIndex, 1));
    const expected = serviceChains(truth, target.namespace, target.name).sort();
    expect(expected.length).toBeGreaterThan(3);

    const down = rulesDiff(before, removed.text);
    expect(chainNames(down, "removed")).toEqual(expected);
    expect(chainNames(down, "added")).toEqual([]);
    expect(chainNames(down, "changed")).toEqual(expect.arrayContaining(["nat KUBE-SERVICES", "nat KUBE-NODEPORTS"]));
    expectChangesMatchLines(down, before, removed.text);

    const up = rulesDiff(removed.text, before);
    expect(chainNames(up, "added")).toEqual(expected);
    expect(chainNames(up, "removed")).toEqual([]);
    expect(up.summary.rulesAdded).toBe(down.summary.rulesRemoved);
    expectChangesMatchLines(up, removed.text, before);
  });
});

describe("sequence diff within a chain", () => {
  const cluster = generateCluster({ services: 5000, seed: 2 });
  const dump = renderDump(cluster);
  const lines = dump.split("\n");
  // Line indices of nat KUBE-SERVICES rules (filter has a KUBE-SERVICES chain too).
  const natStart = lines.indexOf("*nat");
  const natRules = lines.flatMap((line, index) => (index > natStart && line.startsWith("-A KUBE-SERVICES ") ? [index] : []));
  const serviceRules = natRules.filter((index) => lines[index].includes(" cluster IP"));
  const oldRuleset = parsed(dump);
  const natServices = oldRuleset.tables.find((t) => t.name === "nat")!.chains.find((c) => c.name === "KUBE-SERVICES")!;

  it("a rule inserted in the middle of a 5,000-rule chain is one insertion", () => {
    expect(natServices.rules.length).toBeGreaterThan(5000);
    const at = serviceRules[2500];
    const inserted = '-A KUBE-SERVICES -d 10.99.0.1/32 -p tcp -m comment --comment "test/inserted cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ';
    const text = [...lines.slice(0, at), inserted, ...lines.slice(at)].join("\n");
    const diff = rulesDiff(dump, text);
    const position = natServices.rules.findIndex((r) => r.line === at + 1) + 1;
    expect(changedChain(diff, "nat", "KUBE-SERVICES").changes).toEqual([{ kind: "added", new: { line: at + 1, position, rule: inserted } }]);
    expect(diff.summary).toEqual(expect.objectContaining({ rulesAdded: 1, rulesRemoved: 0, rulesMoved: 0, rulesReordered: 0, chainsChanged: 1 }));
  });

  it("a rule deleted from the middle is one removal, with its OLD line and position", () => {
    const at = serviceRules[1234];
    const text = [...lines.slice(0, at), ...lines.slice(at + 1)].join("\n");
    const rule = natServices.rules.find((r) => r.line === at + 1)!;
    const diff = rulesDiff(dump, text);
    expect(changedChain(diff, "nat", "KUBE-SERVICES").changes).toEqual([
      { kind: "removed", old: { line: at + 1, position: rule.position, rule: lines[at] } },
    ]);
  });

  it("a catch-all rule moved to the top is one move (it now shadows the rules it passed)", () => {
    const last = natRules[natRules.length - 1];
    expect(lines[last]).toContain("--dst-type LOCAL -j KUBE-NODEPORTS");
    const first = natRules[0];
    const text = [...lines.slice(0, first), lines[last], ...lines.slice(first, last), ...lines.slice(last + 1)].join("\n");
    const diff = rulesDiff(dump, text);
    const oldRule = natServices.rules[natServices.rules.length - 1];
    expect(changedChain(diff, "nat", "KUBE-SERVICES").changes).toEqual([
      { kind: "moved", old: { line: last + 1, position: oldRule.position, rule: lines[last] }, new: { line: first + 1, position: 1, rule: lines[last] } },
    ]);
    expect(diff.differs).toBe(true);
  });

  it("a service rule moved elsewhere in KUBE-SERVICES passes only disjoint rules: a reordering", () => {
    const from = serviceRules[10];
    const to = serviceRules[4000];
    const text = [...lines.slice(0, from), ...lines.slice(from + 1, to), lines[from], ...lines.slice(to)].join("\n");
    const diff = rulesDiff(dump, text);
    const changes = changedChain(diff, "nat", "KUBE-SERVICES").changes;
    expect(changes.map((c) => c.kind)).toEqual(["reordered"]);
    expect(diff.differs).toBe(false);
  });
});

describe("overlap decides between moved and reordered", () => {
  const dump = (rules: string[]) => ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT", ""].join("\n");
  const cases: { name: string; first: string; second: string; kind: RuleChange["kind"] }[] = [
    { name: "nested source networks", first: "-A INPUT -s 10.0.0.0/8 -j DROP", second: "-A INPUT -s 10.1.0.0/16 -j ACCEPT", kind: "moved" },
    { name: "disjoint source networks", first: "-A INPUT -s 10.0.0.0/8 -j DROP", second: "-A INPUT -s 192.168.0.0/16 -j ACCEPT", kind: "reordered" },
    { name: "different protocols", first: "-A INPUT -p tcp -j DROP", second: "-A INPUT -p udp -j ACCEPT", kind: "reordered" },
    { name: "overlapping port ranges", first: "-A INPUT -p tcp -m tcp --dport 1000:2000 -j DROP", second: "-A INPUT -p tcp -m tcp --dport 1500 -j ACCEPT", kind: "moved" },
    { name: "disjoint port ranges", first: "-A INPUT -p tcp -m tcp --dport 1000:2000 -j DROP", second: "-A INPUT -p tcp -m tcp --dport 2001 -j ACCEPT", kind: "reordered" },
    { name: "ports tested after a rate limit", first: "-A INPUT -p tcp -m limit --limit 5/sec -m tcp --dport 22 -j ACCEPT", second: "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT", kind: "moved" },
    { name: "interface wildcard and a name under it", first: "-A INPUT -i eth+ -j DROP", second: "-A INPUT -i eth0 -j ACCEPT", kind: "moved" },
    { name: "interface wildcard and another name", first: "-A INPUT -i eth+ -j DROP", second: "-A INPUT -i wlan0 -j ACCEPT", kind: "reordered" },
    { name: "a negated network is not a footprint", first: "-A INPUT ! -s 10.0.0.0/8 -j DROP", second: "-A INPUT -s 10.1.0.0/16 -j ACCEPT", kind: "moved" },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.kind}`, () => {
      const diff = rulesDiff(dump([c.first, c.second, "-A INPUT -j LOG"]), dump([c.second, c.first, "-A INPUT -j LOG"]));
      const changes = changedChain(diff, "filter", "INPUT").changes;
      expect(changes.map((change) => change.kind)).toEqual([c.kind]);
      expect(diff.differs).toBe(c.kind === "moved");
    });
  }
});

describe("tables and chains", () => {
  it("policy change, chain added and removed, a table only in NEW", () => {
    const before = ["*filter", ":INPUT ACCEPT [5:300]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":OLD-CHAIN - [0:0]", "-A INPUT -j OLD-CHAIN", "-A OLD-CHAIN -j RETURN", "COMMIT", ""];
    const after = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", "-A PREROUTING -p udp -m udp --dport 53 -j NOTRACK", "COMMIT",
      "*filter", ":INPUT DROP [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":NEW-CHAIN - [0:0]", "-A INPUT -j NEW-CHAIN", "COMMIT", ""];
    const diff = rulesDiff(before.join("\n"), after.join("\n"));
    expect(diff.tables.map((t) => [t.table, t.presence])).toEqual([["raw", "new-only"], ["filter", "both"]]);
    const raw = diff.tables[0].chains;
    expect(raw).toEqual([
      { kind: "changed", chain: "PREROUTING", old: { line: 0, policy: "ACCEPT", rules: 0 }, new: { line: 2, policy: "ACCEPT", rules: 1 }, policyChanged: false,
        changes: [{ kind: "added", new: { line: 4, position: 1, rule: after[3] } }] },
    ]);
    const filter = diff.tables[1].chains;
    expect(filter.map((c) => [c.kind, c.chain])).toEqual([["changed", "INPUT"], ["added", "NEW-CHAIN"], ["removed", "OLD-CHAIN"]]);
    expect(filter[0]).toEqual(expect.objectContaining({ policyChanged: true, old: { line: 2, policy: "ACCEPT", rules: 1 }, new: { line: 7, policy: "DROP", rules: 1 } }));
    expect(diff.summary).toEqual({
      tablesChanged: 2, chainsAdded: 1, chainsRemoved: 1, chainsRenamed: 0, policiesChanged: 1, chainsChanged: 2,
      rulesAdded: 2, rulesRemoved: 2, rulesMoved: 0, rulesReordered: 0,
    });
  });

  describe("a renamed chain", () => {
    const filter = (chains: string[], rules: string[]) =>
      ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...chains.map((c) => `:${c} - [0:0]`), ...rules, "COMMIT", ""].join("\n");
    const web = ["-p tcp -m tcp --dport 80 -j ACCEPT", "-p tcp -m tcp --dport 443 -j ACCEPT", "-j LOG-DROP"];
    const before = filter(["LOG-DROP", "WEB"], ["-A INPUT -i eth0 -j WEB", "-A FORWARD -o eth0 -j WEB", ...web.map((r) => `-A WEB ${r}`), "-A LOG-DROP -j DROP"]);

    it("same rules, every jump to it renamed: a rename, and nothing else differs", () => {
      const after = filter(["LOG-DROP", "PUBLIC"], ["-A INPUT -i eth0 -j PUBLIC", "-A FORWARD -o eth0 -j PUBLIC", ...web.map((r) => `-A PUBLIC ${r}`), "-A LOG-DROP -j DROP"]);
      const diff = rulesDiff(before, after);
      expect(diff.differs).toBe(true);
      expect(diff.tables[0]!.chains).toEqual([
        { kind: "changed", chain: "WEB", renamedTo: "PUBLIC", old: { line: 6, policy: "-", rules: 3 }, new: { line: 6, policy: "-", rules: 3 }, policyChanged: false, changes: [] },
      ]);
      expect(diff.summary).toEqual({
        tablesChanged: 1, chainsAdded: 0, chainsRemoved: 0, chainsRenamed: 1, policiesChanged: 0, chainsChanged: 0,
        rulesAdded: 0, rulesRemoved: 0, rulesMoved: 0, rulesReordered: 0,
      });
      const pair = diffRulesets(parsed(before), parsed(after));
      expect(pair.levels.traffic?.status === "compared" && pair.levels.traffic.changes).toEqual([]);
      const plain: Palette = { red: (t) => t, yellow: (t) => t, green: (t) => t, cyan: (t) => t, dim: (t) => t, bold: (t) => t };
      const text = renderDiffText(diffRulesets(parsed(before), parsed(after), { levels: ["rules"] }), { oldName: "a", newName: "b", palette: plain });
      expect(text).toContain("[rules] 1 chain renamed\n*filter\n~ chain WEB renamed PUBLIC  (OLD:6, NEW:6, 3 rules)\n");
    });

    it("two chains renamed, one jumping to the other: both renames", () => {
      const after = filter(["DENY", "PUBLIC"], ["-A INPUT -i eth0 -j PUBLIC", "-A FORWARD -o eth0 -j PUBLIC", ...web.map((r) => `-A PUBLIC ${r.replace("LOG-DROP", "DENY")}`), "-A DENY -j DROP"]);
      const diff = rulesDiff(before, after);
      expect(diff.tables[0]!.chains.map((c) => c.kind === "changed" && [c.chain, c.renamedTo, c.changes.length])).toEqual([
        ["LOG-DROP", "DENY", 0],
        ["WEB", "PUBLIC", 0],
      ]);
      expect(diff.summary.chainsRenamed).toBe(2);
      expect(diff.summary.chainsChanged + diff.summary.chainsAdded + diff.summary.chainsRemoved).toBe(0);
    });

    it("a rule changed as well, or a jump to it dropped: removed and added, as before", () => {
      const otherRules = filter(["LOG-DROP", "PUBLIC"], ["-A INPUT -i eth0 -j PUBLIC", "-A FORWARD -o eth0 -j PUBLIC", ...web.slice(1).map((r) => `-A PUBLIC ${r}`), "-A LOG-DROP -j DROP"]);
      const fewerJumps = filter(["LOG-DROP", "PUBLIC"], ["-A INPUT -i eth0 -j PUBLIC", ...web.map((r) => `-A PUBLIC ${r}`), "-A LOG-DROP -j DROP"]);
      for (const after of [otherRules, fewerJumps]) {
        const diff = rulesDiff(before, after);
        expect(chainNames(diff, "removed")).toEqual(["filter WEB"]);
        expect(chainNames(diff, "added")).toEqual(["filter PUBLIC"]);
        expect(diff.summary.chainsRenamed).toBe(0);
      }
    });

    it("two identical chains renamed: no guess which is which", () => {
      const twins = filter(["A", "B"], ["-A INPUT -j A", "-A FORWARD -j B", "-A A -j DROP", "-A B -j DROP"]);
      const renamed = filter(["C", "D"], ["-A INPUT -j C", "-A FORWARD -j D", "-A C -j DROP", "-A D -j DROP"]);
      const diff = rulesDiff(twins, renamed);
      expect(diff.summary.chainsRenamed).toBe(0);
      expect(chainNames(diff, "removed")).toEqual(["filter A", "filter B"]);
    });
  });

  it("an empty table on one side is no difference", () => {
    const filter = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", "-A INPUT -j ACCEPT", "COMMIT"];
    const withEmptyRaw = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", "COMMIT", ...filter];
    expect(rulesDiff(filter.join("\n") + "\n", withEmptyRaw.join("\n") + "\n").differs).toBe(false);
  });
});

describe("random rulesets with random edits", () => {
  // Restore input in random spelling, with every modelled module; edits are whole `-A` lines deleted, copied
  // or moved within their table, so NEW is valid wherever OLD is.
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: every change points at its rule, and the counts add up per chain`, () => {
      const family = seed % 2 === 0 ? 6 : 4;
      const oldText = generateRestoreInput(seed, family, 80);
      const random = mulberry32(seed * 7919);
      const lines = oldText.split("\n");
      for (let edit = 0; edit < 12; edit++) {
        const rules = lines.flatMap((line, index) => (line.startsWith("-A ") ? [index] : []));
        const at = rules[Math.floor(random() * rules.length)];
        const table = lines.slice(0, at).findLastIndex((l) => l.startsWith("*"));
        const commit = lines.indexOf("COMMIT", at);
        const to = table + 1 + Math.floor(random() * (commit - table - 1));
        const target = lines[to].startsWith(":") ? lines.slice(to).findIndex((l) => !l.startsWith(":")) + to : to;
        const roll = random();
        if (roll < 0.3) lines.splice(at, 1);
        else if (roll < 0.6) lines.splice(target, 0, lines[at]);
        else {
          const [line] = lines.splice(at, 1);
          lines.splice(target > at ? target - 1 : target, 0, line);
        }
      }
      const newText = lines.join("\n");
      const oldRuleset = parsed(oldText);
      const newRuleset = parsed(newText);
      const diff = diffRulesets(oldRuleset, newRuleset, { levels: ["rules"] }).levels.rules;
      if (diff?.status !== "compared") throw new Error("not compared");

      const canonicalByLine = (ruleset: Ruleset) =>
        new Map(ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules.map((r) => [r.line, formatRule(r, { family: ruleset.family, backend: "nft" }, false)] as const))));
      const oldLines = canonicalByLine(oldRuleset);
      const newLines = canonicalByLine(newRuleset);
      for (const table of diff.tables) {
        for (const chain of table.chains) {
          if (chain.kind !== "changed") continue;
          for (const change of chain.changes) {
            if (change.kind !== "added") expect(oldLines.get(change.old.line)).toBe(change.old.rule);
            if (change.kind !== "removed") expect(newLines.get(change.new.line)).toBe(change.new.rule);
          }
          const added = chain.changes.filter((c) => c.kind === "added").length;
          const removed = chain.changes.filter((c) => c.kind === "removed").length;
          expect(chain.new.rules - chain.old.rules).toBe(added - removed);
        }
      }
      expect(diff.differs).toBe(oldText !== newText && diff.summary.rulesAdded + diff.summary.rulesRemoved + diff.summary.rulesMoved > 0);
    });
  }
});
