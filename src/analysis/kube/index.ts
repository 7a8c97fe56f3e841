// The Kubernetes view of a dump: the Service map (structure from the KUBE-* chains, destinations
// from the tracer) and the answers `where` gives.

import type { Ruleset } from "../../model/types.js";
import { readServiceMap, type ReadOptions } from "./structure.js";
import { resolveServiceMap, type ResolveOptions } from "./resolve.js";
import type { ServiceMap } from "./types.js";

export type * from "./types.js";
export type { KubeNote, KubeNoteKind } from "./notes.js";
export { readServiceMap, type ReadOptions } from "./structure.js";
export { resolveServiceMap, type ResolveOptions } from "./resolve.js";

/** The node's Service map, every frontend resolved by the tracer. */
export function resolveServices(ruleset: Ruleset, options: ReadOptions & ResolveOptions = {}): ServiceMap {
  return resolveServiceMap(ruleset, readServiceMap(ruleset, options), options);
}
