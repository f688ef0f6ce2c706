"""Take the Prefect UI screenshots in docs/ from a real server and a real browser.

    PYTHONPATH=. .venv/bin/python tools/docs_screenshots.py [--out docs] [--work DIR]

What it does, in a scratch folder (nothing in the repository is touched except the PNGs in --out):
1. copies the project (code, params.yaml, the bundled sample, the committed gx suite) into a fresh git + DVC repo,
   with the training schedule moved to about three minutes from now (UTC) so one scheduled run fires soon;
2. starts `prefect server start` (SQLite under a temporary PREFECT_HOME, 127.0.0.1, a free port) and `tabgate serve`;
3. prefect-deployments.png: the training deployment's page, Upcoming tab, once the server's scheduler has created
   the upcoming runs (the Deployments list itself shows no upcoming run);
4. prefect-scheduled-run.png: the scheduled training run (created by the scheduler, not by this script) once it
   completed, on its Artifacts tab;
5. prefect-failed-validation.png: the source replaced by a copy that breaks validation (a column removed, labels
   outside the known classes), a training run started from the deployment, the failed run on its Artifacts tab.
Headless Chromium through chromedriver (Debian: chromium, chromium-driver), 1400x900 (the completed run 1400x1340,
to show its header and all its artifacts). PNGs over 400 KB are
re-encoded with a 256-colour palette.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.browser import WebDriver, find_chromedriver, find_chromium, running_chromedriver  # noqa: E402
from tests.support.processes import stop_process_group  # noqa: E402

BIN = Path(sys.executable).parent
SIZE = (1400, 900)
RUN_PAGE_SIZE = (1400, 1340)  # a run's header, timeline and all ten artifact cards of a training run
MAX_PNG_BYTES = 400_000
COPIED = (
    "tasks",
    "flows",
    "dvc.yaml",
    ".dvcignore",
    "params.yaml",
    "sample",
    "gx/expectations",
    "gx/reference_profile.json",
    "gx/great_expectations.yml",
    "gx/plugins",
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*cmd: str, cwd: Path) -> None:
    """Run a command in cwd; raise with its output when it fails."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def make_project(root: Path, first_run: datetime) -> Path:
    """Copy the project into a fresh git + DVC repo whose training schedule fires once at first_run (UTC)."""
    root.mkdir(parents=True)
    for item in COPIED:
        src, dst = REPO / item, root / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "uncommitted"))
        else:
            shutil.copy(src, dst)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["monitor"]["schedules"]["training"]["cron"] = f"{first_run.minute} {first_run.hour} * * *"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text())
    sh("git", "init", "-q", cwd=root)
    sh("git", "config", "user.email", "docs@example.com", cwd=root)
    sh("git", "config", "user.name", "docs", cwd=root)
    sh(str(BIN / "dvc"), "init", "-q", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "scratch project for the docs screenshots", cwd=root)
    return root


def env_for(home: Path, api: str | None = None) -> dict[str, str]:
    """Return the environment of the server and of `tabgate serve`: own PREFECT_HOME and SQLite, analytics off."""
    e = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "DVC_NO_ANALYTICS": "1",
        "MPLBACKEND": "Agg",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    e.pop("PYTHONPATH", None)  # serve runs the scratch project's copy of the code
    if api:
        e["PREFECT_API_URL"] = api
    return e


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    """Start `prefect server start` on a free loopback port; return the process and the UI base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    e = {
        **env_for(home),
        "PREFECT_UI_API_URL": f"{base}/api",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_API_SERVICES_SCHEDULER_LOOP_SECONDS": "10",
    }
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=e,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(lambda: ok(f"{base}/api/health"), 120, "the Prefect server to answer", home / "server.log")
    return proc, base


def ok(url: str) -> bool:
    """Return whether GET url answers 200."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check, timeout: float, what: str, log: Path):  # noqa: ANN001, ANN201 - a small polling helper
    """Return check()'s first truthy value, polling every 2 s; raise naming what and the log after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(2)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}; see {log}")


def post(api: str, path: str, body: dict) -> list | dict:
    """POST body to the Prefect REST API; return the JSON answer."""
    r = httpx.post(f"{api}{path}", json=body, timeout=30)
    r.raise_for_status()
    return r.json()


def deployments(api: str) -> dict[str, dict]:
    """Return {name: deployment} of the server."""
    return {d["name"]: d for d in post(api, "/deployments/filter", {"limit": 50})}


def runs_of(api: str, deployment_id: str) -> list[dict]:
    """Return the flow runs of one deployment, earliest expected start first."""
    return post(
        api,
        "/flow_runs/filter",
        {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 100},
    )


def finished(api: str, run_id: str) -> dict | None:
    """Return the flow run once its state is final, else None."""
    run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=30).json()
    return run if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def save_png(png: bytes, dest: Path) -> int:
    """Write png to dest (re-encoded with a 256-colour palette when over MAX_PNG_BYTES); return its size."""
    if len(png) > MAX_PNG_BYTES:
        img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        png = buf.getvalue()
    dest.write_bytes(png)
    return len(png)


def leaf_with_text(text: str, action: str) -> str:
    """Return a script that runs action (e.g. "click()") on the first element whose own text is text; true if found."""
    return f"""const hit = Array.from(document.querySelectorAll('*'))
                 .find(e => e.children.length === 0 && e.textContent.trim() === {text!r});
               if (hit) {{ hit.{action}; return true; }} return false;"""


def shoot(
    driver: WebDriver,
    chromium: Path,
    profile: Path,
    url: str,
    dest: Path,
    tab: str | None = None,
    scroll_to: str | None = None,
    size: tuple[int, int] = SIZE,
    settle: float = 6.0,
) -> None:
    """Open url headless at size, click the tab named tab and scroll the heading scroll_to to the top (when given),
    wait settle seconds, save a screenshot."""
    with driver.session(chromium, profile, f"{size[0]},{size[1]}") as s:
        driver.call(
            "POST",
            f"/session/{s}/goog/cdp/execute",
            {
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
            },
        )
        driver.call("POST", f"/session/{s}/url", {"url": url})
        time.sleep(settle)
        if tab:
            wait_for(lambda: driver.script(s, leaf_with_text(tab, "click()")), 60, f"a tab named {tab!r} on {url}", Path("-"))
            time.sleep(settle)
        if scroll_to:
            wait_for(
                lambda: driver.script(s, leaf_with_text(scroll_to, "scrollIntoView(true)")),
                60,
                f"a heading {scroll_to!r} on {url}",
                Path("-"),
            )
            time.sleep(1)
        png = base64.b64decode(driver.call("GET", f"/session/{s}/screenshot"))
    print(f"{dest}: {save_png(png, dest)} bytes")


def break_source(root: Path) -> None:
    """Replace the project's source with a copy that fails validation: 'adr' removed, 300 labels set to 7."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    source = root / params["ingest"]["source"]
    df = pd.read_csv(source)
    df = df.drop(columns=["adr"])
    df.loc[df.index[:300], params["data"]["target"]] = 7
    df.to_csv(source, index=False)


def shoot_upcoming(driver: WebDriver, chromium: Path, work: Path, base: str, out: Path) -> dict[str, dict]:
    """Wait for the three deployments and the scheduler's upcoming runs; shoot the training deployment's Upcoming
    tab; return the deployments."""
    api = f"{base}/api"
    deps = wait_for(
        lambda: (d := deployments(api)) and len(d) == 3 and d,
        120,
        "tabgate serve's deployments",
        work / "prefect_home" / "serve.log",
    )
    wait_for(
        lambda: all(runs_of(api, d["id"]) for d in deps.values()),
        120,
        "the scheduler's upcoming runs",
        work / "prefect_home" / "server.log",
    )
    shoot(
        driver,
        chromium,
        work / "p1",
        f"{base}/deployments/deployment/{deps['tabgate-training']['id']}",
        out / "prefect-deployments.png",
        tab="Upcoming",
    )
    return deps


def shoot_scheduled_run(driver: WebDriver, chromium: Path, work: Path, base: str, out: Path, training: str) -> None:
    """Wait for the first run the scheduler created for the training deployment to complete; shoot its artifacts."""
    api, log = f"{base}/api", work / "prefect_home" / "serve.log"
    scheduled = wait_for(
        lambda: [r for r in runs_of(api, training) if r["auto_scheduled"]], 60, "the scheduled training run", log
    )[0]
    print(f"scheduled training run {scheduled['name']} expected at {scheduled['expected_start_time']}")
    run = wait_for(lambda: finished(api, scheduled["id"]), 3600, "the scheduled training run to finish", log)
    if run["state_type"] != "COMPLETED":
        raise RuntimeError(f"the scheduled training run ended {run['state_type']}; see {log}")
    shoot(
        driver,
        chromium,
        work / "p2",
        f"{base}/runs/flow-run/{run['id']}",
        out / "prefect-scheduled-run.png",
        tab="Artifacts",
        size=RUN_PAGE_SIZE,
    )


def shoot_failed_validation(
    driver: WebDriver, chromium: Path, work: Path, base: str, out: Path, training: str, root: Path
) -> None:
    """Break the project's source, start a training run from the deployment, shoot the failed run's artifacts."""
    api = f"{base}/api"
    break_source(root)
    manual = post(api, f"/deployments/{training}/create_flow_run", {"name": "broken-source"})
    failed = wait_for(
        lambda: finished(api, manual["id"]), 900, "the broken-source run to finish", work / "prefect_home" / "serve.log"
    )
    if failed["state_type"] != "FAILED":
        raise RuntimeError(f"the broken-source run ended {failed['state_type']}, not FAILED")
    shoot(
        driver,
        chromium,
        work / "p3",
        f"{base}/runs/flow-run/{failed['id']}",
        out / "prefect-failed-validation.png",
        tab="Artifacts",
    )


def main() -> int:
    """Take the three screenshots; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs"), help="folder for the PNGs (default: docs/)")
    ap.add_argument("--work", default=None, help="scratch folder (default: a new temporary one, removed after)")
    args = ap.parse_args()
    chromium, chromedriver = find_chromium(), find_chromedriver()
    if chromium is None or chromedriver is None:
        raise SystemExit("needs chromium and chromedriver: apt-get install chromium chromium-driver")
    work = Path(args.work or tempfile.mkdtemp(prefix="tabgate-docs-"))
    out = Path(args.out)
    home = work / "prefect_home"
    home.mkdir(parents=True)
    first_run = (datetime.now(UTC) + timedelta(minutes=3)).replace(second=0, microsecond=0)
    root = make_project(work / "project", first_run)
    server, base = start_server(home)
    serve_log = open(home / "serve.log", "w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve"],
        cwd=root,
        env=env_for(home, f"{base}/api"),
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with running_chromedriver(chromedriver, work / "chromedriver.log") as driver:
            training = shoot_upcoming(driver, chromium, work, base, out)["tabgate-training"]["id"]
            shoot_scheduled_run(driver, chromium, work, base, out, training)
            shoot_failed_validation(driver, chromium, work, base, out, training, root)
    finally:
        stop_process_group(serve, signal.SIGINT, timeout=30)
        serve_log.close()
        stop_process_group(server)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
