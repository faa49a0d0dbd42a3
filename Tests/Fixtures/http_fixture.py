#!/usr/bin/env python3
"""A small real HTTP/1.1 server on 127.0.0.1 for the transport tests.

Routes (GET unless noted):
  /bytes/N        N bytes, byte i = i % 251, with Content-Length
  /stall/N[/L]    headers promising L bytes (1 GiB), N body bytes, then silence until the client leaves
  /hang           accepts, reads the request, never answers
  /slow/MS/N      N pattern bytes with Content-Length, sent in 10 pieces over MS milliseconds
  /status/N       status N with a short text body
  /conn           the client's port (tells whether a connection was reused)
  /chunked/N      N pattern bytes with Transfer-Encoding: chunked
  /chunked-odd/N  the same in chunks of 1 to 4,099 bytes, with extensions and a trailer
  /chunked-cut/N  one chunk of N bytes, then the connection closes (no last chunk)
  /until-close/N  N pattern bytes, neither Content-Length nor chunks, Connection: close
  /cut/N/M        headers promising N bytes, M of them, then the connection closes
  /close-conn     the client's port, with Connection: close (and closes)
  /arm-drop/N     N pattern bytes; the next request on the same connection is dropped unanswered (a PUT's body unread)
  /headers        the request headers as JSON
  PUT|POST /echo  JSON {length, sha256, chunked, method, content_type} of the received body
  DELETE any      204, no body
  PUT /refuse     403 at once, the body unread; the connection closed 3 s later

Usage: http_fixture.py PORTFILE   (binds port 0, writes the port to PORTFILE)
"""
import hashlib
import json
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATTERN = bytes(i % 251 for i in range(251 * 1024))  # 257,024 bytes, a multiple of 251


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_text(self, status, text, ctype="text/plain"):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def write_pattern(self, n):
        """Writes the first n bytes of the pattern (byte i = i % 251)."""
        sent = 0
        while sent < n:
            block = PATTERN[: min(len(PATTERN), n - sent)]
            self.wfile.write(block)
            sent += len(block)

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        parts = self.path.split("?")[0].strip("/").split("/")
        route = parts[0]
        if getattr(self, "drop_next", False):
            # Armed by /arm-drop: close this kept-alive connection without an answer, as a
            # server does with one it has timed out.
            self.close_connection = True
            return
        try:
            if route == "bytes":
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                if head:
                    return
                self.write_pattern(n)
            elif route == "stall":
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", parts[2] if len(parts) > 2 else str(1 << 30))
                self.end_headers()
                self.wfile.write(PATTERN[:n])
                self.wfile.flush()
                time.sleep(60)
            elif route == "slow":
                ms, n = int(parts[1]), int(parts[2])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                self.wfile.flush()
                sent = 0
                for piece in range(10):
                    time.sleep(ms / 10000.0)
                    end = n if piece == 9 else n * (piece + 1) // 10
                    self.wfile.write(PATTERN[sent % 251: sent % 251 + (end - sent)])
                    self.wfile.flush()
                    sent = end
            elif route == "hang":
                time.sleep(60)
            elif route == "status":
                self.send_text(int(parts[1]), "status %s" % parts[1])
            elif route == "conn":
                self.send_text(200, str(self.client_address[1]))
            elif route == "close-conn":
                body = str(self.client_address[1]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
            elif route == "chunked":
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent = 0
                while sent < n:
                    block = PATTERN[sent % 251: sent % 251 + min(65536, n - sent)]
                    self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
                    sent += len(block)
                self.wfile.write(b"0\r\n\r\n")
            elif route == "chunked-odd":
                # Chunks of 1 to 4,099 bytes, upper-case hex, an extension on each, and a trailer.
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent, size = 0, 1
                while sent < n:
                    block = PATTERN[sent % 251: sent % 251 + min(size, n - sent)]
                    self.wfile.write(b"%X;piece=%d\r\n" % (len(block), sent) + block + b"\r\n")
                    sent += len(block)
                    size = size * 7 % 4099 + 1
                self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
            elif route == "chunked-cut":
                # One chunk of N bytes, then the connection closes before the last chunk.
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n" % n + PATTERN[:n] + b"\r\n")
                self.wfile.flush()
                self.close_connection = True
            elif route == "until-close":
                # N pattern bytes with neither Content-Length nor chunks: the body ends at the close.
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.write_pattern(n)
                self.wfile.flush()
                self.close_connection = True
            elif route == "cut":
                n, m = int(parts[1]), int(parts[2])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                self.wfile.write(PATTERN[:m])
                self.wfile.flush()
                self.close_connection = True
            elif route == "arm-drop":
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                self.wfile.write(PATTERN[:n])
                self.drop_next = True
            elif route == "headers":
                self.send_text(200, json.dumps({k.lower(): v for k, v in self.headers.items()}), "application/json")
            else:
                self.send_text(404, "no such route")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_body(self):
        h = hashlib.sha256()
        length = 0
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 20))
                    h.update(data)
                    remaining -= len(data)
                    length += len(data)
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length", "0"))
            while remaining:
                data = self.rfile.read(min(remaining, 1 << 20))
                if not data:
                    break
                h.update(data)
                remaining -= len(data)
                length += len(data)
        return length, h.hexdigest(), chunked

    def do_PUT(self):
        if getattr(self, "drop_next", False):
            # Armed by /arm-drop: closed unanswered, the body unread.
            self.close_connection = True
            return
        if self.path.startswith("/refuse"):
            # Answers 403 at once, reads none of the body, and closes only 3 s later: a client
            # still writing the body must notice the answer, not wait for the close.
            self.send_text(403, "refused before the body")
            self.wfile.flush()
            time.sleep(3)
            self.close_connection = True
            return
        length, digest, chunked = self.read_body()
        self.send_text(200, json.dumps({
            "length": length, "sha256": digest, "chunked": chunked, "method": self.command,
            "content_type": self.headers.get("Content-Type"), "expect": self.headers.get("Expect"),
        }), "application/json")

    do_POST = do_PUT

    def do_DELETE(self):
        self.send_response(204)
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
