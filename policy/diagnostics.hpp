#pragma once

#include <string>
#include <vector>

// Errors and warnings about an input file, reported as `file:line:col: error: message` (1-based
// line and column, as editors and compilers print them). Plain values; not thread-safe.
namespace sovgw::policy {

struct source_pos {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

enum class severity { error, warning };

struct diagnostic {
  std::string file;
  source_pos pos;
  severity level = severity::error;
  std::string message;

  [[nodiscard]] std::string format() const;
};

class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  void error(source_pos pos, std::string message);
  void warning(source_pos pos, std::string message);

  [[nodiscard]] bool has_errors() const noexcept;
  [[nodiscard]] std::size_t error_count() const noexcept;
  [[nodiscard]] const std::vector<diagnostic>& items() const noexcept { return items_; }
  [[nodiscard]] std::vector<diagnostic> take() { return std::move(items_); }
  [[nodiscard]] const std::string& file() const noexcept { return file_; }

 private:
  std::string file_;
  std::vector<diagnostic> items_;
};

// Sorted by position, one per line.
[[nodiscard]] std::string format_diagnostics(std::vector<diagnostic> items);

}  // namespace sovgw::policy
