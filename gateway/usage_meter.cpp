#include "gateway/usage_meter.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <optional>

namespace sovgw::gateway {

namespace json = boost::json;

namespace {

constexpr std::size_t json_tail = 64 * 1024;
constexpr std::size_t max_event = 1024 * 1024;  // an event larger than this passes unread

// SAX handler for one JSON value, the usage object: keeps the prompt_tokens and
// completion_tokens at its top level (input_tokens and output_tokens in the Responses API's usage)
// (non-negative integers; anything else counts 0), without building a document.
class usage_handler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  using error_code = boost::system::error_code;
  using sv = json::string_view;

  [[nodiscard]] bool is_object() const { return is_object_; }
  // A count was read: a usage object without one (other names, negative or fractional values)
  // does not say what the answer cost, so it is estimated like an answer without usage.
  [[nodiscard]] bool counted() const { return present_[0] || present_[1]; }
  // Each count when the object gave it.
  [[nodiscard]] std::optional<std::uint64_t> prompt() const { return given(0); }
  [[nodiscard]] std::optional<std::uint64_t> completion() const { return given(1); }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    is_object_ = is_object_ || depth_ == 0;
    return open();
  }
  bool on_object_end(std::size_t, error_code&) { return close(); }
  bool on_array_begin(error_code&) { return open(); }
  bool on_array_end(std::size_t, error_code&) { return close(); }
  bool on_key_part(sv s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    slot_ = depth_ != 1                                              ? none
            : key_ == "prompt_tokens" || key_ == "input_tokens"      ? 0
            : key_ == "completion_tokens" || key_ == "output_tokens" ? 1
                                                                     : none;
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
  bool on_double(double, sv, error_code&) { return other(); }
  bool on_bool(bool, error_code&) { return other(); }
  bool on_null(error_code&) { return other(); }
  bool on_comment_part(sv, error_code&) { return true; }
  bool on_comment(sv, error_code&) { return true; }

 private:
  static constexpr std::size_t none = 2;
  bool open() {
    ++depth_;
    slot_ = none;
    return true;
  }
  bool close() {
    --depth_;
    slot_ = none;
    return true;
  }
  bool count(std::uint64_t v) {
    if (slot_ != none) {
      counts_[slot_] = v;
      present_[slot_] = true;
    }
    return other();
  }
  [[nodiscard]] std::optional<std::uint64_t> given(std::size_t i) const {
    return present_[i] ? std::optional(counts_[i]) : std::nullopt;
  }
  bool other() {
    slot_ = none;
    return true;
  }

  std::string key_;
  std::size_t depth_ = 0;
  std::size_t slot_ = none;
  bool is_object_ = false;
  bool present_[2] = {false, false};
  std::uint64_t counts_[2] = {0, 0};
};

// Where the data of an SSE event is: the `data:` lines, joined.
std::string event_data(std::string_view ev) {
  std::string data;
  while (!ev.empty()) {
    const std::size_t nl = ev.find('\n');
    std::string_view line = ev.substr(0, nl);
    ev = nl == std::string_view::npos ? std::string_view() : ev.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
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

}  // namespace

bool usage_meter::read_usage(std::string_view text) {
  std::size_t at = text.rfind("\"usage\"");
  while (at != std::string_view::npos) {
    std::size_t i = at + 7;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
      ++i;
    }
    if (i < text.size() && text[i] == ':') {
      json::basic_parser<usage_handler> p(json::parse_options{});
      boost::system::error_code ec;
      p.write_some(false, text.data() + i + 1, text.size() - i - 1, ec);
      if (!ec && p.done() && p.handler().is_object() && p.handler().counted()) {
        // A stream may report usage in several events, each with the counts it knows: Anthropic's
        // message_start has the input tokens, its message_delta the output tokens so far. A count an
        // event does not give is not reset, and counts only grow (they are cumulative).
        const auto merge = [](std::uint64_t& into, std::optional<std::uint64_t> v) {
          into = v ? std::max(into, *v) : into;
        };
        merge(prompt_, p.handler().prompt());
        merge(completion_, p.handler().completion());
        prompt_given_ = prompt_given_ || p.handler().prompt().has_value();
        completion_given_ = completion_given_ || p.handler().completion().has_value();
        return true;
      }
      return false;  // "usage": null, not an object, or no count in it
    }
    at = at == 0 ? std::string_view::npos : text.rfind("\"usage\"", at - 1);
  }
  return false;
}

void usage_meter::event(std::string_view ev, std::string_view separator, std::string& out) {
  if (ev.find("data:") != std::string_view::npos && ev.find("[DONE]") == std::string_view::npos) {
    ++events_;
  }
  if (ev.find("\"usage\"") != std::string_view::npos && ev.size() <= max_event) {
    const std::string data = event_data(ev);
    if (read_usage(data) && strip_) {
      boost::system::error_code ec;
      const json::value v = json::parse(data, ec);
      const json::object* o = ec ? nullptr : v.if_object();
      const json::value* choices = o != nullptr ? o->if_contains("choices") : nullptr;
      if (choices != nullptr && choices->is_array() && choices->as_array().empty()) {
        return;  // the usage-only event the gateway asked for: not the client's
      }
    }
  }
  out += ev;
  out += separator;
}

void usage_meter::feed(std::string_view data, std::string& out) {
  if (mode_ == mode::off) {
    out += data;
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
    const std::size_t lf = pending_.find("\n\n", start);
    const std::size_t crlf = pending_.find("\r\n\r\n", start);
    if (lf == std::string::npos && crlf == std::string::npos) {
      break;
    }
    const bool use_crlf = crlf != std::string::npos && (lf == std::string::npos || crlf < lf);
    const std::size_t end = use_crlf ? crlf : lf;
    const std::size_t sep = use_crlf ? 4 : 2;
    event(std::string_view(pending_).substr(start, end - start), std::string_view(pending_).substr(end, sep),
          out);
    start = end + sep;
  }
  pending_.erase(0, start);
  if (pending_.size() > max_event) {
    out += pending_;  // not an event stream the meter can read: pass it on
    pending_.clear();
    mode_ = mode::off;
  }
}

void usage_meter::observe(std::string_view data) {
  if (mode_ != mode::json) {
    return;
  }
  json_bytes_ += data.size();
  pending_ += data;
  if (pending_.size() > 2 * json_tail) {
    pending_.erase(0, pending_.size() - json_tail);
  }
}

void usage_meter::finish(std::string& out) {
  if (mode_ == mode::json) {
    (void)read_usage(pending_);
  } else if (mode_ == mode::sse) {
    out += pending_;
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

}  // namespace sovgw::gateway
