#include "policy/policy_store.hpp"

#include <algorithm>

#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::policy {

reload_result policy_store::reload(const std::filesystem::path& path, const vetter& vet,
                                   const vetter& vet_unchanged) {
  // Who may change the policy may permit anything: a file others could change is not loaded, nor
  // one swapped between that check and the read (a link on its path re-pointed meanwhile).
  file_identity checked;
  std::string problem = others_may_change(path.string(), "the policy file", &checked);
  struct stat opened {};
  auto text = problem.empty() ? read_regular_file(path.string(), max_policy_bytes, "policy file", 0, &opened)
                              : result<std::string, file_error>(std::string());
  if (problem.empty() && !text.is_ok()) {
    problem = text.error().message();
  } else if (problem.empty() && !checked.same_as(opened)) {
    problem =
        "the policy file " + path.string() +
        " changed while it was checked (it, or a link on its path, was replaced): not loaded; try again";
  }
  if (!problem.empty()) {
    reload_result result;
    const auto live = current();
    result.previous_version = live ? live->version() : std::string();
    result.diagnostics.push_back({path.string(), {}, severity::error, std::move(problem)});
    return result;
  }
  return reload_text(*text, path.string(), vet, vet_unchanged);
}

reload_result policy_store::reload_text(std::string_view text, const std::string& file_name,
                                        const vetter& vet, const vetter& vet_unchanged) {
  const std::lock_guard lock(reload_mutex_);
  reload_result result;
  const auto live = current();
  result.previous_version = live ? live->version() : std::string();
  if (live && vet_unchanged && crypto::to_hex(crypto::sha256(text)) == live->version()) {
    result.version = live->version();
    result.unchanged = true;
    result.diagnostics = vet_unchanged(*live);
    result.ok = std::none_of(result.diagnostics.begin(), result.diagnostics.end(),
                             [](const diagnostic& d) { return d.level == severity::error; });
    return result;
  }
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
