#include "server/decisionlog/decision_id.h"

#include <openssl/rand.h>

#include <array>
#include <random>

namespace importgate::decisionlog {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Each byte value's two lower-case hex digits: an id is formatted with 16
// look-ups (it is made on the request path).
constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  std::array<std::array<char, 2>, 256> pairs{};
  for (int i = 0; i < 256; ++i) pairs[i] = {kHex[i >> 4], kHex[i & 0xF]};
  return pairs;
}();

uint64_t RandomBits() {
  uint64_t bits = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&bits), sizeof(bits)) != 1) {
    std::random_device device;  // OpenSSL's generator failed: next best
    bits = (uint64_t{device()} << 32) | device();
  }
  return bits;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

DecisionIdGenerator::DecisionIdGenerator() : random_(RandomBits()) {}

DecisionIdGenerator::DecisionIdGenerator(uint64_t random_bits)
    : random_(random_bits) {}

DecisionId DecisionIdGenerator::Next(absl::Time now) {
  const uint64_t ms =
      static_cast<uint64_t>(absl::ToUnixMillis(now)) & 0xFFFFFFFFFFFFull;
  const uint32_t count = counter_.fetch_add(1, std::memory_order_relaxed);
  // 128 bits: ms(48) ver(4) rand_a(12) | var(2) rand_b(62 = 30 random + 32
  // counter).
  const uint64_t high = (ms << 16) | (uint64_t{0x7} << 12) | (random_ & 0xFFF);
  const uint64_t low =
      (uint64_t{0x2} << 62) | (((random_ >> 12) & 0x3FFFFFFFull) << 32) | count;
  // 8-4-4-4-12 hex digits: bytes 0-3, 4-5, 6-7, 8-9 and 10-15 (big-endian).
  DecisionId id;
  char* out = id.data();
  auto put = [&](uint64_t value, int from, int to) {
    for (int byte = from; byte < to; ++byte) {
      const auto& pair = kHexPairs[(value >> (8 * (7 - byte))) & 0xFF];
      *out++ = pair[0];
      *out++ = pair[1];
    }
  };
  put(high, 0, 4);
  *out++ = '-';
  put(high, 4, 6);
  *out++ = '-';
  put(high, 6, 8);
  *out++ = '-';
  put(low, 0, 2);
  *out++ = '-';
  put(low, 2, 8);
  return id;
}

bool DecisionIdGenerator::IsValid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : HexValue(text[i]) < 0) return false;
  }
  // Version 7, variant 10.
  return text[14] == '7' && (HexValue(text[19]) & 0xC) == 0x8;
}

absl::Time DecisionIdGenerator::TimeOf(absl::string_view id) {
  int64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    ms = ms * 16 + HexValue(id[i]);
  }
  return absl::FromUnixMillis(ms);
}

uint64_t DecisionIdGenerator::LowBits(absl::string_view id) {
  uint64_t bits = 0;
  for (size_t i = 19; i < id.size(); ++i) {
    if (id[i] != '-') bits = bits * 16 + static_cast<uint64_t>(HexValue(id[i]));
  }
  return bits;
}

}  // namespace importgate::decisionlog
