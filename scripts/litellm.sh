#!/usr/bin/env bash
# Installs LiteLLM's proxy into a venv of its own (~/.cache/cairn/litellm-venv), for the gateway
# bench's side-by-side figure. Not needed to build, run or test Cairn.
set -euo pipefail
VENV="${HOME}/.cache/cairn/litellm-venv"
if ! "$VENV/bin/litellm" --version >/dev/null 2>&1; then
  echo "litellm: installing 'litellm[proxy]' into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'litellm[proxy]'
fi
"$VENV/bin/litellm" --version 2>/dev/null | tail -1 >&2 || true
