#!/usr/bin/env python3
"""Tiny dual-stack TCP listener for the ScanTap lab victim.

Listens on every port given on the command line (IPv4 and IPv6 on one
socket each), so port scans find real open ports.  Port 22 answers with an
SSH-style banner so benign "ssh-ish" connections look like the real thing;
other ports accept, read a little and close.  Runs until killed (the lab's
lab_down kills it by PID).
"""
import socket
import sys
import threading

SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"


def serve_conn(conn: socket.socket, port: int) -> None:
    # Bounded: every connection lives at most ~2 s, whatever the peer does.
    conn.settimeout(2.0)
    try:
        if port == 22:
            conn.sendall(SSH_BANNER)
        conn.recv(256)
    except OSError:
        pass  # peer reset us (nmap -sT does that): fine
    finally:
        conn.close()


def listen(port: int) -> None:
    # One AF_INET6 socket with V6ONLY off accepts both v4 and v6 clients.
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_conn, args=(conn, port), daemon=True).start()


def main() -> None:
    ports = [int(p) for p in sys.argv[1:]] or [22, 443]
    threads = [threading.Thread(target=listen, args=(p,), daemon=True) for p in ports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
