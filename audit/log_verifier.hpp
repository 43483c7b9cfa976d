#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/log_events.hpp"
#include "audit/record.hpp"
#include "audit/tree_tiles.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/merkle.hpp"
#include "crypto/signed_note.hpp"

namespace sovgw::audit {

class store;

// How far record times may disagree before verify says so (verify_options::check_times_at_us): a
// record may end this much before one logged earlier (clocks are stepped by NTP, requests overlap)
// or after the verification's time (the auditor's clock is not the gateway's).
inline constexpr std::uint64_t time_tolerance_us = 10 * 60 * 1'000'000ULL;
// No sovgw log holds a record before 2020-01-01T00:00:00Z: an earlier time is a clock never set.
inline constexpr std::uint64_t earliest_plausible_time_us = 1'577'836'800'000'000ULL;

struct verify_options {
  // Also check the five indexes against the records: every record listed under its own values,
  // nothing else listed (a query trusts the index to be complete).
  bool indexes = true;
  // Checkpoints the auditor kept from an earlier visit (signatures already verified): the log must
  // still reach each one's size with the same root, which finds a truncation that also removed
  // the stored checkpoints covering the deleted records.
  std::vector<crypto::checkpoint> held;
  // How the problems name a held checkpoint: held_labels[i] names held[i] when given (an auditor
  // who gave two must be told which one the log contradicts), else held_label names each.
  std::string held_label = "the checkpoint you hold";
  std::vector<std::string> held_labels = {};
  // held_by_auditor[i]: held[i] is one the auditor verified on an earlier visit (--checkpoint), not
  // one the writer published beside the log: a log that no longer reaches it was rolled back, which
  // no copy of a running log taken out of order explains. Missing entries are false.
  std::vector<bool> held_by_auditor = {};
  // A log with no stored checkpoint that verifies under the key is a problem (no_checkpoint): an
  // auditor's verification needs one; a writer opening a new log does not.
  bool require_checkpoint = false;
  // The verification's time (Unix microseconds): when set, record times are judged (an auditor's
  // verify and report set it to now). A record ends at its time plus its latency; none may end
  // more than time_tolerance_us before a record logged earlier (time_backwards), nor after this
  // time plus time_tolerance_us, nor lie before earliest_plausible_time_us (time_implausible): a
  // query by period would not find it where it happened. Unset (a writer opening its log): the
  // log's clock is not the writer's to refuse.
  std::optional<std::uint64_t> check_times_at_us;
};

// What kind of damage a verification found (a closed list: tools branch on it, people read the
// text). to_string gives the stable snake_case name used in `sovgw audit verify --format json`.
enum class problem_kind {
  record_altered,            // a record differs from what was logged and signed
  record_missing,            // records deleted from inside the log
  records_truncated,         // the newest records deleted (a checkpoint or the stored tree covers more)
  record_misplaced,          // a record sits at another position than its sequence number
  record_malformed,          // not a valid record encoding
  tree_damaged,              // the stored Merkle tree (not the records) is damaged or incomplete
  checkpoint_unknown_key,    // a checkpoint not signed by the given key
  checkpoint_invalid,        // a forged or altered checkpoint, or one stored under the wrong size/origin
  checkpoint_mismatch,       // a signed root does not match the recomputed tree
  checkpoints_inconsistent,  // two checkpoints that the stored tree does not prove consistent
  no_checkpoint,       // no stored checkpoint verifies under the key (verify_options::require_checkpoint)
  index_mismatch,      // an index entry missing or pointing at the wrong record
  index_malformed,     // an index key that cannot be read
  payload_altered,     // a stored payload does not match the hash its record commits to
  payload_unexpected,  // a payload stored for a record that is missing or did not seal one
  payload_malformed,   // a stored payload under a key that cannot be read
  read_failed,         // the storage could not be read (an I/O error, or a block that fails its checksum)
  data_key_malformed,  // an entry of the data key store that is not a data key or a key version
  more,                // "... and N more problem(s)": the list was capped
  // (verify_payloads, payload_verifier.hpp)
  payload_missing,        // a sealed payload gone without a retention event that dropped it
  data_key_missing,       // a data key gone without a crypto-shred event that destroyed it
  data_key_unexpected,    // a data key a crypto-shred event destroyed is still stored
  payload_undecryptable,  // (with the auditor key) a data key that opens none of its payloads: replaced
  auditor_key_wrong,      // the auditor key opens none of the data keys the payloads need (not this log's)
  request_id_duplicate,   // two records carry one request id (a gateway gives each request its own)
  time_backwards,    // records that end well before one logged earlier (verify_options::check_times_at_us)
  time_implausible,  // records that end after the verification's time, or lie before 2020
  // (the CLI, for a kept checkpoint: proof_failure::key_changed)
  signing_key_changed,  // the checkpoint the auditor holds is signed by another key under the log's name
  // (verify_payloads, with the auditor key)
  payload_record_mismatch,    // a payload that does not open with its record's fields, under a data key
                              // that opens the tenant's other payloads: the record or payload changed
  forwarded_digest_mismatch,  // a sealed prompt that is not the body the record's forwarded_digest names
  // (the CLI, for a kept checkpoint: proof_failure::other_log)
  log_replaced,  // the checkpoint the auditor holds is of another log name, signed by another key
  // (verify_payloads: a data key against its commitment in the signed records; no secret needed)
  data_key_not_committed_one,  // a stored data key is not the one the log committed: replaced after sealing
  data_key_committed_twice,    // two different commitments to one data key version
  data_key_other_auditor,      // a data key committed as sealed to another auditor key than the log's
  data_key_uncommitted,        // a data key no record commits to, in a log that commits its data keys
};
[[nodiscard]] const char* to_string(problem_kind kind);

// One problem: its kind, where in the log it is (the record it is about, or the first record of
// the range; nullopt for problems with no position) and a sentence saying it.
struct problem {
  problem_kind kind = problem_kind::read_failed;
  std::optional<std::uint64_t> record;
  std::string text;
};

// The result of recomputing the tree from the leaves and checking every signed checkpoint
// against it. `problems` name the record, checkpoint or index entry at fault, in log order
// (record and tree problems first, index problems after), capped at 20 (then one `more`).
struct verify_report {
  std::uint64_t records = 0;          // records scanned: the tree size recomputed (gaps included)
  std::uint64_t missing_records = 0;  // positions in 0..records-1 with no record (deleted)
  // Records after the last one the log holds that a signed checkpoint (stored or held) or the
  // stored tree shows it held: deleted from its end.
  std::uint64_t truncated_records = 0;
  std::uint64_t checkpoints = 0;         // stored checkpoints whose signature and root verified
  std::uint64_t stored_checkpoints = 0;  // checkpoints stored in the log, whether they verify or not
  // Stored checkpoints over records that could not be read (a read_failed problem): not checked,
  // so neither verified nor failed.
  std::uint64_t unchecked_checkpoints = 0;
  // Stored checkpoints whose signature verifies and that match the records, but sign a history a
  // held checkpoint contradicts (a fork: two signed histories under one key): neither verified nor
  // failed.
  std::uint64_t contradicting_checkpoints = 0;
  std::uint64_t newest_checkpoint_size = 0;  // the largest size a stored checkpoint is kept under
  std::uint64_t held_checkpoints = 0;        // options.held entries the log reproduced
  // What became of each options.held entry (held_verdicts[i] for held[i]): the log reproduced it,
  // contradicts it (another root at its size), does not reach its size (records gone), or it was
  // not checked (the records before its size could not be read).
  enum class held_verdict { not_checked, reproduced, contradicted, not_reached };
  std::vector<held_verdict> held_verdicts;
  std::uint64_t newest_held_size = 0;        // the largest of them
  std::uint64_t index_entries = 0;           // index entries checked (when options.indexes)
  std::uint64_t forced_opens = 0;
  std::uint64_t sealed_records = 0;  // records that sealed their payload (verify_payloads checks those)
  // Request records by what they kept of their payload (audit.payload, a policy's log_payload):
  // lowering it shows here.
  struct payload_counts {
    std::uint64_t sealed = 0;
    std::uint64_t digest = 0;
    std::uint64_t none = 0;
  };
  payload_counts request_payloads;
  // The auditor keys (base64) the records' data key commitments name, distinct, in log order: one
  // for a log whose data keys were all sealed to one auditor key (record::auditor_key).
  std::vector<std::string> committed_auditor_keys;
  std::optional<crypto::checkpoint> latest;         // latest stored checkpoint that verified
  std::optional<crypto::checkpoint> newest_signed;  // newest stored one with a valid signature
  std::vector<problem> problems;
  std::optional<std::uint64_t> first_bad_record;  // the first record found altered, missing or misplaced
  log_events events;  // the events that explain stored data gone (retention, shredding), for verify_payloads
  bool contiguous = true;  // leaves 0..records-1 are all present
  // The recomputed tree (root() over all `records`; positions of missing records carry the stored
  // tree's hashes). Usable for continuing the log only when `tree_complete`.
  tile_builder tiles;
  bool tree_complete = true;
  // A stored tree hash (of a tile above the leaves) over records no verified checkpoint covers
  // differs from what those records hash to: records or the tree were altered, and which cannot be
  // told. A rebuild of the tree from the records would sign them: a writer never does it then.
  bool tree_contradicted = false;

  [[nodiscard]] bool ok() const { return problems.empty(); }
  // Stored checkpoints that do not verify (a bad signature, another key, a root that does not match).
  [[nodiscard]] std::uint64_t failed_checkpoints() const {
    return stored_checkpoints - checkpoints - unchecked_checkpoints - contradicting_checkpoints;
  }
  // A read_failed problem: part of the log could not be read, so it was not all checked.
  [[nodiscard]] bool unreadable() const;
  // Records newer than every stored checkpoint (verified or not) and every held one the log
  // reproduced: no signature covers them, so nothing vouches for them yet (a writer may have
  // appended them since its last checkpoint, or anyone who can write the database).
  [[nodiscard]] std::uint64_t uncovered_records() const {
    const std::uint64_t covered = std::max(newest_checkpoint_size, newest_held_size);
    return records > covered ? records - covered : 0;
  }
  // The records a signed checkpoint covers: 0..signed_records()-1.
  [[nodiscard]] std::uint64_t signed_records() const { return records - uncovered_records(); }
};

// Recomputes the tree from every leaf, compares it with the stored tiles, verifies each
// checkpoint's signature (by `key`), origin and root, the consistency of consecutive checkpoints,
// the held checkpoints and (optionally) the indexes. Read-only; safe on a store opened read-only.
// Memory: a few bytes per 65,536 records.
[[nodiscard]] verify_report verify_log(const store& s, const crypto::note_verifier& key,
                                       const verify_options& options = {});
// The same, calling `on_leaf` with every leaf the scan reads, in log order, on the calling thread,
// as stored (whether it verifies is the report's to say), with the record it decodes to (null when
// it does not: the report names it): a caller computes over the records in the same pass (the
// sovereignty report, audit/report.hpp). The record is valid only during the call.
using leaf_observer =
    std::function<void(std::uint64_t seq, std::span<const std::uint8_t> leaf, const record* decoded)>;
[[nodiscard]] verify_report verify_log(const store& s, const crypto::note_verifier& key,
                                       const verify_options& options, const leaf_observer& on_leaf);

// The store at `dir` is missing (store::missing: removed or emptied) while checkpoints kept outside
// it (options.held, named by options.held_labels) cover records: every record they cover was
// deleted. verify_log's report for such a log (records_truncated, naming them all), or nullopt when
// the store is there or no held checkpoint covers a record (a new log may be made there). The
// writer refuses to create a log in that case with the same words.
[[nodiscard]] std::optional<verify_report> verify_missing_store(const std::string& dir,
                                                                const verify_options& options);

}  // namespace sovgw::audit
