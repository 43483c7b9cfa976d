#include "gateway/reload_failures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/rfc3339.hpp"

namespace sovgw::gateway {

void reload_failures::failed(std::string_view what, std::string_view serving, std::string_view file,
                             std::string_view errors) {
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string at = format_rfc3339_us(static_cast<std::uint64_t>(now_us), false).value_or("?");
  std::string_view first = errors.substr(0, errors.find('\n'));
  std::string line =
      fmt::format("{}: serving {}; {} failed to load at {}: {}\n", what, serving, file, at, first);
  const std::lock_guard lock(mutex_);
  const auto it =
      std::find_if(failures_.begin(), failures_.end(), [&](const failure& f) { return f.what == what; });
  if (it != failures_.end()) {
    it->line = std::move(line);
  } else {
    failures_.push_back({std::string(what), std::move(line)});
  }
}

void reload_failures::succeeded(std::string_view what) {
  const std::lock_guard lock(mutex_);
  std::erase_if(failures_, [&](const failure& f) { return f.what == what; });
}

std::string reload_failures::text() const {
  const std::lock_guard lock(mutex_);
  std::string out;
  for (const failure& f : failures_) {
    out += f.line;
  }
  return out;
}

}  // namespace sovgw::gateway
