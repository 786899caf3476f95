"""Fixture images, built once and pushed to the loopback registry, so both engines pull the very
same bytes (same manifest digest, same layer blobs):

- `bench/busybox:latest` — one layer: the host's /usr/bin/busybox (Debian busybox-static) with
  its applet symlinks, /etc/passwd and /etc/group; CMD ["sh"].
- `bench/iperf3:latest` — one layer: the host's iperf3 (Debian `iperf3`) with the shared
  libraries `ldd` resolves for it and the dynamic loader, each at the path `ldd` names (symlinks
  resolved to their file), /etc/passwd, /etc/group and a /tmp (iperf3 maps its buffers from a
  temporary file); no shell. Its digest changes only when the host's files do.
- `bench/debian:bookworm` — one layer: `debootstrap --variant=minbase bookworm` from the Debian
  mirror the host's apt sources name, as debootstrap leaves it (its downloaded .debs included,
  about 200 MB) but with empty /dev, /proc, /sys, /run and /tmp. The gzipped layer is cached under the cache directory
  (`/var/cache/pier-bench` by default) so later runs skip debootstrap.

Images are Docker schema2 manifests with gzip layers, pushed with the distribution API
(monolithic blob upload, then the manifest).
"""

import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import time

from .host import log, run_quiet

MT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# bump when the debian layer's recipe changes, so cached layers of an older recipe are rebuilt
RECIPE = "debootstrap-minbase-bookworm/2"


def go_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


class Layer:
    def __init__(self, path, digest, diff_id, size, unpacked):
        self.path, self.digest, self.diff_id = path, digest, diff_id
        self.size, self.unpacked = size, unpacked

    def to_json(self):
        return {"digest": self.digest, "diff_id": self.diff_id, "size": self.size,
                "unpacked": self.unpacked}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class _HashingWriter(io.RawIOBase):
    """Counts and hashes the uncompressed tar stream on its way into gzip."""

    def __init__(self, inner):
        self.inner, self.h, self.n = inner, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.inner.write(b)


def gzip_tar_from_stream(src, out_path):
    """Copy a tar stream into out_path gzipped; returns Layer."""
    with open(out_path + ".tmp", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            hw = _HashingWriter(gz)
            for chunk in iter(lambda: src.read(1 << 20), b""):
                hw.write(chunk)
    os.replace(out_path + ".tmp", out_path)
    return Layer(out_path, sha256_file(out_path), "sha256:" + hw.h.hexdigest(),
                 os.path.getsize(out_path), hw.n)


def add_users(t, passwd, mtime):
    """A fixture layer's /etc/passwd (as given) and /etc/group (root, nogroup)."""
    for name, data in (("etc/passwd", passwd), ("etc/group", b"root:x:0:\nnogroup:x:65534:\n")):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, mtime
        t.addfile(ti, io.BytesIO(data))


def finish_layer(buf, out_dir, name):
    """The tar built in buf, gzipped to out_dir/name; returns Layer."""
    buf.seek(0)
    os.makedirs(out_dir, exist_ok=True)
    return gzip_tar_from_stream(buf, os.path.join(out_dir, name))


def busybox_layer(out_dir):
    """The busybox layer, built from the host's busybox-static."""
    bb = "/usr/bin/busybox"
    applets = run_quiet([bb, "--list"]).stdout.split()
    buf = io.BytesIO()
    mtime = int(os.stat(bb).st_mtime)

    def add_dir(t, name, mode=0o755):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, mtime
        t.addfile(ti)

    def add_file(t, name, data, mode=0o644):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), mode, mtime
        t.addfile(ti, io.BytesIO(data))

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "root", "proc", "sys", "dev", "var", "home"):
            add_dir(t, d, 0o700 if d == "root" else 0o755)
        add_dir(t, "tmp", 0o1777)
        with open(bb, "rb") as f:
            add_file(t, "bin/busybox", f.read(), 0o755)
        for a in applets:
            if a == "busybox" or "/" in a:
                continue
            ti = tarfile.TarInfo(f"bin/{a}")
            ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, "busybox", 0o777, mtime
            t.addfile(ti)
        add_users(t, b"root:x:0:0:root:/root:/bin/sh\n"
                     b"nobody:x:65534:65534:nobody:/home:/bin/false\n", mtime)
    return finish_layer(buf, out_dir, "busybox.tar.gz")


def ldd_closure(binary):
    """The absolute paths of the shared objects `ldd binary` resolves (the loader included, no
    vDSO), in ldd's order; RuntimeError when one is "not found" or ldd fails."""
    r = run_quiet(["ldd", binary])
    if r.returncode != 0:
        raise RuntimeError(f"ldd {binary}: {(r.stderr or r.stdout).strip()}")
    paths = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            raise RuntimeError(f"ldd {binary}: {line}")
        if "=>" in line:
            target = line.split("=>", 1)[1].split("(")[0].strip()
        else:
            target = line.split("(")[0].strip()
        if target.startswith("/"):
            paths.append(target)
    if not paths:
        raise RuntimeError(f"ldd {binary}: no shared objects listed (a static binary?)")
    return paths


def iperf3_layer(out_dir, binary="/usr/bin/iperf3"):
    """The iperf3 layer: the host's iperf3, its ldd closure and the loader, as regular files at
    the paths the binary and ldd name (the container resolves them as the host does)."""
    real = os.path.realpath(binary)
    if not os.access(real, os.X_OK):
        raise RuntimeError(f"{binary} is not there (apt-get install iperf3)")
    files = [(binary, real)] + [(p, os.path.realpath(p)) for p in ldd_closure(binary)]
    mtime = int(os.stat(real).st_mtime)
    buf = io.BytesIO()
    made = set()

    def add_dir(t, name, mode=0o755):
        if name in made:
            return
        made.add(name)
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, mtime
        t.addfile(ti)

    def add_parents(t, name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            add_dir(t, "/".join(parts[:i]))

    def add_file(t, name, data, mode=0o644):
        add_parents(t, name)
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), mode, mtime
        t.addfile(ti, io.BytesIO(data))

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("etc", "proc", "sys", "dev"):
            add_dir(t, d)
        add_dir(t, "tmp", 0o1777)
        for shown, path in sorted(set(files)):
            with open(path, "rb") as f:
                add_file(t, shown.lstrip("/"), f.read(), 0o755)
        add_users(t, b"root:x:0:0:root:/:/nonexistent\n"
                     b"nobody:x:65534:65534:nobody:/:/nonexistent\n", mtime)
    return finish_layer(buf, out_dir, "iperf3.tar.gz")


def debian_mirror(apt_dir="/etc/apt"):
    """The first Debian mirror in the host's apt sources (deb822 or one-line format)."""
    files = []
    if os.path.exists(os.path.join(apt_dir, "sources.list")):
        files.append(os.path.join(apt_dir, "sources.list"))
    d = os.path.join(apt_dir, "sources.list.d")
    if os.path.isdir(d):
        files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                  if f.endswith((".list", ".sources"))]
    candidates = []
    for path in files:
        try:
            with open(path) as fh:
                text = fh.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.lstrip().startswith("#"):
                        k, v = line.split(":", 1)
                        fields[k.strip().lower()] = v.strip()
                if "deb" in fields.get("types", "").split():
                    for uri in fields.get("uris", "").split():
                        candidates.append((uri, fields.get("suites", "")))
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb":
                    rest = [p for p in parts[1:] if not p.startswith("[")]
                    if len(rest) >= 2:
                        candidates.append((rest[0], rest[1]))
    for uri, suites in candidates:
        if "security" in uri:
            continue
        if "bookworm" in suites.split() or "debian" in uri:
            return uri.rstrip("/")
    return "http://deb.debian.org/debian"


def debian_layer(cache_dir, scratch_dir):
    """The cached debian bookworm minbase layer, made with debootstrap when absent."""
    cdir = os.path.join(cache_dir, f"debian-bookworm-minbase-{go_arch()}")
    meta = os.path.join(cdir, "layer.json")
    tgz = os.path.join(cdir, "layer.tar.gz")
    if os.path.exists(meta) and os.path.exists(tgz):
        with open(meta) as fh:
            m = json.load(fh)
        if m.get("recipe") == RECIPE and m.get("size") == os.path.getsize(tgz):
            log(f"debian bookworm minbase layer from cache {cdir}")
            return Layer(tgz, m["digest"], m["diff_id"], m["size"], m["unpacked"]), m
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed")
    mirror = debian_mirror()
    root = os.path.join(scratch_dir, "debootstrap-root")
    log(f"debootstrap --variant=minbase bookworm from {mirror} (once; cached in {cdir})")
    t0 = time.monotonic()
    r = subprocess.run(["debootstrap", "--variant=minbase", f"--arch={go_arch()}", "bookworm",
                        root, mirror], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("debootstrap failed: " + (r.stderr or r.stdout).strip()[-800:])
    # /dev, /proc, /sys, /run and /tmp are emptied (they are mount points or device nodes in a
    # container); everything else stays as debootstrap left it, downloaded .debs included.
    for sub in ("dev", "proc", "sys", "run", "tmp"):
        p = os.path.join(root, sub)
        if os.path.isdir(p) and not os.path.islink(p):
            for name in os.listdir(p):
                q = os.path.join(p, name)
                if os.path.isdir(q) and not os.path.islink(q):
                    shutil.rmtree(q)
                else:
                    os.remove(q)
    os.makedirs(cdir, exist_ok=True)
    tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                            "--sort=name", "-C", root, "-cf", "-", "."],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    layer = gzip_tar_from_stream(tar.stdout, tgz)
    if tar.wait() != 0:
        raise RuntimeError("tar of the debootstrap root failed: " + tar.stderr.read().decode())
    shutil.rmtree(root)
    m = dict(layer.to_json(), recipe=RECIPE, mirror=mirror, built=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                     time.gmtime()),
             debootstrap_seconds=round(time.monotonic() - t0))
    with open(meta, "w") as f:
        json.dump(m, f, indent=1)
    log(f"debian layer: {layer.unpacked / 1e6:.0f} MB unpacked, {layer.size / 1e6:.0f} MB gzipped")
    return layer, m


class RegistryPusher:
    def __init__(self, addr):
        self.addr = addr

    def _req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection(self.addr, timeout=300)
        c.blocksize = 1 << 20
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def push_blob(self, repo, digest, path=None, data=None):
        st, _, _ = self._req("HEAD", f"/v2/{repo}/blobs/{digest}")
        if st == 200:
            return
        st, hdr, body = self._req("POST", f"/v2/{repo}/blobs/uploads/", body=b"")
        if st != 202:
            raise RuntimeError(f"registry: start upload: {st} {body[:200]!r}")
        loc = hdr["location"]
        loc = loc[loc.find("/v2/"):] if "/v2/" in loc else loc
        sep = "&" if "?" in loc else "?"
        if path is not None:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                st, _, body = self._req("PUT", f"{loc}{sep}digest={digest}", body=f,
                                        headers={"Content-Length": str(size),
                                                 "Content-Type": "application/octet-stream"})
        else:
            st, _, body = self._req("PUT", f"{loc}{sep}digest={digest}", body=data,
                                    headers={"Content-Type": "application/octet-stream"})
        if st != 201:
            raise RuntimeError(f"registry: upload {digest}: {st} {body[:200]!r}")

    def push_image(self, repo, tag, layer, cmd, env_path):
        config = {
            "architecture": go_arch(), "os": "linux",
            "created": "2025-01-01T00:00:00Z",
            "config": {"Cmd": cmd, "Env": [f"PATH={env_path}"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [{"created": "2025-01-01T00:00:00Z", "created_by": "pier bench fixture"}],
        }
        cfg = json.dumps(config, separators=(",", ":")).encode()
        cfg_digest = "sha256:" + hashlib.sha256(cfg).hexdigest()
        self.push_blob(repo, cfg_digest, data=cfg)
        self.push_blob(repo, layer.digest, path=layer.path)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "size": len(cfg), "digest": cfg_digest},
            "layers": [{"mediaType": MT_LAYER, "size": layer.size, "digest": layer.digest}],
        }, separators=(",", ":")).encode()
        st, _, body = self._req("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
                                headers={"Content-Type": MT_MANIFEST})
        if st != 201:
            raise RuntimeError(f"registry: manifest {repo}:{tag}: {st} {body[:200]!r}")
        return f"{self.addr}/{repo}:{tag}", "sha256:" + hashlib.sha256(manifest).hexdigest()
