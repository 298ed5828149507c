// ArenaMessageAllocator: lets the callback API place each call's request
// and response on one protobuf Arena, so that parsing a request (a batch
// of 100 items holds hundreds of strings) and building its response cost
// bump allocations and one free instead of a malloc/free per field.
//
// Thread safety: AllocateMessages() may be called concurrently; each
// holder belongs to one call.
#ifndef IMPORTGATE_SERVER_SERVICE_ARENA_ALLOCATOR_H_
#define IMPORTGATE_SERVER_SERVICE_ARENA_ALLOCATOR_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace importgate::service {

template <typename Request, typename Response>
class ArenaMessageAllocator final
    : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(initial_block_)) {
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(char* block) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = sizeof(initial_block_);
      return options;
    }

    // A unary call's request and response fit here; no malloc at all.
    alignas(8) char initial_block_[4096];
    google::protobuf::Arena arena_;
  };
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_ARENA_ALLOCATOR_H_
