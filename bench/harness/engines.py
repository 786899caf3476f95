"""The processes under test and around them: a loopback registry, pierd, and a reference dockerd
with its own containerd. Each gets its own directories under the janitor's work directory, its own
socket and its own bridge (or none), so neither disturbs the other nor anything on the host.

An engine is described by `Engine`: its socket, its daemon PIDs (for memory figures), and two
clients — its own CLI (`pier` for pierd, `docker` for dockerd) and the docker CLI — each a
`Client` that knows how to build an argv and its environment, and how to print itself for the
report's reproduction commands.
"""

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import time

from .host import log, pid_alive, run_quiet
from .measure import SideError


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def unix_get(sock_path, path, timeout=10):
    """GET over a unix socket: (status, body bytes); raises OSError when nothing listens."""
    c = UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).strip()
    except OSError:
        return ""


class StartError(Exception):
    pass


class Client:
    """One CLI pointed at one daemon."""

    def __init__(self, name, binary, env_vars, display_binary, base_env):
        self.name = name                  # "pier" or "docker"
        self.binary = binary
        self.env_vars = env_vars          # the variables that point it at its daemon
        self.display_binary = display_binary
        self.env = dict(base_env, **env_vars)

    def argv(self, *args):
        return [self.binary, *args]

    def display(self, args, workdir):
        """The command as the report prints it: the variable that points this CLI at its daemon
        (the first one: PIER_HOST for pier), the binary, the arguments shell-quoted except
        placeholders (words with "…")."""
        words = " ".join(a.replace(workdir, "$W") if "…" in a or workdir in a else shlex.quote(a)
                         for a in args)
        if not self.env_vars:
            return f"{self.display_binary} {words}"
        k, v = next(iter(self.env_vars.items()))
        return f"{k}={v.replace(workdir, '$W')} {self.display_binary} {words}"

    def run(self, *args, timeout=300, check=True, stdout=subprocess.DEVNULL):
        """Run to completion; CommandError (a SideError) when it fails (with check) or does not
        finish within timeout seconds (it is then killed)."""
        try:
            r = subprocess.run(self.argv(*args), env=self.env, stdin=subprocess.DEVNULL,
                               stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CommandError(self.argv(*args), "timeout",
                               f"killed after {timeout} s".encode())
        if check and r.returncode != 0:
            raise CommandError(self.argv(*args), r.returncode, r.stderr)
        return r


class CommandError(SideError):
    def __init__(self, argv, code, stderr):
        msg = (stderr or b"").decode(errors="replace").strip().splitlines()
        last = " ".join(line.strip() for line in msg[-3:]) if msg else f"exit status {code}"
        how = "did not finish" if code == "timeout" else f"exited {code}"
        super().__init__(f"`{os.path.basename(argv[0])} {' '.join(argv[1:4])}…` {how}: {last}")
        self.short = last


class Engine:
    def __init__(self, name, sock, own, docker):
        self.name = name          # "pier" or "docker"
        self.sock = sock
        self.own = own            # Client: the engine's own CLI
        self.docker = docker      # Client: the docker CLI against this engine
        self.daemon_procs = []    # Popen of the daemon processes (RSS = their sum)
        self.version = {}
        self.data_dirs = []       # where the engine keeps images (to check a cold pull is cold)

    def api(self, path, timeout=30):
        """GET on the engine's API: (status, parsed JSON or None). Used to check what a CLI
        claims (an image pulled, containers running) against the daemon itself."""
        try:
            status, body = unix_get(self.sock, path, timeout=timeout)
        except OSError as ex:
            raise SideError(f"API GET {path}: {ex}")
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, None

    def has_image(self, ref):
        return self.api(f"/images/{ref}/json")[0] == 200

    def daemon_pids(self):
        return [p.pid for p in self.daemon_procs if p.poll() is None]

    def alive(self):
        return all(p.poll() is None for p in self.daemon_procs)


def base_env(janitor):
    env = dict(os.environ)
    env["DOCKER_CONFIG"] = janitor.path("docker-config")   # never read or write ~/.docker
    os.makedirs(env["DOCKER_CONFIG"], exist_ok=True)
    for var in ("DOCKER_HOST", "PIER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY"):
        env.pop(var, None)
    env["PATH"] = env.get("PATH", "") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def wait_ping(sock, proc, log_path, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartError(f"{what} exited with status {proc.returncode}: "
                             f"{tail(log_path, 8) or '(nothing in its log)'}")
        try:
            status, _ = unix_get(sock, "/_ping", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise StartError(f"{what} did not answer /_ping within {timeout:.0f}s: {tail(log_path, 8)}")


def start_registry(janitor):
    """Debian's docker-registry on a free 127.0.0.1 port; returns "127.0.0.1:PORT"."""
    d = janitor.path("registry")
    os.makedirs(d, exist_ok=True)
    for _ in range(5):
        addr = f"127.0.0.1:{free_port()}"
        cfg = os.path.join(d, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {d}/data\n"
                    "  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"http:\n  addr: {addr}\n")
        logp = os.path.join(d, "registry.log")
        p = janitor.start("registry", ["/usr/bin/docker-registry", "serve", cfg], logp)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and p.poll() is None:
            try:
                c = http.client.HTTPConnection(addr, timeout=2)
                c.request("GET", "/v2/")
                if c.getresponse().status == 200:
                    log(f"registry on {addr} (pid {p.pid})")
                    return addr
            except OSError:
                pass
            time.sleep(0.05)
        janitor.stop_proc(p)
    raise StartError(f"docker-registry did not start: {tail(logp)}")


def help_text(binary):
    r = run_quiet([binary, "--help"], timeout=20)
    return r.stdout + r.stderr


def make_bridge(janitor, name, subnet):
    """A bridge of ours with <subnet>.1/24, up; the janitor deletes it (and veths on it)."""
    r = run_quiet(["ip", "link", "add", name, "type", "bridge"])
    if r.returncode != 0:
        raise StartError(f"ip link add {name}: {r.stderr.strip()}")
    janitor.bridges.append(name)
    for argv in (["ip", "addr", "add", f"{subnet}.1/24", "dev", name],
                 ["ip", "link", "set", name, "up"]):
        r = run_quiet(argv)
        if r.returncode != 0:
            raise StartError(f"{' '.join(argv)}: {r.stderr.strip()}")


def start_pierd(janitor, release_dir, bridge, subnet, env):
    """pierd with its own data root, exec root, socket; bridge flags when pierd has them."""
    pierd = os.path.join(release_dir, "pierd")
    pier = os.path.join(release_dir, "pier")
    for b in (pierd, pier):
        if not os.access(b, os.X_OK):
            raise StartError(f"{b} is missing (did `cargo build --release --bins` succeed?)")
    d = janitor.path("pier")
    os.makedirs(d, exist_ok=True)
    sock = os.path.join(d, "pier.sock")
    cfg = os.path.join(d, "daemon.json")
    with open(cfg, "w") as f:
        f.write("{}\n")
    helptext = help_text(pierd)
    argv = [pierd, "-H", f"unix://{sock}", "--data-root", os.path.join(d, "data"),
            "--exec-root", os.path.join(d, "exec"), "--pidfile", os.path.join(d, "pierd.pid")]
    if "--config-file" in helptext:
        argv += ["--config-file", cfg]
    if "--bridge" in helptext:
        # as for dockerd: --bridge names a bridge that exists, with its address (no --bip)
        make_bridge(janitor, bridge, subnet)
        argv += ["--bridge", bridge]
    if "--iptables" in helptext:
        argv += ["--iptables=false"]
    if "--cgroup-parent" in helptext:
        parent = f"pier-bench-{janitor.tag}-pier"
        argv += ["--cgroup-parent", "/" + parent]
        janitor.cgroup_parents.append(parent)
    # Without --cgroup-parent, pierd's own cleanup owns its cgroups; anything of its still
    # running at the end is found by the janitor through paths into the work directory.
    logp = os.path.join(d, "pierd.log")
    p = janitor.start("pierd", argv, logp, env=env, grace=30)
    wait_ping(sock, p, logp, "pierd", timeout=30)
    log(f"pierd on {sock} (pid {p.pid})")
    e = Engine("pier", sock,
               Client("pier", pier, {"PIER_HOST": f"unix://{sock}", "DOCKER_HOST": f"unix://{sock}"},
                      "target/release/pier", env),
               Client("docker", "docker", {"DOCKER_HOST": f"unix://{sock}"}, "docker", env))
    e.daemon_procs = [p]
    e.data_dirs = [os.path.join(d, "data")]
    e.argv = argv
    e.version = engine_version(sock)
    return e


def start_dockerd(janitor, bridge, subnet, env):
    """containerd + dockerd from Debian's docker.io, both confined to the work directory:
    own data root, exec root, socket, containerd (own root/state/socket/namespace), own bridge
    (created here), no iptables, no ip_forward change, own cgroup parent; published ports through
    docker-proxy."""
    for b in ("dockerd", "containerd", "runc", "containerd-shim-runc-v2"):
        if not any(os.access(os.path.join(p, b), os.X_OK)
                   for p in env["PATH"].split(":") if p):
            raise StartError(f"{b} not found (Debian package docker.io)")
    d = janitor.path("docker")
    cd = os.path.join(d, "containerd")
    os.makedirs(cd, exist_ok=True)
    ctr_sock = os.path.join(cd, "containerd.sock")
    ctr_cfg = os.path.join(cd, "config.toml")
    with open(ctr_cfg, "w") as f:
        f.write(f"""version = 2
root = "{cd}/root"
state = "{cd}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{ctr_sock}"
[ttrpc]
  address = "{ctr_sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{cd}/opt"
""")
    clog = os.path.join(cd, "containerd.log")
    cp = janitor.start("containerd", ["containerd", "--config", ctr_cfg, "--log-level", "warn"],
                       clog, env=env, grace=15)
    deadline = time.monotonic() + 30
    while not os.path.exists(ctr_sock):
        if cp.poll() is not None or time.monotonic() > deadline:
            raise StartError(f"containerd did not start: {tail(clog)}")
        time.sleep(0.05)

    # our own bridge for dockerd's default network (dockerd's --bridge uses an existing one)
    make_bridge(janitor, bridge, subnet)

    sock = os.path.join(d, "docker.sock")
    cfg = os.path.join(d, "daemon.json")
    with open(cfg, "w") as f:
        # dockerd 20.10 writes its trust key to /etc/docker/key.json unless told otherwise
        json.dump({"deprecated-key-path": os.path.join(d, "key.json")}, f)
    parent = f"pier-bench-{janitor.tag}-docker"
    janitor.cgroup_parents.append(parent)
    argv = ["dockerd", "--config-file", cfg, "-H", f"unix://{sock}",
            "--data-root", os.path.join(d, "data"), "--exec-root", os.path.join(d, "exec"),
            "--pidfile", os.path.join(d, "dockerd.pid"),
            "--containerd", ctr_sock, "--containerd-namespace", f"pier-bench-{janitor.tag}",
            "--containerd-plugins-namespace", f"pier-bench-{janitor.tag}-plugins",
            "--bridge", bridge, "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            # published ports go through docker-proxy (dockerd's default; with iptables off it
            # is the only path), bound to the 127.0.0.1 address the workloads ask for
            "--ip-masq=false", "--userland-proxy=true",
            "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", "/" + parent,
            "--storage-driver", "overlay2", "--log-level", "warn"]
    logp = os.path.join(d, "dockerd.log")
    p = janitor.start("dockerd", argv, logp, env=env, grace=40)
    wait_ping(sock, p, logp, "dockerd", timeout=60)
    log(f"dockerd on {sock} (pid {p.pid}; containerd pid {cp.pid})")
    e = Engine("docker", sock,
               Client("docker", "docker", {"DOCKER_HOST": f"unix://{sock}"}, "docker", env),
               Client("docker", "docker", {"DOCKER_HOST": f"unix://{sock}"}, "docker", env))
    e.daemon_procs = [p, cp]
    e.data_dirs = [os.path.join(d, "data"), os.path.join(cd, "root")]
    e.argv = argv
    e.version = engine_version(sock)
    return e


def disk_usage(paths):
    """Bytes allocated to the files under paths (not following symlinks or crossing mounts)."""
    total = 0
    for top in paths:
        dev = None
        for dirpath, dirs, files in os.walk(top):
            try:
                st = os.lstat(dirpath)
            except OSError:
                continue
            if dev is None:
                dev = st.st_dev
            elif st.st_dev != dev:
                dirs[:] = []
                continue
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
                except OSError:
                    pass
    return total


def engine_version(sock):
    try:
        status, body = unix_get(sock, "/version")
        if status == 200:
            return json.loads(body)
    except (OSError, ValueError):
        pass
    return {}


def stop_engine(janitor, engine):
    """Stop one engine's daemons now (the janitor would at exit anyway)."""
    for p in engine.daemon_procs:
        janitor.stop_proc(p, signal.SIGTERM, 40)
    return not any(pid_alive(p.pid) for p in engine.daemon_procs)
