#include "gateway/geo_store.hpp"

#include <fmt/format.h>

#include "common/regular_file.hpp"
#include "common/rfc3339.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::gateway {

namespace {

constexpr std::size_t max_geo_bytes = std::size_t{1} << 30;

}  // namespace

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

std::string geo_store::files_sha256() const {
  std::string joined;
  for (const std::filesystem::path& f : files_) {
    auto text = read_regular_file(f.string(), max_geo_bytes, "geo database");
    if (!text.is_ok()) {
      throw policy::geo_error(f.string() + ": " + text.error().message());
    }
    joined += crypto::to_hex(crypto::sha256(*text));
  }
  return files_.size() == 1 ? joined : crypto::to_hex(crypto::sha256(joined));
}

std::shared_ptr<const geo_store::entry> geo_store::load(const std::string& sha256) const {
  return std::make_shared<const entry>(
      entry{geo_database_.empty() ? policy::geo_db::load_default() : policy::geo_db::load_mmdb(geo_database_),
            sha256});
}

std::shared_ptr<const geo_store::entry> geo_store::get() {
  if (std::shared_ptr<const entry> e = live_.load()) {
    return e;
  }
  const std::lock_guard lock(load_mutex_);
  if (std::shared_ptr<const entry> e = live_.load()) {
    return e;
  }
  std::shared_ptr<const entry> e = load(files_sha256());
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
    const std::string sha256 = files_sha256();
    if (sha256 == before->sha256) {
      return {reload_status::unchanged, {}};
    }
    live_.store(load(sha256));
    return {reload_status::reloaded, {}};
  } catch (const std::exception& e) {
    return {reload_status::failed, e.what()};
  }
}

}  // namespace sovgw::gateway
