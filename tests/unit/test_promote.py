"""Promote: the pure gate (decide_promotion) and the step (run) against a real registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks import promote
from tasks.core import errors, io
from tasks.core.config import Config, DataParams, PromoteParams, parse_config
from tasks.core.metrics import compute_metrics, score_frame
from tasks.core.reports import read_report
from tasks.core.schema import encode_target
from tasks.evaluation import gate as gate_rules
from tasks.evaluation import promotion
from tasks.evaluation.gate import GateInput, Latency, ModelScores, decide_promotion
from tasks.modelling.bundle import load_bundle
from tasks.registry import catalog, lifecycle, manifest, provenance
from tasks.registry.records import RecordStatus
from tasks.reporting.promotion_report import PromotionReport
from tests.conftest import tiny_lightgbm_bundle
from tests.support.reports import validate_report_data

DATA = DataParams(target="label", task="binary", positive_label="yes", segment_columns=["seg"])


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Return a small binary table: x1, x2 and seg drive the label, noise does not."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    seg = rng.choice(["A", "B"], size=n, p=[0.6, 0.4])
    logit = 2.0 * x1 + 2.0 * x2
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"x1": x1, "x2": x2, "noise": noise, "seg": seg, "label": np.where(y, "yes", "no")})


def make_bundle(
    train: pd.DataFrame, dest: Path, numeric: tuple[str, ...], categorical: tuple[str, ...] = (), rounds: int = 30
) -> Path:
    """Fit a tiny LightGBM bundle on the named columns and save it to dest."""
    return tiny_lightgbm_bundle(train, dest, numeric, categorical, DATA, rounds, min_data_in_leaf=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """Train/test frames and bundles of clearly different quality."""
    root = tmp_path_factory.mktemp("models")
    train, test = make_frame(1500, 1), make_frame(800, 2)
    return {
        "test": test,
        "good": make_bundle(train, root / "good", ("x1", "x2")),  # uses both signals
        "medium": make_bundle(train, root / "medium", ("x1", "x2"), rounds=1),  # same inputs, one coarse tree
        "weak": make_bundle(train, root / "weak", ("noise",)),  # no signal at all
        "baseline": make_bundle(train, root / "baseline", ("x1",), rounds=3),
    }


def make_cfg(root: Path, **promote_overrides) -> Config:
    promote_section = {
        "thresholds": {"roc_auc": 0.6},
        "bootstrap_samples": 100,
        "max_p95_latency_ms": 10_000,
        "min_rows_per_second": 1,
        "lock_timeout_seconds": 5,
        **promote_overrides,
    }
    return parse_config(
        {
            "paths": {
                "models_dir": str(root / "models"),
                "scored_test": str(root / "scored.parquet"),
                "reports_dir": str(root / "reports"),
                "registry_dir": str(root / "registry"),
                "data_dir": str(root / "data"),
            },
            "data": DATA.model_dump(),
            "ingest": {"source": "unused.csv"},
            "evaluate": {"segment_min_rows": 50},
            "promote": promote_section,
        }
    )


def simulate_evaluate(cfg: Config, world: dict, challenger: str) -> None:
    """Install a challenger as models/lightgbm and write what evaluate writes (scored test rows, metrics.json)."""
    for name, src in (("lightgbm", world[challenger]), ("baseline", world["baseline"])):
        dest = cfg.paths.models_dir / name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)
    test = world["test"]
    scored = test.assign(y_true=encode_target(test["label"], ["no", "yes"], DATA))
    models = {
        "lightgbm": load_bundle(cfg.paths.models_dir / "lightgbm"),
        "baseline": load_bundle(cfg.paths.models_dir / "baseline"),
    }
    prod = manifest.load_production(cfg.paths.registry_dir)
    if prod is not None:
        models["production"] = prod
    report = {}
    for name, bundle in models.items():
        s = bundle.predict_scores(test)
        scored = pd.concat([scored, score_frame(name, "binary", s, bundle.meta["threshold"])], axis=1)
        report[name] = compute_metrics("binary", scored["y_true"].to_numpy(), s, bundle.meta["threshold"])
    io.write_frame(scored, cfg.paths.scored_test)
    io.write_json(
        {"primary_metric": "roc_auc", "task": "binary", "models": report, "test_rows": len(test), "test_fingerprint": "fp-test"},
        cfg.paths.reports_dir / "metrics.json",
    )


@pytest.fixture(autouse=True)
def not_an_experiment(monkeypatch):
    """These tests run the promote step as `dvc repro` would, whatever environment pytest was started from."""
    monkeypatch.delenv(promote.EXPERIMENT_ENV, raising=False)


def gate(cfg: Config, world: dict, challenger: str) -> dict:
    """Run the step on the challenger; return its PromotionReport as written to reports/promotion.json."""
    simulate_evaluate(cfg, world, challenger)
    report = promote.run(cfg)
    assert read_report(PromotionReport, cfg.paths.reports_dir / "promotion.json").status is report.status
    return report.to_data()


# ---------------------------------------------------------------- the step


def test_first_model_is_gated_on_absolute_rules_and_the_record_says_so(tmp_path, world):
    cfg = make_cfg(tmp_path)
    report = gate(cfg, world, "medium")
    assert report["status"] == "promoted" and report["production_version"] is None
    vid = catalog.production_version(cfg.paths.registry_dir)
    assert vid == report["version_id"]
    rec = catalog.read_record(cfg.paths.registry_dir, vid)
    assert rec.decision is not None and rec.decision.first_model is True
    assert any(gate_rules.FIRST_MODEL in n for n in rec.decision.notes)
    assert rec.test_fingerprint == "fp-test" and rec.params_digest == promotion.params_digest(cfg)
    assert rec.metrics["roc_auc"] > 0.6 and rec.latency is not None and rec.latency["rows"] > 0
    rules = {r["rule"]: r for r in report["decision"]["rules"]}
    assert rules["threshold roc_auc"]["passed"] is True
    assert rules["gain over production (CI low)"]["passed"] is None
    assert gate_rules.FIRST_MODEL in rules["input schema compatible"]["reason"]
    md = (cfg.paths.reports_dir / "promotion.md").read_text()
    assert "PROMOTED" in md and "| threshold roc_auc | roc_auc |" in md and gate_rules.FIRST_MODEL in md


def test_first_model_below_the_floor_is_rejected_without_error(tmp_path, world):
    cfg = make_cfg(tmp_path)
    report = gate(cfg, world, "weak")
    assert report["status"] == "rejected"
    assert catalog.production_version(cfg.paths.registry_dir) is None
    failed = [r["rule"] for r in report["decision"]["rules"] if r["passed"] is False]
    assert "threshold roc_auc" in failed
    rec = catalog.read_record(cfg.paths.registry_dir, report["version_id"])
    assert rec.status == RecordStatus.REJECTED and rec.decision is not None and rec.decision.first_model is True
    assert io.read_json(cfg.paths.reports_dir / "promotion.json")["status"] == "rejected"
    headline = io.read_json(cfg.paths.reports_dir / "headline.json")
    assert headline["promotion"] == {"status": "rejected", "outcome": "reject"}


def test_better_challenger_is_promoted_and_worse_one_rejected(tmp_path, world):
    cfg = make_cfg(tmp_path)
    reg = cfg.paths.registry_dir
    first = gate(cfg, world, "medium")["version_id"]

    better = gate(cfg, world, "good")
    assert better["status"] == "promoted" and better["production_version"] == first
    assert catalog.production_version(reg) == better["version_id"] != first
    gain_rule = next(r for r in better["decision"]["rules"] if r["rule"].startswith("gain over production"))
    assert gain_rule["passed"] is True and gain_rule["value"] > 0
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(world["good"])

    pointer = (reg / "production.json").read_bytes()
    worse = gate(cfg, world, "medium")  # the old model again: clearly worse than the new champion
    assert worse["status"] == "rejected"
    assert (reg / "production.json").read_bytes() == pointer
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(world["good"])
    failed = {r["rule"] for r in worse["decision"]["rules"] if r["passed"] is False}
    assert "gain over production (CI low)" in failed


def test_identical_challenger_is_already_in_production(tmp_path, world):
    cfg = make_cfg(tmp_path)
    vid = gate(cfg, world, "good")["version_id"]
    pointer = (cfg.paths.registry_dir / "production.json").read_bytes()
    report = gate(cfg, world, "good")
    assert report["status"] == "already_in_production" and report["version_id"] == vid
    assert report["decision"]["rules"] == []
    assert (cfg.paths.registry_dir / "production.json").read_bytes() == pointer
    assert len(catalog.list_versions(cfg.paths.registry_dir)) == 1


def test_promotion_report_is_deterministic(tmp_path, world):
    a, b = make_cfg(tmp_path / "a"), make_cfg(tmp_path / "b")
    gate(a, world, "medium"), gate(b, world, "medium")
    ra, rb = gate(a, world, "good"), gate(b, world, "good")
    assert ra["status"] == rb["status"] == "promoted"
    assert (a.paths.reports_dir / "promotion.json").read_bytes() == (b.paths.reports_dir / "promotion.json").read_bytes()
    assert (a.paths.reports_dir / "promotion.md").read_bytes() == (b.paths.reports_dir / "promotion.md").read_bytes()


def test_require_approval_registers_pending_and_does_not_switch(tmp_path, world):
    cfg = make_cfg(tmp_path, require_approval=True)
    report = gate(cfg, world, "good")
    assert report["status"] == "pending_approval"
    assert catalog.production_version(cfg.paths.registry_dir) is None
    assert catalog.read_record(cfg.paths.registry_dir, report["version_id"]).status == RecordStatus.PENDING_APPROVAL
    lifecycle.approve_version(cfg.paths.registry_dir, report["version_id"], "reviewed the report", "reviewer")
    assert catalog.production_version(cfg.paths.registry_dir) == report["version_id"]


def test_under_dvc_exp_run_the_gate_decides_but_production_and_the_registry_stay_as_they_were(tmp_path, world, monkeypatch):
    cfg = make_cfg(tmp_path)
    reg = cfg.paths.registry_dir
    champion = gate(cfg, world, "medium")["version_id"]
    pointer, versions = (reg / "production.json").read_bytes(), catalog.list_versions(reg)
    monkeypatch.setenv("DVC_EXP_NAME", "try-more-leaves")
    report = gate(cfg, world, "good")  # would be promoted outside an experiment (see the test above)
    assert report["status"] == "experiment" and report["experiment"] == "try-more-leaves"
    assert report["decision"]["outcome"] == "promote" and report["version_id"] is None
    assert report["production_version"] == champion
    assert (reg / "production.json").read_bytes() == pointer and catalog.list_versions(reg) == versions
    md = (cfg.paths.reports_dir / "promotion.md").read_text()
    assert "experiment: production unchanged" in md and "try-more-leaves" in md
    assert io.read_json(cfg.paths.reports_dir / "model_card.json")["status"] == "experiment"


def test_first_model_under_dvc_exp_run_leaves_the_registry_empty(tmp_path, world, monkeypatch):
    cfg = make_cfg(tmp_path)
    monkeypatch.setenv("DVC_EXP_NAME", "first-try")
    report = gate(cfg, world, "good")
    assert report["status"] == "experiment" and report["decision"]["outcome"] == "promote"
    assert catalog.production_version(cfg.paths.registry_dir) is None
    assert catalog.list_versions(cfg.paths.registry_dir) == []


def test_unknown_threshold_metric_is_a_config_error(tmp_path, world):
    with pytest.raises(errors.ConfigError, match="promote.thresholds names rmse, which a binary task"):
        make_cfg(tmp_path, thresholds={"rmse": 1.0})  # refused when params load, before any step runs
    cfg = make_cfg(tmp_path)
    bad = cfg.model_copy(update={"promote": cfg.promote.model_copy(update={"thresholds": {"rmse": 1.0}})})
    with pytest.raises(errors.ConfigError, match="promote.thresholds names rmse, which a binary task"):
        gate(bad, world, "good")  # the gate still refuses a config built around the loader, with the same error


def test_stale_scored_frame_is_refused(tmp_path, world):
    cfg = make_cfg(tmp_path)
    simulate_evaluate(cfg, world, "medium")
    shutil.rmtree(cfg.paths.models_dir / "lightgbm")
    shutil.copytree(world["good"], cfg.paths.models_dir / "lightgbm")  # retrained after evaluate
    with pytest.raises(errors.InputError, match="re-run evaluate"):
        promote.run(cfg)


# ---------------------------------------------------------------- the pure gate


def synthetic_scores(seed: int = 0, n: int = 1000):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    seg = np.where(np.arange(n) < 800, "A", "B")
    noisy = lambda sd, seed: 1 / (1 + np.exp(-(2 * (y - 0.5) * 2 + np.random.default_rng(seed).normal(scale=sd, size=n))))
    return y, pd.DataFrame({"seg": seg}), noisy


def test_challenger_better_on_average_but_worse_on_one_segment_is_rejected():
    y, segments, noisy = synthetic_scores()
    production = noisy(3.0, 1)  # fair everywhere: ROC-AUC 0.85, 0.83 on B
    challenger = noisy(0.3, 2)  # excellent on A ...
    in_b = segments["seg"].to_numpy() == "B"
    challenger[in_b] = noisy(6.0, 3)[in_b]  # ... but 0.73 on B; overall 0.91, CI of the gain [0.03, 0.10]
    p = PromoteParams(thresholds={"roc_auc": 0.6}, bootstrap_samples=200, segment_tolerance=0.05)
    d = decide_promotion(
        GateInput(
            "binary",
            "roc_auc",
            y,
            ModelScores(challenger, digest="new"),
            None,
            ModelScores(production, digest="old"),
            segments,
            segment_min_rows=50,
            latency=Latency(1.0, 10_000.0, 100),
        ),
        p,
    )
    rules = {r.rule: r for r in d.rules}
    assert d.outcome == "reject"
    assert rules["gain over production (CI low)"].passed is True  # better on average ...
    assert rules["segment seg=A"].passed is True
    assert rules["segment seg=B"].passed is False  # ... but not on B
    assert [r.rule for r in d.failed] == ["segment seg=B"]


def test_same_challenger_without_the_bad_segment_is_promoted():
    y, segments, noisy = synthetic_scores()
    p = PromoteParams(thresholds={"roc_auc": 0.6}, bootstrap_samples=200)
    d = decide_promotion(
        GateInput(
            "binary",
            "roc_auc",
            y,
            ModelScores(noisy(0.3, 2), digest="new"),
            ModelScores(noisy(3.0, 4)),
            ModelScores(noisy(1.5, 1), digest="old"),
            segments,
            50,
            Latency(1.0, 10_000.0, 100),
        ),
        p,
    )
    assert d.outcome == "promote", [r.reason for r in d.failed]
    assert not d.first_model


def test_lower_is_better_threshold_is_a_ceiling():
    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    pred = y + 0.5
    make = lambda ceiling: decide_promotion(
        GateInput("regression", "rmse", y, ModelScores(pred), latency=Latency(1, 1e6, 5)),
        PromoteParams(thresholds={"rmse": ceiling}),
    )
    assert make(0.6).outcome == "promote"
    low = make(0.4)
    assert low.outcome == "reject" and low.failed[0].rule == "threshold rmse" and "ceiling" in low.failed[0].reason


def test_new_required_column_fails_schema_compatibility():
    y, segments, noisy = synthetic_scores()
    s = noisy(1.0, 1)
    old_meta = {"features": ["x1", "code"], "input_schema": {"x1": "numeric", "code": "categorical"}}
    new_meta = {"features": ["x1", "x9", "code"], "input_schema": {"x1": "numeric", "x9": "numeric", "code": "numeric"}}
    d = decide_promotion(
        GateInput(
            "binary",
            "roc_auc",
            y,
            ModelScores(s + 0.0, meta=new_meta, digest="n"),
            None,
            ModelScores(s, meta=old_meta, digest="o"),
        ),
        PromoteParams(bootstrap_samples=0),
    )
    schema = next(r for r in d.rules if r.rule == "input schema compatible")
    assert schema.passed is False and "['x9']" in schema.reason and "['code']" in schema.reason
    ok = gate_rules.schema_rule({"input_schema": {"x1": "numeric"}}, old_meta)
    assert ok.passed is True


def test_latency_over_budget_rejects_and_reports_the_measurement():
    y, _, noisy = synthetic_scores()
    p = PromoteParams(max_p95_latency_ms=5, min_rows_per_second=100)
    d = decide_promotion(
        GateInput(
            "binary", "roc_auc", y, ModelScores(noisy(0.5, 1)), latency=Latency(p95_ms=42.0, rows_per_second=1e5, rows=300)
        ),
        p,
    )
    rules = {r.rule: r for r in d.rules}
    assert d.outcome == "reject" and rules["latency p95"].value == 42.0 and rules["throughput"].passed is True
    assert d.first_model and gate_rules.FIRST_MODEL in d.notes[0]


def test_paired_bootstrap_uses_the_same_rows_for_both_models():
    y, _, noisy = synthetic_scores()
    s = ModelScores(noisy(1.0, 1))
    ci = gate_rules.paired_bootstrap_gain("binary", "roc_auc", y, s, s, 50, 0)
    assert ci == {"low": 0.0, "high": 0.0, "n_samples": 50}  # unpaired resamples would not give exactly 0


# ---------------------------------------------------------------- model card and DVC provenance


def test_promotion_writes_the_model_card_and_keeps_it_with_the_version(tmp_path, world):
    cfg = make_cfg(tmp_path)
    report = gate(cfg, world, "medium")
    reg, vid = cfg.paths.registry_dir, report["version_id"]
    md = (cfg.paths.reports_dir / promotion.CARD_MD).read_text()
    assert md == catalog.model_card_path(reg, vid).read_text()
    card = io.read_json(cfg.paths.reports_dir / promotion.CARD_JSON)
    assert card["version_id"] == vid and card["status"] == "promoted" and card["gate"]["outcome"] == "promote"
    assert any("explain" in n for n in card["notes"])  # simulate_evaluate writes no explain report: noted
    assert card["metrics"]["rows"][0]["metric"] == "roc_auc" and "## Known weaknesses" in md
    rec = catalog.read_record(reg, vid)
    assert rec.dvc is not None
    assert rec.dvc.md5 == provenance.dvc_dir_md5(cfg.paths.models_dir) == card["versions"]["dvc"]["md5"]
    assert rec.dvc.path is not None and rec.dvc.path.endswith("lightgbm") and "git_dirty" in rec.model_fields_set
    # The card is a DVC output: it names the code by its digest, never by the git commit (which the record keeps),
    # so a fresh clone's run writes the same card and dvc.lock
    assert card["versions"]["code_digest"] == provenance.code_digest(Path(promotion.__file__).resolve().parents[1])
    assert "git_commit" not in card["versions"] and "git_dirty" not in card["versions"] and "code commit" not in md


def test_the_code_digest_follows_the_source_only(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    first = provenance.code_digest(pkg)
    (pkg / "sub" / "notes.txt").write_text("not code")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")
    assert provenance.code_digest(pkg) == first  # caches and other files do not count
    (pkg / "a.py").write_text("x = 2\n")
    assert provenance.code_digest(pkg) != first
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").rename(pkg / "sub" / "c.py")
    assert provenance.code_digest(pkg) != first  # a file's path counts too


def test_unregistered_rejection_still_gets_a_card_in_reports(tmp_path, world):
    cfg = make_cfg(tmp_path, register_rejected=False)
    report = gate(cfg, world, "weak")
    assert report["status"] == "rejected" and report["version_id"] is None
    card = io.read_json(cfg.paths.reports_dir / promotion.CARD_JSON)
    assert card["version_id"] is None and [r["rule"] for r in card["gate"]["rules"] if r["passed"] is False]
    assert "unregistered challenger" in (cfg.paths.reports_dir / promotion.CARD_MD).read_text()
    assert not (cfg.paths.registry_dir / "versions").exists() or catalog.list_versions(cfg.paths.registry_dir) == []


# ---------------------------------------------------------------- leak suspects and a near-perfect model


def write_validate_report(cfg: Config, suspects: list[dict]) -> None:
    io.write_json(
        validate_report_data(suspects=suspects, leakage={"suspects": suspects}), cfg.paths.reports_dir / "validate.json"
    )


POST = {
    "columns": ["x2"],
    "check": "dominance",
    "value": 0.3,
    "threshold": 0.1,
    "severity": "suspect",
    "detail": "it alone resolves 30.0% of what the other features leave unexplained",
    "excused": False,
}
RELATION = {
    "columns": ["x1", "noise", "x2"],
    "check": "feature_relation",
    "value": 0.999,
    "threshold": 0.995,
    "severity": "warn",
    "detail": "x1 ≈ noise × x2",
    "excused": False,
}


def test_an_unexcused_leak_suspect_blocks_promotion_not_the_run(tmp_path, world):
    cfg = make_cfg(tmp_path)
    write_validate_report(cfg, [POST, RELATION])
    report = gate(cfg, world, "good")  # returns: the run goes on
    assert report["status"] == "rejected" and catalog.production_version(cfg.paths.registry_dir) is None
    rule = next(r for r in report["decision"]["rules"] if r["rule"] == "leak suspects")
    assert rule["passed"] is False and rule["value"] == 1.0
    assert rule["reason"].startswith("x2 [dominance]: it alone resolves 30.0%")
    assert "validate.keep_suspects" in rule["reason"]
    assert [(f["check"], f["excused"]) for f in report["suspects"]] == [("dominance", False), ("feature_relation", False)]
    md = (cfg.paths.reports_dir / "promotion.md").read_text()
    assert "## Findings" in md and "| x2 | dominance | 0.3000 | 0.1000 | **blocks promotion** |" in md
    card = io.read_json(cfg.paths.reports_dir / promotion.CARD_JSON)
    assert [(f["columns"], f["effect"]) for f in card["findings"]] == [
        (["x2"], "blocks promotion"),
        (["x1", "noise", "x2"], "warn"),
    ]
    assert "## Leak suspects and data findings" in (cfg.paths.reports_dir / promotion.CARD_MD).read_text()


def test_a_suspect_excused_with_a_reason_lets_the_model_through_and_the_card_shows_why(tmp_path, world):
    from tasks.core.config import ValidateParams

    cfg = make_cfg(tmp_path)
    cfg = cfg.model_copy(update={"validate_": ValidateParams(keep_suspects={"x2": "measured before the booking"})})
    write_validate_report(cfg, [POST])  # written before the excuse: promote applies the current params
    report = gate(cfg, world, "good")
    assert report["status"] == "promoted"
    rule = next(r for r in report["decision"]["rules"] if r["rule"] == "leak suspects")
    assert rule["passed"] is True and "measured before the booking" in rule["reason"]
    card = io.read_json(cfg.paths.reports_dir / promotion.CARD_JSON)
    assert card["findings"][0]["effect"] == "excused: measured before the booking"


def test_near_perfect_model_is_a_finding_unless_the_dummy_is_as_good():
    found = gate_rules.near_perfect_findings(
        "lightgbm",
        {"roc_auc": 0.9995, "accuracy": 0.9996, "log_loss": 0.0004},
        {"roc_auc": 0.5, "accuracy": 0.9995, "log_loss": 0.7},
        0.999,
        ["x1", "x2"],
        {},
    )
    [f] = found
    assert f.check == "near_perfect_model" and f.columns == ["x1", "x2"] and f.severity == "suspect"
    assert f.metrics == {"log_loss": 0.0004, "roc_auc": 0.9995}  # accuracy: the dummy gets there too
    assert "the strongest drivers are x1, x2" in f.detail
    assert gate_rules.near_perfect_findings("lightgbm", {"r2": 0.95}, None, 0.999, ["x1"], {}) == []
    assert gate_rules.near_perfect_findings("baseline", {"r2": 1.0}, None, 0.999, ["x1"], {"x1": "ok"})[0].excused


def test_near_perfect_challenger_is_rejected_by_the_gate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    perfect = ModelScores((y + rng.uniform(0, 0.5, 400)) / 1.5)
    finding = gate_rules.near_perfect_findings(
        "lightgbm", compute_metrics("binary", y, perfect.scores), {"roc_auc": 0.5}, 0.999, ["x1"], {}
    )
    decision = decide_promotion(GateInput("binary", "roc_auc", y, perfect, suspects=finding), PromoteParams())
    rules = {r.rule: r for r in decision.rules}
    assert decision.outcome == "reject" and rules["near-perfect model"].passed is False
    assert rules["leak suspects"].passed is True
    unread = decide_promotion(GateInput("binary", "roc_auc", y, perfect, suspects=None), PromoteParams())
    assert {r.rule: r.passed for r in unread.rules}["leak suspects"] is None  # no validate report: n/a


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("rejected", "REJECTED"),
        ("promoted", "is now production"),
        ("pending_approval", "pending approval"),
        ("already_in_production", "is already production"),
    ],
)
def test_the_promote_log_states_one_outcome_and_the_right_one(status, says, caplog):
    """A rejected first model once logged "REJECTED ... production stays none" and then "is already production"."""
    from tasks.registry.records import PromotionStatus
    from tasks.reporting.promotion_report import Decision

    outcome = {"rejected": "reject", "already_in_production": "already_in_production"}.get(status, "promote")
    decision = Decision.model_validate(
        {"outcome": outcome, "primary_metric": "roc_auc", "first_model": True, "rules": [], "notes": [], "metrics": {}}
    )
    caplog.set_level("INFO", logger="tasks.evaluation.promotion")
    promotion.log_outcome(PromotionStatus(status), "v0001-abc", None, decision, None)
    lines = [r.getMessage() for r in caplog.records]
    outcomes = ("REJECTED", "is now production", "pending approval", "is already production")
    assert [o for o in outcomes if any(o in line for line in lines)] == [says], lines
