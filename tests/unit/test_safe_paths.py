"""Run parameters are untrusted: tasks.core.safe_paths refuses paths out of the project or onto what tabgate owns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tasks.core.errors import UnsafeParameter, is_user_error
from tasks.core.safe_paths import (
    SCORING_RECORD,
    check_input_path,
    check_no_approval_switch_off,
    check_output_path,
    check_params_file,
    record_scoring_output,
)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for d in ("registry", "data", "artifacts/split", "gx", ".git", ".dvc", "tasks", "flows", "predictions"):
        (root / d).mkdir(parents=True)
    for f in (
        "registry/production.json",
        "params.yaml",
        "dvc.lock",
        "dvc.yaml",
        "artifacts/split/test.parquet",
        "data/hotel_bookings.csv.gz",
        "incoming.csv",
    ):
        (root / f).write_text("x")
    (tmp_path / "outside.csv").write_text("x")
    (tmp_path / "other.yaml").write_text("x")
    return root


@pytest.mark.parametrize(
    "value",
    [
        "registry/production.json",
        "params.yaml",
        "../outside.csv",
        "dvc.lock",
        "artifacts/split/test.parquet",
        "data/hotel_bookings.csv.gz",
        "gx/new.json",
        ".git/config",
        "tasks/evil.py",
        "flows/x.py",
        "registry/new.csv",
        ".",
        "data",
    ],
)
def test_unsafe_outputs_are_refused(project: Path, value: str) -> None:
    with pytest.raises(UnsafeParameter, match="output_path"):
        check_output_path("output_path", value, project)


def test_absolute_path_elsewhere_is_refused(project: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsafeParameter, match="outside the project"):
        check_output_path("output_path", str(tmp_path / "elsewhere" / "out.csv"), project)
    with pytest.raises(UnsafeParameter, match="outside the project"):
        check_input_path("input_path", str(tmp_path / "outside.csv"), project)


def test_symlink_pointing_out_is_refused(project: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path, project / "predictions" / "link")
    os.symlink(project / "registry", project / "reg")
    with pytest.raises(UnsafeParameter, match="outside the project"):
        check_output_path("output_path", "predictions/link/out.csv", project)
    with pytest.raises(UnsafeParameter, match="registry"):
        check_output_path("output_path", "reg/production.json", project)


def test_normal_output_accepted_and_only_scoring_outputs_replaced(project: Path) -> None:
    path = check_output_path("output_path", "predictions/out.csv", project)
    assert path == (project / "predictions" / "out.csv").resolve()
    path.write_text("preds")
    with pytest.raises(UnsafeParameter, match="already exists"):
        check_output_path("output_path", "predictions/out.csv", project)
    record_scoring_output(project, path)
    assert (project / SCORING_RECORD).exists()
    assert check_output_path("output_path", "predictions/out.csv", project) == path
    with pytest.raises(UnsafeParameter, match="already exists"):
        check_output_path("output_path", "incoming.csv", project)


def test_allowed_folders_extend_the_project(project: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    assert check_output_path("output_path", str(shared / "o.csv"), project, [shared]) == (shared / "o.csv").resolve()


def test_inputs_inside_project_accepted_but_not_registry(project: Path) -> None:
    assert check_input_path("input_path", "incoming.csv", project).name == "incoming.csv"
    assert check_input_path("batch", "artifacts/split/test.parquet", project).name == "test.parquet"
    with pytest.raises(UnsafeParameter, match="registry"):
        check_input_path("input_path", "registry/production.json", project)
    with pytest.raises(UnsafeParameter, match="outside"):
        check_input_path("input_path", "../outside.csv", project)


def test_params_must_be_a_yaml_inside_the_project(project: Path, tmp_path: Path) -> None:
    assert check_params_file("params.yaml", project) == (project / "params.yaml").resolve()
    for value in ("../other.yaml", str(tmp_path / "other.yaml")):
        with pytest.raises(UnsafeParameter, match="params="):
            check_params_file(value, project)
    with pytest.raises(UnsafeParameter, match="yaml"):
        check_params_file("dvc.lock", project)


def test_refusal_is_a_config_error_and_approval_cannot_be_switched_off() -> None:
    assert UnsafeParameter("x").exit_code == 2 and is_user_error(UnsafeParameter("x"))
    check_no_approval_switch_off(None)
    check_no_approval_switch_off(True)
    with pytest.raises(UnsafeParameter, match="require_approval"):
        check_no_approval_switch_off(False)


@pytest.mark.parametrize("check", [check_input_path, check_output_path])
def test_a_sibling_folder_whose_name_starts_with_the_projects_is_outside_it(project: Path, check) -> None:
    """Inside means a parent folder, not a name prefix: proj-evil/ is not inside proj/, nor allowed-x/ inside allowed/."""
    for folder in ("proj-evil", "allowed-x"):
        (project.parent / folder).mkdir()
        (project.parent / folder / "in.csv").write_text("x")
    (project.parent / "allowed").mkdir()
    for value in (project.parent / "proj-evil" / "in.csv", project.parent / "allowed-x" / "in.csv"):
        with pytest.raises(UnsafeParameter, match="outside the project folder"):
            check("path", str(value), project, [project.parent / "allowed"])
    (project.parent / "allowed" / "in.csv").write_text("x")
    inside = project.parent / "allowed" / ("in.csv" if check is check_input_path else "new.csv")  # outputs are new
    assert check("path", str(inside), project, [project.parent / "allowed"]) == inside.resolve()


@pytest.mark.parametrize("check", [check_input_path, check_output_path])
def test_the_project_folder_itself_is_owned_by_tabgate(project: Path, check) -> None:
    for value in (".", str(project), "tasks/.."):
        with pytest.raises(UnsafeParameter, match="which tabgate owns"):
            check("path", value, project)
