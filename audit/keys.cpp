#include "audit/keys.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "audit/store.hpp"
#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
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

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string without_trailing_slashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return dir;
}

// True when `inner` is `outer` or below it (lexically, after normalisation).
bool within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  const auto a = std::filesystem::absolute(inner).lexically_normal();
  const auto b = std::filesystem::absolute(outer).lexically_normal();
  auto [end, _] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return end == b.end() || (std::next(end) == b.end() && end->empty());
}

void make_dir(const std::string& dir) {
  if (auto s = make_private_dir(dir); !s.is_ok()) {
    throw crypto::key_file_error(s.message());
  }
}

// A public key file: readable by anyone, but written only by its owner (a key others can replace
// would let them substitute their own). Refused when group or others can write it; and, with
// `any_owner` false, when it belongs to another user than root or the one reading it.
result<std::string> read_public_file(const std::string& path, bool any_owner) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return status{error_code::io, "cannot open the public key file " + path + ": " + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) {  // what it is comes before its mode (a 1777 folder is no key)
    return status{error_code::io, "the public key file " + path + " is " +
                                      std::string(file_type_name(st.st_mode)) + ", not a file"};
  }
  if ((st.st_mode & 022) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return status{error_code::io, "refusing to use public key " + path + ": its mode " + mode +
                                      " lets group or others change it; run `chmod go-w " + shell_word(path) +
                                      "`"};
  }
  // Any owner for a key that is read: an auditor reads the gateway's own public key (only who may
  // write it matters). Not for the one the writer seals payloads to: its owner could swap in a key
  // of their own, and open every payload sealed from then on.
  if (std::string problem = others_may_change(path, "public key", nullptr, any_owner); !problem.empty()) {
    return status{error_code::io, std::move(problem)};
  }
  try {
    return trim_line(crypto::read_small_file(path));
  } catch (const crypto::key_file_error& e) {
    return status{error_code::io, e.what()};
  }
}

// A vkey whose key id is not the one of its name and key: altered, or pieced together.
status key_id_mismatch(const std::string& where, const crypto::vkey_result& v) {
  return status{error_code::invalid_argument,
                fmt::format("{}: its key id {:08x} does not match its key: the key id of {} with that key is "
                            "{:08x} (altered, or pieced together from different keys)",
                            where, v.stated_key_id, v.verifier.name, v.verifier.key_id)};
}

}  // namespace

std::string default_auditor_dir(const std::string& dir) { return without_trailing_slashes(dir) + "-auditor"; }

initialized_keys init_keys(const std::string& dir, const std::string& log_name,
                           const std::string& auditor_dir) {
  if (!crypto::valid_note_key_name(log_name)) {
    throw crypto::key_file_error("invalid log name '" + log_name + "': no spaces or '+' allowed");
  }
  const std::string auditor =
      auditor_dir.empty() ? default_auditor_dir(dir) : without_trailing_slashes(auditor_dir);
  if (within(auditor, dir)) {
    throw std::invalid_argument("the auditor's directory " + auditor +
                                " is inside the gateway's key directory " + dir +
                                ": the auditor key must not stay with the gateway's keys");
  }
  for (const char* name : {"signing.key", "signing.pub", "kek.key", "auditor.key", "auditor.pub"}) {
    if (exists(dir + "/" + name)) {
      throw crypto::key_file_error(dir + "/" + name + " already exists; refusing to overwrite keys");
    }
  }
  for (const char* name : {"auditor.key", "signing.pub"}) {
    if (exists(auditor + "/" + name)) {
      throw crypto::key_file_error(auditor + "/" + name + " already exists; refusing to overwrite keys");
    }
  }
  make_dir(dir);
  make_dir(auditor);
  auto signing = crypto::ed25519_generate_key_pair();
  const auto verifier = crypto::note_verifier::from_public_key(log_name, signing.public_key);
  auto kek = crypto::aead_generate_key();
  auto auditor_pair = crypto::box_generate_key_pair();
  initialized_keys out{verifier.to_vkey(),
                       std::string(auditor_pub_prefix) + crypto::to_base64(auditor_pair.public_key), auditor};
  crypto::write_secret_key_file(dir + "/signing.key", signing_key_kind, signing.secret_key);
  crypto::write_public_file(dir + "/signing.pub", out.signing_vkey + "\n");
  crypto::write_secret_key_file(dir + "/kek.key", kek_kind, kek);
  crypto::write_public_file(dir + "/auditor.pub", out.auditor_public + "\n");
  crypto::write_secret_key_file(auditor + "/auditor.key", auditor_key_kind, auditor_pair.secret_key);
  crypto::write_public_file(auditor + "/signing.pub", out.signing_vkey + "\n");
  return out;
}

writer_keys load_writer_keys(const std::string& dir) {
  if (exists(dir + "/auditor.key")) {
    throw crypto::key_file_error(
        dir +
        "/auditor.key is in the gateway's key directory: the auditor's secret key opens every stored "
        "payload and belongs off the gateway host. Move it to the auditors (docs/auditing.md, \"Keys\"), "
        "then start again");
  }
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
    auto v = crypto::parse_vkey(path_or_vkey);
    if (v.ok()) {
      return std::move(v.verifier);
    }
    if (v.error == crypto::vkey_error::key_id_mismatch) {
      return key_id_mismatch(path_or_vkey, v);
    }
    if (stat_errno == ENOENT) {
      return status{error_code::not_found,
                    "the public key file " + path_or_vkey +
                        " does not exist, and the argument is not a verifier key either " + expected};
    }
    return status{error_code::io,
                  "cannot open the public key file " + path_or_vkey + ": " + std::strerror(stat_errno)};
  }
  auto text = read_public_file(path_or_vkey, true);
  if (!text.is_ok()) {
    return text.error();
  }
  auto v = crypto::parse_vkey(text.value());
  if (v.error == crypto::vkey_error::key_id_mismatch) {
    return key_id_mismatch(path_or_vkey, v);
  }
  if (!v.ok()) {
    const bool secret = text.value().rfind("sovgw-secret-key-v1 ", 0) == 0;
    crypto::wipe(text.value());
    return status{error_code::invalid_argument,
                  secret ? path_or_vkey +
                               " is a secret key file, not the public key: give the log's public key, "
                               "signing.pub (keep the secret one where it is, and out of auditors' hands)"
                         : path_or_vkey + " is not a signed-note verifier key " + expected};
  }
  return std::move(v.verifier);
}

crypto::note_verifier load_verifier(const std::string& path_or_vkey) {
  auto v = read_verifier(path_or_vkey);
  if (!v.is_ok()) {
    throw crypto::key_file_error(v.error().message());
  }
  return std::move(v.value());
}

crypto::box_public_key load_auditor_public(const std::string& path) {
  auto read = read_public_file(path, false);
  if (!read.is_ok()) {
    throw crypto::key_file_error(read.error().message());
  }
  const std::string& text = read.value();
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
  {
    // A public key given for the secret one: say which file is wanted. Read as a regular file
    // (common/regular_file.hpp): a FIFO is refused, never waited on.
    constexpr std::size_t max_key_file_bytes = 64 * 1024;
    auto read = read_regular_file(path, max_key_file_bytes, "file", O_NOFOLLOW);
    if (!read.is_ok() && read.error().kind != file_problem::cannot_open) {
      throw crypto::key_file_error("secret key " + path + ": " + read.error().message());
    }
    std::string text = read.is_ok() ? std::move(read.value()) : std::string();
    const bool auditor_pub = text.rfind(auditor_pub_prefix, 0) == 0;
    const bool verifier_key =
        !auditor_pub && crypto::note_verifier::parse(std::string_view(text).substr(0, text.find('\n')));
    crypto::wipe(text);  // a secret key's text is not kept: read_secret_key_file reads it
    if (auditor_pub || verifier_key) {
      throw wrong_key_file_error(path + " is a public key (" +
                                 (auditor_pub ? "the auditor's auditor.pub" : "a checkpoint verifier key") +
                                 "): give the auditor's secret key, auditor.key, from the auditors' "
                                 "directory (keys init's DIR-auditor)");
    }
  }
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
