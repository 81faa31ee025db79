#!/bin/sh
# control-curl.sh STATUS: set the external control $CONTROL_ID to STATUS the way a
# hand-written job does it with date, openssl and curl: sign timestamp + nonce + path +
# `status=...` with the control's secret, PATCH (1 request). Its clock is the runner's.
set -eu
status="$1"
path="/api/v4/projects/$CI_PROJECT_ID/compliance_external_controls/$CONTROL_ID/status"
ts=$(date +%s)
nonce=$(openssl rand -hex 16)
sig=$(printf '%s' "$ts$nonce${path}status=$status" |
  openssl dgst -sha256 -hmac "$STATUS_CHECK_CONTROL_SECRET" -r | cut -d' ' -f1)
curl --silent --show-error --fail --output /dev/null --request PATCH \
  --header "X-Gitlab-Timestamp: $ts" \
  --header "X-Gitlab-Nonce: $nonce" \
  --header "X-Gitlab-Hmac-Sha256: $sig" \
  --header "Content-Type: application/json" \
  --data "{\"status\":\"$status\"}" \
  "$CI_SERVER_URL$path"
