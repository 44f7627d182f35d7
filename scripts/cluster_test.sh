#!/usr/bin/env bash
# make cluster-test: a fresh cluster (etcd, two Patroni nodes, PgBouncer) on its own ports
# and data directory, the app's database migrated through PgBouncer, then tests/cluster
# against it; the cluster is destroyed afterwards whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.."
export CLUSTER_PORT_BASE=${CLUSTER_TEST_PORT_BASE:-15700}
export CLUSTER_DIR=${CLUSTER_TEST_DIR:-/tmp/operator-cluster-test-$CLUSTER_PORT_BASE}
export CLUSTER_DB=operator_ha
export DJANGO_SETTINGS_MODULE=config.settings.test
# Withdrawals in these tests are below the KYC threshold: the gates are tested elsewhere.
export KYC_WITHDRAWAL_THRESHOLD=${KYC_WITHDRAWAL_THRESHOLD:-1000000}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

bash scripts/cluster.sh destroy >/dev/null 2>&1 || true
cleanup() { bash scripts/cluster.sh destroy >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

bash scripts/cluster.sh start >/dev/null || exit 1
eval "$(bash scripts/cluster.sh env)"
.venv/bin/python manage.py migrate --noinput -v 0 || exit 1
.venv/bin/pytest ${CLUSTER_TESTS:-tests/cluster} -p no:randomly -v -rs "$@"
rc=$?
if [ $rc -ne 0 ]; then
  for f in "$CLUSTER_DIR"/node1/patroni.log "$CLUSTER_DIR"/node2/patroni.log "$CLUSTER_DIR"/pgbouncer/repoint.log; do
    [ -f "$f" ] && { echo "== tail of $f"; grep -v "no action" "$f" | tail -n 40; }
  done
fi
exit $rc
