#include "crypto/jwk.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <memory>
#include <stdexcept>

#include "crypto/sha256.hpp"

namespace sovgw::crypto {

namespace {

bool from_base64url(std::string_view text, ed25519_public_key& out) {
  ensure_sodium();
  std::size_t len = 0;
  const char* end = nullptr;
  return sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
         end == text.data() + text.size() && len == out.size();
}

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

public_key_result from_pem(std::string_view text) {
  public_key_result r;
  if (text.find("PRIVATE KEY-----") != std::string_view::npos) {
    r.error = public_key_error::private_key;
    return r;
  }
  bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
  pkey_ptr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!key) {
    r.error = public_key_error::bad_pem;
    return r;
  }
  std::size_t len = r.key.size();
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key.get(), r.key.data(), &len) != 1 || len != r.key.size()) {
    r.error = public_key_error::not_ed25519;
    return r;
  }
  r.kid = ed25519_jwk_thumbprint(r.key);
  return r;
}

public_key_result from_jwk(const boost::json::object& o) {
  public_key_result r;
  const auto text_of = [&](std::string_view member) -> const boost::json::string* {
    const auto* m = o.if_contains(member);
    return m != nullptr && m->is_string() ? &m->as_string() : nullptr;
  };
  if (o.contains("d")) {
    r.error = public_key_error::private_key;
  } else if (text_of("kty") == nullptr || *text_of("kty") != "OKP" || text_of("crv") == nullptr ||
             *text_of("crv") != "Ed25519") {
    r.error = public_key_error::not_okp;
  } else if (text_of("x") == nullptr || !from_base64url(*text_of("x"), r.key)) {
    r.error = public_key_error::bad_x;
  } else if (o.contains("kid") && (text_of("kid") == nullptr || text_of("kid")->empty())) {
    r.error = public_key_error::bad_kid;
  } else {
    r.kid = o.contains("kid") ? std::string(*text_of("kid")) : ed25519_jwk_thumbprint(r.key);
  }
  return r;
}

struct jwk_and_pem {
  std::string_view jwk;
  std::string_view pem;
};

// A JWK object and a PEM block, in either order, as `sovgw keys http-public` prints them; nullopt
// for a text that is not such a pair (one of them alone, or anything else).
std::optional<jwk_and_pem> split_jwk_and_pem(std::string_view text) {
  constexpr std::string_view begin = "-----BEGIN";
  constexpr std::string_view dashes = "-----";
  if (text.starts_with("{")) {
    const std::size_t at = text.find(begin);
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
    return jwk_and_pem{trim(text.substr(0, at)), text.substr(at)};
  }
  if (!text.starts_with(begin)) {
    return std::nullopt;
  }
  const std::size_t end = text.find("-----END");
  const std::size_t close = end == std::string_view::npos ? end : text.find(dashes, end + dashes.size());
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view rest = trim(text.substr(close + dashes.size()));
  if (!rest.starts_with("{")) {
    return std::nullopt;
  }
  return jwk_and_pem{rest, text.substr(0, close + dashes.size())};
}

// RFC 7517 section 5: members that are not Ed25519 keys are skipped; every other problem is an error.
public_key_set_result from_jwk_set(const boost::json::value& keys) {
  public_key_set_result r;
  const auto fail = [&r](public_key_error e, std::optional<std::size_t> member) {
    r.error = e;
    r.member = member;
    r.keys.clear();
    return std::move(r);
  };
  if (!keys.is_array()) {
    return fail(public_key_error::bad_key_set, std::nullopt);
  }
  const boost::json::array& members = keys.as_array();
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (!members[i].is_object()) {
      return fail(public_key_error::bad_key_set, i);
    }
    public_key_result k = from_jwk(members[i].as_object());
    if (k.error == public_key_error::not_okp) {
      continue;
    }
    if (!k.ok()) {
      return fail(k.error, i);
    }
    if (const public_key_result* seen = find_public_key(r, k.kid)) {
      if (seen->key != k.key) {
        return fail(public_key_error::duplicate_kid, i);
      }
      continue;  // the same key again (sets merged across a rotation): one is enough
    }
    r.keys.push_back(std::move(k));
  }
  if (r.keys.empty()) {
    return fail(public_key_error::no_ed25519_key, std::nullopt);
  }
  return r;
}

}  // namespace

std::string to_base64url(std::span<const std::uint8_t> bytes) {
  ensure_sodium();
  const std::size_t len = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, bytes.data(), bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(len - 1);
  return out;
}

std::string ed25519_jwk_thumbprint(const ed25519_public_key& key) {
  // RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
  const std::string canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + to_base64url(key) + R"("})";
  const sha256_digest digest = sha256(canonical);
  return to_base64url(digest);
}

std::string ed25519_public_jwk(const ed25519_public_key& key, std::string_view kid) {
  boost::json::object o;
  o["kty"] = "OKP";
  o["crv"] = "Ed25519";
  o["x"] = to_base64url(key);
  o["kid"] = kid.empty() ? ed25519_jwk_thumbprint(key) : std::string(kid);
  return boost::json::serialize(o);
}

std::string ed25519_public_pem(const ed25519_public_key& key) {
  pkey_ptr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()),
                EVP_PKEY_free);
  bio_ptr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!pkey || !bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    throw std::runtime_error("OpenSSL could not encode an Ed25519 public key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(len)};
}

const char* describe(public_key_error e) {
  switch (e) {
    case public_key_error::none:
      return "ok";
    case public_key_error::unrecognized:
      return "neither a PEM public key nor a JWK";
    case public_key_error::bad_pem:
      return "the PEM block is not a readable public key";
    case public_key_error::not_ed25519:
      return "the PEM public key is not an Ed25519 key";
    case public_key_error::bad_json:
      return "the JWK is not a JSON object";
    case public_key_error::not_okp:
      return "the JWK is not an Ed25519 key (kty must be \"OKP\", crv \"Ed25519\")";
    case public_key_error::bad_x:
      return "the JWK's \"x\" is not 32 bytes of base64url";
    case public_key_error::bad_kid:
      return "the JWK's \"kid\" is not a non-empty string";
    case public_key_error::private_key:
      return "this holds a private key: publish and configure only the public key (`sovgw keys http-public "
             "KEY_FILE` prints it)";
    case public_key_error::key_mismatch:
      return "the JWK and the PEM key in the file are different keys";
    case public_key_error::bad_key_set:
      return "the JWK Set's \"keys\" is not an array of JSON objects";
    case public_key_error::no_ed25519_key:
      return "the JWK Set holds no Ed25519 key";
    case public_key_error::duplicate_kid:
      return "two different keys of the JWK Set have the same \"kid\"";
  }
  return "unknown error";
}

public_key_result parse_ed25519_public_key(std::string_view text) {
  text = trim(text);
  if (const auto both = split_jwk_and_pem(text)) {
    public_key_result jwk = parse_ed25519_public_key(both->jwk);
    if (!jwk.ok()) {
      return jwk;
    }
    const public_key_result pem = from_pem(both->pem);
    if (!pem.ok()) {
      return pem;
    }
    if (pem.key != jwk.key) {
      jwk.error = public_key_error::key_mismatch;
    }
    return jwk;
  }
  if (text.starts_with("-----BEGIN")) {
    return from_pem(text);
  }
  public_key_result r;
  if (text.starts_with("{")) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) {
      r.error = public_key_error::bad_json;
      return r;
    }
    return from_jwk(v.as_object());
  }
  // The gateway's own secret key file (crypto/key_file.cpp), given where its public key belongs.
  r.error = text.starts_with("sovgw-secret-key-v1 ") ? public_key_error::private_key
                                                     : public_key_error::unrecognized;
  return r;
}

public_key_set_result parse_ed25519_public_keys(std::string_view text) {
  text = trim(text);
  if (text.starts_with("{")) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(text, ec);
    if (!ec && v.is_object() && v.as_object().contains("keys")) {
      return from_jwk_set(v.as_object().at("keys"));
    }
  }
  public_key_set_result r;
  public_key_result one = parse_ed25519_public_key(text);
  r.error = one.error;
  if (one.ok()) {
    r.keys.push_back(std::move(one));
  }
  return r;
}

const public_key_result* find_public_key(const public_key_set_result& set, std::string_view kid) {
  for (const public_key_result& k : set.keys) {
    if (k.kid == kid) {
      return &k;
    }
  }
  return nullptr;
}

}  // namespace sovgw::crypto
