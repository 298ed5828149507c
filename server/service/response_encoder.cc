#include "server/service/response_encoder.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "server/common/utf8.h"
#include "server/policy/codes.h"

namespace importgate::service {

WireBuffer::WireBuffer(size_t capacity)
    : data_(static_cast<char*>(std::malloc(capacity == 0 ? 1 : capacity))),
      capacity_(capacity == 0 ? 1 : capacity) {
  if (data_ == nullptr) throw std::bad_alloc();
}

WireBuffer::~WireBuffer() { std::free(data_); }

char* WireBuffer::Reserve(size_t n) {
  if (capacity_ - size_ < n) {
    size_t capacity = capacity_ * 2;
    if (capacity - size_ < n) capacity = size_ + n;
    char* data = static_cast<char*>(std::realloc(data_, capacity));
    if (data == nullptr) throw std::bad_alloc();
    data_ = data;
    capacity_ = capacity;
  }
  return data_ + size_;
}

void WireBuffer::SizeMismatch(size_t sized, size_t written) {
  std::fprintf(stderr,
               "importgate: response encoder sized %zu bytes but wrote %zu\n",
               sized, written);
  std::abort();
}

WireBuffer::Bytes WireBuffer::Release() {
  Bytes bytes{data_, size_};
  data_ = nullptr;
  size_ = capacity_ = 0;
  return bytes;
}

namespace {

namespace v1 = importgate::v1;

// Protocol buffers wire format: a field is a varint tag (number << 3 | wire
// type) and then a varint, or a varint length and that many bytes. Every
// field number here is below 16, so every tag is one byte. Writers take
// where to write and return the end of what they wrote, as LevelDB's
// coding.h does.
constexpr uint8_t kVarint = 0;
constexpr uint8_t kLengthDelimited = 2;
constexpr size_t kTagSize = 1;

constexpr char Tag(uint8_t field, uint8_t wire_type) {
  return static_cast<char>(field << 3 | wire_type);
}

using google::protobuf::io::CodedOutputStream;

size_t VarintSize(uint64_t v) { return CodedOutputStream::VarintSize64(v); }

char* PutVarint(char* p, uint64_t v) {
  return reinterpret_cast<char*>(CodedOutputStream::WriteVarint64ToArray(
      v, reinterpret_cast<uint8_t*>(p)));
}

// A signed varint field as protobuf writes int32 and int64: negative values
// as their 64-bit two's complement.
uint64_t AsVarint(int64_t v) { return static_cast<uint64_t>(v); }

// Size of a length-delimited field whose payload is `size` bytes.
size_t DelimitedSize(size_t size) { return kTagSize + VarintSize(size) + size; }

// A proto3 singular field is left out when it holds its default.
size_t OptionalStringSize(absl::string_view s) {
  return s.empty() ? 0 : DelimitedSize(s.size());
}
size_t OptionalVarintSize(uint64_t v) {
  return v == 0 ? 0 : kTagSize + VarintSize(v);
}

char* PutDelimitedHeader(char* p, uint8_t field, size_t size) {
  *p++ = Tag(field, kLengthDelimited);
  return PutVarint(p, size);
}
char* PutString(char* p, uint8_t field, absl::string_view s) {
  p = PutDelimitedHeader(p, field, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
char* PutOptionalString(char* p, uint8_t field, absl::string_view s) {
  return s.empty() ? p : PutString(p, field, s);
}
char* PutOptionalVarint(char* p, uint8_t field, uint64_t v) {
  if (v == 0) return p;
  *p++ = Tag(field, kVarint);
  return PutVarint(p, v);
}

// The Decision fields of a verdict, as eval::FillDecision sets them.
struct DecisionFields {
  bool allowed;
  v1::Effect effect;
  absl::string_view rule_id, reason_code, message, legal_basis;
  int64_t ttl_seconds;
  int32_t ttl_nanos;
};

DecisionFields FieldsOf(const compiler::PolicySnapshot& snapshot,
                        const eval::Verdict& verdict) {
  DecisionFields f;
  f.effect = verdict.effect;
  f.allowed = verdict.effect == v1::EFFECT_ALLOW;
  if (verdict.rule != nullptr) {
    f.rule_id = verdict.rule->id;
    f.reason_code = verdict.rule->reason_code;
    f.message = verdict.rule->message;
    f.legal_basis = verdict.rule->legal_basis;
  } else {
    f.reason_code = snapshot.default_reason_code;
    f.message = snapshot.default_message;
  }
  const int64_t nanos = absl::ToInt64Nanoseconds(verdict.cache_ttl);
  f.ttl_seconds = nanos / 1'000'000'000;
  f.ttl_nanos = static_cast<int32_t>(nanos % 1'000'000'000);
  return f;
}

// google.protobuf.Duration: seconds = 1, nanos = 2.
size_t DurationSize(const DecisionFields& f) {
  return OptionalVarintSize(AsVarint(f.ttl_seconds)) +
         OptionalVarintSize(AsVarint(f.ttl_nanos));
}

// importgate.v1.BundleRef: name = 1, revision = 2, digest = 3.
size_t BundleRefSize(const BundleRefFields& b) {
  return OptionalStringSize(b.name) + OptionalVarintSize(b.revision) +
         OptionalStringSize(b.digest);
}
char* PutBundleRef(char* p, uint8_t field, const BundleRefFields& b) {
  p = PutDelimitedHeader(p, field, BundleRefSize(b));
  p = PutOptionalString(p, 1, b.name);
  p = PutOptionalVarint(p, 2, b.revision);
  return PutOptionalString(p, 3, b.digest);
}

// google.protobuf.Timestamp: seconds = 1, nanos = 2.
struct TimestampFields {
  bool set = false;
  int64_t seconds = 0;
  int32_t nanos = 0;
  size_t size() const {
    return OptionalVarintSize(AsVarint(seconds)) +
           OptionalVarintSize(AsVarint(nanos));
  }
};
TimestampFields TimestampOf(absl::Time t, absl::Time unset) {
  TimestampFields f;
  if (t == unset) return f;
  const policy::UnixTime split = policy::SplitUnixTime(t);
  f.set = true;
  f.seconds = split.seconds;
  f.nanos = split.nanos;
  return f;
}
size_t OptionalTimestampSize(const TimestampFields& t) {
  return t.set ? DelimitedSize(t.size()) : 0;
}
char* PutOptionalTimestamp(char* p, uint8_t field, const TimestampFields& t) {
  if (!t.set) return p;
  p = PutDelimitedHeader(p, field, t.size());
  p = PutOptionalVarint(p, 1, AsVarint(t.seconds));
  return PutOptionalVarint(p, 2, AsVarint(t.nanos));
}

// importgate.v1.PriceConversion, as eval::FillPriceConversion sets it:
// converted_price = 1 (Money: currency_code = 1, units = 2, nanos = 3),
// rates = 2 (ExchangeRate: unit_currency = 1, quote_currency = 2,
// rate = 3), rate_source = 3, rates_effective_from = 4,
// rates_effective_until = 5.
class ConversionWriter {
 public:
  explicit ConversionWriter(const eval::PriceConversion& c) {
    const compiler::RatePeriod& period = *c.period;
    const compiler::RateTable& table = *period.table;
    threshold_ = UnpackCurrency(c.threshold_currency);
    units_ = static_cast<int64_t>(c.converted / 1'000'000'000);
    nanos_ = static_cast<int32_t>(c.converted % 1'000'000'000);
    money_size_ = DelimitedSize(threshold_.size()) +
                  OptionalVarintSize(AsVarint(units_)) +
                  OptionalVarintSize(AsVarint(nanos_));
    const bool per_base = table.quote == compiler::RateTable::Quote::kPerBase;
    for (CurrencyCode currency : {c.price_currency, c.threshold_currency}) {
      if (currency == table.base) continue;
      Rate& r = rates_[rate_count_++];
      r.unit = UnpackCurrency(per_base ? table.base : currency);
      r.quote = UnpackCurrency(per_base ? currency : table.base);
      r.text = table.rates.at(currency).text;
      r.size = OptionalStringSize(r.unit) + OptionalStringSize(r.quote) +
               OptionalStringSize(r.text);
    }
    source_ = table.source;
    from_ = TimestampOf(period.from, absl::InfinitePast());
    until_ = TimestampOf(period.until, absl::InfiniteFuture());
    size_ = DelimitedSize(money_size_) + OptionalStringSize(source_) +
            OptionalTimestampSize(from_) + OptionalTimestampSize(until_);
    for (int i = 0; i < rate_count_; ++i)
      size_ += DelimitedSize(rates_[i].size);
  }

  size_t size() const { return size_; }

  char* Put(char* p) const {
    p = PutDelimitedHeader(p, 1, money_size_);
    p = PutString(p, 1, threshold_);
    p = PutOptionalVarint(p, 2, AsVarint(units_));
    p = PutOptionalVarint(p, 3, AsVarint(nanos_));
    for (int i = 0; i < rate_count_; ++i) {
      const Rate& r = rates_[i];
      p = PutDelimitedHeader(p, 2, r.size);
      p = PutOptionalString(p, 1, r.unit);
      p = PutOptionalString(p, 2, r.quote);
      p = PutOptionalString(p, 3, r.text);
    }
    p = PutOptionalString(p, 3, source_);
    p = PutOptionalTimestamp(p, 4, from_);
    return PutOptionalTimestamp(p, 5, until_);
  }

 private:
  struct Rate {
    std::string unit, quote;  // three letters: no allocation
    absl::string_view text;
    size_t size = 0;
  };
  std::string threshold_;
  int64_t units_ = 0;
  int32_t nanos_ = 0;
  size_t money_size_ = 0;
  Rate rates_[2];
  int rate_count_ = 0;
  absl::string_view source_;
  TimestampFields from_, until_;
  size_t size_ = 0;
};

// One IsImportAllowedResponse, sized first and then written.
class ResponseWriter {
 public:
  ResponseWriter(const compiler::PolicySnapshot& snapshot,
                 const eval::Verdict& verdict, const BundleRefFields& bundle,
                 absl::string_view sku, absl::string_view decision_id)
      : snapshot_(snapshot),
        verdict_(verdict),
        bundle_(bundle),
        sku_(sku),
        decision_id_(decision_id),
        f_(FieldsOf(snapshot, verdict)) {
    // importgate.v1.Decision, fields 1 to 10.
    decision_size_ =
        OptionalVarintSize(f_.allowed ? 1 : 0) +
        OptionalVarintSize(AsVarint(f_.effect)) +
        OptionalStringSize(f_.rule_id) + OptionalStringSize(f_.reason_code) +
        OptionalStringSize(f_.message) + OptionalStringSize(f_.legal_basis) +
        DelimitedSize(DurationSize(f_));  // cache_ttl: always set
    for (uint32_t index : verdict_.matched) {
      decision_size_ += DelimitedSize(snapshot_.rules[index].id.size());
    }
    decision_size_ += OptionalVarintSize(verdict_.matched_truncated ? 1 : 0);
    if (verdict_.conversion.period != nullptr) {
      conversion_.emplace(verdict_.conversion);
      decision_size_ += DelimitedSize(conversion_->size());
    }
    // importgate.v1.IsImportAllowedResponse: decision = 1, bundle = 2,
    // sku = 3, decision_id = 4; decision and bundle are always set.
    size_ = DelimitedSize(decision_size_) +
            DelimitedSize(BundleRefSize(bundle_)) + OptionalStringSize(sku_) +
            OptionalStringSize(decision_id_);
  }

  size_t size() const { return size_; }

  // Fields 5 and 6 of the decision, which Put writes after its tag and
  // length and fields 1 to 4.
  ResponseLayout Layout() const {
    ResponseLayout layout;
    layout.rule_text_begin = kTagSize + VarintSize(decision_size_) +
                             OptionalVarintSize(f_.allowed ? 1 : 0) +
                             OptionalVarintSize(AsVarint(f_.effect)) +
                             OptionalStringSize(f_.rule_id) +
                             OptionalStringSize(f_.reason_code);
    layout.rule_text_end = layout.rule_text_begin +
                           OptionalStringSize(f_.message) +
                           OptionalStringSize(f_.legal_basis);
    return layout;
  }

  char* Put(char* p) const {
    p = PutDelimitedHeader(p, 1, decision_size_);
    p = PutOptionalVarint(p, 1, f_.allowed ? 1 : 0);
    p = PutOptionalVarint(p, 2, AsVarint(f_.effect));
    p = PutOptionalString(p, 3, f_.rule_id);
    p = PutOptionalString(p, 4, f_.reason_code);
    p = PutOptionalString(p, 5, f_.message);
    p = PutOptionalString(p, 6, f_.legal_basis);
    for (uint32_t index : verdict_.matched) {
      p = PutString(p, 7, snapshot_.rules[index].id);
    }
    p = PutDelimitedHeader(p, 8, DurationSize(f_));
    p = PutOptionalVarint(p, 1, AsVarint(f_.ttl_seconds));
    p = PutOptionalVarint(p, 2, AsVarint(f_.ttl_nanos));
    p = PutOptionalVarint(p, 9, verdict_.matched_truncated ? 1 : 0);
    if (conversion_.has_value()) {
      p = PutDelimitedHeader(p, 10, conversion_->size());
      p = conversion_->Put(p);
    }
    p = PutBundleRef(p, 2, bundle_);
    p = PutOptionalString(p, 3, sku_);
    return PutOptionalString(p, 4, decision_id_);
  }

 private:
  const compiler::PolicySnapshot& snapshot_;
  const eval::Verdict& verdict_;
  const BundleRefFields& bundle_;
  const absl::string_view sku_;
  const absl::string_view decision_id_;
  const DecisionFields f_;
  std::optional<ConversionWriter> conversion_;
  size_t decision_size_ = 0;
  size_t size_ = 0;
};

}  // namespace

ResponseLayout AppendResponse(const compiler::PolicySnapshot& snapshot,
                              const eval::Verdict& verdict,
                              const BundleRefFields& bundle,
                              absl::string_view sku,
                              absl::string_view decision_id, WireBuffer* out) {
  ResponseWriter response(snapshot, verdict, bundle, sku, decision_id);
  out->Write(response.size(), [&](char* p) { return response.Put(p); });
  return response.Layout();
}

// BatchIsImportAllowedResponse.results = 1; BatchItemResult: response = 1,
// error = 2 (a oneof, so written even when empty).
void AppendBatchResponse(const compiler::PolicySnapshot& snapshot,
                         const eval::Verdict& verdict,
                         const BundleRefFields& bundle, absl::string_view sku,
                         absl::string_view decision_id, WireBuffer* out) {
  ResponseWriter response(snapshot, verdict, bundle, sku, decision_id);
  const size_t result_size = DelimitedSize(response.size());
  out->Write(DelimitedSize(result_size), [&](char* p) {
    p = PutDelimitedHeader(p, 1, result_size);
    p = PutDelimitedHeader(p, 1, response.size());
    return response.Put(p);
  });
}

// ItemError: code = 1, message = 2, decision_id = 3.
void AppendBatchError(const absl::Status& status, absl::string_view decision_id,
                      WireBuffer* out) {
  // Error messages quote request values through QuoteForMessage, so they
  // are UTF-8. One that were not would make the whole batch undecodable
  // for protobuf clients: it is repaired rather than sent.
  absl::string_view message = status.message();
  std::string repaired;
  if (!IsValidUtf8(message)) {
    repaired = ToValidUtf8(message);
    message = repaired;
  }
  const uint64_t code = AsVarint(static_cast<int32_t>(status.code()));
  const size_t error_size = OptionalVarintSize(code) +
                            OptionalStringSize(message) +
                            OptionalStringSize(decision_id);
  const size_t result_size = DelimitedSize(error_size);
  out->Write(DelimitedSize(result_size), [&](char* p) {
    p = PutDelimitedHeader(p, 1, result_size);
    p = PutDelimitedHeader(p, 2, error_size);
    p = PutOptionalVarint(p, 1, code);
    p = PutOptionalString(p, 2, message);
    return PutOptionalString(p, 3, decision_id);
  });
}

void AppendBatchBundle(const BundleRefFields& bundle, WireBuffer* out) {
  out->Write(DelimitedSize(BundleRefSize(bundle)),
             [&](char* p) { return PutBundleRef(p, 2, bundle); });
}

}  // namespace importgate::service
