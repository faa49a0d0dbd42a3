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

# Each client's settings for the large transfers: (part size MiB, concurrency). Chosen from
# sweeps on this machine kind (see BENCHMARKS.md); ours are the library's defaults.
SETTINGS = {
    "ours": (8, 8),
    "ours-sha256": (8, 8),
    "s5cmd": (8, 8),
    "crt": (8, 8),
    "obstore": (8, 8),
    "boto3": (8, 10),
}
SMALL_COUNT, SMALL_SIZE, SMALL_WIDTH, LIST_COUNT = 2000, 4096, 64, 10_000
CLIENT_NAMES = {
    "ours": "ours (swift-s3)", "ours-sha256": "ours, SHA-256 signed payload (default)", "s5cmd": "s5cmd", "crt": "AWS CRT (awscrt)", "obstore": "obstore",
    "boto3": "boto3/s3transfer", "curl": "curl",
}


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--ours", required=True, help="path of s3-bench-client")
    p.add_argument("--python", required=True, help="the venv's python (peers)")
    p.add_argument("--s5cmd", required=True)
    p.add_argument("--server", required=True, help="bench-s3-server URL")
    p.add_argument("--nginx", required=True, help="nginx URL serving BUCKET/KEY and accepting PUT under /upload/")
    p.add_argument("--file", required=True, help="the 1 GiB file to upload (also served by nginx as bench/big)")
    p.add_argument("--small-dir", required=True, help="SMALL_COUNT files of SMALL_SIZE bytes, for s5cmd")
    p.add_argument("--work", required=True, help="scratch directory for downloads")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated workload names")
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
        a = self.a
        part, conc = SETTINGS.get(client, (8, 8))
        bucket = "bench"
        if client in ("ours", "ours-sha256", "boto3", "crt", "obstore"):
            if client.startswith("ours"):
                head = [a.ours, endpoint, workload]
            else:
                head = [a.python, os.path.join(HERE, "peers.py"), client, workload, endpoint]
            args = {
                "download-file": [bucket, kw.get("key", "big"), kw.get("path", ""), str(part), str(conc)],
                "download-memory": [bucket, kw.get("key", "big"), str(part), str(conc)],
                "upload": [bucket, kw.get("key", ""), a.file, str(part), str(conc)],
                "put-many": [bucket, kw.get("prefix", ""), str(SMALL_COUNT), str(SMALL_SIZE), str(SMALL_WIDTH)],
                "get-many": [bucket, kw.get("prefix", ""), str(SMALL_COUNT), str(SMALL_WIDTH)],
                "list": [bucket, kw.get("prefix", "")],
            }[workload]
            return head + args, subprocess.PIPE
        if client == "s5cmd":
            s5 = [a.s5cmd, "--endpoint-url", endpoint]
            if workload == "download-file":
                return s5 + ["cp", "-c", str(conc), "-p", str(part), f"s3://{bucket}/{kw.get('key', 'big')}", kw["path"]], subprocess.DEVNULL
            if workload == "download-memory":
                return s5 + ["cat", "-c", str(conc), "-p", str(part), f"s3://{bucket}/{kw.get('key', 'big')}"], subprocess.DEVNULL
            if workload == "upload":
                return s5 + ["cp", "-c", str(conc), "-p", str(part), a.file, f"s3://{bucket}/{kw['key']}"], subprocess.DEVNULL
            if workload == "put-many":
                return [a.s5cmd, "--numworkers", str(SMALL_WIDTH), "--endpoint-url", endpoint, "cp",
                        os.path.join(a.small_dir, "*"), f"s3://{bucket}/{kw['prefix']}"], subprocess.DEVNULL
            if workload == "get-many":
                return [a.s5cmd, "--numworkers", str(SMALL_WIDTH), "--endpoint-url", endpoint, "cp",
                        f"s3://{bucket}/{kw['prefix']}*", kw["path"] + "/"], subprocess.DEVNULL
            if workload == "list":
                return s5 + ["ls", f"s3://{bucket}/{kw['prefix']}*"], subprocess.DEVNULL
        if client == "curl":
            if workload == "download-file":
                return ["curl", "-sf", "-o", kw["path"], f"{endpoint}/{bucket}/{kw.get('key', 'big')}"], subprocess.DEVNULL
            if workload == "download-memory":
                return ["curl", "-sf", "-o", "/dev/null", f"{endpoint}/{bucket}/{kw.get('key', 'big')}"], subprocess.DEVNULL
            if workload == "upload":
                return ["curl", "-sf", "-o", "/dev/null", "-H", "Content-Type: application/octet-stream", "-T", a.file, kw["url"]], subprocess.DEVNULL
        raise ValueError((client, workload))


def head_size(url):
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as r:
        return int(r.headers["Content-Length"])


def delete(url):
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30).read()
    except Exception:
        pass


def drop_file(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    os.sync()  # the next client does not pay for this one's writeback


PEERS = ["ours", "s5cmd", "crt", "obstore", "boto3"]
# Ours runs with S3PayloadProtection.crc32c (its fastest safe setting, like the CRT's unsigned
# payloads and obstore's unsigned_payload); where bodies are hashed, the default is shown too.
OURS_ENV = {"ours": {"BENCH_PAYLOAD": "crc32c"}}

# (name, title, unit, server(s), clients incl. ceilings)
WORKLOADS = [
    ("download-file", "download 1 GiB to a file", "MB/s", ["server", "nginx"], PEERS + ["curl"]),
    ("download-memory", "download 1 GiB to memory, discarded", "MB/s", ["server", "nginx"], PEERS + ["curl"]),
    ("upload", "upload a 1 GiB file (multipart)", "MB/s", ["server", "nginx"], PEERS + ["ours-sha256", "curl"]),
    ("put-many", f"PUT {SMALL_COUNT:,} objects of 4 KiB, {SMALL_WIDTH} at a time", "objects/s", ["server"], PEERS + ["ours-sha256"]),
    ("get-many", f"GET {SMALL_COUNT:,} objects of 4 KiB, {SMALL_WIDTH} at a time", "objects/s", ["server"], PEERS),
    ("list", f"list {LIST_COUNT:,} keys (all pages)", "keys/s", ["server"], PEERS),
]
# Labels under the chart's bars.
SHORT = {
    "download-file": "1 GiB to file", "download-memory": "1 GiB to memory", "upload": "upload 1 GiB",
    "put-many": f"PUT {SMALL_COUNT:,} x 4 KiB", "get-many": f"GET {SMALL_COUNT:,} x 4 KiB", "list": f"list {LIST_COUNT:,} keys",
}


RETRIED = []


def one_run(r, a, workload, server_name, endpoint, client):
    """Runs one (workload, server, client) and returns its measurement with the amount moved."""
    kw = {}
    expect_objects, expect_bytes = 1, GIB
    cleanup = None
    if workload == "download-file":
        kw["path"] = os.path.join(a.work, f"dl-{client}.bin")
        cleanup = lambda: drop_file(kw["path"])
    elif workload == "upload":
        if server_name == "nginx":
            if client != "curl":
                return None
            kw["url"] = f"{endpoint}/upload/up-curl"
        else:
            kw["key"] = f"up-{client}"
            kw["url"] = f"{endpoint}/bench/up-{client}"
        cleanup = lambda: delete(kw["url"])
    elif workload in ("put-many", "get-many"):
        kw["prefix"] = f"small-{client}/"
        expect_objects, expect_bytes = SMALL_COUNT, SMALL_COUNT * SMALL_SIZE
        if workload == "get-many" and client == "s5cmd":
            kw["path"] = os.path.join(a.work, "s5cmd-get")
            os.makedirs(kw["path"], exist_ok=True)
            cleanup = lambda: drop_file(kw["path"])
    elif workload == "list":
        kw["prefix"] = "list/"
        expect_objects, expect_bytes = LIST_COUNT, LIST_COUNT * 16
    cmd, stdout = r.command(client, workload, endpoint, **kw)
    m = r.measure(cmd, stdout, OURS_ENV.get(client))
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
            raise RuntimeError(f"s5cmd get-many wrote {n} files")
    if cleanup:
        cleanup()
    m["amount"] = expect_objects if workload in ("put-many", "get-many", "list") else expect_bytes
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
    os.makedirs(a.work, exist_ok=True)
    only = set(filter(None, a.only.split(",")))
    endpoints = {"server": a.server, "nginx": a.nginx}
    results = {}  # (workload, server, client) -> [measurements]
    for round_no in range(1, a.rounds + 1):
        for workload, title, unit, servers, clients in WORKLOADS:
            if only and workload not in only:
                continue
            for server_name in servers:
                for client in clients:
                    try:
                        m = one_run(r, a, workload, server_name, endpoints[server_name], client)
                    except RuntimeError as error:
                        # A peer crashing now and then (obstore once aborted at exit) is not a
                        # measurement: run it again once, and say so in the report.
                        print(f"retrying after: {error}", file=sys.stderr, flush=True)
                        RETRIED.append(f"{client} {workload} ({server_name}), round {round_no}: {str(error)[:200]}")
                        m = one_run(r, a, workload, server_name, endpoints[server_name], client)
                    if m is None:
                        continue
                    results.setdefault((workload, server_name, client), []).append(m)
                    print(f"round {round_no} {workload:16} {server_name:6} {client:8} {m['wall']:7.3f} s  cpu {m['cpu']:6.2f} s  rss {m['rss']:7.1f} MiB", flush=True)
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
        "# Benchmarks: swift-s3 beside s5cmd, the AWS CRT, obstore and boto3",
        "",
        f"Measured {today} on {machine()}, everything on 127.0.0.1. Written by `scripts/bench`;",
        "clients interleaved within each round (rounds given per table); medians, with min-max of the rate.",
        "Each figure is one process as its user would run it (start-up included): wall time measured by",
        "the harness, CPU (user + sys) and peak RSS from the kernel's accounting of that process.",
        "",
        "Servers: **bench-s3-server** (`Benchmarks/Sources/bench-s3-server`, SwiftNIO, objects in memory,",
        "no signature checks) and **nginx** (a static file: HEAD and ranged GET work for every client).",
        "",
        "Settings (part size x parts in flight for the 1 GiB rows): "
        + "; ".join(f"{CLIENT_NAMES[c]} {p} MiB x {n}" for c, (p, n) in SETTINGS.items())
        + ". Ours protects upload bodies with `S3PayloadProtection.crc32c` (unsigned payload, signed CRC-32C"
        " header); the row 'ours, SHA-256 signed payload (default)' is the library's default. obstore runs with"
        " `unsigned_payload=True`; the CRT signs no payload by default; s5cmd and boto3 sign each body's SHA-256 over http"
        + f". Small objects and listings: {SMALL_WIDTH} requests in flight (s5cmd `--numworkers {SMALL_WIDTH}`,"
        " boto3 a 64-thread pool, obstore and the CRT an asyncio / semaphore gate). boto3 runs with"
        " `request_checksum_calculation=when_required` (its default CRC32 costs CPU). s5cmd reads and writes"
        " the small objects as local files (it is a file tool); the others keep them in memory.",
        "",
        "![throughput relative to ours](Benchmarks/chart.png)",
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
            lines += [f"## {title}, from {server_name}", "", f"{rounds} rounds.", "",
                      f"| client | {unit} (min-max) | wall s | CPU s | CPU s per GiB | peak RSS MiB | ours / client |",
                      "|---|---|---|---|---|---|---|"]
            for c, s in sorted(rows.items(), key=lambda kv: -kv[1]["rate"]):
                per_gib = f"{s['cpu'] / (s['amount'] / GIB):.2f}" if unit == "MB/s" else "-"
                ratio = "1.00" if c == "ours" else f"{ours['rate'] / s['rate']:.2f}"
                fmt = "{:.0f}" if unit != "MB/s" or s["rate"] >= 100 else "{:.1f}"
                lines.append(f"| {CLIENT_NAMES[c]} | {fmt.format(s['rate'])} ({fmt.format(s['rate_lo'])}-{fmt.format(s['rate_hi'])}) | "
                             f"{s['wall']:.3f} | {s['cpu']:.2f} | {per_gib} | {s['rss']:.0f} | {ratio} |")
            lines.append("")
            peers = {c: s for c, s in rows.items() if c not in ("ours", "ours-sha256", "curl")}
            if peers:
                best_name, best = max(peers.items(), key=lambda kv: kv[1]["rate"])
                ratio = ours["rate"] / best["rate"]
                verdicts.append((f"{title} ({server_name}): ours / best peer ({CLIENT_NAMES[best_name]}) = {ratio:.2f}",
                                 ratio >= 1.15))
                verdicts.append((f"{title} ({server_name}): CPU ours {ours['cpu']:.2f} s vs {CLIENT_NAMES[best_name]} {best['cpu']:.2f} s",
                                 ours["cpu"] <= best["cpu"]))
            if "curl" in rows and workload in ("download-memory", "upload"):
                ratio = ours["rate"] / rows["curl"]["rate"]
                verdicts.append((f"{title} ({server_name}): ours / curl = {ratio:.2f} (target 0.80)", ratio >= 0.8))
            if unit == "MB/s":
                part, conc = SETTINGS["ours"]
                limit = 64 + part * conc
                verdicts.append((f"{title} ({server_name}): our peak RSS {ours['rss_max']:.0f} MiB (limit {limit} MiB)", ours["rss_max"] < limit))
    # The benchmark server must not be the bottleneck: curl against it vs against nginx.
    for workload, what in (("download-memory", "GET"), ("upload", "PUT")):
        s, n = results.get((workload, "server", "curl")), results.get((workload, "nginx", "curl"))
        if s and n:
            rs, rn = summarize(s, "MB/s")["rate"], summarize(n, "MB/s")["rate"]
            verdicts.append((f"curl {what} 1 GiB: bench-s3-server {rs:.0f} MB/s vs nginx {rn:.0f} MB/s = {rs / rn:.2f} (must be >= 0.80)", rs / rn >= 0.8))
    if RETRIED:
        lines += ["Runs that failed and were run again once: " + "; ".join(RETRIED), ""]
    lines += ["## Targets", "", "| check | met |", "|---|---|"]
    lines += [f"| {text} | {'yes' if ok else '**no**'} |" for text, ok in verdicts]
    lines.append("")
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
    clients = PEERS + ["ours-sha256", "curl"]
    colors = {"ours": "#d9480f", "ours-sha256": "#ffa94d", "s5cmd": "#1c7ed6", "crt": "#f59f00", "obstore": "#37b24d", "boto3": "#7048e8", "curl": "#868e96"}
    fig, ax = plt.subplots(figsize=(13, 6))
    width = 0.8 / len(clients)
    for i, c in enumerate(clients):
        xs, ys = [], []
        for g, (label, workload, server_name, unit, allowed) in enumerate(groups):
            if (workload, server_name, c) not in results:
                continue
            ours = summarize(results[(workload, server_name, "ours")], unit)["rate"]
            xs.append(g + (i - len(clients) / 2 + 0.5) * width)
            ys.append(summarize(results[(workload, server_name, c)], unit)["rate"] / ours)
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
