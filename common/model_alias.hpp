#pragma once

// The base name of a model whatever alias of it a client writes. Routers name one model many ways:
// Ollama fills in a default registry host, namespace and tag, and looks names up without regard to
// case (`llama3`, `llama3:latest`, `library/llama3`, `registry.ollama.ai/library/llama3:latest`);
// LiteLLM and OpenRouter-style routers put a provider before it (`openai/gpt-4o`, `azure/gpt-4o`:
// gpt-4o, run elsewhere); Hugging Face names carry their publisher (`meta-llama/llama-3.1-8b`). The
// policy and the tenants' model limits decide the base name (the last path segment, without
// `:latest`) besides the name as sent, so that a rule written for `gpt-4o` or `llama-*` meets every
// such spelling, as it does a pinned version or digest (`claude-3-5-sonnet@20240620`,
// `llama3@sha256:...`) and OpenRouter's variants (`:free`, `:nitro`, ...). Another tag
// (`llama3:70b`) stays another model.

#include <string_view>

namespace sovgw {

// `lower` without what Ollama fills in by default (a scheme, registry.ollama.ai/, library/, :latest):
// the one model a name written with them means. A provider's or publisher's prefix stays (a rule
// written for openai/gpt-4o is about that spelling). A piece of `lower`.
[[nodiscard]] constexpr std::string_view ollama_name(std::string_view lower) noexcept {
  for (const std::string_view prefix : {"https://", "http://", "registry.ollama.ai/", "library/"}) {
    if (lower.size() > prefix.size() && lower.starts_with(prefix)) {
      lower.remove_prefix(prefix.size());
    }
  }
  constexpr std::string_view default_tag = ":latest";
  if (lower.size() > default_tag.size() && lower.ends_with(default_tag)) {
    lower.remove_suffix(default_tag.size());
  }
  return lower;
}

// `lower` is the name in ASCII lower case; the result is a piece of it (never empty when it is not).
[[nodiscard]] constexpr std::string_view model_base_name(std::string_view lower) noexcept {
  const auto strip_prefix = [&](std::string_view prefix) {
    if (lower.size() > prefix.size() && lower.starts_with(prefix)) {
      lower.remove_prefix(prefix.size());
    }
  };
  strip_prefix("https://");
  strip_prefix("http://");
  while (lower.size() > 1 && lower.ends_with('/')) {
    lower.remove_suffix(1);  // meta/llama-3/ is meta/llama-3 to a router that trims it
  }
  if (const std::size_t slash = lower.rfind('/');
      slash != std::string_view::npos && slash + 1 < lower.size()) {
    lower.remove_prefix(slash + 1);  // registry, namespace, provider, publisher
  }
  // A pinned version or digest (Vertex's claude-3-5-sonnet@20240620, Ollama's llama3@sha256:...).
  if (const std::size_t at = lower.find('@'); at != std::string_view::npos && at > 0) {
    lower.remove_suffix(lower.size() - at);
  }
  // Ollama's default tag, and OpenRouter's variants of one model (:free, :nitro, ...).
  for (const std::string_view suffix :
       {":latest", ":free", ":nitro", ":beta", ":extended", ":thinking", ":online", ":floor", ":exacto"}) {
    if (lower.size() > suffix.size() && lower.ends_with(suffix)) {
      lower.remove_suffix(suffix.size());
      break;
    }
  }
  return lower;
}

}  // namespace sovgw
