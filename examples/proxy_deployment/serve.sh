#!/usr/bin/env bash
# pvegateway in front of two nodes of one PVE cluster: requests validated before they leave, either
# node used when the other is down, and rate limits shared through Redis by every worker (and by
# every gateway instance pointed at the same Redis).
#
#   PVE_NODE1=https://pve1:8006 PVE_NODE2=https://pve2:8006 \
#   PVE_CA=/etc/pve/pve-root-ca.pem REDIS_URL=redis://127.0.0.1:6379 ./serve.sh
#
# Trust: PVE_CA (the cluster's CA) or PVE_FINGERPRINT1/PVE_FINGERPRINT2 (each node's certificate: a
# --fingerprint pins the --upstream given just before it, and that node accepts only its own pins).
set -euo pipefail

: "${PVE_NODE1:?set PVE_NODE1, e.g. https://pve1:8006}"
: "${PVE_NODE2:?set PVE_NODE2, e.g. https://pve2:8006}"

nodes=(--upstream "$PVE_NODE1")
[ -n "${PVE_FINGERPRINT1:-}" ] && nodes+=(--fingerprint "$PVE_FINGERPRINT1")
nodes+=(--upstream "$PVE_NODE2")
[ -n "${PVE_FINGERPRINT2:-}" ] && nodes+=(--fingerprint "$PVE_FINGERPRINT2")
trust=()
[ -n "${PVE_CA:-}" ] && trust+=(--ca "$PVE_CA")

exec ${PVEGATEWAY:-pvegateway} serve --mode proxy \
    "${nodes[@]}" "${trust[@]}" \
    --rate-limit "${RATE_LIMIT:-write=20/second;read=100/second;login=5/minute}" \
    --rate-limit-storage "${REDIS_URL:-redis://127.0.0.1:6379}" \
    --workers "${WORKERS:-2}" \
    --host "${LISTEN_HOST:-127.0.0.1}" --port "${LISTEN_PORT:-8006}" \
    --state-dir "${STATE_DIR:-$HOME/.local/state/pvegateway}" \
    --metrics
