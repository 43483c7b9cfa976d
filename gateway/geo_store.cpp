#include "gateway/geo_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/regular_file.hpp"
#include "common/rfc3339.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::gateway {

namespace {

constexpr std::size_t max_geo_bytes = std::size_t{1} << 30;

}  // namespace

// The database's files, each opened once: what is hashed and what is loaded are read through
// these descriptors (/proc/self/fd/N), so a file renamed in between (geoipupdate, a symlink
// swapped) cannot put one file's data in force under another's hash (probe round 45: 17 of 60
// reloads during swaps did, and every later SIGHUP then said "unchanged").
class pinned_files {
 public:
  explicit pinned_files(const std::vector<std::filesystem::path>& files) : files_(files) {
    for (const std::filesystem::path& f : files) {
      // Non-blocking: a FIFO put in the file's place must not hold the reload thread.
      const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) {
        const int err = errno;
        for (const int opened : fds_) {
          ::close(opened);
        }
        throw policy::geo_error(fmt::format("{}: {}", f.string(), std::strerror(err)));
      }
      fds_.push_back(fd);
      paths_.push_back(fmt::format("/proc/self/fd/{}", fd));
    }
  }
  pinned_files(const pinned_files&) = delete;
  pinned_files& operator=(const pinned_files&) = delete;
  ~pinned_files() {
    for (const int fd : fds_) {
      ::close(fd);
    }
  }
  [[nodiscard]] const std::vector<std::filesystem::path>& paths() const { return paths_; }
  // `text` with the descriptors' paths named as the files they are.
  [[nodiscard]] std::string named(std::string text) const {
    for (std::size_t i = 0; i < paths_.size(); ++i) {
      const std::string p = paths_[i].string();
      for (std::size_t at = text.find(p); at != std::string::npos; at = text.find(p, at)) {
        text.replace(at, p.size(), files_[i].string());
        at += files_[i].string().size();
      }
    }
    return text;
  }

 private:
  const std::vector<std::filesystem::path>& files_;
  std::vector<int> fds_;
  std::vector<std::filesystem::path> paths_;
};

std::string geo_store::entry::identity() const {
  std::string out = fmt::format("{}, sha256 {}", db.source(), sha256);
  if (db.build_epoch() != 0) {
    if (const std::optional<std::string> built = format_rfc3339_us(db.build_epoch() * 1'000'000, false)) {
      out += fmt::format(", built {}", *built);
    }
  }
  return out;
}

geo_store::geo_store(const config& cfg)
    : geo_database_(cfg.geo_database),
      files_(cfg.geo_database.empty() ? policy::geo_db::default_files()
                                      : std::vector<std::filesystem::path>{cfg.geo_database}) {}

std::string geo_store::files_sha256(const pinned_files& pinned) const {
  std::string joined;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    auto text = read_regular_file(pinned.paths()[i].string(), max_geo_bytes, "geo database");
    if (!text.is_ok()) {
      throw policy::geo_error(files_[i].string() + ": " + pinned.named(text.error().message()));
    }
    joined += crypto::to_hex(crypto::sha256(*text));
  }
  return files_.size() == 1 ? joined : crypto::to_hex(crypto::sha256(joined));
}

std::shared_ptr<const geo_store::entry> geo_store::load(const pinned_files& pinned,
                                                        const std::string& sha256) const {
  try {
    policy::geo_db db = geo_database_.empty() ? policy::geo_db::load_tor(pinned.paths()[0], pinned.paths()[1])
                                              : policy::geo_db::load_mmdb(pinned.paths()[0]);
    db.rename_source(geo_database_.empty()
                         ? fmt::format("tor-geoipdb {} {}", files_[0].string(), files_[1].string())
                         : fmt::format("mmdb {}", geo_database_));
    return std::make_shared<const entry>(entry{std::move(db), sha256});
  } catch (const std::exception& e) {
    throw policy::geo_error(pinned.named(e.what()));
  }
}

std::shared_ptr<const geo_store::entry> geo_store::get() {
  if (std::shared_ptr<const entry> e = live_.load()) {
    return e;
  }
  const std::lock_guard lock(load_mutex_);
  if (std::shared_ptr<const entry> e = live_.load()) {
    return e;
  }
  const pinned_files pinned(files_);
  std::shared_ptr<const entry> e = load(pinned, files_sha256(pinned));
  live_.store(e);
  return e;
}

geo_store::reload_result geo_store::reload() {
  const std::lock_guard lock(load_mutex_);
  const std::shared_ptr<const entry> before = live_.load();
  if (!before) {
    return {reload_status::not_loaded, {}};
  }
  try {
    const pinned_files pinned(files_);
    const std::string sha256 = files_sha256(pinned);
    if (sha256 == before->sha256) {
      return {reload_status::unchanged, {}};
    }
    live_.store(load(pinned, sha256));
    return {reload_status::reloaded, {}};
  } catch (const std::exception& e) {
    return {reload_status::failed, e.what()};
  }
}

}  // namespace sovgw::gateway
