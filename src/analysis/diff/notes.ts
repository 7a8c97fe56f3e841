// What the services and traffic levels want the reader to know about how they compared, as data; the prose for
// each kind lives in one table, so a kind without a message does not compile.

import type { TraceSetup } from "./types.js";

interface NoteDetails {
  "matched-by-frontend": { servicePorts: number };
  "no-service-rules": { side: "old" | "new" | "both" };
  "node-address": { address: string; from: TraceSetup["nodeAddressesFrom"]; how?: string; line?: number };
  "no-cluster-cidr": { pod: string };
}

export type DiffNoteKind = keyof NoteDetails;

export type DiffNote = {
  [K in DiffNoteKind]: { kind: K; details: NoteDetails[K]; message: string };
}[DiffNoteKind];

const SIDE_NAMES = { old: "OLD", new: "NEW", both: "either snapshot" } as const;

const messages: { [K in DiffNoteKind]: (d: NoteDetails[K]) => string } = {
  "matched-by-frontend": (d) =>
    `${d.servicePorts} service port(s) have no name in the rules of one snapshot (kube-proxy's comments are missing): paired by a frontend they share instead (where only one side has names, "no endpoints" states are not compared: only comments tell them)`,
  "no-service-rules": (d) => `no kube-proxy (iptables mode) service rules in ${SIDE_NAMES[d.side]}`,
  "node-address": (d) => {
    switch (d.from) {
      case "given":
        return `both snapshots traced with the node address ${d.address} (given)`;
      case "old":
      case "new":
        return `both snapshots traced with the node address ${d.address}, inferred from ${SIDE_NAMES[d.from]}${d.line ? ` line ${d.line}` : ""}${d.how ? ` (${d.how})` : ""}; pass --node-ip to choose`;
      case "stand-in":
        return `no node address is known: both snapshots traced with ${d.address}, a stand-in no rule names (pass --node-ip)`;
    }
  },
  "no-cluster-cidr": (d) => `no cluster CIDR in the rules: the pod client is ${d.pod}, an address off the cluster`,
};

export function diffNote<K extends DiffNoteKind>(kind: K, details: NoteDetails[K]): DiffNote {
  return { kind, details, message: messages[kind](details) } as DiffNote;
}
