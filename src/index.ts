// The public API of iptscope: parse a dump into the typed model, print it back.

import { parseRulesetText, type ParseOptions, type ParseResult } from "./model/build.js";

export type { ParseOptions, ParseResult } from "./model/build.js";
export type * from "./model/types.js";
export type { Diagnostic, DiagnosticKind, Severity } from "./diagnostics.js";
export { hasErrors } from "./diagnostics.js";
export { formatRuleset, formatRule, type FormatOptions } from "./model/print.js";
export { BUILTIN_CHAINS, TABLE_NAMES } from "./model/types.js";
export { diffRulesets, diffSnapshots, DIFF_LEVELS, SnapshotPair } from "./analysis/diff/index.js";
export type {
  ChainDiff, ChainRef, DiffLevel, DiffOptions, LevelOutcome, RuleChange, RuleRef, RulesDiff, RulesDiffSummary, RulesetDiff, TableDiff,
  DiffNote, DiffNoteKind, EndpointRef, FrontendRef, PairOptions, ServicePortChange, ServicePortDiff, ServicePortRef, ServicesDiff,
  ServicesDiffSummary, ShareView, TraceSetup, TrafficChange, TrafficDiff, TrafficDiffSummary, TrafficOutcome, TrafficTarget,
} from "./analysis/diff/index.js";
export { createTracer, mergeOutcomes, type Tracer, type TracerOptions } from "./analysis/trace/walk.js";
export { defaultContext, inferNodeAddresses, CONTAINER_INTERFACES } from "./analysis/trace/context.js";
export { parseIpsetSave } from "./analysis/trace/ipset.js";
export type * from "./analysis/trace/types.js";
export { buildRuleGraph, findJumpLoops, chainKey, ruleKey, type RuleGraph, type RuleGraphEdge, type RuleGraphEdgeKind, type RuleGraphNode } from "./analysis/rule-graph.js";
export { renderTraceText, type TraceTextOptions } from "./render/trace-text.js";
export { resolveServices, readServiceMap, resolveServiceMap, type ReadOptions, type ResolveOptions } from "./analysis/kube/index.js";
export { answerWhere, matchWhereTarget, parseWhereTarget, type WhereAnswer, type WhereOptions, type WhereReport, type WhereTarget } from "./analysis/kube/where.js";
export type {
  ClientClass, Endpoint, EndpointShare, Frontend, FrontendKind, FrontendResolution, FrontendVerdict, KubeNote, KubeNoteKind, MasqueradePolicy,
  RuleGeneration, ServiceMap, ServiceName, ServicePort, ServiceProtocol, ServiceType, TrafficPolicy,
} from "./analysis/kube/index.js";

export {
  buildChainsSceneWithIndex, buildScene, chainEdgeId, chainNodeId, GRAPH_FORMATS, layoutScene, overlayPaths, renderGraph, VIEW_NAMES, writeScene,
} from "./render/index.js";
export {
  buildServicesSceneWithIndex, buildTracedChainsScene, buildTracedScene, buildTracedServicesScene, chainsTracePaths, servicesTracePaths, TRACED_VIEWS,
} from "./render/index.js";
export type {
  ChainsSceneIndex, GraphFormat, GraphOptions, OverlayPath, Scene, SceneEdge, SceneGroup, SceneNode, SceneRule, ViewName, ViewOptions,
} from "./render/index.js";
export type { OverlayLink, ServicesSceneIndex, TracedBuildOptions, TracedViewName } from "./render/index.js";

/** Parses iptables-save output (or iptables-restore input) into the typed model. Never throws on bad input. */
export function parseRuleset(text: string, options: ParseOptions = {}): ParseResult {
  return parseRulesetText(text, options);
}
