"""Offline stand-in for gRPC's cc_grpc_library(grpc_only = True).

Runs Debian's protoc with grpc_cpp_plugin over the proto_library's sources
and wraps the generated *.grpc.pb.{h,cc} in a cc_library, so that
`#include "importgate/v1/import_policy.grpc.pb.h"` works as with the real
rule.
"""

def _grpc_sources_impl(ctx):
    info = ctx.attr.proto[ProtoInfo]
    root = info.proto_source_root
    outputs = []
    for src in info.direct_sources:
        rel = src.path
        if root and root != "." and rel.startswith(root + "/"):
            rel = rel[len(root) + 1:]
        stem = rel[:-len(".proto")]
        outputs.append(ctx.actions.declare_file("_grpc/" + stem + ".grpc.pb.h"))
        outputs.append(ctx.actions.declare_file("_grpc/" + stem + ".grpc.pb.cc"))
    out_root = outputs[0].path[:outputs[0].path.index("/_grpc/") + len("/_grpc")]
    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin")
    args.add("--grpc_out=" + out_root)
    for path in info.transitive_proto_path.to_list():
        args.add("-I" + path)
    args.add("-I.")
    args.add_all(info.direct_sources)
    ctx.actions.run(
        executable = "/usr/bin/protoc",
        arguments = [args],
        inputs = info.transitive_sources,
        outputs = outputs,
        mnemonic = "GrpcCppGen",
    )
    return [
        DefaultInfo(files = depset(outputs)),
        OutputGroupInfo(
            headers = depset([f for f in outputs if f.path.endswith(".h")]),
            sources = depset([f for f in outputs if f.path.endswith(".cc")]),
        ),
    ]

_grpc_sources = rule(
    implementation = _grpc_sources_impl,
    attrs = {"proto": attr.label(providers = [ProtoInfo])},
)

def cc_grpc_library(name, srcs, deps, grpc_only = False, **kwargs):
    if not grpc_only or len(srcs) != 1:
        fail("this stand-in supports cc_grpc_library(grpc_only = True) with one proto_library")
    _grpc_sources(name = name + "_gen", proto = srcs[0])
    for group in ["headers", "sources"]:
        native.filegroup(
            name = name + "_" + group,
            srcs = [":" + name + "_gen"],
            output_group = group,
        )
    native.cc_library(
        name = name,
        srcs = [":" + name + "_sources"],
        hdrs = [":" + name + "_headers"],
        includes = ["_grpc"],
        deps = deps + ["@com_github_grpc_grpc//:grpc++"],
        **kwargs
    )
