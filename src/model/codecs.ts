// Value codecs: how one option's arguments are read (validated, normalised) and how
// iptables-save prints them back. Each codec mirrors the extension's parse/save code.

import { saveString } from "../../grammar/index.js";
import { formatAddressMaskShort, parseAddress, parseAddressMask, formatAddress } from "./addresses.js";
import { parseUnsigned, readCNumber } from "./numbers.js";
import { servicePort, type PortProtocol, type ServiceLookup } from "./services.js";
import type { Family, NatRange, OptionValue, PortRange } from "./types.js";

export interface CodecContext {
  family: Family;
  /** The iptables backend whose save output to reproduce; they differ in a few normalisations. */
  backend?: "nft" | "legacy";
  /** The rule's -p, for the codecs marked readsProtocol (while parsing). */
  protocol?: PortProtocol;
}

/** A value, a value the kernel will change (with why), or an error. */
export type Decoded = OptionValue | { error: string } | { adjusted: OptionValue; warning: string };

export interface Codec {
  /** Human description of what is expected, for diagnostics. */
  expected: string;
  decode(args: readonly string[], context: CodecContext): Decoded;
  /** The arguments as iptables-save prints them (already quoted where it quotes). */
  encode(value: OptionValue, context: CodecContext): string[];
  /** Decoding reads context.protocol, so the same text may decode differently under another -p. */
  readsProtocol?: boolean;
}

const fail = (error = ""): Decoded => ({ error });

function mismatch(value: OptionValue): never {
  throw new Error(`codec received a value of kind ${value.kind}`);
}

export const flag: Codec = {
  expected: "no value",
  decode: () => ({ kind: "flag" }),
  encode: () => [],
};

/** Strings printed through xtables_save_string (comment, log prefix). */
export const quotedString = (maxBytes = 255): Codec => ({
  expected: `a string of at most ${maxBytes} bytes`,
  decode: ([text]) => {
    // A UTF-16 unit is at most 3 UTF-8 bytes: short strings need no encoding to be measured.
    if (text!.length * 3 <= maxBytes) return { kind: "string", value: text! };
    const bytes = Buffer.from(text!, "utf8");
    if (bytes.length <= maxBytes) return { kind: "string", value: text! };
    // The kernel keeps the first maxBytes bytes and says nothing; iptscope says it.
    const kept = new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD$/, "");
    return { adjusted: { kind: "string", value: kept }, warning: `${bytes.length} bytes; the kernel keeps only the first ${maxBytes}` };
  },
  encode: (v) => (v.kind === "string" ? [saveString(v.value)] : mismatch(v)),
});

/** Strings printed as they are (set names, recent names, helper names). */
export const plainString: Codec = {
  expected: "a name",
  decode: ([text]) => (text!.length === 0 ? fail() : { kind: "string", value: text! }),
  encode: (v) => (v.kind === "string" ? [v.value] : mismatch(v)),
};


export const unsigned = (max = 0xffffffff, min = 0): Codec => ({
  expected: `a number from ${min} to ${max}`,
  decode: ([text]) => {
    const value = parseUnsigned(text!, max);
    return value === undefined || value < min ? fail() : { kind: "number", value };
  },
  encode: (v) => (v.kind === "number" ? [String(v.value)] : mismatch(v)),
});

/**
 * `N` or `N:M` (length, ctexpire, SPIs); printed as one number when both ends are equal. libxtables keeps a reversed
 * range (it matches nothing); NFQUEUE's --queue-balance wants two ends, the first below the second.
 */
export const numberRange = (max: number, order: "any" | "strictly-ascending" = "any"): Codec => ({
  expected: `N or N:M, up to ${max}`,
  decode: ([text]) => {
    const parts = text!.split(":");
    if (parts.length > 2) return fail();
    const from = parts[0] === "" ? 0 : parseUnsigned(parts[0]!, max);
    const to = parts.length === 1 ? from : parts[1] === "" ? max : parseUnsigned(parts[1]!, max);
    if (from === undefined || to === undefined || (order === "strictly-ascending" && (parts.length === 1 || from >= to))) return fail();
    return { kind: "number-range", from, to };
  },
  encode: (v) => (v.kind === "number-range" ? [v.from === v.to ? String(v.from) : `${v.from}:${v.to}`] : mismatch(v)),
});

/** Arguments kept as written (values iptscope does not interpret); no libxt parser takes blanks or quotes in them. */
export const verbatimWords: Codec = {
  expected: "its arguments",
  decode: (words) => (words.some((w) => w.length === 0 || /[\s"\\]/.test(w)) ? fail() : { kind: "words", words: [...words] }),
  encode: (v) => (v.kind === "words" ? v.words : mismatch(v)),
};

/** A number or range whose ends may be names (mobility header types), printed as numbers. */
export const namedNumberRange = (names: Record<string, number>, max: number, expected: string): Codec => ({
  expected,
  decode: ([text]) => {
    const parts = text!.split(":");
    if (parts.length > 2) return fail();
    const end = (part: string, fallback: number) => (part === "" ? fallback : names[part.toLowerCase()] ?? parseUnsigned(part, max));
    const from = end(parts[0]!, 0);
    const to = parts.length === 1 ? from : end(parts[1]!, max);
    if (from === undefined || to === undefined || from > to) return fail();
    return { kind: "number-range", from, to };
  },
  encode: (v) => (v.kind === "number-range" ? [v.from === v.to ? String(v.from) : `${v.from}:${v.to}`] : mismatch(v)),
});

/**
 * How an extension reads port numbers. "c": xtables_parse_port (libxt_tcp, libxt_sctp, multiport, NAT targets), strtoul
 * with base 0 (0x hex, 0 octal) and an optional '+', at most 65535. "wrapping": getaddrinfo (libxt_udp, libxt_dccp,
 * conntrack), decimal with an optional '+', taken modulo 65536. Either falls back to a service name.
 */
export type PortNumbers = "c" | "wrapping";

const MAX_UNSIGNED_LONG = (1n << 64n) - 1n;

export function parsePort(text: string, numbers: PortNumbers, lookup: ServiceLookup): number | undefined {
  if (numbers === "c") {
    const read = readCNumber(text);
    if (read !== undefined && read.end === text.length && read.value <= 65535) return read.value;
  } else if (/^\+?[0-9]+$/.test(text)) {
    const digits = text.charCodeAt(0) === 0x2b ? text.slice(1) : text;
    if (digits.length <= 15) return Number(digits) % 65536;
    const value = BigInt(digits);
    return value <= MAX_UNSIGNED_LONG ? Number(value % 65536n) : undefined;
  }
  return servicePort(text, lookup);
}

/**
 * `--sport`/`--dport` of tcp, sctp ("c": an empty end is 0 or 65535, a reversed range is refused) and of udp, dccp and
 * conntrack ("wrapping": up to two parts split at ':', a reversed range kept, matching no port).
 */
export function parsePortRange(text: string, numbers: PortNumbers, lookup: ServiceLookup): PortRange | undefined {
  const at = text.indexOf(":");
  if (at < 0) {
    const port = parsePort(text, numbers, lookup);
    return port === undefined ? undefined : { from: port, to: port };
  }
  const toText = text.slice(at + 1);
  if (numbers === "wrapping" && toText.includes(":")) return undefined;
  const from = at === 0 ? 0 : parsePort(text.slice(0, at), numbers, lookup);
  const to = toText === "" ? 65535 : parsePort(toText, numbers, lookup);
  if (from === undefined || to === undefined || (numbers === "c" && from > to)) return undefined;
  return { from, to };
}

export const formatPortRange = (r: PortRange, separator = ":"): string =>
  r.from === r.to ? String(r.from) : `${r.from}${separator}${r.to}`;

export const portRange = (numbers: PortNumbers, lookup: ServiceLookup): Codec => ({
  expected: "a port or range (N, N:M)",
  decode: ([text]) => {
    const range = parsePortRange(text!, numbers, lookup);
    return range ? { kind: "port-range", range } : fail();
  },
  encode: (v) => (v.kind === "port-range" ? [formatPortRange(v.range)] : mismatch(v)),
});

/**
 * The ports of a NAT target (parse_ports in libxt_NAT / libxt_REDIRECT): a C number or a service name (any protocol)
 * for the whole, or a C number then `-MAX` (a number, not below it) and for DNAT `/BASE`.
 */
export function parseNatPorts(text: string, withBase: boolean): { from: number; to: number; base?: number } | undefined {
  const first = readCNumber(text);
  if (first === undefined || first.value > 65535) {
    const named = servicePort(text, "tcp-or-udp");
    return named === undefined ? undefined : { from: named, to: named };
  }
  if (first.end === text.length) return { from: first.value, to: first.value };
  if (text[first.end] !== "-") return undefined;
  const rest = text.slice(first.end + 1);
  const second = readCNumber(rest);
  if (second === undefined || second.value > 65535 || second.value < first.value) return undefined;
  const to = second.value;
  const after = rest.slice(second.end);
  if (after === "") return { from: first.value, to };
  if (!withBase || after[0] !== "/") return undefined;
  const base = readCNumber(after, 1);
  if (base === undefined || base.end !== after.length || base.value > 65535) return undefined;
  return { from: first.value, to, base: base.value };
}

/** REDIRECT and MASQUERADE `--to-ports`. */
export const natPorts: Codec = {
  expected: "a port or range (N, N-M)",
  decode: ([text]) => {
    const ports = parseNatPorts(text!, false);
    return ports ? { kind: "port-range", range: { from: ports.from, to: ports.to } } : fail();
  },
  encode: (v) => (v.kind === "port-range" ? [formatPortRange(v.range, "-")] : mismatch(v)),
};

/** One item of a multiport list: a port, or FROM:TO with both ends and FROM below TO (parse_multi_ports). */
function multiportItem(text: string, lookup: ServiceLookup): PortRange | undefined {
  const at = text.indexOf(":");
  if (at < 0) {
    const port = parsePort(text, "c", lookup);
    return port === undefined ? undefined : { from: port, to: port };
  }
  const from = parsePort(text.slice(0, at), "c", lookup);
  const to = parsePort(text.slice(at + 1), "c", lookup);
  return from === undefined || to === undefined || from >= to ? undefined : { from, to };
}

/** libxt_multiport's list: service names are looked up for the rule's -p. */
export const portList: Codec = {
  expected: "a comma-separated list of ports or ranges (at most 15)",
  readsProtocol: true,
  decode: ([text], context) => {
    const ports: PortRange[] = [];
    let slots = 0;
    for (const item of text!.split(",")) {
      const range = multiportItem(item, context.protocol ?? "tcp-or-udp");
      if (!range) return fail();
      ports.push(range);
      slots += range.from === range.to ? 1 : 2;
    }
    return slots > 15 ? fail("more than 15 ports") : { kind: "port-list", ports };
  },
  encode: (v) => (v.kind === "port-list" ? [v.ports.map((r) => formatPortRange(r)).join(",")] : mismatch(v)),
};

/** `VALUE[/MASK]` for mark and connmark matches; printed in hex, mask only when not all ones. */
export const markMatch: Codec = {
  expected: "a mark VALUE[/MASK]",
  decode: ([text]) => {
    const [valueText, maskText, extra] = text!.split("/");
    const value = parseUnsigned(valueText!);
    const mask = maskText === undefined ? undefined : parseUnsigned(maskText);
    if (value === undefined || extra !== undefined || (maskText !== undefined && mask === undefined)) return fail();
    return { kind: "mark", value, mask };
  },
  encode: (v) => {
    if (v.kind !== "mark") return mismatch(v);
    const mask = v.mask ?? 0xffffffff;
    return [mask === 0xffffffff ? hex(v.value) : `${hex(v.value)}/${hex(mask)}`];
  },
};

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** Mark with the mask always printed (MARK/CONNMARK --set-xmark, TPROXY --tproxy-mark). */
export const xmark: Codec = {
  expected: "a mark VALUE[/MASK]",
  decode: markMatch.decode,
  encode: (v) => (v.kind === "mark" ? [`${hex(v.value)}/${hex(v.mask ?? 0xffffffff)}`] : mismatch(v)),
};

export const markMask: Codec = {
  expected: "a mask",
  decode: ([text]) => {
    const value = parseUnsigned(text!);
    return value === undefined ? fail() : { kind: "mark", value, mask: undefined };
  },
  encode: (v) => (v.kind === "mark" ? [hex(v.value)] : mismatch(v)),
};

/** Comma lists of names printed in a fixed order (ctstate, addrtype, ctstatus). */
export const nameList = (order: readonly string[], aliases: Record<string, string> = {}, caseInsensitive = true): Codec => ({
  expected: `a comma-separated list of ${order.join(", ")}`,
  decode: ([text]) => {
    const names = new Set<string>();
    for (const raw of text!.split(",")) {
      const key = caseInsensitive ? raw.toUpperCase() : raw;
      const name = aliases[key] ?? key;
      if (!order.includes(name)) return fail();
      names.add(name);
    }
    return { kind: "name-list", names: order.filter((n) => names.has(n)) };
  },
  encode: (v) => (v.kind === "name-list" ? [v.names.join(",")] : mismatch(v)),
});

/** One name from a fixed set, with aliases mapped to the name iptables-save prints. */
export const oneOf = (names: Record<string, string>, expected: string): Codec => ({
  expected,
  decode: ([text]) => {
    const name = names[text!] ?? names[text!.toLowerCase()];
    return name === undefined ? fail() : { kind: "string", value: name };
  },
  encode: (v) => (v.kind === "string" ? [v.value] : mismatch(v)),
});

const TCP_FLAGS = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"] as const;

function parseTcpFlags(text: string): string[] | undefined {
  const set = new Set<string>();
  for (const raw of text.split(",")) {
    const name = raw.toUpperCase();
    if (name === "ALL") TCP_FLAGS.forEach((f) => set.add(f));
    else if (name === "NONE") continue;
    else if ((TCP_FLAGS as readonly string[]).includes(name)) set.add(name);
    else return undefined;
  }
  return TCP_FLAGS.filter((f) => set.has(f));
}

const formatTcpFlags = (flags: readonly string[]): string => (flags.length === 0 ? "NONE" : flags.join(","));

export const tcpFlags: Codec = {
  expected: "MASK COMPARE (comma lists of FIN,SYN,RST,PSH,ACK,URG, ALL or NONE)",
  decode: ([maskText, compareText]) => {
    const mask = parseTcpFlags(maskText!);
    const compare = parseTcpFlags(compareText!);
    return mask && compare ? { kind: "tcp-flags", mask, compare } : fail();
  },
  encode: (v) => (v.kind === "tcp-flags" ? [formatTcpFlags(v.mask), formatTcpFlags(v.compare)] : mismatch(v)),
};

/** libxt_icmp's type for `any` (every type). */
const ICMP_ANY = 0xff;

const ICMP_TYPES: Record<string, [number, number?]> = {
  any: [ICMP_ANY], "echo-reply": [0], pong: [0], "destination-unreachable": [3], "network-unreachable": [3, 0],
  "host-unreachable": [3, 1], "protocol-unreachable": [3, 2], "port-unreachable": [3, 3],
  "fragmentation-needed": [3, 4], "source-route-failed": [3, 5], "network-unknown": [3, 6], "host-unknown": [3, 7],
  "network-prohibited": [3, 9], "host-prohibited": [3, 10], "TOS-network-unreachable": [3, 11],
  "TOS-host-unreachable": [3, 12], "communication-prohibited": [3, 13], "host-precedence-violation": [3, 14],
  "precedence-cutoff": [3, 15], "source-quench": [4], redirect: [5], "network-redirect": [5, 0],
  "host-redirect": [5, 1], "TOS-network-redirect": [5, 2], "TOS-host-redirect": [5, 3], "echo-request": [8],
  ping: [8], "router-advertisement": [9], "router-solicitation": [10], "time-exceeded": [11], "ttl-exceeded": [11],
  "ttl-zero-during-transit": [11, 0], "ttl-zero-during-reassembly": [11, 1], "parameter-problem": [12],
  "ip-header-bad": [12, 0], "required-option-missing": [12, 1], "timestamp-request": [13], "timestamp-reply": [14],
  "address-mask-request": [17], "address-mask-reply": [18],
};

const ICMPV6_TYPES: Record<string, [number, number?]> = {
  "destination-unreachable": [1], "no-route": [1, 0], "communication-prohibited": [1, 1], "beyond-scope": [1, 2],
  "address-unreachable": [1, 3], "port-unreachable": [1, 4], "failed-policy": [1, 5], "reject-route": [1, 6],
  "packet-too-big": [2], "time-exceeded": [3], "ttl-exceeded": [3], "ttl-zero-during-transit": [3, 0],
  "ttl-zero-during-reassembly": [3, 1], "parameter-problem": [4], "bad-header": [4, 0],
  "unknown-header-type": [4, 1], "unknown-option": [4, 2], "echo-request": [128], ping: [128], "echo-reply": [129],
  pong: [129], "mld-listener-query": [130], "mld-listener-report": [131], "mld-listener-done": [132],
  "mld-listener-reduction": [132], "router-solicitation": [133], "router-advertisement": [134],
  "neighbour-solicitation": [135], "neighbor-solicitation": [135], "neighbour-advertisement": [136],
  "neighbor-advertisement": [136], redirect: [137],
};

/**
 * The entry a name picks as parse_icmp does: any case, and any prefix of exactly one name (`echo-req`, `an`); a prefix
 * of several names is ambiguous (`echo`), and picks none. Undefined: not a prefix of any name.
 */
function icmpEntry(text: string, table: Record<string, [number, number?]>): [name: string, entry: [number, number?]] | "ambiguous" | undefined {
  const wanted = text.toLowerCase();
  let found: [string, [number, number?]] | undefined;
  for (const name in table) {
    if (!name.toLowerCase().startsWith(wanted)) continue;
    if (found !== undefined) return "ambiguous";
    found = [name, table[name]!];
  }
  return found;
}

export const icmpType = (version: 4 | 6): Codec => ({
  expected: `an ICMP${version === 6 ? "v6" : ""} type name, TYPE or TYPE/CODE`,
  decode: ([text]) => {
    const named = icmpEntry(text!, version === 4 ? ICMP_TYPES : ICMPV6_TYPES);
    if (named === "ambiguous") return fail(`a name (or prefix) of one ICMP${version === 6 ? "v6" : ""} type`);
    if (named !== undefined) {
      const [name, [type, code]] = named;
      if (type === ICMP_ANY) return { kind: "icmp-type", type: "any" };
      return { kind: "icmp-type", type, code: code === undefined ? undefined : { from: code, to: code }, name };
    }
    const slash = text!.indexOf("/");
    const type = parseUnsigned(slash < 0 ? text! : text!.slice(0, slash), 255);
    const code = slash < 0 ? undefined : parseUnsigned(text!.slice(slash + 1), 255);
    if (type === undefined || (slash >= 0 && code === undefined)) return fail();
    // The kernel's icmp match takes type 255 for any type, whatever the code.
    if (version === 4 && type === ICMP_ANY) return { kind: "icmp-type", type: "any" };
    return { kind: "icmp-type", type, code: code === undefined ? undefined : { from: code, to: code } };
  },
  encode: (v) => {
    if (v.kind !== "icmp-type") return mismatch(v);
    if (v.type === "any") return ["any"];
    return [v.code === undefined ? String(v.type) : `${v.type}/${v.code.from}`];
  },
});

/** conntrack's addresses: kept unmasked (the kernel masks when matching), no `/32` for a host. */
export const extensionAddress: Codec = {
  expected: "an address[/mask]",
  decode: ([text], context) => {
    const parsed = parseAddressMask(text!, context.family, false, "getaddrinfo");
    return typeof parsed === "string" ? fail() : { kind: "address", address: parsed };
  },
  // libxt_conntrack prints a prefix only when the mask is contiguous; other masks vanish from the text.
  encode: (v) => (v.kind === "address" ? [v.address.prefix === undefined ? v.address.address : formatAddressMaskShort(v.address)] : mismatch(v)),
};

/** A bare address (recent --mask, TPROXY --on-ip), printed as an address. */
export const bareAddress: Codec = {
  expected: "an address",
  decode: ([text], context) => {
    const parsed = parseAddress(text!, context.family, "getaddrinfo");
    if (!parsed) return fail();
    const formatted = formatAddress(parsed);
    return { kind: "address-range", from: formatted, to: formatted };
  },
  encode: (v) => (v.kind === "address-range" ? [v.from] : mismatch(v)),
};

export const addressRange: Codec = {
  expected: "FROM-TO addresses",
  decode: ([text], context) => {
    const [fromText, toText, extra] = text!.split("-");
    const from = fromText === undefined ? undefined : parseAddress(fromText, context.family, "numeric");
    const to = toText === undefined ? from : parseAddress(toText, context.family, "numeric");
    if (!from || !to || extra !== undefined) return fail();
    return { kind: "address-range", from: formatAddress(from), to: formatAddress(to) };
  },
  encode: (v) => (v.kind === "address-range" ? [`${v.from}-${v.to}`] : mismatch(v)),
};

/** DNAT/SNAT `--to-destination`: `[IP[-IP]][:PORT[-PORT[/BASE]]]`, IPv6 as `[ADDR[-ADDR]]:PORT`. */
export const natRange: Codec = {
  expected: "ADDR[-ADDR][:PORT[-PORT]] (IPv6: [ADDR]:PORT)",
  decode: ([text], context) => {
    let addressPart = text!;
    let portPart: string | undefined;
    if (context.family === "ipv6" && addressPart.startsWith("[")) {
      const close = addressPart.indexOf("]");
      if (close < 0) return fail();
      portPart = addressPart.slice(close + 1);
      if (portPart !== "" && !portPart.startsWith(":")) return fail();
      portPart = portPart === "" ? undefined : portPart.slice(1);
      addressPart = addressPart.slice(1, close);
    } else if (context.family === "ipv6" && addressPart.startsWith(":") && parseAddress(addressPart.split("-")[0]!, "ipv6", "pton") === undefined) {
      // `:PORT` without an address: `::1` is an address, `:80` is not.
      portPart = addressPart.slice(1);
      addressPart = "";
    } else if (context.family === "ipv4") {
      const colon = addressPart.indexOf(":");
      if (colon >= 0) {
        portPart = addressPart.slice(colon + 1);
        addressPart = addressPart.slice(0, colon);
      }
    }
    const range: NatRange = {};
    if (addressPart !== "") {
      const dash = addressPart.indexOf("-");
      const from = parseAddress(dash < 0 ? addressPart : addressPart.slice(0, dash), context.family, "pton");
      const to = dash < 0 ? from : parseAddress(addressPart.slice(dash + 1), context.family, "pton");
      if (!from || !to) return fail();
      range.fromAddress = formatAddress(from);
      range.toAddress = dash < 0 ? range.fromAddress : formatAddress(to);
    }
    if (portPart !== undefined) {
      const ports = parseNatPorts(portPart, true);
      if (ports === undefined) return fail();
      range.fromPort = ports.from;
      range.toPort = ports.to;
      if (ports.base !== undefined) range.basePort = ports.base;
    }
    if (range.fromAddress === undefined && range.fromPort === undefined) return fail();
    return { kind: "nat-range", range };
  },
  encode: (v, context) => {
    if (v.kind !== "nat-range") return mismatch(v);
    const r = v.range;
    let address = r.fromAddress === undefined ? "" : r.fromAddress;
    if (r.toAddress !== undefined && r.toAddress !== r.fromAddress) address += `-${r.toAddress}`;
    let ports = "";
    if (r.fromPort !== undefined) {
      ports = `:${r.fromPort}`;
      if (r.toPort !== undefined && r.toPort !== r.fromPort) ports += `-${r.toPort}`;
      if (r.basePort !== undefined) ports += `/${r.basePort}`;
    }
    if (context.family === "ipv6" && ports !== "" && address !== "") return [`[${address}]${ports}`];
    return [address + ports];
  },
};

/** The kernel keeps a random probability as round(p·2^31); iptables-save prints it with `%.11f`. */
export const probability: Codec = {
  expected: "a probability from 0 to 1",
  decode: ([text]) => {
    if (!/^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text!)) return fail();
    const value = Number(text);
    if (!(value >= 0 && value <= 1)) return fail();
    return { kind: "probability", value, stored: Math.round(value * 0x80000000) };
  },
  encode: (v) => (v.kind === "probability" ? [formatStoredProbability(v.stored)] : mismatch(v)),
};

/** Exact `%.11f` of stored/2^31, rounding half to even like glibc's printf. */
export function formatStoredProbability(stored: number): string {
  const scaled = BigInt(stored) * 10n ** 11n;
  const denominator = 1n << 31n;
  let quotient = scaled / denominator;
  const remainder = scaled % denominator;
  const twice = remainder * 2n;
  if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) quotient++;
  const digits = quotient.toString().padStart(12, "0");
  return `${digits.slice(0, -11)}.${digits.slice(-11)}`;
}

const LIMIT_SCALE = 10000;
const RATE_UNITS = [
  { name: "day", word: "day", mult: LIMIT_SCALE * 24 * 60 * 60 },
  { name: "hour", word: "hour", mult: LIMIT_SCALE * 60 * 60 },
  { name: "min", word: "minute", mult: LIMIT_SCALE * 60 },
  { name: "sec", word: "second", mult: LIMIT_SCALE },
] as const;

const LONG_MAX = (1n << 63n) - 1n;

/** C's atoi (strtol clamped to long, then cut to int) of an optional sign and leading digits, as the uint32 libxt_limit keeps. */
function atoiUnsigned(text: string): number {
  const m = /^([+-]?)(\d*)/.exec(text)!;
  if (m[2] === "") return 0;
  let value = BigInt(m[2]!);
  if (m[1] === "-") value = value > LONG_MAX + 1n ? -(LONG_MAX + 1n) : -value;
  else if (value > LONG_MAX) value = LONG_MAX;
  return Number(BigInt.asUintN(32, value));
}

/** limit's `N/unit`: stored as a period, printed back with the largest exact unit (libxt_limit print_rate). */
/**
 * libxt_limit's parse_rate: atoi of the count (leading digits, after an optional sign; 0 refused, a negative wraps to
 * a huge unsigned count), `/` then a prefix of second, minute, hour or day in any case.
 */
export const rate: Codec = {
  expected: "a rate N/sec, N/min, N/hour or N/day",
  decode: ([text]) => {
    const slash = text!.indexOf("/");
    let unit: (typeof RATE_UNITS)[number] | undefined = RATE_UNITS[RATE_UNITS.length - 1];
    if (slash >= 0) {
      const wanted = text!.slice(slash + 1).toLowerCase();
      unit = wanted === "" ? undefined : RATE_UNITS.findLast((u) => u.word.startsWith(wanted));
    }
    const count = atoiUnsigned(slash < 0 ? text! : text!.slice(0, slash));
    if (!unit || count === 0) return fail();
    const period = Math.floor(unit.mult / count);
    if (period === 0) return fail("a rate of at most 10000/sec");
    return { kind: "rate", per: period, unit: unit.name };
  },
  encode: (v) => {
    if (v.kind !== "rate") return mismatch(v);
    const period = v.per;
    let i = 1;
    for (; i < RATE_UNITS.length; i++) {
      const mult = RATE_UNITS[i]!.mult;
      if (period > mult || Math.floor(mult / period) < mult % period) break;
    }
    const unit = RATE_UNITS[i - 1]!;
    return [`${Math.floor(unit.mult / period)}/${unit.name}`];
  },
};

export const setSpec: Codec = {
  expected: "SETNAME src|dst[,src|dst…]",
  decode: ([name, flags]) => {
    const directions: ("src" | "dst")[] = [];
    for (const f of flags!.split(",")) {
      if (f !== "src" && f !== "dst") return fail();
      directions.push(f);
    }
    if (name!.length === 0 || directions.length === 0 || directions.length > 6) return fail();
    return { kind: "set", name: name!, directions };
  },
  encode: (v) => (v.kind === "set" ? [v.name, v.directions.join(",")] : mismatch(v)),
};

export const macAddress: Codec = {
  expected: "a MAC address XX:XX:XX:XX:XX:XX",
  decode: ([text]) =>
    /^([0-9A-Fa-f]{1,2}:){5}[0-9A-Fa-f]{1,2}$/.test(text!)
      ? { kind: "string", value: text!.split(":").map((b) => b.padStart(2, "0").toLowerCase()).join(":") }
      : fail(),
  encode: (v) => (v.kind === "string" ? [v.value] : mismatch(v)),
};

export const interfaceName: Codec = {
  expected: "an interface name (at most 15 characters)",
  decode: ([text]) => {
    const problem = interfaceProblem(text!);
    if (problem === "too-long") return fail();
    const value: OptionValue = { kind: "string", value: text! };
    return problem === "impossible" ? { adjusted: value, warning: IMPOSSIBLE_INTERFACE } : value;
  },
  encode: (v) => (v.kind === "string" ? [v.value] : mismatch(v)),
};

/**
 * What xtables_parse_interface says of a name: over 15 characters is refused; '/' or a space only draws a warning
 * (no kernel interface has one, so the rule never matches); empty matches any interface.
 */
export const IMPOSSIBLE_INTERFACE = "no interface name has '/' or a space, so the rule never matches";

export function interfaceProblem(name: string): "too-long" | "impossible" | undefined {
  if (name.length > 15) return "too-long";
  return !name.endsWith("+") && /[/ ]/.test(name) ? "impossible" : undefined;
}

/** owner's uid/gid: `N` or `N-M`; names only for root, the one name that is the same everywhere. */
export const idRange: Codec = {
  expected: "a numeric id or range N-M",
  decode: ([text]) => {
    const m = /^(\d+|root)(?:-(\d+))?$/.exec(text!);
    if (!m) return fail();
    const from = m[1] === "root" ? 0 : Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    return from > to || to > 0xffffffff ? fail() : { kind: "number-range", from, to };
  },
  encode: (v) => (v.kind === "number-range" ? [v.from === v.to ? String(v.from) : `${v.from}-${v.to}`] : mismatch(v)),
};

export { parseUnsigned, readCNumber };
