#pragma once

// The base name of a model whatever alias of it a client writes. Ollama fills in a default
// registry host, namespace and tag, and looks names up without regard to case: `llama3`,
// `llama3:latest`, `library/llama3`, `registry.ollama.ai/library/llama3:latest` (a scheme too) are
// one model. The policy and the tenants' model limits decide the base name besides the name as sent,
// so that an alias does not escape a rule written for the bare name.

#include <string_view>

namespace sovgw {

// `lower` is the name in ASCII lower case; the result is a piece of it (never empty when it is not).
[[nodiscard]] constexpr std::string_view model_base_name(std::string_view lower) noexcept {
  const auto strip_prefix = [&](std::string_view prefix) {
    if (lower.size() > prefix.size() && lower.starts_with(prefix)) {
      lower.remove_prefix(prefix.size());
    }
  };
  strip_prefix("https://");
  strip_prefix("http://");
  strip_prefix("registry.ollama.ai/");
  strip_prefix("library/");
  constexpr std::string_view default_tag = ":latest";
  if (lower.size() > default_tag.size() && lower.ends_with(default_tag)) {
    lower.remove_suffix(default_tag.size());
  }
  return lower;
}

}  // namespace sovgw
