#!/usr/bin/env bash
# A local high-availability cluster on loopback ports, run as a non-root user:
#   etcd                 Patroni's consensus store (who is leader, the sync standby, config)
#   node1, node2         PostgreSQL 15 managed by Patroni: leader + synchronous replica,
#                        pg_rewind on rejoin, maximum_lag_on_failover guarding promotion
#   PgBouncer            transaction pooling in front of the leader; Patroni's
#                        on_role_change callback re-points it after a failover
#
#   scripts/cluster.sh install        apt packages (patroni, etcd-server, pgbouncer)
#   scripts/cluster.sh start          install if needed, start everything, create the DB
#   scripts/cluster.sh stop           stop everything (data stays in CLUSTER_DIR)
#   scripts/cluster.sh destroy        stop and delete CLUSTER_DIR
#   scripts/cluster.sh status         patronictl list
#   scripts/cluster.sh env            the DATABASE_URL / REPLICA_DATABASE_URL to export
#   scripts/cluster.sh start-node N   (re)start the Patroni of node N (1 or 2) only
#
# Ports: CLUSTER_PORT_BASE (default 15400) + 0 etcd, +1 etcd peer, +2/+3 PostgreSQL
# node1/node2, +4/+5 Patroni REST node1/node2, +6 PgBouncer. Nothing touches 5432/6379.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE=${CLUSTER_PORT_BASE:-15400}
DIR=${CLUSTER_DIR:-/tmp/operator-cluster-$BASE}
RUN_AS=${CLUSTER_USER:-postgres}
PGBIN=${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
DB=${CLUSTER_DB:-operator}
SCOPE=${CLUSTER_SCOPE:-operator-$BASE}
# Bytes a replica may be behind the leader's last reported WAL position and still be
# promoted (Patroni's maximum_lag_on_failover).
MAX_LAG=${CLUSTER_MAXIMUM_LAG_ON_FAILOVER:-1048576}

ETCD_PORT=$BASE
ETCD_PEER=$((BASE + 1))
PG_PORT=([1]=$((BASE + 2)) [2]=$((BASE + 3)))
API_PORT=([1]=$((BASE + 4)) [2]=$((BASE + 5)))
BOUNCER_PORT=$((BASE + 6))

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: ERROR: $*" >&2; exit 1; }

as_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

# Start a daemon in its own session as RUN_AS; its pid goes to $1.
daemon() {
  local pidfile=$1 logfile=$2; shift 2
  as_user bash -c 'setsid "$@" >>"$0" 2>&1 < /dev/null & echo $! > "'"$pidfile"'"' "$logfile" "$@"
}

# A live process (a SIGKILLed one nobody reaped yet is a zombie: not alive).
alive() {
  [ -f "$1" ] || return 1
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]
}

wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${secs}s waiting for $what (logs in $DIR)"
    sleep 0.3
  done
}

install_packages() {
  local missing=()
  command -v patroni >/dev/null 2>&1 || missing+=(patroni)
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v pgbouncer >/dev/null 2>&1 && [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  [ -x "$PGBIN/postgres" ] || missing+=(postgresql-15)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run 'sudo $0 install' once"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # Debian's own etcd/pgbouncer services (if its init started them) are left alone: this
  # cluster runs private instances on its own ports, and never stops processes by name.
  if [ "$(id -u)" = 0 ] && ! id "$RUN_AS" >/dev/null 2>&1; then
    useradd --system --home-dir "$DIR" --shell /bin/bash "$RUN_AS"
  fi
}

write_node_config() {
  local n=$1 other=$(( $1 == 1 ? 2 : 1 ))
  local nd="$DIR/node$n"
  mkdir -p "$nd"
  cat > "$nd/patroni.yml" <<YAML
scope: $SCOPE
namespace: /operator/
name: node$n
restapi:
  listen: 127.0.0.1:${API_PORT[$n]}
  connect_address: 127.0.0.1:${API_PORT[$n]}
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    # Leader key TTL and loop: a dead leader is noticed in <= ttl seconds.
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: $MAX_LAG
    # Commits wait for the synchronous standby to flush them (synchronous_commit on), and
    # Patroni only promotes the node named as synchronous standby in etcd: an
    # acknowledged commit is on the node that takes over. Not strict: with the replica
    # down, the leader goes on alone (and nothing can be promoted until it is back in sync).
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 200
        wal_keep_size: 512MB
        hot_standby_feedback: "on"
        synchronous_commit: "on"
        timezone: UTC
        # Long reports on the standby may hold replay back briefly rather than be cancelled.
        max_standby_streaming_delay: 30s
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${PG_PORT[$n]}
  connect_address: 127.0.0.1:${PG_PORT[$n]}
  data_dir: $nd/data
  bin_dir: $PGBIN
  pgpass: $nd/pgpass
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: rewinder, password: rewinder}
  parameters:
    unix_socket_directories: $nd
  callbacks:
    on_start: $DIR/bin/on_role_change.sh
    on_role_change: $DIR/bin/on_role_change.sh
  remove_data_directory_on_rewind_failure: false
  remove_data_directory_on_diverged_timelines: false
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
YAML
  # The callback knows which node it runs on and who the other one is.
  cat > "$DIR/bin/node$n.env" <<ENV
SELF_PORT=${PG_PORT[$n]}
OTHER_PORT=${PG_PORT[$other]}
ENV
}

write_bouncer_config() {  # write_bouncer_config PRIMARY_PORT
  local primary=$1 bd="$DIR/pgbouncer"
  mkdir -p "$bd"
  cat > "$bd/pgbouncer.ini.new" <<INI
;; Generated by scripts/cluster.sh and rewritten by Patroni's on_role_change callback.
[databases]
; The app's primary: always the current leader.
$DB = host=127.0.0.1 port=$primary dbname=$DB
; Anything else (postgres, test databases) also goes to the leader.
* = host=127.0.0.1 port=$primary

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir = $bd
auth_type = trust
auth_file = $bd/userlist.txt
admin_users = postgres
; A server connection belongs to a client for one transaction only: the app keeps no
; session state (no prepared statements, no WITH HOLD cursors, no session SETs).
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
reserve_pool_size = 10
server_reset_query =
server_check_query = select 1
server_check_delay = 5
server_connect_timeout = 3
; A dead leader: fail clients at once rather than queue them, so they retry promptly.
server_login_retry = 1
query_wait_timeout = 20
ignore_startup_parameters = extra_float_digits
logfile = $bd/pgbouncer.log
pidfile = $bd/pgbouncer.pid
INI
  mv "$bd/pgbouncer.ini.new" "$bd/pgbouncer.ini"
  echo '"postgres" ""' > "$bd/userlist.txt"
}

write_callback() {
  mkdir -p "$DIR/bin"
  cat > "$DIR/bin/on_role_change.sh" <<SH
#!/usr/bin/env bash
# Patroni callback: <action> <role> <scope>. When this node becomes the leader, point
# PgBouncer at it; when it starts or rejoins as a replica, at the other node (the leader,
# or nobody yet: then writes fail fast and clients retry). Serialized by flock.
set -u
action=\$1 role=\$2
n=\${CLUSTER_NODE:?Patroni is started with CLUSTER_NODE set}
. "$DIR/bin/node\$n.env"
case "\$role" in
  master|primary|promoted) target=\$SELF_PORT ;;
  replica|standby_leader|demoted) target=\$OTHER_PORT ;;
  *) exit 0 ;;
esac
bd="$DIR/pgbouncer"
(
  flock 9
  current=\$(sed -n 's/^$DB = host=127.0.0.1 port=\([0-9]*\).*/\1/p' "\$bd/pgbouncer.ini")
  if [ "\$current" != "\$target" ]; then
    sed -i "s/port=\$current/port=\$target/g" "\$bd/pgbouncer.ini"
    psql -X -q -h 127.0.0.1 -p $BOUNCER_PORT -U postgres pgbouncer -c RELOAD >/dev/null 2>&1 || true
    echo "\$(date -u +%FT%T) \$action \$role node\$n: pgbouncer -> \$target" >> "\$bd/repoint.log"
  fi
) 9>"\$bd/repoint.lock"
SH
  chmod 755 "$DIR/bin/on_role_change.sh"
}

etcd_up() { curl -sf "http://127.0.0.1:$ETCD_PORT/health" | grep -q true; }
api_role() { curl -sf "http://127.0.0.1:${API_PORT[$1]}/patroni" | sed -n 's/.*"role": *"\([a-z_]*\)".*/\1/p'; }
leader_node() {
  local n
  for n in 1 2; do
    case "$(api_role $n 2>/dev/null)" in master|primary) echo "$n"; return 0 ;; esac
  done
  return 1
}
pg_rw() { psql -X -qAt -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null | grep -q t; }
sync_ok() {
  psql -X -qAt -h 127.0.0.1 -p "$1" -U postgres -d postgres \
    -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'" \
    2>/dev/null | grep -q '^1$'
}

start_etcd() {
  alive "$DIR/etcd.pid" && return 0
  mkdir -p "$DIR/etcd"
  chown -R "$RUN_AS" "$DIR" 2>/dev/null || true
  daemon "$DIR/etcd.pid" "$DIR/etcd.log" etcd --name etcd0 --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "etcd0=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new \
    --listen-metrics-urls "" --log-level warn
  wait_until 30 "etcd on $ETCD_PORT" etcd_up
}

start_node() {
  local n=$1
  alive "$DIR/node$n/patroni.pid" && return 0
  chown -R "$RUN_AS" "$DIR" 2>/dev/null || true
  # Its callbacks inherit CLUSTER_NODE, so they know which node they run on.
  as_user env CLUSTER_NODE="$n" bash -c 'cd "$0" || exit 1; setsid patroni "$0/patroni.yml" >>"$0/patroni.log" 2>&1 < /dev/null & echo $! > "$0/patroni.pid"' "$DIR/node$n"
}

start_bouncer() {
  alive "$DIR/pgbouncer/pgbouncer.pid" && return 0
  chown -R "$RUN_AS" "$DIR" 2>/dev/null || true
  as_user pgbouncer -d -q "$DIR/pgbouncer/pgbouncer.ini"
  wait_until 20 "pgbouncer on $BOUNCER_PORT" psql -X -qAt -h 127.0.0.1 -p "$BOUNCER_PORT" -U postgres pgbouncer -c "SHOW VERSION"
}

cmd_start() {
  install_packages
  mkdir -p "$DIR/bin"
  write_callback
  write_node_config 1
  write_node_config 2
  [ -f "$DIR/pgbouncer/pgbouncer.ini" ] || write_bouncer_config "${PG_PORT[1]}"
  start_etcd
  start_node 1
  wait_until 90 "a leader" leader_node
  local leader; leader=$(leader_node)
  local other=$(( leader == 1 ? 2 : 1 ))
  start_node "$other"
  wait_until 90 "node$other streaming as the synchronous standby" sync_ok "${PG_PORT[$leader]}"
  # Make sure PgBouncer points at the leader whatever happened to the callbacks so far.
  if ! grep -q "^$DB = host=127.0.0.1 port=${PG_PORT[$leader]} " "$DIR/pgbouncer/pgbouncer.ini"; then
    write_bouncer_config "${PG_PORT[$leader]}"
    psql -X -q -h 127.0.0.1 -p "$BOUNCER_PORT" -U postgres pgbouncer -c RELOAD >/dev/null 2>&1 || true
  fi
  start_bouncer
  if ! psql -X -qAt -h 127.0.0.1 -p "${PG_PORT[$leader]}" -U postgres -d postgres \
      -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    psql -X -q -h 127.0.0.1 -p "${PG_PORT[$leader]}" -U postgres -d postgres -c "CREATE DATABASE \"$DB\""
  fi
  log "up: leader node$leader, synchronous replica node$other (data in $DIR)"
  cmd_env
}

stop_pidfile() {  # stop_pidfile FILE [SIGNAL]
  local f=$1 sig=${2:-TERM}
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_postgres() {  # a postmaster left behind by a killed Patroni
  local pm="$DIR/node$1/data/postmaster.pid"
  [ -f "$pm" ] || return 0
  local pid; pid=$(head -1 "$pm")
  if kill -0 "$pid" 2>/dev/null; then
    as_user "$PGBIN/pg_ctl" -D "$DIR/node$1/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || kill -KILL "$pid" 2>/dev/null || true
  fi
}

cmd_stop() {
  stop_pidfile "$DIR/pgbouncer/pgbouncer.pid"
  # Replica first, so the leader never waits on a vanished synchronous standby.
  local leader; leader=$(leader_node 2>/dev/null || echo 1)
  local other=$(( leader == 1 ? 2 : 1 ))
  for n in "$other" "$leader"; do
    stop_pidfile "$DIR/node$n/patroni.pid"
    stop_postgres "$n"
  done
  stop_pidfile "$DIR/etcd.pid"
  log "stopped (data kept in $DIR)"
}

cmd_env() {
  cat <<ENV
# Primary: PgBouncer (transaction pooling), re-pointed at the leader by Patroni.
export DATABASE_URL=postgres://postgres@127.0.0.1:$BOUNCER_PORT/$DB
export DATABASE_POOL_MODE=transaction
# PgBouncer is the pool: no second one inside each process.
export DB_POOL=false
# Lagging reads: whichever node is a standby (libpq multi-host), else the leader.
export REPLICA_DATABASE_URL='postgres://postgres@127.0.0.1:${PG_PORT[1]},127.0.0.1:${PG_PORT[2]}/$DB?target_session_attrs=prefer-standby&connect_timeout=2'
ENV
}

case "${1:-}" in
  install) install_packages ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  destroy) cmd_stop; rm -rf "$DIR" ;;
  status) patronictl -c "$DIR/node1/patroni.yml" list ;;
  env) cmd_env ;;
  start-node) [ -n "${2:-}" ] || die "start-node needs 1 or 2"; start_node "$2" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
