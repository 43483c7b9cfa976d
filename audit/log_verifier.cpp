#include "audit/log_verifier.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "audit/record.hpp"
#include "audit/store.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::audit {
namespace {

namespace m = crypto::merkle;

constexpr std::size_t max_problems = 20;

struct stored_checkpoint {
  std::uint64_t size = 0;
  crypto::checkpoint cp;
  bool usable = false;
};

class verifier {
 public:
  verifier(const store& s, const crypto::note_verifier& key) : store_(s), key_(key) {}

  verify_report run() {
    load_checkpoints();
    scan_leaves();
    check_tail();
    check_consistency();
    return std::move(report_);
  }

 private:
  void problem(std::string text, std::optional<std::uint64_t> seq = std::nullopt) {
    if (seq && !report_.first_bad_record) {
      report_.first_bad_record = seq;
    }
    if (report_.problems.size() < max_problems) {
      report_.problems.push_back(std::move(text));
    }
  }

  void load_checkpoints() {
    auto it = store_.iterate(column::checkpoints);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      stored_checkpoint sc;
      if (it->key().size() != 8) {
        problem("a checkpoint key is malformed");
        continue;
      }
      sc.size = read_be64(it->key().ToStringView());
      const auto v = crypto::verify_note(it->value().ToStringView(), key_);
      if (v.verdict != crypto::note_verdict::ok) {
        problem(fmt::format("checkpoint at size {}: {} (forged or altered checkpoint)", sc.size,
                            crypto::to_string(v.verdict)));
        continue;
      }
      auto cp = crypto::checkpoint::parse(v.text);
      if (!cp) {
        problem(fmt::format("checkpoint at size {}: signed, but not a valid tlog-checkpoint", sc.size));
        continue;
      }
      if (cp->size != sc.size) {
        problem(fmt::format("checkpoint stored at size {} claims size {}", sc.size, cp->size));
        continue;
      }
      if (cp->origin != key_.name) {
        problem(fmt::format("checkpoint at size {} names origin '{}', expected '{}'", sc.size, cp->origin,
                            key_.name));
        continue;
      }
      sc.cp = std::move(*cp);
      sc.usable = true;
      checkpoints_.emplace(sc.size, std::move(sc));
    }
    if (!it->status().ok()) {
      problem(fmt::format("reading checkpoints failed: {}", it->status().ToString()));
    }
    next_cp_ = checkpoints_.begin();
  }

  void at_size(std::uint64_t size) {
    while (next_cp_ != checkpoints_.end() && next_cp_->first <= size) {
      if (next_cp_->first == size) {
        const auto root = report_.tiles.root();
        if (root == next_cp_->second.cp.root) {
          ++report_.checkpoints;
          report_.latest = next_cp_->second.cp;
          last_good_size_ = size;
        } else {
          problem(fmt::format(
                      "checkpoint at size {}: its signed root does not match the recomputed tree; a record "
                      "in {}..{} was altered",
                      size, last_good_size_, size - 1),
                  report_.first_bad_record ? std::nullopt : std::optional<std::uint64_t>(last_good_size_));
        }
      }
      ++next_cp_;
    }
  }

  // Level-0 tiles are read in key order alongside the leaves (one sequential scan instead of a
  // point lookup per tile); other levels are rare enough for point lookups.
  std::optional<std::string> stored_tile(std::uint32_t level, std::uint64_t index) {
    const std::string key = tile_key(level, index);
    if (level == 0) {
      if (!tile_it_) {
        tile_it_ = store_.iterate(column::tree, false);
        tile_it_->Seek(key);
      }
      while (tile_it_->Valid() && tile_it_->key().ToStringView() < std::string_view(key)) {
        tile_it_->Next();
      }
      if (tile_it_->Valid() && tile_it_->key().ToStringView() == std::string_view(key)) {
        return tile_it_->value().ToString();
      }
      if (!tile_it_->status().ok()) {
        problem(fmt::format("reading the stored tree failed: {}", tile_it_->status().ToString()));
      }
      return std::nullopt;
    }
    auto stored = store_.get(column::tree, key);
    if (!stored.is_ok()) {
      problem(stored.error().message());
      return std::nullopt;
    }
    return std::move(stored.value());
  }

  void compare_tile(std::uint32_t level, std::uint64_t index, std::span<const m::hash> computed,
                    bool partial) {
    const auto stored = stored_tile(level, index);
    bool ok = false;
    const auto hashes = stored ? decode_tile(*stored, ok) : std::vector<m::hash>();
    const std::uint64_t first_leaf = (index * tile_width) << (level * tile_height);
    for (std::size_t i = 0; i < computed.size(); ++i) {
      if (i >= hashes.size() || hashes[i] != computed[i]) {
        if (level == 0) {
          const std::uint64_t seq = first_leaf + i;
          problem(
              fmt::format("record {}: its leaf hash does not match the stored Merkle tree (the record was "
                          "modified after it was logged)",
                          seq),
              seq);
        } else {
          problem(fmt::format("stored Merkle tree tile {}/{} does not match the records", level, index));
        }
        return;
      }
    }
    if (hashes.size() > computed.size() && !partial) {
      problem(fmt::format("stored Merkle tree tile {}/{} is malformed", level, index));
    }
  }

  // Leaves in key order, read (RocksDB iteration, checksums, decompression: most of a
  // verification's time) by a second thread, a chunk ahead of the checks and hashing here.
  class leaf_reader {
   public:
    struct chunk {
      std::string bytes;                                           // key || value of each leaf, back to back
      std::vector<std::pair<std::uint32_t, std::uint32_t>> sizes;  // key and value sizes
      std::optional<std::string> error;                            // the iterator failed after these
      bool last = false;
    };

    explicit leaf_reader(const store& s)
        : it_(s.iterate(column::leaves, false)), thread_([this] { run(); }) {}
    ~leaf_reader() {
      {
        std::lock_guard lock(mutex_);
        stop_ = true;
      }
      cv_.notify_all();
      thread_.join();
    }
    leaf_reader(const leaf_reader&) = delete;
    leaf_reader& operator=(const leaf_reader&) = delete;

    chunk next() {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !ready_.empty(); });
      chunk c = std::move(ready_.front());
      ready_.pop_front();
      cv_.notify_all();
      return c;
    }

   private:
    static constexpr std::size_t chunk_bytes = 1 << 20;
    static constexpr std::size_t max_ready = 4;

    void run() {
      it_->SeekToFirst();
      for (;;) {
        chunk c;
        c.bytes.reserve(chunk_bytes + 4096);
        while (it_->Valid() && c.bytes.size() < chunk_bytes) {
          const auto key = it_->key();
          const auto value = it_->value();
          c.sizes.emplace_back(static_cast<std::uint32_t>(key.size()),
                               static_cast<std::uint32_t>(value.size()));
          c.bytes.append(key.data(), key.size());
          c.bytes.append(value.data(), value.size());
          it_->Next();
        }
        c.last = !it_->Valid();
        if (c.last && !it_->status().ok()) {
          c.error = it_->status().ToString();
        }
        const bool last = c.last;
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return ready_.size() < max_ready || stop_; });
        if (stop_) {
          return;
        }
        ready_.push_back(std::move(c));
        cv_.notify_all();
        if (last) {
          return;
        }
      }
    }

    std::unique_ptr<rocksdb::Iterator> it_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<chunk> ready_;
    bool stop_ = false;
    std::thread thread_;  // last: starts once the rest is built
  };

  void scan_leaves() {
    const auto emit = [this](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
      compare_tile(level, index, h, false);
    };
    at_size(0);
    leaf_reader reader(store_);
    std::uint64_t expected = 0;
    for (bool done = false; !done;) {
      const auto c = reader.next();
      done = c.last;
      std::string_view rest = c.bytes;
      for (const auto& [key_size, value_size] : c.sizes) {
        const auto key = rest.substr(0, key_size);
        const auto value = rest.substr(key_size, value_size);
        rest.remove_prefix(key_size + value_size);
        if (key.size() != 8) {
          problem(fmt::format("after record {}: a leaf key is malformed", expected), expected);
          report_.contiguous = false;
          done = true;
          break;
        }
        const std::uint64_t seq = read_be64(key);
        if (seq != expected) {
          problem(fmt::format("record {} is missing (the next record present is {})", expected, seq),
                  expected);
          report_.contiguous = false;
          done = true;
          break;
        }
        const std::span<const std::uint8_t> leaf(reinterpret_cast<const std::uint8_t*>(value.data()),
                                                 value.size());
        check_leaf(seq, leaf);
        const auto h = m::leaf_hash(leaf);
        report_.tiles.append(h, emit);
        ++expected;
        at_size(expected);
      }
      if (c.error) {
        problem(fmt::format("reading records failed after record {}: {}", expected, *c.error));
        report_.contiguous = false;
      }
    }
    report_.records = expected;
    report_.tiles.flush([this](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
      compare_tile(level, index, h, true);
    });
  }

  void check_leaf(std::uint64_t seq, std::span<const std::uint8_t> leaf) {
    constexpr std::size_t kind_offset = record_seq_offset + 16;
    if (leaf.size() <= kind_offset || leaf[0] != record_format_version) {
      problem(fmt::format("record {}: not a valid record encoding", seq), seq);
      return;
    }
    std::uint64_t claimed = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      claimed = claimed << 8 | leaf[record_seq_offset + i];
    }
    if (claimed != seq) {
      problem(fmt::format("record at position {} carries sequence number {} (records reordered or replaced)",
                          seq, claimed),
              seq);
      return;
    }
    if (leaf[kind_offset] == static_cast<std::uint8_t>(record_kind::event)) {
      auto r = decode(leaf);
      if (!r.is_ok()) {
        problem(fmt::format("record {}: {}", seq, r.error().message()), seq);
      } else if (r->note.rfind("forced-open", 0) == 0) {
        ++report_.forced_opens;
      }
    }
  }

  void check_tail() {
    if (checkpoints_.empty()) {
      return;
    }
    const std::uint64_t newest = checkpoints_.rbegin()->first;
    if (newest > report_.records && report_.contiguous) {
      report_.problems.insert(
          report_.problems.begin(),
          fmt::format("the log holds {} records but a signed checkpoint covers {}: records "
                      "{}..{} are missing (deleted)",
                      report_.records, newest, report_.records, newest - 1));
      if (!report_.first_bad_record) {
        report_.first_bad_record = report_.records;
      }
    }
  }

  void check_consistency() {
    stored_tree tree(store_);
    const stored_checkpoint* prev = nullptr;
    for (const auto& [size, sc] : checkpoints_) {
      if (size > report_.records) {
        break;
      }
      if (prev != nullptr) {
        auto proof = m::consistency_proof(prev->size, size, tree.source());
        if (!proof || !m::verify_consistency(prev->size, size, prev->cp.root, sc.cp.root, *proof)) {
          problem(
              fmt::format("checkpoints at sizes {} and {} are not consistent according to the stored tree",
                          prev->size, size));
          return;
        }
      }
      prev = &sc;
    }
  }

  const store& store_;
  const crypto::note_verifier& key_;
  std::map<std::uint64_t, stored_checkpoint> checkpoints_;
  std::map<std::uint64_t, stored_checkpoint>::iterator next_cp_;
  std::uint64_t last_good_size_ = 0;
  std::unique_ptr<rocksdb::Iterator> tile_it_;
  verify_report report_;
};

}  // namespace

verify_report verify_log(const store& s, const crypto::note_verifier& key) { return verifier(s, key).run(); }

payload_report verify_payloads(const store& s) {
  payload_report out;
  const auto problem = [&](std::uint64_t seq, std::string text) {
    if (!out.first_bad_record) {
      out.first_bad_record = seq;
    }
    if (out.problems.size() < 20) {
      out.problems.push_back(std::move(text));
    }
  };
  auto it = s.iterate(column::payloads, false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) {
      problem(0, "a stored payload has a malformed key");
      continue;
    }
    const std::uint64_t seq = read_be64(it->key().ToStringView());
    ++out.checked;
    auto leaf = s.get(column::leaves, be64(seq));
    if (!leaf.is_ok() || !leaf->has_value()) {
      problem(seq, fmt::format("record {}: a payload is stored but the record is missing", seq));
      continue;
    }
    const std::string& bytes = **leaf;
    auto r = decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    if (!r.is_ok()) {
      problem(seq, fmt::format("record {}: cannot be decoded ({})", seq, r.error().message()));
      continue;
    }
    if (r->payload != payload_mode::sealed) {
      problem(seq, fmt::format("record {}: a payload is stored but the record says payload mode {}", seq,
                               to_string(r->payload)));
      continue;
    }
    const auto digest = crypto::sha256(it->value().ToStringView());
    if (r->payload_digest.size() != digest.size() ||
        !std::equal(digest.begin(), digest.end(), r->payload_digest.begin())) {
      problem(seq, fmt::format("record {}: the stored payload does not match the hash its record commits to",
                               seq));
    }
  }
  if (!it->status().ok()) {
    problem(0, "reading the stored payloads failed: " + it->status().ToString());
  }
  return out;
}

}  // namespace sovgw::audit
