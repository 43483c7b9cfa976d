#include "gateway/config_reader.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "common/printable.hpp"
#include "common/regular_file.hpp"

namespace sovgw::gateway {

// A message quotes the file's values: shown so that none can forge a line or reorder the text.
void config_reader::error(const YAML::Mark& mark, const std::string& message) {
  if (mark.is_null()) {
    errors_.push_back(fmt::format("{}: {}", printable(source_), printable(message)));
  } else {
    errors_.push_back(
        fmt::format("{}:{}:{}: {}", printable(source_), mark.line + 1, mark.column + 1, printable(message)));
  }
}

void config_reader::warning(const YAML::Mark& mark, std::string message) {
  warnings_.push_back(
      {source_, mark.is_null() ? policy::source_pos{} : policy::source_pos{mark.line + 1, mark.column + 1},
       policy::severity::warning, std::move(message)});
}

void config_reader::error(const policy::diagnostic& d) {
  if (d.pos.line == 0) {
    errors_.push_back(fmt::format("{}: {}", printable(source_), printable(d.message)));
  } else {
    errors_.push_back(
        fmt::format("{}:{}:{}: {}", printable(source_), d.pos.line, d.pos.column, printable(d.message)));
  }
}

void config_reader::map(const YAML::Node& node, std::string_view where,
                        const std::map<std::string, std::function<void(const YAML::Node&)>>& handlers) {
  if (!node.IsMap()) {
    error(node.Mark(), fmt::format("{} must be a mapping", where));
    return;
  }
  std::map<std::string, int> seen;  // key -> the line it was first written on
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.Scalar();
    auto h = handlers.find(key);
    if (h == handlers.end()) {
      std::string known;
      for (const auto& [k, _] : handlers) {
        known += known.empty() ? k : ", " + k;
      }
      error(it->first.Mark(), fmt::format("unknown key '{}' in {} (known: {})", key, where, known));
      continue;
    }
    if (const auto [first, added] = seen.emplace(key, it->first.Mark().line + 1); !added) {
      error(it->first.Mark(), fmt::format("duplicate key '{}' in {} (first at line {})", key, where, first->second));
      continue;
    }
    const std::string path = where == "the configuration" ? key : fmt::format("{}.{}", where, key);
    key_marks_[path] = it->first.Mark();
    value_positions_[path] = policy::yaml::pos_of(it->second);
    // `policy:` with nothing after it: said at the key, not as a wrong type where the next key is.
    if (it->second.IsNull()) {
      error(it->first.Mark(),
            fmt::format("{} has no value (write it after the colon, or remove the key)", path));
      continue;
    }
    h->second(it->second);
  }
}

YAML::Mark config_reader::key_mark(const std::string& path, const YAML::Mark& fallback) const {
  const auto it = key_marks_.find(path);
  return it == key_marks_.end() ? fallback : it->second;
}

void config_reader::ip_literal(const YAML::Node& n, std::string_view what, std::string& out) {
  std::string text;
  if (!scalar(n, what, text)) {
    return;
  }
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(text, ec);
  if (ec) {
    error(n.Mark(),
          fmt::format("{} '{}' is not an IP address (write an address such as 127.0.0.1, 0.0.0.0 or "
                      "::, not a host name)",
                      what, text));
    return;
  }
  out = std::move(text);
}

bool config_reader::scalar(const YAML::Node& n, std::string_view what, std::string& out) {
  if (!n.IsScalar()) {
    error(n.Mark(), fmt::format("{} must be a string", what));
    return false;
  }
  out = n.Scalar();
  return true;
}

void config_reader::strings(const YAML::Node& n, std::string_view not_a_list, std::string_view entry,
                            const std::function<void(const YAML::Node&, const std::string&)>& each) {
  if (!n.IsSequence()) {
    error(n.Mark(), std::string(not_a_list));
    return;
  }
  for (const YAML::Node& item : n) {
    std::string text;
    if (scalar(item, entry, text)) {
      each(item, text);
    }
  }
}

void config_reader::non_empty(const YAML::Node& n, std::string_view what, std::string& out) {
  if (scalar(n, what, out) && out.empty()) {
    error(n.Mark(), fmt::format("{} must not be empty", what));
  }
}

void config_reader::existing_file(const YAML::Node& n, std::string_view what, std::string& out) {
  existing_path(n, what, out, false);
}

void config_reader::existing_directory(const YAML::Node& n, std::string_view what, std::string& out) {
  existing_path(n, what, out, true);
}

void config_reader::existing_path(const YAML::Node& n, std::string_view what, std::string& out, bool directory) {
  std::string path;
  if (!scalar(n, what, path)) {
    return;
  }
  if (path.empty()) {
    error(n.Mark(), fmt::format("{} must not be empty", what));
    return;
  }
  struct stat st {};
  if (!check_files) {
    // checked where it is opened
  } else if (::access(path.c_str(), directory ? R_OK | X_OK : R_OK) != 0 || ::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    error(n.Mark(), fmt::format("{}: cannot open {}: {}", what, path_or_secret(path), std::strerror(e)));
    ++file_errors_;
  } else if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    // not opened: a FIFO would block, or be consumed
    error(n.Mark(), fmt::format("{}: {} is {}, not a {}", what, path_or_secret(path), file_type_name(st.st_mode),
                                directory ? "directory" : "regular file"));
    ++file_errors_;
  }
  out = std::move(path);  // set even when missing: one error, not a second "required" one
}

void config_reader::boolean(const YAML::Node& n, std::string_view what, bool& out) {
  if (n.IsScalar() && policy::yaml::quoted_scalar(n) && policy::parse_bool(n.Scalar())) {
    error(n.Mark(), policy::quoted_bool_error(what, n.Scalar()));
    return;
  }
  parsed(n, what, out, policy::parse_bool, policy::bool_error);
}

void config_reader::duration(const YAML::Node& n, std::string_view what, milliseconds& out) {
  parsed(n, what, out, policy::parse_duration, policy::duration_error);
}

bool config_reader::size(const YAML::Node& n, std::string_view what, std::uint64_t& out) {
  return parsed(n, what, out, policy::parse_size, policy::size_error);
}

bool config_reader::size_or_zero(const YAML::Node& n, std::string_view what, std::uint64_t& out) {
  if (n.IsScalar() && n.Scalar() == "0") {
    out = 0;
    return true;
  }
  return size(n, what, out);
}

}  // namespace sovgw::gateway
