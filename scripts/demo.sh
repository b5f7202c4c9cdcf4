#!/usr/bin/env bash
# `npm run demo`: pgwarden on this machine in one command. Installs what is missing (as
# `npm test` does), starts a 3-node local topology, writes through the writer endpoint, crashes
# the primary, prints the failover timeline and the measured downtime, and tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec npx tsx scripts/demo.ts "$@"
