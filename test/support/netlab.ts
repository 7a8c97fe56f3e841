// The kernel packet lab: what the real kernel does with packets under a ruleset.
//
//   const observations = await runLab(dump, topology, [{ from: "pod", proto: "udp", src: "10.244.0.5",
//     dst: "10.96.0.10", dport: 53, packets: 40 }]);
//
// It builds private network namespaces (a node holding the ruleset, one peer namespace per node link; see
// netlab-plan.ts), sends real packets from the peers or the node, and for each packet reports:
// - conntrack: the node's `conntrack -L` entry (DNAT = reply source, SNAT/MASQUERADE = reply destination);
// - fate: read from nft observer chains hooked after every iptables chain: "local" if the packet reached the end of
//   the node's INPUT hooks, "forwarded" if it reached the end of POSTROUTING towards a link and was recorded
//   arriving in the namespace behind it, "dropped" if it reached the node's first hook but neither. Observers
//   only count; the kernel's verdicts decide. Each record carries the packet's headers as seen at that point and
//   its conntrack original source port, so a NATed packet is tied to the packet that was sent independently of
//   `conntrack -L` (the tests check that the two agree);
// - responses: what the node generated in answer (RST, ICMP errors), recorded then dropped before the ruleset,
//   so that the rule counters only move for the flow's own packets;
// and for each flow the rule and policy counter deltas of `iptables-save -c` (flows run one after another).

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import {
  hasCounters, ipsetsReferenced, kernelDescribe, kernelStatus, toolEnv, type Backend, type Family, type KernelStatus, type SuiteFunction,
} from "./kernel.js";
import { buildPlan, canonicalAddress, nodeMarkNft, PEER_ARRIVED_SET, OBSERVER_TABLE, type LabPlan } from "./netlab-plan.js";
import {
  checkCatalog, counterDeltas, nodeRecords, observePacket, packetProgress, parseConntrack, parseNftSets, parsePeerArrivals, peersReached,
  readCounters, ruleCatalog, type CounterSnapshot, type LabSnapshot, type RuleCatalog, type SentPacket,
} from "./netlab-observe.js";
import { Sender, type OutgoingPacket } from "./netlab-sender.js";
import type { LabFlow, LabIpset, LabObservation, LabOptions, LabSide, LabTopology } from "./netlab-types.js";

export type * from "./netlab-types.js";

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_SETTLE_MS = 1_000;
const POLL_INTERVAL_MS = 10;
const FLOWS_PER_RESET = 32;
const MAX_PACKETS_PER_FLOW = 10_000;
const FIRST_SOURCE_PORT = 20_000;
const LAST_SOURCE_PORT = 60_999;
const OUTPUT_SEPARATOR = "@@iptscope-netlab@@";
const NETNS_DIR = "/run/netns";
const NAMESPACE_PREFIX = "iptscope";

interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a command with a time bound; rejects with its stderr on failure. */
function run(command: string, args: string[], timeoutMs: number, input = ""): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: toolEnv(), stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.stdin.on("error", () => {});
    child.on("error", (error) => reject(new Error(`netlab: cannot run ${command}: ${error.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        const how = signal ? `killed by ${signal} (time limit ${timeoutMs} ms?)` : `exit status ${code}`;
        reject(new Error(`netlab: ${command} ${args.slice(0, 4).join(" ")} … failed (${how}): ${stderr.trim()}`));
      }
    });
    child.stdin.end(input);
  });
}

const inNamespace = (namespace: string, command: string, args: string[], timeoutMs: number, input?: string) =>
  run("ip", ["netns", "exec", namespace, command, ...args], timeoutMs, input);

// Data only ever travels as arguments and stdin, never as script text.
const SYSCTL_SCRIPT = `while [ "$#" -ge 2 ]; do printf '%s\\n' "$2" > "/proc/sys/$1" || exit 1; shift 2; done`;

// Arguments: restore command, counters (0|1), set count, then per set name/type/family, then name/member pairs.
const LOAD_SCRIPT = `set -e
restore=$1; counters=$2; sets=$3; shift 3
while [ "$sets" -gt 0 ]; do ipset create "$1" "$2" family "$3"; shift 3; sets=$((sets - 1)); done
while [ "$#" -ge 2 ]; do ipset add "$1" "$2"; shift 2; done
if [ "$counters" = 1 ]; then "$restore" -w 30 -c; else "$restore" -w 30; fi`;

// Observer sets first: a packet recorded there has been through the node by the time counters are read.
const COLLECT_SCRIPT = `set -e
nft -j -n list table inet "$1"
echo "$4"
conntrack -L -f "$3"
echo "$4"
"$2" -c`;

// ---------------------------------------------------------------------------------------------------------------
// Namespace bookkeeping: every namespace this process creates is deleted by close(), or at exit at the latest;
// namespaces left by a process that died without either are removed by the next lab.

const liveNamespaces = new Set<string>();
let exitHookInstalled = false;
let labCounter = 0;
const processTag = randomBytes(3).toString("hex");

function deleteNamespacesSync(names: string[]): void {
  if (names.length === 0) return;
  spawnSync("ip", ["-force", "-batch", "-"], { input: names.map((n) => `netns del ${n}\n`).join(""), env: toolEnv(), timeout: 10_000 });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => deleteNamespacesSync([...liveNamespaces]));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

let staleSwept = false;

function sweepStaleNamespaces(): void {
  if (staleSwept || !existsSync(NETNS_DIR)) return;
  staleSwept = true;
  const stale = readdirSync(NETNS_DIR).filter((name) => {
    const match = new RegExp(`^${NAMESPACE_PREFIX}-(\\d+)-`).exec(name);
    return match !== null && Number(match[1]) !== process.pid && !processAlive(Number(match[1]));
  });
  deleteNamespacesSync(stale);
}

// ---------------------------------------------------------------------------------------------------------------

function iptablesTools(backend: Backend, family: Family): { restore: string; save: string } {
  const prefix = `${family === "ipv6" ? "ip6tables" : "iptables"}-${backend}`;
  return { restore: `${prefix}-restore`, save: `${prefix}-save` };
}

function validateFlow(flow: LabFlow, index: number, plan: LabPlan): void {
  const what = `flow ${index} (${flow.from} ${flow.proto} ${flow.src} → ${flow.dst}:${flow.dport})`;
  const invalid = (reason: string) => new Error(`netlab: ${what}: ${reason}`);
  const source = plan.sources[flow.from];
  if (!source) throw invalid(`the topology has no "${flow.from}" side`);
  if (flow.proto !== "tcp" && flow.proto !== "udp") throw invalid("protocol must be tcp or udp");
  const src = canonicalAddress(flow.src, plan.family, `${what}: src`);
  canonicalAddress(flow.dst, plan.family, `${what}: dst`);
  if (!source.addresses.has(src)) throw invalid(`${src} is not an address of the ${flow.from} side (${[...source.addresses].join(", ")})`);
  const isPort = (p: number) => Number.isInteger(p) && p >= 1 && p <= 65535;
  if (!isPort(flow.dport)) throw invalid("dport must be 1-65535");
  if (!Number.isInteger(flow.packets) || flow.packets < 1 || flow.packets > MAX_PACKETS_PER_FLOW) {
    throw invalid(`packets must be 1-${MAX_PACKETS_PER_FLOW}`);
  }
  if (flow.sport !== undefined && (!isPort(flow.sport) || flow.packets !== 1)) throw invalid("a fixed sport (1-65535) needs packets = 1");
  if (flow.mark !== undefined && (flow.from !== "node" || !Number.isInteger(flow.mark) || flow.mark < 0 || flow.mark > 0xffffffff)) {
    throw invalid("mark is a 32-bit value for node flows only");
  }
}

/**
 * A loaded lab: namespaces built, ruleset loaded. Run flows with {@link NetLab.run} as often as needed, then
 * {@link NetLab.close}. {@link runLab} does all three.
 */
export class NetLab {
  private readonly senders = new Map<LabSide, Promise<Sender>>();
  private nextSourcePort = FIRST_SOURCE_PORT;
  private catalog: RuleCatalog | undefined;
  private counters: CounterSnapshot | undefined;
  private flowsSinceReset = 0;
  private readonly portsSinceReset = new Set<number>();
  private markInstalled = false;
  private closed = false;

  private constructor(
    readonly plan: LabPlan,
    private readonly tools: { restore: string; save: string },
    private readonly timeoutMs: number,
    private readonly settleMs: number,
  ) {}

  /** Builds the namespaces and loads `ruleset` (iptables-save or restore text) into the node namespace. */
  static async open(ruleset: string, topology: LabTopology, options: LabOptions = {}): Promise<NetLab> {
    sweepStaleNamespaces();
    const prefix = `${NAMESPACE_PREFIX}-${process.pid}-${processTag}${labCounter++}`;
    const plan = buildPlan(topology, prefix);
    const tools = iptablesTools(options.backend ?? "nft", plan.family);
    const lab = new NetLab(plan, tools, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.settleMs ?? DEFAULT_SETTLE_MS);
    try {
      await lab.build(topology.ipsets ?? ipsetsReferenced(ruleset, plan.family), ruleset);
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  private get namespaces(): string[] {
    return [this.plan.node.name, ...this.plan.peers.map((p) => p.name)];
  }

  private async build(ipsets: LabIpset[], ruleset: string): Promise<void> {
    const { plan, timeoutMs } = this;
    installExitHook();
    for (const name of this.namespaces) liveNamespaces.add(name);
    await run("ip", ["-batch", "-"], timeoutMs, this.namespaces.map((n) => `netns add ${n}\n`).join(""));
    const all = [plan.node, ...plan.peers];
    await Promise.all(
      all.map(async (ns) => {
        await inNamespace(ns.name, "sh", ["-c", SYSCTL_SCRIPT, "sh", ...ns.sysctls.flat()], timeoutMs);
        await inNamespace(ns.name, "nft", ["-f", "-"], timeoutMs, ns.nft);
      }),
    );
    const familyFlag = plan.family === "ipv4" ? "-4" : "-6";
    await run("ip", [familyFlag, "-n", plan.node.name, "-batch", "-"], timeoutMs, plan.node.ipBatch);
    await Promise.all(plan.peers.map((p) => run("ip", [familyFlag, "-n", p.name, "-batch", "-"], timeoutMs, p.ipBatch)));
    if (plan.nodeSysctls.length > 0) {
      await inNamespace(plan.node.name, "sh", ["-c", SYSCTL_SCRIPT, "sh", ...plan.nodeSysctls.flat()], timeoutMs);
    }
    const setFamily = plan.family === "ipv6" ? "inet6" : "inet";
    const loadArgs = [
      this.tools.restore,
      hasCounters(ruleset) ? "1" : "0",
      String(ipsets.length),
      ...ipsets.flatMap((s) => [s.name, s.type, s.family ?? setFamily]),
      ...ipsets.flatMap((s) => (s.members ?? []).flatMap((m) => [s.name, m])),
    ];
    await inNamespace(plan.node.name, "sh", ["-c", LOAD_SCRIPT, "sh", ...loadArgs], timeoutMs, ruleset);
    const { saved, counters } = await this.snapshot();
    this.catalog = ruleCatalog(saved);
    checkCatalog(this.catalog, counters);
    this.counters = counters;
  }

  private senderFor(side: LabSide): Promise<Sender> {
    let sender = this.senders.get(side);
    if (!sender) {
      sender = Sender.start(this.plan.sources[side]!.namespace, this.timeoutMs);
      this.senders.set(side, sender);
    }
    return sender;
  }

  /** Reads the node, then the peers that the node sent any of `sent` to. */
  private async snapshot(sent: SentPacket[] = []): Promise<LabSnapshot & { saved: string }> {
    const { plan, timeoutMs } = this;
    const nodeOutput = await inNamespace(
      plan.node.name, "sh", ["-c", COLLECT_SCRIPT, "sh", OBSERVER_TABLE, this.tools.save, plan.family, OUTPUT_SEPARATOR], timeoutMs,
    );
    const [sets, conntrack, saved] = nodeOutput.stdout.split(`${OUTPUT_SEPARATOR}\n`);
    if (saved === undefined) throw new Error(`netlab: unexpected collector output: ${nodeOutput.stdout.slice(0, 200)}`);
    const node = nodeRecords(plan, parseNftSets(sets!));
    const peerArrivals = await Promise.all(
      peersReached(sent, node).map(async (namespace) => {
        const { stdout } = await inNamespace(namespace, "nft", ["-j", "-n", "list", "set", "inet", OBSERVER_TABLE, PEER_ARRIVED_SET], timeoutMs);
        return [namespace, parsePeerArrivals(stdout, plan.family, PEER_ARRIVED_SET)] as const;
      }),
    );
    return { node, peerArrivals: new Map(peerArrivals), conntrack: parseConntrack(conntrack!, plan.family), counters: readCounters(saved), saved };
  }

  private allocateSourcePorts(count: number): number[] {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      ports.push(this.nextSourcePort);
      this.nextSourcePort = this.nextSourcePort >= LAST_SOURCE_PORT ? FIRST_SOURCE_PORT : this.nextSourcePort + 1;
    }
    return ports;
  }

  /**
   * Observations are tied to packets by source port, so the observer sets and conntrack only need emptying when
   * a port comes back (a fixed sport, or the allocator wrapping) or the sets grow long; the mark rule changes
   * only when a flow carries a mark or the previous one did.
   */
  private async prepare(flow: LabFlow, src: string, sports: number[]): Promise<void> {
    const { plan, timeoutMs } = this;
    const mark = flow.mark === undefined ? undefined : { src, proto: flow.proto, value: flow.mark };
    const reset = this.flowsSinceReset >= FLOWS_PER_RESET || sports.some((p) => this.portsSinceReset.has(p));
    if (reset) {
      await Promise.all([
        inNamespace(plan.node.name, "sh", ["-c", "conntrack -F >/dev/null 2>&1; exec nft -f -"], timeoutMs, plan.node.resetNft + nodeMarkNft(plan, mark)),
        ...plan.peers.map((p) => inNamespace(p.name, "nft", ["-f", "-"], timeoutMs, p.resetNft)),
      ]);
      this.flowsSinceReset = 0;
      this.portsSinceReset.clear();
    } else if (mark !== undefined || this.markInstalled) {
      await inNamespace(plan.node.name, "nft", ["-f", "-"], timeoutMs, nodeMarkNft(plan, mark));
    }
    this.markInstalled = mark !== undefined;
    this.flowsSinceReset++;
    for (const p of sports) this.portsSinceReset.add(p);
  }

  /** Runs the flows one after another (each flow's counters are its own) and reports what the kernel did. */
  async run(flows: LabFlow[]): Promise<LabObservation[]> {
    if (this.closed) throw new Error("netlab: the lab is closed");
    flows.forEach((flow, i) => validateFlow(flow, i, this.plan));
    const observations: LabObservation[] = [];
    for (const flow of flows) observations.push(await this.runFlow(flow));
    return observations;
  }

  private async runFlow(flow: LabFlow): Promise<LabObservation> {
    const { plan, timeoutMs } = this;
    const src = canonicalAddress(flow.src, plan.family, "src");
    const dst = canonicalAddress(flow.dst, plan.family, "dst");
    const sports = flow.sport !== undefined ? [flow.sport] : this.allocateSourcePorts(flow.packets);
    const packets: OutgoingPacket[] = sports.map((sport) => ({ proto: flow.proto, src, sport, dst, dport: flow.dport }));

    await this.prepare(flow, src, sports);

    const sender = await this.senderFor(flow.from);
    const results = await sender.send(plan.family, packets, timeoutMs);
    const sent: SentPacket[] = packets.map((p, i) => ({
      proto: p.proto,
      tuple: { src: p.src, sport: p.sport, dst: p.dst, dport: p.dport },
      sendError: results[i]?.error ?? null,
    }));

    const deadline = Date.now() + this.settleMs;
    let snapshot = await this.snapshot(sent);
    while (!sent.every((p) => packetProgress(p, snapshot) === "settled") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      snapshot = await this.snapshot(sent);
    }
    const missing = sent.filter((p) => packetProgress(p, snapshot) === "not-at-node");
    if (missing.length > 0) {
      const first = missing[0]!;
      throw new Error(
        `netlab: ${missing.length} packet(s) of ${flow.from} ${flow.proto} ${src} → ${dst}:${flow.dport} never reached the node ` +
          `(first: sport ${first.tuple.sport}${first.sendError ? `, send error ${first.sendError}` : ""})`,
      );
    }
    const { ruleHits, policyHits } = counterDeltas(this.catalog!, this.counters!, snapshot.counters);
    this.counters = snapshot.counters;
    return { flow, perPacket: sent.map((p) => observePacket(p, snapshot)), ruleHits, policyHits };
  }

  /** Stops the senders and deletes the namespaces. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const senders = await Promise.allSettled([...this.senders.values()]);
    await Promise.all(senders.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined)));
    const names = this.namespaces;
    deleteNamespacesSync(names);
    for (const name of names) liveNamespaces.delete(name);
  }
}

/** Builds a lab, runs the flows, tears the lab down. */
export async function runLab(ruleset: string, topology: LabTopology, flows: LabFlow[], options: LabOptions = {}): Promise<LabObservation[]> {
  const lab = await NetLab.open(ruleset, topology, options);
  try {
    return await lab.run(flows);
  } finally {
    await lab.close();
  }
}

// Two namespaces joined by a veth pair, an nft table using conntrack, conntrack -L, and Node inside a namespace.
const PROBE_SCRIPT = `a=$1; b=$2; node=$3
fail() { echo "$1" >&2; ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; exit 1; }
ip netns add "$a" || fail "ip netns add failed"
ip netns add "$b" || fail "ip netns add failed"
ip -n "$a" link add probe0 type veth peer name probe1 netns "$b" || fail "cannot create a veth pair between namespaces"
printf 'table inet probe {\n chain c {\n  type filter hook input priority 0;\n  ct state new counter\n }\n}\n' | ip netns exec "$a" nft -f - ||
  fail "nft cannot load a table with a conntrack expression in a namespace"
ip netns exec "$a" conntrack -L >/dev/null 2>&1 || fail "conntrack -L fails in a namespace"
ip netns exec "$b" "$node" -e 'process.exit(0)' || fail "cannot run node inside a namespace"
ip netns del "$a"; ip netns del "$b"
echo ok`;

let cachedStatus: KernelStatus | undefined;

/** Whether packet labs can run here: the kernel oracle's needs plus netns, veth, nft, conntrack. Cached. */
export function netlabStatus(): KernelStatus {
  cachedStatus ??= probeNetlab();
  return cachedStatus;
}

function probeNetlab(): KernelStatus {
  const kernel = kernelStatus();
  if (!kernel.usable) return kernel;
  const tag = `${NAMESPACE_PREFIX}-${process.pid}-probe${randomBytes(3).toString("hex")}`;
  const result = spawnSync("sh", ["-c", PROBE_SCRIPT, "sh", `${tag}-a`, `${tag}-b`, process.execPath], {
    encoding: "utf8",
    env: toolEnv(),
    timeout: 20_000,
  });
  if (result.error) return { usable: false, reason: `packet lab probe could not run: ${result.error.message}` };
  if (result.status !== 0 || result.stdout.trim() !== "ok") {
    return { usable: false, reason: `packet lab probe failed: ${result.stderr.trim() || `exit status ${result.status ?? result.signal}`}` };
  }
  return { usable: true };
}

/** `describe` for packet-lab suites: runs them where labs work, fails them in CI, skips them elsewhere (with why). */
export function netlabDescribe(): SuiteFunction {
  return kernelDescribe(netlabStatus, "kernel packet lab");
}
