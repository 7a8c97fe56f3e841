// kube-proxy's names: the comments it writes on its rules and the hashed chain names.

import { hash } from "node:crypto";
import type { Family, Rule } from "../../model/types.js";
import { formatEndpoint } from "../ip.js";
import type { Frontend, ServiceName } from "./types.js";

export type ServiceChainKind = "SVC" | "SVL" | "EXT" | "FW" | "XLB" | "SEP";

const CHAIN_KINDS: ReadonlySet<string> = new Set<ServiceChainKind>(["SVC", "SVL", "EXT", "FW", "XLB", "SEP"]);
const HASH_LENGTH = 16;

/** A base32 character as kube-proxy's hashes use them: A-Z and 2-7. */
function isHashCharacter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 50 && code <= 55);
}

/** The kind of a `KUBE-SVC-<hash>` chain or one of its siblings; undefined for any other chain name. */
export function serviceChainKind(name: string): ServiceChainKind | undefined {
  // Read by hand: every chain and every jump of a large dump is asked, and a regular expression costs more.
  const dash = name.length - HASH_LENGTH - 1;
  if (dash < 7 || name.charCodeAt(dash) !== 45 || !name.startsWith("KUBE-")) return undefined;
  const kind = name.slice(5, dash);
  if (!CHAIN_KINDS.has(kind)) return undefined;
  for (let i = dash + 1; i < name.length; i++) if (!isHashCharacter(name.charCodeAt(i))) return undefined;
  return kind as ServiceChainKind;
}

/** The hash of a chain serviceChainKind knows. */
export function serviceChainHashOf(name: string): string {
  return name.slice(name.length - HASH_LENGTH);
}

/** `KUBE-SVC-<hash>` and its siblings; undefined for any other chain name. */
export function parseServiceChain(name: string): { kind: ServiceChainKind; hash: string } | undefined {
  const kind = serviceChainKind(name);
  return kind === undefined ? undefined : { kind, hash: serviceChainHashOf(name) };
}

/** `10.96.0.10:53/udp`, `[fd00::a]:53/udp`, `:30071/tcp` for a NodePort: a frontend's identity within a snapshot. */
export function frontendLabel(frontend: Pick<Frontend, "address" | "port" | "protocol">, family: Family): string {
  return `${frontend.address === undefined ? `:${frontend.port}` : formatEndpoint(frontend.address, frontend.port, family)}/${frontend.protocol}`;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** kube-proxy's chain hash: base32(sha256(servicePortName + protocol)), first 16 characters. */
export function serviceChainHash(key: string, protocol: string): string {
  // One character a byte: a string is lighter than a Buffer, and every service port is hashed.
  const digest = hash("sha256", key + protocol, "binary");
  let out = "";
  let value = 0;
  let bits = 0;
  // 16 base32 characters are the first 80 bits, ten bytes.
  for (let i = 0; i < 10; i++) {
    value = ((value << 8) | digest.charCodeAt(i)) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

// Namespaces and service names are DNS labels; port names are IANA service names.
const SERVICE_PORT_NAME = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)(?::([a-z0-9](?:[-a-z0-9]*[a-z0-9])?))?$/;

export function parseServicePortName(key: string): ServiceName | undefined {
  const match = SERVICE_PORT_NAME.exec(key);
  if (!match) return undefined;
  return { key, namespace: match[1]!, name: match[2]!, portName: match[3] ?? "", from: "comment" };
}

/** What a kube-proxy comment says about its rule, besides the service port it names. */
export type CommentRole =
  | "cluster IP"
  | "external IP"
  | "loadbalancer IP"
  | "has no endpoints"
  | "has no local endpoints"
  | "health check node port"
  | "endpoint"
  | "plain"
  | "external destinations"
  | "firewall"
  | "balancing";

export interface KubeComment {
  key: string;
  role: CommentRole;
}

/** Roles said after the name; none ends another, so at most one ends a comment. */
const SUFFIXED: readonly CommentRole[] = ["cluster IP", "external IP", "loadbalancer IP", "has no endpoints", "has no local endpoints", "health check node port"];
const WRAPPED: readonly [RegExp, CommentRole][] = [
  [/^(.+) -> \S+$/, "endpoint"],
  [/^(?:masquerade traffic for|pod traffic for|masquerade LOCAL traffic for|route LOCAL traffic for) (.+) external destinations$/, "external destinations"],
  [/^(?:masquerade|route) LOCAL traffic for (.+) LB IP(?: to service chain)?$/, "external destinations"],
  [/^other traffic to (.+) will be dropped by KUBE-PROXY-FIREWALL$/, "firewall"],
  [/^(.+) traffic not accepted by KUBE-FW-[A-Z2-7]{16}$/, "firewall"],
  [/^Balancing rule \d+ for (.+)$/, "balancing"],
];

function parseComment(text: string): KubeComment | undefined {
  // Compared by hand: every rule of KUBE-SERVICES is asked, and a regular expression tries each place in the text.
  for (let i = 0; i < SUFFIXED.length; i++) {
    const role = SUFFIXED[i]!;
    const at = text.length - role.length - 1;
    if (at < 0 || !text.endsWith(role) || text.charCodeAt(at) !== 32) continue;
    const key = text.slice(0, at);
    return parseServicePortName(key) ? { key, role } : undefined;
  }
  for (const [pattern, role] of WRAPPED) {
    const match = pattern.exec(text);
    if (match && parseServicePortName(match[1]!)) return { key: match[1]!, role };
  }
  return parseServicePortName(text) ? { key: text, role: "plain" } : undefined;
}

/** The first comment of the rule that names a service port (calico rules may carry two comments). */
export function kubeComment(rule: Rule): KubeComment | undefined {
  // Asked of every rule of KUBE-SERVICES: the loops count by index (see structure.ts).
  const matches = rule.matches;
  for (let i = 0; i < matches.length; i++) {
    const match = matches[i]!;
    if (match.name !== "comment") continue;
    for (let j = 0; j < match.options.length; j++) {
      const option = match.options[j]!;
      if (option.value.kind !== "string") continue;
      const parsed = parseComment(option.value.value);
      if (parsed) return parsed;
    }
  }
  return undefined;
}
