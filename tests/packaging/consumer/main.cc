// An outside program that asks importgate, through the client SDK, about a
// cross-border T-shirt into Indonesia and prints the answer. Built against
// the installed SDK (tests/packaging) and by Bazel against
// "@importgate//client" (bazel-compat). With no server at the target it must
// still answer, with the fail-closed fallback.
#include <cstdio>

#include "importgate/client/client.h"

int main(int argc, char** argv) {
  importgate::client::ClientOptions options;
  options.target = argc > 1 ? argv[1] : "127.0.0.1:1";
  auto client = importgate::client::Client::Create(options);
  if (!client.ok()) return 2;
  importgate::v1::IsImportAllowedRequest request;
  request.mutable_item()->set_hs_code("6109.10");
  request.mutable_seller()->set_kind(importgate::v1::SELLER_KIND_CROSS_BORDER);
  request.set_destination_country("ID");
  request.set_channel(importgate::v1::CHANNEL_CHECKOUT);
  auto result = client->IsImportAllowed(request);
  if (!result.ok()) return 3;
  std::printf("allowed=%d reason=%s\n", result->allowed() ? 1 : 0,
              result->decision.reason_code().c_str());
  return 0;
}
