#include "classify/json_edit.hpp"

#include <doctest/doctest.h>

#include <string>

#include "classify/json_body.hpp"

using namespace sovgw::classify;

TEST_CASE("include_usage is set and every other byte stays as the client wrote it") {
  struct row {
    std::string body;
    std::string expected;
  };
  const row rows[] = {
      // Numbers no double holds, and a repeated nested key: forwarded as written.
      {R"({"model":"m","stream":true,"seed":1234567890123456789012345678901,"t":1E400,"x":1.5e-5000})",
       R"({"model":"m","stream":true,"seed":1234567890123456789012345678901,"t":1E400,"x":1.5e-5000,"stream_options":{"include_usage":true}})"},
      {R"({"model":"m","messages":[{"content":"first","content":"second"}]} )",
       R"({"model":"m","messages":[{"content":"first","content":"second"}],"stream_options":{"include_usage":true}} )"},
      {R"({ "model" : "m" , "stream_options" : null })",
       R"({ "model" : "m" , "stream_options" : {"include_usage":true} })"},
      {R"({"stream_options":{},"model":"m"})", R"({"stream_options":{"include_usage":true},"model":"m"})"},
      {R"({"stream_options":{ "x":[1,{"include_usage":false}] },"model":"m"})",
       R"({"stream_options":{"include_usage":true, "x":[1,{"include_usage":false}] },"model":"m"})"},
      {R"({"stream_options":{"include_usage":false},"model":"m"})",
       R"({"stream_options":{"include_usage":true},"model":"m"})"},
      {R"({"stream_options":{"include_usage" : null ,"y":1},"model":"m"})",
       R"({"stream_options":{"include_usage" : true ,"y":1},"model":"m"})"},
      // Keys are compared decoded, as the inspector compared them; strings with braces are skipped.
      {R"({"a":"}{\"","stream\u005foptions":{"include\u005Fusage":false}})",
       R"({"a":"}{\"","stream\u005foptions":{"include\u005Fusage":true}})"},
      {"{}", R"({"stream_options":{"include_usage":true}})"},
      // A key with an escaped control character is another key, as the inspector reads it.
      {R"({"stream\u0000_options":{"include_usage":false}})",
       R"({"stream\u0000_options":{"include_usage":false},"stream_options":{"include_usage":true}})"},
  };
  json_inspector inspector;
  for (const row& r : rows) {
    CAPTURE(r.body);
    REQUIRE(inspector.inspect(r.body, {}).ok());  // what the gateway accepts
    const std::optional<std::string> edited = with_include_usage(r.body);
    REQUIRE(edited);
    CHECK(*edited == r.expected);
    const inspection after = inspector.inspect(*edited, {});
    CHECK(after.ok());
    CHECK(after.fields.include_usage == std::optional<bool>(true));
  }
}

TEST_CASE("a stream_options that is not an object is left alone") {
  CHECK_FALSE(with_include_usage(R"({"model":"m","stream_options":"x"})"));
  CHECK_FALSE(with_include_usage(R"({"model":"m","stream_options":[]})"));
  CHECK_FALSE(with_include_usage(R"([1])"));
}

TEST_CASE("a member taken out of an object: every spelling and repeat of it, every other byte kept") {
  struct row {
    std::string_view body;
    std::string_view expected;
  };
  const row rows[] = {
      {R"({"id":"c1","usage":{"prompt_tokens":1},"choices":[]})", R"({"id":"c1","choices":[]})"},
      {R"({"usage":{"a":[1,"}"]}, "id" : 1.50E3 })", R"({"id" : 1.50E3 })"},
      {R"( { "id":1 , "usage" : null } )", R"( { "id":1 } )"},
      {R"({"usage":1})", R"({})"},
      {R"({"us\u0061ge":1,"error":{"message":"usage: \"x\""},"usage":2})",
       R"({"error":{"message":"usage: \"x\""}})"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    const std::optional<std::string> edited = without_member(r.body, "usage");
    REQUIRE(edited);
    CHECK(*edited == r.expected);
  }
  CHECK_FALSE(without_member(R"({"id":1,"choices":[{"usage":1}]})", "usage"));  // not at the top
  CHECK_FALSE(without_member(R"([{"usage":1}])", "usage"));
  CHECK_FALSE(without_member(R"({"usage":1)", "usage"));  // not a whole object
}
