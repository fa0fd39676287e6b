#!/usr/bin/env bash
# Two replicas of the bot for company #2 behind nginx on http://127.0.0.1:7860 (loopback).
#
#   bash deploy/run-replicas.sh          # Ctrl-C stops everything
#
# Each replica loads its own models. To share one LLM between replicas, start an
# OpenAI-compatible server (llama.cpp's llama-server, vLLM, ...) and export
# OPENAI_BASE_URL=http://that-host:port/v1 before running this (see docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export VOICEBOT_TTS_POOL_SIZE="${VOICEBOT_TTS_POOL_SIZE:-1}" VOICEBOT_MAX_CALLS="${VOICEBOT_MAX_CALLS:-1}"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; nginx -p "$PWD" -c deploy/nginx.conf -s quit 2>/dev/null; wait' EXIT INT TERM
for port in 7861 7862; do
  mkdir -p "run/replica-$port"
  (cd "run/replica-$port" && exec uv run ../../server/06_parallel_tts_warmup.py 2 --host 127.0.0.1 --port "$port") \
    > "run/replica-$port/output.log" 2>&1 &
  pids+=($!)
done
for port in 7861 7862; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 2; done
  echo "replica on :$port ready"
done
nginx -p "$PWD" -c deploy/nginx.conf
echo "serving on http://127.0.0.1:7860 (2 replicas behind nginx)"
wait "${pids[@]}"
