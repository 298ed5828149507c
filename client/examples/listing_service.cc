// A listing service that asks importgate before publishing a listing. It
// fails OPEN: when importgate cannot answer in time the listing goes live,
// marked for a re-check, so a policy outage does not take the catalogue
// down. Repeated checks of the same product are served from the cache.
//
//   listing_service_example --target=127.0.0.1:50051
//
// Prints one line per listing; exits 0 when every listing was handled.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "importgate/client/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "importgate address");

namespace {

namespace ic = importgate::client;
namespace v1 = importgate::v1;

struct Listing {
  std::string sku;
  std::string hs_code;
  std::string category;
  std::string origin;
  bool cross_border;
  int64_t usd_price;
};

class ListingService {
 public:
  explicit ListingService(ic::Client policy) : policy_(std::move(policy)) {}

  // Publishes `listing` unless import policy forbids it.
  void CreateListing(const Listing& listing) {
    v1::IsImportAllowedRequest request;
    request.mutable_item()->set_sku(listing.sku);
    request.mutable_item()->set_hs_code(listing.hs_code);
    request.mutable_item()->set_category(listing.category);
    request.mutable_item()->set_origin_country(listing.origin);
    request.mutable_item()->mutable_unit_price()->set_currency_code("USD");
    request.mutable_item()->mutable_unit_price()->set_units(listing.usd_price);
    request.mutable_seller()->set_kind(listing.cross_border
                                           ? v1::SELLER_KIND_CROSS_BORDER
                                           : v1::SELLER_KIND_DOMESTIC);
    request.set_destination_country("ID");
    request.set_channel(v1::CHANNEL_LISTING);
    auto result = policy_.IsImportAllowed(request);
    if (!result.ok()) {  // INVALID_ARGUMENT: our own data is wrong
      std::printf("%s: rejected, bad listing data: %s\n", listing.sku.c_str(),
                  std::string(result.status().message()).c_str());
      return;
    }
    const char* source =
        result->source == ic::DecisionResult::Source::kCache      ? "cache"
        : result->source == ic::DecisionResult::Source::kFallback ? "fallback"
                                                                  : "server";
    if (result->source == ic::DecisionResult::Source::kFallback) {
      std::printf("%s: PUBLISHED (%s: %s; queued for re-check)\n",
                  listing.sku.c_str(), result->decision.reason_code().c_str(),
                  result->fallback_cause.c_str());
    } else if (result->allowed()) {
      std::printf("%s: PUBLISHED (%s, revision %llu, %s)\n",
                  listing.sku.c_str(), result->decision.reason_code().c_str(),
                  static_cast<unsigned long long>(result->bundle.revision()),
                  source);
    } else {
      std::printf("%s: BLOCKED %s rule=%s (%s)\n", listing.sku.c_str(),
                  result->decision.reason_code().c_str(),
                  result->decision.rule_id().c_str(), source);
    }
  }

 private:
  ic::Client policy_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ic::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.failure_mode = ic::FailureMode::kFailOpen;  // keep the catalogue up
  options.cache_max_entries = 10000;
  auto client = ic::Client::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(client.status().message()).c_str());
    return 1;
  }
  ListingService service(*client);
  std::vector<Listing> listings = {
      {"TEE-CN-1", "6109.10.00", "fashion/men/t-shirts", "CN", true, 12},
      {"TEE-ID-1", "6109.10.00", "fashion/men/t-shirts", "CN", false, 12},
      {"LAMP-CN-1", "9405.21", "home/lighting", "CN", true, 120},
      {"TEE-CN-2", "6109.10.00", "fashion/men/t-shirts", "CN", true,
       12},  // cached
  };
  for (const Listing& l : listings) service.CreateListing(l);
  return 0;
}
