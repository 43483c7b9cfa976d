#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gateway/outcome.hpp"
#include "gateway/responses.hpp"

using namespace sovgw::gateway;

namespace {

outcome nth(std::size_t i) { return static_cast<outcome>(i); }

// The kinds listed in docs/auditing.md between the outcomes markers: each table row's first cell.
std::set<std::string> documented_kinds() {
  std::ifstream in(SOVGW_SOURCE_DIR "/docs/auditing.md");
  REQUIRE(in);
  std::set<std::string> kinds;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("<!-- outcomes:begin -->") != std::string::npos) {
      inside = true;
    } else if (line.find("<!-- outcomes:end -->") != std::string::npos) {
      inside = false;
    } else if (inside && line.rfind("| `", 0) == 0) {
      const auto end = line.find('`', 3);
      kinds.insert(line.substr(3, end - 3));
    }
  }
  return kinds;
}

}  // namespace

TEST_CASE("outcomes: one kind each, and every answered outcome has a status, a type and a code") {
  std::set<std::string_view> kinds;
  for (std::size_t i = 1; i < outcome_count(); ++i) {
    const outcome_info& o = info(nth(i));
    CAPTURE(o.kind);
    CHECK_FALSE(o.kind.empty());
    CHECK(kinds.insert(o.kind).second);
    CHECK(outcome_from_kind(o.kind) == nth(i));
    if (o.status != 0) {
      CHECK(o.status >= 400);
      CHECK_FALSE(o.type.empty());
      CHECK_FALSE(o.code.empty());
    } else {
      CHECK(o.type.empty());
      CHECK(o.code.empty());
    }
  }
  CHECK(kind_of(outcome::ok).empty());
  CHECK(kind_of(outcome::policy_denied) == "policy_denied");
  CHECK_FALSE(outcome_from_kind("policy_deny").has_value());
}

TEST_CASE("outcomes: docs/auditing.md lists exactly the kinds the gateway writes") {
  std::set<std::string> table;
  for (std::size_t i = 1; i < outcome_count(); ++i) {
    table.emplace(kind_of(nth(i)));
  }
  CHECK(documented_kinds() == table);
}

TEST_CASE("outcomes: a framing error is answered with the parser's status") {
  using sovgw::http::parse_error;
  for (auto e = static_cast<int>(parse_error::bare_lf); e <= static_cast<int>(parse_error::bad_status_line); ++e) {
    const auto pe = static_cast<parse_error>(e);
    CAPTURE(e);
    CHECK(info(outcome_for(pe)).status == sovgw::http::status_for(pe));
  }
}

TEST_CASE("error_response: status line, JSON body and framing come from the outcome") {
  const response r = error_response(outcome::policy_denied, "denied \"here\"", "abc", true);
  CHECK(r.status == 403);
  CHECK(r.head.rfind("HTTP/1.1 403 Forbidden\r\n", 0) == 0);
  CHECK(r.head.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n") != std::string::npos);
  CHECK(r.head.find("Connection: close\r\n") != std::string::npos);
  CHECK(r.body ==
        "{\"error\":{\"message\":\"denied \\\"here\\\"\",\"type\":\"permission_error\",\"param\":null,"
        "\"code\":\"policy_denied\",\"request_id\":\"abc\"}}\n");
  const response kept = error_response(outcome::audit_unavailable, "x", "id", false);
  CHECK(kept.head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(kept.head.find("Connection: close") == std::string::npos);
}
