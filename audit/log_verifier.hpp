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

// The result of recomputing the tree from the leaves and checking every signed checkpoint
// against it. `problems` are sentences naming the record or checkpoint at fault, first problem
// first (capped at 20).
struct verify_report {
  std::uint64_t records = 0;      // leaves scanned (contiguous from seq 0)
  std::uint64_t checkpoints = 0;  // checkpoints whose signature and root verified
  std::uint64_t forced_opens = 0;
  std::optional<crypto::checkpoint> latest;  // latest checkpoint that verified
  std::vector<std::string> problems;
  std::optional<std::uint64_t> first_bad_record;  // when a problem is pinned to one record
  bool contiguous = true;  // leaves are 0..records-1 with no gap, so the tree state below is usable
  tile_builder tiles;      // the recomputed tree (its root() is the root over all scanned records)

  [[nodiscard]] bool ok() const { return problems.empty(); }
};

// Recomputes the tree from every leaf, compares it with the stored tiles, verifies each
// checkpoint's signature (by `key`), origin and root, and the consistency of consecutive
// checkpoints. Read-only; safe on a store opened read-only.
[[nodiscard]] verify_report verify_log(const store& s, const crypto::note_verifier& key);

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
