"""The batch scoring flow: tasks.serving.score.score_file as a Prefect task, its summary as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_failure
from flows.missing_input import missing_input_note, publish_missing_input
from tasks.core.config import load_config
from tasks.core.errors import is_user_error
from tasks.core.safe_paths import check_input_path, check_output_path, check_params_file, record_scoring_output
from tasks.serving.score import quarantine_path, score_file


@task(
    name="score",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=lambda t, r, s: not _is_user_error(s),
)
def score(input_path: str, output_path: str, params: str, shadow: str | None) -> dict[str, Any]:
    """Score input_path with the production model into output_path (bad rows to the quarantine file)."""
    cfg = load_config(params)
    return score_file(
        Path(input_path), Path(output_path), cfg.paths.registry_dir, Path(shadow) if shadow else None, cfg.data, cfg.monitor
    )


def check_scoring_parameters(input_path: str, output_path: str, params: str, shadow: str | None) -> None:
    """Refuse (UnsafeParameter) any path parameter that leaves the project or lands on what tabgate owns."""
    root = Path(".")
    check_params_file(params, root)
    check_input_path("input_path", input_path, root)
    if shadow:
        check_input_path("shadow", shadow, root)
    check_output_path("output_path", output_path, root)
    check_output_path("output_path (its quarantine file)", quarantine_path(Path(output_path)), root)


def _is_user_error(state) -> bool:

    try:
        state.result()
    except Exception as err:
        return is_user_error(err)
    return False


def summary_markdown(s: dict[str, Any]) -> str:
    """Return the scoring summary as Markdown: rows read, scored, quarantined and why, files written."""
    reasons = "".join(f"\n  - {k}: {v}" for k, v in (s.get("quarantine_reasons") or {}).items())
    return (
        f"## Batch scoring with `{s['model_version']}`\n\n- input: `{s['input']}`\n- output: `{s['output']}`\n"
        f"- rows read {s['rows_read']}, scored {s['rows_scored']}, quarantined {s['rows_quarantined']} "
        f"(`{s['quarantine']}`){reasons}\n" + "".join(f"- **warning**: {w}\n" for w in s.get("warnings") or [])
    )


@flow(name="tabgate-scoring", log_prints=True, validate_parameters=False, flow_run_name="score-{input_path}")
def scoring_flow(
    input_path: str, output_path: str, params: str = "params.yaml", shadow: str | None = None, missing_ok: bool = False
) -> dict[str, Any]:
    """Score a CSV/Parquet batch with the production model; publish the `scoring-summary` artifact.

    missing_ok (set on the served deployment): a missing input completes with a "nothing to score" note."""

    try:
        check_scoring_parameters(input_path, output_path, params, shadow)
    except Exception as err:
        publish_failure(err)
        raise
    if missing_ok and (note := missing_input_note(input_path, "nothing to score")):
        return publish_missing_input(note, key="scoring-summary", setting="monitor.scoring_input")
    try:
        summary = score(input_path, output_path, params, shadow)
        record_scoring_output(Path("."), Path(output_path))
        record_scoring_output(Path("."), quarantine_path(Path(output_path)))
    except Exception as err:
        publish_failure(err)
        raise
    create_markdown_artifact(key="scoring-summary", markdown=summary_markdown(summary), description="Rows scored and quarantined")
    return summary
