// sign-request: a test-only signer for the stand-in cluster's --require-signature mode. It signs a
// request exactly as the gateway does (crypto/signature_profile.hpp), so integration tests can
// send signed, tampered, old or replayed requests without the gateway.
//
//   sign-request keygen DIR
//       writes DIR/gateway.key (Ed25519, kind ed25519-http-signing), DIR/gateway.pub.pem,
//       DIR/gateway.pub.jwk and DIR/cluster.hmac (32 random bytes, kind hmac-sha256-http-signing);
//       prints the Ed25519 keyid.
//   sign-request sign (--key FILE | --hmac FILE) --method M --authority A --target T
//                     [--header "Name: value"]... [--body-file F] [--created UNIX] [--lifetime S]
//                     [--nonce N]
//       prints the fields to add, one "Name: value" line each: Content-Digest (when there is a
//       body), Signature-Input, Signature. --header lines are the fields the request will carry
//       (Host comes from --authority).
//   sign-request receipt --key FILE --method M --authority A --target T [--status N]
//                        [--header "Name: value"]... [--body-file F] [--request-digest VALUE] [--created
//                        UNIX]
//       prints a response head (CRLF lines, a blank line at the end, as `curl -D` saves it) whose
//       receipt is signed as the gateway signs it: --header lines are the response's Sovereign-*
//       fields; --body-file: the request carried the Content-Digest of that body, so the receipt
//       covers it.
//
// Exit status: 0 on success, 2 on a usage error or a bad file (with a message on stderr).

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "crypto/content_digest.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/jwk.hpp"
#include "crypto/key_file.hpp"
#include "crypto/signature_profile.hpp"

namespace c = sovgw::crypto;
namespace hs = sovgw::crypto::httpsig;

namespace {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int keygen(const std::string& dir) {
  const auto pair = c::ed25519_generate_key_pair();
  c::write_secret_key_file(dir + "/gateway.key", hs::http_signing_key_kind, pair.secret_key);
  c::write_public_file(dir + "/gateway.pub.pem", c::ed25519_public_pem(pair.public_key));
  c::write_public_file(dir + "/gateway.pub.jwk", c::ed25519_public_jwk(pair.public_key) + "\n");
  c::secret_bytes hmac(32);
  c::random_bytes(hmac.mutable_view());
  c::write_secret_key_file(dir + "/cluster.hmac", hs::hmac_key_kind, hmac);
  std::printf("%s\n", c::ed25519_jwk_thumbprint(pair.public_key).c_str());
  return 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int sign(const std::vector<std::string>& args) {
  std::string key_file;
  std::string hmac_file;
  std::string method;
  std::string authority;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  hs::request_signing when;
  when.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  when.nonce = hs::make_nonce();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      throw usage_error("missing value after " + a);
    }
    const std::string& v = args[++i];
    if (a == "--key") {
      key_file = v;
    } else if (a == "--hmac") {
      hmac_file = v;
    } else if (a == "--method") {
      method = v;
    } else if (a == "--authority") {
      authority = v;
    } else if (a == "--target") {
      target = v;
    } else if (a == "--header") {
      const auto colon = v.find(':');
      if (colon == std::string::npos) {
        throw usage_error("--header wants \"Name: value\", got " + v);
      }
      std::string value = v.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers.emplace_back(v.substr(0, colon), std::move(value));
    } else if (a == "--body-file") {
      body = read_file(v);
    } else if (a == "--created") {
      when.created = std::stoll(v);
    } else if (a == "--lifetime") {
      when.lifetime = std::stoll(v);
    } else if (a == "--nonce") {
      when.nonce = v;
    } else {
      throw usage_error("unknown option " + a);
    }
  }
  if (key_file.empty() == hmac_file.empty() || method.empty() || authority.empty() || target.empty()) {
    throw usage_error("sign needs one of --key/--hmac, and --method, --authority, --target");
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (!body.empty()) {
    out.emplace_back("Content-Digest", c::content_digest(std::string_view(body)));
  }
  std::vector<hs::field_line> fields{{"Host", authority}};
  for (const auto& [n, v] : headers) {
    fields.push_back({n, v});
  }
  for (const auto& [n, v] : out) {
    fields.push_back({n, v});
  }
  hs::message_view view;
  view.method = method;
  view.authority = authority;
  view.set_target(target);
  view.fields = fields;
  auto key = [&] {
    if (!key_file.empty()) {
      auto secret = c::read_secret_key_file(key_file, hs::http_signing_key_kind);
      const std::string keyid = c::ed25519_jwk_thumbprint(c::ed25519_public_from_secret(secret));
      return hs::signing_key::ed25519(keyid, std::move(secret));
    }
    auto secret = c::read_secret_key_file(hmac_file, hs::hmac_key_kind);
    const std::string keyid = hs::hmac_keyid(secret);
    return hs::signing_key::hmac_sha256(keyid, std::move(secret));
  }();
  const auto signed_fields = hs::sign_forwarded_request(view, key, when);
  if (!signed_fields.ok()) {
    throw std::runtime_error(std::string("cannot sign: ") + hs::to_string(signed_fields.error) + " " +
                             signed_fields.component);
  }
  out.emplace_back("Signature-Input", signed_fields.fields.signature_input);
  out.emplace_back("Signature", signed_fields.fields.signature);
  for (const auto& [n, v] : out) {
    std::printf("%s: %s\n", n.c_str(), v.c_str());
  }
  return 0;
}

int receipt(const std::vector<std::string>& args) {
  std::string key_file;
  std::string method;
  std::string authority;
  std::string target;
  std::string body;
  std::string request_digest;
  bool has_body = false;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      throw usage_error("missing value after " + a);
    }
    const std::string& v = args[++i];
    if (a == "--key") {
      key_file = v;
    } else if (a == "--method") {
      method = v;
    } else if (a == "--authority") {
      authority = v;
    } else if (a == "--target") {
      target = v;
    } else if (a == "--status") {
      status = std::stoi(v);
    } else if (a == "--header") {
      const auto colon = v.find(':');
      if (colon == std::string::npos) {
        throw usage_error("--header wants \"Name: value\", got " + v);
      }
      std::string value = v.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers.emplace_back(v.substr(0, colon), std::move(value));
    } else if (a == "--body-file") {
      body = read_file(v);
      has_body = true;
    } else if (a == "--request-digest") {
      request_digest = v;  // the request's Content-Digest as the client wrote it
    } else if (a == "--created") {
      created = std::stoll(v);
    } else {
      throw usage_error("unknown option " + a);
    }
  }
  if (key_file.empty() || method.empty() || authority.empty() || target.empty()) {
    throw usage_error("receipt needs --key, --method, --authority, --target");
  }
  std::vector<hs::field_line> request_fields{{"Host", authority}};
  std::string digest;
  if (!request_digest.empty()) {
    request_fields.push_back({"Content-Digest", request_digest});
  } else if (has_body) {
    digest = c::content_digest(std::string_view(body));
    request_fields.push_back({"Content-Digest", digest});
  }
  hs::message_view request;
  request.method = method;
  request.authority = authority;
  request.set_target(target);
  request.fields = request_fields;
  std::vector<hs::field_line> response_fields;
  for (const auto& [n, v] : headers) {
    response_fields.push_back({n, v});
  }
  hs::message_view response;
  response.status = status;
  response.fields = response_fields;
  auto secret = c::read_secret_key_file(key_file, hs::http_signing_key_kind);
  const std::string keyid = c::ed25519_jwk_thumbprint(c::ed25519_public_from_secret(secret));
  const auto key = hs::signing_key::ed25519(keyid, std::move(secret));
  const auto signed_fields = hs::sign_receipt(response, request, key, created);
  if (!signed_fields.ok()) {
    throw std::runtime_error(std::string("cannot sign: ") + hs::to_string(signed_fields.error) + " " +
                             signed_fields.component);
  }
  std::printf("HTTP/1.1 %d OK\r\n", status);
  for (const auto& [n, v] : headers) {
    std::printf("%s: %s\r\n", n.c_str(), v.c_str());
  }
  std::printf("Signature-Input: %s\r\nSignature: %s\r\n\r\n", signed_fields.fields.signature_input.c_str(),
              signed_fields.fields.signature.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 2 && args[0] == "keygen") {
      return keygen(args[1]);
    }
    if (!args.empty() && args[0] == "sign") {
      return sign({args.begin() + 1, args.end()});
    }
    if (!args.empty() && args[0] == "receipt") {
      return receipt({args.begin() + 1, args.end()});
    }
    throw usage_error(
        "usage: sign-request keygen DIR | sign-request sign (--key F | --hmac F) --method M "
        "--authority A --target T [--header \"Name: value\"]... [--body-file F] [--created UNIX] "
        "[--lifetime S] [--nonce N] | sign-request receipt --key F --method M --authority A --target T "
        "[--status N] [--header \"Name: value\"]... [--body-file F] [--created UNIX]");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sign-request: %s\n", e.what());
    return 2;
  }
}
