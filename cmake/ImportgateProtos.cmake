# importgate_proto_library(NAME <target>
#                          IMPORT_DIRS <dir>...
#                          PROTOS <path relative to an import dir>...
#                          [GRPC_ONLY] [LINK <targets>...])
#
# Generates C++ from .proto files with the system protoc and wraps the result
# in a static library. Without GRPC_ONLY it generates the messages
# (*.pb.cc); with GRPC_ONLY only the gRPC stubs and services
# (*.grpc.pb.cc) through grpc_cpp_plugin, and LINK must name the messages
# library, as Bazel's cc_grpc_library(grpc_only = True) does. Generated code
# is compiled without our -Werror: it is not ours to fix.
find_program(IMPORTGATE_PROTOC protoc REQUIRED)
find_program(IMPORTGATE_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(importgate_proto_library)
  cmake_parse_arguments(ARG "GRPC_ONLY" "NAME" "IMPORT_DIRS;PROTOS;LINK" ${ARGN})
  set(out_dir "${CMAKE_BINARY_DIR}/gen")
  set(srcs)
  set(include_flags)
  foreach(dir IN LISTS ARG_IMPORT_DIRS)
    list(APPEND include_flags "-I${dir}")
  endforeach()
  foreach(proto IN LISTS ARG_PROTOS)
    set(abs_proto "")
    foreach(dir IN LISTS ARG_IMPORT_DIRS)
      if(NOT abs_proto AND EXISTS "${dir}/${proto}")
        set(abs_proto "${dir}/${proto}")
      endif()
    endforeach()
    if(NOT abs_proto)
      message(FATAL_ERROR "importgate_proto_library: ${proto} not found in ${ARG_IMPORT_DIRS}")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    if(ARG_GRPC_ONLY)
      set(outputs "${out_dir}/${stem}.grpc.pb.cc" "${out_dir}/${stem}.grpc.pb.h")
      set(gen_args "--grpc_out=${out_dir}"
                   "--plugin=protoc-gen-grpc=${IMPORTGATE_GRPC_CPP_PLUGIN}")
    else()
      set(outputs "${out_dir}/${stem}.pb.cc" "${out_dir}/${stem}.pb.h")
      set(gen_args "--cpp_out=${out_dir}")
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}"
      COMMAND ${IMPORTGATE_PROTOC} ${include_flags} ${gen_args} "${abs_proto}"
      DEPENDS "${abs_proto}" ${IMPORTGATE_PROTOC}
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(GET outputs 0 src)
    list(APPEND srcs "${src}")
  endforeach()
  add_library(${ARG_NAME} STATIC ${srcs})
  target_include_directories(${ARG_NAME} PUBLIC
    "$<BUILD_INTERFACE:${out_dir}>" "$<INSTALL_INTERFACE:include>")
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf ${ARG_LINK})
  if(ARG_GRPC_ONLY)
    target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
endfunction()
