#include "audit/keys.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/key_file.hpp"

namespace sovgw::audit {
namespace {

constexpr std::string_view auditor_pub_prefix = "sovgw-auditor-x25519 ";

std::string trim_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

initialized_keys init_keys(const std::string& dir, const std::string& log_name) {
  if (!crypto::valid_note_key_name(log_name)) {
    throw crypto::key_file_error("invalid log name '" + log_name + "': no spaces or '+' allowed");
  }
  std::error_code ec;
  if (const auto parent = std::filesystem::path(dir).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw crypto::key_file_error("cannot create " + dir + ": " + std::strerror(errno));
  }
  for (const char* name : {"signing.key", "signing.pub", "kek.key", "auditor.key", "auditor.pub"}) {
    struct stat st {};
    if (::lstat((dir + "/" + name).c_str(), &st) == 0) {
      throw crypto::key_file_error(dir + "/" + name + " already exists; refusing to overwrite keys");
    }
  }
  auto signing = crypto::ed25519_generate_key_pair();
  const auto verifier = crypto::note_verifier::from_public_key(log_name, signing.public_key);
  auto kek = crypto::aead_generate_key();
  auto auditor = crypto::box_generate_key_pair();
  initialized_keys out{verifier.to_vkey(),
                       std::string(auditor_pub_prefix) + crypto::to_base64(auditor.public_key)};
  crypto::write_secret_key_file(dir + "/signing.key", signing_key_kind, signing.secret_key);
  crypto::write_public_file(dir + "/signing.pub", out.signing_vkey + "\n");
  crypto::write_secret_key_file(dir + "/kek.key", kek_kind, kek);
  crypto::write_secret_key_file(dir + "/auditor.key", auditor_key_kind, auditor.secret_key);
  crypto::write_public_file(dir + "/auditor.pub", out.auditor_public + "\n");
  return out;
}

writer_keys load_writer_keys(const std::string& dir) {
  auto secret = crypto::read_secret_key_file(dir + "/signing.key", signing_key_kind);
  if (secret.size() != crypto::ed25519_secret_key_size) {
    throw crypto::key_file_error(dir + "/signing.key does not hold an Ed25519 secret key");
  }
  const auto verifier = load_verifier(dir + "/signing.pub");
  if (crypto::ed25519_public_from_secret(secret) != verifier.public_key) {
    throw crypto::key_file_error(dir + "/signing.pub does not match " + dir + "/signing.key");
  }
  auto kek = crypto::read_secret_key_file(dir + "/kek.key", kek_kind);
  if (kek.size() != crypto::aead_key_size) {
    throw crypto::key_file_error(dir + "/kek.key does not hold a 32-byte key");
  }
  return writer_keys{crypto::note_signer(verifier.name, std::move(secret)), std::move(kek),
                     load_auditor_public(dir + "/auditor.pub")};
}

result<crypto::note_verifier> read_verifier(const std::string& path_or_vkey) {
  constexpr const char* expected = "(expected `<name>+<key id>+<base64 key>`, e.g. a signing.pub)";
  struct stat st {};
  if (::stat(path_or_vkey.c_str(), &st) != 0) {
    const int stat_errno = errno;
    if (auto v = crypto::note_verifier::parse(path_or_vkey)) {
      return *v;
    }
    if (stat_errno == ENOENT) {
      return status{error_code::not_found,
                    "the public key file " + path_or_vkey +
                        " does not exist, and the argument is not a verifier key either " + expected};
    }
    return status{error_code::io,
                  "cannot open the public key file " + path_or_vkey + ": " + std::strerror(stat_errno)};
  }
  std::string text;
  try {
    text = crypto::read_small_file(path_or_vkey);
  } catch (const crypto::key_file_error& e) {
    return status{error_code::io, e.what()};
  }
  auto v = crypto::note_verifier::parse(trim_line(text));
  if (!v) {
    return status{error_code::invalid_argument,
                  path_or_vkey + " is not a signed-note verifier key " + expected};
  }
  return *v;
}

crypto::note_verifier load_verifier(const std::string& path_or_vkey) {
  auto v = read_verifier(path_or_vkey);
  if (!v.is_ok()) {
    throw crypto::key_file_error(v.error().message());
  }
  return std::move(v.value());
}

crypto::box_public_key load_auditor_public(const std::string& path) {
  const std::string text = trim_line(crypto::read_small_file(path));
  if (text.rfind(auditor_pub_prefix, 0) != 0) {
    throw crypto::key_file_error(path + " is not an auditor public key file");
  }
  auto raw = crypto::from_base64(std::string_view(text).substr(auditor_pub_prefix.size()));
  crypto::box_public_key pk{};
  if (!raw || raw->size() != pk.size()) {
    throw crypto::key_file_error(path + " is not an auditor public key file (bad key)");
  }
  std::copy(raw->begin(), raw->end(), pk.begin());
  return pk;
}

auditor_key_pair load_auditor_key(const std::string& path) {
  auto secret = crypto::read_secret_key_file(path, auditor_key_kind);
  if (secret.size() != crypto::box_secret_key_size) {
    throw crypto::key_file_error(path + " does not hold an X25519 secret key");
  }
  auditor_key_pair pair;
  pair.public_key = crypto::box_public_from_secret(secret);
  pair.secret_key = std::move(secret);
  return pair;
}

}  // namespace sovgw::audit
