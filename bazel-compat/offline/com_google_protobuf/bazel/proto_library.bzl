"""Offline stand-in for @com_google_protobuf//bazel:proto_library.bzl (Bazel 4: native)."""

def proto_library(**kwargs):
    native.proto_library(**kwargs)
