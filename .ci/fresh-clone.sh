#!/usr/bin/env bash
# A new user's first minutes: clone this checkout's HEAD into an empty folder with nothing
# beside it (no ../shared), and run the README's first command as written there. The default
# model may come from CANDOR_MODELS (CI has no network); the data may not: the quick suites'
# data ships with candor. Checks that the run wrote its reports.
#
# Compiled dependencies are shared with this checkout's release builds through CARGO_TARGET_DIR
# (default: this checkout's target/), so only the workspace crates are built again.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git clone -q --no-checkout "$repo" "$work/candor"
git -C "$work/candor" checkout -q "$(git -C "$repo" rev-parse HEAD)"
cd "$work/candor"
if [ -e ../shared ]; then
  echo "error: $work/shared exists; the clone must have nothing beside it" >&2
  exit 1
fi

unset CANDOR_DATA CANDOR_SHARED CANDOR_TASKS
# An empty HF cache, and no downloads: the quick suites must run from what ships.
export HF_HOME="$work/hf" HF_HUB_OFFLINE=1
unset HF_HUB_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"

cmd="$(grep -m1 -E '^cargo run --release -p candor-cli -- run ' README.md)"
if [ -z "$cmd" ]; then
  echo "error: the README's first command was not found" >&2
  exit 1
fi
echo "+ $cmd"
eval "$cmd"

for f in report.json report.html samples.jsonl; do
  if [ ! -s "candor-results/$f" ]; then
    echo "error: the README's first command did not write $f" >&2
    exit 1
  fi
done
echo "fresh clone: report.json, report.html and samples.jsonl written"
