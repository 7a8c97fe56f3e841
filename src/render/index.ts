// Pictures of a ruleset: view (model → scene) → layout (scene → positions) → writer (svg, dot, html, json).

import type { Ruleset } from "../model/types.js";
import { layoutScene, type SceneLayout } from "./layout/frame.js";
import type { GraphFormat } from "./formats.js";
import type { Scene, ViewName } from "./scene.js";
import { buildChainsScene } from "./views/chains.js";
import { buildFlowScene } from "./views/flow.js";
import { buildServicesScene } from "./views/services.js";
import type { ViewOptions } from "./views/options.js";
import { writeDot } from "./write/dot.js";
import { writeHtml } from "./write/html.js";
import { writeGraphJson } from "./write/json.js";
import { writeSvg } from "./write/svg.js";

export interface GraphOptions extends ViewOptions {
  view: ViewName;
}

const BUILDERS = { flow: buildFlowScene, chains: buildChainsScene, services: buildServicesScene } satisfies Record<ViewName, (ruleset: Ruleset, options: ViewOptions) => Scene>;

export function buildScene(ruleset: Ruleset, options: GraphOptions): Scene {
  return BUILDERS[options.view](ruleset, options);
}

/** A scene written in one format; layouts are computed here except for DOT, which Graphviz lays out. */
export function writeScene(scene: Scene, format: GraphFormat): string {
  switch (format) {
    case "svg":
      return writeSvg(scene, layoutScene(scene), { standalone: true });
    case "dot":
      return writeDot(scene);
    case "html":
      return writeHtml(scene, layoutScene(scene));
    case "json":
      return writeGraphJson(scene, layoutScene(scene));
    default: {
      const unreachable: never = format;
      throw new Error(`unknown format ${String(unreachable)}`);
    }
  }
}

export function renderGraph(ruleset: Ruleset, options: GraphOptions & { format: GraphFormat }): string {
  return writeScene(buildScene(ruleset, options), options.format);
}

export { layoutScene, type SceneLayout };
export { GRAPH_FORMATS, formatFromFileName, type GraphFormat } from "./formats.js";
export { overlayPaths, formatProbability, SCENE_SCHEMA_VERSION, VIEW_NAMES } from "./scene.js";
export type * from "./scene.js";
export { buildChainsScene, buildChainsSceneWithIndex, chainEdgeId, chainNodeId, type ChainsBuildOptions, type ChainsSceneIndex } from "./views/chains.js";
export { buildFlowScene } from "./views/flow.js";
export {
  buildServicesScene, buildServicesSceneWithIndex, frontendNodeId, namespaceNodeId, servicesEdgeId, type ServicesBuildOptions, type ServicesSceneIndex,
} from "./views/services.js";
export { DEFAULT_LIMITS, type AggregationLimits, type ViewOptions } from "./views/options.js";
export {
  buildTracedChainsScene, buildTracedScene, buildTracedServicesScene, chainsTracePaths, chainTransitions, MAX_DRAWN_OUTCOMES, outcomeDescription,
  servicesTracePaths, tracedFrontend, TRACED_VIEWS, type ChainTransitions, type TracedBuildOptions, type TracedViewName,
} from "./views/trace.js";
