#include "gateway/usage_meter.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>

namespace sovgw::gateway {

namespace json = boost::json;

namespace {

constexpr std::size_t json_tail = 64 * 1024;
constexpr std::size_t max_event = 1024 * 1024;  // an event larger than this passes unread

std::uint64_t count_of(const json::object& usage, std::string_view key) {
  const json::value* v = usage.if_contains(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_uint64()) {
    return v->as_uint64();
  }
  if (v->is_int64() && v->as_int64() >= 0) {
    return static_cast<std::uint64_t>(v->as_int64());
  }
  return 0;
}

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
      json::stream_parser p;
      boost::system::error_code ec;
      p.write_some(text.data() + i + 1, text.size() - i - 1, ec);
      if (!ec && p.done()) {
        const json::value v = p.release();
        if (const json::object* usage = v.if_object()) {
          prompt_ = count_of(*usage, "prompt_tokens");
          completion_ = count_of(*usage, "completion_tokens");
          known_ = true;
          return true;
        }
      }
      return false;  // "usage": null, or not an object
    }
    at = at == 0 ? std::string_view::npos : text.rfind("\"usage\"", at - 1);
  }
  return false;
}

void usage_meter::event(std::string_view ev, std::string_view separator, std::string& out) {
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
    pending_ += data;
    if (pending_.size() > 2 * json_tail) {
      pending_.erase(0, pending_.size() - json_tail);
    }
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

void usage_meter::finish(std::string& out) {
  if (mode_ == mode::json) {
    (void)read_usage(pending_);
  } else if (mode_ == mode::sse) {
    out += pending_;
  }
  pending_.clear();
}

}  // namespace sovgw::gateway
