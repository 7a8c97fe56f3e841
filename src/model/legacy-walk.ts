// iptables-legacy's kernel side (mark_source_chains in x_tables) walks each hook's rules to find the hooks that reach
// a rule and to find jump loops, and turns back at an unconditional standard verdict: the rules after it in its chain
// are never walked, so their extensions are not checked against the hooks and their jumps make no loop there.
// iptables-nft checks every rule of a chain.

import type { Chain, Family, Rule } from "./types.js";

/**
 * Does the kernel's walk turn back at this rule? A verdict (ACCEPT, DROP, RETURN, QUEUE) with no match and an
 * all-zero IP header: -s/-d only as /0, and -p only as 0 (`all`) in IPv4 (ip6tables marks any -p in the header).
 * Any interface, `-i +` too, -f or `!` makes it conditional.
 */
export function endsLegacyWalk(rule: Rule, family: Family): boolean {
  if (rule.target?.kind !== "verdict" || rule.matches.length > 0) return false;
  if (rule.inInterface !== undefined || rule.outInterface !== undefined || rule.fragment !== undefined) return false;
  const { source, destination, protocol } = rule;
  if (source !== undefined && (source.negated || source.value.prefix !== 0)) return false;
  if (destination !== undefined && (destination.negated || destination.value.prefix !== 0)) return false;
  if (protocol !== undefined && (family === "ipv6" || protocol.negated || protocol.value.number !== 0)) return false;
  return true;
}

/** How many of the chain's rules iptables-legacy's walk looks at: up to and including the first that ends it. */
export function legacyWalkedRules(chain: Chain, family: Family): number {
  const rules = chain.rules;
  for (let i = 0; i < rules.length - 1; i++) if (endsLegacyWalk(rules[i]!, family)) return i + 1;
  return rules.length;
}
