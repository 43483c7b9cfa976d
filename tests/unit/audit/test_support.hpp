#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "audit/audit_log.hpp"
#include "audit/keys.hpp"
#include "audit/log_events.hpp"
#include "audit/payload_vault.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"

namespace sovgw::audit::testing {

// A fresh temporary directory holding a key directory (keys/) and room for a log (db/).
struct temp_log_dir {
  std::string root;
  std::string keys;
  std::string db;
  temp_log_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sovgw-audit-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    keys = root + "/keys";
    db = root + "/db";
    (void)init_keys(keys, "test.example/log");
  }
  ~temp_log_dir() { std::filesystem::remove_all(root); }
  temp_log_dir(const temp_log_dir&) = delete;
  temp_log_dir& operator=(const temp_log_dir&) = delete;
};

// A writer's config for the log in `d`, checkpointing every 50 ms.
inline log_config config_for(const temp_log_dir& d) {
  log_config c;
  c.db_dir = d.db;
  c.key_dir = d.keys;
  c.checkpoint_interval = std::chrono::milliseconds(50);
  return c;
}

// The synthetic records' first timestamp: 2026-05-28.
inline constexpr std::uint64_t synthetic_base_us = 1'780'000'000'000'000;

// Appends synthetic records run-first .. run-(first+n-1) to the log in `d`, each durable before the
// next is appended.
inline void write_synthetic_log(const temp_log_dir& d, std::uint64_t n, payload_mode mode,
                                std::string_view run = "v", std::uint64_t first = 0) {
  auto log = audit_log::open(config_for(d));
  REQUIRE_MESSAGE(log.is_ok(), log.error().message());
  for (std::uint64_t i = first; i < first + n; ++i) {
    REQUIRE(log.value()
                ->append(synthetic_record(run, i, synthetic_base_us, mode), synthetic_payload(i, 64))
                .get()
                .is_ok());
  }
  REQUIRE(log.value()->close().is_ok());
}

inline std::unique_ptr<store> open_store(const temp_log_dir& d,
                                         store::open_mode mode = store::open_mode::read_only) {
  auto s = store::open(d.db, mode);
  REQUIRE_MESSAGE(s.is_ok(), s.error().message());
  return std::move(s.value());
}

// The payload of `r` as `sovgw audit show` opens it: told by the events logged after the record.
inline result<payload> open_payload(const store& s, const record& r, const auditor_key_pair& auditor) {
  auto events = read_log_events(s, r.seq + 1);
  REQUIRE(events.is_ok());
  return audit::open_payload(s, r, {auditor.public_key, auditor.secret_key}, events.value());
}

}  // namespace sovgw::audit::testing
