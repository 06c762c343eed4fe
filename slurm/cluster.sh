#!/usr/bin/env bash
# A real single-node Slurm on this machine, started by hand: munged + slurmctld + slurmd as
# root, no systemd, no cgroups. For tests and for trying `locsweep submit` locally.
#
#   eval "$(slurm/cluster.sh start)"   # prints `export SLURM_CONF=...` lines; waits for idle
#   slurm/cluster.sh status            # what runs (exit 0: all three daemons up)
#   slurm/cluster.sh env               # the export lines again
#   slurm/cluster.sh stop [--remove]   # cancels running jobs, stops the daemons by PID file;
#                                      # --remove also deletes the state folder
#
# The state folder (slurm.conf, munge key and socket, PID files, logs, Slurm state) is
# $LOCSWEEP_SLURM_DIR, or for `start` a fresh `mktemp -d` when that is unset. stop/status/env
# find it from $LOCSWEEP_SLURM_DIR or from $SLURM_CONF's folder. Ports are picked free at start,
# so several clusters (different folders) can run side by side.
#
# Environment: LOCSWEEP_SLURM_DIR, LOCSWEEP_SLURM_CPUS (CPUs advertised; default 8, more than
# the machine has so tests can run several ranks), LOCSWEEP_SLURM_GPUS (stand-in GPUs the node
# advertises as GRES gpu, for layout tests: /dev/tty0..N-1 as their device files, so Slurm sets
# CUDA_VISIBLE_DEVICES; default 0), LOCSWEEP_SLURM_TIMEOUT (seconds to wait for the node to
# become idle; default 30).
set -euo pipefail

readonly MARKER=locsweep-slurm-cluster  # a file of this name marks a folder as ours
CPUS=${LOCSWEEP_SLURM_CPUS:-8}
GPUS=${LOCSWEEP_SLURM_GPUS:-0}
TIMEOUT=${LOCSWEEP_SLURM_TIMEOUT:-30}

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# The state folder of an existing cluster: $LOCSWEEP_SLURM_DIR, else $SLURM_CONF's folder.
existing_dir() {
  local dir=${LOCSWEEP_SLURM_DIR:-}
  if [[ -z $dir && -n ${SLURM_CONF:-} ]]; then dir=$(dirname -- "$SLURM_CONF"); fi
  [[ -n $dir ]] || die "no cluster given: set LOCSWEEP_SLURM_DIR (or SLURM_CONF, as 'start' prints)"
  [[ -f $dir/$MARKER ]] || die "$dir is not a cluster folder made by slurm/cluster.sh start"
  (cd -- "$dir" && pwd)
}

print_env() {
  local dir=$1
  printf 'export LOCSWEEP_SLURM_DIR=%q\n' "$dir"
  printf 'export SLURM_CONF=%q\n' "$dir/slurm.conf"
}

# PID recorded in a PID file if that process still runs the expected program, else nothing.
live_pid() {
  local pidfile=$1 comm=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(tr -dc 0-9 <"$pidfile")
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
  echo "$pid"
}

# Ports nobody listens on (TCP, v4 and v6), from a random start.
free_port() {
  local used port
  local -A used=()
  local hex
  while read -r hex; do used[$((16#$hex))]=1; done < <(
    awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  port=$((20000 + RANDOM % 30000))
  while [[ -n ${used[$port]:-} || $port == "${1:-}" ]]; do port=$((port + 1)); done
  echo "$port"
}

stop_daemon() {  # name pidfile: SIGTERM, wait up to 30 s, then SIGKILL
  local name=$1 pidfile=$2 pid i
  pid=$(live_pid "$pidfile" "$name") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    [[ -d /proc/$pid ]] || return 0
    # A zombie has exited; its parent (not us: the daemons detach) will reap it.
    [[ $(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) == Z ]] && return 0
    sleep 0.1
  done
  echo "cluster.sh: $name (pid $pid) did not stop in 30 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

# Cancels the jobs still running, so no job process outlives the cluster, and waits for them.
cancel_running_jobs() {
  local dir=$1 running i
  live_pid "$dir/run/slurmctld.pid" slurmctld >/dev/null || return 0
  export SLURM_CONF=$dir/slurm.conf
  running=$(timeout 10 squeue -h -t RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null || true)
  [[ -n $running ]] || return 0
  echo "cluster.sh: cancelling running jobs: ${running//$'\n'/ }" >&2
  # shellcheck disable=SC2086 # job ids are digits
  timeout 10 scancel $running 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    [[ -z $(timeout 10 squeue -h -t RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null || true) ]] &&
      return 0
    sleep 0.1
  done
  echo "cluster.sh: jobs still running after 20 s; stopping the daemons anyway" >&2
}

stop_all() {
  local dir=$1
  cancel_running_jobs "$dir"
  stop_daemon slurmd "$dir/run/slurmd.pid"
  stop_daemon slurmctld "$dir/run/slurmctld.pid"
  stop_daemon munged "$dir/munge/munged.pid"
}

# munged refuses a socket below a folder that others cannot search (e.g. a mktemp -d one).
check_parents() {
  local d=$1 mode
  while [[ $d != / ]]; do
    d=$(dirname -- "$d")
    mode=$(stat -c %A -- "$d")
    case ${mode:9:1} in
      x | t) ;;
      *) die "munged needs every folder above its socket to be searchable by all users: chmod o+x $d (or use another LOCSWEEP_SLURM_DIR)" ;;
    esac
  done
}

dump_logs() {
  local dir=$1 log
  for log in "$dir"/log/munged.log "$dir"/log/slurmctld.log "$dir"/log/slurmd.log; do
    [[ -f $log ]] || continue
    echo "---- $log (last 40 lines) ----" >&2
    tail -n 40 "$log" >&2
  done
}

write_conf() {
  local dir=$1 node mem ctld_port slurmd_port gres_lines='' node_gres=''
  node=$(hostname -s)
  if [[ $GPUS != 0 ]]; then
    [[ $GPUS =~ ^[1-8]$ ]] || die "LOCSWEEP_SLURM_GPUS must be 0 to 8; got '$GPUS'"
    gres_lines="GresTypes=gpu"
    node_gres=" Gres=gpu:$GPUS"
    echo "Name=gpu File=/dev/tty[0-$((GPUS - 1))]" >"$dir/gres.conf"
  fi
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")
  cat >"$dir/slurm.conf" <<EOF
# Written by slurm/cluster.sh: a single-node test cluster in $dir
ClusterName=locsweep
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerParameters=sched_interval=1,bf_interval=1
ReturnToService=2
MailProg=/bin/true
KillWait=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmdParameters=config_overrides
$gres_lines
NodeName=$node NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem$node_gres State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  # Slurm 24.05 and later (Debian 13 has 24.11) initialise a cgroup plugin in slurmd even with
  # task/none and proctrack/linuxproc, and fail where no cgroup file system is mounted (a chroot,
  # a container); this cluster uses no cgroups, so turn them off. 22.05 knows no "disabled".
  if slurm_at_least 24 5; then
    echo "CgroupPlugin=disabled" >"$dir/cgroup.conf"
  fi
}

# slurm_at_least MAJOR MINOR: whether the installed slurmd is at least that version.
slurm_at_least() {
  local version major minor
  version=$(slurmd -V 2>/dev/null | awk '{ print $2 }')  # "slurm 24.11.5" -> 24.11.5
  major=${version%%.*}
  minor=${version#*.}
  minor=${minor%%.*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major > $1 || (major == $1 && 10#$minor >= $2)))
}

cmd_start() {
  local dir fresh=0 state i
  [[ $(id -u) == 0 ]] || die "must run as root (the test cluster uses SlurmUser=root)"
  for prog in munged mungekey slurmctld slurmd sinfo; do
    command -v "$prog" >/dev/null || die "$prog not found: install munge, slurmctld, slurmd, slurm-client"
  done
  if [[ -n ${LOCSWEEP_SLURM_DIR:-} ]]; then
    mkdir -p -- "$LOCSWEEP_SLURM_DIR"
    dir=$(cd -- "$LOCSWEEP_SLURM_DIR" && pwd)
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/locsweep-slurm.XXXXXX")
    fresh=1
  fi
  check_parents "$dir"
  if live_pid "$dir/run/slurmctld.pid" slurmctld >/dev/null ||
    live_pid "$dir/run/slurmd.pid" slurmd >/dev/null ||
    live_pid "$dir/munge/munged.pid" munged >/dev/null; then
    die "a cluster already runs in $dir (stop it first: LOCSWEEP_SLURM_DIR=$dir $0 stop)"
  fi

  # From here on, a failure (set -e) stops whatever was started and shows the logs.
  START_DIR=$dir START_FRESH=$fresh
  trap start_exit EXIT
  chmod 755 "$dir"
  touch "$dir/$MARKER"
  mkdir -p "$dir/munge" "$dir/munge-key" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
  chmod 755 "$dir/munge"  # munged refuses a socket folder that is not 755
  chmod 700 "$dir/munge-key"
  [[ -s $dir/munge-key/munge.key ]] || mungekey -c -k "$dir/munge-key/munge.key"
  rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
  munged --key-file="$dir/munge-key/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge-key/munged.seed" \
    --log-file="$dir/log/munged.log"
  write_conf "$dir"
  slurmctld -f "$dir/slurm.conf"
  slurmd -f "$dir/slurm.conf"

  export SLURM_CONF=$dir/slurm.conf
  for ((i = 0; i < TIMEOUT * 5; i++)); do
    state=$(timeout 5 sinfo -h -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.2
  done
  if [[ $state != idle ]]; then
    echo "cluster.sh: the node did not become idle in ${TIMEOUT} s (sinfo says: '${state:-nothing}')" >&2
    exit 1  # the EXIT trap cleans up
  fi
  trap - EXIT
  echo "cluster.sh: Slurm is up in $dir ($(hostname -s), $CPUS CPUs, partition debug)" >&2
  print_env "$dir"
}

# EXIT trap of a start that did not finish (EXIT traps are not inherited by subshells).
start_exit() {
  trap - EXIT
  set +e
  echo "cluster.sh: start failed in $START_DIR; stopping what was started" >&2
  dump_logs "$START_DIR"
  stop_all "$START_DIR"
  if ((START_FRESH)); then rm -rf -- "$START_DIR"; fi
  exit 1
}

cmd_status() {
  local dir name pidfile pid up=0
  dir=$(existing_dir)
  echo "state folder: $dir"
  for name in munged slurmctld slurmd; do
    case $name in
      munged) pidfile=$dir/munge/munged.pid ;;
      *) pidfile=$dir/run/$name.pid ;;
    esac
    if pid=$(live_pid "$pidfile" "$name"); then
      echo "$name: running (pid $pid)"
      up=$((up + 1))
    else
      echo "$name: not running"
    fi
  done
  if ((up == 3)); then
    SLURM_CONF=$dir/slurm.conf timeout 10 sinfo || true
    SLURM_CONF=$dir/slurm.conf timeout 10 squeue || true
    return 0
  fi
  return 3
}

cmd_stop() {
  local dir remove=0
  [[ ${1:-} == --remove ]] && remove=1
  dir=$(existing_dir)
  stop_all "$dir"
  if ((remove)); then
    rm -rf -- "$dir"
    echo "cluster.sh: stopped; removed $dir" >&2
  else
    echo "cluster.sh: stopped (state folder kept: $dir)" >&2
  fi
}

case ${1:-} in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) print_env "$(existing_dir)" ;;
  *) usage ;;
esac
