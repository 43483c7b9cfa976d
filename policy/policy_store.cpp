#include "policy/policy_store.hpp"

#include <algorithm>

#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::policy {

reload_result policy_store::reload(const std::filesystem::path& path, const vetter& vet) {
  auto text = read_regular_file(path.string(), max_policy_bytes, "policy file");
  // Who may change the policy may permit anything: a file others could change is not loaded.
  const std::string untrusted =
      text.is_ok() ? others_may_change(path.string(), "the policy file") : std::string();
  if (!text.is_ok() || !untrusted.empty()) {
    reload_result result;
    const auto live = current();
    result.previous_version = live ? live->version() : std::string();
    result.diagnostics.push_back(
        {path.string(), {}, severity::error, text.is_ok() ? untrusted : text.error().message()});
    return result;
  }
  return reload_text(*text, path.string(), vet);
}

reload_result policy_store::reload_text(std::string_view text, const std::string& file_name,
                                        const vetter& vet) {
  const std::lock_guard lock(reload_mutex_);
  reload_result result;
  const auto live = current();
  result.previous_version = live ? live->version() : std::string();
  compile_result compiled = compile_policy(text, file_name);
  result.diagnostics = std::move(compiled.diagnostics);
  if (compiled.ok() && vet) {
    std::vector<diagnostic> more = vet(*compiled.policy);
    result.diagnostics.insert(result.diagnostics.end(), more.begin(), more.end());
    if (std::any_of(more.begin(), more.end(),
                    [](const diagnostic& d) { return d.level == severity::error; })) {
      compiled.policy.reset();
    }
  }
  if (!compiled.ok()) {
    result.version = crypto::to_hex(crypto::sha256(text));
    return result;
  }
  result.ok = true;
  result.version = compiled.policy->version();
  current_.store(std::move(compiled.policy), std::memory_order_release);
  return result;
}

}  // namespace sovgw::policy
