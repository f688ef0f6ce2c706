"""Model security: crafted .skops files never run code, and no registered or preprocessed file can change unseen.

The malicious files are built here from a real preprocessor (no binaries are committed): each payload
is hidden as an extra attribute of the fitted ColumnTransformer (or as a dict key type, or a renamed
class) and, if it ever ran, would leave a marker file behind.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tasks.core import io
from tasks.core.config import DataParams, parse_config
from tasks.core.errors import ModelIntegrityError
from tasks.modelling import integrity
from tasks.modelling.bundle import load_skops
from tasks.registry import catalog, lifecycle, manifest, migrate
from tasks.registry.records import Action, CandidateRecord, RecordStatus
from tests.conftest import make_config, scoring_frame, synthetic_frame, tiny_lightgbm_bundle
from tests.support.registry_world import approved_record

DATA = DataParams(target="label", task="binary", positive_label="yes", categorical_columns=["agent"])

# ---------------------------------------------------------------- crafting (the attacker's side)

_ids = iter(range(10_000, 1_000_000))


def _json(value) -> dict:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": next(_ids),
    }


def _str_type() -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode", "__id__": next(_ids)}


def _seq(kind: str, *items: dict) -> dict:
    return {
        "__class__": kind,
        "__module__": "builtins",
        "__loader__": f"{kind.title()}Node",
        "content": list(items),
        "__id__": next(_ids),
    }


def _dict(mapping: dict) -> dict:
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": mapping,
        "key_types": _seq("list", *[_str_type() for _ in mapping]),
        "__id__": next(_ids),
    }


def _call(module: str, name: str, *args: dict) -> dict:
    """A node whose construction calls module.name(*args) (skops' ConstructorFromReduceNode)."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": _seq("tuple", *args),
        "__id__": next(_ids),
    }


def _write_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


PAYLOADS = {
    "builtins.exec": lambda m: {"_x": _call("builtins", "exec", _json(_write_code(m)))},
    "builtins.eval": lambda m: {"_x": _call("builtins", "eval", _json(_write_code(m)))},
    "numpy runstring": lambda m: {"_x": _call("numpy.testing._private.utils", "runstring", _json(_write_code(m)), _dict({}))},
    "getattr/__import__ chain": lambda m: {
        "_x": _call(
            "builtins",
            "list",
            _call(
                "builtins",
                "map",
                _call("builtins", "getattr", _call("builtins", "__import__", _json("os")), _json("system")),
                _seq("list", _json(f"echo chain > {m}")),
            ),
        )
    },
    "builtins.open": lambda m: {"_x": _call("builtins", "open", _json(str(m)), _json("w"))},
    "sklearn check_output": lambda m: {
        "_x": _call("sklearn.utils._testing", "check_output", _seq("list", _json("sh"), _json("-c"), _json(f"echo x > {m}")))
    },
    "numpy savetxt+load(allow_pickle)": lambda m: {
        "_a": _call(
            "numpy",
            "savetxt",
            _json(str(m) + ".pkl"),
            _seq("list"),
            _json("%s"),
            _json(" "),
            _json("\n"),
            _json(f"cos\nsystem\n(S'echo x > {m}'\ntR."),
            _json(""),
            _json(""),
        ),
        "_b": _call("numpy", "load", _json(str(m) + ".pkl"), _json(None), _json(True)),
    },
    "scipy rmtree": lambda m: {"_x": _call("scipy._lib._tmpdirs", "rmtree", _json(str(m) + ".canary"))},
}


def read_schema(src: Path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(src) as z:
        return json.loads(z.read("schema.json")), {n: z.read(n) for n in z.namelist() if n != "schema.json"}


def write_schema(schema: dict, others: dict[str, bytes], dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
        for name, data in others.items():
            z.writestr(name, data)
    return dest


def with_extra_attributes(src: Path, dest: Path, attrs: dict) -> Path:
    """Copy a preprocessor with extra attributes on its top-level ColumnTransformer."""
    schema, others = read_schema(src)
    for key, node in attrs.items():
        schema["content"]["content"][key] = node
        schema["content"]["key_types"]["content"].append(_str_type())
    return write_schema(schema, others, dest)


def with_exec_key_type(src: Path, dest: Path, marker: Path) -> Path:
    """Hide exec as the type of an attribute's key: skops calls key_type(key), so exec(key) would run."""
    schema, others = read_schema(src)
    schema["content"]["content"][_write_code(marker)] = _json(None)
    schema["content"]["key_types"]["content"].append(
        {"__class__": "exec", "__module__": "builtins", "__loader__": "TypeNode", "__id__": next(_ids)}
    )
    return write_schema(schema, others, dest)


def with_renamed_coder(src: Path, dest: Path, name: str) -> Path:
    """Rename every CategoryCoder node (the allowed name is a prefix of the new one, not the name)."""
    schema, others = read_schema(src)
    text = json.dumps(schema).replace('"__class__": "CategoryCoder"', f'"__class__": "{name}"')
    assert text != json.dumps(schema)
    return write_schema(json.loads(text), others, dest)


def side_effects(marker: Path) -> list[str]:
    """Return what a payload left behind: a marker file, or a deleted canary directory."""
    found = [p.name for p in marker.parent.glob(marker.name + "*") if p.is_file()]
    return found + ([] if Path(str(marker) + ".canary").is_dir() else ["canary deleted"])


# ---------------------------------------------------------------- fixtures


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Return tests.conftest.scoring_frame without its id column (the same random rows)."""
    return scoring_frame(n, seed).drop(columns="booking_id")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A bundle (LightGBM + CategoryCoder preprocessor) registered and promoted, and a batch to score."""
    root = tmp_path_factory.mktemp("security")
    bundle = tiny_lightgbm_bundle(make_frame(300, 1), root / "bundle", ("x1", "x2"), ("hotel", "agent"), DATA, 10, threshold=0.5)
    reg = root / "registry"
    vid = lifecycle.register_version(reg, bundle, approved_record())
    lifecycle.set_production(reg, vid, "test", "tester")
    batch = root / "batch.csv"
    make_frame(40, 2).drop(columns="label").to_csv(batch, index=False)
    return {"root": root, "bundle": bundle, "registry": reg, "version": vid, "batch": batch}


@pytest.fixture
def reg(world, tmp_path) -> Path:
    """A private copy of the registry, free to tamper with."""
    return Path(shutil.copytree(world["registry"], tmp_path / "registry"))


def params_file(tmp_path: Path, registry_dir: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "paths": {"registry_dir": str(registry_dir), "data_dir": str(tmp_path / "data")},
                "data": DATA.model_dump(),
                "ingest": {"source": "unused.csv"},
            }
        )
    )
    return path


def tabgate(*argv: str) -> int:
    """Run the tabgate CLI in-process; return its exit code."""
    from flows.cli import build_parser, dispatch

    return dispatch(build_parser().parse_args(list(argv)))


def score_exit(tmp_path: Path, registry_dir: Path, batch: Path) -> int:
    out = tmp_path / "pred.csv"
    code = tabgate("--params", str(params_file(tmp_path, registry_dir)), "score", str(batch), str(out))
    assert (code == 0) == out.exists()
    return code


# ---------------------------------------------------------------- (a) exact allowlist


def test_every_type_the_project_writes_is_in_the_allowlist_and_loads(world, tmp_path):
    pre = world["bundle"] / "preprocessor.skops"
    assert set(integrity.skops_types(pre.read_bytes(), pre)) == {"tasks.modelling.preprocessing.CategoryCoder"}
    assert load_skops(pre).transform(make_frame(5, 3)).shape == (5, 4)
    assert manifest.load_production(world["registry"]).predict_scores(make_frame(5, 3)).shape == (5,)


@pytest.mark.parametrize("attack", sorted(PAYLOADS))
def test_crafted_preprocessor_is_refused_before_anything_runs(world, tmp_path, attack):
    marker = tmp_path / "marker"
    Path(str(marker) + ".canary").mkdir()
    crafted = with_extra_attributes(world["bundle"] / "preprocessor.skops", tmp_path / "crafted.skops", PAYLOADS[attack](marker))
    with pytest.raises(ModelIntegrityError, match="never writes") as err:
        load_skops(crafted)
    assert "crafted.skops" in str(err.value)
    assert side_effects(marker) == []


def with_old_coder_module(src: Path, dest: Path) -> Path:
    """Copy a preprocessor as saved before the library move: its CategoryCoder nodes name tasks.preprocess."""
    schema, others = read_schema(src)

    def rename(node):
        if isinstance(node, dict):
            if node.get("__class__") == "CategoryCoder":
                node["__module__"] = "tasks.preprocess"
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    rename(schema)
    return write_schema(schema, others, dest)


def test_a_preprocessor_naming_the_old_tasks_preprocess_coder_still_loads_and_serves(world, tmp_path):
    """Files saved before the move to tasks/modelling name tasks.preprocess.CategoryCoder: a registry of them,
    migrated, keeps loading and scores exactly as the same model saved under the new name."""
    from tasks.modelling.preprocessing import CategoryCoder

    batch = make_frame(50, 4)
    bundle = Path(shutil.copytree(world["bundle"], tmp_path / "old-bundle"))
    pre = with_old_coder_module(world["bundle"] / "preprocessor.skops", bundle / "preprocessor.skops")
    assert integrity.skops_types(pre.read_bytes(), pre) == ["tasks.preprocess.CategoryCoder"]
    loaded = load_skops(pre)
    assert isinstance(loaded.named_transformers_["cat"], CategoryCoder)
    np.testing.assert_array_equal(loaded.transform(batch), load_skops(world["bundle"] / "preprocessor.skops").transform(batch))
    meta = json.loads((bundle / "meta.json").read_text())
    meta["checksums"]["preprocessor.skops"] = integrity.sha256_bytes(pre.read_bytes())
    (bundle / "meta.json").write_text(json.dumps(meta))
    reg = tmp_path / "old-registry"
    vid = lifecycle.register_version(reg, bundle, approved_record())
    lifecycle.set_production(reg, vid, "test", "tester")
    (reg / "versions" / vid / "manifest.json").unlink()  # as written before manifests existed
    pointer = json.loads((reg / "production.json").read_text())
    del pointer["manifest_sha256"]
    (reg / "production.json").write_text(json.dumps(pointer))
    assert migrate.migrate_registry(reg, "record existing versions", "tester") == {vid: "recorded"}
    recorded, _ = manifest.read_version_manifest(reg, vid)
    assert recorded["skops_types"]["preprocessor.skops"] == ["tasks.preprocess.CategoryCoder"]
    np.testing.assert_array_equal(
        manifest.load_production(reg).predict_scores(batch), manifest.load_production(world["registry"]).predict_scores(batch)
    )


def test_exec_hidden_as_a_dict_key_type_is_refused(world, tmp_path):
    marker = tmp_path / "marker"
    Path(str(marker) + ".canary").mkdir()
    crafted = with_exec_key_type(world["bundle"] / "preprocessor.skops", tmp_path / "crafted.skops", marker)
    with pytest.raises(ModelIntegrityError, match=r"builtins\.exec"):
        load_skops(crafted)
    assert side_effects(marker) == []


def test_a_type_that_only_starts_with_an_allowed_name_is_refused(world, tmp_path):
    crafted = with_renamed_coder(world["bundle"] / "preprocessor.skops", tmp_path / "renamed.skops", "CategoryCoderX")
    with pytest.raises(ModelIntegrityError, match=r"tasks\.modelling\.preprocessing\.CategoryCoderX"):
        load_skops(crafted)


def test_an_attacker_who_rewrites_the_whole_registry_still_cannot_run_code(reg, world, tmp_path, monkeypatch):
    """Without TABGATE_MANIFEST_KEY, one who can write every registry file can make the records agree; the
    allowlist still refuses the payload, and score exits 4 with no side effect."""
    monkeypatch.delenv(integrity.MANIFEST_KEY_ENV, raising=False)
    marker = tmp_path / "marker"
    Path(str(marker) + ".canary").mkdir()
    vdir = reg / "versions" / world["version"]
    pre = vdir / "bundle" / "preprocessor.skops"
    with_extra_attributes(pre, tmp_path / "evil.skops", PAYLOADS["builtins.exec"](marker)).replace(pre)
    forge_records(reg, world["version"])
    assert score_exit(tmp_path, reg, world["batch"]) == 4
    assert side_effects(marker) == []


def test_a_bundle_holding_an_untrusted_type_is_never_registered(world, tmp_path):
    marker = tmp_path / "marker"
    Path(str(marker) + ".canary").mkdir()
    bundle = Path(shutil.copytree(world["bundle"], tmp_path / "bundle"))
    pre = bundle / "preprocessor.skops"
    with_extra_attributes(pre, tmp_path / "evil.skops", PAYLOADS["builtins.eval"](marker)).replace(pre)
    meta = json.loads((bundle / "meta.json").read_text())
    meta["checksums"]["preprocessor.skops"] = integrity.sha256_bytes(pre.read_bytes())
    (bundle / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match=r"builtins\.eval"):
        lifecycle.register_version(tmp_path / "registry", bundle, CandidateRecord(status=RecordStatus.APPROVED))
    assert catalog.list_versions(tmp_path / "registry") == []
    assert side_effects(marker) == []


def forge_records(reg: Path, vid: str) -> None:
    """Rewrite meta.json's checksums, the manifest and the pointer to agree with the bundle as it is now."""
    vdir = reg / "versions" / vid
    meta = json.loads((vdir / "bundle" / "meta.json").read_text())
    meta["checksums"] = {n: s for n, s in io.sha256_tree(vdir / "bundle").items() if n != "meta.json"}
    (vdir / "bundle" / "meta.json").write_text(json.dumps(meta))
    if (vdir / "manifest.json").exists():  # (absent before this change: nothing more to forge then)
        recorded = json.loads((vdir / "manifest.json").read_text())
        recorded["files"] = io.sha256_tree(vdir / "bundle")
        (vdir / "manifest.json").write_text(json.dumps(recorded))
        pointer = json.loads((reg / "production.json").read_text())
        pointer["manifest_sha256"] = integrity.sha256_bytes((vdir / "manifest.json").read_bytes())
        (reg / "production.json").write_text(json.dumps(pointer))


# ---------------------------------------------------------------- (b) the registry's record of every byte


def edit_threshold(path: Path) -> None:
    meta = json.loads(path.read_text())
    meta["threshold"] = 0.0  # every row would be predicted positive
    path.write_text(json.dumps(meta, indent=2))


def append_byte(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"\0")


TAMPERING = {
    "bundle/meta.json": edit_threshold,
    "bundle/preprocessor.skops": append_byte,
    "bundle/model.txt": lambda p: p.write_text(p.read_text().replace("learning_rate", "learning_rate ", 1)),
    "manifest.json": lambda p: p.write_text(p.read_text().replace('"format"', '"format" ', 1)),
    "bundle/notes.txt": lambda p: p.write_text("added after registration"),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_changing_any_file_of_the_production_version_is_refused_with_exit_4(reg, world, tmp_path, name, caplog):
    target = reg / "versions" / world["version"] / name
    TAMPERING[name](target)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(target))):
        manifest.load_production(reg)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(target))):
        manifest.production_bundle_dir(reg)
    caplog.set_level(logging.ERROR)
    assert score_exit(tmp_path, reg, world["batch"]) == 4
    assert str(target) in caplog.text


def load_for_monitoring(reg: Path, tmp_path: Path, fresh: Path) -> None:
    from tasks.serving.monitor import production_reference

    production_reference(reg)


def load_for_evaluation(reg: Path, tmp_path: Path, fresh: Path) -> None:
    from tasks.evaluation.holdout import load_models
    from tasks.modelling.bundle import MODEL_NAMES

    models = tmp_path / "models"
    for name in MODEL_NAMES:  # the freshly trained bundles load; only the production one was tampered with
        shutil.copytree(fresh, models / name)
    load_models(models, reg)


def load_for_the_gate(reg: Path, tmp_path: Path, fresh: Path) -> None:
    from tasks.evaluation.promotion import champion_scores

    scored = make_frame(40, 2).drop(columns="label")
    champion_scores(make_config(tmp_path, paths={"registry_dir": str(reg)}), scored, "binary")


PRODUCTION_LOADERS = {"monitor": load_for_monitoring, "evaluate": load_for_evaluation, "promote": load_for_the_gate}


@pytest.mark.parametrize("loader", sorted(PRODUCTION_LOADERS))
@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_every_step_that_loads_production_refuses_a_changed_file(reg, world, tmp_path, name, loader):
    """Monitor, evaluate and promote load the production model too: each checks the version's manifest first."""
    PRODUCTION_LOADERS[loader](reg, tmp_path / "untouched", world["bundle"])  # the world is what the test claims: it loads
    target = reg / "versions" / world["version"] / name
    TAMPERING[name](target)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(target))):
        PRODUCTION_LOADERS[loader](reg, tmp_path / "tampered", world["bundle"])


FRESH_CHANGES = {
    "model.txt": TAMPERING["bundle/model.txt"],
    "preprocessor.skops": append_byte,
    "model.txt removed": Path.unlink,
}


@pytest.mark.parametrize("change", sorted(FRESH_CHANGES))
def test_evaluate_refuses_a_freshly_trained_bundle_changed_after_train_saved_it(world, tmp_path, change):
    """The bundles train writes carry their checksums in meta.json; evaluate (load_models) checks them on load."""
    from tasks.evaluation.holdout import load_models
    from tasks.modelling.bundle import MODEL_NAMES

    models = tmp_path / "models"
    for model in MODEL_NAMES:
        shutil.copytree(world["bundle"], models / model)
    assert set(load_models(models, tmp_path / "no-registry")) == set(MODEL_NAMES)
    target = models / "lightgbm" / change.split()[0]
    FRESH_CHANGES[change](target)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(target))):
        load_models(models, tmp_path / "no-registry")


def test_a_forged_manifest_is_refused_when_the_registry_is_signed(world, tmp_path, monkeypatch):
    monkeypatch.setenv(integrity.MANIFEST_KEY_ENV, "k" * 32)
    reg = tmp_path / "signed"
    vid = lifecycle.register_version(reg, world["bundle"], approved_record())
    lifecycle.set_production(reg, vid, "test", "tester")
    assert manifest.load_production(reg) is not None
    edit_threshold(reg / "versions" / vid / "bundle" / "meta.json")
    forge_records(reg, vid)  # every record agrees, but the attacker has no key
    with pytest.raises(ModelIntegrityError, match="HMAC does not verify"):
        manifest.load_production(reg)
    monkeypatch.setenv(integrity.MANIFEST_KEY_ENV, "another key entirely")
    with pytest.raises(ModelIntegrityError, match="HMAC"):
        manifest.read_version_manifest(reg, vid)


def test_a_registry_written_before_manifests_is_refused_until_migrated(reg, world, tmp_path):
    vid = world["version"]
    (reg / "versions" / vid / "manifest.json").unlink()
    pointer = json.loads((reg / "production.json").read_text())
    del pointer["manifest_sha256"]
    (reg / "production.json").write_text(json.dumps(pointer))
    assert score_exit(tmp_path, reg, world["batch"]) == 4
    params = str(params_file(tmp_path, reg))
    assert tabgate("--params", params, "models", "migrate", "--reason", "record existing versions") == 0
    assert manifest.load_production(reg).meta["threshold"] == 0.5
    assert [h.action for h in catalog.read_history(reg)][-2:] == [Action.MIGRATE, Action.MIGRATE]
    assert score_exit(tmp_path, reg, world["batch"]) == 0


def test_migrate_refuses_a_version_whose_meta_json_was_edited_before_migration(reg, world, tmp_path):
    vid = world["version"]
    (reg / "versions" / vid / "manifest.json").unlink()
    edit_threshold(reg / "versions" / vid / "bundle" / "meta.json")
    with pytest.raises(ModelIntegrityError, match="do not match the digest"):
        migrate.migrate_registry(reg, "record existing versions", "tester")
    assert not (reg / "versions" / vid / "manifest.json").exists()


def test_rollback_and_promotion_pin_the_manifest_of_the_version_they_install(reg, world, tmp_path):
    other = tiny_lightgbm_bundle(make_frame(300, 5), tmp_path / "other", ("x1",), (), DATA, 5)
    v2 = lifecycle.register_version(reg, other, approved_record())
    lifecycle.set_production(reg, v2, "second", "tester")
    assert catalog.read_pointer(reg).manifest_sha256 == manifest.read_version_manifest(reg, v2)[1]
    append_byte(reg / "versions" / world["version"] / "bundle" / "model.txt")
    with pytest.raises(ModelIntegrityError, match="model.txt"):
        lifecycle.rollback(reg, "back", "tester")
    assert catalog.production_version(reg) == v2


# ---------------------------------------------------------------- train's preprocessors


def test_train_refuses_a_preprocessor_with_a_byte_appended_and_exits_4(tmp_path):
    from tasks import preprocess, train
    from tasks.core.entry import step_main
    from tasks.modelling.training import load_preprocessors

    cfg = make_config(tmp_path)
    df = synthetic_frame(200, seed=3)
    io.write_frame(df.iloc[:150], cfg.paths.train)
    io.write_frame(df.iloc[150:], cfg.paths.valid)
    preprocess.run(cfg)
    assert sorted(load_preprocessors(cfg.paths.preprocess_dir)[0]) == ["linear", "tree"]
    target = cfg.paths.preprocess_dir / "tree.skops"
    append_byte(target)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(target))):
        load_preprocessors(cfg.paths.preprocess_dir)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    assert parse_config(yaml.safe_load(params.read_text())) == cfg
    with pytest.raises(SystemExit) as exit_info:
        step_main("train", train.run, train.__doc__, ["--params", str(params)])
    assert exit_info.value.code == 4
    assert not (cfg.paths.models_dir / "lightgbm").exists()


@pytest.mark.parametrize("attack", ["builtins.exec", "getattr/__import__ chain"])
def test_the_explain_step_refuses_a_crafted_model_and_exits_4_writing_nothing(world, tmp_path, attack):
    """explain loads the trained bundle itself (not through the registry): that load path is guarded too."""
    from tasks import explain
    from tasks.core.entry import step_main

    cfg = make_config(tmp_path)
    bundle = Path(shutil.copytree(world["bundle"], cfg.paths.models_dir / explain.MODEL))
    marker = tmp_path / "marker"
    Path(str(marker) + ".canary").mkdir()
    pre = bundle / "preprocessor.skops"
    with_extra_attributes(pre, tmp_path / "crafted.skops", PAYLOADS[attack](marker)).replace(pre)
    meta = json.loads((bundle / "meta.json").read_text())  # the attacker fixes the checksum too: only the
    meta["checksums"]["preprocessor.skops"] = io.sha256_file(pre)  # type allowlist stands in the way
    (bundle / "meta.json").write_text(json.dumps(meta))
    scored = make_frame(60, 4)
    io.write_frame(scored, cfg.paths.scored_test)
    io.write_frame(make_frame(60, 5), cfg.paths.valid)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    with pytest.raises(SystemExit) as exit_info:
        step_main("explain", explain.run, explain.__doc__, ["--params", str(params)])
    assert exit_info.value.code == 4
    assert side_effects(marker) == []
    assert not (cfg.paths.reports_dir / explain.OUT_DIR).exists()
    with pytest.raises(ModelIntegrityError, match="never writes"):
        explain.run(cfg)
