#!/usr/bin/env bash
# Regenerates gen/ (the contracts) and platform/test/gen (the test fixture) from the protos.
# With --check (on a clean checkout), fails if that changed anything that is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

generate() {
  find gen -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  rm -rf platform/test/gen
  buf generate --template buf.gen.yaml
  buf generate --template platform/test/buf.gen.yaml
}

generate
if [[ "${1:-}" == "--check" ]]; then
  # Run on a clean checkout (CI): any difference from the committed tree is drift.
  if [[ -n "$(git status --porcelain -- gen platform/test/gen)" ]]; then
    echo "generate:check: committed generated code differs from a fresh 'npm run generate':" >&2
    git status --short -- gen platform/test/gen >&2
    echo "Run 'npm run generate' and commit gen/ and platform/test/gen/." >&2
    exit 1
  fi
  echo "generate:check: gen/ matches the protos"
else
  echo "generate: wrote gen/ and platform/test/gen/"
fi
