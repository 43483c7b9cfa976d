#include "audit/report.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "audit/store.hpp"
#include "audit/synthetic.hpp"

namespace sovgw::audit {
namespace {

constexpr std::uint64_t second_us = 1000000;
// Each width divides the next, so coarsening merges whole buckets. The widest ones are there for
// any times the records may hold (verify names those out of line): 96 buckets of the widest span
// more than the 584,000 years of microseconds a record time can count.
constexpr std::uint64_t year_s = 364 * 86400;
constexpr std::array<std::uint64_t, 17> bucket_widths_s = {1,
                                                           10,
                                                           60,
                                                           300,
                                                           900,
                                                           3600,
                                                           3 * 3600,
                                                           6 * 3600,
                                                           86400,
                                                           7 * 86400,
                                                           28 * 86400,
                                                           year_s,
                                                           10 * year_s,
                                                           100 * year_s,
                                                           1000 * year_s,
                                                           10000 * year_s,
                                                           100000 * year_s};

std::string joined_classes(std::vector<std::string> classes) {
  std::sort(classes.begin(), classes.end());
  std::string out;
  for (const auto& c : classes) {
    out += out.empty() ? c : "+" + c;
  }
  return out;
}

// Widens [first, last] to take in `t`; `seen`: how many were taken in before.
void widen(std::uint64_t& first, std::uint64_t& last, std::uint64_t seen, std::uint64_t t) {
  first = seen == 0 ? t : std::min(first, t);
  last = seen == 0 ? t : std::max(last, t);
}

// Adds the comma-separated `values` to the comma-separated `into` (each once, in order of arrival).
void add_each(std::string& into, std::string_view values) {
  while (!values.empty()) {
    const std::size_t comma = std::min(values.find(','), values.size());
    const std::string_view one = values.substr(0, comma);
    values.remove_prefix(std::min(comma + 1, values.size()));
    bool known = false;
    for (std::string_view rest = into; !rest.empty() && !known;) {
      const std::size_t c = std::min(rest.find(','), rest.size());
      known = rest.substr(0, c) == one;
      rest.remove_prefix(std::min(c + 1, rest.size()));
    }
    if (!one.empty() && !known) {
      into += into.empty() ? std::string(one) : "," + std::string(one);
    }
  }
}

// The evidence a record carries about where it was served: the cluster and its declared country;
// from version 2 the endpoint used and where its addresses geolocate; from version 3 the distance
// bound of the TLS endpoint from the handshake's round trip (docs/evidence.md); from version 5 the
// address connected to and where it geolocates.
void observe_evidence(cluster_evidence& e, const record& r) {
  if (e.declared_country.empty()) {
    e.declared_country = r.cluster_country;
  }
  const auto list = [&e](std::vector<std::string>& listed, std::uint64_t& not_listed, std::string_view one) {
    if (!one.empty() && std::find(listed.begin(), listed.end(), one) == listed.end()) {
      if (listed.size() < max_evidence_endpoints) {
        listed.emplace_back(one);
      } else if (e.unlisted.insert(std::hash<std::string_view>{}(one)).second) {
        ++not_listed;
      }
    }
  };
  list(e.endpoints, e.endpoints_not_listed, r.endpoint);
  if (!r.endpoint_address.empty()) {
    list(e.addresses, e.addresses_not_listed,
         r.endpoint_address + " " + (r.endpoint_address_country.empty() ? "?" : r.endpoint_address_country));
  }
  if (!r.endpoint_country.empty()) {
    if (!e.verified_country) {
      e.verified_country.emplace();
    }
    if (*e.verified_country != r.endpoint_country) {
      add_each(*e.verified_country, r.endpoint_country);
    }
  }
  if (r.endpoint_rtt_us != 0) {
    e.max_distance_km = std::max<std::uint64_t>(e.max_distance_km.value_or(0), r.distance_bound_km);
    e.min_distance_km =
        std::min<std::uint64_t>(e.min_distance_km.value_or(r.distance_bound_km), r.distance_bound_km);
    ++e.requests_with_bound;
  }
}

template <typename value_t>
std::vector<value_t> values_by(std::unordered_map<std::string, value_t>& m,
                               const std::function<bool(const value_t&, const value_t&)>& before) {
  std::vector<value_t> out;
  out.reserve(m.size());
  for (auto& [key, value] : m) {
    out.push_back(std::move(value));
  }
  std::sort(out.begin(), out.end(), before);
  return out;
}

class aggregator {
 public:
  // Records from `signed_bound` on are covered by no checkpoint: counted apart, never aggregated.
  aggregator(const report_options& o, std::uint64_t signed_bound)
      : options_(o), signed_bound_(signed_bound) {}

  void add_leaf(std::uint64_t seq, std::span<const std::uint8_t> leaf, const record* decoded) {
    // Redactions are recorded from version 3 on; a log without such a record says nothing of them.
    redactions_recorded_ =
        redactions_recorded_ || (!leaf.empty() && leaf[0] >= record_format_version_distance);
    if (decoded == nullptr) {
      ++out_.undecodable;
      return;
    }
    const record& rec = *decoded;
    if ((options_.since_us && rec.timestamp_us < *options_.since_us) ||
        (options_.until_us && rec.timestamp_us >= *options_.until_us)) {
      return;
    }
    ++out_.records_in_period;
    if (seq >= signed_bound_) {
      ++out_.unsigned_in_period;
      return;
    }
    out_.first_us = std::min(out_.first_us.value_or(rec.timestamp_us), rec.timestamp_us);
    out_.last_us = std::max(out_.last_us.value_or(rec.timestamp_us), rec.timestamp_us);
    if (rec.kind == record_kind::event) {
      add_event(seq, rec);
    } else if (rec.note == synthetic_request_note) {
      ++out_.synthetic_in_period;
    } else {
      ++(rec.payload == payload_mode::sealed   ? out_.payloads.sealed
         : rec.payload == payload_mode::digest ? out_.payloads.digest
                                               : out_.payloads.none);
      add_request(seq, rec);
    }
  }

  report finish(verify_report verification) {
    out_.verification = std::move(verification);
    out_.since_us = options_.since_us;
    out_.until_us = options_.until_us;
    finish_series();
    out_.flows = values_by<flow>(flows_, [](const auto& a, const auto& b) {
      return a.requests != b.requests ? a.requests > b.requests
                                      : std::tie(a.client_country, a.destination, a.data_classes) <
                                            std::tie(b.client_country, b.destination, b.data_classes);
    });
    out_.denials_by_rule = values_by<rule_denials>(rules_, [](const auto& a, const auto& b) {
      return a.denials != b.denials
                 ? a.denials > b.denials
                 : std::tie(a.rule_id, b.by_given_policy) < std::tie(b.rule_id, a.by_given_policy);
    });
    out_.denials_by_kind = values_by<kind_denials>(kinds_, [](const auto& a, const auto& b) {
      return a.denials != b.denials ? a.denials > b.denials : a.error_kind < b.error_kind;
    });
    out_.policy_versions = values_by<policy_version_span>(versions_, [](const auto& a, const auto& b) {
      return a.first_us != b.first_us ? a.first_us < b.first_us : a.version < b.version;
    });
    if (!redactions_recorded_) {
      for (auto& [name, t] : tenants_) {
        t.redactions.reset();
      }
    }
    out_.tenants = values_by<tenant_usage>(tenants_, [](const auto& a, const auto& b) {
      return a.outcomes.total() != b.outcomes.total() ? a.outcomes.total() > b.outcomes.total()
                                                      : a.tenant < b.tenant;
    });
    out_.evidence = values_by<cluster_evidence>(clusters_, [](const auto& a, const auto& b) {
      return a.requests != b.requests ? a.requests > b.requests : a.cluster < b.cluster;
    });
    out_.recent_denials = newest_first(denials_);
    out_.recent_events = newest_first(events_);
    return std::move(out_);
  }

 private:
  void add_event(std::uint64_t seq, const record& rec) {
    ++out_.events;
    keep_recent(
        events_,
        log_event{.seq = seq, .timestamp_us = rec.timestamp_us, .tenant = rec.tenant, .note = rec.note},
        options_.recent_events);
  }

  void add_request(std::uint64_t seq, const record& rec) {
    const request_outcome outcome = outcome_of(rec);
    out_.outcomes.add(outcome);
    add_to_series(rec.timestamp_us, outcome);
    const std::string classes = joined_classes(rec.data_classes);
    const std::string& client = rec.client_country.empty() ? unknown_ : rec.client_country;
    const bool reached = reached_cluster(rec);
    const std::string& destination = outcome == request_outcome::denied      ? refused_
                                     : reached                               ? rec.cluster_country
                                     : outcome == request_outcome::permitted ? gateway_
                                                                             : not_served_;
    scratch_.assign(client).append(1, '\0').append(destination).append(1, '\0').append(classes);
    auto f = flows_.find(scratch_);
    if (f == flows_.end()) {
      f = flows_.emplace(scratch_, flow{client, destination, classes, 0}).first;
    }
    ++f->second.requests;

    auto& version = versions_[rec.policy_version];
    version.version = rec.policy_version;
    widen(version.first_us, version.last_us, version.requests++, rec.timestamp_us);
    if (!rec.policy_version.empty() && &version != in_force_) {
      ++version.periods;
      in_force_ = &version;  // unordered_map values stay where they are
    }

    auto& tenant = tenants_[rec.tenant];
    tenant.tenant = rec.tenant;
    tenant.outcomes.add(outcome);
    // A stored response read back reports the tokens of a generation its own request already
    // counted: counted once (probe round 37).
    const bool read_back = rec.note == stored_usage_note;
    tenant.prompt_tokens += read_back ? 0 : rec.prompt_tokens;
    tenant.completion_tokens += read_back ? 0 : rec.completion_tokens;
    if (tokens_estimated(rec)) {
      ++tenant.estimated_requests;
      tenant.estimated_prompt_tokens += prompt_tokens_estimated(rec) ? rec.prompt_tokens : 0;
      tenant.estimated_completion_tokens += completion_tokens_estimated(rec) ? rec.completion_tokens : 0;
    }
    tenant.classified += rec.data_classes.empty() ? 0 : 1;
    tenant.redactions = tenant.redactions.value_or(0) + rec.redactions;

    if (reached) {
      auto& c = clusters_[rec.cluster];
      c.cluster = rec.cluster;
      widen(c.first_us, c.last_us, c.requests++, rec.timestamp_us);
      observe_evidence(c, rec);
    }
    if (outcome == request_outcome::denied) {
      add_denial(seq, rec, classes);
    }
  }

  void add_denial(std::uint64_t seq, const record& rec, const std::string& classes) {
    keep_recent(denials_,
                denial{.seq = seq,
                       .timestamp_us = rec.timestamp_us,
                       .request_id = rec.request_id,
                       .tenant = rec.tenant,
                       .client_country = rec.client_country,
                       .data_classes = classes,
                       .rule_ids = rec.rule_ids,
                       .error_kind = rec.error_kind,
                       .status = rec.status},
                options_.recent_denials);
    if (!rec.error_kind.empty() && rec.error_kind != "policy_denied") {
      auto& kind = kinds_[rec.error_kind];
      kind.error_kind = rec.error_kind;
      ++kind.denials;
      kind.last_us = std::max(kind.last_us, rec.timestamp_us);
      return;
    }
    const bool by_given = !options_.policy_version.empty() && rec.policy_version == options_.policy_version;
    if (!options_.policy_version.empty() && !by_given) {
      ++out_.denials_other_versions;
    }
    const auto named = [&](const std::unordered_set<std::string>& set) {
      return std::any_of(rec.rule_ids.begin(), rec.rule_ids.end(),
                         [&](const auto& id) { return set.count(id); });
    };
    const bool forbidden = by_given && named(options_.forbid_rules);
    const bool permitted = by_given && named(options_.permit_rules);
    bool counted = false;
    for (const auto& id : rec.rule_ids) {
      const bool deciding = !by_given || unknown_rule(id) ||
                            (forbidden ? options_.forbid_rules.count(id) != 0
                                       : permitted && options_.restrict_rules.count(id) != 0);
      if (deciding) {
        scratch_.assign(id).append(1, '\0').append(1, by_given ? '1' : '0');
        auto& rule = rules_[scratch_];
        rule.rule_id = id;
        rule.by_given_policy = by_given;
        ++rule.denials;
        rule.last_us = std::max(rule.last_us, rec.timestamp_us);
        counted = true;
      }
    }
    if (!counted) {
      ++out_.default_denials;
    }
  }

  [[nodiscard]] bool unknown_rule(const std::string& id) const {
    return options_.forbid_rules.count(id) == 0 && options_.permit_rules.count(id) == 0 &&
           options_.restrict_rules.count(id) == 0;
  }

  // Keeps the `limit` newest (by time, then log position) in a heap whose top is the oldest kept.
  template <typename item_t>
  static bool newer(const item_t& a, const item_t& b) {
    return std::tie(a.timestamp_us, a.seq) > std::tie(b.timestamp_us, b.seq);
  }
  template <typename item_t>
  static void keep_recent(std::vector<item_t>& heap, item_t item, std::size_t limit) {
    if (limit == 0) {
      return;
    }
    if (heap.size() == limit && !newer(item, heap.front())) {
      return;
    }
    heap.push_back(std::move(item));
    std::push_heap(heap.begin(), heap.end(), newer<item_t>);
    if (heap.size() > limit) {
      std::pop_heap(heap.begin(), heap.end(), newer<item_t>);
      heap.pop_back();
    }
  }
  template <typename item_t>
  static std::vector<item_t> newest_first(std::vector<item_t>& heap) {
    std::sort(heap.begin(), heap.end(), newer<item_t>);
    return std::move(heap);
  }

  void add_to_series(std::uint64_t t, request_outcome outcome) {
    std::uint64_t index = t / width_us();
    if (!buckets_.empty()) {
      const std::uint64_t lo = std::min(index, buckets_.begin()->first);
      const std::uint64_t hi = std::max(index, buckets_.rbegin()->first);
      if (hi - lo + 1 > options_.max_time_buckets && width_ + 1 < bucket_widths_s.size()) {
        coarsen(t, t);
        index = t / width_us();
      }
    }
    buckets_[index].add(outcome);
  }

  // Moves to the narrowest bucket, this one or wider, in which the span from the first bucket, or
  // `lo` when earlier, to the last, or `hi` when later, fits.
  void coarsen(std::uint64_t lo, std::uint64_t hi) {
    const std::uint64_t old_width = width_us();
    const std::uint64_t lo_us = std::min(buckets_.begin()->first * old_width, lo);
    const std::uint64_t hi_us = std::max(buckets_.rbegin()->first * old_width, hi);
    while (width_ + 1 < bucket_widths_s.size() &&
           hi_us / width_us() - lo_us / width_us() + 1 > options_.max_time_buckets) {
      ++width_;
    }
    std::map<std::uint64_t, outcome_counts> merged;
    for (const auto& [index, counts] : buckets_) {
      auto& m = merged[index * old_width / width_us()];
      m.permitted += counts.permitted;
      m.denied += counts.denied;
      m.failed += counts.failed;
    }
    buckets_ = std::move(merged);
  }

  void finish_series() {
    out_.bucket_us = width_us();
    if (buckets_.empty()) {
      return;
    }
    // Over the period asked for, not only its requests' span: a monthly report whose first or
    // last days had no traffic shows them empty (probe round 39: the axis began at the first request).
    std::uint64_t lo_us = buckets_.begin()->first * width_us();
    std::uint64_t hi_us = buckets_.rbegin()->first * width_us();
    if (options_.since_us) {
      lo_us = std::min(lo_us, *options_.since_us);
    }
    if (options_.until_us && *options_.until_us > 0) {
      hi_us = std::max(hi_us, std::min(*options_.until_us - 1, options_.now_us.value_or(UINT64_MAX)));
    }
    coarsen(lo_us, hi_us);
    out_.bucket_us = width_us();
    const std::uint64_t first = lo_us / width_us();
    const std::uint64_t last = hi_us / width_us();
    out_.series.reserve(last - first + 1);
    auto it = buckets_.begin();
    for (std::uint64_t i = first; i <= last; ++i) {
      time_bucket b{.start_us = i * width_us(), .outcomes = {}};
      if (it != buckets_.end() && it->first == i) {
        b.outcomes = it->second;
        ++it;
      }
      out_.series.push_back(b);
    }
  }

  [[nodiscard]] std::uint64_t width_us() const { return bucket_widths_s[width_] * second_us; }

  const report_options& options_;
  std::uint64_t signed_bound_;
  report out_;
  const std::string unknown_ = "unknown";
  const std::string refused_ = destination_refused;
  const std::string not_served_ = destination_not_served;
  const std::string gateway_ = destination_gateway;
  std::string scratch_;
  std::unordered_map<std::string, flow> flows_;
  std::unordered_map<std::string, rule_denials> rules_;
  std::unordered_map<std::string, kind_denials> kinds_;
  std::unordered_map<std::string, policy_version_span> versions_;
  const policy_version_span* in_force_ = nullptr;  // the version of the latest request that had one
  std::unordered_map<std::string, tenant_usage> tenants_;
  std::unordered_map<std::string, cluster_evidence> clusters_;
  std::vector<denial> denials_;
  std::vector<log_event> events_;
  std::size_t width_ = 0;
  bool redactions_recorded_ = false;
  std::map<std::uint64_t, outcome_counts> buckets_;
};

}  // namespace

const char* to_string(request_outcome o) {
  switch (o) {
    case request_outcome::permitted:
      return "permitted";
    case request_outcome::denied:
      return "denied";
    case request_outcome::failed:
      return "failed";
  }
  return "failed";
}

// Denied: the policy refused the request (a denial, or an obligation the gateway could not fulfil).
// A request the policy never refused but that failed for another reason (a model no cluster
// serves, a malformed body, a cluster error) is failed, whatever its decision field says. Records
// without an error kind that say deny (or forbid, in logs written before the vocabulary was fixed)
// count as denied.
request_outcome outcome_of(const record& r) {
  if (r.error_kind == "policy_denied" || r.error_kind == "redaction_unsupported") {
    return request_outcome::denied;
  }
  if (!r.error_kind.empty()) {
    return request_outcome::failed;
  }
  return r.decision == decision_deny || r.decision == "forbid" ? request_outcome::denied
                                                               : request_outcome::permitted;
}

bool reached_cluster(const record& r) {
  // Ended well (answered by the cluster: the gateway answers no request with a cluster itself), or
  // in an error only a cluster that was sent the request causes.
  static constexpr std::array<std::string_view, 7> after_sending = {"",
                                                                    "upstream_timeout",
                                                                    "upstream_reset",
                                                                    "upstream_protocol",
                                                                    "upstream_reset_mid_body",
                                                                    "upstream_stream_timeout",
                                                                    "upstream_bad_chunking"};
  return outcome_of(r) != request_outcome::denied &&
         (!r.endpoint.empty() || (!r.cluster.empty() && std::find(after_sending.begin(), after_sending.end(),
                                                                  r.error_kind) != after_sending.end()));
}

void outcome_counts::add(request_outcome o) {
  switch (o) {
    case request_outcome::permitted:
      ++permitted;
      break;
    case request_outcome::denied:
      ++denied;
      break;
    case request_outcome::failed:
      ++failed;
      break;
  }
}

report build_report(const store& s, const crypto::note_verifier& key, const report_options& options) {
  // The newest checkpoint's size, stored or held, read before the pass: what it covers is what the
  // aggregates may count. (Whether it verifies is the verification's verdict, shown above them.)
  // A read failure is the verification's to report (red, figures unvouched): aggregate everything.
  // A checkpoint kept outside the log that covers more records than the log holds cannot be
  // reproduced (records were deleted, or the copy is older than it): it vouches for none of them,
  // so the records past the stored checkpoints stay unsigned, as the verification counts them.
  const result<std::uint64_t> newest = s.newest_checkpoint_size();
  const result<std::uint64_t> leaves = s.leaf_count();
  std::uint64_t signed_bound = newest.is_ok() ? newest.value() : UINT64_MAX;
  for (const crypto::checkpoint& held : options.verify.held) {
    if (!leaves.is_ok() || held.size <= leaves.value()) {
      signed_bound = std::max(signed_bound, held.size);
    }
  }
  aggregator agg(options, signed_bound);
  return agg.finish(verify_log(s, key, options.verify,
                               [&agg](std::uint64_t seq, std::span<const std::uint8_t> leaf,
                                      const record* decoded) { agg.add_leaf(seq, leaf, decoded); }));
}

report missing_store_report(const report_options& options, verify_report verification) {
  aggregator agg(options, 0);
  return agg.finish(std::move(verification));
}

}  // namespace sovgw::audit
