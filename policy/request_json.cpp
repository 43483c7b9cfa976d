#include "policy/request_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "common/canonical_path.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/special_purpose.hpp"

namespace sovgw::policy {
namespace {

std::optional<std::string> string_field(const boost::json::value& v, std::string_view key,
                                        std::string& error) {
  if (!v.is_string()) {
    error = "\"" + std::string(key) + "\" must be a string";
    return std::nullopt;
  }
  return std::string(v.get_string());
}

// Finds the first key the top-level object repeats: a value the parsed object would keep only once
// (one reader takes the first, another the last).
struct duplicate_key_finder {
  constexpr static std::size_t max_object_size = std::size_t(-1);
  constexpr static std::size_t max_array_size = std::size_t(-1);
  constexpr static std::size_t max_key_size = std::size_t(-1);
  constexpr static std::size_t max_string_size = std::size_t(-1);

  int depth = 0;
  std::string key;
  std::set<std::string, std::less<>> seen;
  std::optional<std::string> repeated;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return ++depth, true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return --depth, true; }
  bool on_object_begin(boost::system::error_code&) { return ++depth, true; }
  bool on_object_end(std::size_t, boost::system::error_code&) { return --depth, true; }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key.append(s.data(), s.size());
    if (depth == 1 && !seen.insert(key).second && !repeated) {
      repeated = key;
    }
    key.clear();
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

std::optional<std::string> repeated_key(std::string_view json) {
  boost::json::basic_parser<duplicate_key_finder> parser{boost::json::parse_options{}};
  boost::system::error_code ec;
  parser.write_some(false, json.data(), json.size(), ec);
  return parser.handler().repeated;
}

}  // namespace

std::vector<std::string>* data_class_list(std::string_view key, request_values& request) {
  if (key == "data.class.detected" || key == "data.class") {
    return &request.detected_classes;
  }
  if (key == "data.class.declared") {
    return &request.declared_classes;
  }
  return nullptr;
}

std::string request_method_problem(std::string_view method) {
  if (std::find(http_methods.begin(), http_methods.end(), method) != http_methods.end()) {
    return {};
  }
  return fmt::format("'{}' is not an HTTP method a policy matches (upper case: {})", method,
                     fmt::join(http_methods, ", "));
}

std::string request_path_problem(std::string_view path, bool glob) {
  const std::string quoted = "'" + std::string(path) + "'";
  if (path.empty() || (path.front() != '/' && !(glob && path.front() == '*'))) {
    return quoted + " is not a request path: a path starts with '/'";
  }
  if (!glob && path.find_first_of("?#") != std::string_view::npos) {
    return quoted +
           " holds a query or fragment: the gateway decides the path without them (/v1/models for "
           "/v1/models?x=1)";
  }
  if (glob && path.find('#') != std::string_view::npos) {
    return quoted + " holds a fragment: a client never sends one, and the policy never sees it";
  }
  // Not canonical as the gateway reads a target (common/canonical_path.hpp, docs/http.md): it
  // answers 400 before the policy is asked. Encodings it keeps (%20, %C3%A9) are canonical.
  const bool refused = path.front() == '/' && canonical_path_form(path) != path_form::canonical;
  if (refused) {
    return quoted +
           " is not canonical (an empty or dot segment, a segment ending in '.' or an encoded space, a "
           "backslash or a ';', or an encoded letter, digit, '-', '.', '_', '~', ':', '@', sub-delimiter, "
           "'/', backslash, '%', ';', '?', '#' or control character): the gateway refuses such a target (400 "
           "non_canonical_target) before the policy sees it";
  }
  // `/v1/models?*` or `?x=1`: a query spelled out ('?' after a name, not a segment's first character
  // as in /v1/files/?*, or a `=`/`&` after it).
  const std::size_t q = glob ? path.find('?') : std::string_view::npos;
  if (q != std::string_view::npos && q > 0 &&
      ((path[q - 1] != '/' && path.substr(q).starts_with("?*")) ||
       path.find_first_of("=&", q) != std::string_view::npos)) {
    return quoted +
           " looks like it names a query, but '?' matches one character of the path: the policy "
           "never sees the query";
  }
  return {};
}

std::optional<request_values> parse_request_json(std::string_view json, std::string& error) {
  // A stream parser, so that the error says where: `--request` is typed by hand on a command line.
  boost::system::error_code ec;
  boost::json::stream_parser parser;
  const std::size_t used = parser.write(json.data(), json.size(), ec);
  if (!ec) {
    parser.finish(ec);
  }
  if (ec) {
    const std::size_t at = std::min(used, json.size());
    error = "invalid JSON at character " + std::to_string(at + 1) + ": " + ec.message();
    return std::nullopt;
  }
  const boost::json::value root = parser.release();
  if (!root.is_object()) {
    error = "the request must be a JSON object";
    return std::nullopt;
  }
  if (const std::optional<std::string> key = repeated_key(json)) {
    error = "\"" + *key + "\" is given twice";
    return std::nullopt;
  }
  if (root.as_object().contains("data.class") && root.as_object().contains("data.class.detected")) {
    error = "\"data.class\" and \"data.class.detected\" name the same list: give one of them";
    return std::nullopt;
  }
  request_values out;
  for (const auto& [key_sv, value] : root.as_object()) {
    const std::string key(key_sv);
    if (auto* classes = data_class_list(key, out)) {
      const auto push = [&](const boost::json::value& v) {
        if (!v.is_string() || v.get_string().empty()) {
          error = "\"" + key + "\" must be a string or a list of non-empty strings";
          return false;
        }
        classes->emplace_back(v.get_string());
        return true;
      };
      if (value.is_array()) {
        for (const auto& item : value.get_array()) {
          if (!push(item)) {
            return std::nullopt;
          }
        }
      } else if (!push(value)) {
        return std::nullopt;
      }
      continue;
    }
    // An unknown key is named before a wrong type: a line of `audit query --format jsonl` (a record,
    // with "seq" first) is told it is not a request, not that "seq" must be a string.
    static constexpr std::string_view known[] = {"client.country", "client.ip", "tenant",
                                                 "model",          "path",      "method"};
    if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
      error = "unknown request attribute \"" + key +
              "\" (expected client.country, client.ip, tenant, model, path, method, data.class.detected, "
              "data.class.declared, data.class)";
      return std::nullopt;
    }
    auto text = string_field(value, key, error);
    if (!text) {
      return std::nullopt;
    }
    if (const std::string problem = set_request_value(out, key, *text); !problem.empty()) {
      error = "\"" + key + "\": " + problem;
      return std::nullopt;
    }
  }
  return out;
}

std::string set_request_value(request_values& request, std::string_view key, const std::string& text) {
  if (key == "client.country") {
    request.client_country = text;
    return request_country_problem(text);
  }
  if (key == "client.ip") {
    request.client_ip = parse_ip(text);
    return request.client_ip ? std::string() : "'" + text + "' is not an IP address";
  }
  if (key == "tenant") {
    request.tenant = text;
    return {};
  }
  if (key == "model") {
    request.model = text;
    return {};
  }
  if (key == "path") {
    request.path = text;
    return request_path_problem(text);
  }
  if (key == "method") {
    request.method = text;
    return request_method_problem(text);
  }
  return "is not a request attribute";
}

std::vector<std::string> request_class_problems(const snapshot& policy, const request_values& r) {
  std::vector<std::string> out;
  for (const auto* list : {&r.detected_classes, &r.declared_classes}) {
    for (const auto& c : *list) {
      const auto names = policy.data_class_names();
      if (std::find(names.begin(), names.end(), c) == names.end()) {
        out.push_back(fmt::format("data class '{}' is not defined by the policy", c));
      } else if (list == &r.detected_classes && policy.data_class_detectors(c) == 0) {
        out.push_back(
            fmt::format("data class '{}' has no detectors, so it is never detected: a client can "
                        "only declare it (data.class.declared)",
                        c));
      }
    }
  }
  return out;
}

std::string request_origin_problem(const request_values& r) {
  if (!r.client_ip || r.client_country.empty()) {
    return {};
  }
  const bool special = is_special_purpose(*r.client_ip);
  const bool said_private = r.client_country == country_name(country_private);
  if (special && !said_private) {
    return fmt::format(
        "client.country {} contradicts client.ip {}: a special-purpose address (private, loopback, "
        "link-local, shared, documentation, ...) is always client.country 'private' at the gateway, "
        "whatever its geo data; give 'private' or leave client.country out (it is then derived from "
        "client.ip)",
        r.client_country, format_ip(*r.client_ip));
  }
  if (!special && said_private) {
    return fmt::format(
        "client.country private contradicts client.ip {}: a globally reachable address is never "
        "client.country 'private' at the gateway (only special-purpose ones are); leave client.country "
        "out to geolocate it, or give the country it is in",
        format_ip(*r.client_ip));
  }
  return {};
}

std::vector<std::string> request_missing_problems(const snapshot& policy, const request_values& r) {
  std::vector<std::string> out;
  const compiled_policy& p = policy.compiled();
  for (const auto& [attr, value, example] : {std::tuple{attribute::method, &r.method, "POST"},
                                             std::tuple{attribute::path, &r.path, "/v1/chat/completions"}}) {
    if (!value->empty()) {
      continue;
    }
    std::vector<std::string> ids;
    for (const compiled_rule& rule : p.rules) {
      if (rule.when[static_cast<std::size_t>(attr)].constrained) {
        ids.push_back("'" + rule.id + "'");
      }
    }
    if (ids.empty()) {
      continue;
    }
    constexpr std::size_t named = 3;
    const std::string more = ids.size() > named ? fmt::format(" and {} more", ids.size() - named) : "";
    ids.resize(std::min(ids.size(), named));
    const std::string_view name = attribute_name(attr);
    out.push_back(fmt::format(
        "the request has no {}, which {} {}{} {}: every request the gateway decides has a method and a "
        "path, and without one each rule that tests it fails to match, a decision no real request gets; "
        "give the {} the request is sent with (e.g. {})",
        name, ids.size() == 1 && more.empty() ? "rule" : "rules", fmt::join(ids, ", "), more,
        ids.size() == 1 && more.empty() ? "tests" : "test", name, example));
  }
  return out;
}

std::string request_to_json(const request_values& r) {
  boost::json::object o;
  if (!r.client_country.empty()) {
    o["client.country"] = r.client_country;
  }
  if (r.client_ip) {
    o["client.ip"] = format_ip(*r.client_ip);
  }
  const auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) {
      o[key] = v;
    }
  };
  put("tenant", r.tenant);
  put("model", r.model);
  put("path", r.path);
  put("method", r.method);
  const auto put_list = [&](const char* key, const std::vector<std::string>& classes) {
    if (!classes.empty()) {
      boost::json::array a;
      for (const auto& c : classes) {
        a.emplace_back(c);
      }
      o[key] = std::move(a);
    }
  };
  put_list("data.class.detected", r.detected_classes);
  put_list("data.class.declared", r.declared_classes);
  return boost::json::serialize(o);
}

std::string request_to_text(const request_values& r) {
  const auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  const auto list = [](const std::vector<std::string>& classes) {
    std::string out;
    for (const auto& c : classes) {
      out += (out.empty() ? "" : ",") + c;
    }
    return "[" + out + "]";
  };
  return "client.country=" + or_dash(r.client_country) +
         " client.ip=" + (r.client_ip ? format_ip(*r.client_ip) : std::string("-")) +
         " tenant=" + or_dash(r.tenant) + " model=" + or_dash(r.model) + " path=" + or_dash(r.path) +
         " method=" + or_dash(r.method) + " data.class.detected=" + list(r.detected_classes) +
         " data.class.declared=" + list(r.declared_classes);
}

void geolocate(request_values& request, const geo_db& geo) {
  if (request.client_ip && request.client_country.empty()) {
    request.client_country = country_name(geo.lookup(*request.client_ip));
  }
}

}  // namespace sovgw::policy
