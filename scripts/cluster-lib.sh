# A SeaweedFS cluster on 127.0.0.1, sourced after lib.sh by scripts/cluster, scripts/test and
# scripts/cluster-faults. Every part is its own process in its own process group, so one can be
# killed, stopped or restarted alone (scripts/cluster-ctl, which the fault tests run too); all
# of them are stopped when the sourcing script exits.
#
#   master (one, -peers=none)
#   three volume servers, one rack: replication 001 (two copies of every volume, on two
#     different servers), so losing any one server loses no object, and with two left the
#     master can still place new two-copy volumes: writes go on. (010 and 100 would ask for
#     a second rack or data centre, which one machine does not have; 002 would need all three
#     servers for every write, so one lost server would stop all writes.)
#   each volume server keeps its data on a tmpfs of its own, CLUSTER_DISK_MB (default 1024)
#     each, when this machine lets us mount one: a test can fill one server's disk without
#     filling the machine's, and equal disks make the master place volumes on all three
#     alike (a server on the big root disk would get nearly all of them); volumes of at most
#     64 MiB, so each disk holds many and a large object spreads over several
#   one filer (its metadata in an embedded store)
#   two S3 gateways, both on that filer
#   nginx in front of the two gateways, as users deploy a load balancer: passive health
#     checks (a gateway that refuses or drops a connection is out for 10 s), keep-alive to
#     both, bodies streamed (no buffering), the Host header kept (SigV4 signs it)
#
# CLUSTER_MASTER_FLAGS adds flags to the master (scripts/soak: vacuum every 30 s, so space freed
# by deletes comes back while it runs, instead of every 14 minutes; smaller volumes), and
# CLUSTER_VOLUME_FLAGS to each volume server; CLUSTER_ACCESS_LOG=1 writes nginx's access log.
#
# The state of every part is in $CLUSTER_DIR/parts: NAME.cmd (its command line), NAME.pgid,
# NAME.ready (a URL that answers once it is up) and, for volume servers, NAME.volume
# (host:port as the master knows it). Sets CLUSTER_URL (nginx), CLUSTER_GATEWAY_URLS (each
# gateway) and CLUSTER_DIR.

CLUSTER_CTL="$ROOT/scripts/cluster-ctl"

# cluster_spawn NAME READY_URL COMMAND...: starts COMMAND in a new session (its own process
# group), logging to $CLUSTER_DIR/NAME.log.
cluster_spawn() {
  local name=$1 ready=$2; shift 2
  mkdir -p "$CLUSTER_DIR/parts"
  printf '%q ' "$@" >"$CLUSTER_DIR/parts/$name.cmd"
  echo "$ready" >"$CLUSTER_DIR/parts/$name.ready"
  "$CLUSTER_CTL" "$CLUSTER_DIR" "$name" start
}

# cluster_stop: every part, TERM then (after 3 s) KILL: the filer does not exit on TERM while
# it is still trying to reach a master that is already gone. Then the volume servers' tmpfs go.
cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/parts" ] || return 0
  local f i alive
  for f in "$CLUSTER_DIR"/parts/*.pgid; do kill -TERM -- "-$(cat "$f")" 2>/dev/null || true; done
  for ((i = 0; i < 30; i++)); do
    alive=0
    for f in "$CLUSTER_DIR"/parts/*.pgid; do kill -0 -- "-$(cat "$f")" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for f in "$CLUSTER_DIR"/parts/*.pgid; do kill -KILL -- "-$(cat "$f")" 2>/dev/null || true; done
  for f in "$CLUSTER_DIR"/parts/*.tmpfs; do
    [ -f "$f" ] && { umount "$(cat "$f")" 2>/dev/null || true; }
  done
  rm -rf "$CLUSTER_DIR/parts"
}
trap 'cluster_stop; cleanup' EXIT

start_seaweedfs_cluster() {
  CLUSTER_DIR="$RUN_DIR/cluster"
  mkdir -p "$CLUSTER_DIR"/{master,filer,volume1,volume2,volume3,parts}
  local ports=() i
  mapfile -t ports < <(free_ports 19)
  [ "${#ports[@]}" = 19 ] || die "no 19 free ports for the cluster"
  local m=${ports[0]} mg=${ports[1]} f=${ports[2]} fg=${ports[3]} lb=${ports[4]}
  # SeaweedFS names a server with an explicit gRPC port as host:port.grpcport.
  local master="127.0.0.1:$m.$mg" filer="127.0.0.1:$f.$fg"
  echo "http://127.0.0.1:$m" >"$CLUSTER_DIR/parts/master.url"
  for i in 1 2 3; do
    if mount -t tmpfs -o "size=${CLUSTER_DISK_MB:-1024}m" tmpfs "$CLUSTER_DIR/volume$i" 2>/dev/null; then
      echo "$CLUSTER_DIR/volume$i" >"$CLUSTER_DIR/parts/volume$i.tmpfs"
    else
      say "no tmpfs could be mounted for volume$i: its data goes on the root disk, and the disk-full fault is not available here"
    fi
  done
  cat >"$CLUSTER_DIR/identities.json" <<'JSON'
{"identities":[{"name":"tests","credentials":[{"accessKey":"testing","secretKey":"testing-secret"},{"accessKey":"key","secretKey":"secret"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  say "starting a SeaweedFS cluster: master, 3 volume servers (replication 001), filer, 2 S3 gateways, nginx"
  cluster_spawn master "http://127.0.0.1:$m/cluster/status" "$WEED" master -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -port="$m" -port.grpc="$mg" -mdir="$CLUSTER_DIR/master" -peers=none -defaultReplication=001 \
    -volumeSizeLimitMB=64 -telemetry=false ${CLUSTER_MASTER_FLAGS:-}
  for i in 1 2 3; do
    local vp=${ports[$((3 + 2 * i))]} vg=${ports[$((4 + 2 * i))]}
    echo "127.0.0.1:$vp" >"$CLUSTER_DIR/parts/volume$i.volume"
    cluster_spawn "volume$i" "http://127.0.0.1:$vp/status" "$WEED" volume -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -port="$vp" -port.grpc="$vg" -dir="$CLUSTER_DIR/volume$i" -max=0 -master="$master" -dataCenter=dc1 \
      -rack=rack1 -preStopSeconds=0 ${CLUSTER_VOLUME_FLAGS:-}
  done
  cluster_spawn filer "http://127.0.0.1:$f/" "$WEED" filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$f" \
    -port.grpc="$fg" -master="$master" -defaultStoreDir="$CLUSTER_DIR/filer" -defaultReplicaPlacement=001
  CLUSTER_GATEWAY_URLS=()
  local upstreams=""
  for i in 1 2; do
    local sp=${ports[$((10 + 2 * i))]} sg=${ports[$((11 + 2 * i))]}
    cluster_spawn "s3gw$i" "http://127.0.0.1:$sp/" "$WEED" s3 -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$sp" \
      -port.grpc="$sg" -filer="$filer" -config="$CLUSTER_DIR/identities.json" -port.iceberg=0 -port.lance=0 \
      -allowDeleteBucketNotEmpty=false -domainName=localhost
    CLUSTER_GATEWAY_URLS+=("http://127.0.0.1:$sp")
    upstreams+="    server 127.0.0.1:$sp max_fails=1 fail_timeout=10s;
"
  done
  mkdir -p "$CLUSTER_DIR/nginx"
  # CLUSTER_ACCESS_LOG=1 (the soak): every request with the gateway(s) that served it, for
  # tracing a broken promise; off otherwise.
  local access_log="  access_log off;"
  if [ "${CLUSTER_ACCESS_LOG:-0}" = 1 ]; then
    access_log="  log_format trace '\$msec \$request_method \$request_uri \$status up=\$upstream_addr upstatus=\$upstream_status rt=\$request_time urt=\$upstream_response_time';
  access_log $CLUSTER_DIR/access.log trace buffer=256k flush=2s;"
  fi
  cat >"$CLUSTER_DIR/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $CLUSTER_DIR/nginx.pid;
error_log $CLUSTER_DIR/nginx-error.log;
events { worker_connections 1024; }
http {
$access_log
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
  cluster_spawn nginx "http://127.0.0.1:$lb/" nginx -c "$CLUSTER_DIR/nginx.conf" -p "$CLUSTER_DIR/nginx"
  CLUSTER_URL="http://127.0.0.1:$lb"
  echo "$CLUSTER_URL" >"$CLUSTER_DIR/parts/endpoint.url"
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
