#!/usr/bin/env bash
# Where the time of one `pier-runc run` goes: phases from kernel tracepoints (perf), medians over
# N runs of the busybox bundle bench/runtime.sh uses. Measures, never asserts a time.
#
#   bench/runtime-phases.sh [runs] [pier-runc binary]   (root; needs perf, /usr/bin/busybox)
#
# Phases: first image → execveat (CVE-2019-5736 re-exec), the exec itself, second image → fork
# of the helper (config, state dir, cgroup), helper (cgroup join, unshare) → fork of init, init
# mounts → pivot_root, pivot_root → execve of the container (masked paths, caps, start
# hand-off), the container, its exit → pier-runc's exit (wait, delete).
set -euo pipefail
RUNS=${1:-30}
cd "$(dirname "$0")/.."
PIER=${2:-$PWD/target/release/pier-runc}
command -v perf >/dev/null || { echo "perf not installed: skipping"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "needs root: skipping"; exit 0; }
[ -x /usr/bin/busybox ] || { echo "needs /usr/bin/busybox: skipping"; exit 0; }
[ -x "$PIER" ] || { echo "no $PIER: build it first (cargo build --release -p pier-runtime)"; exit 1; }
WORK=$(mktemp -d /tmp/pier-bench-phases.XXXXXX)
STATE=$(mktemp -d /run/pier-bench-phases.XXXXXX)
CG=/pier-bench-phases-$$
cleanup() {
  "$PIER" --root "$STATE" delete --force ph >/dev/null 2>&1 || true
  for d in /sys/fs/cgroup/*"$CG" /sys/fs/cgroup"$CG"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
  rm -rf "$WORK" "$STATE"
}
trap cleanup EXIT
B=$WORK/bundle
. bench/bundle.sh
make_bundle "$B" "$CG"
cat > "$WORK/loop.sh" <<EOS
#!/bin/sh
for i in \$(seq $RUNS); do "$PIER" --root "$STATE" run --bundle "$B" ph || exit 1; done
EOS
chmod +x "$WORK/loop.sh"
perf record -q -a -o "$WORK/perf.data" \
  -e sched:sched_process_exec,sched:sched_process_fork,sched:sched_process_exit \
  -e syscalls:sys_enter_execveat,syscalls:sys_enter_socketpair,syscalls:sys_enter_pivot_root \
  -- "$WORK/loop.sh" >/dev/null 2>&1
perf script -i "$WORK/perf.data" -F pid,time,event,trace 2>/dev/null | python3 -c '
import re, statistics, sys
exe = sys.argv[1]
runs, cur = [], None
for l in sys.stdin:
    m = re.match(r"\s*(\d+)\s+([\d.]+):\s+\S+:(\S+):\s*(.*)", l)
    if not m:
        continue
    pid, t, ev, tr = int(m.group(1)), float(m.group(2)) * 1000, m.group(3), m.group(4)
    if ev == "sched_process_exec" and tr.startswith("filename=" + exe + " "):
        cur = {"pid": pid, "t0": t, "ev": []}
        runs.append(cur)
    elif cur:
        cur["ev"].append((t, pid, ev, tr))
names = ["first image -> execveat", "execveat", "second image -> helper fork",
         "helper -> init fork", "init: mounts -> pivot_root", "pivot_root -> container execve",
         "container", "container exit -> pier-runc exit", "total"]
res = {n: [] for n in names}
for r in runs:
    P, E = r["pid"], r["ev"]
    def first(f):
        return next(e for e in E if f(e))
    try:
        ta = first(lambda e: e[1] == P and e[2] == "sys_enter_execveat")[0]
        tb = first(lambda e: e[1] == P and e[2] == "sched_process_exec")[0]
        tc = first(lambda e: e[1] == P and e[2] == "sys_enter_socketpair")[0]
        f1 = first(lambda e: e[1] == P and e[2] == "sched_process_fork")
        helper = int(re.search(r"child_pid=(\d+)", f1[3]).group(1))
        f2 = first(lambda e: e[1] == helper and e[2] == "sched_process_fork")
        init = int(re.search(r"child_pid=(\d+)", f2[3]).group(1))
        te = first(lambda e: e[1] == init and e[2] == "sys_enter_pivot_root")[0]
        tf = first(lambda e: e[1] == init and e[2] == "sched_process_exec")[0]
        tg = first(lambda e: e[1] == init and e[2] == "sched_process_exit")[0]
        th = first(lambda e: e[1] == P and e[2] == "sched_process_exit")[0]
    except StopIteration:
        continue
    t0 = r["t0"]
    for n, v in zip(names, [ta - t0, tb - ta, tc - tb, f2[0] - tc, te - f2[0], tf - te, tg - tf, th - tg, th - t0]):
        res[n].append(v)
print("pier-runc run: %d runs traced; phase medians:" % len(res["total"]))
for n in names:
    if res[n]:
        print(f"  {n:34} {statistics.median(res[n]):6.2f} ms")
' "$PIER"
