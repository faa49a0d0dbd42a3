"""The Python peers of the comparison, one workload per process, as their users would write it.

    python peers.py CLIENT WORKLOAD ENDPOINT ARGS...

CLIENT: boto3 | crt | obstore. WORKLOAD and ARGS as for s3-bench-client:
    download-file BUCKET KEY PATH PART_MIB CONCURRENCY
    download-memory BUCKET KEY PART_MIB CONCURRENCY
    upload BUCKET KEY PATH PART_MIB CONCURRENCY
    put-many BUCKET PREFIX COUNT SIZE CONCURRENCY
    get-many BUCKET PREFIX COUNT CONCURRENCY
    list BUCKET PREFIX
    latency BUCKET PREFIX COUNT SIZE CONCURRENCY  (boto3, crt)
Prints "<objects> <bytes>" moved, which the harness checks; latency prints the p50 and p99 of
its PUTs and GETs in microseconds first: "PUT_P50 PUT_P99 GET_P50 GET_P99 OBJECTS BYTES".
"""
import time
import os
import sys
import threading
from urllib.parse import urlparse

ACCESS, SECRET, REGION = "bench", "bench-secret", "us-east-1"
# Over https the harness names the CA to trust here (every client is told it; none skips verification).
CA_BUNDLE = os.environ.get("AWS_CA_BUNDLE") or None


def key(prefix, i):
    return f"{prefix}{i:06d}"


def percentiles(xs):
    xs = sorted(xs)
    return int(xs[int(len(xs) * 0.5)]), int(xs[min(len(xs) - 1, int(len(xs) * 0.99))])


def latency_args(args):
    bucket, prefix, count, size, conc = args
    return bucket, prefix, int(count), b"a" * int(size), int(conc)


def many_args(workload, args):
    """(bucket, prefix, count, body or None, concurrency) of put-many / get-many."""
    if workload == "put-many":
        bucket, prefix, count, size, conc = args
        return bucket, prefix, int(count), b"a" * int(size), int(conc)
    bucket, prefix, count, conc = args
    return bucket, prefix, int(count), None, int(conc)


# ----------------------------------------------------------------------------- boto3

def boto3_main(endpoint, workload, args):
    import boto3
    import botocore.config
    from boto3.s3.transfer import TransferConfig

    width = 64 if workload in ("put-many", "get-many", "latency") else 10
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
        verify=CA_BUNDLE if endpoint.startswith("https:") else None,
        config=botocore.config.Config(
            s3={"addressing_style": "path"}, max_pool_connections=max(width, 10),
            # The default (CRC32 on every upload, aws-chunked) costs CPU: measured without it.
            request_checksum_calculation="when_required", response_checksum_validation="when_required"))

    def transfer_config(part, conc):
        if part == "default":
            return TransferConfig()  # 8 MiB threshold and parts, 10 threads
        return TransferConfig(multipart_threshold=int(part) << 20, multipart_chunksize=int(part) << 20,
                              max_concurrency=int(conc), use_threads=True)

    if workload == "download-file":
        bucket, k, path, part, conc = args
        client.download_file(bucket, k, path, Config=transfer_config(part, conc))
        return 1, os.path.getsize(path)
    if workload == "download-memory":
        bucket, k, part, conc = args

        class Discard:
            """A seekable sink that keeps nothing (s3transfer then writes parts as they come)."""

            def __init__(self):
                self.n, self.pos, self.lock = 0, 0, threading.Lock()

            def seekable(self):
                return True

            def seek(self, pos, whence=0):
                self.pos = pos

            def tell(self):
                return self.pos

            def write(self, b):
                with self.lock:
                    self.n += len(b)
                return len(b)

        sink = Discard()
        client.download_fileobj(bucket, k, sink, Config=transfer_config(part, conc))
        return 1, sink.n
    if workload == "upload":
        bucket, k, path, part, conc = args
        client.upload_file(path, bucket, k, Config=transfer_config(part, conc))
        return 1, os.path.getsize(path)
    if workload in ("put-many", "get-many"):
        from concurrent.futures import ThreadPoolExecutor
        bucket, prefix, count, body, conc = many_args(workload, args)
        if workload == "put-many":
            def one(i):
                client.put_object(Bucket=bucket, Key=key(prefix, i), Body=body)
                return len(body)
        else:
            def one(i):
                return len(client.get_object(Bucket=bucket, Key=key(prefix, i))["Body"].read())
        with ThreadPoolExecutor(conc) as pool:
            total = sum(pool.map(one, range(count)))
        return count, total
    if workload == "latency":
        from concurrent.futures import ThreadPoolExecutor
        bucket, prefix, count, body, conc = latency_args(args)
        puts, gets = [], []

        def put(i):
            t0 = time.perf_counter()
            client.put_object(Bucket=bucket, Key=key(prefix, i), Body=body)
            puts.append((time.perf_counter() - t0) * 1e6)

        def get(i):
            t0 = time.perf_counter()
            n = len(client.get_object(Bucket=bucket, Key=key(prefix, i))["Body"].read())
            gets.append((time.perf_counter() - t0) * 1e6)
            return n
        with ThreadPoolExecutor(conc) as pool:
            list(pool.map(put, range(count)))
            total = sum(pool.map(get, range(count)))
        print(*percentiles(puts), *percentiles(gets), end=" ")
        return count, total
    if workload == "list":
        bucket, prefix = args
        n = size = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                n += 1
                size += obj["Size"]
        return n, size
    raise SystemExit(f"unknown workload {workload}")


# ----------------------------------------------------------------------------- AWS CRT

def crt_main(endpoint, workload, args):
    import io
    from awscrt.auth import AwsCredentialsProvider
    from awscrt.http import HttpHeaders, HttpRequest
    from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
    from awscrt.s3 import S3Client, S3RequestTlsMode, S3RequestType
    from urllib.parse import quote

    host = urlparse(endpoint).netloc
    part_arg = {"download-file": 3, "upload": 3, "download-memory": 2}.get(workload)
    part_mib = args[part_arg] if part_arg is not None else "default"
    conc = args[part_arg + 1] if part_arg is not None else "default"
    elg = EventLoopGroup()
    bootstrap = ClientBootstrap(elg, DefaultHostResolver(elg))
    # Its defaults: 8 MiB parts, a 10 Gb/s throughput target (from which it sizes its connections).
    # Matched: 8 MiB parts and at most 8 connections (max_active_connections_override).
    sizing = {} if part_mib == "default" else {"part_size": int(part_mib) << 20, "max_active_connections_override": int(conc)}
    if endpoint.startswith("https:"):
        from awscrt.io import ClientTlsContext, TlsContextOptions
        tls_options = TlsContextOptions()
        tls_options.override_default_trust_store_from_path(ca_filepath=CA_BUNDLE)
        tls = {"tls_mode": S3RequestTlsMode.ENABLED, "tls_connection_options": ClientTlsContext(tls_options).new_connection_options()}
    else:
        tls = {"tls_mode": S3RequestTlsMode.DISABLED}
    client = S3Client(bootstrap=bootstrap, region=REGION, credential_provider=AwsCredentialsProvider.new_static(ACCESS, SECRET),
                      **tls, **sizing)

    def request(method, path, body_length=None, body=None):
        headers = HttpHeaders([("Host", host)])
        if body_length is not None:
            headers.add("Content-Length", str(body_length))
            headers.add("Content-Type", "application/octet-stream")
        return HttpRequest(method, path, headers, io.BytesIO(body) if body is not None else None)

    def obj_path(bucket, k):
        return f"/{bucket}/{quote(k)}"

    if workload == "download-file":
        bucket, k, path, _, _ = args
        client.make_request(type=S3RequestType.GET_OBJECT, request=request("GET", obj_path(bucket, k)),
                            recv_filepath=path).finished_future.result()
        return 1, os.path.getsize(path)
    if workload == "download-memory":
        bucket, k, _, _ = args
        got = [0]

        def on_body(chunk, offset, **kw):
            got[0] += len(chunk)
        client.make_request(type=S3RequestType.GET_OBJECT, request=request("GET", obj_path(bucket, k)),
                            on_body=on_body).finished_future.result()
        return 1, got[0]
    if workload == "upload":
        bucket, k, path, _, _ = args
        size = os.path.getsize(path)
        client.make_request(type=S3RequestType.PUT_OBJECT, request=request("PUT", obj_path(bucket, k), size),
                            send_filepath=path).finished_future.result()
        return 1, size
    if workload in ("put-many", "get-many"):
        bucket, prefix, count, body, conc = many_args(workload, args)
        gate, lock, total, futures = threading.Semaphore(conc), threading.Lock(), [0], []

        def on_body(chunk, offset, **kw):
            with lock:
                total[0] += len(chunk)

        def on_done(**kw):
            gate.release()
        for i in range(count):
            gate.acquire()
            if workload == "put-many":
                futures.append(client.make_request(type=S3RequestType.PUT_OBJECT,
                                                   request=request("PUT", obj_path(bucket, key(prefix, i)), len(body), body),
                                                   on_done=on_done))
            else:
                futures.append(client.make_request(type=S3RequestType.GET_OBJECT,
                                                   request=request("GET", obj_path(bucket, key(prefix, i))),
                                                   on_body=on_body, on_done=on_done))
        for f in futures:
            f.finished_future.result()
        return count, (count * len(body) if workload == "put-many" else total[0])
    if workload == "latency":
        bucket, prefix, count, body, conc = latency_args(args)
        gate, lock = threading.Semaphore(conc), threading.Lock()
        times = {"put": [], "get": []}
        got = [0]

        def run(kind):
            futures = []
            for i in range(count):
                gate.acquire()
                t0 = time.perf_counter()

                def on_done(t0=t0, **kw):
                    with lock:
                        times[kind].append((time.perf_counter() - t0) * 1e6)
                    gate.release()

                def on_body(chunk, offset, **kw):
                    with lock:
                        got[0] += len(chunk)
                if kind == "put":
                    futures.append(client.make_request(type=S3RequestType.PUT_OBJECT,
                                                       request=request("PUT", obj_path(bucket, key(prefix, i)), len(body), body),
                                                       on_done=on_done))
                else:
                    futures.append(client.make_request(type=S3RequestType.GET_OBJECT, request=request("GET", obj_path(bucket, key(prefix, i))),
                                                       on_body=on_body, on_done=on_done))
            for f in futures:
                f.finished_future.result()
        run("put")
        run("get")
        print(*percentiles(times["put"]), *percentiles(times["get"]), end=" ")
        return count, got[0]
    if workload == "list":
        import xml.etree.ElementTree as ET
        bucket, prefix = args
        ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        n = size = 0
        token = None
        while True:
            query = f"list-type=2&prefix={quote(prefix, safe='')}"
            if token:
                query += f"&continuation-token={quote(token, safe='')}"
            chunks = []
            client.make_request(type=S3RequestType.DEFAULT, operation_name="ListObjectsV2",
                                request=request("GET", f"/{bucket}?{query}"),
                                on_body=lambda chunk, offset, **kw: chunks.append(bytes(chunk))).finished_future.result()
            root = ET.fromstring(b"".join(chunks))
            for c in root.iter(ns + "Contents"):
                n += 1
                size += int(c.find(ns + "Size").text)
            token = root.findtext(ns + "NextContinuationToken")
            if root.findtext(ns + "IsTruncated") != "true" or not token:
                return n, size
    raise SystemExit(f"unknown workload {workload}")


# ----------------------------------------------------------------------------- obstore

def obstore_main(endpoint, workload, args):
    import obstore as obs
    from obstore.store import S3Store

    # Over https: plain HTTP refused (aws_allow_http off) and the test CA trusted as a root.
    if endpoint.startswith("https:"):
        client_options = {"allow_http": False, "root_certificate": open(CA_BUNDLE).read()}
    else:
        client_options = {"allow_http": True}

    def store(bucket):
        # unsigned_payload: no SHA-256 of each body (its fastest setting).
        return S3Store(bucket, endpoint=endpoint, region=REGION, access_key_id=ACCESS, secret_access_key=SECRET,
                       virtual_hosted_style_request=False, unsigned_payload=True, client_options=client_options)

    # A download is one streamed GET (obstore has no parallel ranged download); the stream's
    # chunk size is its only knob: 8 MiB, as it always ran here.
    if workload == "download-file":
        bucket, k, path, _, _ = args
        with open(path, "wb") as f:
            for chunk in obs.get(store(bucket), k).stream(min_chunk_size=8 << 20):
                f.write(chunk)
        return 1, os.path.getsize(path)
    if workload == "download-memory":
        bucket, k, _, _ = args
        n = 0
        for chunk in obs.get(store(bucket), k).stream(min_chunk_size=8 << 20):
            n += len(chunk)
        return 1, n
    if workload == "upload":
        from pathlib import Path
        bucket, k, path, part, conc = args
        if part == "default":
            obs.put(store(bucket), k, Path(path))  # 5 MiB parts, 12 at a time
        else:
            obs.put(store(bucket), k, Path(path), chunk_size=int(part) << 20, max_concurrency=int(conc))
        return 1, os.path.getsize(path)
    if workload in ("put-many", "get-many"):
        import asyncio
        bucket, prefix, count, body, conc = many_args(workload, args)
        s = store(bucket)

        async def run():
            gate = asyncio.Semaphore(conc)

            async def one(i):
                async with gate:
                    if workload == "put-many":
                        await obs.put_async(s, key(prefix, i), body)
                        return len(body)
                    result = await obs.get_async(s, key(prefix, i))
                    return len(await result.bytes_async())
            return sum(await asyncio.gather(*(one(i) for i in range(count))))
        return count, asyncio.run(run())
    if workload == "list":
        bucket, prefix = args
        n = size = 0
        for batch in obs.list(store(bucket), prefix=prefix, chunk_size=1000):
            n += len(batch)
            size += sum(o["size"] for o in batch)
        return n, size
    raise SystemExit(f"unknown workload {workload}")


if __name__ == "__main__":
    client, workload, endpoint, *rest = sys.argv[1:]
    main = {"boto3": boto3_main, "crt": crt_main, "obstore": obstore_main}[client]
    objects, moved = main(endpoint, workload, rest)
    print(objects, moved)
