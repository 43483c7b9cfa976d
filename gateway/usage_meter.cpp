#include "gateway/usage_meter.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <optional>
#include <utility>

#include "classify/json_edit.hpp"
#include "common/ascii.hpp"

namespace sovgw::gateway {

namespace json = boost::json;

namespace {

constexpr std::size_t json_tail = 64 * 1024;
constexpr std::size_t max_event = 1024 * 1024;  // an event larger than this passes unread

// SAX handler that reads usage objects, the one reader of their counts for streamed and JSON
// answers alike (probe round 41: a stream's event was read as a document, whose repeated keys kept
// the last, and an escaped key went unread in both): keys are compared decoded ("\u0075sage" is
// `usage`), and a count or a usage object given twice counts at its largest. It keeps the counts
// at the top level of each usage object, under the names the APIs give them (non-negative
// integers; anything else counts 0), without building a document: the prompt (OpenAI's
// prompt_tokens, the Responses API's and Anthropic's input_tokens, Gemini's promptTokenCount), the
// prompt tokens Anthropic counts apart (cache_creation_input_tokens, cache_read_input_tokens: its
// input_tokens are only those after the last cache breakpoint) and Gemini's
// toolUsePromptTokenCount, the completion (completion_tokens, output_tokens, candidatesTokenCount)
// and Gemini's thoughtsTokenCount, which its candidates count leaves out.
//
// Where the usage objects are: `value`, the JSON value is one (what follows a JSON answer's
// top-level "usage" key); `event`, the value is a stream's event, whose usage is where the APIs
// put it: its top-level `usage` or `usageMetadata`, or those of its `response` or `message`
// (usage_meter::read_event_usage).
class usage_handler {
 public:
  enum class where : std::uint8_t { value, event };
  explicit usage_handler(where w = where::value) : where_(w) {}

  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  using error_code = boost::system::error_code;
  using sv = json::string_view;

  [[nodiscard]] bool is_object() const { return is_object_; }
  // A count was read: a usage object without one (other names, negative or fractional values)
  // does not say what the answer cost, so it is estimated like an answer without usage.
  [[nodiscard]] bool counted() const {
    return std::any_of(std::begin(present_), std::end(present_), [](bool p) { return p; });
  }
  // Each count when a usage object gave it (usage_part), at its largest.
  [[nodiscard]] std::optional<std::uint64_t> part(usage_part i) const {
    const auto k = static_cast<std::size_t>(i);
    return present_[k] ? std::optional(counts_[k]) : std::nullopt;
  }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    role r = role::none;
    if (stack_.empty()) {
      is_object_ = true;
      r = where_ == where::value ? role::usage : role::event;
    } else {
      r = next_;
    }
    return open(r);
  }
  bool on_object_end(std::size_t, error_code&) { return close(); }
  bool on_array_begin(error_code&) { return open(role::none); }
  bool on_array_end(std::size_t, error_code&) { return close(); }
  bool on_key_part(sv s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    slot_ = none;
    next_ = role::none;
    const std::string_view key = key_;
    const bool usage = key == "usage" || key == "usageMetadata";
    switch (stack_.empty() ? role::none : stack_.back()) {
      case role::usage:
        slot_ = static_cast<std::size_t>(usage_part_named(key));
        break;
      case role::event:
        next_ = usage ? role::usage : key == "response" || key == "message" ? role::container : role::none;
        break;
      case role::container:
        next_ = usage ? role::usage : role::none;
        break;
      case role::none:
        break;
    }
    key_.clear();
    return true;
  }
  bool on_string_part(sv, std::size_t, error_code&) { return true; }
  bool on_string(sv, std::size_t, error_code&) { return other(); }
  bool on_number_part(sv, error_code&) { return true; }
  bool on_int64(std::int64_t v, sv, error_code&) {
    return v >= 0 ? count(static_cast<std::uint64_t>(v)) : other();
  }
  bool on_uint64(std::uint64_t v, sv, error_code&) { return count(v); }
  // A count past 2^64 is read as a double: held to max_usage_count as a smaller one is, not taken
  // for no count (probe round 30); a fraction or a negative number is no count.
  bool on_double(double v, sv, error_code&) { return v >= 0x1p64 ? count(max_usage_count) : other(); }
  bool on_bool(bool, error_code&) { return other(); }
  bool on_null(error_code&) { return other(); }
  bool on_comment_part(sv, error_code&) { return true; }
  bool on_comment(sv, error_code&) { return true; }

 private:
  // What an open object is: a usage object (its members are counts), an event (its usage members
  // are usage objects), an object an event reports (a Responses `response`, Anthropic's `message`:
  // the same), or anything else (an array, an echo of the request: nothing in it counts).
  enum class role : std::uint8_t { none, usage, event, container };
  static constexpr std::size_t none = usage_parts;
  bool open(role r) {
    stack_.push_back(r);
    slot_ = none;
    next_ = role::none;
    return true;
  }
  bool close() {
    stack_.pop_back();
    slot_ = none;
    next_ = role::none;
    return true;
  }
  bool count(std::uint64_t v) {
    if (slot_ != none) {
      // A count past any real answer's cannot wrap a sum; one given twice counts at its largest.
      counts_[slot_] = std::max(counts_[slot_], std::min(v, max_usage_count));
      present_[slot_] = true;
    }
    return other();
  }
  bool other() {
    slot_ = none;
    next_ = role::none;
    return true;
  }

  where where_;
  std::string key_;
  std::vector<role> stack_;
  role next_ = role::none;  // what the value of the key just read is, when it opens an object
  std::size_t slot_ = none;
  bool is_object_ = false;
  bool present_[usage_parts] = {};
  std::uint64_t counts_[usage_parts] = {};
};

// Where the data of an SSE event is: the `data:` lines, joined.
std::string event_data(std::string_view ev) {
  std::string data;
  while (!ev.empty()) {
    // Lines end in CRLF, LF or CR (the SSE grammar allows all three).
    const std::size_t nl = ev.find_first_of("\r\n");
    std::string_view line = ev.substr(0, nl);
    const std::size_t next = nl == std::string_view::npos ? ev.size()
                             : ev.substr(nl, 2) == "\r\n" ? nl + 2
                                                          : nl + 1;
    ev = ev.substr(next);
    if (line.starts_with("data:")) {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
      }
      if (!data.empty()) {
        data += '\n';
      }
      data += line;
    }
  }
  return data;
}

// The length of the line end (CRLF, LF or CR) at s[i], or 0 when a CR ends the buffer (its LF may
// still come).
std::size_t line_end(std::string_view s, std::size_t i) {
  if (s[i] == '\n') {
    return 1;
  }
  if (i + 1 >= s.size()) {
    return 0;
  }
  return s[i + 1] == '\n' ? 2 : 1;
}

// Where the event that starts at `from` ends (a blank line: two line ends in a row) and the
// length of that separator; npos while the buffer does not hold it yet.
std::pair<std::size_t, std::size_t> event_end(std::string_view s, std::size_t from) {
  for (std::size_t i = s.find_first_of("\r\n", from); i != std::string_view::npos;) {
    const std::size_t first = line_end(s, i);
    if (first == 0 || i + first >= s.size()) {
      break;
    }
    const std::size_t j = i + first;
    if (s[j] == '\r' || s[j] == '\n') {
      const std::size_t second = line_end(s, j);
      if (second == 0) {
        break;
      }
      return {i, first + second};
    }
    i = s.find_first_of("\r\n", j);
  }
  return {std::string_view::npos, 0};
}

constexpr std::string_view usage_key = "\"usage\"";

// The next `"usage"` in [p, end), or nullptr. With SSE2, sixteen positions at a time are tested
// for the key's opening quote, its `u` and its closing quote; only those candidates are compared
// (about a fifth of the instructions of glibc's memmem, which reads byte by byte for a short key).
const char* find_usage_key(const char* p, const char* end) {
#if defined(__SSE2__)
  constexpr std::ptrdiff_t last = usage_key.size() - 1;
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i u = _mm_set1_epi8('u');
  for (; end - p >= 16 + last; p += 16) {
    const auto at = [p](std::ptrdiff_t k) {
      return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k));
    };
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(at(0), quote), _mm_cmpeq_epi8(at(1), u)),
                                        _mm_cmpeq_epi8(at(last), quote))));
    for (; mask != 0; mask &= mask - 1) {
      const char* hit = p + __builtin_ctz(mask);
      if (std::string_view(hit, usage_key.size()) == usage_key) {
        return hit;
      }
    }
  }
#endif
  const std::size_t at = std::string_view(p, static_cast<std::size_t>(end - p)).find(usage_key);
  return at == std::string_view::npos ? nullptr : p + at;
}

// The unsigned integer after `"key":` (past blanks), if the text writes one.
std::optional<std::uint64_t> number_after(std::string_view text, std::size_t key_end) {
  std::size_t i = key_end;
  const auto blank = [&] {
    return i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n');
  };
  while (blank()) {
    ++i;
  }
  if (i >= text.size() || text[i] != ':') {
    return std::nullopt;
  }
  ++i;
  while (blank()) {
    ++i;
  }
  std::uint64_t v = 0;
  const std::size_t first = i;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    v = std::min(v * 10 + static_cast<std::uint64_t>(text[i] - '0'), max_usage_count);
  }
  if (i == first || (i < text.size() && (text[i] == '.' || text[i] == 'e' || text[i] == 'E'))) {
    return std::nullopt;
  }
  return v;
}

// The name a string at text[at] spells when it is written with an escape, and the offset after
// its closing quote (probe round 41: a key "\u0075sage" is `usage` to a client's JSON parser, and
// went unread); nullopt when it has no escape (its bytes are the name: compared as they are) or is
// longer than any name read here written all in escapes.
std::optional<std::pair<std::string, std::size_t>> escaped_name_at(std::string_view text, std::size_t at) {
  constexpr std::size_t longest = 6 * 32;  // "toolUsePromptTokenCount", every letter escaped
  bool escape = false;
  std::size_t end = at + 1;
  while (end < text.size() && end - at <= longest && text[end] != '"') {
    escape = escape || text[end] == '\\';
    end += text[end] == '\\' ? 2 : 1;
  }
  if (!escape || end >= text.size() || text[end] != '"') {
    return std::nullopt;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(text.substr(at, end + 1 - at), ec);
  if (ec || !v.is_string()) {
    return std::nullopt;
  }
  return std::pair{std::string(v.as_string()), end + 1};
}

}  // namespace

usage_part usage_part_named(std::string_view key) {
  using enum usage_part;
  if (key == "prompt_tokens" || key == "input_tokens" || key == "promptTokenCount") {
    return prompt;
  }
  if (key == "completion_tokens" || key == "output_tokens" || key == "candidatesTokenCount") {
    return completion;
  }
  if (key == "cache_creation_input_tokens") {
    return cache_creation;
  }
  if (key == "cache_read_input_tokens") {
    return cache_read;
  }
  if (key == "toolUsePromptTokenCount") {
    return tool_use_prompt;
  }
  if (key == "thoughtsTokenCount") {
    return thoughts;
  }
  return none;
}

namespace {

// A stream may report usage in several events, each with the counts it knows: Anthropic's
// message_start has the input tokens, its message_delta the output tokens so far. A count an event
// does not give is not reset, and counts only grow (they are cumulative): each part at its largest.
void merge_part(std::uint64_t (&parts)[usage_parts], bool (&given)[usage_parts], usage_part which,
                std::optional<std::uint64_t> v) {
  const auto k = static_cast<std::size_t>(which);
  if (v) {
    parts[k] = std::max(parts[k], *v);
    given[k] = true;
  }
}

}  // namespace

// The usage objects at the answer's top level count (each count at its largest), never one deeper:
// a cluster's answer may echo the client's objects (the Responses API's tools, metadata, a stored
// completion's messages) with a `usage` of the client's own, which would set its charge: zeros
// made an answer without the cluster's usage free, 2^40 emptied a tenant's month (probe round 30).
// OpenAI's and Anthropic's `"usage"`, Gemini's `"usageMetadata"`; and Ollama's own counts, which
// its final object gives at its top level (`prompt_eval_count`, `eval_count`), and llama.cpp's
// server's (`tokens_evaluated`, `tokens_predicted`).
bool usage_meter::read_usage(std::string_view text, const std::vector<std::size_t>& top_strings) {
  bool found = false;
  const char* const end = text.data() + text.size();
  const auto at_top = [&](std::size_t at) {
    return std::binary_search(top_strings.begin(), top_strings.end(), at);
  };
  const auto read_object = [&](std::size_t i) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
      ++i;
    }
    if (i >= text.size() || text[i] != ':') {
      return;
    }
    json::basic_parser<usage_handler> p(json::parse_options{});
    boost::system::error_code ec;
    p.write_some(false, text.data() + i + 1, text.size() - i - 1, ec);
    if (!ec && p.done() && p.handler().is_object() && p.handler().counted()) {
      for (std::size_t k = 0; k < usage_parts; ++k) {
        merge_part(parts_, given_, static_cast<usage_part>(k), p.handler().part(static_cast<usage_part>(k)));
      }
      found = true;
    }
    // else "usage": null, not an object, or no count in it
  };
  // The top-level names written with escapes, decoded: read as the same names unescaped.
  std::vector<std::pair<std::string, std::size_t>> escaped;
  for (const std::size_t at : top_strings) {
    if (at < text.size() && text[at] == '"') {
      if (auto name = escaped_name_at(text, at)) {
        escaped.push_back(std::move(*name));
      }
    }
  }
  const auto read_escaped = [&](std::string_view name, const auto& read) {
    for (const auto& [decoded, after] : escaped) {
      if (decoded == name) {
        read(after);
      }
    }
  };
  for (const char* hit = find_usage_key(text.data(), end); hit != nullptr;
       hit = find_usage_key(hit + usage_key.size(), end)) {
    if (at_top(static_cast<std::size_t>(hit - text.data()))) {
      read_object(static_cast<std::size_t>(hit - text.data()) + usage_key.size());
    }
  }
  read_escaped("usage", read_object);
  // The other APIs' names only where no `usage` object counted: an OpenAI-style answer is read in
  // one pass (std::string_view::find stops at every '"' of the JSON).
  if (found) {
    return finish_parts();
  }
  constexpr std::string_view gemini_key = "\"usageMetadata\"";
  for (std::size_t at = text.find(gemini_key); at != std::string_view::npos;
       at = text.find(gemini_key, at + gemini_key.size())) {
    if (at_top(at)) {
      read_object(at + gemini_key.size());
    }
  }
  read_escaped("usageMetadata", read_object);
  // Ollama's, and llama.cpp's server's (its /completion answer: probe round 50, 4,000 tokens
  // predicted were charged 1,077 by the answer's size).
  constexpr std::pair<std::string_view, usage_part> count_keys[] = {
      {"\"prompt_eval_count\"", usage_part::prompt},
      {"\"eval_count\"", usage_part::completion},
      {"\"tokens_evaluated\"", usage_part::prompt},
      {"\"tokens_predicted\"", usage_part::completion}};
  for (const auto& [key, part] : count_keys) {
    for (std::size_t at = text.find(key); at != std::string_view::npos;
         at = text.find(key, at + key.size())) {
      if (const auto v = at_top(at) ? number_after(text, at + key.size()) : std::nullopt) {
        merge_part(parts_, given_, part, v);
        found = true;
      }
    }
    read_escaped(key.substr(1, key.size() - 2), [&](std::size_t after) {
      if (const auto v = number_after(text, after)) {
        merge_part(parts_, given_, part, v);
        found = true;
      }
    });
  }
  return found ? finish_parts() : false;
}

// The prompt and completion counts from the parts read so far; true.
bool usage_meter::finish_parts() {
  using enum usage_part;
  const auto at = [&](usage_part p) { return parts_[static_cast<std::size_t>(p)]; };
  const auto was = [&](usage_part p) { return given_[static_cast<std::size_t>(p)]; };
  prompt_ = at(prompt) + at(cache_creation) + at(cache_read) + at(tool_use_prompt);
  completion_ = at(completion) + at(thoughts);
  prompt_given_ = was(prompt) || was(cache_creation) || was(cache_read) || was(tool_use_prompt);
  completion_given_ = was(completion) || was(thoughts);
  return true;
}

// Where an event carries the cluster's usage: at its top level (a Chat Completions chunk's `usage`,
// Anthropic's message_delta, Gemini's `usageMetadata`), or in the object it reports (a Responses
// stream's `response.usage`, Anthropic's message_start `message.usage`). Not anywhere else: a
// Responses stream's first events echo the request (its tools' schemas, its metadata), where a
// client may write a `usage` of its own, with zeros, and leave before the real one (probe round 28).
// Read with the same reader as a JSON answer's usage object (usage_handler): keys decoded, a
// count or a usage given twice at its largest. False when `data` is no JSON object.
bool usage_meter::read_event_usage(std::string_view data) {
  json::basic_parser<usage_handler> p(json::parse_options{}, usage_handler::where::event);
  boost::system::error_code ec;
  const std::size_t n = p.write_some(false, data.data(), data.size(), ec);
  const bool whole = n == data.size() || data.find_first_not_of(" \t\r\n", n) == std::string_view::npos;
  if (ec || !p.done() || !whole || !p.handler().is_object() || !p.handler().counted()) {
    return false;
  }
  for (std::size_t k = 0; k < usage_parts; ++k) {
    merge_part(parts_, given_, static_cast<usage_part>(k), p.handler().part(static_cast<usage_part>(k)));
  }
  return finish_parts();
}

namespace {

// Whether a `usage` or `usageMetadata` key in `text` holds an object: the only value counts come
// from. A stream's chunks carry `"usage":null` one after another; they are not parsed for it.
bool usage_object_in(std::string_view text) {
  for (std::size_t at = text.find("\"usage"); at != std::string_view::npos;
       at = text.find("\"usage", at + 1)) {
    std::size_t k = text.find('"', at + 1);
    if (k == std::string_view::npos) {
      return false;
    }
    k = text.find_first_not_of(" \t\r\n", k + 1);
    if (k == std::string_view::npos || text[k] != ':') {
      continue;
    }
    k = text.find_first_not_of(" \t\r\n", k + 1);
    if (k != std::string_view::npos && text[k] == '{') {
      return true;
    }
  }
  return false;
}

// Whether a key in `text` (JSON) is written with a \u escape: it may spell `usage` ("\u0075sage";
// no other escape writes a letter), which a client's JSON parser reads as `usage` (probe round 41:
// such an event went unread and reached a client that did not ask for usage). A string with an
// escape in it (non-ASCII content, "caf\u00e9") is a key when a ':' follows it.
bool escaped_key_in(std::string_view text) {
  for (std::size_t at = text.find("\\u"); at != std::string_view::npos; at = text.find("\\u", at)) {
    std::size_t end = at;  // the closing quote of the string the escape is in
    while (end < text.size() && text[end] != '"') {
      end += text[end] == '\\' ? 2 : 1;
    }
    if (end >= text.size()) {
      return false;
    }
    const std::size_t next = text.find_first_not_of(" \t\r\n", end + 1);
    if (next != std::string_view::npos && text[next] == ':') {
      return true;
    }
    at = end + 1;
  }
  return false;
}

// Whether an event holds nothing but a usage and the envelope every chunk of the stream carries:
// the usage-only event the gateway asked for. Its choices empty (a list, or null, or none at all;
// `{}` too, which holds no choice either). Anything else it carries (an `error`, Azure's
// prompt_filter_results, a field a later API adds) is something a client may act on.
bool usage_only(const json::object& event) {
  for (const auto& [key, value] : event) {
    if (key == "choices") {
      if (!(value.is_null() || (value.is_array() && value.as_array().empty()) ||
            (value.is_object() && value.as_object().empty()))) {
        return false;
      }
      continue;
    }
    // OpenAI's chunk envelope (service_tier and obfuscation are on each of its chunks), and the
    // timings llama.cpp's server puts beside its usage: nothing a client acts on.
    static constexpr std::string_view envelope[] = {"usage",        "id",          "object",
                                                    "created",      "model",       "system_fingerprint",
                                                    "service_tier", "obfuscation", "timings"};
    if (std::find(std::begin(envelope), std::end(envelope), std::string_view(key)) == std::end(envelope)) {
      return false;
    }
  }
  return true;
}

// Appends the event `ev` with `data` in place of its data lines (at the first; one `data:` line
// per line of `data`), its other lines (event:, id:, comments) as they were, then `separator`.
void append_event(std::string& out, std::string_view ev, std::string_view separator, std::string_view data) {
  const std::string_view nl = separator.starts_with("\r\n") ? separator.substr(0, 2)
                              : separator.empty()           ? std::string_view("\n")
                                                            : separator.substr(0, 1);
  bool first_line = true;
  const auto line_out = [&](std::string_view prefix, std::string_view line) {
    if (!first_line) {
      out += nl;
    }
    out += prefix;
    out += line;
    first_line = false;
  };
  bool data_written = false;
  while (true) {
    const std::size_t e = ev.find_first_of("\r\n");
    const std::string_view line = ev.substr(0, e);
    if (!line.starts_with("data:")) {
      line_out({}, line);
    } else if (!data_written) {
      data_written = true;
      for (std::string_view rest = data;;) {
        const std::size_t n = rest.find('\n');
        line_out("data: ", rest.substr(0, n));
        if (n == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(n + 1);
      }
    }
    if (e == std::string_view::npos) {
      break;
    }
    ev.remove_prefix(e + (ev.substr(e, 2) == "\r\n" ? 2 : 1));
  }
  out += separator;
}

}  // namespace

void usage_meter::event(std::string_view ev, std::string_view separator, std::string& out) {
  // What follows `data: [DONE]` no client reads (the OpenAI SDKs stop there): not charged, and
  // dropped where the gateway re-frames the answer anyway (probe round 46: a usage sent after it
  // was charged though the client's SDK reported none).
  if (done_) {
    if (!strip_) {
      out += ev;
      out += separator;
    }
    return;
  }
  if (ev.find("data:") != std::string_view::npos) {
    if (ev.find("[DONE]") != std::string_view::npos &&
        event_data(ev).starts_with("[DONE]")) {  // as the SDKs test it
      done_ = true;
      out += ev;
      out += separator;
      return;
    }
    ++events_;
  }
  // "usage" or Gemini's "usageMetadata", in one search, or a key spelt with an escape; parsed when
  // it may hold counts, or when the gateway may have to take out the usage it asked for.
  const bool escaped = ev.size() <= max_event && escaped_key_in(ev);
  if ((escaped || ev.find("\"usage") != std::string_view::npos) && ev.size() <= max_event &&
      (strip_ || escaped || usage_object_in(ev))) {
    const std::string data = event_data(ev);
    // Read whether or not the gateway strips it: an event whose counts do not read is still the
    // usage-only event the gateway asked for, never the client's (probe round 23).
    (void)read_event_usage(data);
    boost::system::error_code ec;
    const json::value v = strip_ ? json::parse(data, ec) : json::value();
    const json::object* o = ec ? nullptr : v.if_object();
    // Keys compared decoded, as the client's parser reads them.
    if (strip_ && o != nullptr && o->contains("usage")) {
      if (usage_only(*o)) {
        return;  // the usage-only event the gateway asked for, not the client's
      }
      // An event that says more (an error, a chunk's content): relayed without the usage, which the
      // client did not ask for. A `"usage":null` (on every chunk once usage is asked for) says
      // nothing and stays: the event goes as it came.
      if (!o->at("usage").is_null()) {
        if (const std::optional<std::string> rest = classify::without_member(data, "usage")) {
          append_event(out, ev, separator, *rest);
          return;
        }
      }
    }
  }
  out += ev;
  out += separator;
}

bool usage_meter::settle_mode(bool at_end) {
  constexpr std::string_view bom = "\xEF\xBB\xBF";  // which an event stream may start with
  std::string_view head = pending_;
  if (!at_end && head.size() < bom.size() && bom.starts_with(head)) {
    return false;
  }
  if (head.starts_with(bom)) {
    head.remove_prefix(bom.size());
  }
  head.remove_prefix(std::min(head.size(), head.find_first_not_of(" \t\r\n")));
  constexpr std::string_view fields[] = {"data:", "event:", "id:", "retry:", ":"};
  bool events = std::any_of(std::begin(fields), std::end(fields),
                            [&](std::string_view f) { return head.starts_with(f); });
  if (labelled_events_ && (!head.empty() || at_end || pending_.size() >= 4096)) {
    // Labelled as events: events unless written as a JSON text (a field of another name is an
    // event's too, which a client ignores).
    events = !(head.starts_with('{') || head.starts_with('['));
  }
  if (!events && !at_end) {
    // Nothing but blank lines yet, or the start of a field name: more bytes decide.
    const bool blank = head.empty() && pending_.size() < 4096;
    if (blank || (!head.empty() && std::any_of(std::begin(fields), std::end(fields),
                                               [&](std::string_view f) { return f.starts_with(head); }))) {
      return false;
    }
  }
  mode_ = events ? mode::sse : mode::json;
  return true;
}

void usage_meter::feed(std::string_view data, std::string& out) {
  if (mode_ == mode::off) {
    out += data;
    return;
  }
  if (mode_ == mode::sniff) {
    pending_ += data;
    if (!settle_mode(false)) {
      return;
    }
    const std::string held = std::move(pending_);
    pending_.clear();
    feed(held, out);
    return;
  }
  if (mode_ == mode::json) {
    out += data;
    observe(data);
    return;
  }
  pending_ += data;
  std::size_t start = 0;
  while (true) {
    const auto [end, sep] = event_end(pending_, start);
    if (end == std::string::npos) {
      break;
    }
    if (skipping_) {
      // The end of an event too large to hold (it went on as it came): counted, not read.
      out.append(pending_, start, end + sep - start);
      skipping_ = false;
      ++events_;
    } else {
      event(std::string_view(pending_).substr(start, end - start),
            std::string_view(pending_).substr(end, sep), out);
    }
    start = end + sep;
  }
  pending_.erase(0, start);
  if (pending_.size() > max_event || (skipping_ && pending_.size() > 4)) {
    // An event too large to hold (a prompt echoed back): passed on as it comes, the meter reading
    // on from the next event; the last bytes wait, as they may begin the blank line that ends it.
    out.append(pending_, 0, pending_.size() - 3);
    pending_.erase(0, pending_.size() - 3);
    skipping_ = true;
  }
}

namespace {

// Follows a JSON text's nesting over `bytes` from `n`, calling top(i) where a string starts at the
// top level's object (depth 1: a key, or a value; a value followed by ':' is no JSON). Strings are
// skipped to their closing quote, backslash escapes read.
template <typename Top>
void follow_nesting(std::size_t& depth, bool& in_string, bool& escaped, std::string_view bytes, Top&& top) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (in_string) {
      if (escaped) {
        escaped = false;
        continue;
      }
      i = bytes.find_first_of("\"\\", i);
      if (i == std::string_view::npos) {
        return;
      }
      escaped = bytes[i] == '\\';
      in_string = bytes[i] != '"';
      continue;
    }
    i = bytes.find_first_of("\"{}[]", i);
    if (i == std::string_view::npos) {
      return;
    }
    const char c = bytes[i];
    if (c == '"') {
      if (depth == 1) {
        top(i);
      }
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (depth > 0) {
      --depth;
    }
  }
}

}  // namespace

void usage_meter::observe(std::string_view data) {
  if (mode_ != mode::json) {
    return;
  }
  json_bytes_ += data.size();
  pending_ += data;
  if (pending_.size() > 2 * json_tail) {
    const std::size_t cut = pending_.size() - json_tail;
    json_nesting& n = tail_nesting_;
    // A `usage` before the tail is read before it goes (probe round 37: one more than 128 KiB
    // from the end was missed, and the record said the cluster reported none): its object is in
    // what is kept after it, unless it is itself longer than json_tail.
    static thread_local std::vector<std::size_t> top_strings;
    top_strings.clear();
    bool usage_key = false;
    follow_nesting(n.depth, n.in_string, n.escaped, std::string_view(pending_).substr(0, cut),
                   [&](std::size_t i) {
                     top_strings.push_back(i);
                     usage_key = usage_key || pending_.compare(i, 6, "\"usage") == 0 ||
                                 escaped_name_at(pending_, i).has_value();
                   });
    if (usage_key && usage_in_body_) {
      (void)read_usage(pending_, top_strings);
    }
    pending_.erase(0, cut);
  }
}

void usage_meter::finish(std::string& out) {
  if (mode_ == mode::sniff) {
    (void)settle_mode(true);
    const std::string held = std::move(pending_);
    pending_.clear();
    feed(held, out);
  }
  if (mode_ == mode::json) {
    if (usage_in_body_) {
      static thread_local std::vector<std::size_t> top_strings;
      top_strings.clear();
      json_nesting n = tail_nesting_;
      follow_nesting(n.depth, n.in_string, n.escaped, pending_,
                     [](std::size_t i) { top_strings.push_back(i); });
      (void)read_usage(pending_, top_strings);
    }
  } else if (mode_ == mode::sse) {
    if (!skipping_ && !pending_.empty()) {
      // A last event without its blank line: read, and its usage taken out, as any (probe round
      // 39: the usage-only event the gateway asked for was relayed when it was unterminated).
      event(pending_, {}, out);
    } else {
      out += pending_;
    }
  }
  pending_.clear();
}

void usage_meter::estimate(std::size_t request_body_bytes, bool generates) {
  if (mode_ == mode::off) {
    return;
  }
  if (!prompt_given_) {
    prompt_ = estimate_prompt(request_body_bytes);
  }
  if (!completion_given_) {
    completion_ = mode_ == mode::sse ? events_ : generates ? (json_bytes_ + 3) / 4 : 0;
  }
}

usage_meter usage_meter_for(const http::message_head& request, const http::message_head& up,
                            bool usage_requested) {
  if (up.status < 200 || up.status >= 300) {
    return {};
  }
  bool json = false;
  bool events = false;
  bool other = false;  // a media type neither JSON nor events (text/plain: a model's text)
  for (const http::field& f : up.fields) {
    if (f.id != http::field_id::content_type) {
      continue;
    }
    std::string_view type = std::string_view(f.value).substr(0, f.value.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
      type.remove_suffix(1);
    }
    const bool event_type = http::iequals(type, "text/event-stream");
    events = events || event_type;
    // JSON, and the JSON lines of Ollama's and TGI's streams: a model's text is a string in them,
    // so a `"usage"` key is the cluster's own, never what the model wrote.
    constexpr std::string_view suffix = "+json";
    const bool json_type =
        http::iequals(type, "application/json") || http::iequals(type, "application/x-ndjson") ||
        http::iequals(type, "application/jsonl") || http::iequals(type, "application/json-seq") ||
        (type.size() > suffix.size() && http::iequals(type.substr(type.size() - suffix.size()), suffix));
    json = json || json_type;
    other = other || (!event_type && !json_type);
  }
  if (!(http::path_under(request, "/v1/") || request.method == "POST" || json || events)) {
    return {};
  }
  if (events) {
    // A stream sent with a Content-Length is relayed re-framed (relay.cpp), so that the event can
    // go whatever the framing. Read as what it is written as (probe round 41: a JSON answer
    // labelled text/event-stream held no events, so its usage went unread and its completion was
    // charged 0): events, or else a JSON answer (its usage counted, as under a JSON media type,
    // unless a text type is given beside it), estimated by its size when it reports none.
    usage_meter meter(usage_meter::mode::sniff, usage_requested, json || !other);
    meter.labelled_events();
    return meter;
  }
  if (usage_requested) {
    return usage_meter(usage_meter::mode::sniff, true, json);
  }
  usage_meter meter(usage_meter::mode::json, false);
  if (!json) {
    meter.ignore_usage_in_body();
  }
  return meter;
}

bool answers_with_text(const http::message_head& head) {
  std::string_view path = http::target_path(head);
  while (path.ends_with('/')) {
    path.remove_suffix(1);
  }
  const std::string_view last = path.substr(path.rfind('/') + 1);
  for (const std::string_view vector :
       {"embeddings", "embed", "embedding", "encode", "score", "rerank", "reranking", "tokenize",
        "detokenize", "classify", "pooling", "moderations"}) {
    if (ascii_iequals(last, vector)) {
      return false;
    }
  }
  if (!http::path_under(head, "/v1/")) {
    return true;
  }
  const bool runs_model = head.method == "POST" || head.method == "PUT" || head.method == "PATCH";
  if (!runs_model) {
    // A read-back (GET of a stored completion or response) generates nothing new; these are
    // charged by their size only where they report no usage (probe round 37).
    return http::path_under(head, "/v1/chat/completions") || http::path_under(head, "/v1/completions") ||
           http::path_under(head, "/v1/responses");
  }
  // Every other request under /v1/ with a body runs a model unless it only stores or manages
  // objects, or answers with media whose bytes are no count of tokens (images and videos are
  // charged what admission reserved, charged_as_reserved; speech is audio). Probe round 44: an
  // allow-list of generating endpoints let /v1/complete (Anthropic's legacy completions), KServe's
  // /v1/models/{m}:predict, Cohere's /v1/summarize and the like be charged no completion at all.
  const std::string_view rest = path.substr(std::min<std::size_t>(path.size(), 4));
  const std::string_view first = rest.substr(0, rest.find('/'));
  for (const std::string_view objects :
       {"files", "uploads", "batches", "fine_tuning", "fine-tunes", "vector_stores", "assistants", "threads",
        "organization", "containers", "evals", "images", "videos"}) {
    if (ascii_iequals(first, objects)) {
      return false;
    }
  }
  return !(ascii_iequals(first, "audio") && ascii_iequals(last, "speech"));
}

bool starts_assistants_run(const http::message_head& head) {
  std::string_view path = http::target_path(head);
  if (path.ends_with('/')) {
    path.remove_suffix(1);  // one trailing slash, as path_ends_with reads it
  }
  std::string_view segments[3];  // the last three, the last first
  for (std::string_view& segment : segments) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
      break;
    }
    segment = path.substr(slash + 1);
    path = path.substr(0, slash);
  }
  return ascii_iequals(segments[0], "runs") &&
         (ascii_iequals(segments[1], "threads") || ascii_iequals(segments[2], "threads"));
}

bool charged_as_reserved(const http::message_head& head) {
  if (head.method != "POST") {
    return false;
  }
  static constexpr std::string_view endings[] = {"/responses", "/videos", "/images/generations",
                                                 "/images/edits", "/images/variations"};
  return starts_assistants_run(head) ||
         std::any_of(std::begin(endings), std::end(endings),
                     [&](std::string_view ending) { return http::path_ends_with(head, ending); });
}

std::uint64_t prompt_bound(const http::message_head& head, const classify::body_fields& f) {
  return starts_assistants_run(head) ? f.max_prompt_tokens : 0;
}

namespace {

// The bound of one completion the endpoint honours, and the field that set it (completion_bound).
std::pair<std::uint64_t, std::string_view> bound_of_one(const http::message_head& head,
                                                        const classify::body_fields& f) {
  std::pair<std::uint64_t, std::string_view> b{0, {}};
  if (http::path_ends_with(head, "/responses")) {
    b = {f.max_output_tokens, "max_output_tokens"};
  } else if (starts_assistants_run(head)) {
    b = {f.max_completion_tokens, "max_completion_tokens"};  // for all the run's turns
  } else if (http::path_ends_with(head, "/chat/completions")) {
    b = f.max_completion_tokens > f.max_tokens ? std::pair{f.max_completion_tokens, "max_completion_tokens"}
                                               : std::pair{f.max_tokens, "max_tokens"};
  } else if (http::path_ends_with(head, "/completions") || http::path_ends_with(head, "/messages")) {
    b = {f.max_tokens, "max_tokens"};
  } else if (http::path_ends_with(head, "/api/generate") || http::path_ends_with(head, "/api/chat")) {
    b = {f.num_predict, "options.num_predict"};  // Ollama's
  } else if (http::path_ends_with(head, "/generate") || http::path_ends_with(head, "/generate_stream")) {
    b = {f.max_new_tokens, "max_new_tokens"};  // SGLang's and TGI's, at the top or in their sampling settings
  } else if (http::path_ends_with(head, "/completion") || http::path_ends_with(head, "/infill")) {
    b = f.n_predict > f.max_tokens ? std::pair{f.n_predict, "n_predict"}
                                   : std::pair{f.max_tokens, "max_tokens"};  // llama.cpp's own
  }
  if (b.first != 0 && f.n_predict > b.first) {
    b = {f.n_predict, "n_predict"};  // llama.cpp's n_predict wins over its max_tokens
  }
  // A negative n_predict lifts llama.cpp's bound on every endpoint, Ollama's num_predict on its own.
  const bool ollama = http::path_ends_with(head, "/api/generate") || http::path_ends_with(head, "/api/chat");
  if (f.n_predict_unbounded || (ollama && f.num_predict_unbounded)) {
    b = {0, {}};
  }
  return b;
}

}  // namespace

std::uint64_t completion_bound(const http::message_head& head, const classify::body_fields& f) {
  const std::uint64_t bound = bound_of_one(head, f).first;
  const std::uint64_t n = completions(head, f);
  return bound == 0 ? 0 : bound > max_completion_bound / n ? max_completion_bound : bound * n;
}

std::string_view completion_bound_field(const http::message_head& head, const classify::body_fields& f) {
  return bound_of_one(head, f).second;
}

std::uint64_t completions(const http::message_head& head, const classify::body_fields& f) {
  // A conversation is one prompt, whatever a `prompt` key holds.
  const bool conversation = http::path_ends_with(head, "/chat/completions") ||
                            http::path_ends_with(head, "/responses") ||
                            http::path_ends_with(head, "/messages");
  // At most 10^6 of each: the product fits 64 bits.
  return std::max<std::uint64_t>(1, f.choices) * (conversation ? 1 : std::max<std::uint64_t>(1, f.prompts));
}

}  // namespace sovgw::gateway
