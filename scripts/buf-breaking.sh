#!/usr/bin/env bash
# Fails when the contracts in proto/ break compatibility with a baseline commit.
# Baseline: $BUF_BREAKING_AGAINST (a git ref), else main when on another branch, else HEAD~1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo "")
against=${BUF_BREAKING_AGAINST:-}
if [[ -z "$against" ]]; then
  if [[ "$branch" != "main" ]] && git rev-parse -q --verify main >/dev/null; then against=main; else against=HEAD~1; fi
fi
if ! git rev-parse -q --verify "$against^{commit}" >/dev/null || [[ -z "$(git ls-tree -d "$against" proto 2>/dev/null)" ]]; then
  echo "buf:breaking: baseline '$against' has no contracts yet; nothing to compare"
  exit 0
fi
commit=$(git rev-parse "$against")
buf breaking --against ".git#ref=$commit"
echo "buf:breaking: no breaking change against $against ($commit)"
