#!/bin/sh
# Runs one pod's command for the local runtime:
#   sh supervise.sh --pod <path prefix of the pod's files> --owner-file <owner.pid>
#                   [--grace-ms 5000] [--poll-ms 250] -- <command> [args...]
# The local runtime starts it detached, as leader of its own process group, so the pod survives
# a restart of the launcher; it stops the pod (SIGTERM to the group, SIGKILL after the grace
# period) when the runtime owner named in the owner file is gone or when it is sent SIGTERM,
# SIGINT or SIGHUP, and records how the command ended in <pod>.exit for checkWorkload.
# POSIX sh (dash) plus coreutils and util-linux, about 2 MB per process instead of Node's 40.
#
# Idle cost matters as much as memory with hundreds of pods: a shell loop around `sleep` forks
# and execs every poll, about a millisecond of CPU each. So nothing here polls. One `tail --pid`
# per pod watches the owner's pid (checked every poll-ms inside tail, no fork), a `sleep` every
# RECHECK_POLLS polls re-reads the owner file for the rest of the rule (zombie, start time, new
# owner), and the shell blocks in `wait` on the command.
#
# dash runs a trap only after the builtin it interrupted returns (or between commands), and runs
# traps nested inside traps. So every decision is taken inside the traps themselves, never by the
# main loop after a wait (a trap that ran just before `wait` began would otherwise be missed), and
# one guard keeps nested traps from recursing: a trap arriving during another only asks the
# running one to look again.
set -f
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
. "$here/pod-lib.sh"

RECHECK_POLLS=20

usage() {
  echo 'usage: supervise.sh --pod <prefix> --owner-file <file> [--grace-ms N] [--poll-ms N] -- <command...>' >&2
  exit 2
}

pod= owner_file= grace_ms=5000 poll_ms=250
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  [ $# -ge 2 ] || usage
  case $1 in
    --pod) pod=$2 ;;
    --owner-file) owner_file=$2 ;;
    --grace-ms) grace_ms=$2 ;;
    --poll-ms) poll_ms=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[ $# -gt 0 ] && shift
[ -n "$pod" ] && [ -n "$owner_file" ] && [ $# -gt 0 ] && is_count "$grace_ms" && is_count "$poll_ms" && [ "$poll_ms" -gt 0 ] || usage

log() {
  printf '[supervise %s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1"
}

# Same JSON as the Node supervisor wrote ({code, signal, reason, at}), replaced in one rename.
write_exit() {
  _tmp=$pod.exit.$$.tmp
  printf '{"code":%s,"signal":%s,"reason":"%s","at":"%s"}' "$1" "$2" "$3" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" >"$_tmp" &&
    mv -f "$_tmp" "$pod.exit" || log 'could not record the exit'
}

# REPLY: the value of key $1 in $owner_json, quotes dropped; fails when the key is absent.
owner_field() {
  case $owner_json in *"\"$1\":"*) ;; *) return 1 ;; esac
  REPLY=${owner_json#*"\"$1\":"}
  REPLY=${REPLY#"${REPLY%%[! ]*}"}
  case $REPLY in
    \"*) REPLY=${REPLY#\"} REPLY=${REPLY%%\"*} ;;
    *) REPLY=${REPLY%%[,\} ]*} ;;
  esac
}

# Same rule as isOwnerAlive in libs/cloud/src/local/runtime-owner.ts: pid alive, not a zombie,
# and the start time recorded with it, so a reused pid is not mistaken for the owner.
owner_alive() {
  owner_json= owner_pid=
  { read -r owner_json <"$owner_file"; } 2>/dev/null || [ -n "$owner_json" ] || return 1
  owner_field pid && is_count "$REPLY" && [ "$REPLY" -gt 0 ] || return 1
  owner_pid=$REPLY
  read_proc_stat "$owner_pid" || {
    kill -0 "$owner_pid" 2>/dev/null
    return
  }
  [ "$proc_state" != Z ] || return 1
  ! owner_field startTime || [ "$REPLY" = "$proc_start" ]
}

# Every helper that ended is waited for: dash keeps a finished background job until `wait` reads
# it, and an idle pod restarts its recheck timer thousands of times a day.
start_owner_watch() {
  if ! is_running "$watcher" || [ "$watched" != "$owner_pid" ]; then
    if [ -n "$watcher" ]; then
      kill "$watcher" 2>/dev/null
      wait "$watcher" 2>/dev/null
    fi
    # setpriv: the watcher dies with this shell even when only the shell is killed.
    $die_with_parent tail --pid="$owner_pid" -s "$poll_s" -f /dev/null >/dev/null 3>&- &
    watcher=$! watched=$owner_pid
  fi
  if ! is_running "$recheck"; then
    [ -z "$recheck" ] || wait "$recheck" 2>/dev/null
    sleep "$recheck_s" 3>&- &
    recheck=$!
  fi
}

stop() {
  stop_reason=$1
  log "stopping: $1"
  # The whole group, so processes the command started go too; our own SIGTERM only re-enters the guard.
  kill -TERM -$$ 2>/dev/null || kill -TERM "$child" 2>/dev/null
  # Started after the group SIGTERM, and deaf to later ones, so only its own end fires the SIGKILL.
  (
    trap '' TERM INT HUP
    exec sleep "$grace_s"
  ) &
  grace_timer=$!
}

react() {
  # Once the command is gone the main loop records its exit; starting jobs now could make dash
  # forget the status it keeps for `wait`.
  is_running "$child" || return 0
  [ -n "$stop_reason" ] || [ -z "$requested_stop" ] || stop "$requested_stop"
  if [ -n "$stop_reason" ]; then
    if [ -n "$grace_timer" ] && ! is_running "$grace_timer"; then
      log "still running after $grace_ms ms: SIGKILL"
      kill -KILL -$$ 2>/dev/null
      kill -KILL "$child" 2>/dev/null
      exit 137
    fi
  elif ! is_running "$watcher" || ! is_running "$recheck"; then
    if owner_alive; then start_owner_watch; else stop 'runtime owner is gone'; fi
  fi
}

on_event() {
  case $1 in TERM | INT | HUP) requested_stop=${requested_stop:-SIG$1} ;; esac
  if [ -n "$reacting" ]; then
    look_again=1
    return
  fi
  reacting=1 look_again=1
  while [ -n "$look_again" ]; do
    look_again=
    react
  done
  reacting=
}

finish() {
  trap '' TERM INT HUP
  trap - CHLD
  for _helper in "$watcher" "$recheck" "$grace_timer"; do [ -z "$_helper" ] || kill -KILL "$_helper" 2>/dev/null; done
  code=$1 signal=null signal_json=null
  # sh reports death by signal N as status 128+N (a plain exit with such a code reads the same).
  if [ "$1" -gt 128 ] && _name=$(kill -l "$1" 2>/dev/null); then code=null signal=SIG$_name signal_json="\"SIG$_name\""; fi
  log "command exited (code $code, signal $signal)"
  write_exit "$code" "$signal_json" "${stop_reason:-${requested_stop:-exited}}"
  [ "$code" = null ] && exit 1
  exit "$code"
}

command_name=$1
case $command_name in
  */*) [ -f "$command_name" ] && [ -x "$command_name" ] ;;
  *) command -v "$command_name" >/dev/null 2>&1 ;;
esac || {
  if [ -e "$command_name" ] || command -v "$command_name" >/dev/null 2>&1; then problem='permission denied'; else problem='not found'; fi
  log "could not start $command_name: $problem"
  write_exit 127 null "spawn failed: $problem"
  exit 127
}

ms_to_seconds "$poll_ms"
poll_s=$REPLY
ms_to_seconds $((poll_ms * RECHECK_POLLS))
recheck_s=$REPLY
ms_to_seconds "$grace_ms"
grace_s=$REPLY
die_with_parent=
! command -v setpriv >/dev/null 2>&1 || die_with_parent='setpriv --pdeathsig KILL'
child= watcher= watched= recheck= grace_timer= stop_reason= requested_stop= reacting= look_again=

# Start-up order keeps the pod looking like two processes to whoever counts them by their labels:
# the labels move from this shell's environment onto the command's env line, the helpers start
# (a fork shows this shell's labels and command line until it execs), the command starts last,
# and only then does the runtime, waiting on fd 3 when it opened one, hear "started". From there
# this shell forks nothing until the command ends or it is told to stop, but for the recheck timer.
command_text=$*
for _name in $POD_LABELS; do
  eval "_value=\${$_name-} _set=\${$_name+set}"
  [ -z "$_set" ] || set -- "$_name=$_value" "$@"
done
unset_pod_labels
! owner_alive || start_owner_watch
started_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)

# A background job of a non-interactive shell ignores SIGINT and SIGQUIT; env gives the command
# the default actions a directly spawned program would have, and its labels. It execs, so $! is
# the command itself.
env --default-signal=INT,QUIT -- "$@" 3>&- &
child=$!
printf '[supervise %s] %s\n' "$started_at" "started pid $child: $command_text"
{ echo started >&3; } 2>/dev/null
exec 3>&-

trap 'on_event TERM' TERM
trap 'on_event INT' INT
trap 'on_event HUP' HUP
trap 'on_event CHLD' CHLD
on_event START

# Any trap ends the wait early; only the command's end leaves the loop. The second wait reads the
# status dash keeps for the finished job, whichever of the two waits saw it end. (2>/dev/null: dash
# would print "Terminated" or "Killed" into the pod log for a command killed by a signal.)
while is_running "$child"; do wait "$child" 2>/dev/null; done
wait "$child" 2>/dev/null
finish $?
