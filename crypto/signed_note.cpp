#include "crypto/signed_note.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "common/utf8.hpp"
#include "crypto/base64.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::crypto {
namespace {

constexpr std::uint8_t ed25519_type = 0x01;
constexpr std::string_view em_dash = "\xE2\x80\x94";
constexpr std::size_t max_signatures = 16;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::optional<note_signature> parse_signature_line(std::string_view line) {
  if (line.substr(0, em_dash.size()) != em_dash || line.size() < em_dash.size() + 1 ||
      line[em_dash.size()] != ' ') {
    return std::nullopt;
  }
  line.remove_prefix(em_dash.size() + 1);
  const auto space = line.find(' ');
  if (space == std::string_view::npos) {
    return std::nullopt;
  }
  note_signature sig;
  sig.name = std::string(line.substr(0, space));
  if (!valid_note_key_name(sig.name)) {
    return std::nullopt;
  }
  auto raw = from_base64(line.substr(space + 1));
  if (!raw || raw->size() < 5) {
    return std::nullopt;
  }
  sig.key_id = std::uint32_t{(*raw)[0]} << 24 | std::uint32_t{(*raw)[1]} << 16 |
               std::uint32_t{(*raw)[2]} << 8 | std::uint32_t{(*raw)[3]};
  sig.signature.assign(raw->begin() + 4, raw->end());
  return sig;
}

}  // namespace

std::uint32_t note_key_id(std::string_view name, const ed25519_public_key& public_key) {
  sha256_hasher h;
  h.update(name);
  const std::uint8_t sep[2] = {0x0A, ed25519_type};
  h.update(std::span(sep));
  h.update(std::span(public_key));
  const auto d = h.finish();
  return std::uint32_t{d[0]} << 24 | std::uint32_t{d[1]} << 16 | std::uint32_t{d[2]} << 8 |
         std::uint32_t{d[3]};
}

bool valid_note_key_name(std::string_view name) {
  if (name.empty() || !valid_utf8(name)) {
    return false;
  }
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F || c == '+') {
      return false;
    }
  }
  return true;
}

note_verifier note_verifier::from_public_key(std::string name, const ed25519_public_key& public_key) {
  note_verifier v;
  v.key_id = note_key_id(name, public_key);
  v.name = std::move(name);
  v.public_key = public_key;
  return v;
}

vkey_result parse_vkey(std::string_view vkey) {
  vkey_result r;
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r')) {
    vkey.remove_suffix(1);
  }
  const auto p1 = vkey.find('+');
  if (p1 == std::string_view::npos) {
    return r;
  }
  const auto p2 = vkey.find('+', p1 + 1);
  if (p2 == std::string_view::npos || p2 - p1 - 1 != 8) {
    return r;
  }
  const std::string_view name = vkey.substr(0, p1);
  auto id = from_hex(vkey.substr(p1 + 1, 8));
  auto key = from_base64(vkey.substr(p2 + 1));
  if (!valid_note_key_name(name) || !id || !key || key->size() != 1 + ed25519_public_key_size ||
      (*key)[0] != ed25519_type) {
    return r;
  }
  ed25519_public_key pk{};
  std::copy(key->begin() + 1, key->end(), pk.begin());
  r.verifier = note_verifier::from_public_key(std::string(name), pk);
  r.stated_key_id = std::uint32_t{(*id)[0]} << 24 | std::uint32_t{(*id)[1]} << 16 |
                    std::uint32_t{(*id)[2]} << 8 | std::uint32_t{(*id)[3]};
  r.error = r.stated_key_id == r.verifier.key_id ? vkey_error::none : vkey_error::key_id_mismatch;
  return r;
}

std::optional<note_verifier> note_verifier::parse(std::string_view vkey) {
  auto r = parse_vkey(vkey);
  if (!r.ok()) {
    return std::nullopt;
  }
  return std::move(r.verifier);
}

std::string note_verifier::label() const { return fmt::format("{}+{:08x}", name, key_id); }

std::string note_verifier::to_vkey() const {
  std::vector<std::uint8_t> key{ed25519_type};
  key.insert(key.end(), public_key.begin(), public_key.end());
  return fmt::format("{}+{:08x}+{}", name, key_id, to_base64(key));
}

note_signer::note_signer(std::string name, secret_bytes secret_key) : secret_key_(std::move(secret_key)) {
  if (!valid_note_key_name(name)) {
    throw std::invalid_argument("invalid signed-note key name '" + name + "'");
  }
  verifier_ = note_verifier::from_public_key(std::move(name), ed25519_public_from_secret(secret_key_));
}

std::string note_signer::sign(std::string_view text) const {
  if (text.empty() || text.back() != '\n') {
    throw std::invalid_argument("signed-note text must end with a newline");
  }
  const auto sig = ed25519_sign(secret_key_, as_bytes(text));
  std::vector<std::uint8_t> raw{
      static_cast<std::uint8_t>(verifier_.key_id >> 24), static_cast<std::uint8_t>(verifier_.key_id >> 16),
      static_cast<std::uint8_t>(verifier_.key_id >> 8), static_cast<std::uint8_t>(verifier_.key_id)};
  raw.insert(raw.end(), sig.begin(), sig.end());
  std::string note(text);
  note += "\n";
  note += em_dash;
  note += " " + verifier_.name + " " + to_base64(raw) + "\n";
  return note;
}

std::optional<parsed_note> parse_note(std::string_view note) {
  if (note.empty() || note.back() != '\n' || !valid_utf8(note)) {
    return std::nullopt;
  }
  for (const char ch : note) {
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n') {
      return std::nullopt;
    }
  }
  const auto split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return std::nullopt;
  }
  parsed_note out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) {
    return std::nullopt;
  }
  while (!sigs.empty()) {
    const auto nl = sigs.find('\n');
    auto sig = parse_signature_line(sigs.substr(0, nl));
    if (!sig || out.signatures.size() == max_signatures) {
      return std::nullopt;
    }
    out.signatures.push_back(std::move(*sig));
    sigs.remove_prefix(nl + 1);
  }
  return out;
}

const char* to_string(note_verdict verdict) {
  switch (verdict) {
    case note_verdict::ok:
      return "ok";
    case note_verdict::malformed:
      return "malformed signed note";
    case note_verdict::no_known_signature:
      return "no signature by the trusted key";
    case note_verdict::bad_signature:
      return "signature by the trusted key does not verify";
  }
  return "unknown";
}

note_verification verify_note(std::string_view note, const note_verifier& key) {
  auto parsed = parse_note(note);
  if (!parsed) {
    return {note_verdict::malformed, {}};
  }
  bool verified = false;
  for (const auto& sig : parsed->signatures) {
    if (sig.name != key.name || sig.key_id != key.key_id) {
      continue;
    }
    if (!ed25519_verify(key.public_key, as_bytes(parsed->text), sig.signature)) {
      return {note_verdict::bad_signature, {}};
    }
    verified = true;
  }
  if (!verified) {
    return {note_verdict::no_known_signature, {}};
  }
  return {note_verdict::ok, std::move(parsed->text)};
}

std::string note_signer_labels(std::string_view note) {
  std::string out;
  if (const auto parsed = parse_note(note)) {
    for (const auto& sig : parsed->signatures) {
      out += fmt::format("{}{}+{:08x}", out.empty() ? "" : ", ", sig.name, sig.key_id);
    }
  }
  return out.empty() ? std::string("no key") : out;
}

}  // namespace sovgw::crypto
