// Small readings of one rule, in the terms kube-proxy's rules use.

import type { AddressMask, ExtensionOption, Family, Rule } from "../../model/types.js";
import { formatEndpoint } from "../ip.js";
import type { ServiceProtocol } from "./types.js";

// Asked of every rule the service map reads: the loops count by index (see structure.ts).
function option(rule: Rule, module: string, name: string): ExtensionOption | undefined {
  const matches = rule.matches;
  for (let i = 0; i < matches.length; i++) {
    if (matches[i]!.name !== module) continue;
    const options = matches[i]!.options;
    for (let j = 0; j < options.length; j++) if (options[j]!.name === name) return options[j];
  }
  return undefined;
}

export function hasComment(rule: Rule): boolean {
  const matches = rule.matches;
  for (let i = 0; i < matches.length; i++) if (matches[i]!.name === "comment") return true;
  return false;
}

export function protocolOf(rule: Rule): ServiceProtocol | undefined {
  const protocol = rule.protocol;
  if (!protocol || protocol.negated) return undefined;
  const name = protocol.value.name;
  return name === "tcp" || name === "udp" || name === "sctp" ? name : undefined;
}

/** The single destination port the rule matches (`--dport N` of tcp/udp/sctp). */
const PORT_MODULES = ["tcp", "udp", "sctp"] as const;

export function destinationPort(rule: Rule): number | undefined {
  for (let i = 0; i < PORT_MODULES.length; i++) {
    const dport = option(rule, PORT_MODULES[i], "dport");
    if (!dport || dport.negated) continue;
    if (dport.value.kind === "port-range" && dport.value.range.from === dport.value.range.to) return dport.value.range.from;
  }
  return undefined;
}

function isHost(mask: AddressMask): boolean {
  return mask.prefix === (mask.family === "ipv4" ? 32 : 128);
}

/** `-d ADDRESS` of one host, not negated. */
export function destinationHost(rule: Rule): string | undefined {
  const destination = rule.destination;
  return destination && !destination.negated && isHost(destination.value) ? destination.value.address : undefined;
}

export function cidrText(mask: AddressMask): string {
  return `${mask.address}/${mask.prefix ?? mask.mask}`;
}

/** `-s CIDR` (negated or not), as text. */
export function sourceNet(rule: Rule): { negated: boolean; cidr: string; host: boolean } | undefined {
  const source = rule.source;
  return source ? { negated: source.negated, cidr: cidrText(source.value), host: isHost(source.value) } : undefined;
}

/** `-m addrtype --src-type|--dst-type LOCAL`, not negated. */
export function addressTypeLocal(rule: Rule, which: "src-type" | "dst-type"): boolean {
  const found = option(rule, "addrtype", which);
  return found !== undefined && !found.negated && found.value.kind === "name-list" && found.value.names.includes("LOCAL");
}

/** `-m recent --rcheck --seconds N`: kube-proxy's session affinity check. */
export function affinitySeconds(rule: Rule): number | undefined {
  if (!option(rule, "recent", "rcheck")) return undefined;
  const seconds = option(rule, "recent", "seconds");
  return seconds?.value.kind === "number" ? seconds.value.value : undefined;
}

/** `-j DNAT --to-destination IP:PORT` as `ip`, `port` and kube-proxy's `ip:port` spelling. */
export function dnatDestination(rule: Rule, family: Family): { ip: string; port: number; address: string } | undefined {
  if (rule.target?.name !== "DNAT") return undefined;
  const to = rule.target.options.find((o) => o.name === "to-destination");
  if (to?.value.kind !== "nat-range") return undefined;
  const { fromAddress, fromPort } = to.value.range;
  if (fromAddress === undefined || fromPort === undefined) return undefined;
  return { ip: fromAddress, port: fromPort, address: formatEndpoint(fromAddress, fromPort, family) };
}

/** The bits a `-j MARK` rule sets: `--or-mark` as kube-proxy writes it, `--set-xmark` as iptables-save prints it. */
export function markValue(rule: Rule): number | undefined {
  if (rule.target?.name !== "MARK") return undefined;
  const set = rule.target.options.find((o) => o.name === "set-xmark" || o.name === "or-mark" || o.name === "set-mark");
  return set?.value.kind === "mark" ? set.value.value : undefined;
}
