#!/usr/bin/env bash
# 测试命令：安装依赖（含开发依赖与系统软件包）并运行全部测试。
# Test command: set up (dev extras, system packages) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/system_deps.sh
scripts/bootstrap.sh dev
exec .venv/bin/python -m pytest "$@"
