# shellcheck shell=bash
# Sourced by scripts/test and scripts/release-checks: steps with their times, and
# the suites of a directory, each counted by its `N passed, 0 failed` line.

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
passed=0

# step NAME: a heading, after the time the step before it took.
took() { [ -z "${current:-}" ] || printf '==> %s took %ss\n' "$current" "$((SECONDS - started))"; }
step() {
  took
  current="$*" started=$SECONDS
  printf '\n==> %s\n' "$*"
}

# count PATTERN FIELD: sums FIELD of the lines of $out matching PATTERN.
count() { awk -v f="$2" "/$1/ { n += \$f } END { print n + 0 }" "$out"; }

# run_suites DIR: every executable of DIR, in order.
run_suites() {
  local suite checks
  for suite in "$1"/*; do
    [ -x "$suite" ] || continue
    step "suite $(basename "$suite")"
    "$suite" 2>&1 | tee "$out"
    checks=$(count '^[0-9]+ passed, 0 failed$' 1)
    # A suite without a summary line (the bench smoke run) counts as one check.
    passed=$((passed + (checks > 0 ? checks : 1)))
  done
}

# total: the closing line, `total: N passed, 0 failed (Ts)`.
total() {
  took
  printf '\ntotal: %d passed, 0 failed (%ss)\n' "$passed" "$SECONDS"
}
