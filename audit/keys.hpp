#pragma once

#include <string>

#include "audit/status.hpp"
#include "crypto/key_file.hpp"
#include "crypto/sealed_box.hpp"
#include "crypto/secret_bytes.hpp"
#include "crypto/signed_note.hpp"

// The keys of an audit log, as made by `sovgw keys init DIR`. The gateway's key directory DIR:
//   signing.key  Ed25519 secret key that signs checkpoints (0600)
//   signing.pub  its signed-note verifier key `<name>+<id>+<key>` (give this to auditors)
//   kek.key      32-byte secret that keys the client-address pseudonyms (hash_client_ip) (0600);
//                it no longer wraps data keys (older logs: see payload_vault.hpp)
//   auditor.pub  `sovgw-auditor-x25519 <base64>`: the public key data keys are sealed to
// The auditor's directory (DIR-auditor unless named): auditor.key, the X25519 secret key that
// opens payloads (0600), and a copy of signing.pub. It belongs off the gateway host; a writer
// refuses a key directory that holds auditor.key.
// Secret key files are refused when group or others can read or write them, public key files when
// group or others can write them. The loaders throw crypto::key_file_error (control plane) with a
// message naming the file.
namespace sovgw::audit {

inline constexpr const char* signing_key_kind = "ed25519-checkpoint-signing";
inline constexpr const char* kek_kind = "xchacha20poly1305-kek";
inline constexpr const char* auditor_key_kind = "x25519-auditor";
inline constexpr const char* default_log_name = "sovgw.local/audit";

struct initialized_keys {
  std::string signing_vkey;
  std::string auditor_public;  // the auditor.pub line
  std::string auditor_dir;     // where auditor.key went
};

// DIR-auditor: where init_keys puts the auditor's key unless told otherwise.
[[nodiscard]] std::string default_auditor_dir(const std::string& dir);

// Creates DIR and the auditor's directory (mode 0700) if needed and the keys above; refuses to
// overwrite existing keys (crypto::key_file_error), and an auditor directory that is DIR or inside
// it (std::invalid_argument: a mistake in what was asked, not in the file system).
[[nodiscard]] initialized_keys init_keys(const std::string& dir, const std::string& log_name,
                                         const std::string& auditor_dir = {});

struct writer_keys {
  crypto::note_signer signer;
  crypto::secret_bytes kek;
  crypto::box_public_key auditor_public{};
};

// What the log writer needs: signing key + its .pub (must match), kek.key, auditor public key.
// Refuses a directory that also holds auditor.key.
[[nodiscard]] writer_keys load_writer_keys(const std::string& dir);

// A verifier key from a `.pub` file, or a vkey string given directly. not_found: neither a file
// nor a vkey; io: the file cannot be read; invalid_argument: the file holds no vkey.
[[nodiscard]] result<crypto::note_verifier> read_verifier(const std::string& path_or_vkey);
// The same for start-up paths: throws crypto::key_file_error with the message.
[[nodiscard]] crypto::note_verifier load_verifier(const std::string& path_or_vkey);

[[nodiscard]] crypto::box_public_key load_auditor_public(const std::string& path);

struct auditor_key_pair {
  crypto::box_public_key public_key{};
  crypto::secret_bytes secret_key;
};
// A key file of another kind than the one asked for (a public key given for a secret one): the
// caller's mistake in naming the file, not a file that cannot be read.
class wrong_key_file_error : public crypto::key_file_error {
 public:
  using crypto::key_file_error::key_file_error;
};
// Throws wrong_key_file_error for a public key (auditor.pub, signing.pub), key_file_error otherwise.
[[nodiscard]] auditor_key_pair load_auditor_key(const std::string& path);

}  // namespace sovgw::audit
