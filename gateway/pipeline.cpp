#include "gateway/pipeline.hpp"

#include <fmt/format.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/log.hpp"

namespace sovgw::gateway {

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

stage_result pipeline::identify(request_context& ctx) const {
  if (!ctx.client_certificate_cn.empty()) {
    ctx.tenant = ctx.client_certificate_cn;
  }
  return stage_result::next();
}

stage_result pipeline::classify(request_context& ctx) const {
  if (ctx.body.empty()) {
    return stage_result::next();
  }
  const http::field* type = ctx.head.find("content-type");
  if (type == nullptr || type->value.find("json") == std::string_view::npos) {
    return stage_result::next();
  }
  unsigned char scratch[4096];
  boost::json::monotonic_resource mr(scratch, sizeof scratch);
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(ctx.body, ec, &mr);
  if (ec) {
    return stage_result::respond(400, "invalid_request_error", "invalid_json",
                                 fmt::format("request body is not valid JSON: {}", ec.message()));
  }
  if (const auto* obj = doc.if_object()) {
    if (const auto* model = obj->if_contains("model")) {
      if (const auto* s = model->if_string()) {
        ctx.model.assign(s->data(), s->size());
      }
    }
    if (const auto* stream = obj->if_contains("stream")) {
      ctx.stream = stream->is_bool() && stream->get_bool();
    }
  }
  return stage_result::next();
}

stage_result pipeline::decide(request_context& ctx) const {
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
    const cluster_config& c = cfg_->clusters[static_cast<std::size_t>(i)];
    bool serves = ctx.model.empty();  // no model named (GET /v1/models): any allowed cluster
    for (const std::string& pattern : c.models) {
      if (glob_match(pattern, ctx.model)) {
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
      .str("model", ctx.model)
      .boolean("stream", ctx.stream)
      .num("status", ctx.status)
      .str("cluster", ctx.cluster >= 0 ? std::string_view(cfg_->clusters[static_cast<std::size_t>(ctx.cluster)].name)
                                       : std::string_view())
      .str("endpoint", ctx.endpoint)
      .num("request_bytes", static_cast<std::int64_t>(ctx.body.size()))
      .num("response_bytes", static_cast<std::int64_t>(ctx.response_bytes))
      .real("duration_s", seconds);
  if (!ctx.error_kind.empty()) {
    line.str("error", ctx.error_kind);
  }
  line.emit();
}

}  // namespace sovgw::gateway
