#!/usr/bin/env bash
# Orchestration benchmark: what the coordinator, the MPI workers and the results store cost,
# measured with the noop trial kind run inside the worker ranks (--inline-noop), so that no
# trial work or process start hides the orchestration. Three figures, each run 3 times
# (median reported), each printed on one line with its target:
#   (a) throughput: 10,000 zero-length trials on 8 ranks (7 workers), durable commits (WAL,
#       synchronous=FULL, group commit): trials/s from the database's own timestamps (first
#       attempt started_at to last ended_at), and the wall time of the whole command;
#   (b) dispatch overhead: 7 workers x 4 trials of 1 s; ideal makespan 4 s; overhead =
#       (makespan from the database's timestamps - 4 s) / 4 s;
#   (c) re-planning a 100,000-trial sweep of which 99,999 are done (a database built once by
#       running 99,999 zero-length noop trials): `plan SWEEP --db DB` (stdout to /dev/null),
#       and a `run` from its launch to the dispatch of the one remaining trial;
#   (d) per-trial overhead of real trial children: 2 workers x 10 noop trials of 1 s, each in
#       its own child process (no --inline-noop); ideal makespan 10 s; overhead = (makespan
#       from the database's timestamps - 10 s) / 10 s, plus the start-up of one command.
# FIGURES=ad runs only those figures (default: abcd).
# Usage: bench/orchestration.sh [path/to/locsweep]   (default: build/locsweep)
# The machine may be shared: the load average is printed before and after.
set -euo pipefail

LOCSWEEP=$(realpath "${1:-build/locsweep}")
[[ -x $LOCSWEEP ]] || { echo "usage: $0 path/to/locsweep" >&2; exit 2; }
for prog in mpirun sqlite3; do
  command -v "$prog" >/dev/null || { echo "$prog is needed" >&2; exit 2; }
done
work=$(mktemp -d /tmp/locsweep-bench-orch.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
MPIRUN=(mpirun --oversubscribe --bind-to none)
REPEATS=${REPEATS:-3}
FIGURES=${FIGURES:-abcd}
wants() { [[ $FIGURES == *"$1"* ]]; }

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
calc() { awk "BEGIN {printf \"%.${2:-3}f\", $1}"; }
# Seconds between the first attempt's start and the last attempt's end, from the database.
makespan() { sqlite3 "$1" "SELECT (julianday(max(ended_at)) - julianday(min(started_at))) * 86400.0 FROM attempts"; }
noop_sweep() {  # NAME COUNT DURATION
  printf 'name: %s\nkind: noop\nnoop: {duration_s: %s}\norder: fifo\nseeds: {start: 0, count: %s}\n' "$1" "$3" "$2"
}

echo "locsweep orchestration benchmark: $LOCSWEEP; $(nproc) cores; $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

if wants a; then
echo "== (a) 10,000 zero-length trials, mpirun -n 8 (7 workers), durable commits"
noop_sweep bench-throughput 10000 0 >"$work/a.yaml"
rates=() walls=()
for i in $(seq "$REPEATS"); do
  rm -f "$work"/a.sqlite*
  t0=$(now)
  "${MPIRUN[@]}" -n 8 "$LOCSWEEP" run "$work/a.yaml" --db "$work/a.sqlite" --inline-noop --threads 1 2>"$work/a.log"
  t1=$(now)
  [[ $(sqlite3 "$work/a.sqlite" "SELECT count(*) FROM trials WHERE status = 'done'") == 10000 ]] ||
    { tail "$work/a.log" >&2; echo "run $i did not finish every trial" >&2; exit 1; }
  span=$(makespan "$work/a.sqlite")
  rates+=("$(calc "10000 / $span" 0)")
  walls+=("$(calc "$t1 - $t0" 2)")
  echo "   run $i: ${rates[-1]} trials/s over $(calc "$span" 2) s of dispatching; wall ${walls[-1]} s"
done
echo "RESULT (a) throughput: $(median "${rates[@]}") trials/s (median of $REPEATS; target >= 2000); wall $(median "${walls[@]}") s for 10,000 trials incl. mpirun start-up"

fi
if wants b; then
echo "== (b) dispatch overhead: 7 workers x 4 trials of 1 s (ideal makespan 4 s)"
noop_sweep bench-dispatch 28 1 >"$work/b.yaml"
overheads=()
for i in $(seq "$REPEATS"); do
  rm -f "$work"/b.sqlite*
  "${MPIRUN[@]}" -n 8 "$LOCSWEEP" run "$work/b.yaml" --db "$work/b.sqlite" --inline-noop --threads 1 2>"$work/b.log"
  span=$(makespan "$work/b.sqlite")
  [[ $(sqlite3 "$work/b.sqlite" "SELECT count(DISTINCT worker_rank) FROM attempts") == 7 ]] ||
    echo "   (warning: not all 7 workers ran trials)"
  overheads+=("$(calc "($span - 4) / 4 * 100" 2)")
  echo "   run $i: makespan $(calc "$span" 3) s, overhead ${overheads[-1]} %"
done
echo "RESULT (b) dispatch overhead: $(median "${overheads[@]}") % of the ideal 4 s (median of $REPEATS; target < 1 %)"

fi
if wants c; then
echo "== (c) re-planning a 100,000-trial sweep with 99,999 done"
noop_sweep bench-replan 99999 0 >"$work/c-build.yaml"
noop_sweep bench-replan 100000 0 >"$work/c.yaml"
t0=$(now)
"$LOCSWEEP" run "$work/c-build.yaml" --db "$work/base.sqlite" --inline-noop 2>"$work/c-build.log"
sqlite3 "$work/base.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
echo "   built by running 99,999 noop trials in one process: $(calc "$(now) - $t0" 1) s, $(du -m "$work/base.sqlite" | cut -f1) MB"
"$LOCSWEEP" plan "$work/c.yaml" --db "$work/base.sqlite" >"$work/plan.txt"
[[ $(head -1 "$work/plan.txt") == *"100000 trials: 99999 done, 1 new"* ]] ||
  { echo "plan --db said: $(head -1 "$work/plan.txt")" >&2; exit 1; }
plans=() dispatches=() runs=()
for i in $(seq "$REPEATS"); do
  t0=$(now)
  "$LOCSWEEP" plan "$work/c.yaml" --db "$work/base.sqlite" >/dev/null
  plans+=("$(calc "$(now) - $t0" 3)")
  cp "$work/base.sqlite" "$work/c.sqlite"
  rm -f "$work"/c.sqlite-wal "$work"/c.sqlite-shm
  t0=$(now)
  "$LOCSWEEP" run "$work/c.yaml" --db "$work/c.sqlite" --inline-noop 2>"$work/c.log"
  t1=$(now)
  started=$(sqlite3 "$work/c.sqlite" "SELECT (julianday(started_at) - 2440587.5) * 86400.0 FROM attempts WHERE run_id = 2")
  [[ -n $started && $(sqlite3 "$work/c.sqlite" "SELECT count(*) FROM attempts WHERE run_id = 2") == 1 ]] ||
    { tail "$work/c.log" >&2; echo "the run did not dispatch exactly one trial" >&2; exit 1; }
  dispatches+=("$(calc "$started - $t0" 3)")
  runs+=("$(calc "$t1 - $t0" 3)")
  echo "   run $i: plan --db ${plans[-1]} s; run: dispatch after ${dispatches[-1]} s, whole run ${runs[-1]} s"
done
echo "RESULT (c) plan --db of 100,000 trials: $(median "${plans[@]}") s (median of $REPEATS; target < 2 s)"
echo "RESULT (c) run: launch to dispatch of the remaining trial: $(median "${dispatches[@]}") s (median of $REPEATS; target < 2 s); whole run $(median "${runs[@]}") s"
fi
if wants d; then
echo "== (d) per-trial overhead: 2 workers x 10 noop trials of 1 s in child processes (ideal 10 s)"
noop_sweep bench-children 20 1 >"$work/d.yaml"
overheads=() starts=()
for i in $(seq "$REPEATS"); do
  rm -rf "$work"/d.sqlite* "$work/d-artifacts"
  "${MPIRUN[@]}" -n 3 "$LOCSWEEP" run "$work/d.yaml" --db "$work/d.sqlite" --artifacts "$work/d-artifacts" --threads 1 2>"$work/d.log"
  [[ $(sqlite3 "$work/d.sqlite" "SELECT count(*) FROM trials WHERE status = 'done'") == 20 ]] ||
    { tail "$work/d.log" >&2; echo "run $i did not finish every trial" >&2; exit 1; }
  span=$(makespan "$work/d.sqlite")
  overheads+=("$(calc "($span - 10) / 10 * 100" 2)")
  t0=$(now)
  "$LOCSWEEP" status --db "$work/d.sqlite" >/dev/null
  starts+=("$(calc "$(now) - $t0" 3)")
  echo "   run $i: makespan $(calc "$span" 3) s, overhead ${overheads[-1]} %; locsweep status ${starts[-1]} s"
done
echo "RESULT (d) per-trial overhead with child processes: $(median "${overheads[@]}") % of the ideal 10 s (median of $REPEATS); locsweep status on that DB: $(median "${starts[@]}") s"
echo "   libraries loaded by $LOCSWEEP: $(ldd "$LOCSWEEP" | wc -l), libtorch among them: $(ldd "$LOCSWEEP" | grep -c libtorch || true)"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
