"""Registry table: one row per registered version, newest first, for the Prefect UI's `model-registry` artifact.

Pure: `registry_rows` turns the records, the history and the production pointer into rows; `read_registry_rows`
is the one reader (tasks.registry.catalog). The row's "when / who / why" come from the latest history line that
names the version: its own registration, promotion, approval or rollback, or the line that replaced it
(`from`: another version was promoted or a rollback restored one).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tasks.registry.catalog import display_status, production_version, read_history, read_record, version_ids
from tasks.registry.records import SERVING_ACTIONS, VERSION_RE, Action, HistoryLine, PromotionStatus, VersionRecord
from tasks.reporting.promotion_report import PromotionReport

DATA_VERSION_CHARS = 12  # as in the flow run's data:<md5[:12]> tag
CHANGED_REGISTRY = (PromotionStatus.PROMOTED, PromotionStatus.PENDING_APPROVAL, PromotionStatus.REJECTED)


class RegistryRow(BaseModel):
    """One row of the model-registry table (field order is the column order)."""

    model_config = ConfigDict(frozen=True)

    version: str
    status: str
    production: str  # "yes" on the production version, "" elsewhere
    test_metric: str  # the task's primary metric on the test set: "roc_auc 0.8804"
    when: str  # UTC, to the minute
    who: str
    action: str
    why: str
    data_version: str


def latest_line(version_id: str, history: list[HistoryLine]) -> HistoryLine | None:
    """Return the last history line naming version_id (as the version changed, or as the one it replaced)."""
    named = [h for h in history if version_id in (h.version_id, h.from_version)]
    return named[-1] if named else None


def describe_action(version_id: str, line: HistoryLine | None) -> str:
    """Return what the line did to version_id: its own action, or "replaced by X (promote)" / "rolled back to X"."""
    if line is None:
        return ""
    action = line.action.value if line.action else ""
    if line.version_id == version_id:
        return action
    if line.action == Action.ROLLBACK:
        return f"rolled back to {line.version_id}"
    return f"replaced by {line.version_id} ({action})"


def why_of(line: HistoryLine | None) -> str:
    """Return the reason a history line gives (else its note, else the status it registered)."""
    if line is None:
        return ""
    return line.reason or line.note or (f"registered as {line.status.replace('_', ' ')}" if line.status else "")


def test_metric_text(record: VersionRecord) -> str:
    """Return "<primary metric> <value to four decimals>" ("" when the record has no such number)."""
    metric = record.primary_metric
    value = record.metrics.get(metric) if metric else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    return f"{metric} {value:.4f}"


def short_time(at: str | None) -> str:
    """Return an ISO 8601 UTC time as "2026-12-07 16:25 UTC" (other text unchanged, None as "")."""
    if not at:
        return ""
    return f"{at[:10]} {at[11:16]} UTC" if len(at) >= 16 and at[10] == "T" else at


def registry_row(record: VersionRecord, history: list[HistoryLine], production: str | None, served: set[str]) -> RegistryRow:
    """Return the table row of one version."""
    vid = record.version_id
    line = latest_line(vid, history)
    status = display_status(record, vid == production, vid in served)
    return RegistryRow(
        version=vid,
        status=status.label,
        production="yes" if vid == production else "",
        test_metric=test_metric_text(record),
        when=short_time(line.at if line and line.at else record.updated_at or record.created_at),
        who=(line.actor if line else None) or "",
        action=describe_action(vid, line),
        why=why_of(line),
        data_version=(record.data_version or "")[:DATA_VERSION_CHARS],
    )


def registry_rows(records: list[VersionRecord], history: list[HistoryLine], production: str | None) -> list[RegistryRow]:
    """Return one row per version, newest first: status, test metric, data version, the latest when/who/why."""
    served = {h.version_id for h in history if h.action in SERVING_ACTIONS and h.version_id}
    rows = [registry_row(r, history, production, served) for r in records]
    return sorted(rows, key=lambda r: sequence_of(r.version), reverse=True)


def sequence_of(version_id: str) -> int:
    """Return the registration number of a version id ("v0012-1a2b3c4d" -> 12; -1 when it is not one)."""
    match = VERSION_RE.match(version_id)
    return int(match.group(1)) if match else -1


def table_of(rows: list[RegistryRow]) -> list[dict[str, str]]:
    """Return the rows as the list of dicts a table artifact takes (keys in column order)."""
    return [row.model_dump() for row in rows]


def read_registry_rows(registry_dir: Path) -> list[RegistryRow]:
    """Return the rows of the registry at registry_dir (empty when nothing is registered)."""
    records = [read_record(registry_dir, vid) for vid in version_ids(registry_dir)]
    return registry_rows(records, read_history(registry_dir), production_version(registry_dir))


def changed_registry(report: PromotionReport) -> bool:
    """Return whether the promote step that wrote report registered a version or switched production."""
    return report.status in CHANGED_REGISTRY and report.version_id is not None
