#!/usr/bin/env bash
# Side-by-side start latency of OCI runtimes on the same busybox bundle: `pier-runc run` vs
# `runc run` (and `crun run` when crun is installed and accepts this host's cgroup setup), plus
# the bare floor (unshare + chroot + exec of the same binary), with hyperfine; then pier-runc and
# the floor again, interleaved run by run. Measures, never asserts a time.
#
#   bench/runtime.sh [runs]        (root; needs hyperfine and /usr/bin/busybox; builds pier-runc,
#                                   static as installed and the workspace's dynamic one)
#
# Each runtime gets its own copy of the bundle (own cgroupsPath) and own state root; everything
# is removed on exit.
set -euo pipefail
RUNS=${1:-50}
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine not installed: skipping"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "needs root: skipping"; exit 0; }
[ -x /usr/bin/busybox ] || { echo "needs /usr/bin/busybox: skipping"; exit 0; }
cargo build --release -p pier-runtime --bin pier-runc >/dev/null
# pier-runc as installed (static) next to the workspace's dynamic build.
scripts/build-static-runc >/dev/null
PIER=$PWD/target/static/pier-runc
PIER_DYN=$PWD/target/release/pier-runc
WORK=$(mktemp -d /tmp/pier-bench-runtime.XXXXXX)
# State roots on tmpfs, where both runtimes keep them by default (/run/runc, /run/pier-runc).
STATE=$(mktemp -d /run/pier-bench-runtime.XXXXXX)
cleanup() {
  for r in pier pierdyn runc crun; do
    [ -d "$STATE/$r-root" ] || continue
    case $r in pier) bin=$PIER ;; pierdyn) bin=$PIER_DYN ;; *) bin=$r ;; esac
    "$bin" --root "$STATE/$r-root" delete --force bench >/dev/null 2>&1 || true
  done
  for d in /sys/fs/cgroup/*/pier-bench-* /sys/fs/cgroup/pier-bench-*; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
  rm -rf "$WORK" "$STATE"
}
trap cleanup EXIT

. bench/bundle.sh   # make_bundle DIR CGROUP

cmds=()
names=()
make_bundle "$WORK/pier" /pier-bench-pier
cmds+=("$PIER --root $STATE/pier-root run --bundle $WORK/pier bench"); names+=("pier-runc run (static)")
make_bundle "$WORK/pierdyn" /pier-bench-pierdyn
cmds+=("$PIER_DYN --root $STATE/pierdyn-root run --bundle $WORK/pierdyn bench"); names+=("pier-runc run (dynamic)")
if command -v runc >/dev/null; then
  make_bundle "$WORK/runc" /pier-bench-runc
  cmds+=("runc --root $STATE/runc-root run --bundle $WORK/runc bench"); names+=("runc run ($(runc --version | head -1 | awk '{print $3}'))")
else
  echo "runc not installed: comparing against the floor only"
fi
if command -v crun >/dev/null; then
  make_bundle "$WORK/crun" /pier-bench-crun
  if crun --root "$STATE/crun-root" run --bundle "$WORK/crun" bench >/dev/null 2>&1; then
    cmds+=("crun --root $STATE/crun-root run --bundle $WORK/crun bench"); names+=("crun run")
  else
    echo "crun refuses this host's cgroup setup: skipped"
  fi
fi
cmds+=("unshare -m -p -f -u -i -n chroot $WORK/pier/rootfs /bin/true"); names+=("floor: unshare+chroot+exec")

args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N -w 5 -r "$RUNS" --export-markdown "$WORK/result.md" "${args[@]}"
echo
cat "$WORK/result.md"

# hyperfine runs all of one command's runs before the next's, so a host whose speed drifts in the
# meantime moves the ratios. The same pier-runc builds and the floor again, interleaved run by run
# (bench/interleave.c); runc stays out of it: the cgroup and RCU work it leaves behind would land
# on whichever runs next.
if command -v cc >/dev/null; then
  cc -O2 -o "$WORK/interleave" bench/interleave.c
  echo
  echo "Interleaved, $RUNS rounds after 5 warm-up rounds:"
  echo
  "$WORK/interleave" "$RUNS" 5 \
    ::: "pier-runc run (static)" $PIER --root "$STATE/pier-root" run --bundle "$WORK/pier" bench \
    ::: "pier-runc run (dynamic)" $PIER_DYN --root "$STATE/pierdyn-root" run --bundle "$WORK/pierdyn" bench \
    ::: "floor" "$(command -v unshare)" -m -p -f -u -i -n chroot "$WORK/pier/rootfs" /bin/true
else
  echo "no C compiler: the interleaved round is skipped"
fi
