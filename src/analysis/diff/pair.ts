// The two snapshots of a diff and what its levels share: the rules diff, each side's service map and tracer,
// the node addresses and clients every trace uses (the same for both sides, so that only the rules can make
// outcomes differ), and which packets the changes can reach. Each piece is made when a level first asks.

import { clientPicker } from "../kube/clients.js";
import { namedAddresses, readLaterServiceMap, readServiceMap } from "../kube/structure.js";
import type { ServiceMap } from "../kube/types.js";
import { defaultContext } from "../trace/context.js";
import type { NodeAddress, Origin, PacketSpec, TraceContext, TraceResult } from "../trace/types.js";
import { createTracer, type Tracer } from "../trace/walk.js";
import type { Ruleset } from "../../model/types.js";
import { laterSnapshot } from "./later.js";
import { diffNote, type DiffNote } from "./notes.js";
import { ChangeReach, type ProbePacket } from "./reach.js";
import { compareRules, type RulesCorrespondence } from "./rules.js";
import type { RulesDiff, TraceSetup } from "./types.js";

export interface PairOptions {
  /** The node's addresses (`--node-ip`); default: inferred from OLD, else from NEW. */
  nodeAddresses?: NodeAddress[];
  /**
   * Trace every packet in both snapshots, also those no change can reach, and read NEW's service map whole.
   * Slower, same answer: the tests check that.
   */
  exhaustive?: boolean;
}

export class SnapshotSide {
  private tracerInstance: Tracer | undefined;
  private readonly traces = new Map<string, TraceResult>();

  constructor(readonly ruleset: Ruleset) {}

  get tracer(): Tracer {
    // The levels compare outcomes, never the paths to them.
    return (this.tracerInstance ??= createTracer(this.ruleset, { paths: false }));
  }

  /** The services and traffic levels ask for the same packets: each is traced once per side. */
  trace(packet: PacketSpec, context: TraceContext): TraceResult {
    const key = `${context.origin}|${packet.src}|${packet.dst}|${packet.protocol}|${packet.dport ?? ""}`;
    let result = this.traces.get(key);
    if (!result) this.traces.set(key, (result = this.tracer.trace(packet, context)));
    return result;
  }
}

/**
 * Shares closer than this are one share: kube-proxy's old rule layout prints probabilities with 5 decimals, which
 * moves a share of its cascade by at most 5e-6 from 1/n, and adding or removing an endpoint moves them further
 * (or changes the endpoints themselves).
 */
const SHARE_TOLERANCE = 5e-5;

export function sameShare(a: number, b: number): boolean {
  return Math.abs(a - b) <= SHARE_TOLERANCE;
}

const isStandIn = (address: NodeAddress) => address.source.kind === "inferred" && address.source.line === 0;

export class SnapshotPair {
  readonly old: SnapshotSide;
  readonly new: SnapshotSide;
  private rulesComparison: { diff: RulesDiff; correspondence: RulesCorrespondence } | undefined;
  private maps: { old: ServiceMap; new: ServiceMap; nodeAddressesFrom: TraceSetup["nodeAddressesFrom"] } | undefined;
  private setupInstance: { setup: TraceSetup; notes: DiffNote[] } | undefined;
  private reachInstance: ChangeReach | undefined;
  private readonly reachAnswers = new Map<string, boolean>();
  private readonly contexts = new Map<Origin, TraceContext>();

  constructor(
    oldRuleset: Ruleset,
    newRuleset: Ruleset,
    private readonly options: PairOptions = {},
  ) {
    this.old = new SnapshotSide(oldRuleset);
    this.new = new SnapshotSide(newRuleset);
  }

  rules(): RulesDiff {
    return this.comparison().diff;
  }

  private comparison(): { diff: RulesDiff; correspondence: RulesCorrespondence } {
    return (this.rulesComparison ??= compareRules(this.old.ruleset, this.new.ruleset));
  }

  /** Both service maps (structure only: frontends are traced by the levels), with the same node addresses. */
  serviceMaps(): { old: ServiceMap; new: ServiceMap } {
    if (this.maps) return this.maps;
    const given = this.options.nodeAddresses?.length ? { nodeAddresses: this.options.nodeAddresses } : {};
    const old = readServiceMap(this.old.ruleset, given);
    // One inference is enough: NEW is read with OLD's node addresses, unless OLD has only a stand-in. Its service
    // ports whose rules did not change are taken from OLD's read.
    const newOptions = given.nodeAddresses || isStandIn(old.nodeAddresses[0]!) ? given : { nodeAddresses: old.nodeAddresses };
    const now = this.options.exhaustive
      ? readServiceMap(this.new.ruleset, newOptions)
      : readLaterServiceMap(old, laterSnapshot(this.old.ruleset, this.new.ruleset, this.comparison().diff, this.comparison().correspondence), newOptions);
    let nodeAddresses = old.nodeAddresses;
    let nodeAddressesFrom: TraceSetup["nodeAddressesFrom"] = "old";
    if (given.nodeAddresses) nodeAddressesFrom = "given";
    else if (isStandIn(old.nodeAddresses[0]!)) {
      if (isStandIn(now.nodeAddresses[0]!)) nodeAddressesFrom = "stand-in";
      else [nodeAddresses, nodeAddressesFrom] = [now.nodeAddresses, "new"];
    }
    for (const map of [old, now]) {
      map.nodeAddresses = nodeAddresses;
      // Each map noted its own choice of node address; the pair's choice is noted once, by the levels.
      map.notes = map.notes.filter((n) => n.kind !== "node-address-inferred" && n.kind !== "node-address-stand-in");
    }
    this.maps = { old, new: now, nodeAddressesFrom };
    return this.maps;
  }

  /** The node addresses and clients of every trace, and notes saying how they were chosen. */
  traceSetup(): { setup: TraceSetup; notes: DiffNote[] } {
    if (this.setupInstance) return this.setupInstance;
    const maps = this.serviceMaps();
    const from = this.maps!.nodeAddressesFrom; // set by serviceMaps()
    const nodeAddresses = maps.old.nodeAddresses;
    const first = nodeAddresses[0]!;
    const oldPicker = clientPicker(maps.old);
    const newPicker = clientPicker(maps.new);
    // Each picker avoids the addresses its own map names; take OLD's pick unless NEW names it.
    const agreed = (oldPick: string | undefined, newPick: string | undefined): string | undefined => {
      if (oldPick === undefined || oldPick === newPick) return oldPick ?? newPick;
      return newPick !== undefined && namedAddresses(maps.new).has(oldPick) ? newPick : oldPick;
    };
    const external = agreed(oldPicker.offCluster(), newPicker.offCluster())!;
    const pod = agreed(oldPicker.pod(), newPicker.pod());
    const setup: TraceSetup = {
      nodeAddresses,
      nodeAddressesFrom: from,
      clients: { pod: pod ?? external, node: first.address, external },
      podClientFrom: pod !== undefined ? "cluster-cidr" : "none-revealed",
    };
    const notes = [
      diffNote("node-address", {
        address: first.address,
        from,
        ...(first.source.kind === "inferred" && from !== "stand-in" ? { how: first.source.how, line: first.source.line } : {}),
      }),
    ];
    if (pod === undefined) notes.push(diffNote("no-cluster-cidr", { pod: external }));
    return (this.setupInstance = { setup, notes });
  }

  /** The external client of a frontend with source ranges: an address inside them that OLD's rules do not name. */
  clientInside(ranges: readonly string[]): string {
    return clientPicker(this.serviceMaps().old).inside(ranges);
  }

  /** A new connection's context for an origin: the pair's node addresses, no session-affinity history. */
  context(origin: Origin): TraceContext {
    let context = this.contexts.get(origin);
    if (!context) {
      // Shares for new clients: session-affinity history is a property of clients, not of the rules.
      context = defaultContext({ origin, nodeAddresses: this.traceSetup().setup.nodeAddresses, assumeNoAffinity: true });
      this.contexts.set(origin, context);
    }
    return context;
  }

  /** False when no change can reach the packet, from any client: both snapshots are sure to treat it alike. */
  mayDiffer(packet: ProbePacket): boolean {
    if (this.options.exhaustive) return true;
    this.reachInstance ??= new ChangeReach(this.old.ruleset, this.new.ruleset, this.rules(), this.comparison().correspondence.differing);
    // The services and traffic levels ask about the same frontends.
    const key = `${packet.dst}|${packet.protocol}|${packet.dport ?? ""}`;
    let answer = this.reachAnswers.get(key);
    if (answer === undefined) this.reachAnswers.set(key, (answer = this.reachInstance.mayDiffer(packet)));
    return answer;
  }
}
