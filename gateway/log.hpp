#pragma once

// JSON-lines logging to stdout: one object per line, written with a single write(2) so lines from
// different threads never interleave. Values are escaped; secrets must simply never be passed in.

#include <cstdint>
#include <string>
#include <string_view>

namespace sovgw::gateway {

class log_line {
 public:
  log_line(std::string_view level, std::string_view msg);
  log_line& str(std::string_view key, std::string_view value);
  log_line& num(std::string_view key, std::int64_t value);
  log_line& real(std::string_view key, double value);
  log_line& boolean(std::string_view key, bool value);
  void emit();

 private:
  void key(std::string_view k);
  std::string buf_;
};

void append_json_string(std::string& out, std::string_view s);

}  // namespace sovgw::gateway
