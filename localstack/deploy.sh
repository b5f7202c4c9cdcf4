#!/usr/bin/env bash
# Deploys the CDK app into LocalStack with cdklocal (aws-cdk-local). Needs the LocalStack container
# (docker compose -f localstack/docker-compose.yml up -d) and, for Lambda, its Docker socket.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost:4566}"
npx --yes aws-cdk-local@3 bootstrap
npx --yes aws-cdk-local@3 deploy --require-approval never "$@"
