#!/usr/bin/env python3
"""The AWS CRT's CRCs (awscrt, what botocore[crt] uses), as a second implementation to compare with.

stdin: a JSON list of {"data": base64, "split": n}; stdout: a JSON list, for each case, of
{"crc32", "crc32c", "crc64nvme"} of the whole data and {"combined32", "combined32c",
"combined64"}: the CRT's combination of the CRCs of data[:split] and data[split:].
"""
import base64
import json
import sys

from awscrt import checksums as c

out = []
for case in json.load(sys.stdin):
    data = base64.b64decode(case["data"])
    a, b = data[: case["split"]], data[case["split"]:]
    out.append({
        "crc32": c.crc32(data), "crc32c": c.crc32c(data), "crc64nvme": c.crc64nvme(data),
        "combined32": c.combine_crc32(c.crc32(a), c.crc32(b), len(b)),
        "combined32c": c.combine_crc32c(c.crc32c(a), c.crc32c(b), len(b)),
        "combined64": c.combine_crc64nvme(c.crc64nvme(a), c.crc64nvme(b), len(b)),
    })
json.dump(out, sys.stdout)
