#!/usr/bin/env bash
# Proves the Bazel files offline with Debian's Bazel 4.2.3: a separate
# workspace (bazel-compat/consumer) depends on this checkout as
# "@importgate", builds its own binary against "@importgate//client" and
# builds the checkout example "@importgate//client/examples:..."; then both
# run against a real importgate-server. Nothing is downloaded: every
# repository Bazel would fetch is overridden (see README.md here), and the
# build runs in a network namespace with only loopback when `unshare -n`
# is available.
# usage: test_offline.sh SERVER_BINARY
set -euo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=$(mktemp -d)
trap 'if [ -n "${server_pid:-}" ]; then kill "$server_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# The stand-in repositories, completed with files from the system.
cp -r "$here/offline" "$work/offline"
mkdir -p "$work/offline/com_google_protobuf/google/protobuf"
cp /usr/include/google/protobuf/{duration,timestamp}.proto \
   "$work/offline/com_google_protobuf/google/protobuf/"
absl="$work/offline/com_google_absl"
mkdir -p "$absl"
echo 'workspace(name = "com_google_absl")' > "$absl/WORKSPACE"
touch "$absl/BUILD"
# package:target -> pkg-config module of Debian's Abseil.
for spec in container:flat_hash_map:absl_raw_hash_set hash:hash:absl_hash \
            status:statusor:absl_statusor strings:strings:absl_strings \
            time:time:absl_time flags:flag:absl_flags flags:parse:absl_flags_parse; do
  IFS=: read -r pkg target module <<<"$spec"
  mkdir -p "$absl/absl/$pkg"
  libs=$(pkg-config --libs "$module" | sed 's/ *$//; s/\([^ ]*\)/"\1",/g')
  printf 'cc_library(name = "%s", linkopts = [%s], visibility = ["//visibility:public"])\n' \
    "$target" "$libs" >> "$absl/absl/$pkg/BUILD"
done

cp -r "$here/consumer" "$work/consumer"
# The same outside program the CMake packaging test builds.
cp "$repo/tests/packaging/consumer/main.cc" "$work/consumer/consumer.cc"
cat >> "$work/consumer/WORKSPACE" <<EOW
local_repository(name = "importgate", path = "$repo")
EOW

bazel=(bazel-4 --batch --output_user_root="$work/root" --noworkspace_rc)
flags=(
  --override_repository=platforms=/usr/share/bazel/platforms
  --override_repository=rules_java=/usr/share/bazel/rules/java
  --override_repository=rules_cc="$work/offline/rules_cc"
  --override_repository=com_google_protobuf="$work/offline/com_google_protobuf"
  --override_repository=com_github_grpc_grpc="$work/offline/com_github_grpc_grpc"
  --override_repository=com_google_absl="$work/offline/com_google_absl"
  --override_repository=remote_coverage_tools="$work/offline/remote_coverage_tools"
  --cxxopt=-std=c++20 --host_cxxopt=-std=c++20
)
targets=(//:consumer @importgate//client/examples:checkout_service_example)
offline=()
if unshare -n true 2>/dev/null; then offline=(unshare -n); fi
if ! (cd "$work/consumer" &&
      "${offline[@]}" "${bazel[@]}" build "${flags[@]}" "${targets[@]}") \
      >"$work/bazel.log" 2>&1; then
  grep -v "linux-sandbox" "$work/bazel.log" | tail -60
  exit 1
fi
echo "bazel build (offline: ${offline[*]:-no unshare}): $(grep -c . "$work/bazel.log") log lines, OK"
bin="$work/consumer/bazel-bin"

# Run both against a real server.
"$server_bin" --listen=127.0.0.1:0 --bundle="$repo/policies/default" \
  --iso_codes_dir=/usr/share/iso-codes/json 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*serving on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log"; exit 1; }
out=$("$bin/consumer" "127.0.0.1:$port")
echo "bazel consumer: $out"
[[ $out == "allowed=0 reason=CROSS_BORDER_CATEGORY_CLOSED" ]]
out=$("$bin/external/importgate/client/examples/checkout_service_example" --target="127.0.0.1:$port")
echo "$out"
grep -q "LAMP-1: OK revision 1" <<<"$out"
grep -q "cart: REFUSE PAYMENT" <<<"$out"
echo "bazel offline build: OK"
