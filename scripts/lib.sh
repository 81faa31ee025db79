# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the scripts that source this
# Shared helpers for scripts/ and scripts/suites/: sourced, never run.
#
# Everything a suite needs is installed here, idempotently: a tool that is
# already present is not installed again. Versions are pinned so a clean
# machine gets what this repository was tested with.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

# Tools that come from PyPI and npm live here, outside the repository.
TOOLS_DIR="${STATUS_CHECK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/status-check-tools}"
export TOOLS_DIR

# Pinned tool versions.
CHECK_JSONSCHEMA_VERSION=0.39.0
CARGO_ZIGBUILD_VERSION=0.24.0
ZIGLANG_VERSION=0.17.1
GITLAB_CI_LOCAL_VERSION=4.64.1
# Supply chain (cargo install --locked, from crates.io; PyPI for the SBOM's
# validator): see deny.toml and scripts/sbom.
CARGO_DENY_VERSION=0.20.2
CYCLONEDX_PYTHON_LIB_VERSION=11.12.0

# The release builds (scripts/build-static, the suites' static binaries) use
# this pinned nightly, installed by need_release_toolchain; `cargo build`,
# `cargo test` and everything else use the stable toolchain. The nightly
# rebuilds the standard library (-Z build-std) with the release profile, which
# is what brings the binaries under BINARY_LIMIT. Change the date here only.
RELEASE_TOOLCHAIN=nightly-2026-05-20
# Nightly cargo flags of the release builds:
#   build-std=std,panic_abort   std compiled like the crate (opt-level z, LTO
#                               with it, panic=abort) instead of the
#                               precompiled one
#   build-std-features=...      std without its `backtrace` feature (the
#                               symbolizer: useless in a stripped binary) and
#                               with `optimize_for_size`; panic messages and
#                               their file:line:column still print
#   trim-paths                  source paths in panic locations relative
#                               (crate-1.2.3/src/..., /rustc/<hash>/library/...)
#                               instead of this machine's home directory
#   checksum-freshness          a source is stale when its contents changed, not
#                               its mtime: the target directories are shared by
#                               every checkout (RELEASE_TARGET_DIR), and a file
#                               edited in one before another built would look
#                               older than that build, and be skipped
RELEASE_CARGO_FLAGS=(
  -Z 'build-std=std,panic_abort'
  -Z build-std-features=optimize_for_size
  -Z trim-paths --config 'profile.release.trim-paths="all"'
  -Z checksum-freshness
)
# Added to the rustflags of .cargo/config.toml for the release builds: no
# unwind tables (.eh_frame): with panic=abort nothing unwinds, and std has no
# backtraces to print. Stable std comes precompiled with them; only a rebuilt
# std can drop them.
RELEASE_RUSTFLAGS='"-C", "force-unwind-tables=no"'
# The release builds' own target directories (one per target, so that two can
# build at once), beside the tools rather than in the checkout: std rebuilt by the
# pinned nightly and the locked dependencies, compiled once per target (most of a
# release build's time), are reused by every clone on this machine; each clone
# compiles and links only status-check itself. Cargo's fingerprints decide what is
# stale, so a shared directory never serves an old binary (the reproducibility
# check of 17-platforms builds from two directories).
RELEASE_TARGET_DIR="${STATUS_CHECK_RELEASE_TARGET_DIR:-$TOOLS_DIR/release-target/$RELEASE_TOOLCHAIN}"

# Sizes (bytes). The release binaries (both targets) must stay within
# BINARY_LIMIT: the static-binary suite fails above it. The 5 MiB image
# budget is issue 6's goal.
BINARY_LIMIT=2000000
IMAGE_BUDGET=$((5 * 1024 * 1024))
# The job image as a registry receives it, per architecture: its layers
# (gzip), its config and its manifest. scripts/build-image and the image
# suite fail above it.
IMAGE_PUSHED_LIMIT=2500000

# check_binary_size PATH: fails above BINARY_LIMIT.
check_binary_size() {
  local size
  size="$(stat -c %s "$1")"
  info "size: $(human_size "$size")"
  [ "$size" -le "$BINARY_LIMIT" ] ||
    die "$1 is $(human_size "$size"), over the limit of $BINARY_LIMIT bytes"
  ok "size within the limit of $BINARY_LIMIT bytes ($((BINARY_LIMIT - size)) bytes to spare)"
}

MUSL_TARGET=x86_64-unknown-linux-musl
AARCH64_TARGET=aarch64-unknown-linux-musl
WINDOWS_TARGET=x86_64-pc-windows-gnu
# Every binary a release ships, one per platform GitLab Runner runs on.
RELEASE_TARGETS=(
  "$MUSL_TARGET" "$AARCH64_TARGET"
  s390x-unknown-linux-musl powerpc64le-unknown-linux-musl armv7-unknown-linux-musleabihf
  "$WINDOWS_TARGET" aarch64-apple-darwin x86_64-apple-darwin
)
# The user-mode emulator (Debian's qemu-user-static) that runs each foreign Linux
# binary here.
declare -A QEMU=(
  [aarch64-unknown-linux-musl]=qemu-aarch64-static
  [s390x-unknown-linux-musl]=qemu-s390x-static
  [powerpc64le-unknown-linux-musl]=qemu-ppc64le-static
  [armv7-unknown-linux-musleabihf]=qemu-arm-static
)
# What `file` says of each release binary's machine.
declare -A MACHINE=(
  [x86_64-unknown-linux-musl]="x86-64"
  [aarch64-unknown-linux-musl]="ARM aarch64"
  [s390x-unknown-linux-musl]="IBM S/390"
  [powerpc64le-unknown-linux-musl]="64-bit PowerPC"
  [armv7-unknown-linux-musleabihf]="ARM, EABI5"
  [x86_64-pc-windows-gnu]="PE32+ executable (console) x86-64"
  [aarch64-apple-darwin]="Mach-O 64-bit arm64"
  [x86_64-apple-darwin]="Mach-O 64-bit x86_64"
)
# The oldest macOS each macOS binary runs on (Rust's own minimum for the target).
declare -A MACOS_MIN=([aarch64-apple-darwin]=11.0 [x86_64-apple-darwin]=10.12)
# release_name TARGET: the file a release ships for TARGET.
release_name() {
  case "$1" in
  *-windows-*) echo "status-check-$1.exe" ;;
  *) echo "status-check-$1" ;;
  esac
}
# The image's architectures (OCI names), and for each its binary, its OCI variant,
# Debian's name for it (busybox-static comes from Debian) and the emulator that
# runs its programs here (none for amd64).
IMAGE_ARCHES=(amd64 arm64 s390x ppc64le arm)
declare -A IMAGE_TARGET=(
  [amd64]="$MUSL_TARGET" [arm64]="$AARCH64_TARGET" [s390x]=s390x-unknown-linux-musl
  [ppc64le]=powerpc64le-unknown-linux-musl [arm]=armv7-unknown-linux-musleabihf
)
declare -A IMAGE_VARIANT=([arm64]=v8 [arm]=v7)
declare -A DEBIAN_ARCH=([amd64]=amd64 [arm64]=arm64 [s390x]=s390x [ppc64le]=ppc64el [arm]=armhf)
declare -A IMAGE_EMULATOR=(
  [arm64]=qemu-aarch64-static [s390x]=qemu-s390x-static [ppc64le]=qemu-ppc64le-static
  [arm]=qemu-arm-static
)

# ---------------------------------------------------------------- output

# step and info go to stderr: the build helpers run inside $(...), where
# stdout is their result.
step() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
warn() { printf '\n!!! WARNING: %s\n\n' "$*" >&2; }
die() {
  printf '\nFAILED: %s\n' "$*" >&2
  exit 1
}

# ok DESCRIPTION: prints a passed assertion and counts it.
PASSED=0
ok() {
  PASSED=$((PASSED + 1))
  printf '    ok: %s\n' "$*" >&2
}

# Human-readable size: 2048248 -> "2048248 bytes (1.95 MiB)".
human_size() {
  awk -v b="$1" 'BEGIN { printf "%d bytes (%.2f MiB)", b, b / 1048576 }'
}

# ---------------------------------------------------------------- installs

APT_UPDATED=""
# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep 'install ok installed' >/dev/null ||
      missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  info "apt-get install ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# rust_target TRIPLE [TOOLCHAIN]: adds a Rust standard library target when
# missing (to the default toolchain, or to TOOLCHAIN).
rust_target() {
  local tc=()
  [ -z "${2:-}" ] || tc=(--toolchain "$2")
  rustup target list --installed "${tc[@]}" | grep -x "$1" >/dev/null && return 0
  info "rustup target add $1 ${2:-}"
  rustup target add "${tc[@]}" "$1" >/dev/null 2>&1 || die "rustup target add $1 ${2:-} failed"
}

# need_release_toolchain: installs RELEASE_TOOLCHAIN (minimal profile) with
# rust-src, which -Z build-std compiles, when missing.
need_release_toolchain() {
  if ! rustup toolchain list | grep "^$RELEASE_TOOLCHAIN-" >/dev/null; then
    info "rustup toolchain install $RELEASE_TOOLCHAIN --profile minimal --component rust-src --no-self-update"
    rustup toolchain install "$RELEASE_TOOLCHAIN" --profile minimal --component rust-src \
      --no-self-update >&2 ||
      die "rustup toolchain install $RELEASE_TOOLCHAIN failed"
  fi
  rustup component list --installed --toolchain "$RELEASE_TOOLCHAIN" | grep -x rust-src >/dev/null ||
    rustup component add rust-src --toolchain "$RELEASE_TOOLCHAIN" >&2 ||
    die "rustup component add rust-src --toolchain $RELEASE_TOOLCHAIN failed"
}

# Python tools (check-jsonschema, cargo-zigbuild, ziglang) in one venv.
VENV="$TOOLS_DIR/venv"
# pip_tool PACKAGE==VERSION...: installs into the tools venv when missing.
pip_tool() {
  if [ ! -x "$VENV/bin/python" ]; then
    # Debian's python3 makes venvs only with python3-venv (ensurepip).
    if command -v dpkg-query >/dev/null; then apt_install python3-venv; fi
    info "python3 -m venv $VENV"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  local missing=() spec name
  for spec in "$@"; do
    name="${spec%%==*}"
    # An extra ("pkg[extra]==1.0") is not part of the name pip shows.
    [ "$("$VENV/bin/pip" show "${name%%[*}" 2>/dev/null | sed -n 's/^Version: //p')" = "${spec##*==}" ] ||
      missing+=("$spec")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  info "pip install ${missing[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${missing[@]}" ||
    die "pip install ${missing[*]} failed"
}

need_check_jsonschema() {
  pip_tool "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
  CHECK_JSONSCHEMA="$VENV/bin/check-jsonschema"
}

need_zigbuild() {
  pip_tool "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
  export PATH="$VENV/bin:$PATH"
}

# need_wine: Debian's Wine 8 and a prefix of the tools' own (made once, about 10 s),
# with the test-only ProcessPrng shim (scripts/wine/bcryptprimitives.c, built with
# mingw-w64) that Rust binaries need there. Exports WINEPREFIX and friends.
need_wine() {
  apt_install wine wine64 gcc-mingw-w64-x86-64
  export WINEPREFIX="$TOOLS_DIR/wine-prefix" WINEDEBUG=-all
  # The shim over Wine's own DLL; no Mono or Gecko installer prompts.
  export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree,mshtml="
  local dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    info "wineboot --init ($WINEPREFIX)"
    wineboot --init >/dev/null 2>&1 || die "wineboot --init failed"
    wineserver --wait 2>/dev/null || true
  fi
  if [ ! -f "$dll" ] || [ "$REPO_ROOT/scripts/wine/bcryptprimitives.c" -nt "$dll" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$dll" \
      "$REPO_ROOT/scripts/wine/bcryptprimitives.c" -ladvapi32 ||
      die "building the ProcessPrng shim failed"
  fi
}

# need_cargo_tool CRATE VERSION: `cargo install --locked CRATE@VERSION` into
# $CARGO_HOME/bin (put on PATH) unless `cargo <subcommand> --version` there
# already says VERSION. The subcommand is the crate name without "cargo-".
need_cargo_tool() {
  local crate="$1" version="$2" bin
  bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  export PATH="$bin:$PATH"
  if [ -x "$bin/$crate" ] && "$bin/$crate" "${crate#cargo-}" --version 2>/dev/null | grep -qw "$version"; then
    return 0
  fi
  info "cargo install --locked $crate@$version (compiles it once: a few minutes)"
  cargo install --quiet --locked "$crate@$version" >&2 || die "cargo install $crate@$version failed"
}

need_cargo_deny() { need_cargo_tool cargo-deny "$CARGO_DENY_VERSION"; }

# fetch_busybox ARCH: the static busybox of Debian's busybox-static package
# for the image architecture ARCH (IMAGE_ARCHES; DEBIAN_ARCH gives Debian's
# name), downloaded once (apt-get download; the architecture is added to
# dpkg's when foreign) and unpacked under TOOLS_DIR. Every image takes its
# shell from the same Debian version. Prints its path.
fetch_busybox() {
  local arch="${DEBIAN_ARCH[$1]:-$1}" dir="$TOOLS_DIR/busybox-static/$1" sudo="" deb
  if [ -x "$dir/bin/busybox" ]; then
    echo "$dir/bin/busybox"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: the image takes its busybox from Debian's busybox-static:$arch"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$(dpkg --print-architecture)" != "$arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    info "dpkg --add-architecture $arch"
    $sudo dpkg --add-architecture "$arch" || die "dpkg --add-architecture $arch failed"
    APT_UPDATED=""
  fi
  if [ -z "$APT_UPDATED" ]; then
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  local tmp
  tmp="$(mktemp -d)"
  info "apt-get download busybox-static:$arch"
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "busybox-static:$arch" >/dev/null) ||
    die "apt-get download busybox-static:$arch failed"
  deb="$(echo "$tmp"/busybox-static_*.deb)"
  mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir" || die "dpkg-deb -x $deb failed"
  rm -rf "$tmp"
  [ -x "$dir/bin/busybox" ] || die "busybox-static:$arch has no /bin/busybox"
  echo "$dir/bin/busybox"
}

# CycloneDX's own Python library, for its JSON schema validator: the schemas
# (1.5 and the SPDX licence list) ship in the package, so it validates offline.
need_cyclonedx_validator() {
  pip_tool "cyclonedx-python-lib[json-validation]==$CYCLONEDX_PYTHON_LIB_VERSION"
}

# node_major: the major version of the `node` on PATH, or 0 without one.
node_major() {
  local v
  v="$(node --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\).*/\1/p')"
  echo "${v:-0}"
}

# need_node: Node.js (NODE_MIN_MAJOR or later) and npm, for gitlab-ci-local;
# from Debian's nodejs and npm packages when either is missing (Debian 12 has
# Node 18.19). A newer Node already on PATH (NodeSource, nvm) is kept.
NODE_MIN_MAJOR=18
need_node() {
  if [ "$(node_major)" -lt "$NODE_MIN_MAJOR" ] || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  [ "$(node_major)" -ge "$NODE_MIN_MAJOR" ] ||
    die "gitlab-ci-local needs Node.js $NODE_MIN_MAJOR or later; node on PATH is $(node --version 2>/dev/null || echo missing)"
  command -v npm >/dev/null || die "npm not found after apt-get install npm"
}

need_gitlab_ci_local() {
  GITLAB_CI_LOCAL="$TOOLS_DIR/npm/node_modules/.bin/gitlab-ci-local"
  if [ ! -x "$GITLAB_CI_LOCAL" ] ||
    [ "$("$GITLAB_CI_LOCAL" --version 2>/dev/null)" != "$GITLAB_CI_LOCAL_VERSION" ]; then
    need_node
    info "npm install gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION"
    mkdir -p "$TOOLS_DIR/npm"
    npm install --prefix "$TOOLS_DIR/npm" --no-audit --no-fund --loglevel=error \
      "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >/dev/null || die "npm install gitlab-ci-local failed"
  fi
  # gitlab-ci-local copies the project with rsync and reads the git remote.
  apt_install rsync git
}

# ---------------------------------------------------------------- builds

# The static x86_64 release binary. Prints its path.
build_static() {
  build_release "$MUSL_TARGET"
}

# build_release TARGET [SOURCE_DIR]: the release binary for TARGET (release profile,
# RELEASE_TOOLCHAIN and its flags), built from SOURCE_DIR (default: this checkout;
# another copy of it shares the target directory, so only status-check itself is
# compiled again) when out of date. Prints its path. How each kind of target is
# linked:
#
#   x86_64-unknown-linux-musl  musl-gcc (Debian musl-tools) and Rust's own musl
#   other *-linux-musl*        zig as the cross C compiler and linker
#                              (cargo-zigbuild); the nightly has no prebuilt std
#                              for them, and build-std needs none: zig brings
#                              musl's crt objects and libc, so rustc must not
#                              look for its own (link-self-contained=no). rustc
#                              still names the target's library directory to the
#                              linker, which warns when it is missing: it is
#                              made, empty.
#   x86_64-pc-windows-gnu      Debian's mingw-w64; no timestamp in the PE header
#                              (reproducible), unwind tables kept (Windows' SEH
#                              needs them)
#   *-apple-darwin             zig against its bundled macOS stubs (libSystem
#                              only: no SDK here), MACOS_MIN as the deployment
#                              target
release_path() {
  local exe=status-check
  case "$1" in *-windows-*) exe=status-check.exe ;; esac
  echo "$RELEASE_TARGET_DIR/$1/$1/release/$exe"
}
# release_prepare TARGET: installs what TARGET's release build needs (apt, rustup,
# PyPI: not safe to run twice at once, so build_releases runs it first, in turn).
release_prepare() {
  need_release_toolchain
  case "$1" in
  x86_64-unknown-linux-musl)
    apt_install musl-tools
    # The x86_64 musl std links Rust's own musl (crt objects, libc.a) from it.
    rust_target "$1" "$RELEASE_TOOLCHAIN"
    ;;
  *-linux-musl*)
    need_zigbuild
    mkdir -p "$(rustc "+$RELEASE_TOOLCHAIN" --print sysroot)/lib/rustlib/$1/lib"
    ;;
  *-windows-gnu) apt_install gcc-mingw-w64-x86-64 ;;
  *-apple-darwin) need_zigbuild ;;
  *) die "build_release: unknown target $1" ;;
  esac
}

build_release() {
  local target="$1" src="${2:-$REPO_ROOT}" flags="$RELEASE_RUSTFLAGS" cargo=(build) env=()
  release_prepare "$target"
  case "$target" in
  x86_64-unknown-linux-musl) env=(CC_x86_64_unknown_linux_musl=musl-gcc) ;;
  *-linux-musl*)
    cargo=(zigbuild)
    flags="$flags, \"-C\", \"link-self-contained=no\", \"-C\", \"relocation-model=static\""
    ;;
  *-windows-gnu) flags='"-C", "link-arg=-Wl,--no-insert-timestamp"' ;;
  *-apple-darwin)
    cargo=(zigbuild)
    env=(MACOSX_DEPLOYMENT_TARGET="${MACOS_MIN[$target]}")
    flags='"-C", "link-arg=-Wl,-S"'
    ;;
  esac
  local log
  log="$(mktemp)"
  if ! (cd "$src" && env "${env[@]}" cargo "+$RELEASE_TOOLCHAIN" "${cargo[@]}" --quiet --release \
    --locked --target "$target" -p status-check --target-dir "$RELEASE_TARGET_DIR/$target" "${RELEASE_CARGO_FLAGS[@]}" \
    --config "target.$target.rustflags = [$flags]") 2>"$log"; then
    cat "$log" >&2
    rm -f "$log"
    die "cargo +$RELEASE_TOOLCHAIN ${cargo[*]} --target $target failed"
  fi
  # No SDK here for macOS: rustc's probe for one (xcrun) warns, harmlessly.
  grep -v -e xcrun -e 'the SDK is needed' -e 'Xcode installation' -e '^ *|$' -e '^ *= ' \
    -e '^$' "$log" >&2 || true
  rm -f "$log"
  local bin
  bin="$(release_path "$target")"
  [ -x "$bin" ] || die "cargo built no $bin"
  echo "$bin"
}

# release_forget TARGET: status-check's own build for TARGET is removed (std and the
# dependencies stay): the next build_release compiles and links it again.
release_forget() {
  local dir="$RELEASE_TARGET_DIR/$1"
  # cargo clean refuses a target directory without its cache tag, and the macOS
  # builds (cargo-zigbuild) leave none: the one cargo writes, when missing.
  [ -f "$dir/CACHEDIR.TAG" ] ||
    printf '%s\n' 'Signature: 8a477f597d28d172789f06886806bc55' \
      '# This file is a cache directory tag created by cargo.' \
      '# For information about cache directory tags see https://bford.info/cachedir/' \
      >"$dir/CACHEDIR.TAG"
  cargo "+$RELEASE_TOOLCHAIN" clean --quiet --release --target "$1" -p status-check \
    --target-dir "$dir" || die "cargo clean -p status-check --target $1 failed"
}

# build_releases SOURCE_DIR TARGET...: build_release of each, RELEASE_JOBS at a time
# (default: one per core). The link-time optimisation of the last crate, most of a
# build that only compiles status-check again, runs on one core; each target has its
# own target directory, so that two builds do not wait for each other's lock.
build_releases() {
  local src="$1" target running=0 failed=0
  shift
  for target in "$@"; do release_prepare "$target"; done
  for target in "$@"; do
    if [ "$running" -ge "${RELEASE_JOBS:-$(nproc)}" ]; then
      wait -n || failed=1
      running=$((running - 1))
    fi
    (build_release "$target" "$src" >/dev/null) &
    running=$((running + 1))
  done
  while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
  done
  [ "$failed" = 0 ] || die "a release build failed (its error is above)"
}

# The same binary from the stable toolchain and its precompiled std: what a
# plain `cargo build --release --target x86_64-unknown-linux-musl` gives, for
# comparison (not shipped). Prints its path.
build_static_stable() {
  apt_install musl-tools
  rust_target "$MUSL_TARGET"
  (cd "$REPO_ROOT" && CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --quiet --release --locked --target "$MUSL_TARGET" -p status-check) >&2 ||
    die "cargo build --target $MUSL_TARGET failed"
  echo "$CARGO_TARGET_DIR/$MUSL_TARGET/release/status-check"
}

# The static aarch64 release binary. Prints its path.
build_static_aarch64() {
  build_release "$AARCH64_TARGET"
}

# status-check as `cargo build` makes it (debug): what this machine's suites run.
# Prints its path.
build_debug() {
  (cd "$REPO_ROOT" && cargo build --quiet --locked -p status-check --bin status-check) >&2 ||
    die "cargo build -p status-check failed"
  echo "$CARGO_TARGET_DIR/debug/status-check"
}

# The fake GitLab (debug build is enough). Prints its path.
build_fake_gitlab() {
  (cd "$REPO_ROOT" && cargo build --quiet --locked -p fake-gitlab --bin fake-gitlab) >&2 ||
    die "cargo build -p fake-gitlab failed"
  echo "$CARGO_TARGET_DIR/debug/fake-gitlab"
}

# The fake GitLab as a static x86_64 binary (release profile, stable
# toolchain, musl-gcc for ring's C): what the pipeline's component tests run in
# their busybox image (scripts/e2e-kit). Prints its path.
build_fake_gitlab_static() {
  apt_install musl-tools
  rust_target "$MUSL_TARGET"
  (cd "$REPO_ROOT" && CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --quiet --release --locked --target "$MUSL_TARGET" -p fake-gitlab --bin fake-gitlab) >&2 ||
    die "cargo build -p fake-gitlab --target $MUSL_TARGET failed"
  echo "$CARGO_TARGET_DIR/$MUSL_TARGET/release/fake-gitlab"
}

# ---------------------------------------------------------------- fake GitLab

# start_fake_gitlab LOGFILE ARGS...: starts the fake GitLab on 127.0.0.1 in the
# background and sets FAKE_PID and FAKE_URL (http://127.0.0.1:PORT). The caller
# stops it with stop_fake_gitlab (a trap on EXIT is set up by with_cleanup).
FAKE_PID=""
FAKE_URL=""
start_fake_gitlab() {
  local log="$1"
  shift
  local fake out
  fake="$(build_fake_gitlab)"
  out="$(mktemp)"
  "$fake" --listen 127.0.0.1:0 --log "$@" >"$out" 2>"$log" &
  FAKE_PID=$!
  local i
  for i in $(seq 1 100); do
    FAKE_URL="$(sed -n 's/^listening on //p' "$out")"
    [ -n "$FAKE_URL" ] && break
    kill -0 "$FAKE_PID" 2>/dev/null || die "fake-gitlab exited: $(cat "$log")"
    sleep 0.1
    [ "$i" -lt 100 ] || die "fake-gitlab did not start within 10s"
  done
  rm -f "$out"
  info "fake GitLab at $FAKE_URL (pid $FAKE_PID)"
}

stop_fake_gitlab() {
  if [ -n "$FAKE_PID" ]; then
    kill "$FAKE_PID" 2>/dev/null || true
    wait "$FAKE_PID" 2>/dev/null || true
    FAKE_PID=""
  fi
}

# The checks of MR !7 of project 42 as "name=status" lines, sorted by name,
# read from the API with the fake Developer token (python3: curl is not on a
# bare machine).
fake_statuses() {
  python3 - "$FAKE_URL/api/v4/projects/42/merge_requests/7/status_checks" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"PRIVATE-TOKEN": "glpat-dev-0000000000000000001"})
checks = json.load(urllib.request.urlopen(req, timeout=10))
for check in sorted(checks, key=lambda c: c["name"]):
    print(f"{check['name']}={check['status']}")
EOF
}

# fake_shows "name=status": true when MR !7 lists that check with that status.
# (Reads the whole list first: `fake_statuses | grep -q` under pipefail fails
# whenever grep exits before python has written everything.)
fake_shows() {
  local all
  all="$(fake_statuses)" || die "could not read the fake GitLab's statuses"
  grep -qxF -- "$1" <<<"$all"
}

# The fake tokens of crates/fake-gitlab/src/world.rs: no log may show them.
FAKE_TOKENS=(
  glpat-dev-0000000000000000001
  glpat-maint-000000000000000002
  glpat-rep-0000000000000000003
  glpat-guest-000000000000000004
  glpat-proj-0000000000000000005
  glcbt-job-00000000000000000006
  glpat-expired-0000000000000007
)

# assert_no_tokens FILE...: fails when any fake token appears in the files.
assert_no_tokens() {
  local t
  for t in "${FAKE_TOKENS[@]}"; do
    if grep -qF -- "$t" "$@"; then
      grep -nF -- "$t" "$@" >&2 || true
      die "a token was printed in $*"
    fi
  done
  ok "no token in $(basename -a "$@" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- cleanup

CLEANUP=()
run_cleanup() {
  local c
  stop_fake_gitlab
  for c in "${CLEANUP[@]+"${CLEANUP[@]}"}"; do eval "$c" || true; done
}
trap run_cleanup EXIT
