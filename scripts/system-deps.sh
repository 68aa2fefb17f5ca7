#!/usr/bin/env bash
# Install the Debian packages the gateway's tests need, when they are missing.
#   poppler-utils: pdftoppm renders certificate PDFs to images in the tests.
#   fonts-wqy-microhei: the TrueType CJK font embedded in certificate PDFs (setting
#     CERTIFICATE_FONT may name another .ttf/.ttc instead); the console's browser tests
#     also draw their Chinese pages with it.
#   chromium: the browser Playwright drives in the console's browser tests (tests/e2e/console;
#     Playwright's own browser download is never used).
set -euo pipefail
need=()
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${need[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
