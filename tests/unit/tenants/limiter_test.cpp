#include "tenants/limiter.hpp"

#include <doctest/doctest.h>

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
