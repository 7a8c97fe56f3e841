// Random iptables-restore input built from the modules iptscope models, in restore spelling
// (aliases, names, short forms, any option order), for proving the canonical printer against
// the kernel. Every rule is one the kernel accepts in the chain it is put in.

import { mulberry32 } from "./kubegen.js";

export type Random = () => number;

const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: Random, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: Random, p: number) => r() < p;
const maybeBang = (r: Random, p = 0.2) => (chance(r, p) ? "! " : "");

function ipv4(r: Random): string {
  return `${int(r, 1, 223)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 0, 255)}`;
}

function ipv6(r: Random): string {
  const words = Array.from({ length: 8 }, () => (chance(r, 0.4) ? 0 : int(r, 0, 0xffff)));
  if (chance(r, 0.1)) return `::ffff:${ipv4(r)}`;
  if (chance(r, 0.1)) return `2001:db8::${int(r, 1, 0xffff).toString(16)}`;
  return words.map((w) => (chance(r, 0.2) ? w.toString(16).toUpperCase() : w.toString(16))).join(":");
}

/** nft refuses a negated match-everything address (`! -s 0.0.0.0/0`), so negated ones get a real prefix. */
function addressMask(r: Random, family: 4 | 6, negated = false): string {
  const address = family === 4 ? ipv4(r) : ipv6(r);
  const roll = r();
  if (roll < 0.3) return address;
  if (family === 4 && roll < 0.4) return `${address}/255.${int(r, 0, 255)}.0.255`;
  return `${address}/${int(r, negated ? 1 : 0, family === 4 ? 32 : 128)}`;
}

function addressOption(r: Random, family: 4 | 6, spellings: readonly string[]): string {
  const bang = maybeBang(r);
  return `${bang}${pick(r, spellings)} ${addressMask(r, family, bang !== "")}`;
}

function port(r: Random): string {
  const roll = r();
  if (roll < 0.6) return String(int(r, 1, 65535));
  if (roll < 0.7) return `:${int(r, 1, 2000)}`;
  if (roll < 0.8) return `${int(r, 1, 60000)}:`;
  if (roll < 0.85) return pick(r, ["http", "https", "ssh", "domain"]);
  const a = int(r, 1, 60000);
  return `${a}:${a + int(r, 0, 5000)}`;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const mark = (r: Random) => (chance(r, 0.5) ? hex(int(r, 0, 0xffff) << int(r, 0, 12)) : String(int(r, 0, 100000)));

interface Ctx {
  r: Random;
  family: 4 | 6;
  table: "filter" | "nat" | "mangle" | "raw";
  chain: string;
  protocol?: "tcp" | "udp" | "icmp" | "ipv6-icmp" | "sctp" | "dccp" | "esp" | "ah" | "mh";
  usedTcpOptions?: boolean;
}

type MatchGen = (c: Ctx) => string | undefined;

const matchGens: Record<string, MatchGen> = {
  // The other matches -p loads: SPIs (hex read, decimal printed), mobility header types by name, chunk and DCCP types.
  protocolExtras: (c) => {
    const range = (max: number) => (chance(c.r, 0.5) ? String(int(c.r, 0, max)) : `${hex(int(c.r, 0, 99))}:${int(c.r, 100, max)}`);
    switch (c.protocol) {
      case "esp":
        return `${maybeBang(c.r)}--espspi ${range(0xffff)}`;
      case "ah":
        return `${maybeBang(c.r)}--ahspi ${range(0xffff)}${c.family === 6 && chance(c.r, 0.5) ? ` ${maybeBang(c.r)}--ahlen ${int(c.r, 0, 9)}` : ""}${c.family === 6 && chance(c.r, 0.3) ? " --ahres" : ""}`;
      case "mh":
        return `${maybeBang(c.r)}--mh-type ${pick(c.r, ["binding-update", "bu:be", "3", "hoti", "1:careof-test"])}`;
      case "sctp":
        return `${maybeBang(c.r)}--chunk-types ${pick(c.r, ["any", "ALL", "only"])} ${pick(c.r, ["DATA", "INIT,INIT_ACK", "DATA:Be", "ABORT:T"])}`;
      case "dccp":
        return chance(c.r, 0.5) ? `${maybeBang(c.r)}--dccp-types ${pick(c.r, ["REQUEST", "ack,data", "RESET,SYNC,INVALID"])}` : `${maybeBang(c.r)}--dccp-option ${int(c.r, 0, 255)}`;
      default:
        return undefined;
    }
  },
  ports: (c) => {
    if (c.protocol !== "tcp" && c.protocol !== "udp" && c.protocol !== "sctp" && c.protocol !== "dccp") return undefined;
    const parts: string[] = [];
    // libxt_sctp looks names up as sctp services, and netbase names none of these.
    const ported = () => (c.protocol === "sctp" ? port(c.r).replace(/^[a-z]+$/, "5672") : port(c.r));
    if (chance(c.r, 0.5)) parts.push(`${maybeBang(c.r)}${pick(c.r, ["--sport", "--source-port"])} ${ported()}`);
    if (chance(c.r, 0.7)) parts.push(`${maybeBang(c.r)}${pick(c.r, ["--dport", "--destination-port"])} ${ported()}`);
    if (c.protocol === "tcp" && chance(c.r, 0.3)) {
      parts.push(
        chance(c.r, 0.5)
          ? `${maybeBang(c.r)}--syn`
          : `${maybeBang(c.r)}--tcp-flags ${pick(c.r, ["ALL", "SYN,ACK", "FIN,SYN,RST,ACK"])} ${pick(c.r, ["NONE", "SYN", "ACK,SYN", "ALL"])}`,
      );
    }
    if (parts.length === 0) return undefined;
    return (chance(c.r, 0.5) ? `-m ${c.protocol} ` : "") + parts.join(" ");
  },
  icmp: (c) => {
    if (c.protocol === "icmp") {
      return `-m icmp ${maybeBang(c.r)}--icmp-type ${pick(c.r, ["echo-request", "8", "3/4", "any", "port-unreachable", "time-exceeded", "0"])}`;
    }
    if (c.protocol === "ipv6-icmp") {
      return `-m icmp6 ${maybeBang(c.r)}--icmpv6-type ${pick(c.r, ["echo-request", "135", "1/3", "neighbour-advertisement", "packet-too-big"])}`;
    }
    return undefined;
  },
  multiport: (c) => {
    if (c.protocol !== "tcp" && c.protocol !== "udp") return undefined;
    const list = Array.from({ length: int(c.r, 1, 5) }, () => (chance(c.r, 0.2) ? `${int(c.r, 1, 1000)}:${int(c.r, 1001, 2000)}` : String(int(c.r, 1, 65535))));
    return `-m multiport ${maybeBang(c.r)}${pick(c.r, ["--dports", "--sports", "--ports", "--destination-ports"])} ${list.join(",")}`;
  },
  conntrack: (c) => {
    const states = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED", "SNAT", "DNAT"];
    const parts = [`${maybeBang(c.r)}--ctstate ${Array.from({ length: int(c.r, 1, 3) }, () => pick(c.r, states)).join(",")}`];
    if (chance(c.r, 0.3)) parts.push(`--ctproto ${pick(c.r, ["tcp", "udp", "6", "17"])}`);
    if (chance(c.r, 0.3)) parts.push(addressOption(c.r, c.family, ["--ctorigsrc"]));
    if (chance(c.r, 0.2)) parts.push(`--ctorigdst ${addressMask(c.r, c.family)}`);
    if (chance(c.r, 0.2)) parts.push(`--ctstatus ${pick(c.r, ["ASSURED", "SEEN_REPLY,ASSURED", "CONFIRMED", "EXPECTED"])}`);
    if (chance(c.r, 0.2)) parts.push(`--ctorigdstport ${int(c.r, 1, 65535)}`);
    if (chance(c.r, 0.2)) parts.push(`--ctdir ${pick(c.r, ["ORIGINAL", "REPLY"])}`);
    if (chance(c.r, 0.1)) parts.push(`--ctexpire ${int(c.r, 1, 100)}:${int(c.r, 101, 500)}`);
    return `-m conntrack ${shuffle(c.r, parts).join(" ")}`;
  },
  state: (c) => `-m state ${maybeBang(c.r)}--state ${pick(c.r, ["ESTABLISHED,RELATED", "NEW", "INVALID", "RELATED,NEW,ESTABLISHED"])}`,
  mark: (c) => `-m mark ${maybeBang(c.r)}--mark ${mark(c.r)}${chance(c.r, 0.5) ? "/" + mark(c.r) : ""}`,
  connmark: (c) => `-m connmark ${maybeBang(c.r)}--mark ${mark(c.r)}${chance(c.r, 0.5) ? "/" + hex(int(c.r, 1, 0xffff)) : ""}`,
  comment: (c) => `-m comment --comment ${pick(c.r, ['"ns/svc:port cluster IP"', "simple", '"with \\"quotes\\" and \\\\"', "'single'", '"tab\tand spaces"', '"ünïcødé ✓"', '""', "kube-dns"])}`,
  statistic: (c) =>
    chance(c.r, 0.7)
      ? `-m statistic --mode random ${maybeBang(c.r, 0.1)}--probability ${pick(c.r, ["0.5", "0.3333333333", "0.25000", "0.1", "0.99999", String(c.r().toFixed(int(c.r, 1, 10)))])}`
      : `-m statistic --mode nth ${maybeBang(c.r, 0.1)}--every ${int(c.r, 2, 10)} --packet ${chance(c.r, 0.5) ? 0 : 1}`,
  recent: (c) => {
    const command = pick(c.r, ["--set", "--rcheck", "--update", "--remove"]);
    const parts = [`${command === "--set" ? "" : maybeBang(c.r, 0.1)}${command}`];
    if (command !== "--set" && command !== "--remove" && chance(c.r, 0.6)) parts.push(`--seconds ${int(c.r, 1, 20000)}`);
    if (parts.length > 1 && chance(c.r, 0.3)) parts.push("--reap");
    if (chance(c.r, 0.7)) parts.push(`--name ${pick(c.r, ["KUBE-SEP-ABCDEFGHIJKLMNOP", "ssh", "x"])}`);
    if (chance(c.r, 0.3)) parts.push(pick(c.r, ["--rsource", "--rdest"]));
    return `-m recent ${parts.join(" ")}`;
  },
  addrtype: (c) => {
    // The kernel refuses BROADCAST and BLACKHOLE for IPv6.
    const types = c.family === 4 ? ["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE"] : ["LOCAL", "UNICAST", "MULTICAST", "UNREACHABLE"];
    const parts: string[] = [];
    if (chance(c.r, 0.5)) parts.push(`${maybeBang(c.r)}--src-type ${pick(c.r, types)}`);
    if (parts.length === 0 || chance(c.r, 0.5)) parts.push(`${maybeBang(c.r)}--dst-type ${pick(c.r, types)}${chance(c.r, 0.2) ? ",LOCAL" : ""}`);
    return `-m addrtype ${parts.join(" ")}`;
  },
  iprange: (c) => {
    const a = c.family === 4 ? `10.0.${int(c.r, 0, 9)}.1` : `2001:db8::${int(c.r, 1, 9)}`;
    const b = c.family === 4 ? `10.0.${int(c.r, 10, 20)}.200` : `2001:db8::${int(c.r, 10, 99)}`;
    return `-m iprange ${maybeBang(c.r)}${pick(c.r, ["--src-range", "--dst-range"])} ${a}-${b}`;
  },
  length: (c) => `-m length ${maybeBang(c.r)}--length ${chance(c.r, 0.5) ? int(c.r, 0, 1500) : `${int(c.r, 0, 100)}:${int(c.r, 101, 65535)}`}`,
  limit: (c) =>
    `-m limit --limit ${int(c.r, 1, 100)}/${pick(c.r, ["sec", "second", "min", "minute", "hour", "day", "s"])}${chance(c.r, 0.5) ? ` --limit-burst ${int(c.r, 1, 20)}` : ""}`,
  pkttype: (c) => `-m pkttype ${maybeBang(c.r)}--pkt-type ${pick(c.r, ["unicast", "broadcast", "multicast"])}`,
  ttl: (c) => (c.family === 4 ? `-m ttl ${pick(c.r, ["--ttl-eq", "! --ttl-eq", "--ttl-lt", "--ttl-gt"])} ${int(c.r, 0, 255)}` : `-m hl ${pick(c.r, ["--hl-eq", "! --hl-eq", "--hl-lt", "--hl-gt"])} ${int(c.r, 0, 255)}`),
  mac: (c) => (c.chain === "OUTPUT" || c.chain === "POSTROUTING" ? undefined : `-m mac ${maybeBang(c.r)}--mac-source ${Array.from({ length: 6 }, () => int(c.r, 0, 255).toString(16)).join(":")}`),
  owner: (c) => (c.chain === "OUTPUT" ? `-m owner ${maybeBang(c.r)}--uid-owner ${chance(c.r, 0.5) ? int(c.r, 0, 2000) : `${int(c.r, 0, 100)}-${int(c.r, 101, 2000)}`}` : undefined),
};

function shuffle<T>(r: Random, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

type TargetGen = (c: Ctx) => string | undefined;

const natPorts = (c: Ctx) => (c.protocol === "tcp" || c.protocol === "udp");

const targetGens: Record<string, TargetGen> = {
  verdict: (c) => `-j ${pick(c.r, c.table === "nat" ? ["ACCEPT", "RETURN"] : ["ACCEPT", "DROP", "RETURN"])}`,
  REJECT: (c) => {
    if (c.table !== "filter") return undefined;
    const v4 = ["icmp-port-unreachable", "port-unreach", "icmp-host-prohibited", "tcp-reset", "icmp-admin-prohibited", "net-unreach"];
    const v6 = ["icmp6-port-unreachable", "port-unreach", "icmp6-adm-prohibited", "no-route", "tcp-reset"];
    let type = pick(c.r, c.family === 4 ? v4 : v6);
    if (type === "tcp-reset" && c.protocol !== "tcp") type = c.family === 4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
    return chance(c.r, 0.3) ? "-j REJECT" : `-j REJECT --reject-with ${type}`;
  },
  DNAT: (c) => {
    if (c.table !== "nat" || (c.chain !== "PREROUTING" && c.chain !== "OUTPUT")) return undefined;
    const address = c.family === 4 ? ipv4(c.r) : `2001:db8::${int(c.r, 1, 0xffff).toString(16)}`;
    if (!natPorts(c)) return `-j DNAT ${pick(c.r, ["--to-destination", "--to"])} ${address}`;
    const p = int(c.r, 1, 60000);
    const value = c.family === 4
      ? pick(c.r, [`${address}:${p}`, `${address}`, `${address}-${ipv4(c.r).replace(/^\d+/, "224")}`, `${address}:${p}-${p + 10}`])
      : pick(c.r, [`[${address}]:${p}`, address]);
    const fixed = value.includes("-224.") ? `${address}` : value;
    return `-j DNAT --to-destination ${fixed}${chance(c.r, 0.2) ? " --random" : ""}`;
  },
  SNAT: (c) => {
    if (c.table !== "nat" || c.chain !== "POSTROUTING") return undefined;
    const address = c.family === 4 ? ipv4(c.r) : `2001:db8::${int(c.r, 1, 0xffff).toString(16)}`;
    return `-j SNAT --to-source ${address}${natPorts(c) && c.family === 4 && chance(c.r, 0.5) ? `:${int(c.r, 1024, 2000)}-${int(c.r, 2001, 3000)}` : ""}${chance(c.r, 0.3) ? " --random-fully" : ""}`;
  },
  MASQUERADE: (c) => {
    if (c.table !== "nat" || c.chain !== "POSTROUTING") return undefined;
    const ports = natPorts(c) && chance(c.r, 0.4) ? ` --to-ports ${int(c.r, 1024, 2000)}${chance(c.r, 0.5) ? `-${int(c.r, 2001, 3000)}` : ""}` : "";
    return `-j MASQUERADE${ports}${chance(c.r, 0.3) ? pick(c.r, [" --random", " --random-fully"]) : ""}`;
  },
  REDIRECT: (c) => {
    if (c.table !== "nat" || (c.chain !== "PREROUTING" && c.chain !== "OUTPUT") || !natPorts(c)) return undefined;
    return `-j REDIRECT --to-ports ${int(c.r, 1, 65535)}`;
  },
  MARK: (c) => {
    if (c.table !== "mangle" && c.table !== "nat" && c.table !== "raw") return undefined;
    return `-j MARK ${pick(c.r, ["--set-mark", "--set-xmark", "--or-mark", "--and-mark", "--xor-mark"])} ${mark(c.r)}`;
  },
  MARKmask: (c) => (c.table === "mangle" ? `-j MARK ${pick(c.r, ["--set-mark", "--set-xmark"])} ${mark(c.r)}/${hex(int(c.r, 1, 0xffff))}` : undefined),
  CONNMARK: (c) => {
    if (c.table !== "mangle") return undefined;
    return pick(c.r, [
      `-j CONNMARK --set-mark ${mark(c.r)}`,
      `-j CONNMARK --save-mark`,
      `-j CONNMARK --restore-mark --mask ${hex(int(c.r, 1, 0xffff))}`,
      `-j CONNMARK --save-mark --nfmask ${hex(int(c.r, 1, 0xffff))} --ctmask ${hex(int(c.r, 1, 0xffff))}`,
      `-j CONNMARK --or-mark ${mark(c.r)}`,
    ]);
  },
  LOG: (c) => `-j LOG${chance(c.r, 0.6) ? ` --log-prefix ${pick(c.r, ['"DROP: "', "x", '"a \\"q\\""'])}` : ""}${chance(c.r, 0.5) ? ` --log-level ${pick(c.r, ["4", "debug", "info", "warning", "7", "crit"])}` : ""}${chance(c.r, 0.2) ? " --log-uid" : ""}${chance(c.r, 0.2) ? " --log-tcp-options" : ""}`,
  NFLOG: (c) => `-j NFLOG${chance(c.r, 0.5) ? ` --nflog-prefix ${pick(c.r, ['"kube "', "drop"])}` : ""}${chance(c.r, 0.5) ? ` --nflog-group ${int(c.r, 0, 10)}` : ""}${chance(c.r, 0.3) ? ` --nflog-threshold ${int(c.r, 1, 5)}` : ""}`,
  NFQUEUE: (c) => (c.table === "nat" ? undefined : pick(c.r, ["-j NFQUEUE", `-j NFQUEUE --queue-num ${int(c.r, 0, 100)}`, `-j NFQUEUE --queue-balance 2:${int(c.r, 3, 9)}`, "-j NFQUEUE --queue-num 3 --queue-bypass"])),
  // The kernel wants a SYN match in the same rule, and clamping only after routing.
  TCPMSS: (c) =>
    c.table === "mangle" && c.protocol === "tcp" && !c.usedTcpOptions && ["FORWARD", "OUTPUT", "POSTROUTING"].includes(c.chain)
      ? `-m tcp --tcp-flags SYN,RST SYN -j TCPMSS ${chance(c.r, 0.5) ? "--clamp-mss-to-pmtu" : `--set-mss ${int(c.r, 500, 1460)}`}`
      : undefined,
  CT: (c) => (c.table === "raw" ? pick(c.r, ["-j CT --notrack", `-j CT --zone ${int(c.r, 1, 100)}`, "-j NOTRACK", "-j TRACE"]) : undefined),
  CHECKSUM: (c) => (c.table === "mangle" && c.protocol === "udp" ? "-j CHECKSUM --checksum-fill" : undefined),
  goto: (c) => `-g ${pick(c.r, ["USER-A", "USER-B"])}`,
  jump: (c) => `-j ${pick(c.r, ["USER-A", "USER-B"])}`,
  none: () => "",
};

const CHAINS: Record<Ctx["table"], string[]> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "OUTPUT", "POSTROUTING", "INPUT"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  raw: ["PREROUTING", "OUTPUT"],
};

function rule(r: Random, family: 4 | 6, table: Ctx["table"], chain: string): string {
  const c: Ctx = { r, family, table, chain };
  const parts: string[] = [];
  if (chance(r, 0.4)) parts.push(addressOption(r, family, ["-s", "--source", "--src"]));
  if (chance(r, 0.4)) parts.push(addressOption(r, family, ["-d", "--destination"]));
  const user = chain.startsWith("USER");
  if (chance(r, 0.3) && !user && chain !== "OUTPUT" && chain !== "POSTROUTING") parts.push(`${maybeBang(r)}-i ${pick(r, ["eth0", "eth+", "cni0", "veth.1", "br-abc_1"])}`);
  if (chance(r, 0.3) && !user && chain !== "PREROUTING" && chain !== "INPUT") parts.push(`${maybeBang(r)}-o ${pick(r, ["eth1", "docker0", "flannel.1", "lxc+"])}`);
  if (chance(r, 0.7)) {
    const others = family === 4 ? (["sctp", "dccp", "esp", "ah"] as const) : (["sctp", "dccp", "esp", "ah", "mh"] as const);
    c.protocol = chance(r, 0.15) ? pick(r, others) : pick(r, family === 4 ? (["tcp", "udp", "icmp"] as const) : (["tcp", "udp", "ipv6-icmp"] as const));
    const spellings: Partial<Record<NonNullable<Ctx["protocol"]>, string[]>> = {
      tcp: ["tcp", "TCP", "6"], "ipv6-icmp": ["ipv6-icmp", "icmpv6", "58"], sctp: ["sctp", "132"], dccp: ["dccp", "33"], esp: ["esp", "50"], ah: ["ah", "AH"],
    };
    const spelled = pick(r, spellings[c.protocol] ?? [c.protocol]);
    parts.push(`-p ${spelled}`);
  }
  if (family === 4 && chance(r, 0.03)) parts.push(`${maybeBang(r, 0.5)}-f`);
  const count = int(r, 0, 3);
  const used = new Set<string>();
  let marks = 0;
  for (let i = 0; i < count; i++) {
    const name = pick(r, Object.keys(matchGens));
    // After -m multiport, getopt would read --sport as an abbreviation of --source-ports.
    if (name === "ports" && used.has("multiport")) continue;
    if (name === "multiport" && used.has("ports")) continue;
    if (used.has(name) && name !== "comment" && name !== "mark") continue;
    // A second -m mark merges no options: after a connmark (in any order, the parts are shuffled) its --mark would be connmark's.
    if (name === "mark" && used.has("connmark") && used.has("mark")) continue;
    if (name === "connmark" && marks > 1) continue;
    if (name === "mark") marks++;
    const generated = matchGens[name]!(c);
    if (generated) {
      if (name === "ports") c.usedTcpOptions = true;
      used.add(name);
      parts.push(generated);
    }
  }
  let target: string | undefined;
  for (let tries = 0; target === undefined && tries < 10; tries++) target = targetGens[pick(r, Object.keys(targetGens))]!(c);
  // Shuffled, but -p stays first: iptables loads a protocol's implicit match only once it
  // has seen -p, so a port option before it is an error (a case the diagnostics tests cover).
  let ordered = parts;
  if (chance(r, 0.3)) {
    const protocol = parts.filter((p) => p.startsWith("-p "));
    ordered = [...protocol, ...shuffle(r, parts.filter((p) => !p.startsWith("-p ")))];
  }
  return `-A ${chain} ${[...ordered, target ?? ""].join(" ")}`.trimEnd();
}

/** A restore input with all four common tables, user chains and `count` rules per table. */
export function generateRestoreInput(seed: number, family: 4 | 6, rulesPerTable: number): string {
  const r = mulberry32(seed);
  const lines: string[] = [];
  for (const table of ["filter", "nat", "mangle", "raw"] as const) {
    lines.push(`*${table}`);
    const builtins = CHAINS[table];
    for (const chain of builtins) if (chance(r, 0.8)) lines.push(`:${chain} ${table === "filter" && chance(r, 0.3) ? "DROP" : "ACCEPT"} [${int(r, 0, 99)}:${int(r, 0, 9999)}]`);
    lines.push(":USER-B - [0:0]", ":USER-A - [0:0]");
    for (let i = 0; i < rulesPerTable; i++) {
      const chain = chance(r, 0.15) ? pick(r, ["USER-A", "USER-B"]) : pick(r, builtins);
      let line = rule(r, family, table, chain);
      if (chain.startsWith("USER") && /-[jg] USER/.test(line)) line = line.replace(/-([jg]) USER-[AB]/, "-j RETURN");
      if (chain.startsWith("USER") && /REJECT|DNAT|SNAT|MASQUERADE|REDIRECT|owner|TCPMSS|-m mac/.test(line)) continue;
      lines.push(line);
    }
    lines.push("COMMIT");
  }
  return lines.join("\n") + "\n";
}
