#!/bin/sh
# The default pod program of the local runtime: stands in for a simulator, robot or bridge.
#   sh simulator.sh [--role simulator|robot|bridge] [--ready-after-ms N]
#                   [--fail-after-ms N [--exit-code C]]
# Logs go to stderr. Every line read on stdin is answered on stdout with "echo: <line>": the
# pod host bridges the simulator's WebSocket port to these two, so the access proxy reaches a
# process that really answers. Creates $SIMDEPLOY_READY_FILE once ready and exits 0 on SIGTERM,
# or when stdin closes (its pod host is gone). Idle, it is one shell blocked in `read`: it forks
# nothing but the `sleep` of a delay given on the command line.
set -f

usage() {
  echo 'usage: simulator.sh [--role simulator|robot|bridge] [--ready-after-ms N] [--fail-after-ms N [--exit-code C]]' >&2
  exit 2
}

is_count() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
}

role=${SIMDEPLOY_POD_ROLE:-simulator} ready_after_ms=0 fail_after_ms= exit_code=1
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case $1 in
    --role) role=$2 ;;
    --ready-after-ms) ready_after_ms=$2 ;;
    --fail-after-ms) fail_after_ms=$2 ;;
    --exit-code) exit_code=$2 ;;
    *) usage ;;
  esac
  shift 2
done
is_count "$ready_after_ms" && is_count "$exit_code" && { [ -z "$fail_after_ms" ] || is_count "$fail_after_ms"; } || usage

name=${SIMDEPLOY_POD_NAME:-} ready_file=${SIMDEPLOY_READY_FILE:-}
world=${SIMDEPLOY_WORLD:--} image=${SIMDEPLOY_IMAGE:--}
timer=

log() {
  printf '[%s %s] %s\n' "$role" "$name" "$1" >&2
}

stop() {
  [ -z "$timer" ] || kill "$timer" 2>/dev/null
  log 'SIGTERM received, stopping'
  exit 0
}
trap stop TERM

# 1500 -> 1.500, for sleep.
pause_ms() {
  [ "$1" -gt 0 ] || return 0
  _fraction=$(($1 % 1000 + 1000))
  sleep "$(($1 / 1000)).${_fraction#1}" &
  timer=$!
  wait "$timer" 2>/dev/null
  timer=
}

fail() {
  log "failing on purpose with exit code $exit_code"
  exit "$exit_code"
}

log "starting: world=$world image=$image pid=$$"
if [ -n "$fail_after_ms" ] && [ "$fail_after_ms" -lt "$ready_after_ms" ]; then
  pause_ms "$fail_after_ms"
  fail
fi
pause_ms "$ready_after_ms"
[ -z "$ready_file" ] || printf '%s\n' $$ >"$ready_file"
log ready
if [ -n "$fail_after_ms" ]; then
  pause_ms $((fail_after_ms - ready_after_ms))
  fail
fi
while IFS= read -r line; do
  printf 'echo: %s\n' "$line"
done
log 'stdin closed (the pod host is gone), stopping'
