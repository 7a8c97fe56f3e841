#!/usr/bin/env bash
# The kernel-oracle tests load rulesets into the real kernel inside private network
# namespaces; they need these Debian packages (and root). The packet lab
# (test/support/netlab.ts) uses the same tools: ip netns/veth (iproute2), nft observer
# tables (nftables), conntrack -L, ipset, and Node itself to send the packets. The graph
# tests run Graphviz on the DOT output and open the HTML in Debian's chromium (driven by
# playwright-core, which downloads no browser).
set -euo pipefail
packages=(iptables nftables conntrack ipset iproute2 util-linux graphviz chromium)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
