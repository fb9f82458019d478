#!/usr/bin/env bash
# System packages the test suite needs: a CJK font (PDF generation), Chromium (browser tests),
# LibreOffice (.doc/.wps/.et conversion) and poppler-utils (pdftoppm: scanned-PDF corpus).
# Installs them with apt-get when running as root (or via sudo); otherwise explains what is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
ls /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc >/dev/null 2>&1 || need+=(fonts-wqy-zenhei)
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-writer-nogui libreoffice-calc-nogui)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0
echo "[perfsearch] 安装系统软件包：${need[*]}" >&2
if [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -q >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
else
    echo "[perfsearch] 请先安装：apt-get install ${need[*]}" >&2
    exit 1
fi
