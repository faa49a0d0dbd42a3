#!/usr/bin/env python3
"""boto3 on the other side of the interoperability tests.

Usage: boto3_helper.py ENDPOINT COMMAND ARGS...   (body on stdin where noted; JSON on stdout)
  get BUCKET KEY                      {"sha256", "size", "metadata", "content_type"}
  put BUCKET KEY CONTENT_TYPE META    body on stdin; META is a JSON object
  list BUCKET PREFIX DELIMITER        {"keys": [...], "prefixes": [...]} via the paginator ("" = none)
  lifecycle BUCKET                    the rules, or []
  put-lifecycle BUCKET RULES          RULES is the JSON list boto3 takes
  policy BUCKET                       the policy JSON text, or null
  block-public BUCKET                 puts a full public access block
  public-block BUCKET                 the public access block configuration, or null
  versioning BUCKET                   enables versioning
  start-upload BUCKET KEY             creates a multipart upload, prints its id
  uploads BUCKET                      unfinished multipart upload keys
  location BUCKET                     the LocationConstraint (null for us-east-1)
  bucket-exists BUCKET                true or false
  put-many BUCKET PREFIX COUNT        puts COUNT small objects PREFIX%05d, concurrently
  checksum BUCKET KEY                 {"crc32", "crc32c", "crc64nvme", "type"} from HEAD with ChecksumMode
                                      ENABLED, and "validated": a GET with ChecksumMode ENABLED read
                                      through (botocore checks full-object checksums as it reads)
  put-checksum BUCKET KEY ALGORITHM   body on stdin; put_object with ChecksumAlgorithm (boto3 computes it)
  upload-file BUCKET KEY PATH         upload_file (s3transfer: multipart above 8 MiB, boto3's own checksums)
  get-version BUCKET KEY VERSION      like get, of one version, plus "version"
  versions BUCKET                     [{"key", "version", "latest", "marker"}] from list_object_versions
  put-versioned BUCKET KEY            body on stdin; prints the new VersionId
  tags BUCKET KEY                     the object's tags as an object ({} for none)
  bucket-tags BUCKET                  the bucket's tags as an object ({} for none)
  set-tags BUCKET KEY TAGS            put_object_tagging; TAGS is a JSON object
  head BUCKET KEY [SSEC_HEX]          {"encryption", "kms_key", "bucket_key", "sse_c", "storage_class", "cache_control",
                                      "content_disposition", "content_type", "metadata", "size"} from head_object
                                      (with the SSE-C key given as 64 hex digits)
  get-ssec BUCKET KEY SSEC_HEX        like get, of an object encrypted with that SSE-C key
  put-props BUCKET KEY PROPS          body on stdin; put_object with PROPS (JSON): "sse" (AES256 or aws:kms), "kms_key",
                                      "kms_context" (object), "bucket_key", "ssec_hex", "storage_class", "tags" (object),
                                      "cache_control"; prints the ETag
  cors BUCKET                         the CORS rules (boto3's shape), or []
  ownership BUCKET                    the ObjectOwnership of the bucket's ownership controls, or null
  set-policy BUCKET JSON              put_bucket_policy
  lock BUCKET                         the Object Lock configuration (boto3's shape), or null
  retention BUCKET KEY VERSION        {"mode", "until"} of the version's retention as HEAD reports it, or null
  legal-hold BUCKET KEY VERSION       "ON"/"OFF" as HEAD reports it, or null
  put-cond BUCKET KEY WHICH VALUE     body on stdin; put_object with IfNoneMatch (WHICH = none-match) or IfMatch
                                      (match); prints {"etag"} or {"error": CODE}
"""
import base64
import hashlib
import json
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
from botocore.exceptions import ClientError


def main():
    endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing-secret",
                      config=botocore.config.Config(max_pool_connections=32))
    out = None
    if command == "get":
        r = s3.get_object(Bucket=args[0], Key=args[1])
        body = r["Body"].read()
        out = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "metadata": r["Metadata"],
               "content_type": r.get("ContentType")}
    elif command == "get-version":
        r = s3.get_object(Bucket=args[0], Key=args[1], VersionId=args[2])
        body = r["Body"].read()
        out = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "version": r.get("VersionId")}
    elif command == "versions":
        r = s3.list_object_versions(Bucket=args[0])
        out = [{"key": v["Key"], "version": v["VersionId"], "latest": v["IsLatest"], "marker": False} for v in r.get("Versions", [])]
        out += [{"key": v["Key"], "version": v["VersionId"], "latest": v["IsLatest"], "marker": True} for v in r.get("DeleteMarkers", [])]
    elif command == "put-versioned":
        out = s3.put_object(Bucket=args[0], Key=args[1], Body=sys.stdin.buffer.read()).get("VersionId")
    elif command == "tags":
        out = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=args[0], Key=args[1])["TagSet"]}
    elif command == "bucket-tags":
        try:
            out = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=args[0])["TagSet"]}
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("NoSuchTagSet", "NoSuchTagSetError"):
                raise
            out = {}
    elif command == "set-tags":
        tags = json.loads(args[2])
        s3.put_object_tagging(Bucket=args[0], Key=args[1], Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
        out = True
    elif command == "head":
        kwargs = {"Bucket": args[0], "Key": args[1]}
        if len(args) > 2:
            kwargs.update(SSECustomerAlgorithm="AES256", SSECustomerKey=bytes.fromhex(args[2]))
        h = s3.head_object(**kwargs)
        out = {"encryption": h.get("ServerSideEncryption"), "kms_key": h.get("SSEKMSKeyId"), "bucket_key": h.get("BucketKeyEnabled"),
               "sse_c": h.get("SSECustomerAlgorithm"), "storage_class": h.get("StorageClass"), "cache_control": h.get("CacheControl"),
               "content_disposition": h.get("ContentDisposition"), "content_type": h.get("ContentType"),
               "metadata": h.get("Metadata"), "size": h.get("ContentLength")}
    elif command == "get-ssec":
        r = s3.get_object(Bucket=args[0], Key=args[1], SSECustomerAlgorithm="AES256", SSECustomerKey=bytes.fromhex(args[2]))
        body = r["Body"].read()
        out = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "metadata": r["Metadata"],
               "content_type": r.get("ContentType")}
    elif command == "put-props":
        props = json.loads(args[2])
        kwargs = {"Bucket": args[0], "Key": args[1], "Body": sys.stdin.buffer.read()}
        if "sse" in props:
            kwargs["ServerSideEncryption"] = props["sse"]
        if "kms_key" in props:
            kwargs["SSEKMSKeyId"] = props["kms_key"]
        if "kms_context" in props:
            kwargs["SSEKMSEncryptionContext"] = base64.b64encode(json.dumps(props["kms_context"]).encode()).decode()
        if "bucket_key" in props:
            kwargs["BucketKeyEnabled"] = props["bucket_key"]
        if "ssec_hex" in props:
            kwargs.update(SSECustomerAlgorithm="AES256", SSECustomerKey=bytes.fromhex(props["ssec_hex"]))
        if "storage_class" in props:
            kwargs["StorageClass"] = props["storage_class"]
        if "tags" in props:
            kwargs["Tagging"] = urllib.parse.urlencode(props["tags"])
        if "cache_control" in props:
            kwargs["CacheControl"] = props["cache_control"]
        out = s3.put_object(**kwargs)["ETag"].strip('"')
    elif command == "put-cond":
        condition = {"none-match": "IfNoneMatch", "match": "IfMatch"}[args[2]]
        try:
            out = {"etag": s3.put_object(Bucket=args[0], Key=args[1], Body=sys.stdin.buffer.read(), **{condition: args[3]})["ETag"].strip('"')}
        except ClientError as e:
            out = {"error": e.response["Error"]["Code"]}
    elif command == "checksum":
        h = s3.head_object(Bucket=args[0], Key=args[1], ChecksumMode="ENABLED")
        out = {"crc32": h.get("ChecksumCRC32"), "crc32c": h.get("ChecksumCRC32C"), "crc64nvme": h.get("ChecksumCRC64NVME"),
               "type": h.get("ChecksumType")}
        g = s3.get_object(Bucket=args[0], Key=args[1], ChecksumMode="ENABLED")
        g["Body"].read()
        out["validated"] = True
    elif command == "put-checksum":
        s3.put_object(Bucket=args[0], Key=args[1], Body=sys.stdin.buffer.read(), ChecksumAlgorithm=args[2])
        out = True
    elif command == "upload-file":
        s3.upload_file(args[2], args[0], args[1])
        out = True
    elif command == "put":
        s3.put_object(Bucket=args[0], Key=args[1], Body=sys.stdin.buffer.read(), ContentType=args[2], Metadata=json.loads(args[3]))
        out = True
    elif command == "list":
        keys, prefixes = [], []
        kwargs = {"Bucket": args[0]}
        if args[1]:
            kwargs["Prefix"] = args[1]
        if args[2]:
            kwargs["Delimiter"] = args[2]
        for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
            keys += [o["Key"] for o in page.get("Contents", [])]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        out = {"keys": keys, "prefixes": prefixes}
    elif command == "lifecycle":
        try:
            out = s3.get_bucket_lifecycle_configuration(Bucket=args[0])["Rules"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
                raise
            out = []
    elif command == "put-lifecycle":
        s3.put_bucket_lifecycle_configuration(Bucket=args[0], LifecycleConfiguration={"Rules": json.loads(args[1])})
        out = True
    elif command == "policy":
        try:
            out = s3.get_bucket_policy(Bucket=args[0])["Policy"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            out = None
    elif command == "cors":
        try:
            out = s3.get_bucket_cors(Bucket=args[0])["CORSRules"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchCORSConfiguration":
                raise
            out = []
    elif command == "ownership":
        try:
            out = s3.get_bucket_ownership_controls(Bucket=args[0])["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "OwnershipControlsNotFoundError":
                raise
            out = None
    elif command == "set-policy":
        s3.put_bucket_policy(Bucket=args[0], Policy=args[1])
        out = True
    elif command == "lock":
        try:
            out = s3.get_object_lock_configuration(Bucket=args[0])["ObjectLockConfiguration"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ObjectLockConfigurationNotFoundError":
                raise
            out = None
    elif command in ("retention", "legal-hold"):
        # From HEAD: moto answers GetObjectRetention with the object's bytes (it does not see
        # the bare ?retention), so HEAD is what both servers report alike.
        head = s3.head_object(Bucket=args[0], Key=args[1], VersionId=args[2])
        if command == "retention":
            mode = head.get("ObjectLockMode")
            out = {"mode": mode, "until": head["ObjectLockRetainUntilDate"].timestamp()} if mode else None
        else:
            out = head.get("ObjectLockLegalHoldStatus")
    elif command == "block-public":
        s3.put_public_access_block(Bucket=args[0], PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        out = True
    elif command == "public-block":
        try:
            out = s3.get_public_access_block(Bucket=args[0])["PublicAccessBlockConfiguration"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchPublicAccessBlockConfiguration":
                raise
            out = None
    elif command == "versioning":
        s3.put_bucket_versioning(Bucket=args[0], VersioningConfiguration={"Status": "Enabled"})
        out = True
    elif command == "start-upload":
        out = s3.create_multipart_upload(Bucket=args[0], Key=args[1])["UploadId"]
    elif command == "uploads":
        out = [u["Key"] for u in s3.list_multipart_uploads(Bucket=args[0]).get("Uploads", [])]
    elif command == "location":
        out = s3.get_bucket_location(Bucket=args[0]).get("LocationConstraint")
    elif command == "bucket-exists":
        try:
            s3.head_bucket(Bucket=args[0])
            out = True
        except ClientError:
            out = False
    elif command == "put-many":
        bucket, prefix, count = args[0], args[1], int(args[2])
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key="%s%05d" % (prefix, i), Body=b"x",
                                                  ContentType="text/plain"), range(count)))
        out = count
    else:
        raise SystemExit("unknown command " + command)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
