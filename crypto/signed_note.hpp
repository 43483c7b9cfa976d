#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/secret_bytes.hpp"

// C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 signatures (type 0x01): the note
// text, a blank line, and one `— <key name> base64(key id || signature)` line per signature. Key
// ids are SHA-256(key name || 0x0A || 0x01 || public key)[:4], big-endian. Public verifier keys are
// exchanged as `<name>+<key id hex>+<base64(0x01 || public key)>` (the Go sumdb/note "vkey" form).
namespace sovgw::crypto {

[[nodiscard]] std::uint32_t note_key_id(std::string_view name, const ed25519_public_key& public_key);

// Key names are non-empty with no Unicode spaces (we refuse all ASCII whitespace and controls) and no '+'.
[[nodiscard]] bool valid_note_key_name(std::string_view name);

struct vkey_result;

struct note_verifier {
  std::string name;
  std::uint32_t key_id = 0;
  ed25519_public_key public_key{};

  [[nodiscard]] static note_verifier from_public_key(std::string name, const ed25519_public_key& public_key);
  // Parses a vkey; nullopt if malformed, of another signature type, or its key id does not match.
  [[nodiscard]] static std::optional<note_verifier> parse(std::string_view vkey);
  [[nodiscard]] std::string to_vkey() const;
  // "<name>+<key id hex>": how messages name the key.
  [[nodiscard]] std::string label() const;
};

enum class vkey_error {
  none,
  malformed,        // not `<name>+<8 hex digits>+<base64>`, a bad name, or not an Ed25519 key
  key_id_mismatch,  // well-formed, but the key id is not the one of this name and key
};

struct vkey_result {
  vkey_error error = vkey_error::malformed;
  note_verifier verifier;           // none: the key; key_id_mismatch: the name and key, their own key id
  std::uint32_t stated_key_id = 0;  // key_id_mismatch: the key id the vkey states
  [[nodiscard]] bool ok() const { return error == vkey_error::none; }
};

// Parses a vkey and says why it is refused (note_verifier::parse is this, without the why).
[[nodiscard]] vkey_result parse_vkey(std::string_view vkey);

// Holds the secret key; copies are not allowed. Thread-safe for concurrent sign() calls.
class note_signer {
 public:
  // Throws std::invalid_argument on an invalid key name or a secret key that is not 64 bytes.
  note_signer(std::string name, secret_bytes secret_key);

  [[nodiscard]] const note_verifier& verifier() const { return verifier_; }
  // Signs `text`, which must be non-empty and end in a newline (std::invalid_argument otherwise).
  [[nodiscard]] std::string sign(std::string_view text) const;

 private:
  note_verifier verifier_;
  secret_bytes secret_key_;
};

struct note_signature {
  std::string name;
  std::uint32_t key_id = 0;
  std::vector<std::uint8_t> signature;
};

struct parsed_note {
  std::string text;
  std::vector<note_signature> signatures;
};

// Splits a signed note (at most 16 signatures, no control characters other than newline, text
// separated from signatures by the last blank line). nullopt if malformed.
[[nodiscard]] std::optional<parsed_note> parse_note(std::string_view note);

enum class note_verdict { ok, malformed, no_known_signature, bad_signature };

[[nodiscard]] const char* to_string(note_verdict verdict);

struct note_verification {
  note_verdict verdict = note_verdict::malformed;
  std::string text;  // set only when verdict == ok
};

// Verifies `note` against one trusted key: signatures by other keys are ignored, a signature by
// the trusted key that fails rejects the note, and at least one must verify.
[[nodiscard]] note_verification verify_note(std::string_view note, const note_verifier& key);

// The keys that signed `note`, for messages: "name+keyid, name+keyid", or "no key".
[[nodiscard]] std::string note_signer_labels(std::string_view note);

}  // namespace sovgw::crypto
