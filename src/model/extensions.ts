// The match and target extensions iptscope models: their options (arity, negation, value
// codec) in the order iptables-save prints them, and how loading normalises them
// (extensions/libxt_*.c in iptables 1.8.9).

import type { ExtensionCatalog, OptionSyntax } from "../../grammar/index.js";
import * as c from "./codecs.js";
import { parseUnsigned } from "./numbers.js";
import type { Codec, CodecContext } from "./codecs.js";
import type { PortProtocol, ServiceLookup } from "./services.js";
import type { BuiltinChainName, ExtensionOption, Family, OptionValue, TableName } from "./types.js";

export interface OptionSpec {
  /** Canonical name without dashes. */
  name: string;
  /** `--name`, one string that every rule writing the option this way shares. */
  spelling: string;
  aliases?: readonly string[];
  arity: number;
  negatable?: boolean;
  codec: Codec;
  /** The families whose extension has this option, when not both. */
  families?: readonly Family[];
}

export interface ExtensionSpec {
  name: string;
  options: readonly OptionSpec[];
  /** Protocols whose `-p` (not negated) this match or target needs (tcp, udp, icmp, …). */
  protocols?: readonly string[];
  /** The families whose kernel match needs that `-p`, when not both. */
  protocolsNeededIn?: readonly Family[];
  /** The families whose iptables has this extension, when not both. */
  families?: readonly Family[];
  /** Options iptables insists on: at least one of each group ("any" is any option of the extension). */
  required?: readonly (readonly string[] | "any")[];
  /** Options as the kernel keeps them after loading: defaults added, aliases folded. */
  normalize?(options: ExtensionOption[], context: CodecContext): ExtensionOption[];
  /** Options that exclude each other, by group (the `excl` of libxtables' option entries): one of a group at most. */
  exclusive?: readonly (readonly string[])[];
  /** The tables the kernel takes this extension in, when not all (the `table` of its xt_match / xt_target). */
  tables?: readonly TableName[];
  /**
   * The built-in chains (hooks) the kernel lets a rule with this extension be reached from, when not all (the
   * `hooks` of its xt_match / xt_target, or its checkentry); some depend on the options (addrtype --limit-iface-in).
   */
  hooks?(options: readonly ExtensionOption[]): readonly BuiltinChainName[] | undefined;
}

const hooksOnly = (...chains: BuiltinChainName[]) => (): readonly BuiltinChainName[] => chains;

/** Hook lists options choose between, one object each (the builder keeps a mask per list). */
const INCOMING_HOOKS: readonly BuiltinChainName[] = ["PREROUTING", "INPUT", "FORWARD"];
const OUTGOING_HOOKS: readonly BuiltinChainName[] = ["FORWARD", "OUTPUT", "POSTROUTING"];
const NOT_OUTPUT: readonly BuiltinChainName[] = ["PREROUTING", "INPUT", "FORWARD", "POSTROUTING"];
const has = (options: readonly ExtensionOption[], name: string, negated?: boolean): boolean =>
  options.some((o) => o.name === name && (negated === undefined || o.negated === negated));

const opt = (name: string, arity: number, codec: Codec, extra: Partial<OptionSpec> = {}): OptionSpec => ({
  name, spelling: `--${name}`, arity, codec, ...extra,
});
const neg = (name: string, arity: number, codec: Codec, extra: Partial<OptionSpec> = {}): OptionSpec =>
  opt(name, arity, codec, { negatable: true, ...extra });
const flagOpt = (name: string, extra: Partial<OptionSpec> = {}): OptionSpec => opt(name, 0, c.flag, extra);

export function synthesize(name: string, value: OptionValue, negated = false): ExtensionOption {
  return { name, written: `--${name}`, negated, value, column: 0 };
}

const find = (options: readonly ExtensionOption[], name: string) => options.find((o) => o.name === name);

const CT_STATES = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"];
const STATE_STATES = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"];
const CT_STATUS = ["NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];

/** NONE is the empty status set: it prints only alone, and alone the option disappears. */
function normalizeCtStatus(options: ExtensionOption[]): ExtensionOption[] {
  return options.flatMap((o) => {
    if (o.name !== "ctstatus" || o.value.kind !== "name-list") return [o];
    const names = o.value.names.filter((n) => n !== "NONE");
    return names.length === 0 && !o.negated ? [] : [{ ...o, value: { kind: "name-list", names } as OptionValue }];
  });
}
const ADDR_TYPES = [
  "UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT",
  "THROW", "NAT", "XRESOLVE",
];

const PROTOCOL_NUMBERS: Record<string, number> = {
  icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, "ipv6-icmp": 58, icmpv6: 58, sctp: 132, udplite: 136, dccp: 33,
};

const ctProto: Codec = {
  expected: "a protocol name or number",
  decode: ([text]) => {
    const value = /^\d+$/.test(text!) ? Number(text) : PROTOCOL_NUMBERS[text!.toLowerCase()];
    return value === undefined || value > 255 ? { error: "" } : { kind: "number", value };
  },
  encode: (v) => (v.kind === "number" ? [String(v.value)] : []),
};

/**
 * Port options as iptables-nft keeps them: the full range is dropped, and a negated range
 * starting at 0 comes back as the positive complement (`! --sport 0:1023` → `--sport 1024:65535`).
 */
function normalizePorts(options: ExtensionOption[], context: CodecContext): ExtensionOption[] {
  const nft = context.backend !== "legacy";
  const out: ExtensionOption[] = [];
  for (const o of options) {
    if (o.value.kind !== "port-range") {
      out.push(o);
      continue;
    }
    const { from, to } = o.value.range;
    if (from === 0 && to === 65535 && !o.negated) continue;
    if (nft && o.negated && from === 0 && to < 65535) {
      out.push({ ...o, negated: false, value: { kind: "port-range", range: { from: to + 1, to: 65535 } } });
      continue;
    }
    out.push(o);
  }
  return out;
}

/** --sport and --dport, as tcp, udp, sctp and dccp spell them; each reads numbers and looks service names up its own way. */
const portOptions = (numbers: c.PortNumbers, lookup: ServiceLookup): OptionSpec[] => [
  neg("sport", 1, c.portRange(numbers, lookup), { aliases: ["source-port"] }),
  neg("dport", 1, c.portRange(numbers, lookup), { aliases: ["destination-port"] }),
];

const tcp: ExtensionSpec = {
  name: "tcp",
  protocols: ["tcp"],
  options: [
    ...portOptions("c", "tcp"),
    neg("tcp-option", 1, c.unsigned(255)),
    neg("tcp-flags", 2, c.tcpFlags),
    neg("syn", 0, c.flag),
  ],
  exclusive: [["syn", "tcp-flags"]],
  normalize: (options, context) =>
    normalizePorts(
      options
        .map((o) =>
          o.name === "syn"
            ? { ...o, name: "tcp-flags", value: { kind: "tcp-flags", mask: ["FIN", "SYN", "RST", "ACK"], compare: ["SYN"] } as OptionValue }
            : o,
        )
        // iptables-nft drops a flags test with an empty mask.
        .filter((o) => !(context.backend !== "legacy" && o.value.kind === "tcp-flags" && o.value.mask.length === 0)),
      context,
    ),
};

const udp: ExtensionSpec = {
  name: "udp",
  protocols: ["udp"],
  options: [
    ...portOptions("wrapping", "tcp-or-udp"),
  ],
  normalize: normalizePorts,
};

const icmp: ExtensionSpec = {
  name: "icmp",
  required: [["icmp-type"]],
  families: ["ipv4"],
  protocols: ["icmp"],
  options: [neg("icmp-type", 1, c.icmpType(4))],
};

const icmp6: ExtensionSpec = {
  name: "icmp6",
  families: ["ipv6"],
  protocols: ["ipv6-icmp"],
  options: [neg("icmpv6-type", 1, c.icmpType(6))],
};

const multiport: ExtensionSpec = {
  name: "multiport",
  required: [["sports", "dports", "ports"]],
  protocols: ["tcp", "udp", "udplite", "sctp", "dccp"] satisfies PortProtocol[],
  options: [
    neg("sports", 1, c.portList, { aliases: ["source-ports"] }),
    neg("dports", 1, c.portList, { aliases: ["destination-ports"] }),
    neg("ports", 1, c.portList),
  ],
  exclusive: [["sports", "dports", "ports"]],
};

const conntrack: ExtensionSpec = {
  name: "conntrack",
  required: ["any"],
  options: [
    neg("ctstate", 1, c.nameList(CT_STATES)),
    neg("ctproto", 1, ctProto),
    neg("ctorigsrc", 1, c.extensionAddress),
    neg("ctorigdst", 1, c.extensionAddress),
    neg("ctreplsrc", 1, c.extensionAddress),
    neg("ctrepldst", 1, c.extensionAddress),
    neg("ctorigsrcport", 1, c.portRange("wrapping", "tcp-or-udp")),
    neg("ctorigdstport", 1, c.portRange("wrapping", "tcp-or-udp")),
    neg("ctreplsrcport", 1, c.portRange("wrapping", "tcp-or-udp")),
    neg("ctrepldstport", 1, c.portRange("wrapping", "tcp-or-udp")),
    neg("ctstatus", 1, c.nameList(CT_STATUS)),
    neg("ctexpire", 1, c.numberRange(0xffffffff)),
    opt("ctdir", 1, c.oneOf({ ORIGINAL: "ORIGINAL", REPLY: "REPLY", original: "ORIGINAL", reply: "REPLY" }, "ORIGINAL or REPLY")),
  ],
  normalize: normalizeCtStatus,
};

const state: ExtensionSpec = { name: "state", required: [["state"]], options: [neg("state", 1, c.nameList(STATE_STATES))] };
const mark: ExtensionSpec = { name: "mark", required: [["mark"]], options: [neg("mark", 1, c.markMatch)] };
const connmark: ExtensionSpec = { name: "connmark", required: [["mark"]], options: [neg("mark", 1, c.markMatch)] };
const comment: ExtensionSpec = { name: "comment", required: [["comment"]], options: [opt("comment", 1, c.quotedString(255))] };

const statistic: ExtensionSpec = {
  name: "statistic",
  exclusive: [["probability", "every"], ["probability", "packet"]],
  options: [
    opt("mode", 1, c.oneOf({ random: "random", nth: "nth" }, "random or nth")),
    neg("probability", 1, c.probability),
    neg("every", 1, c.unsigned(0xffffffff, 1)),
    opt("packet", 1, c.unsigned()),
  ],
};

const ALL_ONES: Record<Family, string> = { ipv4: "255.255.255.255", ipv6: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };

const recent: ExtensionSpec = {
  name: "recent",
  exclusive: [["set", "rcheck", "update", "remove"]],
  required: [["set", "rcheck", "update", "remove"]],
  options: [
    neg("set", 0, c.flag),
    neg("rcheck", 0, c.flag),
    neg("update", 0, c.flag),
    neg("remove", 0, c.flag),
    opt("seconds", 1, c.unsigned(0xffffffff, 1)),
    flagOpt("reap"),
    opt("hitcount", 1, c.unsigned()),
    flagOpt("rttl"),
    opt("name", 1, c.plainString),
    opt("mask", 1, c.bareAddress),
    flagOpt("rsource"),
    flagOpt("rdest"),
  ],
  normalize: (options, context) => {
    const out = [...options];
    if (!find(out, "name")) out.push(synthesize("name", { kind: "string", value: "DEFAULT" }));
    if (!find(out, "mask")) {
      const all = ALL_ONES[context.family];
      out.push(synthesize("mask", { kind: "address-range", from: all, to: all }));
    }
    if (!find(out, "rsource") && !find(out, "rdest")) out.push(synthesize("rsource", { kind: "flag" }));
    return out;
  },
};

const addrtype: ExtensionSpec = {
  name: "addrtype",
  exclusive: [["limit-iface-in", "limit-iface-out"]],
  required: [["src-type", "dst-type"]],
  options: [
    neg("src-type", 1, c.nameList(ADDR_TYPES)),
    neg("dst-type", 1, c.nameList(ADDR_TYPES)),
    flagOpt("limit-iface-in"),
    flagOpt("limit-iface-out"),
  ],
  hooks: (options) => {
    if (has(options, "limit-iface-in")) return INCOMING_HOOKS;
    return has(options, "limit-iface-out") ? OUTGOING_HOOKS : undefined;
  },
};

const set: ExtensionSpec = {
  name: "set",
  required: [["match-set"]],
  options: [
    neg("match-set", 2, c.setSpec, { aliases: ["set"] }),
    flagOpt("return-nomatch"),
    neg("update-counters", 0, c.flag),
    neg("update-subcounters", 0, c.flag),
    neg("packets-eq", 1, c.unsigned(Number.MAX_SAFE_INTEGER)),
    opt("packets-lt", 1, c.unsigned(Number.MAX_SAFE_INTEGER)),
    opt("packets-gt", 1, c.unsigned(Number.MAX_SAFE_INTEGER)),
    neg("bytes-eq", 1, c.unsigned(Number.MAX_SAFE_INTEGER)),
    opt("bytes-lt", 1, c.unsigned(Number.MAX_SAFE_INTEGER)),
    opt("bytes-gt", 1, c.unsigned(Number.MAX_SAFE_INTEGER)),
  ],
};

const physdev: ExtensionSpec = {
  name: "physdev",
  required: ["any"],
  options: [
    neg("physdev-in", 1, c.interfaceName),
    neg("physdev-out", 1, c.interfaceName),
    neg("physdev-is-in", 0, c.flag),
    neg("physdev-is-out", 0, c.flag),
    neg("physdev-is-bridged", 0, c.flag),
  ],
  // xt_physdev: an output device is known in OUTPUT only for bridged traffic.
  hooks: (options) =>
    (has(options, "physdev-out") || has(options, "physdev-is-out")) && !has(options, "physdev-is-bridged", false)
      ? NOT_OUTPUT
      : undefined,
};

const owner: ExtensionSpec = {
  name: "owner",
  required: [["uid-owner", "gid-owner", "socket-exists"]],
  options: [
    neg("socket-exists", 0, c.flag),
    neg("uid-owner", 1, c.idRange),
    neg("gid-owner", 1, c.idRange),
    flagOpt("suppl-groups"),
  ],
  hooks: hooksOnly("OUTPUT", "POSTROUTING"),
};

const limit: ExtensionSpec = {
  name: "limit",
  options: [opt("limit", 1, c.rate), opt("limit-burst", 1, c.unsigned(10000))],
  normalize: (options) => {
    const out = options.filter((o) => !(o.name === "limit-burst" && o.value.kind === "number" && o.value.value === 5));
    if (!find(out, "limit")) out.unshift(synthesize("limit", { kind: "rate", per: 36000000 / 3, unit: "hour" }));
    return out;
  },
};

const iprange: ExtensionSpec = {
  name: "iprange",
  required: [["src-range", "dst-range"]],
  options: [neg("src-range", 1, c.addressRange), neg("dst-range", 1, c.addressRange)],
};

const mac: ExtensionSpec = {
  name: "mac", required: [["mac-source"]], options: [neg("mac-source", 1, c.macAddress)], hooks: hooksOnly("PREROUTING", "INPUT", "FORWARD"),
};

const pkttype: ExtensionSpec = {
  name: "pkttype",
  required: [["pkt-type"]],
  options: [
    neg("pkt-type", 1, c.oneOf({ unicast: "unicast", broadcast: "broadcast", multicast: "multicast", host: "unicast" }, "unicast, broadcast or multicast")),
  ],
};

const length: ExtensionSpec = { name: "length", required: [["length"]], options: [neg("length", 1, c.numberRange(65535))] };

const ttl: ExtensionSpec = {
  name: "ttl",
  exclusive: [["ttl-eq", "ttl-lt", "ttl-gt"]],
  required: [["ttl-eq", "ttl-lt", "ttl-gt"]],
  families: ["ipv4"],
  options: [neg("ttl-eq", 1, c.unsigned(255), { aliases: ["ttl"] }), opt("ttl-lt", 1, c.unsigned(255)), opt("ttl-gt", 1, c.unsigned(255))],
};

const rpfilter: ExtensionSpec = {
  name: "rpfilter",
  options: [flagOpt("loose"), flagOpt("validmark"), flagOpt("accept-local"), flagOpt("invert")],
  tables: ["raw", "mangle"],
  hooks: hooksOnly("PREROUTING"),
};

const hl: ExtensionSpec = {
  name: "hl",
  exclusive: [["hl-eq", "hl-lt", "hl-gt"]],
  required: [["hl-eq", "hl-lt", "hl-gt"]],
  families: ["ipv6"],
  options: [neg("hl-eq", 1, c.unsigned(255), { aliases: ["hl"] }), opt("hl-lt", 1, c.unsigned(255)), opt("hl-gt", 1, c.unsigned(255))],
};

/** The match mode is checked and printed as libxt_sctp prints it; the chunk list is kept as written. */
const sctpChunkTypes: Codec = {
  expected: "all, any or only, then a list of chunk types",
  decode: ([mode, chunks], context) => {
    const lower = mode!.toLowerCase();
    return lower === "all" || lower === "any" || lower === "only" ? c.verbatimWords.decode([lower, chunks!], context) : { error: "" };
  },
  encode: c.verbatimWords.encode,
};

/** Ports as libxt_sctp and libxt_dccp keep them: no range is dropped (they are not translated to nftables payload). */
const sctp: ExtensionSpec = {
  name: "sctp",
  protocols: ["sctp"],
  options: [
    ...portOptions("c", "sctp"),
    neg("chunk-types", 2, sctpChunkTypes),
  ],
};

const DCCP_TYPES = ["REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC", "SYNCACK", "INVALID"];

const dccp: ExtensionSpec = {
  name: "dccp",
  protocols: ["dccp"],
  options: [
    ...portOptions("wrapping", "tcp-or-udp"),
    neg("dccp-types", 1, c.nameList(DCCP_TYPES)),
    neg("dccp-option", 1, c.unsigned(255)),
  ],
};

/** libxt_esp, libipt_ah, libip6t_ah and libip6t_mh print nothing for the full range, negated or not. */
function dropFullRanges(max: number, ...names: string[]): (options: ExtensionOption[]) => ExtensionOption[] {
  return (options) => options.filter((o) => !(names.includes(o.name) && o.value.kind === "number-range" && o.value.from === 0 && o.value.to === max));
}

const esp: ExtensionSpec = { name: "esp", protocols: ["esp"], options: [neg("espspi", 1, c.numberRange(0xffffffff))], normalize: dropFullRanges(0xffffffff, "espspi") };

/** libipt_ah knows --ahspi only; libip6t_ah adds the header length and the reserved-field test. */
const ah: ExtensionSpec = {
  name: "ah",
  protocols: ["ah"],
  // ip6t_ah looks for the header among the extension headers, whatever -p says.
  protocolsNeededIn: ["ipv4"],
  options: [neg("ahspi", 1, c.numberRange(0xffffffff)), neg("ahlen", 1, c.unsigned(), { families: ["ipv6"] }), flagOpt("ahres", { families: ["ipv6"] })],
  // libip6t_ah prints a header length of 0 only negated.
  normalize: (options) =>
    dropFullRanges(0xffffffff, "ahspi")(options).filter((o) => !(o.name === "ahlen" && !o.negated && o.value.kind === "number" && o.value.value === 0)),
};

const MH_TYPES: Record<string, number> = {
  "binding-refresh-request": 0, brr: 0, "home-test-init": 1, hoti: 1, "careof-test-init": 2, coti: 2, "home-test": 3, hot: 3,
  "careof-test": 4, cot: 4, "binding-update": 5, bu: 5, "binding-acknowledgement": 6, ba: 6, "binding-error": 7, be: 7,
};

const mh: ExtensionSpec = {
  name: "mh",
  families: ["ipv6"],
  protocols: ["mobility-header"],
  options: [neg("mh-type", 1, c.namedNumberRange(MH_TYPES, 255, "a mobility header type (name or number) or TYPE:TYPE"))],
  normalize: dropFullRanges(255, "mh-type"),
};

/**
 * The spec with every field, in one order, its option specs too: the builder reads the specs of
 * every extension at the same places, and one hidden class keeps those reads monomorphic.
 */
function uniform(spec: ExtensionSpec): ExtensionSpec {
  return {
    name: spec.name,
    options: spec.options.map((o) => ({
      name: o.name, spelling: o.spelling, aliases: o.aliases, arity: o.arity, negatable: o.negatable, codec: o.codec, families: o.families,
    })),
    protocols: spec.protocols,
    protocolsNeededIn: spec.protocolsNeededIn,
    families: spec.families,
    required: spec.required,
    normalize: spec.normalize,
    exclusive: spec.exclusive,
    tables: spec.tables,
    hooks: spec.hooks,
  };
}

export const matchSpecs: ReadonlyMap<string, ExtensionSpec> = new Map(
  [
    tcp, udp, icmp, icmp6, multiport, conntrack, state, mark, connmark, comment, statistic, recent, addrtype, set,
    physdev, owner, limit, iprange, mac, pkttype, length, ttl, hl, rpfilter, sctp, dccp, esp, ah, mh,
  ].map((s) => [s.name, uniform(s)]),
);

/** `-m` names that load another extension (iptables aliases and revisions). */
export const MATCH_ALIASES: ReadonlyMap<string, string> = new Map([["icmpv6", "icmp6"], ["ipv6-icmp", "icmp6"]]);

// ---------------------------------------------------------------------------------------
// Targets

export const VERDICTS = ["ACCEPT", "DROP", "RETURN", "QUEUE"] as const;
export type Verdict = (typeof VERDICTS)[number];
/** Each verdict keyed by its spelling, to give rules the one shared string. */
export const VERDICT_NAMES: ReadonlyMap<string, Verdict> = new Map(VERDICTS.map((v) => [v, v]));

const REJECT_V4: Record<string, string> = {
  "icmp-net-unreachable": "icmp-net-unreachable", "net-unreach": "icmp-net-unreachable",
  "icmp-host-unreachable": "icmp-host-unreachable", "host-unreach": "icmp-host-unreachable",
  "icmp-proto-unreachable": "icmp-proto-unreachable", "proto-unreach": "icmp-proto-unreachable",
  "icmp-port-unreachable": "icmp-port-unreachable", "port-unreach": "icmp-port-unreachable",
  "icmp-net-prohibited": "icmp-net-prohibited", "net-prohib": "icmp-net-prohibited",
  "icmp-host-prohibited": "icmp-host-prohibited", "host-prohib": "icmp-host-prohibited",
  "icmp-admin-prohibited": "icmp-admin-prohibited", "admin-prohib": "icmp-admin-prohibited",
  "tcp-reset": "tcp-reset", "tcp-rst": "tcp-reset",
};

const REJECT_V6: Record<string, string> = {
  "icmp6-no-route": "icmp6-no-route", "no-route": "icmp6-no-route",
  "icmp6-adm-prohibited": "icmp6-adm-prohibited", "adm-prohibited": "icmp6-adm-prohibited",
  "icmp6-addr-unreachable": "icmp6-addr-unreachable", "addr-unreach": "icmp6-addr-unreachable",
  "icmp6-port-unreachable": "icmp6-port-unreachable", "port-unreach": "icmp6-port-unreachable",
  "icmp6-policy-fail": "icmp6-policy-fail", "policy-fail": "icmp6-policy-fail",
  "icmp6-reject-route": "icmp6-reject-route", "reject-route": "icmp6-reject-route",
  "tcp-reset": "tcp-reset", "tcp-rst": "tcp-reset",
};

const rejectWith: Codec = {
  expected: "an ICMP reject type (icmp-port-unreachable, tcp-reset, …)",
  decode: (args, context) => c.oneOf(context.family === "ipv4" ? REJECT_V4 : REJECT_V6, "").decode(args, context),
  encode: (v, context) => c.oneOf({}, "").encode(v, context),
};

const REJECT: ExtensionSpec = {
  name: "REJECT",
  tables: ["filter"],
  options: [opt("reject-with", 1, rejectWith)],
  normalize: (options, context) =>
    find(options, "reject-with")
      ? options
      : [synthesize("reject-with", { kind: "string", value: context.family === "ipv4" ? "icmp-port-unreachable" : "icmp6-port-unreachable" })],
};

const DNAT: ExtensionSpec = {
  name: "DNAT",
  required: [["to-destination"]],
  options: [opt("to-destination", 1, c.natRange, { aliases: ["to"] }), flagOpt("random"), flagOpt("persistent")],
  tables: ["nat"],
  hooks: hooksOnly("PREROUTING", "OUTPUT"),
};

const SNAT: ExtensionSpec = {
  name: "SNAT",
  required: [["to-source"]],
  options: [
    opt("to-source", 1, c.natRange, { aliases: ["to"] }),
    flagOpt("random"),
    flagOpt("random-fully"),
    flagOpt("persistent"),
  ],
  tables: ["nat"],
  hooks: hooksOnly("INPUT", "POSTROUTING"),
};

const MASQUERADE: ExtensionSpec = {
  name: "MASQUERADE",
  options: [opt("to-ports", 1, c.natPorts), flagOpt("random"), flagOpt("random-fully")],
  tables: ["nat"],
  hooks: hooksOnly("POSTROUTING"),
};

const REDIRECT: ExtensionSpec = {
  name: "REDIRECT",
  options: [opt("to-ports", 1, c.natPorts), flagOpt("random")],
  tables: ["nat"],
  hooks: hooksOnly("PREROUTING", "OUTPUT"),
};

type MarkValue = Extract<OptionValue, { kind: "mark" }>;

/** MARK/CONNMARK --set-mark/--and-mark/--or-mark/--xor-mark all load as --set-xmark (libxt_MARK.c). */
function toXmark(option: ExtensionOption): ExtensionOption | undefined {
  if (option.value.kind !== "mark") return undefined;
  const { value, mask } = option.value;
  let xmark: MarkValue | undefined;
  switch (option.name) {
    case "set-xmark":
      xmark = { kind: "mark", value, mask: mask ?? 0xffffffff };
      break;
    case "set-mark":
      xmark = { kind: "mark", value, mask: ((mask ?? 0xffffffff) | value) >>> 0 };
      break;
    case "and-mark":
      xmark = { kind: "mark", value: 0, mask: ~value >>> 0 };
      break;
    case "or-mark":
      xmark = { kind: "mark", value, mask: value };
      break;
    case "xor-mark":
      xmark = { kind: "mark", value, mask: 0 };
      break;
  }
  return xmark ? synthesize("set-xmark", xmark) : undefined;
}

const MARK: ExtensionSpec = {
  name: "MARK",
  exclusive: [["set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark"]],
  required: ["any"],
  options: [
    opt("set-xmark", 1, c.xmark),
    opt("set-mark", 1, c.markMatch),
    opt("and-mark", 1, c.markMask),
    opt("or-mark", 1, c.markMask),
    opt("xor-mark", 1, c.markMask),
  ],
  normalize: (options) => options.map((o) => toXmark(o) ?? o),
};

const CONNMARK: ExtensionSpec = {
  name: "CONNMARK",
  exclusive: [["set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark", "save-mark", "restore-mark"]],
  required: [["set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark", "save-mark", "restore-mark"]],
  options: [
    opt("set-xmark", 1, c.xmark),
    opt("set-mark", 1, c.markMatch),
    opt("and-mark", 1, c.markMask),
    opt("or-mark", 1, c.markMask),
    opt("xor-mark", 1, c.markMask),
    flagOpt("save-mark"),
    flagOpt("restore-mark"),
    opt("nfmask", 1, c.markMask),
    opt("ctmask", 1, c.markMask),
    opt("mask", 1, c.markMask),
  ],
  normalize: (options) => {
    const xmark = options.map(toXmark).find((o) => o !== undefined);
    if (xmark) return [xmark];
    const mode = options.find((o) => o.name === "save-mark" || o.name === "restore-mark");
    if (!mode) return options;
    const both = find(options, "mask");
    const maskOf = (name: string): ExtensionOption =>
      synthesize(name, find(options, name)?.value ?? both?.value ?? { kind: "mark", value: 0xffffffff, mask: undefined });
    return [mode, maskOf("nfmask"), maskOf("ctmask")];
  },
};

/** XTTYPE_SYSLOGLEVEL: a C number up to 7 or one of these names, exactly. */
const LOG_LEVELS: Record<string, number> = { emerg: 0, panic: 0, alert: 1, crit: 2, error: 3, warning: 4, notice: 5, info: 6, debug: 7 };

const syslogLevel: Codec = {
  expected: "a syslog level (0-7, debug, info, …)",
  decode: ([text]) => {
    const level = Object.hasOwn(LOG_LEVELS, text!) ? LOG_LEVELS[text!] : c.parseUnsigned(text!, 7);
    return level === undefined ? { error: "" } : { kind: "string", value: String(level) };
  },
  encode: (v) => (v.kind === "string" ? [v.value] : []),
};

const LOG: ExtensionSpec = {
  name: "LOG",
  options: [
    opt("log-prefix", 1, c.quotedString(29)),
    opt("log-level", 1, syslogLevel),
    flagOpt("log-tcp-sequence"),
    flagOpt("log-tcp-options"),
    flagOpt("log-ip-options"),
    flagOpt("log-uid"),
    flagOpt("log-macdecode"),
  ],
  normalize: (options) => options.filter((o) => !(o.name === "log-level" && o.value.kind === "string" && o.value.value === "4")),
};

const NFLOG: ExtensionSpec = {
  name: "NFLOG",
  options: [
    opt("nflog-prefix", 1, c.quotedString(63)),
    opt("nflog-group", 1, c.unsigned(65535)),
    opt("nflog-size", 1, c.unsigned()),
    opt("nflog-range", 1, c.unsigned()),
    opt("nflog-threshold", 1, c.unsigned(65535)),
  ],
  normalize: (options, context) =>
    options.filter(
      (o) =>
        !(o.name === "nflog-group" && o.value.kind === "number" && o.value.value === 0) &&
        !(o.name === "nflog-threshold" && o.value.kind === "number" && o.value.value === 0) &&
        // iptables-nft drops --nflog-range (legacy keeps it); the canonical form follows nft.
        (o.name !== "nflog-range" || context.backend === "legacy"),
    ),
};

const NFQUEUE: ExtensionSpec = {
  name: "NFQUEUE",
  exclusive: [["queue-num", "queue-balance"]],
  options: [
    opt("queue-num", 1, c.unsigned(65535)),
    opt("queue-balance", 1, c.numberRange(65535, "strictly-ascending")),
    flagOpt("queue-bypass"),
    flagOpt("queue-cpu-fanout"),
  ],
  normalize: (options) => {
    const balance = find(options, "queue-balance");
    if (balance && balance.value.kind === "number-range" && balance.value.from === balance.value.to) {
      return options.map((o) => (o === balance ? synthesize("queue-num", { kind: "number", value: balance.value.kind === "number-range" ? balance.value.from : 0 }) : o));
    }
    if (find(options, "queue-num") || balance) return options;
    return [synthesize("queue-num", { kind: "number", value: 0 }), ...options];
  },
};

const CT_EVENTS = ["new", "related", "destroy", "reply", "assured", "protoinfo", "helper", "mark", "natseqinfo", "secmark", "label"];

const CT: ExtensionSpec = {
  name: "CT",
  options: [
    flagOpt("notrack"),
    opt("helper", 1, c.plainString),
    opt("timeout", 1, c.plainString),
    opt("ctevents", 1, c.nameList(CT_EVENTS, {}, false)),
    opt("expevents", 1, c.nameList(["new"], {}, false)),
    opt("zone-orig", 1, c.unsigned(65535)),
    opt("zone-reply", 1, c.unsigned(65535)),
    opt("zone", 1, c.unsigned(65535)),
  ],
  tables: ["raw"],
};

const TPROXY: ExtensionSpec = {
  name: "TPROXY",
  required: [["on-port"]],
  options: [opt("on-port", 1, c.unsigned(65535)), opt("on-ip", 1, c.bareAddress), opt("tproxy-mark", 1, c.xmark)],
  protocols: ["tcp", "udp"],
  tables: ["mangle"],
  hooks: hooksOnly("PREROUTING"),
  normalize: (options, context) => {
    const anyAddress = context.family === "ipv4" ? "0.0.0.0" : "::";
    return [
      find(options, "on-port") ?? synthesize("on-port", { kind: "number", value: 0 }),
      find(options, "on-ip") ?? synthesize("on-ip", { kind: "address-range", from: anyAddress, to: anyAddress }),
      find(options, "tproxy-mark") ?? synthesize("tproxy-mark", { kind: "mark", value: 0, mask: 0 }),
    ];
  },
};

/** TCPMSS keeps the last of --set-mss and --clamp-mss-to-pmtu (each sets the same field). */
const lastMssOption = (options: readonly ExtensionOption[]): ExtensionOption | undefined =>
  options.findLast((o) => o.name === "set-mss" || o.name === "clamp-mss-to-pmtu");

const TCPMSS: ExtensionSpec = {
  name: "TCPMSS",
  required: ["any"],
  options: [flagOpt("clamp-mss-to-pmtu"), opt("set-mss", 1, c.unsigned(65535))],
  protocols: ["tcp"],
  hooks: (options) => (lastMssOption(options)?.name === "clamp-mss-to-pmtu" ? OUTGOING_HOOKS : undefined),
  normalize: (options) => {
    const last = lastMssOption(options);
    return options.filter((o) => o === last || (o.name !== "set-mss" && o.name !== "clamp-mss-to-pmtu"));
  },
};

const TTL: ExtensionSpec = {
  name: "TTL",
  exclusive: [["ttl-set", "ttl-dec", "ttl-inc"]],
  required: ["any"],
  families: ["ipv4"],
  options: [opt("ttl-set", 1, c.unsigned(255)), opt("ttl-dec", 1, c.unsigned(255, 1)), opt("ttl-inc", 1, c.unsigned(255, 1))],
  tables: ["mangle"],
};

const HL: ExtensionSpec = {
  name: "HL",
  exclusive: [["hl-set", "hl-dec", "hl-inc"]],
  required: ["any"],
  families: ["ipv6"],
  options: [opt("hl-set", 1, c.unsigned(255)), opt("hl-dec", 1, c.unsigned(255, 1)), opt("hl-inc", 1, c.unsigned(255, 1))],
  tables: ["mangle"],
};

const DSCP_CLASSES: Record<string, number> = {
  CS0: 0, CS1: 8, CS2: 16, CS3: 24, CS4: 32, CS5: 40, CS6: 48, CS7: 56, BE: 0, AF11: 10, AF12: 12, AF13: 14, AF21: 18,
  AF22: 20, AF23: 22, AF31: 26, AF32: 28, AF33: 30, AF41: 34, AF42: 36, AF43: 38, EF: 46,
};

/** libxt_DSCP prints the value as `0x%02x`. */
const hexByte: Codec = {
  expected: "a number",
  decode: c.unsigned(63).decode,
  encode: (v) => (v.kind === "number" ? [`0x${v.value.toString(16).padStart(2, "0")}`] : []),
};

const DSCP: ExtensionSpec = {
  name: "DSCP",
  exclusive: [["set-dscp", "set-dscp-class"]],
  required: ["any"],
  options: [
    opt("set-dscp", 1, hexByte),
    opt("set-dscp-class", 1, {
      expected: "a DSCP class (AF41, EF, CS1, …)",
      decode: ([text]) => (DSCP_CLASSES[text!.toUpperCase()] === undefined ? { error: "" } : { kind: "number", value: DSCP_CLASSES[text!.toUpperCase()]! }),
      encode: hexByte.encode,
    }),
  ],
  normalize: (options) => options.map((o) => (o.name === "set-dscp-class" ? { ...o, name: "set-dscp" } : o)),
  tables: ["mangle"],
};

const TOS_NAMES: Record<string, number> = {
  "Minimize-Delay": 0x10, "Maximize-Throughput": 0x08, "Maximize-Reliability": 0x04, "Minimize-Cost": 0x02, "Normal-Service": 0x00,
};

const TOS_NAMES_ANY_CASE = new Map(Object.entries(TOS_NAMES).map(([name, value]) => [name.toLowerCase(), value]));

const tosValue: Codec = {
  expected: "a TOS value[/mask] or name",
  decode: ([text]) => {
    const named = TOS_NAMES_ANY_CASE.get(text!.toLowerCase());
    // Symbolic names (in any case) only touch the TOS bits (mask 0x3f), like libxt_TOS.
    if (named !== undefined) return { kind: "mark", value: named, mask: 0x3f };
    const decoded = c.markMatch.decode([text!], { family: "ipv4" });
    return "kind" in decoded && decoded.kind === "mark" && decoded.value <= 255 && (decoded.mask ?? 0) <= 255 ? decoded : { error: "" };
  },
  encode: (v) => (v.kind === "mark" ? [`0x${v.value.toString(16).padStart(2, "0")}/0x${(v.mask ?? 0xff).toString(16).padStart(2, "0")}`] : []),
};

const TOS: ExtensionSpec = {
  name: "TOS",
  exclusive: [["set-tos", "and-tos", "or-tos", "xor-tos"]],
  required: ["any"],
  options: [opt("set-tos", 1, tosValue), opt("and-tos", 1, c.markMask), opt("or-tos", 1, c.markMask), opt("xor-tos", 1, c.markMask)],
  normalize: (options) =>
    options.map((o) => {
      if (o.value.kind !== "mark" || o.name === "set-tos") return o;
      const bits = o.value.value & 0xff;
      const xmark = o.name === "and-tos" ? { value: 0, mask: ~bits & 0xff } : o.name === "or-tos" ? { value: bits, mask: bits } : { value: bits, mask: 0 };
      return synthesize("set-tos", { kind: "mark", ...xmark });
    }),
  tables: ["mangle"],
};

/** sscanf's %x from `at`: an optional sign and 0x, hex digits, as the unsigned int it stores; undefined without a digit. */
function scanHex(text: string, at: number): { value: number; end: number } | undefined {
  const m = /^([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/.exec(text.slice(at));
  if (!m) return undefined;
  const magnitude = BigInt.asUintN(32, BigInt(`0x${m[2]}`));
  return { value: Number(BigInt.asUintN(32, m[1] === "-" ? -magnitude : magnitude)), end: at + m[0].length };
}

const CLASSIFY: ExtensionSpec = {
  name: "CLASSIFY",
  required: [["set-class"]],
  options: [
    opt("set-class", 1, {
      expected: "MAJOR:MINOR in hex",
      // sscanf("%x:%x"): a sign and 0x allowed, anything after the minor ignored; TC_H_MAKE keeps 16 bits of each.
      decode: ([text]) => {
        const major = scanHex(text!, 0);
        const minor = major !== undefined && text![major.end] === ":" ? scanHex(text!, major.end + 1) : undefined;
        return major && minor ? { kind: "mark", value: major.value & 0xffff, mask: minor.value & 0xffff } : { error: "" };
      },
      encode: (v) => (v.kind === "mark" ? [`${v.value.toString(16).padStart(4, "0")}:${(v.mask ?? 0).toString(16).padStart(4, "0")}`] : []),
    }),
  ],
  hooks: hooksOnly("FORWARD", "OUTPUT", "POSTROUTING"),
};

const CHECKSUM: ExtensionSpec = { name: "CHECKSUM", required: [["checksum-fill"]], options: [flagOpt("checksum-fill")], tables: ["mangle"] };
const NOTRACK: ExtensionSpec = { name: "NOTRACK", options: [], tables: ["raw"] };
const TRACE: ExtensionSpec = { name: "TRACE", options: [] };

export const targetSpecs: ReadonlyMap<string, ExtensionSpec> = new Map(
  [
    REJECT, DNAT, SNAT, MASQUERADE, REDIRECT, MARK, CONNMARK, LOG, NFLOG, NFQUEUE, CT, TPROXY, TCPMSS, CHECKSUM, NOTRACK, TRACE,
    TTL, HL, DSCP, TOS, CLASSIFY,
  ].map((s) => [s.name, uniform(s)]),
);

export function findOptionSpec(spec: ExtensionSpec, written: string): OptionSpec | undefined {
  const name = written.startsWith("--") ? written.slice(2) : written;
  return spec.options.find((o) => o.name === name || o.aliases?.includes(name));
}

/** Each spec's options by every name and alias, with and without `--`. */
const optionsByName = new Map<ExtensionSpec, Map<string, OptionSpec>>();

/** findOptionSpec by table lookup, for the model builder's hot path. */
export function optionSpecNamed(spec: ExtensionSpec, written: string): OptionSpec | undefined {
  let names = optionsByName.get(spec);
  if (names === undefined) {
    names = new Map();
    for (const option of spec.options) {
      for (const name of [option.name, ...(option.aliases ?? [])]) {
        if (!names.has(name)) names.set(name, option);
        if (!names.has(`--${name}`)) names.set(`--${name}`, option);
      }
    }
    optionsByName.set(spec, names);
  }
  return names.get(written);
}

/** Implicit matches loaded by `-p` (xtables_find_match on the protocol name). */
// A name loads the match of that name; a number loads the match named by proto_to_name
// (135 names ipv6-mh there, which no match is called, so `-p 135` loads none).
const IMPLICIT: Record<string, string> = {
  tcp: "tcp", udp: "udp", icmp: "icmp", "ipv6-icmp": "icmp6", icmpv6: "icmp6", sctp: "sctp", dccp: "dccp", esp: "esp", ah: "ah", mh: "mh",
  "1": "icmp", "6": "tcp", "17": "udp", "33": "dccp", "50": "esp", "51": "ah", "58": "icmp6", "132": "sctp",
};

function optionSyntax(spec: ExtensionSpec): OptionSyntax[] {
  return spec.options.map((o) => ({ names: [o.name, ...(o.aliases ?? [])], arity: o.arity }));
}

const matchSyntax = new Map([...matchSpecs].map(([name, spec]) => [name, optionSyntax(spec)]));
const targetSyntax = new Map([...targetSpecs].map(([name, spec]) => [name, optionSyntax(spec)]));
const NO_OPTIONS: OptionSyntax[] = [];

export const extensionCatalog: ExtensionCatalog = {
  matchOptions: (module) => matchSyntax.get(MATCH_ALIASES.get(module) ?? module) ?? null,
  targetOptions: (target) => targetSyntax.get(target) ?? (VERDICT_NAMES.has(target) ? NO_OPTIONS : null),
  implicitMatch: (protocol) => IMPLICIT[String(parseUnsigned(protocol, 255) ?? protocol.toLowerCase())],
};
