// IPv4/IPv6 addresses as iptables reads and prints them: masks applied on input, inet_ntop
// (glibc flavour) on output, `/32` and `/128` always, non-CIDR masks in address notation.

import { parseUnsigned, readCNumber } from "./numbers.js";
import type { AddressMask, Family } from "./types.js";

export type ParsedAddress = { family: "ipv4"; value: number } | { family: "ipv6"; value: bigint };

/** `a.b.c.d`, each part 1 to 3 decimal digits up to 255 (what /^(\d{1,3})(\.\d{1,3}){3}$/ and a range check accept). */
export function parseIpv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) {
      if (++digits > 3) return undefined;
      octet = octet * 10 + (code - 0x30);
    } else if (code === 0x2e && digits > 0 && parts < 3) {
      if (octet > 255) return undefined;
      value = value * 256 + octet;
      parts++;
      octet = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  if (parts !== 3 || digits === 0 || octet > 255) return undefined;
  return value * 256 + octet;
}

/**
 * How an iptables parser reads an IPv4 address. "iptables" (-s/-d): xtables_numeric_to_ipaddr (its first 19 characters,
 * up to four C-number octets, the missing ones zero: `10.1` is 10.1.0.0, `010.0.0.1` is 8.0.0.1), else what getaddrinfo
 * takes without a lookup. "getaddrinfo" (conntrack, recent): only that, inet_aton (`10.1` is 10.0.0.1, `167772161`,
 * `10.65535`: the last part fills the bytes left). "numeric" (iprange): only xtables_numeric_to_ipaddr. "pton" (NAT
 * targets): inet_pton, four decimal octets without leading zeros.
 */
export type Ipv4Syntax = "iptables" | "getaddrinfo" | "numeric" | "pton";

export function parseIpv4As(text: string, syntax: Ipv4Syntax): number | undefined {
  // Most addresses are plain dotted decimals, which every parser reads alike.
  if (!LEADING_ZERO.test(text)) {
    const plain = parseIpv4(text);
    if (plain !== undefined || syntax === "pton") return plain;
  } else if (syntax === "pton") return undefined;
  switch (syntax) {
    case "iptables":
      return numericIpv4(text.slice(0, 19), 4, true) ?? inetAton(text);
    case "getaddrinfo":
      return inetAton(text);
    case "numeric":
      return numericIpv4(text.slice(0, 19), 4, true);
    default: {
      const never: never = syntax;
      throw new Error(`unhandled IPv4 syntax ${String(never)}`);
    }
  }
}

/** A part that starts with 0 and goes on: octal (or hex) for C, an error for inet_pton. */
const LEADING_ZERO = /(?:^|\.)\+?0[0-9a-zA-Z]/;

/** Up to `parts` dot-separated C-number octets; with `complete`, fewer are padded with zero octets. */
function numericIpv4(text: string, parts: number, complete: boolean): number | undefined {
  let value = 0;
  let at = 0;
  for (let part = 0; part < parts; part++) {
    const read = readCNumber(text, at);
    if (read === undefined || read.value > 255) return undefined;
    value = value * 256 + read.value;
    if (read.end === text.length) return complete || part === parts - 1 ? value * 256 ** (parts - 1 - part) : undefined;
    if (text[read.end] !== "." || part === parts - 1) return undefined;
    at = read.end + 1;
  }
  return undefined;
}

function inetAton(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length > 4) return undefined;
  let value = 0;
  for (let i = 0; i < parts.length; i++) {
    const read = readCNumber(parts[i]!);
    if (read === undefined || read.end !== parts[i]!.length || parts[i]![0] === "+") return undefined;
    const last = i === parts.length - 1;
    const limit = last ? 256 ** (4 - i) : 256;
    if (read.value >= limit) return undefined;
    value = last ? value * limit + read.value : value * 256 + read.value;
  }
  return value;
}

const OCTETS = Array.from({ length: 256 }, (_, i) => String(i));

// Model strings are built with join, which gives one flat string, where concatenation
// would leave a tree of string objects behind every address of a large dump.
export function formatIpv4(value: number): string {
  return [OCTETS[(value >>> 24) & 255], OCTETS[(value >>> 16) & 255], OCTETS[(value >>> 8) & 255], OCTETS[value & 255]].join(".");
}

export function parseIpv6(text: string): bigint | undefined {
  const words = parseIpv6Words(text);
  return words === undefined ? undefined : wordsToBigInt(words);
}

function wordsToBigInt(words: readonly number[]): bigint {
  let value = 0n;
  for (const w of words) value = (value << 16n) | BigInt(w);
  return value;
}

/** The eight 16-bit words of an IPv6 address (BigInt arithmetic is slow for the many addresses of a dump). */
function parseIpv6Words(text: string): number[] | undefined {
  if (text.length < 2 || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let head = text;
  let tailWords: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailWords = [v4 >>> 16, v4 & 0xffff];
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const parseWords = (part: string): number[] | undefined => {
    if (part === "") return [];
    const words: number[] = [];
    for (const w of part.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(w)) return undefined;
      words.push(parseInt(w, 16));
    }
    return words;
  };
  const left = parseWords(halves[0]!);
  const right = halves.length === 2 ? parseWords(halves[1]!) : [];
  if (!left || !right) return undefined;
  const explicit = left.length + right.length + tailWords.length;
  let words: number[];
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    words = [...left, ...new Array<number>(8 - explicit).fill(0), ...right, ...tailWords];
  } else {
    if (explicit !== 8) return undefined;
    words = [...left, ...tailWords];
  }
  return words;
}

/** inet_ntop as glibc writes it, including `::a.b.c.d` for IPv4-compatible and -mapped addresses. */
export function formatIpv6(value: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  return formatIpv6Words(words);
}

function formatIpv6Words(words: readonly number[]): string {
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out.push(":");
      continue;
    }
    if (i !== 0) out.push(":");
    const embedsIpv4 =
      i === 6 &&
      bestBase === 0 &&
      (bestLen === 6 || (bestLen === 7 && words[7] !== 1) || (bestLen === 5 && words[5] === 0xffff));
    if (embedsIpv4) {
      out.push(formatIpv4(((words[6]! << 16) | words[7]!) >>> 0));
      break;
    }
    out.push(words[i]!.toString(16));
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out.push(":");
  return out.join("");
}

/** An address as the option's parser reads one (IPv6: inet_pton, always). */
export function parseAddress(text: string, family: Family, syntax: Ipv4Syntax): ParsedAddress | undefined {
  if (family === "ipv4") {
    const value = parseIpv4As(text, syntax);
    return value === undefined ? undefined : { family, value };
  }
  const value = parseIpv6(text);
  return value === undefined ? undefined : { family, value };
}

export function formatAddress(address: ParsedAddress): string {
  return address.family === "ipv4" ? formatIpv4(address.value) : formatIpv6(address.value);
}

const V4_ALL = 0xffffffff;
const V6_ALL = (1n << 128n) - 1n;

/** The masks of each prefix length, computed once (BigInt shifts are slow), and back. */
const V4_MASKS = Array.from({ length: 33 }, (_, prefix) => (prefix === 0 ? 0 : (V4_ALL << (32 - prefix)) >>> 0));
const V6_MASKS = Array.from({ length: 129 }, (_, prefix) => (prefix === 0 ? 0n : (V6_ALL << BigInt(128 - prefix)) & V6_ALL));
const V4_PREFIXES = new Map(V4_MASKS.map((mask, prefix) => [mask, prefix]));
const V6_PREFIXES = new Map(V6_MASKS.map((mask, prefix) => [mask, prefix]));

const V6_MASK_WORDS = V6_MASKS.map((mask) => Array.from({ length: 8 }, (_, i) => Number((mask >> BigInt((7 - i) * 16)) & 0xffffn)));

const v4MaskFromPrefix = (prefix: number): number => V4_MASKS[prefix]!;
const v6MaskFromPrefix = (prefix: number): bigint => V6_MASKS[prefix]!;
const v4Prefix = (mask: number): number | undefined => V4_PREFIXES.get(mask);
const v6Prefix = (mask: bigint): number | undefined => V6_PREFIXES.get(mask);

/** Mask texts by prefix length: every address of a dump shares them. */
const V4_MASK_TEXT = V4_MASKS.map(formatIpv4);
const V6_MASK_TEXT: string[] = [];

function v6MaskText(prefix: number): string {
  return (V6_MASK_TEXT[prefix] ??= formatIpv6(v6MaskFromPrefix(prefix)));
}

export type AddressProblem = "bad-address" | "bad-mask" | "hostname";

/**
 * Parses `ADDR[/PREFIX|/MASK]` as iptables does for -s/-d: the address is stored masked,
 * a missing mask means a host.
 */
export function parseAddressMask(text: string, family: Family, applyMask = true, syntax: Ipv4Syntax = "iptables"): AddressMask | AddressProblem {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const maskText = slash < 0 ? undefined : text.slice(slash + 1);
  if (family === "ipv6") return parseIpv6Mask(addressText, maskText, applyMask);
  const address = parseIpv4As(addressText, syntax);
  if (address === undefined) return unparsable(addressText);
  let mask = V4_ALL;
  if (maskText !== undefined) {
    const prefix = parseUnsigned(maskText, 32);
    const dotted = prefix === undefined ? parseIpv4(maskText) ?? numericIpv4(maskText.slice(0, 19), 4, false) : undefined;
    if (prefix === undefined && dotted === undefined) return "bad-mask";
    mask = prefix === undefined ? dotted! : v4MaskFromPrefix(prefix);
  }
  const value = applyMask ? (address & mask) >>> 0 : address;
  const prefix = v4Prefix(mask);
  return { address: formatIpv4(value), prefix, mask: prefix === undefined ? formatIpv4(mask) : V4_MASK_TEXT[prefix]!, family };
}

const unparsable = (address: string): AddressProblem => (/^[A-Za-z][A-Za-z0-9.-]*$/.test(address) ? "hostname" : "bad-address");

function parseIpv6Mask(addressText: string, maskText: string | undefined, applyMask: boolean): AddressMask | AddressProblem {
  const words = parseIpv6Words(addressText);
  if (!words) return unparsable(addressText);
  let mask = V6_MASK_WORDS[128]!;
  let prefix: number | undefined = 128;
  if (maskText !== undefined) {
    const bits = parseUnsigned(maskText, 128);
    if (bits !== undefined) {
      prefix = bits;
      mask = V6_MASK_WORDS[prefix]!;
    } else {
      const full = parseIpv6Words(maskText);
      if (full === undefined) return "bad-mask";
      mask = full;
      prefix = v6Prefix(wordsToBigInt(full));
    }
  }
  const value = applyMask ? words.map((word, i) => word & mask[i]!) : words;
  return { address: formatIpv6Words(value), prefix, mask: prefix === undefined ? formatIpv6Words(mask) : v6MaskText(prefix), family: "ipv6" };
}

/** `ADDR/PREFIX` (or `ADDR/MASK`) as iptables-save prints -s/-d. */
export function formatAddressMask(a: AddressMask): string {
  return `${a.address}/${a.prefix ?? a.mask}`;
}

/** Addresses inside extensions (conntrack, recent): no `/32` for a host. */
export function formatAddressMaskShort(a: AddressMask): string {
  const host = a.family === "ipv4" ? 32 : 128;
  return a.prefix === host ? a.address : formatAddressMask(a);
}

export function isAnyAddress(a: AddressMask): boolean {
  return a.prefix === 0;
}

export function addressToBigInt(text: string): bigint | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return BigInt(v4);
  return parseIpv6(text);
}

/** True if `address` (canonical text) lies in the network `a`. */
export function addressInNetwork(address: string, a: AddressMask): boolean {
  if (a.family === "ipv4") {
    const value = parseIpv4(address);
    const network = parseIpv4(a.address);
    const mask = parseIpv4(a.mask);
    if (value === undefined || network === undefined || mask === undefined) return false;
    return ((value & mask) >>> 0) === network;
  }
  const value = parseIpv6(address);
  const network = parseIpv6(a.address);
  const mask = parseIpv6(a.mask);
  if (value === undefined || network === undefined || mask === undefined) return false;
  return (value & mask) === network;
}
