#!/usr/bin/env bash
# Runs a command against the local infrastructure: brings it up (a second time is quick) and
# exports deploy/local/env.sh's connection settings (values already set by the caller win).
# Used by `npm test` and the `bench:*` scripts, so each works on its own from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
bash deploy/local/infra.sh up
# shellcheck disable=SC1091
source deploy/local/env.sh
exec "$@"
