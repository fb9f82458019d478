#!/usr/bin/env bash
# 测试命令：安装依赖（含开发依赖）并运行全部测试。
# Test command: set up (with dev extras) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh dev
exec .venv/bin/python -m pytest "$@"
