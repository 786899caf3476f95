"""Measurements and their statistics.

A `Measurement` is one variant of one workload (e.g. "run --rm busybox true, pier CLI → pierd vs
docker CLI → dockerd"). It holds, per engine, the samples of one or more metrics (a timed command
can yield several, e.g. start time and removal time), or the error that stopped that engine's
side. `alternate()` runs both sides in strict alternation — pier, docker, pier, docker … — with
warm-up iterations whose figures are dropped. A side that fails is never given a number: its
error is kept and reported, and the other side goes on alone.
"""

import statistics
import subprocess
import time

ENGINES = ("pier", "docker")


class SideError(Exception):
    """One engine's side of a measurement cannot be done (the message says why)."""


class Metric:
    def __init__(self, key, label, unit):
        self.key, self.label, self.unit = key, label, unit


class Measurement:
    def __init__(self, workload, variant, metrics, commands, note=""):
        self.workload = workload
        self.variant = variant
        self.metrics = metrics                    # [Metric]
        self.commands = commands                  # {engine: [display strings]}
        self.note = note
        self.samples = {e: {m.key: [] for m in metrics} for e in ENGINES}
        self.error = {e: None for e in ENGINES}
        self.runs = 0
        self.warmup = 0
        self.side_names = {"pier": "against pierd", "docker": "against dockerd"}

    def fail(self, engine, msg):
        if self.error[engine] is None:
            self.error[engine] = str(msg)

    def stats(self, engine, key):
        s = self.samples[engine][key]
        if self.error[engine] is not None or not s:
            return None
        return {"min": min(s), "median": statistics.median(s), "max": max(s), "n": len(s)}

    def ratio(self, key):
        p, d = self.stats("pier", key), self.stats("docker", key)
        if not p or not d or d["median"] == 0:
            return None
        return p["median"] / d["median"]

    def to_json(self):
        out = {"workload": self.workload, "variant": self.variant, "metrics": {}}
        for m in self.metrics:
            out["metrics"][m.key] = {
                "label": m.label, "unit": m.unit,
                "pier": self.stats("pier", m.key), "docker": self.stats("docker", m.key),
                "ratio": self.ratio(m.key),
            }
        out["error"] = self.error
        return out


def alternate(meas, fns, warmup, runs, prep=None):
    """Run fns[engine]() in alternation; each returns {metric key: value}. prep[engine]() runs
    untimed before each of that engine's iterations. An engine whose fn is an Exception instead
    of a callable is reported with that error without being run."""
    meas.runs, meas.warmup = runs, warmup
    for e in ENGINES:
        if isinstance(fns.get(e), Exception):
            meas.fail(e, fns[e])
        elif fns.get(e) is None:
            meas.fail(e, "not measured")
    for i in range(warmup + runs):
        for e in ENGINES:
            if meas.error[e] is not None:
                continue
            what = "warm-up" if i < warmup else f"run {i - warmup + 1}"
            try:
                if prep and prep.get(e):
                    prep[e]()
                res = fns[e]()
            except (SideError, subprocess.SubprocessError, OSError) as ex:
                meas.fail(e, f"{ex}" if i == 0 else f"{what}: {ex}")
                continue
            except Exception as ex:  # a harness bug must not cost the other workloads
                meas.fail(e, f"{what}: harness error {type(ex).__name__}: {ex}")
                continue
            if i >= warmup:
                for k, v in res.items():
                    meas.samples[e][k].append(v)
    return meas


def timed_run(client, args, timeout=300, stdout=subprocess.DEVNULL):
    """Time one CLI invocation (fork to exit); SideError with its stderr when it fails."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(client.argv(*args), env=client.env, stdin=subprocess.DEVNULL,
                           stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SideError(f"`{client.name} {' '.join(args)}` did not finish within {timeout}s")
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SideError(short_error(client, args, r.returncode, r.stderr))
    return dt


def short_error(client, args, code, stderr):
    lines = [line.strip() for line in (stderr or b"").decode(errors="replace").splitlines()
             if line.strip()]
    msg = " ".join(lines[-2:]) if lines else "(no message)"
    if len(msg) > 300:
        msg = msg[:300] + "…"
    return f"`{client.name} {' '.join(args[:3])}` exit {code}: {msg}"


def fmt_value(v, unit):
    if unit == "s":
        if v < 1:
            return f"{v * 1000:.1f} ms" if v < 0.1 else f"{v * 1000:.0f} ms"
        return f"{v:.2f} s"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if unit == "MiB/s":
        return f"{v:.0f} MiB/s" if v >= 100 else f"{v:.1f} MiB/s"
    if unit == "Gbit/s":
        return f"{v:.2f} Gbit/s" if v >= 1 else f"{v * 1000:.0f} Mbit/s"
    if unit == "KiB":
        return f"{v:.0f} KiB" if v >= 100 else f"{v:.1f} KiB"
    return f"{v:g} {unit}"
