#!/usr/bin/env python3
"""A fault-injecting reverse proxy on 127.0.0.1 in front of the S3 server (moto) for tests.

Usage: fault_proxy.py UPSTREAM_URL PORTFILE   (binds port 0, writes the port to PORTFILE)

Every request is forwarded to UPSTREAM unless a rule matches. Rules are set per bucket, so
tests running in parallel do not disturb each other:
  PUT /__faults__/BUCKET   body: JSON list of rules      DELETE /__faults__/BUCKET  clears them
A rule: {"method": "POST", "query": "delete", "action": ..., "times": N (default unlimited)}
  "status":        answer {"status": 503, "code": "SlowDown"} with an S3 error document; optional
                   "headers": {name: value} added to the answer, "date_offset": seconds (the
                   answer's Date header is now plus that), "region": a <Region> in the document,
                   "body": false for no document (as HEAD errors have none)
  "status200":     forward, then answer 200 with an <Error> document {"code": "InternalError"}
                   instead of the server's body (S3's "200 with an error" on Complete/Copy)
  "reset":         close the connection without an answer (a reset)
  "lose-answer":   forward (the server acts on the request), then close the connection without
                   passing its answer on: a request done whose answer was lost on the way back
  "strip-token":   forward, then drop <NextContinuationToken> from the listing page
  "replace-200":   for a ranged GET: forward without the Range header and answer 200 with the
                   whole object (a server that ignores Range)
  "empty-200":     for a ranged GET: forward, then answer 200 with no body (Content-Length: 0), as
                   a SeaweedFS gateway did when its chunk lookup failed after a SIGSTOP
  "delete-refuse": {"keys": [...]} for DeleteObjects: those keys are taken out of the request
                   that reaches the server and reported back as <Error> AccessDenied entries
  "delay":         {"seconds": S} wait, then forward
  "truncate":      {"bytes": N} forward, then send the real headers but only N body bytes and
                   close the connection (a body that breaks mid-way)
  "trickle":       {"bytes": N, "seconds": S} forward, then send the headers and N body bytes, wait
                   S seconds, and send the rest (a slow body)
  "flip":          forward, then flip the bits of one byte of the answer's body ({"offset": N},
                   default the middle), keeping every header (corruption on the way back)
  "flip-upload":   flip the bits of one byte of the request's body ({"offset": N}, default the
                   middle), keeping every header (incl. signature and checksum), then forward
A rule may also require "range": a substring of the Range header (e.g. "bytes=0-"), and "path": a
substring of the request's path (e.g. "/dir/" for the objects under a prefix, not the listing).
  GET /__log__/BUCKET      the requests seen for BUCKET: ["METHOD path?query range", ...], with
                           " content-md5" appended when the request carried Content-MD5,
                           " crc32c=VALUE" when it carried x-amz-checksum-crc32c (" crc32=", " crc64nvme=",
                           " checksum-type=" likewise), " sse-c-md5=MD5" / " copy-source-sse-c-md5=MD5" with the
                           MD5 of an SSE-C key the request names (never the key), " rule=ACTION" when a rule applied, then always
                           " date=X-AMZ-DATE region=SIGNING-REGION"
"""
import base64
import email.utils
import hashlib
import http.client
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

UPSTREAM = urlsplit(sys.argv[1])
RULES = {}
LOG = {}
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}


def take_rule(method, bucket, query, range_header, path=""):
    with LOCK:
        for rule in RULES.get(bucket, []):
            if rule.get("method", method) != method or rule.get("query", "") not in query:
                continue
            if rule.get("path") is not None and rule["path"] not in path:
                continue
            if rule.get("range") is not None and rule["range"] not in range_header:
                continue
            if rule.get("times") is not None:
                if rule["times"] <= 0:
                    continue
                rule["times"] -= 1
            return rule
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    date_offset = 0.0

    def date_time_string(self, timestamp=None):
        # The Date of every answer; a rule's "date_offset" moves it (a server whose clock differs).
        return email.utils.formatdate((timestamp or time.time()) + self.date_offset, usegmt=True)

    def reply(self, status, headers, body, length=None):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        # A HEAD answer has no body but tells the length of the object.
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        self.date_offset = 0.0
        body = self.read_body()
        path, _, query = self.path.partition("?")
        if path.startswith("/__faults__/"):
            bucket = path.split("/")[2]
            with LOCK:
                RULES[bucket] = json.loads(body) if self.command == "PUT" else []
                LOG[bucket] = []
            return self.reply(200, [], b"ok")
        if path.startswith("/__log__/"):
            with LOCK:
                entries = list(LOG.get(path.split("/")[2], []))
            return self.reply(200, [("Content-Type", "application/json")], json.dumps(entries).encode())
        bucket = path.split("/")[1] if path.count("/") >= 1 else ""
        range_header = self.headers.get("Range", "")
        with LOCK:
            crc = self.headers.get("x-amz-checksum-crc32c")
            others = "".join(" %s=%s" % (name, self.headers.get("x-amz-" + name if name == "checksum-type" else "x-amz-checksum-" + name))
                             for name in ("crc32", "crc64nvme", "checksum-type")
                             if self.headers.get("x-amz-" + name if name == "checksum-type" else "x-amz-checksum-" + name))
            for header, label in (("x-amz-server-side-encryption-customer-key-md5", "sse-c-md5"),
                                  ("x-amz-copy-source-server-side-encryption-customer-key-md5", "copy-source-sse-c-md5")):
                if self.headers.get(header):
                    others += " %s=%s" % (label, self.headers.get(header))
            scope = re.search(r"Credential=[^/]*/[^/]*/([^/]*)/", self.headers.get("Authorization", ""))
            LOG.setdefault(bucket, []).append("%s %s %s%s%s%s date=%s region=%s" % (
                self.command, self.path, range_header, " content-md5" if "Content-MD5" in self.headers else "",
                " crc32c=" + crc if crc else "", others, self.headers.get("x-amz-date", "-"), scope.group(1) if scope else "-"))
        rule = take_rule(self.command, bucket, query, range_header, path)
        if rule:
            with LOCK:
                entries = LOG.get(bucket, [])
                for i in range(len(entries) - 1, -1, -1):
                    if entries[i].startswith("%s %s " % (self.command, self.path)):
                        entries[i] = entries[i].replace(" date=", " rule=%s date=" % rule["action"], 1)
                        break
        if rule and rule["action"] == "status":
            region = "<Region>%s</Region>" % rule["region"] if rule.get("region") else ""
            doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected by fault_proxy"
                   "</Message>%s<RequestId>FAULT</RequestId></Error>" % (rule.get("code", "SlowDown"), region)).encode()
            headers = [("Content-Type", "application/xml")] + list(rule.get("headers", {}).items())
            self.date_offset = float(rule.get("date_offset", 0))
            if self.command == "HEAD" or rule.get("body") is False:
                doc = b""
            return self.reply(rule.get("status", 503), headers, doc)
        if rule and rule["action"] == "reset":
            import socket
            import struct
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if rule and rule["action"] == "delay":
            time.sleep(float(rule.get("seconds", 1)))
        refused = []
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if rule and rule["action"] == "flip-upload" and body:
            at = int(rule.get("offset", len(body) // 2))
            body = body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1:]
        if rule and rule["action"] == "delete-refuse":
            text = body.decode()
            for key in rule["keys"]:
                pattern = "<Object><Key>%s</Key>(<VersionId>[^<]*</VersionId>)?</Object>" % re.escape(key)
                if re.search(pattern, text):
                    refused.append(key)
                    text = re.sub(pattern, "", text)
            body = text.encode()
            for k in list(headers):
                if k.lower() == "content-md5":
                    headers[k] = base64.b64encode(hashlib.md5(body).digest()).decode()
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out_headers = resp.getheaders()
        conn.close()
        if rule and rule["action"] == "lose-answer":
            import socket
            import struct
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if rule and rule["action"] == "empty-200" and resp.status == 206:
            kept = [(k, v) for k, v in out_headers if k.lower() not in ("content-range", "content-length")]
            return self.reply(200, kept, b"")
        if rule and rule["action"] == "replace-200" and resp.status == 206:
            # Range is signed, so the range asked for goes upstream as it is; the whole object is
            # then fetched with a widened Range (moto checks no signature; on a verifying server
            # this second request is refused and the test says so).
            total = int(dict((k.lower(), v) for k, v in out_headers)["content-range"].split("/")[1])
            headers["Range"] = "bytes=0-%d" % (total - 1)
            conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            whole = conn.getresponse()
            data = whole.read()
            conn.close()
            kept = [(k, v) for k, v in whole.getheaders() if k.lower() not in ("content-range",)]
            return self.reply(200, kept, data)
        if rule and rule["action"] == "flip" and data:
            at = int(rule.get("offset", len(data) // 2))
            data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
        if rule and rule["action"] == "strip-token":
            data = re.sub(rb"<NextContinuationToken>[^<]*</NextContinuationToken>", b"", data)
        if rule and rule["action"] == "status200" and resp.status == 200:
            doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>injected by fault_proxy after 200"
                   "</Message><RequestId>FAULT</RequestId></Error>" % rule.get("code", "InternalError")).encode()
            return self.reply(200, [("Content-Type", "application/xml")], doc)
        if rule and rule["action"] == "truncate":
            self.send_response(resp.status)
            for k, v in out_headers:
                if k.lower() not in HOP:
                    self.send_header(k, v)
            length = len(data)
            if self.command == "HEAD":
                length = dict((k.lower(), v) for k, v in out_headers).get("content-length", "0")
            self.send_header("Content-Length", str(length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: rule.get("bytes", 0)])
            self.wfile.flush()
            self.close_connection = True
            return
        if rule and rule["action"] == "trickle":
            self.send_response(resp.status)
            for k, v in out_headers:
                if k.lower() not in HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            first = rule.get("bytes", 0)
            self.wfile.write(data[:first])
            self.wfile.flush()
            time.sleep(float(rule.get("seconds", 1)))
            self.wfile.write(data[first:])
            return
        if refused and resp.status == 200:
            errors = "".join("<Error><Key>%s</Key><Code>AccessDenied</Code><Message>refused by fault_proxy</Message></Error>"
                             % k for k in refused)
            data = data.decode().replace("</DeleteResult>", errors + "</DeleteResult>").encode()
        length = None
        if self.command == "HEAD":
            length = dict((k.lower(), v) for k, v in out_headers).get("content-length", "0")
        self.reply(resp.status, out_headers, data, length)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    server.serve_forever()


if __name__ == "__main__":
    main()
