#!/usr/bin/env python3
"""Presigns browser-form uploads with botocore's generate_presigned_post, the reference.

Reads a JSON list of cases on stdin; writes a JSON list of {"url", "fields": [[name, value]...]}
on stdout, the fields in botocore's order. Each case: endpoint, region, access_key, secret_key,
token (or null), bucket, key (ending in ${filename} for a prefix), fields ([[name, value]...], the
prefilled form fields), conditions (the policy conditions as JSON values), expires (seconds) and
amz_date (the signing time, 20261207T101500Z): botocore's clock is fixed to it.
"""
import datetime
import json
import sys

import botocore.auth
import botocore.session
import botocore.signers
from botocore.config import Config


def main():
    out = []
    for c in json.load(sys.stdin):
        when = datetime.datetime.strptime(c["amz_date"], "%Y%m%dT%H%M%SZ")
        botocore.auth.get_current_datetime = lambda when=when: when
        botocore.signers.get_current_datetime = lambda when=when: when
        session = botocore.session.get_session()
        client = session.create_client(
            "s3", region_name=c["region"], endpoint_url=c["endpoint"],
            aws_access_key_id=c["access_key"], aws_secret_access_key=c["secret_key"], aws_session_token=c["token"],
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        post = client.generate_presigned_post(
            Bucket=c["bucket"], Key=c["key"], Fields=dict(c["fields"]), Conditions=c["conditions"],
            ExpiresIn=c["expires"])
        out.append({"url": post["url"], "fields": list(post["fields"].items())})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
