#include "gateway/metrics.hpp"

#include <doctest/doctest.h>

#include <string>

using sovgw::gateway::usage_counters;

namespace {

bool has(const std::string& text, const std::string& series) {
  return text.find(series) != std::string::npos;
}

std::string tokens(std::string_view tenant, std::string_view model) {
  return "sovgw_tokens_total{tenant=\"" + std::string(tenant) + "\",model=\"" + std::string(model) +
         "\",cluster=\"paris\",type=\"prompt\"}";
}

}  // namespace

TEST_CASE("usage counters: one tenant's made-up model names fold into its own other, not the others'") {
  usage_counters usage(/*max_series=*/10, /*max_series_per_tenant=*/3);
  for (int i = 0; i < 8; ++i) {
    usage.add("globex", "junk-" + std::to_string(i), "paris", 1, 0);
  }
  usage.add("acme", "mistral-large", "paris", 5, 1);
  usage.add("acme", "mistral-small", "paris", 7, 1);
  std::string out;
  usage.render(out);
  CAPTURE(out);
  CHECK(has(out, tokens("globex", "junk-2") + " 1\n"));
  CHECK_FALSE(has(out, tokens("globex", "junk-3")));
  CHECK(has(out, tokens("globex", "other") + " 5\n"));  // junk-3 to junk-7
  CHECK(has(out, tokens("acme", "mistral-large") + " 5\n"));
  CHECK(has(out, tokens("acme", "mistral-small") + " 7\n"));
  CHECK_FALSE(has(out, tokens("acme", "other")));
}

TEST_CASE("usage counters: past the gateway-wide cap, every tenant's new models count as other") {
  usage_counters usage(/*max_series=*/4, /*max_series_per_tenant=*/3);
  for (const char* tenant : {"a", "b"}) {
    for (int i = 0; i < 2; ++i) {
      usage.add(tenant, "m" + std::to_string(i), "paris", 1, 0);
    }
  }
  usage.add("c", "m0", "paris", 2, 0);
  usage.add("a", "m0", "paris", 1, 0);  // a known series still counts as itself
  std::string out;
  usage.render(out);
  CAPTURE(out);
  CHECK(has(out, tokens("c", "other") + " 2\n"));
  CHECK_FALSE(has(out, tokens("c", "m0")));
  CHECK(has(out, tokens("a", "m0") + " 2\n"));
}
