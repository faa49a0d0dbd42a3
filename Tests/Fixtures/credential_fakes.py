#!/usr/bin/env python3
"""Loopback fakes of the places servers get AWS credentials from, for the credential tests.

Usage: credential_fakes.py MOTO_AUTH_URL ADMIN_KEY ADMIN_SECRET ROLE_ARN PORTFILE
(binds 127.0.0.1 port 0 and writes the port to PORTFILE).

The credentials it hands out are real temporary credentials of the moto server at MOTO_AUTH_URL,
which runs with authentication on: each fetch calls that server's STS AssumeRole (signed with the
admin key) for ROLE_ARN, so the server verifies every request signed with them, session token
included. Every fake lives under a namespace NS (any name a test picks), so tests do not disturb
each other:

  /NS/imds/...          EC2 instance metadata, IMDSv2 only: PUT /latest/api/token (needs
                        x-aws-ec2-metadata-token-ttl-seconds) gives a session token; GETs of
                        /latest/meta-data/iam/security-credentials/[ROLE] without a current token
                        answer 401
  /NS/container/creds   the container credentials endpoint (ECS / EKS Pod Identity); checks the
                        Authorization header when a token is set
  /NS/sts/              STS AssumeRoleWithWebIdentity (form POST, unsigned); checks the
                        WebIdentityToken when one is set, answers the XML STS answers

  POST /control/NS      JSON settings merged into the namespace's:
                          "expires_in": seconds until the served Expiration (default 3600)
                          "status": answer credential requests with this HTTP status (0: normal)
                          "delay": seconds to wait before answering a credential request
                          "container_token": the Authorization value the container fake wants
                          "web_token": the WebIdentityToken the STS fake wants
                          "revoke_tokens": true drops every IMDS session token (a restart)
  GET /control/NS       {"counts": {...}, "served": [{"id", "secret", "token"}], "log": [...],
                         "web_tokens": [...]}: what the fakes did for NS
"""
import datetime
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

MOTO, ADMIN_KEY, ADMIN_SECRET, ROLE_ARN, PORTFILE = sys.argv[1:6]
STS = boto3.client("sts", endpoint_url=MOTO, region_name="us-east-1",
                   aws_access_key_id=ADMIN_KEY, aws_secret_access_key=ADMIN_SECRET)
LOCK = threading.Lock()
SPACES = {}
ROLE = "s3-test-role"


def space(ns):
    with LOCK:
        if ns not in SPACES:
            SPACES[ns] = {"expires_in": 3600, "status": 0, "delay": 0, "container_token": None, "web_token": None,
                          "imds_tokens": set(), "counts": {}, "served": [], "log": [], "web_tokens": [], "next_token": 0}
        return SPACES[ns]


def count(s, what):
    with LOCK:
        s["counts"][what] = s["counts"].get(what, 0) + 1


def fresh_credentials(ns, s):
    """Temporary credentials from the authenticating moto, with the namespace's expiry."""
    c = STS.assume_role(RoleArn=ROLE_ARN, RoleSessionName="fake-" + ns[:40])["Credentials"]
    expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=s["expires_in"])
    with LOCK:
        s["served"].append({"id": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"]})
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], expiration.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="text/plain"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self):
        path = urllib.parse.urlsplit(self.path).path
        parts = path.split("/", 3)  # "", NS, kind, rest
        if len(parts) < 3:
            return self.answer(404, "no such fake")
        if parts[1] == "control":
            return self.control(parts[2])
        ns, kind, rest = parts[1], parts[2], "/" + (parts[3] if len(parts) > 3 else "")
        s = space(ns)
        with LOCK:
            s["log"].append({"method": self.command, "kind": kind, "path": rest,
                             "imds_token": "x-aws-ec2-metadata-token" in self.headers,
                             "authorization": "Authorization" in self.headers})
        if kind == "imds":
            return self.imds(ns, s, rest)
        if kind == "container":
            return self.container(ns, s)
        if kind == "sts":
            return self.sts(ns, s)
        return self.answer(404, "no such fake")

    def control(self, ns):
        s = space(ns)
        if self.command == "POST":
            settings = json.loads(self.body() or b"{}")
            with LOCK:
                if settings.pop("revoke_tokens", False):
                    s["imds_tokens"].clear()
                s.update(settings)
            return self.answer(200, "{}", "application/json")
        with LOCK:
            state = {k: s[k] for k in ("counts", "served", "log", "web_tokens")}
        return self.answer(200, json.dumps(state), "application/json")

    def failure_or_delay(self, s):
        if s["delay"]:
            time.sleep(s["delay"])
        if s["status"]:
            self.answer(s["status"], "failing on purpose")
            return True
        return False

    def imds(self, ns, s, rest):
        if rest == "/latest/api/token":
            if self.command != "PUT":
                return self.answer(405, "")
            ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.answer(400, "")
            count(s, "imds_token")
            with LOCK:
                s["next_token"] += 1
                token = "imds-token-%s-%d" % (ns, s["next_token"])
                s["imds_tokens"].add(token)
            return self.answer(200, token)
        token = self.headers.get("x-aws-ec2-metadata-token")
        with LOCK:
            valid = token in s["imds_tokens"]
        if not valid:
            count(s, "imds_401")
            return self.answer(401, "")
        base = "/latest/meta-data/iam/security-credentials/"
        if rest == base:
            count(s, "imds_role")
            return self.answer(200, ROLE)
        if rest == base + ROLE:
            count(s, "imds_credentials")
            if self.failure_or_delay(s):
                return
            key, secret, session, expiration = fresh_credentials(ns, s)
            doc = {"Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC", "AccessKeyId": key,
                   "SecretAccessKey": secret, "Token": session, "Expiration": expiration}
            return self.answer(200, json.dumps(doc), "application/json")
        return self.answer(404, "")

    def container(self, ns, s):
        count(s, "container")
        want = s["container_token"]
        if want is not None and self.headers.get("Authorization") != want:
            count(s, "container_refused")
            return self.answer(403, json.dumps({"message": "bad token"}), "application/json")
        if self.failure_or_delay(s):
            return
        key, secret, session, expiration = fresh_credentials(ns, s)
        doc = {"AccessKeyId": key, "SecretAccessKey": secret, "Token": session, "Expiration": expiration,
               "RoleArn": ROLE_ARN}
        return self.answer(200, json.dumps(doc), "application/json")

    def sts(self, ns, s):
        form = urllib.parse.parse_qs(self.body().decode())
        action = form.get("Action", [""])[0]
        count(s, "sts_" + action)
        if action != "AssumeRoleWithWebIdentity" or "Authorization" in self.headers:
            return self.sts_error(400, "InvalidAction", "only unsigned AssumeRoleWithWebIdentity is faked here")
        token = form.get("WebIdentityToken", [""])[0]
        with LOCK:
            s["web_tokens"].append(token)
        if s["web_token"] is not None and token != s["web_token"]:
            return self.sts_error(400, "InvalidIdentityToken", "the web identity token is not the expected one")
        if form.get("RoleArn", [""])[0] != ROLE_ARN:
            return self.sts_error(403, "AccessDenied", "not the test role")
        if self.failure_or_delay(s):
            return
        key, secret, session, expiration = fresh_credentials(ns, s)
        xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
               "<AssumeRoleWithWebIdentityResult><Credentials>"
               "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>"
               "<Expiration>%s</Expiration></Credentials>"
               "<SubjectFromWebIdentityToken>test</SubjectFromWebIdentityToken></AssumeRoleWithWebIdentityResult>"
               "<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"
               ) % (key, secret, session, expiration)
        return self.answer(200, xml, "text/xml")

    def sts_error(self, status, code, message):
        xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
               "<RequestId>fake</RequestId></ErrorResponse>") % (code, message)
        return self.answer(status, xml, "text/xml")

    do_GET = do_PUT = do_POST = do_HEAD = route


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
