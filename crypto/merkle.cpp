#include "crypto/merkle.hpp"

#include <openssl/evp.h>

#include <bit>
#include <memory>
#include <stdexcept>

namespace sovgw::crypto::merkle {
namespace {

// One reusable context per thread: EVP_Digest allocates a context per call, which dominates the
// cost of hashing short leaves.
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

EVP_MD_CTX* thread_ctx() {
  thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  if (!ctx) {
    throw std::runtime_error("EVP_MD_CTX_new failed");
  }
  return ctx.get();
}

hash digest_parts(std::uint8_t prefix, std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = thread_ctx();
  hash out{};
  unsigned int len = 0;
  if (md == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1 || EVP_DigestUpdate(ctx, &prefix, 1) != 1 ||
      EVP_DigestUpdate(ctx, a.data(), a.size()) != 1 || EVP_DigestUpdate(ctx, b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

// Largest power of two strictly smaller than n (n >= 2).
std::uint64_t split_point(std::uint64_t n) { return std::bit_floor(n - 1); }

bool append_path(std::uint64_t index, std::uint64_t begin, std::uint64_t end, const node_source& nodes,
                 std::vector<hash>& out) {
  const std::uint64_t n = end - begin;
  if (n <= 1) {
    return true;
  }
  const std::uint64_t k = split_point(n);
  std::optional<hash> sibling;
  if (index < k) {
    if (!append_path(index, begin, begin + k, nodes, out)) {
      return false;
    }
    sibling = range_root(begin + k, end, nodes);
  } else {
    if (!append_path(index - k, begin + k, end, nodes, out)) {
      return false;
    }
    sibling = range_root(begin, begin + k, nodes);
  }
  if (!sibling) {
    return false;
  }
  out.push_back(*sibling);
  return true;
}

bool append_subproof(std::uint64_t m, std::uint64_t begin, std::uint64_t end, bool complete,
                     const node_source& nodes, std::vector<hash>& out) {
  const std::uint64_t n = end - begin;
  if (m == n) {
    if (complete) {
      return true;
    }
    auto root = range_root(begin, end, nodes);
    if (!root) {
      return false;
    }
    out.push_back(*root);
    return true;
  }
  const std::uint64_t k = split_point(n);
  std::optional<hash> sibling;
  if (m <= k) {
    if (!append_subproof(m, begin, begin + k, complete, nodes, out)) {
      return false;
    }
    sibling = range_root(begin + k, end, nodes);
  } else {
    if (!append_subproof(m - k, begin + k, end, false, nodes, out)) {
      return false;
    }
    sibling = range_root(begin, begin + k, nodes);
  }
  if (!sibling) {
    return false;
  }
  out.push_back(*sibling);
  return true;
}

}  // namespace

hash leaf_hash(std::span<const std::uint8_t> leaf) { return digest_parts(0x00, leaf, {}); }

hash node_hash(const hash& left, const hash& right) { return digest_parts(0x01, left, right); }

hash empty_root() { return sha256(std::string_view()); }

void merkle_frontier::append(const hash& leaf) {
  entry e{0, leaf};
  while (!entries_.empty() && entries_.back().level == e.level) {
    e.value = node_hash(entries_.back().value, e.value);
    ++e.level;
    entries_.pop_back();
  }
  entries_.push_back(e);
  ++size_;
}

hash merkle_frontier::root() const {
  if (entries_.empty()) {
    return empty_root();
  }
  hash r = entries_.back().value;
  for (auto it = entries_.rbegin() + 1; it != entries_.rend(); ++it) {
    r = node_hash(it->value, r);
  }
  return r;
}

std::optional<hash> range_root(std::uint64_t begin, std::uint64_t end, const node_source& nodes) {
  const std::uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return nodes(static_cast<std::uint32_t>(std::countr_zero(n)), begin / n);
  }
  if (n < 2) {
    return std::nullopt;
  }
  const std::uint64_t k = split_point(n);
  auto left = range_root(begin, begin + k, nodes);
  if (!left) {
    return std::nullopt;
  }
  auto right = range_root(begin + k, end, nodes);
  if (!right) {
    return std::nullopt;
  }
  return node_hash(*left, *right);
}

std::optional<hash> tree_root(std::uint64_t size, const node_source& nodes) {
  if (size == 0) {
    return empty_root();
  }
  return range_root(0, size, nodes);
}

std::optional<std::vector<hash>> inclusion_proof(std::uint64_t index, std::uint64_t size,
                                                 const node_source& nodes) {
  if (index >= size) {
    return std::nullopt;
  }
  std::vector<hash> out;
  if (!append_path(index, 0, size, nodes, out)) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size,
                                                   const node_source& nodes) {
  if (old_size > new_size) {
    return std::nullopt;
  }
  std::vector<hash> out;
  if (old_size == 0 || old_size == new_size) {
    return out;
  }
  if (!append_subproof(old_size, 0, new_size, true, nodes, out)) {
    return std::nullopt;
  }
  return out;
}

const char* to_string(verdict v) {
  switch (v) {
    case verdict::ok:
      return "ok";
    case verdict::bad_sizes:
      return "bad_sizes";
    case verdict::proof_too_short:
      return "proof_too_short";
    case verdict::proof_too_long:
      return "proof_too_long";
    case verdict::old_root_mismatch:
      return "old_root_mismatch";
    case verdict::root_mismatch:
      return "root_mismatch";
  }
  return "?";
}

std::size_t inclusion_proof_size(std::uint64_t index, std::uint64_t size) {
  if (index >= size) {
    return 0;
  }
  // The path climbs `inner` levels below the point where index and the last leaf part, then one
  // hash per left-hand subtree on the tree's right border.
  const auto inner = static_cast<unsigned>(std::bit_width(index ^ (size - 1)));
  return inner + static_cast<std::size_t>(std::popcount(index >> inner));
}

std::size_t consistency_proof_size(std::uint64_t old_size, std::uint64_t new_size) {
  if (old_size == 0 || old_size >= new_size) {
    return 0;
  }
  // As the inclusion path of the old tree's last leaf, less the levels of the complete subtree it
  // ends in, plus that subtree's root unless the old tree is exactly that subtree.
  const auto shift = static_cast<unsigned>(std::countr_zero(old_size));
  const std::uint64_t index = old_size - 1;
  const auto inner = static_cast<unsigned>(std::bit_width(index ^ (new_size - 1)));
  const auto border = static_cast<std::size_t>(std::popcount(index >> inner));
  const std::size_t seed = old_size == (std::uint64_t{1} << shift) ? 0 : 1;
  return seed + (inner - shift) + border;
}

verdict verify_inclusion(const hash& leaf, std::uint64_t index, std::uint64_t size,
                         std::span<const hash> proof, const hash& root) {
  if (index >= size) {
    return verdict::bad_sizes;
  }
  const std::size_t want = inclusion_proof_size(index, size);
  if (proof.size() != want) {
    return proof.size() < want ? verdict::proof_too_short : verdict::proof_too_long;
  }
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  hash r = leaf;
  for (const hash& p : proof) {
    if (sn == 0) {
      return verdict::proof_too_long;  // unreachable when the size check above is right
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return verdict::proof_too_short;
  }
  return r == root ? verdict::ok : verdict::root_mismatch;
}

verdict verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const hash& old_root,
                           const hash& new_root, std::span<const hash> proof) {
  if (old_size > new_size) {
    return verdict::bad_sizes;
  }
  if (old_size == new_size || old_size == 0) {
    if (!proof.empty()) {
      return verdict::proof_too_long;
    }
    if (old_size == 0) {
      return old_root == empty_root() ? verdict::ok : verdict::old_root_mismatch;
    }
    return old_root == new_root ? verdict::ok : verdict::root_mismatch;
  }
  const std::size_t want = consistency_proof_size(old_size, new_size);
  if (proof.size() != want) {
    return proof.size() < want ? verdict::proof_too_short : verdict::proof_too_long;
  }
  std::vector<hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) {
    path.push_back(old_root);
  }
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  hash fr = path[0];
  hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const hash& c = path[i];
    if (sn == 0) {
      return verdict::proof_too_long;  // unreachable when the size check above is right
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return verdict::proof_too_short;
  }
  if (fr != old_root) {
    return verdict::old_root_mismatch;
  }
  return sr == new_root ? verdict::ok : verdict::root_mismatch;
}

}  // namespace sovgw::crypto::merkle
