#!/usr/bin/env bash
# The kernel-oracle tests load rulesets into the real kernel inside private network
# namespaces; they need these Debian packages (and root).
set -euo pipefail
packages=(iptables nftables conntrack ipset iproute2 util-linux)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
