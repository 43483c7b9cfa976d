#include "gateway/idempotency_key.hpp"

#include <doctest/doctest.h>

#include <string_view>

using sovgw::http::idempotency_key_form;
using sovgw::http::read_idempotency_key;

TEST_CASE("idempotency key: a bare key or one sf-string; empty, lists and the rest are told apart") {
  struct row {
    std::string_view value;
    idempotency_key_form form;
  };
  using enum idempotency_key_form;
  static constexpr row rows[] = {
      {"stainless-node-retry-ea99e45d-c31d-4dda-a4ac-1a3ff935a1f7", raw},
      {"8e03978e-40d5-43e8", raw},
      {"a\\b", raw},
      {"\"8e03978e-40d5-43e8\"", sf_string},
      {"\"a,b\"", sf_string},
      {"\"with space\"", sf_string},
      {"\"say \\\"hi\\\" \\\\ \"", sf_string},
      {"\"abc\"  ", sf_string},
      {"", empty},
      {"\"\"", empty},
      {"abc, def", list},
      {"abc,def", list},
      {",", list},
      {"\"abc\", \"def\"", list},
      {"\"abc\",def", list},
      {"abc def", invalid},
      {"k sk-sovgw-x", invalid},
      {"ab\"c", invalid},
      {"abc\x7f", invalid},
      {"ab\tc", invalid},
      {"caf\xc3\xa9", invalid},
      {"\"abc", invalid},
      {"\"abc\\\"", invalid},
      {"\"a\\nb\"", invalid},
      {"\"tab\there\"", invalid},
      {"\"abc\";p=1", invalid},
      {"\"abc\"def", invalid},
      {"\"caf\xc3\xa9\"", invalid},
  };
  for (const row& r : rows) {
    CAPTURE(r.value);
    CHECK(read_idempotency_key(r.value) == r.form);
    CHECK(sovgw::http::idempotency_key_problem(r.form).empty() == (r.form == raw || r.form == sf_string));
  }
}
