#pragma once

// The geo database in force (`geo_database`, an MMDB, else Debian's tor-geoipdb): what the pipeline
// geolocates client addresses with and the endpoint geo check judges endpoint addresses with. Loaded
// the first time one of them needs it; SIGHUP re-reads it (reload(), on the reload thread) and swaps
// it in whole: a lookup in flight keeps the database it started with alive (shared_ptr), and a file
// that does not load leaves the last good database in force. Thread-safe.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "policy/geo_db.hpp"

namespace sovgw::gateway {

class pinned_files;

class geo_store {
 public:
  // A database and what identifies it: the SHA-256 of its file (of each file's, joined, for
  // tor-geoipdb's two) and its MMDB build epoch.
  struct entry {
    policy::geo_db db;
    std::string sha256;
    [[nodiscard]] std::string identity() const;  // "mmdb FILE, sha256 HEX, built 2026-12-01T..."
  };

  enum class reload_status : std::uint8_t { reloaded, unchanged, failed, not_loaded };
  struct reload_result {
    reload_status status = reload_status::not_loaded;
    std::string error;  // for failed: the file and the reason
  };

  explicit geo_store(const config& cfg);

  // The files the database is read from.
  [[nodiscard]] const std::vector<std::filesystem::path>& files() const { return files_; }
  // The database in force, loaded on the first call; throws policy::geo_error (or
  // std::runtime_error) when that load fails. Not on an I/O thread before the first load.
  [[nodiscard]] std::shared_ptr<const entry> get();
  // The database in force, null when nothing loaded one yet. Never blocks.
  [[nodiscard]] std::shared_ptr<const entry> current() const { return live_.load(); }
  // Reads the files again and swaps the database in when they changed (their SHA-256) and load;
  // otherwise the one in force stays. A database never loaded is not loaded here (not_loaded):
  // nothing uses it. Slow (a whole MMDB is read and flattened): the reload thread only.
  [[nodiscard]] reload_result reload();

 private:
  // Both read the files through `pinned` (its descriptors): what is hashed is what is loaded.
  [[nodiscard]] std::shared_ptr<const entry> load(const pinned_files& pinned,
                                                  const std::string& sha256) const;
  [[nodiscard]] std::string files_sha256(const pinned_files& pinned) const;  // throws geo_error

  std::string geo_database_;  // the configured MMDB ("" for tor-geoipdb)
  std::vector<std::filesystem::path> files_;
  std::mutex load_mutex_;  // one load at a time (get() and reload())
  std::atomic<std::shared_ptr<const entry>> live_;
};

}  // namespace sovgw::gateway
