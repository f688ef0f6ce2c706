"""Run one pipeline step in a fresh process, as `python -m tasks.<step>` (what dvc.yaml calls) does, and time it.

    cd <project> && PYTHONPATH=. python <repo>/benchmarks/step_runner.py STEP

STEP is one of the nine steps, `snapshot` (tasks.ingest.snapshot_source, what the callers do before ingest) or
`bootstrap` (tasks.quality.validation.ensure_suite: learns the validation suite from the snapshot; a project's first run
only). Prints one line `STEP_JSON {...}` with the seconds spent importing the step module and inside run(cfg), and
the peak RSS before run(cfg) (interpreter + imports); the caller measures the process's wall time.
"""

from __future__ import annotations

import importlib
import json
import sys
import time


def vm_hwm_mb() -> float | None:
    """Return this process's peak RSS so far in MiB (VmHWM), or None off Linux.

    Not getrusage's ru_maxrss: Linux carries the parent's peak into a child across fork/vfork + exec.
    """
    try:
        with open("/proc/self/status") as fh:
            line = next(l for l in fh if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return None


def main(step: str) -> None:
    t0 = time.perf_counter()
    from tasks.core.config import load_config
    from tasks.core.entry import setup_logging

    setup_logging("WARNING")
    if step == "snapshot":
        from tasks.data.sources import snapshot_source

        def fn(cfg):
            snapshot_source(cfg.ingest, cfg.paths.data_dir)
    elif step == "bootstrap":
        from tasks.quality.validation import ensure_suite

        def fn(cfg):
            ensure_suite(cfg.paths, cfg.ingest, cfg.data, cfg.validate)
    else:
        fn = importlib.import_module(f"tasks.{step}").run
    cfg = load_config("params.yaml")
    import_rss_mb = vm_hwm_mb()  # interpreter + imports, before run()
    t1 = time.perf_counter()
    fn(cfg)
    t2 = time.perf_counter()
    print(
        "STEP_JSON "
        + json.dumps(
            {
                "step": step,
                "import_seconds": round(t1 - t0, 3),
                "run_seconds": round(t2 - t1, 3),
                "import_rss_mb": import_rss_mb,
                "peak_rss_mb": vm_hwm_mb(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1])
