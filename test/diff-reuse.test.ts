// `iptscope diff` parses NEW reusing OLD's rules, and the levels take shortcuts where NEW's parts are OLD's very
// objects. Shortcuts must never change an answer: every mutated pair is compared both ways, NEW parsed reusing OLD
// and parsed on its own, and the whole diff (traced counts included) must be the same.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffRulesets, parseRuleset, type ParseResult, type RulesetDiff } from "../src/index.js";
import { SnapshotPair } from "../src/analysis/diff/index.js";
import { readServiceMap } from "../src/analysis/kube/structure.js";
import { insertRule, randomLineEdits, withoutComments } from "./support/dump-edits.js";
import { generateCluster, mulberry32, RICH_FEATURE_MIX, renderDump, type Cluster, type Service } from "./support/kubegen.js";

const SEED = Number(process.env.IPTSCOPE_FUZZ_SEED ?? 20_261_126);

const index = fc.nat({ max: 1000 });

/**
 * What changes between the snapshots, by kind, with the arbitraries of its parameters; indexes are taken modulo
 * what there is, so that shrinking stays meaningful.
 */
const EDITS = {
  "scale-out": { service: index },
  "scale-in": { service: index },
  "delete-service": { service: index },
  "add-service": {},
  "traffic-policy": { service: index },
  affinity: { service: index },
  "source-ranges": { service: index },
  "shuffle-services": { seed: index },
  "custom-chain-drop": { service: index },
  "mark-rule": {},
  "dnat-rule": { service: index, other: index },
  policy: { chain: fc.constantFrom("FORWARD" as const, "INPUT" as const, "OUTPUT" as const) },
  "rename-chain": { which: index },
  "line-edits": { seed: index },
  "without-comments": {},
  "endpoint-port": { rule: index },
  "drop-endpoint-rule": { rule: index },
  "swap-service-rules": { rule: index },
  "duplicate-service-rule": { rule: index },
  "no-endpoints-rule": { service: index },
  "health-check": { service: index },
  "reverse-chain-declarations": {},
  "unrecognised-rule": { service: index },
  "masquerade-mark": {},
  "masquerade-source": { rule: index },
  "no-proxy-firewall": {},
  "proxy-firewall": {},
  "local-chain": { rule: index },
  "firewall-masquerade": { rule: index },
} satisfies Record<string, Record<string, fc.Arbitrary<unknown>>>;

type Edit = {
  [K in keyof typeof EDITS]: { kind: K } & { [P in keyof (typeof EDITS)[K]]: (typeof EDITS)[K][P] extends fc.Arbitrary<infer V> ? V : never };
}[keyof typeof EDITS];

type ClusterEdit = Extract<Edit, { kind: "scale-out" | "scale-in" | "delete-service" | "add-service" | "traffic-policy" | "affinity" | "source-ranges" | "shuffle-services" }>;

const editArbitrary = fc.oneof(
  ...Object.entries(EDITS).map(([kind, parameters]) => fc.record({ kind: fc.constant(kind), ...parameters }) as fc.Arbitrary<Edit>),
);

/** Indexes of the lines whose rule (after any counters) matches. */
function ruleLines(lines: readonly string[], pattern: RegExp): number[] {
  return lines.flatMap((line, i) => (pattern.test(line.replace(/^\[\d+:\d+\] /, "")) ? [i] : []));
}

/** The text with one line (picked modulo those that match) replaced by what `edit` makes of it: none, one or more lines. */
function editLine(text: string, pattern: RegExp, pick: number, edit: (line: string, lines: string[], at: number) => string[]): string {
  const lines = text.split("\n");
  const matching = ruleLines(lines, pattern);
  if (matching.length === 0) return text;
  const at = matching[pick % matching.length]!;
  return [...lines.slice(0, at), ...edit(lines[at]!, lines, at), ...lines.slice(at + 1)].join("\n");
}

const isClusterEdit = (edit: Edit): edit is ClusterEdit =>
  ["scale-out", "scale-in", "delete-service", "add-service", "traffic-policy", "affinity", "source-ranges", "shuffle-services"].includes(edit.kind);

/** The cluster model after an edit; `spare` holds services that can be added. */
function editCluster(cluster: Cluster, spare: Service[], edit: ClusterEdit): void {
  const at = (i: number) => cluster.services[i % cluster.services.length]!;
  switch (edit.kind) {
    case "scale-out": {
      const service = at(edit.service);
      const donor = cluster.services.flatMap((s) => s.pods).find((p) => !service.pods.some((q) => q.ip === p.ip));
      if (donor) service.pods.push({ ...donor });
      return;
    }
    case "scale-in":
      at(edit.service).pods.pop();
      return;
    case "delete-service":
      if (cluster.services.length > 3) cluster.services.splice(edit.service % cluster.services.length, 1);
      return;
    case "add-service": {
      const service = spare.shift();
      if (service) cluster.services.push(service);
      return;
    }
    case "traffic-policy": {
      const service = at(edit.service);
      if (service.type !== "ClusterIP") service.externalTrafficPolicy = service.externalTrafficPolicy === "Local" ? "Cluster" : "Local";
      else service.internalTrafficPolicy = service.internalTrafficPolicy === "Local" ? "Cluster" : "Local";
      return;
    }
    case "affinity": {
      const service = at(edit.service);
      if (service.sessionAffinityTimeoutSeconds === undefined) service.sessionAffinityTimeoutSeconds = 600;
      else delete service.sessionAffinityTimeoutSeconds;
      return;
    }
    case "source-ranges": {
      const service = at(edit.service);
      service.loadBalancerSourceRanges = service.loadBalancerSourceRanges.length > 0 ? [] : [cluster.family === "ipv4" ? "198.51.100.0/24" : "2001:db8:5::/64"];
      return;
    }
    case "shuffle-services": {
      const random = mulberry32(edit.seed + 1);
      for (let i = cluster.services.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [cluster.services[i], cluster.services[j]] = [cluster.services[j]!, cluster.services[i]!];
      }
      return;
    }
  }
}

type TextEdit = Exclude<Edit, ClusterEdit>;

function editText(text: string, cluster: Cluster, edit: TextEdit): string {
  const host = cluster.family === "ipv4" ? "/32" : "/128";
  const at = (i: number) => cluster.services[i % cluster.services.length]!;
  switch (edit.kind) {
    case "custom-chain-drop": {
      const service = at(edit.service);
      const port = service.ports[0]!;
      const withJump = insertRule(text, "filter", `-A FORWARD -d ${service.clusterIP}${host} -j GUARD`, "top", "GUARD");
      return insertRule(withJump, "filter", `-A GUARD -p ${port.protocol.toLowerCase()} -m ${port.protocol.toLowerCase()} --dport ${port.port} -j DROP`, "end");
    }
    case "mark-rule":
      return insertRule(text, "mangle", "-A PREROUTING -j MARK --set-xmark 0x4000/0x4000", "top");
    case "dnat-rule": {
      const service = at(edit.service);
      const other = at(edit.other);
      const pod = other.pods[0];
      if (!pod) return text;
      const port = service.ports[0]!;
      const to = cluster.family === "ipv4" ? pod.ip : `[${pod.ip}]`;
      const protocol = port.protocol.toLowerCase();
      return insertRule(text, "nat", `-A PREROUTING -d ${service.clusterIP}${host} -p ${protocol} -m ${protocol} --dport ${port.port} -j DNAT --to-destination ${to}:8080`, "top");
    }
    case "policy":
      return text.replace(`:${edit.chain} ACCEPT`, `:${edit.chain} DROP`);
    case "rename-chain": {
      // A user chain given another name everywhere (a rename at the rules level).
      const chains = [...new Set([...text.matchAll(/^:(KUBE-(?:SVC|SEP|EXT|FW)-[A-Z2-7]{16}) /gm)].map((m) => m[1]!))];
      const chain = chains[edit.which % Math.max(1, chains.length)];
      return chain === undefined ? text : text.replaceAll(chain, `${chain.slice(0, -4)}ZZZZ`);
    }
    case "line-edits":
      // randomLineEdits moves `-A` lines: it takes no counters in front of them.
      return /^-A /m.test(text) && !/^\[\d+:\d+\] -A /m.test(text) ? randomLineEdits(text, edit.seed + 1, 3) : text;
    case "without-comments":
      return withoutComments(text);
    case "endpoint-port":
      return editLine(text, /^-A KUBE-SEP-\S+ .*--to-destination /, edit.rule, (line) => [line.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1}`)]);
    case "drop-endpoint-rule":
      return editLine(text, /^-A KUBE-SEP-/, edit.rule, () => []);
    case "swap-service-rules":
      return editLine(text, /^-A KUBE-SERVICES .*-j KUBE-(SVC|EXT|FW|SVL)-/, edit.rule, (line, lines, at) => {
        const next = lines[at + 1];
        if (next === undefined || !/-A KUBE-SERVICES /.test(next)) return [line];
        lines[at + 1] = line;
        return [next];
      });
    case "duplicate-service-rule":
      return editLine(text, /^-A KUBE-(SERVICES|NODEPORTS) .*-j KUBE-(SVC|EXT|FW|SVL)-/, edit.rule, (line) => [line, line]);
    case "no-endpoints-rule": {
      const service = at(edit.service);
      const port = service.ports[0]!;
      const protocol = port.protocol.toLowerCase();
      const name = `${service.namespace}/${service.name}${port.name ? `:${port.name}` : ""}`;
      return insertRule(text, "filter", `-A KUBE-SERVICES -d ${service.clusterIP}${host} -p ${protocol} -m comment --comment "${name} has no endpoints" -m ${protocol} --dport ${port.port} -j REJECT --reject-with icmp-port-unreachable`, "end", "KUBE-SERVICES");
    }
    case "health-check": {
      // The last health check rule of a port counts.
      const service = at(edit.service);
      const port = service.ports[0]!;
      const name = `${service.namespace}/${service.name}${port.name ? `:${port.name}` : ""}`;
      return insertRule(text, "filter", `-A KUBE-NODEPORTS -p tcp -m comment --comment "${name} health check node port" -m tcp --dport 32000 -j ACCEPT`, "end", "KUBE-NODEPORTS");
    }
    case "local-chain": {
      // Old kube-proxy's KUBE-XLB chain, even empty, says externalTrafficPolicy=Local.
      const chains = [...text.matchAll(/^:KUBE-SVC-([A-Z2-7]{16}) /gm)].map((m) => m[1]!);
      const hash = chains[edit.rule % Math.max(1, chains.length)];
      if (hash === undefined) return text;
      return text.replace(/^(\*nat\n(?::.*\n)*)/m, `$1:KUBE-XLB-${hash} - [0:0]\n`);
    }
    case "reverse-chain-declarations": {
      const lines = text.split("\n");
      const declarations = lines.flatMap((line, i) => (/^:KUBE-(SVC|SEP|EXT|FW|SVL|XLB)-/.test(line) ? [i] : []));
      const reversed = declarations.map((i) => lines[i]!).reverse();
      declarations.forEach((i, k) => (lines[i] = reversed[k]!));
      return lines.join("\n");
    }
    case "unrecognised-rule": {
      const service = at(edit.service);
      const name = `${service.namespace}/${service.name}`;
      return insertRule(text, "nat", `-A KUBE-SERVICES -m comment --comment "${name} cluster IP" -j RETURN`, "top");
    }
    case "masquerade-mark":
      return editLine(text, /^-A KUBE-MARK-MASQ -j MARK/, 0, (line) => [line.replace(/0x4000\/0x4000/, "0x8000/0x8000")]);
    case "masquerade-source":
      return editLine(text, /^-A KUBE-SVC-\S+ ! -s \S+ .*-j KUBE-MARK-MASQ/, edit.rule, (line) => [line.replace(/! -s \S+/, cluster.family === "ipv4" ? "! -s 10.64.0.0/10" : "! -s fd00:64::/64")]);
    case "proxy-firewall":
      // Read as the new rule generation from then on.
      return insertRule(text, "filter", "-A KUBE-PROXY-FIREWALL -j RETURN", "end", "KUBE-PROXY-FIREWALL");
    case "firewall-masquerade":
      // A second masquerade rule for external clients: which one counts depends on the order the chains are read in.
      return editLine(text, /^-A KUBE-FW-/, edit.rule, (line) => [line, `${line.replace(/ -m comment .*| -j .*/, "")} -j KUBE-MARK-MASQ`]);
    case "no-proxy-firewall":
      return text
        .split("\n")
        .filter((line) => !/KUBE-PROXY-FIREWALL/.test(line))
        .join("\n");
  }
}

interface Case {
  seed: number;
  generation: "old" | "new";
  family: "ipv4" | "ipv6";
  order: "canonical" | "restore";
  counters: boolean;
  /** Made to both snapshots' text, so that NEW's changes meet shapes the generator does not make. */
  both: TextEdit[];
  edits: Edit[];
}

function pairOf(c: Case): { oldText: string; newText: string } {
  const all = generateCluster({ services: 24, seed: c.seed, generation: c.generation, family: c.family, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 4] });
  const before: Cluster = { ...all, services: all.services.slice(0, 20) };
  const after: Cluster = structuredClone(before);
  const spare = structuredClone(all.services.slice(20));
  for (const edit of c.edits) if (isClusterEdit(edit)) editCluster(after, spare, edit);
  const render = { order: c.order, counters: c.counters } as const;
  const edited = (cluster: Cluster, edits: readonly Edit[]) => {
    let text = renderDump(cluster, render);
    for (const edit of edits) if (!isClusterEdit(edit)) text = editText(text, cluster, edit);
    return text;
  };
  return { oldText: edited(before, c.both), newText: edited(after, [...c.both, ...c.edits]) };
}

function parsed(text: string, family: Case["family"], reuse?: ParseResult): ParseResult {
  return parseRuleset(text, { family, lenient: true, ...(reuse ? { reuse } : {}) });
}

function withoutTracedCounts(diff: RulesetDiff): unknown {
  const { services, traffic } = diff.levels;
  return {
    ...diff,
    levels: {
      ...diff.levels,
      ...(services?.status === "compared" ? { services: { ...services, summary: { ...services.summary, sharesTraced: 0 } } } : {}),
      ...(traffic?.status === "compared" ? { traffic: { ...traffic, summary: { ...traffic.summary, targetsTraced: 0 } } } : {}),
    },
  };
}

/** Rules of `next` that took their parts from a rule of `earlier`. */
function sharedRules(earlier: ParseResult, next: ParseResult): number {
  const parts = new Set<unknown>();
  for (const table of earlier.ruleset.tables) for (const chain of table.chains) for (const rule of chain.rules) parts.add(rule.matches);
  let shared = 0;
  for (const table of next.ruleset.tables) for (const chain of table.chains) for (const rule of chain.rules) if (parts.has(rule.matches)) shared++;
  return shared;
}

const caseArbitrary: fc.Arbitrary<Case> = fc.record({
  seed: fc.integer({ min: 1, max: 10_000 }),
  generation: fc.constantFrom("old" as const, "new" as const),
  family: fc.constantFrom("ipv4" as const, "ipv6" as const),
  order: fc.constantFrom("canonical" as const, "restore" as const),
  counters: fc.boolean(),
  both: fc.array(editArbitrary.filter((edit): edit is TextEdit => !isClusterEdit(edit)), { maxLength: 1 }),
  edits: fc.array(editArbitrary, { minLength: 1, maxLength: 3 }),
});

const EXAMPLE: Case = { seed: 3, generation: "new", family: "ipv4", order: "canonical", counters: false, both: [], edits: [] };

describe("diff with NEW parsed reusing OLD", () => {
  it("gives what NEW parsed on its own gives, at every level, for mutated kube-proxy pairs", () => {
    fc.assert(
      fc.property(caseArbitrary, (c) => {
        const { oldText, newText } = pairOf(c);
        const old = parsed(oldText, c.family);
        const reused = parsed(newText, c.family, old);
        const fresh = parsed(newText, c.family);
        const optimised = diffRulesets(old.ruleset, reused.ruleset);
        const plain = diffRulesets(old.ruleset, fresh.ruleset);
        expect(JSON.stringify(optimised)).toBe(JSON.stringify(plain));
        // And what tracing everything finds, but for how much was traced.
        expect(withoutTracedCounts(optimised)).toEqual(withoutTracedCounts(diffRulesets(old.ruleset, fresh.ruleset, { exhaustive: true })));
        // The service maps the levels compared are each snapshot's own.
        const maps = new SnapshotPair(old.ruleset, reused.ruleset).serviceMaps();
        const own = readServiceMap(fresh.ruleset, { nodeAddresses: maps.old.nodeAddresses });
        expect(JSON.stringify(maps.new)).toBe(JSON.stringify({ ...own, notes: own.notes.filter((n) => !n.kind.startsWith("node-address")) }));
        expect(sharedRules(old, reused)).toBeGreaterThan(0);
      }),
      {
        seed: SEED,
        numRuns: Number(process.env.IPTSCOPE_DIFF_REUSE_RUNS ?? 100),
        endOnFailure: true,
        examples: [
          // Where reading order decides: two masquerade rules for external clients, their chains declared in another order.
          ...[0, 1, 2].map((rule): Case => ({ ...EXAMPLE, both: [{ kind: "firewall-masquerade", rule }], edits: [{ kind: "reverse-chain-declarations" }] })),
          // Another rule generation: filter rules read otherwise.
          { ...EXAMPLE, generation: "old", edits: [{ kind: "proxy-firewall" }] },
          // A port's only change: a chain of its own more, or a later health check rule.
          { ...EXAMPLE, edits: [{ kind: "local-chain", rule: 4 }] },
          { ...EXAMPLE, seed: 4, edits: [{ kind: "health-check", service: 7 }] },
          // A chain renamed: KUBE-SERVICES then prints alike but is written otherwise (and marks frontends in the old generation).
          { ...EXAMPLE, seed: 7716, generation: "old", edits: [{ kind: "rename-chain", which: 821 }] },
          // KUBE-SERVICES rules in another order (the old generation marks frontends there too).
          { ...EXAMPLE, seed: 9994, generation: "old", order: "restore", edits: [{ kind: "swap-service-rules", rule: 958 }, { kind: "swap-service-rules", rule: 3 }] },
          // A second cluster CIDR: which comes first depends on the order of every chain.
          ...[0, 5, 9].map((rule): Case => ({ ...EXAMPLE, edits: [{ kind: "masquerade-source", rule }] })),
        ].map((example) => [example]),
      },
    );
  });
});
