// Trace overlays: the tracer's outcomes drawn over the chains view (each outcome's jumps, gotos and moves from
// one hook or table to the next) or the services view (the frontend the packet was sent to, and the endpoint or
// verdict each outcome reaches), each outcome in its own colour with its probability, the rest dimmed.

import type { TraceResult } from "../../analysis/trace/types.js";
import type { Tracer } from "../../analysis/trace/walk.js";
import type { Ruleset } from "../../model/types.js";
import type { Scene, ViewName } from "../scene.js";
import type { ViewOptions } from "./options.js";
import { buildTracedChainsScene } from "./trace-chains.js";
import { buildTracedServicesScene } from "./trace-services.js";

export { buildTracedChainsScene, chainsTracePaths, chainTransitions, type ChainTransitions } from "./trace-chains.js";
export { buildTracedServicesScene, servicesTracePaths, tracedFrontend } from "./trace-services.js";
export { MAX_DRAWN_OUTCOMES, outcomeDescription } from "./trace-outcomes.js";

export const TRACED_VIEWS = ["chains", "services"] as const satisfies readonly ViewName[];
export type TracedViewName = (typeof TRACED_VIEWS)[number];

export interface TracedBuildOptions {
  /** The tracer that produced the result: the services view resolves its frontends with it instead of building another. */
  tracer?: Tracer;
}

/** A view with a trace's outcomes drawn over it. */
export function buildTracedScene(ruleset: Ruleset, options: ViewOptions & { view: TracedViewName }, result: TraceResult, build: TracedBuildOptions = {}): Scene {
  switch (options.view) {
    case "chains":
      return buildTracedChainsScene(ruleset, options, result);
    case "services":
      return buildTracedServicesScene(ruleset, options, result, build.tracer);
    default: {
      const unreachable: never = options.view;
      throw new Error(`view ${String(unreachable)} cannot be traced`);
    }
  }
}
