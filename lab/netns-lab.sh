# shellcheck shell=bash
# ScanTap network-namespace lab (sourceable library; `source lab/netns-lab.sh`).
#
# Topology (everything lives in namespaces; nothing touches the root namespace):
#
#   st-vic    198.18.0.2   2001:db8:0:1::2   victim: HTTP :80, "ssh" :22, :443
#   st-scan   198.18.0.3   2001:db8:0:1::3   scanner #1 (SYN scans, v4 and v6)
#   st-scan2  198.18.0.4   2001:db8:0:1::4   scanner #2 (connect scan)
#   st-cli    198.18.0.10  2001:db8:0:1::10  benign client (curl, nc)
#        \        |          |        /
#         steth0 in each host ns --- veth --- port st-<host> in st-tap
#   st-tap: bridge "stbr0" = the span port; `tcpdump -i stbr0` there sees all.
#
# Every namespace name gets ST_LAB_SUFFIX appended (e.g. ST_LAB_SUFFIX=-ci1)
# so two runs on one machine do not clash.  Link names need no suffix: they
# are created directly inside those namespaces and never exist in the root ns.
#
# Safety: the lab uses only 198.18.0.0/15 and 2001:db8::/32.  The hosts above
# live in 198.18.0.0/24 and 2001:db8:0:1::/64; scripts add more of the two
# ranges (make-fixtures.sh: the dark 198.18.5.0/24 routed to the victim, decoys
# and a spoofed source in 198.18.0.0/24; dshield-live-test.sh: 198.18.1.1 on
# the lo of st-tap).  No namespace has a default route and the segment is not
# connected to the root namespace, so lab packets cannot leave the lab.
# lab_assert_lab_addr guards every scan target on top of that.
#
# Functions: lab_deps, lab_can_netns, lab_up, lab_down, lab_exec, lab_bg,
# lab_assert_lab_addr, lab_wait_listen, lab_wait_capture, lab_capture_start,
# lab_capture_stop, lab_benign_traffic, lab_log, lab_die, and the two starts:
# lab_test_start (the live tests, which take the scantap binary) and
# lab_recording_start (make-sample.sh, make-fixtures.sh), which set the traps
# (lab_down on exit; INT/TERM exit); lab_test_workspace gives a test its
# scratch folder and a cleanup trap that also stops scantap.
# The library does not change shell options; callers use `set -euo pipefail`.

ST_LAB_SUFFIX="${ST_LAB_SUFFIX:-}"

LAB_NS_TAP="st-tap${ST_LAB_SUFFIX}"
LAB_NS_VIC="st-vic${ST_LAB_SUFFIX}"
LAB_NS_SCAN="st-scan${ST_LAB_SUFFIX}"
LAB_NS_SCAN2="st-scan2${ST_LAB_SUFFIX}"
LAB_NS_CLI="st-cli${ST_LAB_SUFFIX}"
LAB_NAMESPACES=("$LAB_NS_TAP" "$LAB_NS_VIC" "$LAB_NS_SCAN" "$LAB_NS_SCAN2" "$LAB_NS_CLI")

LAB_BRIDGE="stbr0"      # inside $LAB_NS_TAP
LAB_HOST_IF="steth0"    # the one interface of every host namespace

LAB_VIC4="198.18.0.2";   LAB_VIC6="2001:db8:0:1::2"
LAB_SCAN4="198.18.0.3";  LAB_SCAN6="2001:db8:0:1::3"
LAB_SCAN2_4="198.18.0.4"; LAB_SCAN2_6="2001:db8:0:1::4"
LAB_CLI4="198.18.0.10";  LAB_CLI6="2001:db8:0:1::10"
LAB_OPEN_PORTS=(22 80 443)

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_TMP=""      # per-run scratch dir (logs, web root), made by lab_up
LAB_PIDS=()     # background processes we started, killed by lab_down
LAB_UP=0        # lab_down only deletes namespaces when we created them
LAB_CAPTURE_PID=""; LAB_CAPTURE_LOG=""; LAB_CAPTURE_MAX=0   # lab_capture_start's tcpdump

lab_log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# lab_deps [CMD:PACKAGE...]: install missing tools: the lab's own, plus the
# extra CMD:PACKAGE pairs a script names (make-fixtures.sh: zmap, hping3).
# scripts/install-deps.sh --tests installs all of them up front, so a test
# never waits for apt; this is the fallback for a machine set up by hand.
# The dpkg lock timeout lets us wait for another apt-get (e.g. a parallel
# setup step) instead of failing.
# shellcheck disable=SC2120  # the extra pairs are optional
lab_deps() {
  local need=() pair cmd pkg
  for pair in ip:iproute2 ss:iproute2 tcpdump:tcpdump nmap:nmap curl:curl \
              python3:python3 nc:netcat-openbsd sysctl:procps masscan:masscan "$@"; do
    cmd="${pair%%:*}"; pkg="${pair#*:}"
    command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ "${#need[@]}" -eq 0 ] && return 0
  lab_log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq
  # shellcheck disable=SC2046  # word splitting of the unique package list is wanted
  timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
}

# lab_can_netns: 0 if we are root and may create namespaces (a container
# without CAP_SYS_ADMIN cannot).  Probes with a throw-away namespace.
lab_can_netns() {
  [ "$(id -u)" -eq 0 ] || return 1
  command -v ip >/dev/null 2>&1 || return 1
  local probe="st-probe${ST_LAB_SUFFIX}-$$"
  ip netns add "$probe" 2>/dev/null || return 1
  ip netns del "$probe" 2>/dev/null || true
  return 0
}

# lab_exec NS CMD...: run a command inside a lab namespace.
lab_exec() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

# lab_bg NS LOGFILE CMD...: start CMD in NS in the background, remember its
# PID so lab_down can stop it.  `ip netns exec` execs CMD, so $! is CMD's PID.
# The PID is returned in LAB_LAST_PID (not via $(...), which would fork).
# env --default-signal=INT undoes bash's "background jobs ignore SIGINT", so
# stopping a process with SIGINT (tcpdump, scantap) works.  env execs too.
lab_bg() {
  local ns="$1" log="$2"; shift 2
  ip netns exec "$ns" env --default-signal=INT "$@" >"$log" 2>&1 </dev/null &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_assert_lab_addr ADDR: refuse anything outside the two lab ranges.
lab_assert_lab_addr() {
  python3 - "$1" <<'PY' || { lab_log "REFUSING non-lab address: $1"; return 1; }
import ipaddress, sys
a = ipaddress.ip_address(sys.argv[1])
ok = any(a in ipaddress.ip_network(n) for n in ("198.18.0.0/15", "2001:db8::/32"))
sys.exit(0 if ok else 1)
PY
}

# lab_wait_listen NS PORT [SECONDS]: poll until a TCP listener is up, so the
# first client request does not race the server start.
lab_wait_listen() {
  local ns="$1" port="$2" secs="${3:-10}" i
  for ((i = 0; i < secs * 10; i++)); do
    if ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  lab_log "no listener on port $port in $ns after ${secs}s"; return 1
}

# lab_wait_capture PID [SECONDS]: poll (at most SECONDS, default 10) until the
# capturer PID, started in the bridge's namespace, has opened its packet
# socket there (nothing else opens one there; this also works when PID is a
# wrapper that forks), then wait 0.5 s more for the filter and ring behind
# the socket.  Returns 0 when capturing, 1 when PID exited first, 2 on timeout.
lab_wait_capture() {
  local pid="$1" secs="${2:-10}" i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if [ "$(ip netns exec "$LAB_NS_TAP" tail -n +2 /proc/net/packet 2>/dev/null | wc -l)" -gt 0 ]; then
      sleep 0.5
      return 0
    fi
    sleep 0.1
  done
  return 2
}

# _lab_host NS PORTNAME MAC IPV4 IPV6: one host namespace wired to the bridge.
_lab_host() {
  local ns="$1" port="$2" mac="$3" v4="$4" v6="$5"
  local portmac="${mac/02:53:54:00:/02:53:54:01:}"   # bridge-side end
  ip netns add "$ns"
  # Set IPv6 defaults before the interface exists so it inherits them:
  # no DAD (addresses usable at once, no tentative-address race), no router
  # solicitations / RA (there is no router; less capture noise).
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
    net.ipv6.conf.default.accept_ra=0
  ip -n "$ns" link set lo up
  # Create the veth pair with each end born inside its namespace: nothing
  # ever appears in the root namespace, so parallel labs cannot collide.
  ip -n "$LAB_NS_TAP" link add "$port" type veth peer name "$LAB_HOST_IF" netns "$ns"
  # Fixed MACs make reruns produce equivalent captures (same L2 addresses).
  ip -n "$ns" link set "$LAB_HOST_IF" address "$mac"
  ip -n "$LAB_NS_TAP" link set "$port" address "$portmac"
  ip -n "$LAB_NS_TAP" link set "$port" master "$LAB_BRIDGE" up
  ip -n "$ns" addr add "$v4/24" dev "$LAB_HOST_IF"
  ip -n "$ns" addr add "$v6/64" dev "$LAB_HOST_IF" nodad
  ip -n "$ns" link set "$LAB_HOST_IF" up
  # No default route on purpose: the lab segment is the whole world.
}

# lab_up: build the lab and start the victim's services.  Fails (without
# touching them) if namespaces of this suffix already exist.
lab_up() {
  local ns
  for ns in "${LAB_NAMESPACES[@]}"; do
    if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
      lab_log "namespace $ns already exists (another run, or a crashed one: 'ip netns del $ns'; or set ST_LAB_SUFFIX)"
      return 1
    fi
  done
  LAB_UP=1
  LAB_TMP="$(mktemp -d /tmp/st-lab.XXXXXX)"
  chmod 755 "$LAB_TMP"

  # The span port: a bridge in its own namespace.  No IP on it (it is a
  # switch, not a host), IPv6 off so it emits no ND/MLD of its own.
  ip netns add "$LAB_NS_TAP"
  ip netns exec "$LAB_NS_TAP" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1
  ip -n "$LAB_NS_TAP" link set lo up
  # STP off (no BPDUs in captures, ports forward at once); multicast snooping
  # off so multicast is flooded like on a dumb switch.
  ip -n "$LAB_NS_TAP" link add "$LAB_BRIDGE" address 02:53:54:ff:00:00 \
    type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  # Promiscuous permanently: a bridge device only passes *all* forwarded
  # frames up to packet sockets when promiscuous, so a capturer that does not
  # ask for promisc mode (pcap promisc=0) still sees the unicast scan traffic.
  ip -n "$LAB_NS_TAP" link set "$LAB_BRIDGE" promisc on up

  _lab_host "$LAB_NS_VIC"   st-vic   02:53:54:00:00:02 "$LAB_VIC4"   "$LAB_VIC6"
  _lab_host "$LAB_NS_SCAN"  st-scan  02:53:54:00:00:03 "$LAB_SCAN4"  "$LAB_SCAN6"
  _lab_host "$LAB_NS_SCAN2" st-scan2 02:53:54:00:00:04 "$LAB_SCAN2_4" "$LAB_SCAN2_6"
  _lab_host "$LAB_NS_CLI"   st-cli   02:53:54:00:00:10 "$LAB_CLI4"   "$LAB_CLI6"

  # Victim services: a real web server (fixed page so responses are the same
  # every run) and a listener for 22 ("ssh" banner) and 443.
  mkdir -p "$LAB_TMP/www"
  printf '<html><body>ScanTap lab victim</body></html>\n' >"$LAB_TMP/www/index.html"
  lab_bg "$LAB_NS_VIC" "$LAB_TMP/http.log" \
    python3 -m http.server --bind :: --directory "$LAB_TMP/www" 80
  lab_bg "$LAB_NS_VIC" "$LAB_TMP/listener.log" \
    python3 "$LAB_DIR/tcp-listener.py" 22 443
  local p
  for p in "${LAB_OPEN_PORTS[@]}"; do lab_wait_listen "$LAB_NS_VIC" "$p" 10; done
  lab_log "lab up (suffix '${ST_LAB_SUFFIX}', scratch $LAB_TMP)"
}

# lab_benign_traffic: what a normal client does; every command is bounded.
# --noproxy: never let a proxy variable send a request anywhere but the lab.
lab_benign_traffic() {
  local i
  for i in 1 2 3; do
    ip netns exec "$LAB_NS_CLI" timeout 5 curl -sS --noproxy '*' --max-time 3 \
      -o /dev/null "http://$LAB_VIC4/" || lab_log "curl v4 #$i failed"
  done
  for i in 1 2; do
    ip netns exec "$LAB_NS_CLI" timeout 5 curl -sS -g --noproxy '*' --max-time 3 \
      -o /dev/null "http://[$LAB_VIC6]/" || lab_log "curl v6 #$i failed"
  done
  # An "ssh" session: read the banner, send ours, close (nc -N: shutdown on EOF).
  printf 'SSH-2.0-OpenSSH_9.2p1\r\n' |
    ip netns exec "$LAB_NS_CLI" timeout 5 nc -N -w 2 "$LAB_VIC4" 22 >/dev/null ||
    lab_log "nc to :22 failed"
}

# lab_capture_start FILE MAXPACKETS: tcpdump on the span bridge into FILE, in
# the background (log: FILE.log, PID: LAB_CAPTURE_PID); returns once tcpdump
# says it is listening, so no early packet is missed.  For make-sample.sh and
# make-fixtures.sh, whose captures must be lossless:
# -s 0: full frames (replay tools need full lengths); -w writes classic pcap
# (tcpdump never writes pcapng); -U flushes the file per packet; -Z root:
# Debian's tcpdump otherwise drops to user "tcpdump", which may not write into
# our scratch dir; -c: hard bound on the file size.
# --immediate-mode: without it libpcap (TPACKET_V3) holds packets in a ring
#   block for up to 1 s, and whatever is in that block at SIGINT is silently
#   lost ("received by filter" > "captured", 0 "dropped").
# -B 32768: with immediate mode and full snaplen each ring slot is ~256 KB, so
#   the default 2 MB buffer holds ~8 frames and an nmap burst overflows it
#   (measured: ~15% kernel drops).  32 MB holds the bursts.
lab_capture_start() {
  local file="$1" max="$2" i
  LAB_CAPTURE_LOG="$file.log"; LAB_CAPTURE_MAX="$max"
  lab_bg "$LAB_NS_TAP" "$LAB_CAPTURE_LOG" \
    tcpdump -i "$LAB_BRIDGE" -n -s 0 --immediate-mode -B 32768 -U -Z root -c "$max" -w "$file"
  LAB_CAPTURE_PID=$LAB_LAST_PID
  for ((i = 0; i < 50; i++)); do grep -qs 'listening on' "$LAB_CAPTURE_LOG" && break; sleep 0.1; done
  grep -q 'listening on' "$LAB_CAPTURE_LOG" ||
    { lab_log "tcpdump did not start: $(cat "$LAB_CAPTURE_LOG")"; return 1; }
  sleep 0.5
}

# lab_capture_stop: stop the capture of lab_capture_start with SIGINT
# (tcpdump flushes and closes the file; SIGKILL after 5 s) and insist it is
# lossless: everything the filter saw was written, nothing dropped, the -c
# bound not reached.  A capture with holes would teach the detector wrong
# numbers.  Returns 1 (with a log line) otherwise.
lab_capture_stop() {
  local log="$LAB_CAPTURE_LOG" i captured received
  kill -INT "$LAB_CAPTURE_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$LAB_CAPTURE_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$LAB_CAPTURE_PID" 2>/dev/null; then
    kill -KILL "$LAB_CAPTURE_PID" 2>/dev/null || true
    lab_log "tcpdump did not stop"; return 1
  fi
  grep -E '^[0-9]+ packets' "$log" | sed 's/^/[tcpdump] /' >&2 || true
  captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$log")
  received=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$log")
  grep -q '^0 packets dropped by kernel' "$log" || { lab_log "kernel dropped packets"; return 1; }
  if [ -z "$captured" ] || [ "$captured" != "$received" ]; then
    lab_log "capture lost packets ($captured of $received)"; return 1
  fi
  [ "$captured" -lt "$LAB_CAPTURE_MAX" ] || { lab_log "capture hit the -c bound"; return 1; }
}

# _lab_stop_pid PID: SIGTERM, wait up to 3 s, then SIGKILL.  By PID only.
_lab_stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# lab_down: idempotent, never fails, safe from an EXIT trap.  Stops our
# processes, then anything still running inside our namespaces (deleting a
# namespace does not kill its processes), then deletes the namespaces by name
# (which removes their veths and the bridge with them).
lab_down() {
  local pid ns
  for pid in "${LAB_PIDS[@]}"; do _lab_stop_pid "$pid"; done
  LAB_PIDS=()
  if [ "$LAB_UP" = 1 ]; then
    for ns in "${LAB_NAMESPACES[@]}"; do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do _lab_stop_pid "$pid"; done
      ip netns del "$ns" 2>/dev/null || true
    done
    LAB_UP=0
    lab_log "lab down"
  fi
  if [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then rm -rf "$LAB_TMP"; fi
  LAB_TMP=""
  return 0
}

# The start every lab test that takes the scantap binary shares: the usage check, BIN as an
# absolute path (exit 1 when it is not an executable), exit 77 (skipped) where the lab cannot
# run, the tools, and the traps: lab_down on exit (a test that makes more to clean replaces it
# with its own EXIT trap, which calls lab_down), Ctrl-C and TERM a normal exit so that EXIT
# trap runs.
lab_test_start() {
  local name="$1"
  shift
  [ $# -eq 1 ] || { echo "usage: $name SCANTAP_BINARY" >&2; exit 2; }
  if ! { [ -f "$1" ] && [ -x "$1" ]; }; then
    echo "FAIL: $name: scantap binary '$1' not found or not executable"; exit 1
  fi
  # shellcheck disable=SC2034  # BIN is the calling test's
  BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  trap lab_down EXIT
  trap 'exit 130' INT TERM
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: $name needs root"; exit 77; }
  lab_can_netns || { echo "SKIP: $name: cannot create network namespaces here"; exit 77; }
  # shellcheck disable=SC2119  # the lab's own tools only
  lab_deps
}

lab_die() { lab_log "ERROR: $*"; exit 1; }

# The start the recording scripts (make-sample.sh, make-fixtures.sh) share: tear the lab down on
# every exit path (Ctrl-C and TERM become a normal exit, so the EXIT trap runs exactly once),
# then require root, the tools and namespaces.
lab_recording_start() {
  trap lab_down EXIT
  trap 'exit 130' INT TERM
  [ "$(id -u)" -eq 0 ] || lab_die "must run as root (network namespaces)"
  # shellcheck disable=SC2119  # the lab's own tools only
  lab_deps
  lab_can_netns || lab_die "cannot create network namespaces here"
}

# lab_test_workspace NAME: a scratch folder WORK holding scantap's OUT and ERR, and an EXIT trap
# that stops scantap (SCANTAP_PID, when set), tears the lab down and removes WORK.
# shellcheck disable=SC2034  # OUT, ERR and SCANTAP_PID are the calling test's
lab_test_workspace() {
  WORK="$(mktemp -d "/tmp/st-$1.XXXXXX")"
  OUT="$WORK/out"
  ERR="$WORK/err"
  SCANTAP_PID=""
  trap _lab_test_cleanup EXIT
}

# shellcheck disable=SC2317  # invoked through the trap
_lab_test_cleanup() {
  if [ -n "${SCANTAP_PID:-}" ]; then
    kill -KILL "$SCANTAP_PID" 2>/dev/null || true
    wait "$SCANTAP_PID" 2>/dev/null || true
  fi
  lab_down
  rm -rf "$WORK"
}
