#!/usr/bin/env python3
"""Summarise a classic pcap file (Ethernet link type) as JSON.

Used by make-sample.sh to (a) sanity-check the capture it just took and
(b) fill the measured fields of the truth file.  Standard library only, so it
runs on a clean Debian machine.

Output: {"format":"pcap","linktype":1,"snaplen":N,"packets":N,
         "first":iso,"last":iso,
         "sources":{src:{"packets":N,"syn":N,"syn_ports":N,"syn_dsts":[...],
                         "first_syn":iso,"last_syn":iso}}}
"syn" counts TCP segments with SYN set and ACK clear (connection attempts /
SYN probes); "syn_ports" is how many distinct destination ports they hit.
"""
import ipaddress
import json
import struct
import sys
from datetime import datetime, timezone

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),  # nanosecond variants
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_l3(frame: bytes):
    """Return (src, dst, proto, l4 bytes) or None for non-IP frames."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    off = 14
    while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:  # VLAN tags
        etype = struct.unpack("!H", frame[off + 2:off + 4])[0]
        off += 4
    if etype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        src = str(ipaddress.IPv4Address(frame[off + 12:off + 16]))
        dst = str(ipaddress.IPv4Address(frame[off + 16:off + 20]))
        return src, dst, proto, frame[off + ihl:]
    if etype == 0x86DD and len(frame) >= off + 40:
        proto = frame[off + 6]  # no extension-header walk: lab traffic has none for TCP
        src = str(ipaddress.IPv6Address(frame[off + 8:off + 24]))
        dst = str(ipaddress.IPv6Address(frame[off + 24:off + 40]))
        return src, dst, proto, frame[off + 40:]
    return None


def main() -> None:
    path = sys.argv[1]
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] not in MAGICS:
        sys.exit(f"{path}: not a classic pcap file (magic {data[:4].hex()}); pcapng is not wanted")
    end, tsunit = MAGICS[data[:4]]
    _, _, _, _, snaplen, linktype = struct.unpack(end + "HHiIII", data[4:24])
    pos, packets, first, last = 24, 0, None, None
    sources = {}
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ts = sec + frac * tsunit
        packets += 1
        first = ts if first is None else first
        last = ts
        if linktype != 1:
            continue
        l3 = parse_l3(frame)
        if l3 is None:
            continue
        src, dst, proto, l4 = l3
        s = sources.setdefault(src, {"packets": 0, "syn": 0, "_ports": set(), "_dsts": set(),
                                     "first_syn": None, "last_syn": None})
        s["packets"] += 1
        if proto == 6 and len(l4) >= 14:
            dport = struct.unpack("!H", l4[2:4])[0]
            flags = l4[13]
            if flags & 0x02 and not flags & 0x10:  # SYN without ACK
                s["syn"] += 1
                s["_ports"].add(dport)
                s["_dsts"].add(dst)
                s["first_syn"] = s["first_syn"] or iso(ts)
                s["last_syn"] = iso(ts)
    for s in sources.values():
        s["syn_ports"] = len(s.pop("_ports"))
        s["syn_dsts"] = sorted(s.pop("_dsts"))
    print(json.dumps({
        "format": "pcap", "linktype": linktype, "snaplen": snaplen, "packets": packets,
        "first": iso(first) if first else None, "last": iso(last) if last else None,
        "sources": sources,
    }, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
