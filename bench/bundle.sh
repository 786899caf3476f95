# Sourced by bench/runtime.sh and bench/runtime-phases.sh (with $PIER set to pier-runc): the
# busybox bundle both time — the host's busybox-static as rootfs, `pier-runc spec`'s config running
# /bin/true without a terminal, in its own cgroup.
make_bundle() { # DIR CGROUP
  mkdir -p "$1/rootfs/bin" "$1/rootfs/proc" "$1/rootfs/sys" "$1/rootfs/dev" "$1/rootfs/tmp"
  cp /usr/bin/busybox "$1/rootfs/bin/busybox"
  for a in sh true echo; do ln -sf busybox "$1/rootfs/bin/$a"; done
  "$PIER" spec --bundle "$1"
  python3 - "$1/config.json" "$2" <<'PY'
import json, sys
p, cg = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"]["cgroupsPath"] = cg
json.dump(c, open(p, "w"), indent=1)
PY
}
