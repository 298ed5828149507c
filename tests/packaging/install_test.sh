#!/usr/bin/env bash
# Installs the build tree into a temporary prefix and builds an outside
# project against it twice: with CMake's find_package(importgate) and with
# pkg-config. Each consumer must run and print the fail-closed fallback
# (nothing listens on its target).
# usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/importgate/client/client.h"
test -f "$work/prefix/lib/cmake/importgate/importgateConfig.cmake"

cmake -S "$src/tests/packaging/consumer" -B "$work/cmake" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
out=$("$work/cmake/consumer")
echo "cmake consumer: $out"
[[ $out == "allowed=0 reason=IMPORTGATE_UNAVAILABLE_FAIL_CLOSED" ]]

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
c++ -std=c++20 "$src/tests/packaging/consumer/main.cc" -o "$work/pc-consumer" \
  $(pkg-config --cflags --libs importgate)
out=$("$work/pc-consumer")
echo "pkg-config consumer: $out"
[[ $out == "allowed=0 reason=IMPORTGATE_UNAVAILABLE_FAIL_CLOSED" ]]
