#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "crypto/sha256.hpp"

// RFC 6962 / RFC 9162 Merkle tree hashing: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 ||
// left || right), inclusion and consistency proofs (generation and verification). All functions
// are thread-safe; merkle_frontier is a value type (one instance per thread).
namespace sovgw::crypto::merkle {

using hash = sha256_digest;

[[nodiscard]] hash leaf_hash(std::span<const std::uint8_t> leaf);
[[nodiscard]] hash node_hash(const hash& left, const hash& right);
// Root of the empty tree: SHA-256 of the empty string.
[[nodiscard]] hash empty_root();

// The right edge of a growing tree (one complete subtree root per set bit of the size): enough to
// append leaves and compute the root in O(log n) memory.
class merkle_frontier {
 public:
  void append(const hash& leaf);
  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] hash root() const;

 private:
  struct entry {
    std::uint32_t level;
    hash value;
  };
  std::vector<entry> entries_;
  std::uint64_t size_ = 0;
};

// Supplies the hash of the complete, aligned subtree holding leaves [index << level, (index + 1) <<
// level). nullopt means it could not be read (proof generation then fails).
using node_source = std::function<std::optional<hash>(std::uint32_t level, std::uint64_t index)>;

// MTH(D[begin:end]) from complete subtrees (end > begin; begin aligned as RFC 6962 recursion does).
[[nodiscard]] std::optional<hash> range_root(std::uint64_t begin, std::uint64_t end,
                                             const node_source& nodes);
[[nodiscard]] std::optional<hash> tree_root(std::uint64_t size, const node_source& nodes);

// PATH(index, D[size]) of RFC 6962 section 2.1.1, from the leaf's sibling up. nullopt if index >=
// size or a node could not be read.
[[nodiscard]] std::optional<std::vector<hash>> inclusion_proof(std::uint64_t index, std::uint64_t size,
                                                               const node_source& nodes);

// PROOF(old_size, D[new_size]) of RFC 6962 section 2.1.2. Empty when old_size is 0 or equals
// new_size. nullopt if old_size > new_size or a node could not be read.
[[nodiscard]] std::optional<std::vector<hash>> consistency_proof(std::uint64_t old_size,
                                                                 std::uint64_t new_size,
                                                                 const node_source& nodes);

// Why a proof does or does not verify (a failed check says why in a type, so that a truncated
// proof is reported as truncated rather than as a rewritten log).
enum class verdict {
  ok,
  bad_sizes,          // index >= size (inclusion), or old_size > new_size (consistency)
  proof_too_short,    // fewer hashes than the sizes call for: a truncated proof
  proof_too_long,     // more hashes than the sizes call for
  old_root_mismatch,  // (consistency) the proof does not lead to the old root: not a prefix of it
  root_mismatch,      // the proof does not lead to the (new) root
};
[[nodiscard]] const char* to_string(verdict v);

// The number of hashes a proof must hold for these sizes (0 for sizes the check refuses).
[[nodiscard]] std::size_t inclusion_proof_size(std::uint64_t index, std::uint64_t size);
[[nodiscard]] std::size_t consistency_proof_size(std::uint64_t old_size, std::uint64_t new_size);

// RFC 9162 section 2.1.3.2.
[[nodiscard]] verdict verify_inclusion(const hash& leaf, std::uint64_t index, std::uint64_t size,
                                       std::span<const hash> proof, const hash& root);

// RFC 9162 section 2.1.4.2, extended so that old_size == 0 (anything is consistent with the empty
// tree, given an empty proof) and old_size == new_size (equal roots, empty proof) are accepted.
[[nodiscard]] verdict verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const hash& old_root,
                                         const hash& new_root, std::span<const hash> proof);

}  // namespace sovgw::crypto::merkle
