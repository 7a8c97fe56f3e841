// Random single rules that mix protocols, matches, targets, tables and chains with no regard for
// validity: whether such a rule loads is the kernel's call (a match needing another -p, a target in
// a table or chain it is not allowed in, a value out of range, an option of the other family), and
// iptscope must make the same call. rulegen.ts makes only rules the kernel accepts; this makes both.

import { mulberry32 } from "./kubegen.js";

type Random = () => number;
type TableName = "filter" | "nat" | "mangle" | "raw";

const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Random, p: number) => r() < p;

const CHAINS: Record<TableName, readonly string[]> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  raw: ["PREROUTING", "OUTPUT"],
};

const PROTOCOLS = [
  "", "", "-p tcp", "-p tcp", "-p udp", "-p udp", "-p sctp", "-p dccp", "-p udplite", "-p icmp", "-p ipv6-icmp", "-p all",
  "! -p tcp", "! -p udp", "-p 6", "-p 17", "-p esp", "-p ah", "-p gre", "-p mh", "-p TCP",
];

/** Core options; ADDR4/ADDR6 become an address of the rule's family or the other one. */
const CORE = [
  "-s ADDR", "! -s ADDR", "-d ADDR", "! -d ADDR", "-s ADDR,ADDR", "-i eth0", "! -i eth+", "-o veth1", "-i lo", "-f", "! -f", "-s OTHER",
];

/** Matches, with values inside and outside what the extension takes. */
const MATCHES = [
  "--dport 80", "--sport 1000:2000", "--dport ssh", "--dport 0", "--dport 65536", "--syn", "! --syn", "--tcp-flags SYN,ACK SYN",
  "--tcp-flags ALL NONE", "--tcp-option 2", "-m tcp --dport 443", "-m tcp ! --sport 1", "-m udp --dport domain", "-m udp --dport ntp",
  "-m multiport --dports 80,443", "-m multiport --sports 1:100", "-m multiport --ports ssh", "-m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
  "-m multiport ! --dports 53", "--icmp-type 8", "--icmp-type echo-request", "--icmp-type 3/4", "-m icmp --icmp-type any",
  "--icmpv6-type 128", "-m icmp6 --icmpv6-type echo-request", "--chunk-types any INIT", "--dccp-types REQUEST,RESPONSE",
  "--espspi 100", "--ahspi 7", "--mh-type 5",
  "-m conntrack --ctstate NEW,ESTABLISHED", "-m conntrack ! --ctstate INVALID", "-m conntrack --ctproto udp --ctorigdstport 53",
  "-m conntrack --ctorigdstport 53", "-m conntrack --ctstatus ASSURED", "-m conntrack --ctorigsrc ADDR", "-m conntrack --ctdir REPLY",
  "-m state --state RELATED", "-m mark --mark 0x4000/0x4000", "-m mark ! --mark 7", "-m connmark --mark 1", "-m comment --comment \"a b\"",
  "-m statistic --mode random --probability 0.25", "-m statistic --mode nth --every 3 --packet 1", "-m statistic --mode nth --every 3 --packet 3",
  "-m statistic --mode random --probability 1.5", "-m addrtype --dst-type LOCAL", "-m addrtype --src-type LOCAL --limit-iface-in",
  "-m addrtype --dst-type LOCAL --limit-iface-out", "-m addrtype --dst-type BOGUS", "-m limit --limit 5/sec", "-m limit --limit 3/minute --limit-burst 7",
  "-m limit --limit 0/sec", "-m pkttype --pkt-type multicast", "-m length --length 100:200", "-m length --length 70000",
  "-m ttl --ttl-gt 3", "-m hl --hl-lt 5", "-m iprange --src-range ADDR-ADDR", "-m mac --mac-source 00:11:22:33:44:55",
  "-m physdev --physdev-in eth0", "-m physdev --physdev-is-bridged", "-m owner --uid-owner 0", "-m recent --name x --rcheck --seconds 60",
  "-m recent --set", "-m set --match-set s src", "-m rpfilter", "-m rpfilter --invert", "-m sctp --dport 5", "-m dccp --sport 7",
  // Numbers as each extension's parser reads them: C numbers (tcp, sctp, multiport), getaddrinfo (udp, dccp, conntrack).
  "--dport 0x50", "--sport 010", "--dport +80", "--dport 080", "--dport 70000", "--sport 5:3", "--dport 1:65536", "--dport 70000:",
  "--dport 1:2:3", "-m multiport --dports 5:5", "-m multiport --dports 0x10:0x20,+7", "-m multiport --sports 5:",
  "-m conntrack --ctorigdstport 70000", "-m conntrack --ctreplsrcport 9:3", "-m conntrack --ctorigsrcport 0x10",
  // Names and numbers as the parsers read them: ICMP names by any prefix and case, C numbers, reversed ranges.
  "--icmp-type echo-req", "--icmp-type ECHO-REPLY", "--icmp-type echo", "--icmp-type 0x3/+1", "--icmp-type 255/3", "--icmp-type an",
  "--icmpv6-type no-r", "--icmpv6-type 0x80", "--icmpv6-type any", "-m length --length 5:3", "-m length --length 0X10:",
  "-m conntrack --ctexpire +5:3", "--espspi 9:3", "-m ttl --ttl-eq +3", "-m recent --rcheck --seconds 0", "-m recent --update --remove",
  "-m mark --mark 010/0x7", "-m statistic --mode random --probability 0.5 --every 2", "-m ttl --ttl-eq 1 --ttl-lt 3",
  "-m limit --limit 5abc/S", "-m limit --limit 1/se", "-m limit --limit 1/minutes", "-m limit --limit 20000/s", "-m limit --limit 7/h --limit-burst 0x10",
  "-m recent --rcheck --reap", "-m recent --set --seconds 5", "-m recent --remove --rttl", "-m recent --update --reap --seconds 5 --hitcount 3",
  // Addresses as each parser reads them: -s/-d and iprange (C-number octets, missing ones zero), conntrack and recent
  // (inet_aton), NAT targets (inet_pton); interfaces iptables only warns about.
  "-s 010.0.0.1", "-d 10.1/0x10", "-s 167772161", "! -d 10.65535", "-s 10.0.0.1/08", "-m conntrack --ctorigsrc 010.1", "-m conntrack --ctrepldst +10.0.0.1",
  "-m iprange --src-range 010.0.0.1-10.1", "-m iprange --dst-range 167772161-10.0.0.9", "-m recent --rcheck --mask 255.255", "-i eth/0", "-o \"a b\"",
  "-m physdev --physdev-in eth/0", "-p 0x11", "-p +6 --dport 5", "-s FD00::1/064", "-d fd00::1/ffff:0:ffff::", "-s 10.0.0.1,10.0.0.2 ! -d 10.0.0.3",
];

/** Targets; some only work in some tables, chains, protocols or families. */
const TARGETS = [
  "-j ACCEPT", "-j DROP", "-j RETURN", "-j REJECT", "-j REJECT --reject-with tcp-reset", "-j REJECT --reject-with icmp-host-prohibited",
  "-j REJECT --reject-with icmp6-adm-prohibited", "-j LOG --log-prefix \"x: \" --log-level 4", "-j NFLOG --nflog-group 3",
  "-j MARK --set-xmark 0x1/0xffffffff", "-j MARK --or-mark 0x4000", "-j CONNMARK --save-mark", "-j DNAT --to-destination HOST:8080",
  "-j DNAT --to-destination ADDR", "-j SNAT --to-source ADDR", "-j MASQUERADE", "-j MASQUERADE --to-ports 1024-2048", "-j MASQUERADE --random-fully",
  "-j REDIRECT --to-ports 3128", "-j DNAT --to-destination HOST:010-0x60", "-j DNAT --to-destination HOST:80-90/85", "-j DNAT --to-destination HOST:http",
  "-j SNAT --to-source HOST:+100-90", "-j REDIRECT --to-ports 0x50", "-j REDIRECT --to-ports 80-http", "-j REDIRECT --to-ports 70000",
  "-j NFQUEUE --queue-balance 5:5", "-j NFQUEUE --queue-balance 1:4", "-j NFQUEUE --queue-balance 1:4 --queue-num 2", "-j MARK --set-mark 1 --or-mark 2",
  "-j CONNMARK --save-mark --restore-mark", "-j TCPMSS --clamp-mss-to-pmtu --set-mss 1400", "-j TRACE", "-j TTL --ttl-set 1 --ttl-inc 2",
  "-j LOG --log-level 0x7", "-j LOG --log-level err", "-j LOG --log-level panic", "-j LOG --log-level Info",
  "-j CLASSIFY --set-class 12345678:1x", "-j CLASSIFY --set-class -1:0x2", "-j CLASSIFY --set-class 1:", "-j TOS --set-tos MINIMIZE-COST",
  "-j DNAT --to-destination 010.0.0.1", "-j SNAT --to-source 10.1", "-j DNAT --to-destination 10.0.0.1-10.0.0.9", "-j DNAT --to-destination :8080-8090", "-j CT --notrack", "-j CT --zone 3", "-j NOTRACK", "-j TCPMSS --clamp-mss-to-pmtu", "-j TCPMSS --set-mss 1400",
  "-j TPROXY --on-port 8080 --tproxy-mark 0x1", "-j CHECKSUM --checksum-fill", "-j NFQUEUE --queue-num 2", "-j TTL --ttl-set 9", "-j HL --hl-dec 1",
  "-j DSCP --set-dscp 10", "-j TOS --set-tos 0x10", "-j CLASSIFY --set-class 1:2", "",
];

export interface AcceptCase {
  family: "ipv4" | "ipv6";
  table: TableName;
  chain: string;
  rule: string;
  text: string;
}

function address(r: Random, family: "ipv4" | "ipv6"): string {
  const host = Math.floor(r() * 250) + 1;
  return family === "ipv4" ? pick(r, [`10.1.2.${host}`, `192.168.${host}.0/24`, `172.16.0.${host}/32`]) : pick(r, [`fd00::${host.toString(16)}`, `2001:db8::/64`]);
}

function withAddresses(r: Random, text: string, family: "ipv4" | "ipv6"): string {
  const other = family === "ipv4" ? "ipv6" : "ipv4";
  const host = () => address(r, family).replace(/\/\d+$/, "");
  return text.replace(/OTHER/g, () => address(r, other)).replace(/HOST/g, () => (family === "ipv4" ? host() : `[${host()}]`)).replace(/ADDR/g, () => {
    const value = address(r, family);
    // A NAT target or range takes a host, `[addr]` around IPv6 before a port.
    return value.replace(/\/\d+$/, "");
  });
}

/** Where a target loads, so that half the cases put it there and the others anywhere. */
const HOME: [RegExp, TableName, readonly string[]][] = [
  [/^-j (DNAT|REDIRECT)/, "nat", ["PREROUTING", "OUTPUT"]],
  [/^-j (SNAT|MASQUERADE)/, "nat", ["POSTROUTING"]],
  [/^-j (TPROXY|CHECKSUM|DSCP|TOS|TTL|HL|TCPMSS|CLASSIFY)/, "mangle", ["PREROUTING", "FORWARD", "POSTROUTING"]],
  [/^-j (CT|NOTRACK)/, "raw", ["PREROUTING", "OUTPUT"]],
  [/^-j REJECT/, "filter", ["INPUT", "FORWARD", "OUTPUT"]],
];

const LONG_CORE: Record<string, readonly string[]> = {
  "-s": ["--source", "--src"], "-d": ["--destination", "--dst"], "-i": ["--in-interface"], "-o": ["--out-interface"],
  "-p": ["--protocol"], "-m": ["--match"], "-j": ["--jump"], "-g": ["--goto"], "-f": ["--fragments"],
};

/**
 * The rule's options as people write them to iptables-restore and getopt_long reads them: long names for core
 * options, abbreviations (unique, ambiguous or none), a value after `=`, quoted option words.
 */
function respell(r: Random, rule: string): string {
  const words = rule.match(/"[^"]*"|\S+/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    let word = words[i]!;
    const next = words[i + 1];
    if (LONG_CORE[word] && next !== undefined && !next.startsWith("-") && !next.startsWith('"') && chance(r, 0.2)) {
      // getopt takes `-ptcp` as `-p` with `tcp`, but iptables reads some options' value from the whole word.
      out.push(`${word}${next}`);
      i++;
      continue;
    }
    if (LONG_CORE[word] && chance(r, 0.5)) word = pick(r, LONG_CORE[word]!);
    if (!word.startsWith("--") || !chance(r, 0.4)) {
      out.push(word);
      continue;
    }
    switch (pick(r, ["abbreviate", "abbreviate", "equals", "quote"] as const)) {
      case "abbreviate": {
        const abbreviated = word.slice(0, 3 + Math.floor(r() * (word.length - 3)));
        // --help and --version make iptables-restore print and stop, loading nothing: no verdict to compare.
        if (!"--help".startsWith(abbreviated) && !"--version".startsWith(abbreviated)) word = abbreviated;
        break;
      }
      case "equals":
        if (next !== undefined && !next.startsWith("-") && next !== "!") {
          word = `${word}=${next}`;
          i++;
        }
        break;
      case "quote":
        word = `"${word}"`;
        break;
    }
    out.push(word);
  }
  return out.join(" ");
}

/** One rule, alone in its table, as iptables-restore input. */
export function generateAcceptCase(seed: number, family: "ipv4" | "ipv6"): AcceptCase {
  const r = mulberry32(seed);
  const target = pick(r, TARGETS);
  const home = chance(r, 0.5) ? HOME.find(([pattern]) => pattern.test(target)) : undefined;
  const table = home?.[1] ?? pick(r, ["filter", "filter", "nat", "mangle", "raw"] as const);
  const chain = pick(r, home?.[2] ?? CHAINS[table]);
  const parts: string[] = [];
  const protocol = pick(r, PROTOCOLS);
  if (protocol) parts.push(protocol);
  if (chance(r, 0.4)) parts.push(pick(r, CORE));
  const matches = pick(r, [0, 1, 1, 2]);
  for (let i = 0; i < matches; i++) parts.push(pick(r, MATCHES));
  if (target) parts.push(target);
  const written = withAddresses(r, parts.join(" "), family);
  const rule = chance(r, 0.2) ? respell(r, written) : written;
  const text = `*${table}\n:${chain} ACCEPT [0:0]\n-A ${chain} ${rule}\nCOMMIT\n`;
  return { family, table, chain, rule, text };
}
