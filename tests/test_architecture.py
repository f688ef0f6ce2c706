"""Architecture: imports go one way (flows -> steps -> library -> core), no cycles, dvc.yaml never goes stale.

Read from the source with ast (nothing of the project is imported): every import counts, module level or
inside a function. `python tests/test_architecture.py` prints each stage's code deps and params as they
should stand in dvc.yaml.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("tasks", "flows")
STEPS = ("ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote")
LAYERS = {"core": 0, "data": 1, "quality": 2, "modelling": 3, "registry": 4, "reporting": 5, "evaluation": 6, "serving": 7}
CONFIG_SECTIONS = {
    "paths",
    "data",
    "ingest",
    "validate",
    "validate_",
    "split",
    "preprocess",
    "cv",
    "train",
    "evaluate",
    "explain",
    "promote",
    "monitor",
    "compute",
}
# Sections dvc.yaml need not list: `paths` enters every stage through ${paths.*} in its deps and outs.
IMPLIED_SECTIONS = {"paths"}


def module_files() -> dict[str, Path]:
    """Return every project module name with its file."""
    out = {}
    for root in PROJECT:
        for path in sorted((ROOT / root).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = module_files()


@cache
def tree_of(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"))


def deepest(name: str) -> str | None:
    """Return the longest dotted prefix of name that is a project module."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in MODULES:
            return ".".join(parts[:k])
    return None


def imports_of(module: str) -> list[tuple[str, int, bool]]:
    """Return (imported project module, line, inside a function) for every import statement of module."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_func: bool) -> None:
        for child in ast.iter_child_nodes(node):
            f = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((d, child.lineno, f) for a in child.names if (d := deepest(a.name)))
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for a in child.names:
                    d = deepest(f"{child.module}.{a.name}") or deepest(child.module)
                    if d:
                        found.append((d, child.lineno, f))
            elif (
                isinstance(child, ast.Call)
                and getattr(child.func, "attr", getattr(child.func, "id", "")) in ("import_module", "__import__")
                and child.args
                and isinstance(child.args[0], ast.JoinedStr)
            ):
                found.append(("<dynamic>", child.lineno, f))
            visit(child, f)

    visit(tree_of(module), False)
    return [(d, line, f) for d, line, f in found if d != module]


def edges() -> dict[str, set[str]]:
    return {m: {d for d, _, _ in imports_of(m) if d in MODULES} for m in MODULES}


def closure(module: str) -> set[str]:
    """Return module and every project module it imports, directly or not (parent packages included)."""
    graph, seen, todo = edges(), set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))
        todo.extend(graph.get(m, ()))
    return {m for m in seen if MODULES.get(m) and MODULES[m].stat().st_size > 0}


def kind(module: str) -> str:
    """Return 'flows', 'step', 'library:<area>' or 'tasks' for a module name."""
    parts = module.split(".")
    if parts[0] == "flows":
        return "flows"
    if len(parts) == 2 and parts[1] in STEPS:
        return "step"
    return f"library:{parts[1]}" if len(parts) > 2 else "tasks"


def upward_imports() -> list[str]:
    """Return the imports that break flows -> steps -> library -> core, each as 'src:line -> dst'."""
    bad = []
    for m in MODULES:
        for d, line, _ in imports_of(m):
            src, dst = kind(m), kind(d) if d != "<dynamic>" else "dynamic"
            if src == "flows":
                continue
            if dst in ("flows", "dynamic") or (dst == "step" and not (src == "step" and d == m)):
                bad.append(f"{m}:{line} -> {d}")
            elif src.startswith("library:") and dst.startswith("library:"):
                a, b = src.split(":")[1], dst.split(":")[1]
                if LAYERS[b] > LAYERS[a]:
                    bad.append(f"{m}:{line} -> {d} ({a} may not import {b})")
    return bad


def cycles() -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    graph, index, low, stack, on, out, counter = edges(), {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10_000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def config_reads(modules: set[str]) -> set[str]:
    """Return the params sections (and 'section.key' reads) the code of modules takes from a Config named cfg."""
    reads = set()
    for m in modules:
        for node in ast.walk(tree_of(m)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cfg":
                if node.attr in CONFIG_SECTIONS:
                    reads.add("validate" if node.attr == "validate_" else node.attr)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "model_dump"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "cfg"
            ):
                reads.add("*")
    return reads


def dvc_stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def stage_code(stage: dict) -> set[str]:
    """Return the project modules a stage's `python -m` command runs."""
    toks = str(stage["cmd"]).split()
    return {toks[i + 1] for i, t in enumerate(toks[:-1]) if t == "-m" and toks[i + 1].split(".")[0] in PROJECT}


def needed_code_deps(stage: dict) -> set[str]:
    return {MODULES[m].relative_to(ROOT).as_posix() for e in stage_code(stage) for m in closure(e)}


def needed_params(stage: dict) -> set[str]:
    return set().union(*(config_reads(closure(e)) for e in stage_code(stage))) - IMPLIED_SECTIONS


# ---------------------------------------------------------------- tests


def test_no_import_cycles():
    assert cycles() == []


def test_imports_go_one_way():
    assert upward_imports() == []


def test_no_project_imports_inside_functions_outside_the_cli():
    lazy = [f"{m}:{line} -> {d}" for m in MODULES if m != "flows.cli" for d, line, f in imports_of(m) if f]
    assert lazy == []


def test_tasks_never_import_prefect_or_dvc():
    bad = []
    for m in MODULES:
        if not m.startswith("tasks"):
            continue
        for node in ast.walk(tree_of(m)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [f"{m}: {n}" for n in names if n.split(".")[0] in ("prefect", "dvc", "dvclive")]
    assert bad == []


def test_every_step_is_a_dvc_stage_running_its_module():
    stages = dvc_stages()
    assert tuple(s for s in stages if s in STEPS) == STEPS
    for name in STEPS:
        assert stage_code(stages[name]) == {f"tasks.{name}"}


def test_dvc_stage_deps_cover_the_code_each_stage_imports():
    stale = {}
    for name, stage in dvc_stages().items():
        deps = {d for d in stage.get("deps", []) if isinstance(d, str)}
        missing = sorted(
            p for p in needed_code_deps(stage) if p not in deps and not any(p.startswith(d.rstrip("/") + "/") for d in deps)
        )
        if missing:
            stale[name] = missing
    assert stale == {}, "dvc.yaml deps are missing code the stage imports (python tests/test_architecture.py lists them)"


def test_dvc_stage_params_cover_what_each_stage_reads():
    short = {}
    for name, stage in dvc_stages().items():
        declared = {str(p).split(".")[0] for p in stage.get("params", []) if isinstance(p, str)}
        need = needed_params(stage)
        if "*" in need:
            need = CONFIG_SECTIONS - {"validate_"} - IMPLIED_SECTIONS
        if need - declared:
            short[name] = sorted(need - declared)
    assert short == {}


def test_one_base_exception():
    from_errors = {}
    for m in MODULES:
        for node in ast.walk(tree_of(m)):
            if isinstance(node, ast.ClassDef) and any(
                getattr(b, "id", getattr(b, "attr", "")).endswith(("Error", "Exception", "Failed", "Locked", "Required"))
                for b in node.bases
            ):
                from_errors[f"{m}.{node.name}"] = [ast.unparse(b) for b in node.bases]
    outside = {k: v for k, v in from_errors.items() if k != "tasks.core.errors.TabgateError" and "TabgateError" not in v[0]}
    assert outside == {}


if __name__ == "__main__":
    for stage_name, st in dvc_stages().items():
        print(f"{stage_name}:\n  deps: {sorted(needed_code_deps(st))}\n  params: {sorted(needed_params(st))}")
