"""Model bundles: a fitted preprocessor plus an estimator, saved without pickle and checksum-verified on load.

A bundle is a directory:
    meta.json           what the model is (kind, task, label classes, features, input schema,
                        decision threshold, versions) and the sha256 of every other file
    preprocessor.skops  the fitted scikit-learn ColumnTransformer (skops: no code runs on load)
    model.txt           LightGBM booster in its text format          (kind "lightgbm")
    model.skops         a scikit-learn estimator                     (kind "linear" / "dummy")
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.errors import ModelIntegrityError
from tasks.modelling.integrity import load_skops_bytes
from tasks.modelling.preprocessing import transform_frame

META = "meta.json"
PREPROCESSOR = "preprocessor.skops"


@dataclass
class ModelBundle:
    """A preprocessor and estimator that score raw feature frames, with what describes them."""

    kind: str
    preprocessor: Any
    estimator: Any
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """binary, multiclass or regression."""
        return self.meta["task"]

    @property
    def features(self) -> list[str]:
        """The raw input columns the model reads."""
        return list(self.meta["features"])

    def transform(self, df: pd.DataFrame) -> Any:
        """Return the model's input matrix for raw rows (other columns of df are ignored)."""
        return transform_frame(self.preprocessor, df, self.features)

    def predict_scores(self, df: pd.DataFrame) -> np.ndarray:
        """Return P(positive) for binary, class probabilities (n, K) for multiclass, values for regression."""
        return predict_transformed(self, self.transform(df))


def predict_transformed(bundle: ModelBundle, x: Any) -> np.ndarray:
    """Return scores for rows already passed through the bundle's preprocessor."""
    est = bundle.estimator
    if bundle.kind == "lightgbm":
        num_iter = bundle.meta.get("best_iteration") or None
        # One thread for small batches: OpenMP start-up costs more than the work (12 ms vs 0.4 ms a row here).
        threads = {"num_threads": 1} if len(x) < 5_000 else {}
        return np.asarray(est.predict(x, num_iteration=num_iter, **threads))
    if bundle.task == "regression":
        return np.asarray(est.predict(x), dtype=float)
    proba = np.asarray(est.predict_proba(x))
    return proba[:, 1] if bundle.task == "binary" else proba


def canonical_skops(data: bytes) -> bytes:
    """Return the same skops file with nothing of the writing process left in it: the same object gives the same bytes.

    skops names each array's entry after id(obj) (a memory address), each bytes entry after a uuid4, stamps
    every zip entry with the time it was written and writes schema.json's "__id__" memo keys as addresses.
    Here the ids become 1, 2, ... and the entries 1.npy, 2.bin, ... in the order schema.json first names them
    (a bijection, so skops' memo on load sees the same sharing), and the zip is rewritten by io.stable_zip_bytes.
    """
    with zipfile.ZipFile(BytesIO(data)) as zf:
        entries = {info.filename: zf.read(info) for info in zf.infolist()}
    schema = json.loads(entries.pop("schema.json"))
    ids: dict[Any, int] = {}
    names: dict[str, str] = {}

    def renumber(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                renumber(item)
        elif isinstance(node, dict):
            if "__id__" in node:
                node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
            if isinstance(node.get("file"), str) and node["file"] in entries:
                old = node["file"]
                node["file"] = names.setdefault(old, f"{len(names) + 1}{Path(old).suffix}")
            for value in node.values():
                renumber(value)

    renumber(schema)
    if set(names) != set(entries):
        raise ModelIntegrityError(f"skops wrote entries schema.json does not name: {sorted(set(entries) - set(names))}")
    out = {names[old]: blob for old, blob in entries.items()}
    out["schema.json"] = json.dumps(schema, indent=2).encode("utf-8")
    return io.stable_zip_bytes(out)


def save_preprocessor(pre: Any, path: Path) -> None:
    """Write a fitted scikit-learn object with skops, atomically; the same object always gives the same bytes."""
    import skops.io as sio

    io.write_bytes(canonical_skops(sio.dumps(pre)), path)


def load_skops(path: Path) -> Any:
    """Load a .skops file, refusing (before constructing anything) any type outside integrity.TRUSTED_SKOPS_TYPES."""
    path = Path(path)
    if not path.is_file():
        raise ModelIntegrityError(f"{path}: missing")
    return load_skops_bytes(path.read_bytes(), path)


def save_bundle(bundle: ModelBundle, dest: Path) -> None:
    """Write the bundle directory atomically, with a checksum of every file in meta.json."""
    with io.atomic_dir(Path(dest)) as tmp:
        save_preprocessor(bundle.preprocessor, tmp / PREPROCESSOR)
        if bundle.kind == "lightgbm":
            bundle.estimator.save_model(str(tmp / "model.txt"))
        else:
            save_preprocessor(bundle.estimator, tmp / "model.skops")
        checksums = {name: sha256 for name, sha256 in io.sha256_tree(tmp).items()}
        io.write_json({**bundle.meta, "kind": bundle.kind, "checksums": checksums}, tmp / META)


def verify_bundle(src: Path) -> dict[str, Any]:
    """Return meta.json after checking every listed file's sha256; ModelIntegrityError names a mismatch."""
    src = Path(src)
    meta = io.read_json(src / META)
    for name, expected in meta.get("checksums", {}).items():
        path = src / name
        if not path.exists():
            raise ModelIntegrityError(f"{path}: missing from the model bundle")
        actual = io.sha256_file(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path}: checksum mismatch (expected {expected[:12]}..., found {actual[:12]}...); "
                "the file was changed after it was saved; refusing to load it"
            )
    return meta


def load_bundle(src: Path) -> ModelBundle:
    """Load a bundle directory after verifying its checksums; no file can execute code on load."""
    import lightgbm as lgb

    src = Path(src)
    meta = verify_bundle(src)
    kind = meta["kind"]
    pre = load_skops(src / PREPROCESSOR)
    est = lgb.Booster(model_file=str(src / "model.txt")) if kind == "lightgbm" else load_skops(src / "model.skops")
    return ModelBundle(kind=kind, preprocessor=pre, estimator=est, meta=meta)


def bundle_from_files(files: dict[str, bytes], src: Path) -> ModelBundle:
    """Return the bundle built from its files' bytes (already verified by the caller: nothing is re-read)."""
    import lightgbm as lgb

    src = Path(src)
    meta = json.loads(files[META].decode("utf-8")) if META in files else {}
    kind = meta.get("kind")
    needed = [META, PREPROCESSOR, "model.txt" if kind == "lightgbm" else "model.skops"]
    if kind not in ("lightgbm", "linear", "dummy") or any(name not in files for name in needed):
        raise ModelIntegrityError(f"{src}: not a complete model bundle (kind {kind!r}, files {sorted(files)})")
    pre = load_skops_bytes(files[PREPROCESSOR], src / PREPROCESSOR)
    if kind == "lightgbm":
        est = lgb.Booster(model_str=files["model.txt"].decode("utf-8"))
    else:
        est = load_skops_bytes(files["model.skops"], src / "model.skops")
    return ModelBundle(kind=kind, preprocessor=pre, estimator=est, meta=meta)


def bundle_digest(src: Path) -> str:
    """Return one sha256 over the bundle's files, to tell versions apart."""
    import hashlib

    h = hashlib.sha256()
    for name, sha in sorted(io.sha256_tree(Path(src)).items()):
        h.update(f"{name}:{sha}\n".encode())
    return h.hexdigest()


MODEL_NAMES = ("lightgbm", "baseline", "dummy")


def input_key(bundle: ModelBundle) -> tuple:
    """Return what identifies a bundle's input matrix: its preprocessor (the saved file when loaded) and features.

    A dummy's scores do not depend on the rows' values, so every dummy shares one stand-in input.
    """
    if bundle.kind == "dummy":
        return ("dummy",)
    return (bundle.meta.get("checksums", {}).get(PREPROCESSOR) or id(bundle.preprocessor), tuple(bundle.features))


def score_bundles(bundles: dict[str, ModelBundle], df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return each bundle's predict_scores on df; df goes through each distinct preprocessor once."""
    from scipy import sparse

    keys = {name: input_key(b) for name, b in bundles.items()}
    last_use = {key: name for name, key in keys.items()}
    inputs: dict[tuple, object] = {}
    scores = {}
    for name, b in bundles.items():
        key = keys[name]
        if key not in inputs:
            inputs[key] = sparse.csr_matrix((len(df), 0)) if key == ("dummy",) else b.transform(df)
        scores[name] = predict_transformed(b, inputs[key])
        if last_use[key] == name:
            del inputs[key]
    return scores
