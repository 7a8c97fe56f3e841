// Representative clients to trace: addresses that stand for "a pod", "a client off the cluster"
// and "a client inside these source ranges" without hitting anything else the rules single out.

import type { Family } from "../../model/types.js";
import { formatIpv4, formatIpv6 } from "../../model/addresses.js";
import { inNet, parseIp, parseNet, type Net, type Words } from "../ip.js";
import { namedAddresses } from "./structure.js";
import type { ServiceMap } from "./types.js";

// Documentation and benchmarking ranges (RFC 5737, 2544, 3849): no cluster's pods live there.
const OFF_CLUSTER_CANDIDATES: Record<Family, string[]> = {
  ipv4: ["203.0.113.77", "198.51.100.77", "192.0.2.77", "198.18.255.77", "100.127.255.77"],
  ipv6: ["2001:db8:ffff::77", "2001:db8:fffe::77", "2001:db8:fffd::77"],
};
const HOST_TRIES = 16;

function wordsToText(words: Words, family: Family): string {
  if (family === "ipv4") return formatIpv4(words[3]);
  return formatIpv6((BigInt(words[0]) << 96n) | (BigInt(words[1]) << 64n) | (BigInt(words[2]) << 32n) | BigInt(words[3]));
}

/** The address `offset` after the network address, or (from the end) `offset` before its last address. */
function hostInNet(net: Net, offset: number, from: "start" | "end", family: Family): string {
  const words = net.words.map((w, i) => (from === "start" ? w : (w | ~net.mask[i]!) >>> 0));
  words[3] = (from === "start" ? words[3]! + offset : words[3]! - offset) >>> 0;
  return wordsToText(words as unknown as Words, family);
}

const pickers = new WeakMap<ServiceMap, ClientPicker>();

/** The picker of a map, built once: where and services ask it for the same clients again and again. */
export function clientPicker(map: ServiceMap): ClientPicker {
  let picker = pickers.get(map);
  if (!picker) pickers.set(map, (picker = new ClientPicker(map)));
  return picker;
}

/** Which of `wanted` the map names, found without indexing every address it names. */
function namedAmong(map: ServiceMap, wanted: ReadonlySet<string>): ReadonlySet<string> {
  const found = new Set<string>();
  for (const service of map.services) {
    for (const f of service.frontends) if (f.address !== undefined && wanted.has(f.address)) found.add(f.address);
    for (const e of service.endpoints) if (wanted.has(e.ip)) found.add(e.ip);
  }
  return found;
}

export class ClientPicker {
  private readonly family: Family;
  private readonly nodeAddresses: ReadonlySet<string>;
  private readonly clusterNets: Net[];
  /** Every address a client is picked from, for the clients the map's frontends need; and those of them the map names. */
  private readonly candidates: ReadonlySet<string>;
  private readonly namedCandidates: ReadonlySet<string>;
  private readonly offClusterClient: string;
  private readonly podClient: string | undefined;

  constructor(private readonly map: ServiceMap) {
    this.family = map.family;
    this.nodeAddresses = new Set(map.nodeAddresses.map((a) => a.address));
    this.clusterNets = map.clusterCidrs.map((c) => parseNet(c, map.family)).filter((n): n is Net => n !== undefined);
    // Clients are chosen from a few candidates each: one pass over the map tells which of them it names.
    const offCluster = OFF_CLUSTER_CANDIDATES[this.family];
    const podNet = this.clusterNets[0];
    const pod = podNet ? this.hosts(podNet, "end") : [];
    const sourceRanges = new Set(map.services.flatMap((s) => s.frontends.flatMap((f) => f.sourceRanges ?? [])));
    const insideRanges = [...sourceRanges].flatMap((range) => {
      const net = parseNet(range, this.family);
      return net ? this.hosts(net, "start") : [];
    });
    this.candidates = new Set([...offCluster, ...pod, ...insideRanges]);
    this.namedCandidates = namedAmong(map, this.candidates);
    this.offClusterClient = offCluster.find((a) => this.usable(a)) ?? offCluster[0]!;
    this.podClient = podNet ? (pod.find((a) => !this.avoided(a)) ?? pod[0]) : undefined;
  }

  /** The addresses tried in a network, in order. */
  private hosts(net: Net, from: "start" | "end"): string[] {
    return Array.from({ length: HOST_TRIES }, (_, i) => hostInNet(net, i + 1, from, this.family));
  }

  private inCluster(address: string): boolean {
    const ip = parseIp(address, this.family);
    return ip !== undefined && this.clusterNets.some((n) => inNet(ip.words, n));
  }

  private named(address: string): boolean {
    return this.candidates.has(address) ? this.namedCandidates.has(address) : namedAddresses(this.map).has(address);
  }

  private avoided(address: string): boolean {
    return this.named(address) || this.nodeAddresses.has(address);
  }

  private usable(address: string): boolean {
    return !this.avoided(address) && !this.inCluster(address);
  }

  /** A client that is neither a pod nor the node, nor anything a rule names. */
  offCluster(): string {
    return this.offClusterClient;
  }

  /** An off-cluster client inside one of `ranges` (loadBalancerSourceRanges). */
  inside(ranges: readonly string[]): string {
    const nodeIps = this.map.nodeAddresses.map((a) => parseIp(a.address, this.family)).filter((ip) => ip !== undefined);
    const nets = ranges.map((r) => parseNet(r, this.family)).filter((n): n is Net => n !== undefined);
    // Prefer a range that does not hold the node: there, "inside the range" is not also "the node".
    nets.sort((a, b) => Number(nodeIps.some((ip) => inNet(ip.words, a))) - Number(nodeIps.some((ip) => inNet(ip.words, b))));
    for (const net of nets) {
      for (let offset = 1; offset <= HOST_TRIES; offset++) {
        const address = hostInNet(net, offset, "start", this.family);
        if (this.usable(address) && inNet(parseIp(address, this.family)!.words, net)) return address;
      }
    }
    return nets[0] ? hostInNet(nets[0], 1, "start", this.family) : this.offCluster();
  }

  /** An address in the cluster CIDR that is no endpoint; undefined when the rules reveal no CIDR. */
  pod(): string | undefined {
    return this.podClient;
  }
}
