#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "audit/status.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/merkle.hpp"
#include "crypto/signed_note.hpp"

// Offline proofs an auditor checks with nothing but the log's public key.
//
// Inclusion proof: the C2SP tlog-proof format (https://c2sp.org/tlog-proof):
//   c2sp.org/tlog-proof@v1
//   extra <base64 of the record encoding: the leaf itself>
//   index <seq>
//   <base64 hash>...            (RFC 6962 inclusion path, leaf's sibling first)
//   <blank line>
//   <signed checkpoint, verbatim>
// The extra data is not trusted as such: its leaf hash must verify through the path to the
// signed root, which is what authenticates the record's decision and destination.
//
// Consistency proof between two signed checkpoints (our own format, in the same shape):
//   sovgw.audit/consistency-proof@v1
//   old <base64 of the older signed checkpoint>
//   <base64 hash>...            (RFC 6962 consistency proof)
//   <blank line>
//   <newer signed checkpoint, verbatim>
namespace sovgw::audit {

class store;

inline constexpr std::string_view inclusion_proof_header = "c2sp.org/tlog-proof@v1";
inline constexpr std::string_view consistency_proof_header = "sovgw.audit/consistency-proof@v1";
inline constexpr std::size_t max_proof_hashes = 64;

struct inclusion_proof_file {
  std::vector<std::uint8_t> leaf;
  std::uint64_t index = 0;
  std::vector<crypto::merkle::hash> path;
  std::string checkpoint_note;
};

struct consistency_proof_file {
  std::string old_note;
  std::vector<crypto::merkle::hash> path;
  std::string new_note;
};

// Why an offline proof (or a kept checkpoint) does not verify: a closed list; to_string gives the
// stable snake_case name used in `sovgw audit verify-proof --format json`.
enum class proof_failure {
  malformed,          // not a proof or checkpoint file of the expected shape
  unknown_key,        // a checkpoint is not signed by the given key (wrong key, or another log)
  bad_signature,      // a checkpoint's signature by the key does not verify: it was altered
  bad_checkpoint,     // signed, but not a valid checkpoint of the key's log
  bad_record,         // (inclusion) the record does not decode, or carries another index
  bad_sizes,          // index outside the tree, or the old checkpoint larger than the new one
  proof_too_short,    // fewer hashes than the sizes call for: a truncated proof
  proof_too_long,     // more hashes than the sizes call for
  old_root_mismatch,  // (consistency) the proof does not reproduce the old root
  root_mismatch,      // the path does not lead to the signed (new) root
  key_changed,        // (a kept checkpoint) signed under the key's log name by another key
  other_log,          // (a kept checkpoint) of another log name, signed by no key of the key's name
};
[[nodiscard]] const char* to_string(proof_failure f);

// The error of the proof functions: the failure kind and a sentence for people.
struct proof_error {
  proof_failure kind = proof_failure::malformed;
  std::string text;
  [[nodiscard]] const std::string& message() const { return text; }
  // malformed: invalid_argument; everything else: verification_failed.
  [[nodiscard]] error_code code() const;
};
template <typename T>
using proof_result = result<T, proof_error>;

[[nodiscard]] std::string format_proof(const inclusion_proof_file& p);
[[nodiscard]] std::string format_proof(const consistency_proof_file& p);
[[nodiscard]] proof_result<inclusion_proof_file> parse_inclusion_proof(std::string_view text);
[[nodiscard]] proof_result<consistency_proof_file> parse_consistency_proof(std::string_view text);

struct verified_inclusion {
  record rec;
  crypto::checkpoint checkpoint;
};
struct verified_consistency {
  crypto::checkpoint old_checkpoint;
  crypto::checkpoint new_checkpoint;
};

// Full offline checks: signature(s) by `key`, checkpoint syntax and origin, the Merkle path, and
// (inclusion) that the record decodes and carries the proven index as its seq.
[[nodiscard]] proof_result<verified_inclusion> verify_inclusion_proof(std::string_view text,
                                                                      const crypto::note_verifier& key);
[[nodiscard]] proof_result<verified_consistency> verify_consistency_proof(std::string_view text,
                                                                          const crypto::note_verifier& key);

// Why a proof or checkpoint file that does not parse may have been damaged in transit, for its
// message: CR LF line endings (a Windows editor or transfer), or a blank line added at its end.
// Empty when neither.
[[nodiscard]] std::string line_ending_hint(std::string_view text);

// A checkpoint an auditor kept: a signed checkpoint note, or a proof file (inclusion: its
// checkpoint; consistency: the newer one), checked like a proof's (signature by `key`, origin).
// key_changed when no signature line names `key` (its name and id) but one carries `key`'s name: the
// log's signing key changed since it was kept; other_log when no signature line carries `key`'s name
// and the note is a checkpoint of another origin: the log being checked is not the one it was kept
// from (or the checkpoint is another log's); bad_signature when a line names `key` and does not
// verify: the checkpoint was altered or damaged (or signed by another key whose 32-bit id collides). `note`,
// when given, receives the signed checkpoint note verbatim (a proof file's own), to be kept in turn.
[[nodiscard]] proof_result<crypto::checkpoint> read_kept_checkpoint(std::string_view text,
                                                                    const crypto::note_verifier& key,
                                                                    std::string* note = nullptr);

// The signed checkpoint note stored for tree size `size`; size 0: the newest one the stored records
// reach. not_found when there is none (the message lists the sizes there are, near `size`).
[[nodiscard]] result<std::string> stored_checkpoint_note(const store& s, std::uint64_t size);

// The tree sizes of the checkpoints stored in the log, ascending (whether they verify is
// verify_log's to say).
[[nodiscard]] result<std::vector<std::uint64_t>> stored_checkpoint_sizes(const store& s);
// `sizes` (ascending) for a message, bounded: all of them up to max_listed_checkpoint_sizes; else the first
// two, the three below `near` and the three from it on, and the last two, with "..." for the gaps: "5, 7,
// ..., 15, 16, 17".
inline constexpr std::size_t max_listed_checkpoint_sizes = 8;
[[nodiscard]] std::string format_checkpoint_sizes(const std::vector<std::uint64_t>& sizes,
                                                  std::uint64_t near);

// Builds the inclusion proof of record `seq` against the latest signed checkpoint (which must
// cover it), from the stored tiles.
[[nodiscard]] result<std::string> make_inclusion_proof(const store& s, std::uint64_t seq);
// Builds a consistency proof between the stored checkpoints at `old_size` and `new_size`
// (new_size 0 = the latest checkpoint).
[[nodiscard]] result<std::string> make_consistency_proof(const store& s, std::uint64_t old_size,
                                                         std::uint64_t new_size);

}  // namespace sovgw::audit
