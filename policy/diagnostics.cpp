#include "policy/diagnostics.hpp"

#include <algorithm>

#include "common/printable.hpp"

namespace sovgw::policy {

// A message quotes what the file holds (a name, a value): shown so that no byte of it can forge a
// line of the report, reorder what follows (bidi controls) or drive the terminal.
std::string diagnostic::format() const {
  std::string out = printable(file);
  if (pos.line > 0) {
    out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  }
  out += level == severity::error ? ": error: " : ": warning: ";
  out += printable(message);
  return out;
}

void diagnostics::error(source_pos pos, std::string message) {
  items_.push_back({file_, pos, severity::error, std::move(message)});
}

void diagnostics::warning(source_pos pos, std::string message) {
  items_.push_back({file_, pos, severity::warning, std::move(message)});
}

bool diagnostics::has_errors() const noexcept {
  return std::any_of(items_.begin(), items_.end(), [](const auto& d) { return d.level == severity::error; });
}

std::size_t diagnostics::error_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [](const diagnostic& d) { return d.level == severity::error; }));
}

std::string format_diagnostics(std::vector<diagnostic> items) {
  std::stable_sort(items.begin(), items.end(), [](const diagnostic& a, const diagnostic& b) {
    if (a.file != b.file) {
      return a.file < b.file;
    }
    if (a.pos.line != b.pos.line) {
      return a.pos.line < b.pos.line;
    }
    return a.pos.column < b.pos.column;
  });
  std::string out;
  for (const auto& d : items) {
    out += d.format();
    out += '\n';
  }
  return out;
}

}  // namespace sovgw::policy
