#!/usr/bin/env python3
"""A local stand-in for DShield's submitapi, for tests: python3 dshield-receiver.py USERID APIKEY STATUSES RECEIVED

Checks each POST as DShield would need it: the HMAC of X-ISC-Authorization under the given key
(reference dshield.md section 2.3), the body's authheader, the JSON schema with the official
client's types. Answers with the comma-separated STATUSES in turn (then 200; 429 carries
Retry-After: 1; `slow` stores the batch, then answers 200 only after 30 s; a POST that fails a
check gets 400), appends every accepted record to RECEIVED as
one JSON line, and prints the port it listens on (127.0.0.1 only) as its first line.
"""
import base64, hashlib, hmac, http.server, json, re, sys, time
userid, apikey, received = sys.argv[1], sys.argv[2], sys.argv[4]
statuses = [s for s in sys.argv[3].split(",") if s]
TYPES = {"time": int, "flags": str, "sip": str, "dip": str, "proto": int, "sport": str, "dport": str, "version": int}

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        auth = self.headers.get("X-ISC-Authorization", "")
        m = re.fullmatch(r"ISC-HMAC-SHA256 Credentials=(\S+) Userid=(\d+) Nonce=(\S+)", auth)
        ok = m is not None and m.group(2) == userid
        if ok:
            expected = base64.b64encode(hmac.new((m.group(3) + userid).encode(), apikey.encode(), hashlib.sha256).digest()).decode()
            ok = hmac.compare_digest(expected, m.group(1)) and len(base64.b64decode(m.group(3))) == 8
        doc = json.loads(body)
        ok = ok and doc["type"] == "firewall" and doc["authheader"] == auth and list(doc) == ["type", "logs", "authheader"]
        ok = ok and self.headers["X-ISC-LogType"] == "firewall" and self.headers["Content-Type"] == "application/json"
        ok = ok and self.headers["User-Agent"].startswith("ScanTap/")
        for log in doc["logs"]:
            ok = ok and list(log) == list(TYPES) and all(type(log[k]) is t for k, t in TYPES.items())
            ok = ok and log["sport"].isdigit() and log["dport"].isdigit()
        token = statuses.pop(0) if statuses else "200"
        # "slow": accept and store the batch, then wait 30 s before answering 200, so a test can
        # kill the client after the server has the records but before the client hears so.
        slow = token == "slow"
        status = 200 if slow else int(token)
        if not ok:
            status = 400
        if status == 200:
            with open(received, "a") as out:
                for log in doc["logs"]:
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

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
