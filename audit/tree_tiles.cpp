#include "audit/tree_tiles.hpp"

#include <fmt/format.h>

#include <cstring>

#include "audit/store.hpp"

namespace sovgw::audit {

namespace m = crypto::merkle;

std::string tile_key(std::uint32_t tile_level, std::uint64_t tile_index) {
  return std::string(1, static_cast<char>(tile_level)) + be64(tile_index);
}

std::string encode_tile(std::span<const m::hash> hashes) {
  std::string out(hashes.size() * 32, '\0');
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    std::memcpy(out.data() + 32 * i, hashes[i].data(), 32);
  }
  return out;
}

std::vector<m::hash> decode_tile(std::string_view bytes, bool& ok) {
  ok = bytes.size() % 32 == 0 && !bytes.empty() && bytes.size() <= 32 * tile_width;
  std::vector<m::hash> out(ok ? bytes.size() / 32 : 0);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::memcpy(out[i].data(), bytes.data() + 32 * i, 32);
  }
  return out;
}

void tile_builder::append(const m::hash& leaf, const emit_fn& emit) {
  push(0, leaf, emit);
  ++size_;
}

void tile_builder::push(std::uint32_t level, const m::hash& h, const emit_fn& emit) {
  if (levels_.size() <= level) {
    levels_.resize(level + 1);
  }
  auto& st = levels_[level];
  st.hashes.push_back(h);
  st.dirty = true;
  if (st.hashes.size() < tile_width) {
    return;
  }
  emit(level, st.index, st.hashes);
  std::vector<m::hash> row = st.hashes;
  while (row.size() > 1) {
    std::vector<m::hash> up(row.size() / 2);
    for (std::size_t i = 0; i < up.size(); ++i) {
      up[i] = m::node_hash(row[2 * i], row[2 * i + 1]);
    }
    row = std::move(up);
  }
  st.hashes.clear();
  st.dirty = false;
  ++st.index;
  push(level + 1, row[0], emit);
}

m::hash tile_builder::root() const {
  std::vector<m::hash> edge;  // complete subtree roots, left to right
  for (auto level = levels_.rbegin(); level != levels_.rend(); ++level) {
    const auto& h = level->hashes;
    std::size_t i = 0;
    for (std::size_t width = tile_width / 2; width >= 1; width /= 2) {
      if ((h.size() & width) == 0) {
        continue;
      }
      std::vector<m::hash> row(h.begin() + static_cast<std::ptrdiff_t>(i),
                               h.begin() + static_cast<std::ptrdiff_t>(i + width));
      while (row.size() > 1) {
        for (std::size_t j = 0; j < row.size() / 2; ++j) {
          row[j] = m::node_hash(row[2 * j], row[2 * j + 1]);
        }
        row.resize(row.size() / 2);
      }
      edge.push_back(row[0]);
      i += width;
    }
  }
  if (edge.empty()) {
    return m::empty_root();
  }
  m::hash r = edge.back();
  for (auto it = edge.rbegin() + 1; it != edge.rend(); ++it) {
    r = m::node_hash(*it, r);
  }
  return r;
}

void tile_builder::flush(const emit_fn& emit) {
  for (std::uint32_t level = 0; level < levels_.size(); ++level) {
    auto& st = levels_[level];
    if (st.dirty && !st.hashes.empty()) {
      emit(level, st.index, st.hashes);
    }
    st.dirty = false;
  }
}

result<tile_builder> tile_builder::load(const store& s, std::uint64_t size) {
  tile_builder b;
  b.size_ = size;
  for (std::uint32_t level = 0; level < 16 && (size >> (tile_height * level)) > 0; ++level) {
    const std::uint64_t nodes = size >> (tile_height * level);
    level_state st;
    st.index = nodes / tile_width;
    const std::size_t partial = nodes % tile_width;
    if (partial > 0) {
      auto stored = s.get(column::tree, tile_key(level, st.index));
      if (!stored.is_ok()) {
        return stored.error();
      }
      bool ok = false;
      auto hashes = stored->has_value() ? decode_tile(**stored, ok) : std::vector<m::hash>();
      if (!ok || hashes.size() < partial) {
        return status{error_code::corruption,
                      fmt::format("tree tile {}/{} is missing or shorter than the tree", level, st.index)};
      }
      hashes.resize(partial);
      st.hashes = std::move(hashes);
    }
    b.levels_.push_back(std::move(st));
  }
  return b;
}

result<std::uint64_t> stored_tree_size(const store& s) {
  auto it = s.iterate(column::tree);
  it->SeekForPrev(tile_key(0, UINT64_MAX));
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading the stored tree failed");
  }
  if (!it->Valid()) {
    return std::uint64_t{0};
  }
  const auto key = it->key().ToStringView();
  bool ok = false;
  const auto hashes = decode_tile(it->value().ToStringView(), ok);
  if (key.size() != 9 || key[0] != 0 || !ok) {
    return status{error_code::corruption, "the stored tree's last leaf tile is malformed"};
  }
  return read_be64(key.substr(1)) * tile_width + hashes.size();
}

m::node_source stored_tree::source() {
  return [this](std::uint32_t level, std::uint64_t index) { return node(level, index); };
}

const std::vector<m::hash>* stored_tree::tile(std::uint32_t tile_level, std::uint64_t tile_index) {
  const std::string key = tile_key(tile_level, tile_index);
  if (auto it = cache_.find(key); it != cache_.end()) {
    return &it->second;
  }
  auto value = store_.get(column::tree, key);
  if (!value.is_ok()) {
    error_ = value.error();
    return nullptr;
  }
  if (!value->has_value()) {
    error_ =
        status{error_code::corruption, fmt::format("tree tile {}/{} is missing", tile_level, tile_index)};
    return nullptr;
  }
  bool ok = false;
  auto hashes = decode_tile(**value, ok);
  if (!ok) {
    error_ =
        status{error_code::corruption, fmt::format("tree tile {}/{} is malformed", tile_level, tile_index)};
    return nullptr;
  }
  if (cache_.size() > 4096) {
    cache_.clear();
  }
  return &cache_.emplace(key, std::move(hashes)).first->second;
}

std::optional<m::hash> stored_tree::node(std::uint32_t level, std::uint64_t index) {
  const std::uint32_t tile_level = level / tile_height;
  const std::uint32_t rise = level % tile_height;
  const std::uint64_t first = index << rise;
  const std::size_t count = std::size_t{1} << rise;
  const auto* t = tile(tile_level, first / tile_width);
  const std::size_t offset = first % tile_width;
  if (t == nullptr) {
    return std::nullopt;
  }
  if (t->size() < offset + count) {
    error_ = status{error_code::corruption,
                    fmt::format("tree tile {}/{} is shorter than the tree", tile_level, first / tile_width)};
    return std::nullopt;
  }
  std::vector<m::hash> row(t->begin() + static_cast<std::ptrdiff_t>(offset),
                           t->begin() + static_cast<std::ptrdiff_t>(offset + count));
  while (row.size() > 1) {
    for (std::size_t i = 0; i < row.size() / 2; ++i) {
      row[i] = m::node_hash(row[2 * i], row[2 * i + 1]);
    }
    row.resize(row.size() / 2);
  }
  return row[0];
}

}  // namespace sovgw::audit
