"""Model card: what a gated model is, what it learned from, how well it does (with intervals), where it
is weak, why the gate decided as it did, and which code, data and params made it.

Built by the promote step from the reports the earlier steps wrote (ingest, split, train, cv,
metrics, explain; tasks.reporting.card_inputs); a missing report becomes a note in the card, never an error.
Each section is built in tasks.reporting.card_sections, the whole card is a ModelCard
(tasks.reporting.card_report), rendered by tasks.reporting.card_markdown. Written to
reports/model_card.{md,json} and, for a registered version, to registry versions/<id>/.
The card holds no timestamps or timings, so the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tasks.core import io
from tasks.core.config import DataParams, PromoteParams
from tasks.core.reports import Finding, write_report
from tasks.reporting.card_inputs import CardInputs
from tasks.reporting.card_markdown import render_model_card
from tasks.reporting.card_report import CardVersions, ModelCard
from tasks.reporting.card_sections import (
    cv_section,
    data_section,
    findings_section,
    gate_section,
    metrics_section,
    segments_section,
    training_section,
    weaknesses_section,
)
from tasks.reporting.promotion_report import Decision, PromotionStatus

CARD_VERSION = "2"  # 2: the findings section (leak suspects, near-perfect model, train vs test)


def build_model_card(
    *,
    data: DataParams,
    source: str,
    p: PromoteParams,
    meta: Mapping[str, Any],
    inputs: CardInputs,
    decision: Decision,
    status: PromotionStatus,
    version_id: str | None,
    production_version: str | None,
    versions: Mapping[str, Any],
    findings: Sequence[Finding] | None = None,
) -> ModelCard:
    """Return the whole card; what is missing is listed under `notes`."""
    metrics = metrics_section(inputs)
    primary = metrics.primary_metric or decision.primary_metric
    return ModelCard(
        card_version=CARD_VERSION,
        version_id=version_id,
        status=status,
        target=data.target,
        task=data.task,
        data=data_section(data, source, versions.get("data_version"), inputs),
        training=training_section(meta, inputs),
        metrics=metrics,
        cv=cv_section(inputs, primary),
        segments=segments_section(inputs, primary),
        weaknesses=weaknesses_section(inputs, p),
        findings=findings_section(list(findings or [])),
        gate=gate_section(decision, status, version_id, production_version),
        versions=CardVersions.model_validate(dict(versions)),
        notes=[f"input not available: {m}" for m in inputs.missing],
    )


def write_model_card(card: ModelCard, md_path: Path, json_path: Path) -> str:
    """Write the card as Markdown and JSON (atomically); return the Markdown."""
    markdown = render_model_card(card)
    write_report(card, json_path)
    io.write_text(markdown, md_path)
    return markdown
