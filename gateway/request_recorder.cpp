#include "gateway/request_recorder.hpp"

#include <fmt/format.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/log.hpp"
#include "gateway/usage_meter.hpp"
#include "policy/geo_distance.hpp"
#include "policy/policy_source.hpp"

namespace sovgw::gateway {

namespace asio = boost::asio;

namespace {

double seconds_since(const request_context& ctx) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count();
}

}  // namespace

request_recorder::request_recorder(std::shared_ptr<const config> cfg, metrics& stats, audit::audit_log* log)
    : cfg_(std::move(cfg)), stats_(stats), log_(log) {
  (void)audit::parse_payload_mode(cfg_->audit_payload, max_payload_);  // validated by the config parser
}

audit::payload_mode request_recorder::payload_mode(const request_context& ctx) const {
  const audit::payload_mode asked =
      ctx.payload_obligation == policy::log_payload::none     ? audit::payload_mode::none
      : ctx.payload_obligation == policy::log_payload::digest ? audit::payload_mode::digest
                                                              : audit::payload_mode::sealed;
  const audit::payload_mode kept = std::min(max_payload_, asked);
  return ctx.forwarded ? kept : std::min(kept, audit::payload_mode::digest);
}

stage_result request_recorder::admit(const request_context& ctx) const {
  if (log_ == nullptr) {
    return stage_result::next();
  }
  if (log_->accepting()) {
    if (refusing_.load(std::memory_order_relaxed) && refusing_.exchange(false)) {
      log_line("info", "audit log accepting again: forwarding resumes").emit();
    }
    return stage_result::next();
  }
  const audit::log_health h = log_->health();
  if (!refusing_.exchange(true)) {
    log_line("error", "audit log cannot record: no request is forwarded until it can")
        .str("state", audit::health_state_name(h.state))
        .str("reason", h.reason)
        .str("request_id", ctx.request_id)
        .emit();
  }
  return stage_result::respond(
      outcome::audit_unavailable,
      h.state == audit::health_state::full
          ? "the gateway's audit log is at its space bound; no request is forwarded until an operator frees "
            "space"
          : "the gateway's audit log cannot record requests right now; nothing was sent, try again later");
}

bool request_recorder::note_forwarded(request_context& ctx) const {
  if (log_ == nullptr) {
    return true;
  }
  audit::record noted = audit_record(ctx, seconds_since(ctx));
  // Recorded so if the gateway stops before the answer: its tokens as a request that ends
  // unanswered is charged (upstream_exchange::charge_unanswered), an estimate (probe round 46: such
  // records said 0 tokens, and the report's per-tenant totals called themselves the clusters' own).
  if (!ctx.body.empty()) {
    noted.prompt_tokens = std::max(usage_meter::estimate_prompt(ctx.body.size()), ctx.prompt_bound);
    noted.completion_tokens = ctx.completion_reserved(noted.prompt_tokens);
  }
  const audit::status s = log_->note_in_flight(std::move(noted));
  if (!s.is_ok()) {
    log_line("error", "audit in-flight note failed: the request is not forwarded")
        .str("request_id", ctx.request_id)
        .str("error", s.message())
        .emit();
    return false;
  }
  ctx.in_flight_noted = true;
  return true;
}

asio::awaitable<bool> request_recorder::make_durable(request_context& ctx) const {
  if (durable_already(ctx)) {
    co_return true;
  }
  audit::status s = co_await append_and_wait(ctx, seconds_since(ctx));
  ctx.audit_recorded = true;  // finish() must not append it a second time, durable or not
  if (!s.is_ok()) {
    ctx.answer_cut = ctx.forwarded && ctx.result == outcome::ok;  // the relay's answer, cut (fail closed)
    ctx.result = outcome::audit_unavailable;
    log_line("error", "audit append failed")
        .str("request_id", ctx.request_id)
        .str("error", s.message())
        .emit();
    co_return false;
  }
  co_return true;
}

// The awaitable side of audit_log::append_async, resumed on the caller's executor. Not a coroutine,
// and only references are captured: GCC 12 destroys temporaries with non-trivial destructors in a
// co_await expression twice.
asio::awaitable<audit::status> request_recorder::append_and_wait(const request_context& ctx,
                                                                 double seconds) const {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(audit::status)>(
      [this, &ctx, seconds](auto handler) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        log_->append_async(
            audit_record(ctx, seconds), audit::payload{ctx.body, ctx.completion},
            [h, ex](const audit::status& st, std::uint64_t) {
              asio::post(ex, [h, st]() mutable { std::move (*h)(st); });
            },
            ctx.in_flight_noted);
      },
      asio::use_awaitable);
}

void request_recorder::finish(const request_context& ctx) const {
  const double seconds = seconds_since(ctx);
  // Refused for the gateway's own audit log before anything went to the cluster: not the cluster's
  // 503 (probe round 36: a per-cluster 5xx alert blamed a healthy cluster).
  const int cluster = ctx.result == outcome::audit_unavailable && !ctx.forwarded ? -1 : ctx.cluster;
  stats_.request_done(cluster, ctx.status, seconds, ctx.result);
  stats_.usage.add(ctx.tenant, ctx.model,
                   ctx.cluster >= 0
                       ? std::string_view(cfg_->clusters[static_cast<std::size_t>(ctx.cluster)].name)
                       : std::string_view(),
                   ctx.prompt_tokens, ctx.completion_tokens);
  if (!ctx.data_classes.empty()) {
    stats_.classified_requests.fetch_add(1, std::memory_order_relaxed);
  }
  if (ctx.redactions > 0) {
    stats_.redactions.fetch_add(ctx.redactions, std::memory_order_relaxed);
  }
  if (log_ != nullptr && !ctx.audit_recorded) {
    log_->append_async(
        audit_record(ctx, seconds), audit::payload{ctx.body, ctx.completion},
        [request_id = ctx.request_id](const audit::status& s, std::uint64_t) {
          if (!s.is_ok()) {
            log_line("error", "audit append failed")
                .str("request_id", request_id)
                .str("error", s.message())
                .emit();
          }
        },
        ctx.in_flight_noted);
  }
  if (cfg_->access_log) {
    access_line(ctx, seconds);
  }
}

audit::record request_recorder::audit_record(const request_context& ctx, double seconds) const {
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
  // 499 is recorded for a client that left before its answer: never answered, so `none` when the
  // policy had not decided yet, not `no-policy` (probe round 35).
  r.decision = ctx.decision(ctx.status != 0 && ctx.status != 499);
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
  r.prompt_tokens = ctx.prompt_tokens;
  r.completion_tokens = ctx.completion_tokens;
  if (ctx.usage_estimated) {
    r.note = std::string(ctx.prompt_reported       ? audit::completion_tokens_estimated_note
                         : ctx.completion_reported ? audit::prompt_tokens_estimated_note
                                                   : audit::tokens_estimated_note);
  } else if (ctx.reads_stored_usage() && ctx.prompt_tokens + ctx.completion_tokens != 0) {
    r.note = std::string(audit::stored_usage_note);
  }
  r.error_kind = std::string(kind_of(ctx.result));
  r.payload = payload_mode(ctx);
  r.endpoint = ctx.endpoint;  // evidence of what was forwarded (gateway/geo_tags.hpp)
  r.endpoint_country = ctx.endpoint_country;
  r.endpoint_address = ctx.endpoint_address;
  r.endpoint_address_country = ctx.endpoint_address_country;
  r.signature_keyid = ctx.signature_keyid;
  r.key_id = ctx.key_id;
  r.forwarded_digest = ctx.forwarded_digest;
  r.endpoint_rtt_us = ctx.endpoint_rtt_us;  // physical evidence (docs/evidence.md)
  r.distance_bound_km = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(policy::fibre_bound_km(ctx.endpoint_rtt_us), UINT32_MAX));
  r.redactions = static_cast<std::uint32_t>(std::min<std::size_t>(ctx.redactions, UINT32_MAX));
  return r;
}

void request_recorder::access_line(const request_context& ctx, double seconds) const {
  std::string_view path =
      ctx.head.target.substr(0, ctx.head.target.find('?'));  // query strings may hold secrets
  // An answer the client never got whole (cut mid-body, or failed closed) is not logged as the
  // status its head carried: `status` 0, and that status as `response_status` (probe round 38).
  const bool incomplete =
      ctx.answer_cut || (ctx.result != outcome::ok && info(ctx.result).status == 0 && ctx.status != 499);
  log_line line("info", "request");
  line.str("request_id", ctx.request_id)
      .str("client_ip", ctx.client_ip)
      .str("method", ctx.head.method)
      .str("path", path)
      .str("tenant", ctx.tenant)
      .str("key_id", ctx.key_id)
      .str("client_country", ctx.client_country)
      .str("client_country_source", ctx.client_country_source)
      .str("model", ctx.model)
      .boolean("stream", ctx.stream)
      .num("status", incomplete ? 0 : ctx.status)
      .str("cluster", ctx.cluster >= 0
                          ? std::string_view(cfg_->clusters[static_cast<std::size_t>(ctx.cluster)].name)
                          : std::string_view())
      .str("endpoint", ctx.endpoint)
      .str("endpoint_address", ctx.endpoint_address)
      .num("request_bytes", static_cast<std::int64_t>(ctx.body.size()))
      .num("response_bytes", static_cast<std::int64_t>(ctx.response_bytes))
      .num("prompt_tokens", static_cast<std::int64_t>(ctx.prompt_tokens))
      .num("completion_tokens", static_cast<std::int64_t>(ctx.completion_tokens))
      .boolean("usage_estimated", ctx.usage_estimated)
      .real("duration_s", seconds);
  if (ctx.policy_decided()) {
    line.str("decision", ctx.permitted ? "permit" : "deny")
        .str("rules", fmt::format("{}", fmt::join(ctx.matched_rules, ",")));
  }
  if (!ctx.policy_version.empty()) {
    line.str("policy_version", ctx.policy_version);
  }
  if (!ctx.data_classes.empty()) {
    line.str("data_classes", fmt::format("{}", fmt::join(ctx.data_classes, ",")));
  }
  if (ctx.class_detectors != 0) {
    line.str("detectors", fmt::format("{}", fmt::join(policy::detector_names(ctx.class_detectors), ",")));
  }
  if (ctx.endpoint_rtt_us != 0) {
    line.num("upstream_rtt_us", static_cast<std::int64_t>(ctx.endpoint_rtt_us));
  }
  if (ctx.redactions > 0) {
    line.num("redacted", static_cast<std::int64_t>(ctx.redactions));
  }
  if (incomplete && ctx.status != 0) {
    line.num("response_status", ctx.status);
  }
  if (ctx.result != outcome::ok) {
    line.str("error", kind_of(ctx.result));
  }
  line.emit();
}

}  // namespace sovgw::gateway
