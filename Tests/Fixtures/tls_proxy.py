#!/usr/bin/env python3
"""A TLS terminator on 127.0.0.1 in front of a plain HTTP server, for the TLS tests.

Usage: tls_proxy.py UPSTREAM_URL CERT_PEM KEY_PEM PORTFILE
Accepts TLS connections (the certificate given, made at test time by scripts/lib.sh with its
own CA), connects to UPSTREAM in plain TCP and copies bytes both ways until either side closes.
"""
import socket
import ssl
import sys
import threading
from urllib.parse import urlsplit

UPSTREAM = urlsplit(sys.argv[1])
CERT, KEY, PORTFILE = sys.argv[2], sys.argv[3], sys.argv[4]


def pump(src, dst):
    try:
        while True:
            data = src.recv(1 << 16)
            if not data:
                break
            dst.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(raw, context):
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()  # a client that refused our certificate, as the tests expect some to
        return
    upstream = socket.create_connection((UPSTREAM.hostname, UPSTREAM.port))
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    import os
    os.replace(PORTFILE + ".tmp", PORTFILE)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=serve, args=(raw, context), daemon=True).start()


if __name__ == "__main__":
    main()
