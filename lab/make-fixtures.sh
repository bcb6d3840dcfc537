#!/usr/bin/env bash
# Build the namespace lab once and record one small capture per scenario:
# Tests/Fixtures/lab/NAME.pcap + NAME.truth.json (classic pcap, full snaplen,
# captured on the span bridge from before the scan starts until it ends).
#
# Usage: sudo lab/make-fixtures.sh [OUTDIR [SCENARIO...]]
#        (default OUTDIR Tests/Fixtures/lab, default: every scenario)
# Env:   ST_LAB_SUFFIX (default -fx) namespace suffix, so parallel labs don't clash
#
# A scenario that fails (tool missing, capture lost packets, no probes seen)
# is reported and skipped (zmap, hping3 and iptables are installed when
# missing, as lab_deps does the lab's tools; a failed install fails only the
# scenarios that need them); its old fixture is left alone.  Exit 1 if any failed.
# Every tool runs under `timeout`; the lab is torn down on every exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$REPO/Tests/Fixtures/lab}"
shift || true
export ST_LAB_SUFFIX="${ST_LAB_SUFFIX:--fx}"
# shellcheck source=lab/netns-lab.sh
source "$REPO/lab/netns-lab.sh"

lab_recording_start
lab_deps zmap:zmap hping3:hping3 iptables:iptables || lab_log "could not install zmap, hping3 or iptables"
mkdir -p "$OUTDIR"

VIC_MAC=02:53:54:00:00:02     # the "router" MAC for masscan/zmap: the victim
DARK=198.18.5.0/24            # routed to the victim, which silently drops it
DECOYS=(198.18.0.20 198.18.0.21)
SPOOFED=198.18.0.50           # the DDoS victim whose SYN/ACK backscatter we fake
TCP_PORTS="1-100,443"         # 101 ports, includes the open 22, 80, 443

lab_up
# The dark range: scanner and client namespaces route it to the victim; the
# victim does not forward and blackholes it (no ICMP errors), so nothing
# answers.  iptables DROP on top where iptables works inside namespaces.
for ns in "$LAB_NS_SCAN" "$LAB_NS_SCAN2" "$LAB_NS_CLI"; do
  ip -n "$ns" route add "$DARK" via "$LAB_VIC4"
done
ip netns exec "$LAB_NS_VIC" sysctl -qw net.ipv4.ip_forward=0
ip -n "$LAB_NS_VIC" route add blackhole "$DARK"
ip netns exec "$LAB_NS_VIC" timeout 10 iptables -A INPUT -d "$DARK" -j DROP 2>/dev/null ||
  lab_log "iptables not usable in $LAB_NS_VIC (blackhole route still drops $DARK)"
sleep 2   # let link-up IPv6 chatter (MLD) pass

# --- capture helpers -----------------------------------------------------------
CAP=""
cap_start() {   # cap_start NAME: the scenario's capture, at most 5000 packets
  CAP="$LAB_TMP/$1.pcap"
  lab_capture_start "$CAP" 5000
}
cap_stop() {    # cap_stop NAME: stop it after the trailing replies; it must be lossless
  sleep 0.5
  lab_capture_stop
}
# Stop a background tool: SIGINT, then SIGKILL (masscan may never exit by itself).
stop_tool() {
  local pid="$1" i
  kill -INT "$pid" 2>/dev/null || true
  for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

NMAP_COMMON=(-n -Pn --max-retries 2)
nmap_in() {     # nmap_in NS TARGET ARGS...   (also checks the target is a lab address)
  local ns="$1" target="$2"; shift 2
  lab_assert_lab_addr "${target%%/*}" || return 1
  lab_log "nmap $* $target (from $ns)"
  ip netns exec "$ns" timeout 150 nmap "$@" "$target" >"$LAB_TMP/nmap.out" 2>&1 ||
    { lab_log "nmap failed: $(tail -2 "$LAB_TMP/nmap.out")"; return 1; }
}

# JSON fragments for the truth spec
victim4_ns='{"src":"'$LAB_VIC4'","role":"scanned server (answers SYN-ACK/RST/ICMP)"}'
victim6_ns='{"src":"'$LAB_VIC6'","role":"scanned server (answers SYN-ACK/RST)"}'
scanner() {     # scanner SRC TECHNIQUE TOOL TARGET PORTS [EXTRA_JSON]
  printf '{"src":"%s","technique":"%s","tool":"%s","target":"%s","ports":"%s"%s}' \
    "$1" "$2" "$3" "$4" "$5" "${6:+,$6}"
}
# finish NAME SCENARIO SCANNERS_JSON NONSCANNERS_JSON [NOTES]
finish() {
  local name="$1" spec="$LAB_TMP/$1.spec.json"
  printf '{"capture":"%s.pcap","scenario":"%s","scanners":[%s],"non_scanners":[%s],"notes":"%s"}\n' \
    "$name" "$2" "$3" "$4" "${5:-}" >"$spec"
  python3 "$LAB_DIR/fixture-truth.py" "$CAP" "$spec" "$LAB_TMP/$name.truth.json" || return 1
  local size; size=$(stat -c %s "$CAP")
  [ "$size" -lt 300000 ] || { lab_log "$name: capture too big ($size bytes)"; return 1; }
  cp "$CAP" "$OUTDIR/$name.pcap"
  cp "$LAB_TMP/$name.truth.json" "$OUTDIR/$name.truth.json"
  chmod 644 "$OUTDIR/$name.pcap" "$OUTDIR/$name.truth.json"
  lab_log "wrote $name.pcap ($size bytes)"
}

# --- scenarios -------------------------------------------------------------------
# Each: cap_start; generate; cap_stop; finish.  Return non-zero on any failure.
tcp_nmap() {    # tcp_nmap NAME TECHNIQUE NMAPFLAG
  local name="$1" tech="$2" flag="$3"
  cap_start "$name" &&
  nmap_in "$LAB_NS_SCAN" "$LAB_VIC4" "${NMAP_COMMON[@]}" "$flag" -p "$TCP_PORTS" &&
  cap_stop "$name" &&
  finish "$name" "nmap $flag of $TCP_PORTS on the victim" \
    "$(scanner "$LAB_SCAN4" "$tech" "nmap -n -Pn --max-retries 2 $flag -p $TCP_PORTS" "$LAB_VIC4" "$TCP_PORTS")" \
    "$victim4_ns"
}
sc_nmap_syn4()    { tcp_nmap nmap-syn4 syn -sS; }
sc_nmap_fin4()    { tcp_nmap nmap-fin4 fin -sF; }
sc_nmap_null4()   { tcp_nmap nmap-null4 null -sN; }
sc_nmap_xmas4()   { tcp_nmap nmap-xmas4 xmas -sX; }
sc_nmap_ack4()    { tcp_nmap nmap-ack4 ack -sA; }
sc_nmap_maimon4() { tcp_nmap nmap-maimon4 maimon -sM; }

sc_nmap_connect4() {
  cap_start nmap-connect4 &&
  nmap_in "$LAB_NS_SCAN2" "$LAB_VIC4" "${NMAP_COMMON[@]}" -sT -p "$TCP_PORTS" &&
  cap_stop nmap-connect4 &&
  finish nmap-connect4 "nmap -sT (kernel connect) of $TCP_PORTS on the victim" \
    "$(scanner "$LAB_SCAN2_4" connect "nmap -n -Pn --max-retries 2 -sT -p $TCP_PORTS" "$LAB_VIC4" "$TCP_PORTS")" \
    "$victim4_ns"
}

sc_nmap_udp4() {
  local ports=53,67,68,69,123,137,161,500,514,1900
  cap_start nmap-udp4 &&
  nmap_in "$LAB_NS_SCAN" "$LAB_VIC4" -n -Pn --max-retries 1 -sU -p "$ports" &&
  cap_stop nmap-udp4 &&
  finish nmap-udp4 "nmap -sU of 10 UDP ports on the victim (all closed; Linux rate-limits the ICMP port unreachables)" \
    "$(scanner "$LAB_SCAN4" udp "nmap -n -Pn --max-retries 1 -sU -p $ports" "$LAB_VIC4" "$ports")" \
    "$victim4_ns"
}

ping_sweep() {  # ping_sweep NAME RANGE
  local name="$1" range="$2"
  cap_start "$name" &&
  nmap_in "$LAB_NS_SCAN" "$range" -n -sn -PE --disable-arp-ping --max-retries 1 &&
  cap_stop "$name" &&
  finish "$name" "nmap -sn -PE ping sweep of the dark $range (routed via the victim, nobody answers)" \
    "$(scanner "$LAB_SCAN4" icmp "nmap -n -sn -PE --disable-arp-ping --max-retries 1" "$range" "-" '"scan_type":"ICMP echo sweep (horizontal)"')" \
    "$victim4_ns"
}
sc_nmap_pingsweep4()      { ping_sweep nmap-pingsweep4 198.18.5.0/27; }       # 32 hosts
sc_nmap_pingsweep4_wide() { ping_sweep nmap-pingsweep4-wide 198.18.5.0/24; }  # 256 hosts

sc_nmap_syn6() {
  cap_start nmap-syn6 &&
  nmap_in "$LAB_NS_SCAN" "$LAB_VIC6" -6 "${NMAP_COMMON[@]}" -sS -p "$TCP_PORTS" &&
  cap_stop nmap-syn6 &&
  finish nmap-syn6 "nmap -6 -sS of $TCP_PORTS on the victim" \
    "$(scanner "$LAB_SCAN6" syn "nmap -6 -n -Pn --max-retries 2 -sS -p $TCP_PORTS" "$LAB_VIC6" "$TCP_PORTS" '"family":"ipv6"')" \
    "$victim6_ns"
}

sc_nmap_decoy4() {
  local d="${DECOYS[0]},${DECOYS[1]},ME" tool
  tool="nmap -n -Pn --max-retries 2 -sS -D $d -p $TCP_PORTS"
  cap_start nmap-decoy4 &&
  nmap_in "$LAB_NS_SCAN" "$LAB_VIC4" "${NMAP_COMMON[@]}" -sS -D "$d" -p "$TCP_PORTS" &&
  cap_stop nmap-decoy4 &&
  finish nmap-decoy4 "nmap -sS with decoys ${DECOYS[*]}: every decoy address is a scanner (spoofed, gets no replies)" \
    "$(scanner "$LAB_SCAN4" syn "$tool" "$LAB_VIC4" "$TCP_PORTS" '"role":"real scanner"'),$(scanner "${DECOYS[0]}" syn "$tool" "$LAB_VIC4" "$TCP_PORTS" '"role":"decoy (spoofed by 198.18.0.3)"'),$(scanner "${DECOYS[1]}" syn "$tool" "$LAB_VIC4" "$TCP_PORTS" '"role":"decoy (spoofed by 198.18.0.3)"')" \
    "$victim4_ns"
}

sc_nmap_frag4() {
  cap_start nmap-frag4 &&
  nmap_in "$LAB_NS_SCAN" "$LAB_VIC4" "${NMAP_COMMON[@]}" -sS -f -p "$TCP_PORTS" &&
  cap_stop nmap-frag4 &&
  finish nmap-frag4 "nmap -sS -f: every SYN probe split into 8-byte IPv4 fragments" \
    "$(scanner "$LAB_SCAN4" syn "nmap -n -Pn --max-retries 2 -sS -f -p $TCP_PORTS" "$LAB_VIC4" "$TCP_PORTS" '"fragmented":true')" \
    "$victim4_ns" "probes counts the first fragments (offset 0, MF set) of TCP."
}

sc_nmap_t1_syn4() {
  local ports=21,22,23,25,80,443
  cap_start nmap-t1-syn4 &&
  nmap_in "$LAB_NS_SCAN" "$LAB_VIC4" "${NMAP_COMMON[@]}" -sS -T1 -p "$ports" &&
  cap_stop nmap-t1-syn4 &&
  finish nmap-t1-syn4 "nmap -T1 (sneaky, 15 s between probes) SYN scan of 6 ports" \
    "$(scanner "$LAB_SCAN4" syn "nmap -n -Pn --max-retries 2 -sS -T1 -p $ports" "$LAB_VIC4" "$ports")" \
    "$victim4_ns"
}

sc_masscan_syn4() {
  local pid
  lab_assert_lab_addr "$LAB_VIC4" || return 1
  cap_start masscan-syn4 || return 1
  lab_log "masscan $LAB_VIC4 -p$TCP_PORTS"
  lab_bg "$LAB_NS_SCAN" "$LAB_TMP/masscan.log" timeout -s INT -k 3 30 masscan "$LAB_VIC4" \
    -p"$TCP_PORTS" --rate 1000 --wait 1 -e "$LAB_HOST_IF" --router-mac "$VIC_MAC"
  pid=$LAB_LAST_PID
  sleep 4; stop_tool "$pid"
  cap_stop masscan-syn4 &&
  finish masscan-syn4 "masscan SYN scan of $TCP_PORTS on the victim at 1000 pps" \
    "$(scanner "$LAB_SCAN4" syn "masscan -p$TCP_PORTS --rate 1000 --router-mac $VIC_MAC" "$LAB_VIC4" "$TCP_PORTS")" \
    "$victim4_ns" "masscan answers ARP for its address; an open port gets two RSTs (masscan's and the kernel's)."
}

sc_zmap_syn4() {
  local bl="$LAB_TMP/zmap-block.conf" al="$LAB_TMP/zmap-allow.conf"
  # zmap's default blocklist covers 198.18.0.0/15: use our own (a range we never
  # touch) and an allowlist of the dark /24 plus the victim.
  printf '192.0.2.0/24\n' >"$bl"
  printf '%s\n%s/32\n' "$DARK" "$LAB_VIC4" >"$al"
  lab_assert_lab_addr "${DARK%/*}" && lab_assert_lab_addr "$LAB_VIC4" || return 1
  cap_start zmap-syn4 || return 1
  lab_log "zmap -p 80 over $DARK + $LAB_VIC4"
  ip netns exec "$LAB_NS_SCAN" timeout -s INT -k 3 30 zmap -p 80 -i "$LAB_HOST_IF" \
    -S "$LAB_SCAN4" -G "$VIC_MAC" -r 500 -c 1 -T 1 -b "$bl" -w "$al" \
    -o "$LAB_TMP/zmap.out" >"$LAB_TMP/zmap.log" 2>&1 || { lab_log "zmap: $(tail -2 "$LAB_TMP/zmap.log")"; cap_stop zmap-syn4; return 1; }
  cap_stop zmap-syn4 &&
  finish zmap-syn4 "zmap SYN scan of port 80 over the dark $DARK plus the victim (horizontal)" \
    "$(scanner "$LAB_SCAN4" syn "zmap -p 80 -r 500 -G $VIC_MAC" "$DARK,$LAB_VIC4" 80 '"scan_type":"horizontal SYN"')" \
    "$victim4_ns"
}

sc_hping3_syn4() {
  lab_assert_lab_addr "$LAB_VIC4" || return 1
  cap_start hping3-syn4 || return 1
  lab_log "hping3 --scan 1-50 -S $LAB_VIC4 (from $LAB_NS_SCAN2)"
  ip netns exec "$LAB_NS_SCAN2" timeout -s INT -k 3 20 hping3 --scan 1-50 -S "$LAB_VIC4" \
    >"$LAB_TMP/hping3.log" 2>&1 || true   # hping3 exits non-zero on SIGINT; probes are checked below
  cap_stop hping3-syn4 &&
  finish hping3-syn4 "hping3 --scan 1-50 -S (one fixed source port)" \
    "$(scanner "$LAB_SCAN2_4" syn "hping3 --scan 1-50 -S" "$LAB_VIC4" 1-50)" \
    "$victim4_ns"
}

sc_benign() {
  cap_start benign-only || return 1
  lab_benign_traffic
  lab_benign_traffic
  cap_stop benign-only &&
  finish benign-only "benign only: curl GETs over v4 and v6 and ssh-like sessions to :22 from the client" \
    "" \
    '{"src":"'$LAB_CLI4'","role":"benign client"},{"src":"'$LAB_CLI6'","role":"benign client"},'"$victim4_ns,$victim6_ns"
}

sc_backscatter() {
  lab_assert_lab_addr "$SPOOFED" && lab_assert_lab_addr "${DARK%/*}" || return 1
  cap_start backscatter || return 1
  lab_log "hping3 SYN/ACK backscatter from spoofed $SPOOFED to the dark range"
  # --rand-dest: a random host in 198.18.5.x per packet; -p ++1024: the
  # destination port (the spoofed clients' ephemeral ports) goes up by one.
  ip netns exec "$LAB_NS_CLI" timeout -s INT -k 3 20 hping3 -I "$LAB_HOST_IF" -a "$SPOOFED" \
    -s 80 -k -S -A -p ++1024 --rand-dest 198.18.5.x -c 120 -i u15000 \
    >"$LAB_TMP/hping3-bs.log" 2>&1 || true
  cap_stop backscatter &&
  finish backscatter "crafted backscatter: 120 SYN/ACKs from :80 of $SPOOFED (a DDoS victim) to random hosts of $DARK and rising ports; no scanner" \
    "" \
    '{"src":"'$SPOOFED'","role":"backscatter: SYN/ACK replies of a flooded server (spoofed by hping3 in the client namespace)"}'
}

ALL=(nmap_syn4 nmap_connect4 nmap_fin4 nmap_null4 nmap_xmas4 nmap_ack4 nmap_maimon4
     nmap_udp4 nmap_pingsweep4 nmap_pingsweep4_wide nmap_syn6 nmap_decoy4 nmap_frag4 nmap_t1_syn4
     masscan_syn4 zmap_syn4 hping3_syn4 benign backscatter)
SELECTED=("$@"); [ "${#SELECTED[@]}" -gt 0 ] || SELECTED=("${ALL[@]}")
FAILED=()
for s in "${SELECTED[@]}"; do
  s="${s//-/_}"
  declare -F "sc_$s" >/dev/null || { lab_log "unknown scenario $s"; FAILED+=("$s"); continue; }
  lab_log "=== scenario $s"
  if ! "sc_$s"; then
    lab_log "scenario $s FAILED"; FAILED+=("$s")
    kill -0 "$LAB_CAPTURE_PID" 2>/dev/null && stop_tool "$LAB_CAPTURE_PID"
  fi
  sleep 1   # quiet gap: late replies of one scenario stay out of the next
done
[ "${#FAILED[@]}" -eq 0 ] || lab_die "failed scenarios: ${FAILED[*]}"
lab_log "all ${#SELECTED[@]} scenarios written to $OUTDIR"
