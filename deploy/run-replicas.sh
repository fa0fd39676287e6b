#!/usr/bin/env bash
# The multi-replica deployment on one machine, every part real: two bot replicas for
# company #2 behind nginx on http://127.0.0.1:7860 (sticky signalling), one shared LLM
# server (voicebot-llm) instead of one model per replica, and one business database.
#
#   bash deploy/run-replicas.sh              # shared SQLite file (fine on one host)
#   bash deploy/run-replicas.sh --postgres   # a local PostgreSQL cluster (Debian's postgresql)
#   REPLICAS=3 bash deploy/run-replicas.sh   # more replicas (ports 7861, 7862, ...)
#
# Ctrl-C stops everything. Logs: run/stack/*.log. With VOICEBOT_DB=postgresql://... already
# exported, that database is used; with OPENAI_BASE_URL exported, that LLM server is.
# See docs/deploy.md for running the same parts on several hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
REPLICAS="${REPLICAS:-2}"
LLM_PORT="${LLM_PORT:-8080}"
use_postgres=0
for arg in "$@"; do
  case "$arg" in
    --postgres) use_postgres=1 ;;
    *) echo "usage: bash deploy/run-replicas.sh [--postgres]" >&2; exit 2 ;;
  esac
done

stack="$PWD/run/stack"
mkdir -p "$stack"
pids=()
pg_data=""
cleanup() {
  trap - EXIT INT TERM
  nginx -p "$PWD" -c "$stack/nginx.conf" -s quit 2>/dev/null || true
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$pg_data" ]; then as_postgres "$pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT INT TERM

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# 1. The business database: every replica must book into the same one.
if [ -z "${VOICEBOT_DB:-}" ] && [ "$use_postgres" = 1 ]; then
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  pg_ctl="$pg_bin/pg_ctl"
  pg_data="$stack/pg"
  if [ ! -d "$pg_data" ]; then
    mkdir -p "$pg_data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_data"
    as_postgres "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres >/dev/null
  fi
  as_postgres "$pg_ctl" -D "$pg_data" -o "-p 5433 -k $pg_data -c listen_addresses=127.0.0.1" \
    -l "$pg_data/server.log" -w start >/dev/null
  as_postgres "$pg_bin/psql" -h 127.0.0.1 -p 5433 -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='voicebot'" | grep -q 1 \
    || as_postgres "$pg_bin/createdb" -h 127.0.0.1 -p 5433 -U postgres voicebot
  export VOICEBOT_DB="postgresql://postgres@127.0.0.1:5433/voicebot"
fi
export VOICEBOT_DB="${VOICEBOT_DB:-$stack/business.db}"
echo "business database: $VOICEBOT_DB"

# 2. One LLM for all replicas (the embedded model, served once).
if [ -z "${OPENAI_BASE_URL:-}" ]; then
  export VOICEBOT_LLM_API_KEY="${VOICEBOT_LLM_API_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')}"
  uv run voicebot-llm --port "$LLM_PORT" --slots "$REPLICAS" > "$stack/llm.log" 2>&1 &
  pids+=($!)
  until grep -q '^OPENAI_BASE_URL=' "$stack/llm.log" 2>/dev/null; do
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "voicebot-llm failed:" >&2; tail -5 "$stack/llm.log" >&2; exit 1; }
    sleep 1
  done
  export OPENAI_BASE_URL="http://127.0.0.1:$LLM_PORT/v1" OPENAI_API_KEY="$VOICEBOT_LLM_API_KEY"
  export VOICEBOT_LLM_MODEL="$(sed -n 's/^VOICEBOT_LLM_MODEL=//p' "$stack/llm.log")"
  echo "shared LLM ready at $OPENAI_BASE_URL"
fi

# 3. The replicas: one warm TTS worker and one call each, to fit one small machine.
export VOICEBOT_TTS_POOL_SIZE="${VOICEBOT_TTS_POOL_SIZE:-1}" VOICEBOT_MAX_CALLS="${VOICEBOT_MAX_CALLS:-1}"
# nginx runs on this host: its X-Forwarded-For is believed, so per-address limits see the caller.
export VOICEBOT_TRUSTED_PROXIES="${VOICEBOT_TRUSTED_PROXIES:-127.0.0.1}"
upstreams=""
replica_pids=()
for i in $(seq 1 "$REPLICAS"); do
  port=$((7860 + i))
  mkdir -p "$stack/replica-$port"
  (cd "$stack/replica-$port" && exec uv run --project "$OLDPWD" "$OLDPWD/server/06_parallel_tts_warmup.py" 2 \
    --host 127.0.0.1 --port "$port") > "$stack/replica-$port.log" 2>&1 &
  pids+=($!)
  replica_pids+=($!)
  upstreams+="        server 127.0.0.1:$port;"$'\n'
done
for i in $(seq 1 "$REPLICAS"); do
  port=$((7860 + i))
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
    kill -0 "${replica_pids[$((i - 1))]}" 2>/dev/null || { echo "replica :$port failed:" >&2; tail -5 "$stack/replica-$port.log" >&2; exit 1; }
    sleep 2
  done
  echo "replica on :$port ready"
done

# 4. nginx in front, sticky by client address (deploy/nginx.conf with this stack's replicas).
awk -v servers="$upstreams" '/server 127.0.0.1:786[1-9];/ { if (!done) { printf "%s", servers; done = 1 } next } { print }' \
  deploy/nginx.conf > "$stack/nginx.conf"
nginx -p "$PWD" -c "$stack/nginx.conf"
echo "serving on http://127.0.0.1:7860 ($REPLICAS replicas behind nginx)"
wait "${pids[@]}"
