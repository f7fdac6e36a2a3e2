#!/usr/bin/env bash
# The one test command: brings up the real local infrastructure (Postgres, Redis, Kafka,
# OpenSearch, SMTP sink), then runs unit tests and the integration suites against it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

[[ -d node_modules ]] || npm install --no-audit --no-fund

# One node:test run over every suite, files one at a time: the integration suites share the
# infrastructure (and SIGKILL or stop parts of it), so they must not overlap.
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.test.ts' | sort)
echo "test: ${#files[@]} test files"
exec bash scripts/with-infra.sh tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
