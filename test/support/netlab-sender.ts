// The packet sender: a small Node program started once per lab namespace (`ip netns exec NS node -e …`) that
// takes JSON-line requests on stdin and answers on stdout once every packet has left its socket.
// A TCP packet is a connect() whose socket is dropped right after: the SYN leaves inside connect(), closing a
// SYN_SENT socket sends nothing, and the socket is gone long before the 1 s SYN retransmission timeout.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { toolEnv } from "./kernel.js";
import type { LabProtocol } from "./netlab-types.js";
import type { Family } from "./kernel.js";

export interface OutgoingPacket {
  proto: LabProtocol;
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

export interface SendResult {
  sport: number;
  /** errno name of a failed bind/send, e.g. "EPERM", "EADDRNOTAVAIL". */
  error: string | null;
}

const SENDER_PROGRAM = String.raw`
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { createInterface } from "node:readline";

const BATCH = 128;
const payload = Buffer.from("iptscope netlab");
const errorName = (error) => (error ? error.code ?? String(error) : null);

function sendUdp(packet, type) {
  return new Promise((resolve) => {
    const socket = createSocket({ type });
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      try { socket.close(); } catch {}
      resolve(errorName(error));
    };
    socket.on("error", finish);
    socket.bind({ address: packet.src, port: packet.sport, exclusive: true }, () =>
      socket.send(payload, packet.dport, packet.dst, (error) => finish(error)));
  });
}

// For an IP literal, net.connect() binds and calls connect() on the next tick; an immediate runs after that.
function sendTcp(packet) {
  return new Promise((resolve) => {
    let failure = null;
    const socket = connect({ host: packet.dst, port: packet.dport, localAddress: packet.src, localPort: packet.sport });
    socket.on("error", (error) => { failure ??= errorName(error); });
    setImmediate(() => setImmediate(() => { socket.destroy(); resolve(failure); }));
  });
}

async function handle(request) {
  const type = request.family === "ipv6" ? "udp6" : "udp4";
  const results = [];
  for (let i = 0; i < request.packets.length; i += BATCH) {
    const batch = request.packets.slice(i, i + BATCH);
    const errors = await Promise.all(batch.map((p) => (p.proto === "udp" ? sendUdp(p, type) : sendTcp(p))));
    batch.forEach((p, j) => results.push({ sport: p.sport, error: errors[j] }));
  }
  return results;
}

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  const request = JSON.parse(line);
  queue = queue.then(async () => {
    const results = await handle(request);
    process.stdout.write(JSON.stringify({ id: request.id, results }) + "\n");
  });
});
lines.on("close", () => queue.then(() => process.exit(0)));
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
`;

type Pending = { resolve: (results: SendResult[]) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

/** One sender process inside a namespace. Exits by itself when its stdin closes (also when this process dies). */
export class Sender {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stderr = "";
  private exited = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly namespace: string) {}

  static start(namespace: string, timeoutMs: number): Promise<Sender> {
    const child = spawn("ip", ["netns", "exec", namespace, process.execPath, "--input-type=module", "-e", SENDER_PROGRAM], {
      env: toolEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const sender = new Sender(child, namespace);
    // A write to a sender that died fails with EPIPE; its exit handler reports why.
    child.stdin.on("error", () => {});
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`netlab: the sender in ${namespace} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (sender.stderr = (sender.stderr + chunk).slice(-4000)));
      const lines = createInterface({ input: child.stdout });
      lines.once("line", () => {
        clearTimeout(timer);
        lines.on("line", (line) => sender.onLine(line));
        resolve(sender);
      });
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`netlab: cannot start the sender in ${namespace}: ${error.message}`));
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        sender.exited = true;
        const failure = new Error(`netlab: the sender in ${namespace} exited (${signal ?? code}): ${sender.stderr.trim()}`);
        for (const p of sender.pending.values()) {
          clearTimeout(p.timer);
          p.reject(failure);
        }
        sender.pending.clear();
        reject(failure);
      });
    });
  }

  private onLine(line: string): void {
    const message = JSON.parse(line) as { id: number; results: SendResult[] };
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    waiting.resolve(message.results);
  }

  send(family: Family, packets: OutgoingPacket[], timeoutMs: number): Promise<SendResult[]> {
    if (this.exited) return Promise.reject(new Error(`netlab: the sender in ${this.namespace} is gone: ${this.stderr.trim()}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`netlab: the sender in ${this.namespace} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin.write(JSON.stringify({ id, family, packets }) + "\n");
    });
  }

  /** Closes stdin and waits (bounded) for the process to exit; kills it if it does not. */
  close(timeoutMs = 2_000): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        resolve();
      }, timeoutMs);
      this.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin.end();
    });
  }
}
