#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/log_events.hpp"
#include "audit/log_verifier.hpp"
#include "audit/payload_vault.hpp"

namespace sovgw::audit {

class store;

// What became of the sealed payloads of the records in one period (report --since/--until
// --payloads): those a retention event or a crypto-shred took, with the events responsible, which
// are often logged after the period. Counted in verify_payloads' pass: no pass of its own.
struct period_payloads {
  std::optional<std::uint64_t> since_us;   // inclusive, as report_options
  std::optional<std::uint64_t> until_us;   // exclusive
  std::uint64_t sealed = 0;                // signed records in the period whose payload was sealed
  std::uint64_t dropped_by_retention = 0;  // of those, gone as a retention event says
  std::uint64_t shredded = 0;              // unreadable after a crypto-shred (stored or since dropped)
  struct event {
    std::uint64_t seq = 0;
    std::uint64_t timestamp_us = 0;  // 0 when the event's record could not be read
    bool retention = false;          // else a crypto-shred
    std::string tenant;              // (crypto-shred) the tenant
    std::uint64_t payloads = 0;      // of the period's payloads, those this event took
  };
  std::vector<event> events;  // in log order
};

// The stored sealed payloads and data keys against the records and the log's events. In one pass
// over the records and the payloads beside them:
//   * a stored payload's SHA-256 must be the payload hash its record (the Merkle leaf) commits to,
//     and the record must say it was sealed (payload_altered, payload_unexpected);
//   * a sealed record whose payload is gone must be older than the cut-off of a retention event
//     logged after it (payload_missing);
//   * the data key a stored payload was sealed under must be stored, unless a crypto-shred event of
//     its tenant logged after the record destroyed it (data_key_missing), and must not be when one
//     did (data_key_unexpected); a tenant's data keys need its current-version entry, without
//     which the next writer would reuse a version (data_key_missing);
//   * with the auditor's key pair, every data key a payload needs must open, and every stored
//     payload must open under it: a data key that opens none of its payloads was replaced
//     (payload_undecryptable, one problem naming its records), but when none of them opens, the key
//     given is not the log's auditor key (auditor_key_wrong, one problem naming no record, as
//     auditor_key_opens_none says); a payload that does not open under a
//     data key that opens others of its tenant was moved, or its record rewritten after sealing
//     (payload_record_mismatch, each record named; judged after the pass, so listed last);
//   * with the auditor's key pair, a prompt opened must be the body its record's forwarded_digest
//     names (forwarded_digest_mismatch; is_forwarded_body says when they must be equal);
//   * without any secret, a stored data key a payload needs must be the one the signed records
//     commit to (record::data_key_*): the SHA-256 of its sealed bytes is the committed digest
//     (data_key_not_committed_one), one version has one commitment (identical repeats allowed;
//     data_key_committed_twice), every commitment names the log's auditor key: the one given, else
//     the one the first commitment names (data_key_other_auditor), and a data key first used after
//     the log's first commitment has one (data_key_uncommitted). Data keys of older writers, used
//     before the first commitment, are counted (`uncommitted_data_keys`), not judged.
// Every entry of the data key store is read and must have a data key's form (data_key_malformed).
// `events` are those of the whole log (verify_report::events). Any read error (an I/O error, a
// block that fails its checksum) is a problem: what cannot be read is not verified, and nothing that
// depends on it is judged. Reads every stored payload: slower than verify_log, so a separate pass.
// Memory: the data key store's entries, and one entry per data key version the payloads need.
// Records from `signed_records` on (verify_report::signed_records()) are covered by no signed
// checkpoint: nothing vouches for them, so their payloads are neither checked nor judged, only
// counted apart (`unsigned_payloads`).
struct payload_report {
  std::uint64_t checked = 0;               // payloads read and compared
  std::uint64_t unsigned_payloads = 0;     // payloads stored for records no signed checkpoint covers
  std::uint64_t dropped_by_retention = 0;  // sealed payloads gone, as a retention event says
  std::uint64_t shredded = 0;              // sealed payloads whose data key a crypto-shred destroyed
  std::optional<std::uint64_t> opened;     // with the auditor key: payloads decrypted
  std::uint64_t data_keys = 0;             // entries of the data key store read
  std::vector<problem> problems;           // first problem first (capped at 20, then one `more`)
  std::optional<std::uint64_t> first_bad_record;
  bool auditor_key_opens_none = false;  // the auditor key opened none of (one or more) data keys
  // Of `shredded`, the payloads a retention event logged after the shred dropped: counted as
  // shredded (unreadable since the shred), not in dropped_by_retention.
  std::uint64_t shredded_then_dropped = 0;
  std::optional<period_payloads> period;  // when verify_payloads was given one
  // Of the stored data keys the checked payloads need: those a signed record commits to and which
  // match it, and those from before the log committed its data keys (an older writer's).
  std::uint64_t committed_data_keys = 0;
  std::uint64_t uncommitted_data_keys = 0;
  [[nodiscard]] bool ok() const { return problems.empty(); }
};
// `auditor`: null, or the auditor's key pair (must outlive the call).
// `period`: also count what became of the payloads of the records in it (payload_report::period).
[[nodiscard]] payload_report verify_payloads(const store& s, const log_events& events,
                                             const auditor_keys* auditor = nullptr,
                                             std::uint64_t signed_records = UINT64_MAX,
                                             std::optional<period_payloads> period = std::nullopt);

}  // namespace sovgw::audit
