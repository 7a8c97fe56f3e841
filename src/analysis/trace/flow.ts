// The state one branch of a walk carries: the packet as rewritten so far and its connection.
// A branch owns its flow and changes it in place; a split copies it. The values inside a flow are
// never changed in place, so copies share them.

import type { Family } from "../../model/types.js";
import type { Ip } from "../ip.js";
import type { Hook, Rewrite, TcpFlag, TraceContext } from "./types.js";

/** An address the walk may only know by role (e.g. "the address of eth0"). */
export type Address = Ip | { readonly family: Family; readonly text: string; readonly words: undefined; readonly local: boolean };

export type CtState = "NEW" | "ESTABLISHED" | "RELATED" | "INVALID" | "UNTRACKED";

/** What the walk knows about an interface it was not told: patterns known to match, and not to. */
export interface InterfaceKnowledge {
  matches: readonly string[];
  notMatches: readonly string[];
}

export interface Flow {
  readonly src: Address;
  readonly dst: Address;
  readonly sport: number | undefined;
  readonly dport: number | undefined;
  /** The kernel picks the source port (SNAT/MASQUERADE with --random*, or a port range). */
  readonly sportRandom: boolean;
  /** With `sportRandom`: the ports the kernel picks from, when known. */
  readonly sportRange: { readonly from: number; readonly to: number } | undefined;
  readonly protocol: number;
  readonly icmpType: number | undefined;
  readonly icmpCode: number | undefined;
  readonly tcpFlags: readonly TcpFlag[];
  readonly length: number | undefined;
  readonly ttl: number | undefined;
  readonly mark: number;
  readonly ctmark: number;
  readonly ctState: CtState;
  /**
   * The conntrack entry the packet carries: none before the conntrack hook (in the raw table) and for invalid or
   * untracked packets; confirmed once a packet of the connection has left its last hook (a looped-back packet).
   */
  readonly conntrack: "none" | "unconfirmed" | "confirmed";
  /** Original direction tuple, as conntrack recorded it. */
  readonly orig: { readonly src: Address; readonly dst: Address; readonly sport: number | undefined; readonly dport: number | undefined };
  readonly dnat: Rewrite | undefined;
  readonly snat: Rewrite | undefined;
  readonly masquerade: boolean;
  /** string: known; null: none at this hook; undefined: unknown. */
  readonly inInterface: string | null | undefined;
  readonly outInterface: string | null | undefined;
  readonly inKnowledge: InterfaceKnowledge;
  readonly outKnowledge: InterfaceKnowledge;
  /** Facts an uncertain match assumed, by key, so the same question gets the same answer. */
  readonly facts: ReadonlyMap<string, boolean>;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Flow's fields, writable: the class of the same name takes them from here, so they are listed once. */
export interface OwnedFlow extends Writable<Flow> {}

/**
 * A branch's own flow, which the walk changes in place; conditions see it as a Flow. Every flow of a walk is made
 * by this one constructor, field by field: objects of one shape keep the walk's property accesses monomorphic
 * (an object spread would give each copy another shape).
 */
export class OwnedFlow implements Flow {
  /** A copy of `flow`. */
  constructor(flow: Flow) {
    this.src = flow.src;
    this.dst = flow.dst;
    this.sport = flow.sport;
    this.dport = flow.dport;
    this.sportRandom = flow.sportRandom;
    this.sportRange = flow.sportRange;
    this.protocol = flow.protocol;
    this.icmpType = flow.icmpType;
    this.icmpCode = flow.icmpCode;
    this.tcpFlags = flow.tcpFlags;
    this.length = flow.length;
    this.ttl = flow.ttl;
    this.mark = flow.mark;
    this.ctmark = flow.ctmark;
    this.ctState = flow.ctState;
    this.conntrack = flow.conntrack;
    this.orig = flow.orig;
    this.dnat = flow.dnat;
    this.snat = flow.snat;
    this.masquerade = flow.masquerade;
    this.inInterface = flow.inInterface;
    this.outInterface = flow.outInterface;
    this.inKnowledge = flow.inKnowledge;
    this.outKnowledge = flow.outKnowledge;
    this.facts = flow.facts;
  }
}

/** What a condition may look at besides the flow. */
export interface Env {
  readonly hook: Hook;
  readonly context: TraceContext;
  readonly family: Family;
  /** True if the address is one of the node's own (loopback included). */
  isLocal(address: Address): boolean;
  /** True if the address text (canonical) is a known node address or loopback. */
  isLocalText(text: string): boolean;
  /** The interface holding a node address ("lo" for loopback); undefined when the context does not say. */
  interfaceOf(address: Address): string | undefined;
  /** The interface of the most specific route the context gives for the address; undefined when none covers it. */
  routeInterface(address: Address): string | undefined;
}
