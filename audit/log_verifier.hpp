#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/tree_tiles.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/merkle.hpp"
#include "crypto/signed_note.hpp"

namespace sovgw::audit {

class store;

struct verify_options {
  // Also check the five indexes against the records: every record listed under its own values,
  // nothing else listed (a query trusts the index to be complete).
  bool indexes = true;
  // Checkpoints the auditor kept from an earlier visit (signatures already verified): the log must
  // still reach each one's size with the same root, which finds a truncation that also removed
  // the stored checkpoints covering the deleted records.
  std::vector<crypto::checkpoint> held;
};

// The result of recomputing the tree from the leaves and checking every signed checkpoint
// against it. `problems` are sentences naming the record, checkpoint or index entry at fault, in
// log order (record and tree problems first, index problems after), capped at 20.
struct verify_report {
  std::uint64_t records = 0;           // records scanned: the tree size recomputed (gaps included)
  std::uint64_t missing_records = 0;   // positions in 0..records-1 with no record (deleted)
  std::uint64_t checkpoints = 0;       // stored checkpoints whose signature and root verified
  std::uint64_t held_checkpoints = 0;  // options.held entries the log reproduced
  std::uint64_t index_entries = 0;     // index entries checked (when options.indexes)
  std::uint64_t forced_opens = 0;
  std::optional<crypto::checkpoint> latest;         // latest stored checkpoint that verified
  std::optional<crypto::checkpoint> newest_signed;  // newest stored one with a valid signature
  std::vector<std::string> problems;
  std::optional<std::uint64_t> first_bad_record;  // the first record found altered, missing or misplaced
  bool contiguous = true;                         // leaves 0..records-1 are all present
  // The recomputed tree (root() over all `records`; positions of missing records carry the stored
  // tree's hashes). Usable for continuing the log only when `tree_complete`.
  tile_builder tiles;
  bool tree_complete = true;

  [[nodiscard]] bool ok() const { return problems.empty(); }
};

// Recomputes the tree from every leaf, compares it with the stored tiles, verifies each
// checkpoint's signature (by `key`), origin and root, the consistency of consecutive checkpoints,
// the held checkpoints and (optionally) the indexes. Read-only; safe on a store opened read-only.
// Memory: a few bytes per 65,536 records.
[[nodiscard]] verify_report verify_log(const store& s, const crypto::note_verifier& key,
                                       const verify_options& options = {});

// The stored sealed payloads against the records they belong to: each one's SHA-256 must be the
// payload hash its record (the Merkle leaf) commits to, and the record must say it was sealed.
// Payloads that are absent (dropped by retention) are not problems; a record whose leaf is gone
// is one. Reads every stored payload: slower than verify_log, so a separate pass.
struct payload_report {
  std::uint64_t checked = 0;
  std::vector<std::string> problems;  // first problem first (capped at 20)
  std::optional<std::uint64_t> first_bad_record;
  [[nodiscard]] bool ok() const { return problems.empty(); }
};
[[nodiscard]] payload_report verify_payloads(const store& s);

}  // namespace sovgw::audit
