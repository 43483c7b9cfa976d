#include "gateway/request_context.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <vector>

using namespace sovgw::gateway;

TEST_CASE("request_slot: a reused block holds a fresh context, never the last request's") {
  const request_context fresh;
  std::set<const void*> blocks;
  for (int round = 0; round < 3; ++round) {
    // Several at once (as a worker's concurrent requests are), each filled and given back.
    std::vector<std::unique_ptr<request_slot>> slots;
    for (int i = 0; i < 5; ++i) {
      slots.push_back(std::make_unique<request_slot>());
      request_context& ctx = **slots.back();
      CHECK(ctx.request_id.empty());
      CHECK(ctx.tenant == fresh.tenant);
      CHECK(ctx.client_country == fresh.client_country);
      CHECK(ctx.status == 0);
      CHECK(ctx.result == outcome::ok);
      CHECK(ctx.body.empty());
      CHECK(ctx.matched_rules.empty());
      CHECK(ctx.head.fields.empty());
      CHECK_FALSE(ctx.forwarded);
      CHECK_FALSE(ctx.audit_recorded);
      CHECK(ctx.client_cert == nullptr);
      blocks.insert(&ctx);
      ctx.request_id = "req-" + std::to_string(round) + "-" + std::to_string(i);
      ctx.tenant = "acme";
      ctx.client_country = "RU";
      ctx.status = 403;
      ctx.result = outcome::policy_denied;
      ctx.body.assign(4096, 'x');
      ctx.matched_rules.push_back("forbid-sanctioned-origins");
      ctx.forwarded = true;
      ctx.audit_recorded = true;
    }
  }
  // The blocks were reused: later rounds ran in the first round's memory.
  CHECK(blocks.size() == 5);
}
