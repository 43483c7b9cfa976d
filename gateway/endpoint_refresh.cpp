#include "gateway/endpoint_refresh.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "gateway/log.hpp"
#include "gateway/metrics.hpp"

namespace sovgw::gateway {

namespace {

bool was_refused(const endpoint_geo_report::endpoint_line& line, const std::string& address) {
  return std::any_of(line.addresses.begin(), line.addresses.end(), [&address](const address_check& a) {
    return a.address == address && a.verdict == geo_verdict::refused;
  });
}

std::string joined_addresses(const endpoint_addresses& a) {
  std::string out;
  for (const tcp::endpoint& e : a.usable) {
    out += out.empty() ? e.address().to_string() : "," + e.address().to_string();
  }
  return out;
}

}  // namespace

endpoint_refresher::endpoint_refresher(const config& cfg,
                                       std::vector<std::unique_ptr<upstream_cluster>>& upstreams,
                                       std::shared_ptr<geo_store> geo)
    : cfg_(cfg), upstreams_(upstreams), judge_(cfg, std::move(geo)) {
  report_.store(std::make_shared<const endpoint_geo_report>(check_endpoint_geo(judge_, upstreams)));
}

endpoint_refresher::~endpoint_refresher() { stop(); }

void endpoint_refresher::start(std::function<void()> after_round) {
  after_round_ = std::move(after_round);
  thread_ = std::thread([this] { run(); });
}

void endpoint_refresher::request(const char* trigger) {
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    requested_ = trigger;
    queued = in_round_;
  }
  wake_.notify_one();
  log_line("info", "endpoint re-resolution asked for")
      .str("trigger", trigger)
      .boolean("queued", queued)
      .emit();
}

void endpoint_refresher::cancel() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cancel_.cancel();
  wake_.notify_one();
}

void endpoint_refresher::stop() {
  cancel();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void endpoint_refresher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const char* trigger = requested_;
    if (trigger == nullptr) {
      if (cfg_.dns_refresh.count() == 0) {
        wake_.wait(lock, [this] { return stopping_ || requested_ != nullptr; });
        continue;
      }
      const auto due = std::chrono::steady_clock::now() + next_refresh_in();
      if (wake_.wait_until(lock, due, [this] { return stopping_ || requested_ != nullptr; })) {
        continue;
      }
      trigger = "dns_refresh";
    }
    requested_ = nullptr;  // asked again from here on: one more round after this one
    in_round_ = true;
    lock.unlock();
    const bool done = refresh(trigger);
    if (done && after_round_) {
      after_round_();
    }
    lock.lock();
    in_round_ = false;
  }
}

bool endpoint_refresher::refresh(const char* trigger) {
  const std::shared_ptr<const endpoint_geo_report> before = report_.load();
  auto next = std::make_shared<endpoint_geo_report>();
  next->cluster_reasons.resize(upstreams_.size());
  std::size_t index = 0;  // the report has one line per endpoint, in cluster then endpoint order
  for (std::size_t ci = 0; ci < upstreams_.size(); ++ci) {
    const upstream_cluster& uc = *upstreams_[ci];
    const cluster_config& cc = *uc.config;
    std::vector<const endpoint_geo_report::endpoint_line*> lines;
    for (const std::unique_ptr<endpoint_state>& ep : uc.endpoints) {
      const endpoint_geo_report::endpoint_line& old_line = before->endpoints[index++];
      std::string error;
      std::optional<std::uint32_t> ttl_s;
      const std::vector<tcp::endpoint> resolved =
          resolve_endpoint(cfg_.dns_resolvers, cc, *ep, ttl_s, error, &cancel_);
      if (cancel_.cancelled()) {
        log_line("info", "endpoint re-resolution abandoned: the gateway is stopping").emit();
        return false;
      }
      if (error.empty()) {
        ep->dns_ttl_s = ttl_s;
      }
      auto use = std::make_shared<endpoint_addresses>();
      endpoint_geo_report::endpoint_line line;
      if (error.empty()) {
        try {
          line = judge_.judge(cc, ep->label, resolved, *use);
        } catch (const std::exception& e) {
          error = e.what();  // the geo database could not be loaded
        }
      }
      if (!error.empty()) {
        ep->resolve_failures.fetch_add(1, std::memory_order_relaxed);
        log_line("warn", "endpoint re-resolution failed; keeping its last good addresses")
            .str("cluster", cc.name)
            .str("endpoint", ep->label)
            .str("error", error)
            .emit();
        line = old_line;
        line.resolve_error = error;
      } else {
        for (const address_check& a : line.addresses) {
          if (a.verdict == geo_verdict::refused && !was_refused(old_line, a.address)) {
            ep->newly_refused_addresses.fetch_add(1, std::memory_order_relaxed);
            log_line("warn", "endpoint address not used: it contradicts the cluster's declared location")
                .str("cluster", cc.name)
                .str("endpoint", ep->label)
                .str("detail", a.reason)
                .boolean("re_resolved", true)
                .emit();
          }
        }
        if (*use != *ep->addresses.load()) {
          log_line("info", "endpoint addresses changed")
              .str("cluster", cc.name)
              .str("endpoint", ep->label)
              .str("addresses", joined_addresses(*use))
              .boolean("used", !use->geo_refused())
              .emit();
          store_addresses(*ep, std::move(use));
        }
      }
      next->refused_addresses += static_cast<std::size_t>(
          std::count_if(line.addresses.begin(), line.addresses.end(),
                        [](const address_check& a) { return a.verdict == geo_verdict::refused; }));
      next->endpoints.push_back(std::move(line));
    }
    for (std::size_t i = next->endpoints.size() - uc.endpoints.size(); i < next->endpoints.size(); ++i) {
      lines.push_back(&next->endpoints[i]);
    }
    next->cluster_reasons[ci] = cluster_unusable_reason(cc.name, lines);
  }
  const auto refused = static_cast<std::int64_t>(next->refused_addresses);
  report_.store(std::move(next));
  const std::uint64_t n = refreshes_.fetch_add(1, std::memory_order_relaxed) + 1;
  log_line("info", "endpoints re-resolved")
      .str("trigger", trigger)
      .num("refreshes", static_cast<std::int64_t>(n))
      .num("refused_addresses", refused)
      .emit();
  return true;
}

std::chrono::milliseconds endpoint_refresher::next_refresh_in() const {
  std::optional<std::uint32_t> shortest;
  for (const auto& uc : upstreams_) {
    for (const auto& ep : uc->endpoints) {
      if (ep->dns_ttl_s && (!shortest || *ep->dns_ttl_s < *shortest)) {
        shortest = ep->dns_ttl_s;
      }
    }
  }
  if (!shortest) {
    return cfg_.dns_refresh;
  }
  return std::clamp(std::chrono::milliseconds(std::int64_t{*shortest} * 1000),
                    std::chrono::milliseconds(1000), cfg_.dns_refresh);
}

void endpoint_refresher::render_metrics(std::string& out) const {
  report()->render_metrics(out);
  std::string newly =
      "# HELP sovgw_endpoint_geo_newly_refused_total Endpoint addresses re-resolution found refused that "
      "were "
      "not before.\n# TYPE sovgw_endpoint_geo_newly_refused_total counter\n";
  out +=
      "# HELP sovgw_endpoint_resolve_failures_total Re-resolutions of an endpoint name that failed (its last "
      "good addresses kept).\n# TYPE sovgw_endpoint_resolve_failures_total counter\n";
  for (const auto& uc : upstreams_) {
    for (const auto& ep : uc->endpoints) {
      const std::string labels = fmt::format("cluster=\"{}\",endpoint=\"{}\"", metric_label(uc->config->name),
                                             metric_label(ep->label));
      out += fmt::format("sovgw_endpoint_resolve_failures_total{{{}}} {}\n", labels,
                         ep->resolve_failures.load(std::memory_order_relaxed));
      newly += fmt::format("sovgw_endpoint_geo_newly_refused_total{{{}}} {}\n", labels,
                           ep->newly_refused_addresses.load(std::memory_order_relaxed));
    }
  }
  out += newly;
  out += fmt::format(
      "# HELP sovgw_endpoint_refreshes_total Re-resolutions of the endpoint names (SIGHUP, dns_refresh).\n"
      "# TYPE sovgw_endpoint_refreshes_total counter\nsovgw_endpoint_refreshes_total {}\n",
      refreshes_.load(std::memory_order_relaxed));
}

}  // namespace sovgw::gateway
