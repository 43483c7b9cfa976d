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
  // Every spelling a cluster's router may take for the list is answered here: the cluster's own
  // list would show what the policy does not permit. In any case, with a trailing slash, as
  // `/models` or `{prefix}/v1/models` (`/openai/v1/models`, `/api/v1/models`), and Ollama's
  // (`/api/tags`, and `/api/ps`, the models it holds in memory).
  std::string_view path = std::string_view(head.target).substr(0, head.target.find('?'));
  if (path.size() > 1 && path.ends_with('/')) {
    path.remove_suffix(1);  // /v1/models/ and /v1/models/gpt-4o/ to a router that folds the slash
  }
  if (http::iequals(path, "/api/tags") || http::iequals(path, "/api/ps")) {
    return models_target::ollama_tags;
  }
  // The list under any prefix (/models, /v1/models, /openai/v1/models, /v1beta/models, /v2/models),
  // the legacy /v1/engines, Azure's /openai/deployments.
  const std::string_view last = path.substr(path.rfind('/') + 1);
  if (http::iequals(last, "models") || http::iequals(last, "engines") || http::iequals(last, "deployments")) {
    return models_target::list;
  }
  // One model: what follows the first `/models/` or `.../v1/models/` (an id may hold '/':
  // meta-llama/Llama-3.1-8B); not KServe's /v2/models/{name}/ready.
  const auto list_at = [&](std::string_view p) {
    return http::iequals(p, "/models") ||
           (p.size() >= list_path.size() && http::iequals(p.substr(p.size() - list_path.size()), list_path));
  };
  for (std::size_t slash = path.find('/', 1); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (list_at(path.substr(0, slash))) {
      id = path.substr(slash + 1);
      return id.empty() ? models_target::none : models_target::one;
    }
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

std::string ollama_tags_json(const std::vector<permitted_model>& models) {
  std::string out = "{\"models\":[";
  for (std::size_t i = 0; i < models.size(); ++i) {
    out += i == 0 ? "{\"name\":" : ",{\"name\":";
    append_json_string(out, models[i].id);
    out += ",\"model\":";
    append_json_string(out, models[i].id);
    out += ",\"modified_at\":\"1970-01-01T00:00:00Z\",\"size\":0,\"digest\":\"\",\"details\":{}}";
  }
  out += "]}\n";
  return out;
}

}  // namespace sovgw::gateway
