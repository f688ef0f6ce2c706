"""Contracts: step reports cross module boundaries as typed models, never as bare dicts (read from the source
with ast, nothing imported).

A ratchet: the steps and functions not yet typed are listed by name; typing one makes this test ask for its
removal from the list, and a typed one going back to a dict fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote")
UNTYPED_STEPS: set[str] = set()  # steps whose run() still returns a dict (none now)
GATE_MODULES = ("tasks/evaluation/gate.py", "tasks/evaluation/promotion.py")
# Functions of the gate's modules that may still return loose dicts, with why.
UNTYPED_GATE_FUNCTIONS: dict[str, str] = {}  # none now
TYPED_REPORTS = {
    "metrics.json": "EvaluateReport",
    "promotion.json": "PromotionReport",
    "split.json": "SplitReport",
    "cv.json": "CvReport",
    "preprocess.json": "PreprocessReport",
    "ingest.json": "IngestReport",
    "validate.json": "ValidateReport",
    "explain.json": "ExplainReport",
    "explain_summary.json": "ExplainSummary",
    "train.json": "TrainReport",
    "tuning.json": "TuningReport",
    "model_card.json": "ModelCard",
}


def functions(path: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def loose(annotation: ast.expr | None) -> bool:
    """Whether a return annotation is missing, Any, or names a dict whose values are Any or unstated."""
    if annotation is None:
        return True
    text = ast.unparse(annotation)
    return text == "Any" or any(
        isinstance(n, ast.Name) and n.id in ("dict", "Dict") and not _typed_values(annotation, n) for n in ast.walk(annotation)
    )


def _typed_values(root: ast.expr, name: ast.Name) -> bool:
    """Whether this dict name is subscripted with a value type other than Any (dict[str, float] is a mapping)."""
    for n in ast.walk(root):
        if isinstance(n, ast.Subscript) and n.value is name and isinstance(n.slice, ast.Tuple):
            return "Any" not in ast.unparse(n.slice.elts[-1]) and "dict" not in ast.unparse(n.slice.elts[-1])
    return False


def test_each_step_run_returns_its_typed_report():
    loose_steps = {s for s in STEPS if loose(functions(f"tasks/{s}.py")["run"].returns)}
    assert loose_steps <= UNTYPED_STEPS, f"these steps' run() went back to a dict: {sorted(loose_steps - UNTYPED_STEPS)}"
    assert loose_steps == UNTYPED_STEPS, f"typed now, remove from UNTYPED_STEPS: {sorted(UNTYPED_STEPS - loose_steps)}"


def test_no_function_of_the_gate_returns_a_bare_dict():
    found = {name for path in GATE_MODULES for name, fn in functions(path).items() if loose(fn.returns)}
    assert found <= set(UNTYPED_GATE_FUNCTIONS), f"return a model, not a dict: {sorted(found - set(UNTYPED_GATE_FUNCTIONS))}"
    assert found == set(UNTYPED_GATE_FUNCTIONS), f"typed now, remove: {sorted(set(UNTYPED_GATE_FUNCTIONS) - found)}"


def test_typed_reports_are_only_read_and_written_through_their_models():
    offenders = []
    for path in sorted([*(ROOT / "tasks").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            named = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and c.value in TYPED_REPORTS}
            if named and func.split(".")[-1] in ("read_json", "write_json", "loads", "_read", "read_text"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {func}({', '.join(sorted(named))})")
    assert offenders == [], "read/write these through read_report/write_report and their model: " + "; ".join(offenders)


RAW_IO = ("read_json", "write_json", "loads", "load", "_read", "read_text", "read_bytes", "write_text")
READERS = ("read_report", "read_optional_report", "build_report", "model_validate", "model_validate_json")


def _scopes(tree: ast.Module) -> list[ast.AST]:
    """Return every function of a module, and the module itself (its statements outside functions)."""
    return [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]


def _names_bound_to(scope: ast.AST, wanted) -> set[str]:
    """Return the names a scope assigns (=, :=, for) from a value for which wanted(value) holds
    (the module's scope includes its functions': a name is then checked in both, which only repeats an offender)."""
    names = set()
    for n in ast.walk(scope):
        targets, value = (
            (n.targets, n.value)
            if isinstance(n, ast.Assign)
            else ([n.target], n.value)
            if isinstance(n, (ast.NamedExpr, ast.AnnAssign)) and n.value
            else ([], None)
        )
        if value is not None and wanted(value):
            names |= {t.id for tgt in targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}
    return names


def _reads_a_model(node: ast.AST) -> bool:
    return any(isinstance(c, ast.Call) and ast.unparse(c.func).split(".")[-1] in READERS for c in ast.walk(node))


def _raw_mention(node: ast.AST, paths: set[str]) -> bool:
    """Whether node names a typed report (its file name, or a variable bound to its path) outside a model's reader
    or writer (render(read_report(M, "cv.json")) passes a model, not the file)."""
    if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in (*READERS, "write_report"):
        return False
    if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.rsplit("/", 1)[-1] in TYPED_REPORTS) or (
        isinstance(node, ast.Name) and node.id in paths
    ):
        return True
    return any(_raw_mention(child, paths) for child in ast.iter_child_nodes(node))


def test_typed_report_paths_never_reach_raw_json_io_even_through_a_variable():
    """`p = reports / "validate.json"; json.loads(p.read_text())` is as loose as naming the file in the call."""
    offenders = []
    for path in sorted([*(ROOT / "tasks").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]):
        for scope in _scopes(ast.parse(path.read_text(encoding="utf-8"))):
            paths = _names_bound_to(scope, lambda v: _raw_mention(v, set()))
            for call in (n for n in ast.walk(scope) if isinstance(n, ast.Call)):
                func = ast.unparse(call.func)
                if func.split(".")[-1] not in RAW_IO:
                    continue
                reach = [*call.args, *(k.value for k in call.keywords), call.func]
                if any(_raw_mention(a, paths) for a in reach):
                    offenders.append(f"{path.relative_to(ROOT)}:{call.lineno} {func}")
    assert offenders == [], "read/write typed reports through read_report/write_report: " + "; ".join(sorted(set(offenders)))


def test_a_report_read_through_its_model_is_never_used_by_string_key():
    """A consumer reads fields: report["key"] or report.get("key") on a model read back is a KeyError waiting."""
    offenders = []
    for path in sorted([*(ROOT / "tasks").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]):
        for scope in _scopes(ast.parse(path.read_text(encoding="utf-8"))):
            models = _names_bound_to(scope, _reads_a_model)
            for n in ast.walk(scope):
                keyed = (
                    isinstance(n, ast.Subscript)
                    and isinstance(n.value, ast.Name)
                    and n.value.id in models
                    and isinstance(n.slice, ast.Constant)
                    and isinstance(n.slice.value, str)
                )
                got = (
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute)
                    and n.func.attr == "get"
                    and isinstance(n.func.value, ast.Name)
                    and n.func.value.id in models
                )
                if keyed or got:
                    offenders.append(f"{path.relative_to(ROOT)}:{n.lineno} {ast.unparse(n)}")
    assert offenders == [], "read fields, not string keys: " + "; ".join(sorted(set(offenders)))


# Functions of tasks/ that still take four or more config sections as loose parameters, with why. A step hands its
# library call one typed input (tasks/core/step_inputs.py) instead; a new function with loose pieces fails here.
LOOSE_INPUT_FUNCTIONS = {
    "score_fold_at": "the unit of work a fold runner ships to a worker (tasks/modelling/compute.py maps it over folds)",
    "fold_score_at": "tuning's unit of work shipped to a worker, like score_fold_at",
    "fold_score": "what fold_score_at calls on the worker",
    "ensure_suite": "validate's bootstrap from the snapshot (paths, ingest, data, validate)",
}


def _section_parameters(fn: ast.FunctionDef) -> list[str]:
    """Return the parameters of fn annotated with a config section (a *Params class)."""
    return [
        a.arg for a in [*fn.args.args, *fn.args.kwonlyargs] if a.annotation is not None and "Params" in ast.unparse(a.annotation)
    ]


def test_steps_hand_their_library_calls_one_typed_input_not_loose_config_sections():
    found = {
        name
        for path in sorted((ROOT / "tasks").rglob("*.py"))
        for name, fn in functions(str(path.relative_to(ROOT))).items()
        if len(_section_parameters(fn)) >= 4
    }
    assert found <= set(LOOSE_INPUT_FUNCTIONS), (
        f"take one input model (tasks/core/step_inputs.py), not loose sections: {sorted(found - set(LOOSE_INPUT_FUNCTIONS))}"
    )
    assert found == set(LOOSE_INPUT_FUNCTIONS), f"typed now, remove: {sorted(set(LOOSE_INPUT_FUNCTIONS) - found)}"
