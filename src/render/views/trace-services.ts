// A trace over the services view: the frontend the packet is sent to, and the endpoint or verdict each outcome reaches.

import type { Frontend, ServicePort } from "../../analysis/kube/types.js";
import type { PacketView, TraceResult } from "../../analysis/trace/types.js";
import type { Tracer } from "../../analysis/trace/walk.js";
import type { Ruleset } from "../../model/types.js";
import type { OverlayPath, Scene } from "../scene.js";
import type { ViewOptions } from "./options.js";
import { buildServicesSceneWithIndex, servicesEdgeId, type ServicesSceneIndex } from "./services.js";
import { basePath, drawnOutcomes, labelWhereDistinct, tracedScene, unique } from "./trace-outcomes.js";

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

/** The services view with a trace's outcomes drawn over it; `tracer`, the one that traced, also resolves the frontends. */
export function buildTracedServicesScene(ruleset: Ruleset, options: ViewOptions, result: TraceResult, tracer?: Tracer): Scene {
  const index = buildServicesSceneWithIndex(ruleset, options, {
    keep: (services) => {
      const frontend = tracedFrontend(services, result.packet);
      return services.filter((s) => frontend !== undefined && s.frontends.includes(frontend));
    },
    ...(tracer ? { tracer } : {}),
  });
  const addressed = tracedFrontend(index.map.services, result.packet) !== undefined;
  return tracedScene(index.scene, servicesTracePaths(index, result), result, addressed ? [] : ["the traced packet is addressed to no service frontend drawn here"]);
}
