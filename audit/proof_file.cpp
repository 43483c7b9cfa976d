#include "audit/proof_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "audit/store.hpp"
#include "audit/tree_tiles.hpp"
#include "crypto/base64.hpp"

namespace sovgw::audit {
namespace {

namespace m = crypto::merkle;

proof_error bad(std::string_view what) {
  return {proof_failure::malformed, fmt::format("malformed proof: {}", what)};
}

// Splits off the next line (without its newline); false at the end of the text.
bool next_line(std::string_view& text, std::string_view& line) {
  if (text.empty()) {
    return false;
  }
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos) {
    line = text;
    text = {};
    return true;
  }
  line = text.substr(0, nl);
  text.remove_prefix(nl + 1);
  return true;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Reads hash lines up to the blank line; `text` then holds the checkpoint note.
std::optional<proof_error> read_path(std::string_view& text, std::vector<m::hash>& path) {
  std::string_view line;
  for (;;) {
    if (!next_line(text, line)) {
      return bad("truncated before the checkpoint");
    }
    if (line.empty()) {
      return std::nullopt;
    }
    auto h = crypto::from_base64(line);
    if (!h || h->size() != 32) {
      return bad("a proof hash line is not a base64 SHA-256 hash");
    }
    if (path.size() == max_proof_hashes) {
      return bad("too many proof hashes");
    }
    m::hash out{};
    std::copy(h->begin(), h->end(), out.begin());
    path.push_back(out);
  }
}

proof_result<crypto::checkpoint> open_checkpoint(std::string_view note, const crypto::note_verifier& key,
                                                 std::string_view which) {
  const auto v = crypto::verify_note(note, key);
  if (v.verdict == crypto::note_verdict::no_known_signature) {
    return proof_error{
        proof_failure::unknown_key,
        fmt::format("{} is not signed by the key {} (signed by {}): wrong public key, or a proof "
                    "from another log",
                    which, key.label(), crypto::note_signer_labels(note))};
  }
  if (v.verdict == crypto::note_verdict::bad_signature) {
    return proof_error{
        proof_failure::bad_signature,
        fmt::format("{}: its signature by the key {} does not verify: the checkpoint was altered", which,
                    key.label())};
  }
  if (v.verdict != crypto::note_verdict::ok) {
    return proof_error{proof_failure::bad_checkpoint,
                       fmt::format("{}: {}", which, crypto::to_string(v.verdict))};
  }
  auto cp = crypto::checkpoint::parse(v.text);
  if (!cp) {
    return proof_error{proof_failure::bad_checkpoint, fmt::format("{}: not a valid tlog-checkpoint", which)};
  }
  if (cp->origin != key.name) {
    return proof_error{proof_failure::bad_checkpoint,
                       fmt::format("{}: origin '{}' is not the key's log '{}'", which, cp->origin, key.name)};
  }
  return *cp;
}

// A proof whose number of hashes does not fit its sizes: cut short or padded, or its hashes and its
// checkpoint taken from two proofs; it proves nothing either way (and is no evidence that the log
// was rewritten).
proof_error wrong_length(std::string_view kind, std::size_t have, std::size_t want,
                         const std::string& needs) {
  if (have < want) {
    return {
        proof_failure::proof_too_short,
        fmt::format("the {} proof does not fit its checkpoint: it holds {} hash(es), but {} {}: it was cut "
                    "short in transit, or its hashes and its checkpoint come from two different proofs (it "
                    "proves nothing about the log)",
                    kind, have, needs, want)};
  }
  return {proof_failure::proof_too_long,
          fmt::format("the {} proof holds {} hashes, but {} {}: hashes were added, or its hashes and its "
                      "checkpoint come from two different proofs (it proves nothing about the log)",
                      kind, have, needs, want)};
}

}  // namespace

std::string format_proof(const inclusion_proof_file& p) {
  std::string out(inclusion_proof_header);
  out += "\nextra " + crypto::to_base64(p.leaf) + "\nindex " + std::to_string(p.index) + "\n";
  for (const auto& h : p.path) {
    out += crypto::to_base64(h) + "\n";
  }
  return out + "\n" + p.checkpoint_note;
}

std::string format_proof(const consistency_proof_file& p) {
  std::string out(consistency_proof_header);
  out += "\nold " +
         crypto::to_base64({reinterpret_cast<const std::uint8_t*>(p.old_note.data()), p.old_note.size()}) +
         "\n";
  for (const auto& h : p.path) {
    out += crypto::to_base64(h) + "\n";
  }
  return out + "\n" + p.new_note;
}

proof_result<inclusion_proof_file> parse_inclusion_proof(std::string_view text) {
  inclusion_proof_file p;
  std::string_view line;
  if (!next_line(text, line) || line != inclusion_proof_header) {
    return bad(fmt::format("the first line is not '{}'", inclusion_proof_header));
  }
  if (!next_line(text, line) || !line.starts_with("extra ")) {
    return bad("missing 'extra' line with the record");
  }
  auto leaf = crypto::from_base64(line.substr(6));
  if (!leaf || leaf->empty()) {
    return bad("the 'extra' line is not base64");
  }
  p.leaf = std::move(*leaf);
  if (!next_line(text, line) || !line.starts_with("index ") || !parse_u64(line.substr(6), p.index)) {
    return bad("missing or invalid 'index' line");
  }
  if (auto e = read_path(text, p.path)) {
    return *e;
  }
  if (text.empty()) {
    return bad("the signed checkpoint is missing");
  }
  p.checkpoint_note = std::string(text);
  return p;
}

proof_result<consistency_proof_file> parse_consistency_proof(std::string_view text) {
  consistency_proof_file p;
  std::string_view line;
  if (!next_line(text, line) || line != consistency_proof_header) {
    return bad(fmt::format("the first line is not '{}'", consistency_proof_header));
  }
  if (!next_line(text, line) || !line.starts_with("old ")) {
    return bad("missing 'old' checkpoint line");
  }
  auto old_note = crypto::from_base64(line.substr(4));
  if (!old_note) {
    return bad("the 'old' checkpoint is not base64");
  }
  p.old_note.assign(old_note->begin(), old_note->end());
  if (auto e = read_path(text, p.path)) {
    return *e;
  }
  if (text.empty()) {
    return bad("the new signed checkpoint is missing");
  }
  p.new_note = std::string(text);
  return p;
}

const char* to_string(proof_failure f) {
  switch (f) {
    case proof_failure::malformed:
      return "malformed";
    case proof_failure::unknown_key:
      return "unknown_key";
    case proof_failure::bad_signature:
      return "bad_signature";
    case proof_failure::bad_checkpoint:
      return "bad_checkpoint";
    case proof_failure::bad_record:
      return "bad_record";
    case proof_failure::bad_sizes:
      return "bad_sizes";
    case proof_failure::proof_too_short:
      return "proof_too_short";
    case proof_failure::proof_too_long:
      return "proof_too_long";
    case proof_failure::old_root_mismatch:
      return "old_root_mismatch";
    case proof_failure::root_mismatch:
      return "root_mismatch";
    case proof_failure::key_changed:
      return "key_changed";
    case proof_failure::other_log:
      return "other_log";
  }
  return "?";
}

error_code proof_error::code() const {
  return kind == proof_failure::malformed ? error_code::invalid_argument : error_code::verification_failed;
}

proof_result<verified_inclusion> verify_inclusion_proof(std::string_view text,
                                                        const crypto::note_verifier& key) {
  auto p = parse_inclusion_proof(text);
  if (!p.is_ok()) {
    return p.error();
  }
  auto cp = open_checkpoint(p->checkpoint_note, key, "checkpoint");
  if (!cp.is_ok()) {
    return cp.error();
  }
  auto rec = decode(p->leaf);
  if (!rec.is_ok()) {
    return proof_error{proof_failure::bad_record,
                       "the proven record does not decode: " + rec.error().message()};
  }
  if (rec->seq != p->index) {
    return proof_error{
        proof_failure::bad_record,
        fmt::format("the record carries seq {} but the proof is for index {}", rec->seq, p->index)};
  }
  const auto verdict = m::verify_inclusion(m::leaf_hash(p->leaf), p->index, cp->size, p->path, cp->root);
  if (verdict == m::verdict::ok) {
    return verified_inclusion{std::move(rec.value()), std::move(cp.value())};
  }
  if (verdict == m::verdict::bad_sizes) {
    return proof_error{
        proof_failure::bad_sizes,
        fmt::format("index {} is outside the checkpointed tree of size {}", p->index, cp->size)};
  }
  if (verdict == m::verdict::proof_too_short || verdict == m::verdict::proof_too_long) {
    return wrong_length("inclusion", p->path.size(), m::inclusion_proof_size(p->index, cp->size),
                        fmt::format("record {} in a tree of size {} needs", p->index, cp->size));
  }
  return proof_error{
      proof_failure::root_mismatch,
      fmt::format("the inclusion path does not lead from record {} to the signed root of tree size {}",
                  p->index, cp->size)};
}

proof_result<verified_consistency> verify_consistency_proof(std::string_view text,
                                                            const crypto::note_verifier& key) {
  auto p = parse_consistency_proof(text);
  if (!p.is_ok()) {
    return p.error();
  }
  auto old_cp = open_checkpoint(p->old_note, key, "old checkpoint");
  if (!old_cp.is_ok()) {
    return old_cp.error();
  }
  auto new_cp = open_checkpoint(p->new_note, key, "new checkpoint");
  if (!new_cp.is_ok()) {
    return new_cp.error();
  }
  const std::uint64_t from = old_cp->size;
  const std::uint64_t to = new_cp->size;
  const auto verdict = m::verify_consistency(from, to, old_cp->root, new_cp->root, p->path);
  if (verdict == m::verdict::ok) {
    return verified_consistency{std::move(old_cp.value()), std::move(new_cp.value())};
  }
  if (verdict == m::verdict::bad_sizes) {
    return proof_error{
        proof_failure::bad_sizes,
        fmt::format("the old checkpoint (size {}) is larger than the new one (size {}): are the "
                    "two swapped?",
                    from, to)};
  }
  if (verdict == m::verdict::proof_too_short || verdict == m::verdict::proof_too_long) {
    return wrong_length("consistency", p->path.size(), m::consistency_proof_size(from, to),
                        fmt::format("sizes {} and {} need", from, to));
  }
  return proof_error{
      verdict == m::verdict::old_root_mismatch ? proof_failure::old_root_mismatch
                                               : proof_failure::root_mismatch,
      fmt::format("the checkpoints at sizes {} and {} are NOT consistent: the log was rewritten "
                  "(or the proof altered)",
                  from, to)};
}

result<std::string> stored_checkpoint_note(const store& s, std::uint64_t size) {
  if (size == 0) {
    // The newest checkpoint the stored records reach (after a forced open over deleted records,
    // an older, larger checkpoint may outlive them).
    auto count = s.leaf_count();
    if (!count.is_ok()) {
      return count.error();
    }
    auto it = s.iterate(column::checkpoints);
    it->SeekForPrev(be64(count.value()));
    if (it->Valid()) {
      return it->value().ToString();
    }
    if (!it->status().ok()) {
      return from_rocksdb(it->status(), "reading checkpoints failed");
    }
    return status{error_code::not_found, "the log has no signed checkpoint yet"};
  }
  auto note = s.get(column::checkpoints, be64(size));
  if (!note.is_ok()) {
    return note.error();
  }
  if (!note->has_value()) {
    auto sizes = stored_checkpoint_sizes(s);
    if (!sizes.is_ok()) {
      return sizes.error();
    }
    if (sizes->empty()) {
      return status{error_code::not_found,
                    fmt::format("there is no signed checkpoint at tree size {}: the log has none yet", size)};
    }
    const std::size_t n = sizes->size();
    return status{error_code::not_found,
                  fmt::format("there is no signed checkpoint at tree size {} (the log has signed checkpoints "
                              "at sizes {}{})",
                              size, format_checkpoint_sizes(sizes.value(), size),
                              n > max_listed_checkpoint_sizes ? fmt::format(": {} in all", n) : "")};
  }
  return **note;
}

result<std::vector<std::uint64_t>> stored_checkpoint_sizes(const store& s) {
  std::vector<std::uint64_t> sizes;
  auto it = s.iterate(column::checkpoints);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() == 8) {
      sizes.push_back(read_be64(it->key().ToStringView()));
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading checkpoints failed");
  }
  return sizes;
}

std::string format_checkpoint_sizes(const std::vector<std::uint64_t>& sizes, std::uint64_t near) {
  const std::size_t n = sizes.size();
  const auto at =
      static_cast<std::size_t>(std::lower_bound(sizes.begin(), sizes.end(), near) - sizes.begin());
  const auto shown = [&](std::size_t i) {
    return n <= max_listed_checkpoint_sizes || i < 2 || i + 2 >= n || (i + 3 >= at && i < at + 3);
  };
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (!shown(i)) {
      continue;
    }
    if (!out.empty()) {
      out += i > 0 && !shown(i - 1) ? ", ..., " : ", ";
    }
    out += std::to_string(sizes[i]);
  }
  return out;
}

result<std::string> make_inclusion_proof(const store& s, std::uint64_t seq) {
  auto note = stored_checkpoint_note(s, 0);
  if (!note.is_ok()) {
    return note.error();
  }
  auto parsed = crypto::parse_note(note.value());
  auto cp = parsed ? crypto::checkpoint::parse(parsed->text) : std::nullopt;
  if (!cp) {
    return status{error_code::corruption, "the latest stored checkpoint is malformed"};
  }
  if (seq >= cp->size) {
    auto count = s.leaf_count();
    if (!count.is_ok()) {
      return count.error();
    }
    if (seq >= count.value()) {
      return status{error_code::not_found,
                    count.value() == 0
                        ? fmt::format("there is no record {}: the log holds no records", seq)
                        : fmt::format("there is no record {}: the log holds {} records (seq 0 to {})", seq,
                                      count.value(), count.value() - 1)};
    }
    // A checkpoint stored past the log's end covers the record: records after it are gone (or that
    // checkpoint is another log's), and no checkpoint will come to sign it (a writer refuses the log)
    // (probe round 47: "retry after the next checkpoint").
    auto it = s.iterate(column::checkpoints);
    it->Seek(be64(count.value() + 1));
    if (it->Valid() && it->key().size() == 8) {
      const std::uint64_t past = read_be64(it->key().ToStringView());
      return status{
          error_code::corruption,
          fmt::format(
              "record {} is covered by the checkpoint stored at size {}, but the log holds {} "
              "records: {} {} gone (deleted from its end), or that checkpoint is another log's that "
              "shares the key (sovgw audit verify names it); the record cannot be proven from this log, "
              "and waiting does not help: a writer refuses to open it unforced",
              seq, past, count.value(),
              past - count.value() == 1 ? fmt::format("record {}", count.value())
                                        : fmt::format("records {}..{}", count.value(), past - 1),
              past - count.value() == 1 ? "is" : "are")};
    }
    if (!it->status().ok()) {
      return from_rocksdb(it->status(), "reading checkpoints failed");
    }
    return status{
        error_code::not_found,
        fmt::format("record {} is not covered by a signed checkpoint yet (latest covers {} records); retry "
                    "after the next checkpoint",
                    seq, cp->size)};
  }
  auto leaf = s.get(column::leaves, be64(seq));
  if (!leaf.is_ok()) {
    return leaf.error();
  }
  if (!leaf->has_value()) {
    return status{error_code::corruption, fmt::format("record {} is missing from the log", seq)};
  }
  // A proof of a record that does not decode would not verify offline: the log is damaged.
  if (auto r = decode(bytes_of(**leaf)); !r.is_ok()) {
    return status{error_code::corruption,
                  fmt::format("record {} does not decode ({}): the log is damaged (sovgw audit verify names "
                              "it); no proof is made of it",
                              seq, r.error().message())};
  }
  stored_tree tree(s);
  auto path = m::inclusion_proof(seq, cp->size, tree.source());
  if (!path) {
    return tree.error().is_ok() ? status{error_code::corruption, "cannot build the inclusion proof"}
                                : tree.error();
  }
  const auto& l = **leaf;
  // Nor would one of a record altered since it was signed, or under a stored tree that does not
  // lead to the checkpoint's root: whoever asks for the proof learns it here, not from the person
  // they hand it to.
  if (m::verify_inclusion(m::leaf_hash(bytes_of(l)), seq, cp->size, *path, cp->root) != m::verdict::ok) {
    return status{
        error_code::corruption,
        fmt::format("record {} does not lead to the root of the latest stored checkpoint (size {}): "
                    "the record or the stored tree was altered since it was signed, or that checkpoint is "
                    "another log's that shares the key (a second gateway or a staging log under the same "
                    "keys), stored in place of this log's own; the log is damaged (sovgw audit verify names "
                    "it); no proof is made of it",
                    seq, cp->size)};
  }
  return format_proof(inclusion_proof_file{std::vector<std::uint8_t>(l.begin(), l.end()), seq,
                                           std::move(*path), std::move(note.value())});
}

result<std::string> make_consistency_proof(const store& s, std::uint64_t old_size, std::uint64_t new_size) {
  auto old_note = stored_checkpoint_note(s, old_size);
  if (!old_note.is_ok()) {
    return old_note.error();
  }
  auto new_note = stored_checkpoint_note(s, new_size);
  if (!new_note.is_ok()) {
    return new_note.error();
  }
  auto parsed = crypto::parse_note(new_note.value());
  auto cp = parsed ? crypto::checkpoint::parse(parsed->text) : std::nullopt;
  if (!cp) {
    return status{error_code::corruption, "the newer stored checkpoint is malformed"};
  }
  if (old_size > cp->size) {
    return status{error_code::invalid_argument,
                  fmt::format("the old checkpoint ({}) is newer than the new one ({})", old_size, cp->size)};
  }
  auto old_parsed = crypto::parse_note(old_note.value());
  auto old_cp = old_parsed ? crypto::checkpoint::parse(old_parsed->text) : std::nullopt;
  if (!old_cp) {
    return status{error_code::corruption, "the older stored checkpoint is malformed"};
  }
  stored_tree tree(s);
  auto path = m::consistency_proof(old_size, cp->size, tree.source());
  if (!path) {
    return tree.error().is_ok() ? status{error_code::corruption, "cannot build the consistency proof"}
                                : tree.error();
  }
  // Nor a proof that would not verify offline (probe round 44: exit 0, and verify-proof then said
  // the log was rewritten): whoever asks for it learns it here.
  if (m::verify_consistency(old_cp->size, cp->size, old_cp->root, cp->root, *path) != m::verdict::ok) {
    return status{
        error_code::corruption,
        fmt::format("the stored checkpoints at sizes {} and {} are not consistent according to the stored "
                    "tree: one of them, or the tree, was altered, or one is another log's under the same "
                    "key; no proof is made (sovgw audit verify says which)",
                    old_cp->size, cp->size)};
  }
  return format_proof(
      consistency_proof_file{std::move(old_note.value()), std::move(*path), std::move(new_note.value())});
}

namespace {

// A kept checkpoint that `key` does not verify, but that is signed under `key`'s name: the auditor
// verified it with another key of this log on an earlier visit (key_changed). Signed under no key of
// that name, and of another origin: another log (other_log).
std::optional<proof_error> kept_under_other_key(std::string_view note, const crypto::note_verifier& key) {
  const auto parsed = crypto::parse_note(note);
  if (!parsed) {
    return std::nullopt;
  }
  const bool same_name = std::any_of(parsed->signatures.begin(), parsed->signatures.end(),
                                     [&](const crypto::note_signature& s) { return s.name == key.name; });
  if (!same_name) {
    const auto cp = crypto::checkpoint::parse(parsed->text);
    if (!cp || cp->origin == key.name) {
      return std::nullopt;
    }
    return proof_error{
        proof_failure::other_log,
        fmt::format(
            "the log you were given is not the log this checkpoint was saved from: another name and "
            "signing key (the checkpoint you hold is of the log '{}', signed by {}; --pubkey is {}, a "
            "key of the log '{}'): if you saved it from this gateway, its log was replaced; the log "
            "is checked without it",
            cp->origin, crypto::note_signer_labels(note), key.label(), key.name)};
  }
  return proof_error{
      proof_failure::key_changed,
      fmt::format(
          "the checkpoint you hold is signed by {}, not by the key {} given with --pubkey, under the same "
          "log name: the log's signing key changed since your last visit (or the checkpoint you hold was "
          "altered, or --pubkey is not the key you verified with then)",
          crypto::note_signer_labels(note), key.label())};
}

}  // namespace

std::string line_ending_hint(std::string_view text) {
  if (text.find('\r') != std::string_view::npos) {
    return "the file has Windows line endings (CR LF), as an editor or a transfer may write them: proof and "
           "checkpoint files end their lines with LF alone (convert it back, e.g. with dos2unix)";
  }
  if (text.ends_with("\n\n")) {
    return "the file ends with a blank line after its last signature line, which a signed note does not "
           "have: remove it";
  }
  return {};
}

proof_result<crypto::checkpoint> read_kept_checkpoint(std::string_view text, const crypto::note_verifier& key,
                                                      std::string* note_out) {
  std::string_view note = text;
  std::string_view which = "the checkpoint";
  inclusion_proof_file inclusion;
  consistency_proof_file consistency;
  if (text.starts_with(inclusion_proof_header)) {
    auto p = parse_inclusion_proof(text);
    if (!p.is_ok()) {
      return p.error();
    }
    inclusion = std::move(p.value());
    note = inclusion.checkpoint_note;
    which = "the proof's checkpoint";
  } else if (text.starts_with(consistency_proof_header)) {
    auto p = parse_consistency_proof(text);
    if (!p.is_ok()) {
      return p.error();
    }
    consistency = std::move(p.value());
    note = consistency.new_note;
    which = "the proof's newer checkpoint";
  }
  auto cp = open_checkpoint(note, key, which);
  if (cp.is_ok() && note_out != nullptr) {
    *note_out = std::string(note);
  }
  // A signature line naming the key itself (its name and id) that fails is an altered checkpoint
  // (bad_signature), never a changed key.
  if (!cp.is_ok() && cp.error().kind == proof_failure::unknown_key) {
    if (auto changed = kept_under_other_key(note, key)) {
      return *changed;
    }
  }
  return cp;
}

}  // namespace sovgw::audit
