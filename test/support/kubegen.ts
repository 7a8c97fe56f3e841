// Deterministic generator of kube-proxy (iptables mode) rulesets, for tests and benchmarks.
//
// A seeded model of a cluster (`generateCluster`) is rendered (`renderDump`) either
// in kube-proxy's own restore-input spelling or byte-for-byte as `iptables-save`
// v1.8.9 prints it after loading. The canonical form is checked against the real
// kernel in test/kubegen.test.ts. `groundTruth` derives the service map a resolver
// should recover from the dump.
//
// Two rule generations are modelled:
// - "old": kube-proxy ~1.17 (cluster-IP masquerade rule in KUBE-SERVICES, KUBE-XLB for
//   externalTrafficPolicy=Local, KUBE-FW for every load balancer IP, KUBE-MARK-DROP,
//   `--set-xmark` masquerade mark, 5-decimal probabilities, kubelet-owned chains).
// - "new": kube-proxy ~1.28-1.31 (masquerade rule in KUBE-SVC, KUBE-EXT/KUBE-SVL/KUBE-FW,
//   filter KUBE-PROXY-FIREWALL, `--or-mark`, 10-decimal probabilities). The nfacct
//   rules are left out, as if the nfacct counters could not be created: the kernel
//   used by the tests rejects `-m nfacct`.

import { createHash } from "node:crypto";

export type Generation = "old" | "new";
export type Family = "ipv4" | "ipv6";
export type DumpOrder = "canonical" | "restore";
export type SaveBackend = "nft" | "legacy";
export type Protocol = "TCP" | "UDP";
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";
export type TrafficPolicy = "Cluster" | "Local";

/** Fractions, each in [0, 1], drawn independently per service from the seeded PRNG. */
export interface FeatureMix {
  /** Services of type NodePort. */
  nodePort: number;
  /** Services of type LoadBalancer (they also get a node port). */
  loadBalancer: number;
  /** LoadBalancer services that set loadBalancerSourceRanges. */
  loadBalancerSourceRanges: number;
  /** Services with one externalIP. */
  externalIPs: number;
  /** NodePort/LoadBalancer services with externalTrafficPolicy=Local. */
  externalTrafficPolicyLocal: number;
  /** Services with internalTrafficPolicy=Local ("new" generation only). */
  internalTrafficPolicyLocal: number;
  /** Services with a Local traffic policy that have no endpoint on this node. */
  noLocalEndpoints: number;
  /** Services with sessionAffinity=ClientIP. */
  clientIPAffinity: number;
  /** Services with no ready endpoints at all. */
  noEndpoints: number;
  /** Services whose ports are UDP. */
  udp: number;
  /** Services with two ports. */
  multiPort: number;
  /** Single-port services whose port has no name (service port name `ns/name`). */
  unnamedPort: number;
  /** Probability that an endpoint of a Cluster-policy service runs on this node. */
  localEndpoint: number;
}

export const DEFAULT_FEATURE_MIX: Readonly<FeatureMix> = Object.freeze({
  nodePort: 0.06,
  loadBalancer: 0.03,
  loadBalancerSourceRanges: 0.4,
  externalIPs: 0.02,
  externalTrafficPolicyLocal: 0.3,
  internalTrafficPolicyLocal: 0.02,
  noLocalEndpoints: 0.3,
  clientIPAffinity: 0.04,
  noEndpoints: 0.04,
  udp: 0.04,
  multiPort: 0.02,
  unnamedPort: 0.3,
  localEndpoint: 0.05,
});

/** Every feature at a high rate, so that a few dozen services cover all rule shapes. */
export const RICH_FEATURE_MIX: Readonly<Partial<FeatureMix>> = Object.freeze({
  nodePort: 0.3,
  loadBalancer: 0.3,
  loadBalancerSourceRanges: 0.6,
  externalIPs: 0.3,
  externalTrafficPolicyLocal: 0.5,
  internalTrafficPolicyLocal: 0.2,
  noLocalEndpoints: 0.4,
  clientIPAffinity: 0.3,
  noEndpoints: 0.15,
  udp: 0.2,
  multiPort: 0.2,
  localEndpoint: 0.3,
});

export interface ClusterOptions {
  /** Number of Services (the first two are default/kubernetes and kube-system/kube-dns). */
  services: number;
  /** Ready endpoints per service, fixed or an inclusive [min, max] range. Default 3. */
  endpointsPerService?: number | readonly [number, number];
  /** PRNG seed; the same options and seed always give the same output. Default 1. */
  seed?: number;
  /** Default "new". */
  generation?: Generation;
  /** Default "ipv4". */
  family?: Family;
  /** Overrides of DEFAULT_FEATURE_MIX. */
  mix?: Partial<FeatureMix>;
}

export interface RenderOptions {
  /**
   * "canonical" (default): exactly what iptables-save v1.8.9 prints after loading the rules.
   * "restore": kube-proxy's restore input, in its order and spelling, preceded by the
   * built-in chains and the jump rules that kubelet/kube-proxy install with `iptables -I`.
   */
  order?: DumpOrder;
  /** Prefix every rule with `[pkts:bytes]` and give built-in chains policy counters. Default false. */
  counters?: boolean;
  /**
   * Which iptables-save to imitate in canonical form. "nft" (default) prints
   * tables in the order mangle, filter, nat; "legacy" prints them in the reverse of the
   * order in which the restore input created them (nat, filter, mangle), so loading the
   * legacy canonical text back into iptables-legacy reverses the tables again. Also picks
   * the header text.
   */
  backend?: SaveBackend;
  /** Emit the empty KUBE-PROXY-CANARY/KUBE-KUBELET-CANARY chains (and so a mangle table). Default: true for "new". */
  canaries?: boolean;
  /**
   * kube-proxy drops the per-endpoint comments when a sync has more than 1000 endpoints.
   * Default false (keep comments); "auto" applies the real threshold.
   */
  largeClusterMode?: boolean | "auto";
  /** Date printed in canonical header lines, ctime() style. */
  date?: string;
}

export type KubeGenOptions = ClusterOptions & RenderOptions;

export interface Pod {
  ip: string;
  /** Runs on the node the dump was taken from. */
  local: boolean;
}

export interface ServicePort {
  /** May be "" for a single-port service. */
  name: string;
  protocol: Protocol;
  port: number;
  targetPort: number;
  nodePort?: number;
}

export interface Service {
  namespace: string;
  name: string;
  type: ServiceType;
  clusterIP: string;
  externalIPs: string[];
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** Set when sessionAffinity is ClientIP. */
  sessionAffinityTimeoutSeconds?: number;
  healthCheckNodePort?: number;
  ports: ServicePort[];
  /** Ready endpoints' pods; empty when the service has no endpoints. */
  pods: Pod[];
}

export interface Cluster {
  generation: Generation;
  family: Family;
  seed: number;
  /** Pod CIDR used by kube-proxy's local-traffic detector (`! -s` / `-s`). */
  clusterCIDR: string;
  serviceCIDR: string;
  /** The node the dump is taken on. */
  nodeIP: string;
  services: Service[];
}

export interface EndpointInfo {
  ip: string;
  port: number;
  /** `ip:port`, or `[ip]:port` for IPv6: what DNAT `--to-destination` and the SEP hash use. */
  address: string;
  local: boolean;
  sepChain: string;
}

export interface ServicePortInfo {
  service: Service;
  port: ServicePort;
  /** kube-proxy's ServicePortName.String(): `ns/name:port`, or `ns/name` for an unnamed port. */
  key: string;
  protocol: "tcp" | "udp";
  /** The 16-character hash shared by the KUBE-SVC/SVL/EXT/FW/XLB chains. */
  hash: string;
  svcChain: string;
  svlChain: string;
  extChain: string;
  fwChain: string;
  xlbChain: string;
  /** Ready endpoints, sorted by address string as kube-proxy sorts them. */
  endpoints: EndpointInfo[];
}

export type FrontendKind = "clusterIP" | "externalIP" | "loadBalancerIP" | "nodePort";

export interface TruthEndpoint {
  ip: string;
  port: number;
  address: string;
  sepChain: string;
  local: boolean;
  /** Exact share of new connections, 1/n. */
  probability: number;
}

export interface TruthFrontend {
  kind: FrontendKind;
  /** Destination address; absent for nodePort (any local address). */
  ip?: string;
  port: number;
  protocol: "tcp" | "udp";
  /**
   * What happens to a new connection from a client that is neither on this node nor in the
   * pod CIDR (and, for a load balancer IP, inside loadBalancerSourceRanges when they are set);
   * "forward": no kube-proxy rule applies and the node forwards the packet unchanged.
   */
  verdict: "dnat" | "reject" | "drop" | "forward";
  /** Endpoints for that client ([] unless verdict is "dnat"). */
  endpoints: TruthEndpoint[];
  /** Whether that client's connection is marked for masquerading. */
  masquerade: boolean;
  /** Endpoints for a client in the pod CIDR, when they differ (externalTrafficPolicy=Local short-circuit). */
  podEndpoints?: TruthEndpoint[];
  /** loadBalancerIP only: clients outside these ranges are dropped. */
  sourceRanges?: string[];
}

export interface TruthServicePort {
  key: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: "tcp" | "udp";
  type: ServiceType;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  affinitySeconds?: number;
  healthCheckNodePort?: number;
  /** Service-specific nat chains present in the dump. */
  chains: { svc?: string; svl?: string; ext?: string; fw?: string; xlb?: string; sep: string[] };
  /** All ready endpoints. */
  endpoints: EndpointInfo[];
  frontends: TruthFrontend[];
}

export interface GeneratedDump {
  text: string;
  cluster: Cluster;
  truth: TruthServicePort[];
  /** Number of lines in text (terminating newline excluded). */
  lines: number;
}

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

/** mulberry32: a tiny, fast, seedable 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** First 16 characters of base32(sha256(input)), standard alphabet: kube-proxy's chain-name hash. */
export function kubeChainHash(input: string): string {
  const digest = createHash("sha256").update(input).digest();
  let out = "";
  let value = 0;
  let bits = 0;
  // 16 base32 characters are exactly the first 10 bytes (80 bits).
  for (let i = 0; i < 10; i++) {
    value = ((value << 8) | digest[i]) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** `KUBE-SVC-…` for a service port name (`ns/name:port`) and protocol ("TCP" or "tcp"). */
export function serviceChainName(servicePortName: string, protocol: string): string {
  return "KUBE-SVC-" + kubeChainHash(servicePortName + protocol.toLowerCase());
}

/** `KUBE-SEP-…` for a service port name, protocol and endpoint (`ip:port` / `[ip]:port`). */
export function endpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return "KUBE-SEP-" + kubeChainHash(servicePortName + protocol.toLowerCase() + endpoint);
}

/**
 * Exact decimal rendering of a double with `digits` fraction digits, ties to even.
 * Matches glibc printf("%.*f") and Go's strconv 'f' formatting; Number#toFixed
 * differs on exact ties (e.g. 1/64 at 5 digits).
 */
export function formatFixed(value: number, digits: number): string {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`formatFixed: unsupported value ${value}`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exponent: number;
  if (exponentBits === 0) {
    exponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    exponent = exponentBits - 1075;
  }
  let numerator = mantissa * 10n ** BigInt(digits);
  let denominator = 1n;
  if (exponent >= 0) numerator <<= BigInt(exponent);
  else denominator <<= BigInt(-exponent);
  let quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && (quotient & 1n) === 1n)) quotient += 1n;
  const text = quotient.toString().padStart(digits + 1, "0");
  return digits === 0 ? text : `${text.slice(0, text.length - digits)}.${text.slice(text.length - digits)}`;
}

const canonicalProbabilityCache = new Map<string, string>();

/**
 * How iptables-save prints a `--probability` given as `text`: libxt_statistic stores
 * lround(0x80000000 * strtod(text)) as a u32 and prints it back with "%.11f" of value/2^31.
 * "0.3333333333" → "0.33333333349", "0.5" → "0.50000000000", "0.1" → "0.10000000009".
 */
export function canonicalProbability(text: string): string {
  let cached = canonicalProbabilityCache.get(text);
  if (cached === undefined) {
    const stored = Math.round(Number(text) * 0x80000000);
    cached = formatFixed(stored / 0x80000000, 11);
    canonicalProbabilityCache.set(text, cached);
  }
  return cached;
}

/** kube-proxy's probability text for 1/n: "%0.5f" before ~1.22 ("old"), "%0.10f" after ("new"). */
export function kubeProxyProbability(n: number, generation: Generation): string {
  return formatFixed(1 / n, generation === "old" ? 5 : 10);
}

/** libxtables xtables_save_string(): bare when only [A-Za-z0-9_-], else quoted with `"`, `\`, `'` escaped. */
export function saveString(value: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(value)) return value;
  return `"${value.replace(/["\\']/g, "\\$&")}"`;
}

function ipv4ToString(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * inet_ntop(AF_INET6) text of eight 16-bit groups: lowercase hex, the leftmost longest
 * run of two or more zero groups replaced by "::". (Embedded-IPv4 forms are never generated.)
 */
export function formatIPv6(groups: readonly number[]): string {
  if (groups.length !== 8) throw new RangeError("formatIPv6 needs 8 groups");
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLength < 2) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/** Eight groups from a v6 prefix (up to 4 groups) and a 64-bit interface id given as a number. */
function ipv6FromParts(prefix: readonly number[], interfaceId: number): string {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < prefix.length; i++) groups[i] = prefix[i];
  let rest = interfaceId;
  for (let i = 7; i >= 4 && rest > 0; i--) {
    groups[i] = rest % 0x10000;
    rest = Math.floor(rest / 0x10000);
  }
  return formatIPv6(groups);
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function hostCIDR(ip: string): string {
  return ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

function cidrContains(cidr: string, ip: string): boolean {
  const [base, lengthText] = cidr.split("/");
  const length = Number(lengthText);
  const a = ipToBigInt(base);
  const b = ipToBigInt(ip);
  if (a.v6 !== b.v6) return false;
  const width = a.v6 ? 128 : 32;
  const shift = BigInt(width - length);
  return a.value >> shift === b.value >> shift;
}

function ipToBigInt(ip: string): { v6: boolean; value: bigint } {
  if (!ip.includes(":")) {
    return { v6: false, value: ip.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  }
  const [headText, tailText] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const head = headText ? headText.split(":") : [];
  const tail = tailText ? tailText.split(":") : [];
  const groups = tailText === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

// ---------------------------------------------------------------------------
// Cluster model
// ---------------------------------------------------------------------------

interface AddressPlan {
  clusterCIDR: string;
  serviceCIDR: string;
  nodeIP: string;
  apiServerIPs: string[];
  clusterIP(index: number): string;
  localPodIP(index: number): string;
  remotePodIP(index: number): string;
  externalIP(index: number): string;
  loadBalancerIP(index: number): string;
  sourceRanges: string[];
  /** A source range containing nodeIP (kube-proxy then adds an "allow from node" rule). */
  nodeSourceRange: string;
}

const PODS_PER_NODE = 250;
const LOCAL_POD_POOL = 250;

function addressPlan(family: Family): AddressPlan {
  if (family === "ipv4") {
    const serviceBase = (10 << 24) | (96 << 16); // 10.96.0.0/12
    const podBase = (10 << 24) | (128 << 16); // 10.128.0.0/9, a /24 per node, node 0 is this node
    const externalBase = (198 << 24) | (18 << 16); // 198.18.0.0/16
    const loadBalancerBase = (198 << 24) | (19 << 16); // 198.19.0.0/16
    return {
      clusterCIDR: "10.128.0.0/9",
      serviceCIDR: "10.96.0.0/12",
      nodeIP: "192.168.0.10",
      apiServerIPs: ["192.168.0.10", "192.168.0.11", "192.168.0.12"],
      clusterIP: (i) => ipv4ToString((serviceBase + i) >>> 0),
      localPodIP: (i) => ipv4ToString((podBase + 2 + (i % LOCAL_POD_POOL)) >>> 0),
      remotePodIP: (i) => {
        const node = 1 + Math.floor(i / PODS_PER_NODE);
        if (node >= 1 << 15) throw new RangeError("kubegen: pod CIDR exhausted");
        return ipv4ToString((podBase + node * 256 + 2 + (i % PODS_PER_NODE)) >>> 0);
      },
      externalIP: (i) => ipv4ToString((externalBase + 1 + i) >>> 0),
      loadBalancerIP: (i) => ipv4ToString((loadBalancerBase + 1 + i) >>> 0),
      sourceRanges: ["203.0.113.0/24", "198.51.100.0/25", "192.0.2.128/26"],
      nodeSourceRange: "192.168.0.0/16",
    };
  }
  return {
    clusterCIDR: "fd00:10:244::/48",
    serviceCIDR: "fd00:10:96::/108",
    nodeIP: "fd00:192:168::10",
    apiServerIPs: ["fd00:192:168::10", "fd00:192:168::11", "fd00:192:168::12"],
    clusterIP: (i) => ipv6FromParts([0xfd00, 0x10, 0x96], i),
    localPodIP: (i) => ipv6FromParts([0xfd00, 0x10, 0x244, 0], 2 + (i % LOCAL_POD_POOL)),
    remotePodIP: (i) => {
      const node = 1 + Math.floor(i / PODS_PER_NODE);
      if (node >= 0x10000) throw new RangeError("kubegen: pod CIDR exhausted");
      return ipv6FromParts([0xfd00, 0x10, 0x244, node], 2 + (i % PODS_PER_NODE));
    },
    externalIP: (i) => ipv6FromParts([0x2001, 0xdb8, 0xe], 1 + i),
    loadBalancerIP: (i) => ipv6FromParts([0x2001, 0xdb8, 0x1b], 1 + i),
    sourceRanges: ["2001:db8:100::/48", "2001:db8:200::/56", "2001:db8:300:8000::/49"],
    nodeSourceRange: "fd00:192:168::/48",
  };
}

const NAMESPACE_WORDS = [
  "shop", "pay", "catalog", "search", "iam", "billing", "media", "data",
  "ingest", "reports", "orders", "stock", "ship", "notify", "crm", "ledger",
  "pricing", "reviews", "recs", "edge",
];
const SERVICE_WORDS = [
  "api", "web", "worker", "grpc", "cache", "db", "queue", "auth", "frontend", "backend",
  "metrics", "events", "sync", "proxy", "admin", "store", "index", "stream", "batch", "sched",
];
const SERVICES_PER_NAMESPACE = 40;

interface PortTemplate {
  name: string;
  port: number;
  targetPort: number;
}
const TCP_PORTS: PortTemplate[] = [
  { name: "http", port: 80, targetPort: 8080 },
  { name: "https", port: 443, targetPort: 8443 },
  { name: "http", port: 8080, targetPort: 8080 },
  { name: "grpc", port: 50051, targetPort: 50051 },
  { name: "redis", port: 6379, targetPort: 6379 },
  { name: "postgres", port: 5432, targetPort: 5432 },
  { name: "mysql", port: 3306, targetPort: 3306 },
  { name: "web", port: 3000, targetPort: 3000 },
];
const UDP_PORTS: PortTemplate[] = [
  { name: "dns", port: 53, targetPort: 5353 },
  { name: "syslog", port: 514, targetPort: 5514 },
  { name: "statsd", port: 8125, targetPort: 8125 },
  { name: "jaeger", port: 6831, targetPort: 6831 },
];
const SECOND_PORT: PortTemplate = { name: "metrics", port: 9090, targetPort: 9090 };

const AFFINITY_SECONDS = 10800;
const NODE_PORT_MIN = 30000;
// Beyond the default 30000-32767 range, as with --service-node-port-range=30000-65535.
const NODE_PORT_MAX = 65535;

/** Builds the seeded cluster model that renderDump() turns into rules. */
export function generateCluster(options: ClusterOptions): Cluster {
  const generation = options.generation ?? "new";
  const family = options.family ?? "ipv4";
  const seed = options.seed ?? 1;
  const mix: FeatureMix = { ...DEFAULT_FEATURE_MIX, ...options.mix };
  const endpointRange = normaliseRange(options.endpointsPerService ?? 3);
  if (!Number.isInteger(options.services) || options.services < 0) throw new RangeError("kubegen: services must be a non-negative integer");
  if (options.services > 1_000_000) throw new RangeError("kubegen: at most 1,000,000 services");

  const random = mulberry32(seed);
  const chance = (p: number): boolean => random() < p;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const between = ([min, max]: readonly [number, number]): number => min + Math.floor(random() * (max - min + 1));

  const plan = addressPlan(family);
  let nextNodePort = NODE_PORT_MIN;
  const allocateNodePort = (): number => {
    if (nextNodePort > NODE_PORT_MAX) throw new RangeError("kubegen: node port range exhausted; lower the NodePort/LoadBalancer fractions");
    return nextNodePort++;
  };
  let nextRemotePod = 0;
  let nextLocalPod = 0;
  let nextExternalIP = 0;
  let nextLoadBalancerIP = 0;

  const services: Service[] = [];
  for (let index = 0; index < options.services; index++) {
    if (index === 0) {
      // default/kubernetes: host-network endpoints (the API servers), one of them this node.
      const count = Math.min(3, Math.max(1, between(endpointRange)));
      services.push({
        namespace: "default",
        name: "kubernetes",
        type: "ClusterIP",
        clusterIP: plan.clusterIP(1),
        externalIPs: [],
        loadBalancerIPs: [],
        loadBalancerSourceRanges: [],
        externalTrafficPolicy: "Cluster",
        internalTrafficPolicy: "Cluster",
        ports: [{ name: "https", protocol: "TCP", port: 443, targetPort: 6443 }],
        pods: plan.apiServerIPs.slice(0, count).map((ip, i) => ({ ip, local: i === 0 })),
      });
      continue;
    }
    const pods: Pod[] = [];
    const podCount = index === 1 ? Math.max(1, between(endpointRange)) : between(endpointRange);
    if (index === 1) {
      for (let i = 0; i < podCount; i++) pods.push({ ip: plan.remotePodIP(nextRemotePod++), local: false });
      services.push({
        namespace: "kube-system",
        name: "kube-dns",
        type: "ClusterIP",
        clusterIP: plan.clusterIP(10),
        externalIPs: [],
        loadBalancerIPs: [],
        loadBalancerSourceRanges: [],
        externalTrafficPolicy: "Cluster",
        internalTrafficPolicy: "Cluster",
        ports: [
          { name: "dns", protocol: "UDP", port: 53, targetPort: 53 },
          { name: "dns-tcp", protocol: "TCP", port: 53, targetPort: 53 },
          { name: "metrics", protocol: "TCP", port: 9153, targetPort: 9153 },
        ],
        pods,
      });
      continue;
    }

    // Every draw happens unconditionally, in a fixed order, so that changing one
    // fraction does not reshuffle the other features.
    const draws = {
      nodePort: random(),
      loadBalancer: random(),
      sourceRanges: random(),
      externalIPs: random(),
      externalLocal: random(),
      internalLocal: random(),
      noLocal: random(),
      affinity: random(),
      noEndpoints: random(),
      udp: random(),
      multiPort: random(),
      unnamed: random(),
    };
    const serial = index - 2;
    const namespaceIndex = Math.floor(serial / SERVICES_PER_NAMESPACE);
    const namespace = `${NAMESPACE_WORDS[namespaceIndex % NAMESPACE_WORDS.length]}-${Math.floor(namespaceIndex / NAMESPACE_WORDS.length)}`;
    const name = `${pick(SERVICE_WORDS)}-${serial}`;

    let type: ServiceType = "ClusterIP";
    if (draws.loadBalancer < mix.loadBalancer) type = "LoadBalancer";
    else if (draws.nodePort < mix.nodePort) type = "NodePort";
    const externallyTyped = type !== "ClusterIP";
    const externalTrafficPolicy: TrafficPolicy = externallyTyped && draws.externalLocal < mix.externalTrafficPolicyLocal ? "Local" : "Cluster";
    // internalTrafficPolicy arrived in 1.21; the "old" generation predates it.
    const internalTrafficPolicy: TrafficPolicy = generation === "new" && draws.internalLocal < mix.internalTrafficPolicyLocal ? "Local" : "Cluster";
    const hasLocalPolicy = externalTrafficPolicy === "Local" || internalTrafficPolicy === "Local";
    const withoutLocalEndpoints = hasLocalPolicy && draws.noLocal < mix.noLocalEndpoints;
    const protocol: Protocol = draws.udp < mix.udp ? "UDP" : "TCP";

    const first = pick(protocol === "UDP" ? UDP_PORTS : TCP_PORTS);
    const ports: ServicePort[] = [];
    if (draws.multiPort < mix.multiPort) {
      ports.push({ ...first, protocol }, { ...SECOND_PORT, protocol: "TCP" });
    } else {
      ports.push({ ...first, name: draws.unnamed < mix.unnamedPort ? "" : first.name, protocol });
    }
    if (externallyTyped) for (const port of ports) port.nodePort = allocateNodePort();

    if (draws.noEndpoints >= mix.noEndpoints) {
      const count = Math.max(podCount, hasLocalPolicy && !withoutLocalEndpoints ? 1 : 0);
      for (let i = 0; i < count; i++) {
        let local: boolean;
        if (hasLocalPolicy) local = withoutLocalEndpoints ? false : i === 0 || chance(mix.localEndpoint);
        else local = chance(mix.localEndpoint);
        pods.push({ ip: local ? plan.localPodIP(nextLocalPod++) : plan.remotePodIP(nextRemotePod++), local });
      }
      // The local pool is reused across services; keep a service's endpoints distinct.
      if (pods.filter((p) => p.local).length > LOCAL_POD_POOL) throw new RangeError("kubegen: too many local endpoints for one service");
    }

    const externalIPs = draws.externalIPs < mix.externalIPs ? [plan.externalIP(nextExternalIP++)] : [];
    const loadBalancerIPs = type === "LoadBalancer" ? [plan.loadBalancerIP(nextLoadBalancerIP++)] : [];
    let loadBalancerSourceRanges: string[] = [];
    if (type === "LoadBalancer" && draws.sourceRanges < mix.loadBalancerSourceRanges) {
      const position = draws.sourceRanges / mix.loadBalancerSourceRanges; // uniform in [0, 1)
      loadBalancerSourceRanges = [plan.sourceRanges[Math.floor(position * plan.sourceRanges.length)]];
      // A range containing the node IP makes kube-proxy add an "allow from node" rule.
      if (position < 0.25) loadBalancerSourceRanges.push(plan.nodeSourceRange);
    }
    const service: Service = {
      namespace,
      name,
      type,
      clusterIP: plan.clusterIP(16 + serial),
      externalIPs,
      loadBalancerIPs,
      loadBalancerSourceRanges,
      externalTrafficPolicy,
      internalTrafficPolicy,
      ports,
      pods,
    };
    if (draws.affinity < mix.clientIPAffinity) service.sessionAffinityTimeoutSeconds = AFFINITY_SECONDS;
    if (type === "LoadBalancer" && externalTrafficPolicy === "Local") service.healthCheckNodePort = allocateNodePort();
    services.push(service);
  }

  return {
    generation,
    family,
    seed,
    clusterCIDR: plan.clusterCIDR,
    serviceCIDR: plan.serviceCIDR,
    nodeIP: plan.nodeIP,
    services,
  };
}

function normaliseRange(value: number | readonly [number, number]): [number, number] {
  const [min, max] = typeof value === "number" ? [value, value] : value;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
    throw new RangeError(`kubegen: bad endpointsPerService ${JSON.stringify(value)}`);
  }
  return [min, max];
}

/** One entry per (service, port), with kube-proxy's names and sorted endpoints. */
export function servicePorts(cluster: Cluster): ServicePortInfo[] {
  const result: ServicePortInfo[] = [];
  for (const service of cluster.services) {
    for (const port of service.ports) {
      const key = `${service.namespace}/${service.name}${port.name ? `:${port.name}` : ""}`;
      const protocol = port.protocol === "TCP" ? "tcp" : "udp";
      const hash = kubeChainHash(key + protocol);
      const endpoints = service.pods
        .map((pod): EndpointInfo => {
          const address = joinHostPort(pod.ip, port.targetPort);
          return { ip: pod.ip, port: port.targetPort, address, local: pod.local, sepChain: endpointChainName(key, protocol, address) };
        })
        // kube-proxy sorts each service port's endpoints by their String() (byte order).
        .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
      result.push({
        service,
        port,
        key,
        protocol,
        hash,
        svcChain: `KUBE-SVC-${hash}`,
        svlChain: `KUBE-SVL-${hash}`,
        extChain: `KUBE-EXT-${hash}`,
        fwChain: `KUBE-FW-${hash}`,
        xlbChain: `KUBE-XLB-${hash}`,
        endpoints,
      });
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// Rule generation (kube-proxy order and spelling)
// ---------------------------------------------------------------------------

type TableName = "mangle" | "filter" | "nat";

interface GeneratedRule {
  chain: string;
  /** Words after `-A CHAIN`, spelled as kube-proxy writes them (quotes included). */
  words: string[];
  packets: number;
  bytes: number;
}

interface BuiltinChain {
  name: string;
  packets: number;
  bytes: number;
}

interface GeneratedTable {
  name: TableName;
  builtins: BuiltinChain[];
  /** User chains in declaration order. */
  chains: string[];
  chainSet: Set<string>;
  rules: GeneratedRule[];
}

const BUILTIN_CHAINS: Record<TableName, string[]> = {
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
};

class RuleSink {
  readonly tables = new Map<TableName, GeneratedTable>();
  private readonly counterRandom: (() => number) | undefined;

  constructor(tableOrder: TableName[], counters: boolean, seed: number) {
    this.counterRandom = counters ? mulberry32((seed ^ 0x5bd1e995) >>> 0) : undefined;
    for (const name of tableOrder) {
      const builtins = BUILTIN_CHAINS[name].map((chain) => {
        const [packets, bytes] = this.counters(0.9);
        return { name: chain, packets, bytes };
      });
      this.tables.set(name, { name, builtins, chains: [], chainSet: new Set(), rules: [] });
    }
  }

  private counters(hitRate: number): [number, number] {
    const random = this.counterRandom;
    if (random === undefined || random() >= hitRate) return [0, 0];
    const packets = 1 + Math.floor(random() * 50_000);
    return [packets, packets * (60 + Math.floor(random() * 1400))];
  }

  private table(name: TableName): GeneratedTable {
    const table = this.tables.get(name);
    if (table === undefined) throw new Error(`kubegen: table ${name} not set up`);
    return table;
  }

  chain(table: TableName, chain: string): void {
    const t = this.table(table);
    if (!t.chainSet.has(chain)) {
      t.chainSet.add(chain);
      t.chains.push(chain);
    }
  }

  rule(table: TableName, chain: string, ...words: string[]): void {
    const [packets, bytes] = this.counters(0.3);
    this.table(table).rules.push({ chain, words, packets, bytes });
  }
}

const quote = (text: string): string => `"${text}"`;

function buildRules(cluster: Cluster, render: Required<Omit<RenderOptions, "date">>): RuleSink {
  const tableOrder: TableName[] = render.canaries ? ["mangle", "filter", "nat"] : ["filter", "nat"];
  const sink = new RuleSink(tableOrder, render.counters, cluster.seed);
  const ports = servicePorts(cluster);
  const totalEndpoints = ports.reduce((sum, p) => sum + p.endpoints.length, 0);
  const largeCluster = render.largeClusterMode === "auto" ? totalEndpoints > 1000 : render.largeClusterMode;
  if (cluster.generation === "old") buildOld(cluster, ports, sink, largeCluster, render.canaries);
  else buildNew(cluster, ports, sink, largeCluster, render.canaries);
  return sink;
}

function addCanaries(sink: RuleSink): void {
  for (const table of ["mangle", "filter", "nat"] as const) {
    sink.chain(table, "KUBE-KUBELET-CANARY");
    sink.chain(table, "KUBE-PROXY-CANARY");
  }
}

// kube-proxy ~1.28-1.31, pkg/proxy/iptables/proxier.go syncProxyRules().
function buildNew(cluster: Cluster, ports: ServicePortInfo[], sink: RuleSink, largeCluster: boolean, canaries: boolean): void {
  const v6 = cluster.family === "ipv6";
  // fmt.Sprintf("%#08x", 1<<14): Go zero-pads eight digits after the 0x.
  const mark = "0x00004000";
  const localhostNodePorts = !v6;
  const ctNew = ["-m", "conntrack", "--ctstate", "NEW"];

  // Rules installed with `iptables -I` (kubelet first, then kube-proxy's jump list),
  // shown here in the order the prepends leave them.
  if (canaries) addCanaries(sink);
  for (const chain of ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"]) sink.chain("filter", chain);
  sink.rule("filter", "INPUT", ...ctNew, "-m", "comment", "--comment", quote("kubernetes load balancer firewall"), "-j", "KUBE-PROXY-FIREWALL");
  sink.rule("filter", "INPUT", "-m", "comment", "--comment", quote("kubernetes health check service ports"), "-j", "KUBE-NODEPORTS");
  sink.rule("filter", "INPUT", ...ctNew, "-m", "comment", "--comment", quote("kubernetes externally-visible service portals"), "-j", "KUBE-EXTERNAL-SERVICES");
  sink.rule("filter", "INPUT", "-j", "KUBE-FIREWALL");
  sink.rule("filter", "FORWARD", ...ctNew, "-m", "comment", "--comment", quote("kubernetes load balancer firewall"), "-j", "KUBE-PROXY-FIREWALL");
  sink.rule("filter", "FORWARD", "-m", "comment", "--comment", quote("kubernetes forwarding rules"), "-j", "KUBE-FORWARD");
  sink.rule("filter", "FORWARD", ...ctNew, "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("filter", "FORWARD", ...ctNew, "-m", "comment", "--comment", quote("kubernetes externally-visible service portals"), "-j", "KUBE-EXTERNAL-SERVICES");
  sink.rule("filter", "OUTPUT", ...ctNew, "-m", "comment", "--comment", quote("kubernetes load balancer firewall"), "-j", "KUBE-PROXY-FIREWALL");
  sink.rule("filter", "OUTPUT", ...ctNew, "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("filter", "OUTPUT", "-j", "KUBE-FIREWALL");
  for (const chain of ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]) sink.chain("nat", chain);
  sink.rule("nat", "PREROUTING", "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("nat", "OUTPUT", "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("nat", "POSTROUTING", "-m", "comment", "--comment", quote("kubernetes postrouting rules"), "-j", "KUBE-POSTROUTING");

  // From here on: kube-proxy's restore input, in its order.
  sink.rule("nat", "KUBE-POSTROUTING", "-m", "mark", "!", "--mark", `${mark}/${mark}`, "-j", "RETURN");
  sink.rule("nat", "KUBE-POSTROUTING", "-j", "MARK", "--xor-mark", mark);
  sink.rule("nat", "KUBE-POSTROUTING", "-m", "comment", "--comment", quote("kubernetes service traffic requiring SNAT"), "-j", "MASQUERADE", "--random-fully");
  sink.rule("nat", "KUBE-MARK-MASQ", "-j", "MARK", "--or-mark", mark);
  if (localhostNodePorts) {
    sink.rule("filter", "KUBE-FIREWALL", "-m", "comment", "--comment", quote("block incoming localnet connections"), "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP");
  }

  for (const sp of ports) {
    const svc = sp.service;
    const p = sp.protocol;
    const portText = String(sp.port.port);
    const externallyAccessible = sp.port.nodePort !== undefined || svc.loadBalancerIPs.length > 0 || svc.externalIPs.length > 0;
    const internalLocal = svc.internalTrafficPolicy === "Local";
    const externalLocal = externallyAccessible && svc.externalTrafficPolicy === "Local";
    const usesClusterEndpoints = !internalLocal || externallyAccessible;
    const usesLocalEndpoints = internalLocal || externalLocal;
    const clusterEndpoints = usesClusterEndpoints ? sp.endpoints : [];
    const localEndpoints = usesLocalEndpoints ? sp.endpoints.filter((e) => e.local) : [];
    const hasEndpoints = sp.endpoints.length > 0;
    const reachable = usesClusterEndpoints ? clusterEndpoints : localEndpoints;

    const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints;
    const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints;
    const internalChain = internalLocal ? sp.svlChain : sp.svcChain;
    const hasInternalEndpoints = hasEndpoints && !(internalLocal && localEndpoints.length === 0);
    const externalPolicyChain = externalLocal ? sp.svlChain : sp.svcChain;
    const hasExternalEndpoints = hasEndpoints && !(externalLocal && localEndpoints.length === 0);
    const usesExternalChain = hasEndpoints && externallyAccessible;
    const usesFWChain = hasEndpoints && svc.loadBalancerIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
    const loadBalancerChain = usesFWChain ? sp.fwChain : sp.extChain;

    const internalFilterTarget = hasEndpoints ? "DROP" : "REJECT";
    const internalFilterComment = quote(hasEndpoints ? `${sp.key} has no local endpoints` : `${sp.key} has no endpoints`);
    const externalFilterTarget = internalFilterTarget;
    const externalFilterComment = internalFilterComment;
    const dest = (ip: string, port: string): string[] => ["-m", p, "-p", p, "-d", ip, "--dport", port];

    if (hasInternalEndpoints) {
      sink.rule("nat", "KUBE-SERVICES", "-m", "comment", "--comment", quote(`${sp.key} cluster IP`), ...dest(svc.clusterIP, portText), "-j", internalChain);
    } else {
      sink.rule("filter", "KUBE-SERVICES", "-m", "comment", "--comment", internalFilterComment, ...dest(svc.clusterIP, portText), "-j", internalFilterTarget);
    }
    for (const ip of svc.externalIPs) {
      if (hasEndpoints) sink.rule("nat", "KUBE-SERVICES", "-m", "comment", "--comment", quote(`${sp.key} external IP`), ...dest(ip, portText), "-j", sp.extChain);
      if (!hasExternalEndpoints) sink.rule("filter", "KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", externalFilterComment, ...dest(ip, portText), "-j", externalFilterTarget);
    }
    for (const ip of svc.loadBalancerIPs) {
      if (hasEndpoints) sink.rule("nat", "KUBE-SERVICES", "-m", "comment", "--comment", quote(`${sp.key} loadbalancer IP`), ...dest(ip, portText), "-j", loadBalancerChain);
      if (usesFWChain) {
        sink.rule("filter", "KUBE-PROXY-FIREWALL", "-m", "comment", "--comment", quote(`${sp.key} traffic not accepted by ${sp.fwChain}`), ...dest(ip, portText), "-j", "DROP");
      }
    }
    if (!hasExternalEndpoints) {
      for (const ip of svc.loadBalancerIPs) {
        sink.rule("filter", "KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", externalFilterComment, ...dest(ip, portText), "-j", externalFilterTarget);
      }
    }
    if (sp.port.nodePort !== undefined) {
      const nodePort = String(sp.port.nodePort);
      if (hasEndpoints) sink.rule("nat", "KUBE-NODEPORTS", "-m", "comment", "--comment", sp.key, "-m", p, "-p", p, "--dport", nodePort, "-j", sp.extChain);
      if (!hasExternalEndpoints) {
        sink.rule("filter", "KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", externalFilterComment, "-m", "addrtype", "--dst-type", "LOCAL", "-m", p, "-p", p, "--dport", nodePort, "-j", externalFilterTarget);
      }
    }
    if (svc.healthCheckNodePort !== undefined) {
      sink.rule("filter", "KUBE-NODEPORTS", "-m", "comment", "--comment", quote(`${sp.key} health check node port`), "-m", "tcp", "-p", "tcp", "--dport", String(svc.healthCheckNodePort), "-j", "ACCEPT");
    }

    if (hasInternalEndpoints) {
      sink.rule("nat", internalChain, "-m", "comment", "--comment", quote(`${sp.key} cluster IP`), ...dest(svc.clusterIP, portText), "!", "-s", cluster.clusterCIDR, "-j", "KUBE-MARK-MASQ");
    }
    if (usesExternalChain) {
      sink.chain("nat", sp.extChain);
      if (!externalLocal) {
        sink.rule("nat", sp.extChain, "-m", "comment", "--comment", quote(`masquerade traffic for ${sp.key} external destinations`), "-j", "KUBE-MARK-MASQ");
      } else {
        sink.rule("nat", sp.extChain, "-m", "comment", "--comment", quote(`pod traffic for ${sp.key} external destinations`), "-s", cluster.clusterCIDR, "-j", sp.svcChain);
        sink.rule("nat", sp.extChain, "-m", "comment", "--comment", quote(`masquerade LOCAL traffic for ${sp.key} external destinations`), "-m", "addrtype", "--src-type", "LOCAL", "-j", "KUBE-MARK-MASQ");
        sink.rule("nat", sp.extChain, "-m", "comment", "--comment", quote(`route LOCAL traffic for ${sp.key} external destinations`), "-m", "addrtype", "--src-type", "LOCAL", "-j", sp.svcChain);
      }
      if (hasExternalEndpoints) sink.rule("nat", sp.extChain, "-j", externalPolicyChain);
    }
    if (usesFWChain) {
      sink.chain("nat", sp.fwChain);
      const head = ["-m", "comment", "--comment", quote(`${sp.key} loadbalancer IP`)];
      let allowFromNode = false;
      for (const cidr of svc.loadBalancerSourceRanges) {
        sink.rule("nat", sp.fwChain, ...head, "-s", cidr, "-j", sp.extChain);
        if (cidrContains(cidr, cluster.nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) for (const ip of svc.loadBalancerIPs) sink.rule("nat", sp.fwChain, ...head, "-s", ip, "-j", sp.extChain);
      sink.rule("nat", sp.fwChain, "-m", "comment", "--comment", quote(`other traffic to ${sp.key} will be dropped by KUBE-PROXY-FIREWALL`));
    }
    const comment = (text: string): string[] => (largeCluster ? [] : ["-m", "comment", "--comment", text]);
    const endpointRules = (chain: string, endpoints: EndpointInfo[]): void => {
      if (svc.sessionAffinityTimeoutSeconds !== undefined) {
        for (const ep of endpoints) {
          sink.rule("nat", chain, ...comment(quote(`${sp.key} -> ${ep.address}`)), "-m", "recent", "--name", ep.sepChain, "--rcheck", "--seconds", String(svc.sessionAffinityTimeoutSeconds), "--reap", "-j", ep.sepChain);
        }
      }
      endpoints.forEach((ep, i) => {
        const statistic = i < endpoints.length - 1 ? ["-m", "statistic", "--mode", "random", "--probability", kubeProxyProbability(endpoints.length - i, "new")] : [];
        sink.rule("nat", chain, ...comment(quote(`${sp.key} -> ${ep.address}`)), ...statistic, "-j", ep.sepChain);
      });
    };
    if (usesClusterPolicyChain) {
      sink.chain("nat", sp.svcChain);
      endpointRules(sp.svcChain, clusterEndpoints);
    }
    if (usesLocalPolicyChain) {
      sink.chain("nat", sp.svlChain);
      endpointRules(sp.svlChain, localEndpoints);
    }
    for (const ep of reachable) {
      sink.chain("nat", ep.sepChain);
      const head = comment(sp.key);
      sink.rule("nat", ep.sepChain, ...head, "-s", ep.ip, "-j", "KUBE-MARK-MASQ");
      const affinity = svc.sessionAffinityTimeoutSeconds !== undefined ? ["-m", "recent", "--name", ep.sepChain, "--set"] : [];
      sink.rule("nat", ep.sepChain, ...head, ...affinity, "-m", p, "-p", p, "-j", "DNAT", "--to-destination", ep.address);
    }
  }

  const nodePortDestinations = v6 ? ["-m", "addrtype", "--dst-type", "LOCAL", "!", "-d", "::1/128"] : ["-m", "addrtype", "--dst-type", "LOCAL"];
  sink.rule("nat", "KUBE-SERVICES", "-m", "comment", "--comment", quote("kubernetes service nodeports; NOTE: this must be the last rule in this chain"), ...nodePortDestinations, "-j", "KUBE-NODEPORTS");
  sink.rule("filter", "KUBE-FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP");
  sink.rule("filter", "KUBE-FORWARD", "-m", "comment", "--comment", quote("kubernetes forwarding rules"), "-m", "mark", "--mark", `${mark}/${mark}`, "-j", "ACCEPT");
  sink.rule("filter", "KUBE-FORWARD", "-m", "comment", "--comment", quote("kubernetes forwarding conntrack rule"), "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT");
}

// kube-proxy ~1.17 (pkg/proxy/iptables/proxier.go of that era) plus the chains kubelet
// created then (KUBE-MARK-DROP, KUBE-FIREWALL).
function buildOld(cluster: Cluster, ports: ServicePortInfo[], sink: RuleSink, largeCluster: boolean, canaries: boolean): void {
  const v6 = cluster.family === "ipv6";
  const masqMark = "0x00004000/0x00004000";
  const dropMark = "0x00008000/0x00008000";
  const ctNew = ["-m", "conntrack", "--ctstate", "NEW"];

  if (canaries) addCanaries(sink);
  // kubelet: KUBE-MARK-DROP, KUBE-FIREWALL, KUBE-MARK-MASQ, KUBE-POSTROUTING and their jumps.
  for (const chain of ["KUBE-FIREWALL", "KUBE-EXTERNAL-SERVICES", "KUBE-SERVICES", "KUBE-FORWARD"]) sink.chain("filter", chain);
  sink.rule("filter", "INPUT", ...ctNew, "-m", "comment", "--comment", quote("kubernetes externally-visible service portals"), "-j", "KUBE-EXTERNAL-SERVICES");
  sink.rule("filter", "INPUT", "-j", "KUBE-FIREWALL");
  sink.rule("filter", "FORWARD", "-m", "comment", "--comment", quote("kubernetes forwarding rules"), "-j", "KUBE-FORWARD");
  sink.rule("filter", "FORWARD", ...ctNew, "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("filter", "OUTPUT", ...ctNew, "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("filter", "OUTPUT", "-j", "KUBE-FIREWALL");
  sink.rule("filter", "KUBE-FIREWALL", "-m", "comment", "--comment", quote("kubernetes firewall for dropping marked packets"), "-m", "mark", "--mark", dropMark, "-j", "DROP");
  if (!v6) {
    sink.rule("filter", "KUBE-FIREWALL", "-m", "comment", "--comment", quote("block incoming localnet connections"), "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP");
  }
  for (const chain of ["KUBE-MARK-DROP", "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]) sink.chain("nat", chain);
  sink.rule("nat", "PREROUTING", "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("nat", "OUTPUT", "-m", "comment", "--comment", quote("kubernetes service portals"), "-j", "KUBE-SERVICES");
  sink.rule("nat", "POSTROUTING", "-m", "comment", "--comment", quote("kubernetes postrouting rules"), "-j", "KUBE-POSTROUTING");
  sink.rule("nat", "KUBE-MARK-DROP", "-j", "MARK", "--set-xmark", dropMark);

  // kube-proxy's restore input.
  sink.rule("nat", "KUBE-POSTROUTING", "-m", "comment", "--comment", quote("kubernetes service traffic requiring SNAT"), "-m", "mark", "--mark", masqMark, "-j", "MASQUERADE", "--random-fully");
  sink.rule("nat", "KUBE-MARK-MASQ", "-j", "MARK", "--set-xmark", masqMark);

  for (const sp of ports) {
    const svc = sp.service;
    const p = sp.protocol;
    const portText = String(sp.port.port);
    const onlyLocal = svc.type !== "ClusterIP" && svc.externalTrafficPolicy === "Local";
    const hasEndpoints = sp.endpoints.length > 0;
    const svcName = sp.key;
    const dest = (ip: string, port: string): string[] => ["-m", p, "-p", p, "-d", hostCIDR(ip), "--dport", port];

    if (hasEndpoints) sink.chain("nat", sp.svcChain);
    if (onlyLocal) sink.chain("nat", sp.xlbChain);

    if (hasEndpoints) {
      const args = ["-m", "comment", "--comment", quote(`${svcName} cluster IP`), ...dest(svc.clusterIP, portText)];
      sink.rule("nat", "KUBE-SERVICES", ...args, "!", "-s", cluster.clusterCIDR, "-j", "KUBE-MARK-MASQ");
      sink.rule("nat", "KUBE-SERVICES", ...args, "-j", sp.svcChain);
    } else {
      sink.rule("filter", "KUBE-SERVICES", "-m", "comment", "--comment", quote(`${svcName} has no endpoints`), ...dest(svc.clusterIP, portText), "-j", "REJECT");
    }
    for (const ip of svc.externalIPs) {
      if (hasEndpoints) {
        const args = ["-m", "comment", "--comment", quote(`${svcName} external IP`), ...dest(ip, portText)];
        sink.rule("nat", "KUBE-SERVICES", ...args, "-j", "KUBE-MARK-MASQ");
        sink.rule("nat", "KUBE-SERVICES", ...args, "-m", "physdev", "!", "--physdev-is-in", "-m", "addrtype", "!", "--src-type", "LOCAL", "-j", sp.svcChain);
        sink.rule("nat", "KUBE-SERVICES", ...args, "-m", "addrtype", "--dst-type", "LOCAL", "-j", sp.svcChain);
      } else {
        sink.rule("filter", "KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", quote(`${svcName} has no endpoints`), ...dest(ip, portText), "-j", "REJECT");
      }
    }
    for (const ip of svc.loadBalancerIPs) {
      if (hasEndpoints) {
        sink.chain("nat", sp.fwChain);
        sink.rule("nat", "KUBE-SERVICES", "-m", "comment", "--comment", quote(`${svcName} loadbalancer IP`), ...dest(ip, portText), "-j", sp.fwChain);
        const head = ["-m", "comment", "--comment", quote(`${svcName} loadbalancer IP`)];
        let chosen = sp.xlbChain;
        if (!onlyLocal) {
          sink.rule("nat", sp.fwChain, ...head, "-j", "KUBE-MARK-MASQ");
          chosen = sp.svcChain;
        }
        if (svc.loadBalancerSourceRanges.length === 0) {
          sink.rule("nat", sp.fwChain, ...head, "-j", chosen);
        } else {
          let allowFromNode = false;
          for (const cidr of svc.loadBalancerSourceRanges) {
            sink.rule("nat", sp.fwChain, ...head, "-s", cidr, "-j", chosen);
            if (cidrContains(cidr, cluster.nodeIP)) allowFromNode = true;
          }
          if (allowFromNode) sink.rule("nat", sp.fwChain, ...head, "-s", hostCIDR(ip), "-j", chosen);
        }
        sink.rule("nat", sp.fwChain, ...head, "-j", "KUBE-MARK-DROP");
      } else {
        sink.rule("filter", "KUBE-SERVICES", "-m", "comment", "--comment", quote(`${svcName} has no endpoints`), ...dest(ip, portText), "-j", "REJECT");
      }
    }
    if (sp.port.nodePort !== undefined) {
      const nodePort = String(sp.port.nodePort);
      if (hasEndpoints) {
        const args = ["-m", "comment", "--comment", svcName, "-m", p, "-p", p, "--dport", nodePort];
        if (!onlyLocal) {
          sink.rule("nat", "KUBE-NODEPORTS", ...args, "-j", "KUBE-MARK-MASQ");
          sink.rule("nat", "KUBE-NODEPORTS", ...args, "-j", sp.svcChain);
        } else {
          sink.rule("nat", "KUBE-NODEPORTS", ...args, "-s", v6 ? "::1/128" : "127.0.0.0/8", "-j", "KUBE-MARK-MASQ");
          sink.rule("nat", "KUBE-NODEPORTS", ...args, "-j", sp.xlbChain);
        }
      } else {
        sink.rule("filter", "KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", quote(`${svcName} has no endpoints`), "-m", "addrtype", "--dst-type", "LOCAL", "-m", p, "-p", p, "--dport", nodePort, "-j", "REJECT");
      }
    }
    if (!hasEndpoints) continue;

    for (const ep of sp.endpoints) sink.chain("nat", ep.sepChain);
    const comment = largeCluster ? [] : ["-m", "comment", "--comment", svcName];
    const affinity = svc.sessionAffinityTimeoutSeconds;
    if (affinity !== undefined) {
      for (const ep of sp.endpoints) {
        sink.rule("nat", sp.svcChain, ...comment, "-m", "recent", "--name", ep.sepChain, "--rcheck", "--seconds", String(affinity), "--reap", "-j", ep.sepChain);
      }
    }
    const n = sp.endpoints.length;
    sp.endpoints.forEach((ep, i) => {
      const statistic = i < n - 1 ? ["-m", "statistic", "--mode", "random", "--probability", kubeProxyProbability(n - i, "old")] : [];
      sink.rule("nat", sp.svcChain, ...comment, ...statistic, "-j", ep.sepChain);
      sink.rule("nat", ep.sepChain, ...comment, "-s", hostCIDR(ep.ip), "-j", "KUBE-MARK-MASQ");
      const set = affinity !== undefined ? ["-m", "recent", "--name", ep.sepChain, "--set"] : [];
      sink.rule("nat", ep.sepChain, ...comment, ...set, "-m", p, "-p", p, "-j", "DNAT", "--to-destination", ep.address);
    });

    if (!onlyLocal) continue;
    const xlb = sp.xlbChain;
    sink.rule("nat", xlb, "-m", "comment", "--comment", quote("Redirect pods trying to reach external loadbalancer VIP to clusterIP"), "-s", cluster.clusterCIDR, "-j", sp.svcChain);
    sink.rule("nat", xlb, "-m", "comment", "--comment", quote(`masquerade LOCAL traffic for ${svcName} LB IP`), "-m", "addrtype", "--src-type", "LOCAL", "-j", "KUBE-MARK-MASQ");
    sink.rule("nat", xlb, "-m", "comment", "--comment", quote(`route LOCAL traffic for ${svcName} LB IP to service chain`), "-m", "addrtype", "--src-type", "LOCAL", "-j", sp.svcChain);
    const local = sp.endpoints.filter((e) => e.local);
    if (local.length === 0) {
      sink.rule("nat", xlb, "-m", "comment", "--comment", quote(`${svcName} has no local endpoints`), "-j", "KUBE-MARK-DROP");
    } else {
      if (affinity !== undefined) {
        for (const ep of local) {
          sink.rule("nat", xlb, "-m", "comment", "--comment", svcName, "-m", "recent", "--name", ep.sepChain, "--rcheck", "--seconds", String(affinity), "--reap", "-j", ep.sepChain);
        }
      }
      local.forEach((ep, i) => {
        const statistic = i < local.length - 1 ? ["-m", "statistic", "--mode", "random", "--probability", kubeProxyProbability(local.length - i, "old")] : [];
        sink.rule("nat", xlb, "-m", "comment", "--comment", quote(`Balancing rule ${i} for ${svcName}`), ...statistic, "-j", ep.sepChain);
      });
    }
  }

  sink.rule("nat", "KUBE-SERVICES", "-m", "comment", "--comment", quote("kubernetes service nodeports; NOTE: this must be the last rule in this chain"), "-m", "addrtype", "--dst-type", "LOCAL", "-j", "KUBE-NODEPORTS");
  sink.rule("filter", "KUBE-FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP");
  sink.rule("filter", "KUBE-FORWARD", "-m", "comment", "--comment", quote("kubernetes forwarding rules"), "-m", "mark", "--mark", masqMark, "-j", "ACCEPT");
  sink.rule("filter", "KUBE-FORWARD", "-s", cluster.clusterCIDR, "-m", "comment", "--comment", quote("kubernetes forwarding conntrack pod source rule"), "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT");
  sink.rule("filter", "KUBE-FORWARD", "-m", "comment", "--comment", quote("kubernetes forwarding conntrack pod destination rule"), "-d", cluster.clusterCIDR, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT");
}

// ---------------------------------------------------------------------------
// Canonical (iptables-save) spelling of a generated rule
// ---------------------------------------------------------------------------

interface ParsedOption {
  name: string;
  negated: boolean;
  value?: string;
}

const ZERO_ARGUMENT_OPTIONS = new Set(["--rcheck", "--set", "--reap", "--physdev-is-in", "--random-fully", "--rsource", "--rdest"]);

// Save order of each match's options (extensions/libxt_*.c save()).
const MATCH_OPTION_ORDER: Record<string, string[]> = {
  comment: ["--comment"],
  tcp: ["--sport", "--dport"],
  udp: ["--sport", "--dport"],
  statistic: ["--mode", "--probability"],
  addrtype: ["--src-type", "--dst-type"],
  conntrack: ["--ctstate"],
  mark: ["--mark"],
  physdev: ["--physdev-is-in"],
  recent: ["--set", "--rcheck", "--update", "--remove", "--seconds", "--reap", "--name", "--mask", "--rsource", "--rdest"],
};

function unquote(word: string): string {
  if (word.length >= 2 && word.startsWith('"') && word.endsWith('"')) return word.slice(1, -1).replace(/\\(.)/g, "$1");
  return word;
}

function hexValue(text: string): string {
  return `0x${Number.parseInt(text, 16).toString(16)}`;
}

function canonicalMark(text: string): string {
  const [value, mask] = text.split("/");
  return mask === undefined ? hexValue(value) : `${hexValue(value)}/${hexValue(mask)}`;
}

function canonicalAddress(address: string): string {
  return address.includes("/") ? address : hostCIDR(address);
}

/** Re-spells one rule (the words after `-A CHAIN`) the way iptables-save v1.8.9 prints it. */
function canonicalRule(chain: string, words: readonly string[], family: Family): string {
  let source: string | undefined;
  let destination: string | undefined;
  let protocol: string | undefined;
  const matches: { name: string; options: ParsedOption[] }[] = [];
  let target: { name: string; options: ParsedOption[] } | undefined;
  let negate = false;

  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === "!") {
      negate = true;
      continue;
    }
    const neg = negate ? "! " : "";
    negate = false;
    switch (word) {
      case "-s":
        source = `${neg}-s ${canonicalAddress(words[++i])}`;
        break;
      case "-d":
        destination = `${neg}-d ${canonicalAddress(words[++i])}`;
        break;
      case "-p":
        protocol = `${neg}-p ${words[++i]}`;
        break;
      case "-m":
        matches.push({ name: words[++i], options: [] });
        break;
      case "-j":
        target = { name: words[++i], options: [] };
        break;
      default: {
        if (!word.startsWith("--")) throw new Error(`kubegen: unexpected word ${word} in ${words.join(" ")}`);
        const option: ParsedOption = { name: word, negated: neg !== "" };
        if (!ZERO_ARGUMENT_OPTIONS.has(word)) option.value = words[++i];
        const owner = target ?? matches[matches.length - 1];
        if (owner === undefined) throw new Error(`kubegen: option ${word} outside a match in ${words.join(" ")}`);
        owner.options.push(option);
      }
    }
  }

  let line = `-A ${chain}`;
  if (source !== undefined) line += ` ${source}`;
  if (destination !== undefined) line += ` ${destination}`;
  if (protocol !== undefined) line += ` ${protocol}`;
  for (const match of matches) line += ` -m ${match.name}${canonicalMatchOptions(match.name, match.options, family)}`;
  if (target !== undefined) line += ` -j ${target.name}${canonicalTargetOptions(target.name, target.options, family)}`;
  return line;
}

function canonicalMatchOptions(name: string, options: ParsedOption[], family: Family): string {
  const order = MATCH_OPTION_ORDER[name];
  if (order === undefined) throw new Error(`kubegen: no save order for match ${name}`);
  const byName = new Map(options.map((o) => [o.name, o]));
  for (const option of options) if (!order.includes(option.name)) throw new Error(`kubegen: option ${option.name} of match ${name}`);
  if (name === "recent") {
    if (!byName.has("--name")) byName.set("--name", { name: "--name", negated: false, value: "DEFAULT" });
    if (!byName.has("--mask")) {
      const mask = family === "ipv4" ? "255.255.255.255" : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
      byName.set("--mask", { name: "--mask", negated: false, value: mask });
    }
    if (!byName.has("--rdest") && !byName.has("--rsource")) byName.set("--rsource", { name: "--rsource", negated: false });
  }
  let out = "";
  for (const optionName of order) {
    const option = byName.get(optionName);
    if (option === undefined) continue;
    if (name === "statistic" && optionName === "--probability") {
      // libxt_statistic prints the negation after the mode: `--mode random ! --probability P`.
      out += `${option.negated ? " !" : ""} --probability ${canonicalProbability(option.value ?? "")}`;
      continue;
    }
    out += option.negated ? ` ! ${optionName}` : ` ${optionName}`;
    if (option.value === undefined) continue;
    if (optionName === "--comment") out += ` ${saveString(unquote(option.value))}`;
    else if (name === "mark") out += ` ${canonicalMark(option.value)}`;
    else out += ` ${option.value}`;
  }
  return out;
}

function canonicalTargetOptions(name: string, options: ParsedOption[], family: Family): string {
  const value = (optionName: string): string | undefined => options.find((o) => o.name === optionName)?.value;
  switch (name) {
    case "MARK": {
      const or = value("--or-mark");
      if (or !== undefined) return ` --set-xmark ${hexValue(or)}/${hexValue(or)}`;
      const xor = value("--xor-mark");
      if (xor !== undefined) return ` --set-xmark ${hexValue(xor)}/0x0`;
      const xmark = value("--set-xmark");
      if (xmark !== undefined) return ` --set-xmark ${canonicalMark(xmark)}`;
      throw new Error("kubegen: unsupported MARK options");
    }
    case "REJECT":
      return ` --reject-with ${value("--reject-with") ?? (family === "ipv4" ? "icmp-port-unreachable" : "icmp6-port-unreachable")}`;
    case "DNAT":
      return ` --to-destination ${value("--to-destination")}`;
    case "MASQUERADE":
      return options.some((o) => o.name === "--random-fully") ? " --random-fully" : "";
    default:
      if (options.length > 0) throw new Error(`kubegen: unexpected options for target ${name}`);
      return "";
  }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

const DEFAULT_DATE = "Mon Jan  1 00:00:00 2024";

function resolveRenderOptions(cluster: Cluster, options: RenderOptions): Required<RenderOptions> {
  return {
    order: options.order ?? "canonical",
    counters: options.counters ?? false,
    backend: options.backend ?? "nft",
    canaries: options.canaries ?? cluster.generation === "new",
    largeClusterMode: options.largeClusterMode ?? false,
    date: options.date ?? DEFAULT_DATE,
  };
}

/** Renders a cluster model as an iptables dump (see RenderOptions). */
export function renderDump(cluster: Cluster, options: RenderOptions = {}): string {
  return renderLines(cluster, options).join("\n") + "\n";
}

function renderLines(cluster: Cluster, options: RenderOptions): string[] {
  const render = resolveRenderOptions(cluster, options);
  const sink = buildRules(cluster, render);
  const lines: string[] = [];
  const tables = [...sink.tables.values()];
  const prefix = (r: { packets: number; bytes: number }): string => (render.counters ? `[${r.packets}:${r.bytes}] ` : "");

  if (render.order === "restore") {
    for (const table of tables) {
      lines.push(`*${table.name}`);
      for (const chain of table.builtins) lines.push(`:${chain.name} ACCEPT [${chain.packets}:${chain.bytes}]`);
      for (const chain of table.chains) lines.push(`:${chain} - [0:0]`);
      for (const rule of table.rules) lines.push(`${prefix(rule)}-A ${rule.chain} ${rule.words.join(" ")}`);
      lines.push("COMMIT");
    }
    return lines;
  }

  const tool = `${cluster.family === "ipv4" ? "iptables" : "ip6tables"}-save v1.8.9${render.backend === "nft" ? " (nf_tables)" : ""}`;
  // nft walks its fixed table list (mangle, security, raw, filter, nat); legacy lists the
  // tables newest-registered first, i.e. the reverse of the restore input's order.
  const ordered = render.backend === "nft" ? tables : [...tables].reverse();
  for (const table of ordered) {
    const byChain = new Map<string, GeneratedRule[]>();
    for (const rule of table.rules) {
      let list = byChain.get(rule.chain);
      if (list === undefined) byChain.set(rule.chain, (list = []));
      list.push(rule);
    }
    for (const chain of byChain.keys()) {
      if (!table.chainSet.has(chain) && !BUILTIN_CHAINS[table.name].includes(chain)) throw new Error(`kubegen: rule in undeclared chain ${chain}`);
    }
    // Built-in chains in hook order, then user chains sorted by strcmp.
    const userChains = [...table.chains].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    lines.push(`# Generated by ${tool} on ${render.date}`, `*${table.name}`);
    for (const chain of table.builtins) lines.push(`:${chain.name} ACCEPT [${chain.packets}:${chain.bytes}]`);
    for (const chain of userChains) lines.push(`:${chain} - [0:0]`);
    for (const chain of [...table.builtins.map((b) => b.name), ...userChains]) {
      for (const rule of byChain.get(chain) ?? []) lines.push(prefix(rule) + canonicalRule(chain, rule.words, cluster.family));
    }
    lines.push("COMMIT", `# Completed on ${render.date}`);
  }
  return lines;
}

/** Generates a dump in one call; see generateKubeProxyDumpWithTruth for the model and ground truth. */
export function generateKubeProxyDump(options: KubeGenOptions): string {
  return renderDump(generateCluster(options), options);
}

/** Generates a dump together with the cluster model and the service map it encodes. */
export function generateKubeProxyDumpWithTruth(options: KubeGenOptions): GeneratedDump {
  const cluster = generateCluster(options);
  const lines = renderLines(cluster, options);
  return { text: lines.join("\n") + "\n", cluster, truth: groundTruth(cluster), lines: lines.length };
}

// ---------------------------------------------------------------------------
// Ground truth
// ---------------------------------------------------------------------------

function shares(endpoints: readonly EndpointInfo[]): TruthEndpoint[] {
  return endpoints.map((e) => ({ ip: e.ip, port: e.port, address: e.address, sepChain: e.sepChain, local: e.local, probability: 1 / endpoints.length }));
}

/** The service map encoded by the dump of `cluster`: what a resolver should recover. */
export function groundTruth(cluster: Cluster): TruthServicePort[] {
  return servicePorts(cluster).map((sp) => (cluster.generation === "old" ? truthOld(sp) : truthNew(sp)));
}

function truthBase(sp: ServicePortInfo): Omit<TruthServicePort, "chains" | "frontends"> {
  const svc = sp.service;
  const base: Omit<TruthServicePort, "chains" | "frontends"> = {
    key: sp.key,
    namespace: svc.namespace,
    name: svc.name,
    portName: sp.port.name,
    protocol: sp.protocol,
    type: svc.type,
    externalTrafficPolicy: svc.externalTrafficPolicy,
    internalTrafficPolicy: svc.internalTrafficPolicy,
    endpoints: sp.endpoints,
  };
  if (svc.sessionAffinityTimeoutSeconds !== undefined) base.affinitySeconds = svc.sessionAffinityTimeoutSeconds;
  if (svc.healthCheckNodePort !== undefined) base.healthCheckNodePort = svc.healthCheckNodePort;
  return base;
}

interface FrontendAddress {
  kind: FrontendKind;
  ip?: string;
  port: number;
}

function frontendAddresses(sp: ServicePortInfo): FrontendAddress[] {
  const svc = sp.service;
  const result: FrontendAddress[] = [{ kind: "clusterIP", ip: svc.clusterIP, port: sp.port.port }];
  for (const ip of svc.externalIPs) result.push({ kind: "externalIP", ip, port: sp.port.port });
  for (const ip of svc.loadBalancerIPs) result.push({ kind: "loadBalancerIP", ip, port: sp.port.port });
  if (sp.port.nodePort !== undefined) result.push({ kind: "nodePort", port: sp.port.nodePort });
  return result;
}

function truthNew(sp: ServicePortInfo): TruthServicePort {
  const svc = sp.service;
  const externallyAccessible = sp.port.nodePort !== undefined || svc.loadBalancerIPs.length > 0 || svc.externalIPs.length > 0;
  const internalLocal = svc.internalTrafficPolicy === "Local";
  const externalLocal = externallyAccessible && svc.externalTrafficPolicy === "Local";
  const usesClusterEndpoints = !internalLocal || externallyAccessible;
  const usesLocalEndpoints = internalLocal || externalLocal;
  const local = sp.endpoints.filter((e) => e.local);
  const hasEndpoints = sp.endpoints.length > 0;
  const reachable = usesClusterEndpoints ? sp.endpoints : usesLocalEndpoints ? local : [];

  const chains: TruthServicePort["chains"] = { sep: reachable.map((e) => e.sepChain) };
  if (hasEndpoints && usesClusterEndpoints) chains.svc = sp.svcChain;
  if (usesLocalEndpoints && local.length > 0) chains.svl = sp.svlChain;
  if (hasEndpoints && externallyAccessible) chains.ext = sp.extChain;
  if (hasEndpoints && svc.loadBalancerIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0) chains.fw = sp.fwChain;

  const frontends = frontendAddresses(sp).map((address): TruthFrontend => {
    const frontend: TruthFrontend = { ...address, protocol: sp.protocol, verdict: "dnat", endpoints: [], masquerade: false };
    if (address.kind === "clusterIP") {
      const endpoints = internalLocal ? local : sp.endpoints;
      if (endpoints.length === 0) frontend.verdict = hasEndpoints ? "drop" : "reject";
      else {
        frontend.endpoints = shares(endpoints);
        frontend.masquerade = true; // the client is outside the pod CIDR
      }
      return frontend;
    }
    if (address.kind === "loadBalancerIP" && svc.loadBalancerSourceRanges.length > 0) frontend.sourceRanges = [...svc.loadBalancerSourceRanges];
    const endpoints = externalLocal ? local : sp.endpoints;
    if (!hasEndpoints) frontend.verdict = "reject";
    else if (endpoints.length === 0) frontend.verdict = "drop";
    else {
      frontend.endpoints = shares(endpoints);
      frontend.masquerade = !externalLocal;
    }
    if (hasEndpoints && externalLocal) frontend.podEndpoints = shares(sp.endpoints);
    return frontend;
  });
  return { ...truthBase(sp), chains, frontends };
}

function truthOld(sp: ServicePortInfo): TruthServicePort {
  const svc = sp.service;
  const onlyLocal = svc.type !== "ClusterIP" && svc.externalTrafficPolicy === "Local";
  const hasEndpoints = sp.endpoints.length > 0;
  const local = sp.endpoints.filter((e) => e.local);

  const chains: TruthServicePort["chains"] = { sep: hasEndpoints ? sp.endpoints.map((e) => e.sepChain) : [] };
  if (hasEndpoints) chains.svc = sp.svcChain;
  if (onlyLocal) chains.xlb = sp.xlbChain;
  if (hasEndpoints && svc.loadBalancerIPs.length > 0) chains.fw = sp.fwChain;

  const frontends = frontendAddresses(sp).map((address): TruthFrontend => {
    const frontend: TruthFrontend = { ...address, protocol: sp.protocol, verdict: "dnat", endpoints: [], masquerade: false };
    if (address.kind === "loadBalancerIP" && svc.loadBalancerSourceRanges.length > 0) frontend.sourceRanges = [...svc.loadBalancerSourceRanges];
    if (!hasEndpoints) {
      // Old kube-proxy hooks KUBE-EXTERNAL-SERVICES from INPUT only: a packet to an external or
      // load-balancer IP that is not the node's own is forwarded untouched.
      frontend.verdict = address.kind === "externalIP" ? "forward" : "reject";
      return frontend;
    }
    const viaXlb = onlyLocal && (address.kind === "loadBalancerIP" || address.kind === "nodePort");
    if (!viaXlb) {
      frontend.endpoints = shares(sp.endpoints);
      frontend.masquerade = true;
      return frontend;
    }
    // KUBE-MARK-DROP, then KUBE-FIREWALL, which old kube-proxy hooks from INPUT and OUTPUT only: a
    // load-balancer IP that is not the node's own is forwarded, marked but untouched.
    if (local.length === 0) frontend.verdict = address.kind === "nodePort" ? "drop" : "forward";
    else frontend.endpoints = shares(local);
    frontend.podEndpoints = shares(sp.endpoints);
    return frontend;
  });
  return { ...truthBase(sp), chains, frontends };
}
