#!/usr/bin/env bash
# 主命令：安装依赖，若索引不存在则从 corpus/ 构建，然后在 127.0.0.1 启动网页界面。
# Main command: set up, build the index from corpus/ if missing, start the web UI on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/perfsearch serve --corpus corpus "$@"
