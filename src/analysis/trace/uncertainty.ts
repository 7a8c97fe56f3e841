// The prose for each reason a match cannot be decided from the dump, in one table.

import type { Uncertainty, UncertaintyKind } from "./types.js";

const messages: { [K in UncertaintyKind]: (subject: string) => string } = {
  "recent-list": (s) => `whether the client is in recent list ${s} (session affinity history) is not in the dump; --assume-no-affinity decides`,
  "ipset-contents": (s) => `the contents of ipset ${s} are not in the dump; pass --ipset-file with 'ipset save' output`,
  "ipset-unsupported": (s) => `ipset ${s}: this set type or option is not modelled`,
  "unknown-match": (s) => `match '${s}' is not modelled`,
  "unmodelled-option": (s) => `option ${s} is not modelled`,
  "unknown-target": (s) => `target '${s}' is not modelled; assumed to let the packet continue`,
  "in-interface-unknown": (s) => `the incoming interface is unknown (is it ${s}?); pass --in`,
  "out-interface-unknown": (s) => `the outgoing interface is unknown (is it ${s}?); pass --out or a route`,
  "address-unknown": (s) => `the address ${s} is not known`,
  "rate-limit": (s) => `rate limit ${s}: depends on recent traffic`,
  "nth-counter": (s) => `statistic nth ${s}: depends on the packet counter`,
  "mac-unknown": (s) => `the source MAC address is unknown (${s})`,
  "length-unknown": (s) => `the packet length is unknown (${s}); pass --length`,
  "ttl-unknown": (s) => `the TTL / hop limit is unknown (${s}); pass --ttl`,
  "owner-unknown": (s) => `the sending socket's owner is unknown (${s}); pass --uid/--gid`,
  "tcp-options-unknown": (s) => `the packet's TCP options are unknown (${s})`,
  "reverse-path": (s) => `reverse-path filtering (${s}) depends on the routing table`,
  "queue-verdict": (s) => `the packet is queued to user space (${s}); its fate is decided there`,
  "nat-range": (s) => `the kernel picks one address/port of ${s}; the first is shown`,
  "route-localnet": (s) =>
    `routing delivers a packet that came in on ${s} to 127.0.0.0/8 only if ${s} has route_localnet=1 (kube-proxy sets it for localhost NodePorts); the dump does not say`,
  "nat-port": (s) => `NAT picked the source port at random (${s}); whether the rule matches depends on which`,
  "inverted-port-pair": (s) =>
    `a rule with '${s}' (one port each) and a packet with one of the two ports equal: iptables-nft 1.8.8 to 1.8.10 compare both ports as one word, so the rule matches; legacy iptables and other versions ask each port, so it does not; the dump's header does not say which loaded it`,
  "established-nat": (s) => `NAT bindings of an established connection were made by its first packet (${s})`,
  "branch-limit": (s) => `too many branches (${s}); the rest of the walk was cut`,
};

export function uncertainty(kind: UncertaintyKind, subject: string, line: number): Uncertainty {
  return { kind, subject, line, message: messages[kind](subject) };
}
