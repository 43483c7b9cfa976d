#pragma once

// The policy-facing stages of the request pipeline: identify, classify, decide, route, record.
// Pure functions of the request context and the frozen configuration (no sockets), so the policy
// and audit libraries plug in here without reshaping the session. Thread-safe: const after build.

#include <functional>
#include <memory>
#include <string_view>

#include <vector>

#include "gateway/config.hpp"
#include "gateway/request_context.hpp"
#include "policy/glob.hpp"

namespace sovgw::gateway {

// `cluster_available(i)`: whether cluster i has an endpoint worth trying now.
using availability_fn = std::function<bool(int)>;

class pipeline {
 public:
  explicit pipeline(std::shared_ptr<const config> cfg);

  // identify: tenant and client country. Default: tenant "default", country unknown (geo comes with
  // the policy core).
  [[nodiscard]] stage_result identify(request_context& ctx) const;
  // classify: model and stream flag from the OpenAI JSON body.
  [[nodiscard]] stage_result classify(request_context& ctx) const;
  // decide: default permits every request to every cluster.
  [[nodiscard]] stage_result decide(request_context& ctx) const;
  // route: the first allowed cluster that serves the model and is available; fail closed.
  [[nodiscard]] stage_result route(request_context& ctx, const availability_fn& cluster_available) const;
  // record: the access log line (audit records come with the audit log).
  void record(const request_context& ctx, double seconds) const;

 private:
  std::shared_ptr<const config> cfg_;
  std::vector<std::vector<policy::glob_pattern>> models_;  // per cluster, compiled once
};

}  // namespace sovgw::gateway
