// Defaults for what the user did not say, and the node addresses a dump reveals.

import type { Ruleset } from "../../model/types.js";
import { parseIp } from "../ip.js";
import type { NodeAddress, TraceContext } from "./types.js";

const API_SERVICE = "default/kubernetes";

/** `default/kubernetes` or one of its ports (`default/kubernetes:https`). */
function namesApiServer(comment: string): boolean {
  return comment.startsWith(API_SERVICE) && (comment.length === API_SERVICE.length || comment.charCodeAt(API_SERVICE.length) === 58 /* : */);
}

/**
 * Node addresses a dump reveals. kube-proxy's `default/kubernetes` service points at the API
 * servers; on a control-plane node one of them is the node itself, which is all a dump can say.
 */
export function inferNodeAddresses(ruleset: Ruleset): NodeAddress[] {
  const found = new Map<string, NodeAddress>();
  for (const table of ruleset.tables) {
    if (table.name !== "nat") continue;
    for (const chain of table.chains) {
      if (!chain.name.startsWith("KUBE-SEP-")) continue;
      for (const rule of chain.rules) {
        if (rule.target?.name !== "DNAT") continue;
        const comment = rule.matches.find((m) => m.name === "comment")?.options[0]?.value;
        if (comment?.kind !== "string" || !namesApiServer(comment.value)) continue;
        const to = rule.target.options.find((o) => o.name === "to-destination")?.value;
        const address = to?.kind === "nat-range" ? to.range.fromAddress : undefined;
        if (address && parseIp(address, ruleset.family) && !found.has(address)) {
          found.set(address, {
            address,
            source: { kind: "inferred", line: rule.line, how: "API server endpoint of default/kubernetes (this is a node address on a control-plane node)" },
          });
        }
      }
    }
  }
  return [...found.values()];
}

/**
 * Interfaces that carry container traffic (pods on this node, tunnels to other nodes' pods) in the
 * common CNIs and Docker: a packet from outside the cluster does not arrive on them.
 */
export const CONTAINER_INTERFACES: readonly string[] = [
  "docker0", "br-+", "cni0", "cbr0", "cali+", "veth+", "lxc+", "cilium_+", "flannel.+", "vxlan.calico", "tunl0",
  "weave", "kube-bridge", "kube-ipvs0", "antrea-gw0", "ovn-k8s-mp0", "genev_sys_+", "nodelocaldns",
];

export function defaultContext(overrides: Partial<TraceContext> = {}): TraceContext {
  return {
    origin: "pod",
    state: "new",
    nodeAddresses: [],
    routes: [],
    mark: 0,
    ctmark: 0,
    assumeNoAffinity: false,
    ...overrides,
  };
}
