#!/usr/bin/env bash
# Live DShield test: `scantap live` with a dshield.ini spools records within a second and submits
# them on its own schedule, with no `scantap dshield submit`.
#
#   lab/dshield-live-test.sh SCANTAP_BINARY      exit 0 PASS, 1 FAIL, 2 usage, 77 SKIP
#
# 1. scantap live watches the span port with a dshield.ini (mode 0600, honeypotip = the victim)
#    and a submission URL where nothing listens. nmap -sS scans open and closed ports of the
#    victim, a client fetches a page; as soon as `dshield status` counts one pending record per
#    closed port (at most 10 s), scantap is killed with SIGKILL. The spool must still hold them.
# 2. scantap live again on the same spool, submitting every 2 s to scripts/dshield-receiver.py
#    (which checks each POST's HMAC and answers the first with 429, Retry-After 1). A second scan
#    of other closed ports runs. The receiver must get exactly the closed ports of both scans,
#    none twice, and nothing for the open ports or the client; `dshield status` works while live
#    owns the spool; SIGINT ends scantap with status 0 and a status file saying "done".
# The receiver listens on 198.18.1.1, an address of the lab range put on the loopback of the
# bridge's namespace (where scantap runs); the dead URL of step 1 points there too.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
# shellcheck source=lab/netns-lab.sh
source "$HERE/netns-lab.sh"

lab_test_start dshield-live-test "$@"

# The test key scripts/dshield-receiver.py checks signatures against (as in the Swift tests).
USERID=12345
APIKEY="VGVzdEtleQ=="
CLOSED1=(1000 1001 1002 1003 1004 1005 1006 1007)
CLOSED2=(2000 2001 2002 2003 2004 2005)
RECEIVER4=198.18.1.1

lab_test_workspace dshield
INI="$WORK/dshield.ini"; SPOOL="$WORK/spool"; RECEIVED="$WORK/received.jsonl"
fail() {
  echo "FAIL: dshield-live-test: $*"
  echo "--- scantap stderr"; cat "$ERR" 2>/dev/null || true
  echo "--- received"; cat "$RECEIVED" 2>/dev/null || true
  exit 1
}

# start_scantap ARGS...: scantap live on the bridge with the dshield.ini; waits (at most 10 s)
# until its capture socket is open.
start_scantap() {
  ip netns exec "$LAB_NS_TAP" env --default-signal=INT "$BIN" live -i "$LAB_BRIDGE" --format json \
    --dshield-config "$INI" --spool "$SPOOL" "$@" >"$OUT" 2>"$ERR" </dev/null &
  SCANTAP_PID=$!
  local rc=0
  lab_wait_capture "$SCANTAP_PID" 10 || rc=$?
  [ "$rc" -ne 1 ] || fail "scantap exited during start-up"
  [ "$rc" -eq 0 ] || fail "scantap opened no capture socket within 10 s"
}

# scan PORTS...: nmap -sS of the victim's listed ports, bounded to 60 s.
scan() {
  lab_assert_lab_addr "$LAB_VIC4"
  ip netns exec "$LAB_NS_SCAN" timeout 60 nmap -n -Pn -sS -T4 -p "$(IFS=,; echo "$*")" "$LAB_VIC4" >/dev/null 2>&1 </dev/null ||
    fail "nmap failed"
}

pending() {
  "$BIN" dshield status --spool "$SPOOL" | python3 -c 'import json, sys; print(json.load(sys.stdin)["pending_records"])'
}

lab_up
lab_assert_lab_addr "$RECEIVER4"
ip -n "$LAB_NS_TAP" addr add "$RECEIVER4/32" dev lo
printf '[DShield]\nuserid=%s\napikey=%s\nhoneypotip=%s\n' "$USERID" "$APIKEY" "$LAB_VIC4" >"$INI"
chmod 600 "$INI"

# --- 1. records reach the spool while scantap runs; SIGKILL loses none of them -
start_scantap --dshield-url "http://$RECEIVER4:9/submitapi/"
lab_benign_traffic
scan "${LAB_OPEN_PORTS[@]}" "${CLOSED1[@]}"
deadline=$((SECONDS + 10))
while [ "$SECONDS" -lt "$deadline" ]; do
  spooled=$(pending 2>/dev/null || true)
  [[ "$spooled" =~ ^[0-9]+$ ]] && [ "$spooled" -ge "${#CLOSED1[@]}" ] && break
  kill -0 "$SCANTAP_PID" 2>/dev/null || fail "scantap died"
  sleep 0.2
done
kill -KILL "$SCANTAP_PID"
wait "$SCANTAP_PID" 2>/dev/null || true
SCANTAP_PID=""
spooled=$(pending)
[ "$spooled" -eq "${#CLOSED1[@]}" ] || fail "after SIGKILL the spool holds $spooled records, expected ${#CLOSED1[@]}"
echo "  ok: $spooled records spooled before SIGKILL"

# --- 2. scheduled submission to the receiver, through a 429 -------------------
lab_bg "$LAB_NS_TAP" "$WORK/receiver.log" python3 "$REPO/scripts/dshield-receiver.py" "$USERID" "$APIKEY" 429 "$RECEIVED" "$RECEIVER4"
for _ in $(seq 1 50); do [ -s "$WORK/receiver.log" ] && break; sleep 0.1; done
PORT=$(head -n 1 "$WORK/receiver.log")
[[ "$PORT" =~ ^[0-9]+$ ]] || fail "the receiver did not start: $(cat "$WORK/receiver.log")"
start_scantap --dshield-url "http://$RECEIVER4:$PORT/submitapi/" --submit-interval 2
scan "${LAB_OPEN_PORTS[@]}" "${CLOSED2[@]}"
"$BIN" dshield status --spool "$SPOOL" >/dev/null || fail "dshield status failed while live owns the spool"

want=$(( ${#CLOSED1[@]} + ${#CLOSED2[@]} ))
for _ in $(seq 1 200); do
  [ -f "$RECEIVED" ] && [ "$(wc -l <"$RECEIVED")" -ge "$want" ] && break
  kill -0 "$SCANTAP_PID" 2>/dev/null || fail "scantap died"
  sleep 0.1
done
kill -INT "$SCANTAP_PID"
rc=0; for _ in $(seq 1 100); do kill -0 "$SCANTAP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SCANTAP_PID" 2>/dev/null && fail "scantap still running 10 s after SIGINT"
wait "$SCANTAP_PID" || rc=$?
SCANTAP_PID=""
[ "$rc" -eq 0 ] || fail "scantap exited $rc after SIGINT"

python3 - "$RECEIVED" "$LAB_SCAN4" "$LAB_VIC4" "${CLOSED1[*]} ${CLOSED2[*]}" <<'PY' || fail "the receiver did not get exactly the unanswered attempts"
import json, sys
path, scanner, victim, closed = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split())
lines = open(path).read().split("\n")[:-1]
records = [json.loads(line) for line in lines]
got = sorted((r["sip"], r["dip"], r["dport"], r["flags"]) for r in records)
want = sorted((scanner, victim, port, "S") for port in closed)
if len(set(lines)) != len(lines):
    print("duplicate records:", len(lines) - len(set(lines)))
    sys.exit(1)
if got != want:
    print("unexpected:", sorted(set(got) - set(want)), "missing:", sorted(set(want) - set(got)))
    sys.exit(1)
PY
echo "  ok: the receiver got the ${want} unanswered attempts, checked HMAC, none twice, none answered"

"$BIN" dshield status --spool "$SPOOL" | python3 -c '
import json, sys
status = json.load(sys.stdin)
last = status["last_submit"]
assert status["pending_records"] == 0, status
assert last["outcome"] == "done" and last["next_attempt"] > last["time"], last
' || fail "dshield status after the run: $("$BIN" dshield status --spool "$SPOOL")"
grep -q "refused with HTTP 429" "$ERR" || fail "the 429 was not reported on standard error"
echo "  ok: status file says done; the 429 was waited out"
echo "PASS: dshield-live-test"
