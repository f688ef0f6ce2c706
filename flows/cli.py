"""tabgate: one command line for the pipeline, its steps, the model registry and batch scoring.

Exit codes: 0 success; 1 unexpected error; 2 bad configuration (params.yaml); 3 bad input data or
a failed data gate (the message names the column, the rule and the file to open); 4 the registry
refused the request, or a model file failed its integrity check (the message names the file);
5 another run holds the project lock (or `serve` found no Prefect server).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tasks.core.steps import STEPS

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_INPUT, EXIT_REGISTRY, EXIT_LOCKED = 0, 1, 2, 3, 4, 5
log = logging.getLogger("tabgate")


def project_lock_for(cfg, what: str):
    """Return the project lock (.tabgate.lock) context for one command; exit 5 after monitor.run_lock_timeout_seconds."""
    from flows.lock import project_lock

    return project_lock(Path("."), cfg.monitor.run_lock_timeout_seconds, what=what, logger=log)


def params_path(args: argparse.Namespace) -> str:
    """Return the params file a command reads: --params, else $TABGATE_PARAMS, else params.yaml."""
    return args.params or os.environ.get("TABGATE_PARAMS") or "params.yaml"


def cmd_run(args: argparse.Namespace) -> int:
    """Run the whole pipeline under Prefect (default) or dvc repro, holding the project lock (.tabgate.lock)."""
    from flows import dvc_sync
    from tasks.core.config import load_config

    params = params_path(args)
    if args.engine == "dvc":
        dvc_sync.require_project_params(params)
    cfg = load_config(params)
    if args.engine == "dvc":
        with dvc_sync.restore_snapshot_on_failure(cfg.paths.data_dir) as restore:  # a failed run leaves data.dvc as it was
            code = run_dvc_repro(cfg, args)
            if code != 0:
                restore()
        return code
    with dvc_sync.restore_snapshot_on_failure(cfg.paths.data_dir):  # a failed run leaves data.dvc as it was
        return run_flow(args, cfg, params)


def run_flow(args: argparse.Namespace, cfg, params: str) -> int:
    """Version the snapshot only when DVC finds something stale, then run the training flow."""
    from flows import dvc_sync

    snapshot_source = not args.no_snapshot
    if not args.force and not os.environ.get("PREFECT_API_URL") and dvc_sync.uses_dvc_pipeline(params):
        # No persistent Prefect server: a temporary one would be started (~10 s) and its history thrown
        # away at exit. When DVC finds nothing stale there is nothing for it to record.
        # One `dvc status` decides: the snapshot is versioned (`dvc add`, ~2 s) only when it or a stage changed.
        with project_lock_for(cfg, "up-to-date check"):
            if snapshot_source:
                dvc_sync.take_snapshot(cfg, version=False)
            status = dvc_sync.project_status()
            if snapshot_source and status != {}:  # changed, or outside DVC (version_snapshot says so)
                dvc_sync.version_snapshot(cfg.paths.data_dir)
        if status == {}:
            log.info(
                "nothing to do: data, code and params are unchanged since the last run "
                "(no Prefect server was started; `tabgate run --force` re-runs everything)"
            )
            return EXIT_OK
        snapshot_source = False  # just taken
    start_watched_server()
    from flows.training import training_flow

    # The flow takes the project lock itself (so a scheduled run is covered too, and a refused run shows in the UI).
    result = training_flow(params=params, force=args.force, snapshot_source=snapshot_source)
    log.info("ran: %s; skipped (up to date): %s", ", ".join(result["ran"]) or "nothing", ", ".join(result["skipped"]) or "none")
    return EXIT_OK


def start_watched_server() -> None:
    """Without PREFECT_API_URL, start the temporary Prefect server the flow would start, stopped even if we are killed."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        from flows.temp_server import start_temporary_server

        start_temporary_server()


def run_dvc_repro(cfg, args: argparse.Namespace) -> int:
    """Snapshot the source and run `dvc repro` under the project lock; return dvc's exit code.

    `dvc repro` inherits the lock's descriptor, so the lock lasts as long as it runs even if this process is killed.
    """
    import subprocess

    from flows import dvc_sync
    from flows.lock import lock_fd

    with project_lock_for(cfg, "tabgate run --engine dvc"):
        if not args.no_snapshot:
            dvc_sync.take_snapshot(cfg)
        fd = lock_fd()
        env = {k: v for k, v in os.environ.items() if k != "TABGATE_PARAMS"}  # the stages read params.yaml, as DVC does
        return subprocess.call(
            [dvc_sync.dvc_bin(), "repro"] + (["--force"] if args.force else []), pass_fds=() if fd is None else (fd,), env=env
        )


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the training, scoring and monitoring flows on params.yaml's monitor.schedules (needs PREFECT_API_URL)."""
    from flows.deploy import serve_flows

    return serve_flows(args.params or "params.yaml", limit=args.limit, keep_schedules=args.keep_schedules, dry_run=args.dry_run)


def cmd_monitor(args: argparse.Namespace) -> int:
    """Check a batch for drift and live performance; retrain when a threshold is crossed (reports/monitor.json)."""
    from flows.monitoring import monitoring_flow
    from tasks.serving.monitor import summary_lines

    start_watched_server()
    result = monitoring_flow(
        batch=args.file or "",
        params=params_path(args),
        retrain=False if args.no_retrain else None,
        force=True if args.force else None,
    )
    ran = result["training"]["ran"] if result["training"] else None
    for line in summary_lines(result["report"], result["retrain_started"], result["disabled_by"], ran):
        print(f"monitor: {line}")
    return EXIT_OK


def cmd_step(args: argparse.Namespace) -> int:
    """Run one step directly, without an orchestrator."""
    import importlib

    from tasks.core.config import load_config

    cfg = load_config(args.params)
    with project_lock_for(cfg, f"tabgate step {args.name}"):
        importlib.import_module(f"tasks.{args.name}").run(cfg)
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    """Snapshot ingest.source into data/ and version it with DVC (data.dvc)."""
    from flows import dvc_sync
    from tasks.core.config import load_config

    cfg = load_config(args.params)
    with project_lock_for(cfg, "tabgate ingest"):
        info = dvc_sync.take_snapshot(cfg)
    print(
        f"snapshot {info['file']} ({info['bytes']} bytes) in {cfg.paths.data_dir}/; "
        f"data version {info['data_version'] or 'unversioned'}"
    )
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a CSV/Parquet file against the expectation suite, or bootstrap the suite."""
    from tasks import validate
    from tasks.core.config import load_config
    from tasks.data.sources import read_snapshot, type_table
    from tasks.quality.messages import mismatch_message
    from tasks.quality.validation import bootstrap_suite, ensure_data_docs, validate_frame

    cfg = load_config(args.params)
    if args.data_docs:
        with project_lock_for(cfg, "tabgate validate --data-docs"):
            docs = ensure_data_docs(cfg.paths, cfg.data, cfg.validate)
        if docs is None:
            print(f"no Data Docs: {cfg.paths.ingested} is missing; run `tabgate step ingest` (or `dvc pull`) first")
            return EXIT_INPUT
        print(f"Data Docs: {Path(docs).resolve()}")
        return EXIT_OK
    if args.bootstrap:
        from tasks.core.io import read_frame

        with project_lock_for(cfg, "tabgate validate --bootstrap"):  # rewrites the suite a running validate reads
            df = (
                read_frame(cfg.paths.ingested)
                if args.file is None
                else type_table(read_snapshot(Path(args.file), cfg.ingest), cfg.ingest, cfg.data)[0]
            )
            info = bootstrap_suite(df, cfg.paths, cfg.data, cfg.validate)
        print(
            f"expectation suite '{info['suite']}' ({info['expectations']} expectations from {info['rows']} rows) "
            f"written under {cfg.paths.gx_dir}/expectations/, reference profile {info['reference_profile']}; "
            "review and commit them"
        )
        return EXIT_OK
    if args.file is None:
        with project_lock_for(cfg, "tabgate validate"):  # the validate step: writes reports/validate.json
            validate.run(cfg)
        return EXIT_OK
    df, _ = type_table(read_snapshot(Path(args.file), cfg.ingest), cfg.ingest, cfg.data)
    report = validate_frame(df, cfg.paths, cfg.data, cfg.validate)
    print(_short_json(report.to_data()))
    if report.suite_mismatch:
        print(
            mismatch_message(report.suite_mismatch, report.suite.file, f"tabgate validate --bootstrap {args.file}"),
            file=sys.stderr,
        )
    return EXIT_OK if report.passed else EXIT_INPUT


def cmd_models(args: argparse.Namespace) -> int:
    """List, promote or roll back model versions in the registry."""
    from tasks.core.config import load_config
    from tasks.registry.catalog import list_versions, production_version, read_history
    from tasks.registry.fetch import fetch_version
    from tasks.registry.migrate import migrate_registry

    cfg = load_config(args.params)
    reg = cfg.paths.registry_dir
    if args.action in ("promote", "reject", "rollback"):  # the registry's own lock guards one change; this one guards the run
        with project_lock_for(cfg, f"tabgate models {args.action}"):
            code = change_production(args, reg)
        publish_registry_if_served(cfg)
        if args.action in ("promote", "reject"):
            end_waiting_approval(args.version, "approve" if args.action == "promote" else "reject")
        return code
    if args.action == "list":
        prod = production_version(reg)
        for v in list_versions(reg):
            mark = "*" if v.version_id == prod else " "
            print(f"{mark} {v.version_id}  {v.created_at or ''}  {v.status.label}  {_short_metrics(v.metrics)}")
        if prod is None:
            print("(no production model)")
        return EXIT_OK
    if args.action == "history":
        for h in read_history(reg):
            print(
                f"{h.at or ''}  {h.action or '':<10} {h.version_id or '':<18} "
                f"from {h.from_version or '-':<18} {h.reason or ''}"
                + (f"  [by {h.actor}" + (f", Prefect run {h.run_id}" if h.run_id else "") + "]" if h.actor else "")
            )
        return EXIT_OK
    if args.action == "migrate":
        with project_lock_for(cfg, "tabgate models migrate"):
            done = migrate_registry(reg, args.reason)
        for vid, what in done.items():
            print(f"{vid}: {what}")
        print(f"migrated {len(done)} version(s)" if done else "nothing to migrate: every version has its manifest")
        return EXIT_OK
    if args.action == "fetch":
        result = fetch_version(reg, args.version, Path(args.to))
        print(result.message)
        if not result.restored:
            print("\n".join(result.shell_commands()))
        return EXIT_OK if result.restored else EXIT_REGISTRY
    raise AssertionError(f"unhandled models action {args.action}")  # argparse allows only the actions above


def change_production(args: argparse.Namespace, reg: Path) -> int:
    """Approve, force-promote, reject or roll back (the caller holds the project lock)."""
    from tasks.registry.lifecycle import approve_version, force_promote, reject_version, rollback

    if args.action == "promote":
        if args.force:
            force_promote(reg, args.version, args.reason)
        else:
            approve_version(reg, args.version, args.reason)
        print(f"{args.version} is now in production (reason recorded)")
        return EXIT_OK
    if args.action == "reject":
        reject_version(reg, args.version, args.reason)
        print(f"{args.version} rejected (reason recorded); production unchanged")
        return EXIT_OK
    restored = rollback(reg, args.reason, to_version=args.to)
    print(f"rolled back: {restored} is now in production")
    return EXIT_OK


def publish_registry_if_served(cfg) -> None:
    """Refresh the `model-registry` artifact after a registry change when a Prefect server is configured
    (PREFECT_API_URL); without one nothing is started (best effort: an unreachable server is a warning)."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        log.debug("no PREFECT_API_URL: the model-registry artifact is refreshed by the next flow run")
        return
    from flows.artifacts import publish_registry_table

    if publish_registry_table(cfg):
        print("model-registry artifact refreshed in the Prefect UI")


def end_waiting_approval(version: str, decision: str) -> None:
    """Cancel the Suspended `tabgate-approval` run of a version just decided here (and its expire run), so the UI
    shows no stale waiting run; only with a Prefect server (PREFECT_API_URL), best effort."""
    from flows.approval import cancel_waiting_approval
    from tasks.registry.lifecycle import default_actor

    where = "tabgate models promote" if decision == "approve" else "tabgate models reject"
    if cancel_waiting_approval(version, decision, default_actor(), where):
        print(f"the waiting approval run of {version} in the Prefect UI was cancelled (decided here)")


def cmd_score(args: argparse.Namespace) -> int:
    """Score a CSV or Parquet file with the production model."""
    from tasks.core.config import load_config
    from tasks.serving import score

    cfg = load_config(args.params)
    summary = score.score_file(
        Path(args.input),
        Path(args.output),
        cfg.paths.registry_dir,
        Path(args.shadow) if args.shadow else None,
        cfg.data,
        cfg.monitor,
    )
    print(_short_json(summary))
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    """Print the effective configuration (params.yaml over the defaults, each key with what it does), or with
    --check check that every column params.yaml names is in the table (exit 2 naming the key, column and file)."""
    from tasks.core.config import load_config
    from tasks.core.config_docs import effective_text
    from tasks.data.config_check import check_columns

    params = params_path(args)
    if args.check:
        print(check_columns(load_config(params), params))
    else:
        print(effective_text(params), end="")
    return EXIT_OK


# --- tabgate init: a params.yaml for your own table ------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Read a table, propose its settings, write a short params.yaml, and bootstrap the expectation suite."""
    from tasks.core.errors import ConfigError

    folder = Path(args.dir)
    target = folder / "params.yaml"
    if target.exists() and not args.force:
        raise ConfigError(
            f"{target} exists; pass --force to replace it (its expectation suite in gx/ is replaced too), or --dir another folder"
        )
    plan, cfg, df = plan_table(args, folder)
    from tasks.core import io
    from tasks.data.profiling import render_params, summary_lines
    from tasks.quality.validation import bootstrap_suite

    io.write_text(render_params(plan), target)
    at = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={k: folder / v for k, v in cfg.paths.model_dump().items()})})
    info = bootstrap_suite(df, at.paths, at.data, at.validate)
    for line in summary_lines(plan):
        print(f"init: {line}")
    print(
        f"init: wrote {target} and the expectation suite {info['suite']} ({info['expectations']} expectations) "
        f"with the reference profile {info['reference_profile']}, learnt from {info['rows']} rows"
    )
    print("init: next: `tabgate run` (or `tabgate run --engine dvc`); the gate's verdict is in reports/promotion.md")
    return EXIT_OK


def plan_table(args: argparse.Namespace, folder: Path):
    """Return (plan, config, typed table) for init's source, or raise before anything is written."""
    import os.path

    import yaml

    from tasks.core.config import IngestParams, parse_config
    from tasks.core.errors import ConfigError, InputError
    from tasks.data.file_sets import is_glob, set_root, source_files
    from tasks.data.profiling import FILE_COLUMN, plan_init, render_params
    from tasks.data.reader_guess import read_head, sniff_reader
    from tasks.data.sources import read_source, type_table

    if len(args.source) > 1:
        raise ConfigError(
            f"SOURCE: got {len(args.source)} paths ({args.source[0]}, {args.source[1]}, ...): the shell "
            "expanded a glob? Quote it (e.g. 'raw/*.csv') or pass the folder: its files are read as one "
            "table in sorted path order"
        )
    text, path = args.source[0], Path(args.source[0])
    several = is_glob(text) or path.is_dir()
    if not several and not path.exists():
        raise InputError(f"{path}: no such file (the SOURCE of `tabgate init`)")
    head = source_files(text)[0] if several else path  # a folder or glob: the reader is sniffed from its first file
    try:
        reader = sniff_reader(read_head(head))
    except (OSError, EOFError, ValueError) as err:
        raise InputError(f"{head}: cannot be read ({type(err).__name__}: {err})") from None
    file_column = FILE_COLUMN if several else None
    raw = read_source(
        IngestParams(
            source=text, separator=reader.separator, encoding=reader.encoding, decimal=reader.decimal, file_column=file_column
        )
    )
    root = set_root(text) if is_glob(text) else path
    rel = os.path.relpath(root.resolve(), folder.resolve())
    source = root.resolve().as_posix() if rel.startswith("..") else Path(rel).as_posix()
    if is_glob(text):
        source = (Path(source) / path.relative_to(root)).as_posix()  # the pattern, from the project folder
    plan = plan_init(raw, source, args.target, reader, args.task, args.time, args.id, file_column)
    cfg = parse_config(yaml.safe_load(render_params(plan)), folder / "params.yaml")
    df, _ = type_table(raw, cfg.ingest, cfg.data)
    if cfg.data.time_column and df[cfg.data.time_column].isna().all():
        raise InputError(f"{path}: data.time_column '{cfg.data.time_column}' does not parse as time")
    return plan, cfg, df


def _short_json(obj: dict) -> str:
    import json

    return json.dumps(obj, indent=2, default=str)[:4000]


def _short_metrics(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={val:.4f}" for k, val in metrics.items() if isinstance(val, float))[:120]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand and its --help."""
    parser = argparse.ArgumentParser(prog="tabgate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=None, help="params.yaml to use (default: ./params.yaml or $TABGATE_PARAMS)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the whole pipeline (Prefect flow by default)", description=cmd_run.__doc__)
    p.add_argument(
        "--engine",
        choices=["prefect", "dvc"],
        default="prefect",
        help="prefect: a Prefect flow run (local temporary server unless PREFECT_API_URL is set); dvc: dvc repro",
    )
    p.add_argument("--force", action="store_true", help="re-run every step even when up to date")
    p.add_argument("--no-snapshot", action="store_true", help="use the snapshot already in data/ (do not re-read the source)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "serve", help="serve the flows on the schedules in params.yaml (monitor.schedules)", description=cmd_serve.__doc__
    )
    p.add_argument("--limit", type=int, default=2, help="at most this many flow runs at once (default 2)")
    p.add_argument("--keep-schedules", action="store_true", help="do not pause the schedules when serve stops")
    p.add_argument("--dry-run", action="store_true", help="print the deployments and schedules, serve nothing")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "monitor", help="check a batch for drift / performance drop; retrain when needed", description=cmd_monitor.__doc__
    )
    p.add_argument("file", nargs="?", help="CSV/Parquet batch in the source's layout (default: monitor.batch_path)")
    p.add_argument(
        "--no-retrain",
        action="store_true",
        help="report only, never start the training flow (says when retraining would be advised)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="a retrain re-runs every step (default: only what DVC finds stale, or monitor.retrain_force)",
    )
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("step", help="run one step directly", description=cmd_step.__doc__)
    p.add_argument("name", choices=STEPS)
    p.set_defaults(func=cmd_step)

    p = sub.add_parser("ingest", help="snapshot the source into data/ and version it (data.dvc)", description=cmd_ingest.__doc__)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "validate", help="validate a file against the expectation suite, or bootstrap the suite", description=cmd_validate.__doc__
    )
    p.add_argument("file", nargs="?", help="CSV or Parquet file (default: the ingested snapshot)")
    p.add_argument("--bootstrap", action="store_true", help="write a new suite from the file (or the ingested table)")
    p.add_argument(
        "--data-docs",
        action="store_true",
        help="build the Great Expectations Data Docs when this machine has none (a fresh clone): from the "
        "kept GX results, else by validating the ingested table again; print their path",
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("models", help="list, promote or roll back model versions", description=cmd_models.__doc__)
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    msub.add_parser("list", help="list versions; * marks production")
    msub.add_parser("history", help="every promotion, approval, rollback and forced promotion, with reasons")
    mf = msub.add_parser("fetch", help="restore a version's model files (or print the dvc commands that fetch them)")
    mf.add_argument("version")
    mf.add_argument("--to", required=True, help="an empty or new folder")
    mp = msub.add_parser("promote", help="approve a version that passed the gate (or --force any version)")
    mp.add_argument("version")
    mp.add_argument("--reason", required=True, help="why (recorded in the registry history)")
    mp.add_argument("--force", action="store_true", help="override the gate for a version that failed it")
    mj = msub.add_parser("reject", help="reject a version pending approval (production unchanged)")
    mj.add_argument("version")
    mj.add_argument("--reason", required=True, help="why (recorded in the registry history)")
    mm = msub.add_parser(
        "migrate",
        help="record the bytes of versions registered before manifests existed "
        "(and sign manifests when TABGATE_MANIFEST_KEY is set)",
    )
    mm.add_argument("--reason", required=True, help="why (recorded)")
    mr = msub.add_parser("rollback", help="restore the previous production version")
    mr.add_argument("--reason", required=True, help="why (recorded)")
    mr.add_argument("--to", default=None, metavar="VERSION", help="an earlier production version (default: the one before)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("score", help="score a CSV/Parquet file with the production model", description=cmd_score.__doc__)
    p.add_argument("input")
    p.add_argument("output", help="predictions file (.csv or .parquet); bad rows go to <output>.quarantine.*")
    p.add_argument("--shadow", default=None, help="a challenger model bundle directory to score in shadow")
    p.set_defaults(func=cmd_score)
    add_init_parser(sub)

    p = sub.add_parser(
        "config",
        help="print the effective configuration, or --check it against the table's columns",
        description=cmd_config.__doc__,
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="check that every column params.yaml names is in the table "
        "(ingest.source's header; exit 2 naming the key, the column and the file)",
    )
    p.set_defaults(func=cmd_config)
    return parser


def add_init_parser(sub) -> None:
    """Add `tabgate init SOURCE --target COLUMN`."""
    p = sub.add_parser(
        "init", help="write a params.yaml for your own table and bootstrap its expectation suite", description=cmd_init.__doc__
    )
    p.add_argument(
        "source",
        nargs="+",
        help="the table: a CSV (separator, encoding, decimal mark sniffed) or Parquet "
        "file, or a folder or quoted glob ('raw/*.csv') of such files with the same columns, read as one",
    )
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument(
        "--task", choices=["binary", "multiclass", "regression"], default=None, help="default: inferred from the label's values"
    )
    p.add_argument("--time", default=None, help="the time column (default: a date column, or year/month/day parts)")
    p.add_argument("--id", default=None, help="the id / entity column (default: one named like an id)")
    p.add_argument("--dir", default=".", help="the project folder to write params.yaml and gx/ into (default: .)")
    p.add_argument("--force", action="store_true", help="replace an existing params.yaml and expectation suite")
    p.set_defaults(func=cmd_init)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `tabgate` command."""
    args = build_parser().parse_args(argv)
    from tasks.core.entry import setup_logging

    setup_logging("DEBUG" if args.verbose else None)
    sys.exit(dispatch(args))


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen subcommand and map failures to exit codes (by exception class) with a one-paragraph message."""
    from tasks.core.errors import TabgateError

    try:
        return args.func(args)
    except TabgateError as err:
        if err.exit_code == EXIT_ERROR:
            raise
        log.error("%s", err)  # the message names the file, key or version (a registry error: the registry folder)
        return err.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    main()
