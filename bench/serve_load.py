"""A bounded load test of `mstar serve`'s JSON API on loopback while a sweep
writes the registry: C keep-alive clients request a mix of endpoints for D
seconds; prints requests/s, p50/p99 latency and the error count, and exits 1
on any error (a non-200 answer or a broken connection), or when the writing
sweep was not writing throughout. Never asserts a time: the figures are
reported. ctest's serve_load runs it bounded (3 s, 2 clients); the bench is
the longer run.
usage: python3 bench/serve_load.py BUILD_DIR|MSTAR_BINARY [--clients 4] [--seconds 10]"""
import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from serve_helpers import Sandbox, get  # noqa: E402

PATHS = ["/api/sweeps", "/api/runs?target=load-base", "/api/curves?target=load-base&key=train.loss&smooth=0.6",
         "/api/curves?target=load-base&key=train.loss&seeds=mean", "/api/runs?target=load-live",
         "/api/runs?target=load-base&where=" + urllib.parse.quote("params.train.scale >= 2 and seed = 1"),
         "/api/pivot?target=load-base&rows=seed&columns=train.scale&metric=train.final_loss", "/"]


def client(url, deadline, latencies, errors, index):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    i = index
    while time.monotonic() < deadline:
        path = PATHS[i % len(PATHS)]
        i += 1
        t0 = time.perf_counter()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(f"{path}: {r.status}")
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{path}: {e}")
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            continue
        latencies.append(time.perf_counter() - t0)
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir", help="the build directory, or the mstar binary")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2, help="server threads")
    a = ap.parse_args()
    sb = Sandbox(a.build_dir if os.path.isfile(a.build_dir) else os.path.join(a.build_dir, "mstar"))
    writer = None
    try:
        sb.run("run", sb.sweep("load-base", [1, 2, 3, 4], [1, 2, 3], steps=200))
        _, url = sb.serve("--threads", str(a.threads))
        # The writer: a sweep logging points over the whole measurement, with a
        # margin so that a slow start under load still overlaps it all (it is
        # stopped once the clients are done).
        writer_log = os.path.join(sb.dir, "writer.log")  # a file: a pipe nobody drains could stall it
        writer = subprocess.Popen([sb.mstar, "run", sb.sweep("load-live", [1, 2], [1, 2], steps=2000,
                                                              seconds=a.seconds + 30), "-j", "4"],
                                  env=sb.env, stdout=subprocess.DEVNULL, stderr=open(writer_log, "w"))
        while "load-live" not in get(url + "/api/sweeps")[2].decode():  # polled: the writer registers its sweep
            if writer.poll() is not None:
                raise SystemExit("the writing sweep ended early: " + open(writer_log).read())
        latencies, errors = [], []
        deadline = time.monotonic() + a.seconds
        start = time.monotonic()
        threads = [threading.Thread(target=client, args=(url, deadline, latencies, errors, i)) for i in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        writing = writer.poll() is None
        latencies.sort()
        pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(f"{len(latencies)} requests in {elapsed:.1f} s from {a.clients} clients, server threads {a.threads}: "
              f"{len(latencies) / elapsed:.0f} req/s, p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, "
              f"max {latencies[-1] * 1000:.1f} ms, errors {len(errors)}; sweep writing throughout: {writing}")
        for e in errors[:10]:
            print("error: " + e)
        return 1 if errors or not writing else 0
    finally:
        if writer and writer.poll() is None:
            writer.terminate()
            writer.wait(timeout=60)
        sb.close()


if __name__ == "__main__":
    sys.exit(main())
