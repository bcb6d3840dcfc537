#!/usr/bin/env bash
# Build the namespace lab, capture known scan + benign traffic on the span
# bridge, and write samples/lab-sample.pcap plus samples/lab-sample.truth.json.
#
# Usage: sudo lab/make-sample.sh [OUTDIR]      (default OUTDIR: samples/)
# Env:   ST_LAB_SUFFIX=-x  namespace name suffix, so parallel runs don't clash
#
# Every step is bounded with `timeout`; the lab is torn down on any exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$REPO/samples}"
# shellcheck source=lab/netns-lab.sh
source "$REPO/lab/netns-lab.sh"

lab_recording_start
mkdir -p "$OUTDIR"

lab_up
CAP="$LAB_TMP/capture.pcap"   # written in scratch, moved to OUTDIR only on success
# Let the start-up IPv6 chatter (MLD reports on link-up, at random delays up
# to ~1 s) pass before capturing: reruns then give more equal captures.
sleep 2

# --- capture on the span port ------------------------------------------------
lab_capture_start "$CAP" 20000 || lab_die "no capture"

# nmap options used for every scan:
#   -n   never resolve names (no DNS packets, nothing leaves the lab)
#   -Pn  skip host discovery: the probes are the scan itself (deterministic)
#   -oG  grepable result, checked below (the scan really found the open ports)
NMAP_COMMON=(-n -Pn --max-retries 2)
run_nmap() {   # run_nmap NS RESULTFILE TARGET ARGS...
  local ns="$1" out="$2" target="$3"; shift 3
  lab_assert_lab_addr "$target"
  lab_log "nmap $* $target (from $ns)"
  ip netns exec "$ns" timeout 120 nmap "${NMAP_COMMON[@]}" "$@" -oG "$out" "$target" >/dev/null
}

# --- the scenario, in order; pauses separate the phases in time --------------
lab_log "phase 1: benign client traffic"
lab_benign_traffic
sleep 1

lab_log "phase 2: SYN scan over IPv4 from $LAB_SCAN4"
run_nmap "$LAB_NS_SCAN" "$LAB_TMP/nmap-syn4.gnmap" "$LAB_VIC4" -sS -p 1-200
sleep 1

# The second scanner is a separate namespace (its own MAC and address), like
# a second machine; -sT uses the kernel's connect(), so full handshakes.
lab_log "phase 3: connect scan over IPv4 from $LAB_SCAN2_4"
run_nmap "$LAB_NS_SCAN2" "$LAB_TMP/nmap-connect4.gnmap" "$LAB_VIC4" -sT -p 1-200
sleep 1

lab_log "phase 4: SYN scan over IPv6 from $LAB_SCAN6"
run_nmap "$LAB_NS_SCAN" "$LAB_TMP/nmap-syn6.gnmap" "$LAB_VIC6" -6 -sS -p 1-100
sleep 1

lab_log "phase 5: benign client traffic again"
lab_benign_traffic
sleep 1

# --- stop the capture: it must be lossless ------------------------------------
lab_capture_stop || lab_die "the capture failed"

# --- check that nmap found the lab's open ports inside its range (22, 80) ----
# (443 is open too but outside 1-200; the live test's 1-1000 scan covers it.)
for f in nmap-syn4 nmap-connect4 nmap-syn6; do
  for p in 22 80; do
    grep -q "$p/open/tcp" "$LAB_TMP/$f.gnmap" || lab_die "$f: port $p not reported open"
  done
done

# --- summarise the capture and write the truth file --------------------------
python3 "$LAB_DIR/pcap-summary.py" "$CAP" >"$LAB_TMP/summary.json"
SIZE=$(stat -c %s "$CAP")
[ "$SIZE" -lt 512000 ] || lab_die "capture too big: $SIZE bytes"

export LAB_VIC4 LAB_VIC6 LAB_SCAN4 LAB_SCAN6 LAB_SCAN2_4 LAB_SCAN2_6 LAB_CLI4 LAB_CLI6
python3 - "$LAB_TMP/summary.json" "$LAB_TMP/truth.json" <<'PY'
"""Truth = what this script did (hand-written scenario) + what the capture shows."""
import json, os, sys
summary = json.load(open(sys.argv[1]))
src = summary["sources"]
E = os.environ

def measured(addr):
    s = src.get(addr, {})
    return {"syn_packets": s.get("syn", 0), "syn_ports": s.get("syn_ports", 0),
            "first_syn": s.get("first_syn"), "last_syn": s.get("last_syn")}

scanners = [
    dict(src=E["LAB_SCAN4"], technique="syn", target=E["LAB_VIC4"], ports="1-200",
         port_count=200, family="ipv4", tool="nmap -n -Pn --max-retries 2 -sS -p 1-200",
         port_order="random", open_ports=[22, 80]),
    dict(src=E["LAB_SCAN2_4"], technique="connect", target=E["LAB_VIC4"], ports="1-200",
         port_count=200, family="ipv4", tool="nmap -n -Pn --max-retries 2 -sT -p 1-200",
         port_order="random", open_ports=[22, 80]),
    dict(src=E["LAB_SCAN6"], technique="syn", target=E["LAB_VIC6"], ports="1-100",
         port_count=100, family="ipv6", tool="nmap -6 -n -Pn --max-retries 2 -sS -p 1-100",
         port_order="random", open_ports=[22, 80]),
]
for s in scanners:
    s.update(measured(s["src"]))
    # Self-check: every port of the range was probed at least once.
    assert s["syn_ports"] == s["port_count"], (s["src"], s["syn_ports"])

non_scanners = [
    dict(src=E["LAB_CLI4"], role="benign client",
         activity="6 curl GET http://%s/ and 2 TCP sessions to port 22" % E["LAB_VIC4"]),
    dict(src=E["LAB_CLI6"], role="benign client",
         activity="4 curl GET http://[%s]/" % E["LAB_VIC6"]),
    dict(src=E["LAB_VIC4"], role="scanned server (answers SYN-ACK/RST)"),
    dict(src=E["LAB_VIC6"], role="scanned server (answers SYN-ACK/RST)"),
]
for n in non_scanners:
    n.update(measured(n["src"]))
    assert n["syn_ports"] <= 2, n   # benign: at most ports 22 and 80

truth = {
    "capture": "lab-sample.pcap",
    "generator": "lab/make-sample.sh",
    "format": "pcap", "linktype": summary["linktype"], "snaplen": summary["snaplen"],
    "packets": summary["packets"], "first": summary["first"], "last": summary["last"],
    "phases": ["benign", "syn scan v4 (198.18.0.3)", "connect scan v4 (198.18.0.4)",
               "syn scan v6 (2001:db8:0:1::3)", "benign"],
    "notes": "Scanner 198.18.0.3 and 2001:db8:0:1::3 are the same namespace (host). "
             "ARP and IPv6 neighbour discovery/MLD frames are present and are not scans. "
             "syn_* fields are measured from the capture (SYN without ACK).",
    "scanners": scanners,
    "non_scanners": non_scanners,
}
json.dump(truth, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY

# Only now replace the samples: a failed run leaves the old ones alone.
cp "$CAP" "$OUTDIR/lab-sample.pcap"
cp "$LAB_TMP/truth.json" "$OUTDIR/lab-sample.truth.json"
chmod 644 "$OUTDIR/lab-sample.pcap" "$OUTDIR/lab-sample.truth.json"
lab_log "wrote $OUTDIR/lab-sample.pcap ($SIZE bytes, $(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["packets"])' "$LAB_TMP/summary.json") packets) and lab-sample.truth.json"
