#pragma once

// Internal to the configuration parser (config.cpp, config_sections.cpp): reads YAML values with
// their positions and collects every problem in the file as `file:line:col: message` before giving
// up, so an admin fixes them in one round. Not for use outside gateway/config*.cpp.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.hpp"
#include "policy/config_values.hpp"
#include "policy/diagnostics.hpp"
#include "policy/yaml_util.hpp"

namespace sovgw::gateway {

class config_reader {
 public:
  explicit config_reader(std::string_view source) : source_(source) {}

  bool check_files = false;  // existing_file() opens the file

  void error(const YAML::Mark& mark, const std::string& message);
  // A problem found by a shared parser (policy/clusters_config.hpp), in the same form.
  void error(const policy::diagnostic& d);
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }
  // What is allowed but most likely a mistake (config::warnings).
  void warning(const YAML::Mark& mark, std::string message);
  [[nodiscard]] const std::vector<policy::diagnostic>& warnings() const { return warnings_; }
  // How many of errors() are a named file that cannot be opened (existing_file), not a bad value.
  [[nodiscard]] std::size_t file_errors() const { return file_errors_; }
  [[nodiscard]] const std::string& source() const { return source_; }

  // Visits a mapping's keys; reports unknown keys; `handlers` maps a key to its reader. Remembers
  // where each key is (key_mark), named `where.key` (`key` at the top, `where` "the configuration").
  void map(const YAML::Node& node, std::string_view where,
           const std::map<std::string, std::function<void(const YAML::Node&)>>& handlers);
  // Where a key map() visited is ("listen.proxy_protocol", "trusted_proxies"): errors about how keys
  // go together are reported at the key that asks for the other; `fallback` when it is absent.
  [[nodiscard]] YAML::Mark key_mark(const std::string& path, const YAML::Mark& fallback) const;
  // Where each value map() visited is, by the same names (config::value_positions).
  [[nodiscard]] const std::map<std::string, policy::source_pos, std::less<>>& value_positions() const {
    return value_positions_;
  }
  // An IP address literal, as the listeners bind it ("127.0.0.1", "::"; not a host name).
  void ip_literal(const YAML::Node& n, std::string_view what, std::string& out);

  // Each reads one value into `out`, or reports why it cannot (naming `what`) and leaves `out` alone.
  bool scalar(const YAML::Node& n, std::string_view what, std::string& out);
  // Each string of the list `n` with its node (for positions): `not_a_list` reported when `n` is
  // no list, and "`entry` must be a string" at each entry that is none.
  void strings(const YAML::Node& n, std::string_view not_a_list, std::string_view entry,
               const std::function<void(const YAML::Node&, const std::string&)>& each);
  void non_empty(const YAML::Node& n, std::string_view what, std::string& out);
  // A path to a file that must exist and be readable now (relative paths: from the working
  // directory), reported at the key's position with the system's reason when it cannot be opened;
  // with check_files off, only a non-empty path.
  void existing_file(const YAML::Node& n, std::string_view what, std::string& out);
  // The same for a directory the gateway reads files from (audit.keys).
  void existing_directory(const YAML::Node& n, std::string_view what, std::string& out);
  void boolean(const YAML::Node& n, std::string_view what, bool& out);
  // "250ms", "10s", "5m", "1h".
  void duration(const YAML::Node& n, std::string_view what, milliseconds& out);
  // "512", "64KiB", "10MiB", "1GiB".
  bool size(const YAML::Node& n, std::string_view what, std::uint64_t& out);  // false: reported
  // A size, or 0 where 0 means no bound.
  bool size_or_zero(const YAML::Node& n, std::string_view what, std::uint64_t& out);

  template <typename T>
  void integer(const YAML::Node& n, std::string_view what, T& out, std::uint64_t min, std::uint64_t max) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    const auto v = policy::parse_whole_number(s);
    if (policy::yaml::quoted_scalar(n)) {
      error(n.Mark(), policy::quoted_number_error(what, s));
    } else if (!v) {
      error(n.Mark(), policy::integer_error(what, s, min, max));
    } else if (*v < min || *v > max) {
      error(n.Mark(), policy::range_error(what, min, max, *v));
    } else {
      out = static_cast<T>(*v);
    }
  }

 private:
  // A scalar read by `parse` (an optional value), or the message `why(what, text)` at its position.
  template <typename T, typename Parse, typename Why>
  bool parsed(const YAML::Node& n, std::string_view what, T& out, Parse parse, Why why) {
    std::string s;
    if (!scalar(n, what, s)) {
      return false;
    }
    if (const auto v = parse(s)) {
      out = *v;
      return true;
    }
    error(n.Mark(), why(what, s));
    return false;
  }

  // existing_file and existing_directory: the path, checked as a regular file or a directory.
  void existing_path(const YAML::Node& n, std::string_view what, std::string& out, bool directory);

  std::string source_;
  std::vector<std::string> errors_;
  std::vector<policy::diagnostic> warnings_;
  std::size_t file_errors_ = 0;
  std::map<std::string, YAML::Mark> key_marks_;
  std::map<std::string, policy::source_pos, std::less<>> value_positions_;
};

}  // namespace sovgw::gateway
