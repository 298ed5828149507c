// UTF-8 for every string importgate sends.
//
// Protobuf `string` fields must hold well-formed UTF-8: the Go, Java and
// Python runtimes (buf curl, grpcio) reject a whole message when one field
// does not, and C++ proto3 parsing fails the same way. So every string that
// can reach a response or the admin API is either checked when the bundle
// is compiled (IsValidUtf8) or, when it quotes text importgate does not
// control (a request's value, a file name, an OS error), made safe here.
//
// The definition of "valid" is protobuf's own validator (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), so a string that
// passes here also passes every protobuf parser.
//
// Every function is pure and thread-safe.
#ifndef IMPORTGATE_SERVER_COMMON_UTF8_H_
#define IMPORTGATE_SERVER_COMMON_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace importgate {

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view text);

// The number of leading bytes of `text` that are well-formed UTF-8: the
// offset of the first bad byte, or text.size() when there is none.
size_t ValidUtf8Prefix(absl::string_view text);

// `text` with each byte that is not part of well-formed UTF-8 replaced by
// U+FFFD. For free text importgate passes on but did not write (parser and
// OS error messages); values it quotes go through QuoteForMessage instead.
std::string ToValidUtf8(absl::string_view text);

// The default cut of QuoteForMessage, in bytes of `text`.
inline constexpr size_t kMaxQuotedBytes = 64;

// `text` in double quotes for an error message, always valid UTF-8:
// - at most `max_bytes` bytes of `text`, cut on a character boundary and
//   then ending in "..." inside the quotes;
// - a byte that is not part of well-formed UTF-8, and an ASCII control
//   character, written as \xNN; '"' and '\' as \" and \\.
// E.g. caf\xe9 -> "caf\xe9" (the four characters \ x e 9).
std::string QuoteForMessage(absl::string_view text,
                            size_t max_bytes = kMaxQuotedBytes);

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_UTF8_H_
