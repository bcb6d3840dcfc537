#!/usr/bin/env bash
# Installs the Debian packages ScanTap needs, skipping any already present.
#   build:  libpcap-dev (the capture library), libssl-dev (HMAC for DShield submissions),
#           libc-ares-dev (the reverse-DNS resolver), pkg-config (finds them for SwiftPM)
#   --tests, also: everything the tests run, installed here up front so that no test waits for
#           apt inside its time limit:
#           the namespace lab (lab/netns-lab.sh lab_deps): iproute2 (ip, ss), tcpdump, nmap,
#           masscan, curl, netcat-openbsd (nc), python3, procps (sysctl);
#           lab/make-fixtures.sh, which re-records the lab fixtures: zmap, hping3, iptables;
#           dnsmasq-base (the local DNS server the reverse-DNS tests start; the executable
#           alone, since the dnsmasq package would also enable a system DNS service on port 53)
set -euo pipefail
wanted=(libpcap-dev libssl-dev libc-ares-dev pkg-config)
[ "${1:-}" = "--tests" ] && wanted+=(iproute2 tcpdump nmap masscan curl netcat-openbsd python3 procps
    zmap hping3 iptables dnsmasq-base)
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
