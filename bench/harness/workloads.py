"""The workloads (issue 6). Each is a function `(ctx) -> [Measurement]`, registered in
`WORKLOADS` with its name, its description and whether `--quick` includes it.

Every workload runs the same command line on both engines. A side that cannot run (pierd did not
start, a fixture could not be loaded into it, a command fails) gets its error instead of figures;
the other side is still measured. Workloads remove the containers they create (`rm -f`), and the
janitor kills whatever is left at the end.

Variants: the "own CLI" variant compares `pier` → pierd with `docker` → dockerd (what a user of
each types); the "docker CLI" variant drives both daemons with the same docker CLI, so only the
daemons differ.
"""

import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

from .engines import Client, disk_usage, free_port
from .host import parent_pid, proc_kib
from .measure import (ENGINES, Measurement, Metric, SideError, alternate, fmt_value,
                      timed_run)

SLEEP = "600"
CANARY = "pier-bench-ok"
COLD_SLACK = 16 << 20


def canary(client, args):
    """Before timing a command whose output proves nothing, run a variant that must print
    CANARY: a CLI or daemon that answers without doing the work never gets a number."""
    r = client.run(*args, stdout=subprocess.PIPE, timeout=120)
    if CANARY.encode() not in r.stdout:
        raise SideError(f"`{client.name} {' '.join(args)}` exited 0 but did not print {CANARY} "
                        f"(printed {r.stdout[:80]!r})")


def running_names(ctx, engine, prefix):
    """Names of the running containers whose name starts with prefix, from the daemon's API."""
    status, body = ctx.engines[engine].api("/containers/json")
    if status != 200 or not isinstance(body, list):
        raise SideError(f"GET /containers/json: status {status}")
    names = set()
    for c in body:
        for n in c.get("Names") or []:
            if n.lstrip("/").startswith(prefix):
                names.add(n.lstrip("/"))
    return names


class Ctx:
    def __init__(self, janitor, engines, engine_errors, quick, runs_override, warmup_override):
        self.janitor = janitor
        self.engines = engines              # {"pier": Engine|None, "docker": Engine|None}
        self.engine_errors = engine_errors  # {"pier": str|None, "docker": str|None}
        self.quick = quick
        self.runs_override = runs_override
        self.warmup_override = warmup_override
        self.busybox = "busybox"            # image name both engines know the busybox fixture by
        self.image_errors = {e: None for e in ENGINES}
        self.debian_ref = None
        self.debian_error = None
        self.iperf3_ref = None              # the iperf3 fixture in the loopback registry
        self.iperf3_error = None            # why there is none (net-tput falls back to nc)
        self.fixture_info = {}
        self.release_dir = ""

    def counts(self, warmup, runs, quick_warmup, quick_runs):
        w, r = (quick_warmup, quick_runs) if self.quick else (warmup, runs)
        if self.warmup_override is not None:
            w = self.warmup_override
        if self.runs_override is not None:
            r = self.runs_override
        return w, r

    def client(self, engine, kind):
        """kind "own" or "docker"; raises SideError when that engine is not there."""
        eng = self.engines.get(engine)
        if eng is None:
            raise SideError(self.engine_errors.get(engine) or f"{engine} engine not started")
        return eng.own if kind == "own" else eng.docker

    def need_busybox(self, engine):
        if self.image_errors[engine]:
            raise SideError(f"no busybox image: {self.image_errors[engine]}")

    def variants(self, kinds=("own", "docker")):
        labels = {"own": "pier CLI → pierd · docker CLI → dockerd",
                  "docker": "docker CLI → pierd · docker CLI → dockerd"}
        return [(k, labels[k]) for k in kinds]

    def display(self, engine, kind, args):
        try:
            return self.client(engine, kind).display(args, self.janitor.workdir)
        except SideError:
            sock = f"$W/{'pier/pier.sock' if engine == 'pier' else 'docker/docker.sock'}"
            if (engine, kind) == ("pier", "own"):
                return f"PIER_HOST=unix://{sock} target/release/pier {' '.join(args)}"
            return f"DOCKER_HOST=unix://{sock} docker {' '.join(args)}"

    def side_fns(self, kind, make):
        """{engine: make(engine, client)} — or the SideError when the engine is missing."""
        out = {}
        for e in ENGINES:
            try:
                out[e] = make(e, self.client(e, kind))
            except (SideError, subprocess.SubprocessError, OSError) as ex:
                out[e] = ex if isinstance(ex, SideError) else SideError(f"setup: {ex}")
        return out

    def force_rm(self, engine, names):
        if not names:
            return
        for kind in ("own", "docker"):
            try:
                c = self.client(engine, kind)
            except SideError:
                return
            try:
                r = c.run("rm", "-f", *names, check=False, timeout=300)
            except SideError:
                continue
            if r.returncode == 0:
                return


def parallel(client, arg_lists, timeout=600):
    """Start every command at once; wait for all; SideError naming the failures."""
    procs = []
    with tempfile.TemporaryDirectory() as td:
        for i, args in enumerate(arg_lists):
            ef = open(os.path.join(td, f"{i}.err"), "wb")
            procs.append((args, subprocess.Popen(client.argv(*args), env=client.env,
                                                 stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=ef), ef))
        failures = []
        deadline = time.monotonic() + timeout
        for args, p, ef in procs:
            try:
                p.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            ef.close()
            if p.returncode != 0:
                with open(ef.name, "rb") as f:
                    err = [line.strip() for line in
                           f.read().decode(errors="replace").splitlines() if line.strip()]
                failures.append((args, p.returncode, " ".join(err[-2:])))
    if failures:
        args, code, err = failures[0]
        raise SideError(f"{len(failures)} of {len(arg_lists)} `{client.name} {' '.join(args[:2])}` "
                        f"failed; first: exit {code}: {err}")


def start_idle(ctx, engine, names, batch=10):
    """`run -d --name N busybox sleep 600` for every name, `batch` at a time (own CLI)."""
    ctx.need_busybox(engine)
    c = ctx.client(engine, "own")
    ctx.force_rm(engine, names)
    try:
        for i in range(0, len(names), batch):
            parallel(c, [["run", "-d", "--name", n, ctx.busybox, "sleep", SLEEP]
                         for n in names[i:i + batch]])
    except SideError:
        ctx.force_rm(engine, names)
        raise


# ---------------------------------------------------------------------------------------------

def w_run(ctx, extra=(), name="run"):
    args = ["run", "--rm", *extra, ctx.busybox, "true"]
    w, r = ctx.counts(3, 20, 1, 5)
    out = []
    for kind, label in ctx.variants():
        m = Measurement(name, label, [Metric("t", "time", "s")],
                        {e: [ctx.display(e, kind, args)] for e in ENGINES})

        def make(e, c):
            ctx.need_busybox(e)
            canary(c, ["run", "--rm", *extra, ctx.busybox, "echo", CANARY])
            return lambda: {"t": timed_run(c, args, timeout=120)}
        out.append(alternate(m, ctx.side_fns(kind, make), w, r))
    return out


def w_run_nonet(ctx):
    return w_run(ctx, extra=("--network", "none"), name="run-nonet")


def w_parallel(ctx, n):
    w, r = ctx.counts(1, 3, 0, 1)
    names = [f"pb-par{n}-{i}" for i in range(n)]
    kind, label = ctx.variants(("own",))[0]
    run_args = ["run", "-d", "--name", "NAME", ctx.busybox, "sleep", SLEEP]
    m = Measurement(f"run-d-{n}", label,
                    [Metric("start", f"{n} × `run -d` at once, until all returned", "s"),
                     Metric("rm", f"`rm -f` of the {n}", "s")],
                    {e: [f"{n} at once: {ctx.display(e, kind, run_args)}  (NAME = pb-par{n}-0 …)",
                         ctx.display(e, kind, ["rm", "-f", f"pb-par{n}-0 … pb-par{n}-{n - 1}"])]
                     for e in ENGINES})

    def make(e, c):
        ctx.need_busybox(e)

        def once():
            ctx.force_rm(e, names)
            t0 = time.perf_counter()
            try:
                parallel(c, [["run", "-d", "--name", x, ctx.busybox, "sleep", SLEEP]
                             for x in names])
            except SideError:
                ctx.force_rm(e, names)
                raise
            t_start = time.perf_counter() - t0
            up = running_names(ctx, e, f"pb-par{n}-")
            if len(up) != n:
                ctx.force_rm(e, names)
                raise SideError(f"{n} × `run -d` exited 0 but the daemon lists {len(up)} of them "
                                "running")
            t_rm = timed_run(c, ["rm", "-f", *names], timeout=600)
            left = running_names(ctx, e, f"pb-par{n}-")
            if left:
                raise SideError(f"`rm -f` exited 0 but {len(left)} containers are still running")
            return {"start": t_start, "rm": t_rm}
        return once
    alternate(m, ctx.side_fns(kind, make), w, r)
    for e in ENGINES:
        if ctx.engines.get(e):
            ctx.force_rm(e, names)
    return [m]


def w_parallel20(ctx):
    return w_parallel(ctx, 20)


def w_parallel100(ctx):
    return w_parallel(ctx, 100)


def w_exec(ctx):
    w, r = ctx.counts(3, 20, 1, 5)
    name = "pb-exec"
    args = ["exec", name, "true"]
    ready = {}
    for e in ENGINES:
        try:
            start_idle(ctx, e, [name])
            ready[e] = None
        except SideError as ex:
            ready[e] = SideError(f"setup (`run -d --name {name} busybox sleep {SLEEP}`): {ex}")
    out = []
    for kind, label in ctx.variants():
        m = Measurement("exec", label, [Metric("t", "time", "s")],
                        {e: [ctx.display(e, kind, args)] for e in ENGINES},
                        note=f"in a running container (`run -d --name {name} busybox sleep {SLEEP}`)")

        def make(e, c):
            if ready[e]:
                raise ready[e]
            canary(c, ["exec", name, "echo", CANARY])
            return lambda: {"t": timed_run(c, args, timeout=60)}
        out.append(alternate(m, ctx.side_fns(kind, make), w, r))
    for e in ENGINES:
        if ctx.engines.get(e):
            ctx.force_rm(e, [name])
    return out


def w_ps(ctx):
    w, r = ctx.counts(2, 10, 1, 3)
    names = [f"pb-ps-{i}" for i in range(100)]
    ready = {}
    for e in ENGINES:
        try:
            start_idle(ctx, e, names)
            got = ctx.client(e, "own").run("ps", "-q", stdout=subprocess.PIPE, timeout=60)
            lines = len(got.stdout.split())
            if lines != 100:
                raise SideError(f"`ps -q` listed {lines} containers, expected 100")
            ready[e] = None
        except SideError as ex:
            ready[e] = SideError(f"setup (100 × `run -d busybox sleep {SLEEP}`): {ex}")
    out = []
    for kind, label in ctx.variants():
        m = Measurement("ps", label, [Metric("t", "time", "s")],
                        {e: [ctx.display(e, kind, ["ps"])] for e in ENGINES})

        def make(e, c):
            if ready[e]:
                raise ready[e]
            return lambda: {"t": timed_run(c, ["ps"], timeout=60)}
        out.append(alternate(m, ctx.side_fns(kind, make), w, r))
    for e in ENGINES:
        if ctx.engines.get(e):
            ctx.force_rm(e, names)
    return out


def w_logs(ctx):
    w, r = ctx.counts(1, 10, 1, 3)
    name = "pb-logs"
    lines = 100_000
    ready = {}
    for e in ENGINES:
        try:
            ctx.need_busybox(e)
            c = ctx.client(e, "own")
            ctx.force_rm(e, [name])
            c.run("run", "-d", "--name", name, ctx.busybox, "seq", "1", str(lines), timeout=60)
            c.run("wait", name, timeout=120)
            got = c.run("logs", name, stdout=subprocess.PIPE, timeout=120).stdout
            count = got.count(b"\n")
            if count != lines:
                raise SideError(f"`logs` gave {count} lines, expected {lines}")
            ready[e] = None
        except SideError as ex:
            ready[e] = SideError(f"setup (`run -d --name {name} busybox seq 1 {lines}`): {ex}")
    out = []
    for kind, label in ctx.variants():
        m = Measurement("logs", label, [Metric("t", "time", "s")],
                        {e: [ctx.display(e, kind, ["logs", name]) + " >/dev/null"]
                         for e in ENGINES},
                        note=f"of an exited container that printed {lines} lines (`seq 1 {lines}`)")

        def make(e, c):
            if ready[e]:
                raise ready[e]
            return lambda: {"t": timed_run(c, ["logs", name], timeout=120)}
        out.append(alternate(m, ctx.side_fns(kind, make), w, r))
    for e in ENGINES:
        if ctx.engines.get(e):
            ctx.force_rm(e, [name])
    return out


def w_pull(ctx):
    w, r = ctx.counts(1, 5, 0, 3)
    kinds = ("own",) if ctx.quick else ("own", "docker")
    ref = ctx.debian_ref or "127.0.0.1:PORT/bench/debian:bookworm"
    out = []
    for kind, label in ctx.variants(kinds):
        m = Measurement("pull", label, [Metric("t", "time", "s")],
                        {e: [ctx.display(e, kind, ["rmi", "-f", ref]) + " && sync  (untimed)",
                             ctx.display(e, kind, ["pull", ref])] for e in ENGINES},
                        note=ctx.fixture_info.get("debian", ""))

        def make(e, c):
            if ctx.debian_error:
                raise SideError(f"debian fixture image: {ctx.debian_error}")

            eng = ctx.engines[e]
            baseline = []

            def prep():
                r = c.run("rmi", "-f", ref, check=False, timeout=300)
                if eng.has_image(ref):
                    why = r.stderr.decode(errors="replace").strip().splitlines()
                    raise SideError(f"`rmi -f {ref}` left the image in place, so no cold pull"
                                    + (f" ({why[-1]})" if why else ""))
                # cold means nothing of the image is kept: the data root is back to its size
                # before the first pull (a kept blob or layer would be tens of MB)
                used = disk_usage(eng.data_dirs)
                if not baseline:
                    baseline.append(used)
                elif used > baseline[0] + COLD_SLACK:
                    raise SideError(f"after `rmi -f` the data root holds "
                                    f"{(used - baseline[0]) / 2**20:.0f} MiB more than before the "
                                    "first pull (blobs or layers kept), so no cold pull")
                os.sync()

            def once():
                t = timed_run(c, ["pull", ref], timeout=900)
                if not eng.has_image(ref):
                    raise SideError("`pull` exited 0 but the daemon has no such image "
                                    f"(GET /images/{ref}/json)")
                return {"t": t}
            return (prep, once)
        pairs = ctx.side_fns(kind, make)
        fns = {e: (v if isinstance(v, Exception) else v[1]) for e, v in pairs.items()}
        prep = {e: v[0] for e, v in pairs.items() if not isinstance(v, Exception)}
        out.append(alternate(m, fns, w, r, prep=prep))
    floor = pull_floor(ctx, 3)
    if floor and out:
        out[0].note += f"; {floor}"
    return out


def pull_floor(ctx, runs):
    """The physical bound of a pull on this machine: the layer fetched from the same registry,
    gunzipped and untarred onto the same disk (`curl | tar -xzf -`), after `sync`."""
    url = ctx.fixture_info.get("debian_blob_url")
    if not url or not shutil.which("curl"):
        return ""
    target = ctx.janitor.path("pull-floor")
    cmd = f"curl -sf {url} | tar -xzf - -C {target}"
    times = []
    for _ in range(runs):
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        os.sync()
        t0 = time.perf_counter()
        r = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd.replace(
            url, shlex.quote(url))], stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 0:
            return ""
        times.append(time.perf_counter() - t0)
    shutil.rmtree(target, ignore_errors=True)
    times.sort()
    return (f"floor on this machine, `curl <layer blob> | tar -xzf -` onto the same disk: "
            f"{times[0]:.2f} / **{times[len(times) // 2]:.2f}** / {times[-1]:.2f} s "
            f"(min / median / max of {runs})")


def daemon_rss_mib(ctx, e):
    eng = ctx.engines.get(e)
    if eng is None:
        raise SideError(ctx.engine_errors.get(e) or "not started")
    pids = eng.daemon_pids()
    if len(pids) != len(eng.daemon_procs):
        raise SideError("a daemon process has exited")
    return sum(proc_kib(p, "VmRSS") for p in pids) / 1024


def w_mem_idle(ctx):
    samples = 3 if ctx.quick else 5
    m = Measurement("mem-idle", "pierd · dockerd + containerd",
                    [Metric("rss", "RSS of the daemon processes, idle (no containers)", "MiB")],
                    {"pier": ["VmRSS of pierd in /proc/<pid>/status"],
                     "docker": ["VmRSS of dockerd + containerd in /proc/<pid>/status"]},
                    note=f"{samples} samples 1 s apart, after fixture images were loaded")
    m.side_names = {"pier": "pier", "docker": "docker"}

    def make(e, _c):
        def once():
            time.sleep(1)
            return {"rss": daemon_rss_mib(ctx, e)}
        return once
    return [alternate(m, ctx.side_fns("own", make), 0, samples)]


def w_mem_shim(ctx):
    n = 20 if ctx.quick else 50
    names = [f"pb-idle-{i}" for i in range(n)]
    m = Measurement("mem-shim", "pier-shim · containerd-shim-runc-v2",
                    [Metric("pss", f"PSS per container monitor, {n} idle containers", "KiB"),
                     Metric("rss", f"daemon RSS with {n} idle containers", "MiB")],
                    {e: [f"{n} × " + ctx.display(e, "own", ["run", "-d", ctx.busybox, "sleep",
                                                            SLEEP]),
                         "monitor = parent of the container's State.Pid; Pss from "
                         "/proc/<monitor>/smaps_rollup"] for e in ENGINES})
    for e in ENGINES:
        try:
            start_idle(ctx, e, names)
            time.sleep(3)
            c = ctx.client(e, "own")
            got = c.run("inspect", "--format", "{{.State.Pid}}", *names, stdout=subprocess.PIPE,
                        timeout=120).stdout.split()
            pids = [int(x) for x in got]
            if len(pids) != n or 0 in pids:
                raise SideError(f"`inspect` gave {len(pids)} pids for {n} containers: {got[:5]}")
            shims = {}
            for p in pids:
                s = parent_pid(p)
                if s is None:
                    raise SideError(f"container pid {p} has no parent")
                shims[s] = shims.get(s, 0) + 1
            if len(shims) != n:
                raise SideError(f"{n} containers have {len(shims)} distinct parent processes; "
                                "expected one monitor per container")
            for s in shims:
                m.samples[e]["pss"].append(proc_kib(s, "Pss", source="smaps_rollup"))
            with open(f"/proc/{next(iter(shims))}/comm") as f:
                m.commands[e].append(f"monitor process name: {f.read().strip()}")
            m.samples[e]["rss"].append(daemon_rss_mib(ctx, e))
        except SideError as ex:
            m.fail(e, ex)
        except (OSError, ValueError) as ex:
            m.fail(e, f"reading /proc: {ex}")
        finally:
            if ctx.engines.get(e):
                ctx.force_rm(e, names)
    m.runs = n
    return [m]


def w_runtime(ctx):
    """issue 3: `pier-runc run` vs `runc run` of one busybox bundle, no daemon involved."""
    w, r = ctx.counts(3, 20, 1, 5)
    d = ctx.janitor.path("runtime")
    rootfs = os.path.join(d, "rootfs")
    parent = f"pier-bench-{ctx.janitor.tag}-rt"
    ctx.janitor.cgroup_parents.append(parent)
    bundles = {}
    setup_error = None
    try:
        os.makedirs(rootfs, exist_ok=True)
        subprocess.run(["tar", "-xzf", ctx.fixture_info["busybox_tar"], "-C", rootfs], check=True,
                       capture_output=True)
        spec_dir = os.path.join(d, "spec")
        os.makedirs(spec_dir, exist_ok=True)
        subprocess.run(["runc", "spec"], cwd=spec_dir, check=True, capture_output=True)
        with open(os.path.join(spec_dir, "config.json")) as f:
            spec = json.load(f)
        for name, argv in (("true", ["/bin/true"]), ("canary", ["/bin/echo", CANARY])):
            b = os.path.join(d, f"bundle-{name}")
            os.makedirs(b, exist_ok=True)
            spec["process"]["args"] = argv
            spec["process"]["terminal"] = False
            spec["root"] = {"path": rootfs, "readonly": True}
            spec["linux"]["cgroupsPath"] = f"/{parent}/{name}"
            with open(os.path.join(b, "config.json"), "w") as f:
                json.dump(spec, f)
            bundles[name] = b
    except (OSError, subprocess.CalledProcessError, KeyError, ValueError) as ex:
        setup_error = SideError(f"bundle setup (`runc spec`, busybox rootfs): {ex}")
    # pier-runc as installed (static, scripts/build-static-runc) when built, and the workspace's
    # dynamic build; each against runc in its own alternation.
    static = os.path.join(os.path.dirname(ctx.release_dir), "static", "pier-runc")
    builds = [("pier-runc · runc", os.path.join(ctx.release_dir, "pier-runc"),
               "target/release/pier-runc")]
    if os.access(static, os.X_OK):
        builds.insert(0, ("pier-runc (static) · runc", static, "target/static/pier-runc"))
    measurements = []
    for variant, path, shown in builds:
        clients = {"pier": Client("pier-runc", path, {}, shown, dict(os.environ)),
                   "docker": Client("runc", shutil.which("runc") or "runc", {}, "runc",
                                    dict(os.environ))}
        args = {e: ["--root", os.path.join(d, f"state-{clients[e].name}"), "run", "--bundle",
                    bundles.get("true", "B"), "pb-rt"] for e in ENGINES}
        m = Measurement("runtime", variant, [Metric("t", "time", "s")],
                        {e: [clients[e].display(args[e], ctx.janitor.workdir)] for e in ENGINES},
                        note="the same bundle (busybox rootfs, `runc spec` config with args "
                             "`/bin/true`, read-only root, own cgroup), no daemon; crun: "
                             + ("present, but it refuses this host's hybrid cgroups"
                                if shutil.which("crun") else "not installed"))
        m.side_names = {"pier": "pier-runc", "docker": "runc"}

        def make(e, clients=clients, args=args):
            if setup_error:
                return setup_error
            c = clients[e]
            if not os.access(c.binary, os.X_OK):
                return SideError(f"{c.display_binary} is not there")
            try:
                canary(c, ["--root", os.path.join(d, f"state-{c.name}"), "run", "--bundle",
                           bundles["canary"], "pb-rt-canary"])
            except (SideError, subprocess.SubprocessError, OSError) as ex:
                return SideError(f"canary: {ex}")
            return lambda: {"t": timed_run(c, args[e], timeout=60)}
        alternate(m, {e: make(e) for e in ENGINES}, w, r)
        measurements.append(m)
    # The floor in its own alternation with pier-runc (as installed): both then run under the
    # same conditions (runc leaves kernel work behind — cgroup and RCU reclaim — that an
    # alternation with it charges to whichever runs next).
    variant, path, shown = builds[0]
    unshare = shutil.which("unshare")
    if unshare and shutil.which("chroot") and not setup_error:
        floor_args = ["--mount", "--uts", "--ipc", "--pid", "--net", "--fork", "chroot", rootfs,
                      "/bin/true"]
        clients = {"pier": Client("pier-runc", path, {}, shown, dict(os.environ)),
                   "docker": Client("floor", unshare, {}, "unshare", dict(os.environ))}
        args = {"pier": ["--root", os.path.join(d, "state-pier-runc"), "run", "--bundle",
                         bundles.get("true", "B"), "pb-rt"],
                "docker": floor_args}
        m = Measurement("runtime", variant.replace("· runc", "· floor"), [Metric("t", "time", "s")],
                        {e: [clients[e].display(args[e], ctx.janitor.workdir)] for e in ENGINES},
                        note="the floor: new mount, uts, ipc, pid and network namespaces, chroot "
                             "into the same rootfs and exec of `/bin/true`, no runtime; the ratio "
                             "is pier-runc / floor (target ≤ 2×)")
        m.side_names = {"pier": "pier-runc", "docker": "floor"}
        alternate(m, {e: (lambda e=e: {"t": timed_run(clients[e], args[e], timeout=60)})
                      for e in ENGINES}, w, r)
        measurements.append(m)
    return measurements


def networking_error(ctx, engine):
    """Why `engine` cannot be measured for container networking, or None. pierd's networking is
    there once its API lists a `bridge` network; until then its side reports "not available"
    rather than a figure for a loopback-only namespace."""
    if engine != "pier":
        return None
    eng = ctx.engines.get(engine)
    if eng is None:
        return None  # ctx.client() reports the missing engine
    status, body = eng.api("/networks")
    if status == 200 and any((n or {}).get("Name") == "bridge" for n in body or []):
        return None
    return (f"not available: pierd has no container networking yet (GET /networks answered "
            f"{status})")


def need_networking(ctx, engine):
    err = networking_error(ctx, engine)
    if err:
        raise SideError(err)


def w_net_cost(ctx):
    """What the default network adds to `run --rm busybox true`: each iteration runs it with the
    default network and with `--network none`, back to back, and records the difference."""
    with_net = ["run", "--rm", ctx.busybox, "true"]
    no_net = ["run", "--rm", "--network", "none", ctx.busybox, "true"]
    w, r = ctx.counts(3, 20, 1, 5)
    kind, label = ctx.variants(("own",))[0]
    m = Measurement("net-cost", label,
                    [Metric("extra", "default network − `--network none` (target ≤ 5 ms)", "s"),
                     Metric("net", "`run --rm busybox true`, default network", "s"),
                     Metric("none", "`run --rm --network none busybox true`", "s")],
                    {e: [ctx.display(e, kind, with_net), ctx.display(e, kind, no_net)]
                     for e in ENGINES},
                    note="per iteration, the default-network run minus the `--network none` run")

    def make(e, c):
        ctx.need_busybox(e)
        need_networking(ctx, e)
        canary(c, ["run", "--rm", ctx.busybox, "echo", CANARY])

        def once():
            t_net = timed_run(c, with_net, timeout=120)
            t_none = timed_run(c, no_net, timeout=120)
            return {"extra": t_net - t_none, "net": t_net, "none": t_none}
        return once
    return [alternate(m, ctx.side_fns(kind, make), w, r)]


SINK_PORT = 5201
IPERF_PORT = 5201


def send_to_sink(port, nbytes, timeout=120):
    """Send nbytes to 127.0.0.1:port, half-close, and read the byte count the container's
    `wc -c` answers; SideError unless it saw every byte. Returns the seconds taken."""
    chunk = b"\0" * (1 << 20)
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            left = nbytes
            while left > 0:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while True:
                b = s.recv(64)
                if not b:
                    break
                answer += b
    except OSError as ex:
        raise SideError(f"sending to 127.0.0.1:{port}: {ex}")
    dt = time.perf_counter() - t0
    got = answer.decode(errors="replace").strip()
    if got != str(nbytes):
        raise SideError(f"the container's sink counted {got or 'nothing'} of {nbytes} bytes")
    return dt


def iperf3_received(out):
    """(bits per second, bytes) the receiver counted, from `iperf3 -J`'s output; SideError when
    iperf3 reports an error or nothing was received (a figure only for bytes that arrived)."""
    try:
        doc = json.loads(out)
    except ValueError:
        raise SideError(f"iperf3 printed no JSON ({out[:120]!r})")
    if doc.get("error"):
        raise SideError(f"iperf3: {doc['error']}")
    got = (doc.get("end") or {}).get("sum_received") or {}
    nbytes, bps = got.get("bytes") or 0, got.get("bits_per_second") or 0
    if nbytes <= 0 or bps <= 0:
        raise SideError(f"iperf3: the receiver counted {nbytes} bytes")
    return bps, nbytes


IPERF3_BUSY = "the server is busy"


def iperf3_client(addr, port, seconds, reverse=False, busy_wait=10):
    """`iperf3 -c addr -p port -t seconds -J [-R]` on the host; the receiver's Gbit/s. The
    server takes one test at a time and may still be closing the previous one (a proxy in front
    of it closes its side of the connections a little later): a "server is busy" answer is tried
    again for up to busy_wait seconds, as iperf3 asks; nothing of it enters the figure."""
    argv = ["iperf3", "-c", addr, "-p", str(port), "-t", str(seconds), "-J"]
    if reverse:
        argv.append("-R")
    deadline = time.monotonic() + busy_wait
    while True:
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            raise SideError(f"`{' '.join(argv)}` did not finish within {seconds + 60}s")
        try:
            bps, _ = iperf3_received(r.stdout)
            break
        except SideError as ex:
            if IPERF3_BUSY not in str(ex) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    if r.returncode != 0:
        raise SideError(f"`{' '.join(argv)}` exit {r.returncode}: {r.stderr.strip()[-200:]}")
    return bps / 1e9


def bridge_gateway(ctx, e):
    """The gateway address of the engine's default bridge, from its API."""
    status, body = ctx.engines[e].api("/networks/bridge")
    if status != 200 or not isinstance(body, dict):
        raise SideError(f"GET /networks/bridge: status {status}")
    for cfg in (body.get("IPAM") or {}).get("Config") or []:
        gw = (cfg or {}).get("Gateway") or ""
        if gw and ":" not in gw:
            return gw
    raise SideError("GET /networks/bridge names no IPv4 gateway")


def wait_served(check, deadline_s=30):
    """Retry a readiness check (a callable raising SideError) until it passes or time is up."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return check()
        except SideError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def w_net_tput(ctx):
    """Published-port throughput, host ↔ container: iperf3 when the host has it (a fixture image
    of the host's iperf3 runs `iperf3 -s` in the container), else the busybox `nc` sink."""
    if ctx.iperf3_ref:
        return net_tput_iperf3(ctx)
    return net_tput_nc(ctx)


def net_tput_iperf3(ctx):
    secs = 2 if ctx.quick else 5
    w, r = ctx.counts(1, 5, 1, 3)
    image = ctx.iperf3_ref
    out = []
    for where in ("loopback", "gateway"):
        name = f"pb-net-iperf-{where}"
        ports, addrs, ready = {}, {}, {}
        shown = {"loopback": "127.0.0.1", "gateway": "<bridge gateway>"}[where]

        def run_args(e, addr):
            port = ports.setdefault(e, free_port())
            return ["run", "-d", "--name", name, "-p", f"{addr}:{port}:{IPERF_PORT}", image,
                    "iperf3", "-s", "-p", str(IPERF_PORT)]

        def client_cmd(e, reverse):
            return (f"iperf3 -c {addrs.get(e, shown)} -p {ports[e]} -t {secs} -J"
                    + (" -R" if reverse else "") + "  → end.sum_received.bits_per_second")
        for e in ENGINES:
            try:
                if ctx.engines.get(e) is None:
                    raise SideError(ctx.engine_errors.get(e) or f"{e} engine not started")
                need_networking(ctx, e)
                addrs[e] = "127.0.0.1" if where == "loopback" else bridge_gateway(ctx, e)
                ready[e] = None
            except SideError as ex:
                ready[e] = ex
        variant = ("published on 127.0.0.1" if where == "loopback"
                   else "published on the bridge's gateway address")
        kind = "own"
        m = Measurement(
            "net-tput", variant,
            [Metric("up", f"host → container, iperf3 {secs} s (higher is better)", "Gbit/s"),
             Metric("down", f"container → host (`-R`), iperf3 {secs} s (higher is better)",
                    "Gbit/s")],
            {e: [ctx.display(e, kind, run_args(e, addrs.get(e, shown))),
                 client_cmd(e, False), client_cmd(e, True)] for e in ENGINES},
            note=(f"{ctx.fixture_info.get('iperf3') or 'iperf3'}: `iperf3 -s` in the container, "
                  "`iperf3 -c` on the host, figure = the receiver's bits/s (`end.sum_received`); "
                  "pierd forwards with nft DNAT; dockerd, run with `--iptables=false`, with "
                  "docker-proxy (a default dockerd would DNAT the gateway-address path in the "
                  "kernel too and proxy only 127.0.0.1)"))
        m.side_names = {"pier": "pier", "docker": "docker"}

        def make(e, c):
            if ready[e]:
                raise ready[e]
            eng = ctx.engines[e]
            if not eng.has_image(image):
                c.run("pull", image, timeout=300)
                if not eng.has_image(image):
                    raise SideError(f"`pull {image}` exited 0 but the daemon has no such image")
            ctx.force_rm(e, [name])
            c.run(*run_args(e, addrs[e]), timeout=120)
            # served once a 1 MiB test through the published port is counted by the receiver
            wait_served(lambda: iperf3_client_bytes(addrs[e], ports[e]))

            def once():
                return {"up": iperf3_client(addrs[e], ports[e], secs),
                        "down": iperf3_client(addrs[e], ports[e], secs, reverse=True)}
            return once
        try:
            out.append(alternate(m, ctx.side_fns(kind, make), w, r))
        finally:
            for e in ENGINES:
                if ctx.engines.get(e):
                    ctx.force_rm(e, [name])
    return out


def iperf3_client_bytes(addr, port):
    """A 1 MiB iperf3 test; SideError unless the receiver counted it."""
    try:
        r = subprocess.run(["iperf3", "-c", addr, "-p", str(port), "-n", "1M", "-J"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise SideError(f"iperf3 -c {addr} -p {port} -n 1M: no answer within 20 s")
    _, nbytes = iperf3_received(r.stdout)
    if nbytes < 1 << 20:
        raise SideError(f"iperf3: the receiver counted {nbytes} of {1 << 20} bytes")
    return nbytes


def net_tput_nc(ctx):
    """The fallback without iperf3: a busybox `nc -ll -e wc -c` sink in a container published on
    127.0.0.1, fed by a host-side sender; the sink's byte count proves every byte arrived."""
    mib = 64 if ctx.quick else 256
    w, r = ctx.counts(1, 5, 1, 3)
    kind, label = ctx.variants(("own",))[0]
    name = "pb-net-sink"
    ports = {}

    def run_args(e):
        port = ports.setdefault(e, free_port())
        return ["run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{SINK_PORT}", ctx.busybox,
                "nc", "-ll", "-p", str(SINK_PORT), "-e", "wc", "-c"]
    m = Measurement("net-tput", label,
                    [Metric("mibps", f"{mib} MiB host → 127.0.0.1:published port → container "
                            "(higher is better)", "MiB/s")],
                    {e: [ctx.display(e, kind, run_args(e)),
                         f"python: send {mib} MiB to 127.0.0.1:{ports[e]}, read `wc -c`'s count"]
                     for e in ENGINES},
                    note=f"busybox nc sink, not iperf3 ({ctx.iperf3_error or 'iperf3 not set up'})")

    def make(e, c):
        ctx.need_busybox(e)
        need_networking(ctx, e)
        ctx.force_rm(e, [name])
        c.run(*run_args(e), timeout=120)
        # the sink (and any proxy in front of it) is up once 1 byte is counted
        wait_served(lambda: send_to_sink(ports[e], 1, timeout=5))
        return lambda: {"mibps": mib / send_to_sink(ports[e], mib << 20)}
    try:
        return [alternate(m, ctx.side_fns(kind, make), w, r)]
    finally:
        for e in ENGINES:
            ctx.force_rm(e, [name])


class Workload:
    def __init__(self, name, fn, quick, needs_debian, what):
        self.name, self.fn, self.quick, self.needs_debian, self.what = (
            name, fn, quick, needs_debian, what)


WORKLOADS = [
    Workload("mem-idle", w_mem_idle, True, False, "idle daemon RSS: pierd vs dockerd + containerd"),
    Workload("run", w_run, True, False, "`run --rm busybox true`"),
    Workload("run-nonet", w_run_nonet, True, False, "`run --rm --network none busybox true`"),
    Workload("net-cost", w_net_cost, True, False,
             "time the default network adds to `run --rm busybox true` (vs `--network none`)"),
    Workload("net-tput", w_net_tput, False, False,
             "published-port throughput host ↔ container with iperf3 (busybox `nc` sink without "
             "iperf3)"),
    Workload("exec", w_exec, True, False, "`exec c true` round trip"),
    Workload("logs", w_logs, False, False, "`logs` of 100k lines"),
    Workload("ps", w_ps, False, False, "`ps` with 100 containers"),
    Workload("run-d-20", w_parallel20, False, False, "20 parallel `run -d … sleep 600`, then `rm -f`"),
    Workload("run-d-100", w_parallel100, False, False,
             "100 parallel `run -d … sleep 600`, then `rm -f`"),
    Workload("runtime", w_runtime, False, False,
             "`pier-runc run` vs `runc run` of one busybox bundle (no daemon)"),
    Workload("pull", w_pull, True, True, "cold pull of debian bookworm minbase from the loopback "
             "registry"),
    Workload("mem-shim", w_mem_shim, False, False,
             "PSS per idle container monitor (pier-shim vs containerd-shim-runc-v2), 50 containers"),
]

TITLES = {
    "mem-idle": "Idle daemon memory",
    "run": "`run --rm busybox true`",
    "run-nonet": "`run --rm --network none busybox true`",
    "net-cost": "Networking cost of `run --rm busybox true` (default network − `--network none`)",
    "net-tput": "Published-port throughput, host ↔ container",
    "exec": "`exec pb-exec true`",
    "logs": "`logs` of 100 000 lines",
    "ps": "`ps` with 100 running containers",
    "run-d-20": "20 parallel `run -d busybox sleep 600`, then `rm -f`",
    "run-d-100": "100 parallel `run -d busybox sleep 600`, then `rm -f`",
    "runtime": "OCI runtime: `pier-runc run` vs `runc run` of the same busybox bundle",
    "pull": "Cold `pull` of debian bookworm minbase from the loopback registry",
    "mem-shim": "Memory per idle container monitor",
}
