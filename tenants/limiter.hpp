#pragma once

// In-process rate limits and budgets per tenant (tenant_limits): requests per minute and tokens
// per minute as token buckets (capacity = the per-minute limit, refilled continuously), and tokens
// per calendar month (UTC). A request is admitted, or refused with how long to wait:
//   - requests: one request is taken from the bucket when admitted;
//   - tokens: admitted while the bucket is not empty (the estimate before the response is zero
//     tokens), and charged with the tokens the cluster reported when the answer ends; the request
//     that empties the bucket completes, the next waits until it refills;
//   - month: admitted while the month's tokens are below the budget; the request that crosses it
//     completes, the next is refused until the month ends.
// Counters survive configure() (SIGHUP) for tenants that stay. Thread-safe: one short lock per
// tenant and call. Pure: no sockets, times are passed in.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tenants/tenants.hpp"

namespace sovgw::tenants {

enum class limit_verdict : std::uint8_t { admitted, requests, tokens, month };

struct admission {
  limit_verdict verdict = limit_verdict::admitted;
  std::int64_t retry_after_s = 0;  // when refused: seconds until a retry can be admitted
};

class limiter {
 public:
  limiter() = default;

  // Takes the limits of `t`'s tenants; keeps the counters of tenants that stay.
  void configure(const table& t, std::int64_t now_ms);

  [[nodiscard]] admission admit(std::string_view tenant, std::int64_t now_ms);
  void charge(std::string_view tenant, std::uint64_t tokens, std::int64_t now_ms);

  // Tokens left this month (for the budget gauge); nullopt without a monthly budget.
  [[nodiscard]] std::optional<std::uint64_t> month_left(std::string_view tenant, std::int64_t now_ms) const;

 private:
  struct state;
  using map = std::unordered_map<std::string, std::shared_ptr<state>>;
  [[nodiscard]] std::shared_ptr<state> find(std::string_view tenant) const;

  std::atomic<std::shared_ptr<const map>> states_{std::make_shared<const map>()};
};

}  // namespace sovgw::tenants
