// The services level counts the services (namespace/name) only one snapshot names: a port paired by name names
// the same service on both sides, so only ports added, removed or paired by a shared frontend can.

import { describe, expect, it } from "vitest";
import { diffRulesets, parseRuleset, type ServicesDiff } from "../src/index.js";
import { withoutComments } from "./support/dump-edits.js";
import { generateCluster, groundTruth, renderDump, type Cluster } from "./support/kubegen.js";

function servicesLevel(oldText: string, newText: string): ServicesDiff {
  const services = diffRulesets(parseRuleset(oldText).ruleset, parseRuleset(newText).ruleset, { levels: ["services"] }).levels.services;
  if (services?.status !== "compared") throw new Error("services not compared");
  return services;
}

const cluster: Cluster = generateCluster({ services: 30, seed: 21, endpointsPerService: [1, 3], mix: { multiPort: 0.4, nodePort: 0.3 } });
const text = renderDump(cluster);
const services = new Set(groundTruth(cluster).map((t) => `${t.namespace}/${t.name}`)).size;

describe("services only one snapshot names", () => {
  it("comments appearing: every service is new by name, though its ports are paired by frontend", () => {
    const diff = servicesLevel(withoutComments(text), text);
    expect(diff.summary.matchedByFrontend).toBeGreaterThan(0);
    expect(diff.summary).toEqual(expect.objectContaining({ servicesAdded: services, servicesRemoved: 0, servicePortsAdded: 0, servicePortsRemoved: 0 }));
  });

  it("comments gone: every service is gone by name", () => {
    const diff = servicesLevel(text, withoutComments(text));
    expect(diff.summary).toEqual(expect.objectContaining({ servicesAdded: 0, servicesRemoved: services }));
  });

  it("a service deleted whose name starts another's: counted once, the other not", () => {
    const index = cluster.services.findIndex((s, i) => cluster.services.some((o, j) => j !== i && o.namespace === s.namespace && o.name.startsWith(`${s.name}`) && o.name !== s.name));
    const deleted = index >= 0 ? index : 2;
    const after: Cluster = { ...cluster, services: cluster.services.filter((_, i) => i !== deleted) };
    const diff = servicesLevel(text, renderDump(after));
    expect(diff.summary).toEqual(expect.objectContaining({ servicesAdded: 0, servicesRemoved: 1 }));
  });
});
