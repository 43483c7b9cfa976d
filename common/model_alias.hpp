#pragma once

// The base name of a model whatever alias of it a client writes. Routers name one model many ways:
// Ollama fills in a default registry host, namespace and tag, and looks names up without regard to
// case (`llama3`, `llama3:latest`, `library/llama3`, `registry.ollama.ai/library/llama3:latest`);
// LiteLLM and OpenRouter-style routers put a provider before it (`openai/gpt-4o`, `azure/gpt-4o`:
// gpt-4o, run elsewhere); Hugging Face names carry their publisher (`meta-llama/llama-3.1-8b`). The
// policy and the tenants' model limits decide the base name (the last path segment, without
// `:latest`) besides the name as sent, so that a rule written for `gpt-4o` or `llama-*` meets every
// such spelling, as it does a pinned version or digest (`claude-3-5-sonnet@20240620`,
// `llama3@sha256:...`), a dated snapshot (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-20240620`,
// `mistral-large-2407`, `mistral-large-latest`), a fine-tune of it (OpenAI's and Mistral's
// `ft:gpt-4o:org:suffix:id`, Azure's `gpt-4o-2024-08-06.ft-abc`: the same weights and an adapter;
// probe round 39) and OpenRouter's variants (`:free`, `:nitro`, ...). Another tag (`llama3:70b`)
// stays another model.

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

namespace model_alias_detail {

[[nodiscard]] constexpr bool digits(std::string_view s) noexcept {
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return !s.empty();
}

// The length of a snapshot's date at the end of `name` (with its '-'), 0 when there is none:
// -2024-08-06 (OpenAI), -20240620 (Anthropic), -2407 (Mistral: year 23 to 39, month 01 to 12),
// -0613 (OpenAI's older: month, day), -latest (Mistral's alias of the newest).
[[nodiscard]] constexpr std::size_t snapshot_suffix(std::string_view name) noexcept {
  const auto tail = [&](std::size_t n) {
    return name.size() > n + 1 ? name.substr(name.size() - n - 1) : "";
  };
  if (const std::string_view t = tail(10); t.size() == 11 && t[0] == '-' && t.substr(1, 2) == "20" &&
                                           digits(t.substr(1, 4)) && t[5] == '-' && digits(t.substr(6, 2)) &&
                                           t[8] == '-' && digits(t.substr(9, 2))) {
    return 11;
  }
  if (const std::string_view t = tail(8);
      t.size() == 9 && t[0] == '-' && t.substr(1, 2) == "20" && digits(t.substr(1))) {
    return 9;
  }
  if (const std::string_view t = tail(4); t.size() == 5 && t[0] == '-' && digits(t.substr(1))) {
    const int hi = (t[1] - '0') * 10 + (t[2] - '0');
    const int lo = (t[3] - '0') * 10 + (t[4] - '0');
    if ((hi >= 23 && hi <= 39 && lo >= 1 && lo <= 12) || (hi >= 1 && hi <= 12 && lo >= 1 && lo <= 31)) {
      return 5;  // and OpenAI's older -0613, -1106 (month and day)
    }
  }
  if (const std::string_view t = tail(6); t == "-latest") {
    return 7;
  }
  return 0;
}

}  // namespace model_alias_detail

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
  // A fine-tune: ft:{base}:{org}:{suffix}:{id} (OpenAI, Mistral), {base}.ft-{id} (Azure OpenAI).
  if (lower.size() > 3 && lower.starts_with("ft:")) {
    const std::string_view base = lower.substr(3, lower.find(':', 3) - 3);
    lower = base.empty() ? lower : base;
  }
  if (const std::size_t ft = lower.find(".ft-"); ft != std::string_view::npos && ft > 0) {
    lower.remove_suffix(lower.size() - ft);
  }
  // A dated snapshot, or Mistral's -latest.
  lower.remove_suffix(model_alias_detail::snapshot_suffix(lower));
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
