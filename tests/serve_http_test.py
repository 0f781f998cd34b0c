"""`mstar serve` over HTTP, without a browser: the JSON API (trial table,
filter, pivot, curves) over a sweep of the
test plugins, path confinement of static and store files, read-only
behaviour, and the token needed off loopback.
usage: serve_http_test.py MSTAR_BINARY"""
import hashlib
import http.client
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Sandbox, fail, get, tiny_png  # noqa: E402


def raw_status(url, path, headers=None):
    """Sends `path` exactly as given (no client-side normalisation of .. or %2e)."""
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def check(cond, message):
    if not cond:
        fail(message)


def main():
    sb = Sandbox(sys.argv[1])
    try:
        sb.run("run", sb.sweep("api-sweep", [1, 2, 3], [1, 2]), "-j", "2")
        shared = sb.write("shared.yaml", "name: shared-sweep\nnodes:\n  a: {plugin: test/echo}\n"
                                         "  b: {plugin: test/sum, inputs: {a: a}}\nsweep:\n  grid: {b.add: [1, 2, 3]}\n")
        sb.run("run", shared)
        db = os.path.join(sb.home, "registry.db")
        before = hashlib.sha256(open(db, "rb").read()).hexdigest()
        _, url = sb.serve()

        status, _, body = get(url + "/api/sweeps")
        sweeps = json.loads(body)
        check(status == 200 and [s["name"] for s in sweeps] == ["shared-sweep", "api-sweep"],
              f"sweeps, newest first: {status} {body[:300]}")
        # A node instance shared by the trials counts once: `a` is one instance under three trials of `b`.
        by_name = {s["name"]: s for s in sweeps}
        check(by_name["shared-sweep"]["instances"] == 4 and sum(by_name["shared-sweep"]["nodes"].values()) == 4
              and by_name["shared-sweep"]["trials"] == {"done": 3}, f"shared instances: {by_name['shared-sweep']}")
        check(by_name["api-sweep"]["nodes"] == {"done": 6} and by_name["api-sweep"]["trials"] == {"done": 6},
              f"counts: {by_name['api-sweep']}")

        runs = json.loads(get(url + "/api/runs?target=api-sweep")[2])
        check(len(runs["rows"]) == 6, f"all runs: {runs}")
        q = urllib.parse.quote("params.train.scale >= 2 and seed = 1")
        narrowed = json.loads(get(url + "/api/runs?target=api-sweep&where=" + q)[2])
        check(len(narrowed["rows"]) == 2, f"filtered runs: {narrowed}")
        status, _, body = get(url + "/api/runs?target=api-sweep&where=" + urllib.parse.quote("params.train.scale >"))
        check(status == 400 and "column" in json.loads(body)["error"], f"bad filter: {status} {body[:300]}")

        # The pivot: rows by seed, columns by scale, cells the final loss (scale / 20) over that cell's runs.
        pivot = json.loads(get(url + "/api/pivot?target=api-sweep&rows=seed&columns=train.scale"
                                     "&metric=train.final_loss")[2])
        check(pivot["columns"] == ["seed", "train.scale=1", "train.scale=2", "train.scale=3"], f"pivot: {pivot}")
        check([r[0] for r in pivot["rows"]] == [1, 2] and pivot["rows"][0][1:] == ["0.05 (n=1)", "0.1 (n=1)", "0.15 (n=1)"],
              f"pivot rows: {pivot['rows']}")
        series = json.loads(get(url + "/api/series?target=api-sweep")[2])
        check(series["axes"] == ["train.scale"] and "train.final_loss" in series["metrics"], f"series: {series}")
        for bad in ("rows=seed", "columns=train.scale&metric=train.nope@", "columns=params."):
            status, _, body = get(url + "/api/pivot?target=api-sweep&" + bad)
            check(status == 400 and json.loads(body)["error"], f"pivot {bad}: {status} {body[:300]}")

        curves = json.loads(get(url + "/api/curves?target=api-sweep&key=train.loss")[2])
        check(len(curves["series"]) == 6, f"one curve per run: {len(curves['series'])}")
        first = curves["series"][0]["points"]
        check(first[0]["x"] == 0 and len(first) == 20, f"curve points: {first[:3]}")
        mean = json.loads(get(url + "/api/curves?target=api-sweep&key=train.loss&seeds=mean&smooth=0.5")[2])
        check(len(mean["series"]) == 3 and "lo" in mean["series"][0]["points"][0], f"mean over seeds: {mean}")
        status, _, _ = get(url + "/api/curves?target=api-sweep&key=train.loss&smooth=2")
        check(status == 400, "smooth=2 is refused")

        run_id = runs["run_ids"][0]
        detail = json.loads(get(url + "/api/run?id=" + run_id)[2])
        check(detail["nodes"][0]["node"] == "train" and detail["nodes"][0]["status"] == "done", f"run: {detail}")
        diff = json.loads(get(url + f"/api/diff?a={runs['run_ids'][0]}&b={runs['run_ids'][5]}")[2])
        check(any(p["differs"] for p in diff["params"]), f"diff: {diff}")

        # Static files come from the compiled-in table only.
        for path in ["/", "/app.js", "/chart.min.js"]:
            check(get(url + path)[0] == 200, f"asset {path}")
        for path in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "//etc/passwd",
                     "/etc/passwd", "/app.js/..%2f..%2fregistry.db", "/%00app.js"]:
            status = raw_status(url, path)
            check(status in (400, 404), f"{path} answered {status}")

        # Store files: images inside the store only, symlinks resolved first.
        store = os.path.join(sb.home, "store")
        artifact = detail["nodes"][0]["artifact"]
        tiny_png(os.path.join(artifact, "image.png"))
        outside = os.path.join(sb.dir, "secret.png")
        tiny_png(outside)
        os.symlink(outside, os.path.join(artifact, "link-out.png"))
        rel = os.path.relpath(artifact, store)
        check(get(url + "/api/file?path=" + urllib.parse.quote(rel + "/image.png"))[0] == 200, "image in the store")
        for bad in [rel + "/link-out.png", "../secret.png", "%2e%2e/secret.png", outside, "/etc/passwd",
                    rel + "/../../../secret.png", "", "../registry.db"]:
            status = raw_status(url, "/api/file?path=" + bad.replace(" ", "%20"))
            check(status == 404, f"/api/file?path={bad} answered {status}")
        check(get(url + "/api/file?path=" + urllib.parse.quote(rel + "/manifest.json"))[0] == 403, "non-image refused")

        # The rollout browser's data: image URLs point into /api/file.
        with open(os.path.join(artifact, "rollouts.jsonl"), "w") as f:
            f.write(json.dumps({"step": 3, "image": os.path.join(artifact, "image.png"), "prompt": "Is it?",
                                "answer": "yes", "samples": [{"response": "<answer>yes</answer>", "reward": 1.0,
                                                              "components": {"accuracy": 1.0}, "advantage": 0.7}]})
                    + "\n{torn")
        ro = json.loads(get(url + f"/api/rollouts?run={run_id}&node=train")[2])
        check(len(ro["groups"]) == 1 and ro["groups"][0]["image_url"].startswith("/api/file?path="), f"rollouts: {ro}")
        check(get(url + ro["groups"][0]["image_url"])[0] == 200, "rollout image served")

        # Read-only: no method but GET/HEAD, no Host but loopback, no byte of the registry changed.
        c = http.client.HTTPConnection(urllib.parse.urlparse(url).hostname, urllib.parse.urlparse(url).port)
        c.request("POST", "/api/sweeps", body="x")
        check(c.getresponse().status == 405, "POST refused")
        check(raw_status(url, "/api/sweeps", {"Host": "evil.example:80"}) == 403, "foreign Host refused")
        check(hashlib.sha256(open(db, "rb").read()).hexdigest() == before, "registry.db unchanged")

        # Off loopback: a token, on every request.
        r = sb.run("serve", "--host", "0.0.0.0", "--port", "0", check=False)
        check(r.returncode != 0 and "token" in r.stderr, f"0.0.0.0 without a token: {r.returncode} {r.stderr}")
        _, turl = sb.serve("--host", "0.0.0.0", "--token", "s3cret-token")
        turl = turl.replace("0.0.0.0", "127.0.0.1")
        check(get(turl + "/api/sweeps")[0] == 401, "no token")
        check(get(turl + "/api/sweeps", {"Authorization": "Bearer s3cret-tokex"})[0] == 401, "wrong token")
        check(get(turl + "/", {"Authorization": "Bearer s3cret-token"})[0] == 200, "bearer token")
        status, headers, _ = get(turl + "/?token=s3cret-token")
        check(status == 200 and "mstar_token=s3cret-token" in headers.get("Set-Cookie", ""), f"query token {headers}")
        check(get(turl + "/api/sweeps", {"Cookie": "mstar_token=s3cret-token"})[0] == 200, "cookie token")
        sb.env["MSTAR_SERVE_TOKEN"] = "from-env"
        _, eurl = sb.serve("--host", "0.0.0.0")
        eurl = eurl.replace("0.0.0.0", "127.0.0.1")
        check(get(eurl + "/api/sweeps")[0] == 401 and
              get(eurl + "/api/sweeps", {"Authorization": "Bearer from-env"})[0] == 200, "MSTAR_SERVE_TOKEN")
        print("ok")
    finally:
        sb.close()


if __name__ == "__main__":
    main()
