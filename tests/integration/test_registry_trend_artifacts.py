"""The `model-registry` and `monitoring-trend` artifacts on a REAL `prefect server start` (loopback, free port), read
back through Prefect's client: after the training flow's promote, after `tabgate models promote|rollback`, and after
each monitoring run; each artifact's rows match the registry (or reports/monitoring_trend.jsonl) at that moment.
With TABGATE_SAVE_SCREENSHOT set, the artifact pages are photographed in headless Chromium into docs/."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tasks.core.config import load_config
from tasks.reporting.registry_table import read_registry_rows, table_of
from tasks.serving.trend import TREND_FILE, read_trend, trend_rows
from tests.conftest import REPO
from tests.integration.test_pipeline import make_project
from tests.integration.test_prefect_server import api, prefect_server, tabgate

pytestmark = pytest.mark.integration


def artifacts(url: str, key: str) -> list:
    """Return every version of the artifact `key`, newest first, through Prefect's client."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    return api(
        url,
        lambda c: c.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=100
        ),
    )


def table(artifact) -> list[dict]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def edit_params(root: Path, section: str, **values) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    """A real server and a project trained once by `tabgate run` (tuning off: the artifacts are what is tested)."""
    root = make_project(tmp_path_factory.mktemp("registry_artifact_project"))
    edit_params(root, "train", tune={"enabled": False})
    home = tmp_path_factory.mktemp("registry_artifact_home")
    with prefect_server(home) as url:
        proc = tabgate("run", cwd=root, home=home, url=url)
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield {"root": root, "home": home, "url": url, "registry": load_config(root / "params.yaml").paths.registry_dir}


def run(world: dict, *args: str) -> subprocess.CompletedProcess:
    proc = tabgate(*args, cwd=world["root"], home=world["home"], url=world["url"])
    assert proc.returncode == 0, f"tabgate {' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def registry_now(world: dict) -> list[dict]:
    return table_of(read_registry_rows(world["root"] / world["registry"]))


def test_the_training_flow_publishes_the_registry_table_after_promote(world):
    (latest, *older) = artifacts(world["url"], "model-registry")
    rows = table(latest)
    assert rows == registry_now(world) and len(rows) == 1
    assert rows[0]["status"] == "production" and rows[0]["production"] == "yes"
    assert (
        rows[0]["test_metric"].startswith("roc_auc ")
        and float(rows[0]["test_metric"].split()[1]) > 0.7
        and rows[0]["action"] == "promote"
        and rows[0]["why"].startswith("gate passed")
    )
    assert latest.flow_run_id is not None and older == []  # published by the training run, once


def test_cli_promote_and_rollback_refresh_the_table(world):
    before = len(artifacts(world["url"], "model-registry"))
    edit_params(world["root"], "train", lightgbm={"n_estimators": 150, "learning_rate": 0.03})  # another model
    edit_params(world["root"], "promote", require_approval=True)
    run(world, "run")
    rows = registry_now(world)
    assert len(rows) == 2 and rows[0]["status"] in ("pending approval", "rejected"), rows
    assert table(artifacts(world["url"], "model-registry")[0]) == rows  # the promote step registered it
    second = rows[0]["version"]
    proc = run(world, "models", "promote", second, "--force", "--reason", "ops check from the CLI")
    assert "model-registry artifact refreshed" in proc.stdout
    latest = table(artifacts(world["url"], "model-registry")[0])
    assert latest == registry_now(world)
    assert (latest[0]["version"], latest[0]["status"], latest[0]["why"]) == (second, "production", "ops check from the CLI")
    run(world, "models", "rollback", "--reason", "back to the first model")
    arts = artifacts(world["url"], "model-registry")
    assert len(arts) == before + 3 and table(arts[0]) == registry_now(world)
    assert [r["production"] for r in table(arts[0])] == ["", "yes"]
    assert table(arts[0])[0]["action"] == f"rolled back to {table(arts[0])[1]['version']}"


def test_each_monitoring_run_adds_a_batch_to_the_trend(world):
    root = world["root"]
    hotel = pd.read_csv(REPO / "sample" / "hotel_bookings.csv.gz")
    unseen = hotel.drop(hotel.sample(6000, random_state=0).index)  # rows make_project left out of the training sample
    (root / "incoming").mkdir(exist_ok=True)
    for i in range(3):
        unseen.sample(800, random_state=10 + i).to_csv(root / "incoming" / f"batch{i}.csv", index=False)
        run(world, "monitor", f"incoming/batch{i}.csv", "--no-retrain")
    entries = read_trend(root / "reports" / TREND_FILE)
    assert [e.batch for e in entries] == [f"incoming/batch{i}.csv" for i in range(3)]
    versions = artifacts(world["url"], "monitoring-trend")
    assert len(versions) == 3  # one per monitoring run: the artifact's history is the trend
    rows = table(versions[0])
    assert [r["batch"] for r in rows] == [f"incoming/batch{i}.csv" for i in (2, 1, 0)]
    assert rows == json.loads(json.dumps(trend_rows(entries)))
    assert all(r["live"] and r["at_promotion"] and r["prediction_mean"] for r in rows), rows
    charts = artifacts(world["url"], "monitoring-trend-chart")
    assert len(charts) == 3 and "data:image/svg+xml;base64," in charts[0].data


SHOWN_JS = """
const imgs = Array.from(document.querySelectorAll('img')).filter(i => i.src.startsWith('data:image/svg+xml'));
return {text: document.body ? document.body.innerText : '', charts: imgs.filter(i => i.naturalWidth > 0).length};
"""


def photograph(
    webdriver, chromium: Path, page: str, png: Path, profile: Path, expect: list[str], charts: int = 0, size: str = "1600,900"
) -> str:
    """Open page in headless Chromium, wait until it shows every text in expect (and `charts` loaded SVG images),
    save a screenshot to png; return the page's visible text."""
    with webdriver.session(chromium, profile, size) as session:
        webdriver.call("POST", f"/session/{session}/url", {"url": page})
        deadline = time.monotonic() + 60
        while True:
            shown = webdriver.script(session, SHOWN_JS)
            if all(t in shown["text"] for t in expect) and shown["charts"] >= charts:
                break
            assert time.monotonic() < deadline, f"{page} never showed {expect} / {charts} chart(s):\n{shown['text'][:2000]}"
            time.sleep(0.5)
        time.sleep(1)  # let the layout settle before the picture
        png.write_bytes(base64.b64decode(webdriver.call("GET", f"/session/{session}/screenshot")))
        return shown["text"]


def test_the_artifact_pages_show_in_a_real_browser(chromium, webdriver, world, tmp_path):
    """What an ops person sees: the registry table with every version, the trend chart drawn (not just its text)."""
    base = world["url"].removesuffix("/api")
    out = Path(tempfile.gettempdir()) / "tabgate-test-output"
    out.mkdir(exist_ok=True)
    registry = artifacts(world["url"], "model-registry")[0]
    rows = table(registry)
    text = photograph(
        webdriver,
        chromium,
        f"{base}/artifacts/artifact/{registry.id}",
        out / "prefect-model-registry.png",
        tmp_path / "p1",
        [r["version"] for r in rows] + ["back to the first model", "test_metric"],
        size="2000,700",
    )  # wide enough for every column
    assert "production" in text and "archived" in text
    chart = artifacts(world["url"], "monitoring-trend-chart")[0]
    photograph(
        webdriver,
        chromium,
        f"{base}/artifacts/artifact/{chart.id}",
        out / "prefect-monitoring-trend.png",
        tmp_path / "p2",
        ["Monitoring trend, last 3 batches"],
        charts=1,
    )
    if os.environ.get("TABGATE_SAVE_SCREENSHOT"):  # refresh the docs pictures on purpose only
        for name in ("prefect-model-registry.png", "prefect-monitoring-trend.png"):
            shutil.copy(out / name, REPO / "docs" / name)


def test_a_retrain_started_by_monitoring_refreshes_the_registry_table(world):
    """Monitoring's retrain runs the training flow as a subflow; its promote step publishes the table."""
    root, url = world["root"], world["url"]
    before = len(artifacts(url, "model-registry"))
    hotel = pd.read_csv(REPO / "sample" / "hotel_bookings.csv.gz")
    drifted = hotel.drop(hotel.sample(6000, random_state=0).index).sample(1500, random_state=3)
    drifted["lead_time"] = drifted["lead_time"] * 5 + 400
    drifted.to_csv(root / "incoming" / "drifted.csv", index=False)
    proc = run(world, "monitor", "incoming/drifted.csv", "--force")  # every step again: the current params' model
    assert "retraining started: the training flow ran" in proc.stdout, proc.stdout[-3000:]
    arts = artifacts(url, "model-registry")
    assert len(arts) == before + 1 and table(arts[0]) == registry_now(world)
    publisher = api(url, lambda c: c.read_flow_run(arts[0].flow_run_id))
    assert publisher.parent_task_run_id is not None  # the training subflow of the monitoring run
    assert [e.batch for e in read_trend(root / "reports" / TREND_FILE)][-1] == "incoming/drifted.csv"
