#!/usr/bin/env bash
# Where the time of one `pier-runc run` goes: phases from kernel tracepoints (perf), medians over
# N runs of the busybox bundle bench/runtime.sh uses. Measures, never asserts a time.
#
#   bench/runtime-phases.sh [runs] [pier-runc binary]   (root; needs perf, /usr/bin/busybox)
#
# Phases: start → the first fork (config, state dir, cgroup; with a re-exec from the read-only
# image — `exec`, or a seccomp profile that denies the trampoline — the first image and the
# execveat come first), with a user or time namespace the helper (cgroup join, unshare) → fork of
# init, the init (cgroup join, namespaces, mounts) → pivot_root, pivot_root → exec of the
# trampoline (masked paths, caps, start hand-off), the trampoline → the program's exec, the
# container, its exit → pier-runc's exit (wait, delete).
set -euo pipefail
RUNS=${1:-30}
cd "$(dirname "$0")/.."
# pier-runc as installed (scripts/build-static-runc) when built, else the workspace's.
DEFAULT=$PWD/target/static/pier-runc
[ -x "$DEFAULT" ] || DEFAULT=$PWD/target/release/pier-runc
PIER=${2:-$DEFAULT}
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
names = ["re-exec: first image + execveat", "start -> first fork",
         "helper -> init fork", "init: namespaces, mounts -> pivot_root", "pivot_root -> trampoline exec",
         "trampoline -> program exec", "container", "container exit -> pier-runc exit", "total"]
res = {n: [] for n in names}
for r in runs:
    P, E = r["pid"], r["ev"]
    def first(f, after=-1.0):
        return next(e for e in E if e[0] > after and f(e))
    try:
        f1 = first(lambda e: e[1] == P and e[2] == "sched_process_fork")
        # A re-exec shows as an exec of P before the fork of the helper.
        rx = [e for e in E if e[1] == P and e[0] < f1[0] and e[2] == "sched_process_exec"]
        start = rx[0][0] if rx else r["t0"]
        child = int(re.search(r"child_pid=(\d+)", f1[3]).group(1))
        if any(e[1] == child and e[2] == "sys_enter_pivot_root" for e in E):
            # One fork: the child is the init (no user or time namespace).
            f2, init, helped = f1, child, False
        else:
            f2 = first(lambda e: e[1] == child and e[2] == "sched_process_fork")
            init, helped = int(re.search(r"child_pid=(\d+)", f2[3]).group(1)), True
        te = first(lambda e: e[1] == init and e[2] == "sys_enter_pivot_root")[0]
        x1 = first(lambda e: e[1] == init and e[2] == "sched_process_exec")[0]
        x2 = next((e[0] for e in E if e[1] == init and e[2] == "sched_process_exec" and e[0] > x1), None)
        tg = first(lambda e: e[1] == init and e[2] == "sched_process_exit")[0]
        th = first(lambda e: e[1] == P and e[2] == "sched_process_exit")[0]
    except StopIteration:
        continue
    t0 = r["t0"]
    tramp = x2 is not None
    vals = [start - t0, f1[0] - start, (f2[0] - f1[0]) if helped else None, te - f2[0],
            (x1 if tramp else x1) - te, (x2 - x1) if tramp else None,
            tg - (x2 if tramp else x1), th - tg, th - t0]
    for n, v in zip(names, vals):
        if v is not None:
            res[n].append(v)
print("pier-runc run: %d runs traced; phase medians:" % len(res["total"]))
for n in names:
    if res[n]:
        print(f"  {n:34} {statistics.median(res[n]):6.2f} ms")
' "$PIER"
