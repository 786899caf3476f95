"""The report: one Markdown section per run, inserted into docs/BENCHMARKS.md right below the
page header (newest first; earlier runs stay below for history). Each section carries its
figures as JSON in an HTML comment, so the next run can show how close its ratios are to the
previous run's.
"""

import json
import os
import re

from .measure import ENGINES, fmt_value
from .workloads import TITLES

MARKER = "<!-- results below: newest first; bench/run inserts new sections here -->"
DATA_RE = re.compile(r"<!-- bench-data (\{.*?\}) -->", re.S)

HEADER = f"""# Benchmarks: pier against docker, side by side

Every figure here comes from `bench/run`, which measures pier and a real Docker Engine on the same
machine, in the same run, with the same command lines, and reports pier/docker ratios. Nothing in it
asserts a time: correctness is the test suite's job.

## How to reproduce

As root on a fresh Debian 12 machine, from the repository root:

```sh
bench/run                 # every workload (about 15–25 minutes on 2 cores)
bench/run --quick         # a subset, 2–3 minutes after the build: mem-idle run run-nonet net-cost exec pull
bench/run pull run        # chosen workloads
bench/run --list          # the workloads
```

The first run on a machine also makes the debian image with debootstrap (a few minutes; cached).

It builds pier (`cargo build --release --bins`), installs what is missing from Debian (`docker.io`
for the reference dockerd + containerd + runc, `docker-registry`, `busybox-static`, `debootstrap`,
`iperf3`),
then starts, each in its own directory under one work directory `$W` (`/var/tmp/pier-bench.<tag>`):

- a loopback registry (`docker-registry serve`, `127.0.0.1:<free port>`) holding the fixture images;
- **pierd** — `target/release/pierd -H unix://$W/pier/pier.sock --data-root $W/pier/data
  --exec-root $W/pier/exec --pidfile $W/pier/pierd.pid` (plus, once pierd has them, `--bridge` on a
  bridge the harness creates as for dockerd, `--iptables=true --ip-forward=false` — published ports
  through its own nft table, pierd having no userland proxy — and `--cgroup-parent`);
- **the reference dockerd** (Debian's `docker.io`) with its own containerd (own root, state, socket,
  namespace; CRI plugin off), its own data root, exec root, socket and pid file, a bridge the harness
  creates (`pbd-<tag>`, a /24 no host route uses), `--iptables=false --ip-forward=false
  --ip-masq=false` (published ports through docker-proxy), cgroupfs driver under its own cgroup parent, and a config
  file of its own (so neither `/etc/docker/daemon.json` nor `/etc/docker/key.json` is used).

Fixture images, pushed once to the registry so both engines pull the very same bytes: `busybox`
(one layer: the host's busybox-static with its applet links) and `debian:bookworm` (one layer:
`debootstrap --variant=minbase bookworm` from the host's Debian mirror as debootstrap leaves it,
its downloaded .debs included — about 210 MB unpacked, 93 MB gzipped — with empty `/dev`, `/proc`,
`/sys`, `/run`, `/tmp`; made once and cached in `/var/cache/pier-bench`), and, for `net-tput`,
`iperf3` (one layer: the host's `/usr/bin/iperf3`, the libraries `ldd` resolves for it and the
dynamic loader, at the paths `ldd` names, with `/etc/passwd`, `/etc/group` and `/tmp`; no shell).
Each engine pulls busybox and tags it `busybox`; `net-tput` pulls iperf3 by its registry name.

On exit — normal, error, Ctrl-C or SIGTERM — it stops what it started by PID, kills processes left
in its cgroups or holding files in `$W`, unmounts everything under `$W`, deletes its bridges (and
veths on them) and any nft table named with its tag, removes its cgroups and `$W`, then checks that
none of it remains and says so in the section.

## Method

- Timed workloads run the two engines in strict alternation (pier, docker, pier, docker …) after
  warm-up iterations whose figures are dropped, so drifting machine load hits both alike. A time is
  the wall time of one CLI invocation, fork to exit, measured by the harness (Python
  `perf_counter`); the harness's own spawn cost (about 1 ms) is in both sides alike. (hyperfine is
  not used: it runs all of one command's runs before the other's.)
- Each table gives min / median / max per engine and the ratio of medians, pier/docker (below 1 =
  pier is faster or smaller). "own CLI" rows compare `pier` → pierd with `docker` → dockerd; "docker
  CLI" rows drive both daemons with the same docker CLI, so only the daemons differ.
- `runtime` compares the OCI runtimes alone, no daemon: `pier-runc run` — as installed (static,
  `scripts/build-static-runc`) and the workspace's dynamic build — and `runc run` of one
  bundle (the busybox rootfs, `runc spec`'s config running `/bin/true`); a last row alternates the
  installed pier-runc with the bare floor, `unshare … chroot <rootfs> /bin/true`, and its ratio is
  pier-runc / floor. The pull note gives its floor too: the layer
  fetched with `curl` and unpacked with `tar -xzf` onto the same disk.
- Cold pull: before each pull (untimed) the image is removed with `rmi -f`, checked to be gone
  through the daemon's API, the engine's data root must be back to its size before the first pull
  (within 16 MiB: no blob or layer kept), and `sync` is run; after the pull, the daemon's API must
  list the image. The registry serves from the page cache for both engines alike.
- Before a command whose success proves nothing by itself is timed (`run … true`, `exec … true`), a
  variant that must print a marker is run once; parallel `run -d` and `rm -f` are checked against
  the daemon's container list. A side that does not do the work gets an error, not a figure.
- Memory: RSS (`VmRSS`) of the daemon processes — pierd alone vs dockerd + containerd — and PSS
  (`/proc/<pid>/smaps_rollup`) of each container's monitor process, found as the parent of the
  container's `State.Pid` (pier-shim vs containerd-shim-runc-v2).
- A workload pier cannot do yet is reported as "not supported by pier yet (error: …)" with the
  error it gave — never a number — and docker's side is still measured. When no dockerd can be
  installed or started, pier is measured alone and the section says so.
- Under `run --rm --network none`, a line gives each engine's networking cost: the median of `run`
  minus the median with `--network none`, same client. `net-cost` measures it more tightly: each
  iteration runs both back to back and records the difference (issue 5's target: ≤ 5 ms).
- `net-tput`: published-port throughput with iperf3 (Debian's, installed on the host when
  missing). A container of the `iperf3` fixture runs `iperf3 -s -p 5201`, published with
  `-p <address>:<free port>:5201`; the host runs `iperf3 -c <address> -p <port> -t 5 -J` (host →
  container) and the same with `-R` (container → host), one after the other, and the figure is the
  receiver's `end.sum_received.bits_per_second` — a run whose JSON has an `error` or no bytes
  received gives that side an error, not a figure. Two addresses, each with its own container:
  `127.0.0.1`, and the gateway address of the engine's own bridge (a non-loopback host address;
  no interface of the machine's is published). pierd forwards both with nft DNAT in the kernel;
  the reference dockerd, run with `--iptables=false` so that it leaves the host's iptables alone,
  through docker-proxy, its userland proxy. A dockerd with its default `--iptables=true` would
  still proxy 127.0.0.1 (its OUTPUT DNAT rule skips 127.0.0.0/8) but DNAT the gateway-address
  path in the kernel, so that row compares pier with docker-proxy, not with docker's default.
  Before timing, a 1 MiB iperf3 test must be counted by the receiver; a test refused with "the
  server is busy" (the previous one still closing behind a proxy) is run again. Higher is better here
  (pier/docker above 1 = pier is faster). Without iperf3 (its install failed), `net-tput` falls
  back to a busybox `nc -ll -p 5201 -e wc -c` sink published on 127.0.0.1: the harness sends
  256 MiB, half-closes and times until `wc -c` answers with a count that must equal what was sent.
- Until pierd has container networking (its API lists a `bridge` network), the networking
  workloads report pier's side as "not available" rather than a figure for a loopback-only
  namespace.
- "previous" is the ratio the same row had in the newest section below that has one, to show
  run-to-run noise.

{MARKER}
"""


def fmt_side(meas, engine, key, unit, engine_errors=None):
    err = meas.error[engine]
    absent = (engine_errors or {}).get(engine)
    if err is not None and engine == "docker" and absent and absent in err:
        return f"not measured ({absent})"
    if err is not None:
        msg = err.replace("\n", " ")
        if len(msg) > 240:
            msg = msg[:240] + "…"
        msg = msg.replace("|", "\\|")
        if engine == "pier":
            return f"not supported by pier yet (error: {msg})"
        return f"failed (error: {msg})"
    st = meas.stats(engine, key)
    if st is None:
        return "—"
    return (f"{fmt_value(st['min'], unit)} / **{fmt_value(st['median'], unit)}** / "
            f"{fmt_value(st['max'], unit)}")


def previous_data(doc):
    """The figures of every earlier section, newest first."""
    out = []
    for m in DATA_RE.finditer(doc or ""):
        try:
            out.append(json.loads(m.group(1)))
        except ValueError:
            pass
    return out


def prev_ratio(prev, meas, key):
    """The ratio of the same row in the newest earlier section that has one."""
    for section in prev or []:
        for r in section.get("results", []):
            if r.get("workload") == meas.workload and r.get("variant") == meas.variant:
                ratio = (r.get("metrics", {}).get(key) or {}).get("ratio")
                if ratio is not None:
                    return ratio
    return None


def render_section(info, results, prev):
    L = []
    L.append(f"## {info['date']} — {info['mode']}")
    L.append("")
    mach = info["machine"]
    L.append(f"- **Machine:** {mach['cores']} cores ({mach['cpu']}), {mach['memory_gib']} GiB RAM, "
             f"Linux {mach['kernel']}, {mach['os']}, cgroups {mach['cgroups']}, "
             f"work dir on {mach['workdir_fs']}.")
    v = info["versions"]
    L.append(f"- **Versions:** pier {v['pier']}; docker CLI {v['docker_cli']}; "
             f"dockerd {v['dockerd']}; containerd {v['containerd']}; runc {v['runc']}; "
             f"docker-registry {v['registry']}.")
    L.append(f"- **Command:** `{info['command']}` (took {info['elapsed']}).")
    for note in info["notes"]:
        L.append(f"- {note}")
    drift = []
    for meas in results:
        for mt in meas.metrics:
            r, pr = meas.ratio(mt.key), prev_ratio(prev, meas, mt.key)
            if r is not None and pr:
                drift.append(abs(r / pr - 1))
    if drift:
        drift.sort()
        n = len(drift)
        L.append(f"- **Run to run:** {n} {'ratio also appears' if n == 1 else 'ratios also appear'}"
                 f" in an earlier section; {'it differs' if n == 1 else 'they differ'} from it by "
                 f"{100 * drift[n // 2]:.0f} % at the median and {100 * drift[-1]:.0f} % at most "
                 "(column \"previous\").")
    L.append("")
    by_workload = {}
    for meas in results:
        by_workload.setdefault(meas.workload, []).append(meas)
    for wl, measures in by_workload.items():
        first = measures[0]
        L.append(f"### {TITLES.get(wl, wl)}")
        L.append("")
        if wl == "mem-idle":
            counts = ""
        elif wl.startswith("mem-"):
            counts = f"{first.runs} containers per engine"
        else:
            counts = (f"{first.runs} timed runs per engine after {first.warmup} warm-up, "
                      "alternating pier/docker")
        notes = "; ".join(x for x in (first.note, counts) if x)
        L.append(f"{notes}. Cells: min / **median** / max.")
        L.append("")
        L.append("| variant | metric | pier | docker | pier/docker | previous |")
        L.append("| --- | --- | --- | --- | --- | --- |")
        for meas in measures:
            for mt in meas.metrics:
                ratio = meas.ratio(mt.key)
                pr = prev_ratio(prev, meas, mt.key)
                ee = info.get("engine_errors")
                L.append(f"| {meas.variant} | {mt.label} | "
                         f"{fmt_side(meas, 'pier', mt.key, mt.unit, ee)} | "
                         f"{fmt_side(meas, 'docker', mt.key, mt.unit, ee)} | "
                         f"{f'**{ratio:.2f}**' if ratio is not None else '—'} | "
                         f"{f'{pr:.2f}' if pr is not None else '—'} |")
        if wl == "run-nonet":
            L += network_cost(by_workload.get("run", []), measures,
                              by_workload.get("net-cost", []))
        L.append("")
        L.append("Commands:")
        L.append("")
        seen = set()
        for meas in measures:
            for e in ENGINES:
                for cmd in meas.commands[e]:
                    if (e, cmd) in seen:
                        continue
                    seen.add((e, cmd))
                    L.append(f"- {meas.side_names[e]}: `{cmd}`")
        L.append("")
    L.append("<!-- bench-data " + json.dumps(
        {"date": info["date"], "mode": info["mode"], "results": [m.to_json() for m in results]},
        separators=(",", ":")) + " -->")
    L.append("")
    return "\n".join(L)


def network_cost(run, nonet, net_cost=()):
    """issue 5's figure: what the default network adds to `run --rm busybox true`, per engine
    (median with the default network − median with `--network none`, same client). An engine
    the `net-cost` workload found without container networking is named as not available
    instead of given a figure."""
    unavailable = {}
    for m in net_cost:
        for e in ENGINES:
            if (m.error[e] or "").startswith("not available"):
                unavailable[e] = m.error[e]
    out = []
    for a in run:
        for b in nonet:
            if a.variant != b.variant:
                continue
            parts = []
            for e in ENGINES:
                sa, sb = a.stats(e, "t"), b.stats(e, "t")
                if e in unavailable:
                    parts.append(f"{e} {unavailable[e]}")
                elif sa and sb:
                    parts.append(f"{e} {fmt_value(sa['median'] - sb['median'], 's')}")
            if parts:
                out.append(f"Networking cost, {a.variant} (median of `run` − median with "
                           f"`--network none`): {', '.join(parts)}.")
                out.append("")
    return ([""] + out[:-1]) if out else []


def write(path, section):
    """The page header is rewritten from HEADER (so the method text follows the code); the new
    section goes right below it, the earlier ones after it unchanged."""
    doc = ""
    if os.path.exists(path):
        with open(path) as f:
            doc = f.read()
    rest = doc.split(MARKER, 1)[1] if MARKER in doc else ""
    doc = HEADER + "\n" + section + "\n" + rest.lstrip("\n")
    with open(path + ".tmp", "w") as f:
        f.write(doc)
    os.replace(path + ".tmp", path)


def read_previous(path):
    try:
        with open(path) as f:
            doc = f.read()
    except OSError:
        return None
    if MARKER in doc:
        doc = doc.split(MARKER, 1)[1]
    return previous_data(doc)
