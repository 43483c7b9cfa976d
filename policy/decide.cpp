#include <algorithm>
#include <bit>

#include "policy/compiled_policy.hpp"
#include "policy/policy.hpp"

namespace sovgw::policy {
namespace {

constexpr std::string_view no_permit_reason = "no permit rule matched the request (default deny)";
constexpr std::string_view no_cluster_reason = "no cluster serves the model within the allowed route";

struct scratch_area {
  std::vector<std::uint64_t> model;
  std::vector<std::uint64_t> path;
  std::vector<std::uint64_t> data_class;
  std::vector<std::uint64_t> tmp;
};

scratch_area& scratch(std::size_t words) {
  thread_local scratch_area area;
  if (area.model.size() < words) {
    area.model.resize(words);
    area.path.resize(words);
    area.data_class.resize(words);
    area.tmp.resize(words);
  }
  return area;
}

const std::uint64_t* string_bits(const compiled_policy& p, const string_index& index, std::string_view value,
                                 std::vector<std::uint64_t>& buffer) {
  if (const auto it = index.exact.find(value); it != index.exact.end()) {
    return p.pool.get(it->second);
  }
  const std::uint64_t* other = p.pool.get(index.other);
  bool copied = false;
  for (std::size_t g = 0; g < index.globs.size(); ++g) {
    if (!index.globs[g].matches(value)) {
      continue;
    }
    if (!copied) {
      std::copy(other, other + p.pool.words, buffer.begin());
      copied = true;
    }
    const std::uint64_t* extra = p.pool.get(index.glob_sets[g]);
    for (std::size_t w = 0; w < p.pool.words; ++w) {
      buffer[w] |= extra[w];
    }
  }
  return copied ? buffer.data() : other;
}

bool test_bit(const std::uint64_t* bits, std::uint32_t r) { return (bits[r / 64] >> (r % 64)) & 1u; }

}  // namespace

template <typename key_t>
std::uint32_t prefix_table<key_t>::find(key_t key) const noexcept {
  const auto it = std::upper_bound(starts.begin(), starts.end(), key);
  return sets[static_cast<std::size_t>(it - starts.begin() - 1)];
}
template struct prefix_table<std::uint32_t>;
template struct prefix_table<u128>;

bool glob_or_exact_match(std::string_view pattern, std::string_view text) noexcept {
  if (!glob_pattern::is_glob(pattern)) {
    return pattern == text;
  }
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool resolved_condition::admits_string(attribute attr, std::string_view value) const {
  if (!constrained) {
    return true;
  }
  if (attr == attribute::client_country) {
    const auto id = pack_country(value);
    return countries.test(id ? *id : country_unknown);
  }
  if (std::find(exact.begin(), exact.end(), value) != exact.end()) {
    return true;
  }
  return std::any_of(globs.begin(), globs.end(), [&](const glob_pattern& g) { return g.matches(value); });
}

country_set compiled_policy::jurisdiction_of(std::string_view text) const {
  if (const auto it = country_sets.find(text); it != country_sets.end()) {
    return it->second;
  }
  country_set out;
  if (const auto id = pack_country(text); id && is_assigned_country(*id)) {
    out.set(*id);
  }
  return out;
}

bool compiled_policy::route_admits(const resolved_route& route, const cluster_info& cluster) const {
  if (route.constrained[0] &&
      std::find(route.clusters.begin(), route.clusters.end(), cluster.name) == route.clusters.end()) {
    return false;
  }
  if (route.constrained[1]) {
    const auto id = pack_country(cluster.country);
    if (!id || *id >= country_private || !route.countries.test(*id)) {
      return false;
    }
  }
  if (route.constrained[2] &&
      std::find(route.regions.begin(), route.regions.end(), cluster.region) == route.regions.end()) {
    return false;
  }
  if (route.constrained[3]) {
    const country_set j = jurisdiction_of(cluster.operator_jurisdiction);
    if (j.none() || (j & ~route.jurisdictions).any()) {
      return false;
    }
  }
  return true;
}

request_attributes request_values::view(std::vector<std::string_view>& class_storage) const {
  class_storage.assign(data_classes.begin(), data_classes.end());
  return {client_country, client_ip, tenant, model, path, method, class_storage};
}

std::vector<std::string_view> obligations::redact_names() const {
  std::vector<std::string_view> out;
  for (unsigned i = 0; i < known_detectors().size(); ++i) {
    if (redact & (1u << i)) {
      out.push_back(known_detectors()[i]);
    }
  }
  return out;
}

std::string_view deny_cause_name(deny_cause c) noexcept {
  switch (c) {
    case deny_cause::none:
      return "none";
    case deny_cause::forbidden:
      return "forbidden";
    case deny_cause::no_permit:
      return "no_permit";
    case deny_cause::no_cluster:
      return "no_cluster";
  }
  return "?";
}

snapshot::snapshot(std::unique_ptr<const compiled_policy> compiled) : compiled_(std::move(compiled)) {}
snapshot::~snapshot() = default;

const std::string& snapshot::version() const noexcept { return compiled_->version; }
std::size_t snapshot::rule_count() const noexcept { return compiled_->rules.size(); }
std::string_view snapshot::rule_id(std::uint32_t index) const noexcept { return compiled_->rules[index].id; }

std::size_t snapshot::memory_bytes() const noexcept {
  const auto& p = *compiled_;
  std::size_t bytes =
      sizeof(p) + p.pool.bits.size() * 8 + p.ip_v4.starts.size() * 8 + p.ip_v6.starts.size() * 20;
  for (const auto& r : p.rules) {
    bytes += sizeof(r) + r.id.size() + r.reason.size();
    for (const auto& c : r.when) {
      bytes += c.exact.size() * 40 + c.globs.size() * 72 + c.cidrs.size() * sizeof(cidr_block) +
               c.written.size() * 40;
    }
  }
  for (const auto* index : {&p.tenant, &p.model, &p.path, &p.method}) {
    bytes += index->exact.size() * 64 + index->globs.size() * 72;
  }
  return bytes;
}

decision snapshot::decide(const request_attributes& request, std::span<const cluster_info> clusters) const {
  decision out;
  decide(request, clusters, out);
  return out;
}

void snapshot::decide(const request_attributes& request, std::span<const cluster_info> clusters,
                      decision& out) const {
  const compiled_policy& p = *compiled_;
  const std::size_t words = p.pool.words;
  scratch_area& area = scratch(words);

  out.matched_rules.clear();
  out.allowed_clusters.clear();
  out.duties = {};
  out.nearest_permit = no_rule;
  out.policy_version = p.version;

  const auto country = pack_country(request.client_country);
  const std::uint64_t* bits[attribute_count];
  bits[0] = p.pool.get(p.country_index[country ? *country : country_unknown]);
  bits[1] = !request.client_ip ? p.pool.get(p.ip_absent)
            : request.client_ip->v4
                ? p.pool.get(p.ip_v4.find(static_cast<std::uint32_t>(request.client_ip->value)))
                : p.pool.get(p.ip_v6.find(request.client_ip->value));
  bits[2] = string_bits(p, p.tenant, request.tenant, area.tmp);
  bits[3] = string_bits(p, p.model, request.model, area.model);
  bits[4] = string_bits(p, p.path, request.path, area.path);
  bits[5] = string_bits(p, p.method, request.method, area.tmp);
  {
    const std::uint64_t* any = p.pool.get(p.data_class_any);
    bool copied = false;
    for (const auto& name : request.data_classes) {
      const auto it = p.data_class_index.find(name);
      if (it == p.data_class_index.end()) {
        continue;
      }
      if (!copied) {
        std::copy(any, any + words, area.data_class.begin());
        copied = true;
      }
      const std::uint64_t* extra = p.pool.get(p.data_class_sets[it->second]);
      for (std::size_t w = 0; w < words; ++w) {
        area.data_class[w] |= extra[w];
      }
    }
    bits[6] = copied ? area.data_class.data() : any;
  }

  bool forbidden = false;
  bool permitted = false;
  for (std::size_t w = 0; w < words; ++w) {
    std::uint64_t m =
        bits[0][w] & bits[1][w] & bits[2][w] & bits[3][w] & bits[4][w] & bits[5][w] & bits[6][w];
    while (m) {
      const auto r = static_cast<std::uint32_t>(w * 64 + static_cast<unsigned>(std::countr_zero(m)));
      m &= m - 1;
      out.matched_rules.push_back(r);
      forbidden = forbidden || p.effects[r] == rule_effect::forbid;
      permitted = permitted || p.effects[r] == rule_effect::permit;
    }
  }

  out.result = effect::deny;
  if (forbidden) {
    out.cause = deny_cause::forbidden;
    for (const auto r : out.matched_rules) {
      if (p.effects[r] == rule_effect::forbid) {
        out.reason = p.rules[r].reason;
        break;
      }
    }
    return;
  }
  if (!permitted) {
    out.cause = deny_cause::no_permit;
    out.reason = no_permit_reason;
    // Nearest permit: first try rules that fail exactly one attribute (bitwise), else count per rule.
    const std::uint64_t* permits = p.pool.get(p.permit_mask);
    for (std::size_t w = 0; w < words && out.nearest_permit == no_rule; ++w) {
      for (std::size_t a = 0; a < attribute_count; ++a) {
        std::uint64_t m = permits[w];
        for (std::size_t b = 0; b < attribute_count; ++b) {
          m &= b == a ? ~bits[b][w] : bits[b][w];
        }
        if (m) {
          const auto r = static_cast<std::uint32_t>(w * 64 + static_cast<unsigned>(std::countr_zero(m)));
          if (r < out.nearest_permit) {
            out.nearest_permit = r;
            out.failed_attribute = static_cast<attribute>(a);
          }
        }
      }
    }
    if (out.nearest_permit == no_rule) {
      std::size_t best = attribute_count + 1;
      for (std::uint32_t r = 0; r < p.rules.size(); ++r) {
        if (p.effects[r] != rule_effect::permit) {
          continue;
        }
        std::size_t fails = 0;
        std::size_t first = attribute_count;
        for (std::size_t a = 0; a < attribute_count; ++a) {
          if (!test_bit(bits[a], r)) {
            ++fails;
            first = std::min(first, a);
          }
        }
        if (fails < best) {
          best = fails;
          out.nearest_permit = r;
          out.failed_attribute = static_cast<attribute>(first);
        }
      }
    }
    return;
  }

  out.cause = deny_cause::none;
  out.result = effect::permit;
  out.reason = {};
  for (const auto r : out.matched_rules) {
    const auto& rule = p.rules[r];
    if (out.reason.empty() && rule.effect == rule_effect::permit) {
      out.reason = rule.reason;
    }
    out.duties.redact |= rule.duties.redact;
    out.duties.log = std::max(out.duties.log, rule.duties.log);
  }
  if (clusters.empty()) {
    return;
  }
  for (std::uint32_t c = 0; c < clusters.size(); ++c) {
    const auto& cluster = clusters[c];
    const bool serves = std::any_of(cluster.models.begin(), cluster.models.end(), [&](const std::string& m) {
      return glob_or_exact_match(m, request.model);
    });
    if (!serves) {
      continue;
    }
    bool admitted = true;
    for (const auto r : out.matched_rules) {
      if (p.effects[r] == rule_effect::restrict && !p.route_admits(p.rules[r].route, cluster)) {
        admitted = false;
        break;
      }
    }
    if (admitted) {
      out.allowed_clusters.push_back(c);
    }
  }
  if (out.allowed_clusters.empty()) {
    out.result = effect::deny;
    out.cause = deny_cause::no_cluster;
    out.reason = no_cluster_reason;
  }
}

}  // namespace sovgw::policy
