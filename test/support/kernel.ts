// The kernel oracle: load a dump into the real kernel inside a private network namespace (unshare -n) with
// iptables-{nft,legacy}-restore and print it back with *-save. The namespace dies with the process, so nothing
// touches the host's ruleset and nothing needs cleaning up. Needs root (unshare -n) and the iptables/ipset tools.
//
// test/support/regen-samples.sh does the same round trip in bash; keep the two in step.

import { spawnSync } from "node:child_process";
import { describe, it } from "vitest";

export type Family = "ipv4" | "ipv6";
export type Backend = "nft" | "legacy";

export interface IpsetSpec {
  name: string;
  /** ipset type, e.g. "hash:net"; only its dimension matters to iptables. */
  type: string;
  family?: "inet" | "inet6";
}

export interface RoundTripOptions {
  family?: Family;
  backend?: Backend;
  /** restore and save with -c (keep [pkts:bytes] counters). */
  counters?: boolean;
  /** ipsets to create in the namespace before loading (-m set needs them to exist). */
  ipsets?: IpsetSpec[];
  /** milliseconds; default 60 000. */
  timeoutMs?: number;
}

export type RoundTripResult = { ok: true; saved: string } | { ok: false; stderr: string };
export type KernelStatus = { usable: true } | { usable: false; reason: string };

/** A test-suite function with the shape of vitest's `describe(name, fn)`. */
export type SuiteFunction = (name: string, fn: () => void) => void;

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

// iptables and ipset live in /usr/sbin, which is not always on PATH for non-login shells.
export function toolEnv(): NodeJS.ProcessEnv {
  const path = [process.env.PATH ?? "", "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].filter(Boolean).join(":");
  return { ...process.env, PATH: path, LC_ALL: "C" };
}

// Runs inside the namespace. Arguments: restore, save, counters (0|1), then triples of ipset name, type, family.
// The dump arrives on stdin; data only ever travels as arguments, never as script text. "-w 30": the legacy
// backend takes the global /run/xtables.lock even inside a namespace, so parallel test workers must wait for it.
const ROUND_TRIP_SCRIPT = `set -e
restore=$1; save=$2; counters=$3; shift 3
while [ "$#" -ge 3 ]; do ipset create "$1" "$2" family "$3"; shift 3; done
if [ "$counters" = 1 ]; then "$restore" -w 30 -c; "$save" -c; else "$restore" -w 30; "$save"; fi`;

// Loads one rule with each tool pair and checks it comes back; prints what failed on stderr.
const PROBE_SCRIPT = `fail() { echo "$1" >&2; exit 1; }
for tool in iptables-nft-restore iptables-nft-save ip6tables-nft-restore ip6tables-nft-save \\
    iptables-legacy-restore iptables-legacy-save ip6tables-legacy-restore ip6tables-legacy-save ipset; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found on PATH"
done
for backend in nft legacy; do
  out=$(printf '*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -s 192.0.2.1 -j ACCEPT\\nCOMMIT\\n' | iptables-$backend-restore -w 30 2>&1) ||
    fail "iptables-$backend-restore failed in a private namespace: $out"
  iptables-$backend-save | grep -q -- '-A INPUT -s 192.0.2.1/32 -j ACCEPT' ||
    fail "iptables-$backend-save did not print the probe rule"
  out=$(printf '*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -s 2001:db8::1 -j ACCEPT\\nCOMMIT\\n' | ip6tables-$backend-restore -w 30 2>&1) ||
    fail "ip6tables-$backend-restore failed in a private namespace: $out"
  ip6tables-$backend-save | grep -q -- '-A INPUT -s 2001:db8::1/128 -j ACCEPT' ||
    fail "ip6tables-$backend-save did not print the probe rule"
done
out=$(ipset create iptscope-probe hash:net family inet 2>&1) || fail "ipset create failed in a private namespace: $out"
echo ok`;

let cachedStatus: KernelStatus | undefined;

/** Whether the kernel oracle can run here (root, unshare -n, iptables nft+legacy for v4+v6, ipset). Cached. */
export function kernelStatus(): KernelStatus {
  cachedStatus ??= probeKernel();
  return cachedStatus;
}

function probeKernel(): KernelStatus {
  if (process.platform !== "linux") return { usable: false, reason: `not Linux (platform ${process.platform})` };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    return { usable: false, reason: "not running as root (unshare -n and iptables-restore need root)" };
  }
  const result = spawnSync("unshare", ["-n", "--", "sh", "-c", PROBE_SCRIPT], {
    encoding: "utf8",
    env: toolEnv(),
    timeout: 20_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error) return { usable: false, reason: `cannot run unshare -n: ${result.error.message}` };
  if (result.status !== 0 || result.stdout.trim() !== "ok") {
    const detail = result.stderr.trim() || `exit status ${result.status ?? result.signal}`;
    return { usable: false, reason: `kernel probe failed: ${detail}` };
  }
  return { usable: true };
}

function ciRequiresKernel(): boolean {
  const ci = process.env.CI;
  const ciSet = ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
  return ciSet || process.env.IPTSCOPE_REQUIRE_KERNEL === "1";
}

const warned = new Set<string>();

/**
 * `describe` for tests that need the kernel oracle:
 *   const kdescribe = kernelDescribe();
 *   kdescribe("…", () => { … });
 * Kernel usable: plain `describe`. Unusable in CI (CI set, or IPTSCOPE_REQUIRE_KERNEL=1): the suite holds one
 * failing test that carries the reason. Unusable elsewhere: `describe.skip`, with the reason printed once.
 * `status` and `what` let other kernel harnesses (the packet lab) use the same policy with their own probe.
 */
export function kernelDescribe(status: () => KernelStatus = kernelStatus, what = "kernel oracle"): SuiteFunction {
  const current = status();
  if (current.usable) return (name, fn) => describe(name, fn);
  const reason = current.reason;
  if (ciRequiresKernel()) {
    return (name) =>
      describe(name, () => {
        it(`needs the ${what}`, () => {
          throw new Error(`${what} unusable in CI: ${reason}`);
        });
      });
  }
  if (!warned.has(what)) {
    warned.add(what);
    console.warn(`[iptscope] skipping ${what} tests: ${reason} (set IPTSCOPE_REQUIRE_KERNEL=1 to make this fatal)`);
  }
  return (name, fn) => describe.skip(name, fn);
}

/** Alias of {@link kernelDescribe}. */
export const requireKernel = kernelDescribe;

const TOOL_PREFIX: Record<Family, string> = { ipv4: "iptables", ipv6: "ip6tables" };

/**
 * Load `text` with `*-restore [-c]` in a fresh network namespace and return what `*-save [-c]` prints
 * (including its `# Generated`/`# Completed` lines; see {@link stripSaveComments}).
 */
export function kernelRoundTrip(text: string, opts: RoundTripOptions = {}): RoundTripResult {
  const family = opts.family ?? "ipv4";
  const backend = opts.backend ?? "nft";
  const prefix = `${TOOL_PREFIX[family]}-${backend}`;
  const setFamily = family === "ipv6" ? "inet6" : "inet";
  const setArgs = (opts.ipsets ?? []).flatMap((s) => [s.name, s.type, s.family ?? setFamily]);
  const args = ["-n", "--", "sh", "-c", ROUND_TRIP_SCRIPT, "sh", `${prefix}-restore`, `${prefix}-save`, opts.counters ? "1" : "0", ...setArgs];
  const result = spawnSync("unshare", args, {
    input: text,
    encoding: "utf8",
    env: toolEnv(),
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  if (result.error) return { ok: false, stderr: `cannot run unshare -n: ${result.error.message}` };
  if (result.status !== 0) {
    const how = result.signal ? `killed by ${result.signal}` : `exit status ${result.status}`;
    return { ok: false, stderr: `${result.stderr.trim()}\n(${prefix}-restore/-save ${how})`.trim() };
  }
  return { ok: true, saved: result.stdout };
}

/** `--match-set NAME FLAGS` and its spellings for getopt: abbreviated, quoted, with `=`. */
const SET_REFERENCE = /"?--(?:match|add|del)-s[a-z-]*"?(?:=|\s+)("(?:[^"\\]|\\.)*"|[^\s"]+)\s+(\S+)/g;

/**
 * The ipsets a dump refers to (`--match-set NAME FLAGS`, SET target `--add-set`/`--del-set`), ready to pass as
 * `ipsets`. Type by the largest dimension used: hash:net (1), hash:net,port (2), hash:ip,port,net (3).
 */
export function ipsetsReferenced(text: string, family: Family = detectFamily(text)): IpsetSpec[] {
  const dimensions = new Map<string, number>();
  for (const match of text.matchAll(SET_REFERENCE)) {
    const rawName = match[1];
    const name = rawName.startsWith('"') ? rawName.slice(1, -1).replace(/\\(.)/g, "$1") : rawName;
    const dimension = match[2].split(",").length;
    dimensions.set(name, Math.max(dimensions.get(name) ?? 0, dimension));
  }
  const setFamily = family === "ipv6" ? "inet6" : "inet";
  return [...dimensions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, dimension]) => ({
    name,
    type: dimension <= 1 ? "hash:net" : dimension === 2 ? "hash:net,port" : "hash:ip,port,net",
    family: setFamily,
  }));
}

/**
 * ipv6 for a dump whose header says ip6tables (`# Generated by ip6tables-save …`) or a restore input that carries
 * the fixture marker line `# family: ipv6`; ipv4 otherwise.
 */
export function detectFamily(text: string): Family {
  return /^# (Generated by ip6tables|family: ipv6\s*$)/m.test(text) ? "ipv6" : "ipv4";
}

/** Whether a dump carries rule counters (`[pkts:bytes]` at the start of a line), i.e. needs -c. */
export function hasCounters(text: string): boolean {
  return /^\[/m.test(text);
}

/** Remove the lines that change from run to run: `# Generated by …`, `# Completed on …`, `# Warning: …`. */
export function stripSaveComments(saved: string): string {
  return saved
    .split("\n")
    .filter((line) => !/^# (Generated by|Completed on|Warning:)/.test(line))
    .join("\n");
}

/** Round trip with family, counters and ipsets taken from the text itself. */
export function kernelRoundTripAuto(text: string, opts: Pick<RoundTripOptions, "backend" | "timeoutMs"> = {}): RoundTripResult {
  const family = detectFamily(text);
  return kernelRoundTrip(text, { ...opts, family, counters: hasCounters(text), ipsets: ipsetsReferenced(text, family) });
}
