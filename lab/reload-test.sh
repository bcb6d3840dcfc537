#!/usr/bin/env bash
# Live reload test: `scantap live` keeps running across SIGHUP and labels the episodes after it
# with the edited knowledge file; a broken file on SIGHUP keeps the previous data.
#
#   lab/reload-test.sh SCANTAP_BINARY      exit 0 PASS, 1 FAIL, 2 usage, 77 SKIP
#
# The lab's scanner 198.18.0.3 is listed in a scratch knowledge file, first as "Lab Scanners A",
# then, after the file is edited and scantap gets SIGHUP, as "Lab Scanners B". Episodes close
# after 2 s idle (--idle-gap 2), so each nmap run gives one scan line while scantap runs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lab/netns-lab.sh
source "$HERE/netns-lab.sh"

lab_test_start reload-test "$@"

lab_test_workspace reload
KNOWLEDGE="$WORK/lab-knowledge.tsv"
fail() { echo "FAIL: reload-test: $*"; echo "--- stdout"; cat "$OUT" || true; echo "--- stderr"; cat "$ERR" || true; exit 1; }

knowledge() {  # knowledge ORG: the scratch file listing the lab scanner under ORG
  printf 'org\tkind\tvalue\tsource\tsource_date\tconfidence\tstatus\n%s\tcidr4\t198.18.0.3/32\tlab/reload-test.sh\t2026-12-04\thigh\tlisted\n' "$1" >"$KNOWLEDGE"
}

# Waits (at most 20 s) until stdout holds N scan lines.
wait_scans() {
  for _ in $(seq 1 200); do
    [ "$(grep -c '"event":"scan"' "$OUT" || true)" -ge "$1" ] && return 0
    kill -0 "$SCANTAP_PID" 2>/dev/null || fail "scantap died"
    sleep 0.1
  done
  fail "no scan line number $1 within 20 s"
}

scan() {
  lab_assert_lab_addr "$LAB_VIC4"
  ip netns exec "$LAB_NS_SCAN" timeout 60 nmap -n -Pn -sS -p 1-100 -T4 "$LAB_VIC4" >/dev/null 2>&1 </dev/null
}

lab_up
knowledge "Lab Scanners A"
ip netns exec "$LAB_NS_TAP" env --default-signal=INT "$BIN" live -i "$LAB_BRIDGE" --format json \
  --knowledge "$KNOWLEDGE" --idle-gap 2 >"$OUT" 2>"$ERR" </dev/null &
SCANTAP_PID=$!
rc=0; lab_wait_capture "$SCANTAP_PID" 10 || rc=$?
[ "$rc" -ne 1 ] || fail "scantap exited during start-up"
[ "$rc" -eq 0 ] || fail "scantap opened no capture socket within 10 s"

scan; wait_scans 1
knowledge "Lab Scanners B"
kill -HUP "$SCANTAP_PID"
for _ in $(seq 1 50); do grep -q "reloaded" "$ERR" && break; sleep 0.1; done
grep -q "reloaded" "$ERR" || fail "no reload message after SIGHUP"
scan; wait_scans 2

echo "not a knowledge file" >"$KNOWLEDGE"
kill -HUP "$SCANTAP_PID"
for _ in $(seq 1 50); do grep -q "reload failed" "$ERR" && break; sleep 0.1; done
grep -q "reload failed" "$ERR" || fail "a broken file on SIGHUP was not reported"
scan; wait_scans 3

kill -0 "$SCANTAP_PID" 2>/dev/null || fail "scantap did not survive SIGHUP"
kill -INT "$SCANTAP_PID"
for _ in $(seq 1 100); do kill -0 "$SCANTAP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SCANTAP_PID" 2>/dev/null && fail "scantap still running 10 s after SIGINT"
rc=0; wait "$SCANTAP_PID" || rc=$?
SCANTAP_PID=""
[ "$rc" -eq 0 ] || fail "scantap exited $rc after SIGINT"

orgs=$(grep '"event":"scan"' "$OUT" | grep -o '"org":[^,]*' | tr '\n' ' ')
expected='"org":"Lab Scanners A" "org":"Lab Scanners B" "org":"Lab Scanners B" '
[ "$orgs" = "$expected" ] || fail "organisations were: $orgs (expected: $expected)"
echo "PASS: reload-test (episodes labelled A, then B after SIGHUP; a broken file kept B)"
