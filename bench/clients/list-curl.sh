#!/bin/sh
# list-curl.sh: every status check of the MR with curl and jq, following X-Next-Page at
# GitLab's default page size (20), the way a hand-written job pages through a list.
set -eu
mr="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID"
headers=$(mktemp)
pages=$(mktemp)
trap 'rm -f "$headers" "$pages"' EXIT
page=1
while [ -n "$page" ]; do
  curl --silent --show-error --fail --dump-header "$headers" \
    --header "PRIVATE-TOKEN: $STATUS_CHECK_TOKEN" \
    "$mr/status_checks?page=$page" >>"$pages"
  page=$(tr -d '\r' <"$headers" | sed -n 's/^[Xx]-[Nn]ext-[Pp]age: *//p')
done
jq --slurp 'add | length' "$pages"
