// What the service resolver wants the reader to know about its answer, as data; the prose for
// each kind lives in one table, so a kind without a message does not compile.

interface NoteDetails {
  "endpoint-comments-omitted": { rules: number };
  "name-from-chain": { chain: string };
  "name-mismatch": { chain: string; key: string };
  "unrecognised-rule": { chain: string; line: number };
  "node-address-inferred": { address: string; line: number };
  "node-address-stand-in": { address: string };
  "no-kube-proxy-rules": Record<string, never>;
}

export type KubeNoteKind = keyof NoteDetails;

export type KubeNote = {
  [K in KubeNoteKind]: { kind: K; details: NoteDetails[K]; message: string };
}[KubeNoteKind];

const messages: { [K in KubeNoteKind]: (d: NoteDetails[K]) => string } = {
  "endpoint-comments-omitted": (d) =>
    `${d.rules} endpoint rule(s) carry no comments (kube-proxy leaves them out above 1,000 endpoints): endpoints are known by their KUBE-SEP chains and DNAT rules alone`,
  "name-from-chain": (d) => `no rule comment names the service port of ${d.chain}: it is shown by its chain name`,
  "name-mismatch": (d) => `the comment '${d.key}' does not hash to ${d.chain} (edited rules, or not kube-proxy's): the comment's name is shown`,
  "unrecognised-rule": (d) => `line ${d.line}: a rule in ${d.chain} with a shape kube-proxy does not write; ignored for the service map`,
  "node-address-inferred": (d) =>
    `NodePorts are traced to ${d.address}, the API server endpoint at line ${d.line}, taken as this node's address (pass --node-ip)`,
  "node-address-stand-in": (d) =>
    `no node address is known: NodePorts are traced to ${d.address}, a stand-in no rule names (pass --node-ip)`,
  "no-kube-proxy-rules": () => "no kube-proxy (iptables mode) service rules in this dump",
};

export function kubeNote<K extends KubeNoteKind>(kind: K, details: NoteDetails[K]): KubeNote {
  return { kind, details, message: messages[kind](details) } as KubeNote;
}
