#!/usr/bin/env bash
# Installs what building and running Cairn needs on a fresh Debian machine, once:
# a C toolchain with clang + mold (linking), protoc (LanceDB's build), Python (model fetch),
# Node (the dashboard's build) and Chromium (its browser tests).
# Safe to run again: it only installs what is missing.
set -euo pipefail

need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v clang >/dev/null || need+=(clang)
command -v mold >/dev/null || need+=(mold)
command -v python3 >/dev/null || need+=(python3 python3-pip python3-venv)
command -v python3 >/dev/null && ! python3 -c "import ensurepip" 2>/dev/null && need+=(python3-venv)
command -v npm >/dev/null || need+=(nodejs npm)
# Debian's Chromium: the dashboard's end-to-end tests drive it headless (playwright-core).
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The embedding model and ONNX Runtime, sha256-pinned (idempotent, cached in ~/.cache/cairn).
python3 "$(dirname "$0")/fetch_model.py"

# The official OpenAI and MCP Python SDKs, for the tests that point them at Cairn unchanged (a
# venv of its own, cached in ~/.cache/cairn).
SDK_VENV="${HOME}/.cache/cairn/sdk-venv"
if ! "$SDK_VENV/bin/python" -c "import openai, mcp" 2>/dev/null; then
  echo "setup: installing the openai and mcp SDKs into $SDK_VENV" >&2
  python3 -m venv "$SDK_VENV"
  "$SDK_VENV/bin/pip" install -q --disable-pip-version-check 'openai>=1.40,<3' 'mcp>=2.3,<3'
fi

# The official TypeScript MCP SDK, for the MCP tests (versions pinned by tests/sdk/package-lock.json).
SDK_NODE="$(dirname "$0")/../tests/sdk"
if [ ! -d "$SDK_NODE/node_modules/@modelcontextprotocol/sdk" ]; then
  echo "setup: installing the TypeScript MCP SDK into tests/sdk" >&2
  npm ci --prefix "$SDK_NODE" --no-audit --no-fund --loglevel=error
fi

# The dashboard: its npm toolchain (Vite, TypeScript, playwright-core, axe-core; versions
# pinned by web/package-lock.json) and its build, which the binary embeds (build.rs). Built
# only when its sources changed, so an unchanged tree does not recompile Cairn.
WEB="$(dirname "$0")/../web"
if [ ! -x "$WEB/node_modules/.bin/vite" ]; then
  echo "setup: installing the dashboard's npm packages into web/node_modules" >&2
  npm ci --prefix "$WEB" --no-audit --no-fund --loglevel=error
fi
if [ ! -f "$WEB/dist/index.html" ] || [ -n "$(find "$WEB/src" "$WEB/index.html" "$WEB/package-lock.json" "$WEB/vite.config.ts" -newer "$WEB/dist/index.html" -print -quit)" ]; then
  echo "setup: building the dashboard (web/dist)" >&2
  npm run --prefix "$WEB" build --silent >/dev/null
fi
