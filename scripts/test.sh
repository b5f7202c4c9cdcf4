#!/usr/bin/env bash
# The one test command (`npm test`): installs what is missing, then typechecks, lints, checks the
# dependency rules and runs every vitest project (unit, integration, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh
echo "== typecheck"; npx tsc --noEmit -p tsconfig.json
echo "== lint"; npx biome check .
echo "== dependency rules"; npx depcruise --config .dependency-cruiser.cjs core agent functions cli adapters infra local
echo "== tests"; npx vitest run "$@"
