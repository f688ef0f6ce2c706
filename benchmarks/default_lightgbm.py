"""Default LightGBM on train + valid of a project's split files, scored on its test file (the issue-24 reference).

    cd <project> && PYTHONPATH=. python <repo>/benchmarks/default_lightgbm.py

Uses the same feature columns as tabgate (infer_feature_types: dropped columns left out), object columns as
pandas categories, LGBMClassifier/LGBMRegressor defaults with random_state 0. Prints one JSON line.
"""

from __future__ import annotations

import json

import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score, root_mean_squared_error

from tasks.core import io
from tasks.core.config import load_config
from tasks.core.schema import infer_feature_types


def main() -> None:
    cfg = load_config("params.yaml")
    train = pd.concat([io.read_frame(cfg.paths.train), io.read_frame(cfg.paths.valid)], ignore_index=True)
    test = io.read_frame(cfg.paths.test)
    cols = infer_feature_types(train, cfg.data).all
    x_tr, x_te = train[cols].copy(), test[cols].copy()
    for c in cols:
        if not pd.api.types.is_numeric_dtype(x_tr[c]):
            cats = pd.Categorical(x_tr[c].astype(str)).categories
            x_tr[c] = pd.Categorical(x_tr[c].astype(str), categories=cats)
            x_te[c] = pd.Categorical(x_te[c].astype(str), categories=cats)
    y_tr, y_te = train[cfg.data.target], test[cfg.data.target]
    if cfg.data.task == "regression":
        pred = lgb.LGBMRegressor(random_state=0, verbose=-1).fit(x_tr, y_tr).predict(x_te)
        out = {"rmse": float(root_mean_squared_error(y_te, pred))}
    else:
        y_tr, y_te = (y == cfg.data.positive_label for y in (y_tr, y_te))
        pred = lgb.LGBMClassifier(random_state=0, verbose=-1).fit(x_tr, y_tr).predict_proba(x_te)[:, 1]
        out = {"roc_auc": float(roc_auc_score(y_te, pred))}
    print(json.dumps({"train_rows": len(train), "test_rows": len(test), **out}))


if __name__ == "__main__":
    main()
