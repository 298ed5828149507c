"""Offline stand-in for @com_google_protobuf//bazel:cc_proto_library.bzl (Bazel 4: native)."""

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)
