// `iptscope services`: the Service map as an aligned table, one row per frontend, and the words
// shared with `where` for endpoints, shares and masquerading.

import type { Palette } from "../cli/color.js";
import { frontendLabel } from "../analysis/kube/names.js";
import type {
  EndpointShare,
  Frontend,
  FrontendKind,
  FrontendResolution,
  MasqueradePolicy,
  ServiceMap,
  ServicePort,
} from "../analysis/kube/types.js";

const plain: Palette = { red: (t) => t, yellow: (t) => t, green: (t) => t, cyan: (t) => t, dim: (t) => t, bold: (t) => t };

/** `50%`, `33.3%`, `0.01%`: one decimal, none when it is zero. */
export function formatShare(probability: number): string {
  const percent = probability * 100;
  if (percent > 0 && percent < 0.05) return `${percent.toPrecision(1)}%`;
  const rounded = percent.toFixed(1);
  return `${rounded.endsWith(".0") ? rounded.slice(0, -2) : rounded}%`;
}

const KIND_LABEL: Record<FrontendKind, string> = {
  clusterIP: "ClusterIP",
  externalIP: "ExternalIP",
  loadBalancerIP: "LoadBalancer",
  nodePort: "NodePort",
  externalOrLoadBalancerIP: "External/LB",
};

/** One definition of a frontend's label, for the renderers that already import this module. */
export { frontendLabel };

/** Who kube-proxy masquerades on this frontend, in words. */
export function masqueradeWords(policy: MasqueradePolicy): string {
  switch (policy.kind) {
    case "all":
      return "masquerade: every client";
    case "off-cluster":
      return "masquerade: from off-cluster sources";
    case "not-from-interface":
      return `masquerade: unless arriving on ${policy.interface}`;
    case "node-sources":
      return "client address kept: only the node's own connections are masqueraded";
    case "none":
      return "no masquerade";
  }
}

/** Why a client the tracer saw masqueraded was, in words. */
export function masqueradedWords(policy: MasqueradePolicy): string {
  switch (policy.kind) {
    case "all":
      return "masqueraded: this frontend masquerades every client";
    case "off-cluster":
      return `masqueraded: the source is outside ${policy.clusterCidr}`;
    case "not-from-interface":
      return `masqueraded: it did not arrive on ${policy.interface}`;
    case "node-sources":
      return "masqueraded: it comes from the node";
    case "none":
      return "masqueraded by a rule that is not kube-proxy's";
  }
}

const MANY_ENDPOINTS = 6;
const SHOWN_OF_MANY = 3;

function shareText(share: EndpointShare, palette: Palette): string {
  let text = `${share.address} ${formatShare(share.probability)}`;
  if (share.local === true) text += " (local)";
  if (share.blocked) {
    // An uncertain split counts half each way: its share says nothing, so it is not shown.
    const partial = !share.blocked.uncertain && share.blocked.probability < share.probability - 1e-12;
    text += palette.red(` (then ${share.blocked.uncertain ? "maybe " : ""}${share.blocked.verdict}${partial ? ` ${formatShare(share.blocked.probability)}` : ""})`);
  }
  return text;
}

/** `A 50% · B 50%`, shortened past a handful of endpoints. */
export function endpointsText(shares: readonly EndpointShare[], palette: Palette = plain, separator = " · "): string {
  if (shares.length <= MANY_ENDPOINTS) return shares.map((s) => shareText(s, palette)).join(separator);
  const rest = shares.slice(SHOWN_OF_MANY);
  const first = formatShare(rest[0]!.probability);
  const uniform = rest.every((s) => formatShare(s.probability) === first);
  const more = `… ${rest.length} more${uniform ? ` (${first} each)` : ` (${formatShare(rest.reduce((sum, s) => sum + s.probability, 0))} together)`}`;
  return [...shares.slice(0, SHOWN_OF_MANY).map((s) => shareText(s, palette)), more].join(separator);
}

/** The destination column: endpoints with shares, or what happens instead. */
export function resolutionText(service: ServicePort, resolution: FrontendResolution, palette: Palette = plain, separator = " · "): string {
  const parts: string[] = [];
  if (resolution.endpoints.length > 0) parts.push(endpointsText(resolution.endpoints, palette, separator));
  for (const other of resolution.other) {
    const share = resolution.endpoints.length > 0 || resolution.other.length > 1 ? ` ${formatShare(other.probability)}` : "";
    switch (other.verdict) {
      case "REJECT":
        parts.push(palette.red(`REJECT${share}`) + (service.state === "no-endpoints" ? " (no endpoints)" : ""));
        break;
      case "DROP":
        parts.push(palette.red(`DROP${share}`) + (service.state === "no-local-endpoints" ? " (no local endpoints)" : ""));
        break;
      case "ACCEPT":
        parts.push(`not translated${share} (${other.delivery === "local" ? "delivered to the node" : "goes on unchanged"})`);
        break;
      case "QUEUE":
      case "ERROR":
        parts.push(palette.yellow(`${other.verdict}${share}`));
        break;
    }
  }
  return parts.join(separator);
}

function flags(service: ServicePort, frontend: Frontend): string[] {
  const list: string[] = [];
  if (frontend.resolutions[0]?.endpoints.length) list.push(masqueradeWords(frontend.masquerade));
  if (frontend.kind !== "clusterIP" && service.externalTrafficPolicy === "Local") list.push("eTP=Local");
  if (frontend.kind === "clusterIP" && service.internalTrafficPolicy === "Local") list.push("iTP=Local");
  if (service.affinity) list.push(`affinity ${service.affinity.seconds}s`);
  if (frontend.sourceRanges) list.push(`ranges ${frontend.sourceRanges.join(",")}`);
  if (frontend.kind === "nodePort" && frontend.localhost) list.push("also 127.0.0.0/8");
  if (frontend.kind === "nodePort" && service.healthCheckNodePort) list.push(`health :${service.healthCheckNodePort.port}`);
  if (frontend.resolutions.some((r) => r.uncertain)) list.push("uncertain (see where --verbose)");
  return list;
}

export interface ServicesTextOptions {
  palette?: Palette;
}

type Row = [string, string, string, string, string];

export function renderServicesText(map: ServiceMap, options: ServicesTextOptions = {}): string {
  const p = options.palette ?? plain;
  const rows: Row[] = [];
  /** The clients of the `from …` rows, said under the table only when there are such rows. */
  const otherClients = new Set<string>();
  for (const service of map.services) {
    const name = service.name.from === "chain" ? `${service.name.key} (no name in the rules)` : service.name.key;
    service.frontends.forEach((frontend, i) => {
      const first = frontend.resolutions[0];
      const destination = first ? resolutionText(service, first) : "";
      rows.push([i === 0 ? name : "", KIND_LABEL[frontend.kind], frontendLabel(frontend, map.family), destination, flags(service, frontend).join(", ")]);
      for (let r = 1; r < frontend.resolutions.length; r++) {
        const other = frontend.resolutions[r]!;
        const client = other.client === "pod" ? "pods" : other.client;
        otherClients.add(client);
        const masqueraded = other.endpoints.length > 0 && other.endpoints.every((e) => e.masquerade);
        rows.push(["", "", `  from ${client}`, resolutionText(service, other), other.endpoints.length > 0 ? (masqueraded ? "masqueraded" : "not masqueraded") : ""]);
      }
    });
  }
  const header: Row = ["SERVICE", "KIND", "FRONTEND", "ENDPOINTS (share of new connections)", "FLAGS"];
  const widths = header.map((h) => h.length);
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i]!, cell.length)));
  const line = (row: Row) => `${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2].padEnd(widths[2]!)}  ${row[3].padEnd(widths[3]!)}  ${row[4]}`.trimEnd();
  const lines = [p.bold(line(header)), ...rows.map(line)];
  const cidrs = map.clusterCidrs.length > 0 ? `cluster CIDR ${map.clusterCidrs.join(", ")}` : "no cluster CIDR in the rules";
  const generation = map.generation === "unknown" ? "kube-proxy rules" : `kube-proxy's ${map.generation} rule layout (${map.generation === "old" ? "KUBE-XLB" : "KUBE-EXT/SVL"})`;
  lines.unshift(p.dim(`${map.services.length} service port(s) · ${map.family === "ipv4" ? "IPv4" : "IPv6"} · ${generation} · ${cidrs}`));
  const otherRows = [...otherClients].map((client) => `'from ${client}': from ${client === "pods" ? "a pod" : `the ${client}`}`);
  lines.push(p.dim(["shares: new connections from a client off the cluster (inside the source ranges, if any)", ...otherRows].join("; ")));
  for (const note of map.notes) lines.push(p.yellow(`note: ${note.message}`));
  return lines.join("\n") + "\n";
}
