#include "tenants/limiter.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "tenants/tenants.hpp"

using namespace sovgw::tenants;

namespace {

table with_limits(tenant_limits l) {
  tenant t;
  t.name = "acme";
  t.limits = l;
  tenant other;
  other.name = "free";
  return table({t, other}, {});
}

const std::int64_t t0 = *parse_time("2026-12-31T23:59:00Z") * 1000;

}  // namespace

TEST_CASE("limiter: requests per minute refill continuously, and Retry-After says when") {
  limiter l;
  l.configure(with_limits({.requests_per_minute = 2}), t0);
  CHECK(l.admit("acme", t0).verdict == limit_verdict::admitted);
  CHECK(l.admit("acme", t0).verdict == limit_verdict::admitted);
  const admission refused = l.admit("acme", t0);
  CHECK(refused.verdict == limit_verdict::requests);
  CHECK(refused.retry_after_s == 30);                                     // one request per 30 s
  CHECK(l.admit("acme", t0 + 29000).verdict == limit_verdict::requests);  // refused: nothing taken
  CHECK(l.admit("acme", t0 + 30000).verdict == limit_verdict::admitted);
  CHECK(l.admit("free", t0).verdict == limit_verdict::admitted);  // no limits
  CHECK(l.admit("unknown", t0).verdict == limit_verdict::admitted);
}

TEST_CASE("limiter: tokens per minute: the request that empties the bucket completes, the next waits") {
  limiter l;
  l.configure(with_limits({.tokens_per_minute = 600}), t0);
  CHECK(l.admit("acme", t0).verdict == limit_verdict::admitted);
  l.charge("acme", 900, t0);  // 300 over
  const admission refused = l.admit("acme", t0);
  CHECK(refused.verdict == limit_verdict::tokens);
  CHECK(refused.retry_after_s == 31);  // 301 tokens at 10 per second
  CHECK(l.admit("acme", t0 + 31000).verdict == limit_verdict::admitted);
}

TEST_CASE("limiter: the monthly budget ends with the month; counters survive a reload") {
  limiter l;
  l.configure(with_limits({.tokens_per_month = 1000}), t0);
  l.charge("acme", 999, t0);
  CHECK(l.month_left("acme", t0) == 1);
  CHECK(l.admit("acme", t0).verdict == limit_verdict::admitted);
  l.charge("acme", 50, t0);
  l.configure(with_limits({.tokens_per_month = 1000}), t0 + 1000);  // SIGHUP: the count stays
  const admission refused = l.admit("acme", t0 + 1000);
  CHECK(refused.verdict == limit_verdict::month);
  CHECK(refused.retry_after_s == 59);  // 2027-01-01T00:00:00Z
  CHECK(l.admit("acme", t0 + 60000).verdict == limit_verdict::admitted);
  CHECK(l.month_left("acme", t0 + 60000) == 1000);
  CHECK_FALSE(l.month_left("free", t0).has_value());
}

namespace {

// What the store does with a sync batch (INCRBY then read back, as the Redis script does): a map
// of totals shared by every limiter synced against it.
struct store_totals {
  std::map<std::string, std::uint64_t> totals;
  std::map<std::string, std::int64_t> ttls;

  void sync(limiter& l, std::int64_t now_ms) {
    const limiter::sync_batch b = l.begin_sync(now_ms);
    std::vector<std::uint64_t> out;
    for (const sync_item& item : b.items()) {
      std::uint64_t& total = totals[item.key];
      total = std::max(total, item.floor);  // raised to what the instance last read
      out.push_back(total += item.delta);
      ttls[item.key] = item.ttl_s;
    }
    l.end_sync(b, out);
    l.set_store_up(true);  // as gateway/limits_store does after a sync
  }
};

void share(limiter& l, tenant_limits limits, budget_outage outage = budget_outage::closed) {
  l.share(outage);
  l.configure(with_limits(limits), t0);
}

// 20 requests of 17 tokens alternating between two instances with a monthly budget of 100, the
// store synced by both after each request (or never): the tokens charged.
std::uint64_t alternate(limiter& a, limiter& b, store_totals& store, bool sync_between) {
  share(a, {.tokens_per_month = 100});
  share(b, {.tokens_per_month = 100});
  store.sync(a, t0);
  store.sync(b, t0);
  std::uint64_t charged = 0;
  for (int i = 0; i < 20; ++i) {
    limiter& l = i % 2 == 0 ? a : b;
    if (l.admit("acme", t0).verdict == limit_verdict::admitted) {
      l.charge("acme", 17, t0);
      charged += 17;
    }
    if (sync_between) {
      store.sync(l, t0);
      store.sync(i % 2 == 0 ? b : a, t0);
    }
  }
  return charged;
}

}  // namespace

TEST_CASE("limiter, shared: two instances that sync between requests hold a monthly budget") {
  limiter a;
  limiter b;
  store_totals store;
  CHECK(alternate(a, b, store, true) == 102);  // the request that crosses 100 completes; none after it
  CHECK(store.totals["sovgw:limits:acme:month:2026-12"] == 102);
  CHECK(store.ttls["sovgw:limits:acme:month:2026-12"] == 60 + 86400);  // the month's end, plus a day
  CHECK(a.month_left("acme", t0) == 0);
  CHECK(b.admit("acme", t0).verdict == limit_verdict::month);
  CHECK(a.syncs() == 21);
}

TEST_CASE("limiter, shared: without syncs each instance counts alone (the overshoot syncing prevents)") {
  limiter a;
  limiter b;
  store_totals store;
  CHECK(alternate(a, b, store, false) == 204);
  store.sync(a, t0);
  store.sync(b, t0);
  CHECK(store.totals["sovgw:limits:acme:month:2026-12"] == 204);  // twice the budget, once they sync
  CHECK(b.month_left("acme", t0) == 0);
}

TEST_CASE("limiter, shared: requests and tokens per minute count in UTC minute windows across instances") {
  limiter a;
  share(a, {.requests_per_minute = 3, .tokens_per_minute = 1000});
  limiter b;
  share(b, {.requests_per_minute = 3, .tokens_per_minute = 1000});
  store_totals store;
  CHECK(a.admit("acme", t0).verdict == limit_verdict::admitted);
  CHECK(a.admit("acme", t0).verdict == limit_verdict::admitted);
  store.sync(a, t0);
  store.sync(b, t0);
  const std::string minute = std::to_string(t0 / 60000);
  CHECK(store.totals["sovgw:limits:acme:requests:" + minute] == 2);
  CHECK(store.ttls["sovgw:limits:acme:requests:" + minute] == 120);
  CHECK(b.admit("acme", t0 + 1000).verdict == limit_verdict::admitted);  // the third of the minute
  const admission refused = b.admit("acme", t0 + 1000);                  // b's own bucket holds 2 more
  CHECK(refused.verdict == limit_verdict::requests);
  CHECK(refused.retry_after_s == 59);                                     // the next UTC minute
  CHECK(b.admit("acme", t0 + 60000).verdict == limit_verdict::admitted);  // a new window
  b.charge("acme", 1200, t0 + 60000);
  store.sync(b, t0 + 60000);
  store.sync(a, t0 + 60000);
  CHECK(a.admit("acme", t0 + 60000).verdict == limit_verdict::tokens);  // b's tokens, learnt by a
}

TEST_CASE("limiter, shared: a failed sync keeps its deltas for the next one") {
  limiter l;
  share(l, {.tokens_per_month = 1000});
  store_totals store;
  store.sync(l, t0);
  l.set_store_up(true);
  l.charge("acme", 40, t0);
  const limiter::sync_batch failed = l.begin_sync(t0);
  REQUIRE(failed.items().size() == 1);
  CHECK(failed.items()[0].delta == 40);
  l.charge("acme", 2, t0);
  CHECK(l.month_left("acme", t0) == 958);  // in flight still counts
  l.abort_sync(failed);
  CHECK(l.month_left("acme", t0) == 958);
  store.sync(l, t0);
  CHECK(store.totals["sovgw:limits:acme:month:2026-12"] == 42);
  CHECK(l.month_left("acme", t0) == 958);
}

TEST_CASE("limiter, shared: while the store is down, budgets are closed or counted locally") {
  limiter closed;
  share(closed, {.tokens_per_month = 100});
  CHECK(closed.admit("acme", t0).verdict == limit_verdict::store_unavailable);  // never synced yet
  closed.set_store_up(true);
  CHECK(closed.admit("acme", t0).verdict == limit_verdict::admitted);
  closed.set_store_up(false);
  const admission refused = closed.admit("acme", t0);
  CHECK(refused.verdict == limit_verdict::store_unavailable);
  CHECK(refused.retry_after_s == 1);
  limiter rates;
  share(rates, {.requests_per_minute = 1});  // no budget: local counting
  CHECK(rates.admit("acme", t0).verdict == limit_verdict::admitted);
  CHECK(rates.admit("acme", t0).verdict == limit_verdict::requests);

  limiter open;
  share(open, {.tokens_per_month = 100}, budget_outage::open);
  store_totals store;
  store.totals["sovgw:limits:acme:month:2026-12"] = 90;  // another instance's tokens
  store.sync(open, t0);
  CHECK(open.admit("acme", t0).verdict == limit_verdict::admitted);
  open.charge("acme", 17, t0);  // 107: the last known total plus this instance's count
  CHECK(open.admit("acme", t0).verdict == limit_verdict::month);
}

TEST_CASE("limiter, shared: between full syncs, only tenants busy here (a minute) are synced") {
  limiter l;
  share(l, {.tokens_per_month = 100});
  store_totals store;
  store.sync(l, t0);                               // all
  CHECK(l.begin_sync(t0, false).items().empty());  // nobody admitted here yet
  REQUIRE(l.admit("acme", t0).verdict == limit_verdict::admitted);
  const limiter::sync_batch busy = l.begin_sync(t0 + 59000, false);
  REQUIRE(busy.items().size() == 1);
  CHECK(busy.items()[0].key == "sovgw:limits:acme:month:2026-12");
  l.end_sync(busy, {0});
  CHECK(l.begin_sync(t0 + 60000, false).items().empty());  // idle for a minute
  l.charge("acme", 5, t0 + 60000);                         // a long stream ends: its tokens are sent at once
  CHECK(l.begin_sync(t0 + 60000, false).items().size() == 1);
}

namespace {

// Tenant acme (10 requests per minute) with a key of 2 requests per minute, a key without limits,
// and model rules: gpt-4o* 1000 tokens a month, and 3 requests per minute for everything else.
const std::string limited_key = "sk-sovgw-Limited1";
const std::string free_key = "sk-sovgw-Unlimite";

table with_scopes() {
  tenant t;
  t.name = "acme";
  t.limits = {.requests_per_minute = 10};
  t.model_limits.push_back({sovgw::policy::glob_pattern("gpt-4o*"),
                            sovgw::policy::glob_pattern("gpt-4o*"),
                            {.tokens_per_month = 1000},
                            {}});
  t.model_limits.push_back(
      {sovgw::policy::glob_pattern("*"), sovgw::policy::glob_pattern("*"), {.requests_per_minute = 3}, {}});
  api_key k1;
  k1.id = limited_key;
  k1.tenant = "acme";
  k1.limits = {.requests_per_minute = 2};
  k1.hash[0] = 1;
  api_key k2;
  k2.id = free_key;
  k2.tenant = "acme";
  k2.hash[0] = 2;
  return table({t}, {k1, k2});
}

}  // namespace

TEST_CASE("limiter, scopes: a request passes its tenant, its key and its model rule, or takes nothing") {
  limiter l;
  l.configure(with_scopes(), t0);
  const limit_target by_limited_key{"acme", limited_key, "gpt-4o*"};
  CHECK(l.admit(by_limited_key, t0).verdict == limit_verdict::admitted);
  CHECK(l.admit(by_limited_key, t0).verdict == limit_verdict::admitted);
  const admission refused = l.admit(by_limited_key, t0);
  CHECK(refused.verdict == limit_verdict::requests);
  CHECK(refused.scope == limit_scope::key);
  CHECK(refused.retry_after_s == 30);
  // The key's refusals took nothing from the tenant: 8 of its 10 requests are left.
  int admitted = 0;
  for (int i = 0; i < 12; ++i) {
    admitted +=
        l.admit(limit_target{"acme", free_key, "gpt-4o*"}, t0).verdict == limit_verdict::admitted ? 1 : 0;
  }
  CHECK(admitted == 8);
  const admission tenant_full = l.admit(limit_target{"acme", free_key, "gpt-4o*"}, t0);
  CHECK(tenant_full.verdict == limit_verdict::requests);
  CHECK(tenant_full.scope == limit_scope::tenant);
}

TEST_CASE("limiter, scopes: the model rule refuses, and says so; other rules count apart") {
  limiter l;
  l.configure(with_scopes(), t0);
  const limit_target mistral{"acme", {}, "*"};
  for (int i = 0; i < 3; ++i) {
    CHECK(l.admit(mistral, t0).verdict == limit_verdict::admitted);
  }
  const admission refused = l.admit(mistral, t0);
  CHECK(refused.verdict == limit_verdict::requests);
  CHECK(refused.scope == limit_scope::model);
  CHECK(refused.retry_after_s == 20);
  CHECK(l.admit(limit_target{"acme", {}, "gpt-4o*"}, t0).verdict == limit_verdict::admitted);
}

TEST_CASE(
    "limiter, scopes: tokens are charged to every scope; a monthly model budget says insufficient quota") {
  limiter l;
  l.configure(with_scopes(), t0);
  const limit_target gpt{"acme", limited_key, "gpt-4o*"};
  CHECK(l.admit(gpt, t0).verdict == limit_verdict::admitted);
  l.charge(gpt, 1200, t0);  // crosses the model's monthly budget: this request completed
  const admission refused = l.admit(gpt, t0 + 1000);
  CHECK(refused.verdict == limit_verdict::month);
  CHECK(refused.scope == limit_scope::model);
  CHECK(refused.retry_after_s == 59);
  // Another model of the same tenant is not refused by the gpt-4o* budget.
  CHECK(l.admit(limit_target{"acme", {}, "*"}, t0 + 1000).verdict == limit_verdict::admitted);
  // Reload keeps the model and key counters.
  l.configure(with_scopes(), t0 + 2000);
  CHECK(l.admit(gpt, t0 + 2000).scope == limit_scope::model);
}

TEST_CASE("limiter, scopes: key and model counters are synced under names no tenant can take") {
  limiter l;
  l.share(budget_outage::closed);
  l.configure(with_scopes(), t0);
  store_totals store;
  store.sync(l, t0);
  const limit_target gpt{"acme", limited_key, "gpt-4o*"};
  CHECK(l.admit(gpt, t0).verdict == limit_verdict::admitted);
  l.charge(gpt, 7, t0);
  store.sync(l, t0);
  const std::int64_t minute = t0 / 60000;
  CHECK(store.totals["sovgw:limits:acme:requests:" + std::to_string(minute)] == 1);
  CHECK(store.totals["sovgw:limits:key:sk-sovgw-Limited1:requests:" + std::to_string(minute)] == 1);
  CHECK(store.totals["sovgw:limits:model:acme:gpt-4o*:month:2026-12"] == 7);
  CHECK(store.totals.count("sovgw:limits:model:acme:*:requests:" + std::to_string(minute)) == 1);
}

TEST_CASE("limiter: requests in flight reserve their estimate; sent together, they cannot all pass") {
  limiter l;
  l.configure(with_limits({.tokens_per_month = 1000}), t0);
  l.charge("acme", 990, t0);  // 10 tokens left
  const limit_target acme{"acme", {}, {}};
  // The first of many requests sent at once passes (the budget is not reached) and reserves its
  // estimate; the others wait for it rather than all pass on the same 10 tokens.
  limiter::reservation first, second, third;
  CHECK(l.admit(acme, t0, 50, first).verdict == limit_verdict::admitted);
  const admission waiting = l.admit(acme, t0, 50, second);
  CHECK(waiting.verdict == limit_verdict::in_flight);
  CHECK(waiting.retry_after_s == 1);
  CHECK(l.admit(acme, t0, 1, third).verdict == limit_verdict::in_flight);
  // Charged with what it used (less than its estimate): the reservation goes, the budget is left.
  l.charge(first, 4, t0);
  CHECK(l.month_left("acme", t0) == 6);
  CHECK(l.admit(acme, t0, 5, first).verdict == limit_verdict::admitted);  // 6 left, 5 reserved
  l.charge(first, 0, t0);  // refused later (a policy denial): nothing used, the reservation goes
  CHECK(l.admit(acme, t0, 5, first).verdict == limit_verdict::admitted);
  l.charge(first, 30, t0);  // the request that crosses the budget completes
  CHECK(l.admit(acme, t0, 1, third).verdict == limit_verdict::month);
  // Tokens per minute likewise; a tenant without token limits reserves nothing that refuses it.
  limiter m;
  m.configure(with_limits({.tokens_per_minute = 100}), t0);
  limiter::reservation a, b, c;
  CHECK(m.admit(acme, t0, 60, a).verdict == limit_verdict::admitted);
  CHECK(m.admit(acme, t0, 60, b).verdict == limit_verdict::admitted);  // 40 not reserved yet
  CHECK(m.admit(acme, t0, 1, c).verdict == limit_verdict::in_flight);  // 120 reserved of 100
  m.charge(a, 10, t0);
  CHECK(m.admit(acme, t0, 1, c).verdict == limit_verdict::admitted);  // 90 left, 60 reserved
  CHECK(m.admit({"free", {}, {}}, t0, 1000000, a).verdict == limit_verdict::admitted);
  // Bounded requests: each within what the month has left, together over it (probe round 50: two
  // max_tokens 950 against 1,000 left both passed): the second waits for the first.
  limiter n;
  n.configure(with_limits({.tokens_per_month = 1000}), t0);
  limiter::reservation p, q;
  CHECK(n.admit(acme, t0, 960, p, 0, true).verdict == limit_verdict::admitted);
  CHECK(n.admit(acme, t0, 960, q, 0, true).verdict == limit_verdict::in_flight);
  CHECK(n.admit(acme, t0, 40, q, 0, true).verdict == limit_verdict::admitted);  // 960 + 40: within
  n.charge(p, 500, t0);
  n.charge(q, 40, t0);
  CHECK(n.admit(acme, t0, 460, q, 0, true).verdict == limit_verdict::admitted);  // 460 left
}

TEST_CASE("limiter: a request whose own bound is more than a scope's month has left is refused") {
  // Tenant acme has 2000 tokens a month, one of its keys 400 of them (probe round 37: a request of
  // that key with max_tokens 100000 was admitted, and charged 100000 when its client hung up).
  tenant t;
  t.name = "acme";
  t.limits = {.tokens_per_month = 2000};
  api_key k;
  k.id = limited_key;
  k.tenant = "acme";
  k.limits = {.tokens_per_month = 400};
  k.hash[0] = 1;
  limiter l;
  l.configure(table({t}, {k}), t0);
  const limit_target by_key{"acme", limited_key, {}};
  limiter::reservation held;
  const admission refused = l.admit(by_key, t0, 100026, held, 0, true);
  CHECK(refused.verdict == limit_verdict::over_budget);
  CHECK(refused.scope == limit_scope::key);
  CHECK(refused.left == 400);
  CHECK(refused.retry_after_s == 60);  // the month's end
  CHECK(held.tokens() == 0);           // nothing taken
  CHECK(l.month_left(by_key, limit_scope::key, t0) == 400);
  // A bound that fits is admitted; the reservation knows the tightest month's remainder.
  REQUIRE(l.admit(by_key, t0, 400, held, 0, true).verdict == limit_verdict::admitted);
  CHECK(held.month_left() == 400);
  l.charge(held, 30, t0);
  // The tenant's other keys spent most of its month: its remainder refuses, and is named.
  l.charge("acme", 1770, t0);
  const admission tenant_refuses = l.admit(by_key, t0, 300, held, 0, true);
  CHECK(tenant_refuses.verdict == limit_verdict::over_budget);
  CHECK(tenant_refuses.scope == limit_scope::tenant);
  CHECK(tenant_refuses.left == 200);
  // Without a bound (an estimate, not a bound), the request is admitted while the month is not spent,
  // as before: the crossing request completes. What it may be charged as an estimate is capped.
  limiter::reservation unbounded;
  REQUIRE(l.admit(by_key, t0, 100026, unbounded).verdict == limit_verdict::admitted);
  CHECK(unbounded.month_left() == 200);
  limiter::reservation no_budget;
  REQUIRE(l.admit(limit_target{"free", {}, {}}, t0, 100026, no_budget, 0, true).verdict ==
          limit_verdict::admitted);
  CHECK(no_budget.month_left() == limiter::reservation::no_budget);
}

TEST_CASE("limiter: a request without a completion bound reserves what such completions have used") {
  limiter l;
  l.configure(with_limits({.tokens_per_month = 3000}), t0);
  const limit_target acme{"acme", {}, {}};
  // 60 requests sent at once, each with a 23-token prompt and no max_tokens: before any was
  // charged, each reserves the prompt and limiter::first_completion_estimate.
  std::vector<limiter::reservation> held(60);
  std::size_t admitted = 0;
  for (auto& r : held) {
    admitted += l.admit(acme, t0, 23, r, 1).verdict == limit_verdict::admitted ? 1 : 0;
  }
  const std::size_t per = 23 + limiter::first_completion_estimate;
  CHECK(admitted == (3000 + per - 1) / per);  // until the reservations reach the budget, not 60
  CHECK(held[0].tokens() == per);
  // Their completions used 100 each: the estimate moves toward it (a quarter of the way per
  // request), but a reservation never goes below the first estimate: a tenant that lowered its
  // average with short answers would fit ever more long ones in flight (probe round 17).
  for (std::size_t i = 0; i < admitted; ++i) {
    l.charge(held[i], 123, t0, 100);
  }
  limiter::reservation next;
  REQUIRE(l.admit(acme, t0, 23, next, 1).verdict == limit_verdict::admitted);
  CHECK(next.tokens() == per);
  // Longer ones raise it.
  l.charge(next, 23 + 1000, t0, 1000);
  limiter::reservation longer;
  REQUIRE(l.admit(acme, t0, 23, longer, 1).verdict == limit_verdict::admitted);
  CHECK(longer.tokens() > per);
  // A request that bounds its completion reserves its bound only.
  limiter::reservation bounded;
  REQUIRE(l.admit(acme, t0, 73, bounded).verdict == limit_verdict::admitted);
  CHECK(bounded.tokens() == 73);
}

TEST_CASE("limiter: a request asking for several unbounded completions reserves an estimate for each") {
  limiter l;
  l.configure(with_limits({.tokens_per_month = 3000}), t0);
  const limit_target acme{"acme", {}, {}};
  // A batch of 10 prompts without max_tokens: ten completions of the first estimate.
  limiter::reservation batch;
  REQUIRE(l.admit(acme, t0, 23, batch, 10).verdict == limit_verdict::admitted);
  CHECK(batch.tokens() == 23 + 10 * limiter::first_completion_estimate);
  limiter::reservation another;
  REQUIRE(l.admit(acme, t0, 23, another, 10).verdict == limit_verdict::admitted);  // 2583 of 3000 held
  limiter::reservation third;
  CHECK(l.admit(acme, t0, 23, third, 1).verdict == limit_verdict::in_flight);  // 5166 held
  // Its 10 completions used 3000 tokens: the estimate learns 300 per completion, not 3000.
  l.charge(batch, 23 + 3000, t0, 3000);
  l.configure(with_limits({.tokens_per_month = 100000}), t0);
  limiter::reservation one;
  REQUIRE(l.admit(acme, t0, 23, one, 1).verdict == limit_verdict::admitted);
  CHECK(one.tokens() == 23 + 267);  // 256 + (3000 / 10 - 256) / 4, rounded up
}

TEST_CASE("limiter: a reservation goes back to the scopes that admitted it, whatever reloads did meanwhile") {
  limiter l;
  l.configure(with_limits({.tokens_per_minute = 1000}), t0);
  const limit_target acme{"acme", {}, {}};
  limiter::reservation before;
  REQUIRE(l.admit(acme, t0, 500, before).verdict == limit_verdict::admitted);
  CHECK(before.tokens() == 500);
  // acme's limits are dropped, then set again: its counters start afresh.
  l.configure(with_limits({}), t0);
  l.configure(with_limits({.tokens_per_minute = 1000}), t0);
  limiter::reservation after;
  REQUIRE(l.admit(acme, t0, 1000, after).verdict == limit_verdict::admitted);
  // The first request ends: its 500 leave the counters it was admitted under, not the new ones,
  // where the second request's 1000 stay reserved.
  l.charge(before, 0, t0);
  CHECK(before.tokens() == 0);
  CHECK(l.admit(acme, t0).verdict == limit_verdict::in_flight);
  l.charge(after, 10, t0);
  CHECK(l.admit(acme, t0).verdict == limit_verdict::admitted);  // 990 left, nothing reserved
  // A request dropped without being charged (its coroutine destroyed at shutdown) releases what
  // it held.
  {
    limiter::reservation dropped;
    REQUIRE(l.admit(acme, t0, 990, dropped).verdict == limit_verdict::admitted);
    CHECK(l.admit(acme, t0).verdict == limit_verdict::in_flight);
  }
  CHECK(l.admit(acme, t0).verdict == limit_verdict::admitted);
}

TEST_CASE("shared totals only grow: a store that lost its data, or answers less, gives no budget back") {
  limiter a;
  limiter b;
  store_totals store;
  share(a, {.tokens_per_month = 100});
  share(b, {.tokens_per_month = 100});
  store.sync(a, t0);  // budgets are refused until the first sync
  store.sync(b, t0);
  for (int i = 0; i < 6; ++i) {  // 102 tokens, spent alternately and synced
    limiter& l = i % 2 == 0 ? a : b;
    REQUIRE(l.admit("acme", t0).verdict == limit_verdict::admitted);
    l.charge("acme", 17, t0);
    store.sync(l, t0);
    store.sync(i % 2 == 0 ? b : a, t0);
  }
  CHECK(a.admit("acme", t0).verdict == limit_verdict::month);
  store.totals.clear();  // Redis restarted without persistence
  store.sync(a, t0 + 1000);
  store.sync(b, t0 + 1000);
  CHECK(store.totals.begin()->second == 102);  // raised back to what both knew
  CHECK(a.admit("acme", t0 + 1000).verdict == limit_verdict::month);
  CHECK(b.admit("acme", t0 + 1000).verdict == limit_verdict::month);
  // A store that answers 0 whatever it holds: the instance keeps what it read before.
  const limiter::sync_batch zero = a.begin_sync(t0 + 2000);
  a.end_sync(zero, std::vector<std::uint64_t>(zero.items().size(), 0));
  CHECK(a.month_left("acme", t0 + 2000) == 0);
  CHECK(a.admit("acme", t0 + 2000).verdict == limit_verdict::month);
}

namespace {

const std::int64_t t1 = *parse_time("2026-12-07T08:52:00Z") * 1000;  // a minute's start, mid-month

void share_at_t1(limiter& l, tenant_limits limits) {  // buckets full at t1, refilled from then
  l.share(budget_outage::closed);
  l.configure(with_limits(limits), t1);
}

}  // namespace

TEST_CASE("limiter, shared: Retry-After is the longest wait of the bucket and the shared minute") {
  // Probe round 39: the bucket's 12 s was given while the shared minute refused for 39 s more; a
  // client that obeyed it was refused again.
  limiter l;
  share_at_t1(l, {.requests_per_minute = 5});
  store_totals store;
  store.sync(l, t1);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(l.admit("acme", t1 + 20000).verdict == limit_verdict::admitted);
  }
  const admission refused = l.admit("acme", t1 + 21000);
  CHECK(refused.verdict == limit_verdict::requests);
  CHECK(refused.retry_after_s == 39);  // 08:53:00, not the bucket's 12 s
  CHECK(l.refuses_every_request(limit_target{"acme", {}, {}}, t1 + 21000).retry_after_s == 39);
  CHECK(l.admit("acme", t1 + 33000).verdict == limit_verdict::requests);  // what obeying 12 s met
  CHECK(l.admit("acme", t1 + 60000).verdict == limit_verdict::admitted);

  limiter t;  // tokens: the bucket's debt and the shared minute's, the longest
  share_at_t1(t, {.tokens_per_minute = 600});
  store.sync(t, t1);
  REQUIRE(t.admit("acme", t1 + 50000).verdict == limit_verdict::admitted);
  t.charge("acme", 1200, t1 + 50000);  // the bucket's debt is gone in 60.1 s; the windows' 600
  const admission tokens = t.admit("acme", t1 + 50000);  // over, carried, fills 08:53 too
  CHECK(tokens.verdict == limit_verdict::tokens);
  CHECK(tokens.retry_after_s == 70);  // 08:54:00
}

TEST_CASE("limiter, shared: a minute's overshoot is debt in the next minutes, on every instance") {
  // Probe round 39: 1012 tokens on a and 23 s later, in the next UTC minute, 1012 more on b against
  // 200 a minute: the window the instances share forgot the first minute's overdraft.
  limiter a;
  share_at_t1(a, {.tokens_per_minute = 200});
  limiter b;
  share_at_t1(b, {.tokens_per_minute = 200});
  store_totals store;
  store.sync(a, t1);
  store.sync(b, t1);
  REQUIRE(a.admit("acme", t1 + 38000).verdict == limit_verdict::admitted);
  a.charge("acme", 1012, t1 + 38000);
  store.sync(a, t1 + 38100);
  store.sync(b, t1 + 38100);
  // Both say when the tenant may pass again: the debt of 812 lasts until 08:57:00 (812, 612, 412
  // and 212 are each a minute's limit or more; 12 is not).
  const admission on_a = a.admit("acme", t1 + 40000);
  const admission on_b = b.admit("acme", t1 + 40000);
  CHECK(on_a.verdict == limit_verdict::tokens);
  CHECK(on_b.verdict == limit_verdict::tokens);
  CHECK(on_a.retry_after_s == 260);
  CHECK(on_b.retry_after_s == 260);
  for (int minute = 1; minute <= 4; ++minute) {
    store.sync(a, t1 + minute * 60000);
    store.sync(b, t1 + minute * 60000);
    CAPTURE(minute);
    CHECK(b.admit("acme", t1 + minute * 60000 + 1000).verdict == limit_verdict::tokens);
  }
  // A new instance learns the debt from the store: the minute's key carries it.
  CHECK(store.totals["sovgw:limits:acme:tokens:" + std::to_string(t1 / 60000 + 1)] == 812);
  limiter c;
  share_at_t1(c, {.tokens_per_minute = 200});
  store.sync(c, t1 + 4 * 60000 + 2000);
  CHECK(c.admit("acme", t1 + 4 * 60000 + 2000).verdict == limit_verdict::tokens);
  store.sync(b, t1 + 5 * 60000);
  CHECK(b.admit("acme", t1 + 5 * 60000).verdict == limit_verdict::admitted);

  // Requests per minute too: 2 a minute, 2 admitted on each instance before they synced.
  limiter r1;
  share_at_t1(r1, {.requests_per_minute = 2});
  limiter r2;
  share_at_t1(r2, {.requests_per_minute = 2});
  for (limiter* l : {&r1, &r2}) {
    REQUIRE(l->admit("acme", t1 + 10000).verdict == limit_verdict::admitted);
    REQUIRE(l->admit("acme", t1 + 10000).verdict == limit_verdict::admitted);
  }
  store.sync(r1, t1 + 10100);
  store.sync(r2, t1 + 10100);
  store.sync(r1, t1 + 10200);  // r1 learns r2's two
  store.sync(r1, t1 + 60000);
  store.sync(r2, t1 + 60000);
  const admission again = r1.admit("acme", t1 + 61000);  // 4 in the first minute: the second's 2 too
  CHECK(again.verdict == limit_verdict::requests);
  CHECK(again.retry_after_s == 59);
  CHECK(r2.admit("acme", t1 + 120000).verdict == limit_verdict::admitted);
}
