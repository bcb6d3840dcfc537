#!/usr/bin/env python3
"""Measure scantap's detection accuracy on capture files that come with ground truth.

Command (from anywhere; paths given on the command line are relative to the current directory):

    python3 scripts/accuracy.py [--scantap PATH] [DIR_OR_FILE ...]

Defaults: scantap is `.build/release/scantap` under the repository root (the parent of this
script's folder; build it with `swift build -c release --product scantap`), and the inputs are
`samples/`, `Tests/Fixtures/lab/` (the lab scenarios of `lab/make-fixtures.sh`) plus
`../shared/eval-public/` (all relative to the repository root) when that
folder exists. A directory contributes every `*.pcap` / `*.pcapng` directly inside it; a capture
counts only when a sibling `NAME.truth.json` exists (NAME = the file name without .pcap/.pcapng).

For every capture the script runs `scantap read --format json FILE` (time limit 300 s), reads the
JSON lines (`alert`, `scan`, `stats` events) and compares the `scan` lines with the truth:

- found: a truth scanner is found when some `scan` line carries its `src` (addresses are
  compared in canonical form, so IPv6 spellings do not matter).
- FP: distinct `scan` sources that are not truth scanners. Both truth formats follow the rule
  "every source not listed in 'scanners' is a non-scanner".
- tech / tool: over found scanners whose expected value is known, right when every `scan` line
  of that source reports the expected value (tool names compared case-insensitively by their
  first word). A scanner with several techniques in its truth is right when each reported
  technique is one of them or `mixed`.
- det.med / det.max: median and maximum `detected_after` (distinct (host, port) first contacts
  when the source was declared; the smallest value when a source has several episodes) over
  the found scanners.

Expected technique. Lab truth (`samples/*.truth.json`, `Tests/Fixtures/lab/*.truth.json`) names
it in `technique`. The public truth
(`../shared/eval-public/*.truth.json`) gives free text in `scan_type` and `tool`, mapped as:
  "SYN" or nmap -sS/-PS -> syn; "connect" or -sT -> connect; "FIN" or -sF -> fin;
  "NULL"/"no-flag" or -sN -> null; "Xmas" or -sX -> xmas (a Xmas scan's FIN is not a FIN scan);
  "ACK" or -sA/-sW -> ack; "Maimon" or -sM -> maimon; "UDP" or -sU -> udp; "ping", "ICMP sweep"/"ICMP scan" -> icmp;
  masscan / zmap with no technique named -> syn.
  Several techniques (e.g. "connect scan then SYN scan") are kept as a set. A plain "TCP" with no
  TCP technique named, alone or next to another technique, makes the expectation unknown: it
  prints "?" and is not scored.
Expected tool: masscan -> "masscan"; zmap -> "zmap"; nmap with a raw-packet flag
  (-sS/-sF/-sN/-sX/-sA/-sW/-sM/-sU, or raw host discovery -PS/-PA/-PU/-PY/-PE) -> "nmap"; nmap with
  only -sT -> null (a connect scan uses the OS stack, so no fingerprint is expected and reporting
  null is right); anything else (Angry IP, X-Scan, xprobe2, unidentified) -> unknown, "?",
  not scored.

The footer lists truth scanners sending fewer than 5 probes (SYN-only + UDP + odd-flag TCP +
ICMP packets from the truth `stats`, or `syn_packets` / `probes` in lab truth): the project's target
excludes those. It also lists every capture where scantap misses a scanner or reports a false
positive.

The public captures were made by other people and are a check, never a target: do not tune
thresholds or fingerprints until their numbers look good; fix the detector against the
project's own design and use these files to see how it fares on traffic it was not built on.

Exit status: 0, unless scantap failed on some capture (it could not start, exited non-zero,
timed out or printed a line that is not JSON); that capture's row is an error line, the others
still run, and the exit status is 1.
"""

import argparse
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 300
FEW_PROBES = 5
WIDTH = 120
CAPTURE_EXTS = (".pcapng", ".pcap")


# --------------------------------------------------------------------------- truth


def canon(addr):
    """Canonical text of an address, or the stripped text when it is not one."""
    try:
        return str(ipaddress.ip_address(str(addr).strip()))
    except ValueError:
        return str(addr).strip()


TCP_TECHNIQUES = {"syn", "connect", "fin", "null", "xmas", "ack"}

# (technique, regex, flags) over "scan_type + tool" text.
KEYWORDS = [
    ("syn", r"\bSYN\b", re.I),
    ("syn", r"-sS\b|-PS", 0),
    ("connect", r"\bconnect", re.I),
    ("connect", r"-sT\b", 0),
    ("fin", r"\bFIN\b", 0),
    ("fin", r"-sF\b", 0),
    ("null", r"\bNULL\b|\bno-flags?\b", 0),
    ("null", r"-sN\b", 0),
    ("xmas", r"\bxmas\b", re.I),
    ("xmas", r"-sX\b", 0),
    ("ack", r"\bACK\b", 0),
    ("ack", r"-sA\b|-sW\b", 0),
    ("maimon", r"\bMaimon\b", re.I),
    ("maimon", r"-sM\b", 0),
    ("udp", r"\bUDP\b", re.I),
    ("udp", r"-sU\b", 0),
    ("icmp", r"\bping\b|\bICMP (echo )?(sweep|scan)", re.I),
]

NMAP_RAW_FLAGS = re.compile(r"-s[SFNXAUMW]\b|-P[SAUYE]")
NMAP_CONNECT_FLAG = re.compile(r"-sT\b")


def techniques_from_text(scan_type, tool):
    """Expected technique set from public truth text; None when unknown."""
    text = "%s %s" % (scan_type or "", tool or "")
    found = set()
    for name, pattern, flags in KEYWORDS:
        if re.search(pattern, text, flags):
            found.add(name)
    if "xmas" in found:
        found.discard("fin")  # "FIN+PSH+URG (Xmas)"
    if not found and re.search(r"masscan|zmap", tool or "", re.I):
        found.add("syn")
    # A bare "TCP" with no TCP technique named is an unknown component.
    if re.search(r"\bTCP\b", scan_type or "", re.I) and not (found & TCP_TECHNIQUES):
        return None
    return frozenset(found) or None


def tool_from_text(tool):
    """Expected tool name, "" for "no fingerprint expected" (null), None when unknown."""
    tool = tool or ""
    low = tool.lower()
    if "masscan" in low:
        return "masscan"
    if "zmap" in low:
        return "zmap"
    if "nmap" in low:
        if NMAP_RAW_FLAGS.search(tool):
            return "nmap"
        if NMAP_CONNECT_FLAG.search(tool):
            return ""
    return None


def probe_count(entry):
    """Probes a truth scanner sent, or None when the truth does not say."""
    stats = entry.get("stats")
    if isinstance(stats, dict):
        total = 0
        for key in ("syn_only", "udp_pkts"):
            value = stats.get(key)
            if isinstance(value, (int, float)):
                total += value
        for key in ("odd_flags", "icmp_sent"):
            value = stats.get(key)
            if isinstance(value, dict):
                total += sum(v for v in value.values() if isinstance(v, (int, float)))
        return int(total)
    for key in ("syn_packets", "probes", "packets"):
        if isinstance(entry.get(key), (int, float)):
            return int(entry[key])
    return None


class Scanner:
    def __init__(self, entry):
        self.src = canon(entry.get("src", ""))
        self.raw_src = entry.get("src", "")
        self.probes = probe_count(entry)
        scan_type = entry.get("scan_type")
        tool_text = entry.get("tool")
        if entry.get("technique"):
            techs = [t.strip().lower() for t in re.split(r"[,+/ ]+", entry["technique"]) if t.strip()]
            self.tech = frozenset(techs) or None
        else:
            self.tech = techniques_from_text(scan_type, tool_text)
        self.tool = tool_from_text(tool_text)
        self.shape = ""
        text = (scan_type or "").lower()
        if "horizontal" in text or "sweep" in text:
            self.shape = "horiz"
        elif "vertical" in text:
            self.shape = "vert"
        elif entry.get("technique") or entry.get("port_count"):
            self.shape = "vert" if str(entry.get("target", "x")).count(",") == 0 else ""

    def tech_label(self):
        return "?" if self.tech is None else "+".join(sorted(self.tech))

    def tool_label(self):
        return "?" if self.tool is None else (self.tool or "null")


class Truth:
    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.category = data.get("category")
        self.packets = data.get("packets")
        self.scanners = [Scanner(e) for e in data.get("scanners") or [] if isinstance(e, dict)]
        self.scan_free = self.category in ("no-scan", "edge") or not self.scanners
        if self.category in ("no-scan", "edge"):
            self.kind = self.category
        elif not self.scanners:
            self.kind = "no-scan"
        else:
            shapes = {s.shape for s in self.scanners}
            shape = shapes.pop() if len(shapes) == 1 else "mixed"
            prefix = self.category or ("lab" if data.get("generator") else "scan")
            self.kind = "%s-%s" % (prefix, shape) if shape else prefix


# --------------------------------------------------------------------------- scantap


def run_scantap(scantap, capture):
    """Return (events, None) or (None, error text)."""
    cmd = [scantap, "read", "--format", "json", capture]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % TIMEOUT_S
    except OSError as exc:
        return None, "cannot run %s: %s" % (scantap, exc.strerror or exc)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, "exit %d: %s" % (proc.returncode, err[-1] if err else "(no stderr)")
    events = []
    for number, line in enumerate(proc.stdout.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            return None, "line %d is not JSON: %s" % (number, line[:60])
        if isinstance(event, dict):
            events.append(event)
    return events, None


# --------------------------------------------------------------------------- scoring


def norm_tool(value):
    if value is None:
        return ""
    words = str(value).strip().lower().split()
    return words[0] if words else ""


class Result:
    def __init__(self, path, truth, events):
        self.path = path
        self.truth = truth
        scans = [e for e in events if e.get("event") == "scan"]
        self.stats = next((e for e in events if e.get("event") == "stats"), None)
        by_src = {}
        for scan in scans:
            by_src.setdefault(canon(scan.get("src", "")), []).append(scan)
        truth_srcs = {s.src for s in truth.scanners}
        self.fp = sorted(src for src in by_src if src not in truth_srcs)
        self.alert_only = sorted(
            {canon(e.get("src", "")) for e in events if e.get("event") == "alert"} - set(by_src))
        self.rows = []  # (scanner, lines or None, tech_ok or None, tool_ok or None, detected_after)
        for scanner in truth.scanners:
            lines = by_src.get(scanner.src)
            if not lines:
                self.rows.append((scanner, None, None, None, None))
                continue
            tech_ok = None
            if scanner.tech is not None:
                accepted = set(scanner.tech) | ({"mixed"} if len(scanner.tech) > 1 else set())
                tech_ok = all(str(l.get("technique", "")).lower() in accepted for l in lines)
            tool_ok = None
            if scanner.tool is not None:
                tool_ok = all(norm_tool(l.get("tool")) == scanner.tool for l in lines)
            after = [l.get("detected_after") for l in lines
                     if isinstance(l.get("detected_after"), (int, float))]
            self.rows.append((scanner, lines, tech_ok, tool_ok, min(after) if after else None))

    @property
    def found(self):
        return sum(1 for r in self.rows if r[1] is not None)

    @property
    def missed(self):
        return [r[0] for r in self.rows if r[1] is None]

    def score(self, index):
        scored = [r[index] for r in self.rows if r[index] is not None]
        return sum(1 for ok in scored if ok), len(scored)

    @property
    def delays(self):
        return [r[4] for r in self.rows if r[4] is not None]


# --------------------------------------------------------------------------- output

COLUMNS = [  # (title, width, align)
    ("capture", 31, "<"), ("kind", 11, "<"), ("found", 7, ">"), ("FP", 4, ">"),
    ("tech", 7, ">"), ("tool", 7, ">"), ("det.med", 7, ">"), ("det.max", 7, ">"),
    ("expected tech/tool", 22, "<"),
]


def fmt_row(cells):
    out = []
    for (_, width, align), cell in zip(COLUMNS, cells):
        text = str(cell)
        if len(text) > width:
            text = text[:width - 1] + "~"
        out.append(("{:%s%d}" % (align, width)).format(text))
    return "  ".join(out).rstrip()


def ratio(pair):
    right, total = pair
    return "%d/%d" % (right, total) if total else "-"


def num(value):
    if value is None:
        return "-"
    return ("%.1f" % value).rstrip("0").rstrip(".")


def expectation(truth):
    labels = []
    for scanner in truth.scanners:
        label = "%s/%s" % (scanner.tech_label(), scanner.tool_label())
        if label not in labels:
            labels.append(label)
    return ", ".join(labels) if labels else "-"


def files(count):
    return "%d file%s" % (count, "" if count == 1 else "s")


def total_row(label, results):
    found = sum(r.found for r in results)
    present = sum(len(r.truth.scanners) for r in results)
    fp = sum(len(r.fp) for r in results)
    tech = tuple(map(sum, zip(*[r.score(2) for r in results]))) if results else (0, 0)
    tool = tuple(map(sum, zip(*[r.score(3) for r in results]))) if results else (0, 0)
    delays = [d for r in results for d in r.delays]
    return fmt_row([
        label, files(len(results)), "%d/%d" % (found, present), fp, ratio(tech), ratio(tool),
        num(statistics.median(delays)) if delays else "-", num(max(delays)) if delays else "-", "",
    ])


def wrap(prefix, items, indent="    "):
    """Lines of at most WIDTH characters listing items after prefix."""
    lines, line = [], prefix
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else "")
        if len(line) + len(piece.rstrip()) > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece
    lines.append(line.rstrip())
    return lines


# --------------------------------------------------------------------------- inputs


def capture_name(path):
    base = os.path.basename(path)
    for ext in CAPTURE_EXTS:
        if base.endswith(ext):
            return base[:-len(ext)]
    return None


def collect(inputs):
    """[(capture, truth path)] for captures with a sibling truth file, in order, no repeats."""
    seen, pairs, notes = set(), [], []
    for item in inputs:
        if os.path.isdir(item):
            candidates = sorted(os.path.join(item, f) for f in os.listdir(item)
                                if capture_name(f) is not None)
        elif os.path.isfile(item):
            candidates = [item]
        else:
            notes.append("not found: %s" % item)
            continue
        for capture in candidates:
            name = capture_name(capture)
            if name is None:
                notes.append("not a .pcap/.pcapng file: %s" % capture)
                continue
            real = os.path.realpath(capture)
            if real in seen:
                continue
            seen.add(real)
            truth = os.path.join(os.path.dirname(capture), name + ".truth.json")
            if os.path.isfile(truth):
                pairs.append((capture, truth))
            elif os.path.isfile(item):
                notes.append("no truth file %s for %s" % (os.path.basename(truth), capture))
    return pairs, notes


def main():
    parser = argparse.ArgumentParser(
        description="Run scantap over captures with ground truth and print an accuracy table.")
    parser.add_argument("--scantap", default=os.path.join(REPO, ".build", "release", "scantap"),
                        help="scantap binary (default: .build/release/scantap in the repo)")
    parser.add_argument("inputs", nargs="*", metavar="DIR_OR_FILE",
                        help="capture files or folders (default: samples/, Tests/Fixtures/lab/ and "
                             "../shared/eval-public/ when it exists)")
    args = parser.parse_args()
    inputs = args.inputs
    if not inputs:
        inputs = [os.path.join(REPO, "samples"), os.path.join(REPO, "Tests", "Fixtures", "lab")]
        public = os.path.normpath(os.path.join(REPO, "..", "shared", "eval-public"))
        if os.path.isdir(public):
            inputs.append(public)

    pairs, notes = collect(inputs)
    print(fmt_row([c[0] for c in COLUMNS]))
    print(fmt_row(["-" * c[1] for c in COLUMNS]))
    results, failures = [], []
    for capture, truth_path in pairs:
        name = os.path.basename(capture)
        try:
            truth = Truth(truth_path)
        except (OSError, ValueError) as exc:
            notes.append("unreadable truth %s: %s" % (truth_path, exc))
            continue
        events, error = run_scantap(args.scantap, capture)
        if error is not None:
            failures.append(name)
            prefix = fmt_row([name, truth.kind, "ERROR"]) + "  "
            print(prefix + error[:WIDTH - len(prefix)])
            continue
        result = Result(capture, truth, events)
        results.append(result)
        delays = result.delays
        print(fmt_row([
            name, truth.kind, "%d/%d" % (result.found, len(truth.scanners)), len(result.fp),
            ratio(result.score(2)), ratio(result.score(3)),
            num(statistics.median(delays)) if delays else "-", num(max(delays)) if delays else "-",
            expectation(truth),
        ]))
        if result.stats and isinstance(truth.packets, int) \
                and result.stats.get("packets") not in (None, truth.packets):
            notes.append("%s: scantap read %s packets, truth says %d"
                         % (name, result.stats.get("packets"), truth.packets))
        if result.alert_only:
            notes.append("%s: alert without a scan line for %s" % (name, ", ".join(result.alert_only)))

    print(fmt_row(["-" * c[1] for c in COLUMNS]))
    print(total_row("TOTAL", results))
    for label, keep in (("  scans, vertical", lambda k: k.endswith("-vert")),
                        ("  scans, horizontal", lambda k: k.endswith("-horiz"))):
        subset = [r for r in results if not r.truth.scan_free and keep(r.truth.kind)]
        if subset:
            print(total_row(label, subset))
    free = [r for r in results if r.truth.scan_free]
    free_fp = sum(len(r.fp) for r in free)
    print(fmt_row(["SCAN-FREE (no-scan, edge)", files(len(free)), "-", free_fp, "-", "-",
                   "-", "-", "%d/%d files with a FP" % (sum(1 for r in free if r.fp), len(free))]))

    print()
    print("found = truth scanners with a scan line / present; FP = distinct non-scanner sources with a")
    print("scan line; tech, tool = right/scored over found scanners with a known expectation ('?' = not")
    print("scored, 'null' = no fingerprint expected); det = detected_after of found scanners.")
    print("The public captures are a check, never a target.")

    few = []
    for r in results:
        for s in r.truth.scanners:
            if s.probes is not None and s.probes < FEW_PROBES:
                few.append("%s %s (%d probes)" % (os.path.basename(r.path), s.raw_src, s.probes))
    unknown = ["%s %s" % (os.path.basename(r.path), s.raw_src)
               for r in results for s in r.truth.scanners if s.probes is None]
    print()
    if few:
        for line in wrap("Truth scanners with fewer than %d probes (outside the target): " % FEW_PROBES, few):
            print(line)
    else:
        print("Truth scanners with fewer than %d probes (outside the target): none" % FEW_PROBES)
    if unknown:
        for line in wrap("Truth scanners whose probe count the truth does not give: ", unknown):
            print(line)

    problems = [r for r in results if r.missed or r.fp]
    print()
    if problems:
        print("Captures with a missed scanner or a false positive:")
        for r in problems:
            parts = []
            if r.missed:
                parts.append("missed " + ", ".join(
                    "%s (%s, %s probes)" % (s.raw_src, s.tech_label(),
                                            "?" if s.probes is None else s.probes)
                    for s in r.missed))
            if r.fp:
                parts.append("FP " + ", ".join(r.fp))
            for line in wrap("  %s: " % os.path.basename(r.path), ["; ".join(parts)], "      "):
                print(line)
    else:
        print("Captures with a missed scanner or a false positive: none")
    wrong_tech, wrong_tool = [], []
    for r in results:
        for s, lines, tech_ok, tool_ok, _ in r.rows:
            where = "%s %s" % (os.path.basename(r.path), s.raw_src)
            if tech_ok is False:
                got = "+".join(sorted({str(l.get("technique")) for l in lines}))
                wrong_tech.append("%s: expected %s, got %s" % (where, s.tech_label(), got))
            if tool_ok is False:
                got = "+".join(sorted({str(l.get("tool") or "null") for l in lines}))
                wrong_tool.append("%s (%s, got %s)" % (where, s.tool_label(), got))
    print()
    if wrong_tech:
        print("Wrong technique:")
        for item in wrong_tech:
            print("  " + item[:WIDTH - 2])
    else:
        print("Wrong technique: none")
    if wrong_tool:
        for line in wrap("Wrong tool (expected, got): ", wrong_tool):
            print(line)
    else:
        print("Wrong tool: none")
    if notes:
        print()
        print("Notes:")
        for note in notes:
            print("  " + note[:WIDTH - 2])
    if failures:
        print()
        print("scantap failed on: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
