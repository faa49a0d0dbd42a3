#!/usr/bin/env python3
"""Signs request descriptions with botocore, the reference SigV4 signer.

Reads a JSON list of cases on stdin; writes a JSON list of results on stdout:
  header signing (S3SigV4Auth): the Authorization header;
  presigning (S3SigV4QueryAuth): the X-Amz-Signature of the URL.
Each case gives the raw object key; botocore encodes it itself (percent_encode, safe '/~'),
so the path encoding is compared as well.
"""
import datetime
import json
import sys
from urllib.parse import parse_qs, urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        when = datetime.datetime.strptime(c["amz_date"], "%Y%m%dT%H%M%SZ")
        botocore.auth.get_current_datetime = lambda when=when: when
        creds = Credentials(c["access_key"], c["secret_key"], c.get("token"))
        path = "/" + c["bucket"] + "/" + percent_encode(c["key"], safe="/~")
        url = "http://" + c["host"] + path
        if c["presign"]:
            params = {k: v for k, v in c["query"]}
            request = AWSRequest(method=c["method"], url=url, params=params, headers={"host": c["host"]})
            botocore.auth.S3SigV4QueryAuth(creds, "s3", c["region"], expires=c["expires"]).add_auth(request)
            query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
            out.append(query["X-Amz-Signature"][0])
        else:
            request = AWSRequest(method=c["method"], url=url, params=[tuple(p) for p in c["query"]],
                                 headers=dict(c["headers"]), data=c["body"].encode())
            botocore.auth.S3SigV4Auth(creds, "s3", c["region"]).add_auth(request)
            out.append(request.headers["Authorization"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
