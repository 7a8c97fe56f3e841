// Addresses as four 32-bit words (IPv4 uses the last word only), so that every match on an
// address is four integer comparisons whatever the family.

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../model/addresses.js";
import type { AddressMask, Family } from "../model/types.js";

export type Words = readonly [number, number, number, number];

export interface Ip {
  readonly family: Family;
  readonly text: string;
  readonly words: Words;
}

export interface Net {
  readonly words: Words;
  readonly mask: Words;
}

function wordsOfBigInt(value: bigint): Words {
  return [
    Number((value >> 96n) & 0xffffffffn),
    Number((value >> 64n) & 0xffffffffn),
    Number((value >> 32n) & 0xffffffffn),
    Number(value & 0xffffffffn),
  ];
}

function bigIntOfWords(words: Words): bigint {
  return (BigInt(words[0]) << 96n) | (BigInt(words[1]) << 64n) | (BigInt(words[2]) << 32n) | BigInt(words[3]);
}

function parseWords(text: string, family: Family): Words | undefined {
  if (family === "ipv4") {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : [0, 0, 0, v4];
  }
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : wordsOfBigInt(v6);
}

function formatWords(words: Words, family: Family): string {
  return family === "ipv4" ? formatIpv4(words[3]) : formatIpv6(bigIntOfWords(words));
}

/** Parses an address of the given family; the text is normalised (`::0:1` → `::1`). */
export function parseIp(text: string, family: Family): Ip | undefined {
  const words = parseWords(text, family);
  return words === undefined ? undefined : { family, text: formatWords(words, family), words };
}

export function ipOfWords(words: Words, family: Family): Ip {
  return { family, text: formatWords(words, family), words };
}

export function familyOfAddress(text: string): Family | undefined {
  if (parseIpv4(text) !== undefined) return "ipv4";
  if (parseIpv6(text) !== undefined) return "ipv6";
  return undefined;
}

/** The network of an address/mask; the address is masked here (conntrack options keep it unmasked). */
export function netOf(a: AddressMask): Net {
  const mask = parseWords(a.mask, a.family) ?? [0, 0, 0, 0];
  return { words: and(parseWords(a.address, a.family) ?? [0, 0, 0, 0], mask), mask };
}

export function parseNet(text: string, family: Family): Net | undefined {
  const slash = text.indexOf("/");
  const address = parseWords(slash < 0 ? text : text.slice(0, slash), family);
  if (address === undefined) return undefined;
  const bits = family === "ipv4" ? 32 : 128;
  const prefix = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const mask = prefixMask(family === "ipv4" ? prefix + 96 : prefix);
  return { words: and(address, mask), mask };
}

function prefixMask(prefix128: number): Words {
  const word = (i: number): number => {
    const bits = Math.min(32, Math.max(0, prefix128 - 32 * i));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  return [word(0), word(1), word(2), word(3)];
}

function and(a: Words, b: Words): Words {
  return [(a[0] & b[0]) >>> 0, (a[1] & b[1]) >>> 0, (a[2] & b[2]) >>> 0, (a[3] & b[3]) >>> 0];
}

export function inNet(ip: Words, net: Net): boolean {
  const m = net.mask;
  const n = net.words;
  return (
    ((ip[3] & m[3]) >>> 0) === n[3] && ((ip[2] & m[2]) >>> 0) === n[2] && ((ip[1] & m[1]) >>> 0) === n[1] && ((ip[0] & m[0]) >>> 0) === n[0]
  );
}

export function compareWords(a: Words, b: Words): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

export function isHostNet(net: Net, family: Family): boolean {
  return net.mask[3] === 0xffffffff && (family === "ipv4" || (net.mask[0] === 0xffffffff && net.mask[1] === 0xffffffff && net.mask[2] === 0xffffffff));
}

const LOOPBACK_V4 = parseNet("127.0.0.0/8", "ipv4")!;
const MULTICAST_V4 = parseNet("224.0.0.0/4", "ipv4")!;
const MULTICAST_V6 = parseNet("ff00::/8", "ipv6")!;
const LOOPBACK_V6 = parseNet("::1/128", "ipv6")!;

export function isLoopback(ip: Ip): boolean {
  return inNet(ip.words, ip.family === "ipv4" ? LOOPBACK_V4 : LOOPBACK_V6);
}

export function isMulticast(ip: Ip): boolean {
  return inNet(ip.words, ip.family === "ipv4" ? MULTICAST_V4 : MULTICAST_V6);
}

export function isLimitedBroadcast(ip: Ip): boolean {
  return ip.family === "ipv4" && ip.words[3] === 0xffffffff;
}

export function isUnspecified(ip: Ip): boolean {
  return ip.words[0] === 0 && ip.words[1] === 0 && ip.words[2] === 0 && ip.words[3] === 0;
}

/** `10.0.0.1:80`, `[2001:db8::1]:80`, or the bare address when there is no port. */
export function formatEndpoint(address: string, port: number | string | undefined, family: Family): string {
  if (port === undefined) return address;
  // Addresses known only by role, "(address of eth0)", need no brackets to be read.
  return family === "ipv6" && !address.startsWith("(") ? `[${address}]:${port}` : `${address}:${port}`;
}
