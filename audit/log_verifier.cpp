#include "audit/log_verifier.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "audit/record.hpp"
#include "audit/store.hpp"
#include "common/plural.hpp"
#include "common/rfc3339.hpp"
#include "crypto/base64.hpp"
#include "crypto/siphash.hpp"

namespace sovgw::audit {
namespace {

namespace m = crypto::merkle;

constexpr std::size_t max_problems = 20;
constexpr std::size_t max_collected = 1000;
// Index entries are summed per window of 2^16 records: a mismatch is then looked for in one window.
constexpr unsigned window_bits = 16;
// Sums are kept for records below 2^36 (8 MB per index): a forged key naming a record far beyond
// must not make the verifier allocate without bound.
constexpr std::uint64_t max_windows = std::uint64_t{1} << 20;
constexpr std::uint64_t max_indexed_records = max_windows << window_bits;
// Windows whose index entries differ are compared entry by entry, a few per index: that reads the
// whole index once, and beyond a few windows the message says no more than how many differ.
constexpr std::size_t max_located_windows = 4;

// Problems are reported in log order: records, the tree and checkpoints first, indexes after.
enum class area { records = 0, indexes = 1 };

struct found_problem {
  area where = area::records;
  problem_kind kind = problem_kind::read_failed;
  std::uint64_t at = 0;  // the record (or first record of what the problem is about)
  std::string text;
  bool pins_record = false;  // `at` is a record that is altered, missing or misplaced
};

// Keeps the first max_collected problems in log order, whatever order they are found in.
class problem_list {
 public:
  void add(area where, problem_kind kind, std::uint64_t at, std::string text, bool pins_record = false) {
    if (pins_record && (!first_pinned_ || at < *first_pinned_)) {
      first_pinned_ = at;
    }
    if (kind == problem_kind::read_failed &&
        std::any_of(items_.begin(), items_.end(), [&](const found_problem& p) { return p.text == text; })) {
      return;  // one storage error met again by another read says nothing new
    }
    found_problem p{where, kind, at, std::move(text), pins_record};
    if (items_.size() < max_collected) {
      items_.push_back(std::move(p));
      return;
    }
    ++dropped_;
    const auto last = std::max_element(items_.begin(), items_.end(), before);
    if (before(p, *last)) {
      *last = std::move(p);
    }
  }
  [[nodiscard]] bool full() const { return items_.size() >= max_collected; }

  void finish(verify_report& r) {
    std::stable_sort(items_.begin(), items_.end(), before);
    r.first_bad_record = first_pinned_;
    const std::size_t more =
        items_.size() > max_problems ? items_.size() - max_problems + dropped_ : dropped_;
    for (std::size_t i = 0; i < items_.size() && i < max_problems; ++i) {
      r.problems.push_back({items_[i].kind, items_[i].at, std::move(items_[i].text)});
    }
    if (more > 0) {
      r.problems.push_back({problem_kind::more, std::nullopt,
                            fmt::format("... and {} more {}", more, plural(more, "problem", "problems"))});
    }
  }

 private:
  // What could not be read comes first: the problems after it may be its consequences.
  static bool before(const found_problem& a, const found_problem& b) {
    const bool a_read = a.kind == problem_kind::read_failed;
    const bool b_read = b.kind == problem_kind::read_failed;
    if (a_read != b_read) {
      return a_read;
    }
    if (a.where != b.where) {
      return a.where < b.where;
    }
    if (a.at != b.at) {
      return a.at < b.at;
    }
    // At one record, what the records show before what the stored tree lacks.
    return a.kind != problem_kind::tree_damaged && b.kind == problem_kind::tree_damaged;
  }
  std::vector<found_problem> items_;
  std::size_t dropped_ = 0;
  std::optional<std::uint64_t> first_pinned_;
};

// A stored value, quoted for a message: control and non-ASCII bytes as \xNN, long ones cut.
std::string quoted(std::string_view v) {
  std::string out = "'";
  for (const char ch : v.substr(0, 64)) {
    const auto c = static_cast<unsigned char>(ch);
    out += c >= 0x20 && c < 0x7f && ch != '\'' ? std::string(1, ch) : fmt::format("\\x{:02x}", c);
  }
  return out + (v.size() > 64 ? "...'" : "'");
}

// A record time for a message: RFC 3339, or what it is beyond the year 9999.
std::string time_text(std::uint64_t us) {
  return format_rfc3339_us(us, us % 1'000'000 != 0)
      .value_or(fmt::format("after 9999-12-31 ({} us since 1970)", us));
}
std::string when_text(std::uint64_t us) {
  const auto t = format_rfc3339_us(us, us % 1'000'000 != 0);
  return t ? "at " + *t : time_text(us);
}

// "62 min", "5 h", "3 days", "58 years".
std::string duration_text(std::uint64_t us) {
  constexpr std::uint64_t minute = 60'000'000;
  if (us < 120 * minute) {
    return fmt::format("{} min", us / minute);
  }
  if (us < 96 * 60 * minute) {
    return fmt::format("{} h", us / (60 * minute));
  }
  if (us < 730 * 1440 * minute) {
    return fmt::format("{} days", us / (1440 * minute));
  }
  return fmt::format("{} years", us / (36525 * 1440 * minute / 100));
}

// The value an index key lists its record under (key = prefix || be64(seq), already checked).
std::string listed_value(column c, std::string_view key) {
  if (c == column::idx_time) {
    return fmt::format("{} us", read_be64(key));
  }
  return quoted(key.substr(2, key.size() - 10));
}

// The seq an index key names, or nullopt when the key is malformed.
std::optional<std::uint64_t> index_key_seq(column c, std::string_view key) {
  if (c == column::idx_time) {
    return key.size() == 16 ? std::optional(read_be64(key.substr(8))) : std::nullopt;
  }
  if (key.size() < 10) {
    return std::nullopt;
  }
  const std::size_t n =
      static_cast<std::size_t>(static_cast<unsigned char>(key[0])) << 8 | static_cast<unsigned char>(key[1]);
  return key.size() == 2 + n + 8 ? std::optional(read_be64(key.substr(key.size() - 8))) : std::nullopt;
}

using window_sums = std::array<std::vector<std::uint64_t>, index_columns.size()>;

void add_to(std::vector<std::uint64_t>& sums, std::uint64_t window, std::uint64_t h) {
  if (sums.size() <= window) {
    sums.resize(window + 1, 0);
  }
  sums[window] += h;
}

// Reads every index entry on its own thread while the leaves are scanned, and sums a keyed hash
// of the entries per window of records. The sums of the entries the records call for are built
// from the leaves; equal sums mean equal sets of entries, except with probability ~2^-64 (the key
// is random per run, so a forger cannot aim for a collision).
class index_scanner {
 public:
  struct outcome {
    window_sums sums;
    std::uint64_t entries = 0;
    std::vector<found_problem> problems;  // malformed keys, entries naming records past the end
    std::array<bool, index_columns.size()> unreadable{};  // a read failed: not compared with the records
    // Request ids two records carry, as the request id index lists them (equal ids side by side):
    // they are the records' own only when that index matches the records (check_indexes says).
    std::vector<found_problem> duplicates;
  };

  index_scanner(const store& s, const crypto::siphash& hash, std::uint64_t bound)
      : store_(s), hash_(hash), bound_(std::min(bound, max_indexed_records)), thread_([this] { run(); }) {}
  ~index_scanner() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  index_scanner(const index_scanner&) = delete;
  index_scanner& operator=(const index_scanner&) = delete;

  outcome wait() {
    thread_.join();
    return std::move(out_);
  }

 private:
  void problem(problem_kind kind, std::uint64_t at, std::string text) {
    if (out_.problems.size() < max_collected) {
      out_.problems.push_back({area::indexes, kind, at, std::move(text), false});
    }
  }

  // Keys are u16 length || request id || be64(seq): records with one id are listed side by side.
  // An empty id (events) is no request's.
  void note_request_id(std::string_view key, std::uint64_t seq) {
    const auto id = key.substr(0, key.size() - 8);
    if (id.size() > 2 && id == previous_id_ && out_.duplicates.size() < max_collected) {
      out_.duplicates.push_back(
          {area::indexes, problem_kind::request_id_duplicate, seq,
           fmt::format(
               "records {} and {} carry the same request id {}: a gateway gives every request its own "
               "random id, so one of them was forged or replayed",
               first_with_id_, seq, listed_value(column::idx_request, key)),
           false});
      return;
    }
    if (id != previous_id_) {
      previous_id_.assign(id);
      first_with_id_ = seq;
    }
  }

  void run() {
    for (std::size_t i = 0; i < index_columns.size(); ++i) {
      const column c = index_columns[i];
      if (const status tables = store_.verify_table_checksums(std::array{c}); !tables.is_ok()) {
        out_.unreadable[i] = true;  // what a damaged block holds would look missing (store.hpp)
        problem(problem_kind::read_failed, 0,
                fmt::format("reading the {} index failed: {}", index_name(c), tables.message()));
        continue;
      }
      auto it = store_.iterate(c, false);
      // Entries past the log's end, said in one line per index: records deleted from the end
      // leave one in each index, and a line each would crowd out every other problem.
      std::uint64_t beyond = 0;
      std::uint64_t beyond_first = UINT64_MAX;
      std::uint64_t beyond_last = 0;
      std::string beyond_value;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const auto key = it->key().ToStringView();
        const auto seq = index_key_seq(c, key);
        ++out_.entries;
        if (!seq) {
          problem(problem_kind::index_malformed, 0,
                  fmt::format("the {} index holds a malformed key ({} bytes)", index_name(c), key.size()));
          continue;
        }
        if (*seq >= bound_) {
          if (beyond++ == 0) {
            beyond_value = listed_value(c, key);
          }
          beyond_first = std::min(beyond_first, *seq);
          beyond_last = std::max(beyond_last, *seq);
          continue;
        }
        add_to(out_.sums[i], *seq >> window_bits, hash_(key));
        if (c == column::idx_request) {
          note_request_id(key, *seq);
        }
      }
      if (beyond == 1) {
        problem(problem_kind::index_mismatch, beyond_first,
                fmt::format("the {} index lists record {} (under {}), but the log's records end at "
                            "{}: records deleted?",
                            index_name(c), beyond_first, beyond_value, bound_));
      } else if (beyond > 1) {
        problem(problem_kind::index_mismatch, beyond_first,
                fmt::format("the {} index lists {} records from {} to {}, but the log's records end at "
                            "{}: records deleted?",
                            index_name(c), beyond, beyond_first, beyond_last, bound_));
      }
      if (!it->status().ok()) {
        out_.unreadable[i] = true;
        problem(problem_kind::read_failed, 0,
                fmt::format("reading the {} index failed: {}", index_name(c), it->status().ToString()));
      }
    }
  }

  const store& store_;
  const crypto::siphash& hash_;
  std::uint64_t bound_;
  std::string previous_id_;  // the request id index's last key's prefix
  std::uint64_t first_with_id_ = 0;
  outcome out_;
  std::thread thread_;  // last: starts once the rest is built
};

// The index entries the records call for, summed per window as index_scanner sums those present.
class index_expectation {
 public:
  explicit index_expectation(const crypto::siphash& hash) : hash_(hash) {}

  // False when the record does not decode as far as its indexed fields.
  bool add(std::uint64_t seq, std::span<const std::uint8_t> leaf) {
    index_fields f;
    if (!read_index_fields(leaf, f)) {
      return false;
    }
    if (seq >= max_indexed_records) {
      return true;  // its entries count as past the end; the leaf scan reports the gap before it
    }
    for (std::size_t i = 0; i < index_columns.size(); ++i) {
      key_.clear();
      append_index_key(index_columns[i], f, seq, key_);
      add_to(sums_[i], seq >> window_bits, hash_(key_));
    }
    return true;
  }
  [[nodiscard]] const window_sums& sums() const { return sums_; }

 private:
  const crypto::siphash& hash_;
  window_sums sums_;
  std::string key_;
};

// Leaves in key order, read (RocksDB iteration, checksums, decompression: most of a
// verification's time) by a second thread, a chunk ahead of the checks and hashing. That thread
// also sums the index entries the leaves call for, when given an index_expectation.
class leaf_reader {
 public:
  struct chunk {
    std::string bytes;                                           // key || value of each leaf, back to back
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sizes;  // key and value sizes
    std::vector<std::uint64_t> undecodable;                      // records index_expectation could not read
    std::optional<std::string> error;                            // the iterator failed after these
    bool last = false;
  };

  // `expectation` (may be null) must outlive the reader; read it only after the last chunk.
  leaf_reader(const store& s, index_expectation* expectation)
      : it_(s.iterate(column::leaves, false)), expectation_(expectation), thread_([this] { run(); }) {}
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
        if (expectation_ != nullptr && key.size() == 8) {
          const std::uint64_t seq = read_be64(key.ToStringView());
          if (!expectation_->add(seq, bytes_of(value.ToStringView()))) {
            c.undecodable.push_back(seq);
          }
        }
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
  index_expectation* expectation_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<chunk> ready_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

// What a stored checkpoint the records do not reproduce may be, when something else says they are
// what was signed: the key signed another history too.
constexpr std::string_view foreign_checkpoint =
    "another log's that shares the key (a second gateway or a staging log under the same keys), stored in "
    "place of this log's own";
// The same, for a checkpoint kept outside the log (held or published beside it).
constexpr std::string_view foreign_outside =
    "another log's that shares the key (a second gateway or a staging log under the same keys)";

struct known_checkpoint {
  crypto::checkpoint cp;
  bool held = false;  // given by the auditor (verify_options::held), not read from the store
  std::string_view label = "checkpoint";  // how problems name it (verify_options::held_labels)
  bool by_auditor = false;                // verify_options::held_by_auditor
  std::size_t held_index = 0;             // its verify_options::held entry
};

// A stored checkpoint signed by the key at the size of a held one with another root (load_checkpoints
// takes it out of the checkpoints to check; at_size judges it).
struct size_conflict {
  std::uint64_t size = 0;
  m::hash stored_root{};
  m::hash held_root{};
  std::string_view label;  // the held one's
  bool resolved = false;
};

class verifier {
 public:
  verifier(const store& s, const crypto::note_verifier& key, const verify_options& options,
           const leaf_observer& on_leaf)
      : store_(s), key_(key), options_(options), on_leaf_(on_leaf) {}

  verify_report run() {
    // A block that fails its checksum hides what it holds from an iteration (store.hpp): a record,
    // a tile, a checkpoint or an index entry would look deleted. Each part is judged only when every
    // block of its tables reads; else what it holds is reported unread, once.
    load_checkpoints();
    if (const status tables = store_.verify_table_checksums(std::array{column::leaves}); !tables.is_ok()) {
      problems_.add(area::records, problem_kind::read_failed, 0,
                    "reading records failed: " + tables.message());
      records_unread_ = true;
      report_.contiguous = false;
      report_.tree_complete = false;
      count_unchecked_checkpoints();
      problems_.finish(report_);
      return std::move(report_);
    }
    if (const status tables = store_.verify_table_checksums(std::array{column::tree}); !tables.is_ok()) {
      tree_unread_ = true;
      problems_.add(area::records, problem_kind::read_failed, 0,
                    "reading the stored tree failed: " + tables.message());
    }
    std::unique_ptr<index_scanner> scanner;
    if (options_.indexes) {
      auto bound = store_.leaf_count();
      if (bound.is_ok()) {
        scanner = std::make_unique<index_scanner>(store_, hash_, bound.value());
      } else {
        problems_.add(area::indexes, problem_kind::read_failed, 0, bound.error().message());
      }
    }
    scan_leaves();
    for (auto& c : conflicts_) {
      if (!c.resolved) {
        resolve_conflict(c, std::nullopt);  // beyond the records: the held one's problem says so
      }
    }
    classify_suspects();
    check_tail();
    for (const auto& [size, known] : checkpoints_) {
      if (known.held && size > report_.records && !records_unread_) {
        report_.held_verdicts[known.held_index] = verify_report::held_verdict::not_reached;
      }
    }
    if (!tree_unread_) {
      check_consistency();  // else every proof from the stored tree would fail, for want of a read
    }
    if (scanner) {
      check_indexes(scanner->wait());
    }
    if (records_unread_) {
      count_unchecked_checkpoints();
    }
    if (options_.require_checkpoint && report_.checkpoints == 0 && report_.unchecked_checkpoints == 0 &&
        report_.contradicting_checkpoints == 0 && !checkpoints_unread_) {
      problems_.add(area::records, problem_kind::no_checkpoint, report_.records,
                    fmt::format("{} record(s) but no stored checkpoint signed by {} verifies",
                                report_.records, key_.label()));
    }
    report_.events.drop_from(report_.signed_records());
    problems_.finish(report_);
    return std::move(report_);
  }

 private:
  void load_checkpoints() {
    // The stored ones are read only when every block of their table reads (store.hpp); the held
    // ones are checked either way.
    const status tables = store_.verify_table_checksums(std::array{column::checkpoints});
    if (!tables.is_ok()) {
      checkpoints_unread_ = true;
      problems_.add(area::records, problem_kind::read_failed, 0,
                    "reading checkpoints failed: " + tables.message());
    }
    auto it = store_.iterate(column::checkpoints);
    for (it->SeekToFirst(); tables.is_ok() && it->Valid(); it->Next()) {
      if (it->key().size() != 8) {
        ++report_.stored_checkpoints;
        problems_.add(area::records, problem_kind::checkpoint_invalid, 0, "a checkpoint key is malformed");
        continue;
      }
      const std::uint64_t size = read_be64(it->key().ToStringView());
      ++report_.stored_checkpoints;
      report_.newest_checkpoint_size = std::max(report_.newest_checkpoint_size, size);
      const auto v = crypto::verify_note(it->value().ToStringView(), key_);
      const std::uint64_t at = size > 0 ? size - 1 : 0;
      if (v.verdict != crypto::note_verdict::ok) {
        const bool unknown = v.verdict == crypto::note_verdict::no_known_signature;
        problems_.add(
            area::records, unknown ? problem_kind::checkpoint_unknown_key : problem_kind::checkpoint_invalid,
            at,
            unknown
                ? fmt::format("checkpoint at size {}: {} {} (signed by {}): the wrong key, or not this log's "
                              "checkpoint",
                              size, crypto::to_string(v.verdict), key_.label(),
                              crypto::note_signer_labels(it->value().ToStringView()))
                : fmt::format("checkpoint at size {}: {} (forged or altered checkpoint)", size,
                              crypto::to_string(v.verdict)));
        continue;
      }
      auto cp = crypto::checkpoint::parse(v.text);
      if (!cp) {
        problems_.add(area::records, problem_kind::checkpoint_invalid, at,
                      fmt::format("checkpoint at size {}: signed, but not a valid tlog-checkpoint", size));
        continue;
      }
      if (cp->size != size) {
        problems_.add(area::records, problem_kind::checkpoint_invalid, at,
                      fmt::format("checkpoint stored at size {} claims size {}", size, cp->size));
        continue;
      }
      if (cp->origin != key_.name) {
        problems_.add(area::records, problem_kind::checkpoint_invalid, at,
                      fmt::format("checkpoint at size {} names origin '{}', expected '{}'", size, cp->origin,
                                  key_.name));
        continue;
      }
      report_.newest_signed = *cp;
      checkpoints_.emplace(size, known_checkpoint{std::move(*cp), false});
    }
    if (tables.is_ok() && !it->status().ok()) {
      checkpoints_unread_ = true;
      problems_.add(area::records, problem_kind::read_failed, 0,
                    fmt::format("reading checkpoints failed: {}", it->status().ToString()));
    }
    for (std::size_t h = 0; h < options_.held.size(); ++h) {
      const crypto::checkpoint& held = options_.held[h];
      const std::string_view label =
          h < options_.held_labels.size() ? options_.held_labels[h] : std::string_view(options_.held_label);
      const auto [first, last] = checkpoints_.equal_range(held.size);
      for (auto i = first; i != last;) {
        if (i->second.held || i->second.cp.root == held.root) {
          ++i;
          continue;
        }
        // Which of the two the records reproduce is known once the tree reaches their size (at_size).
        conflicts_.push_back({held.size, i->second.cp.root, held.root, label});
        i = checkpoints_.erase(i);
      }
      const bool by_auditor = h < options_.held_by_auditor.size() && options_.held_by_auditor[h];
      checkpoints_.emplace(held.size, known_checkpoint{held, true, label, by_auditor, h});
    }
    report_.held_verdicts.assign(options_.held.size(), verify_report::held_verdict::not_checked);
    next_cp_ = checkpoints_.begin();
  }

  // The records stopped at a read failure: the signed checkpoints beyond them were not checked
  // (neither verified nor failed).
  void count_unchecked_checkpoints() {
    for (auto i = checkpoints_.upper_bound(report_.records); i != checkpoints_.end(); ++i) {
      report_.unchecked_checkpoints += i->second.held ? 0 : 1;
    }
  }

  // Checks the checkpoints for tree size `size` against the recomputed tree: the ones the auditor
  // holds first, since a stored one that agrees with the records after a held one disagreed signs
  // the rewritten history.
  void at_size(std::uint64_t size) {
    for (; next_cp_ != checkpoints_.end() && next_cp_->first < size; ++next_cp_) {
    }
    for (auto& c : conflicts_) {
      if (c.size == size && !c.resolved) {
        resolve_conflict(c, report_.tiles.root());
      }
    }
    const auto first = next_cp_;
    for (; next_cp_ != checkpoints_.end() && next_cp_->first == size; ++next_cp_) {
      if (next_cp_->second.held) {
        check_checkpoint(size, next_cp_->second);
      }
    }
    for (auto i = first; i != next_cp_; ++i) {
      if (!i->second.held) {
        check_checkpoint(size, i->second);
      }
    }
  }

  // A stored checkpoint and a held one of the same size with different roots, judged against the
  // recomputed root at that size (nullopt: the records do not reach it, or were not read).
  void resolve_conflict(size_conflict& c, const std::optional<m::hash>& recomputed) {
    c.resolved = true;
    const std::uint64_t at = c.size > 0 ? c.size - 1 : 0;
    if (recomputed && *recomputed != c.stored_root && *recomputed == c.held_root) {
      // The records are the ones the held checkpoint signs: the stored one signs another history
      // under the same key. It fails, and is no side of a fork of this log.
      problems_.add(
          area::records, problem_kind::checkpoint_mismatch, at,
          fmt::format("the log's signed checkpoint at size {} has root {}, which the records do not "
                      "reproduce, but {} has root {}, which they do: the stored checkpoint is {}",
                      c.size, crypto::to_base64(c.stored_root), c.label, crypto::to_base64(c.held_root),
                      foreign_checkpoint));
      return;
    }
    if (recomputed && *recomputed != c.stored_root) {
      problems_.add(
          area::records, problem_kind::checkpoint_mismatch, at,
          fmt::format("the log's signed checkpoint at size {} has root {}, and {} has root {}: the "
                      "records reproduce neither",
                      c.size, crypto::to_base64(c.stored_root), c.label, crypto::to_base64(c.held_root)));
      return;
    }
    if (!recomputed) {
      // The records end before it: neither matches the records, so the stored one is not counted as
      // signing them (it fails). The stored tree, if it reaches that size, says which is this log's.
      stored_tree tree(store_);
      const auto tree_root = m::tree_root(c.size, tree.source());
      const bool reaches = tree.error().is_ok() && tree_root.has_value();
      if (reaches && *tree_root == c.held_root) {
        problems_.add(
            area::records, problem_kind::checkpoint_mismatch, at,
            fmt::format("the log's signed checkpoint at size {} has root {}, which the stored tree "
                        "does not reproduce, but {} has root {}, which it does: the stored checkpoint "
                        "is {}",
                        c.size, crypto::to_base64(c.stored_root), c.label, crypto::to_base64(c.held_root),
                        foreign_checkpoint));
        return;
      }
      problems_.add(
          area::records, problem_kind::checkpoint_mismatch, at,
          fmt::format(
              "the log's signed checkpoint at size {} has root {}, but {} has root {}: the key "
              "signed two different histories of {} records, and {} to tell which is its own{}",
              c.size, crypto::to_base64(c.stored_root), c.label, crypto::to_base64(c.held_root), c.size,
              records_unread_ ? std::string("not all of the log's records could be read")
                              : fmt::format("the log holds {}, too few", report_.records),
              !reaches                      ? std::string()
              : *tree_root == c.stored_root ? std::string(" (the stored tree reproduces the stored one)")
                                            : std::string(" (the stored tree reproduces neither)")));
      return;
    }
    forked_sizes_.insert(c.size);
    problems_.add(
        area::records, problem_kind::checkpoint_mismatch, at,
        fmt::format("the log's signed checkpoint at size {} has root {}, but {} has root {}: the log "
                    "forked or was rewritten",
                    c.size, crypto::to_base64(c.stored_root), c.label, crypto::to_base64(c.held_root)));
    ++report_.contradicting_checkpoints;  // signed, but contradicted: it does not verify the log
    contradicting_sizes_.push_back(c.size);
  }

  void check_checkpoint(std::uint64_t size, const known_checkpoint& known) {
    const crypto::checkpoint& cp = known.cp;
    const bool held = known.held;
    const std::string_view label = known.label;
    if (report_.tiles.root() != cp.root) {
      // Only a checkpoint the auditor holds bounds where the history the auditor saw was rewritten:
      // the stored ones may have been signed again over the rewrite.
      mismatches_.push_back(
          {held ? held_authenticated_size_ : authenticated_size_, authenticated_size_, size, label, held});
      if (held) {
        report_.held_verdicts[known.held_index] = verify_report::held_verdict::contradicted;
      }
      if (held && !contradicted_held_) {
        contradicted_held_ = size;
        contradicted_label_ = label;
      }
      return;
    }
    if (!held && contradicted_held_) {
      // Signed and matching the records, past a held checkpoint they contradict: the log's own
      // signed history, one side of the fork the held one's problem names.
      ++report_.contradicting_checkpoints;
      contradicting_sizes_.push_back(size);
      return;
    }
    authenticated_size_ = size;  // every record below is the one that was signed
    for (auto& mm : mismatches_) {
      if (!mm.held && !mm.later) {
        mm.later = size;  // it signs the records the stored one at mm.size does not
        mm.later_label = held ? label : std::string_view();
      }
    }
    if (held) {
      report_.held_verdicts[known.held_index] = verify_report::held_verdict::reproduced;
      held_authenticated_size_ = size;
      ++report_.held_checkpoints;
      report_.newest_held_size = std::max(report_.newest_held_size, size);
    } else {
      ++report_.checkpoints;
      report_.latest = cp;
    }
  }

  // The stored hash of leaf `seq` (level-0 tiles are read in key order, one tile decoded at a time).
  std::optional<m::hash> stored_leaf_hash(std::uint64_t seq) {
    const std::uint64_t index = seq / tile_width;
    if (!gap_tile_ || gap_tile_index_ != index) {
      gap_tile_index_ = index;
      gap_tile_.reset();
      if (const auto stored = stored_tile(0, index)) {
        bool ok = false;
        auto hashes = decode_tile(*stored, ok);
        if (ok) {
          gap_tile_ = std::move(hashes);
        }
      }
    }
    if (!gap_tile_ || gap_tile_->size() <= seq % tile_width) {
      return std::nullopt;
    }
    return (*gap_tile_)[seq % tile_width];
  }

  // Level-0 tiles are read in key order alongside the leaves (one sequential scan instead of a
  // point lookup per tile); other levels are rare enough for point lookups.
  std::optional<std::string> stored_tile(std::uint32_t level, std::uint64_t index) {
    if (tree_unread_) {
      return std::nullopt;  // its read failure is reported once
    }
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
        tree_unread_ = true;
        problems_.add(area::records, problem_kind::read_failed, index * tile_width,
                      fmt::format("reading the stored tree failed: {}", tile_it_->status().ToString()));
      }
      return std::nullopt;
    }
    auto stored = store_.get(column::tree, key);
    if (!stored.is_ok()) {
      tree_unread_ = true;
      problems_.add(area::records, problem_kind::read_failed, 0, stored.error().message());
      return std::nullopt;
    }
    return std::move(stored.value());
  }

  void compare_tile(std::uint32_t level, std::uint64_t index, std::span<const m::hash> computed,
                    bool partial) {
    const auto stored = stored_tile(level, index);
    if (!stored && tree_unread_) {
      return;  // not read, so neither matching nor damaged
    }
    bool ok = false;
    const auto hashes = stored ? decode_tile(*stored, ok) : std::vector<m::hash>();
    const std::uint64_t first_leaf = (index * tile_width) << (level * tile_height);
    if (stored && !ok) {
      problems_.add(area::records, problem_kind::tree_damaged, first_leaf,
                    fmt::format("stored Merkle tree tile {}/{} is malformed", level, index));
      return;
    }
    if (hashes.size() < computed.size()) {
      // Hashes missing from the stored tree say nothing of the records (the checkpoints judge them):
      // the tree is incomplete, and the hashes it still holds are compared below.
      const std::uint64_t span = std::uint64_t{1} << (level * tile_height);
      const std::uint64_t end = first_leaf + computed.size() * span;  // a partial tile's last hash: fewer
      const std::uint64_t last = (partial ? std::min(end, report_.records) : end) - 1;
      missing_hashes_.emplace_back(first_leaf + hashes.size() * span, last + 1);
      problems_.add(area::records, problem_kind::tree_damaged, first_leaf + hashes.size() * span,
                    hashes.empty()
                        ? fmt::format("stored Merkle tree tile {}/{} is missing (the hashes of records "
                                      "{}..{})",
                                      level, index, first_leaf, last)
                        : fmt::format("stored Merkle tree tile {}/{} holds {} of its {} hashes (those of "
                                      "records {}..{} are missing)",
                                      level, index, hashes.size(), computed.size(),
                                      first_leaf + hashes.size() * span, last));
    }
    const std::uint64_t span = std::uint64_t{1} << (level * tile_height);
    for (std::size_t i = 0; i < computed.size() && i < hashes.size(); ++i) {
      if (hashes[i] != computed[i]) {
        if (level == 0) {
          if (suspects_.size() < max_collected) {
            suspects_.push_back(first_leaf + i);
          }
          continue;
        }
        // The stored tree recorded another hash of records [from, from + span): one of them, or the
        // tile, was altered. A lower tile that already names a record or range in it says it better.
        const std::uint64_t from = first_leaf + i * span;
        if (!suspect_within(from, from + span) && !contradicted_within(from, from + span) &&
            contradicted_.size() < max_collected) {
          contradicted_.push_back({level, index, from, from + span});
        }
      }
    }
    if (hashes.size() > computed.size() && !partial) {
      problems_.add(area::records, problem_kind::tree_damaged, first_leaf,
                    fmt::format("stored Merkle tree tile {}/{} is malformed", level, index));
    }
  }

  // A higher tile over a record whose own hash differs says nothing more about it.
  [[nodiscard]] bool suspect_within(std::uint64_t first, std::uint64_t end) const {
    const auto it = std::lower_bound(suspects_.begin(), suspects_.end(), first);
    return it != suspects_.end() && *it < end;
  }
  [[nodiscard]] bool contradicted_within(std::uint64_t first, std::uint64_t end) const {
    return std::any_of(contradicted_.begin(), contradicted_.end(),
                       [&](const contradicted_hash& c) { return c.from >= first && c.from < end; });
  }

  // A held checkpoint the records contradict, where the log's own signed checkpoints sign the records.
  [[nodiscard]] std::string describe_fork(std::uint64_t from, std::uint64_t stored_from, std::uint64_t size,
                                          std::string_view label) const {
    const auto first = std::lower_bound(contradicting_sizes_.begin(), contradicting_sizes_.end(), size);
    const auto n = static_cast<std::uint64_t>(contradicting_sizes_.end() - first);
    const std::string own =
        n == 0 ? std::string()
        : n == 1
            ? fmt::format(
                  "; the log's own checkpoint at size {}, whose signature verifies, signs its records",
                  *first)
            : fmt::format(
                  "; the log's own {} checkpoints at sizes {}..{}, whose signatures verify, sign its records",
                  n, *first, contradicting_sizes_.back());
    const std::string narrowed =
        stored_from > from && stored_from < size
            ? fmt::format(
                  " (records {}..{} reproduce the log's signed checkpoint at size {}: if this log was "
                  "rewritten, and that checkpoint not signed over the rewrite, the records that differ "
                  "are in {}..{})",
                  from, stored_from - 1, stored_from, stored_from, size - 1)
            : std::string();
    return fmt::format(
        "{} at size {}: its signed root does not match the recomputed tree: this log and {} sign two "
        "different "
        "histories{} under one key, so one of them is a fork: either this log was rewritten, or {} belongs "
        "to "
        "another log that shares the key (a second gateway or a staging log under the same keys, or the "
        "wrong "
        "file){}{}",
        label, size, label, forked_sizes_.contains(size) ? fmt::format(" of size {}", size) : std::string(),
        label, own, narrowed);
  }

  // A stored checkpoint at `size` the records do not reproduce, where a later one (at `later`, held
  // when `later_label` names it) does: it signs another history under the same key.
  [[nodiscard]] static std::string describe_foreign(std::uint64_t from, std::uint64_t size,
                                                    std::uint64_t later, std::string_view later_label) {
    if (!later_label.empty()) {
      // The auditor verified the records at `later` themselves: they were not rewritten since.
      return fmt::format(
          "checkpoint at size {}: its signed root does not match the recomputed tree, but {} at size {} "
          "signs records 0..{} as they are: the key signed two different histories, so this checkpoint is "
          "{}",
          size, later_label, later, later - 1, foreign_checkpoint);
    }
    return fmt::format(
        "checkpoint at size {}: its signed root does not match the recomputed tree, but the log's checkpoint "
        "at size {}, whose signature verifies, signs records 0..{} as they are: the key signed two different "
        "histories, so this checkpoint is a fork: {}, or this log's records {}..{} were rewritten and signed "
        "again from size {} on",
        size, later, later - 1, foreign_checkpoint, from, size - 1, later);
  }

  // A record whose hash differs from the stored tree: if a signed checkpoint over the recomputed
  // tree covers it, the record is authentic and the stored tree is what was damaged. A checkpoint
  // that does not match, with no such record in the range it covers beyond the last one that
  // matched, pins the first record of that range (the tree was rewritten to match an altered one).
  void classify_suspects() {
    // A stored hash above the leaves that the records beneath it do not reproduce is the stored
    // tree's word against the records': over records a signed checkpoint covers, the tree was
    // damaged; over the others, nothing says which was altered, so it is never taken for damage a
    // rebuild from the records may repair (that would sign the altered records).
    for (const auto& c : contradicted_) {
      const std::uint64_t last = std::min(c.end, report_.records) - 1;
      if (c.end <= authenticated_size_) {
        problems_.add(area::records, problem_kind::tree_damaged, c.from,
                      fmt::format("stored Merkle tree tile {}/{} is damaged: its hash of records {}..{} "
                                  "differs, but the records match the signed checkpoint at size {}",
                                  c.level, c.index, c.from, last, authenticated_size_));
        continue;
      }
      report_.tree_contradicted = true;
      const auto missing = std::find_if(missing_hashes_.begin(), missing_hashes_.end(),
                                        [&](const auto& m) { return m.first < c.end && m.second > c.from; });
      problems_.add(
          area::records, problem_kind::record_altered, c.from,
          fmt::format(
              "records {}..{}: at least one differs from what the stored tree recorded (altered "
              "records, or an altered tile): stored Merkle tree tile {}/{} holds another hash of "
              "them{}, and no signed checkpoint covers them to tell which",
              c.from, last, c.level, c.index,
              missing == missing_hashes_.end()
                  ? std::string()
                  : fmt::format(" (its hashes of records {}..{}, which would name the record, are "
                                "missing)",
                                std::max(missing->first, c.from), std::min(missing->second, c.end) - 1)));
    }
    std::uint64_t pinned_from = UINT64_MAX;  // one pin per range: later checkpoints repeat it
    for (const auto& [from, stored_from, size, label, held, later, later_label] : mismatches_) {
      if (size == 0) {
        continue;  // a stored key claiming size 0: the signature check named it
      }
      if (later) {
        // A later checkpoint signs the records as they are, across this one: the key signed two
        // histories, and the records are those of the one the log's other checkpoints sign.
        foreign_sizes_.insert(size);
        problems_.add(area::records, problem_kind::checkpoint_mismatch, size - 1,
                      describe_foreign(from, size, *later, later_label));
        continue;
      }
      // A lone stored checkpoint the records do not reproduce, over records nothing else pins.
      const std::uint64_t range_from = from;
      const bool lone =
          !held && std::count_if(mismatches_.begin(), mismatches_.end(),
                                 [&](const mismatch& o) { return !o.held && o.from == range_from; }) == 1;
      const bool unpinned = from < size && !suspect_within(from, size);
      // A checkpoint kept outside the log that nothing stored in it contradicts (that is the fork
      // below) may as well be another log's as this one's over altered records: both are said.
      const std::string or_foreign = lone && unpinned
                                         ? fmt::format(", or this checkpoint is {}", foreign_checkpoint)
                                     : held && unpinned ? fmt::format(", or {} is {}", label, foreign_outside)
                                                        : std::string();
      const std::string or_foreign_range =
          or_foreign.empty() ? std::string()
          : held             ? fmt::format(", or {} at size {} is {}", label, size, foreign_outside)
                             : fmt::format(", or the checkpoint at size {} is {}", size, foreign_checkpoint);
      if (held && (forked_sizes_.contains(size) ||
                   (!contradicting_sizes_.empty() && contradicting_sizes_.back() >= size))) {
        // The log's own checkpoints, signed by the key, sign the records the held one contradicts:
        // two signed histories under one key. Nothing here says which one was rewritten.
        problems_.add(area::records, problem_kind::checkpoint_mismatch, size - 1,
                      describe_fork(from, stored_from, size, label));
        continue;
      }
      problems_.add(area::records, problem_kind::checkpoint_mismatch, size - 1,
                    or_foreign.empty()
                        ? fmt::format("{} at size {}: its signed root does not match the recomputed tree; a "
                                      "record in {}..{} was altered",
                                      label, size, from, size - 1)
                        : fmt::format("{} at size {}: its signed root does not match the recomputed tree: a "
                                      "record in {}..{} was altered{}",
                                      label, size, from, size - 1, or_foreign));
      if (from < size && from != pinned_from && !suspect_within(from, size)) {
        pinned_from = from;
        // Which record is not known, only the range: no first bad record is named.
        const auto missing = std::find_if(missing_hashes_.begin(), missing_hashes_.end(),
                                          [&](const auto& m) { return m.first < size && m.second > from; });
        // A stored checkpoint that the records reproduce, past every held one they do, narrows the range
        // only if it is on the history the held checkpoint signs, which nothing in the log can show:
        // whoever rewrote the records with the key may have signed it again over them. Both are said.
        const std::string narrowed =
            stored_from > from && stored_from < size
                ? fmt::format(
                      " (records {}..{} reproduce the log's signed checkpoint at size {}: unless it too "
                      "was signed over the rewrite, the records that differ are in {}..{})",
                      from, stored_from - 1, stored_from, stored_from, size - 1)
                : std::string();
        problems_.add(
            area::records, problem_kind::record_altered, from,
            missing == missing_hashes_.end()
                ? fmt::format(
                      "records {}..{}: at least one differs from what was signed, and the stored tree "
                      "was rewritten to match it{}{}",
                      from, size - 1, narrowed, or_foreign_range)
                : fmt::format(
                      "records {}..{}: at least one differs from what was signed (the stored tree lacks "
                      "the hashes of records {}..{}, which would name it){}",
                      from, size - 1, missing->first, missing->second - 1, narrowed));
      }
    }
    const std::vector<bool> shifted = shifted_suspects();
    for (std::size_t i = 0; i < suspects_.size(); ++i) {
      const std::uint64_t seq = suspects_[i];
      if (shifted[i]) {
        // One problem per run of records the stored tree holds one place off (the same offset).
        if (i > 0 && shifted[i - 1] && suspects_[i - 1] + 1 == seq) {
          continue;
        }
        std::size_t end = i;
        while (end + 1 < suspects_.size() && shifted[end + 1] && suspects_[end + 1] == suspects_[end] + 1) {
          ++end;
        }
        const std::uint64_t k = missing_below(seq);
        const bool one = end == i;
        problems_.add(
            area::records, problem_kind::tree_damaged, seq,
            fmt::format(
                "{}: the stored Merkle tree holds {} hash {} {} earlier, as a tree built over the "
                "records without the {} missing {} before {} does: the tree (and any checkpoint "
                "over it) was rebuilt after the deletion (re-signed), {} not modified",
                one ? fmt::format("record {}", seq) : fmt::format("records {}..{}", seq, suspects_[end]),
                one ? "its" : "each one's", k, plural(k, "position", "positions"), k,
                plural(k, "record", "records"), one ? "it" : "them",
                one ? "the record was" : "the records were"));
        continue;
      }
      if (seq < authenticated_size_) {
        problems_.add(
            area::records, problem_kind::tree_damaged, seq,
            fmt::format("stored Merkle tree tile 0/{} is damaged: its hash of record {} differs, but "
                        "the record matches the signed checkpoint at size {}",
                        seq / tile_width, seq, authenticated_size_));
      } else if (checkpoints_.upper_bound(seq) != checkpoints_.end()) {
        problems_.add(
            area::records, problem_kind::record_altered, seq,
            fmt::format("record {}: its leaf hash does not match the stored Merkle tree (the record "
                        "was modified after it was logged)",
                        seq),
            true);
      } else {
        problems_.add(
            area::records, problem_kind::record_altered, seq,
            fmt::format("record {}: its leaf hash does not match the stored Merkle tree, and no signed "
                        "checkpoint covers it yet (the record or the stored tree was altered)",
                        seq),
            true);
      }
    }
  }

  // The positions below `seq` that hold no record.
  [[nodiscard]] std::uint64_t missing_below(std::uint64_t seq) const {
    std::uint64_t n = 0;
    for (const auto& [from, to] : gaps_) {
      n += from < seq ? std::min(to, seq) - from : 0;
    }
    return n;
  }

  // Suspects after deleted records whose own leaf hash the stored tree holds as many positions
  // earlier as records are missing before them: the tree was built again over the records without
  // the deleted ones (re-signed after a deletion), so they were not modified (probe round 40: each
  // was "modified after it was logged"). At most max_collected point reads.
  std::vector<bool> shifted_suspects() {
    std::vector<bool> out(suspects_.size(), false);
    if (gaps_.empty() || tree_unread_) {
      return out;
    }
    std::unordered_map<std::uint64_t, std::vector<m::hash>> tiles;
    for (std::size_t i = 0; i < suspects_.size(); ++i) {
      const std::uint64_t seq = suspects_[i];
      const std::uint64_t k = missing_below(seq);
      if (k == 0 || k > seq) {
        continue;
      }
      const std::uint64_t at = seq - k;
      auto tile = tiles.find(at / tile_width);
      if (tile == tiles.end()) {
        auto stored = store_.get(column::tree, tile_key(0, at / tile_width));
        bool ok = false;
        auto hashes =
            stored.is_ok() && stored->has_value() ? decode_tile(**stored, ok) : std::vector<m::hash>();
        tile = tiles.emplace(at / tile_width, ok ? std::move(hashes) : std::vector<m::hash>()).first;
      }
      const auto leaf = store_.get(column::leaves, be64(seq));
      out[i] = tile->second.size() > at % tile_width && leaf.is_ok() && leaf->has_value() &&
               tile->second[at % tile_width] == m::leaf_hash(bytes_of(**leaf));
    }
    return out;
  }

  // Records from..to-1 are missing: the recomputed tree goes on with their stored hashes, so that
  // the records after them are still checked. False when the stored tree lacks them too.
  bool bridge_gap(std::uint64_t from, std::uint64_t to) {
    gaps_.emplace_back(from, to);
    report_.contiguous = false;
    report_.missing_records += to - from;
    problems_.add(area::records, problem_kind::record_missing, from,
                  to - from == 1 ? fmt::format("record {} is missing (deleted?)", from)
                                 : fmt::format("records {}..{} are missing (deleted?)", from, to - 1),
                  true);
    const auto emit = [this](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
      compare_tile(level, index, h, false);
    };
    for (std::uint64_t seq = from; seq < to; ++seq) {
      const auto h = stored_leaf_hash(seq);
      if (!h) {
        problems_.add(
            area::records, problem_kind::tree_damaged, seq,
            fmt::format("the stored Merkle tree has no hash for missing record {}: records after it "
                        "cannot be checked",
                        seq));
        report_.tree_complete = false;
        return false;
      }
      report_.tiles.append(*h, emit);
      at_size(seq + 1);
    }
    return true;
  }

  void scan_leaves() {
    const auto emit = [this](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
      compare_tile(level, index, h, false);
    };
    at_size(0);
    leaf_reader reader(store_, options_.indexes ? &expected_ : nullptr);
    std::uint64_t expected = 0;
    for (bool done = false; !done;) {
      const auto c = reader.next();
      done = c.last;
      auto undecodable = c.undecodable.begin();  // ascending, like the leaves
      std::string_view rest = c.bytes;
      for (const auto& [key_size, value_size] : c.sizes) {
        const auto key = rest.substr(0, key_size);
        const auto value = rest.substr(key_size, value_size);
        rest.remove_prefix(key_size + value_size);
        if (key.size() != 8) {
          problems_.add(area::records, problem_kind::record_malformed, expected,
                        fmt::format("after record {}: a leaf key is malformed", expected), true);
          report_.contiguous = false;
          report_.tree_complete = false;
          done = true;
          break;
        }
        const std::uint64_t seq = read_be64(key);
        if (seq != expected && !bridge_gap(expected, seq)) {
          done = true;
          break;
        }
        expected = seq;
        const auto leaf = bytes_of(value);
        const bool index_fields_unread = undecodable != c.undecodable.end() && *undecodable == seq;
        undecodable += index_fields_unread ? 1 : 0;
        const bool decoded = check_leaf(seq, leaf, index_fields_unread);
        if (on_leaf_) {
          on_leaf_(seq, leaf, decoded ? &record_ : nullptr);
        }
        report_.tiles.append(m::leaf_hash(leaf), emit);
        ++expected;
        at_size(expected);
      }
      if (c.error) {
        records_unread_ = true;
        problems_.add(area::records, problem_kind::read_failed, expected,
                      fmt::format("reading records failed after record {}: {}", expected, *c.error));
        report_.contiguous = false;
        report_.tree_complete = false;
      }
    }
    close_time_run();
    report_.records = expected;
    report_.tiles.flush([this](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
      compare_tile(level, index, h, true);
    });
  }

  // `index_fields_unread`: the leaf reader could not read the fields the indexes are keyed by.
  // Every record is decoded as strictly as a proof of it would be (into record_, reused): true
  // when it decodes.
  bool check_leaf(std::uint64_t seq, std::span<const std::uint8_t> leaf, bool index_fields_unread) {
    constexpr std::size_t kind_offset = record_seq_offset + 16;
    if (leaf.size() <= kind_offset || !is_record_format_version(leaf[0]) || index_fields_unread) {
      problems_.add(area::records, problem_kind::record_malformed, seq,
                    fmt::format("record {}: not a valid record encoding", seq), true);
      return false;
    }
    std::uint64_t claimed = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      claimed = claimed << 8 | leaf[record_seq_offset + i];
    }
    if (claimed != seq) {
      problems_.add(
          area::records, problem_kind::record_misplaced, seq,
          fmt::format("record at position {} carries sequence number {} (records reordered or replaced)", seq,
                      claimed),
          true);
    }
    if (auto decoded = decode_into(leaf, record_); !decoded.is_ok()) {
      problems_.add(area::records, problem_kind::record_malformed, seq,
                    fmt::format("record {}: {}", seq, decoded.message()), true);
      return false;
    }
    report_.sealed_records += record_.payload == payload_mode::sealed ? 1 : 0;
    if (record_.kind == record_kind::request) {
      auto& counts = report_.request_payloads;
      ++(record_.payload == payload_mode::sealed   ? counts.sealed
         : record_.payload == payload_mode::digest ? counts.digest
                                                   : counts.none);
    }
    if (!record_.auditor_key.empty() &&
        std::find(report_.committed_auditor_keys.begin(), report_.committed_auditor_keys.end(),
                  record_.auditor_key) == report_.committed_auditor_keys.end()) {
      report_.committed_auditor_keys.push_back(record_.auditor_key);
    }
    if (record_.kind == record_kind::event) {
      report_.forced_opens += record_.note.rfind("forced-open", 0) == 0 ? 1 : 0;
      report_.events.add(record_);
    }
    if (options_.check_times_at_us) {
      check_time(seq, *options_.check_times_at_us);
    }
    return true;
  }

  // Records whose times are out of line come in runs (a clock stepped back stays back): one
  // problem per run of records of one kind.
  struct time_run {
    problem_kind kind = problem_kind::time_backwards;
    bool before_2020 = false;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t first_time = 0;  // the first record's (implausible: its time or end)
    std::uint64_t worst = 0;       // the largest gap to the reference
    std::uint64_t ref_seq = 0;     // backwards: the record they end before
    std::uint64_t ref_time = 0;
  };

  void check_time(std::uint64_t seq, std::uint64_t now) {
    const auto saturated = [](std::uint64_t a, std::uint64_t b) {
      return a > UINT64_MAX - b ? UINT64_MAX : a + b;
    };
    const std::uint64_t end = saturated(record_.timestamp_us, record_.latency_us);
    // A request recorded from its in-flight note after its gateway stopped ended when nobody knows:
    // its note holds the time it was forwarded, while the records before it (made while it was
    // still answered, a stream of an hour) may end long after. Only when it came is known, and
    // the records after it end after that (probe round 44: a stream of 11 minutes killed with the
    // gateway made the log fail every verification as "the clock went back").
    const bool end_unknown =
        record_.kind == record_kind::request && record_.error_kind == gateway_stopped_error_kind;
    time_run r;
    if (record_.timestamp_us < earliest_plausible_time_us) {
      r = {problem_kind::time_implausible, true, seq, seq, record_.timestamp_us, 0, 0, 0};
    } else if (end > saturated(now, time_tolerance_us)) {
      r = {problem_kind::time_implausible, false, seq, seq, end, end - now, 0, now};
    } else if (end_unknown) {
      close_time_run();
      if (!latest_end_ || record_.timestamp_us > latest_end_->second) {
        latest_end_ = {seq, record_.timestamp_us};
      }
      return;
    } else if (latest_end_ && saturated(end, time_tolerance_us) < latest_end_->second) {
      r = {problem_kind::time_backwards, false, seq, seq, end, latest_end_->second - end, latest_end_->first,
           latest_end_->second};
    } else {
      close_time_run();
      if (!latest_end_ || end >= latest_end_->second) {
        latest_end_ = {seq, end};
      }
      return;
    }
    if (time_run_ && time_run_->kind == r.kind && time_run_->before_2020 == r.before_2020 &&
        time_run_->last + 1 == seq) {
      time_run_->last = seq;
      time_run_->worst = std::max(time_run_->worst, r.worst);
      return;
    }
    close_time_run();
    time_run_ = r;
  }

  void close_time_run() {
    if (!time_run_) {
      return;
    }
    const time_run& r = *time_run_;
    const std::string which = r.first == r.last ? fmt::format("record {}", r.first)
                                                : fmt::format("records {}..{}", r.first, r.last);
    const bool one = r.first == r.last;
    std::string text;
    if (r.kind == problem_kind::time_backwards) {
      text = fmt::format(
          "{} end{} {}{} before record {} did ({}): the clock went back more than {}, or {} forged", which,
          one ? "s" : "", one ? "" : "up to ", duration_text(r.worst), r.ref_seq, time_text(r.ref_time),
          duration_text(time_tolerance_us), one ? "its time is" : "their times are");
    } else if (r.before_2020) {
      text = fmt::format(
          "{}: {} {} {} before 2020-01-01, earlier than any sovgw log: a clock that was not set, or "
          "a forged time",
          which, one ? "its time" : "times from", time_text(r.first_time), one ? "is" : "are");
    } else if (one) {
      text = fmt::format(
          "{}: it ended {}, more than {} after this verification's time ({}): a clock that ran "
          "ahead, or a forged time",
          which, when_text(r.first_time), duration_text(time_tolerance_us), time_text(r.ref_time));
    } else {
      text = fmt::format(
          "{} end up to {} after this verification's time ({}), more than {}: a clock that ran "
          "ahead, or forged times",
          which, duration_text(r.worst), time_text(r.ref_time), duration_text(time_tolerance_us));
    }
    problems_.add(area::records, r.kind, r.first, std::move(text));
    time_run_.reset();
  }

  // Records gone from the log's end: what the newest signed checkpoint covers, or the stored Merkle
  // tree holds hashes of, beyond the last record (whichever reaches further: both are evidence).
  void check_tail() {
    if (!report_.tree_complete) {
      return;
    }
    auto stored_size = stored_tree_size(store_);
    if (!stored_size.is_ok()) {
      problems_.add(area::records, problem_kind::read_failed, report_.records, stored_size.error().message());
    }
    const std::uint64_t tree_end = stored_size.is_ok() ? stored_size.value() : 0;
    const std::uint64_t newest = checkpoints_.empty() ? 0 : checkpoints_.rbegin()->first;
    const std::uint64_t end = std::max(newest, tree_end);
    if (end <= report_.records) {
      return;
    }
    const std::uint64_t count = end - report_.records;
    report_.truncated_records = count;
    const std::string gone = count == 1 ? fmt::format("record {}", report_.records)
                                        : fmt::format("records {}..{}", report_.records, end - 1);
    if (newest <= report_.records) {
      problems_.add(area::records, problem_kind::records_truncated, report_.records,
                    fmt::format("the stored Merkle tree holds hashes of {}, but the log ends at record {}: "
                                "records deleted?",
                                gone, report_.records),
                    true);
      return;
    }
    // Every checkpoint at that size is named: the auditor's or the published one, and one stored
    // in the log (each counts among the failed ones).
    std::string held_labels;
    bool stored = false;
    bool by_auditor = false;
    const auto [first, last] = checkpoints_.equal_range(newest);
    for (auto i = first; i != last; ++i) {
      if (i->second.held) {
        held_labels += fmt::format("{}{}", held_labels.empty() ? "" : " and ", i->second.label);
        by_auditor = by_auditor || i->second.by_auditor;
      } else {
        stored = true;
      }
    }
    const std::string tree = tree_end > newest ? fmt::format(
                                                     ", and the stored Merkle tree holds hashes up to "
                                                     "record {}",
                                                     tree_end - 1)
                                               : "";
    const bool one = count == 1;
    const std::string holds =
        fmt::format("the log holds {} {}", report_.records, plural(report_.records, "record", "records"));
    const std::string here =
        report_.records == 0 ? std::string()
        : report_.records == 1
            ? std::string(
                  ", and whether the record still here is the one it signs cannot be checked from "
                  "a shorter log")
            : fmt::format(
                  ", and whether the {} records still here are the ones it signs cannot be checked "
                  "from a shorter log",
                  report_.records);
    if (held_labels.empty() && tree_end <= report_.records) {
      // Only the stored checkpoint says the log held more, and a checkpoint of another log under the
      // same key, stored in this one, says the same: no record is named as the first bad one.
      problems_.add(
          area::records, problem_kind::records_truncated, report_.records,
          fmt::format("{} but a signed checkpoint stored in it covers {}: at least {} {} gone{} "
                      "(records deleted from its end, or a checkpoint of another log under the same "
                      "key stored in this one)",
                      holds, newest, gone, one ? "is" : "are", here));
      return;
    }
    if (held_labels.empty() && tree_end > report_.records && newest > tree_end) {
      // The stored tree shows records deleted from the end; only the stored checkpoint says the log
      // held more than the tree, and a checkpoint of another log under the same key says the same:
      // the count is the tree's (probe round 47: a 5-record deletion reported as 20).
      const std::uint64_t deleted = tree_end - report_.records;
      report_.truncated_records = deleted;
      const std::uint64_t beyond = newest - tree_end;
      // A stored checkpoint up to the tree's end that covers them too.
      const auto covering = std::find_if(checkpoints_.upper_bound(report_.records), checkpoints_.end(),
                                         [&](const auto& e) { return e.first > tree_end || !e.second.held; });
      const bool covered = covering != checkpoints_.end() && covering->first <= tree_end;
      problems_.add(
          area::records, problem_kind::records_truncated, report_.records,
          fmt::format(
              "{} but the stored Merkle tree holds hashes up to record {}{}: {} {} missing (deleted); "
              "a signed checkpoint stored in it covers {}: {} {} gone too, or it is a checkpoint of "
              "another log under the same key stored in this one",
              holds, tree_end - 1,
              covered ? fmt::format(" and a signed checkpoint stored in it covers {}", covering->first)
                      : std::string(),
              deleted == 1 ? fmt::format("record {}", report_.records)
                           : fmt::format("records {}..{}", report_.records, tree_end - 1),
              deleted == 1 ? "is" : "are", newest,
              beyond == 1 ? fmt::format("record {}", tree_end)
                          : fmt::format("records {}..{}", tree_end, newest - 1),
              beyond == 1 ? "is" : "are"),
          true);
      return;
    }
    if (!held_labels.empty() && !stored && tree_end <= report_.records) {
      // Nothing in the log shows it ever held more: the records still here may be the signed ones
      // (an older copy, a rollback) or another history (a new log under the same key), and a tree
      // of `newest` records cannot be checked against fewer. No record is named as the first bad one.
      problems_.add(
          area::records, problem_kind::records_truncated, report_.records,
          fmt::format("{} but {} cover{} {}: at least {} {} gone{}{} ({})", holds, held_labels,
                      held_labels.find(" and ") != std::string::npos ? "" : "s", newest, gone,
                      one ? "is" : "are", by_auditor ? " since you verified it" : "", here,
                      by_auditor
                          ? "the log you verified, rolled back, or a new log under the same key"
                          : "an older copy of this log, or a copy of it taken before that checkpoint: copy "
                            "a running log's checkpoint file first, then its database; or a new log"));
      return;
    }
    problems_.add(
        area::records, problem_kind::records_truncated, report_.records,
        !held_labels.empty()
            // A checkpoint published beside the log may simply be newer than this copy of it: a copy
            // of a running log taken before its checkpoint file was copied. One the auditor verified
            // on an earlier visit may not: the log was rolled back.
            ? fmt::format("{} but {}{} cover{} {}{}: {} {} deleted since {}", holds, held_labels,
                          stored ? ", and a checkpoint signed in the log," : "",
                          stored || held_labels.find(" and ") != std::string::npos ? "" : "s", newest, tree,
                          gone, one ? "was" : "were",
                          by_auditor
                              ? "(the log you were given is older than one you already verified)"
                              : "(or this is another log, or a copy of it taken before that checkpoint: copy "
                                "a running log's checkpoint file first, then its database)")
            : fmt::format("{} but a signed checkpoint covers {}{}: {} {} missing (deleted)", holds, newest,
                          tree, gone, one ? "is" : "are"),
        true);
  }

  void check_consistency() {
    stored_tree tree(store_);
    const known_checkpoint* prev = nullptr;
    std::uint64_t prev_size = 0;
    for (const auto& [size, entry] : checkpoints_) {
      if (size > report_.records) {
        break;
      }
      if (entry.held || foreign_sizes_.contains(size)) {
        continue;  // a foreign one is named already: the stored tree is not its history
      }
      if (prev != nullptr) {
        auto proof = m::consistency_proof(prev_size, size, tree.source());
        if (!proof ||
            m::verify_consistency(prev_size, size, prev->cp.root, entry.cp.root, *proof) != m::verdict::ok) {
          problems_.add(
              area::records, problem_kind::checkpoints_inconsistent, size - 1,
              fmt::format("checkpoints at sizes {} and {} are not consistent according to the stored tree",
                          prev_size, size));
          return;
        }
      }
      prev = &entry;
      prev_size = size;
    }
  }

  void check_indexes(index_scanner::outcome scanned) {
    report_.index_entries = scanned.entries;
    for (auto& p : scanned.problems) {
      problems_.add(p.where, p.kind, p.at, std::move(p.text));
    }
    for (std::size_t i = 0; i < index_columns.size() && !problems_.full(); ++i) {
      if (scanned.unreadable[i] || records_unread_) {
        continue;  // what was not read cannot be compared: the read failure says so
      }
      const auto& expected = expected_.sums()[i];
      const auto& present = scanned.sums[i];
      std::vector<std::uint64_t> differing;  // windows that hold records (beyond them, the scan stopped)
      for (std::uint64_t w = 0;
           w < std::max(expected.size(), present.size()) && (w << window_bits) < report_.records; ++w) {
        if ((w < expected.size() ? expected[w] : 0) != (w < present.size() ? present[w] : 0)) {
          differing.push_back(w);
        }
      }
      if (differing.empty()) {
        if (index_columns[i] == column::idx_request) {
          for (auto& p : scanned.duplicates) {
            problems_.add(p.where, p.kind, p.at, std::move(p.text));
          }
        }
        continue;
      }
      const std::vector<std::uint64_t> located(
          differing.begin(),
          differing.begin() + static_cast<std::ptrdiff_t>(std::min(differing.size(), max_located_windows)));
      locate_index_damage(index_columns[i], located);
      if (differing.size() > located.size()) {
        const std::uint64_t next = differing[located.size()] << window_bits;
        problems_.add(
            area::indexes, problem_kind::index_mismatch, next,
            fmt::format("the {} index also differs from the records in {} more range(s) of {} records, "
                        "the first from record {}",
                        index_name(index_columns[i]), differing.size() - located.size(),
                        std::uint64_t{1} << window_bits, next));
      }
    }
  }

  // The slow path, for windows whose entries differ from what their records call for: one pass
  // over the index compares their entries one by one and names each record listed wrongly or not
  // at all.
  void locate_index_damage(column c, const std::vector<std::uint64_t>& windows) {
    const auto window_of = [&](std::uint64_t seq) {
      return std::binary_search(windows.begin(), windows.end(), seq >> window_bits);
    };
    std::unordered_map<std::string, std::uint64_t> wanted;  // index key -> seq
    std::unordered_map<std::uint64_t, std::string> values;  // seq -> the record's own value
    std::unordered_set<std::uint64_t> undecodable;          // reported by the leaf scan
    auto leaves = store_.iterate(column::leaves, false);
    for (const std::uint64_t w : windows) {
      const std::uint64_t hi = std::min((w + 1) << window_bits, report_.records);
      for (leaves->Seek(be64(w << window_bits)); leaves->Valid(); leaves->Next()) {
        const auto key = leaves->key().ToStringView();
        const std::uint64_t seq = key.size() == 8 ? read_be64(key) : hi;
        if (seq >= hi) {
          break;
        }
        index_fields f;
        if (!read_index_fields(bytes_of(leaves->value().ToStringView()), f)) {
          undecodable.insert(seq);
          continue;
        }
        std::string k;
        append_index_key(c, f, seq, k);
        values.emplace(seq, listed_value(c, k));
        wanted.emplace(std::move(k), seq);
      }
    }
    auto it = store_.iterate(c, false);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto key = it->key().ToStringView();
      const auto seq = index_key_seq(c, key);
      if (!seq || *seq >= report_.records || !window_of(*seq) || undecodable.count(*seq) != 0 ||
          wanted.erase(std::string(key)) == 1) {
        continue;
      }
      const auto own = values.find(*seq);
      problems_.add(
          area::indexes, problem_kind::index_mismatch, *seq,
          own == values.end()
              ? fmt::format("the {} index lists record {} (under {}), but the log has no record {}",
                            index_name(c), *seq, listed_value(c, key), *seq)
              : fmt::format("the {} index lists record {} under {}, but the record's {} is {}: queries "
                            "by {} give wrong answers",
                            index_name(c), *seq, listed_value(c, key), index_name(c), own->second,
                            index_name(c)));
    }
    std::vector<std::pair<std::uint64_t, std::string>> missing;
    for (const auto& [key, seq] : wanted) {
      missing.emplace_back(seq, values[seq]);
    }
    std::sort(missing.begin(), missing.end());
    for (const auto& [seq, value] : missing) {
      problems_.add(area::indexes, problem_kind::index_mismatch, seq,
                    fmt::format("record {} is missing from the {} index (its {} is {}): queries by {} do not "
                                "find it",
                                seq, index_name(c), index_name(c), value, index_name(c)));
    }
  }

  const store& store_;
  const crypto::note_verifier& key_;
  const verify_options& options_;
  const leaf_observer& on_leaf_;
  std::multimap<std::uint64_t, known_checkpoint> checkpoints_;
  std::multimap<std::uint64_t, known_checkpoint>::iterator next_cp_;
  std::uint64_t authenticated_size_ = 0;            // the largest checkpoint (stored or held) that matched
  std::uint64_t held_authenticated_size_ = 0;       // the largest held checkpoint that matched
  std::optional<std::uint64_t> contradicted_held_;  // the smallest held checkpoint the records contradict
  std::string_view contradicted_label_;
  struct mismatch {
    std::uint64_t from;  // authenticated_size_ (held ones: held_authenticated_size_) when it was found
    std::uint64_t stored_from;  // authenticated_size_ when it was found (a held one's: beyond `from` when a
                                // stored checkpoint matched the records after the held ones that did)
    std::uint64_t size;
    std::string_view label;  // the checkpoint's (known_checkpoint::label)
    bool held;
    // A stored one's: the first checkpoint after it that the records reproduce, and its label when
    // it is a held one.
    std::optional<std::uint64_t> later = std::nullopt;
    std::string_view later_label = {};
  };
  std::vector<mismatch> mismatches_;
  std::vector<size_conflict> conflicts_;
  // Sizes of stored checkpoints the records do not reproduce, where a later checkpoint does
  // (classify_suspects): another history's, left out of the consistency check.
  std::unordered_set<std::uint64_t> foreign_sizes_;
  // Sizes at which a stored checkpoint signed by the key contradicts a held one (load_checkpoints).
  std::unordered_set<std::uint64_t> forked_sizes_;
  // Sizes of the stored checkpoints counted in report_.contradicting_checkpoints, ascending.
  std::vector<std::uint64_t> contradicting_sizes_;
  std::unique_ptr<rocksdb::Iterator> tile_it_;
  // Storage that failed to read: what depends on it is not judged.
  bool records_unread_ = false;
  bool checkpoints_unread_ = false;
  bool tree_unread_ = false;
  std::optional<std::vector<m::hash>> gap_tile_;
  std::uint64_t gap_tile_index_ = 0;
  std::vector<std::uint64_t> suspects_;
  // Stored hashes above the leaves (tile level > 0) that the records [from, end) beneath do not
  // reproduce, where no lower tile names a record or range within.
  struct contradicted_hash {
    std::uint32_t level = 0;
    std::uint64_t index = 0;
    std::uint64_t from = 0;
    std::uint64_t end = 0;
  };
  std::vector<contradicted_hash> contradicted_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps_;  // positions [from, to) without a record
  std::vector<std::pair<std::uint64_t, std::uint64_t>>
      missing_hashes_;  // records [first, end) the stored tree lacks
  record record_;       // the leaf check_leaf decoded last
  std::optional<std::pair<std::uint64_t, std::uint64_t>> latest_end_;  // the record that ended last, and when
  std::optional<time_run> time_run_;
  const crypto::siphash hash_;
  index_expectation expected_{hash_};
  problem_list problems_;
  verify_report report_;
};

}  // namespace

bool verify_report::unreadable() const {
  return std::any_of(problems.begin(), problems.end(),
                     [](const problem& p) { return p.kind == problem_kind::read_failed; });
}

const char* to_string(problem_kind kind) {
  switch (kind) {
    case problem_kind::record_altered:
      return "record_altered";
    case problem_kind::record_missing:
      return "record_missing";
    case problem_kind::records_truncated:
      return "records_truncated";
    case problem_kind::record_misplaced:
      return "record_misplaced";
    case problem_kind::record_malformed:
      return "record_malformed";
    case problem_kind::tree_damaged:
      return "tree_damaged";
    case problem_kind::checkpoint_unknown_key:
      return "checkpoint_unknown_key";
    case problem_kind::checkpoint_invalid:
      return "checkpoint_invalid";
    case problem_kind::checkpoint_mismatch:
      return "checkpoint_mismatch";
    case problem_kind::checkpoints_inconsistent:
      return "checkpoints_inconsistent";
    case problem_kind::no_checkpoint:
      return "no_checkpoint";
    case problem_kind::index_mismatch:
      return "index_mismatch";
    case problem_kind::index_malformed:
      return "index_malformed";
    case problem_kind::payload_altered:
      return "payload_altered";
    case problem_kind::payload_unexpected:
      return "payload_unexpected";
    case problem_kind::payload_malformed:
      return "payload_malformed";
    case problem_kind::read_failed:
      return "read_failed";
    case problem_kind::data_key_malformed:
      return "data_key_malformed";
    case problem_kind::more:
      return "more";
    case problem_kind::payload_missing:
      return "payload_missing";
    case problem_kind::data_key_missing:
      return "data_key_missing";
    case problem_kind::data_key_unexpected:
      return "data_key_unexpected";
    case problem_kind::payload_undecryptable:
      return "payload_undecryptable";
    case problem_kind::auditor_key_wrong:
      return "auditor_key_wrong";
    case problem_kind::signing_key_changed:
      return "signing_key_changed";
    case problem_kind::request_id_duplicate:
      return "request_id_duplicate";
    case problem_kind::time_backwards:
      return "time_backwards";
    case problem_kind::time_implausible:
      return "time_implausible";
    case problem_kind::payload_record_mismatch:
      return "payload_record_mismatch";
    case problem_kind::forwarded_digest_mismatch:
      return "forwarded_digest_mismatch";
    case problem_kind::log_replaced:
      return "log_replaced";
    case problem_kind::data_key_not_committed_one:
      return "data_key_not_committed_one";
    case problem_kind::data_key_committed_twice:
      return "data_key_committed_twice";
    case problem_kind::data_key_other_auditor:
      return "data_key_other_auditor";
    case problem_kind::data_key_uncommitted:
      return "data_key_uncommitted";
  }
  return "?";
}

verify_report verify_log(const store& s, const crypto::note_verifier& key, const verify_options& options) {
  return verifier(s, key, options, {}).run();
}

verify_report verify_log(const store& s, const crypto::note_verifier& key, const verify_options& options,
                         const leaf_observer& on_leaf) {
  return verifier(s, key, options, on_leaf).run();
}

std::optional<verify_report> verify_missing_store(const std::string& dir, const verify_options& options) {
  std::uint64_t newest = 0;
  for (const crypto::checkpoint& cp : options.held) {
    newest = std::max(newest, cp.size);
  }
  if (newest == 0 || !store::missing(dir)) {
    return std::nullopt;
  }
  std::vector<std::string> labels;
  for (std::size_t h = 0; h < options.held.size(); ++h) {
    if (options.held[h].size == newest) {
      labels.push_back(h < options.held_labels.size() ? options.held_labels[h] : options.held_label);
    }
  }
  verify_report report;
  report.truncated_records = newest;
  report.first_bad_record = 0;
  for (const crypto::checkpoint& cp : options.held) {
    report.held_verdicts.push_back(cp.size > 0 ? verify_report::held_verdict::not_reached
                                               : verify_report::held_verdict::not_checked);
  }
  report.problems.push_back(
      {problem_kind::records_truncated, 0,
       fmt::format("the log's store is missing, but {} cover{} {} {}: {} {} deleted",
                   fmt::join(labels, " and "), labels.size() == 1 ? "s" : "", newest,
                   plural(newest, "record", "records"),
                   newest == 1 ? std::string("record 0") : fmt::format("records 0..{}", newest - 1),
                   newest == 1 ? "was" : "were")});
  return report;
}

}  // namespace sovgw::audit
