#!/bin/sh
# poll-fixed.sh: the baseline merge gate, a fixed-interval poller. GETs the MR's checks
# at 0, $POLL_SECONDS, 2 x $POLL_SECONDS, ... from its start (on the tick, whatever each
# poll took) until all have passed (exit 0), one has failed (exit 1) or $MAX_POLLS polls
# went by (exit 3). It never reads the MR's head, so unlike `status-check wait` it cannot
# tell that the pipeline's commit went stale.
set -eu
mr="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID"
start=$(date +%s.%N)
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
  # Sleep until the next tick: start + polls x POLL_SECONDS.
  sleep "$(awk -v s="$start" -v n="$polls" -v p="$POLL_SECONDS" -v now="$(date +%s.%N)" \
    'BEGIN { d = s + n * p - now; printf "%.3f", (d > 0 ? d : 0) }')"
done
exit 3
