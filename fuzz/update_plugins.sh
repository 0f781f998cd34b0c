#!/usr/bin/env bash
# Refreshes fuzz/plugins.json, the plugin metadata the experiment and sweep
# harnesses validate against: every built-in plugin but the test ones, as
# `mstar plugins info --format json` prints it (the library path left out).
#   bash fuzz/update_plugins.sh [build/mstar]
set -euo pipefail
cd "$(dirname "$0")/.."
MSTAR=${1:-build/mstar} MSTAR_HOME=$(mktemp -d) python3 - <<'PY'
import json, os, shutil, subprocess
mstar, home = os.environ["MSTAR"], os.environ["MSTAR_HOME"]
def run(*args):
    return json.loads(subprocess.run([mstar, "plugins", *args, "--format", "json"], check=True,
                                     capture_output=True, text=True).stdout)
infos = []
for p in run("list"):
    if p["kind"] == "test":
        continue
    info = run("info", p["kind"] + "/" + p["name"])
    info.pop("library", None)
    infos.append(info)
with open("fuzz/plugins.json", "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(i, sort_keys=True) for i in infos) + "\n]\n")
shutil.rmtree(home)
print(f"fuzz/plugins.json: {len(infos)} plugins")
PY
