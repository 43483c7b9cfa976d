#include "gateway/pipeline.hpp"

#include <fmt/format.h>

#include <boost/json/basic_parser_impl.hpp>

#include "gateway/detectors.hpp"
#include "gateway/log.hpp"
#include "policy/countries.hpp"
#include "policy/diagnostics.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::gateway {

pipeline::pipeline(std::shared_ptr<const config> cfg) : cfg_(std::move(cfg)) {
  (void)audit::parse_payload_mode(cfg_->audit_payload, audit_payload_);  // validated by the config parser
  for (const cluster_config& c : cfg_->clusters) {
    models_.emplace_back(c.models.begin(), c.models.end());
    cluster_infos_.push_back({c.name, c.country, c.region, c.operator_jurisdiction, c.models});
  }
  if (cfg_->policy_file.empty()) {
    return;
  }
  geo_ = std::make_unique<policy::geo_db>(policy::geo_db::load_default());
  if (std::string errors = reload_policy(); !errors.empty()) {
    throw std::runtime_error(errors);
  }
}

std::string pipeline::reload_policy() {
  if (cfg_->policy_file.empty()) {
    return {};
  }
  policy::reload_result r = store_.reload(cfg_->policy_file);
  if (!r.ok) {
    return policy::format_diagnostics(r.diagnostics);
  }
  std::shared_ptr<const policy::snapshot> snap = store_.current();
  auto b = std::make_shared<binding>(binding{snap, policy::bound_clusters(*snap, cluster_infos_), {}, 0, 0});
  b->redactors = snap->redact_detectors();
  std::uint32_t missing = b->redactors & ~implemented_detectors();
  for (std::string_view name : snap->data_class_names()) {
    if (const std::uint32_t d = snap->data_class_detectors(name); d != 0) {
      b->detected_classes.emplace_back(name, d);
      b->detectors |= d;
      missing |= d & ~implemented_detectors();
    }
  }
  binding_.store(std::shared_ptr<const binding>(std::move(b)));
  // Say which detectors the policy names but the gateway lacks, rather than let them never fire.
  if (missing != 0) {
    log_line("warn", "the policy names detectors this gateway does not implement yet; they never fire")
        .str("detectors", fmt::format("{}", fmt::join(policy::detector_names(missing), ", ")))
        .emit();
  }
  return {};
}

std::string pipeline::policy_version() const {
  std::shared_ptr<const binding> b = binding_.load();
  return b ? b->policy->version() : std::string();
}

stage_result pipeline::identify(request_context& ctx) const {
  if (!ctx.client_certificate_cn.empty()) {
    ctx.tenant = ctx.client_certificate_cn;
  }
  if (geo_) {
    if (std::optional<policy::ip_address> ip = policy::parse_ip(ctx.client_ip)) {
      ctx.client_country = policy::country_name(geo_->lookup(*ip));
      ctx.client_country_source = "geoip:socket";
    }
  }
  return stage_result::next();
}

namespace {

// SAX handler for the OpenAI request body: validates the whole document but keeps only the
// top-level "model" string and "stream" flag, without building a DOM (3x cheaper on a 1 KiB body).
class openai_fields {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  using error_code = boost::system::error_code;
  using sv = boost::json::string_view;

  openai_fields(std::string* model, bool* stream) : model_(model), stream_(stream) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { return open(); }
  bool on_array_end(std::size_t, error_code&) { return close(); }
  bool on_object_begin(error_code&) { return open(); }
  bool on_object_end(std::size_t, error_code&) { return close(); }
  bool on_string_part(sv s, std::size_t, error_code&) {
    if (pending_ == field::model) {
      part_.append(s.data(), s.size());
    }
    return true;
  }
  bool on_string(sv s, std::size_t, error_code&) {
    if (pending_ == field::model) {
      part_.append(s.data(), s.size());
      model_->swap(part_);
    }
    part_.clear();
    return value();
  }
  bool on_key_part(sv s, std::size_t, error_code&) {
    if (depth_ == 1) {
      key_.append(s.data(), s.size());
    }
    return true;
  }
  bool on_key(sv s, std::size_t, error_code&) {
    if (depth_ == 1) {
      key_.append(s.data(), s.size());
      pending_ = key_ == "model" ? field::model : key_ == "stream" ? field::stream : field::none;
      key_.clear();
    }
    return true;
  }
  bool on_number_part(sv, error_code&) { return true; }
  bool on_int64(std::int64_t, sv, error_code&) { return value(); }
  bool on_uint64(std::uint64_t, sv, error_code&) { return value(); }
  bool on_double(double, sv, error_code&) { return value(); }
  bool on_bool(bool b, error_code&) {
    if (pending_ == field::stream) {
      *stream_ = b;
    }
    return value();
  }
  bool on_null(error_code&) { return value(); }
  bool on_comment_part(sv, error_code&) { return true; }
  bool on_comment(sv, error_code&) { return true; }

 private:
  enum class field : std::uint8_t { none, model, stream };
  bool open() {
    ++depth_;
    pending_ = field::none;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool value() {
    pending_ = field::none;
    return true;
  }

  std::string* model_;
  bool* stream_;
  int depth_ = 0;
  field pending_ = field::none;
  std::string key_;
  std::string part_;
};

}  // namespace

stage_result pipeline::classify(request_context& ctx) const {
  if (ctx.body.empty()) {
    return stage_result::next();
  }
  const http::field* type = ctx.head.find("content-type");
  if (type == nullptr || type->value.find("json") == std::string_view::npos) {
    return stage_result::next();
  }
  boost::json::basic_parser<openai_fields> parser(boost::json::parse_options{}, &ctx.model, &ctx.stream);
  boost::system::error_code ec;
  std::size_t used = parser.write_some(false, ctx.body.data(), ctx.body.size(), ec);
  if (!ec && (used != ctx.body.size() || !parser.done())) {
    ec = boost::json::error::extra_data;
  }
  if (ec) {
    ctx.model.clear();
    ctx.stream = false;
    return stage_result::respond(400, "invalid_request_error", "invalid_json",
                                 fmt::format("request body is not valid JSON: {}", ec.message()));
  }
  return stage_result::next();
}

namespace {

// The data classes a request declares in `Sovereign-Data-Class` fields: comma-separated values
// (tokens or quoted strings), each one a class's `header` value in the policy. An unknown value is
// an error: a client that labels its data must not have the label silently dropped.
stage_result declared_data_classes(const http::message_head& head, const policy::snapshot& p,
                                   std::vector<std::string>& out) {
  out.clear();
  for (const http::field& f : head.fields) {
    if (!http::iequals(f.name, data_class_header)) {
      continue;
    }
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
        item.remove_prefix(1);
      }
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
        item.remove_suffix(1);
      }
      if (item.size() >= 2 && item.front() == '"' && item.back() == '"') {
        item = item.substr(1, item.size() - 2);
      }
      if (item.empty()) {
        continue;
      }
      const std::string_view name = p.data_class_for_header(item);
      if (name.empty()) {
        const auto declared = p.data_class_headers();
        return stage_result::respond(
            400, "invalid_request_error", "unknown_data_class",
            fmt::format("{}: '{}' is not a data class of the policy (declared: {})", data_class_header, item,
                        declared.empty() ? std::string("none") : fmt::format("{}", fmt::join(declared, ", "))));
      }
      if (std::find(out.begin(), out.end(), name) == out.end()) {
        out.emplace_back(name);
      }
    }
  }
  return stage_result::next();
}

}  // namespace

stage_result pipeline::decide_with_policy(request_context& ctx, const binding& b) const {
  static thread_local policy::decision d;
  if (stage_result r = declared_data_classes(ctx.head, *b.policy, ctx.data_classes); !r.proceed) {
    return r;
  }
  const std::size_t declared = ctx.data_classes.size();  // the client's claim: grants no permit
  std::vector<std::string_view> detected;
  // With redact obligations in the policy, one pass finds both what classifies the request and
  // what a matched rule may have redacted below; otherwise detect() stops at each first finding.
  std::vector<finding> findings;
  if (b.redactors != 0 && !ctx.body.empty()) {
    findings = find_all(ctx.body, b.detectors | b.redactors);
  }
  if (b.detectors != 0 && !ctx.body.empty()) {
    std::uint32_t found = 0;
    if (b.redactors != 0) {
      for (const finding& f : findings) {
        found |= 1u << f.detector;
      }
    } else {
      found = detect(ctx.body, b.detectors);
    }
    for (const auto& [name, detectors] : b.detected_classes) {
      if ((detectors & found) == 0) {
        continue;
      }
      detected.push_back(name);
      if (std::find(ctx.data_classes.begin(), ctx.data_classes.end(), name) == ctx.data_classes.end()) {
        ctx.data_classes.emplace_back(name);
      }
    }
  }
  std::vector<std::string_view> classes(ctx.data_classes.begin(), ctx.data_classes.begin() + declared);
  std::optional<policy::ip_address> ip = policy::parse_ip(ctx.client_ip);
  std::string_view path = ctx.head.target.substr(0, ctx.head.target.find('?'));
  const policy::request_attributes attrs{.client_country = ctx.client_country,
                                         .client_ip = ip,
                                         .tenant = ctx.tenant,
                                         .model = ctx.model,
                                         .path = path,
                                         .method = ctx.head.method,
                                         .declared_classes = classes,
                                         .detected_classes = detected};
  b.policy->decide(attrs, b.routes, d);
  ctx.matched_rules.clear();
  for (std::uint32_t rule : d.matched_rules) {
    ctx.matched_rules.emplace_back(b.policy->rule_id(rule));
  }
  ctx.decision_reason = std::string(d.reason);
  ctx.policy_version = b.policy->version();
  ctx.allowed_clusters.assign(d.allowed_clusters.begin(), d.allowed_clusters.end());
  ctx.permitted = d.result == policy::effect::permit;
  ctx.payload_obligation = ctx.permitted ? d.duties.log : policy::log_payload::unset;
  if (ctx.permitted && d.duties.redact != 0 && !ctx.body.empty()) {
    // An obligation the gateway cannot fulfil is not skipped: redaction works on JSON bodies.
    const http::field* type = ctx.head.find("content-type");
    if (type == nullptr || type->value.find("json") == std::string_view::npos) {
      ctx.permitted = false;
      return stage_result::respond(
          415, "invalid_request_error", "redaction_unsupported",
          fmt::format("the residency policy requires redaction ({}) and the gateway redacts JSON bodies only; "
                      "send the request as application/json",
                      fmt::join(d.duties.redact_names(), ", ")));
    }
    ctx.redactions = redact_json_strings(ctx.body, findings, d.duties.redact);
  }
  if (ctx.permitted) {
    return stage_result::next();
  }
  std::string rules;
  for (const std::string& id : ctx.matched_rules) {
    rules += rules.empty() ? id : ", " + id;
  }
  return stage_result::respond(
      403, "permission_error", "policy_denied",
      fmt::format("denied by the residency policy ({}{}{}): {}", policy::deny_cause_name(d.cause),
                  rules.empty() ? "" : "; rules: ", rules, d.reason));
}

stage_result pipeline::decide(request_context& ctx) const {
  std::shared_ptr<const binding> b = binding_.load();
  if (b) {
    return decide_with_policy(ctx, *b);
  }
  ctx.permitted = true;
  ctx.decision_reason = "no policy loaded: every configured cluster is allowed";
  ctx.allowed_clusters.clear();
  for (std::size_t i = 0; i < cfg_->clusters.size(); ++i) {
    ctx.allowed_clusters.push_back(static_cast<int>(i));
  }
  return stage_result::next();
}

stage_result pipeline::route(request_context& ctx, const availability_fn& cluster_available) const {
  bool served = false;
  for (int i : ctx.allowed_clusters) {
    bool serves = ctx.model.empty();  // no model named (GET /v1/models): any allowed cluster
    for (const policy::glob_pattern& pattern : models_[static_cast<std::size_t>(i)]) {
      if (pattern.matches(ctx.model)) {
        serves = true;
        break;
      }
    }
    if (!serves) {
      continue;
    }
    served = true;
    if (cluster_available(i)) {
      ctx.cluster = i;
      return stage_result::next();
    }
  }
  if (!served) {
    return stage_result::respond(
        404, "invalid_request_error", "model_not_found",
        ctx.model.empty() ? std::string("no cluster is allowed for this request")
                          : fmt::format("no allowed cluster serves the model '{}'", ctx.model));
  }
  return stage_result::respond(503, "server_error", "cluster_unavailable",
                               "every allowed cluster serving this model is unavailable; try again later");
}

void pipeline::record(const request_context& ctx, double seconds) const {
  if (audit_ != nullptr && !ctx.audit_recorded) {
    std::string request_id = ctx.request_id;
    append_audit(ctx, seconds, [request_id](const audit::status& s, std::uint64_t) {
      if (!s.is_ok()) {
        log_line("error", "audit append failed").str("request_id", request_id).str("error", s.message()).emit();
      }
    });
  }
  if (!cfg_->access_log) {
    return;
  }
  std::string_view path = ctx.head.target.substr(0, ctx.head.target.find('?'));  // query strings may hold secrets
  log_line line("info", "request");
  line.str("request_id", ctx.request_id)
      .str("client_ip", ctx.client_ip)
      .str("method", ctx.head.method)
      .str("path", path)
      .str("tenant", ctx.tenant)
      .str("client_country", ctx.client_country)
      .str("model", ctx.model)
      .boolean("stream", ctx.stream)
      .num("status", ctx.status)
      .str("cluster", ctx.cluster >= 0 ? std::string_view(cfg_->clusters[static_cast<std::size_t>(ctx.cluster)].name)
                                       : std::string_view())
      .str("endpoint", ctx.endpoint)
      .num("request_bytes", static_cast<std::int64_t>(ctx.body.size()))
      .num("response_bytes", static_cast<std::int64_t>(ctx.response_bytes))
      .real("duration_s", seconds);
  if (!ctx.policy_version.empty()) {
    std::string rules;
    for (const std::string& id : ctx.matched_rules) {
      rules += rules.empty() ? id : "," + id;
    }
    line.str("decision", ctx.permitted ? "permit" : "deny").str("rules", rules).str("policy_version",
                                                                                   ctx.policy_version);
  }
  if (!ctx.data_classes.empty()) {
    line.str("data_classes", fmt::format("{}", fmt::join(ctx.data_classes, ",")));
  }
  if (ctx.redactions > 0) {
    line.num("redacted", static_cast<std::int64_t>(ctx.redactions));
  }
  if (!ctx.error_kind.empty()) {
    line.str("error", ctx.error_kind);
  }
  line.emit();
}

}  // namespace sovgw::gateway

namespace sovgw::gateway {

audit::payload_mode pipeline::audit_payload_mode(const request_context& ctx) const {
  const audit::payload_mode asked =
      ctx.payload_obligation == policy::log_payload::none     ? audit::payload_mode::none
      : ctx.payload_obligation == policy::log_payload::digest ? audit::payload_mode::digest
                                                              : audit::payload_mode::sealed;
  return std::min(audit_payload_, asked);
}

void pipeline::record_durably(const request_context& ctx, double seconds,
                              std::function<void(const audit::status&)> done) const {
  append_audit(ctx, seconds, [done = std::move(done)](const audit::status& s, std::uint64_t) { done(s); });
}

void pipeline::append_audit(const request_context& ctx, double seconds, audit::append_callback done) const {
  audit::record r;
  r.timestamp_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(ctx.received_at.time_since_epoch()).count());
  r.request_id = ctx.request_id;
  r.tenant = ctx.tenant;
  r.client_country = ctx.client_country == "unknown" ? std::string() : ctx.client_country;
  r.country_source = ctx.client_country_source;
  r.client_ip = ctx.client_ip;
  r.method = std::string(ctx.head.method);
  r.path = std::string(ctx.head.target.substr(0, ctx.head.target.find('?')));
  r.model = ctx.model;
  r.data_classes = ctx.data_classes;
  r.decision = ctx.policy_version.empty() ? (ctx.status == 0 ? "none" : "no-policy")
                                          : (ctx.permitted ? "permit" : "deny");
  r.rule_ids = ctx.matched_rules;
  r.policy_version = ctx.policy_version;
  if (ctx.cluster >= 0) {
    const cluster_config& c = cfg_->clusters[static_cast<std::size_t>(ctx.cluster)];
    r.cluster = c.name;
    r.cluster_country = c.country;
  }
  r.status = static_cast<std::uint32_t>(ctx.status);
  r.bytes_in = ctx.body.size();
  r.bytes_out = ctx.response_bytes;
  r.latency_us = static_cast<std::uint64_t>(seconds * 1e6);
  r.error_kind = ctx.error_kind;
  r.payload = audit_payload_mode(ctx);
  audit_->append_async(std::move(r), audit::payload{ctx.body, ctx.completion}, std::move(done));
}

}  // namespace sovgw::gateway
