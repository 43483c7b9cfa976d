#include "tenants/limiter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>

namespace sovgw::tenants {

namespace {

constexpr double minute_ms = 60000.0;
constexpr std::int64_t minute_key_ttl_s = 120;  // the minute, and one more for late syncs
constexpr std::int64_t month_key_slack_s = 86400;

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

std::int64_t minute_at(std::int64_t now_ms) { return now_ms / 60000; }

// A limit's count in one window (a UTC minute or month): see "Shared counting" in the header.
struct window_count {
  std::int64_t window = -1;
  std::uint64_t shared = 0;
  std::uint64_t sending = 0;
  std::uint64_t pending = 0;

  [[nodiscard]] std::uint64_t used() const { return shared + sending + pending; }
  void roll(std::int64_t w) {
    if (window != w) {
      *this = window_count{w};
    }
  }
};

enum counter : std::uint8_t { minute_requests, minute_tokens, month_tokens, counters };

}  // namespace

struct limiter::state {
  std::mutex mutex;
  tenant_limits limits;
  double requests = 0;  // bucket levels
  double tokens = 0;
  std::int64_t at_ms = 0;  // when the buckets were last refilled
  std::array<window_count, counters> windows;
  std::int64_t last_admit_ms = 0;  // 0: never

  void refill(std::int64_t now_ms) {
    const double elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - at_ms));
    at_ms = std::max(at_ms, now_ms);
    const auto rpm = static_cast<double>(limits.requests_per_minute);
    const auto tpm = static_cast<double>(limits.tokens_per_minute);
    requests = std::min(rpm, requests + elapsed * rpm / minute_ms);
    tokens = std::min(tpm, tokens + elapsed * tpm / minute_ms);
  }
  void roll(std::int64_t now_ms, int month) {
    windows[minute_requests].roll(minute_at(now_ms));
    windows[minute_tokens].roll(minute_at(now_ms));
    windows[month_tokens].roll(month);
  }
  [[nodiscard]] std::uint64_t limit_of(int c) const {
    switch (c) {
      case minute_requests:
        return limits.requests_per_minute;
      case minute_tokens:
        return limits.tokens_per_minute;
      default:
        return limits.tokens_per_month;
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

void limiter::share(budget_outage outage) {
  shared_ = true;
  outage_ = outage;
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
  s->roll(now_ms, month.key);
  const tenant_limits& l = s->limits;
  if (l.tokens_per_month != 0 && shared_ && outage_ == budget_outage::closed && !store_up()) {
    return {limit_verdict::store_unavailable, 1};
  }
  if (l.tokens_per_month != 0 && s->windows[month_tokens].used() >= l.tokens_per_month) {
    return {limit_verdict::month, seconds_until(static_cast<double>(month.end_ms - now_ms))};
  }
  const double to_next_minute = static_cast<double>(60000 - now_ms % 60000);
  if (l.requests_per_minute != 0 && s->requests < 1) {
    return {limit_verdict::requests,
            seconds_until((1 - s->requests) * minute_ms / static_cast<double>(l.requests_per_minute))};
  }
  if (shared_ && l.requests_per_minute != 0 && s->windows[minute_requests].used() >= l.requests_per_minute) {
    return {limit_verdict::requests, seconds_until(to_next_minute)};
  }
  if (l.tokens_per_minute != 0 && s->tokens <= 0) {
    return {limit_verdict::tokens,
            seconds_until((1 - s->tokens) * minute_ms / static_cast<double>(l.tokens_per_minute))};
  }
  if (shared_ && l.tokens_per_minute != 0 && s->windows[minute_tokens].used() >= l.tokens_per_minute) {
    return {limit_verdict::tokens, seconds_until(to_next_minute)};
  }
  if (l.requests_per_minute != 0) {
    s->requests -= 1;
    s->windows[minute_requests].pending += 1;
  }
  s->last_admit_ms = now_ms;
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
  s->roll(now_ms, month.key);
  if (s->limits.tokens_per_minute != 0) {
    s->tokens -= static_cast<double>(tokens);
    s->windows[minute_tokens].pending += tokens;
  }
  s->windows[month_tokens].pending += tokens;
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
  window_count& w = s->windows[month_tokens];
  w.roll(month_at(now_ms).key);
  return w.used() >= s->limits.tokens_per_month ? 0 : s->limits.tokens_per_month - w.used();
}

limiter::sync_batch limiter::begin_sync(std::int64_t now_ms, bool all) {
  sync_batch b;
  const month_of month = month_at(now_ms);
  const std::int64_t month_ttl_s = (month.end_ms - now_ms) / 1000 + month_key_slack_s;
  const std::string month_name = fmt::format("{:04}-{:02}", 1900 + month.key / 12, month.key % 12 + 1);
  const std::shared_ptr<const map> m = states_.load();
  for (const auto& [name, s] : *m) {
    const std::lock_guard lock(s->mutex);
    s->roll(now_ms, month.key);
    const bool busy = now_ms - s->last_admit_ms < 60000 ||
                      std::any_of(s->windows.begin(), s->windows.end(),
                                  [](const window_count& w) { return w.pending != 0; });
    if (!all && !busy) {
      continue;
    }
    for (int c = 0; c < counters; ++c) {
      if (s->limit_of(c) == 0) {
        continue;
      }
      window_count& w = s->windows[static_cast<std::size_t>(c)];
      std::string key = c == month_tokens
                            ? fmt::format("sovgw:limits:{}:month:{}", name, month_name)
                            : fmt::format("sovgw:limits:{}:{}:{}", name,
                                          c == minute_requests ? "requests" : "tokens", w.window);
      b.items_.push_back({std::move(key), w.pending, c == month_tokens ? month_ttl_s : minute_key_ttl_s});
      b.slots_.push_back({s, c, w.window});
      w.sending += w.pending;
      w.pending = 0;
    }
  }
  return b;
}

void limiter::end_sync(const sync_batch& batch, const std::vector<std::uint64_t>& totals) {
  for (std::size_t i = 0; i < batch.slots_.size() && i < totals.size(); ++i) {
    const sync_batch::slot& slot = batch.slots_[i];
    const std::lock_guard lock(slot.state->mutex);
    window_count& w = slot.state->windows[static_cast<std::size_t>(slot.counter)];
    if (w.window == slot.window) {
      w.sending -= std::min(w.sending, batch.items_[i].delta);
      w.shared = totals[i];
    }
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
}

void limiter::abort_sync(const sync_batch& batch) {
  for (std::size_t i = 0; i < batch.slots_.size(); ++i) {
    const sync_batch::slot& slot = batch.slots_[i];
    const std::lock_guard lock(slot.state->mutex);
    window_count& w = slot.state->windows[static_cast<std::size_t>(slot.counter)];
    if (w.window == slot.window) {
      const std::uint64_t d = std::min(w.sending, batch.items_[i].delta);
      w.sending -= d;
      w.pending += d;
    }
  }
}

}  // namespace sovgw::tenants
