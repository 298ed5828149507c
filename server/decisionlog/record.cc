#include "server/decisionlog/record.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "server/policy/codes.h"

namespace importgate::decisionlog {
namespace {

// One top-level field of a serialized message.
struct Field {
  uint32_t number = 0;
  int wire_type = 0;
  uint64_t varint = 0;      // wire type 0
  absl::string_view bytes;  // wire type 2
};

bool ReadVarint(absl::string_view* in, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const unsigned char byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *value |= uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Reads the next field of `*in`; false at the end or on malformed bytes
// (`*malformed` says which).
bool NextField(absl::string_view* in, Field* field, bool* malformed) {
  *malformed = false;
  if (in->empty()) return false;
  uint64_t tag = 0;
  if (!ReadVarint(in, &tag) || (tag >> 3) == 0) {
    *malformed = true;
    return false;
  }
  field->number = static_cast<uint32_t>(tag >> 3);
  field->wire_type = static_cast<int>(tag & 7);
  switch (field->wire_type) {
    case 0:
      if (!ReadVarint(in, &field->varint)) break;
      return true;
    case 1:
    case 5: {
      const size_t n = field->wire_type == 1 ? 8 : 4;
      if (in->size() < n) break;
      in->remove_prefix(n);
      return true;
    }
    case 2: {
      uint64_t length = 0;
      if (!ReadVarint(in, &length) || length > in->size()) break;
      field->bytes = in->substr(0, length);
      in->remove_prefix(length);
      return true;
    }
    default:
      break;
  }
  *malformed = true;
  return false;
}

// Calls `visit` with each field; false when the bytes are malformed.
template <typename Visit>
bool ForEachField(absl::string_view bytes, Visit visit) {
  Field field;
  bool malformed = false;
  while (NextField(&bytes, &field, &malformed)) visit(field);
  return !malformed;
}

// Protobuf wire format appended to a string: just what the records need.
void PutVarint(uint64_t value, std::string* out) {
  char bytes[10];  // one append, not a push_back per byte
  size_t n = 0;
  while (value >= 0x80) {
    bytes[n++] = static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  bytes[n++] = static_cast<char>(value);
  out->append(bytes, n);
}

// The two ends a record's fields are written to: Appender appends them,
// ByteCounter counts what Appender would append (an embedded message's
// length comes before its bytes). RecordFields and EntryFields write to
// either, so the count and the bytes cannot disagree.
struct Appender {
  std::string* out;
  void Varint(uint64_t value) { PutVarint(value, out); }
  void Raw(absl::string_view bytes) { out->append(bytes.data(), bytes.size()); }
};
struct ByteCounter {
  size_t bytes = 0;
  void Varint(uint64_t value) {
    bytes += google::protobuf::io::CodedOutputStream::VarintSize64(value);
  }
  void Raw(absl::string_view raw) { bytes += raw.size(); }
};
template <typename Out>
void VarintFieldTo(int field, uint64_t value, Out& out) {
  out.Varint(static_cast<uint64_t>(field) << 3);  // wire type 0
  out.Varint(value);
}
template <typename Out>
void BytesFieldTo(int field, absl::string_view value, Out& out) {
  out.Varint((static_cast<uint64_t>(field) << 3) | 2);
  out.Varint(value.size());
  out.Raw(value);
}

void PutVarintField(int field, uint64_t value, std::string* out) {
  Appender to{out};
  VarintFieldTo(field, value, to);
}
// A string, bytes or message field.
void PutBytes(int field, absl::string_view value, std::string* out) {
  Appender to{out};
  BytesFieldTo(field, value, to);
}

// A google.protobuf.Timestamp's bytes.
void PutTimestamp(absl::Time t, std::string* out) {
  const policy::UnixTime unix = policy::SplitUnixTime(t);
  if (unix.seconds != 0) {
    PutVarintField(1, static_cast<uint64_t>(unix.seconds), out);
  }
  if (unix.nanos != 0)
    PutVarintField(2, static_cast<uint64_t>(unix.nanos), out);
}

constexpr const char* MethodName(CallMethod method) {
  return method == CallMethod::kIsImportAllowed ? "IsImportAllowed"
                                                : "BatchIsImportAllowed";
}

// One DecisionRecord's field values, as PlanEntry finds them.
struct RecordParts {
  absl::string_view decision_id;
  absl::string_view time;  // Timestamp bytes
  absl::string_view method;
  int batch_index = 0;
  absl::string_view request;  // empty when not kept
  absl::string_view response;
  absl::string_view error;       // RecordError bytes, or empty
  absl::string_view evaluation;  // Timestamp bytes
  absl::string_view peer;
  absl::string_view traceparent;
  uint64_t request_bytes_omitted = 0;
};

// DecisionRecord's fields, in field order.
template <typename Out>
void RecordFields(const RecordParts& r, Out& out) {
  BytesFieldTo(1, r.decision_id, out);
  BytesFieldTo(2, r.time, out);
  BytesFieldTo(3, r.method, out);
  if (r.batch_index != 0) VarintFieldTo(4, r.batch_index, out);
  if (!r.request.empty()) BytesFieldTo(5, r.request, out);
  if (!r.response.empty()) BytesFieldTo(6, r.response, out);
  if (!r.error.empty()) BytesFieldTo(7, r.error, out);
  BytesFieldTo(8, r.evaluation, out);
  if (!r.peer.empty()) BytesFieldTo(9, r.peer, out);
  if (!r.traceparent.empty()) BytesFieldTo(10, r.traceparent, out);
  if (r.request_bytes_omitted != 0) {
    VarintFieldTo(11, r.request_bytes_omitted, out);
  }
}

// A record's LogEntry { sequence = 1, decision = 2 { DecisionRecord } },
// measured before it is written: its record's fields and sizes.
struct EntryPlan {
  uint64_t sequence = 0;
  RecordParts parts;
  size_t record_bytes = 0;
  size_t entry_bytes = 0;
};

// LogEntry's fields, in field order.
template <typename Out>
void EntryFields(const EntryPlan& plan, Out& out) {
  VarintFieldTo(1, plan.sequence, out);
  out.Varint((uint64_t{2} << 3) | 2);
  out.Varint(plan.record_bytes);
  RecordFields(plan.parts, out);
}

// The record `item` of `call` makes, measured. `*error` holds its
// RecordError's bytes (viewed by the plan).
EntryPlan PlanEntry(uint64_t sequence, const CallView& call,
                    const DecisionId& id, int batch_index,
                    const RecordEncoder::Item& item,
                    absl::string_view time_bytes, std::string* error) {
  EntryPlan plan;
  plan.sequence = sequence;
  RecordParts& parts = plan.parts;
  parts.decision_id = View(id);
  parts.time = time_bytes;
  parts.method = MethodName(call.method);
  parts.batch_index = batch_index;
  const bool keep_request = item.request.size() <= kMaxRecordedRequestBytes;
  if (keep_request) {
    parts.request = item.request;
  } else {
    parts.request_bytes_omitted = item.request.size();
  }
  parts.response = item.response;
  if (item.error_code != 0) {
    error->clear();
    PutVarintField(
        1, static_cast<uint64_t>(static_cast<int64_t>(item.error_code)), error);
    if (!item.error_message.empty()) PutBytes(2, item.error_message, error);
    parts.error = *error;
  }
  // evaluation_time: the request's own (IsImportAllowedRequest field 5),
  // else the answer's time.
  parts.evaluation = time_bytes;
  ForEachField(item.request, [&](const Field& f) {
    if (f.number == 5 && f.wire_type == 2) parts.evaluation = f.bytes;
  });
  // Both come from the caller: kept to a sane length.
  parts.peer = call.peer.substr(0, kMaxRecordedPeerBytes);
  parts.traceparent = call.traceparent.substr(0, kMaxRecordedTraceparentBytes);
  ByteCounter record;
  RecordFields(parts, record);
  plan.record_bytes = record.bytes;
  ByteCounter entry;
  EntryFields(plan, entry);
  plan.entry_bytes = entry.bytes;
  return plan;
}

}  // namespace

bool StripRuleText(absl::string_view response, std::string* scratch,
                   std::string* out) {
  // IsImportAllowedResponse: decision = 1 { message = 5, legal_basis = 6 }.
  // Every other field's bytes (tag and value) are copied as they are; only
  // the decision's length is written anew.
  out->clear();
  Field field;
  bool malformed = false;
  for (absl::string_view in = response;;) {
    const char* const start = in.data();
    if (!NextField(&in, &field, &malformed)) break;
    if (field.number != 1 || field.wire_type != 2) {
      out->append(start, static_cast<size_t>(in.data() - start));
      continue;
    }
    scratch->clear();
    Field inner;
    for (absl::string_view decision = field.bytes;;) {
      const char* const inner_start = decision.data();
      if (!NextField(&decision, &inner, &malformed)) break;
      if (inner.number != 5 && inner.number != 6) {
        scratch->append(inner_start,
                        static_cast<size_t>(decision.data() - inner_start));
      }
    }
    if (malformed) return false;
    PutBytes(1, *scratch, out);
  }
  return !malformed;
}

bool SplitOutRuleText(absl::string_view response, RuleTextSpan span,
                      ResponseWithoutRuleText* out) {
  // IsImportAllowedResponse: decision = 1, first.
  absl::string_view in = response;
  uint64_t tag = 0;
  uint64_t length = 0;
  if (!ReadVarint(&in, &tag) || tag != ((1 << 3) | 2) ||
      !ReadVarint(&in, &length) || length > in.size()) {
    return false;
  }
  const size_t content = response.size() - in.size();
  if (span.begin < content || span.begin > span.end ||
      span.end > content + length) {
    return false;
  }
  // The span must be exactly what StripRuleText leaves out: it begins and
  // ends on field boundaries of the decision, holds only its message and
  // legal_basis fields (5 and 6, length-delimited), and no such field lies
  // outside it. Anything else (a future encoder's other field order, a
  // caller's mistake) is refused, and the writer parses instead.
  bool begins = false;
  bool ends = false;
  bool malformed = false;
  Field field;
  for (absl::string_view decision = in.substr(0, length);;) {
    const size_t at = content + (length - decision.size());
    begins = begins || at == span.begin;
    ends = ends || at == span.end;
    if (!NextField(&decision, &field, &malformed)) break;
    const bool inside = at >= span.begin && at < span.end;
    const bool rule_text =
        (field.number == 5 || field.number == 6) && field.wire_type == 2;
    if (inside != rule_text) return false;
  }
  if (malformed || !begins || !ends) return false;
  std::string head;
  PutVarint(tag, &head);
  PutVarint(length - (span.end - span.begin), &head);
  std::copy(head.begin(), head.end(), out->head.begin());
  out->head_size = head.size();
  out->before = response.substr(content, span.begin - content);
  out->after = response.substr(span.end);
  return true;
}

bool IsAllow(absl::string_view response) {
  // IsImportAllowedResponse: decision = 1 { effect = 2 }.
  bool allow = false;
  ForEachField(response, [&](const Field& f) {
    if (f.number != 1 || f.wire_type != 2) return;
    ForEachField(f.bytes, [&](const Field& d) {
      if (d.number == 2 && d.wire_type == 0) {
        allow = d.varint == 1;  // EFFECT_ALLOW
      }
    });
  });
  return allow;
}

RecordEncoder::RecordEncoder(const RecordPolicy* policy) : policy_(policy) {
  if (policy_ != nullptr && policy_->masks()) masker_.emplace(policy_);
}

absl::Status RecordEncoder::Encode(
    const CallView& call, uint64_t* next_sequence,
    const std::function<void(absl::string_view)>& emit) {
  // Each entry built in entry_, then handed on.
  class ToEmit : public EntrySink {
   public:
    ToEmit(std::string* entry,
           const std::function<void(absl::string_view)>& emit)
        : entry_(entry), emit_(emit) {}
    absl::Status Append(size_t size,
                        absl::FunctionRef<void(std::string*)> write) override {
      entry_->clear();
      entry_->reserve(size);
      write(entry_);
      emit_(*entry_);
      return absl::OkStatus();
    }

   private:
    std::string* const entry_;
    const std::function<void(absl::string_view)>& emit_;
  } to_emit(&entry_, emit);
  return Encode(call, next_sequence, to_emit);
}

absl::Status RecordEncoder::Encode(const CallView& call,
                                   uint64_t* next_sequence, EntrySink& sink) {
  std::string time_bytes;
  PutTimestamp(call.time, &time_bytes);
  std::vector<Item>& items = items_;
  items.clear();
  const bool batch = call.method == CallMethod::kBatchIsImportAllowed;
  if (!batch || call.error_code != 0) {
    // One record: a unary call, or a refused batch (its request is not
    // kept: it may be megabytes, and the refusal is about the whole).
    Item item;
    item.request = batch ? absl::string_view() : call.request;
    item.response = call.response;
    item.error_code = call.error_code;
    item.error_message = call.error_message;
    items.push_back(item);
  } else {
    // BatchIsImportAllowedRequest: requests = 1.
    if (!ForEachField(call.request, [&](const Field& f) {
          if (f.number == 1 && f.wire_type == 2) {
            items.push_back(Item{f.bytes, {}, 0, {}});
          }
        })) {
      return absl::InvalidArgumentError(
          "decision log: a batch call's request bytes are malformed");
    }
    // BatchIsImportAllowedResponse: results = 1 { response = 1 | error = 2
    // { code = 1, message = 2 } }.
    size_t i = 0;
    bool ok = ForEachField(call.response, [&](const Field& f) {
      if (f.number != 1 || f.wire_type != 2) return;
      if (i >= items.size()) {
        ++i;
        return;
      }
      Item& item = items[i++];
      ForEachField(f.bytes, [&](const Field& result) {
        if (result.number == 1 && result.wire_type == 2) {
          item.response = result.bytes;
        } else if (result.number == 2 && result.wire_type == 2) {
          item.error_code = 2;  // UNKNOWN unless the error says
          ForEachField(result.bytes, [&](const Field& e) {
            if (e.number == 1 && e.wire_type == 0) {
              item.error_code = static_cast<int>(e.varint);
            } else if (e.number == 2 && e.wire_type == 2) {
              item.error_message = e.bytes;
            }
          });
        }
      });
    });
    if (!ok || i != items.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("decision log: a batch of ", items.size(),
                       " requests has ", i, " results"));
    }
  }
  if (call.ids.size() != items.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("decision log: ", call.ids.size(), " ids for ",
                     items.size(), " records"));
  }
  const bool sampling = policy_ != nullptr && policy_->allow_fraction < 1.0;
  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    if (sampling && item.error_code == 0 && IsAllow(item.response) &&
        !KeepAllow(View(call.ids[i]), policy_->allow_fraction)) {
      ++sampled_out_;
      continue;
    }
    if (masker_.has_value()) item.request = masker_->Mask(item.request);
    if (policy_ != nullptr && !policy_->keep_rule_text &&
        !call.rule_text_left_out && !item.response.empty() &&
        StripRuleText(item.response, &decision_, &response_)) {
      item.response = response_;
    }
    const EntryPlan plan =
        PlanEntry(*next_sequence, call, call.ids[i],
                  batch ? static_cast<int>(i) : 0, item, time_bytes, &error_);
    const absl::Status appended =
        sink.Append(plan.entry_bytes, [&plan](std::string* out) {
          Appender to{out};
          EntryFields(plan, to);
        });
    if (appended.ok()) ++*next_sequence;
  }
  return absl::OkStatus();
}

absl::Status EncodeCall(const CallView& call, uint64_t* next_sequence,
                        const std::function<void(absl::string_view)>& emit) {
  return RecordEncoder().Encode(call, next_sequence, emit);
}

std::string EncodeEvent(uint64_t sequence, int kind, absl::Time time,
                        absl::string_view detail, uint64_t count) {
  std::string time_bytes;
  PutTimestamp(time, &time_bytes);
  std::string event;
  PutVarintField(1, static_cast<uint64_t>(kind), &event);
  PutBytes(2, time_bytes, &event);
  if (!detail.empty()) PutBytes(3, detail, &event);
  if (count != 0) PutVarintField(4, count, &event);
  std::string entry;
  PutVarintField(1, sequence, &entry);
  PutBytes(3, event, &entry);
  return entry;
}

}  // namespace importgate::decisionlog
