#include "crypto/merkle.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/hex.hpp"

namespace m = sovgw::crypto::merkle;

namespace {

// Reference MTH straight from RFC 6962 section 2.1, over explicit leaf data.
m::hash reference_root(const std::vector<m::hash>& leaves, std::size_t begin, std::size_t end) {
  if (end - begin == 1) {
    return leaves[begin];
  }
  std::size_t k = 1;
  while (k * 2 < end - begin) {
    k *= 2;
  }
  return m::node_hash(reference_root(leaves, begin, begin + k), reference_root(leaves, begin + k, end));
}

std::vector<m::hash> make_leaves(std::size_t n) {
  std::vector<m::hash> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string data = "leaf-" + std::to_string(i);
    out.push_back(m::leaf_hash({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}));
  }
  return out;
}

m::node_source source_for(const std::vector<m::hash>& leaves) {
  return [&leaves](std::uint32_t level, std::uint64_t index) -> std::optional<m::hash> {
    const std::size_t begin = static_cast<std::size_t>(index << level);
    const std::size_t end = begin + (std::size_t{1} << level);
    if (end > leaves.size()) {
      return std::nullopt;
    }
    return reference_root(leaves, begin, end);
  };
}

std::string hex(const m::hash& h) { return sovgw::crypto::to_hex(h); }

}  // namespace

TEST_CASE("RFC 6962 known answers") {
  CHECK(hex(m::empty_root()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex(m::leaf_hash({})) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  // The certificate-transparency test tree of 8 leaves.
  const std::vector<std::string> hex_leaves = {
      "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
  m::merkle_frontier f;
  for (const auto& h : hex_leaves) {
    auto bytes = sovgw::crypto::from_hex(h);
    REQUIRE(bytes);
    f.append(m::leaf_hash(*bytes));
  }
  CHECK(hex(f.root()) == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
}

TEST_CASE("frontier root equals the reference root at every size") {
  const auto leaves = make_leaves(70);
  m::merkle_frontier f;
  CHECK(f.root() == m::empty_root());
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    f.append(leaves[i]);
    REQUIRE(f.root() == reference_root(leaves, 0, i + 1));
    REQUIRE(*m::tree_root(i + 1, source_for(leaves)) == f.root());
  }
}

TEST_CASE("inclusion proofs verify for every index and size, and fail with the reason when altered") {
  const auto leaves = make_leaves(37);
  const auto src = source_for(leaves);
  using m::verdict;
  for (std::uint64_t size = 1; size < leaves.size(); ++size) {
    const auto root = reference_root(leaves, 0, size);
    for (std::uint64_t i = 0; i < size; ++i) {
      auto proof = m::inclusion_proof(i, size, src);
      REQUIRE(proof);
      REQUIRE(proof->size() == m::inclusion_proof_size(i, size));
      REQUIRE(m::verify_inclusion(leaves[i], i, size, *proof, root) == verdict::ok);
      if (size > 1) {
        CHECK(m::verify_inclusion(leaves[(i + 1) % size], i, size, *proof, root) == verdict::root_mismatch);
      }
      if (!proof->empty()) {
        auto bad = *proof;
        bad.back()[0] ^= 1;
        CHECK(m::verify_inclusion(leaves[i], i, size, bad, root) == verdict::root_mismatch);
        bad = *proof;
        bad.pop_back();
        CHECK(m::verify_inclusion(leaves[i], i, size, bad, root) == verdict::proof_too_short);
      }
      auto longer = *proof;
      longer.push_back(root);
      CHECK(m::verify_inclusion(leaves[i], i, size, longer, root) == verdict::proof_too_long);
      CHECK(m::verify_inclusion(leaves[i], i, size, *proof, reference_root(leaves, 0, size + 1)) ==
            verdict::root_mismatch);
      CHECK(m::verify_inclusion(leaves[i], size, size, *proof, root) == verdict::bad_sizes);
    }
  }
  CHECK_FALSE(m::inclusion_proof(5, 5, src));
}

TEST_CASE("consistency proofs verify for every pair of sizes, and fail with the reason when altered") {
  const auto leaves = make_leaves(33);
  const auto src = source_for(leaves);
  using m::verdict;
  for (std::uint64_t n = 1; n <= leaves.size(); ++n) {
    const auto new_root = reference_root(leaves, 0, n);
    for (std::uint64_t o = 0; o <= n; ++o) {
      const auto old_root = o == 0 ? m::empty_root() : reference_root(leaves, 0, o);
      auto proof = m::consistency_proof(o, n, src);
      REQUIRE(proof);
      REQUIRE(proof->size() == m::consistency_proof_size(o, n));
      REQUIRE(m::verify_consistency(o, n, old_root, new_root, *proof) == verdict::ok);
      auto longer = *proof;
      longer.push_back(new_root);
      CHECK(m::verify_consistency(o, n, old_root, new_root, longer) == verdict::proof_too_long);
      if (o > 0 && o < n) {
        auto bad = *proof;
        bad[0][3] ^= 0x40;
        const auto altered = m::verify_consistency(o, n, old_root, new_root, bad);
        CHECK((altered == verdict::old_root_mismatch || altered == verdict::root_mismatch));
        auto wrong_old = old_root;
        wrong_old[0] ^= 1;
        const auto other_old = m::verify_consistency(o, n, wrong_old, new_root, *proof);
        CHECK((other_old == verdict::old_root_mismatch || other_old == verdict::root_mismatch));
        auto wrong_new = new_root;
        wrong_new[0] ^= 1;
        CHECK(m::verify_consistency(o, n, old_root, wrong_new, *proof) == verdict::root_mismatch);
        // Every truncation says so, whichever end was cut.
        for (std::size_t keep = 0; keep < proof->size(); ++keep) {
          const std::span<const m::hash> head(proof->data(), keep);
          const std::span<const m::hash> tail(proof->data() + (proof->size() - keep), keep);
          CHECK(m::verify_consistency(o, n, old_root, new_root, head) == verdict::proof_too_short);
          CHECK(m::verify_consistency(o, n, old_root, new_root, tail) == verdict::proof_too_short);
        }
      }
      if (o > 0) {
        CHECK(m::verify_consistency(n, o - 1, new_root, old_root, *proof) == verdict::bad_sizes);
      }
    }
  }
  CHECK(m::verify_consistency(3, 3, reference_root(leaves, 0, 3), reference_root(leaves, 0, 4), {}) ==
        verdict::root_mismatch);
  CHECK_FALSE(m::consistency_proof(4, 3, src));
}
