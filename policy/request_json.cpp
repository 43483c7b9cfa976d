#include "policy/request_json.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <string>

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
    auto text = string_field(value, key, error);
    if (!text) {
      return std::nullopt;
    }
    if (key == "client.country") {
      if (const std::string problem = request_country_problem(*text); !problem.empty()) {
        error = "\"client.country\": " + problem;
        return std::nullopt;
      }
      out.client_country = *text;
    } else if (key == "client.ip") {
      out.client_ip = parse_ip(*text);
      if (!out.client_ip) {
        error = "\"client.ip\": '" + *text + "' is not an IP address";
        return std::nullopt;
      }
    } else if (key == "tenant") {
      out.tenant = *text;
    } else if (key == "model") {
      out.model = *text;
    } else if (key == "path") {
      out.path = *text;
    } else if (key == "method") {
      out.method = *text;
    } else {
      error = "unknown request attribute \"" + key +
              "\" (expected client.country, client.ip, tenant, model, path, method, data.class.detected, "
              "data.class.declared, data.class)";
      return std::nullopt;
    }
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
