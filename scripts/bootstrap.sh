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
    "$VENV/bin/python" -m pip install -q "torch==2.13.0" >"$VENV/install-torch.log" 2>&1 || true
    "$VENV/bin/python" -c "import torch" || { tail -n 20 "$VENV/install-torch.log" >&2; echo "[perfsearch] torch 安装失败" >&2; exit 1; }
fi
echo "[perfsearch] 安装依赖 ${EXTRAS:+(.[$EXTRAS])} ..." >&2
LOG="$VENV/install.log"
if ! "$VENV/bin/python" -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}" >"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    echo "[perfsearch] 依赖安装失败，完整日志：$LOG" >&2
    exit 1
fi
"$VENV/bin/python" -c "import indexer, search, ui, faiss, sentence_transformers, jieba, pdfplumber" \
    || { echo "[perfsearch] 依赖安装失败" >&2; exit 1; }
echo "$want" > "$STAMP"
