# shellcheck shell=sh
# Sourced, not run: `. e2e/fake-gitlab.sh` in the before_script of the
# pipeline's component tests (.gitlab-ci.yml, jobs e2e:*), from the kit that
# scripts/e2e-kit put in e2e/ (the fake-gitlab job's artifacts).
#
# Starts the fake GitLab in the background on 127.0.0.1 (it lives as long as
# the job's shell, no longer), with the world of tests/components/world.json: project 42
# (acme/app), merge request !7 whose head is this commit, four status checks,
# external control 12 (GitLab 17.11).
# Then makes the job look like a pipeline of that merge request, the way
# status-check reads one: CI_API_V4_URL and the project, MR and server
# variables are exported with the fake's values, the variables of the real
# pipeline that would contradict them unset, and STATUS_CHECK_TOKEN is the
# fake's Developer token (no real token ever reaches it). status-check is the
# static-binary job's dist/status-check-x86_64-unknown-linux-musl, put on PATH.
#
# POSIX sh (busybox, dash, bash); variables start with e2e_.

# A job starts in the project directory (CI_PROJECT_DIR in GitLab; the
# repository itself under gitlab-ci-local's shell executor).
e2e_dir=$(pwd)
e2e_kit="$e2e_dir/e2e"
e2e_tmp=$(mktemp -d)
mkdir -p "$e2e_tmp/bin"
# Artifacts may lose the executable bit: copy and chmod.
cp "$e2e_dir/dist/status-check-x86_64-unknown-linux-musl" "$e2e_tmp/bin/status-check"
cp "$e2e_kit/fake-gitlab" "$e2e_tmp/bin/fake-gitlab"
chmod 0755 "$e2e_tmp/bin/status-check" "$e2e_tmp/bin/fake-gitlab"
export PATH="$e2e_tmp/bin:$PATH"

sed "s/@SHA@/$CI_COMMIT_SHA/g" "$e2e_kit/world.json" >"$e2e_tmp/world.json"
# It must not outlive the job's shell (gitlab-ci-local's shell executor has
# no container to stop): a watchdog ends it when that shell ($$) is gone.
fake-gitlab --listen 127.0.0.1:0 --log --world "$e2e_tmp/world.json" \
  >"$e2e_tmp/fake.out" 2>"$e2e_tmp/fake.log" &
e2e_pid=$!
(
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  kill "$e2e_pid" 2>/dev/null
  rm -rf "$e2e_tmp"
) >/dev/null 2>&1 &
e2e_i=0
until grep -q '^listening on ' "$e2e_tmp/fake.out"; do
  e2e_i=$((e2e_i + 1))
  if [ "$e2e_i" -gt 100 ] || ! kill -0 "$e2e_pid" 2>/dev/null; then
    echo "e2e: the fake GitLab did not start:" >&2
    cat "$e2e_tmp/fake.log" >&2
    exit 1
  fi
  sleep 0.1
done
e2e_url=$(sed -n 's/^listening on //p' "$e2e_tmp/fake.out")

unset CI_MERGE_REQUEST_SOURCE_BRANCH_SHA CI_MERGE_REQUEST_EVENT_TYPE \
  CI_MERGE_REQUEST_TARGET_BRANCH_NAME CI_OPEN_MERGE_REQUESTS CI_SERVER_TLS_CA_FILE \
  STATUS_CHECK_TOKEN_FILE STATUS_CHECK_API_URL STATUS_CHECK_PROJECT STATUS_CHECK_MR STATUS_CHECK_SHA
export CI_API_V4_URL="$e2e_url/api/v4" CI_SERVER_URL="$e2e_url" \
  CI_PROJECT_ID=42 CI_PROJECT_PATH=acme/app CI_MERGE_REQUEST_PROJECT_ID=42 CI_MERGE_REQUEST_IID=7 \
  CI_PIPELINE_SOURCE=merge_request_event \
  CI_SERVER_VERSION=17.11.0-ee CI_SERVER_VERSION_MAJOR=17 CI_SERVER_VERSION_MINOR=11 \
  STATUS_CHECK_TOKEN=glpat-dev-0000000000000000001
echo "e2e: fake GitLab at $e2e_url (pid $e2e_pid): project 42, MR !7 at $CI_COMMIT_SHA; $(status-check --version)"
