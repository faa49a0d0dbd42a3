"""Runs every workload for every client, interleaved round by round, and writes the report.

Started by scripts/bench, which installs the peers, builds our client and starts the
servers. Each run is one process; wall time is measured here, CPU (user + sys) and peak RSS
come from the kernel's accounting of that child (os.wait4), so a client's start-up is in its
figures as its users would see it.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

GIB = 1 << 30
HERE = os.path.dirname(os.path.abspath(__file__))

# Every peer runs twice: at its own defaults ("s5cmd"), and at settings matched to ours
# ("s5cmd@matched": 8 MiB parts x 8 in flight for the 1 GiB rows, 64 requests in flight for the
# small objects and listings). The better of the two is the figure ours is compared with.
MATCHED_PART, MATCHED_CONC = 8, 8
SMALL_COUNT, SMALL_SIZE, SMALL_WIDTH, LIST_COUNT = 2000, 4096, 64, 10_000
# Latency of single small requests: (requests in flight, PUTs and then GETs of 1 KiB each).
LATENCY_SIZE, LATENCY_RUNS, LATENCY_CLIENTS = 1024, [(1, 1000), (64, 5000)], ["ours", "boto3", "crt"]
CLIENT_NAMES = {
    "ours": "ours (swift-s3)", "ours-sha256": "ours, SHA-256 signed payload", "s5cmd": "s5cmd", "crt": "AWS CRT (awscrt)",
    "obstore": "obstore", "boto3": "boto3/s3transfer", "aws": "aws-cli (aws s3)", "rclone": "rclone", "curl": "curl",
}
# What each peer does at its own defaults (documented by each project; checked by its --help).
DEFAULTS = {
    "s5cmd": "cp: 50 MiB parts x 5; 256 workers",
    "crt": "8 MiB parts, connections sized from a 10 Gb/s throughput target (matched: max_active_connections_override 8)",
    "obstore": "download: one streamed GET; upload: 5 MiB parts x 12",
    "boto3": "8 MiB parts x 10 threads",
    "aws": "8 MiB parts x 10 requests",
    "rclone": "download: 4 streams above 250 MiB (cat: one stream); upload: 5 MiB parts x 4; 4 transfers",
}
# Variants that differ from the defaults (a peer with no knob for a workload runs once).
NO_MATCHED = {
    ("obstore", "download-file"), ("obstore", "download-memory"), ("rclone", "download-memory"), ("obstore", "list"),
    ("boto3", "list"), ("crt", "list"), ("aws", "list"), ("s5cmd", "list"), ("rclone", "list"),
    ("obstore", "put-many"), ("obstore", "get-many"), ("boto3", "put-many"), ("boto3", "get-many"), ("crt", "put-many"), ("crt", "get-many"),
}


def split_client(client):
    """("s5cmd", True) for "s5cmd@matched"."""
    base, _, variant = client.partition("@")
    return base, variant == "matched"


def client_label(client):
    base, matched = split_client(client)
    if base.startswith("ours") or base == "curl":
        return CLIENT_NAMES[base]
    return CLIENT_NAMES[base] + (" (matched)" if matched else " (defaults)")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--ours", required=True, help="path of s3-bench-client")
    p.add_argument("--python", required=True, help="the venv's python (peers)")
    p.add_argument("--s5cmd", required=True)
    p.add_argument("--aws", required=True, help="the aws-cli's aws")
    p.add_argument("--rclone", required=True)
    p.add_argument("--server", required=True, help="bench-s3-server URL")
    p.add_argument("--nginx", required=True, help="nginx URL serving BUCKET/KEY and accepting PUT under /upload/")
    p.add_argument("--server-tls", default="", help="https URL of nginx (TLS 1.3) as a reverse proxy in front of bench-s3-server")
    p.add_argument("--nginx-tls", default="", help="https URL of nginx (TLS 1.3) serving what --nginx serves")
    p.add_argument("--ca", default="", help="the PEM of the CA that signed the TLS servers' certificate (every client is told to trust it)")
    p.add_argument("--tls-log", default="", help="nginx's access log of the TLS servers: 'port reused connection requests' a line")
    p.add_argument("--server-pids", default="", help="comma-separated PIDs of the servers (bench-s3-server, nginx's master):"
                   " the CPU they and their children spend during each run is reported beside the client's")
    p.add_argument("--cipher-speed", default="", help="markdown of `openssl speed` on this CPU (the TLS rows' physical limit)")
    p.add_argument("--file", required=True, help="the 1 GiB file to upload (also served by nginx as bench/big)")
    p.add_argument("--small-dir", required=True, help="SMALL_COUNT files of SMALL_SIZE bytes, for s5cmd")
    p.add_argument("--work", required=True, help="scratch directory for downloads")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated workload names")
    p.add_argument("--servers", default="", help="comma-separated server names (server, nginx, server-tls, nginx-tls); all by default")
    p.add_argument("--out", required=True)
    p.add_argument("--chart", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--micro", default="", help="package-benchmark markdown to include")
    p.add_argument("--transport", default="", help="transport-vs-curl markdown to include")
    p.add_argument("--note", default="", help="a paragraph to add under the heading (e.g. how runs were merged)")
    p.add_argument("--from-json", default="", help="only write the report and chart from earlier runs' --json files "
                   "(comma-separated; a later file's workloads replace an earlier one's)")
    return p.parse_args()


class Runner:
    def __init__(self, a):
        self.a = a
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret",
                        AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
        for k in ("AWS_CA_BUNDLE", "AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            self.env.pop(k, None)
        self.env["NO_PROXY"] = "127.0.0.1,localhost"
        self.env["PYTHONFAULTHANDLER"] = "1"  # a Python peer that aborts says where

    def measure(self, cmd, stdout=subprocess.PIPE, env=None):
        """Runs `cmd`, returning wall, CPU (user + sys), peak RSS (MiB) and its stdout."""
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=dict(self.env, **(env or {})))
        out_chunks = []
        if stdout is subprocess.PIPE:
            out_chunks.append(proc.stdout.read())
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err.decode(errors='replace')[-1500:]}")
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
                "out": b"".join(out_chunks).decode(errors="replace").strip()}

    # --- client command lines ---------------------------------------------------------------

    def command(self, client, workload, endpoint, **kw):
        """(argv, stdout, extra environment) of one run."""
        a = self.a
        base, matched = split_client(client)
        fixed = base.startswith("ours") or matched
        part, conc = (str(MATCHED_PART), str(MATCHED_CONC)) if fixed else ("default", "default")
        width = SMALL_WIDTH if (fixed or base in ("boto3", "crt", "obstore")) else None
        bucket, key = "bench", kw.get("key", "big")
        tls = endpoint.startswith("https:")
        # Over https every client trusts the test CA, none skips verification: AWS_CA_BUNDLE for
        # ours, s5cmd (aws-sdk-go), the aws-cli and the Python peers (peers.py hands it to boto3,
        # the CRT's TLS context and obstore's root_certificate); --ca-cert for rclone (which must
        # not see AWS_CA_BUNDLE) and --cacert for curl.
        ca_env = {"AWS_CA_BUNDLE": a.ca} if tls else {}
        if base.startswith("ours") or base in ("boto3", "crt", "obstore"):
            if base.startswith("ours"):
                head = [a.ours, endpoint, workload]
            else:
                head = [a.python, os.path.join(HERE, "peers.py"), base, workload, endpoint]
            args = {
                "download-file": [bucket, key, kw.get("path", ""), part, conc],
                "download-memory": [bucket, key, part, conc],
                "upload": [bucket, kw.get("key", ""), a.file, part, conc],
                "put-many": [bucket, kw.get("prefix", ""), str(SMALL_COUNT), str(SMALL_SIZE), str(SMALL_WIDTH)],
                "get-many": [bucket, kw.get("prefix", ""), str(SMALL_COUNT), str(SMALL_WIDTH)],
                "list": [bucket, kw.get("prefix", "")],
            }[workload]
            return head + args, subprocess.PIPE, dict(OURS_ENV.get(client) or {}, **ca_env)
        if base == "s5cmd":
            s5 = [a.s5cmd, "--endpoint-url", endpoint]
            many = s5 if width is None else [a.s5cmd, "--numworkers", str(width), "--endpoint-url", endpoint]
            env = ca_env or None
            tuned = ["-c", conc, "-p", part] if matched else []
            if workload == "download-file":
                return s5 + ["cp"] + tuned + [f"s3://{bucket}/{key}", kw["path"]], subprocess.DEVNULL, env
            if workload == "download-memory":
                return s5 + ["cat"] + tuned + [f"s3://{bucket}/{key}"], subprocess.DEVNULL, env
            if workload == "upload":
                return s5 + ["cp"] + tuned + [a.file, f"s3://{bucket}/{kw['key']}"], subprocess.DEVNULL, env
            if workload == "put-many":
                return many + ["cp", os.path.join(a.small_dir, "*"), f"s3://{bucket}/{kw['prefix']}"], subprocess.DEVNULL, env
            if workload == "get-many":
                return many + ["cp", f"s3://{bucket}/{kw['prefix']}*", kw["path"] + "/"], subprocess.DEVNULL, env
            if workload == "list":
                return s5 + ["ls", f"s3://{bucket}/{kw['prefix']}*"], subprocess.DEVNULL, env
        if base == "aws":
            # Its settings live in a config file: one per variant, written by Runner.aws_config.
            aws = [a.aws, "--endpoint-url", endpoint, "s3"]
            env = {"AWS_CONFIG_FILE": self.aws_config(matched, workload), **ca_env}
            if workload == "download-file":
                return aws + ["cp", "--quiet", f"s3://{bucket}/{key}", kw["path"]], subprocess.DEVNULL, env
            if workload == "download-memory":
                return aws + ["cp", "--quiet", f"s3://{bucket}/{key}", "-"], subprocess.DEVNULL, env
            if workload == "upload":
                return aws + ["cp", "--quiet", a.file, f"s3://{bucket}/{kw['key']}"], subprocess.DEVNULL, env
            if workload == "put-many":
                return aws + ["cp", "--quiet", "--recursive", a.small_dir, f"s3://{bucket}/{kw['prefix']}"], subprocess.DEVNULL, env
            if workload == "get-many":
                return aws + ["cp", "--quiet", "--recursive", f"s3://{bucket}/{kw['prefix']}", kw["path"]], subprocess.DEVNULL, env
            if workload == "list":
                return aws + ["ls", "--recursive", f"s3://{bucket}/{kw['prefix']}"], subprocess.DEVNULL, env
        if base == "rclone":
            rc = [a.rclone, "--config", "/dev/null", "-q"] + (["--ca-cert", a.ca] if tls else [])
            env = {"RCLONE_S3_PROVIDER": "Other", "RCLONE_S3_ENDPOINT": endpoint, "RCLONE_S3_ACCESS_KEY_ID": "bench",
                   "RCLONE_S3_SECRET_ACCESS_KEY": "bench-secret", "RCLONE_S3_REGION": "us-east-1", "RCLONE_S3_FORCE_PATH_STYLE": "true"}
            if workload == "download-file":
                tuned = ["--multi-thread-streams", conc] if matched else []
                return rc + tuned + ["copyto", f":s3:{bucket}/{key}", kw["path"]], subprocess.DEVNULL, env
            if workload == "download-memory":
                return rc + ["cat", f":s3:{bucket}/{key}"], subprocess.DEVNULL, env
            if workload == "upload":
                tuned = ["--s3-chunk-size", f"{part}M", "--s3-upload-concurrency", conc, "--s3-upload-cutoff", f"{part}M"] if matched else []
                return rc + tuned + ["copyto", a.file, f":s3:{bucket}/{kw['key']}"], subprocess.DEVNULL, env
            many = ["--transfers", str(width), "--checkers", str(width)] if width else []
            if workload == "put-many":
                return rc + many + ["copy", a.small_dir, f":s3:{bucket}/{kw['prefix']}"], subprocess.DEVNULL, env
            if workload == "get-many":
                return rc + many + ["copy", f":s3:{bucket}/{kw['prefix']}", kw["path"]], subprocess.DEVNULL, env
            if workload == "list":
                return rc + ["ls", f":s3:{bucket}/{kw['prefix']}"], subprocess.DEVNULL, env
        if base == "curl":
            curl = ["curl", "-sf"] + (["--cacert", a.ca] if tls else [])
            if workload == "download-file":
                return curl + ["-o", kw["path"], f"{endpoint}/{bucket}/{key}"], subprocess.DEVNULL, None
            if workload == "download-memory":
                return curl + ["-o", "/dev/null", f"{endpoint}/{bucket}/{key}"], subprocess.DEVNULL, None
            if workload == "upload":
                return curl + ["-o", "/dev/null", "-H", "Content-Type: application/octet-stream", "-T", a.file, kw["url"]], subprocess.DEVNULL, None
        raise ValueError((client, workload))

    def aws_config(self, matched, workload):
        """The aws-cli's config file: path-style addressing (a loopback endpoint has no bucket
        host names), and for the matched variant its transfer settings."""
        many = workload in ("put-many", "get-many")
        name = os.path.join(self.a.work, f"aws-config-{'matched' if matched else 'defaults'}{'-many' if many else ''}")
        lines = ["[default]", "region = us-east-1", "s3 =", "  addressing_style = path"]
        if matched:
            lines += [f"  max_concurrent_requests = {SMALL_WIDTH if many else MATCHED_CONC}",
                      f"  multipart_chunksize = {MATCHED_PART}MB", f"  multipart_threshold = {MATCHED_PART}MB"]
        with open(name, "w") as f:
            f.write("\n".join(lines) + "\n")
        return name


# The harness's own checks (HEAD, DELETE) over https trust the test CA (set by main).
SSL_CONTEXT = None


def head_size(url):
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30, context=SSL_CONTEXT) as r:
        return int(r.headers["Content-Length"])


def delete(url):
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30, context=SSL_CONTEXT).read()
    except Exception:
        pass


def drop_file(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    os.sync()  # the next client does not pay for this one's writeback


BASES = ["ours", "s5cmd", "crt", "obstore", "boto3", "aws", "rclone"]
# Ours runs with S3PayloadProtection.crc32c (its fastest safe setting, like the CRT's unsigned
# payloads and obstore's unsigned_payload); where bodies are hashed, the default is shown too.
OURS_ENV = {"ours": {"BENCH_PAYLOAD": "crc32c"}}


def clients_for(workload, extra=()):
    """Every client variant of a workload: each peer at its defaults and, where it has the knob, matched."""
    out = []
    for base in BASES:
        out.append(base)
        if base != "ours" and (base, workload) not in NO_MATCHED:
            out.append(base + "@matched")
    return out + list(extra)


# The state of the host's free memory, set before every run of a 1 GiB workload. This machine
# kind is a Firecracker guest with free-page reporting (module page_reporting): about 2 s after
# pages are freed, the guest starts handing them back to the host, and the next first touch of
# such a page costs a fault on the host. Measured here (scratch C programs, 1 GiB): a buffered
# write into the page cache took 0.16 s on pages the guest had just freed and 1.1-1.3 s on pages
# handed back; a first memset of fresh anonymous memory 0.55-0.69 s. Which state a run met
# depended on what ran before it and how long ago, so figures swung by 3x between rounds.
#  - "warm" (every 1 GiB workload): a scratch file of WARM_BYTES is written and deleted just
#    before the run, so the run's fresh pages are ones the host still backs, as on a host
#    without free-page reporting (bare metal, most VMs).
#  - "cold" (download-file-cold only): the run starts COLD_WAIT s after the previous file was
#    deleted, when the reporter has handed the freed pages back: every page of the new file
#    costs the host's fault.
WARM_BYTES, COLD_WAIT = 1280 << 20, 12
# Workloads measured under the cold condition run the commands of this workload.
COLD_OF = {"download-file-cold": "download-file"}
COLD_CLIENTS = ["ours", "s5cmd", "s5cmd@matched", "crt", "crt@matched"]

# (name, title, unit, server(s), clients incl. ceilings); the TLS servers run when scripts/bench started them.
BIG, SMALL = ["server", "nginx", "server-tls", "nginx-tls"], ["server", "server-tls"]
WORKLOADS = [
    ("download-file", "download 1 GiB to a file", "MB/s", BIG, clients_for("download-file", ["curl"])),
    ("download-file-cold", "download 1 GiB to a file, host memory cold", "MB/s", BIG, COLD_CLIENTS),
    ("download-memory", "download 1 GiB to memory, discarded", "MB/s", BIG, clients_for("download-memory", ["curl"])),
    ("upload", "upload a 1 GiB file (multipart)", "MB/s", BIG, clients_for("upload", ["ours-sha256", "curl"])),
    ("put-many", f"PUT {SMALL_COUNT:,} objects of 4 KiB, {SMALL_WIDTH} at a time", "objects/s", SMALL, clients_for("put-many", ["ours-sha256"])),
    ("get-many", f"GET {SMALL_COUNT:,} objects of 4 KiB, {SMALL_WIDTH} at a time", "objects/s", SMALL, clients_for("get-many")),
    ("list", f"list {LIST_COUNT:,} keys (all pages)", "keys/s", SMALL, clients_for("list")),
]
# How each server is named in the report.
SERVER_TITLES = {"server": "bench-s3-server", "nginx": "nginx", "server-tls": "bench-s3-server behind nginx, TLS 1.3",
                 "nginx-tls": "nginx, TLS 1.3"}
# Labels under the chart's bars.
SHORT = {
    "download-file": "1 GiB to file", "download-file-cold": "1 GiB to file,\ncold memory", "download-memory": "1 GiB to memory", "upload": "upload 1 GiB",
    "put-many": f"PUT {SMALL_COUNT:,} x 4 KiB", "get-many": f"GET {SMALL_COUNT:,} x 4 KiB", "list": f"list {LIST_COUNT:,} keys",
}


RETRIED = []


def warm_memory(a):
    """Writes and deletes WARM_BYTES of scratch file: the pages it freed are host-backed for the next run."""
    path = os.path.join(a.work, "warm.scratch")
    block = b"\x5a" * (1 << 20)
    with open(path, "wb") as f:
        for _ in range(WARM_BYTES >> 20):
            f.write(block)
    os.remove(path)  # dirty pages of a deleted file are dropped, not written back
    os.sync()


def one_run(r, a, workload, server_name, endpoint, client):
    """Runs one (workload, server, client) and returns its measurement with the amount moved."""
    condition = "cold" if workload in COLD_OF else "warm" if workload in ("download-file", "download-memory", "upload") else None
    workload = COLD_OF.get(workload, workload)
    if server_name.startswith("nginx") and split_client(client)[0] == "rclone":
        return None  # it lists the bucket before a GET, which a static file server cannot answer
    kw = {}
    expect_objects, expect_bytes = 1, GIB
    cleanup = None
    if workload == "download-file":
        kw["path"] = os.path.join(a.work, f"dl-{client.replace('@', '-')}.bin")
        cleanup = lambda: drop_file(kw["path"])
    elif workload == "upload":
        if server_name.startswith("nginx"):
            if client != "curl":
                return None
            kw["url"] = f"{endpoint}/upload/up-curl"
        else:
            kw["key"] = f"up-{client.replace('@', '-')}"
            kw["url"] = f"{endpoint}/bench/{kw['key']}"
        cleanup = lambda: delete(kw["url"])
    elif workload in ("put-many", "get-many"):
        kw["prefix"] = f"small-{client.replace('@', '-')}/"
        expect_objects, expect_bytes = SMALL_COUNT, SMALL_COUNT * SMALL_SIZE
        if workload == "get-many" and split_client(client)[0] in ("s5cmd", "aws", "rclone"):
            kw["path"] = os.path.join(a.work, f"get-{client.replace('@', '-')}")
            os.makedirs(kw["path"], exist_ok=True)
            cleanup = lambda: drop_file(kw["path"])
    elif workload == "list":
        kw["prefix"] = "list/"
        expect_objects, expect_bytes = LIST_COUNT, LIST_COUNT * 16
    cmd, stdout, env = r.command(client, workload, endpoint, **kw)
    # Every run starts with no dirty pages of an earlier one waiting to be written back (the
    # first client of a round otherwise paid for the previous workload's files).
    os.sync()
    if condition == "warm":
        warm_memory(a)
    elif condition == "cold":
        time.sleep(COLD_WAIT)
    log_start = tls_log_size(a)
    server_start = server_cpu(a)
    m = r.measure(cmd, stdout, env)
    if endpoint.startswith("https:"):
        m["tls"] = tls_connections(a, log_start, endpoint)
    if server_start is not None:
        m["server_cpu"] = server_cpu(a) - server_start
    # Check that the work was done.
    if stdout is subprocess.PIPE:
        objects, moved = (int(x) for x in m["out"].split()[-2:])
        if (objects, moved) != (expect_objects, expect_bytes):
            raise RuntimeError(f"{client} {workload}: moved {objects} objects / {moved} bytes, expected {expect_objects} / {expect_bytes}")
    elif workload == "download-file":
        if os.path.getsize(kw["path"]) != GIB:
            raise RuntimeError(f"{client} {workload}: file has {os.path.getsize(kw['path'])} bytes")
    elif workload == "upload":
        size = head_size(kw["url"])
        if size != GIB:
            raise RuntimeError(f"{client} upload stored {size} bytes")
    elif workload == "get-many":
        n = len(os.listdir(kw["path"]))
        if n != SMALL_COUNT:
            raise RuntimeError(f"{client} get-many wrote {n} files")
    if cleanup:
        cleanup()
    m["amount"] = expect_objects if workload in ("put-many", "get-many", "list") else expect_bytes
    return m


def server_cpu(a):
    """CPU-seconds (user + sys) the servers have used so far: the processes of --server-pids and
    their children (nginx's workers), from /proc. None without --server-pids."""
    roots = {int(x) for x in a.server_pids.split(",") if x.strip()}
    if not roots:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # After the command name: state, ppid, ... utime is field 14 of stat(5), stime 15.
        pid, ppid = int(entry), int(fields[1])
        if pid in roots or ppid in roots:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def tls_log_size(a):
    return os.path.getsize(a.tls_log) if a.tls_log and os.path.exists(a.tls_log) else 0


def tls_connections(a, start, endpoint):
    """What a run asked of the TLS server, from the lines nginx logged since `start`:
    requests, connections (each one full or resumed TLS handshake) and resumed sessions."""
    if not a.tls_log:
        return None
    time.sleep(0.2)  # nginx writes a line when a request ends; the last ones may trail the client's exit
    port = endpoint.rsplit(":", 1)[1].split("/")[0]
    with open(a.tls_log, "rb") as f:
        f.seek(start)
        lines = [l.split() for l in f.read().decode(errors="replace").splitlines()]
    lines = [l for l in lines if len(l) >= 4 and l[0] == port]
    first = {}
    for l in lines:
        first.setdefault(l[2], l[1])
    ciphers = sorted({l[4] for l in lines if len(l) >= 5})
    return {"requests": len(lines), "connections": len(first), "resumed": sum(1 for v in first.values() if v == "r"),
            "ciphers": ciphers}


def latency_run(r, a, client, width, count, round_no, endpoint):
    """PUT then GET `count` objects of LATENCY_SIZE bytes, `width` at a time; the client times
    each request itself and prints the p50 and p99 (microseconds) of both."""
    prefix = f"lat-{client}-{width}-{round_no}-{'tls' if endpoint.startswith('https:') else 'http'}/"
    rest = ["bench", prefix, str(count), str(LATENCY_SIZE), str(width)]
    if client == "ours":
        cmd = [a.ours, endpoint, "latency"] + rest
    else:
        cmd = [a.python, os.path.join(HERE, "peers.py"), client, "latency", endpoint] + rest
    log_start = tls_log_size(a)
    m = r.measure(cmd, env={"AWS_CA_BUNDLE": a.ca} if endpoint.startswith("https:") else None)
    if endpoint.startswith("https:"):
        m["tls"] = tls_connections(a, log_start, endpoint)
    fields = [int(x) for x in m["out"].split()[-6:]]
    if fields[4:] != [count, count * LATENCY_SIZE]:
        raise RuntimeError(f"{client} latency: moved {fields[4:]}, expected {[count, count * LATENCY_SIZE]}")
    m["lat"] = fields[:4]
    return m


def main():
    a = parse_args()
    if a.from_json:
        merged = {}
        for path in a.from_json.split(","):
            with open(path) as f:
                saved = json.load(f)
            RETRIED.extend(saved.pop("retried", []))
            runs = {tuple(k.split("|")): v for k, v in saved.items()}
            for workload in {k[0] for k in runs}:
                merged = {k: v for k, v in merged.items() if k[0] != workload}
            merged.update(runs)
        report(a, merged)
        return
    r = Runner(a)
    if a.ca:
        import ssl
        global SSL_CONTEXT
        SSL_CONTEXT = ssl.create_default_context(cafile=a.ca)
    os.makedirs(a.work, exist_ok=True)
    only = set(filter(None, a.only.split(",")))
    endpoints = {"server": a.server, "nginx": a.nginx, "server-tls": a.server_tls, "nginx-tls": a.nginx_tls}
    if a.servers:
        endpoints = {k: (v if k in a.servers.split(",") else "") for k, v in endpoints.items()}
    results = {}  # (workload, server, client) -> [measurements]
    for round_no in range(1, a.rounds + 1):
        for workload, title, unit, servers, clients in WORKLOADS:
            if only and workload not in only:
                continue
            for server_name in servers:
                if not endpoints[server_name]:
                    continue
                # The order rotates from round to round: no client always runs first or last.
                shift = (round_no - 1) % len(clients)
                for client in clients[shift:] + clients[:shift]:
                    # A peer crashing now and then (obstore has aborted with SIGABRT, nothing on
                    # stderr, in put-many) is not a measurement: it runs again, after a pause, up
                    # to three times; a peer that still fails has no figure for that round, and
                    # the report says so. A failure of ours ends the run.
                    m, attempts = None, 0
                    while True:
                        attempts += 1
                        try:
                            m = one_run(r, a, workload, server_name, endpoints[server_name], client)
                            break
                        except RuntimeError as error:
                            print(f"failed (attempt {attempts}): {error}", file=sys.stderr, flush=True)
                            RETRIED.append(f"{client} {workload} ({server_name}), round {round_no}, attempt {attempts}: {str(error)[:200]}")
                            if client.startswith("ours") or attempts == 3:
                                if client.startswith("ours"):
                                    raise
                                m = "failed"
                                break
                            time.sleep(2)
                    if m is None or m == "failed":
                        continue
                    results.setdefault((workload, server_name, client), []).append(m)
                    print(f"round {round_no} {workload:16} {server_name:10} {client:8} {m['wall']:7.3f} s  cpu {m['cpu']:6.2f} s  rss {m['rss']:7.1f} MiB"
                          + (f"  servers cpu {m['server_cpu']:.2f} s" if "server_cpu" in m else "")
                          + (f"  tls {m['tls']}" if m.get("tls") else ""), flush=True)
        for name, endpoint in (("latency", endpoints["server"]), ("latency-tls", endpoints["server-tls"])):
            if (only and name not in only) or not endpoint:
                continue
            for width, count in LATENCY_RUNS:
                for client in LATENCY_CLIENTS:
                    m = latency_run(r, a, client, width, count, round_no, endpoint)
                    results.setdefault((name, f"{width}", client), []).append(m)
                    print(f"round {round_no} {name} {width:3} at a time {client:8} PUT p50/p99 {m['lat'][0]}/{m['lat'][1]} us"
                          f"  GET p50/p99 {m['lat'][2]}/{m['lat'][3]} us  tls {m.get('tls')}", flush=True)
    with open(a.json, "w") as f:
        json.dump({"|".join(k): v for k, v in results.items()} | {"retried": RETRIED}, f, indent=1)
    report(a, results)


# ----------------------------------------------------------------------------- report

def med(xs):
    return statistics.median(xs)


def summarize(ms, unit):
    walls = [m["wall"] for m in ms]
    amount = ms[0]["amount"]
    scale = 1e6 if unit == "MB/s" else 1
    rates = sorted(amount / w / scale for w in walls)
    return {
        "rate": med(rates), "rate_lo": rates[0], "rate_hi": rates[-1], "wall": med(walls),
        "cpu": med([m["cpu"] for m in ms]), "rss": med([m["rss"] for m in ms]), "rss_max": max(m["rss"] for m in ms),
        "amount": amount,
        "server_cpu": med([m["server_cpu"] for m in ms]) if all("server_cpu" in m for m in ms) else None,
    }


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU ({cpu}), Linux {platform.release()}"


def report(a, results):
    lines = []
    today = datetime.date.today().isoformat()
    lines += [
        "# Benchmarks: swift-s3 beside s5cmd, the AWS CRT, obstore, boto3, the aws-cli and rclone",
        "",
        f"Measured {today} on {machine()}, everything on 127.0.0.1. Written by `scripts/bench`;",
        "clients interleaved within each round, their order rotated from round to round, `sync` before every run",
        "(rounds given per table); medians, with min-max of the rate.",
        "Host memory. This machine is a Firecracker guest that hands free pages back to the host about 2 s after they",
        "are freed (free-page reporting); the first touch of such a page then costs a fault on the host, which made a",
        "1 GiB write into the page cache take 0.16 s or 1.1-1.3 s depending on what ran before. So the state is set",
        f"for every client alike: before each run of a 1 GiB workload a {WARM_BYTES >> 20} MiB scratch file is written and",
        "deleted (**warm**: fresh pages are host-backed, as on bare metal or a VM without reporting), and the file download",
        f"is also measured **cold**: started {COLD_WAIT} s after the previous file was deleted, when those pages are back with the host.",
        "Each figure is one process as its user would run it (start-up included): wall time measured by",
        "the harness, CPU (user + sys) and peak RSS from the kernel's accounting of that process.",
        "**servers' CPU s** is what nginx (master and workers) and bench-s3-server spent during the same run (from /proc),",
        f"and **floor s** is (client CPU + servers' CPU) / {os.cpu_count()} cores: the shortest wall time that run's CPU",
        "could fit in on this machine. Where a row's wall time is near its floor, the machine, not the client, sets the pace.",
        "",
        "Servers: **bench-s3-server** (`Benchmarks/Sources/bench-s3-server`, SwiftNIO, objects in memory,",
        "no signature checks) and **nginx** (a static file: HEAD and ranged GET work for every client but rclone,",
        "which lists the bucket first: it runs against bench-s3-server only).",
        "",
        f"Settings. Ours runs at the library's defaults ({MATCHED_PART} MiB parts x {MATCHED_CONC} in flight). Every peer"
        " runs twice where it has the knob: **(defaults)**, as installed, and **(matched)**, set to"
        f" {MATCHED_PART} MiB parts x {MATCHED_CONC} in flight for the 1 GiB rows and {SMALL_WIDTH} requests in flight"
        " for the small objects. Its better row is the one ours is compared with (the Targets table).",
        "Defaults: " + "; ".join(f"{CLIENT_NAMES[c]}: {d}" for c, d in DEFAULTS.items()) + ".",
        "The Python peers' small-object and listing programs (Benchmarks/compare/peers.py) keep"
        f" {SMALL_WIDTH} requests in flight (a thread pool, an asyncio or semaphore gate): one row each.",
        "Ours protects upload bodies with `S3PayloadProtection.crc32c` (unsigned payload, signed CRC-32C"
        " header); the row 'ours, SHA-256 signed payload' is the library's default. obstore runs with"
        " `unsigned_payload=True`; the CRT signs no payload by default; s5cmd, boto3, the aws-cli and rclone sign"
        " each body's SHA-256 over http. boto3 runs with `request_checksum_calculation=when_required` (its"
        " default CRC32 costs CPU); the aws-cli runs with its default (CRC32 on uploads). rclone computes an MD5"
        " of each upload and checks downloads against a single-part ETag (its default). s5cmd, the aws-cli and rclone read"
        " and write the small objects as local files (they are file tools); the others keep them in memory.",
        "",
        f"![throughput relative to ours]({os.path.relpath(a.chart, os.path.dirname(os.path.abspath(a.out)))})",
        "",
    ]
    if a.note:
        lines += [a.note, ""]
    verdicts = []
    for workload, title, unit, servers, clients in WORKLOADS:
        for server_name in servers:
            rows = {c: summarize(results[(workload, server_name, c)], unit) for c in clients if (workload, server_name, c) in results}
            if "ours" not in rows:
                continue
            ours = rows["ours"]
            rounds = len(results[(workload, server_name, "ours")])
            servers_cpu = ours["server_cpu"] is not None
            lines += [f"## {title}, from {SERVER_TITLES[server_name]}", "", f"{rounds} rounds.", "",
                      f"| client | {unit} (min-max) | wall s | CPU s | CPU s per GiB | peak RSS MiB | ours / client |"
                      + (" servers' CPU s | floor s |" if servers_cpu else ""),
                      "|---|---|---|---|---|---|---|" + ("---|---|" if servers_cpu else "")]
            for c, s in sorted(rows.items(), key=lambda kv: -kv[1]["rate"]):
                per_gib = f"{s['cpu'] / (s['amount'] / GIB):.2f}" if unit == "MB/s" else "-"
                ratio = "1.00" if c == "ours" else f"{ours['rate'] / s['rate']:.2f}"
                fmt = "{:.0f}" if unit != "MB/s" or s["rate"] >= 100 else "{:.1f}"
                extra = ""
                if servers_cpu and s["server_cpu"] is not None:
                    # All the CPU the run took, client and servers, spread over every core: no run
                    # with these CPU costs can be faster than this on this machine.
                    extra = f" {s['server_cpu']:.2f} | {(s['cpu'] + s['server_cpu']) / os.cpu_count():.3f} |"
                elif servers_cpu:
                    extra = " - | - |"
                lines.append(f"| {client_label(c)} | {fmt.format(s['rate'])} ({fmt.format(s['rate_lo'])}-{fmt.format(s['rate_hi'])}) | "
                             f"{s['wall']:.3f} | {s['cpu']:.2f} | {per_gib} | {s['rss']:.0f} | {ratio} |" + extra)
            lines.append("")
            peers = {c: s for c, s in rows.items() if c not in ("ours", "ours-sha256", "curl")}
            if peers:
                best_name, best = max(peers.items(), key=lambda kv: kv[1]["rate"])
                ratio = ours["rate"] / best["rate"]
                verdicts.append((f"{title} ({SERVER_TITLES[server_name]}): ours / best peer ({client_label(best_name)}) = {ratio:.2f}",
                                 ratio >= 1.15))
                verdicts.append((f"{title} ({SERVER_TITLES[server_name]}): CPU ours {ours['cpu']:.2f} s vs {client_label(best_name)} {best['cpu']:.2f} s",
                                 ours["cpu"] <= best["cpu"]))
            if "curl" in rows and workload in ("download-memory", "upload"):
                ratio = ours["rate"] / rows["curl"]["rate"]
                if server_name.endswith("-tls") and workload == "download-memory":
                    # Over TLS: at least 0.9 of curl's speed at no more than 1.2x its CPU.
                    verdicts.append((f"{title} ({SERVER_TITLES[server_name]}): ours / curl = {ratio:.2f} (target 0.90)", ratio >= 0.9))
                    cpu_ratio = ours["cpu"] / rows["curl"]["cpu"]
                    verdicts.append((f"{title} ({SERVER_TITLES[server_name]}): CPU ours / curl = {cpu_ratio:.2f} (at most 1.20)", cpu_ratio <= 1.2))
                else:
                    verdicts.append((f"{title} ({SERVER_TITLES[server_name]}): ours / curl = {ratio:.2f} (target 0.80)", ratio >= 0.8))
            if unit == "MB/s":
                limit = 64 + MATCHED_PART * MATCHED_CONC
                verdicts.append((f"{title} ({SERVER_TITLES[server_name]}): our peak RSS {ours['rss_max']:.0f} MiB (limit {limit} MiB)", ours["rss_max"] < limit))
    # The benchmark server must not be the bottleneck: curl against it vs against nginx.
    for workload, what in (("download-memory", "GET"), ("upload", "PUT")):
        s, n = results.get((workload, "server", "curl")), results.get((workload, "nginx", "curl"))
        if s and n:
            rs, rn = summarize(s, "MB/s")["rate"], summarize(n, "MB/s")["rate"]
            verdicts.append((f"curl {what} 1 GiB: bench-s3-server {rs:.0f} MB/s vs nginx {rn:.0f} MB/s = {rs / rn:.2f} (must be >= 0.80)", rs / rn >= 0.8))
    handshakes = [(k, v) for k, v in results.items() if v and v[0].get("tls")]
    if handshakes:
        lines += ["## TLS connections and handshakes", "",
                  "Counted from nginx's access log (`$connection`, `$ssl_session_reused`) for each run: every connection is"
                  " one TLS handshake, full or resumed (a client resumes only within its own process: each run is a new"
                  " process, so its first connection is always a full handshake). Medians of the rounds.", "",
                  "| workload | server | client | requests | connections (handshakes) | resumed | requests per handshake | cipher |",
                  "|---|---|---|---|---|---|---|---|"]
        for (workload, server_name, client), ms in sorted(handshakes, key=lambda kv: kv[0]):
            t = [m["tls"] for m in ms if m.get("tls")]
            req, conn, res = (med([x[f] for x in t]) for f in ("requests", "connections", "resumed"))
            label = CLIENT_NAMES.get(client) if workload.startswith("latency") else client_label(client)
            where = SERVER_TITLES.get(server_name, f"bench-s3-server behind nginx, TLS 1.3 ({server_name} in flight)")
            ciphers = ", ".join(sorted({c for x in t for c in x.get("ciphers", [])}))
            lines.append(f"| {workload} | {where} | {label} | {req:,.0f} | {conn:,.0f} | {res:,.0f} | {req / max(conn, 1):,.1f} | {ciphers} |")
            if client == "ours" and workload in ("put-many", "get-many", "latency-tls"):
                width = int(server_name) if workload.startswith("latency") else SMALL_WIDTH
                verdicts.append((f"{workload} ({where}): ours opened {conn:.0f} TLS connections for {req:,.0f} requests"
                                 f" (at most one per request in flight, {width})", conn <= width))
        lines.append("")
    for latency_name, where in (("latency", "bench-s3-server"), ("latency-tls", "bench-s3-server behind nginx, TLS 1.3")):
        latency = {k: v for k, v in results.items() if k[0] == latency_name}
        if not latency:
            continue
        rounds = max(len(v) for v in latency.values())
        lines += [f"## Latency of single small requests, from {where}", "",
                  f"PUTs of {LATENCY_SIZE:,} bytes, then GETs of them (the whole body read), one process per client and"
                  f" setting; each request timed by the client itself from the call to its last byte. p50 and p99 in"
                  f" milliseconds, medians of {rounds} rounds. Ours at the library's defaults (SHA-256 signed payload)."
                  " boto3 with its threads, the CRT with its event loop (from Python).", "",
                  "| client | in flight | requests | PUT p50 | PUT p99 | GET p50 | GET p99 | client / ours (GET p50) |",
                  "|---|---|---|---|---|---|---|---|"]
        for width, count in LATENCY_RUNS:
            med_lat = {c: [med([m["lat"][i] for m in latency[(latency_name, f"{width}", c)]]) / 1000 for i in range(4)]
                       for c in LATENCY_CLIENTS if (latency_name, f"{width}", c) in latency}
            for c, l in med_lat.items():
                ratio = "1.00" if c == "ours" else f"{l[2] / med_lat['ours'][2]:.2f}" if "ours" in med_lat else "-"
                lines.append(f"| {CLIENT_NAMES[c]} | {width} | {count:,} | {l[0]:.2f} | {l[1]:.2f} | {l[2]:.2f} | {l[3]:.2f} | {ratio} |")
            peers = {c: l for c, l in med_lat.items() if c != "ours"}
            if "ours" in med_lat and peers:
                for i, what in ((0, "PUT p50"), (1, "PUT p99"), (2, "GET p50"), (3, "GET p99")):
                    best = min(peers.items(), key=lambda kv: kv[1][i])
                    verdicts.append((f"{latency_name}, {width} in flight, {what}: ours {med_lat['ours'][i]:.2f} ms vs best peer"
                                     f" ({CLIENT_NAMES[best[0]]}) {best[1][i]:.2f} ms", med_lat["ours"][i] <= best[1][i]))
        lines.append("")
    if RETRIED:
        lines += ["Runs that failed (each ran again, up to three attempts; a peer that failed all three has no figure for that round): " + "; ".join(RETRIED), ""]
    lines += ["## Targets", "", "| check | met |", "|---|---|"]
    lines += [f"| {text} | {'yes' if ok else '**no**'} |" for text, ok in verdicts]
    lines.append("")
    if a.cipher_speed and os.path.exists(a.cipher_speed):
        lines += ["## TLS: what the CPU can decrypt (`openssl speed`)", "", open(a.cipher_speed).read().strip(), ""]
    if a.transport and os.path.exists(a.transport):
        lines += ["## Transport against curl (`transport-compare`)", "", open(a.transport).read().strip(), ""]
    if a.micro and os.path.exists(a.micro):
        lines += ["## Microbenchmarks (package-benchmark)", "", open(a.micro).read().strip(), ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    chart(a, results)
    print("\n".join(lines))


def chart(a, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = []
    for workload, title, unit, servers, clients in WORKLOADS:
        for server_name in servers:
            if (workload, server_name, "ours") in results:
                groups.append((f"{SHORT[workload]}\n({server_name})", workload, server_name, unit, clients))
    clients = BASES + ["ours-sha256", "curl"]
    colors = {"ours": "#d9480f", "ours-sha256": "#ffa94d", "s5cmd": "#1c7ed6", "crt": "#f59f00", "obstore": "#37b24d",
              "boto3": "#7048e8", "aws": "#e64980", "rclone": "#0ca678", "curl": "#868e96"}
    fig, ax = plt.subplots(figsize=(14, 6))
    width = 0.8 / len(clients)
    for i, c in enumerate(clients):
        xs, ys = [], []
        for g, (label, workload, server_name, unit, allowed) in enumerate(groups):
            # A peer's bar is its better variant (defaults or matched), as in the Targets table.
            rates = [summarize(results[(workload, server_name, v)], unit)["rate"] for v in (c, c + "@matched")
                     if (workload, server_name, v) in results]
            if not rates:
                continue
            ours = summarize(results[(workload, server_name, "ours")], unit)["rate"]
            xs.append(g + (i - len(clients) / 2 + 0.5) * width)
            ys.append(max(rates) / ours)
        ax.bar(xs, ys, width, label=CLIENT_NAMES[c], color=colors[c])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g[0] for g in groups], fontsize=9)
    ax.set_ylabel("throughput relative to ours (higher is faster)")
    ax.set_title(f"S3 clients on {os.cpu_count()} vCPU, loopback, medians ({datetime.date.today().isoformat()})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.chart, dpi=110)


if __name__ == "__main__":
    main()
