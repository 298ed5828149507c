#include "server/bundle/oci_registry.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/bundle/artifact.h"

namespace importgate::bundle {
namespace {

constexpr absl::string_view kScheme = "oci://";
// The empty config blob: "{}" and its digest (OCI image spec 1.1).
constexpr absl::string_view kEmptyConfig = "{}";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One repository path component: [a-z0-9]+ joined by ".", "_", "__" or
// runs of "-" (the OCI Distribution spec's name grammar).
bool ValidComponent(absl::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) {
    return false;
  }
  for (size_t i = 0; i < c.size();) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    const absl::string_view separator = c.substr(i, j - i);
    if (separator != "." && separator != "_" && separator != "__" &&
        separator.find_first_not_of('-') != absl::string_view::npos) {
      return false;
    }
    i = j;
  }
  return true;
}

bool ValidTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    const char c = tag[i];
    const bool word = absl::ascii_isalnum(c) || c == '_';
    if (!(word || (i > 0 && (c == '.' || c == '-')))) return false;
  }
  return true;
}

bool ValidSha256Digest(absl::string_view digest) {
  return absl::ConsumePrefix(&digest, "sha256:") && digest.size() == 64 &&
         digest.find_first_not_of("0123456789abcdef") ==
             absl::string_view::npos;
}

bool ValidRegistry(absl::string_view registry) {
  if (registry.empty()) return false;
  for (char c : registry) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return false;
    }
  }
  return true;
}

std::string Digest(absl::string_view bytes) {
  return absl::StrCat("sha256:", Sha256Hex(bytes));
}

// A JSON string literal.
std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string Descriptor(absl::string_view media_type, absl::string_view bytes,
                       absl::string_view title) {
  std::string out = absl::StrCat("{\"mediaType\":", JsonQuote(media_type),
                                 ",\"digest\":", JsonQuote(Digest(bytes)),
                                 ",\"size\":", bytes.size());
  if (!title.empty()) {
    absl::StrAppend(&out,
                    ",\"annotations\":{\"org.opencontainers.image.title\":",
                    JsonQuote(title), "}");
  }
  out += "}";
  return out;
}

// A manifest's descriptor, as parsed.
struct Layer {
  std::string media_type;
  std::string digest;
  uint64_t size = 0;
};

// Reads descriptor `value` of `field`; INVALID_ARGUMENT naming it.
absl::StatusOr<Layer> ReadDescriptor(const google::protobuf::Value& value,
                                     const std::string& field) {
  if (!value.has_struct_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a descriptor object"));
  }
  const auto& fields = value.struct_value().fields();
  Layer layer;
  auto text = [&](const char* name, std::string* out) -> absl::Status {
    auto it = fields.find(name);
    if (it == fields.end() || !it->second.has_string_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".", name, " is missing or not a string"));
    }
    *out = it->second.string_value();
    return absl::OkStatus();
  };
  if (absl::Status s = text("mediaType", &layer.media_type); !s.ok()) return s;
  if (absl::Status s = text("digest", &layer.digest); !s.ok()) return s;
  if (!ValidSha256Digest(layer.digest)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".digest \"", layer.digest.substr(0, 80),
        "\" is not sha256:<64 lower-case hex> (the only algorithm taken)"));
  }
  auto size = fields.find("size");
  if (size == fields.end() || !size->second.has_number_value() ||
      size->second.number_value() < 0 ||
      size->second.number_value() > 9007199254740992.0 ||
      std::floor(size->second.number_value()) != size->second.number_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".size is missing or not a whole number"));
  }
  layer.size = static_cast<uint64_t>(size->second.number_value());
  return layer;
}

}  // namespace

std::string OciReference::ToString() const {
  return absl::StrCat(kScheme, registry, "/", repository,
                      tag.empty() ? "@" : ":", reference());
}

bool IsOciReference(absl::string_view spec) {
  return absl::StartsWithIgnoreCase(spec, kScheme);
}

absl::StatusOr<OciReference> ParseOciReference(absl::string_view spec,
                                               absl::string_view flag) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", why,
        "; expected oci://REGISTRY/REPOSITORY:TAG or "
        "oci://REGISTRY/REPOSITORY@sha256:DIGEST, e.g. "
        "oci://registry.example.com/bundles/marketplace-id:latest"));
  };
  if (!IsOciReference(spec)) return bad("not an oci:// reference");
  absl::string_view rest = spec.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) return bad("no repository");
  OciReference reference;
  const absl::string_view registry = rest.substr(0, slash);
  // Not echoed: it may hold a secret.
  if (registry.find('@') != absl::string_view::npos ||
      rest.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag,
        ": a reference with credentials, a query or a fragment is not "
        "accepted (it is shown in status and logs)"));
  }
  if (!ValidRegistry(registry)) {
    return bad(
        absl::StrCat("\"", registry, "\" is not a registry host[:port]"));
  }
  reference.registry = std::string(registry);
  absl::string_view name = rest.substr(slash + 1);
  if (const size_t at = name.find('@'); at != absl::string_view::npos) {
    reference.digest = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    if (!ValidSha256Digest(reference.digest)) {
      return bad(absl::StrCat("the digest \"", reference.digest.substr(0, 80),
                              "\" is not sha256:<64 lower-case hex>"));
    }
  } else {
    const size_t colon = name.rfind(':');
    if (colon == absl::string_view::npos) {
      return bad("no tag or digest (importgate takes no implicit :latest)");
    }
    reference.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!ValidTag(reference.tag)) {
      return bad(absl::StrCat("the tag \"", reference.tag.substr(0, 130),
                              "\" is not 1 to 128 of A-Z a-z 0-9 _ . - "
                              "(not starting with . or -)"));
    }
  }
  if (name.empty()) return bad("no repository");
  for (size_t start = 0;;) {
    const size_t end = name.find('/', start);
    if (!ValidComponent(name.substr(
            start, end == absl::string_view::npos ? end : end - start))) {
      return bad(absl::StrCat(
          "the repository \"", name,
          "\" is not lower-case components of a-z 0-9 joined by . _ __ or "
          "-, separated by /"));
    }
    if (end == absl::string_view::npos) break;
    start = end + 1;
  }
  reference.repository = std::string(name);
  return reference;
}

namespace {

// "a b" -> "a%20b": a URL query value.
std::string QueryEscape(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += c;
    } else {
      out += absl::StrFormat("%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// A WWW-Authenticate challenge: its scheme and parameters
// (`Bearer realm="...",service="...",scope="repository:x:pull,push"`).
struct Challenge {
  std::string scheme;  // lower case
  std::map<std::string, std::string> params;
};

std::optional<Challenge> ParseChallenge(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  const size_t space = header.find(' ');
  Challenge challenge;
  challenge.scheme = absl::AsciiStrToLower(header.substr(0, space));
  if (challenge.scheme.empty()) return std::nullopt;
  if (space == absl::string_view::npos) return challenge;
  absl::string_view rest = header.substr(space + 1);
  while (true) {
    // Empty list elements (",,") are allowed (RFC 7230 section 7).
    while (!rest.empty() &&
           (rest.front() == ',' || absl::ascii_isspace(rest.front()))) {
      rest.remove_prefix(1);
    }
    if (rest.empty()) return challenge;
    const size_t equals = rest.find('=');
    if (equals == absl::string_view::npos) return std::nullopt;
    std::string name = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(rest.substr(0, equals)));
    rest = absl::StripLeadingAsciiWhitespace(rest.substr(equals + 1));
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value += rest[i];
      }
      if (i >= rest.size()) return std::nullopt;  // no closing quote
      rest = rest.substr(i + 1);
    } else {
      const size_t comma = rest.find(',');
      value = std::string(absl::StripAsciiWhitespace(rest.substr(0, comma)));
      rest = comma == absl::string_view::npos ? "" : rest.substr(comma);
    }
    challenge.params[std::move(name)] = std::move(value);
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (!rest.empty()) {
      if (rest.front() != ',') return std::nullopt;
      rest.remove_prefix(1);
    }
  }
}

}  // namespace

absl::StatusOr<std::optional<RegistryCredentials>> ReadRegistryCredentials(
    const std::string& file, const std::string& registry) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bundle_registry_auth_file: ", file, ": ", why));
  };
  auto text = ReadWholeFile(file, 1 << 20);
  if (!text.ok()) return bad(text.status().message());
  google::protobuf::Struct config;
  if (!google::protobuf::util::JsonStringToMessage(*text, &config).ok()) {
    return bad("not JSON (a Docker config.json)");
  }
  auto auths = config.fields().find("auths");
  if (auths == config.fields().end()) return std::nullopt;
  if (!auths->second.has_struct_value())
    return bad("\"auths\" is not an object");
  // Keys as Docker normalises them: a scheme and a path are dropped
  // ("https://registry.example.com/v2/" names registry.example.com).
  auto host_of = [](absl::string_view key) {
    if (!absl::ConsumePrefix(&key, "https://")) {
      absl::ConsumePrefix(&key, "http://");
    }
    return std::string(key.substr(0, key.find('/')));
  };
  const auto& entries = auths->second.struct_value().fields();
  for (auto entry = entries.begin(); entry != entries.end(); ++entry) {
    const std::string& key = entry->first;
    if (host_of(key) != registry) continue;
    if (!entry->second.has_struct_value()) {
      return bad(absl::StrCat("auths[\"", key, "\"] is not an object"));
    }
    const auto& fields = entry->second.struct_value().fields();
    auto text_of = [&](const char* name) -> std::string {
      auto it = fields.find(name);
      return it != fields.end() && it->second.has_string_value()
                 ? it->second.string_value()
                 : std::string();
    };
    RegistryCredentials credentials;
    if (const std::string auth = text_of("auth"); !auth.empty()) {
      std::string decoded;
      const size_t colon = absl::Base64Unescape(auth, &decoded)
                               ? decoded.find(':')
                               : std::string::npos;
      if (colon == std::string::npos) {
        return bad(absl::StrCat("auths[\"", key,
                                "\"].auth is not base64 of user:password"));
      }
      credentials.username = decoded.substr(0, colon);
      credentials.password = decoded.substr(colon + 1);
    } else {
      credentials.username = text_of("username");
      credentials.password = text_of("password");
    }
    if (credentials.username.empty()) {
      // Kept by a credential helper (credsStore), which a server does not
      // run: anonymous.
      return std::nullopt;
    }
    return credentials;
  }
  return std::nullopt;
}

absl::StatusOr<HttpResponse> RegistryAuth::Send(HttpClient& client,
                                                const HttpRequest& request) {
  for (int attempt = 0;; ++attempt) {
    HttpRequest sent = request;  // the body is a view: not copied
    if (!authorization_.empty()) {
      sent.headers.push_back(absl::StrCat("Authorization: ", authorization_));
    }
    auto response = client.Send(sent);
    if (!response.ok() || response->status != 401 || attempt > 0) {
      return response;
    }
    // A 401 from where a redirect led: not the registry's to answer.
    if (!SameOrigin(request.url, response->effective_url)) return response;
    const std::string challenge = response->Header("www-authenticate");
    if (challenge.empty()) return response;
    if (absl::Status answered = Answer(client, challenge, request.url);
        !answered.ok()) {
      return answered;
    }
  }
}

absl::Status RegistryAuth::Answer(HttpClient& client, const std::string& header,
                                  const std::string& url) {
  const std::string what = absl::StrCat(url, ": HTTP 401: ");
  const std::optional<Challenge> challenge = ParseChallenge(header);
  if (!auth_file_.empty()) {
    // Taken up again: a Secret may have been rotated.
    auto read = ReadRegistryCredentials(auth_file_, registry_);
    if (read.ok()) credentials_ = *std::move(read);
  }
  if (!challenge.has_value()) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, "a WWW-Authenticate challenge that does not parse"));
  }
  auto basic = [&] {
    return absl::StrCat(
        "Basic ", absl::Base64Escape(absl::StrCat(credentials_->username, ":",
                                                  credentials_->password)));
  };
  if (challenge->scheme == "basic") {
    if (!credentials_.has_value()) {
      return absl::PermissionDeniedError(
          absl::StrCat(what,
                       "the registry asks for a user name and password, and "
                       "--bundle_registry_auth_file holds none for it"));
    }
    authorization_ = basic();
    return absl::OkStatus();
  }
  if (challenge->scheme != "bearer") {
    return absl::PermissionDeniedError(
        absl::StrCat(what, "the registry asks for ", challenge->scheme,
                     " authentication; importgate answers Basic and Bearer"));
  }
  auto param = [&](const char* name) -> std::string {
    auto it = challenge->params.find(name);
    return it == challenge->params.end() ? std::string() : it->second;
  };
  const std::string realm = param("realm");
  // The token endpoint gets the credentials: only on the registry's scheme.
  if (!absl::StartsWith(realm, "https://") &&
      !(plain_http_ && absl::StartsWith(realm, "http://"))) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, "a token realm \"", realm.substr(0, 200),
                     "\" that is not an https:// URL"));
  }
  HttpRequest token;
  token.url = realm;
  char separator = realm.find('?') == std::string::npos ? '?' : '&';
  for (const char* name : {"service", "scope"}) {
    if (const std::string value = param(name); !value.empty()) {
      absl::StrAppend(&token.url, std::string(1, separator), name, "=",
                      QueryEscape(value));
      separator = '&';
    }
  }
  if (credentials_.has_value()) {
    token.headers.push_back(absl::StrCat("Authorization: ", basic()));
  }
  auto response = client.Send(token);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    const absl::Status answered =
        HttpStatusError("GET", realm, response->status);
    return absl::Status(
        absl::IsPermissionDenied(answered) || absl::IsNotFound(answered)
            ? absl::StatusCode::kPermissionDenied
            : absl::StatusCode::kUnavailable,
        absl::StrCat(what,
                     "the token endpoint answered: ", answered.message()));
  }
  google::protobuf::Struct body;
  std::string value;
  if (google::protobuf::util::JsonStringToMessage(response->body, &body).ok()) {
    for (const char* name : {"token", "access_token"}) {
      auto it = body.fields().find(name);
      if (it != body.fields().end() && it->second.has_string_value() &&
          !it->second.string_value().empty()) {
        value = it->second.string_value();
        break;
      }
    }
  }
  if (value.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, "the token endpoint ", realm, " sent no token"));
  }
  authorization_ = absl::StrCat("Bearer ", value);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<OciFetcher>> OciFetcher::Create(
    absl::string_view spec, RemoteOptions options) {
  auto reference = ParseOciReference(spec, "--bundle");
  if (!reference.ok()) return reference.status();
  if (absl::Status valid = ValidateRemoteOptions(options); !valid.ok()) {
    return valid;
  }
  std::optional<RegistryCredentials> credentials;
  if (!options.registry_auth_file.empty()) {
    auto read = ReadRegistryCredentials(options.registry_auth_file,
                                        reference->registry);
    if (!read.ok()) return read.status();
    credentials = *std::move(read);
  }
  RegistryAuth auth(options.registry_auth_file, reference->registry,
                    std::move(credentials), options.plain_http);
  auto client = HttpClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  return std::unique_ptr<OciFetcher>(new OciFetcher(
      *std::move(reference), *std::move(client), std::move(auth)));
}

namespace {

std::string BaseUrl(const OciReference& reference, bool plain_http) {
  return absl::StrCat(plain_http ? "http://" : "https://", reference.registry,
                      "/v2/", reference.repository);
}

}  // namespace

OciFetcher::OciFetcher(OciReference reference,
                       std::unique_ptr<HttpClient> client, RegistryAuth auth)
    : reference_(std::move(reference)),
      name_(reference_.ToString()),
      base_(BaseUrl(reference_, client->options().plain_http)),
      client_(std::move(client)),
      auth_(std::move(auth)) {}

absl::StatusOr<std::string> OciFetcher::GetBlob(const std::string& digest,
                                                uint64_t size,
                                                uint64_t max_bytes) {
  const std::string what = absl::StrCat(name_, " blob ", digest);
  if (size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", size, " bytes, over the ", max_bytes, "-byte limit"));
  }
  HttpRequest request;
  request.url = absl::StrCat(base_, "/blobs/", digest);
  // A longer body is refused as it arrives; room is left for a registry's
  // error body (a 401 challenge) on a small blob.
  request.max_bytes = std::max<uint64_t>(size, 64 << 10);
  auto response = auth_.Send(*client_, request);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return HttpStatusError("GET", request.url, response->status);
  }
  if (response->body.size() != size || Digest(response->body) != digest) {
    return absl::DataLossError(absl::StrCat(
        what, ": the registry sent ", response->body.size(),
        " bytes that are not the ", size, " bytes of that digest"));
  }
  return std::move(response->body);
}

absl::StatusOr<std::optional<FetchedArtifact>> OciFetcher::FetchIfChanged() {
  auto fetched = Fetch();
  if (fetched.ok() || absl::StartsWith(fetched.status().message(), name_)) {
    return fetched;
  }
  // Every error names the reference as --bundle gave it.
  return absl::Status(fetched.status().code(),
                      absl::StrCat(name_, ": ", fetched.status().message()));
}

absl::StatusOr<std::optional<FetchedArtifact>> OciFetcher::Fetch() {
  HttpRequest request;
  request.url = absl::StrCat(base_, "/manifests/", reference_.reference());
  request.max_bytes = kMaxOciManifestBytes;
  request.headers.push_back(absl::StrCat("Accept: ", kOciManifestType));
  if (!last_manifest_digest_.empty()) {
    request.headers.push_back(
        absl::StrCat("If-None-Match: \"", last_manifest_digest_, "\""));
  }
  auto response = auth_.Send(*client_, request);
  if (!response.ok()) return response.status();
  if (response->status == 304 && !last_manifest_digest_.empty()) {
    return std::nullopt;
  }
  if (response->status != 200) {
    if (response->status == 401) {
      return absl::PermissionDeniedError(absl::StrCat(
          "GET ", request.url,
          ": HTTP 401 with the credentials of --bundle_registry_auth_file "
          "(or none): the registry does not let them pull"));
    }
    return HttpStatusError("GET", request.url, response->status);
  }
  const std::string digest = Digest(response->body);
  const std::string announced = response->Header("docker-content-digest");
  if ((!announced.empty() && announced != digest) ||
      (!reference_.digest.empty() && reference_.digest != digest)) {
    return absl::DataLossError(absl::StrCat(
        name_, ": the manifest's bytes have digest ", digest, ", not ",
        reference_.digest.empty() ? announced : reference_.digest));
  }
  if (digest == last_manifest_digest_) return std::nullopt;

  auto not_ours = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        name_, " (manifest ", digest, ") is not an importgate bundle: ", why));
  };
  google::protobuf::Struct manifest;
  if (auto parsed = google::protobuf::util::JsonStringToMessage(response->body,
                                                                &manifest);
      !parsed.ok()) {
    return not_ours(
        absl::StrCat("not JSON (", parsed.message().as_string(), ")"));
  }
  const auto& fields = manifest.fields();
  auto string_field = [&](const char* name) -> std::string {
    auto it = fields.find(name);
    return it != fields.end() && it->second.has_string_value()
               ? it->second.string_value()
               : std::string();
  };
  if (auto schema = fields.find("schemaVersion");
      schema == fields.end() || !schema->second.has_number_value() ||
      schema->second.number_value() != 2) {
    return not_ours("schemaVersion is not 2");
  }
  if (const std::string type = string_field("mediaType");
      !type.empty() && type != kOciManifestType) {
    return not_ours(absl::StrCat("its mediaType is ", type));
  }
  auto layers = fields.find("layers");
  if (layers == fields.end() || !layers->second.has_list_value()) {
    return not_ours("it has no layers list");
  }
  std::optional<Layer> bundle, signature;
  int index = 0;
  for (const google::protobuf::Value& value :
       layers->second.list_value().values()) {
    auto layer = ReadDescriptor(value, absl::StrCat("layers[", index++, "]"));
    if (!layer.ok()) return not_ours(layer.status().message());
    std::optional<Layer>* slot =
        layer->media_type == kOciBundleLayerType      ? &bundle
        : layer->media_type == kOciSignatureLayerType ? &signature
                                                      : nullptr;
    if (slot == nullptr) {
      return not_ours(absl::StrCat("a layer of type ", layer->media_type,
                                   " (only ", kOciBundleLayerType, " and ",
                                   kOciSignatureLayerType, " are taken)"));
    }
    if (slot->has_value()) {
      return not_ours(
          absl::StrCat("more than one layer of type ", layer->media_type));
    }
    *slot = *std::move(layer);
  }
  if (!bundle.has_value()) {
    return not_ours(absl::StrCat("no layer of type ", kOciBundleLayerType));
  }
  auto artifact =
      GetBlob(bundle->digest, bundle->size, client_->options().max_bytes);
  if (!artifact.ok()) return artifact.status();
  std::string signatures;
  if (signature.has_value()) {
    auto fetched =
        GetBlob(signature->digest, signature->size, kMaxSignatureBytes);
    if (!fetched.ok()) return fetched.status();
    signatures = *std::move(fetched);
  }
  last_manifest_digest_ = digest;
  return FetchedArtifact{absl::StrCat(name_, " (", digest, ")"),
                         *std::move(artifact), std::move(signatures), digest};
}

// Where a blob upload continues: the POST's Location, resolved against
// `post_url` (a registry may answer with a path or a whole URL). UNAVAILABLE
// when there is none, or it names another scheme, host or port: the bytes
// go only where the reference said, and an https push never continues
// over http.
absl::StatusOr<std::string> UploadLocation(const std::string& post_url,
                                           const std::string& location) {
  const std::string what = absl::StrCat("POST ", post_url, ": HTTP 202 ");
  if (location.empty()) {
    return absl::UnavailableError(
        absl::StrCat(what, "without a Location to upload to"));
  }
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> base(curl_url(),
                                                           &curl_url_cleanup);
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> resolved(
      curl_url(), &curl_url_cleanup);
  if (base == nullptr || resolved == nullptr ||
      curl_url_set(base.get(), CURLUPART_URL, post_url.c_str(), 0) !=
          CURLUE_OK ||
      curl_url_set(resolved.get(), CURLUPART_URL, post_url.c_str(), 0) !=
          CURLUE_OK ||
      curl_url_set(resolved.get(), CURLUPART_URL, location.c_str(), 0) !=
          CURLUE_OK) {
    return absl::UnavailableError(
        absl::StrCat(what, "with a Location that is not a URL"));
  }
  char* url = nullptr;
  if (curl_url_get(resolved.get(), CURLUPART_URL, &url, 0) != CURLUE_OK ||
      url == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(what, "with a Location that is not a URL"));
  }
  std::string out = url;
  curl_free(url);
  if (!SameOrigin(post_url, out)) {
    return absl::UnavailableError(absl::StrCat(
        what,
        "with a Location on another scheme, host or port; nothing uploaded "
        "there"));
  }
  return out;
}

std::string OciBundleManifest(const OciPush& push) {
  std::string manifest = absl::StrCat(
      "{\"schemaVersion\":2,\"mediaType\":", JsonQuote(kOciManifestType),
      ",\"artifactType\":", JsonQuote(kOciBundleArtifactType),
      ",\"config\":", Descriptor(kOciEmptyType, kEmptyConfig, ""),
      ",\"layers\":[",
      Descriptor(kOciBundleLayerType, push.artifact, push.title));
  if (!push.signatures.empty()) {
    absl::StrAppend(&manifest, ",",
                    Descriptor(kOciSignatureLayerType, push.signatures,
                               absl::StrCat(push.title, ".sig")));
  }
  manifest += "]";
  if (!push.annotations.empty()) {
    manifest += ",\"annotations\":{";
    bool first = true;
    for (const auto& [name, value] : push.annotations) {
      absl::StrAppend(&manifest, first ? "" : ",", JsonQuote(name), ":",
                      JsonQuote(value));
      first = false;
    }
    manifest += "}";
  }
  manifest += "}";
  return manifest;
}

absl::StatusOr<std::string> PushBundle(const OciReference& reference,
                                       const OciPush& push,
                                       const RemoteOptions& options) {
  if (reference.tag.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(reference.ToString(),
                     ": push to a tag (a digest names what is already there)"));
  }
  if (absl::Status valid = ValidateRemoteOptions(options); !valid.ok()) {
    return valid;
  }
  std::optional<RegistryCredentials> credentials;
  if (!options.registry_auth_file.empty()) {
    auto read =
        ReadRegistryCredentials(options.registry_auth_file, reference.registry);
    if (!read.ok()) return read.status();
    credentials = *std::move(read);
  }
  RegistryAuth auth(options.registry_auth_file, reference.registry,
                    std::move(credentials), options.plain_http);
  auto client = HttpClient::Create(options);
  if (!client.ok()) return client.status();
  const std::string base = BaseUrl(reference, options.plain_http);
  auto send =
      [&](const HttpRequest& request,
          std::initializer_list<long> wanted) -> absl::StatusOr<HttpResponse> {
    auto response = auth.Send(**client, request);
    if (!response.ok()) return response.status();
    for (long status : wanted) {
      if (response->status == status) return response;
    }
    absl::Status error =
        HttpStatusError(request.method, request.url, response->status);
    // The registry's own error body (JSON "errors"), cut short.
    return absl::Status(
        error.code(),
        absl::StrCat(error.message(), ": ", response->body.substr(0, 300)));
  };
  // Blobs first, each only when the registry lacks it.
  const std::vector<absl::string_view> blobs = {kEmptyConfig, push.artifact,
                                                push.signatures};
  for (absl::string_view blob : blobs) {
    if (blob.empty()) continue;  // unsigned: no signature layer
    const std::string digest = Digest(blob);
    HttpRequest head;
    head.method = "HEAD";
    head.url = absl::StrCat(base, "/blobs/", digest);
    auto exists = send(head, {200, 404});
    if (!exists.ok()) return exists.status();
    if (exists->status == 200) continue;
    HttpRequest start;
    start.method = "POST";
    start.url = absl::StrCat(base, "/blobs/uploads/");
    start.follow_redirects = false;
    auto started = send(start, {202});
    if (!started.ok()) return started.status();
    auto location = UploadLocation(start.url, started->Header("location"));
    if (!location.ok()) return location.status();
    HttpRequest put;
    put.method = "PUT";
    put.url = absl::StrCat(*location,
                           location->find('?') == std::string::npos ? "?" : "&",
                           "digest=sha256%3A", digest.substr(7));
    put.headers.push_back("Content-Type: application/octet-stream");
    put.body = blob;
    auto uploaded = send(put, {201});
    if (!uploaded.ok()) return uploaded.status();
  }
  const std::string manifest = OciBundleManifest(push);
  const std::string digest = Digest(manifest);
  HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat(base, "/manifests/", reference.tag);
  put.headers.push_back(absl::StrCat("Content-Type: ", kOciManifestType));
  put.body = manifest;
  auto stored = send(put, {201});
  if (!stored.ok()) return stored.status();
  const std::string announced = stored->Header("docker-content-digest");
  if (!announced.empty() && announced != digest) {
    return absl::DataLossError(
        absl::StrCat("PUT ", put.url, ": the registry stored the manifest as ",
                     announced, ", not ", digest));
  }
  return digest;
}

}  // namespace importgate::bundle
