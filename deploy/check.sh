#!/usr/bin/env bash
# Offline checks of deploy/, as far as the tools here allow (no image
# builder and no cluster run where the tests run). CTest runs it as
# deploy_check:
#   bash deploy/check.sh BUILD_DIR
# 1. The container image's runtime packages (deploy/container/Dockerfile,
#    between the runtime-packages markers) name the Debian package of every
#    shared library the built server and tool need (readelf NEEDED, mapped
#    with dpkg -S), libc6 included.
# 2. Both Kubernetes overlays render with kubectl kustomize (Debian 12's
#    kubernetes-client, or any kubectl), given placeholder bundle and key
#    files, into a Namespace, a Deployment, a headless Service, a
#    PodDisruptionBudget and the ConfigMaps the Deployment mounts.
# 3. Every --flag the rendered Deployment passes is one the server knows
#    (its --help), and the probes ask for health names the server serves.
# The e2e test HotReloadTest.TheKubernetesDeploymentServesFromAConfigMapVolume
# runs the Deployment's arguments against a kubelet-style volume.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
server=$build/server/importgate-server
tool=$build/server/importgate
fail() { echo "deploy/check.sh: FAIL: $*" >&2; exit 1; }
[ -x "$server" ] && [ -x "$tool" ] || fail "build $server and $tool first"

# 1. Build packages: every package deploy/dev.sh installs that the
# server's build needs (compilers, CMake, the -dev libraries, the protos)
# is in the image's build stage.
build_listed=$(sed -n '/build-packages-begin/,/build-packages-end/p' deploy/container/Dockerfile |
  grep -v '^#' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
dev_packages=$(sed -n '/^PACKAGES=(/,/^)/p' deploy/dev.sh | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$')
for package in $dev_packages; do
  case $package in
    # Tests, tools and other builds only: not the server's build.
    libgtest-dev|libgmock-dev|libbenchmark-dev|iso-codes|openssl|bazel-*|clang-14|libclang-rt-14-dev|prometheus|nginx-light|docker-registry) continue ;;
  esac
  grep -qx "$package" <<<"$build_listed" ||
    fail "deploy/dev.sh installs $package for the build; the Dockerfile's build stage does not"
done
echo "deploy/check.sh: the image's build stage has every package the server's build needs"

# 1b. Runtime packages.
listed=$(sed -n '/runtime-packages-begin/,/runtime-packages-end/p' deploy/container/Dockerfile |
  grep -v '^#' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
for binary in "$server" "$tool"; do
  for lib in $(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    path=$(ldd "$binary" | awk -v lib="$lib" '$1 == lib {print $3}')
    [ -n "$path" ] || fail "$binary: $lib not found by ldd"
    package=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null) ||
      fail "$lib ($path) belongs to no Debian package"
    package=${package%%:*}
    grep -qx "$package" <<<"$listed" ||
      fail "$lib comes from $package, which deploy/container/Dockerfile does not install"
  done
done
echo "deploy/check.sh: the image's runtime packages cover every library the binaries need"

# 2. The manifests render.
command -v kubectl >/dev/null || fail "kubectl is missing (Debian package kubernetes-client)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r deploy/kubernetes "$work/"
k=$work/kubernetes
mkdir -p "$k/configmap/bundle" "$k/configmap/keys" "$k/remote/keys"
"$tool" key generate --private "$work/key.pem" --public "$k/configmap/keys/bundle-signing.pub.pem" >/dev/null
cp "$k/configmap/keys/bundle-signing.pub.pem" "$k/remote/keys/"
cp "$k/configmap/keys/bundle-signing.pub.pem" "$k/remote/keys/bundles-ca.pem"
"$tool" bundle build policies/default -o "$k/configmap/bundle/marketplace-id.igb" >/dev/null
"$tool" bundle sign "$k/configmap/bundle/marketplace-id.igb" --key "$work/key.pem" >/dev/null
help=$("$server" --help 2>&1 || true)
for overlay in configmap remote; do
  rendered=$(kubectl kustomize "$k/$overlay" 2>"$work/stderr") ||
    fail "kubectl kustomize deploy/kubernetes/$overlay: $(cat "$work/stderr")"
  for kind in Namespace Deployment Service PodDisruptionBudget ConfigMap; do
    grep -q "^kind: $kind$" <<<"$rendered" || fail "$overlay: no $kind rendered"
  done
  grep -q "clusterIP: None" <<<"$rendered" || fail "$overlay: the Service is not headless"
  # A ConfigMap holds at most 1 MiB (applied server-side; see docs/operations.md).
  size=$(wc -c <<<"$rendered")
  [ "$size" -lt $((1024 * 1024)) ] || fail "$overlay: $size bytes rendered, over a ConfigMap's 1 MiB"
  grep -q "readOnlyRootFilesystem: true" <<<"$rendered" || fail "$overlay: root filesystem writable"
  grep -q "runAsNonRoot: true" <<<"$rendered" || fail "$overlay: may run as root"
  # 3. Flags and health names.
  flags=$(grep -oE -- '^ *- --[a-z_]+' <<<"$rendered" | sed 's/^ *- --//' | sort -u)
  [ -n "$flags" ] || fail "$overlay: no arguments rendered"
  for flag in $flags; do
    grep -q -- "--$flag " <<<"$help" || fail "$overlay: --$flag is not a flag of importgate-server"
  done
  grep -q -- "--bundle=" <<<"$rendered" || fail "$overlay: no --bundle"
  for mounted in $(grep -oE 'name: importgate-[a-z]+' <<<"$rendered" | sort -u | cut -d' ' -f2); do
    grep -qE "^  name: $mounted$" <<<"$rendered" || fail "$overlay: ConfigMap $mounted is mounted but not made"
  done
  services=$(grep -A3 -E '^ *grpc:$' <<<"$rendered" | sed -n 's/^ *service: *//p' | tr -d '"' | sort -u)
  # The server's own health names (server/app/server.h).
  served=$(sed -n 's/^inline constexpr char k[A-Za-z]*HealthName\[\] = "\(.*\)";/\1/p' server/app/server.h)
  for service in $services; do
    grep -qx "$service" <<<"$served" ||
      fail "$overlay: a probe asks for health name '$service', which the server does not serve"
  done
  grep -qE '^ *service: ""' <<<"$rendered" || fail "$overlay: no readiness probe on the health name \"\""
  echo "deploy/check.sh: deploy/kubernetes/$overlay renders; its flags and probes are the server's"
done
