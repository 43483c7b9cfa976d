#include "audit/in_flight.hpp"

#include <fmt/format.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "audit/published_checkpoint.hpp"
#include "audit/store.hpp"

namespace sovgw::audit {
namespace {

class silent_logger final : public rocksdb::Logger {
 public:
  silent_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

}  // namespace

std::string in_flight_path(std::string_view db_dir) {
  std::string path = published_checkpoint_path(db_dir);
  path.resize(path.size() - std::string_view(".checkpoint").size());
  return path + ".in-flight";
}

rocksdb::Status in_flight_notes::open_db(const std::string& dir, std::unique_ptr<rocksdb::DB>& db) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  options.info_log = std::make_shared<silent_logger>();  // as the log's store (store.cpp): no LOG file
  options.write_buffer_size = 4 << 20;
  options.max_background_jobs = 1;
  rocksdb::DB* raw = nullptr;
  const auto s = rocksdb::DB::Open(options, dir, &raw);
  if (s.ok()) {
    db.reset(raw);
  }
  return s;
}

result<std::unique_ptr<in_flight_notes>> in_flight_notes::open(const std::string& dir) {
  if (auto made = make_private_dir(dir); !made.is_ok()) {
    return made;
  }
  std::unique_ptr<in_flight_notes> out(new in_flight_notes());
  if (const auto s = open_db(dir, out->db_); !s.ok()) {
    return from_rocksdb(s, fmt::format("cannot open the in-flight notes at {}", dir));
  }
  out->dir_ = dir;
  return out;
}

result<std::unique_ptr<in_flight_notes>> in_flight_notes::open_read_only(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return status{error_code::not_found, fmt::format("no in-flight notes at {}", dir)};
  }
  rocksdb::Options options;
  options.paranoid_checks = true;
  options.info_log = std::make_shared<silent_logger>();
  rocksdb::DB* raw = nullptr;
  const auto s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!s.ok()) {
    return from_rocksdb(s, fmt::format("cannot read the in-flight notes at {}", dir));
  }
  std::unique_ptr<in_flight_notes> out(new in_flight_notes());
  out->dir_ = dir;
  out->db_.reset(raw);
  return out;
}

in_flight_notes::~in_flight_notes() {
  if (db_) {
    (void)db_->Close();
  }
}

status in_flight_notes::note(std::string_view request_id, std::span<const std::uint8_t> encoded) {
  std::shared_lock lock(gate_);
  if (!db_) {
    return {error_code::io, fmt::format("the in-flight notes at {} are closed: reopening them failed", dir_)};
  }
  rocksdb::WriteOptions wo;  // not synced: see the header
  auto s = db_->Put(wo, rocksdb::Slice(request_id.data(), request_id.size()),
                    rocksdb::Slice(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
  if (!s.ok() && db_->Resume().ok()) {  // a full disk since freed: once more
    s = db_->Put(wo, rocksdb::Slice(request_id.data(), request_id.size()),
                 rocksdb::Slice(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
  }
  return from_rocksdb(s, fmt::format("writing the in-flight note to {} failed", dir_));
}

status in_flight_notes::probe() {
  const auto try_once = [this] {
    rocksdb::WriteOptions wo;
    auto s = db_->Put(wo, rocksdb::Slice(), rocksdb::Slice("probe"));
    return s.ok() ? db_->Delete(wo, rocksdb::Slice()) : s;
  };
  {
    std::shared_lock lock(gate_);
    if (db_ && db_->Resume().ok() && try_once().ok()) {
      return status::ok();
    }
  }
  // A failed write-ahead log append leaves RocksDB unable to resume: reopened, it is whole again
  // (the notes are unsynced: what the failed write held is only what it could not keep).
  std::unique_lock lock(gate_);
  if (db_) {
    (void)db_->Close();
    db_.reset();
  }
  rocksdb::Status s = open_db(dir_, db_);
  if (s.ok()) {
    s = try_once();
  }
  return from_rocksdb(s, fmt::format("writing the in-flight note to {} failed", dir_));
}

void in_flight_notes::forget(std::span<const std::string> request_ids) {
  if (request_ids.empty()) {
    return;
  }
  rocksdb::WriteBatch batch;
  for (const auto& id : request_ids) {
    batch.Delete(id);
  }
  std::shared_lock lock(gate_);
  if (db_) {
    (void)db_->Write(rocksdb::WriteOptions(), &batch);
  }
}

result<std::vector<std::pair<std::string, std::string>>> in_flight_notes::all() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::shared_lock lock(gate_);
  if (!db_) {
    return status{error_code::io, fmt::format("the in-flight notes at {} are closed", dir_)};
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!it->key().empty()) {  // (empty: probe()'s, left by a stop between its two writes)
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), fmt::format("reading the in-flight notes at {} failed", dir_));
  }
  return out;
}

result<std::vector<pending_request>> pending_in_flight(std::string_view db_dir, const store& log) {
  auto notes = in_flight_notes::open_read_only(in_flight_path(db_dir));
  if (!notes.is_ok()) {
    if (notes.error().code() == error_code::not_found) {
      return std::vector<pending_request>{};
    }
    return notes.error();
  }
  auto all = notes.value()->all();
  if (!all.is_ok()) {
    return all.error();
  }
  std::vector<pending_request> out;
  for (auto& [id, value] : all.value()) {
    // As audit_log::record_in_flight_notes: a note whose record is on the log is only left over.
    const std::string prefix = length_prefixed(id);
    auto it = log.iterate(column::idx_request);
    it->Seek(prefix);
    if (it->Valid() && it->key().size() == prefix.size() + 8 && it->key().starts_with(prefix)) {
      continue;
    }
    if (!it->status().ok()) {
      return from_rocksdb(it->status(), "reading the request id index failed");
    }
    pending_request p;
    p.request_id = id;
    if (auto r = decode(bytes_of(value)); r.is_ok()) {
      p.noted = std::move(r.value());
    } else {
      p.undecodable = r.error().message();
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace sovgw::audit
