"""Draw docs/prefect-alert.png: one alert exactly as the Prefect server POSTed it to a webhook, in headless Chromium.

    PYTHONPATH=. .venv/bin/python tools/alert_picture.py ALERTS_JSON [--subject TEXT] [--out docs/prefect-alert.png]

ALERTS_JSON is the list of messages tests/integration/test_alerts.py received (it writes alerts.json in its Prefect
home, printed at the end of the test run); --subject picks the first message whose subject contains TEXT (default:
the model waiting for approval). The page shows the subject and body as sent, nothing added but the frame.
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = """<!doctype html><meta charset="utf-8"><style>
body {{ font: 15px/1.45 system-ui, sans-serif; background: #eef0f3; margin: 0; padding: 24px; }}
.card {{ background: #fff; border-left: 6px solid {colour}; border-radius: 6px; padding: 16px 20px;
         box-shadow: 0 1px 3px #0002; max-width: 1060px; }}
.meta {{ color: #667; font-size: 13px; margin-bottom: 6px; }}
h1 {{ font-size: 18px; margin: 0 0 10px; }}
pre {{ font: 14px/1.5 ui-monospace, monospace; white-space: pre-wrap; margin: 0; }}
</style><div class="card"><div class="meta">POST to the ops webhook by the Prefect server (automation
"{automation}", Custom Webhook block custom-webhook/ops-alerts): subject and body as received</div>
<h1>{subject}</h1><pre>{body}</pre></div>"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("alerts_json", type=Path)
    parser.add_argument("--subject", default="waits for approval")
    parser.add_argument("--automation", default="tabgate: model waits for approval")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "prefect-alert.png")
    args = parser.parse_args()
    messages = json.loads(args.alerts_json.read_text())
    msg = next((m for m in messages if args.subject in m["subject"]), None)
    if msg is None:
        print(f"no message with {args.subject!r} in {args.alerts_json}", file=sys.stderr)
        return 1
    colour = "#d97706" if "approval" in msg["subject"] else "#dc2626"
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "alert.html"
        page.write_text(
            PAGE.format(
                colour=colour,
                automation=html.escape(args.automation),
                subject=html.escape(msg["subject"]),
                body=html.escape(msg["body"]),
            )
        )
        lines = msg["body"].count("\n") + 1
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                f"--screenshot={args.out}",
                f"--window-size=1110,{175 + 22 * lines}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
