#!/bin/bash
# LocalStack init hook (ready.d): the pgwarden table (same keys and billing as
# core/store/table-definition.ts) and the pgwarden-action SSM document (rendered from core/).
set -euo pipefail
TABLE="${PGWARDEN_TABLE:-pgwarden}"
if ! awslocal dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
  awslocal dynamodb create-table --table-name "$TABLE" \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST
  awslocal dynamodb update-time-to-live --table-name "$TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=expires_at
fi
if ! awslocal ssm describe-document --name pgwarden-action >/dev/null 2>&1; then
  awslocal ssm create-document --name pgwarden-action --document-type Command --document-format JSON \
    --content "file://${PGWARDEN_DOCUMENT_FILE:-/opt/pgwarden/pgwarden-action.json}"
fi
echo "pgwarden: table $TABLE and document pgwarden-action ready"
