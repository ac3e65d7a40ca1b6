#!/usr/bin/env bash
# End-to-end check on a local kind cluster: build the image, install Postgres + MLflow + the dagster
# chart with our values, seed simulated raw logs, launch a backfill of one host-hour partition through
# the webserver's GraphQL API and wait until it succeeded with its step running as a Kubernetes Job.
#
# Needs: docker (running), kind >= 0.24 (its CNI enforces NetworkPolicy), kubectl, helm >= 3.8,
# curl, python3, ssh-keygen. Run from anywhere:  deploy/e2e-kind.sh
# Environment: CLUSTER (default mlops-assets), SMOKE_ASSET (default raw_logs), KEEP_CLUSTER=0 to
# delete the cluster at the end (default: keep it for inspection).
set -euo pipefail

CLUSTER="${CLUSTER:-mlops-assets}"
NAMESPACE="mlops"  # fixed in deploy/k8s/*.yaml
IMAGE="mlops-assets:local"  # what deploy/helm/values-kind.yaml and deploy/k8s/50-mlflow.yaml expect
SMOKE_ASSET="${SMOKE_ASSET:-raw_logs}"
SMOKE_HOST="gpu-node-01"  # the host deploy/k8s/kind/seed-raw-logs.yaml simulates
SMOKE_HOUR="2026-11-01-01:00"  # inside the seeded 6 hours
CODE_LOCATION="mlops-assets"  # deployment name in values.yaml
KEEP_CLUSTER="${KEEP_CLUSTER:-1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
PF_PID=""

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

cleanup() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  if [ "$KEEP_CLUSTER" = "0" ]; then kind delete cluster --name "$CLUSTER" || true; fi
}
trap cleanup EXIT

# --- prerequisites ---------------------------------------------------------------------------------
for tool in docker kind kubectl helm curl python3 ssh-keygen; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not on PATH: install it first (see deploy/README.md)"
done
docker info >/dev/null 2>&1 || die "docker is installed but the daemon is not reachable (is it running? are you in the docker group?)"
CHART_VERSION="$(python3 - "$ROOT/uv.lock" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'\[\[package\]\]\nname = "dagster"\nversion = "([^"]+)"', text)
print(m.group(1) if m else "")
PY
)"
[ -n "$CHART_VERSION" ] || die "could not read the dagster version from uv.lock (the chart version must match it)"
echo "dagster chart version: $CHART_VERSION"

# --- cluster and image -----------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "reusing kind cluster $CLUSTER"
else
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

log "building $IMAGE"
docker build -f "$ROOT/deploy/Dockerfile" -t "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

# --- platform objects ------------------------------------------------------------------------------
log "namespace, RBAC, config"
kubectl apply -f "$ROOT/deploy/k8s/00-namespace.yaml" -f "$ROOT/deploy/k8s/10-rbac.yaml"
# kind's local-path provisioner only offers ReadWriteOnce (fine: one node); the kind demo ingests the
# seeded landing folder instead of SSH.
sed 's/\["ReadWriteMany"\]/["ReadWriteOnce"]/' "$ROOT/deploy/k8s/20-config.yaml" | kubectl apply -f -
kubectl -n "$NAMESPACE" patch configmap mlops-assets-env --type merge -p '{"data":{"MLOPS_LOG_SOURCE":"directory"}}'

log "secrets (generated for this throwaway cluster; never from deploy/k8s/30-secrets.template.yaml)"
PG_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
ssh-keygen -q -t ed25519 -N "" -C "mlops-assets-kind" -f "$WORK/id_ed25519"
: >"$WORK/known_hosts"
apply_secret() { kubectl -n "$NAMESPACE" create secret generic "$@" --dry-run=client -o yaml | kubectl apply -f -; }
if ! kubectl -n "$NAMESPACE" get secret dagster-postgresql-secret >/dev/null 2>&1; then
  apply_secret dagster-postgresql-secret --from-literal=postgresql-password="$PG_PASSWORD"
fi
apply_secret mlops-assets-ssh --from-file=id_ed25519="$WORK/id_ed25519" --from-file=known_hosts="$WORK/known_hosts"
apply_secret mlops-assets-secrets --from-literal=GEMINI_API_KEY="" --from-literal=MLOPS_WEBHOOK_URL="" \
  --from-literal=MLOPS_SLACK_WEBHOOK_URL=""

log "PostgreSQL, MLflow, network policies"
kubectl apply -f "$ROOT/deploy/k8s/40-postgres.yaml" -f "$ROOT/deploy/k8s/50-mlflow.yaml" \
  -f "$ROOT/deploy/k8s/60-networkpolicy.yaml"
kubectl -n "$NAMESPACE" rollout status statefulset/dagster-postgresql --timeout=300s
kubectl -n "$NAMESPACE" rollout status deployment/mlflow --timeout=300s

log "seeding simulated raw logs into the shared PVC"
kubectl -n "$NAMESPACE" delete job seed-raw-logs --ignore-not-found
kubectl apply -f "$ROOT/deploy/k8s/kind/seed-raw-logs.yaml"
kubectl -n "$NAMESPACE" wait --for=condition=complete job/seed-raw-logs --timeout=300s \
  || { kubectl -n "$NAMESPACE" logs job/seed-raw-logs || true; die "seeding failed"; }

# --- dagster ---------------------------------------------------------------------------------------
log "helm upgrade --install dagster (chart $CHART_VERSION)"
helm repo add dagster https://dagster-io.github.io/helm >/dev/null 2>&1 || true
helm repo update dagster >/dev/null
helm upgrade --install dagster dagster/dagster --version "$CHART_VERSION" -n "$NAMESPACE" \
  -f "$ROOT/deploy/helm/values.yaml" -f "$ROOT/deploy/helm/values-kind.yaml" --wait --timeout 15m

WEB_POD="$(kubectl -n "$NAMESPACE" get pods -l component=dagster-webserver -o jsonpath='{.items[0].metadata.name}')"
[ -n "$WEB_POD" ] || die "no webserver pod (label component=dagster-webserver)"
kubectl -n "$NAMESPACE" port-forward "pod/$WEB_POD" 18080:8080 >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
for _ in $(seq 1 30); do curl -fsS http://127.0.0.1:18080/server_info >/dev/null 2>&1 && break; sleep 2; done
curl -fsS http://127.0.0.1:18080/server_info >/dev/null || die "webserver not reachable through port-forward: $(cat "$WORK/port-forward.log")"

# POST a GraphQL document; prints the JSON response; fails on transport or GraphQL errors.
gql() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
query, variables = sys.argv[1], json.loads(sys.argv[2])
req = urllib.request.Request("http://127.0.0.1:18080/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                             headers={"Content-Type": "application/json"})
body = json.load(urllib.request.urlopen(req, timeout=60))
if body.get("errors"):
    sys.exit(f"GraphQL errors: {body['errors']}")
print(json.dumps(body["data"]))
PY
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }

log "registering host partition $SMOKE_HOST"
REPO_SELECTOR="{\"repositoryLocationName\": \"$CODE_LOCATION\", \"repositoryName\": \"__repository__\"}"
gql 'mutation($r: RepositorySelector!, $k: String!) { addDynamicPartition(repositorySelector: $r, partitionsDefName: "hosts", partitionKey: $k) { __typename ... on PythonError { message } } }' \
  "{\"r\": $REPO_SELECTOR, \"k\": \"$SMOKE_HOST\"}"

log "launching a backfill of $SMOKE_ASSET for $SMOKE_HOST|$SMOKE_HOUR"
RESULT="$(gql 'mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }' \
  "{\"p\": {\"assetSelection\": [{\"path\": [\"$SMOKE_ASSET\"]}], \"partitionNames\": [\"$SMOKE_HOST|$SMOKE_HOUR\"], \"fromFailure\": false}}")"
BACKFILL_ID="$(echo "$RESULT" | json_get "d['launchPartitionBackfill'].get('backfillId') or ''")"
[ -n "$BACKFILL_ID" ] || die "backfill not launched: $RESULT"
echo "backfill $BACKFILL_ID"

log "waiting for the run (step pods must appear as Kubernetes Jobs)"
STATUS=""
for _ in $(seq 1 90); do
  RUNS="$(gql 'query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) { ... on Runs { results { runId status } } } }' "{\"id\": \"$BACKFILL_ID\"}")"
  STATUS="$(echo "$RUNS" | json_get "','.join(r['status'] for r in d['runsOrError']['results'])")"
  case "$STATUS" in
    SUCCESS) break ;;
    *FAILURE*|*CANCELED*) break ;;
  esac
  sleep 10
done
kubectl -n "$NAMESPACE" get jobs -l app.kubernetes.io/component=step_worker -o wide || true
STEP_JOBS="$(kubectl -n "$NAMESPACE" get jobs -l app.kubernetes.io/component=step_worker -o name | wc -l)"
[ "$STATUS" = "SUCCESS" ] || die "run status '$STATUS' (see: kubectl -n $NAMESPACE logs -l app.kubernetes.io/component=run_worker)"
[ "$STEP_JOBS" -ge 1 ] || die "the run succeeded but no step_worker Job was created: the k8s executor is not in use"
log "OK: $SMOKE_ASSET materialized for $SMOKE_HOST|$SMOKE_HOUR in $STEP_JOBS step Job(s)"
echo "UI: kubectl -n $NAMESPACE port-forward pod/$WEB_POD 8080:8080  ->  http://127.0.0.1:8080"
[ "$KEEP_CLUSTER" = "0" ] || echo "delete the cluster with: kind delete cluster --name $CLUSTER"
