#!/usr/bin/env python3
"""SigV4a on the other side: botocore's CRT signers (awscrt) sign, awscrt verifies.

Reads a JSON list of cases on stdin. Each case describes a request (method, host, encoded
path, query pairs, headers, body), the signing time, credentials and region set, and carries
our signature of it ("ours": {"string_to_sign", "signature", "public_key"}, hex).
Writes a JSON list of results:
  "headers": the request headers after botocore signed it (header signing), as pairs;
  "query": the query pairs of botocore's presigned URL, in order (presigning);
  "ours_valid": whether awscrt's ECDSA verifies our signature of our string to sign with our
                public key (given as an uncompressed point, wrapped here in SubjectPublicKeyInfo).
"""
import datetime
import hashlib
import json
import sys
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.auth  # first: botocore.crt.auth imports from it (a circular import otherwise)
import botocore.crt.auth
from awscrt.crypto import EC
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# DER of SubjectPublicKeyInfo for an id-ecPublicKey on prime256v1, up to the point.
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        when = datetime.datetime.strptime(c["amz_date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        botocore.crt.auth.get_current_datetime = lambda remove_tzinfo=True, when=when: when
        creds = Credentials(c["access_key"], c["secret_key"], c.get("token"))
        query = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in c["query"])
        url = "http://" + c["host"] + c["path"] + ("?" + query if query else "")
        result = {}
        if c["presign"]:
            request = AWSRequest(method=c["method"], url=url, headers={"host": c["host"]})
            botocore.crt.auth.CrtS3SigV4AsymQueryAuth(creds, "s3", c["region_set"], expires=c["expires"]).add_auth(request)
            result["query"] = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
        else:
            request = AWSRequest(method=c["method"], url=url, headers=dict(c["headers"]), data=c["body"].encode())
            botocore.crt.auth.CrtS3SigV4AsymAuth(creds, "s3", c["region_set"]).add_auth(request)
            result["headers"] = [[k, v] for k, v in request.headers.items()]
        ours = c["ours"]
        key = EC.new_key_from_der_data(SPKI_PREFIX + bytes.fromhex(ours["public_key"]))
        digest = hashlib.sha256(ours["string_to_sign"].encode()).digest()
        result["ours_valid"] = bool(key.verify(digest, bytes.fromhex(ours["signature"])))
        # And a tampered string must not verify (so the check above can fail).
        result["tampered_valid"] = bool(key.verify(hashlib.sha256(ours["string_to_sign"].encode() + b"x").digest(),
                                                  bytes.fromhex(ours["signature"])))
        out.append(result)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
