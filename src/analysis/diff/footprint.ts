// The part of packet space a rule can match, on the fields that make rules disjoint in practice: protocol,
// addresses, interfaces and ports. Two rules whose footprints cannot overlap never both match one packet,
// so swapping them changes nothing. Every field is an over-approximation: unknown means "any".

import { addressToBigInt } from "../../model/addresses.js";
import type { AddressMask, MatchModule, PortRange, Rule } from "../../model/types.js";

export interface Network {
  address: bigint;
  mask: bigint;
  host: boolean;
}

export interface Footprint {
  protocol?: number;
  source?: Network;
  destination?: Network;
  /** As written: `eth0`, or `eth+` for every name starting with `eth`. */
  inInterface?: string;
  outInterface?: string;
  sourcePorts?: PortRange;
  destinationPorts?: PortRange;
}

const PORT_MATCHES: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

// Matches that change state when evaluated (token buckets, recent lists, nth counters, accounting): a rule
// whose ports are tested after one of them may have an effect even on packets its ports exclude.
const STATEFUL_MATCHES = new Set(["statistic", "recent", "limit", "hashlimit", "quota", "connlimit", "nfacct"]);

function network(value: AddressMask): Network | undefined {
  const address = addressToBigInt(value.address);
  const mask = addressToBigInt(value.mask);
  if (address === undefined || mask === undefined || mask === 0n) return undefined;
  return { address: address & mask, mask, host: value.prefix === (value.family === "ipv4" ? 32 : 128) };
}

function stateless(match: MatchModule): boolean {
  return match.known && !STATEFUL_MATCHES.has(match.name);
}

export function footprintOf(rule: Rule): Footprint {
  const footprint: Footprint = {};
  const protocol = rule.protocol && !rule.protocol.negated ? rule.protocol.value.number : undefined;
  if (protocol !== undefined && protocol !== 0) footprint.protocol = protocol;
  if (rule.source && !rule.source.negated) footprint.source = network(rule.source.value);
  if (rule.destination && !rule.destination.negated) footprint.destination = network(rule.destination.value);
  if (rule.inInterface && !rule.inInterface.negated && rule.inInterface.value !== "+") footprint.inInterface = rule.inInterface.value;
  if (rule.outInterface && !rule.outInterface.negated && rule.outInterface.value !== "+") footprint.outInterface = rule.outInterface.value;
  for (const match of rule.matches) {
    if (PORT_MATCHES[match.name] !== undefined && PORT_MATCHES[match.name] === footprint.protocol && match.known) {
      for (const option of match.options) {
        if (option.negated || option.value.kind !== "port-range") continue;
        if (option.name === "sport") footprint.sourcePorts = option.value.range;
        if (option.name === "dport") footprint.destinationPorts = option.value.range;
      }
    }
    if (!stateless(match)) break;
  }
  return footprint;
}

export function networksDisjoint(a: Network | undefined, b: Network | undefined): boolean {
  // Exact for any masks: the networks share an address iff they agree wherever both masks are set.
  return a !== undefined && b !== undefined && (a.address & b.mask) !== (b.address & a.mask);
}

function interfacesDisjoint(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const aPrefix = a.endsWith("+") ? a.slice(0, -1) : undefined;
  const bPrefix = b.endsWith("+") ? b.slice(0, -1) : undefined;
  if (aPrefix !== undefined && bPrefix !== undefined) return !aPrefix.startsWith(bPrefix) && !bPrefix.startsWith(aPrefix);
  if (aPrefix !== undefined) return !b.startsWith(aPrefix);
  if (bPrefix !== undefined) return !a.startsWith(bPrefix);
  return a !== b;
}

function rangesDisjoint(a: PortRange | undefined, b: PortRange | undefined): boolean {
  return a !== undefined && b !== undefined && (a.to < b.from || b.to < a.from);
}

/** True when no packet can match both footprints. */
export function footprintsDisjoint(a: Footprint, b: Footprint): boolean {
  if (a.protocol !== undefined && b.protocol !== undefined && a.protocol !== b.protocol) return true;
  return (
    networksDisjoint(a.source, b.source) ||
    networksDisjoint(a.destination, b.destination) ||
    interfacesDisjoint(a.inInterface, b.inInterface) ||
    interfacesDisjoint(a.outInterface, b.outInterface) ||
    // Ports are only set together with the protocol, so here both rules test the same protocol's ports.
    rangesDisjoint(a.sourcePorts, b.sourcePorts) ||
    rangesDisjoint(a.destinationPorts, b.destinationPorts)
  );
}

/**
 * The fields a footprint pins to a single value (its shape), and with the values it pins them to (its point). Rules
 * of one shape at different points are disjoint without further tests; only rules at the same point, or of other
 * shapes, need {@link footprintsDisjoint}. This keeps the check linear on chains like KUBE-SERVICES.
 */
export function shapeOf(footprint: Footprint): string {
  const single = (range: PortRange | undefined) => range !== undefined && range.from === range.to;
  return (
    (footprint.protocol !== undefined ? "p" : "") +
    (footprint.source?.host ? "s" : "") +
    (footprint.destination?.host ? "d" : "") +
    (footprint.inInterface !== undefined && !footprint.inInterface.endsWith("+") ? "i" : "") +
    (footprint.outInterface !== undefined && !footprint.outInterface.endsWith("+") ? "o" : "") +
    (single(footprint.sourcePorts) ? "S" : "") +
    (single(footprint.destinationPorts) ? "D" : "")
  );
}

/** The shape and the values it pins (every value by itself: interface names and numbers hold no space). */
export function pointOf(footprint: Footprint, shape: string): string {
  const { protocol, source, destination, inInterface, outInterface, sourcePorts, destinationPorts } = footprint;
  return [
    shape,
    shape.includes("p") ? protocol : "",
    shape.includes("s") ? source!.address.toString(16) : "",
    shape.includes("d") ? destination!.address.toString(16) : "",
    shape.includes("i") ? inInterface : "",
    shape.includes("o") ? outInterface : "",
    shape.includes("S") ? sourcePorts!.from : "",
    shape.includes("D") ? destinationPorts!.from : "",
  ].join(" ");
}
