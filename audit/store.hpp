#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "audit/record.hpp"
#include "audit/status.hpp"

// The RocksDB layout of an audit log. Column families:
//   default      meta: "origin" (log name), "format", forced-open marks
//   leaves       be64(seq) -> encoded record (the Merkle leaf)
//   tree         u8 tile level || be64 tile index -> up to 16 node hashes (tiles of height 4)
//   checkpoints  be64(tree size) -> signed note (C2SP tlog-checkpoint)
//   payloads     be64(seq) -> payload blob (sealed) for records with payload mode "sealed"
//   keys         per-tenant data keys, wrapped by the KEK and sealed to the auditor key
//   idx_time     be64(timestamp_us) || be64(seq) -> ""
//   idx_tenant, idx_request, idx_decision, idx_country
//                u16 length || value || be64(seq) -> ""
// A store is opened by one writer (an exclusive flock on sovgw-writer.lock in the directory, and
// RocksDB's own lock) or by any number of read-only readers.
namespace sovgw::audit {

enum class column : std::size_t {
  meta = 0,
  leaves,
  tree,
  checkpoints,
  payloads,
  keys,
  idx_time,
  idx_tenant,
  idx_request,
  idx_decision,
  idx_country,
  count_
};
inline constexpr std::size_t column_count = static_cast<std::size_t>(column::count_);

// The index column families; each key is index_prefix || be64(seq).
inline constexpr std::array<column, 5> index_columns = {
    column::idx_time, column::idx_tenant, column::idx_request, column::idx_decision, column::idx_country};
// What an index is keyed by, for messages: "time", "tenant", "request id", "decision", "country".
[[nodiscard]] const char* index_name(column c);
// Appends the record's key prefix in index `c` (one of index_columns) to `out`.
void append_index_prefix(column c, const index_fields& f, std::string& out);
// Appends the record's whole key in index `c`: its prefix, then be64(seq).
void append_index_key(column c, const index_fields& f, std::uint64_t seq, std::string& out);

[[nodiscard]] std::string be64(std::uint64_t v);
[[nodiscard]] std::uint64_t read_be64(std::string_view bytes);  // bytes.size() >= 8
// u16 length || value (value truncated to 65535 bytes) — an index key prefix.
[[nodiscard]] std::string length_prefixed(std::string_view value);
void append_length_prefixed(std::string& out, std::string_view value);

// An exclusive flock on DIR/sovgw-writer.lock, held while a writer has the log open: a second
// writer learns that the log is busy from the lock itself (RocksDB's own LOCK file only yields an
// I/O error). Move-only; released when destroyed.
class writer_lock {
 public:
  writer_lock() = default;
  writer_lock(writer_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  writer_lock& operator=(writer_lock&& other) noexcept;
  ~writer_lock();
  // busy when another writer (in any process) holds it; io when the file cannot be opened. A lock
  // held for an instant (a reader's probe) is waited for, up to 100 ms.
  [[nodiscard]] static result<writer_lock> take(const std::string& dir);
  // For readers: whether a writer (a running gateway, a sovgw command) holds the lock on DIR now.
  // Takes a shared lock for an instant, without creating the file; unknown when it cannot tell.
  enum class holder { writer, none, unknown };
  [[nodiscard]] static holder probe(const std::string& dir);

 private:
  int fd_ = -1;
};

class store {
 public:
  enum class open_mode { read_write, write_existing, read_only };

  // read_write creates the directory (mode 0700) and the column families of a new log;
  // write_existing and read_only refuse a missing log. Writers hold an exclusive lock on the log
  // until the store is destroyed. Errors name the directory and what is wrong: not_found (no log,
  // or a RocksDB database that is not an audit log), busy (another writer holds it), io or
  // corruption (RocksDB could not open it).
  [[nodiscard]] static result<std::unique_ptr<store>> open(const std::string& dir, open_mode mode);
  // No store at `dir`: no such folder, or a folder with no file of a RocksDB database (a log
  // removed or emptied, or never made there). A regular file is not a missing store but a wrong path.
  [[nodiscard]] static bool missing(const std::string& dir);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(column c) const {
    return handles_[static_cast<std::size_t>(c)];
  }
  // (Tests and tools: the database as it is now; resume() may replace it.)
  [[nodiscard]] rocksdb::DB& db() const { return *db_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }

  // After a storage error (a writer): asks RocksDB to resume; when it cannot (an error it does not
  // resume from, such as a write-ahead log write that failed), closes the database and opens it
  // again, which replays what is durable. Waits for no one: busy when a read or an iterator is in
  // progress (try again later). While the database is closed (its reopening failed), every call
  // fails with io, and the next resume() opens it again.
  [[nodiscard]] status resume();
  [[nodiscard]] status flush(std::span<const column> columns);
  [[nodiscard]] status compact(column c);

  [[nodiscard]] status write(rocksdb::WriteBatch& batch, bool sync);
  // (An iterator holds the store open: resume() cannot reopen it meanwhile.)
  // nullopt when absent; error status on I/O or corruption.
  [[nodiscard]] result<std::optional<std::string>> get(column c, std::string_view key) const;
  [[nodiscard]] std::unique_ptr<rocksdb::Iterator> iterate(column c, bool fill_cache = true) const;

  // Reads every block of the table files holding `columns` and checks its checksum. A verifier calls
  // it before it judges what is absent: RocksDB 7.8's iterators can step over a table file whose
  // first block fails its checksum as if the file were empty, with an ok status (seen on a level
  // of several files), so an iteration that ends is not proof that nothing was there. A point
  // read of the same key does report the corruption.
  [[nodiscard]] status verify_table_checksums(std::span<const column> columns) const;

  // Number of leaves = last leaf key + 1 (0 when empty). Does not check for gaps.
  [[nodiscard]] result<std::uint64_t> leaf_count() const;
  // The latest stored checkpoint note, if any.
  [[nodiscard]] result<std::optional<std::string>> latest_checkpoint() const;
  // The tree size the latest stored checkpoint is kept under (0 without one); not verified.
  [[nodiscard]] result<std::uint64_t> newest_checkpoint_size() const;

 private:
  store() = default;
  std::string dir_;
  writer_lock lock_;  // writers only; declared before db_ so that it is released after db_ closes
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, column_count> handles_{};
  // Shared by every read, write and live iterator; resume() takes it alone to reopen db_.
  mutable std::shared_mutex gate_;
  [[nodiscard]] status closed() const;
};

[[nodiscard]] status from_rocksdb(const rocksdb::Status& s, std::string_view what);

// What would stop a writer from making or opening the log at `dir`, found without opening it
// (config check): a missing folder that cannot be created where it is named, or an existing one
// that holds other files and no log. Empty when none.
[[nodiscard]] std::string log_folder_problem(const std::string& dir);

// Creates `dir` with mode 0700 (its missing parents with the usual mode); an existing `dir` is
// left as it is. The audit library's directories (the log, key directories) are made this way.
[[nodiscard]] status make_private_dir(const std::string& dir);

}  // namespace sovgw::audit
