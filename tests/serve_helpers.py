"""Shared by the `mstar serve` tests: a sandbox MSTAR_HOME, sweeps of the test
plugins run through the real binary, and a server started on a free port
whose readiness is the line it prints once it listens."""
import os
import select
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


class Sandbox:
    def __init__(self, mstar, keep_dir=None):
        self.mstar = mstar
        self.dir = tempfile.mkdtemp(prefix="mstar-serve-test-")
        self.home = os.path.join(self.dir, "home")
        self.env = dict(os.environ, MSTAR_HOME=self.home)
        self.env.pop("MSTAR_PLUGIN_PATH", None)
        self.env.pop("MSTAR_SERVE_TOKEN", None)
        self.servers = []

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, *args, check=True):
        r = subprocess.run([self.mstar, *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"mstar {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def sweep(self, name, scales, seeds, steps=20, seconds=0.0):
        """test/metrics over train.scale x seeds: loss at step s = scale / (1 + s)."""
        path = self.write(name + ".yaml",
                          f"name: {name}\nseed: 1\nnodes:\n"
                          f"  train: {{plugin: test/metrics, params: {{steps: {steps}, seconds: {seconds}}}}}\n"
                          f"sweep:\n  grid: {{train.scale: {list(scales)}}}\n  seeds: {list(seeds)}\n")
        return path

    def serve(self, *args, timeout=30):
        """Starts `mstar serve --port 0 ARGS` and returns (process, base URL) once it listens."""
        p = subprocess.Popen([self.mstar, "serve", "--port", "0", *args], env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.servers.append(p)
        ready, _, _ = select.select([p.stdout], [], [], timeout)
        line = p.stdout.readline() if ready else ""
        if "serving" not in line:
            p.kill()
            raise AssertionError(f"mstar serve did not start: {line!r} {p.stderr.read()}")
        url = line.split(" on ", 1)[1].split()[0].rstrip("/")
        return p, url

    def close(self):
        for p in self.servers:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def get(url, headers=None):
    """(status, headers, body bytes); HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def tiny_png(path, width=8, height=8):
    """A real PNG (red/blue checkerboard) without any imaging library."""
    import struct
    import zlib
    rows = b"".join(b"\x00" + b"".join(b"\xff\x00\x00" if (x + y) % 2 else b"\x00\x00\xff" for x in range(width))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)
