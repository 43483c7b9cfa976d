#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy/policy.hpp"

// Holds the live policy snapshot. Readers call current() on the hot path: an atomic load of a
// std::atomic<std::shared_ptr> (one reference-count increment; libstdc++ guards it with a tiny
// internal spin lock, never the reload mutex). Load once per request and keep the pointer: the
// snapshot stays valid for as long as it is held, even across reloads.
// reload() reads, compiles and vets off the hot path (serialised by a mutex) and swaps atomically
// only on success; a failing reload keeps the last good snapshot and returns the errors. Thread-safe.
namespace sovgw::policy {

struct reload_result {
  bool ok = false;
  std::string version;           // the new version on success; the rejected file's hash otherwise
  std::string previous_version;  // the version that was live before the call (empty if none)
  // The file holds the live version, which stays: not compiled again, vetted by `vet_unchanged`.
  bool unchanged = false;
  std::vector<diagnostic> diagnostics;
};

class policy_store {
 public:
  policy_store() = default;

  // `vet` judges a compiled policy before it is swapped in (the gateway checks it against its
  // clusters and tenants: deployment_check.hpp); an error among its diagnostics refuses the policy.
  using vetter = std::function<std::vector<diagnostic>(const snapshot&)>;
  // With `vet_unchanged`, a file whose bytes are the live snapshot's (its version, the SHA-256) is
  // not compiled again: the live snapshot stays, judged by `vet_unchanged` (what may have changed
  // around an unchanged policy; the gateway: its tenant names), in microseconds rather than the
  // seconds a large policy's compilation and proofs take.
  [[nodiscard]] reload_result reload(const std::filesystem::path& path, const vetter& vet = {},
                                     const vetter& vet_unchanged = {});
  [[nodiscard]] reload_result reload_text(std::string_view text, const std::string& file_name,
                                          const vetter& vet = {}, const vetter& vet_unchanged = {});

  // Null until the first successful reload.
  [[nodiscard]] std::shared_ptr<const snapshot> current() const noexcept {
    return current_.load(std::memory_order_acquire);
  }

 private:
  std::atomic<std::shared_ptr<const snapshot>> current_;
  std::mutex reload_mutex_;
};

}  // namespace sovgw::policy
