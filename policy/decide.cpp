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
  std::vector<std::uint64_t> ip;
};

scratch_area& scratch(std::size_t words) {
  thread_local scratch_area area;
  if (area.model.size() < words) {
    area.model.resize(words);
    area.path.resize(words);
    area.data_class.resize(words);
    area.tmp.resize(words);
    area.ip.resize(words);
  }
  return area;
}

// One attribute's candidate rules: the OR of a few pool sets (the value's set, plus matching globs or
// data classes), evaluated word by word so nothing is copied on the hot path.
struct attr_source {
  static constexpr unsigned max_parts = 8;
  const std::uint64_t* parts[max_parts];
  unsigned n = 0;
  std::uint32_t id = bitset_pool::dense;  // pool id when a single pool set

  void set(const bitset_pool& pool, std::uint32_t set_id) {
    parts[0] = pool.get(set_id);
    n = 1;
    id = set_id;
  }
  // Adds a set to the OR; past max_parts the OR is materialised into `buffer`.
  void add(const bitset_pool& pool, std::uint32_t set_id, std::vector<std::uint64_t>& buffer) {
    if (n < max_parts) {
      parts[n++] = pool.get(set_id);
      id = bitset_pool::dense;
      return;
    }
    materialise(pool.words, buffer);
    const std::uint64_t* extra = pool.get(set_id);
    for (std::size_t w = 0; w < pool.words; ++w) {
      buffer[w] |= extra[w];
    }
  }
  void materialise(std::size_t words, std::vector<std::uint64_t>& buffer) {
    if (n == 1) {
      return;
    }
    for (std::size_t w = 0; w < words; ++w) {
      std::uint64_t v = 0;
      for (unsigned i = 0; i < n; ++i) {
        v |= parts[i][w];
      }
      buffer[w] = v;
    }
    parts[0] = buffer.data();
    n = 1;
  }
  [[nodiscard]] std::uint64_t word(std::size_t w) const noexcept {
    std::uint64_t v = parts[0][w];
    for (unsigned i = 1; i < n; ++i) {
      v |= parts[i][w];
    }
    return v;
  }
};

void string_source(const compiled_policy& p, const string_index& index, std::string_view value,
                   std::vector<std::uint64_t>& buffer, attr_source& out) {
  if (const auto it = index.exact.find(value); it != index.exact.end()) {
    out.set(p.pool, it->second);
    return;
  }
  out.set(p.pool, index.other);
  for (std::size_t g = 0; g < index.globs.size(); ++g) {
    if (index.globs[g].matches(value)) {
      out.add(p.pool, index.glob_sets[g], buffer);
    }
  }
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

bool serves_model(std::span<const std::string> models, std::string_view model) noexcept {
  return model.empty() || std::any_of(models.begin(), models.end(),
                                      [&](const std::string& m) { return glob_or_exact_match(m, model); });
}

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
    return countries->test(id ? *id : country_unknown);
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
    if (!id || *id >= country_private || !route.countries->test(*id)) {
      return false;
    }
  }
  if (route.constrained[2] &&
      std::find(route.regions.begin(), route.regions.end(), cluster.region) == route.regions.end()) {
    return false;
  }
  if (route.constrained[3]) {
    const country_set j = jurisdiction_of(cluster.operator_jurisdiction);
    if (j.none() || (j & ~*route.jurisdictions).any()) {
      return false;
    }
  }
  return true;
}

bool compiled_policy::permit_on_declaration(std::string_view data_class) const {
  const auto it = data_class_index.find(data_class);
  return it != data_class_index.end() && data_class_permit_on_declaration[it->second] != 0;
}

request_attributes request_values::view(std::vector<std::string_view>& class_storage) const {
  class_storage.assign(declared_classes.begin(), declared_classes.end());
  class_storage.insert(class_storage.end(), detected_classes.begin(), detected_classes.end());
  const std::span<const std::string_view> all(class_storage);
  return {client_country,
          client_ip,
          tenant,
          model,
          path,
          method,
          all.first(declared_classes.size()),
          all.subspan(declared_classes.size()),
          {}};
}

std::vector<std::string_view> obligations::redact_names() const { return detector_names(redact); }

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

std::string_view snapshot::data_class_for_header(std::string_view header_value) const noexcept {
  const auto& headers = compiled_->data_class_headers;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (headers[i] == header_value) {
      return compiled_->data_class_names[i];
    }
  }
  return {};
}

std::span<const std::string> snapshot::data_class_names() const noexcept {
  return compiled_->data_class_names;
}

std::span<const std::string> snapshot::data_class_headers() const noexcept {
  return compiled_->data_class_headers;
}

std::uint32_t snapshot::redact_detectors() const noexcept {
  std::uint32_t out = 0;
  for (const compiled_rule& r : compiled_->rules) {
    out |= r.duties.redact;
  }
  return out;
}

std::uint32_t snapshot::data_class_detectors(std::string_view data_class) const noexcept {
  const auto it = compiled_->data_class_index.find(data_class);
  return it == compiled_->data_class_index.end() ? 0 : compiled_->data_class_detectors[it->second];
}

std::size_t snapshot::memory_bytes() const noexcept {
  const auto& p = *compiled_;
  std::size_t bytes =
      sizeof(p) + p.pool.bits.size() * 8 + p.ip_v4.starts.size() * 8 + p.ip_v6.starts.size() * 20;
  for (const auto& r : p.rules) {
    bytes += sizeof(r) + r.id.size() + r.reason.size();
    for (const auto& c : r.when) {
      bytes += c.exact.size() * 40 + c.globs.size() * 72 + c.cidrs.size() * sizeof(cidr_block) +
               c.written.size() * 40 + c.positions.size() * sizeof(source_pos);
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

// Matches the rules and settles forbid / default deny; returns true when the request is permitted
// and the route still has to be decided.
//
// A rule's `log_payload` keeps less of the request in the audit log: a client's declaration, which
// makes restrict rules match so that it can make its own request stricter, must not also switch
// off the recording of its prompt. So that obligation counts only from a rule the request
// matches without its declared classes (one that does not constrain data.class, or lists a
// detected class); matched rules passed the other attributes already.
namespace {
bool matches_undeclared(const compiled_policy& p, const request_attributes& request, std::uint32_t rule) {
  if (request.declared_classes.empty()) {
    return true;
  }
  const auto position =
      static_cast<std::size_t>(std::find(p.rule_at.begin(), p.rule_at.end(), rule) - p.rule_at.begin());
  const auto holds = [&](std::uint32_t set) {
    return ((p.pool.get(set)[position / 64] >> (position % 64)) & 1) != 0;
  };
  if (holds(p.data_class_any)) {
    return true;
  }
  return std::any_of(request.detected_classes.begin(), request.detected_classes.end(),
                     [&](std::string_view c) {
                       const auto it = p.data_class_index.find(c);
                       return it != p.data_class_index.end() && holds(p.data_class_sets[it->second]);
                     });
}
}  // namespace

bool snapshot::match_rules(const request_attributes& request, decision& out) const {
  const compiled_policy& p = *compiled_;
  const std::size_t words = p.pool.words;
  scratch_area& area = scratch(words);

  out.matched_rules.clear();
  out.allowed_clusters.clear();
  out.duties = {};
  out.nearest_permit = no_rule;
  out.policy_version = p.version;

  const auto country = pack_country(request.client_country);
  attr_source src[attribute_count];
  src[0].set(p.pool, p.country_index[country ? *country : country_unknown]);
  src[1].set(p.pool, !request.client_ip ? p.ip_absent
                     : request.client_ip->v4
                         ? p.ip_v4.find(static_cast<std::uint32_t>(request.client_ip->value))
                         : p.ip_v6.find(request.client_ip->value));
  if (request.client_ip && !request.client_ip->v4) {
    // An IPv6 address that carries an IPv4 one (6to4, Teredo, NAT64, SIIT, IPv4-compatible) is
    // that IPv4 host too, as geo_db locates it: a client.ip block written in IPv4 matches it
    // (probe round 38: a forbid on 2.2.2.0/24 let 2002:202:202::1 through).
    const embedded_ipv4 e = find_embedded_ipv4(*request.client_ip);
    for (unsigned i = 0; i < e.count; ++i) {
      src[1].add(p.pool, p.ip_v4.find(e.candidates[i]), area.ip);
    }
  }
  string_source(p, p.tenant, request.tenant, area.tmp, src[2]);
  string_source(p, p.model, request.model, area.model, src[3]);
  string_source(p, p.path, request.path, area.path, src[4]);
  string_source(p, p.method, request.method, area.tmp, src[5]);
  src[6].set(p.pool, p.data_class_any);
  for (const auto& name : request.detected_classes) {
    if (const auto it = p.data_class_index.find(name); it != p.data_class_index.end()) {
      src[6].add(p.pool, p.data_class_sets[it->second], area.data_class);
    }
  }
  for (const auto& name : request.declared_classes) {
    if (const auto it = p.data_class_index.find(name); it != p.data_class_index.end()) {
      src[6].add(p.pool, p.data_class_declared_sets[it->second], area.data_class);
    }
  }

  // Drive the AND from the sparsest single set (typically the tenant's), touching only its words.
  const std::uint32_t* driver = nullptr;
  std::uint32_t driver_size = static_cast<std::uint32_t>(words);
  for (const auto& a : src) {
    if (a.id != bitset_pool::dense && p.pool.sparse_begin[a.id] != bitset_pool::dense &&
        p.pool.sparse_size[a.id] < driver_size) {
      driver = p.pool.sparse_words.data() + p.pool.sparse_begin[a.id];
      driver_size = p.pool.sparse_size[a.id];
    }
  }
  bool forbidden = false;
  bool permitted = false;
  const auto collect = [&](std::size_t w) {
    std::uint64_t m = ~std::uint64_t{0};
    for (std::size_t a = 0; a < attribute_count && m; ++a) {
      m &= src[a].word(w);
    }
    while (m) {
      const auto r = p.rule_at[w * 64 + static_cast<unsigned>(std::countr_zero(m))];
      m &= m - 1;
      out.matched_rules.push_back(r);
      forbidden = forbidden || p.effects[r] == rule_effect::forbid;
      permitted = permitted || p.effects[r] == rule_effect::permit;
    }
  };
  if (driver) {
    for (std::uint32_t i = 0; i < driver_size; ++i) {
      collect(driver[i]);
    }
  } else {
    for (std::size_t w = 0; w < words; ++w) {
      collect(w);
    }
  }
  std::sort(out.matched_rules.begin(), out.matched_rules.end());

  out.result = effect::deny;
  if (forbidden) {
    out.cause = deny_cause::forbidden;
    for (const auto r : out.matched_rules) {
      if (p.effects[r] == rule_effect::forbid) {
        out.reason = p.rules[r].reason;
        break;
      }
    }
    return false;
  }
  if (!permitted) {
    out.cause = deny_cause::no_permit;
    out.reason = no_permit_reason;
    src[3].materialise(words, area.model);
    src[4].materialise(words, area.path);
    src[6].materialise(words, area.data_class);
    const std::uint64_t* bits[attribute_count];
    for (std::size_t a = 0; a < attribute_count; ++a) {
      bits[a] = src[a].parts[0];
    }
    find_nearest_permit(p, bits, out);
    return false;
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
    if (rule.duties.log != log_payload::unset && matches_undeclared(p, request, r)) {
      out.duties.log = std::max(out.duties.log, rule.duties.log);
    }
  }
  return true;
}

void snapshot::decide(const request_attributes& request, std::span<const cluster_info> clusters,
                      decision& out) const {
  if (!match_rules(request, out) || clusters.empty()) {
    return;
  }
  const compiled_policy& p = *compiled_;
  for (std::uint32_t c = 0; c < clusters.size(); ++c) {
    const auto& cluster = clusters[c];
    if (!serves_model(cluster.models, request.model_served())) {
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
  settle_route(out);
}

void snapshot::decide(const request_attributes& request, const bound_clusters& clusters,
                      decision& out) const {
  if (clusters.version_ != compiled_->version) {
    decide(request, std::span<const cluster_info>(clusters.clusters_), out);  // bound to another snapshot
    return;
  }
  if (!match_rules(request, out) || clusters.clusters_.empty()) {
    return;
  }
  const std::size_t cw = clusters.words_;
  std::uint64_t* allowed = scratch(compiled_->pool.words + cw).tmp.data();
  for (std::size_t w = 0; w < cw; ++w) {
    allowed[w] = 0;
  }
  for (std::size_t i = 0; i < clusters.model_patterns_.size(); ++i) {
    const std::uint32_t c = clusters.pattern_cluster_[i];
    const std::uint64_t bit = std::uint64_t{1} << (c % 64);
    if (!(allowed[c / 64] & bit) &&
        (request.model_served().empty() || clusters.model_patterns_[i].matches(request.model_served()))) {
      allowed[c / 64] |= bit;
    }
  }
  for (const auto r : out.matched_rules) {
    if (compiled_->effects[r] == rule_effect::restrict) {
      const std::uint64_t* admitted = clusters.admitted_.data() + clusters.restrict_slot_[r] * cw;
      for (std::size_t w = 0; w < cw; ++w) {
        allowed[w] &= admitted[w];
      }
    }
  }
  for (std::size_t w = 0; w < cw; ++w) {
    for (std::uint64_t m = allowed[w]; m; m &= m - 1) {
      out.allowed_clusters.push_back(
          static_cast<std::uint32_t>(w * 64 + static_cast<unsigned>(std::countr_zero(m))));
    }
  }
  settle_route(out);
}

void snapshot::settle_route(decision& out) noexcept {
  if (out.allowed_clusters.empty()) {
    out.result = effect::deny;
    out.cause = deny_cause::no_cluster;
    out.reason = no_cluster_reason;
  }
}

// Nearest permit: the permit rule failing the fewest attributes (earliest on ties). Failure counts
// for 64 rules at a time are kept bit-sliced (three bit planes), so this costs a few operations per
// word instead of a loop over every rule.
void snapshot::find_nearest_permit(const compiled_policy& p, const std::uint64_t* const* bits,
                                   decision& out) {
  const std::uint64_t* permits = p.pool.get(p.permit_mask);
  const auto counts = [&](std::size_t w, std::uint64_t planes[3]) {
    planes[0] = planes[1] = planes[2] = 0;
    for (std::size_t a = 0; a < attribute_count; ++a) {
      const std::uint64_t fail = ~bits[a][w];
      const std::uint64_t c0 = planes[0] & fail;
      planes[0] ^= fail;
      const std::uint64_t c1 = planes[1] & c0;
      planes[1] ^= c0;
      planes[2] ^= c1;
    }
  };
  const auto with_count = [](const std::uint64_t planes[3], unsigned k) {
    return ((k & 1) ? planes[0] : ~planes[0]) & ((k & 2) ? planes[1] : ~planes[1]) &
           ((k & 4) ? planes[2] : ~planes[2]);
  };
  unsigned best = attribute_count + 1;
  for (std::size_t w = 0; w < p.pool.words && best > 1; ++w) {
    if (!permits[w]) {
      continue;
    }
    std::uint64_t planes[3];
    counts(w, planes);
    for (unsigned k = 1; k < best; ++k) {
      if (permits[w] & with_count(planes, k)) {
        best = k;
        break;
      }
    }
  }
  std::uint32_t best_rule = no_rule;
  std::uint32_t best_position = 0;
  for (std::size_t w = 0; w < p.pool.words && best <= attribute_count; ++w) {
    if (!permits[w]) {
      continue;
    }
    std::uint64_t planes[3];
    counts(w, planes);
    for (std::uint64_t m = permits[w] & with_count(planes, best); m; m &= m - 1) {
      const auto position = static_cast<std::uint32_t>(w * 64 + static_cast<unsigned>(std::countr_zero(m)));
      if (p.rule_at[position] < best_rule) {
        best_rule = p.rule_at[position];
        best_position = position;
      }
    }
  }
  out.nearest_permit = best_rule;
  if (best_rule == no_rule) {
    return;
  }
  for (std::size_t a = 0; a < attribute_count; ++a) {
    if (!test_bit(bits[a], best_position)) {
      out.failed_attribute = static_cast<attribute>(a);
      return;
    }
  }
}

bound_clusters::bound_clusters(const snapshot& policy, std::vector<cluster_info> clusters)
    : version_(policy.version()), clusters_(std::move(clusters)), words_((clusters_.size() + 63) / 64) {
  const compiled_policy& p = policy.compiled();
  for (std::uint32_t c = 0; c < clusters_.size(); ++c) {
    for (const auto& m : clusters_[c].models) {
      model_patterns_.emplace_back(m);
      pattern_cluster_.push_back(c);
    }
  }
  restrict_slot_.assign(p.rules.size(), 0);
  std::size_t slots = 0;
  for (std::uint32_t r = 0; r < p.rules.size(); ++r) {
    if (p.effects[r] != rule_effect::restrict) {
      continue;
    }
    restrict_slot_[r] = static_cast<std::uint32_t>(slots++);
    admitted_.resize(slots * words_, 0);
    std::uint64_t* mask = admitted_.data() + (slots - 1) * words_;
    for (std::uint32_t c = 0; c < clusters_.size(); ++c) {
      if (p.route_admits(p.rules[r].route, clusters_[c])) {
        mask[c / 64] |= std::uint64_t{1} << (c % 64);
      }
    }
  }
}

}  // namespace sovgw::policy
