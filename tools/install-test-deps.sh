#!/usr/bin/env bash
# Install the Debian packages some tests need, when missing: Chromium for the headless rendering checks,
# PostgreSQL for the real-database tests (tests/support/). `make test` calls this before pytest.
#
# Idempotent and quick when everything is present (one dpkg-query, no apt). As root it runs
# `apt-get update` once and installs only what is missing. Not root, or not Debian: it says what is
# missing and exits 0; those tests then skip, or fail when CI=true (tests/support/__init__.py).
#
# The postgresql package creates a cluster 15/main (port 5432, /var/lib/postgresql) and starts it where
# services can start (systemd; not in a container with policy-rc.d). The tests never use that cluster:
# their server runs from its own temporary folder on a free loopback port with its own socket folder.
set -euo pipefail

PACKAGES=(
    chromium            # tests/unit/test_explain.py, tests/integration/test_prefect_server.py (screenshots)
    chromium-driver     # chromedriver: tests/integration/test_data_docs_browser.py reads what a page shows
    fonts-dejavu-core   # so the screenshots have glyphs on a minimal image
    postgresql          # tests/support/postgres.py: initdb, pg_ctl, pg_isready, createdb
)

is_ci() { local v="${CI:-}"; case "${v,,}" in 1|true|yes|on) return 0 ;; *) return 1 ;; esac; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == installed ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-test-deps: all present (${PACKAGES[*]})"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: missing ${missing[*]} and no apt-get here; install them yourself." \
         "Tests that need them skip (fail under CI=true)." >&2
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "install-test-deps: missing ${missing[*]}; installing needs root: sudo $0." \
         "Tests that need them skip (fail under CI=true)." >&2
    exit 0
fi

echo "install-test-deps: installing ${missing[*]} (apt-get update, then install; output in the log on failure)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if apt-get -o DPkg::Lock::Timeout=300 update -q >"$log" 2>&1 &&
   apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    echo "install-test-deps: installed ${missing[*]}"
    exit 0
fi
tail -n 40 "$log" >&2
if is_ci; then
    echo "install-test-deps: apt-get failed (above); CI is set, so this stops the test run." >&2
    exit 1
fi
echo "install-test-deps: apt-get failed (above); continuing, the tests that need ${missing[*]} will skip." >&2
exit 0
