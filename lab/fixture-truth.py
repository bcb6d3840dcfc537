#!/usr/bin/env python3
"""Write NAME.truth.json for one lab fixture: the scenario (what make-fixtures.sh
did) plus what the capture shows.

Usage: fixture-truth.py PCAP SPEC.json OUT.truth.json

SPEC is {"capture":..., "scenario":..., "scanners":[{src, technique, tool, ...}],
"non_scanners":[{src, role, ...}], "notes":...}.  For every listed source this
adds measured fields from the capture:
  probes       packets of the scanner's technique it sent (SYN without ACK for
               syn/connect; no-ACK/no-SYN/no-RST TCP for fin/null/xmas; bare ACK
               for ack; FIN+ACK for maimon; UDP for udp; ICMP echo request for
               icmp; first IPv4 fragments of TCP for fragmented scans)
  syn_packets  only for syn/connect scanners (SYN without ACK)
  dst_ports, dst_hosts  distinct destinations of those probes
  first_probe, last_probe
For non-scanners the same counters are reported by kind (syn, odd_tcp, synack,
udp, icmp_echo) so a reader can see why they are not scanners.
Standard library only.  Exits 1 when a scanner has no probe in the capture.
"""
import ipaddress
import json
import struct
import sys
from datetime import datetime, timezone

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


def iso(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] not in MAGICS:
        sys.exit("%s: not a classic pcap file" % path)
    end, unit = MAGICS[data[:4]]
    _, _, _, _, snaplen, linktype = struct.unpack(end + "HHiIII", data[4:24])
    pos = 24
    out = []
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[pos:pos + 16])
        out.append((sec + frac * unit, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return linktype, snaplen, out


def classify(frame):
    """(src, dst, kinds:set, dport) for an IP frame, or None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    off = 14
    if etype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        fragword = struct.unpack("!H", frame[off + 6:off + 8])[0]
        fragoff, more = fragword & 0x1FFF, bool(fragword & 0x2000)
        src = str(ipaddress.IPv4Address(frame[off + 12:off + 16]))
        dst = str(ipaddress.IPv4Address(frame[off + 16:off + 20]))
        l4 = frame[off + ihl:]
        if fragoff:
            return src, dst, {"frag_tail"}, None
        if more and proto == 6:
            kinds = {"frag_first"}
            dport = struct.unpack("!H", l4[2:4])[0] if len(l4) >= 4 else None
            if len(l4) >= 14:
                kinds |= tcp_kinds(l4[13])
            return src, dst, kinds, dport
        icmp_echo = 8
    elif etype == 0x86DD and len(frame) >= off + 40:
        proto = frame[off + 6]
        src = str(ipaddress.IPv6Address(frame[off + 8:off + 24]))
        dst = str(ipaddress.IPv6Address(frame[off + 24:off + 40]))
        l4 = frame[off + 40:]
        icmp_echo = 128
    else:
        return None
    if proto == 6 and len(l4) >= 14:
        return src, dst, tcp_kinds(l4[13]), struct.unpack("!H", l4[2:4])[0]
    if proto == 17 and len(l4) >= 4:
        return src, dst, {"udp"}, struct.unpack("!H", l4[2:4])[0]
    if proto in (1, 58) and len(l4) >= 1:
        return src, dst, {"icmp_echo"} if l4[0] == icmp_echo else {"icmp_other"}, None
    return src, dst, set(), None


def tcp_kinds(flags):
    syn, ack, rst, fin = flags & 0x02, flags & 0x10, flags & 0x04, flags & 0x01
    kinds = set()
    if syn and not ack:
        kinds.add("syn")
    if syn and ack:
        kinds.add("synack")
    if not ack and not syn and not rst:
        kinds.add("odd_tcp")        # FIN, NULL, Xmas probes
    if (flags & 0x3F) == 0x10:
        kinds.add("bare_ack")       # -sA probe (also pure ACKs of sessions)
    if (flags & 0x3F) == 0x11:
        kinds.add("fin_ack")        # -sM probe (also session teardown)
    if rst:
        kinds.add("rst")
    return kinds


PROBE_KIND = {"syn": "syn", "connect": "syn", "fin": "odd_tcp", "null": "odd_tcp",
              "xmas": "odd_tcp", "ack": "bare_ack", "maimon": "fin_ack", "udp": "udp",
              "icmp": "icmp_echo"}


def main():
    pcap, spec_path, out_path = sys.argv[1:4]
    spec = json.load(open(spec_path))
    linktype, snaplen, pkts = frames(pcap)
    per = {}
    for ts, frame in pkts:
        c = classify(frame)
        if c is None:
            continue
        src, dst, kinds, dport = c
        key = str(ipaddress.ip_address(src))
        for k in kinds:
            d = per.setdefault(key, {}).setdefault(k, {"n": 0, "ports": set(), "hosts": set(),
                                                       "first": ts, "last": ts})
            d["n"] += 1
            if dport is not None:
                d["ports"].add(dport)
            d["hosts"].add(dst)
            d["last"] = ts
    bad = []
    for s in spec.get("scanners", []):
        src = str(ipaddress.ip_address(s["src"]))
        kind = "frag_first" if s.get("fragmented") else PROBE_KIND[s["technique"]]
        d = per.get(src, {}).get(kind)
        if d is None:
            bad.append(s["src"])
            continue
        if s["technique"] in ("syn", "connect"):
            s["syn_packets"] = d["n"]
        s["probes"] = d["n"]
        s["dst_ports"] = len(d["ports"])
        s["dst_hosts"] = len(d["hosts"])
        s["first_probe"], s["last_probe"] = iso(d["first"]), iso(d["last"])
    for n in spec.get("non_scanners", []):
        src = str(ipaddress.ip_address(n["src"]))
        n["sent"] = {k: v["n"] for k, v in sorted(per.get(src, {}).items())}
    truth = {
        "capture": spec["capture"],
        "generator": "lab/make-fixtures.sh",
        "scenario": spec.get("scenario"),
        "format": "pcap", "linktype": linktype, "snaplen": snaplen,
        "packets": len(pkts),
        "first": iso(pkts[0][0]) if pkts else None,
        "last": iso(pkts[-1][0]) if pkts else None,
        "notes": spec.get("notes", "") + (" " if spec.get("notes") else "") +
                 "Every source not listed under scanners is not a scanner. ARP and IPv6 "
                 "neighbour discovery are present and are not scans. probes/dst_* are "
                 "measured from the capture.",
        "scanners": spec.get("scanners", []),
        "non_scanners": spec.get("non_scanners", []),
    }
    with open(out_path, "w") as fh:
        json.dump(truth, fh, indent=2)
        fh.write("\n")
    if bad:
        sys.exit("no probes in the capture from scanner(s): " + ", ".join(bad))


if __name__ == "__main__":
    main()
