# shellcheck shell=bash
# Shared by the chaos tests of trial children (sourced, not run): orchestrator_lib.sh's
# temporary folder, cleanup, sql and wait_for, plus finding trial processes.
# shellcheck source-path=SCRIPTDIR source=../integration/orchestrator_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/orchestrator_lib.sh"

# trial_pid OUT_DIR: the pid of the trial-exec process working in OUT_DIR (empty if none).
trial_pid() {
  local p
  for p in $(pids_under_tmp); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q -- "trial-exec .*--out $1 "; then
      echo "$p"
      return
    fi
  done
}

# ignores_sigterm PID: the process has SIGTERM set to SIG_IGN (noop.fail: hang has started).
ignores_sigterm() {
  local mask
  mask=$(awk '/^SigIgn:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $mask ]] && (((16#$mask >> 14) & 1))
}

# alive PID: the process exists and is not a zombie (an orphan killed under a parent that
# has not reaped it yet is dead).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# no_process_left: nothing started from $tmp runs any more.
no_process_left() { [[ -z $(pids_under_tmp) ]]; }

# no_running_rows DB: no run, trial or attempt is left `running`.
no_running_rows() {
  local n
  n=$(sql "$1" "SELECT (SELECT count(*) FROM runs WHERE status = 'running') +
                       (SELECT count(*) FROM trials WHERE status = 'running') +
                       (SELECT count(*) FROM attempts WHERE status = 'running' OR ended_at IS NULL)")
  [[ $n == 0 ]] || fail "$n rows left running in $1"
}

# attempts_of DB HASH: "number:status:outcome,..." in order.
attempts_of() {
  sql "$1" "SELECT group_concat(number || ':' || status || ':' || outcome, ',') FROM
            (SELECT * FROM attempts WHERE trial_hash = '$2' ORDER BY number)"
}
