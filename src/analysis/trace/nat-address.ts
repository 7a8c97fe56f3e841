// The address NAT picks from a range of several: find_best_ips_proto hashes the connection's addresses, so the
// choice is the same for every connection between the same two hosts, and it can be worked out here.

import { ipOfWords, type Ip, type Words } from "../ip.js";

const rotate = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The kernel's jhash2 (lookup3) over 32-bit words. */
function jhash2(key: readonly number[], initval: number): number {
  let a = (0xdeadbeef + (key.length << 2) + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  for (; key.length - i > 3; i += 3) {
    a = (a + key[i]!) >>> 0;
    b = (b + key[i + 1]!) >>> 0;
    c = (c + key[i + 2]!) >>> 0;
    a = ((a - c) ^ rotate(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = ((b - a) ^ rotate(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = ((c - b) ^ rotate(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = ((a - c) ^ rotate(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = ((b - a) ^ rotate(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = ((c - b) ^ rotate(b, 4)) >>> 0;
    b = (b + a) >>> 0;
  }
  const left = key.length - i;
  if (left === 0) return c;
  if (left >= 3) c = (c + key[i + 2]!) >>> 0;
  if (left >= 2) b = (b + key[i + 1]!) >>> 0;
  a = (a + key[i]!) >>> 0;
  c = ((c ^ b) - rotate(b, 14)) >>> 0;
  a = ((a ^ c) - rotate(c, 11)) >>> 0;
  b = ((b ^ a) - rotate(a, 25)) >>> 0;
  c = ((c ^ b) - rotate(b, 16)) >>> 0;
  a = ((a ^ c) - rotate(c, 4)) >>> 0;
  b = ((b ^ a) - rotate(a, 14)) >>> 0;
  c = ((c ^ b) - rotate(b, 24)) >>> 0;
  return c;
}

const byteSwap = (x: number) => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/**
 * union nf_inet_addr as the kernel's words: IPv4 in the first, and each word the address's bytes in network
 * order read by a little-endian CPU, which nearly every node is (x86-64, arm64).
 */
function kernelWords(ip: Ip): number[] {
  const words = ip.family === "ipv4" ? [ip.words[3], 0, 0, 0] : [...ip.words];
  return words.map(byteSwap);
}

/** reciprocal_scale: `value` scaled into [0, range). */
const scale = (value: number, range: number) => Number((BigInt(value) * BigInt(range)) >> 32n);

/**
 * find_best_ips_proto: the address of [first, last] for a connection from `source` to `destination` (conntrack
 * zone 0). It writes each word of the pick into the tuple before it mixes that word of the destination into the
 * hash: for destination NAT that is the word just picked, not the destination's.
 */
export function natRangeAddress(source: Ip, destination: Ip, first: Ip, last: Ip, persistent: boolean, rewrites: "source" | "destination"): Ip {
  const family = first.family;
  const max = family === "ipv4" ? 0 : 3;
  const destinationWords = kernelWords(destination);
  let j = jhash2(kernelWords(source), persistent ? 0 : destinationWords[max]!);
  const low = family === "ipv4" ? [first.words[3]] : first.words;
  const high = family === "ipv4" ? [last.words[3]] : last.words;
  const picked: number[] = [];
  let fullRange = false;
  for (let i = 0; i <= max; i++) {
    const minimum = fullRange ? 0 : low[i]!;
    const distance = fullRange ? 0xffffffff : (high[i]! - low[i]! + 1) >>> 0;
    const word = (minimum + scale(j, distance)) >>> 0;
    picked.push(word);
    if (word !== high[i]) fullRange = true;
    if (!persistent) j = (j ^ (rewrites === "destination" ? byteSwap(word) : destinationWords[i]!)) >>> 0;
  }
  const words: Words = family === "ipv4" ? [0, 0, 0, picked[0]!] : [picked[0]!, picked[1]!, picked[2]!, picked[3]!];
  return ipOfWords(words, family);
}
