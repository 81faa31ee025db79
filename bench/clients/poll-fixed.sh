#!/bin/sh
# poll-fixed.sh: the baseline merge gate, a fixed-interval poller. GETs the MR's checks
# every $POLL_SECONDS until all have passed (exit 0), one has failed (exit 1) or
# $MAX_POLLS polls went by (exit 3). It never reads the MR's head, so unlike
# `status-check wait` it cannot tell that the pipeline's commit went stale.
set -eu
mr="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID"
polls=0
while [ "$polls" -lt "${MAX_POLLS:-1000}" ]; do
  polls=$((polls + 1))
  verdict=$(curl --silent --show-error --fail \
    --header "PRIVATE-TOKEN: $STATUS_CHECK_TOKEN" \
    "$mr/status_checks?per_page=100" |
    jq --raw-output 'if any(.status == "failed") then "failed"
      elif all(.status == "passed") then "passed" else "pending" end') || verdict=error
  case "$verdict" in
  passed) exit 0 ;;
  failed) exit 1 ;;
  esac
  sleep "$POLL_SECONDS"
done
exit 3
