#include "gateway/log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

namespace sovgw::gateway {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

log_line::log_line(std::string_view level, std::string_view msg) {
  buf_.reserve(256);
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  fmt::format_to(std::back_inserter(buf_), "{{\"ts\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\",\"level\":\"{}\",\"msg\":",
                 std::chrono::floor<std::chrono::seconds>(now), ms, level);
  append_json_string(buf_, msg);
}

void log_line::key(std::string_view k) {
  buf_ += ',';
  append_json_string(buf_, k);
  buf_ += ':';
}

log_line& log_line::str(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(buf_, value);
  return *this;
}

log_line& log_line::num(std::string_view k, std::int64_t value) {
  key(k);
  fmt::format_to(std::back_inserter(buf_), "{}", value);
  return *this;
}

log_line& log_line::real(std::string_view k, double value) {
  key(k);
  fmt::format_to(std::back_inserter(buf_), "{:.6f}", value);
  return *this;
}

log_line& log_line::boolean(std::string_view k, bool value) {
  key(k);
  buf_ += value ? "true" : "false";
  return *this;
}

void log_line::emit() {
  buf_ += "}\n";
  std::string_view rest = buf_;
  while (!rest.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n <= 0) {
      return;  // logging never takes the gateway down
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace sovgw::gateway
