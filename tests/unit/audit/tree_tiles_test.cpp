#include "audit/tree_tiles.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "audit/store.hpp"
#include "crypto/merkle.hpp"
#include "test_support.hpp"

namespace m = sovgw::crypto::merkle;
using sovgw::audit::tile_builder;
using sovgw::audit::tile_width;

namespace {

m::hash leaf(std::uint64_t i) {
  const std::string s = "leaf" + std::to_string(i);
  return m::leaf_hash({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

}  // namespace

TEST_CASE("tile_builder root equals the RFC 6962 root at every size, and tiles hold the tree's nodes") {
  tile_builder tiles;
  m::merkle_frontier frontier;
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::vector<m::hash>> stored;
  const auto emit = [&](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
    stored[{level, index}] = std::vector<m::hash>(h.begin(), h.end());
  };
  CHECK(tiles.root() == m::empty_root());
  for (std::uint64_t i = 0; i < 700; ++i) {
    tiles.append(leaf(i), emit);
    frontier.append(leaf(i));
    REQUIRE(tiles.root() == frontier.root());
    if (i % 37 == 0) {
      tiles.flush(emit);
    }
  }
  tiles.flush(emit);
  CHECK(stored.at({0, 0}).size() == tile_width);
  CHECK(stored.at({0, 0})[3] == leaf(3));
  CHECK(stored.at({0, 43}).size() == 700 - 43 * 16);
  CHECK(stored.at({1, 2}).size() == 11);  // 700 / 16 = 43 level-4 nodes: tiles 0..1 full, tile 2 has 11
  CHECK(stored.at({2, 0}).size() == 2);   // 700 / 256 = 2 level-8 nodes
}

TEST_CASE("a tile_builder loaded from stored tiles continues the tree exactly") {
  using namespace sovgw::audit;
  testing::temp_log_dir d;
  auto opened = store::open(d.db, store::open_mode::read_write);
  REQUIRE(opened.is_ok());
  store& s = *opened.value();
  tile_builder tiles;
  m::merkle_frontier frontier;
  const auto emit_to = [&](rocksdb::WriteBatch& wb) {
    return [&](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
      wb.Put(s.cf(column::tree), tile_key(level, index), encode_tile(h));
    };
  };
  CHECK(stored_tree_size(s).value() == 0);
  for (const std::uint64_t size : {1u, 15u, 16u, 17u, 255u, 256u, 257u, 700u, 4096u, 4113u}) {
    rocksdb::WriteBatch wb;
    while (tiles.size() < size) {
      tiles.append(leaf(tiles.size()), emit_to(wb));
      frontier.append(leaf(frontier.size()));
    }
    tiles.flush(emit_to(wb));
    REQUIRE(s.write(wb, false).is_ok());
    CAPTURE(size);
    REQUIRE(stored_tree_size(s).value() == size);
    auto loaded = tile_builder::load(s, size);
    REQUIRE(loaded.is_ok());
    CHECK(loaded->size() == size);
    CHECK(loaded->root() == frontier.root());
    // Appending to the loaded builder writes what the original would have.
    tile_builder original = tiles;
    m::merkle_frontier more = frontier;
    std::map<std::string, std::string> from_loaded, from_original;
    for (std::uint64_t i = size; i < size + 40; ++i) {
      loaded->append(leaf(i), [&](std::uint32_t l, std::uint64_t x, std::span<const m::hash> h) {
        from_loaded[tile_key(l, x)] = encode_tile(h);
      });
      original.append(leaf(i), [&](std::uint32_t l, std::uint64_t x, std::span<const m::hash> h) {
        from_original[tile_key(l, x)] = encode_tile(h);
      });
      more.append(leaf(i));
    }
    CHECK(loaded->root() == more.root());
    CHECK(from_loaded == from_original);
  }
  // A size the stored tiles do not reach is refused.
  CHECK_FALSE(tile_builder::load(s, 4113 + 16 * 16 * 16).is_ok());
}
