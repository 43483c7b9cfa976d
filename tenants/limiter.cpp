#include "tenants/limiter.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace sovgw::tenants {

namespace {

constexpr double minute_ms = 60000.0;

struct month_of {
  int key;              // year * 12 + month
  std::int64_t end_ms;  // the next month's first millisecond
};

month_of month_at(std::int64_t now_ms) {
  const std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::tm next{};
  next.tm_year = tm.tm_mon == 11 ? tm.tm_year + 1 : tm.tm_year;
  next.tm_mon = (tm.tm_mon + 1) % 12;
  next.tm_mday = 1;
  return {tm.tm_year * 12 + tm.tm_mon, static_cast<std::int64_t>(timegm(&next)) * 1000};
}

std::int64_t seconds_until(double ms) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(ms / 1000)));
}

}  // namespace

struct limiter::state {
  std::mutex mutex;
  tenant_limits limits;
  double requests = 0;  // bucket levels
  double tokens = 0;
  std::int64_t at_ms = 0;  // when the buckets were last refilled
  int month = -1;
  std::uint64_t month_used = 0;

  void refill(std::int64_t now_ms) {
    const double elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - at_ms));
    at_ms = std::max(at_ms, now_ms);
    const auto rpm = static_cast<double>(limits.requests_per_minute);
    const auto tpm = static_cast<double>(limits.tokens_per_minute);
    requests = std::min(rpm, requests + elapsed * rpm / minute_ms);
    tokens = std::min(tpm, tokens + elapsed * tpm / minute_ms);
  }
  void roll_month(int key) {
    if (month != key) {
      month = key;
      month_used = 0;
    }
  }
};

void limiter::configure(const table& t, std::int64_t now_ms) {
  const std::shared_ptr<const map> old = states_.load();
  auto next = std::make_shared<map>();
  for (const tenant& tn : t.tenants()) {
    if (!tn.limits.any()) {
      continue;
    }
    std::shared_ptr<state> s;
    if (const auto it = old->find(tn.name); it != old->end()) {
      s = it->second;
      const std::lock_guard lock(s->mutex);
      s->refill(now_ms);
      s->limits = tn.limits;
      s->requests = std::min(s->requests, static_cast<double>(tn.limits.requests_per_minute));
      s->tokens = std::min(s->tokens, static_cast<double>(tn.limits.tokens_per_minute));
    } else {
      s = std::make_shared<state>();
      s->limits = tn.limits;
      s->requests = static_cast<double>(tn.limits.requests_per_minute);
      s->tokens = static_cast<double>(tn.limits.tokens_per_minute);
      s->at_ms = now_ms;
    }
    next->emplace(tn.name, std::move(s));
  }
  states_.store(std::move(next));
}

std::shared_ptr<limiter::state> limiter::find(std::string_view tenant) const {
  const std::shared_ptr<const map> m = states_.load();
  if (m->empty()) {
    return nullptr;
  }
  const auto it = m->find(std::string(tenant));
  return it == m->end() ? nullptr : it->second;
}

admission limiter::admit(std::string_view tenant, std::int64_t now_ms) {
  const std::shared_ptr<state> s = find(tenant);
  if (!s) {
    return {};
  }
  const month_of month = month_at(now_ms);
  const std::lock_guard lock(s->mutex);
  s->refill(now_ms);
  s->roll_month(month.key);
  const tenant_limits& l = s->limits;
  if (l.tokens_per_month != 0 && s->month_used >= l.tokens_per_month) {
    return {limit_verdict::month, seconds_until(static_cast<double>(month.end_ms - now_ms))};
  }
  if (l.requests_per_minute != 0 && s->requests < 1) {
    return {limit_verdict::requests,
            seconds_until((1 - s->requests) * minute_ms / static_cast<double>(l.requests_per_minute))};
  }
  if (l.tokens_per_minute != 0 && s->tokens <= 0) {
    return {limit_verdict::tokens,
            seconds_until((1 - s->tokens) * minute_ms / static_cast<double>(l.tokens_per_minute))};
  }
  if (l.requests_per_minute != 0) {
    s->requests -= 1;
  }
  return {};
}

void limiter::charge(std::string_view tenant, std::uint64_t tokens, std::int64_t now_ms) {
  const std::shared_ptr<state> s = find(tenant);
  if (!s || tokens == 0) {
    return;
  }
  const month_of month = month_at(now_ms);
  const std::lock_guard lock(s->mutex);
  s->refill(now_ms);
  s->roll_month(month.key);
  if (s->limits.tokens_per_minute != 0) {
    s->tokens -= static_cast<double>(tokens);
  }
  s->month_used += tokens;
}

std::optional<std::uint64_t> limiter::month_left(std::string_view tenant, std::int64_t now_ms) const {
  const std::shared_ptr<state> s = find(tenant);
  if (!s) {
    return std::nullopt;
  }
  const std::lock_guard lock(s->mutex);
  if (s->limits.tokens_per_month == 0) {
    return std::nullopt;
  }
  s->roll_month(month_at(now_ms).key);
  return s->month_used >= s->limits.tokens_per_month ? 0 : s->limits.tokens_per_month - s->month_used;
}

}  // namespace sovgw::tenants
