"""Config docs: what each params.yaml key means, and the effective configuration as YAML with that text beside it.

A key's description is its `Field(description=...)`, else the comment beside the field in tasks/core/config.py
(read from the source, as tools/config_reference.py does for docs/configuration.md). `tabgate config` prints the
effective configuration: every key, its value (from params.yaml, else the default), and what it means, so a short
params.yaml hides nothing a reader needs.
"""

from __future__ import annotations

import inspect
import io
import re
import tokenize
import typing
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from tasks.core.config import Config, load_config


@cache
def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Return {field name: the comment beside it (and comment lines right below it)} from the class source."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    comments: dict[str, list[str]] = {}
    current: str | None = None
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.NAME and depth == 0 and tok.start[1] == 4:
            line = tok.line.strip()
            current = tok.string if re.match(rf"{tok.string}\s*:", line) else None
        elif tok.type == tokenize.COMMENT and current is not None:
            comments.setdefault(current, []).append(tok.string.lstrip("#").strip())
        elif tok.type == tokenize.NAME and tok.string in ("def", "class") and depth == 0:
            current = None
    return {name: " ".join(parts) for name, parts in comments.items()}


def field_description(model: type[BaseModel], attr: str) -> str:
    """Return what a field means: its Field(description=...), else its comment in tasks/core/config.py."""
    field = model.model_fields[attr]
    return str(field.description) if field.description else field_comments(model).get(attr, "")


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """Return the section model a field holds (also through `X | None`), or None."""
    for item in (annotation, *typing.get_args(annotation)):
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _flow(value: Any) -> str:
    """Return one value in YAML flow style (quoted where YAML would read it as something else)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


REQUIRED = object()  # the "default" of a key that has none


def _note(set_here: bool, value: Any, default: Any, text: str) -> str:
    """Return the comment of one key: where its value comes from (when params.yaml sets it) and what it means."""
    origin = (
        ""
        if not set_here
        else "[params.yaml; required] "
        if default is REQUIRED
        else "[params.yaml] "
        if value == default
        else f"[params.yaml; default {_flow(default)}] "
    )
    text = " ".join(f"{origin}{text}".split())
    return f"  # {text}" if text else ""


def _default_dump(model: type[BaseModel], attr: str) -> Any:
    """Return a field's default as plain JSON-like data (a section's default as a mapping), or REQUIRED."""
    field = model.model_fields[attr]
    if field.is_required():
        return REQUIRED
    value = field.get_default(call_default_factory=True)
    return value.model_dump(mode="json", by_alias=True) if isinstance(value, BaseModel) else _plain(value)


def _plain(value: Any) -> Any:
    """Return a default value as YAML-ready data (paths and dates as text, tuples as lists)."""
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _section_lines(model: type[BaseModel], values: dict[str, Any], raw: Any, indent: int) -> list[str]:
    """Return the YAML lines of one section: each key, its value and its comment; sub-sections nested."""
    raw = raw if isinstance(raw, dict) else {}
    pad = " " * indent
    lines: list[str] = []
    for attr, field in model.model_fields.items():
        name = field.alias or attr
        value, text = values.get(name), field_description(model, attr)
        sub = nested_model(field.annotation)
        if sub is not None and isinstance(value, dict):
            lines.append(f"{pad}{name}:" + _note(False, None, None, text or (inspect.getdoc(sub) or "").split("\n")[0]))
            lines += _section_lines(sub, value, raw.get(name), indent + 2)
            continue
        note = _note(name in raw, value, _default_dump(model, attr), text)
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{name}:{note}")
            lines += [f"{pad}  {_flow(k)}: {_flow(v)}" for k, v in value.items()]
        else:
            lines.append(f"{pad}{name}: {_flow(value)}{note}")
    return lines


def render_effective(cfg: Config, raw: dict[str, Any], source: str = "params.yaml") -> str:
    """Return the effective configuration as YAML: every key with its value and what it means; a key params.yaml
    sets says so (with the default when it differs). The text loads back into the same Config."""
    values = cfg.model_dump(mode="json", by_alias=True)
    lines = [
        f"# The effective configuration of {source}: every key, from {source} where it is set there",
        "# ([params.yaml], with the default when it differs), else its default from tasks/core/config.py.",
        "# The comment beside each key says what it does (docs/configuration.md has the same text).",
        "",
    ]
    for attr, field in Config.model_fields.items():
        name = field.alias or attr
        sub = nested_model(field.annotation)
        doc = (inspect.getdoc(sub) or "").split("\n")[0] if sub is not None else field_description(Config, attr)
        state = "" if name in raw else " [not in params.yaml: all defaults]"
        if sub is None:  # a plain top-level key (Config has none today)
            lines.append(f"{name}: {_flow(values[name])}  # {doc}")
            continue
        lines.append(f"{name}:  # {doc}{state}")
        lines += _section_lines(sub, values[name], raw.get(name), 2)
        lines.append("")
    return "\n".join(lines)


def effective_text(path: Path | str) -> str:
    """Return the effective configuration of a params file (a ConfigError names a bad key, as any load does)."""
    cfg = load_config(path)
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return render_effective(cfg, raw, str(path))
