"""Host side of the harness: what it starts, and how it leaves the host as it found it.

Everything the harness creates lives under one work directory whose name carries a random tag
(`/var/tmp/pier-bench.<tag>`), and every other host object it creates carries that tag in its
name (bridges `pb<x>-<tag>`, cgroup parents `pier-bench-<tag>-*`, nft tables containing the tag).
`Janitor.cleanup()` undoes all of it and is idempotent:

1. stops the processes it started, by their recorded PIDs (SIGTERM, then SIGKILL);
2. kills what those left behind: processes whose command line, cwd or open files point into
   the work directory, and processes inside its own cgroups (container inits, shims) — by PID;
3. unmounts everything mounted under the work directory (deepest first, lazily);
4. deletes its bridges (and veths still attached to them) and nft tables carrying its tag;
5. removes its cgroup directories and the work directory;
6. removes the few files outside it that the reference daemons and debootstrap create in fixed
   places (containerd shim sockets under /run/containerd/s, libmount's empty /run/mount) when
   they appeared during the run.

It never selects a process by name, never touches a mount, link, table or cgroup it did not
create, and never deletes anything that existed before the run.
"""

import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import time

CGROUP_ROOT = "/sys/fs/cgroup"


def log(msg):
    print(f"[bench] {msg}", flush=True)


def run_quiet(argv, **kw):
    """Run a helper command; returns CompletedProcess, never raises on a non-zero exit."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # state is the field after the ")" that closes comm; Z = zombie counts as gone
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def read_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def parent_pid(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_kib(pid, key, source="status"):
    """A `key:   N kB` figure of /proc/<pid>/status or /proc/<pid>/smaps_rollup, in KiB."""
    path = f"/proc/{pid}/{'status' if source == 'status' else 'smaps_rollup'}"
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(f"{key} not in {path}")


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def machine_info():
    cores = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    cg = "v2" if not os.path.isdir(f"{CGROUP_ROOT}/memory") else (
        "hybrid v1+v2" if os.path.isdir(f"{CGROUP_ROOT}/unified") else "v1")
    fs = run_quiet(["findmnt", "-n", "-o", "FSTYPE", "-T", "/var/tmp"]).stdout.strip()
    return {
        "cores": cores,
        "cpu": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": os_name,
        "cgroups": cg,
        "workdir_fs": fs,
    }


def cgroup_hierarchies():
    """Every mounted cgroup hierarchy directory (v1 controllers, named, and the v2 mount)."""
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                parts = line.split()
                sep = parts.index("-")
                fstype = parts[sep + 1]
                if fstype in ("cgroup", "cgroup2") and parts[4].startswith(CGROUP_ROOT):
                    out.append(parts[4])
    except OSError:
        pass
    return sorted(set(out))


def unescape_mount_path(p):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), p)


def mounts_under(prefix):
    """Mount points at or below `prefix` in this mount namespace, deepest first."""
    prefix = prefix.rstrip("/")
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = unescape_mount_path(line.split()[4])
            if mp == prefix or mp.startswith(prefix + "/"):
                found.append(mp)
    return sorted(set(found), key=lambda p: (-p.count("/"), p))


def links_json():
    r = run_quiet(["ip", "-j", "link", "show"])
    try:
        return json.loads(r.stdout or "[]")
    except ValueError:
        return []


def used_ipv4_prefixes():
    """The /16s of addresses and routes present on the host (to pick unused subnets)."""
    used = set()
    for argv in (["ip", "-4", "-o", "addr"], ["ip", "-4", "route", "show", "table", "all"]):
        for m in re.finditer(r"(\d+)\.(\d+)\.\d+\.\d+", run_quiet(argv).stdout):
            used.add((int(m.group(1)), int(m.group(2))))
    return used


def pick_subnets(n):
    """n distinct /24 subnets in 10.0.0.0/8, in /16s that no address or route on the host uses."""
    used = used_ipv4_prefixes()
    picked = []
    while len(picked) < n:
        a, b = 10, 100 + secrets.randbelow(150)
        if (a, b) in used or any(p[1] == b for p in picked):
            continue
        c = secrets.randbelow(250) + 1
        picked.append((a, b, c))
    return [f"{a}.{b}.{c}" for a, b, c in picked]


def nft_tables():
    r = run_quiet(["nft", "list", "tables"])
    if r.returncode != 0:
        return []
    return [tuple(line.split()[1:3]) for line in r.stdout.splitlines() if line.startswith("table ")]


class Janitor:
    """Records what the harness creates, and removes it (see the module docs)."""

    def __init__(self, base="/var/tmp"):
        self.tag = secrets.token_hex(3)
        self.workdir = os.path.join(base, f"pier-bench.{self.tag}")
        os.makedirs(self.workdir, mode=0o700)
        self.procs = []          # (label, Popen, stop_signal, grace seconds), stopped in reverse
        self.bridges = []        # bridge names created by us or by our daemons
        self.cgroup_parents = []  # relative cgroup paths ("pier-bench-<tag>-docker")
        self.temp_files = []     # files outside the workdir we created (removed at the end)
        self.run_containerd_before = self._listdir("/run/containerd/s")
        self.run_containerd_existed = os.path.isdir("/run/containerd")
        # libmount creates /run/mount (utab) the first time something mounts through it
        # (debootstrap mounting /proc in its chroot does): removed at the end if it was absent
        # and holds nothing
        self.absent_dirs = [d for d in ("/run/mount",) if not os.path.exists(d)]
        self.cleaned = False

    @staticmethod
    def _listdir(path):
        try:
            return set(os.listdir(path))
        except OSError:
            return None

    def path(self, *parts):
        p = os.path.join(self.workdir, *parts)
        return p

    def start(self, label, argv, log_path, env=None, stop_signal=signal.SIGTERM, grace=20.0,
              cwd=None):
        """Start a long-running helper in its own session (Ctrl-C reaches only the harness,
        which then stops it in order); stdout and stderr go to log_path."""
        logf = open(log_path, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd, start_new_session=True)
        logf.close()
        self.procs.append((label, p, stop_signal, grace))
        return p

    def stop_proc(self, p, sig=signal.SIGTERM, grace=20.0):
        if p.poll() is not None:
            return
        try:
            p.send_signal(sig)
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        except ProcessLookupError:
            pass

    def our_cgroup_pids(self):
        pids = set()
        for h in cgroup_hierarchies():
            for parent in self.cgroup_parents:
                top = os.path.join(h, parent)
                for dirpath, _dirs, files in os.walk(top):
                    if "cgroup.procs" in files:
                        try:
                            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                                pids.update(int(x) for x in f.read().split())
                        except OSError:
                            pass
        return pids

    def leftover_pids(self):
        """Processes that belong to this run although we did not start them directly."""
        me = os.getpid()
        found = set(self.our_cgroup_pids())
        for pid in all_pids():
            if pid == me or pid in found:
                continue
            if self.workdir in read_cmdline(pid):
                found.add(pid)
                continue
            try:
                if os.readlink(f"/proc/{pid}/cwd").startswith(self.workdir):
                    found.add(pid)
                    continue
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(self.workdir + "/"):
                        found.add(pid)
                        break
                except OSError:
                    continue
        found.discard(me)
        return found

    def kill_leftovers(self, rounds=10):
        for _ in range(rounds):
            pids = [p for p in self.leftover_pids() if pid_alive(p)]
            if not pids:
                return []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        return [p for p in self.leftover_pids() if pid_alive(p)]

    def cleanup(self):
        if self.cleaned:
            return []
        problems = []
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            log(f"cleaning up {self.workdir}")
            for label, p, sig, grace in reversed(self.procs):
                self.stop_proc(p, sig, grace)
            left = self.kill_leftovers()
            if left:
                problems.append(f"processes still alive: {left}")
            for mp in mounts_under(self.workdir):
                r = run_quiet(["umount", "-l", mp])
                if r.returncode != 0 and os.path.ismount(mp):
                    problems.append(f"umount {mp}: {r.stderr.strip()}")
            problems += self.remove_network()
            problems += self.remove_cgroups()
            self.remove_containerd_sockets()
            for d in self.absent_dirs:
                self.remove_if_empty(d)
            for f in self.temp_files:
                try:
                    os.remove(f)
                except FileNotFoundError:
                    pass
            if not mounts_under(self.workdir):
                r = run_quiet(["rm", "-rf", "--one-file-system", self.workdir])
                if r.returncode != 0:
                    problems.append(f"rm {self.workdir}: {r.stderr.strip()}")
            else:
                problems.append(f"mounts remain under {self.workdir}; left it in place")
            self.cleaned = True
            for p in problems:
                log(f"cleanup problem: {p}")
            return problems
        finally:
            signal.signal(signal.SIGINT, old_int)

    def remove_network(self):
        problems = []
        links = links_json()
        for link in links:
            if link.get("master") in self.bridges:
                run_quiet(["ip", "link", "del", link["ifname"]])
        for br in self.bridges:
            if any(link.get("ifname") == br for link in links):
                r = run_quiet(["ip", "link", "del", br])
                if r.returncode != 0:
                    problems.append(f"ip link del {br}: {r.stderr.strip()}")
        for family, name in nft_tables():
            if self.tag in name:
                r = run_quiet(["nft", "delete", "table", family, name])
                if r.returncode != 0:
                    problems.append(f"nft delete table {family} {name}: {r.stderr.strip()}")
        return problems

    def remove_cgroups(self):
        problems = []
        for h in cgroup_hierarchies():
            for parent in self.cgroup_parents:
                top = os.path.join(h, parent)
                if not os.path.isdir(top):
                    continue
                for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
                    for _ in range(20):
                        try:
                            os.rmdir(dirpath)
                            break
                        except FileNotFoundError:
                            break
                        except OSError:
                            time.sleep(0.1)
                    else:
                        problems.append(f"cgroup {dirpath} not removable")
        return problems

    @staticmethod
    def remove_if_empty(d):
        try:
            for name in os.listdir(d):
                p = os.path.join(d, name)
                if os.path.isfile(p) and os.path.getsize(p) == 0:
                    os.remove(p)
            os.rmdir(d)
        except OSError:
            pass

    def remove_containerd_sockets(self):
        """containerd 1.6 puts shim sockets in /run/containerd/s whatever its state dir is:
        remove those that appeared during the run, are no longer open, and the directories
        when they did not exist before."""
        now = self._listdir("/run/containerd/s")
        if now is None:
            return
        before = self.run_containerd_before or set()
        for name in now - before:
            p = os.path.join("/run/containerd/s", name)
            try:
                os.remove(p)
            except OSError:
                pass
        if not self.run_containerd_existed:
            for d in ("/run/containerd/s", "/run/containerd"):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def host_snapshot():
    """What the harness could conceivably leave behind, to compare before/after a run."""
    snap = {
        "links": sorted(link.get("ifname", "") for link in links_json()),
        "nft": sorted(f"{f} {n}" for f, n in nft_tables()),
        "mounts": sorted(m for m in mounts_under("/") if "pier-bench" in m),
        "dirs": {},
    }
    for d in ("/run", "/run/containerd", "/run/containerd/s", "/etc/docker", "/var/lib", "/opt",
              "/var/tmp", "/run/docker"):
        try:
            snap["dirs"][d] = sorted(os.listdir(d))
        except OSError:
            snap["dirs"][d] = None
    cg = {}
    for h in cgroup_hierarchies():
        try:
            cg[h] = sorted(x for x in os.listdir(h) if os.path.isdir(os.path.join(h, x)))
        except OSError:
            pass
    snap["cgroups"] = cg
    return snap


def which(name, extra=()):
    for d in extra:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)
