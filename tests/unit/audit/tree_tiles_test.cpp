#include "audit/tree_tiles.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "crypto/merkle.hpp"

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
