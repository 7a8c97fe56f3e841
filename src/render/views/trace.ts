// Trace overlays: the tracer's outcomes drawn over the chains view (each outcome's jumps, gotos and moves from
// one hook or table to the next) or the services view (the frontend the packet was sent to, and the endpoint or
// verdict each outcome reaches), each outcome in its own colour with its probability, the rest dimmed.

import type { Frontend, ServicePort } from "../../analysis/kube/types.js";
import type { Outcome, PacketView, PathStep, TraceResult } from "../../analysis/trace/types.js";
import type { Ruleset, TableName } from "../../model/types.js";
import { OUTCOME_COLORS } from "../palette.js";
import { thousands } from "../rule-facts.js";
import { formatProbability, overlayPaths, type OverlayLink, type OverlayPath, type Scene, type ViewName } from "../scene.js";
import { buildChainsSceneWithIndex, type ChainsSceneIndex } from "./chains.js";
import type { ViewOptions } from "./options.js";
import { buildServicesSceneWithIndex, servicesEdgeId, type ServicesSceneIndex } from "./services.js";

export const TRACED_VIEWS = ["chains", "services"] as const satisfies readonly ViewName[];
export type TracedViewName = (typeof TRACED_VIEWS)[number];

/** Outcomes drawn, most likely first; the rest are counted in the notes. */
export const MAX_DRAWN_OUTCOMES = OUTCOME_COLORS.length;

interface ChainRef {
  table: TableName;
  chain: string;
}

/** What one outcome's path does between chains, in order: chains entered, jumps and gotos, moves to the next hook or table. */
export interface ChainTransitions {
  chains: ChainRef[];
  jumps: { table: TableName; from: string; to: string; goto: boolean }[];
  /** From the built-in chain of one (hook, table) to the next one the packet traverses. */
  hooks: { from: ChainRef; to: ChainRef }[];
}

export function chainTransitions(path: readonly PathStep[]): ChainTransitions {
  const transitions: ChainTransitions = { chains: [], jumps: [], hooks: [] };
  let previous: PathStep | undefined;
  for (const step of path) {
    transitions.chains.push({ table: step.table, chain: step.chain });
    if (previous && (previous.hook !== step.hook || previous.table !== step.table)) {
      transitions.hooks.push({ from: { table: previous.table, chain: previous.hook }, to: { table: step.table, chain: step.hook } });
    }
    const effect = step.effect;
    if (effect.kind === "jump" || effect.kind === "goto") {
      transitions.jumps.push({ table: step.table, from: step.chain, to: effect.chain, goto: effect.kind === "goto" });
    }
    previous = step;
  }
  return transitions;
}

/** The outcome in a few words: where it is translated to and what the node finally does. */
export function outcomeDescription(outcome: Outcome): string {
  const parts: string[] = [];
  if (outcome.dnat) parts.push(`DNAT → ${outcome.dnat.to}`);
  const delivery = outcome.delivery === "local" ? " (delivered to the node)" : outcome.delivery === "forward" ? " (forwarded)" : outcome.delivery === "output" ? " (sent)" : "";
  parts.push(`${outcome.verdict}${delivery}`);
  if (outcome.masquerade) parts.push("masqueraded");
  else if (outcome.snat) parts.push(`SNAT → ${outcome.snat.to}`);
  if (outcome.uncertain.length > 0) parts.push(`assuming ${outcome.uncertain.length} uncertain match(es)`);
  return parts.join(" · ");
}

function drawnOutcomes(result: TraceResult): Outcome[] {
  return result.outcomes.slice(0, MAX_DRAWN_OUTCOMES);
}

function basePath(outcome: Outcome, index: number): Pick<OverlayPath, "label" | "description" | "color" | "probability"> {
  return { label: `#${index + 1}`, description: `#${index + 1} ${outcomeDescription(outcome)}`, color: OUTCOME_COLORS[index % OUTCOME_COLORS.length]!, probability: outcome.probability };
}

/** Each path labelled once, on its first edge no earlier path took (where it parts from them), else its last. */
function labelWhereDistinct(paths: OverlayPath[]): OverlayPath[] {
  const taken = new Set<string>();
  return paths.map((path) => {
    const own = path.edges.find((id) => !taken.has(id)) ?? path.edges[path.edges.length - 1];
    for (const id of path.edges) taken.add(id);
    return { ...path, labelled: own === undefined ? [] : [own] };
  });
}

function unique<T>(list: readonly (T | undefined)[]): T[] {
  return [...new Set(list.filter((x): x is T => x !== undefined))];
}

/** The outcome paths over a chains scene: nodes of the chains entered, edges of the jumps and gotos, links between hooks. */
export function chainsTracePaths(index: ChainsSceneIndex, result: TraceResult): OverlayPath[] {
  const paths = drawnOutcomes(result).map((outcome, i): OverlayPath => {
    const transitions = chainTransitions(outcome.path);
    const links: OverlayLink[] = [];
    for (const hop of transitions.hooks) {
      const from = index.nodeFor(hop.from.table, hop.from.chain);
      const to = index.nodeFor(hop.to.table, hop.to.chain);
      if (from !== undefined && to !== undefined && from !== to) links.push({ from, to });
    }
    return {
      ...basePath(outcome, i),
      nodes: unique(transitions.chains.map((c) => index.nodeFor(c.table, c.chain))),
      edges: unique(transitions.jumps.map((j) => index.edgeFor(j.table, j.from, j.to, j.goto))),
      links,
    };
  });
  return labelWhereDistinct(paths);
}

/** The frontend a packet is addressed to: by address and port, else a NodePort on its port. */
export function tracedFrontend(services: readonly ServicePort[], packet: Pick<PacketView, "dst" | "dport" | "proto">): Frontend | undefined {
  let nodePort: Frontend | undefined;
  for (const service of services) {
    for (const frontend of service.frontends) {
      if (frontend.port !== packet.dport || frontend.protocol !== packet.proto.toLowerCase()) continue;
      if (frontend.address === packet.dst) return frontend;
      if (frontend.kind === "nodePort") nodePort ??= frontend;
    }
  }
  return nodePort;
}

/** The outcome paths over a services scene: namespace → frontend → the endpoint (or verdict) each outcome reaches. */
export function servicesTracePaths(index: ServicesSceneIndex, result: TraceResult): OverlayPath[] {
  const frontend = tracedFrontend(index.map.services, result.packet);
  const frontendId = frontend && index.frontendNode(frontend);
  const service = frontend && index.map.services.find((s) => s.frontends.includes(frontend));
  const paths = drawnOutcomes(result).map((outcome, i): OverlayPath => {
    if (!frontend || frontendId === undefined || !service) return { ...basePath(outcome, i), nodes: [], edges: [] };
    const namespaceId = index.namespaceNode(service.name.namespace);
    const end = outcome.dnat ? index.endpointNode(frontend, outcome.dnat.to) : index.verdictNode(frontend, outcome.verdict);
    return {
      ...basePath(outcome, i),
      nodes: unique([namespaceId, frontendId, end]),
      edges: unique([servicesEdgeId(namespaceId, frontendId), end === undefined ? undefined : servicesEdgeId(frontendId, end)]),
    };
  });
  return labelWhereDistinct(paths);
}

function traceNotes(result: TraceResult): string[] {
  const p = result.packet;
  const port = (address: string, value: number | undefined) => (value === undefined ? address : `${address}:${value}`);
  const notes = [
    `trace: ${port(p.src, p.sport)} → ${port(p.dst, p.dport)} ${p.proto} from ${result.context.origin}, ${result.context.state} — ${thousands(result.outcomes.length)} outcome(s), each in its colour with its share; what the packet does not go through is dimmed`,
  ];
  const rest = result.outcomes.slice(MAX_DRAWN_OUTCOMES);
  if (rest.length > 0) {
    notes.push(`${rest.length} less likely outcome(s) not drawn (${formatProbability(rest.reduce((n, o) => n + o.probability, 0))} together): see iptscope trace`);
  }
  return notes;
}

/** A view with a trace's outcomes drawn over it. */
export function buildTracedScene(ruleset: Ruleset, options: ViewOptions & { view: TracedViewName }, result: TraceResult): Scene {
  let scene: Scene;
  let paths: OverlayPath[];
  const notes = traceNotes(result);
  switch (options.view) {
    case "chains": {
      // The chains the drawn outcomes entered stay single nodes where their families are merged.
      const entered = new Set(drawnOutcomes(result).flatMap((o) => o.path.map((step) => `${step.table}\u0000${step.chain}`)));
      const index = buildChainsSceneWithIndex(ruleset, options, { keep: (table, chain) => entered.has(`${table}\u0000${chain}`) });
      scene = index.scene;
      paths = chainsTracePaths(index, result);
      break;
    }
    case "services": {
      const index = buildServicesSceneWithIndex(ruleset, options, {
        keep: (services) => {
          const frontend = tracedFrontend(services, result.packet);
          return services.filter((s) => frontend !== undefined && s.frontends.includes(frontend));
        },
      });
      scene = index.scene;
      paths = servicesTracePaths(index, result);
      const frontend = tracedFrontend(index.map.services, result.packet);
      if (!frontend) notes.push("the traced packet is addressed to no service frontend drawn here");
      break;
    }
    default: {
      const unreachable: never = options.view;
      throw new Error(`view ${String(unreachable)} cannot be traced`);
    }
  }
  const overlaid = overlayPaths(scene, paths);
  return { ...overlaid, title: `${scene.title} · traced`, notes: [...scene.notes, ...notes] };
}
