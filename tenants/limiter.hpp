#pragma once

// In-process rate limits and budgets per scope (tenant_limits): a tenant, one of its keys (an
// api_key's `limits`) and one of its model rules (`model_limits`). A request counts against every
// scope that applies to it (limit_target) and is admitted only when each of them admits it: the
// scopes are checked together, under all their locks, and a refused request takes nothing from
// any of them; its tokens are charged to each. Per scope: requests per minute and tokens
// per minute as token buckets (capacity = the per-minute limit, refilled continuously), and tokens
// per calendar month (UTC). A request is admitted, or refused with how long to wait:
//   - requests: one request is taken from the bucket when admitted;
//   - tokens: admitted while the bucket is not empty (the estimate before the response is zero
//     tokens), and charged with the tokens the cluster reported when the answer ends; the request
//     that empties the bucket completes, the next waits until it refills;
//   - month: admitted while the month's tokens are below the budget; the request that crosses it
//     completes, the next is refused until the month ends.
// In flight: a request admitted to a scope with a token limit reserves an estimate of its tokens
// (`reserve`, at least 1) until it is charged (charge() releases it, whatever the tokens). A
// request is refused (limit_verdict::in_flight) while the count plus what is reserved reaches a
// token limit, so that requests sent together cannot all pass while the budget has one token
// left: past a limit by at most the requests in flight when it was crossed, not by every request
// sent at once. Reservations are this instance's own (never synced).
// Counters survive configure() (SIGHUP) for scopes that stay (the same tenant, key id, or tenant
// and model pattern). Thread-safe: short locks on the request's scopes (taken in address order).
// Pure: no sockets, times are passed in.
//
// Shared counting (share(), for a limits store such as Redis, driven by gateway/limits_store):
// besides the buckets, each scope counts requests and tokens per UTC minute and tokens per UTC
// month in windows made of three parts: `shared`, the store's total at the last sync (what every
// instance counted); `pending`, what this instance counted since; `sending`, what a sync in flight
// carries. A request is refused when shared + sending + pending reaches a limit. A minute's count
// beyond its limit is carried into the next minutes (less a limit's worth each) as a debt, counted
// in the new window's `shared` and so raised into the store's key by the next sync: the shared
// count pays an overdraft off as a bucket does, once for every instance. A refused request's wait
// is the longest of the limits that refuse it (bucket, shared minute and its debt, scopes). begin_sync()
// moves every pending delta into a batch (one item per scope and window, with its store key and TTL); the
// caller adds the deltas in the store and reads the totals back, then calls end_sync() with the totals (the
// windows learn them) or abort_sync() (the deltas become pending again, so nothing is lost: a reply lost
// after the store applied a delta counts it twice, never zero times). One batch at a time. While the store is
// down (set_store_up(false), also the state before the first sync), counting is local (the last shared totals
// plus what this instance counts); a request counted by a scope with a monthly budget is refused
// (limit_verdict::store_unavailable) unless the outage mode is `open`.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tenants/tenants.hpp"

namespace sovgw::tenants {

// in_flight: the scope's token limit is not reached, but the requests admitted and not yet charged
// may reach it (see "In flight" above): retry in a second. over_budget: the request bounds its
// completion, and its own reservation (its prompt's estimate and that bound) is more than the
// scope's month has left: it could spend more than the budget holds (admission::left says how much).
enum class limit_verdict : std::uint8_t {
  admitted,
  requests,
  tokens,
  month,
  store_unavailable,
  in_flight,
  over_budget
};

// Which scope's limit refused a request.
enum class limit_scope : std::uint8_t { tenant, key, model };

// The scopes one request counts against; empty key and model: those scopes do not apply.
struct limit_target {
  std::string_view tenant;
  std::string_view key;    // the key's id (api_key::id)
  std::string_view model;  // the pattern of the tenant's model rule that matched (model_limit::model)
};

// Monthly budgets while the limits store is unreachable: refused, or counted locally.
enum class budget_outage : std::uint8_t { closed, open };

struct admission {
  limit_verdict verdict = limit_verdict::admitted;
  limit_scope scope = limit_scope::tenant;  // when refused: the first scope (tenant, key, model) that refused
  std::int64_t retry_after_s = 0;           // when refused: the longest wait among the limits that refused
  std::uint64_t left = 0;                   // over_budget: the tokens `scope`'s month has left
};

// One window of one tenant in a sync batch: add `delta` to `key` (expiring in ttl_s) and read the
// total back.
struct sync_item {
  // sovgw:limits:{scope}:{requests|tokens}:{UTC minute} or :month:{YYYY-MM}, where {scope} is the
  // tenant's name, key:{key id}, or model:{tenant}:{pattern with '%' and ':' as %25 and %3A}
  std::string key;
  std::uint64_t delta = 0;
  std::int64_t ttl_s = 0;
  // The total this instance last read for the key: the store's total is raised to it first, so a
  // store that lost its data (restarted without persistence, flushed) does not hand out again
  // what every instance knows was spent.
  std::uint64_t floor = 0;
};

class limiter {
  struct state;

 public:
  limiter() = default;

  // What admit() took for one request: the scopes it counted against and the tokens it reserved in
  // each. charge() releases exactly that and charges those scopes, whatever a reload did meanwhile,
  // without looking them up again.
  // A reservation that is never charged (a request dropped at shutdown) is released when destroyed.
  class reservation {
   public:
    reservation() = default;
    reservation(reservation&& other) noexcept
        : states_(std::move(other.states_)),
          tokens_(std::exchange(other.tokens_, 0)),
          unbounded_(std::exchange(other.unbounded_, 0)),
          month_left_(std::exchange(other.month_left_, no_budget)) {}
    reservation& operator=(reservation&& other) noexcept {
      if (this != &other) {
        release();
        states_ = std::move(other.states_);
        tokens_ = std::exchange(other.tokens_, 0);
        unbounded_ = std::exchange(other.unbounded_, 0);
        month_left_ = std::exchange(other.month_left_, no_budget);
      }
      return *this;
    }
    reservation(const reservation&) = delete;
    reservation& operator=(const reservation&) = delete;
    ~reservation() { release(); }
    [[nodiscard]] std::uint64_t tokens() const { return tokens_; }
    // What the tightest monthly budget among its scopes had left when it was admitted (no_budget
    // without one): the most an estimate of its tokens may be charged (a client that hangs up
    // decides when its request ends, and with it how much of a reservation is charged).
    [[nodiscard]] std::uint64_t month_left() const { return month_left_; }
    static constexpr std::uint64_t no_budget = UINT64_MAX;

   private:
    friend class limiter;
    void release() noexcept;                        // the tokens back to every scope, the reservation emptied
    std::array<std::shared_ptr<state>, 3> states_;  // by limit_scope; null: no limits there
    std::uint64_t tokens_ = 0;
    // How many unbounded completions it asked for (0: its completion had a bound): the scopes
    // learn from what each used.
    std::uint64_t unbounded_ = 0;
    std::uint64_t month_left_ = no_budget;
  };

  // What a request whose completion has no bound (no max_tokens) reserves for it before any such
  // request of its scope was charged; after that, an average of what they used (see admit).
  static constexpr std::uint64_t first_completion_estimate = 256;

  // Takes the limits of `t`'s tenants, keys and model rules; keeps the counters of scopes that stay.
  void configure(const table& t, std::int64_t now_ms);

  // Admitted: `reserve` tokens are held in every scope of `target` until charge(held, ...). With
  // `unbounded_completions` (the request asks for that many completions, n choices of each of its
  // batch's prompts, and bounds none), the reservation adds that many times the scopes' estimate of
  // such a completion (the largest of theirs): a running average of what the
  // completions of their unbounded requests used, first_completion_estimate before any and never
  // less (a tenant cannot lower it with short answers before sending long ones together), so that
  // requests sent together on a budget's last tokens are refused rather than all let through.
  // `bounded`: `reserve` is the request's prompt's estimate and its completion's bound, what it may
  // use at most; a scope whose month has less left refuses it (over_budget), so that no request can
  // spend more than its scopes' budgets hold (a key's share of its tenant above all). A request
  // without a bound is admitted while the month is not spent, as before (the crossing request
  // completes; reservation::month_left caps what an estimate of it may be charged).
  [[nodiscard]] admission admit(const limit_target& target, std::int64_t now_ms, std::uint64_t reserve,
                                reservation& held, std::uint64_t unbounded_completions = 0,
                                bool bounded = false);
  // A request admitted and done at once (nothing stays reserved).
  [[nodiscard]] admission admit(const limit_target& target, std::int64_t now_ms) {
    reservation held;
    return admit(target, now_ms, 1, held);
  }
  // The request's `tokens` (0 when it used none) into the scopes admit() counted it against; its
  // reservation released; `completion`, its completion's share, teaches the scopes the estimate of
  // unbounded completions when it was one. Empties `held`.
  void charge(reservation& held, std::uint64_t tokens, std::int64_t now_ms, std::uint64_t completion = 0);
  // `tokens` into `target`'s scopes as they are now, with no reservation.
  void charge(const limit_target& target, std::uint64_t tokens, std::int64_t now_ms);
  [[nodiscard]] admission admit(std::string_view tenant, std::int64_t now_ms) {
    return admit(limit_target{tenant, {}, {}}, now_ms);
  }
  void charge(std::string_view tenant, std::uint64_t tokens, std::int64_t now_ms) {
    charge(limit_target{tenant, {}, {}}, tokens, now_ms);
  }

  // Whether every request of `target` is refused now, whatever it asks: a spent monthly budget
  // (limit_verdict::month), a monthly budget with the shared store down and outages closed
  // (store_unavailable), an empty requests or tokens bucket or a full shared minute (requests,
  // tokens); the first scope (tenant, then key) that refuses and the longest wait. Reserves and
  // counts nothing: the gateway asks it before a request's body is read, so that a request
  // refused anyway is not sent its body first. What depends on the request (its model's rule, its
  // bound, the tokens in flight) is left to admit().
  [[nodiscard]] admission refuses_every_request(const limit_target& target, std::int64_t now_ms) const;

  // Tokens left this month in `target`'s `scope` (for the budget gauges); nullopt without a monthly
  // budget there.
  [[nodiscard]] std::optional<std::uint64_t> month_left(const limit_target& target, limit_scope scope,
                                                        std::int64_t now_ms) const;
  [[nodiscard]] std::optional<std::uint64_t> month_left(std::string_view tenant, std::int64_t now_ms) const {
    return month_left(limit_target{tenant, {}, {}}, limit_scope::tenant, now_ms);
  }

  // Shared counting: call once, before any request; the store is down until set_store_up(true).
  void share(budget_outage outage);
  void set_store_up(bool up) { store_up_.store(up, std::memory_order_release); }
  [[nodiscard]] bool store_up() const { return store_up_.load(std::memory_order_acquire); }
  // Whether monthly budgets are refused now: shared counting, its store down, outages closed.
  [[nodiscard]] bool budgets_closed() const {
    return shared_ && outage_ == budget_outage::closed && !store_up();
  }

  class sync_batch {
   public:
    [[nodiscard]] const std::vector<sync_item>& items() const { return items_; }

   private:
    friend class limiter;
    struct slot;
    std::vector<sync_item> items_;
    std::vector<slot> slots_;
  };
  // The windows of the scopes with limits (deltas of zero read the total): with `all`, every
  // scope; otherwise the scopes admitted here within the last minute or with counts to send
  // (idle scopes cost the store nothing between full syncs). One batch at a time.
  [[nodiscard]] sync_batch begin_sync(std::int64_t now_ms, bool all = true);
  // totals[i]: the store's total for items()[i] after its delta was added.
  void end_sync(const sync_batch& batch, const std::vector<std::uint64_t>& totals);
  void abort_sync(const sync_batch& batch);
  // Completed syncs (end_sync calls) since start.
  [[nodiscard]] std::uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  struct name_hash {  // lookups by string_view, without building a std::string per request
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
  };
  using map = std::unordered_map<std::string, std::shared_ptr<state>, name_hash, std::equal_to<>>;
  using scopes = std::array<std::shared_ptr<state>, 3>;  // by limit_scope; null: no limits there
  [[nodiscard]] std::shared_ptr<state> find(std::string_view name) const;
  [[nodiscard]] scopes find_all(const limit_target& target) const;
  // `unbounded_completion`: what one completion of a request that did not bound them used (the
  // whole completion over their number), which the scopes' estimate learns from (admit).
  void charge_scopes(const scopes& sc, std::uint64_t tokens, std::int64_t now_ms, std::uint64_t reserved,
                     std::optional<std::uint64_t> unbounded_completion);

  std::atomic<std::shared_ptr<const map>> states_{std::make_shared<const map>()};
  bool shared_ = false;
  budget_outage outage_ = budget_outage::closed;
  std::atomic<bool> store_up_{false};
  std::atomic<std::uint64_t> syncs_{0};
};

struct limiter::sync_batch::slot {
  std::shared_ptr<limiter::state> state;
  int counter;  // which window of the state
  std::int64_t window;
};

}  // namespace sovgw::tenants
