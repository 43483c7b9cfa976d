#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/status.hpp"
#include "crypto/merkle.hpp"

// The Merkle tree is stored as tiles of height 4 (as in C2SP tlog-tiles, with height 4 instead of
// 8): tile (L, i) holds the up to 16 hashes of tree level 4L, nodes 16i..16i+15. Level 0 tiles hold
// the leaf hashes. Any complete subtree's hash is read from one tile.
namespace sovgw::audit {

class store;

inline constexpr std::uint32_t tile_height = 4;
inline constexpr std::size_t tile_width = 16;

[[nodiscard]] std::string tile_key(std::uint32_t tile_level, std::uint64_t tile_index);

// Builds tiles from a stream of leaf hashes. `emit` receives each tile whose contents changed:
// complete tiles as they fill, and the partial (rightmost) tiles when `flush` is called.
// Single-threaded.
class tile_builder {
 public:
  using emit_fn =
      std::function<void(std::uint32_t level, std::uint64_t index, std::span<const crypto::merkle::hash>)>;

  // The builder's state after the first `size` leaves of the tree stored in `s` (its rightmost
  // partial tiles), so that appending continues the stored tree without recomputing it.
  [[nodiscard]] static result<tile_builder> load(const store& s, std::uint64_t size);

  void append(const crypto::merkle::hash& leaf, const emit_fn& emit);
  void flush(const emit_fn& emit);
  [[nodiscard]] std::uint64_t size() const { return size_; }
  // RFC 6962 root of the leaves appended so far, from the partial tiles (O(log n) hashes).
  [[nodiscard]] crypto::merkle::hash root() const;

 private:
  struct level_state {
    std::uint64_t index = 0;
    std::vector<crypto::merkle::hash> hashes;
    bool dirty = false;
  };
  void push(std::uint32_t level, const crypto::merkle::hash& h, const emit_fn& emit);
  std::vector<level_state> levels_;
  std::uint64_t size_ = 0;
};

// Reads complete-subtree hashes from the stored tiles (a merkle::node_source). Caches tiles; one
// instance per thread. The store must outlive it.
class stored_tree {
 public:
  explicit stored_tree(const store& s) : store_(s) {}
  [[nodiscard]] crypto::merkle::node_source source();
  // The first read error, if any (proof generation then returns nullopt).
  [[nodiscard]] const status& error() const { return error_; }

 private:
  std::optional<crypto::merkle::hash> node(std::uint32_t level, std::uint64_t index);
  const std::vector<crypto::merkle::hash>* tile(std::uint32_t tile_level, std::uint64_t tile_index);
  const store& store_;
  std::unordered_map<std::string, std::vector<crypto::merkle::hash>> cache_;
  status error_;
};

// Number of leaf hashes in the stored tree (from its rightmost level-0 tile); 0 when empty.
[[nodiscard]] result<std::uint64_t> stored_tree_size(const store& s);

[[nodiscard]] std::vector<crypto::merkle::hash> decode_tile(std::string_view bytes, bool& ok);
[[nodiscard]] std::string encode_tile(std::span<const crypto::merkle::hash> hashes);

}  // namespace sovgw::audit
