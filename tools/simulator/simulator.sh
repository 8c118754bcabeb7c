#!/bin/sh
# The default pod program of the local runtime: stands in for a simulator, robot or bridge.
#   sh simulator.sh [--role simulator|robot|bridge] [--ready-after-ms N]
#                   [--fail-after-ms N [--exit-code C]]
# Creates $SIMDEPLOY_READY_FILE once ready, exits 0 on SIGTERM, and exits when its parent (the
# pod supervisor) goes away, so it never runs orphaned. Idle, it is one blocked shell: the
# parent's death arrives as SIGTERM (a parent-death signal set through setpriv), not by polling.
set -f
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
. "$here/pod-lib.sh"

if [ -z "${SIMDEPLOY_SIMULATOR_PARENT:-}" ] && command -v setpriv >/dev/null 2>&1; then
  SIMDEPLOY_SIMULATOR_PARENT=$PPID
  export SIMDEPLOY_SIMULATOR_PARENT
  exec setpriv --pdeathsig TERM /bin/sh "$0" "$@"
fi

usage() {
  echo 'usage: simulator.sh [--role simulator|robot|bridge] [--ready-after-ms N] [--fail-after-ms N [--exit-code C]]' >&2
  exit 2
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

parent=${SIMDEPLOY_SIMULATOR_PARENT:-$PPID}
name=${SIMDEPLOY_POD_NAME:-} ready_file=${SIMDEPLOY_READY_FILE:-}
world=${SIMDEPLOY_WORLD:--} image=${SIMDEPLOY_IMAGE:--}
unset_pod_labels
timer=

log() {
  printf '[%s %s] %s\n' "$role" "$name" "$1"
}

parent_gone() {
  if read_proc_stat $$; then [ "$proc_ppid" != "$parent" ]; else ! kill -0 "$parent" 2>/dev/null; fi
}

stop() {
  [ -z "$timer" ] || kill "$timer" 2>/dev/null
  if parent_gone; then log "parent $parent is gone, stopping"; else log 'SIGTERM received, stopping'; fi
  exit 0
}
trap stop TERM

log "starting: world=$world image=$image pid=$$"
# The parent may have died before the parent-death signal was armed.
! parent_gone || stop

# Idling blocks in `read` on a FIFO nobody writes to (this shell holds both ends). It is set up
# before the ready file appears, so the pod forks nothing once it reports ready.
idle_fifo=${TMPDIR:-/tmp}/simdeploy-simulator.$$
rm -f "$idle_fifo"
idle_fd=
! mkfifo -m 600 "$idle_fifo" || { exec 3<>"$idle_fifo" && idle_fd=3; }
rm -f "$idle_fifo"

pause_ms() {
  [ "$1" -gt 0 ] || return 0
  ms_to_seconds "$1"
  sleep "$REPLY" &
  timer=$!
  wait "$timer" 2>/dev/null
  timer=
}

fail() {
  log "failing on purpose with exit code $exit_code"
  exit "$exit_code"
}

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
while :; do
  if [ -n "$idle_fd" ]; then read -r _ <&3; else pause_ms 3600000; fi
done
