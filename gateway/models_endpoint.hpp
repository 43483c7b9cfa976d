#pragma once

// `GET /v1/models` and `GET /v1/models/{id}` (under any prefix, and `/models`), and Ollama's
// `GET /api/tags`, answered by the gateway itself in the OpenAI list format (Ollama's for its list):
// the models this tenant may use from its country under the live policy
// (pipeline::models), each with the countries of the clusters that would serve it. Pure code.

#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_parser.hpp"
#include "gateway/pipeline.hpp"

namespace sovgw::gateway {

enum class models_target : std::uint8_t { none, list, one, ollama_tags };

// Whether `head` asks for the model list or one model (GET or HEAD); `id` is set for one.
[[nodiscard]] models_target models_request(const http::message_head& head, std::string_view& id);

// {"object":"list","data":[{"id","object":"model","created":0,"owned_by":"sovgw","countries":[...]}]}
[[nodiscard]] std::string models_list_json(const std::vector<permitted_model>& models);
[[nodiscard]] std::string model_json(const permitted_model& model);
// {"models":[{"name","model","modified_at","size":0,"digest":"","details":{}}]}: Ollama's list.
[[nodiscard]] std::string ollama_tags_json(const std::vector<permitted_model>& models);

}  // namespace sovgw::gateway
