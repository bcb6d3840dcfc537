#!/usr/bin/env bash
# Installs the Debian packages ScanTap needs, skipping any already present.
#   build:  libpcap-dev (the capture library), libssl-dev (HMAC for DShield submissions),
#           libc-ares-dev (the reverse-DNS resolver), pkg-config (finds them for SwiftPM)
#   tests:  nmap, tcpdump, iproute2, iptables, curl, python3 (the namespace lab and its scans),
#           dnsmasq-base (the local DNS server the reverse-DNS tests start; the executable
#           alone, since the dnsmasq package would also enable a system DNS service on port 53)
set -euo pipefail
wanted=(libpcap-dev libssl-dev libc-ares-dev pkg-config)
[ "${1:-}" = "--tests" ] && wanted+=(nmap tcpdump iproute2 iptables curl python3 procps dnsmasq-base)
missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "scantap: missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
