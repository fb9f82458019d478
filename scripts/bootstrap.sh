#!/usr/bin/env bash
# Create/refresh the project virtualenv in .venv (idempotent).
# Usage: scripts/bootstrap.sh [extras]   e.g. scripts/bootstrap.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"
PY="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.perfsearch-installed${EXTRAS:+-$EXTRAS}"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "[perfsearch] 创建虚拟环境 $VENV ..." >&2
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# CPU build of torch first: an unpinned torch would pull several GB of CUDA packages.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    echo "[perfsearch] 安装 torch==2.13.0 (CPU) ..." >&2
    "$VENV/bin/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -c "import torch" || { echo "torch 安装失败" >&2; exit 1; }
fi
echo "[perfsearch] 安装依赖 ${EXTRAS:+(.[$EXTRAS])} ..." >&2
if [ -n "$EXTRAS" ]; then
    "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
else
    "$VENV/bin/python" -m pip install -q -e . 2>&1 | grep -v "^WARNING: Location" >&2 || true
fi
"$VENV/bin/python" -c "import indexer, search, ui, faiss, sentence_transformers, jieba, pdfplumber" \
    || { echo "[perfsearch] 依赖安装失败" >&2; exit 1; }
echo "$want" > "$STAMP"
