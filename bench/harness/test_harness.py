"""Tests of the harness itself (stdlib unittest; the janitor tests need root):

    python3 -B -m unittest discover -s bench -p 'test_*.py' -v
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.dont_write_bytecode = True

from harness import fixtures, host, measure, report, workloads  # noqa: E402
from harness.measure import Measurement, Metric, SideError, alternate  # noqa: E402


def meas(workload="run", variant="v"):
    return Measurement(workload, variant, [Metric("t", "time", "s")],
                       {"pier": ["p"], "docker": ["d"]})


class AlternateTest(unittest.TestCase):
    def test_strict_alternation_and_warmup_dropped(self):
        calls, n = [], {"pier": 0, "docker": 0}

        def fn(e):
            def once():
                calls.append(e)
                n[e] += 1
                return {"t": float(n[e])}
            return once
        m = alternate(meas(), {"pier": fn("pier"), "docker": fn("docker")}, warmup=2, runs=3)
        self.assertEqual(calls, ["pier", "docker"] * 5)
        # the two warm-up figures (1.0, 2.0) are dropped
        self.assertEqual(m.samples["pier"]["t"], [3.0, 4.0, 5.0])
        self.assertEqual(m.stats("docker", "t"), {"min": 3.0, "median": 4.0, "max": 5.0, "n": 3})
        self.assertEqual(m.ratio("t"), 1.0)

    def test_failing_side_gets_no_number_other_side_goes_on(self):
        k = {"i": 0}

        def pier():
            k["i"] += 1
            if k["i"] == 3:
                raise SideError("boom")
            return {"t": 0.1}
        m = alternate(meas(), {"pier": pier, "docker": lambda: {"t": 0.2}}, warmup=1, runs=4)
        self.assertIn("run 2: boom", m.error["pier"])
        self.assertIsNone(m.stats("pier", "t"))
        self.assertIsNone(m.ratio("t"))
        self.assertEqual(m.stats("docker", "t")["n"], 4)

    def test_missing_engine_is_reported_not_run(self):
        m = alternate(meas(), {"pier": SideError("pierd did not start"),
                               "docker": lambda: {"t": 1.0}}, warmup=0, runs=2)
        self.assertEqual(m.error["pier"], "pierd did not start")
        self.assertEqual(m.samples["docker"]["t"], [1.0, 1.0])

    def test_harness_bug_in_a_side_is_contained(self):
        m = alternate(meas(), {"pier": lambda: {}["x"], "docker": lambda: {"t": 1.0}}, 0, 1)
        self.assertIn("harness error KeyError", m.error["pier"])

    def test_prep_runs_untimed_before_each_iteration(self):
        order = []
        m = alternate(meas(), {"pier": lambda: order.append("run") or {"t": 1.0},
                               "docker": lambda: {"t": 1.0}}, 1, 2,
                      prep={"pier": lambda: order.append("prep")})
        self.assertEqual(order, ["prep", "run"] * 3)
        self.assertEqual(len(m.samples["pier"]["t"]), 2)


class ReportTest(unittest.TestCase):
    INFO = {"date": "2026-01-01 00:00 UTC", "mode": "quick run",
            "machine": {"cores": 2, "cpu": "cpu", "memory_gib": 1.0, "kernel": "6", "os": "D",
                        "cgroups": "v2", "workdir_fs": "ext4"},
            "versions": {k: "x" for k in ("pier", "docker_cli", "dockerd", "containerd", "runc",
                                          "registry")},
            "command": "bench/run --quick", "elapsed": "1 min", "notes": [],
            "engine_errors": {"pier": None, "docker": "no reference dockerd (--no-docker)"}}

    def test_cells(self):
        m = meas()
        m.fail("pier", "`pier run` exit 1: unknown | command")
        self.assertEqual(report.fmt_side(m, "pier", "t", "s"),
                         "not supported by pier yet (error: `pier run` exit 1: unknown \\| command)")
        m.fail("docker", "no reference dockerd (--no-docker)")
        self.assertEqual(report.fmt_side(m, "docker", "t", "s", self.INFO["engine_errors"]),
                         "not measured (no reference dockerd (--no-docker))")
        ok = meas()
        ok.samples["pier"]["t"] = [0.012, 0.015, 0.5]
        self.assertEqual(report.fmt_side(ok, "pier", "t", "s"),
                         "12.0 ms / **15.0 ms** / 500 ms")

    def test_write_inserts_newest_first_and_keeps_history(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "BENCHMARKS.md")
            for i, ratio_pier in enumerate((0.5, 0.6)):
                m = meas("pull", "own")
                m.samples["pier"]["t"] = [ratio_pier]
                m.samples["docker"]["t"] = [1.0]
                info = dict(self.INFO, date=f"run{i}")
                prev = report.read_previous(path)
                report.write(path, report.render_section(info, [m], prev))
            with open(path) as f:
                doc = f.read()
            self.assertTrue(doc.startswith("# Benchmarks"))
            self.assertEqual(doc.count(report.MARKER), 1)
            self.assertLess(doc.index("## run1"), doc.index("## run0"))
            # the newer section shows the older ratio as "previous" and the drift line
            newer = doc[doc.index("## run1"):doc.index("## run0")]
            self.assertIn("| **0.60** | 0.50 |", newer)
            self.assertIn("differs from it by 20 %", newer)
            self.assertEqual(len(report.read_previous(path)), 2)

    def test_network_cost_line(self):
        run, nonet = meas("run"), meas("run-nonet")
        run.samples["pier"]["t"], nonet.samples["pier"]["t"] = [0.030], [0.020]
        lines = report.network_cost([run], [nonet])
        self.assertTrue(any("pier 10.0 ms" in x for x in lines), lines)


    def test_network_cost_line_names_an_engine_without_networking(self):
        run, nonet, cost = meas("run"), meas("run-nonet"), meas("net-cost")
        for m in (run, nonet):
            m.samples["pier"]["t"], m.samples["docker"]["t"] = [0.03], [0.05]
        cost.fail("pier", "not available: pierd has no container networking yet")
        lines = report.network_cost([run], [nonet], [cost])
        text = " ".join(lines)
        self.assertIn("pier not available", text)
        self.assertIn("docker 0.0 ms", text)


class NetWorkloadTest(unittest.TestCase):
    def test_networking_error_until_pierd_lists_a_bridge(self):
        class Eng:
            def __init__(self, status, body):
                self.status, self.body = status, body

            def api(self, path, timeout=30):
                assert path == "/networks"
                return self.status, self.body

        class C:
            engines = {}
        c = C()
        c.engines = {"pier": Eng(501, {"message": "no"}), "docker": Eng(200, [])}
        self.assertIn("not available", workloads.networking_error(c, "pier"))
        self.assertIsNone(workloads.networking_error(c, "docker"))
        c.engines["pier"] = Eng(200, [{"Name": "bridge"}, {"Name": "none"}])
        self.assertIsNone(workloads.networking_error(c, "pier"))

    def test_sink_counts_every_byte(self):
        import socket
        import threading

        def serve(srv, lie):
            conn, _ = srv.accept()
            n = 0
            while True:
                b = conn.recv(1 << 16)
                if not b:
                    break
                n += len(b)
            conn.sendall(f"{n - lie}\n".encode())
            conn.close()

        for lie, ok in ((0, True), (1, False)):
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            t = threading.Thread(target=serve, args=(srv, lie))
            t.start()
            port = srv.getsockname()[1]
            if ok:
                self.assertGreater(workloads.send_to_sink(port, 3 << 20), 0)
            else:
                with self.assertRaises(SideError):
                    workloads.send_to_sink(port, 3 << 20)
            t.join()
            srv.close()


    def test_iperf3_figure_only_for_bytes_received(self):
        ok = json.dumps({"end": {"sum_received": {"bytes": 5 << 30, "bits_per_second": 8.5e9},
                                 "sum_sent": {"bytes": 5 << 30}}})
        self.assertEqual(workloads.iperf3_received(ok), (8.5e9, 5 << 30))
        for bad, why in ((json.dumps({"error": "unable to connect to server"}), "unable"),
                         (json.dumps({"end": {"sum_received": {"bytes": 0,
                                                               "bits_per_second": 0}}}), "0 bytes"),
                         (json.dumps({"end": {}}), "0 bytes"),
                         ("iperf3: error - not JSON", "no JSON")):
            with self.assertRaises(SideError) as cm:
                workloads.iperf3_received(bad)
            self.assertIn(why, str(cm.exception))

    def test_iperf3_busy_server_is_tried_again_other_errors_are_not(self):
        with tempfile.TemporaryDirectory() as d:
            # a stand-in iperf3: "busy" for the first `busy` calls, then `last`
            fake = os.path.join(d, "iperf3")
            count = os.path.join(d, "n")

            def script(busy, last):
                with open(fake, "w") as f:
                    f.write(f"""#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}
if [ "$n" -lt {busy} ]; then
  echo '{{"error": "the server is busy running a test. try again later"}}'; exit 1
fi
echo '{last}'
""")
                os.chmod(fake, 0o755)
                if os.path.exists(count):
                    os.remove(count)
            old_path = os.environ["PATH"]
            os.environ["PATH"] = d + ":" + old_path
            try:
                good = json.dumps({"end": {"sum_received": {"bytes": 1 << 30,
                                                            "bits_per_second": 4e9}}})
                script(2, good)
                self.assertEqual(workloads.iperf3_client("127.0.0.1", 1, 1), 4.0)
                with open(count) as f:
                    self.assertEqual(f.read().strip(), "3")
                script(0, json.dumps({"error": "unable to connect to server"}))
                with self.assertRaises(SideError):
                    workloads.iperf3_client("127.0.0.1", 1, 1)
                with open(count) as f:
                    self.assertEqual(f.read().strip(), "1")
                script(100, good)
                with self.assertRaises(SideError) as cm:
                    workloads.iperf3_client("127.0.0.1", 1, 1, busy_wait=0.5)
                self.assertIn("busy", str(cm.exception))
            finally:
                os.environ["PATH"] = old_path

    def test_gbit_cells(self):
        self.assertEqual(measure.fmt_value(12.345, "Gbit/s"), "12.35 Gbit/s")
        self.assertEqual(measure.fmt_value(0.25, "Gbit/s"), "250 Mbit/s")


class FixturesTest(unittest.TestCase):
    def test_iperf3_layer_runs_alone_and_is_deterministic(self):
        if not os.access("/usr/bin/iperf3", os.X_OK):
            self.skipTest("iperf3 not installed")
        with tempfile.TemporaryDirectory() as d:
            a = fixtures.iperf3_layer(os.path.join(d, "a"))
            b = fixtures.iperf3_layer(os.path.join(d, "b"))
            self.assertEqual((a.digest, a.diff_id), (b.digest, b.diff_id))
            with tarfile.open(a.path) as t:
                names = t.getnames()
                self.assertIn("usr/bin/iperf3", names)
                self.assertEqual(t.getmember("tmp").mode, 0o1777)
                for lib in fixtures.ldd_closure("/usr/bin/iperf3"):
                    self.assertTrue(t.getmember(lib.lstrip("/")).isfile(), lib)
            if os.geteuid() != 0:
                return
            root = os.path.join(d, "root")
            os.makedirs(root)
            subprocess.run(["tar", "-xzf", a.path, "-C", root], check=True)
            # nothing of the host's /usr or /lib is reachable: the closure must be complete
            r = subprocess.run(["chroot", root, "/usr/bin/iperf3", "--version"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("iperf 3", r.stdout)

    def test_ldd_closure_refuses_a_static_binary(self):
        if not os.path.exists("/usr/bin/busybox"):
            self.skipTest("busybox-static not installed")
        with self.assertRaises(RuntimeError):
            fixtures.ldd_closure("/usr/bin/busybox")


    def test_busybox_layer_digests(self):
        if not os.path.exists("/usr/bin/busybox"):
            self.skipTest("busybox-static not installed")
        with tempfile.TemporaryDirectory() as d:
            layer = fixtures.busybox_layer(d)
            with open(layer.path, "rb") as f:
                raw = f.read()
            self.assertEqual(layer.digest, "sha256:" + hashlib.sha256(raw).hexdigest())
            tar_bytes = gzip.decompress(raw)
            self.assertEqual(layer.diff_id, "sha256:" + hashlib.sha256(tar_bytes).hexdigest())
            self.assertEqual(layer.unpacked, len(tar_bytes))
            with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
                names = t.getnames()
                self.assertIn("bin/busybox", names)
                self.assertEqual(t.getmember("bin/sh").linkname, "busybox")
                self.assertEqual(t.getmember("tmp").mode, 0o1777)

    def test_debian_mirror_from_deb822_and_one_line(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "sources.list.d"))
            with open(os.path.join(d, "sources.list.d", "debian.sources"), "w") as f:
                f.write("Types: deb\nURIs: http://security.example/debian-security\n"
                        "Suites: bookworm-security\n\n"
                        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n")
            self.assertEqual(fixtures.debian_mirror(d), "http://mirror.example/debian")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "sources.list"), "w") as f:
                f.write("# comment\ndeb [arch=amd64] http://one.example/debian bookworm main\n")
            self.assertEqual(fixtures.debian_mirror(d), "http://one.example/debian")

    def test_manifest_pushed_matches_layer(self):
        # push_image against a tiny in-process registry stand-in is overkill; check the config
        # JSON the pusher builds names the layer's diff id via a fake transport
        pushed = {}

        class Fake(fixtures.RegistryPusher):
            def _req(self, method, path, body=None, headers=None):
                if method == "HEAD":
                    return 404, {}, b""
                if method == "POST":
                    return 202, {"location": "/v2/r/blobs/uploads/u?x=1"}, b""
                if "/manifests/" in path:
                    pushed["manifest"] = json.loads(body)
                    return 201, {}, b""
                data = body.read() if hasattr(body, "read") else body
                pushed[path.split("digest=")[1]] = data
                return 201, {}, b""
        with tempfile.NamedTemporaryFile(suffix=".tar.gz") as f:
            f.write(gzip.compress(b"x" * 10))
            f.flush()
            layer = fixtures.Layer(f.name, fixtures.sha256_file(f.name), "sha256:" + "0" * 64,
                                   os.path.getsize(f.name), 10)
            ref, _ = Fake("127.0.0.1:1").push_image("r", "t", layer, ["sh"], "/bin")
        self.assertEqual(ref, "127.0.0.1:1/r:t")
        cfg_digest = pushed["manifest"]["config"]["digest"]
        cfg = json.loads(pushed[cfg_digest])
        self.assertEqual(cfg["rootfs"]["diff_ids"], ["sha256:" + "0" * 64])
        self.assertEqual(pushed["manifest"]["layers"][0]["digest"], layer.digest)
        self.assertEqual(len(pushed[layer.digest]), layer.size)


class HostTest(unittest.TestCase):
    def test_unescape_mount_path(self):
        self.assertEqual(host.unescape_mount_path(r"/a\040b\011c"), "/a b\tc")

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_janitor_leaves_nothing(self):
        j = host.Janitor(base=tempfile.gettempdir())
        started = j.start("sleeper", ["sleep", "300"], j.path("sleeper.log"))
        # a process we did not start directly but that works in the work dir (like a shim)
        stray = subprocess.Popen(["sleep", "300"], cwd=j.workdir, start_new_session=True)
        mnt = j.path("mnt")
        os.makedirs(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "none", mnt], check=True)
        os.makedirs(os.path.join(mnt, "inner"))
        subprocess.run(["mount", "-t", "tmpfs", "none", os.path.join(mnt, "inner")], check=True)
        br = f"pbt-{j.tag}"
        subprocess.run(["ip", "link", "add", br, "type", "bridge"], check=True)
        j.bridges.append(br)
        parent = f"pier-bench-{j.tag}-test"
        j.cgroup_parents.append(parent)
        cg = os.path.join(host.CGROUP_ROOT, "pids" if os.path.isdir(
            os.path.join(host.CGROUP_ROOT, "pids")) else "", parent, "c")
        os.makedirs(cg)
        in_cg = subprocess.Popen(["sleep", "300"], start_new_session=True)
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(in_cg.pid))
        problems = j.cleanup()
        self.assertEqual(problems, [])
        for p in (started, stray, in_cg):
            p.wait(timeout=5)
        self.assertFalse(os.path.exists(j.workdir))
        self.assertEqual(host.mounts_under(j.workdir), [])
        self.assertNotIn(br, [lk.get("ifname") for lk in host.links_json()])
        self.assertFalse(os.path.exists(os.path.dirname(cg)))
        self.assertEqual(j.cleanup(), [])  # idempotent

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_pick_subnets_avoids_used(self):
        used = host.used_ipv4_prefixes()
        for s in host.pick_subnets(3):
            a, b, _ = (int(x) for x in s.split("."))
            self.assertNotIn((a, b), used)


if __name__ == "__main__":
    unittest.main()
