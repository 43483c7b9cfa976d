#include "common/word_set.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace std::string_view_literals;

TEST_CASE("word_set: members of every length, and words sharing a member's length or prefix are not") {
  const std::string long_word(70, 'k');
  static constexpr sovgw::word_set none{""};
  const sovgw::word_set set{"api_base", "base_url", "model_list", "", long_word.c_str()};
  for (const std::string_view w :
       {"api_base"sv, "base_url"sv, "model_list"sv, ""sv, std::string_view(long_word)}) {
    CHECK(set.contains(w));
  }
  for (const std::string_view w :
       {"api_bas"sv, "api_base_"sv, "messages"sv, "API_BASE"sv, "max_tokens"sv, "x"sv}) {
    CHECK_FALSE(set.contains(w));
  }
  CHECK_FALSE(set.contains(std::string(70, 'j')));
  CHECK_FALSE(set.contains(std::string(71, 'k')));
  CHECK(none.contains(""));
  CHECK_FALSE(none.contains(std::string(80, 'a')));
}
