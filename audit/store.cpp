#include "audit/store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rocksdb/env.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace sovgw::audit {
namespace {

class discard_logger final : public rocksdb::Logger {
 public:
  discard_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

constexpr std::array<const char*, column_count> column_names = {
    "default",  "leaves",     "tree",        "checkpoints",  "payloads",   "keys",
    "idx_time", "idx_tenant", "idx_request", "idx_decision", "idx_country"};

// Index keys are `u16 length || value || be64(seq)`: within one value they arrive in seq order, so
// the memtable keeps an insert hint per value and most inserts skip the skiplist search.
class index_value_prefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "sovgw.IndexValuePrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), 2 + value_length(key)};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 2 && key.size() >= 2 + value_length(key) + 8;
  }

 private:
  static std::size_t value_length(const rocksdb::Slice& key) {
    return static_cast<std::size_t>(static_cast<unsigned char>(key[0])) << 8 |
           static_cast<unsigned char>(key[1]);
  }
};

// Flush and compaction writes per second. At 50k appends/s of 1 KB sealed payloads, flushes write
// about 90 MB/s (payload SSTs are then moved down the levels without rewriting: their keys only
// grow), so 128 MB/s leaves 40% headroom; the less flush data in the device queue at any moment,
// the shorter the group commits' fdatasync (open loop at 50k/s, 3 interleaved rounds: p99 18-38 ms
// at 128 MB/s, 41-259 ms at 256 MB/s).
constexpr std::int64_t flush_write_bytes_per_s = 128 << 20;

// Column families the writer only appends to and never looks up while it appends: the leaves and
// the indexes (point lookups on them come from readers, which open the log separately). Their
// memtables are plain vectors, sorted once when flushed, so an insert is an append instead of a
// skiplist search: the sequencer's CPU per record fell by about a fifth (audit_bench). The tree,
// payloads, keys and checkpoints keep skiplists, since the writer reads them (tiles at open,
// payloads on retention, keys on every seal).
bool append_only(column c) {
  return c == column::leaves || c == column::idx_time || c == column::idx_tenant ||
         c == column::idx_request || c == column::idx_decision || c == column::idx_country;
}

rocksdb::ColumnFamilyOptions column_options(column c, store::open_mode mode) {
  rocksdb::ColumnFamilyOptions o;
  if (mode != store::open_mode::read_only && append_only(c)) {
    o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  } else if (c == column::idx_tenant || c == column::idx_decision || c == column::idx_country) {
    static const auto hint = std::make_shared<index_value_prefix>();
    o.memtable_insert_with_hint_prefix_extractor = hint;
  }
  if (c == column::leaves || c == column::payloads) {
    o.write_buffer_size = 64 << 20;
    // Paced flushes (below) fall behind in bursts above ~80k appends/s; with the default two
    // memtables RocksDB then stopped all writes until the flush caught up (every full audit_bench
    // run logged it). Four absorb a burst (stops per run 5 -> 1-2 at async 512, 2 A/B rounds),
    // at most 256 MB per family while a flush lags.
    o.max_write_buffer_number = 4;
  }
  if (c == column::payloads || c == column::tree || c == column::keys) {
    o.compression = rocksdb::kNoCompression;  // ciphertext and hashes do not compress
  }
  rocksdb::BlockBasedTableOptions t;
  t.block_size = 16 * 1024;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

// The column families of `dir`'s database, compared with ours: a RocksDB database with others is
// not an audit log (opening it would fail, or worse, add our families to someone else's data).
// Some of ours and no other (`partial`): a log whose creation was interrupted (RocksDB creates the
// database, then each family in turn), which a writer finishes creating.
status check_column_families(const std::string& dir, bool& partial) {
  std::vector<std::string> names;
  const auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names);
  if (!s.ok()) {
    return from_rocksdb(s, fmt::format("cannot open the audit log at {}", dir));
  }
  std::vector<std::string> ours(column_names.begin(), column_names.end());
  std::sort(names.begin(), names.end());
  std::sort(ours.begin(), ours.end());
  // (Ours beyond `default`: a database with only `default` is anyone's.)
  partial = names != ours && names.size() > 1 &&
            std::includes(ours.begin(), ours.end(), names.begin(), names.end());
  if (names != ours && !partial) {
    return {error_code::not_found,
            fmt::format("{} is not a sovgw audit log: its RocksDB column families are [{}], not [{}]", dir,
                        fmt::join(names, ", "), fmt::join(ours, ", "))};
  }
  return status::ok();
}

// A RocksDB file name: digits, then `suffix` (000063.log, 000064.sst), not any app.log.
bool numbered(std::string_view name, std::string_view suffix) {
  return name.size() > suffix.size() && name.ends_with(suffix) &&
         name.find_first_not_of("0123456789") == name.size() - suffix.size();
}

// The RocksDB files in `dir` (MANIFEST-*, OPTIONS-*, *.sst, *.log), described for a message:
// "MANIFEST-000060, OPTIONS-000062, 41 table file(s) (.sst), 1 write-ahead log(s) (.log)"; empty
// when there are none.
std::string rocksdb_files_in(const std::string& dir) {
  std::vector<std::string> named;
  std::size_t tables = 0;
  std::size_t wals = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("MANIFEST-") || name.starts_with("OPTIONS-")) {
      named.push_back(name);
    }
    tables += numbered(name, ".sst") ? 1 : 0;
    wals += numbered(name, ".log") ? 1 : 0;
  }
  std::sort(named.begin(), named.end());
  if (tables > 0) {
    named.push_back(fmt::format("{} table file(s) (.sst)", tables));
  }
  if (wals > 0) {
    named.push_back(fmt::format("{} write-ahead log(s) (.log)", wals));
  }
  return fmt::format("{}", fmt::join(named, ", "));
}

// A name the log's folder holds of its own: RocksDB's files and the writer lock; also what a
// dedicated volume or a checkout puts in any folder (lost+found, dot files).
bool log_folder_entry(std::string_view name) {
  return name == "sovgw-writer.lock" || name == "LOCK" || name == "IDENTITY" || name == "CURRENT" ||
         name.starts_with("LOG") || name.starts_with("MANIFEST-") || name.starts_with("OPTIONS-") ||
         name.ends_with(".dbtmp") || numbered(name, ".sst") || numbered(name, ".log") ||
         numbered(name, ".blob") || name == "lost+found" || name.starts_with(".");
}

// The first few entries of `dir` that are not the log's (log_folder_entry), and how many in all.
std::string foreign_entries(const std::string& dir) {
  std::vector<std::string> named;
  std::size_t count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!log_folder_entry(name) && ++count <= 3) {
      named.push_back(name);
    }
  }
  if (count == 0) {
    return {};
  }
  std::sort(named.begin(), named.end());
  return count > named.size() ? fmt::format("{} and {} more", fmt::join(named, ", "), count - named.size())
                              : fmt::format("{}", fmt::join(named, ", "));
}

std::string other_files_problem(const std::string& dir, const std::string& foreign) {
  return fmt::format(
      "{} holds other files ({}) and no audit log: the log needs a folder of its own (a missing or "
      "empty one is made into the log on the first start)",
      dir, foreign);
}

}  // namespace

std::string log_folder_problem(const std::string& dir) {
  namespace fs = std::filesystem;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode) || ::stat((dir + "/CURRENT").c_str(), &st) == 0) {
      return {};  // a file there, or a log: opening it says what is wrong, if anything
    }
    const std::string foreign = foreign_entries(dir);
    return foreign.empty() ? std::string() : other_files_problem(dir, foreign);
  }
  if (errno != ENOENT) {
    return fmt::format("cannot reach {}: {}", dir, std::strerror(errno));
  }
  // Missing: the first start makes it, with its missing parents, under the nearest existing one.
  fs::path parent = fs::path(dir).parent_path();
  while (!parent.empty() && ::stat(parent.c_str(), &st) != 0 && errno == ENOENT &&
         parent != parent.parent_path()) {
    parent = parent.parent_path();
  }
  if (parent.empty()) {
    parent = ".";
  }
  if (::stat(parent.c_str(), &st) != 0) {
    return fmt::format("{} cannot be created: {}: {}", dir, parent.string(), std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return fmt::format("{} cannot be created: {} is not a folder", dir, parent.string());
  }
  // Tried, not guessed: a read-only or virtual file system (/proc) says so only when asked. A
  // permission refused to someone else than root is left to the start: the gateway may run as
  // another user than the one checking its configuration.
  std::string probe = (parent / ".sovgw-check-XXXXXX").string();
  if (::mkdtemp(probe.data()) == nullptr) {
    const int err = errno;
    if ((err == EACCES || err == EPERM) && ::geteuid() != 0) {
      return {};
    }
    return fmt::format("{} cannot be created: {} takes no new folder: {}", dir, parent.string(),
                       std::strerror(err));
  }
  ::rmdir(probe.c_str());
  return {};
}

const char* index_name(column c) {
  switch (c) {
    case column::idx_time:
      return "time";
    case column::idx_tenant:
      return "tenant";
    case column::idx_request:
      return "request id";
    case column::idx_decision:
      return "decision";
    case column::idx_country:
      return "country";
    default:
      return "?";
  }
}

void append_index_prefix(column c, const index_fields& f, std::string& out) {
  if (c == column::idx_time) {
    out += be64(f.timestamp_us);
    return;
  }
  append_length_prefixed(out, c == column::idx_tenant     ? f.tenant
                              : c == column::idx_request  ? f.request_id
                              : c == column::idx_decision ? f.decision
                                                          : f.client_country);
}

void append_index_key(column c, const index_fields& f, std::uint64_t seq, std::string& out) {
  append_index_prefix(c, f, out);
  out += be64(seq);
}

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

std::uint64_t read_be64(std::string_view bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = v << 8 | static_cast<unsigned char>(bytes[i]);
  }
  return v;
}

void append_length_prefixed(std::string& out, std::string_view value) {
  value = value.substr(0, 0xffff);
  out.push_back(static_cast<char>(value.size() >> 8));
  out.push_back(static_cast<char>(value.size() & 0xff));
  out.append(value);
}

std::string length_prefixed(std::string_view value) {
  std::string out;
  out.reserve(2 + std::min<std::size_t>(value.size(), 0xffff) + 8);
  append_length_prefixed(out, value);
  return out;
}

writer_lock& writer_lock::operator=(writer_lock&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

writer_lock::~writer_lock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

result<writer_lock> writer_lock::take(const std::string& dir) {
  const std::string path = dir + "/sovgw-writer.lock";
  writer_lock lock;
  lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock.fd_ < 0) {
    return status{error_code::io,
                  fmt::format("cannot open the audit log at {}: {}: {}", dir, path, std::strerror(errno))};
  }
  int locked = ::flock(lock.fd_, LOCK_EX | LOCK_NB);
  for (int tries = 0; locked != 0 && errno == EWOULDBLOCK && tries < 20; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // perhaps a reader's probe
    locked = ::flock(lock.fd_, LOCK_EX | LOCK_NB);
  }
  if (locked != 0) {
    if (errno == EWOULDBLOCK) {
      return status{error_code::busy,
                    fmt::format("the audit log at {} is in use by another writer (a running gateway, or "
                                "another sovgw command)",
                                dir)};
    }
    return status{error_code::io,
                  fmt::format("cannot lock the audit log at {}: {}", dir, std::strerror(errno))};
  }
  return lock;
}

writer_lock::holder writer_lock::probe(const std::string& dir) {
  const std::string path = dir + "/sovgw-writer.lock";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? holder::none : holder::unknown;  // no writer ever opened it
  }
  holder found = holder::none;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    found = errno == EWOULDBLOCK ? holder::writer : holder::unknown;
  }
  ::close(fd);  // releases the shared lock
  return found;
}

status make_private_dir(const std::string& dir) {
  std::error_code ec;
  if (const auto parent = std::filesystem::path(dir).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return {error_code::io, fmt::format("cannot create the directory {}: {}", dir, std::strerror(errno))};
  }
  return status::ok();
}

status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) {
    return status::ok();
  }
  const error_code code = s.IsCorruption()        ? error_code::corruption
                          : s.IsNotFound()        ? error_code::not_found
                          : s.IsInvalidArgument() ? error_code::invalid_argument
                                                  : error_code::io;
  return {code, fmt::format("{}: {}", what, s.ToString())};
}

bool store::missing(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return errno == ENOENT;
  }
  struct stat current {};
  return S_ISDIR(st.st_mode) && ::stat((dir + "/CURRENT").c_str(), &current) != 0 &&
         rocksdb_files_in(dir).empty();
}

namespace {

// An iterator that keeps the store open (store::gate_) while it lives.
class gated_iterator final : public rocksdb::Iterator {
 public:
  gated_iterator(std::unique_ptr<rocksdb::Iterator> it, std::shared_lock<std::shared_mutex> lock)
      : lock_(std::move(lock)), it_(std::move(it)) {}
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(const rocksdb::Slice& target) override { it_->Seek(target); }
  void SeekForPrev(const rocksdb::Slice& target) override { it_->SeekForPrev(target); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  rocksdb::Slice key() const override { return it_->key(); }
  rocksdb::Slice value() const override { return it_->value(); }
  rocksdb::Status status() const override { return it_->status(); }

 private:
  std::shared_lock<std::shared_mutex> lock_;  // released after it_ is destroyed
  std::unique_ptr<rocksdb::Iterator> it_;
};

rocksdb::DBOptions db_options(bool create, bool create_families) {
  rocksdb::DBOptions options;
  options.create_if_missing = create;
  options.create_missing_column_families = create_families;
  options.paranoid_checks = true;
  // The newest records live in the write-ahead log until a flush. RocksDB's default recovery
  // (point in time) ends the log at the first damaged WAL record and drops every record after it,
  // silently: a flipped bit would shorten the log and `audit verify` would pass on what is left.
  // Only an incomplete record at the very end is tolerated (an append that was never acknowledged:
  // each is synced before its response; or, for a reader, the one the gateway is writing); damage
  // anywhere else refuses to open, as corruption.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  options.max_background_jobs = 2;
  // RocksDB's own LOG file is not written. Its writer keeps a failed write as a sticky error, and
  // the next line logged asserts (Debian's librocksdb keeps assertions): a full disk would abort
  // the gateway from RocksDB's error-recovery thread instead of letting the log fail closed and
  // resume. What matters reaches the caller as a status; nothing else is worth a crash.
  options.info_log = std::make_shared<discard_logger>();
  // A memtable flush writes tens of MB at once; unpaced, its writeback queues ahead of the next
  // group commit's fdatasync and stalls appends for 30-80 ms (seen with an open-loop load in
  // audit_bench). Paced flush and compaction writes, synced as they go, keep the tail short:
  // p99 at 25k appends/s offered went from 33-56 ms to 4-10 ms on the 2-core VM.
  // Refilled every millisecond, the limiter hands out 128 KB at a time, so a commit's fdatasync
  // queues behind little flush data (with 10 ms refills of 256 MB/s it was 2.5 MB at a time).
  options.rate_limiter.reset(rocksdb::NewGenericRateLimiter(flush_write_bytes_per_s, 1000));
  options.bytes_per_sync = 1 << 20;
  // Vector memtables (above) take inserts from one thread at a time; the sequencer is the only one.
  options.allow_concurrent_memtable_write = false;
  return options;
}

std::vector<rocksdb::ColumnFamilyDescriptor> column_descriptors(store::open_mode mode) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (std::size_t i = 0; i < column_count; ++i) {
    descriptors.emplace_back(column_names[i], column_options(static_cast<column>(i), mode));
  }
  return descriptors;
}

}  // namespace

result<std::unique_ptr<store>> store::open(const std::string& dir, open_mode mode) {
  struct stat st {};
  const bool exists = ::stat((dir + "/CURRENT").c_str(), &st) == 0;
  if (!exists) {
    // A log whose CURRENT was lost is a damaged log, not an absent one; and a writer must not
    // create a new database over its files.
    if (const auto files = rocksdb_files_in(dir); !files.empty()) {
      return status{error_code::corruption,
                    fmt::format("the audit log at {} is damaged: its CURRENT file (which names the MANIFEST "
                                "to open) is missing, but it holds {}",
                                dir, files)};
    }
  }
  if (!exists && mode != open_mode::read_write) {
    return status{error_code::not_found, fmt::format("no audit log at {} (no RocksDB database there)", dir)};
  }
  if (exists) {
    // CURRENT names the MANIFEST that lists the log's files: that one gone is damage, not an
    // environment problem to retry (RocksDB reports it as an I/O error). A writer opening the log
    // meanwhile rolls to a new MANIFEST and deletes the old one: CURRENT is read again, and only a
    // name it still gives that is still missing is damage.
    const auto named_manifest = [&] {
      std::ifstream current(dir + "/CURRENT");
      std::string manifest;
      std::getline(current, manifest);
      return manifest;
    };
    const auto missing = [&](const std::string& manifest) {
      struct stat m {};
      return manifest.starts_with("MANIFEST-") && manifest.find('/') == std::string::npos &&
             ::stat((dir + "/" + manifest).c_str(), &m) != 0 && errno == ENOENT;
    };
    // (Only a folder that holds the log's other files: a lone CURRENT is no log at all.)
    if (const std::string manifest = named_manifest(); missing(manifest) && named_manifest() == manifest &&
                                                       missing(manifest) && !rocksdb_files_in(dir).empty()) {
      return status{
          error_code::corruption,
          fmt::format("the audit log at {} is damaged: {}, the MANIFEST its CURRENT file names (the "
                      "list of its files), is missing",
                      dir, manifest)};
    }
  }
  if (!exists) {
    // A mistyped folder (/var/lib/sovgw for /var/lib/sovgw/audit) is not taken over.
    if (const std::string foreign = foreign_entries(dir); !foreign.empty()) {
      return status{error_code::invalid_argument, other_files_problem(dir, foreign)};
    }
    if (auto made = make_private_dir(dir); !made.is_ok()) {
      return made;
    }
  }
  writer_lock lock;
  if (mode != open_mode::read_only) {
    auto taken = writer_lock::take(dir);
    if (!taken.is_ok()) {
      return taken.error();
    }
    lock = std::move(taken.value());
  }
  bool partial = false;
  if (exists) {
    if (auto families = check_column_families(dir, partial); !families.is_ok()) {
      return families;
    }
  }
  if (partial && mode != open_mode::read_write) {
    return status{error_code::not_found,
                  fmt::format("the audit log at {} was never finished: its creation was interrupted (it has "
                              "only some of the log's column families); the gateway finishes creating it "
                              "when it starts, or remove it to start afresh",
                              dir)};
  }
  const rocksdb::DBOptions options = db_options(!exists, !exists || partial);
  const auto descriptors = column_descriptors(mode);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = mode == open_mode::read_only
                          ? rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw)
                          : rocksdb::DB::Open(options, dir, descriptors, &handles, &raw);
  if (!s.ok()) {
    return from_rocksdb(s, fmt::format("cannot open the audit log at {}", dir));
  }
  std::unique_ptr<store> out(new store());
  out->dir_ = dir;
  out->lock_ = std::move(lock);
  out->db_.reset(raw);
  for (std::size_t i = 0; i < column_count; ++i) {
    out->handles_[i] = handles[i];
  }
  return out;
}

store::~store() {
  if (db_) {
    for (auto* h : handles_) {
      if (h != nullptr) {
        (void)db_->DestroyColumnFamilyHandle(h);
      }
    }
    (void)db_->Close();
  }
  // lock_ is released after the database is closed: the next writer may open it then.
}

status store::closed() const {
  return {error_code::io,
          fmt::format("the audit log at {} is closed: reopening it after a storage error failed; "
                      "it is opened again at the next attempt",
                      dir_)};
}

status store::write(rocksdb::WriteBatch& batch, bool sync) {
  std::shared_lock lock(gate_);
  if (!db_) {
    return closed();
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return from_rocksdb(db_->Write(wo, &batch), "audit log write failed");
}

result<std::optional<std::string>> store::get(column c, std::string_view key) const {
  std::shared_lock lock(gate_);
  if (!db_) {
    return closed();
  }
  std::string value;
  const auto s = db_->Get(rocksdb::ReadOptions(), cf(c), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) {
    return std::optional<std::string>();
  }
  if (!s.ok()) {
    return from_rocksdb(s, "audit log read failed");
  }
  return std::optional<std::string>(std::move(value));
}

std::unique_ptr<rocksdb::Iterator> store::iterate(column c, bool fill_cache) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = fill_cache;
  if (!fill_cache) {
    ro.readahead_size = 4 << 20;
  }
  std::shared_lock lock(gate_);
  if (!db_) {
    return std::unique_ptr<rocksdb::Iterator>(
        rocksdb::NewErrorIterator(rocksdb::Status::IOError(closed().message())));
  }
  return std::make_unique<gated_iterator>(std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf(c))),
                                          std::move(lock));
}

status store::resume() {
  std::unique_lock lock(gate_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return {error_code::busy, "the audit log is being read: resuming waits for the next attempt"};
  }
  rocksdb::Status resumed = db_ ? db_->Resume() : rocksdb::Status::Incomplete("closed");
  if (resumed.ok()) {
    return status::ok();
  }
  if (db_) {
    for (auto*& h : handles_) {
      if (h != nullptr) {
        (void)db_->DestroyColumnFamilyHandle(h);
        h = nullptr;
      }
    }
    (void)db_->Close();
    db_.reset();
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const auto s = rocksdb::DB::Open(db_options(false, false), dir_, column_descriptors(open_mode::read_write),
                                   &handles, &raw);
  if (!s.ok()) {
    return from_rocksdb(s, fmt::format("RocksDB could not resume ({}), and reopening the audit log failed",
                                       resumed.ToString()));
  }
  db_.reset(raw);
  for (std::size_t i = 0; i < column_count; ++i) {
    handles_[i] = handles[i];
  }
  return status::ok();
}

status store::flush(std::span<const column> columns) {
  std::shared_lock lock(gate_);
  if (!db_) {
    return closed();
  }
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  for (const column c : columns) {
    families.push_back(cf(c));
  }
  return from_rocksdb(db_->Flush(rocksdb::FlushOptions(), families), "flushing the audit log failed");
}

status store::compact(column c) {
  std::shared_lock lock(gate_);
  if (!db_) {
    return closed();
  }
  return from_rocksdb(db_->CompactRange(rocksdb::CompactRangeOptions(), cf(c), nullptr, nullptr),
                      "compacting the audit log failed");
}

status store::verify_table_checksums(std::span<const column> columns) const {
  // A writer's compactions delete the files they replace: held back while the listed files are
  // read (a read-only store has none; there the call fails harmlessly).
  const bool held = db_->DisableFileDeletions().ok();
  struct release {
    rocksdb::DB* db;
    bool held;
    ~release() {
      if (held) {
        (void)db->EnableFileDeletions(/*force=*/false);
      }
    }
  } released{db_.get(), held};
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->GetLiveFilesMetaData(&files);
  for (const rocksdb::LiveFileMetaData& f : files) {
    for (const column c : columns) {
      if (f.column_family_name != column_names[static_cast<std::size_t>(c)]) {
        continue;
      }
      rocksdb::SstFileReader reader(rocksdb::Options(db_->GetDBOptions(), db_->GetOptions(cf(c))));
      const std::string path = f.db_path + f.name;  // the name starts with '/'
      rocksdb::Status s = reader.Open(path);
      if (s.ok()) {
        s = reader.VerifyChecksum(rocksdb::ReadOptions());
      }
      if (!s.ok()) {  // RocksDB's checksum messages name the file; the others get it added
        const status failed = from_rocksdb(s, "");
        std::string text = s.ToString();
        if (text.find(f.name) == std::string::npos) {
          text += " in " + path;
        }
        return {failed.code(), std::move(text)};
      }
    }
  }
  return status::ok();
}

result<std::uint64_t> store::leaf_count() const {
  auto it = iterate(column::leaves);
  it->SeekToLast();
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "audit log read failed");
  }
  if (!it->Valid()) {
    return std::uint64_t{0};
  }
  if (it->key().size() != 8) {
    return status{error_code::corruption, "a leaf key is malformed"};
  }
  return read_be64(it->key().ToStringView()) + 1;
}

result<std::optional<std::string>> store::latest_checkpoint() const {
  auto it = iterate(column::checkpoints);
  it->SeekToLast();
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "audit log read failed");
  }
  if (!it->Valid()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(it->value().ToString());
}

result<std::uint64_t> store::newest_checkpoint_size() const {
  auto it = iterate(column::checkpoints);
  it->SeekToLast();
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "audit log read failed");
  }
  return it->Valid() && it->key().size() == 8 ? read_be64(it->key().ToStringView()) : std::uint64_t{0};
}

}  // namespace sovgw::audit
