// `sovgw audit report`: the aggregates are the audit library's (audit/report.hpp, one pass that is
// also the verification `audit verify` makes); this file reads the options, takes the rules'
// reasons from --policy, and writes the HTML page (audit_report_html.cpp) or the JSON document.
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "audit/log_verifier.hpp"
#include "audit/published_checkpoint.hpp"
#include "cli/audit_output.hpp"
#include "cli/audit_report.hpp"
#include "cli/audit_support.hpp"
#include "common/plural.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/policy.hpp"
#include "policy/policy_source.hpp"

namespace sovgw::cli {
namespace {

constexpr std::size_t max_policy_bytes = 16 << 20;

std::string json_optional_time(const std::optional<std::uint64_t>& us) {
  return us ? json_time(*us) : "null";
}

std::string json_outcomes(const audit::outcome_counts& o) {
  return fmt::format(R"("requests":{},"permitted":{},"denied":{},"failed":{})", o.total(), o.permitted,
                     o.denied, o.failed);
}

std::string json_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& s : items) {
    out.push_back(json_string(s));
  }
  return fmt::format("[{}]", fmt::join(out, ","));
}

std::vector<std::string> split_classes(const std::string& joined) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < joined.size();) {
    const std::size_t end = std::min(joined.find('+', start), joined.size());
    out.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string verification_json(const audit::verify_report& v, const report_context& c) {
  std::vector<std::string> problems;
  for (const auto& p : v.problems) {
    problems.push_back(json_problem(to_string(p.kind), p.record, p.text));
  }
  std::vector<std::string> held_from;
  for (std::size_t i = 0; i < c.held_from.size(); ++i) {
    const auto& from = c.held_from[i];
    // Each one's own verdict: a list naming the auditor's contradicted checkpoint beside the
    // operator's reproduced one must not read as reproduced (probe round 40).
    const std::string_view verdict = held_verdict_name(v, i);
    const bool lags = verdict == "reproduced" && c.stale && c.stale->source.path == from.path &&
                      c.stale->source.published == from.published;
    held_from.push_back(fmt::format(R"({{"source":"{}","file":{},"size":{},"verdict":"{}"}})",
                                    from.published ? "published" : "checkpoint_option",
                                    json_string(from.path), from.checkpoint.size, lags ? "lags" : verdict));
  }
  std::vector<std::string> not_held;
  for (const auto& n : c.not_held) {
    not_held.push_back(fmt::format(R"({{"source":"{}","file":{},"why":{}}})",
                                   n.published ? "published" : "checkpoint_option", json_string(n.path),
                                   json_string(n.why)));
  }
  return fmt::format(
      R"({{"ok":{},"records":{},"missing_records":{},"truncated_records":{},"signed_records":{},"checkpoints":{},"failed_checkpoints":{},"contradicting_checkpoints":{},)"
      R"("unchecked_checkpoints":{},"stored_checkpoints":{},"checkpoint":{},"held_checkpoints":{},"tail_checked":{},"held_from":[{}],"not_held":[{}],)"
      R"("uncovered_records":{},)"
      R"("index_entries":{},)"
      R"("forced_opens":{},"payloads_checked":{},"payloads_unsigned":{},"payloads_dropped_by_retention":{},"payloads_shredded":{},"payloads_shredded_then_dropped":{},)"
      R"("first_bad_record":{},"pending_in_flight":{},"problems":[{}]}})",
      v.ok() ? "true" : "false", v.records, v.missing_records, v.truncated_records, v.signed_records(),
      v.checkpoints, v.failed_checkpoints(), v.contradicting_checkpoints, v.unchecked_checkpoints,
      v.stored_checkpoints, json_checkpoint(v.latest), json_held_checkpoints(c.held_from, v),
      every_held_reproduced(v, c.held_from.size()) && !c.stale ? "true" : "false", fmt::join(held_from, ","),
      fmt::join(not_held, ","), v.uncovered_records(), v.index_entries, v.forced_opens,
      json_optional(c.payloads ? std::optional(c.payloads->checked) : std::nullopt),
      json_optional(c.payloads ? std::optional(c.payloads->unsigned_payloads) : std::nullopt),
      json_optional(c.payloads ? std::optional(c.payloads->dropped_by_retention) : std::nullopt),
      json_optional(c.payloads ? std::optional(c.payloads->shredded) : std::nullopt),
      json_optional(c.payloads ? std::optional(c.payloads->shredded_then_dropped) : std::nullopt),
      json_optional(v.first_bad_record), json_pending(c.pending), fmt::join(problems, ","));
}

template <typename item_t, typename fn_t>
std::string json_array(const std::vector<item_t>& items, fn_t&& fn) {
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const auto& item : items) {
    out.push_back(fn(item));
  }
  return fmt::format("[{}]", fmt::join(out, ","));
}

std::optional<std::string> reason_of(const report_context& c, const std::string& rule) {
  const auto it = c.rule_reasons.find(rule);
  return it == c.rule_reasons.end() ? std::nullopt : std::optional(it->second);
}

// --policy: the rules' reasons and the policy's version. A file that is not a policy is exit 2.
void read_policy(const std::string& path, report_context& c) {
  const auto text = read_input_file(path, max_policy_bytes);
  if (!text) {
    throw usage_error(fmt::format("--policy {}: too large to be a policy file", path), false);
  }
  const auto compiled = policy::compile_policy(*text, path);
  if (!compiled.ok()) {
    throw usage_error(fmt::format("--policy {} does not compile:\n{}", path,
                                  policy::format_diagnostics(compiled.diagnostics)),
                      false);
  }
  c.policy_file = path;
  c.policy_version = compiled.policy->version();
  for (const auto& rule : compiled.policy->compiled().rules) {
    c.rule_reasons[rule.id] = rule.reason;
    c.rule_effects[rule.id] = std::string(policy::rule_effect_name(rule.effect));
  }
}

void write_output(const options& o, const std::string& text) {
  if (!o.has("out") || o.need("out") == "-") {  // `-`: standard output, as verify-proof reads `-`
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  const std::string& path = o.need("out");
  const std::string partial = path + ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out || std::rename(partial.c_str(), path.c_str()) != 0) {
    const int e = errno;  // the open, the write or the rename's
    std::remove(partial.c_str());
    throw command_error(exit_environment, fmt::format("cannot write {}: {}", path, std::strerror(e)));
  }
  std::printf("wrote the %s report to %s (%zu bytes)\n", o.get("format").value_or("html").c_str(),
              path.c_str(), text.size());
}

// null unless --payloads with --since or --until: {"sealed", "dropped_by_retention", "shredded",
// "events": [{"seq", "time", "kind", "tenant", "payloads"}]}.
std::string period_payloads_json(const report_context& c) {
  if (!c.payloads || !c.payloads->period) {
    return "null";
  }
  const auto& p = *c.payloads->period;
  const std::string events = json_array(p.events, [](const audit::period_payloads::event& e) {
    return fmt::format(R"({{"seq":{},"time":{},"kind":"{}","tenant":{},"payloads":{}}})", e.seq,
                       e.timestamp_us == 0 ? std::string("null") : json_time(e.timestamp_us),
                       e.retention ? "retention" : "crypto-shred",
                       e.retention ? std::string("null") : json_string(e.tenant), e.payloads);
  });
  return fmt::format(R"({{"sealed":{},"dropped_by_retention":{},"shredded":{},"events":{}}})", p.sealed,
                     p.dropped_by_retention, p.shredded, events);
}

}  // namespace

std::string report_json(const audit::report& r, const report_context& c) {
  const std::string flows = json_array(r.flows, [](const audit::flow& f) {
    return fmt::format(R"({{"client_country":{},"destination":{},"data_classes":{},"requests":{}}})",
                       json_string(f.client_country), json_string(f.destination),
                       json_list(split_classes(f.data_classes)), f.requests);
  });
  const std::string series = json_array(r.series, [](const audit::time_bucket& b) {
    return fmt::format(R"({{"start":{},{}}})", json_time(b.start_us), json_outcomes(b.outcomes));
  });
  const std::string rules = json_array(r.denials_by_rule, [&](const audit::rule_denials& d) {
    const auto reason = reason_of(c, d.rule_id);
    const auto effect = c.rule_effects.find(d.rule_id);
    return fmt::format(
        R"({{"rule":{},"effect":{},"by_given_policy":{},"denials":{},"last":{},"reason":{}}})",
        json_string(d.rule_id),
        !d.by_given_policy || effect == c.rule_effects.end() ? "null" : json_string(effect->second),
        d.by_given_policy ? "true" : "false", d.denials, json_time(d.last_us),
        reason ? json_string(*reason) : "null");
  });
  const std::string kinds = json_array(r.denials_by_kind, [](const audit::kind_denials& d) {
    return fmt::format(R"({{"error_kind":{},"denials":{},"last":{},"reason":{}}})", json_string(d.error_kind),
                       d.denials, json_time(d.last_us), json_string(refusal_reason(d.error_kind)));
  });
  const std::string versions = json_array(r.policy_versions, [&](const audit::policy_version_span& v) {
    return fmt::format(
        R"({{"version":{},"first":{},"last":{},"requests":{},"periods":{},"given_policy":{}}})",
        json_string(v.version), json_time(v.first_us), json_time(v.last_us), v.requests, v.periods,
        !v.version.empty() && v.version == c.policy_version ? "true" : "false");
  });
  const std::string tenants = json_array(r.tenants, [](const audit::tenant_usage& t) {
    return fmt::format(
        R"({{"tenant":{},"identified":{},{},"prompt_tokens":{},"completion_tokens":{},"estimated_requests":{},)"
        R"("estimated_prompt_tokens":{},"estimated_completion_tokens":{},"with_data_classes":{},"redactions":{}}})",
        json_string(t.tenant), t.tenant == audit::unidentified_tenant ? "false" : "true",
        json_outcomes(t.outcomes), t.prompt_tokens, t.completion_tokens, t.estimated_requests,
        t.estimated_prompt_tokens, t.estimated_completion_tokens, t.classified, json_optional(t.redactions));
  });
  const std::string evidence = json_array(r.evidence, [](const audit::cluster_evidence& e) {
    return fmt::format(
        R"({{"cluster":{},"declared_country":{},"requests":{},"first":{},"last":{},"endpoints":{},)"
        R"("endpoints_not_listed":{},"verified_country":{},"max_distance_km":{},"min_distance_km":{},)"
        R"("requests_with_distance_bound":{},"addresses":{},"addresses_not_listed":{}}})",
        json_string(e.cluster), json_string(e.declared_country), e.requests, json_time(e.first_us),
        json_time(e.last_us), e.endpoints.empty() ? "null" : json_list(e.endpoints), e.endpoints_not_listed,
        e.verified_country ? json_string(*e.verified_country) : "null", json_optional(e.max_distance_km),
        json_optional(e.min_distance_km), e.requests_with_bound,
        e.addresses.empty() ? "null" : json_list(e.addresses), e.addresses_not_listed);
  });
  const std::string denials = json_array(r.recent_denials, [](const audit::denial& d) {
    return fmt::format(
        R"({{"seq":{},"time":{},"request_id":{},"tenant":{},"client_country":{},"data_classes":{},"rules":{},)"
        R"("error_kind":{},"status":{}}})",
        d.seq, json_time(d.timestamp_us), json_string(d.request_id), json_string(d.tenant),
        json_string(d.client_country), json_list(split_classes(d.data_classes)), json_list(d.rule_ids),
        json_string(d.error_kind), d.status);
  });
  const std::string events = json_array(r.recent_events, [](const audit::log_event& e) {
    return fmt::format(R"({{"seq":{},"time":{},"tenant":{},"note":{}}})", e.seq, json_time(e.timestamp_us),
                       e.tenant.empty() ? "null" : json_string(e.tenant), json_string(e.note));
  });
  return fmt::format(
      R"({{"command":"report","ok":{},"log":{},"key":{},"key_fingerprint":{},"generated":{},)"
      R"("period":{{"since":{},"until":{},"first":{},"last":{}}},"verification":{},)"
      R"("records_in_period":{},"unsigned_in_period":{},"synthetic_in_period":{},"events":{},"undecodable":{},"outcomes":{{{}}},)"
      R"("series":{{"bucket_seconds":{},"buckets":{}}},"flows":{},"denials_by_rule":{},"denials_by_kind":{},)"
      R"("default_denials":{},"denials_other_versions":{},"policy":{},"policy_versions":{},"tenants":{},"identified_tenants":{},"evidence":{},)"
      R"("recent_denials":{},"recent_events":{},"payloads_in_period":{},"payload_modes":{{"sealed":{},"digest":{},"none":{}}}}})"
      "\n",
      r.verification.ok() ? "true" : "false", json_string(c.db), json_key(c.key),
      json_string(key_fingerprint(c.key)), json_time(c.generated_us), json_optional_time(r.since_us),
      json_optional_time(r.until_us), json_optional_time(r.first_us), json_optional_time(r.last_us),
      verification_json(r.verification, c), r.records_in_period, r.unsigned_in_period, r.synthetic_in_period,
      r.events, r.undecodable, json_outcomes(r.outcomes), r.bucket_us / 1000000, series, flows, rules, kinds,
      r.default_denials, c.policy_file.empty() ? "null" : std::to_string(r.denials_other_versions),
      c.policy_file.empty() ? "null"
                            : fmt::format(R"({{"file":{},"version":{}}})", json_string(c.policy_file),
                                          json_string(c.policy_version)),
      versions, tenants, r.identified_tenants(), evidence, denials, events, period_payloads_json(c),
      r.payloads.sealed, r.payloads.digest, r.payloads.none);
}

int cmd_report(const options& o) {
  const std::string format = o.get("format").value_or("html");
  if (format != "html" && format != "json") {
    throw usage_error(fmt::format("--format must be html or json, not '{}'", format), false);
  }
  check_output_option(o, "out");
  audit::report_options options;
  const time_window window = time_window_option(o);
  options.since_us = window.since_us;
  options.until_us = window.until_us;
  report_context c{.db = o.need("db"),
                   .key = pubkey_option(o),
                   .pubkey_path = o.need("pubkey"),
                   .generated_us = now_us(),
                   .policy_file = {},
                   .policy_version = {},
                   .rule_reasons = {},
                   .rule_effects = {},
                   .payloads = std::nullopt,
                   .held_from = {},
                   .not_held = {},
                   .checkpoint_option = std::nullopt,
                   .payloads_option = o.flag("payloads"),
                   .published_path = {},
                   .stale = std::nullopt,
                   .pending = {}};
  if (o.has("policy")) {
    read_policy(o.need("policy"), c);
    options.policy_version = c.policy_version;
    for (const auto& [id, effect] : c.rule_effects) {
      if (effect == "forbid") {
        options.forbid_rules.insert(id);
      } else if (effect == "permit") {
        options.permit_rules.insert(id);
      } else {
        options.restrict_rules.insert(id);
      }
    }
  }
  const held_checkpoints extra = held_checkpoint_options(o, c.key, options.verify);
  c.held_from = extra.sources;
  c.not_held = extra.not_held;
  c.checkpoint_option = extra.checkpoint_option;
  c.published_path = audit::published_checkpoint_path(c.db);
  options.verify.check_times_at_us = c.generated_us;  // record times judged as verify judges them
  options.now_us = c.generated_us;                    // the series spans the period, up to now
  auto opened = try_open_reader(o);
  std::optional<audit::verify_report> gone;
  if (!opened.is_ok()) {
    // Emptied or removed while a checkpoint kept outside it says what it held (as verify says it).
    gone = audit::verify_missing_store(c.db, options.verify);
    if (!gone) {
      throw command_error(open_failure_exit_code(opened.error()), opened.error().message());
    }
  }
  auto r = gone ? audit::missing_store_report(options, std::move(*gone))
                : audit::build_report(*opened.value(), c.key, options);
  extra.add_problems_to(r.verification);
  if (opened.is_ok()) {
    const auto& s = opened.value();
    // As verify --payloads: over a log that fails too, unless it cannot be read (probe round 40: the
    // page told an auditor who gave --payloads to give it).
    if (o.flag("payloads") && !r.verification.unreadable()) {
      // A period's payloads may be gone by events after it (a retention run, a shred): counted in the
      // same pass, with the events named (probe round 42).
      std::optional<audit::period_payloads> period;
      if (options.since_us || options.until_us) {
        period.emplace();
        period->since_us = options.since_us;
        period->until_us = options.until_us;
      }
      c.payloads = audit::verify_payloads(*s, r.verification.events, nullptr, r.verification.signed_records(),
                                          std::move(period));
      auto& problems = r.verification.problems;
      problems.insert(problems.end(), c.payloads->problems.begin(), c.payloads->problems.end());
      if (!r.verification.first_bad_record) {
        r.verification.first_bad_record = c.payloads->first_bad_record;
      }
    }
    c.pending = pending_notes_of(*s, o);
    c.stale = stale_held(*s, r.verification, c.held_from);
    settle_stale_published(*s, c.key, r.verification.signed_records(), c.stale);
  }
  write_output(o, format == "json" ? report_json(r, c) : report_html(r, c));
  if (r.records_in_period == 0 && options.since_us && *options.since_us > c.generated_us) {
    std::fprintf(stderr, "sovgw audit report: note: --since is in the future: no record is that new yet\n");
  }
  if (const std::string pending = c.pending.text(); !pending.empty()) {
    fmt::print(stderr, "sovgw audit report: WARNING: {}\n", printable(pending, true));
  }
  if (!r.verification.ok()) {
    // The wrong key first, as verify says it (probe round 39).
    const std::string hint = wrong_key_hint(r.verification, c.key);
    fmt::print(
        stderr,
        "sovgw audit report: FAILED: the audit log at {} does not verify{}; the report says why ({} {})\n",
        opened.is_ok() ? opened.value()->dir() : c.db, hint.empty() ? "" : ": " + hint,
        r.verification.problems.size(), plural(r.verification.problems.size(), "problem", "problems"));
    return exit_failed;
  }
  return exit_ok;
}

}  // namespace sovgw::cli
