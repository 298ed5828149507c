#include "server/common/utf8.h"

#include <google/protobuf/stubs/common.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace importgate {
namespace {

// Protobuf's validator takes an int length; longer inputs are checked in
// pieces. A piece may end inside a character, so the walk below resumes at
// the last character boundary, never in the middle of one.
constexpr size_t kMaxPiece = size_t{1} << 30;

// The length of the UTF-8 character that starts with `lead`, for a byte
// inside a well-formed run.
size_t CharLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}

}  // namespace

size_t ValidUtf8Prefix(absl::string_view text) {
  size_t done = 0;
  while (done < text.size()) {
    absl::string_view piece = text.substr(done, kMaxPiece);
    size_t valid = static_cast<size_t>(
        google::protobuf::internal::UTF8SpnStructurallyValid(
            google::protobuf::StringPiece(piece.data(), piece.size())));
    if (valid == piece.size()) {
      done += valid;
      continue;
    }
    if (piece.size() < kMaxPiece || valid + 4 < piece.size()) {
      return done + valid;  // a real error, not the end of a piece
    }
    // The piece may have cut a character: resume at its first byte.
    if (valid == 0) return done;
    done += valid;
  }
  return done;
}

bool IsValidUtf8(absl::string_view text) {
  return ValidUtf8Prefix(text) == text.size();
}

std::string ToValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t valid = ValidUtf8Prefix(text);
    out.append(text.data(), valid);
    if (valid == text.size()) break;
    out.append("\xef\xbf\xbd");  // U+FFFD REPLACEMENT CHARACTER
    text.remove_prefix(valid + 1);
  }
  return out;
}

std::string QuoteForMessage(absl::string_view text, size_t max_bytes) {
  std::string out = "\"";
  size_t used = 0;
  bool cut = false;
  while (used < text.size()) {
    absl::string_view rest = text.substr(used);
    // A well-formed run holds whole characters, so four bytes tell whether
    // the next character is well formed.
    const bool valid = ValidUtf8Prefix(rest.substr(0, 4)) > 0;
    size_t n = valid ? CharLength(static_cast<unsigned char>(rest[0])) : 1;
    if (used + n > max_bytes) {
      cut = true;
      break;
    }
    unsigned char c = static_cast<unsigned char>(rest[0]);
    if (!valid || c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    } else if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      out.append(rest.data(), n);
    }
    used += n;
  }
  if (cut) out.append("...");
  out.push_back('"');
  return out;
}

}  // namespace importgate
