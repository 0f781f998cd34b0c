"""`mstar serve` in a real browser: Debian's headless Chromium through its
chromium-driver (Selenium). The page loads, live progress follows a sweep
that `mstar run` writes while the page is open, a filter narrows the trial
table, the pivot shows a metric's mean ± CI per swept value, the curve shows
one series per run (one per setting over seeds),
lineage and the rollout browser render, and the console has no errors.
A screenshot of each page is kept in OUT_DIR.
usage: serve_browser_test.py MSTAR_BINARY OUT_DIR
Without chromium: exit 77 (skipped), or fail when CI=true."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import SKIP, Sandbox, fail, get, tiny_png  # noqa: E402

WAIT = 60  # seconds an expected state may take to appear (polled, not slept)


def browser_or_skip():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    missing = [n for n, p in (("chromium", chromium), ("chromium-driver", driver)) if not p]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -r scripts/requirements.txt)")
    if missing:
        message = "browser test needs " + ", ".join(missing) + " (scripts/setup.sh installs them)"
        if os.environ.get("CI") == "true":
            fail(message)
        print("SKIP: " + message)
        sys.exit(SKIP)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def severe(driver, allowed=()):
    """The console's errors since the last call, minus the expected ones."""
    return [e for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]


def main():
    mstar, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    driver = browser_or_skip()
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    sb = Sandbox(mstar)
    live = None
    try:
        sb.run("run", sb.sweep("browser-sweep", [1, 2, 3], [1, 2]), "-j", "2")
        _, url = sb.serve()
        # The live pages re-render their tables as they poll: an element may go stale between two looks.
        wait = WebDriverWait(driver, WAIT, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
        rows = lambda css: driver.find_elements(By.CSS_SELECTOR, css)  # noqa: E731

        driver.get(url + "/")
        wait.until(lambda d: len(rows("#sweeps tbody tr[data-sweep]")) == 1)
        # A sweep started while the page is open appears and finishes there without a reload.
        live = subprocess.Popen([mstar, "run", sb.sweep("live-sweep", [1, 2], [1], steps=10, seconds=2), "-j", "2"],
                                env=sb.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait.until(lambda d: len(rows("#sweeps tbody tr[data-sweep]")) == 2)
        wait.until(lambda d: any("live-sweep" in r.text and "done 2" in r.text and "running" not in r.text
                                 for r in rows("#sweeps tbody tr[data-sweep]")))
        if live.wait(timeout=WAIT) != 0:
            fail("the live sweep failed: " + live.stderr.read())
        driver.save_screenshot(os.path.join(out_dir, "serve_sweeps.png"))
        errors = severe(driver)
        if errors:
            fail(f"console errors on the sweeps page: {errors}")

        # The trial table and its filter.
        wait.until(lambda d: d.find_element(By.LINK_TEXT, "browser-sweep").click() or True)
        wait.until(lambda d: len(rows("#trials tbody tr")) == 6)
        where = driver.find_element(By.ID, "where")
        where.send_keys("params.train.scale >= 2 and seed = 1")
        driver.find_element(By.ID, "apply").click()
        wait.until(lambda d: len(rows("#trials tbody tr")) == 2)

        # Curves: one series per selected run, then one per scale over seeds.
        where.clear()
        driver.find_element(By.ID, "apply").click()
        wait.until(lambda d: len(rows("#trials tbody tr")) == 6)
        key = driver.find_element(By.ID, "curve-key")
        if "train.loss" not in [o.text for o in key.find_elements(By.TAG_NAME, "option")]:
            fail("train.loss is not among the curve keys")
        driver.execute_script("const s = document.getElementById('curve-key'); s.value = 'train.loss';"
                              "s.dispatchEvent(new Event('change'));")
        wait.until(lambda d: d.find_element(By.ID, "curve").get_attribute("data-series") == "6")
        driver.find_element(By.ID, "seeds").click()
        wait.until(lambda d: d.find_element(By.ID, "curve").get_attribute("data-series") == "3")
        # The pivot: columns by scale, each cell the final loss (scale / 20) as mean ± CI over the 2 seeds.
        driver.execute_script("const m = document.getElementById('pivot-metric'); m.value = 'train.final_loss';"
                              "const c = document.getElementById('pivot-columns'); c.value = 'train.scale';"
                              "c.dispatchEvent(new Event('change'));")
        wait.until(lambda d: [h.text for h in rows("#pivot thead th")] == [f"train.scale={s}" for s in (1, 2, 3)])
        cells = [c.text for c in rows("#pivot tbody td")]
        if len(cells) != 3 or not all(c.startswith(v) and c.endswith("(n=2)") for c, v in zip(cells, ("0.05", "0.1", "0.15"))):
            fail(f"pivot cells: {cells}")
        # Rows by seed: one row per seed, each cell that seed's single run.
        driver.execute_script("const r = document.getElementById('pivot-rows'); r.value = 'seed';"
                              "r.dispatchEvent(new Event('change'));")
        wait.until(lambda d: [c.text for c in rows("#pivot tbody tr td:first-child")] == ["1", "2"])
        if not all(c.text.endswith("(n=1)") for c in rows("#pivot tbody td:not(:first-child)")):
            fail(f"pivot by seed: {[c.text for c in rows('#pivot tbody td')]}")
        driver.save_screenshot(os.path.join(out_dir, "serve_sweep.png"))
        errors = severe(driver)
        if errors:
            fail(f"console errors on the sweep page: {errors}")

        # A bad filter is explained on the page (its 400 is the one expected console line).
        where.send_keys("params.train.scale >")
        driver.find_element(By.ID, "apply").click()
        wait.until(lambda d: "column" in d.find_element(By.ID, "where-error").text)
        errors = severe(driver, allowed=["/api/runs", "/api/curves"])
        if errors:
            fail(f"console errors after a bad filter: {errors}")

        # Lineage and the rollout browser (a rollouts.jsonl placed in the artifact, as the GRPO node writes it).
        runs = json.loads(get(url + "/api/runs?target=browser-sweep")[2])
        run_id = runs["run_ids"][0]
        artifact = json.loads(get(url + "/api/run?id=" + run_id)[2])["nodes"][0]["artifact"]
        tiny_png(os.path.join(artifact, "image.png"), 32, 32)
        with open(os.path.join(artifact, "rollouts.jsonl"), "w") as f:
            f.write(json.dumps({"step": 4, "image": os.path.join(artifact, "image.png"), "prompt": "Is the sun a star?",
                                "answer": "true", "samples": [
                                    {"response": "<think>yes</think><answer>true</answer>", "reward": 1.0,
                                     "components": {"accuracy": 1.0, "format": 1.0}, "advantage": 0.71},
                                    {"response": "<answer>false</answer>", "reward": 0.0,
                                     "components": {"accuracy": 0.0, "format": 1.0}, "advantage": -0.71}]}) + "\n")
        driver.get(url + "/#/run/" + run_id)
        wait.until(lambda d: len(rows("svg.lineage rect")) == 1 and len(rows("#nodes a")) == 1)
        wait.until(lambda d: rows("#nodes a")[0].click() or True)
        wait.until(lambda d: len(rows("#rollouts .group")) == 1)
        img = driver.find_element(By.CSS_SELECTOR, "#rollouts img")
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 32)
        if "<answer>true</answer>" not in driver.find_element(By.ID, "rollouts").text:
            fail("the rollout browser does not show the response")
        driver.save_screenshot(os.path.join(out_dir, "serve_rollouts.png"))
        errors = severe(driver)
        if errors:
            fail(f"console errors on the run and rollout pages: {errors}")
        print("ok: screenshots in " + out_dir)
    finally:
        if live and live.poll() is None:
            live.terminate()
            live.wait(timeout=30)
        driver.quit()
        sb.close()


if __name__ == "__main__":
    main()
