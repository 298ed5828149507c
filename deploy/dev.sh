#!/usr/bin/env bash
# importgate developer entry point: installs what is missing (Debian 12, as
# root), builds, and runs the server or the tests.
#
#   bash deploy/dev.sh run    # install, build, serve policies/default on 127.0.0.1:50051
#                             # (metrics on http://127.0.0.1:9464/metrics)
#   bash deploy/dev.sh test   # install, build, run every test (what CI runs)
#   bash deploy/dev.sh deps   # only install the Debian packages
#   bash deploy/dev.sh asan   # install, build only the ASan+UBSan tree (bench/fuzz.sh)
#
# Environment: BUILD_DIR (default build; the ThreadSanitizer tree is
# BUILD_DIR-tsan, the AddressSanitizer + UndefinedBehaviorSanitizer tree with
# the fuzz targets BUILD_DIR-asan), JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

# Every package the build, the server and the tests need; README lists why.
PACKAGES=(
  g++ cmake ninja-build pkg-config
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc
  libprotobuf-dev libabsl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iso-codes grpc-proto openssl
  bazel-bootstrap bazel-platforms bazel-rules-java
  clang-14 libclang-rt-14-dev
  prometheus-cpp-dev libcurl4-openssl-dev prometheus librdkafka-dev
  nginx-light docker-registry
)

log() { printf 'dev.sh: %s\n' "$*" >&2; }

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  # npm fetches buf; any npm will do (some machines carry NodeSource's).
  command -v npm >/dev/null || missing+=(nodejs npm)
  # deploy/check.sh renders the manifests with kubectl kustomize; any
  # kubectl will do (some machines carry their own, which conflicts with
  # Debian's kubernetes-client).
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      log "not root: run as root (or install the packages above by hand)"
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # buf (protos lint) and buildifier (Bazel files), from the npm registry
  # into the build tree.
  if [ ! -x "$BUILD_DIR/tools/node_modules/.bin/buf" ] ||
     [ ! -x "$BUILD_DIR/tools/node_modules/.bin/buildifier" ]; then
    log "installing @bufbuild/buf and @bazel/buildifier (npm) into $BUILD_DIR/tools"
    mkdir -p "$BUILD_DIR/tools"
    npm install --silent --no-audit --no-fund --prefix "$BUILD_DIR/tools" \
      @bufbuild/buf@1 @bazel/buildifier >/dev/null \
      || { log "npm install of buf/buildifier failed"; exit 1; }
  fi
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIMPORTGATE_BUF="$PWD/$BUILD_DIR/tools/node_modules/.bin/buf" \
    -DIMPORTGATE_BUILDIFIER="$PWD/$BUILD_DIR/tools/node_modules/.bin/buildifier" \
    "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

# The concurrency tests again, built with ThreadSanitizer in their own tree;
# CTest in the main tree runs them (reload_concurrency_tsan,
# client_concurrency_tsan).
build_tsan() {
  cmake -S . -B "$BUILD_DIR-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS=-fsanitize=thread \
    -DIMPORTGATE_BUF="$PWD/$BUILD_DIR/tools/node_modules/.bin/buf" >/dev/null
  cmake --build "$BUILD_DIR-tsan" -j "$JOBS" \
    --target reload_concurrency_test client_concurrency_test
}

# The unit and service suites again, and the libFuzzer targets of
# tests/fuzz, built by clang with AddressSanitizer and
# UndefinedBehaviorSanitizer in their own tree. Every object also gets
# -fsanitize=fuzzer-no-link (coverage for libFuzzer), so that the fuzz
# targets and the suites come from one tree. CTest in the main tree runs
# them (<suite>_asan, fuzz_<target>). -O1 and line tables only (the
# sanitizers' usual setting; it keeps the added build time down), and no
# NDEBUG, so assertions run too.
ASAN_SUITES=(common_test refdata_test policy_test compiler_test hs_index_test
  eval_test bundle_test reload_concurrency_test metrics_test decisionlog_test
  response_encoder_test service_test client_test client_concurrency_test)
FUZZ_TARGETS=(request_fuzzer bundle_fuzzer artifact_fuzzer)
build_asan() {
  local san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  san+=" -fno-omit-frame-pointer -fsanitize=fuzzer-no-link"
  cmake -S . -B "$BUILD_DIR-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS="$san" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DIMPORTGATE_FUZZ=ON -DIMPORTGATE_BUILD_BENCH=OFF \
    -DIMPORTGATE_BUF="$PWD/$BUILD_DIR/tools/node_modules/.bin/buf" >/dev/null
  cmake --build "$BUILD_DIR-asan" -j "$JOBS" \
    --target "${ASAN_SUITES[@]}" "${FUZZ_TARGETS[@]}"
}

case "${1:-}" in
  deps) install_deps ;;
  asan)
    install_deps
    build_asan
    ;;
  run)
    install_deps
    build
    shift
    # Metrics on loopback (a later --metrics_listen in "$@" wins).
    exec "$BUILD_DIR/server/importgate-server" --metrics_listen=127.0.0.1:9464 "$@"
    ;;
  test)
    install_deps
    build_tsan
    build_asan
    build -DIMPORTGATE_TSAN_TEST="$PWD/$BUILD_DIR-tsan/tests/reload_concurrency_test" \
      -DIMPORTGATE_TSAN_CLIENT_TEST="$PWD/$BUILD_DIR-tsan/tests/client_concurrency_test" \
      -DIMPORTGATE_ASAN_DIR="$PWD/$BUILD_DIR-asan"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
    ;;
  *)
    echo "usage: bash deploy/dev.sh run|test|deps|asan" >&2
    exit 2
    ;;
esac
