# A SeaweedFS cluster on 127.0.0.1, sourced after lib.sh by scripts/cluster (and the scripts
# that strike it with faults). Every part is its own process in its own process group, so one
# can be killed, stopped or restarted alone; all of them are stopped when the script exits.
#
#   master (one, -peers=none)
#   three volume servers, one rack: replication 001 (two copies of every volume, on two
#     different servers), so losing any one server loses no object, and with two left the
#     master can still place new two-copy volumes: writes go on
#   one filer (its metadata in an embedded store)
#   two S3 gateways, both on that filer
#   nginx in front of the two gateways, as users deploy a load balancer: passive health
#     checks (a gateway that refuses or drops a connection is out for 10 s), keep-alive to
#     both, bodies streamed (no buffering), the Host header kept (SigV4 signs it)
#
# Sets CLUSTER_URL (nginx), CLUSTER_GATEWAY_URLS (each gateway), CLUSTER_DIR, and the arrays
# CLUSTER_PGID[name] / CLUSTER_CMD[name] (name: master, volume1..3, filer, s3gw1..2) that
# cluster_kill / cluster_restart / cluster_pause use.

declare -gA CLUSTER_PGID=() CLUSTER_CMD=() CLUSTER_LOG=()

# cluster_spawn NAME COMMAND...: starts COMMAND in a new session (its own process group).
cluster_spawn() {
  local name=$1; shift
  CLUSTER_CMD[$name]="$(printf '%q ' "$@")"
  CLUSTER_LOG[$name]="$CLUSTER_DIR/$name.log"
  setsid "$@" >>"${CLUSTER_LOG[$name]}" 2>&1 &
  CLUSTER_PGID[$name]=$!
  PGIDS+=($!)
}

# cluster_kill NAME [SIGNAL]: signals the whole process group of one part (default KILL).
cluster_kill() {
  kill -"${2:-KILL}" -- "-${CLUSTER_PGID[$1]}" 2>/dev/null || true
}

# cluster_restart NAME: kills one part (KILL) and starts it again with the same command line.
cluster_restart() {
  local name=$1
  cluster_kill "$name"
  while kill -0 -- "-${CLUSTER_PGID[$name]}" 2>/dev/null; do sleep 0.05; done
  eval "cluster_spawn $name ${CLUSTER_CMD[$name]}"
}

# cluster_stop: every part, TERM then (after 3 s) KILL: the filer does not exit on TERM while
# it is still trying to reach a master that is already gone.
cluster_stop() {
  local name i
  for name in "${!CLUSTER_PGID[@]}"; do cluster_kill "$name" TERM; done
  for ((i = 0; i < 30; i++)); do
    local alive=0
    for name in "${!CLUSTER_PGID[@]}"; do kill -0 -- "-${CLUSTER_PGID[$name]}" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for name in "${!CLUSTER_PGID[@]}"; do cluster_kill "$name" KILL; done
}
trap 'cluster_stop; cleanup' EXIT

# cluster_pause NAME SECONDS: SIGSTOP one part, SIGCONT after SECONDS (in the background).
cluster_pause() {
  cluster_kill "$1" STOP
  (sleep "$2"; kill -CONT -- "-${CLUSTER_PGID[$1]}" 2>/dev/null || true) &
}

start_seaweedfs_cluster() {
  CLUSTER_DIR="$RUN_DIR/cluster"
  mkdir -p "$CLUSTER_DIR"/{master,filer,volume1,volume2,volume3}
  local ports=() i
  mapfile -t ports < <(free_ports 19)
  [ "${#ports[@]}" = 19 ] || die "no 19 free ports for the cluster"
  local m=${ports[0]} mg=${ports[1]} f=${ports[2]} fg=${ports[3]} lb=${ports[4]}
  # SeaweedFS names a server with an explicit gRPC port as host:port.grpcport.
  local master="127.0.0.1:$m.$mg" filer="127.0.0.1:$f.$fg"
  cat >"$CLUSTER_DIR/identities.json" <<'JSON'
{"identities":[{"name":"tests","credentials":[{"accessKey":"testing","secretKey":"testing-secret"},{"accessKey":"key","secretKey":"secret"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  say "starting a SeaweedFS cluster: master, 3 volume servers (replication 001), filer, 2 S3 gateways, nginx"
  # Volumes of at most 256 MiB: a large object spreads over several volumes (and servers).
  cluster_spawn master "$WEED" master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$m" -port.grpc="$mg" \
    -mdir="$CLUSTER_DIR/master" -peers=none -defaultReplication=001 -volumeSizeLimitMB=256 -telemetry=false
  wait_http "http://127.0.0.1:$m/cluster/status" 60 "master" "${CLUSTER_LOG[master]}"
  for i in 1 2 3; do
    local vp=${ports[$((3 + 2 * i))]} vg=${ports[$((4 + 2 * i))]}
    cluster_spawn "volume$i" "$WEED" volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$vp" -port.grpc="$vg" \
      -dir="$CLUSTER_DIR/volume$i" -max=0 -master="$master" -dataCenter=dc1 -rack=rack1 -preStopSeconds=0
  done
  # The master knows three volume servers before anything is written.
  for ((i = 0; i < 300; i++)); do
    [ "$(curl -s "http://127.0.0.1:$m/dir/status" | python3 -c 'import json,sys
t=json.load(sys.stdin)["Topology"]
print(sum(len(r["DataNodes"] or []) for dc in t["DataCenters"] or [] for r in dc["Racks"] or []))' 2>/dev/null)" = 3 ] && break
    sleep 0.2
  done
  [ "$i" -lt 300 ] || die "the volume servers did not join the master (see $CLUSTER_DIR/volume*.log)"
  cluster_spawn filer "$WEED" filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$f" -port.grpc="$fg" -master="$master" \
    -defaultStoreDir="$CLUSTER_DIR/filer" -defaultReplicaPlacement=001
  wait_http "http://127.0.0.1:$f/" 60 "filer" "${CLUSTER_LOG[filer]}"
  CLUSTER_GATEWAY_URLS=()
  local upstreams=""
  for i in 1 2; do
    local sp=${ports[$((10 + 2 * i))]} sg=${ports[$((11 + 2 * i))]}
    cluster_spawn "s3gw$i" "$WEED" s3 -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$sp" -port.grpc="$sg" -filer="$filer" \
      -config="$CLUSTER_DIR/identities.json" -port.iceberg=0 -port.lance=0 -allowDeleteBucketNotEmpty=false -domainName=localhost
    wait_http "http://127.0.0.1:$sp/" 60 "S3 gateway $i" "${CLUSTER_LOG[s3gw$i]}"
    CLUSTER_GATEWAY_URLS+=("http://127.0.0.1:$sp")
    upstreams+="    server 127.0.0.1:$sp max_fails=1 fail_timeout=10s;
"
  done
  mkdir -p "$CLUSTER_DIR/nginx"
  cat >"$CLUSTER_DIR/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $CLUSTER_DIR/nginx.pid;
error_log $CLUSTER_DIR/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $CLUSTER_DIR/nginx/body;
  proxy_temp_path $CLUSTER_DIR/nginx/proxy;
  fastcgi_temp_path $CLUSTER_DIR/nginx/fastcgi;
  uwsgi_temp_path $CLUSTER_DIR/nginx/uwsgi;
  scgi_temp_path $CLUSTER_DIR/nginx/scgi;
  upstream gateways {
$upstreams    keepalive 64;
  }
  server {
    listen 127.0.0.1:$lb;
    client_max_body_size 0;
    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_connect_timeout 2s;
    }
  }
}
CONF
  cluster_spawn nginx nginx -c "$CLUSTER_DIR/nginx.conf" -p "$CLUSTER_DIR/nginx"
  CLUSTER_URL="http://127.0.0.1:$lb"
  wait_http "$CLUSTER_URL/" 20 "nginx (load balancer)" "$CLUSTER_DIR/nginx-error.log"
  # Ready when a bucket can be made, written and removed through the load balancer.
  for ((i = 0; i < 300; i++)); do
    if python3 - "$CLUSTER_URL" <<'PY' 2>/dev/null; then say "cluster ready at $CLUSTER_URL"; return 0; fi
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing-secret")
s3.create_bucket(Bucket="readiness-probe"); s3.put_object(Bucket="readiness-probe", Key="k", Body=b"x")
s3.delete_object(Bucket="readiness-probe", Key="k"); s3.delete_bucket(Bucket="readiness-probe")
PY
    sleep 0.2
  done
  die "the cluster did not become ready at $CLUSTER_URL (logs in $CLUSTER_DIR)"
}
