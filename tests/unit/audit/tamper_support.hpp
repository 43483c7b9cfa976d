#pragma once

#include <rocksdb/write_batch.h>

#include <string>

#include "audit/keys.hpp"
#include "audit/store.hpp"
#include "audit/tree_tiles.hpp"
#include "crypto/checkpoint.hpp"

// What an attacker with file access can do to a log (and, with `resign`, one who also holds the
// signing key): shared by the tamper tool (audit_tamper.cpp) and the unit tests.
namespace sovgw::audit::testing {

inline void delete_checkpoints_from(const store& s, std::uint64_t size, rocksdb::WriteBatch& wb) {
  auto it = s.iterate(column::checkpoints);
  for (it->Seek(be64(size)); it->Valid(); it->Next()) {
    wb.Delete(s.cf(column::checkpoints), it->key());
  }
}

// Rewrites the stored tree from the leaves as they are now (every old tile dropped) into `wb`;
// `tree` ends as the recomputed tree.
inline void rebuild_tree(const store& s, rocksdb::WriteBatch& wb, tile_builder& tree) {
  auto tiles = s.iterate(column::tree);
  for (tiles->SeekToFirst(); tiles->Valid(); tiles->Next()) {
    wb.Delete(s.cf(column::tree), tiles->key());
  }
  const auto emit = [&](std::uint32_t level, std::uint64_t index, std::span<const crypto::merkle::hash> h) {
    wb.Put(s.cf(column::tree), tile_key(level, index), encode_tile(h));
  };
  auto leaves = s.iterate(column::leaves);
  for (leaves->SeekToFirst(); leaves->Valid(); leaves->Next()) {
    tree.append(crypto::merkle::leaf_hash(bytes_of(leaves->value().ToStringView())), emit);
  }
  tree.flush(emit);
}

// The signing key's holder rewriting history: the stored tree rebuilt from the records as they
// are, every checkpoint deleted and one signed over the whole log with the keys in `key_dir`.
inline void resign(const store& s, const std::string& key_dir, rocksdb::WriteBatch& wb) {
  const auto keys = load_writer_keys(key_dir);
  tile_builder tree;
  rebuild_tree(s, wb, tree);
  delete_checkpoints_from(s, 0, wb);
  const crypto::checkpoint cp{keys.signer.verifier().name, tree.size(), tree.root()};
  wb.Put(s.cf(column::checkpoints), be64(tree.size()), keys.signer.sign(cp.to_text()));
}

}  // namespace sovgw::audit::testing
