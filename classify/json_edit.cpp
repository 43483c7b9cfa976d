#include "classify/json_edit.hpp"

#include <cstddef>
#include <vector>

#include "classify/unescape.hpp"

namespace sovgw::classify {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && space(t[i])) {
    ++i;
  }
  return i;
}

// The position after the string that opens at t[i] ('"'), or npos.
std::size_t string_end(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') {
      ++i;
    } else if (t[i] == '"') {
      return i + 1;
    }
  }
  return npos;
}

// The position after the value that starts at t[i], or npos. The text is valid JSON (the
// inspector accepted it), so brackets balance outside strings.
std::size_t value_end(std::string_view t, std::size_t i) {
  if (i >= t.size()) {
    return npos;
  }
  if (t[i] == '"') {
    return string_end(t, i);
  }
  if (t[i] != '{' && t[i] != '[') {
    while (i < t.size() && !space(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') {
      ++i;
    }
    return i;
  }
  std::size_t depth = 0;
  for (; i < t.size(); ++i) {
    if (t[i] == '"') {
      i = string_end(t, i);
      if (i == npos) {
        return npos;
      }
      --i;
    } else if (t[i] == '{' || t[i] == '[') {
      ++depth;
    } else if ((t[i] == '}' || t[i] == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return npos;
}

// Whether the JSON string `quoted` (with its quotes) decodes to `name`: the inspector compared keys
// decoded, so "stream\u005foptions" is stream_options here too.
bool key_is(std::string_view quoted, std::string_view name) {
  const std::string_view inner = quoted.substr(1, quoted.size() - 2);
  // unescape() drops escaped control characters and surrogates (a model never reads them); the
  // inspector keeps them in keys, so such a key is never one of our names.
  for (std::size_t at = inner.find("\\u"); at != npos && at + 5 < inner.size();
       at = inner.find("\\u", at + 1)) {
    const char a = inner[at + 2];
    const char b = static_cast<char>(inner[at + 4] | 0x20);
    const char hi = static_cast<char>(inner[at + 3] | 0x20);
    if ((a == '0' && hi == '0' && (b == '0' || b == '1')) ||
        (a == '0' && hi == '0' && b == '7' && (inner[at + 5] | 0x20) == 'f') ||
        ((a | 0x20) == 'd' && hi >= '8')) {
      return false;
    }
  }
  thread_local unescaped_text decoded;
  return unescape(inner, json_escapes, decoded) ? decoded.text == name : inner == name;
}

struct member {
  std::size_t value_begin = npos;  // where the value starts
  std::size_t value_end = npos;
};

// Calls each(key_begin, quoted_key, value_begin, value_end) for every member of the object that
// opens at t[open] ('{'), in order; `close` receives the position of the object's '}'. false when
// the text is not as expected.
template <typename Each>
bool for_each_member(std::string_view t, std::size_t open, Each&& each, std::size_t& close) {
  std::size_t i = skip_space(t, open + 1);
  if (i < t.size() && t[i] == '}') {
    close = i;
    return true;
  }
  while (i < t.size() && t[i] == '"') {
    const std::size_t key_end = string_end(t, i);
    if (key_end == npos) {
      return false;
    }
    std::size_t v = skip_space(t, key_end);
    if (v >= t.size() || t[v] != ':') {
      return false;
    }
    v = skip_space(t, v + 1);
    const std::size_t end = value_end(t, v);
    if (end == npos) {
      return false;
    }
    each(i, t.substr(i, key_end - i), v, end);
    i = skip_space(t, end);
    if (i < t.size() && t[i] == '}') {
      close = i;
      return true;
    }
    if (i >= t.size() || t[i] != ',') {
      return false;
    }
    i = skip_space(t, i + 1);
  }
  return false;
}

// The member `name` of the object that opens at t[open] ('{'), or a member with npos positions;
// `close` receives the position of the object's '}'. false when the text is not as expected.
bool find_member(std::string_view t, std::size_t open, std::string_view name, member& found,
                 std::size_t& close) {
  return for_each_member(
      t, open,
      [&](std::size_t, std::string_view key, std::size_t value_begin, std::size_t value_end) {
        if (key_is(key, name)) {
          found = {value_begin, value_end};
        }
      },
      close);
}

}  // namespace

std::optional<std::string> with_include_usage(std::string_view body) {
  const std::size_t open = skip_space(body, 0);
  if (open >= body.size() || body[open] != '{') {
    return std::nullopt;
  }
  member options;
  std::size_t close = npos;
  if (!find_member(body, open, "stream_options", options, close)) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(body.size() + 40);
  if (options.value_begin == npos) {  // absent: a new last member
    const bool empty = skip_space(body, open + 1) == close;
    out.append(body.substr(0, close));
    out.append(empty ? R"("stream_options":{"include_usage":true})"
                     : R"(,"stream_options":{"include_usage":true})");
    out.append(body.substr(close));
    return out;
  }
  const std::string_view value = body.substr(options.value_begin, options.value_end - options.value_begin);
  if (value == "null") {
    out.append(body.substr(0, options.value_begin));
    out.append(R"({"include_usage":true})");
    out.append(body.substr(options.value_end));
    return out;
  }
  if (value.empty() || value.front() != '{') {
    return std::nullopt;
  }
  member usage;
  std::size_t options_close = npos;
  if (!find_member(body, options.value_begin, "include_usage", usage, options_close)) {
    return std::nullopt;
  }
  if (usage.value_begin != npos) {  // false or null: replaced
    out.append(body.substr(0, usage.value_begin));
    out.append("true");
    out.append(body.substr(usage.value_end));
    return out;
  }
  const bool empty = skip_space(body, options.value_begin + 1) == options_close;
  out.append(body.substr(0, options.value_begin + 1));
  out.append(empty ? R"("include_usage":true)" : R"("include_usage":true,)");
  out.append(body.substr(options.value_begin + 1));
  return out;
}

std::optional<std::string> without_member(std::string_view body, std::string_view name) {
  const std::size_t open = skip_space(body, 0);
  if (open >= body.size() || body[open] != '{') {
    return std::nullopt;
  }
  struct kept {
    std::size_t begin;  // the key's quote
    std::size_t end;    // past the value
    bool dropped;
  };
  std::vector<kept> members;
  bool any = false;
  std::size_t close = npos;
  if (!for_each_member(
          body, open,
          [&](std::size_t key_begin, std::string_view key, std::size_t, std::size_t value_end) {
            const bool dropped = key_is(key, name);
            members.push_back({key_begin, value_end, dropped});
            any = any || dropped;
          },
          close) ||
      !any) {
    return std::nullopt;
  }
  // The text before the first member, each kept member with the separator before it in the text
  // unless it is the first kept, and the text after the last member.
  std::string out(body.substr(0, members.front().begin));
  bool first = true;
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (members[k].dropped) {
      continue;
    }
    if (!first) {
      out.append(body.substr(members[k - 1].end, members[k].begin - members[k - 1].end));
    }
    out.append(body.substr(members[k].begin, members[k].end - members[k].begin));
    first = false;
  }
  out.append(body.substr(members.back().end));
  return out;
}

}  // namespace sovgw::classify
