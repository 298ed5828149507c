// A checkout service that checks a whole cart with one batch call before
// taking payment. It fails CLOSED: when importgate cannot answer, the
// affected lines are blocked, never let through.
//
//   checkout_service_example --target=127.0.0.1:50051
//
// Prints the verdict per cart line and for the cart; exits 0 when the cart
// could be checked (paid or refused), 1 on a client error.
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

struct CartLine {
  std::string sku;
  std::string hs_code;
  std::string currency;
  int64_t unit_price;
};

v1::IsImportAllowedRequest Line(const CartLine& line) {
  v1::IsImportAllowedRequest r;
  r.mutable_item()->set_sku(line.sku);
  r.mutable_item()->set_hs_code(line.hs_code);
  r.mutable_item()->set_origin_country("CN");
  r.mutable_item()->mutable_unit_price()->set_currency_code(line.currency);
  r.mutable_item()->mutable_unit_price()->set_units(line.unit_price);
  r.mutable_item()->set_quantity(1);
  r.mutable_seller()->set_kind(v1::SELLER_KIND_CROSS_BORDER);
  r.set_destination_country("ID");
  r.set_channel(v1::CHANNEL_CHECKOUT);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ic::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.failure_mode =
      ic::FailureMode::kFailClosed;  // never sell a closed item
  auto client = ic::Client::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(client.status().message()).c_str());
    return 1;
  }
  // Priced in USD, the minimum price's own currency, so no exchange rate
  // is needed: a price in IDR is converted at the rate of the decision's
  // week, and the server refuses it (FAILED_PRECONDITION) once the bundle's
  // last rate table has ended.
  std::vector<CartLine> cart = {{"LAMP-1", "9405.21", "USD", 120},
                                {"MUG-1", "6912.00", "USD", 12},
                                {"TEE-1", "6109.10.00", "USD", 150}};
  std::vector<v1::IsImportAllowedRequest> requests;
  for (const CartLine& line : cart) requests.push_back(Line(line));
  auto results = client->BatchIsImportAllowed(requests);
  if (!results.ok()) {
    std::fprintf(stderr, "cart refused: %s\n",
                 std::string(results.status().message()).c_str());
    return 1;
  }
  bool payable = true;
  for (size_t i = 0; i < results->size(); ++i) {
    const auto& r = (*results)[i];
    if (!r.ok()) {
      payable = false;
      std::printf("%s: INVALID %s\n", cart[i].sku.c_str(),
                  std::string(r.status().message()).c_str());
    } else if (!r->allowed()) {
      payable = false;
      std::printf("%s: BLOCKED %s%s\n", cart[i].sku.c_str(),
                  r->decision.reason_code().c_str(),
                  r->source == ic::DecisionResult::Source::kFallback
                      ? " (fallback)"
                      : "");
    } else {
      std::printf("%s: OK revision %llu\n", cart[i].sku.c_str(),
                  static_cast<unsigned long long>(r->bundle.revision()));
    }
  }
  std::printf("cart: %s\n", payable ? "PAY" : "REFUSE PAYMENT");
  return 0;
}
