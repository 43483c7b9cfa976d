#include "policy/policy_store.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

using namespace sovgw::policy;

namespace {

std::string policy_with(const std::string& tenant) {
  return "rules:\n  - id: permit-" + tenant + "\n    effect: permit\n    when: {tenant: [" + tenant + "]}\n";
}

}  // namespace

TEST_CASE("reload swaps on success and keeps the last good snapshot on failure") {
  policy_store store;
  CHECK(store.current() == nullptr);
  const auto first = store.reload_text(policy_with("acme"), "p.yaml");
  CHECK(first.ok);
  CHECK(first.previous_version.empty());
  const auto live = store.current();
  REQUIRE(live);
  CHECK(live->version() == first.version);

  const auto bad = store.reload_text("rules:\n  - id: x\n    effect: perhaps\n", "p.yaml");
  CHECK_FALSE(bad.ok);
  CHECK(bad.previous_version == first.version);
  CHECK(bad.version != first.version);  // the rejected file's hash, for the operator's report
  REQUIRE(bad.diagnostics.size() == 1);
  CHECK(bad.diagnostics[0].format() ==
        "p.yaml:3:13: error: unknown effect 'perhaps' (expected forbid, permit or restrict)");
  CHECK(store.current() == live);

  const auto missing = store.reload("/nonexistent/policy.yaml");
  CHECK_FALSE(missing.ok);
  CHECK(store.current() == live);

  const auto second = store.reload_text(policy_with("globex"), "p.yaml");
  CHECK(second.ok);
  CHECK(second.previous_version == first.version);
  CHECK(store.current()->version() == second.version);
  // The old snapshot stays usable by whoever still holds it.
  request_attributes r;
  r.tenant = "acme";
  CHECK(live->decide(r, {}).result == effect::permit);
  CHECK(store.current()->decide(r, {}).result == effect::deny);
}

TEST_CASE("reload from a file: the version is the file's content hash; errors name the file") {
  const auto path =
      std::filesystem::temp_directory_path() / ("sovgw-store-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << policy_with("acme");
  policy_store store;
  const auto ok = store.reload(path);
  CHECK(ok.ok);
  CHECK(ok.version == compile_policy(policy_with("acme"), "x").policy->version());
  std::ofstream(path) << "rules:\n  - id: a\n    effect: permit\n    when: {client.country: [XX]}\n";
  const auto bad = store.reload(path);
  CHECK_FALSE(bad.ok);
  REQUIRE(bad.diagnostics.size() == 1);
  CHECK(bad.diagnostics[0].format() ==
        path.string() + ":4:29: error: unknown country code 'XX' (not an ISO 3166-1 alpha-2 code)");
  CHECK(store.current()->version() == ok.version);
  std::filesystem::remove(path);
}

TEST_CASE("an unchanged policy is not compiled again: the live snapshot stays, vetted by vet_unchanged") {
  policy_store store;
  int full = 0;
  int light = 0;
  const policy_store::vetter vet = [&](const snapshot&) {
    ++full;
    return std::vector<diagnostic>{};
  };
  std::vector<diagnostic> light_says;
  const policy_store::vetter vet_unchanged = [&](const snapshot&) {
    ++light;
    return light_says;
  };
  REQUIRE(store.reload_text(policy_with("a"), "p.yaml", vet, vet_unchanged).ok);  // nothing live yet
  const auto first = store.current();
  const auto again = store.reload_text(policy_with("a"), "p.yaml", vet, vet_unchanged);
  CHECK((again.ok && again.unchanged && full == 1 && light == 1));
  CHECK(store.current() == first);  // the same snapshot, not a recompiled one
  light_says.push_back({"p.yaml", {}, severity::error, "names a tenant the new file lacks"});
  const auto refused = store.reload_text(policy_with("a"), "p.yaml", vet, vet_unchanged);
  CHECK((!refused.ok && refused.unchanged && refused.diagnostics.size() == 1));
  CHECK(store.current() == first);
  const auto changed = store.reload_text(policy_with("b"), "p.yaml", vet, vet_unchanged);
  CHECK((changed.ok && !changed.unchanged && full == 2));
  CHECK(store.current() != first);
  // Without vet_unchanged every reload compiles (policy check, the tools).
  REQUIRE(store.reload_text(policy_with("b"), "p.yaml", vet).ok);
  CHECK(full == 3);
}

TEST_CASE("readers never see a partial policy while reloads run") {
  policy_store store;
  REQUIRE(store.reload_text(policy_with("a"), "p.yaml").ok);
  std::atomic<bool> stop{false};
  std::atomic<long> decisions{0};
  std::atomic<long> inconsistent{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      decision d;
      request_attributes ra;
      ra.tenant = "a";
      request_attributes rb;
      rb.tenant = "b";
      while (!stop.load()) {
        const auto snap = store.current();
        snap->decide(ra, {}, d);
        const bool a = d.result == effect::permit;
        snap->decide(rb, {}, d);
        const bool b = d.result == effect::permit;
        if (a == b || snap->rule_count() != 1) {  // exactly one of the two policies, never a mix
          ++inconsistent;
        }
        ++decisions;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    CHECK(store.reload_text(policy_with(i % 2 ? "a" : "b"), "p.yaml").ok);
    CHECK_FALSE(store.reload_text("rules: [", "p.yaml").ok);
  }
  stop = true;
  for (auto& t : readers) {
    t.join();
  }
  CHECK(decisions.load() > 0);
  CHECK(inconsistent.load() == 0);
}
