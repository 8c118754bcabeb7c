# Helpers shared by supervise.sh and simulator.sh; sourced, never run on its own.
# Everything here is a shell builtin: these run while pods idle, where every fork costs a
# millisecond of CPU times hundreds of pods.

# REPLY: milliseconds as an argument for sleep (1500 -> 1.500).
ms_to_seconds() {
  _fraction=$(($1 % 1000 + 1000))
  REPLY=$(($1 / 1000)).${_fraction#1}
}

is_count() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
}

# proc_state, proc_ppid, proc_start (clock ticks after boot) of a process, from /proc/<pid>/stat;
# fails where there is no such entry.
read_proc_stat() {
  _stat=
  { read -r _stat <"/proc/$1/stat"; } 2>/dev/null || [ -n "$_stat" ] || return 1
  # The command name (field 2) may hold spaces and parentheses; the fields after the last ')' do not.
  set -- ${_stat##*)}
  proc_state=$1 proc_ppid=$2 proc_start=${20}
}

# Alive and not a zombie; kill -0 alone where /proc is absent.
is_running() {
  [ -n "$1" ] || return 1
  if read_proc_stat "$1"; then [ "$proc_state" != Z ]; else kill -0 "$1" 2>/dev/null; fi
}

# The environment the local runtime labels every pod process with (podLabels and startPod in
# libs/cloud/src/local), plus simulator.sh's own marker. It finds pods by these labels in
# /proc/<pid>/environ, so the helper processes the scripts start must not carry them.
POD_LABELS='SIMDEPLOY_STATE_DIR SIMDEPLOY_DEPLOYMENT_ID SIMDEPLOY_POD_NAME SIMDEPLOY_POD_ROLE SIMDEPLOY_WORLD SIMDEPLOY_IMAGE SIMDEPLOY_READY_FILE SIMDEPLOY_ROBOT SIMDEPLOY_SIMULATOR_PARENT'

# A fork shows its parent's environment until it execs, however the parent's variables changed, so
# a labelled script forks as little as it can, and only where nobody is counting pod processes yet.
unset_pod_labels() {
  unset $POD_LABELS
}
