#include "tenants/limiter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <functional>

namespace sovgw::tenants {

namespace {

constexpr double minute_ms = 60000.0;
constexpr std::int64_t minute_key_ttl_s = 120;  // the minute, and one more for late syncs
constexpr std::int64_t month_key_slack_s = 86400;

struct month_of {
  int key;              // year * 12 + month
  std::int64_t end_ms;  // the next month's first millisecond
};

struct month_span {
  month_of month;
  std::int64_t start_ms;  // the month's first millisecond
};

month_span compute_month(std::int64_t now_ms) {
  const std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::tm first{};
  first.tm_year = tm.tm_year;
  first.tm_mon = tm.tm_mon;
  first.tm_mday = 1;
  std::tm next{};
  next.tm_year = tm.tm_mon == 11 ? tm.tm_year + 1 : tm.tm_year;
  next.tm_mon = (tm.tm_mon + 1) % 12;
  next.tm_mday = 1;
  return {{tm.tm_year * 12 + tm.tm_mon, static_cast<std::int64_t>(timegm(&next)) * 1000},
          static_cast<std::int64_t>(timegm(&first)) * 1000};
}

// The month of `now_ms`: computed once per thread and month (gmtime_r and timegm take glibc's
// time-zone lock), then two comparisons per request.
month_of month_at(std::int64_t now_ms) {
  thread_local month_span cached{{0, 0}, 0};
  if (now_ms < cached.start_ms || now_ms >= cached.month.end_ms) {
    cached = compute_month(now_ms);
  }
  return cached.month;
}

std::int64_t seconds_until(double ms) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(ms / 1000)));
}

std::int64_t minute_at(std::int64_t now_ms) { return now_ms / 60000; }

// The names of key and model scopes: never a tenant's name (which has no ':'), and never each
// other's (a pattern's ':' and '%' are escaped) — also in the limits store's keys. Written into
// `out` (a reused buffer on the request path).
void key_scope_name(std::string_view key_id, std::string& out) {
  out.assign("key:");
  out += key_id;
}

void model_scope_name(std::string_view tenant, std::string_view pattern, std::string& out) {
  out.assign("model:");
  out += tenant;
  out += ':';
  for (const char c : pattern) {
    if (c == '%') {
      out += "%25";
    } else if (c == ':') {
      out += "%3A";
    } else {
      out += c;
    }
  }
}

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

// Moves a minute window to `minute`, carrying what its count went beyond `limit` into the new one
// (less the limit of each minute between): the debt a bucket would hold, in the count every
// instance shares. A request that crosses the limit completes, and the next minutes start with
// its excess, so that the overdraft is spent once, not once per instance as each one's bucket
// would allow (probe round 39: 1012 tokens on one instance against 200 a minute, and 1012 more
// on another 23 s later, as soon as the UTC minute changed). The carry is counted as a total read
// from the store (`shared`): every instance that knew the minute's total carries the same debt,
// and the next sync raises the new minute's key to it, for instances that did not.
void roll_minute(window_count& w, std::int64_t minute, std::uint64_t limit) {
  if (w.window == minute) {
    return;
  }
  std::uint64_t carry = 0;
  if (w.window >= 0 && minute > w.window && limit != 0) {
    const std::uint64_t used = w.used();
    const auto gone = static_cast<std::uint64_t>(minute - w.window);
    carry = used / limit >= gone ? used - gone * limit : 0;
  }
  w = window_count{minute};
  w.shared = carry;
}

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
  std::uint64_t in_flight = 0;     // tokens reserved by requests admitted and not yet charged
  // What an unbounded completion of this scope is expected to use (limiter::admit).
  double completion_estimate = static_cast<double>(limiter::first_completion_estimate);

  void refill(std::int64_t now_ms) {
    const double elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - at_ms));
    at_ms = std::max(at_ms, now_ms);
    const auto rpm = static_cast<double>(limits.requests_per_minute);
    const auto tpm = static_cast<double>(limits.tokens_per_minute);
    requests = std::min(rpm, requests + elapsed * rpm / minute_ms);
    tokens = std::min(tpm, tokens + elapsed * tpm / minute_ms);
  }
  // check() on the scope brought to `now_ms` (its buckets refilled, its windows rolled).
  [[nodiscard]] admission assess(std::int64_t now_ms, const month_of& month, bool shared, bool budgets_closed,
                                 std::uint64_t bound) {
    refill(now_ms);
    roll(now_ms, month.key);
    return check(now_ms, month, shared, budgets_closed, bound);
  }
  void roll(std::int64_t now_ms, int month) {
    roll_minute(windows[minute_requests], minute_at(now_ms), limits.requests_per_minute);
    roll_minute(windows[minute_tokens], minute_at(now_ms), limits.tokens_per_minute);
    windows[month_tokens].roll(month);
  }
  // The month's tokens left (no_budget without a monthly budget).
  [[nodiscard]] std::uint64_t month_left() const {
    const std::uint64_t used = windows[month_tokens].used();
    return limits.tokens_per_month == 0      ? reservation::no_budget
           : used >= limits.tokens_per_month ? 0
                                             : limits.tokens_per_month - used;
  }
  // Whether this scope admits one more request now (refill and roll first); `bound`, when not 0,
  // the most the request may use (limiter::admit's `bounded`).
  [[nodiscard]] admission check(std::int64_t now_ms, const month_of& month, bool shared, bool budgets_closed,
                                std::uint64_t bound) const {
    const tenant_limits& l = limits;
    // Every per-minute limit that refuses, and the longest of their waits: the bucket may hold a
    // request again long before the shared minute (or its carried debt) lets one through, and a
    // client that obeys Retry-After must not be refused again (probe round 39: Retry-After 12 while
    // the shared minute was full for 39 s more).
    admission rate;
    const auto refuse = [&rate](limit_verdict v, std::int64_t wait) {
      if (rate.verdict == limit_verdict::admitted) {
        rate.verdict = v;
      }
      rate.retry_after_s = std::max(rate.retry_after_s, wait);
    };
    const double to_next_minute = static_cast<double>(60000 - now_ms % 60000);
    // A full shared minute: its count, less a limit's worth each minute (roll_minute), is below
    // the limit from the start of minute `used / limit` after this one.
    const auto window_wait = [&](std::uint64_t used, std::uint64_t limit) {
      return seconds_until(to_next_minute + static_cast<double>(used / limit - 1) * minute_ms);
    };
    if (l.requests_per_minute != 0 && requests < 1) {
      refuse(limit_verdict::requests,
             seconds_until((1 - requests) * minute_ms / static_cast<double>(l.requests_per_minute)));
    }
    if (shared && l.requests_per_minute != 0 && windows[minute_requests].used() >= l.requests_per_minute) {
      refuse(limit_verdict::requests, window_wait(windows[minute_requests].used(), l.requests_per_minute));
    }
    if (l.tokens_per_minute != 0 && tokens <= 0) {
      refuse(limit_verdict::tokens,
             seconds_until((1 - tokens) * minute_ms / static_cast<double>(l.tokens_per_minute)));
    }
    if (shared && l.tokens_per_minute != 0 && windows[minute_tokens].used() >= l.tokens_per_minute) {
      refuse(limit_verdict::tokens, window_wait(windows[minute_tokens].used(), l.tokens_per_minute));
    }
    // A month's verdict names the refusal; the wait is still the longest.
    if (l.tokens_per_month != 0 && budgets_closed) {
      return {limit_verdict::store_unavailable, {}, std::max<std::int64_t>(1, rate.retry_after_s)};
    }
    const std::int64_t to_month_end =
        std::max(rate.retry_after_s, seconds_until(static_cast<double>(month.end_ms - now_ms)));
    if (l.tokens_per_month != 0 && windows[month_tokens].used() >= l.tokens_per_month) {
      return {limit_verdict::month, {}, to_month_end};
    }
    if (bound != 0 && bound > month_left()) {
      return {limit_verdict::over_budget, {}, to_month_end, month_left()};
    }
    if (rate.verdict != limit_verdict::admitted) {
      return rate;
    }
    // Not reached, but the requests in flight may reach it.
    const auto reserved = static_cast<double>(in_flight);
    // A bounded request is held while what is in flight and its own bound together pass the month's
    // budget (probe round 50: two concurrent max_tokens 950 against 1,000 left were both admitted).
    if (in_flight != 0 &&
        ((l.tokens_per_month != 0 && windows[month_tokens].used() + in_flight >= l.tokens_per_month) ||
         (l.tokens_per_month != 0 && bound != 0 &&
          windows[month_tokens].used() + in_flight + bound > l.tokens_per_month) ||
         (l.tokens_per_minute != 0 && tokens - reserved <= 0) ||
         (shared && l.tokens_per_minute != 0 &&
          windows[minute_tokens].used() + in_flight >= l.tokens_per_minute))) {
      return {limit_verdict::in_flight, {}, 1};
    }
    return {};
  }
  void take(std::int64_t now_ms, std::uint64_t reserve) {
    if (limits.requests_per_minute != 0) {
      requests -= 1;
      windows[minute_requests].pending += 1;
    }
    in_flight += reserve;  // whatever the limits: a reload may add a token limit while it is in flight
    last_admit_ms = now_ms;
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
  const auto add = [&](std::string name, const tenant_limits& limits) {
    if (!limits.any()) {
      return;
    }
    std::shared_ptr<state> s;
    if (const auto it = old->find(name); it != old->end()) {
      s = it->second;
      const std::lock_guard lock(s->mutex);
      s->refill(now_ms);
      s->limits = limits;
      s->requests = std::min(s->requests, static_cast<double>(limits.requests_per_minute));
      s->tokens = std::min(s->tokens, static_cast<double>(limits.tokens_per_minute));
    } else {
      s = std::make_shared<state>();
      s->limits = limits;
      s->requests = static_cast<double>(limits.requests_per_minute);
      s->tokens = static_cast<double>(limits.tokens_per_minute);
      s->at_ms = now_ms;
    }
    next->emplace(std::move(name), std::move(s));
  };
  for (const tenant& tn : t.tenants()) {
    add(tn.name, tn.limits);
    for (const model_limit& m : tn.model_limits) {
      std::string name;
      model_scope_name(tn.name, m.model.text(), name);
      add(std::move(name), m.limits);
    }
  }
  for (const api_key& k : t.keys()) {
    std::string name;
    key_scope_name(k.id, name);
    add(std::move(name), k.limits);
  }
  states_.store(std::move(next));
}

void limiter::share(budget_outage outage) {
  shared_ = true;
  outage_ = outage;
}

std::shared_ptr<limiter::state> limiter::find(std::string_view name) const {
  const std::shared_ptr<const map> m = states_.load();
  if (m->empty()) {
    return nullptr;
  }
  const auto it = m->find(name);
  return it == m->end() ? nullptr : it->second;
}

limiter::scopes limiter::find_all(const limit_target& target) const {
  scopes out;
  out[0] = find(target.tenant);
  thread_local std::string name;
  if (!target.key.empty()) {
    key_scope_name(target.key, name);
    out[1] = find(name);
  }
  if (!target.model.empty()) {
    model_scope_name(target.tenant, target.model, name);
    out[2] = find(name);
  }
  return out;
}

admission limiter::admit(const limit_target& target, std::int64_t now_ms, std::uint64_t reserve,
                         reservation& held, std::uint64_t unbounded_completions, bool bounded) {
  reserve = std::max<std::uint64_t>(reserve, 1);
  scopes sc = find_all(target);
  std::array<state*, 3> order{};
  std::size_t n = 0;
  for (const std::shared_ptr<state>& s : sc) {
    if (s) {
      order[n++] = s.get();
    }
  }
  if (n == 0) {
    return {};
  }
  // Every scope's lock, in one global order, so that two requests sharing scopes cannot deadlock.
  for (std::size_t i = 1; i < n; ++i) {  // at most three: an insertion sort
    for (std::size_t j = i; j > 0 && std::less<>()(order[j], order[j - 1]); --j) {
      std::swap(order[j], order[j - 1]);
    }
  }
  std::array<std::unique_lock<std::mutex>, 3> locks;
  for (std::size_t i = 0; i < n; ++i) {
    locks[i] = std::unique_lock(order[i]->mutex);
  }
  const month_of month = month_at(now_ms);
  const bool closed = budgets_closed();
  admission refused;
  for (std::size_t i = 0; i < sc.size(); ++i) {
    state* s = sc[i].get();
    if (s == nullptr) {
      continue;
    }
    const admission a = s->assess(now_ms, month, shared_, closed, bounded ? reserve : 0);
    if (a.verdict == limit_verdict::admitted) {
      continue;
    }
    // Over budget in several scopes: the one with the least left says what the request must fit.
    if (refused.verdict == limit_verdict::admitted ||
        (refused.verdict == limit_verdict::over_budget && a.verdict == limit_verdict::over_budget &&
         a.left < refused.left)) {
      refused = {a.verdict, static_cast<limit_scope>(i), refused.retry_after_s, a.left};
    }
    refused.retry_after_s = std::max(refused.retry_after_s, a.retry_after_s);
  }
  if (refused.verdict != limit_verdict::admitted) {
    return refused;
  }
  if (unbounded_completions > 0) {
    // Never less than the first estimate: a tenant that lowers its own average with short answers
    // would otherwise fit ever more long ones in flight on a budget's last tokens (probe round 17:
    // an average of 3 let 76 requests of 5,000 tokens through on 2,000 left).
    auto expected = static_cast<double>(first_completion_estimate);
    for (const std::shared_ptr<state>& s : sc) {
      expected = s ? std::max(expected, s->completion_estimate) : expected;
    }
    // Capped far above any budget (10^15), so that the sum stays in 64 bits.
    reserve += static_cast<std::uint64_t>(
        std::min(std::ceil(expected) * static_cast<double>(unbounded_completions), 1e15));
  }
  std::uint64_t tightest = reservation::no_budget;
  for (const std::shared_ptr<state>& s : sc) {
    if (s) {
      s->take(now_ms, reserve);
      tightest = std::min(tightest, s->month_left());
    }
  }
  held.states_ = std::move(sc);
  held.tokens_ = reserve;
  held.unbounded_ = unbounded_completions;
  held.month_left_ = tightest;
  return {};
}

void limiter::charge(reservation& held, std::uint64_t tokens, std::int64_t now_ms, std::uint64_t completion) {
  charge_scopes(held.states_, tokens, now_ms, held.tokens_,
                held.unbounded_ > 0 ? std::optional(completion / held.unbounded_) : std::nullopt);
  held.tokens_ = 0;
  held.unbounded_ = 0;
  held.month_left_ = reservation::no_budget;
  held.states_ = {};
}

void limiter::reservation::release() noexcept {
  if (tokens_ != 0) {
    for (const std::shared_ptr<state>& s : states_) {
      if (s) {
        const std::lock_guard lock(s->mutex);
        s->in_flight -= std::min(s->in_flight, tokens_);
      }
    }
  }
  tokens_ = 0;
  unbounded_ = 0;
  month_left_ = no_budget;
  states_ = {};
}

void limiter::charge(const limit_target& target, std::uint64_t tokens, std::int64_t now_ms) {
  if (tokens != 0) {
    charge_scopes(find_all(target), tokens, now_ms, 0, std::nullopt);
  }
}

void limiter::charge_scopes(const scopes& sc, std::uint64_t tokens, std::int64_t now_ms,
                            std::uint64_t reserved, std::optional<std::uint64_t> unbounded_completion) {
  if (tokens == 0 && reserved == 0 && !unbounded_completion) {
    return;
  }
  const month_of month = month_at(now_ms);
  for (const std::shared_ptr<state>& s : sc) {
    if (!s) {
      continue;
    }
    const std::lock_guard lock(s->mutex);
    s->in_flight -= std::min(s->in_flight, reserved);
    if (unbounded_completion) {
      // A running average (weight 1/4 for the newest) of what unbounded completions used.
      s->completion_estimate += (static_cast<double>(*unbounded_completion) - s->completion_estimate) / 4;
    }
    if (tokens == 0) {
      continue;
    }
    s->refill(now_ms);
    s->roll(now_ms, month.key);
    if (s->limits.tokens_per_minute != 0) {
      s->tokens -= static_cast<double>(tokens);
      s->windows[minute_tokens].pending += tokens;
    }
    s->windows[month_tokens].pending += tokens;
  }
}

admission limiter::refuses_every_request(const limit_target& target, std::int64_t now_ms) const {
  const scopes sc = find_all(target);
  const month_of month = month_at(now_ms);
  const bool closed = budgets_closed();
  admission refused;
  for (std::size_t i = 0; i < sc.size(); ++i) {
    state* s = sc[i].get();
    if (s == nullptr) {
      continue;
    }
    const std::lock_guard lock(s->mutex);
    const admission a = s->assess(now_ms, month, shared_, closed, 0);
    if (a.verdict == limit_verdict::admitted || a.verdict == limit_verdict::in_flight) {
      continue;  // in flight: may be charged and released while the body is read
    }
    if (refused.verdict == limit_verdict::admitted) {
      refused = {a.verdict, static_cast<limit_scope>(i), 0, 0};
    }
    refused.retry_after_s = std::max(refused.retry_after_s, a.retry_after_s);
  }
  return refused;
}

std::optional<std::uint64_t> limiter::month_left(const limit_target& target, limit_scope scope,
                                                 std::int64_t now_ms) const {
  const std::shared_ptr<state> s = find_all(target)[static_cast<std::size_t>(scope)];
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
      b.items_.push_back(
          {std::move(key), w.pending, c == month_tokens ? month_ttl_s : minute_key_ttl_s, w.shared});
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
      // Totals within a window only grow: a smaller one (a store that lost its data, or one that
      // answers wrongly) never gives back what this instance knows was spent.
      w.shared = std::max(w.shared, totals[i]);
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
