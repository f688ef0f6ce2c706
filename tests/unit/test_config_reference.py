"""docs/configuration.md is generated from tasks/core/config.py and must match it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    """Import tools/config_reference.py (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "tools" / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["config_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_configuration_md_is_up_to_date() -> None:
    tool = load_tool()
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == tool.render(), "docs/configuration.md is out of date: run python tools/config_reference.py"


def test_every_config_key_is_in_the_reference() -> None:
    from pydantic import BaseModel

    from tasks.core.config import Config

    tool = load_tool()
    text = tool.render()

    def keys(prefix: str, model: type[BaseModel]) -> list[str]:
        found = []
        for attr, field in model.model_fields.items():
            name = field.alias or attr
            key = f"{prefix}.{name}" if prefix else name
            found.append(key)
            sub = tool.nested_model(field.annotation)
            if sub is not None:
                found += keys(key, sub)
        return found

    every = keys("", Config)
    assert len(every) > 100
    missing = [key for key in every if f"| `{key}` |" not in text and f"## `{key}`" not in text]
    assert missing == []


def test_reference_shows_type_default_and_comment() -> None:
    text = load_tool().render()
    row = next(line for line in text.splitlines() if line.startswith("| `validate.gx_max_rows` |"))
    assert "`int`" in row and "`50000`" in row and "GX validates a sample" in row and "ge 1000" in row


def test_check_mode_fails_on_a_stale_file(tmp_path: Path, monkeypatch) -> None:
    tool = load_tool()
    stale = tmp_path / "configuration.md"
    stale.write_text(tool.render().replace("validate.gx_max_rows", "validate.gx_rows"), encoding="utf-8")
    monkeypatch.setattr(tool, "TARGET", stale)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.main(["--check"]) == 1
    stale.write_text(tool.render(), encoding="utf-8")
    assert tool.main(["--check"]) == 0


def test_every_key_is_described_by_the_config_models_themselves() -> None:
    """A key's description comes from tasks/core/config.py (Field description or the comment beside the field),
    not from the bundled params.yaml's comments, which a user's own params.yaml does not have."""
    import re

    rows = [line for line in load_tool().render().splitlines() if re.match(r"\| `[a-z_.]+` \|", line)]
    undescribed = [row.split("|")[1].strip() for row in rows if re.search(r"(?<!\\)\|\s*(\([^)]*\)\s*)?\|$", row)]
    from_params = [row.split("|")[1].strip() for row in rows if "(bundled params.yaml" in row]
    assert undescribed == [], f"describe these keys in tasks/core/config.py: {undescribed}"
    assert from_params == [], f"described only by the bundled params.yaml: move to tasks/core/config.py: {from_params}"
