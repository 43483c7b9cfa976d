// Fuzz target over everything an auditor's tools parse from untrusted files: record encodings
// (leaves), tlog-proof and consistency proof files, signed notes and checkpoints.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "audit/proof_file.hpp"
#include "audit/record.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/signed_note.hpp"

namespace {

const sovgw::crypto::note_verifier& fixed_key() {
  static const auto key = [] {
    sovgw::crypto::ed25519_public_key pk{};
    for (std::size_t i = 0; i < pk.size(); ++i) {
      pk[i] = static_cast<std::uint8_t>(i * 7 + 1);
    }
    return sovgw::crypto::note_verifier::from_public_key("fuzz.example/log", pk);
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sovgw;
  const std::span<const std::uint8_t> bytes(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  audit::index_fields fields;
  const bool indexed = audit::read_index_fields(bytes, fields);
  if (auto r = audit::decode(bytes); r.is_ok()) {
    // The encoding is canonical: what decodes re-encodes to the same bytes.
    if (audit::encode(r.value()) != std::vector<std::uint8_t>(bytes.begin(), bytes.end())) {
      std::abort();
    }
    // The in-place reader the verifier uses agrees with the strict decoder.
    const auto& d = r.value();
    if (!indexed || fields.timestamp_us != d.timestamp_us || fields.request_id != d.request_id ||
        fields.tenant != d.tenant || fields.client_country != d.client_country ||
        fields.decision != d.decision) {
      std::abort();
    }
  }
  if (auto p = audit::parse_inclusion_proof(text); p.is_ok()) {
    const auto again = audit::parse_inclusion_proof(audit::format_proof(p.value()));
    if (!again.is_ok() || again->index != p->index || again->path != p->path || again->leaf != p->leaf) {
      std::abort();
    }
  }
  (void)audit::parse_consistency_proof(text);
  (void)audit::verify_inclusion_proof(text, fixed_key());
  (void)audit::verify_consistency_proof(text, fixed_key());
  (void)crypto::verify_note(text, fixed_key());
  if (auto cp = crypto::checkpoint::parse(text)) {
    if (crypto::checkpoint::parse(cp->to_text()) != cp) {
      std::abort();
    }
  }
  return 0;
}
