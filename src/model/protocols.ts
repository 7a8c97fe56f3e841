// Protocol names as iptables 1.8.9 reads and prints them: `-p` is lowercased, looked up in
// /etc/protocols (Debian netbase here), and printed back with getprotobynumber's name.

import { readCNumber } from "./numbers.js";
import type { ProtocolSpec } from "./types.js";

const NETBASE: ReadonlyArray<[string, number]> = [
  ["icmp", 1], ["igmp", 2], ["ggp", 3], ["ipencap", 4], ["st", 5], ["tcp", 6], ["egp", 8], ["igp", 9], ["pup", 12],
  ["udp", 17], ["hmp", 20], ["xns-idp", 22], ["rdp", 27], ["iso-tp4", 29], ["dccp", 33], ["xtp", 36], ["ddp", 37],
  ["idpr-cmtp", 38], ["ipv6", 41], ["ipv6-route", 43], ["ipv6-frag", 44], ["idrp", 45], ["rsvp", 46], ["gre", 47],
  ["esp", 50], ["ah", 51], ["skip", 57], ["ipv6-icmp", 58], ["ipv6-nonxt", 59], ["ipv6-opts", 60], ["rspf", 73],
  ["vmtp", 81], ["eigrp", 88], ["ospf", 89], ["ax.25", 93], ["ipip", 94], ["etherip", 97], ["encap", 98], ["pim", 103],
  ["ipcomp", 108], ["vrrp", 112], ["l2tp", 115], ["isis", 124], ["sctp", 132], ["fc", 133], ["mobility-header", 135],
  ["udplite", 136], ["mpls-in-ip", 137], ["manet", 138], ["hip", 139], ["shim6", 140], ["wesp", 141], ["rohc", 142],
  ["ethernet", 143],
];

/** Names iptables knows without /etc/protocols (xtables_chain_protos), plus common aliases. */
const EXTRA_NAMES: Record<string, number> = { icmpv6: 58, ipv4: 4, "ipv6-mh": 135, mh: 135, all: 0, ip: 0 };

const byName = new Map<string, number>([...NETBASE, ...Object.entries(EXTRA_NAMES)]);
const byNumber = new Map<number, string>(NETBASE.map(([name, number]) => [number, name]));

const cache = new Map<string, ProtocolSpec | undefined>();

export function parseProtocol(text: string): ProtocolSpec | undefined {
  if (cache.has(text)) return cache.get(text);
  const spec = lookupProtocol(text);
  if (cache.size < 1000) cache.set(text, spec);
  return spec;
}

/** Frozen: rules share them. */
function lookupProtocol(text: string): ProtocolSpec | undefined {
  const lower = text.toLowerCase();
  const numeric = readCNumber(text);
  // xtables_parse_protocol: a C number up to 255 (`6`, `0x11`, `+6`), else a name.
  if (numeric !== undefined && numeric.end === text.length) {
    if (numeric.value > 255) return undefined;
    return Object.freeze({ name: byNumber.get(numeric.value) ?? String(numeric.value), number: numeric.value });
  }
  const number = byName.get(lower);
  if (number === undefined) return undefined;
  return Object.freeze({ name: number === 0 ? "all" : byNumber.get(number) ?? lower, number });
}

export function protocolNumber(spec: ProtocolSpec): number | undefined {
  return spec.number;
}
