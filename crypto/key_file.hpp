#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

// Key files are read at start-up (control plane), so failures throw key_file_error with a message
// that names the file and says what to do; the message never contains key material.
class key_file_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Secret key file format, one line: `sovgw-secret-key-v1 <kind> <base64>`. `kind` names what the
// key is for (e.g. "ed25519-signing", "xchacha20poly1305-kek", "x25519-auditor") so a key cannot be
// used in the wrong role by mistake.
//
// Creates `path` exclusively (never overwrites) with mode 0600, writes and fsyncs it.
void write_secret_key_file(const std::string& path, std::string_view kind, const secret_bytes& secret);

// Loads a secret key of `kind`. Refuses (key_file_error) when the file is not a regular file,
// is readable or writable by group or others, has another kind, or is malformed.
[[nodiscard]] secret_bytes read_secret_key_file(const std::string& path, std::string_view kind);

// Creates `path` exclusively with mode 0644 holding `text` (public keys; not secret).
void write_public_file(const std::string& path, std::string_view text);

// Reads a whole (small, at most 1 MiB) text file; throws key_file_error if it cannot. `what` names
// the kind of file in the error for a larger one.
[[nodiscard]] std::string read_small_file(const std::string& path, std::string_view what = "key file");

}  // namespace sovgw::crypto
