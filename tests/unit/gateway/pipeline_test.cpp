#include <doctest/doctest.h>

#include "gateway/config.hpp"
#include "gateway/pipeline.hpp"

using namespace sovgw::gateway;

TEST_CASE("classify reads model and stream; route fails closed") {
  auto cfg = parse_config(R"(tls: {certificate: a.pem, private_key: a.key}
clusters:
  - name: paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    operator_jurisdiction: EU
    models: ["mistral-*"]
)",
                          "t.yaml");
  pipeline p(cfg);
  request_context ctx;
  std::string raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\r\n";
  REQUIRE(sovgw::http::parse_request_head(raw, {}, ctx.head) == sovgw::http::parse_error::none);
  ctx.body = R"({"model":"mistral-small","stream":true,"messages":[]})";
  CHECK(p.classify(ctx).proceed());
  CHECK(ctx.model == "mistral-small");
  CHECK(ctx.stream);
  CHECK(p.decide(ctx).proceed());
  CHECK(p.route(ctx, [](int) { return true; }).proceed());
  CHECK(ctx.cluster == 0);
  auto down = p.route(ctx, [](int) { return false; });
  CHECK_FALSE(down.proceed());
  CHECK(down.result == outcome::cluster_unavailable);
  ctx.model = "llama-3";
  auto none = p.route(ctx, [](int) { return true; });
  CHECK(none.result == outcome::model_not_found);
  ctx.model.clear();  // GET /v1/models names no model: any allowed cluster serves it
  CHECK(p.route(ctx, [](int) { return true; }).proceed());
  ctx.body = "{not json";
  CHECK(p.classify(ctx).result == outcome::invalid_json);
}
