#!/usr/bin/env python3
"""A local stand-in for DShield's submitapi, for tests:

    python3 dshield-receiver.py USERID APIKEY STATUSES RECEIVED [ADDRESS]

Checks each POST as DShield would need it: the HMAC of X-ISC-Authorization under the given key
(reference dshield.md section 2.3), the body's authheader, the JSON schema with the official
client's types. Answers with the comma-separated STATUSES in turn (then 200; 429 carries
Retry-After: 1; `slow` stores the batch, then answers 200 only after 30 s; a POST that fails a
check, including a body that is not JSON or a missing header, gets 400), appends every accepted
record to RECEIVED as one JSON line, and prints the port it listens on as its first line. It
listens on ADDRESS only, 127.0.0.1 unless given (the lab gives an address of its own range).
"""
import base64, hashlib, hmac, http.server, json, re, sys, time
userid, apikey, received = sys.argv[1], sys.argv[2], sys.argv[4]
address = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"
statuses = [s for s in sys.argv[3].split(",") if s]
TYPES = {"time": int, "flags": str, "sip": str, "dip": str, "proto": int, "sport": str, "dport": str, "version": int}


def acceptable(headers, body):
    """Whether a POST passes every check; a malformed one (not JSON, a header or key missing,
    a wrong type) is simply not acceptable."""
    try:
        auth = headers.get("X-ISC-Authorization", "")
        m = re.fullmatch(r"ISC-HMAC-SHA256 Credentials=(\S+) Userid=(\d+) Nonce=(\S+)", auth)
        if m is None or m.group(2) != userid:
            return False
        expected = base64.b64encode(hmac.new((m.group(3) + userid).encode(), apikey.encode(), hashlib.sha256).digest()).decode()
        if not (hmac.compare_digest(expected, m.group(1)) and len(base64.b64decode(m.group(3))) == 8):
            return False
        doc = json.loads(body)
        ok = doc["type"] == "firewall" and doc["authheader"] == auth and list(doc) == ["type", "logs", "authheader"]
        ok = ok and headers.get("X-ISC-LogType") == "firewall" and headers.get("Content-Type") == "application/json"
        ok = ok and headers.get("User-Agent", "").startswith("ScanTap/")
        for log in doc["logs"]:
            ok = ok and list(log) == list(TYPES) and all(type(log[k]) is t for k, t in TYPES.items())
            ok = ok and log["sport"].isdigit() and log["dport"].isdigit()
        return ok
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length", "")))
        except ValueError:
            body = b""
        ok = acceptable(self.headers, body)
        token = statuses.pop(0) if statuses else "200"
        # "slow": accept and store the batch, then wait 30 s before answering 200, so a test can
        # kill the client after the server has the records but before the client hears so.
        slow = token == "slow"
        status = 200 if slow else int(token)
        if not ok:
            status = 400
        if status == 200:
            with open(received, "a") as out:
                for log in json.loads(body)["logs"]:
                    out.write(json.dumps(log) + "\n")
        if slow and ok:
            time.sleep(30)
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((address, 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
