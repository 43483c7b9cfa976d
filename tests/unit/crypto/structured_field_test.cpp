// RFC 8941 structured fields: the whole httpwg structured-field-tests suite (vendored under
// data/structured-field-tests, see its README.md; examples.json there holds the RFC's own examples),
// plus tables of our own for serialization errors and the parser's limits.

#include "crypto/structured_field.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace sf = sovgw::crypto::sf;
namespace json = boost::json;

namespace {

const std::string suite_dir = SOVGW_SF_TESTS_DIR;

json::array load(const std::string& name) {
  std::ifstream in(suite_dir + "/" + name);
  REQUIRE_MESSAGE(in.good(), "cannot open ", name);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_array();
}

std::vector<std::uint8_t> base32_decode(std::string_view text) {
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') {
      break;
    }
    const int v = c >= 'A' && c <= 'Z' ? c - 'A' : c - '2' + 26;
    acc = (acc << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// The suite's JSON model to ours. A Decimal that cannot be represented (too large) makes the
// whole structure unserializable, which is what the serialisation tests expect to see fail.
struct converter {
  bool representable = true;

  sf::bare_item bare(const json::value& v) {
    if (v.is_int64()) {
      return v.as_int64();
    }
    if (v.is_uint64()) {
      representable = false;
      return std::int64_t{0};
    }
    if (v.is_double()) {
      auto d = sf::decimal::from_double(v.as_double());
      representable = representable && d.has_value();
      return d.value_or(sf::decimal{});
    }
    if (v.is_string()) {
      return std::string(v.as_string());
    }
    if (v.is_bool()) {
      return v.as_bool();
    }
    const json::object& o = v.as_object();
    const std::string type(o.at("__type").as_string());
    const std::string value(o.at("value").as_string());
    if (type == "token") {
      return sf::token{value};
    }
    REQUIRE(type == "binary");
    return base32_decode(value);
  }

  sf::parameters params(const json::value& v) {
    sf::parameters out;
    for (const auto& p : v.as_array()) {
      out.push_back({std::string(p.as_array()[0].as_string()), bare(p.as_array()[1])});
    }
    return out;
  }

  sf::item item(const json::value& v) { return {bare(v.as_array()[0]), params(v.as_array()[1])}; }

  sf::member member(const json::value& v) {
    const json::array& a = v.as_array();
    if (!a[0].is_array()) {
      return item(v);
    }
    sf::inner_list l;
    for (const auto& i : a[0].as_array()) {
      l.items.push_back(item(i));
    }
    l.params = params(a[1]);
    return l;
  }

  sf::list list(const json::value& v) {
    sf::list out;
    for (const auto& m : v.as_array()) {
      out.push_back(member(m));
    }
    return out;
  }

  sf::dictionary dictionary(const json::value& v) {
    sf::dictionary out;
    for (const auto& m : v.as_array()) {
      out.push_back({std::string(m.as_array()[0].as_string()), member(m.as_array()[1])});
    }
    return out;
  }
};

struct outcome {
  bool parsed = false;
  bool equal = false;
  std::optional<std::string> serialized;
};

template <typename T>
outcome check_parsed(const sf::result<T>& got, const T& expected) {
  outcome o;
  o.parsed = got.ok();
  if (o.parsed) {
    o.equal = got.value() == expected;
    auto text = sf::serialize(got.value());
    if (text.ok()) {
      o.serialized = text.value();
    }
  }
  return o;
}

int run_parse_suite(const std::string& file) {
  int checked = 0;
  for (const auto& record : load(file)) {
    const json::object& t = record.as_object();
    const std::string name(t.at("name").as_string());
    const std::string type(t.at("header_type").as_string());
    std::string raw;
    for (const auto& line : t.at("raw").as_array()) {
      raw += raw.empty() ? "" : ", ";
      raw += std::string(line.as_string());
    }
    const bool must_fail = t.contains("must_fail") && t.at("must_fail").as_bool();
    const bool can_fail = t.contains("can_fail") && t.at("can_fail").as_bool();
    INFO(file, ": ", name, " [", raw, "]");
    ++checked;
    if (must_fail) {
      const bool parsed = type == "item"   ? sf::parse_item(raw).ok()
                          : type == "list" ? sf::parse_list(raw).ok()
                                           : sf::parse_dictionary(raw).ok();
      CHECK_FALSE(parsed);
      continue;
    }
    converter c;
    outcome o;
    if (type == "item") {
      o = check_parsed(sf::parse_item(raw), c.item(t.at("expected")));
    } else if (type == "list") {
      o = check_parsed(sf::parse_list(raw), c.list(t.at("expected")));
    } else {
      o = check_parsed(sf::parse_dictionary(raw), c.dictionary(t.at("expected")));
    }
    if (!o.parsed && can_fail) {
      continue;
    }
    REQUIRE(o.parsed);
    CHECK(o.equal);
    std::string canonical = std::string(t.at("raw").as_array()[0].as_string());
    if (t.contains("canonical")) {
      const json::array& canon = t.at("canonical").as_array();
      canonical = canon.empty() ? std::string() : std::string(canon[0].as_string());
    }
    REQUIRE(o.serialized.has_value());
    CHECK(*o.serialized == canonical);
  }
  return checked;
}

int run_serialisation_suite(const std::string& file) {
  int checked = 0;
  for (const auto& record : load(file)) {
    const json::object& t = record.as_object();
    const std::string name(t.at("name").as_string());
    const std::string type(t.at("header_type").as_string());
    const bool must_fail = t.contains("must_fail") && t.at("must_fail").as_bool();
    INFO(file, ": ", name);
    ++checked;
    converter c;
    std::optional<std::string> text;
    if (type == "item") {
      auto r = sf::serialize(c.item(t.at("expected")));
      text = r.ok() ? std::optional(r.value()) : std::nullopt;
    } else if (type == "list") {
      auto r = sf::serialize(c.list(t.at("expected")));
      text = r.ok() ? std::optional(r.value()) : std::nullopt;
    } else {
      auto r = sf::serialize(c.dictionary(t.at("expected")));
      text = r.ok() ? std::optional(r.value()) : std::nullopt;
    }
    if (!c.representable) {
      text.reset();
    }
    if (must_fail) {
      CHECK_FALSE(text.has_value());
      continue;
    }
    REQUIRE(text.has_value());
    CHECK(*text == std::string(t.at("canonical").as_array()[0].as_string()));
  }
  return checked;
}

}  // namespace

TEST_CASE("structured-field-tests: every parse record (RFC 8941 examples included)") {
  int total = 0;
  for (const char* file : {"examples.json", "binary.json", "boolean.json", "dictionary.json", "item.json",
                           "key-generated.json", "list.json", "listlist.json", "number-generated.json",
                           "number.json", "param-dict.json", "param-list.json", "param-listlist.json",
                           "string-generated.json", "string.json", "token-generated.json", "token.json"}) {
    total += run_parse_suite(file);
  }
  CHECK(total > 1500);
}

TEST_CASE("structured-field-tests: every serialisation record") {
  int total = 0;
  for (const char* file :
       {"serialisation-tests/key-generated.json", "serialisation-tests/number.json",
        "serialisation-tests/string-generated.json", "serialisation-tests/token-generated.json"}) {
    total += run_serialisation_suite(file);
  }
  CHECK(total > 500);
}

TEST_CASE("parse errors name the problem and where it is") {
  struct row {
    const char* input;
    const char* type;
    sf::error error;
    std::size_t offset;
  };
  const row rows[] = {
      {"a=1, b=2,", "dictionary", sf::error::trailing_comma, 9},
      {"a=1 b=2", "dictionary", sf::error::expected_comma, 4},
      {"A=1", "dictionary", sf::error::bad_key, 0},
      {"1234567890123456", "item", sf::error::integer_too_long, 16},
      {"1.2345", "item", sf::error::decimal_too_long, 6},
      {"1234567890123.5", "item", sf::error::decimal_too_long, 13},
      {"1.", "item", sf::error::bad_number, 2},
      {"-", "item", sf::error::bad_number, 1},
      {"\"a\\b\"", "item", sf::error::bad_string_escape, 3},
      {"\"a\tb\"", "item", sf::error::bad_string_character, 2},
      {"\"abc", "item", sf::error::unterminated_string, 4},
      {":YWJj", "item", sf::error::bad_byte_sequence, 1},
      {":YW=Jj:", "item", sf::error::bad_byte_sequence, 1},
      {"?2", "item", sf::error::bad_boolean, 1},
      {"(1 2", "list", sf::error::unterminated_inner_list, 4},
      {"(1\"x\")", "list", sf::error::bad_inner_list, 2},
      {"@123", "item", sf::error::unknown_item_type, 0},    // an RFC 9651 Date: not RFC 8941
      {"%\"x\"", "item", sf::error::unknown_item_type, 0},  // an RFC 9651 Display String
      {"1 2", "item", sf::error::trailing_characters, 2},
      {"a;B=1", "list", sf::error::bad_key, 2},
  };
  for (const row& r : rows) {
    INFO(std::string(r.input));
    sf::failure f;
    if (std::string_view(r.type) == "item") {
      auto got = sf::parse_item(r.input);
      REQUIRE_FALSE(got.ok());
      f = got.why();
    } else if (std::string_view(r.type) == "list") {
      auto got = sf::parse_list(r.input);
      REQUIRE_FALSE(got.ok());
      f = got.why();
    } else {
      auto got = sf::parse_dictionary(r.input);
      REQUIRE_FALSE(got.ok());
      f = got.why();
    }
    CHECK(f.code == r.error);
    CHECK(f.offset == r.offset);
    CHECK(std::string_view(sf::describe(f.code)).size() > 5);
  }
}

TEST_CASE("serialization refuses what the RFC cannot carry") {
  struct row {
    sf::item value;
    sf::error error;
  };
  const row rows[] = {
      {{std::string("line\nbreak"), {}}, sf::error::string_not_printable},
      {{std::string("caf\xc3\xa9"), {}}, sf::error::string_not_printable},
      {{std::string("tab\there"), {}}, sf::error::string_not_printable},
      {{sf::token{"1abc"}, {}}, sf::error::bad_token},
      {{sf::token{"a b"}, {}}, sf::error::bad_token},
      {{sf::token{""}, {}}, sf::error::bad_token},
      {{std::int64_t{1'000'000'000'000'000}, {}}, sf::error::integer_out_of_range},
      {{std::int64_t{-1'000'000'000'000'000}, {}}, sf::error::integer_out_of_range},
      {{sf::decimal{1'000'000'000'000'000}, {}}, sf::error::decimal_out_of_range},
      {{std::int64_t{1}, {{"Upper", true}}}, sf::error::bad_key},
      {{std::int64_t{1}, {{"", true}}}, sf::error::bad_key},
      {{std::int64_t{1}, {{"k", std::string("\x7f")}}}, sf::error::string_not_printable},
  };
  for (const row& r : rows) {
    auto got = sf::serialize(r.value);
    REQUIRE_FALSE(got.ok());
    CHECK(got.why().code == r.error);
  }
  sf::dictionary bad_member{{"ok", sf::item{std::int64_t{1}, {}}}, {"No", sf::item{std::int64_t{2}, {}}}};
  CHECK(sf::serialize(bad_member).why().code == sf::error::bad_key);
}

TEST_CASE("serialization of each type, and round trips") {
  struct row {
    sf::item value;
    const char* text;
  };
  const row rows[] = {
      {{std::int64_t{-42}, {}}, "-42"},
      {{std::int64_t{999'999'999'999'999}, {}}, "999999999999999"},
      {{sf::decimal{4500}, {}}, "4.5"},
      {{sf::decimal{-1}, {}}, "-0.001"},
      {{sf::decimal{12000}, {}}, "12.0"},
      {{std::string("say \"hi\" \\o/"), {}}, R"("say \"hi\" \\o/")"},
      {{sf::token{"*foo:/bar"}, {}}, "*foo:/bar"},
      {{sf::byte_sequence{'h', 'i'}, {}}, ":aGk=:"},
      {{sf::byte_sequence{}, {}}, "::"},
      {{false, {{"a", true}, {"b", false}, {"c", sf::decimal{500}}}}, "?0;a;b=?0;c=0.5"},
  };
  for (const row& r : rows) {
    INFO(r.text);
    auto text = sf::serialize(r.value);
    REQUIRE(text.ok());
    CHECK(text.value() == r.text);
    auto back = sf::parse_item(r.text);
    REQUIRE(back.ok());
    CHECK(back.value() == r.value);
  }
  CHECK(sf::serialize(sf::list{}).value().empty());
  CHECK(sf::serialize(sf::dictionary{}).value().empty());
  CHECK(sf::serialize(sf::inner_list{{{std::string("@method"), {}}, {std::string("x"), {{"req", true}}}},
                                     {{"created", std::int64_t{1}}}})
            .value() == R"(("@method" "x";req);created=1)");
}

TEST_CASE("a Dictionary keeps a repeated key's last value, and can say which keys were repeated") {
  std::vector<std::string> repeated;
  const auto d = sf::parse_dictionary("a=1, b=2, a=3, c, b=4, a=5", repeated);
  REQUIRE(d.ok());
  CHECK(sf::serialize(d.value()).value() == "a=5, b=4, c");
  CHECK(repeated == std::vector<std::string>{"a", "b"});
  repeated.clear();
  CHECK(sf::parse_dictionary("a=1, b=2", repeated).ok());
  CHECK(repeated.empty());
}

TEST_CASE("decimals round half to even on their decimal digits") {
  CHECK(sf::decimal::from_double(0.0025)->thousandths == 2);
  CHECK(sf::decimal::from_double(0.0035)->thousandths == 4);
  CHECK(sf::decimal::from_double(-0.0015)->thousandths == -2);
  CHECK(sf::decimal::from_double(0.00251)->thousandths == 3);
  CHECK(sf::decimal::from_double(9.9995)->thousandths == 10000);
  CHECK(sf::decimal::from_double(999999999999.999)->thousandths == 999'999'999'999'999);
  CHECK_FALSE(sf::decimal::from_double(1e300));
  CHECK_FALSE(sf::decimal::from_double(std::numeric_limits<double>::infinity()));
}

TEST_CASE("the parser takes the sizes RFC 8941 says it must support") {
  std::string list;
  std::string dict;
  for (int i = 0; i < 1024; ++i) {
    list += (i ? ", " : "") + std::to_string(i);
    dict += (i ? ", k" : "k") + std::to_string(i) + "=" + std::to_string(i);
  }
  CHECK(sf::parse_list(list)->size() == 1024);
  CHECK(sf::parse_dictionary(dict)->size() == 1024);
  std::string inner = "(";
  std::string params = "1";
  for (int i = 0; i < 256; ++i) {
    inner += (i ? " " : "") + std::to_string(i);
    params += ";p" + std::to_string(i) + "=" + std::to_string(i);
  }
  inner += ")";
  CHECK(std::get<sf::inner_list>(sf::parse_list(inner)->front()).items.size() == 256);
  CHECK(sf::parse_item(params)->params.size() == 256);
  const std::string key64 = "k" + std::string(63, 'x');
  CHECK(sf::parse_dictionary(key64 + "=1")->front().key == key64);
  const std::string long_string(1024, 'a');
  CHECK(std::get<std::string>(sf::parse_item("\"" + long_string + "\"")->value) == long_string);
  const std::string long_token = "t" + std::string(511, 'a');
  CHECK(std::get<sf::token>(sf::parse_item(long_token)->value).value == long_token);
  const sf::byte_sequence big(16384, 0xA5);
  const std::string big_text = sf::serialize(sf::item{big, {}}).value();
  CHECK(std::get<sf::byte_sequence>(sf::parse_item(big_text)->value) == big);
}
