#include "audit/report.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <map>
#include <random>
#include <vector>

#include "audit/store.hpp"
#include "test_support.hpp"

using namespace sovgw::audit;
using sovgw::audit::testing::config_for;
using sovgw::audit::testing::temp_log_dir;

namespace {

constexpr std::uint64_t t0 = 1'780'000'000'000'000;  // 2026-05-28
constexpr std::uint64_t second = 1'000'000;
constexpr std::uint64_t day = 86'400 * second;

record request(std::uint64_t i, std::uint64_t ts, std::string decision, std::vector<std::string> rules) {
  record r;
  r.timestamp_us = ts;
  r.request_id = "r" + std::to_string(i);
  r.tenant = "acme";
  r.client_country = "DE";
  r.decision = std::move(decision);
  r.rule_ids = std::move(rules);
  const bool denied = r.decision == "deny";
  r.status = denied ? 403 : 200;
  r.error_kind = denied ? "policy_denied" : "";
  if (!denied) {
    r.cluster = "fr-par-1";
    r.cluster_country = "FR";
  }
  return r;
}

void write_log(const temp_log_dir& d, std::vector<record> records) {
  auto log = audit_log::open(config_for(d));
  REQUIRE_MESSAGE(log.is_ok(), log.error().message());
  std::vector<std::future<sovgw::result<std::uint64_t>>> pending;
  for (auto& r : records) {
    pending.push_back(log.value()->append(std::move(r)));
  }
  for (auto& f : pending) {
    REQUIRE(f.get().is_ok());
  }
  REQUIRE(log.value()->close().is_ok());
}

report report_of(const temp_log_dir& d, const report_options& options = {}) {
  auto s = store::open(d.db, store::open_mode::read_only);
  REQUIRE(s.is_ok());
  auto key = read_verifier(d.keys + "/signing.pub");
  REQUIRE(key.is_ok());
  return build_report(*s.value(), key.value(), options);
}

}  // namespace

TEST_CASE("the time series coarsens until the whole period fits, whatever order records were logged in") {
  temp_log_dir d;
  write_log(d, {request(0, t0 + 200 * day, "permit", {}), request(1, t0, "permit", {}),
                request(2, t0 + second, "deny", {"r"}), request(3, t0 + 300 * second, "permit", {})});
  const auto r = report_of(d);
  REQUIRE(r.verification.ok());
  CHECK(r.bucket_us == 7 * day);  // 1 day would need 201 buckets, more than 96
  CHECK(r.series.size() == 29);   // from the week holding t0 to the one holding t0 + 200 days
  CHECK(r.series.front().start_us <= t0);
  CHECK(r.series.back().start_us + r.bucket_us > t0 + 200 * day);
  CHECK(r.series.front().outcomes.permitted == 2);
  CHECK(r.series.front().outcomes.denied == 1);
  CHECK(r.series.back().outcomes.permitted == 1);
  CHECK(r.first_us == t0);
  CHECK(r.last_us == t0 + 200 * day);
}

TEST_CASE("the newest denials are kept by time, newest first, not by log position") {
  temp_log_dir d;
  std::vector<std::uint64_t> times;
  for (std::uint64_t i = 0; i < 60; ++i) {
    times.push_back(t0 + i * second);
  }
  std::shuffle(times.begin(), times.end(), std::mt19937_64(7));
  std::vector<record> records;
  for (std::uint64_t i = 0; i < times.size(); ++i) {
    records.push_back(request(i, times[i], i % 3 == 0 ? "permit" : "deny", {"forbid-x"}));
  }
  std::vector<std::uint64_t> denied_times;
  for (const auto& r : records) {
    if (r.decision == "deny") {
      denied_times.push_back(r.timestamp_us);
    }
  }
  std::sort(denied_times.rbegin(), denied_times.rend());
  write_log(d, std::move(records));
  const auto r = report_of(d);
  REQUIRE(r.recent_denials.size() == 20);
  for (std::size_t i = 0; i < 20; ++i) {
    CHECK(r.recent_denials[i].timestamp_us == denied_times[i]);
  }
  CHECK(r.outcomes.denied == 40);
}

TEST_CASE("a denial counts under the rules that made it when the rules' effects are known") {
  temp_log_dir d;
  std::vector<record> records = {
      request(0, t0, "deny", {"forbid-a", "permit-p", "restrict-r"}),        // forbidden
      request(1, t0 + 1, "deny", {"permit-p", "restrict-r", "restrict-s"}),  // no cluster left
      request(2, t0 + 2, "deny", {"restrict-r"}),                            // no permit
      request(3, t0 + 3, "permit", {"permit-p", "restrict-r"}),
  };
  for (auto& r : records) {
    r.policy_version = "v2";
  }
  write_log(d, std::move(records));
  report_options options;
  options.policy_version = "v2";
  options.forbid_rules = {"forbid-a"};
  options.permit_rules = {"permit-p"};
  options.restrict_rules = {"restrict-r", "restrict-s"};
  const auto known = report_of(d, options);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& rule : known.denials_by_rule) {
    counts[rule.rule_id] = rule.denials;
  }
  CHECK(counts ==
        std::map<std::string, std::uint64_t>{{"forbid-a", 1}, {"restrict-r", 1}, {"restrict-s", 1}});
  CHECK(known.default_denials == 1);

  const auto unknown = report_of(d);  // without the policy: every rule a denied record names
  counts.clear();
  for (const auto& rule : unknown.denials_by_rule) {
    counts[rule.rule_id] = rule.denials;
  }
  CHECK(counts == std::map<std::string, std::uint64_t>{
                      {"forbid-a", 1}, {"permit-p", 2}, {"restrict-r", 3}, {"restrict-s", 1}});
  CHECK(unknown.default_denials == 0);
}

TEST_CASE(
    "a denial decided under another policy version counts under every rule it names, never as a "
    "default deny") {
  // The forbid rule was renamed by a reload: the given policy (v2) does not know the old id (v1).
  temp_log_dir d;
  std::vector<record> records = {
      request(0, t0, "deny", {"forbid-old"}),
      request(1, t0 + 1, "deny", {"permit-p", "restrict-r"}),
      request(2, t0 + 2, "deny", {}),
      request(3, t0 + 3, "deny", {"forbid-new"}),
      request(4, t0 + 4, "deny", {"forbid-old"}),  // a record of v2 naming an id v2 does not define
  };
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].policy_version = i < 3 ? "v1" : "v2";
  }
  write_log(d, std::move(records));
  report_options options;
  options.policy_version = "v2";
  options.forbid_rules = {"forbid-new"};
  options.permit_rules = {"permit-p"};
  options.restrict_rules = {"restrict-r"};
  const auto r = report_of(d, options);
  std::map<std::pair<std::string, bool>, std::uint64_t> counts;
  for (const auto& rule : r.denials_by_rule) {
    counts[{rule.rule_id, rule.by_given_policy}] = rule.denials;
  }
  CHECK(counts == std::map<std::pair<std::string, bool>, std::uint64_t>{{{"forbid-old", false}, 1},
                                                                        {{"permit-p", false}, 1},
                                                                        {{"restrict-r", false}, 1},
                                                                        {{"forbid-new", true}, 1},
                                                                        {{"forbid-old", true}, 1}});
  CHECK(r.default_denials == 1);  // record 2 names no rule at all
  CHECK(r.denials_other_versions == 3);
}

TEST_CASE("the time series keeps to its most buckets whatever times the records hold") {
  temp_log_dir d;
  write_log(d, {request(0, 5'000'000, "permit", {}), request(1, t0, "permit", {}),
                request(2, UINT64_MAX, "deny", {"r"})});
  const auto r = report_of(d);
  CHECK(r.series.size() <= report_options{}.max_time_buckets);
  CHECK(r.series.size() >= 2);
  CHECK(r.outcomes.total() == 3);
}

TEST_CASE("the period bounds the aggregates; the verification covers the whole log") {
  temp_log_dir d;
  std::vector<record> records;
  for (std::uint64_t i = 0; i < 10; ++i) {
    records.push_back(request(i, t0 + i * second, "permit", {}));
  }
  write_log(d, std::move(records));
  report_options options;
  options.since_us = t0 + 2 * second;
  options.until_us = t0 + 5 * second;
  const auto r = report_of(d, options);
  CHECK(r.verification.records == 10);
  CHECK(r.records_in_period == 3);
  CHECK(r.outcomes.permitted == 3);
  REQUIRE(r.evidence.size() == 1);
  CHECK(r.evidence[0].requests == 3);
  CHECK(r.evidence[0].first_us == t0 + 2 * second);
  CHECK(r.evidence[0].last_us == t0 + 4 * second);
  CHECK(r.evidence[0].declared_country == "FR");
  CHECK_FALSE(r.evidence[0].max_distance_km.has_value());
}

TEST_CASE("a request is denied when the policy refused it, failed when anything else stopped it") {
  const auto with = [](std::string decision, std::string error_kind) {
    sovgw::audit::record r;
    r.decision = std::move(decision);
    r.error_kind = std::move(error_kind);
    return sovgw::audit::outcome_of(r);
  };
  using enum sovgw::audit::request_outcome;
  CHECK(with("deny", "policy_denied") == denied);
  CHECK(with("deny", "redaction_unsupported") == denied);
  CHECK(with("deny", "model_not_found") == failed);  // a model no cluster serves: not a residency refusal
  CHECK(with("permit", "upstream_timeout") == failed);
  CHECK(with("no-policy", "invalid_json") == failed);
  CHECK(with("deny", "") == denied);
  CHECK(with("forbid", "") == denied);  // logs written before the vocabulary was one list
  CHECK(with("permit", "") == permitted);
}

TEST_CASE(
    "the evidence lists endpoints and the addresses connected to; those beyond the list count once each") {
  temp_log_dir d;
  std::vector<record> records;
  const std::uint64_t n = max_evidence_endpoints + 5;
  for (std::uint64_t i = 0; i < 3 * n; ++i) {
    record r = request(i, t0 + i * second, "permit", {});
    r.endpoint = fmt::format("node-{}.example:443", i % n);  // each endpoint three times
    r.endpoint_country = "FR";
    if (i % n != 0) {  // node-0's records predate version 5: no address
      r.endpoint_address = fmt::format("192.0.2.{}", i % n);
      r.endpoint_address_country = i % n == 1 ? "DE" : "FR";
    }
    records.push_back(std::move(r));
  }
  write_log(d, std::move(records));
  const auto r = report_of(d);
  REQUIRE(r.evidence.size() == 1);
  const cluster_evidence& e = r.evidence[0];
  CHECK(e.endpoints.size() == max_evidence_endpoints);
  CHECK(e.endpoints_not_listed == n - max_evidence_endpoints);  // distinct endpoints, not records
  CHECK(e.endpoints.front() == "node-0.example:443");
  REQUIRE(e.addresses.size() == max_evidence_endpoints);
  CHECK(e.addresses[0] == "192.0.2.1 DE");
  CHECK(e.addresses[1] == "192.0.2.2 FR");
  CHECK(e.addresses_not_listed == n - 1 - max_evidence_endpoints);
}

TEST_CASE("a request that never reached its cluster is not served there, and is no evidence of it") {
  // Probe round 29: three upstream_connect_failed records (a cluster chosen, no endpoint: nothing
  // sent) were shown as "served in FR" and listed as a cluster that served.
  temp_log_dir d;
  std::vector<record> records;
  for (std::uint64_t i = 0; i < 3; ++i) {
    record r = request(i, t0 + i * second, "permit", {});
    r.status = 503;
    r.error_kind = i == 2 ? "upstream_tls_error" : "upstream_connect_failed";
    records.push_back(std::move(r));
  }
  record sent = request(3, t0 + 3 * second, "permit", {});  // sent, then the cluster reset
  sent.status = 502;
  sent.error_kind = "upstream_reset";
  sent.endpoint = "127.0.0.1:8443";
  records.push_back(std::move(sent));
  record cut = request(4, t0 + 4 * second, "permit", {});  // a pre-evidence record: no endpoint kept
  cut.status = 200;
  cut.error_kind = "upstream_reset_mid_body";
  records.push_back(std::move(cut));
  record denied = request(5, t0 + 5 * second, "deny", {"r"});  // a cluster chosen, then refused
  denied.cluster = "fr-par-1";
  denied.cluster_country = "FR";
  denied.error_kind = "redaction_unsupported";
  denied.status = 415;
  records.push_back(std::move(denied));
  write_log(d, std::move(records));
  const auto r = report_of(d);
  REQUIRE(r.verification.ok());
  std::map<std::string, std::uint64_t> to;
  for (const auto& f : r.flows) {
    to[f.destination] += f.requests;
  }
  CHECK(to == std::map<std::string, std::uint64_t>{
                  {destination_not_served, 3}, {"FR", 2}, {destination_refused, 1}});
  REQUIRE(r.evidence.size() == 1);
  CHECK(r.evidence[0].requests == 2);  // the reset and the cut answer: both reached the cluster
  CHECK(r.evidence[0].first_us == t0 + 3 * second);
}

TEST_CASE("a refusal that is not a rule's counts under its own kind, not under the rules it names") {
  // Probe round 29: redaction_unsupported (415) refusals were listed under the restrict rule that
  // matched, as if it had left no allowed cluster.
  temp_log_dir d;
  std::vector<record> records = {
      request(0, t0, "deny", {"permit-p", "restrict-r"}),      // no cluster left
      request(1, t0 + 1, "deny", {"permit-p", "restrict-r"}),  // redaction not possible
      request(2, t0 + 2, "deny", {"permit-p", "restrict-r"}),  // the same, under another version
  };
  records[1].error_kind = "redaction_unsupported";
  records[1].status = 415;
  records[2].error_kind = "redaction_unsupported";
  records[2].status = 415;
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].policy_version = i < 2 ? "v2" : "v1";
  }
  write_log(d, std::move(records));
  report_options options;
  options.policy_version = "v2";
  options.permit_rules = {"permit-p"};
  options.restrict_rules = {"restrict-r"};
  const auto check = [](const report& r, const std::map<std::string, std::uint64_t>& expected) {
    std::map<std::string, std::uint64_t> rules;
    for (const auto& rule : r.denials_by_rule) {
      rules[rule.rule_id] += rule.denials;
    }
    CHECK(rules == expected);  // only the denial that no cluster was left for
    CHECK(r.default_denials == 0);
    REQUIRE(r.denials_by_kind.size() == 1);
    CHECK(r.denials_by_kind[0].error_kind == "redaction_unsupported");
    CHECK(r.denials_by_kind[0].denials == 2);
    CHECK(r.denials_by_kind[0].last_us == t0 + 2);
    CHECK(r.outcomes.denied == 3);
  };
  check(report_of(d, options), {{"restrict-r", 1}});
  check(report_of(d), {{"permit-p", 1}, {"restrict-r", 1}});
}

TEST_CASE("a tenant's token totals say how much of them the gateway estimated") {
  // Probe round 29 (low 9): estimates were added into the totals without a word.
  temp_log_dir d;
  std::vector<record> records;
  for (std::uint64_t i = 0; i < 5; ++i) {
    record r = request(i, t0 + i * second, "permit", {});
    r.prompt_tokens = 10 + i;
    r.completion_tokens = 100;
    if (i >= 3) {
      r.note = std::string(tokens_estimated_note);
    }
    records.push_back(std::move(r));
  }
  write_log(d, std::move(records));
  const auto r = report_of(d);
  REQUIRE(r.tenants.size() == 1);
  const tenant_usage& t = r.tenants[0];
  CHECK(t.prompt_tokens == 60);
  CHECK(t.completion_tokens == 500);
  CHECK(t.estimated_requests == 2);
  CHECK(t.estimated_prompt_tokens == 27);
  CHECK(t.estimated_completion_tokens == 200);
}

TEST_CASE("a count the cluster reported is not counted as the gateway's estimate") {
  // Probe round 30: a cluster reported the prompt's 4,000,000 tokens and not the completion's; the
  // report called all of it estimated.
  temp_log_dir d;
  std::vector<record> records;
  for (std::uint64_t i = 0; i < 3; ++i) {
    record r = request(i, t0 + i * second, "permit", {});
    r.prompt_tokens = 4'000'000;
    r.completion_tokens = 49;
    r.note = std::string(i == 0   ? completion_tokens_estimated_note
                         : i == 1 ? prompt_tokens_estimated_note
                                  : tokens_estimated_note);
    records.push_back(std::move(r));
  }
  write_log(d, std::move(records));
  const auto r = report_of(d);
  REQUIRE(r.tenants.size() == 1);
  const tenant_usage& t = r.tenants[0];
  CHECK(t.estimated_requests == 3);
  CHECK(t.estimated_prompt_tokens == 8'000'000);  // records 1 and 2
  CHECK(t.estimated_completion_tokens == 98);     // records 0 and 2
}

TEST_CASE("a stored response read back counts its tokens once, at its generation (probe round 37)") {
  temp_log_dir d;
  std::vector<record> records;
  for (std::uint64_t i = 0; i < 4; ++i) {
    record r = request(i, t0 + i * second, "permit", {});
    r.prompt_tokens = 500;
    r.completion_tokens = 1500;
    if (i >= 1) {
      r.method = "GET";
      r.note = std::string(stored_usage_note);
    }
    records.push_back(std::move(r));
  }
  write_log(d, std::move(records));
  const auto r = report_of(d);
  REQUIRE(r.tenants.size() == 1);
  CHECK(r.tenants[0].prompt_tokens == 500);
  CHECK(r.tenants[0].completion_tokens == 1500);
}

TEST_CASE("a policy version switched back to counts each period it was in force") {
  // v1, then v2 by a reload, then v1's file again: v1's first and last decision span v2's requests.
  // A request without a version (ended before a policy decided) does not end a period.
  temp_log_dir d;
  const char* versions[] = {"v1", "v1", "", "v1", "v2", "", "v2", "v1", "v1"};
  std::vector<record> records;
  for (std::size_t i = 0; i < std::size(versions); ++i) {
    records.push_back(request(i, t0 + i * second, "permit", {"permit-p"}));
    records.back().policy_version = versions[i];
  }
  write_log(d, std::move(records));
  const auto r = report_of(d);
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> seen;  // requests, periods
  for (const auto& v : r.policy_versions) {
    seen[v.version] = {v.requests, v.periods};
  }
  CHECK(seen == std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>{
                    {"v1", {5, 2}}, {"v2", {2, 1}}, {"", {2, 0}}});
}
