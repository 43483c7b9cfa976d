#include "gateway/models_endpoint.hpp"

#include "gateway/log.hpp"

namespace sovgw::gateway {

namespace {

constexpr std::string_view list_path = "/v1/models";

void append_model(std::string& out, const permitted_model& m) {
  out += "{\"id\":";
  append_json_string(out, m.id);
  out += ",\"object\":\"model\",\"created\":0,\"owned_by\":\"sovgw\",\"countries\":[";
  for (std::size_t i = 0; i < m.countries.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    append_json_string(out, m.countries[i]);
  }
  out += "]}";
}

}  // namespace

models_target models_request(const http::message_head& head, std::string_view& id) {
  if (head.method != "GET" && head.method != "HEAD") {
    return models_target::none;
  }
  // Every spelling a cluster's router may take for the list (case-insensitive routers, a trailing
  // slash) is answered here: the cluster's own list would show what the policy does not permit.
  const std::string_view path = std::string_view(head.target).substr(0, head.target.find('?'));
  const bool under_list =
      path.size() >= list_path.size() && http::iequals(path.substr(0, list_path.size()), list_path);
  if (under_list && (path.size() == list_path.size() || path.substr(list_path.size()) == "/")) {
    return models_target::list;
  }
  if (under_list && path.size() > list_path.size() + 1 && path[list_path.size()] == '/') {
    id = path.substr(list_path.size() + 1);
    if (id.ends_with('/')) {
      id.remove_suffix(1);  // /v1/models/gpt-4o/ is gpt-4o to a router that folds the slash
    }
    return id.empty() ? models_target::none : models_target::one;
  }
  return models_target::none;
}

std::string models_list_json(const std::vector<permitted_model>& models) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    append_model(out, models[i]);
  }
  out += "]}\n";
  return out;
}

std::string model_json(const permitted_model& model) {
  std::string out;
  append_model(out, model);
  out += '\n';
  return out;
}

}  // namespace sovgw::gateway
