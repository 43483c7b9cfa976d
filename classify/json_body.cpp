#include "classify/json_body.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <boost/json/basic_parser_impl.hpp>
#include <cstring>
#include <limits>
#include <utility>

#include "classify/detect_text.hpp"
#include "classify/digit_lookalikes.hpp"
#include "classify/fold.hpp"
#include "classify/json_sax.hpp"
#include "classify/mime_decoding.hpp"
#include "classify/pattern_text.hpp"
#include "common/ascii.hpp"
#include "common/word_set.hpp"

namespace sovgw::classify {
namespace {

using error_code = boost::system::error_code;
using sv = boost::json::string_view;

// The parser needs an error code to stop on when a handler refuses; the handler keeps its own
// body_error, which is what is reported.
void handler_stop(error_code& ec) { ec = boost::json::error::test_failure; }

// Keys as a case-insensitive JSON decoder matches them (Go's encoding/json uses Unicode simple
// case folding: ASCII letters, and U+017F LATIN SMALL LETTER LONG S and U+212A KELVIN SIGN fold
// to `s` and `k`). `buffer` holds the folded form when it differs from the key.
std::string_view fold_key(std::string_view key, std::string& buffer) {
  const auto folds = [](char c) { return (c >= 'A' && c <= 'Z') || c == '\xc5' || c == '\xe2'; };
  if (std::none_of(key.begin(), key.end(), folds)) {
    return key;  // the usual case: nothing to fold
  }
  buffer.clear();
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c >= 'A' && c <= 'Z') {
      buffer.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (key.substr(i, 2) == "\xc5\xbf") {
      buffer.push_back('s');
      ++i;
    } else if (key.substr(i, 3) == "\xe2\x84\xaa") {
      buffer.push_back('k');
      i += 2;
    } else {
      buffer.push_back(c);
    }
  }
  return buffer;
}

// The fields the gateway reads, and where a value's key put us.
enum class field : std::uint8_t {
  none,
  model,
  stream,
  stream_options,
  include_usage,
  background,  // the Responses API's: generated after the answer, whoever reads it
  max_tokens,
  max_completion_tokens,
  max_output_tokens,
  max_prompt_tokens,  // an Assistants run's bound on the prompt tokens of its turns
  max_new_tokens,
  n_predict,    // llama.cpp's
  num_predict,  // Ollama's, in `options`
  choices,
  sampling,  // SGLang's sampling_params, TGI's parameters
  options    // Ollama's
};

// SAX handler of inspect(): see json_body.hpp for what it checks. Strings (keys and values) are
// collected into `text` as they arrive; with keep_text each stays there, followed by '\n', for the
// detectors; otherwise only the ones the handler reads (the model, the keys of the top level and
// of stream_options) are collected, and only until they are read.
class inspect_handler : public detail::no_size_limits {
 public:
  inspect_handler(std::string& text, std::vector<std::uint64_t>& ends, std::vector<text_span>& prose,
                  std::vector<text_span>& numbers, std::vector<user_field>& user_fields,
                  std::vector<text_span>& patterns, std::string& fold_buffer, detail::key_set& keys,
                  detail::key_set& option_keys, bool keep_text, inspection& out)
      : text_(text),
        ends_(ends),
        prose_(prose),
        numbers_(numbers),
        user_fields_(user_fields),
        patterns_(patterns),
        fold_buffer_(fold_buffer),
        keys_(keys),
        option_keys_(option_keys),
        keep_text_(keep_text),
        out_(out) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code& ec) {
    number_run_ = 0;
    setting_next_ = false;
    nested_model_next_ = false;
    user_key_ = user_key::none;
    if (chosen_next_ != chosen::none && depth_ <= 2) {
      return refuse_chosen(ec);
    }
    chosen_next_ = chosen::none;
    if (depth_ == 1 && pending_ == field::stream_options) {
      in_options_ = true;
      option_keys_.clear();
    } else if (depth_ == 1 && (pending_ == field::sampling || pending_ == field::options)) {
      in_sampling_ = true;
      in_ollama_options_ = pending_ == field::options;
      option_keys_.clear();
    } else if (depth_ > 0 && !value_may_be("an object", ec)) {
      return false;
    }
    if (depth_ == 1 && audio_settings_) {
      scalar_is_absent();  // {"voice": ..., "format": ...}
    }
    if (depth_ == 1 && stored_prompt_) {
      ++opaque_fields_;  // a stored template's text, which the gateway never reads
      stored_prompt_ = false;
    }
    count_prompt();
    remote_value();
    if (keep_text_) {
      media_value(true);
    }
    if (pattern_holder_next_) {
      pattern_object_depth_ = depth_ + 1;
    }
    if (depth_ == 2 && in_inputs_ && ((arrays_ >> 2) & 1) != 0) {  // {"inputs": [{...}]}
      tensor_item_ = true;
      tensor_field_ = tensor_field::none;
      tensor_numbers_ = tensor_tokens_ = false;
    }
    ++depth_;
    mark_container(false);
    if (depth_ < std::size(messages_)) {
      messages_[depth_] = {};
    }
    pending_ = field::none;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    if (depth_ < std::size(messages_)) {
      const message_fields& m = messages_[depth_];
      if (m.name.end != 0 && (m.role == role_kind::user || m.role == role_kind::other)) {
        user_fields_.push_back({m.name, m.role == role_kind::user});
      }
    }
    // An input item that is only an id is a reference to a stored item (the Responses API's
    // item_reference, whose `type` is optional): content the gateway never sees.
    // So is a reasoning item with an id (probe round 34): with `store` (the default) the cluster
    // reads the earlier turn's hidden reasoning by that id, whatever summary the item carries.
    if (tools_depth_ != 0 && depth_ == tools_depth_ + 2) {  // a tool's object ends
      remote_tools_ = remote_tools_ || (!tool_typed_ && tool_unknown_kind_);
      tool_typed_ = tool_unknown_kind_ = false;
    }
    if (input_item()) {
      opaque_parts_ = opaque_parts_ || (item_id_ && (!item_other_ || item_reasoning_));
      item_id_ = item_other_ = item_reasoning_ = false;
    }
    if (depth_ == pattern_object_depth_) {
      pattern_object_depth_ = 0;
    }
    // A KServe v2 (Triton) input tensor of token ids or integers (bytes): opaque however short
    // (probe round 35: four token ids, or two rows of two, passed as readable).
    if (depth_ == 3 && tensor_item_) {
      opaque_parts_ = opaque_parts_ || (tensor_numbers_ && tensor_tokens_);
      tensor_item_ = false;
    }
    if (depth_ <= token_key_depth_) {
      token_key_depth_ = 0;
    }
    --depth_;
    in_options_ = in_options_ && depth_ > 1;
    in_sampling_ = in_sampling_ && depth_ > 1;
    in_ollama_options_ = in_ollama_options_ && depth_ > 1;
    pending_ = field::none;
    return true;
  }
  bool on_array_begin(error_code& ec) {
    setting_next_ = false;
    nested_model_next_ = false;
    user_key_ = user_key::none;
    if (chosen_next_ != chosen::none && depth_ <= 2) {
      return refuse_chosen(ec);
    }
    chosen_next_ = chosen::none;
    if (!value_may_be("an array", ec)) {
      return false;
    }
    count_prompt();
    in_batch_ = in_batch_ || (depth_ == 1 && batch_key_);
    remote_value();
    if (keep_text_) {
      const bool media = media_next_;
      media_value(false);  // the array itself holds nothing yet: its elements do
      if (media && media_array_depth_ == 0) {
        media_array_depth_ = depth_ + 1;
      }
      if (depth_ == 1 && opaque_key_ && opaque_depth_ == 1 && top_media_array_ == 0) {
        top_media_array_ = depth_ + 1;
        media_items_ = 0;
      }
    }
    ++depth_;
    mark_container(true);
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    if (depth_ == media_array_depth_) {
      media_array_depth_ = 0;
    }
    if (depth_ == top_media_array_) {
      top_media_array_ = 0;
      if (media_items_ == 0) {
        --depth_;
        scalar_is_absent();  // "images": [] at the top level
        ++depth_;
      }
    }
    --depth_;
    in_batch_ = in_batch_ && depth_ > 1;
    pending_ = field::none;
    return true;
  }
  bool on_key_part(sv s, std::size_t, error_code&) {
    append(s, keep_text_ || read_keys_here() || tag_map_keys_here());
    short_key(s);
    return true;
  }
  bool on_key(sv s, std::size_t, error_code& ec) {
    number_run_ = 0;
    setting_next_ = false;
    pattern_next_ = false;
    pattern_holder_next_ = false;
    append(s, keep_text_ || read_keys_here() || tag_map_keys_here());
    short_key(s);
    note_nested_model();
    if (chosen_next_ != chosen::none && keep_text_) {
      chosen_key_.assign(std::string_view(text_).substr(start_));  // whole, not its first bytes
    }
    if (keep_text_) {
      // Read as a case-insensitive decoder (Ollama's Go) reads it: "Content" and "IMAGES" are
      // the content and the images it serves.
      const std::string_view folded = fold_key(std::string_view(text_).substr(start_), fold_buffer_);
      // And the literals of an output format's structural tag (xgrammar's, as vLLM and SGLang take
      // it: a sequence of const_string values, a tag's begin and end), which the model writes one
      // after another (probe round 35): read joined as prose is.
      key_is_prose_ = is_prose_key(folded) || (in_output_format_ && depth_ >= 3 &&
                                               (folded == "value" || folded == "begin" || folded == "end"));
      note_opaque_key(folded);
      note_user_key(folded);
      setting_next_ = read_keys_here() && is_numeric_setting(folded);
      pattern_next_ = is_pattern_key(folded) || (folded == "value" && depth_ == pattern_object_depth_);
      // TGI's grammar, as its chat API takes it too: {"type": "regex", "value": ...}.
      pattern_holder_next_ = pattern_next_ || folded == "response_format";
    }
    const bool ok = key(std::string_view(text_).substr(start_), ec);
    end_string();
    return ok;
  }
  bool on_string_part(sv s, std::size_t, error_code& ec) {
    append(s, keep_text_ || pending_ == field::model);
    return pending_ != field::model || model_length_ok(ec);
  }
  bool on_string(sv s, std::size_t, error_code& ec) {
    number_run_ = 0;
    append(s, keep_text_ || pending_ == field::model);
    if (chosen_next_ != chosen::none) {
      return refuse_chosen(ec);
    }
    if (nested_model_next_) {
      return refuse(
          body_error::other_models,
          fmt::format("the body names a model inside it (\"model\": \"{}\" at depth {}): a cluster may run "
                      "it, and the policy decides only the top-level \"model\"; name the model there",
                      printable(keep_text_ ? std::string_view(text_).substr(start_)
                                           : std::string_view(s.data(), s.size())),
                      depth_),
          ec);
    }
    if (pending_ == field::model) {
      if (!model_length_ok(ec) || !model(std::string_view(text_).substr(start_), ec)) {
        return false;
      }
    } else if (!value_may_be("a string", ec)) {
      return false;
    }
    count_prompt();
    if (part_type_next_) {
      opaque_parts_ = opaque_parts_ || !part_type_is_text(std::string_view(text_).substr(start_));
      item_reasoning_ =
          item_reasoning_ || (input_item() && std::string_view(text_).substr(start_) == "reasoning");
      part_type_next_ = false;
    }
    if (tool_type_next_) {
      remote_tools_ = remote_tools_ || calls_out(std::string_view(text_).substr(start_));
      tool_type_next_ = false;
    }
    if (tensor_item_ && depth_ == 3 && tensor_field_ != tensor_field::none && keep_text_) {
      const std::string_view v = fold_key(std::string_view(text_).substr(start_), fold_buffer_);
      tensor_tokens_ =
          tensor_tokens_ || (tensor_field_ == tensor_field::name && names_token_ids(v)) ||
          (tensor_field_ == tensor_field::datatype && (v.starts_with("int") || v.starts_with("uint")));
    }
    opaque_parts_ = opaque_parts_ || container_next_;  // a tool's container named by its id
    container_next_ = false;
    opaque_parts_ = opaque_parts_ || (keep_text_ && token_id_here(false) &&
                                      lax_integer(std::string_view(text_).substr(start_)));
    opaque_parts_ = opaque_parts_ || fetched_url();
    remote_value();
    if (keep_text_ && in_prose()) {
      prose_.push_back({start_, text_.size(), place_});
    }
    if (keep_text_) {
      media_value(text_.size() > start_);
    }
    if (user_key_ != user_key::none) {
      note_user_value();
    }
    if (pattern_next_ && keep_text_) {
      patterns_.push_back({start_, text_.size()});
    }
    end_string();
    pending_ = field::none;
    return true;
  }
  bool on_number_part(sv s, error_code&) {
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    if (keep_text_) {
      append(s, true);
    }
    return true;
  }
  bool on_int64(std::int64_t v, sv s, error_code& ec) {
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    return count(static_cast<double>(v)) && number(s, ec);
  }
  bool on_uint64(std::uint64_t v, sv s, error_code& ec) {
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    return count(static_cast<double>(v)) && number(s, ec);
  }
  bool on_double(double v, sv s, error_code& ec) {
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    return count(v) && number(s, ec);
  }
  bool on_bool(bool b, error_code& ec) {
    number_run_ = 0;
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    if (pending_ == field::stream) {
      out_.fields.stream = b;
    } else if (pending_ == field::include_usage) {
      out_.fields.include_usage = b;
    } else if (pending_ == field::background) {
      out_.fields.background = b;
    } else if (!value_may_be("a boolean", ec)) {
      return false;
    }
    if (b) {
      remote_value();  // a switch that turns a search on ("enable_search": true)
    }
    if (keep_text_) {
      media_value(false);
      opaque_parts_ = opaque_parts_ || token_id_here(true);  // 1 or 0 to a lax parser, as a number
    }
    remote_key_ = false;
    scalar_is_absent();
    pending_ = field::none;
    return true;
  }
  bool on_null(error_code& ec) {
    number_run_ = 0;
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    if (depth_ == 0) {
      return refuse(body_error::not_object, "the request body is null, not a JSON object", ec);
    }
    if (keep_text_) {
      media_value(false);
    }
    scalar_is_absent();
    pending_ = field::none;
    return true;
  }
  bool on_comment_part(sv, error_code&) { return true; }  // never called: comments are refused
  bool on_comment(sv, error_code&) { return true; }

  // Whether the body holds content a model reads that the gateway cannot (opaque_content).
  [[nodiscard]] bool opaque() const { return opaque_parts_ || opaque_fields_ > 0; }
  // Whether the body asks the cluster to call a remote server with what it reads (remote_tools).
  [[nodiscard]] bool remote_tools() const { return remote_tools_; }

 private:
  // A number's text is read like a string's (a card number in a tool's JSON schema reaches the
  // model as its digits); where prose is expected, numbers are token ids, which only the
  // cluster's tokenizer reads.
  // The completion's bound: max_tokens (max_completion_tokens, max_output_tokens) and the number
  // of choices generated (n, best_of), kept at their largest when several are given. A server
  // reads 1e6 as an integer too; a count it would refuse (negative) bounds nothing here.
  bool count(double v) {
    if ((pending_ == field::n_predict || pending_ == field::num_predict) && v < 0) {
      (pending_ == field::n_predict ? out_.fields.n_predict_unbounded : out_.fields.num_predict_unbounded) =
          true;
    }
    if (pending_ >= field::max_tokens && pending_ <= field::choices) {
      const double cap = pending_ == field::choices ? 1e6 : 1e12;  // the product fits 64 bits
      const std::uint64_t n = v >= 1 ? static_cast<std::uint64_t>(std::min(v, cap)) : 0;
      std::uint64_t& slot = pending_ == field::max_tokens              ? out_.fields.max_tokens
                            : pending_ == field::max_completion_tokens ? out_.fields.max_completion_tokens
                            : pending_ == field::max_output_tokens     ? out_.fields.max_output_tokens
                            : pending_ == field::max_prompt_tokens     ? out_.fields.max_prompt_tokens
                            : pending_ == field::max_new_tokens        ? out_.fields.max_new_tokens
                            : pending_ == field::n_predict             ? out_.fields.n_predict
                            : pending_ == field::num_predict           ? out_.fields.num_predict
                                                                       : out_.fields.choices;
      slot = std::max(slot, n);
      pending_ = field::none;
    }
    return true;
  }
  bool number(sv s, error_code& ec) {
    if (!scalar("a number", ec)) {
      return false;
    }
    scalar_is_absent();
    const bool setting = std::exchange(setting_next_, false);
    if (keep_text_) {
      append(s, true);
      char as_read[64];
      const std::size_t n = detail::number_as_read(std::string_view(text_).substr(start_), as_read);
      if (setting) {
        // A sampling setting's or a bound's number: no model reads its digits. Blanks keep the
        // offsets of what follows, as the redactor counts them: the digits and what a server reads
        // (probe round 40: a seed of 2^64 - 1 left out the latter, and a redaction after it missed).
        std::fill(text_.begin() + static_cast<std::ptrdiff_t>(start_), text_.end(), ' ');
        text_.append(n, ' ');
      } else if (n != 0) {
        text_.append(as_read, n);  // within the number: a finding there is hidden, never redacted
      }
      numbers_.push_back({start_, text_.size()});
      media_value(false);  // a number is no media (in a media key's array it is an element: opaque)
      // Numbers in a row in arrays, nested ones too (a tensor's rows), as content: a tensor a
      // model server reads (a Triton or KServe v2 input's `data`: token ids, a UTF-8 string's
      // bytes, an image's pixels; TensorRT-LLM's `input_ids` under `inputs`), token ids in a
      // message part, embeddings (probe round 30: only under a top-level key naming tokens).
      // Not the output constraints (stop_token_ids, allowed_token_ids, bad_words_ids,
      // logit_bias), sampling settings or tools' schemas; a shape or a few features are too few.
      const bool in_array = depth_ < 64 && ((arrays_ >> depth_) & 1) != 0;
      number_run_ = in_array ? number_run_ + 1 : 0;
      const bool tensor = number_run_ >= min_tensor_numbers && in_content_ && !constraint_key_ &&
                          tools_depth_ == 0 && tool_json_depth_ == 0 && !in_sampling_ && !in_options_;
      opaque_parts_ = opaque_parts_ || in_prose() || (token_ids_ && depth_ >= 2) || tensor ||
                      (token_key_depth_ != 0 && depth_ > token_key_depth_);
      tensor_numbers_ = tensor_numbers_ || (tensor_item_ && tensor_field_ == tensor_field::data);
      end_string();
    }
    return true;
  }

  // What a model reads but the gateway cannot, by the key that holds it: media parts (OpenAI's
  // image_url, input_audio and file parts, the Responses API's input_image and input_file, vLLM's
  // audio_url, video_url and embeddings, Gemini's inline_data, Ollama's images: any key naming an
  // image, audio, video, embeddings or a document, and the file keys) under any top-level key
  // but those that hold the schema and settings of tools and of the output (not_content()): a
  // message's or an input's, and vLLM's /score and /rerank `text_1`, `data_1`, `query` and
  // `documents` alike; reasoning a client cannot read either (`encrypted_content`). At the top
  // level the same media and file keys, a client's own chat template (vLLM's `chat_template`, or
  // the one in `chat_template_kwargs`, Ollama's `template`: it may rewrite the text the gateway
  // read, reversing or decoding it, before the model sees it), and token ids under any key
  // naming tokens (number arrays: `tokens` of vLLM's /detokenize, `token_ids` of its generate
  // endpoint, Ollama's `context`) but the output constraints (`stop_token_ids`,
  // `allowed_token_ids`, `bad_words_ids`). Keys are read folded, as Go's decoder matches them
  // (fold_key). A part's `type` is read too (part_type_is_text).
  void note_opaque_key(std::string_view name) {
    // And their common synonyms (probe round 34: img, photo, screenshot, pdf, attachments,
    // speaker_wav, frames, media_url passed).
    static constexpr std::string_view media[] = {
        "image", "audio", "video",      "embed",      "document", "encrypted", "multimodal", "img",
        "photo", "pdf",   "screenshot", "attachment", "picture",  "_wav",      "frames",     "media"};
    const auto names_media = [&] {
      return names_a_file(name) || name == "inline_data" || name == "inlinedata" || name == "blob" ||
             std::any_of(std::begin(media), std::end(media), [&](std::string_view m) {
               // Not a word that only begins like one ("imagery_style", "documentation_url").
               const std::size_t at = name.find(m);
               return at != std::string_view::npos && !name.substr(at).starts_with("imagery") &&
                      !name.substr(at).starts_with("documentation");
             });
    };
    part_type_next_ = false;
    tool_type_next_ = false;
    container_next_ = false;
    // A tool call's arguments or result written as JSON (OpenAI-compatible servers' object
    // `arguments`, Anthropic's tool_use `input`, Gemini's functionCall `args` and functionResponse
    // `response`, MCP's `structuredContent`): text the chat template renders for the model, whose
    // numbers are no tensor (probe round 31: ten readings in a tool call were opaque).
    if (tool_json_depth_ != 0 && depth_ <= tool_json_depth_) {
      tool_json_depth_ = 0;
    }
    if (depth_ >= 2 && (name == "arguments" || name == "args" || name == "input" || name == "response" ||
                        name == "structuredcontent")) {
      tool_json_depth_ = depth_;
    }
    if (input_item()) {
      item_id_ = item_id_ || name == "id";
      item_other_ = item_other_ || name != "id";
    }
    // Token ids under a key naming them below the top level too (probe round 35: KServe v1's
    // instances[].input_ids, TF Serving's inputs.input_ids): numbers in an array there are opaque
    // however few; a count (max_tokens) is a scalar, and the output constraints are no content.
    if (token_key_depth_ != 0 && depth_ <= token_key_depth_) {
      token_key_depth_ = 0;
    }
    if (depth_ >= 2 && in_content_ && tools_depth_ == 0 && tool_json_depth_ == 0 && !in_sampling_ &&
        !in_options_ && names_token_ids(name)) {
      token_key_depth_ = depth_;
    }
    if (tensor_item_ && depth_ == 3) {
      tensor_field_ = name == "data"       ? tensor_field::data
                      : name == "name"     ? tensor_field::name
                      : name == "datatype" ? tensor_field::datatype
                                           : tensor_field::none;
    }
    // Anthropic's MCP servers, Chat Completions' web search: the cluster sends what it reads on.
    // Azure's On Your Data sources, Cohere's connectors, xAI's live search, OpenRouter's plugins.
    // At the top level, and below it wherever the client's own data is not (note_nested_model): a
    // realtime `session` and an eval run's `sampling_params` carry `tools` of their own.
    // DashScope's, Groq's and Baidu's web search settings too. And a webhook or callback URL
    // (Replicate's and Cog's `webhook`, which is sent the prediction, input and output, on every
    // event): the cluster posts the conversation where it says.
    static constexpr word_set remote_keys{
        "mcp_servers",       "web_search_options", "data_sources",   "datasources",   "connectors",
        "search_parameters", "searchparameters",   "plugins",        "enable_search", "search_options",
        "compound_custom",   "search_settings",    "web_search",     "callback",      "callbacks",
        "notify_url",        "notification_url",   "status_callback"};
    const auto calls_back = [&] {
      return name.find("webhook") != std::string_view::npos ||
             name.find("callback_url") != std::string_view::npos ||
             name.find("callbackurl") != std::string_view::npos;
    };
    const bool settings = depth_ == 1 || (data_from_ == SIZE_MAX && !in_options_);
    remote_key_ = settings && (remote_keys.contains(name) || calls_back());
    remote_key_depth_ = depth_;
    if (tools_depth_ > 1 && depth_ <= tools_depth_) {
      tools_depth_ = 0;  // a key beside (or above) a nested `tools`: out of it
    }
    if (depth_ == 1) {
      place_ = prompt_place(name);
      tools_depth_ = name == "tools" ? 1 : 0;
      in_input_ = name == "input";
      in_inputs_ = name == "inputs";
      in_output_format_ = name == "response_format" || name == "structured_outputs";
      in_content_ = !not_content(name);
      in_template_kwargs_ = name == "chat_template_kwargs";
      // Media and stored files at the top level too (SGLang's image_data, llama.cpp's, a batch's
      // input_file_id); a flag, a number or null there is no content (scalar_is_absent()), nor
      // is an object under `audio` (the OpenAI API's settings of audio output).
      opaque_key_ = name == "chat_template" || name == "template" || names_stored_content(name) ||
                    (in_content_ && !is_prose_key(name) && names_media());
      // The Responses API's stored prompt template: {"id": "pmpt_...", "variables": {...}}.
      stored_prompt_ = name == "prompt";
      audio_settings_ = name == "audio";
      opaque_fields_ += opaque_key_ ? 1 : 0;
      opaque_depth_ = 1;
      constraint_key_ = name.starts_with("stop_") || name.starts_with("allowed_") ||
                        name.starts_with("bad_") || name == "logit_bias";
      token_ids_ = names_token_ids(name) || name == "context";
    } else if (tools_depth_ == 0 && settings && name == "tools") {
      tools_depth_ = depth_;  // session.tools, sampling_params.tools: read as the top level's
    } else if (tools_depth_ != 0) {
      // tools[i].type, tools[i].server_url (not a function's parameters named so)
      const std::size_t tool_key = tools_depth_ + 2;
      tool_type_next_ = depth_ == tool_key && name == "type";
      // Gemini's tools are keyed by kind ({"google_search": {}}, {"urlContext": {}}), not typed.
      static constexpr word_set searching{"google_search",
                                          "googlesearch",
                                          "google_search_retrieval",
                                          "googlesearchretrieval",
                                          "url_context",
                                          "urlcontext",
                                          "retrieval",
                                          "enterprise_web_search",
                                          "enterprisewebsearch",
                                          "google_maps",
                                          "googlemaps",
                                          "system_tool",
                                          "systemtool"};  // Bedrock's systemTool: nova_grounding
      remote_tools_ =
          remote_tools_ || (depth_ == tool_key &&
                            (name == "server_url" || name == "connector_id" || searching.contains(name)));
      // A tool without a `type` is keyed by its kind (Gemini's, Bedrock's) or is a bare function
      // (Anthropic's, Cohere's): a key of none of those, a kind first seen tomorrow
      // ({"someFutureWebTool": {}}), counts as a tool that calls out, as an unknown `type` does
      // (probe round 34). Decided at the tool's end (on_object_end), when its `type` is known.
      static constexpr word_set typeless{"function_declarations",
                                         "functiondeclarations",
                                         "code_execution",
                                         "codeexecution",
                                         "name",
                                         "description",
                                         "input_schema",
                                         "inputschema",
                                         "parameters",
                                         "parameter_definitions",
                                         "toolspec",
                                         "tool_spec",
                                         "cachepoint",
                                         "cache_point",
                                         "cache_control",
                                         "strict",
                                         "input_examples",
                                         "function"};
      if (depth_ == tool_key) {
        tool_typed_ = tool_typed_ || name == "type";
        tool_unknown_kind_ = tool_unknown_kind_ || !typeless.contains(name);
      }
      // Stored files a tool puts before the model: file_search's vector stores, code_interpreter's
      // files (tools[i].vector_store_ids, tools[i].container.file_ids; not a function's parameters),
      // a container made earlier, by its id (code_interpreter's "container": "cntr_...", a shell
      // tool's container_reference); and media a tool's model reads (image_generation's
      // input_image_mask; not its partial_images, a count): a tool's own settings, not the schemas
      // under its `parameters`.
      opaque_parts_ = opaque_parts_ ||
                      (depth_ <= tool_key + 1 &&
                       (names_a_file(name) || name == "vector_store_ids" || name == "vectorstoreids" ||
                        name == "filesearchstorenames" || name == "container_id" || name == "containerid")) ||
                      (depth_ == tool_key && name.starts_with("input_") && names_media());
      container_next_ = depth_ == tool_key && name == "container";
    } else if (depth_ == 2 && in_template_kwargs_) {
      opaque_key_ = name == "chat_template";
      opaque_fields_ += opaque_key_ ? 1 : 0;
      opaque_depth_ = 2;
    } else if (in_content_) {
      // A part is an element of an array (a content array, an input list); a `type` inside a tool
      // call's input object is the client's own data.
      const bool in_array = depth_ < 64 && ((arrays_ >> (depth_ - 1)) & 1) != 0;
      part_type_next_ = name == "type" && in_array;
      // Its value decides (media_value). The signature of a thinking block (Anthropic's
      // `signature`, Gemini's `thoughtSignature`) is the provider's encrypted reasoning, as
      // encrypted_content is, whatever its length (probe round 31: opaque from 256 bytes on).
      media_next_ = names_media() || (tool_json_depth_ == 0 && (name == "signature" || name == "thoughtsignature"));
    }
  }
  // Content the cluster keeps and the model reads again, which the gateway never sees: the
  // Responses API's previous response and stored conversation, an Assistants run's stored
  // assistant (its instructions and files) over a stored thread, Anthropic's container (the files
  // and skills its code execution reads), Gemini's cached content (as a
  // protobuf JSON reader takes it, snake_case or lowerCamelCase). Like an item_reference, where
  // regions share a store, a conversation first held in the EU would be read elsewhere.
  static bool names_stored_content(std::string_view name) {
    // Probe round 34: Mistral's stored agents and conversations, Cohere's conversations, an
    // Assistants thread, SGLang's sessions, Bedrock's knowledge bases. Probe round 39: LiteLLM's
    // prompt management (prompt_id, with prompt_version and prompt_variables beside it) loads
    // stored messages from Langfuse, its own store or a prompt API, as the Responses API's `prompt`
    // does. Such a prompt may also set the model, as an OpenAI stored prompt may: a model the
    // operator's prompt store holds, not the request, so opaque as `prompt.id` is (kept where
    // personal data is) rather than refused, which would end prompt management (docs/policy.md).
    static constexpr word_set stored{"previous_response_id",
                                     "conversation",
                                     "cached_content",
                                     "cachedcontent",
                                     "assistant_id",
                                     "container",
                                     "agent_id",
                                     "agentid",
                                     "conversation_id",
                                     "conversationid",
                                     "thread_id",
                                     "threadid",
                                     "session_params",
                                     "knowledge_base_id",
                                     "knowledgebaseid",
                                     "prompt_id",
                                     "promptid"};
    return stored.contains(name);
  }
  // A key naming a file, by one of its words: file, file_id, file_ids, input_file_id,
  // training_file, filename (not profile); and in lowerCamelCase, which Google's APIs take as
  // well as snake_case (Gemini's fileData and fileUri, read folded).
  static bool names_a_file(std::string_view name) {
    static constexpr word_set camel{"filedata", "fileuri",     "fileurl",  "fileid",
                                    "fileids",  "inputfileid", "filepath", "filecontent"};
    if (camel.contains(name)) {
      return true;
    }
    for (std::size_t at = 0; at <= name.size();) {
      const std::size_t end = std::min(name.find('_', at), name.size());
      const std::string_view word = name.substr(at, end - at);
      if (word == "file" || word == "files" || word == "filename") {
        return true;
      }
      at = end + 1;
    }
    return false;
  }
  // A tool the cluster runs by sending what the model reads to a server the client names or to
  // a search engine: OpenAI's remote MCP tool and web search, Anthropic's web search and fetch,
  // Azure's agents' OpenAPI, Bing grounding and browser tools, xAI's X search, and any tool type
  // not known to run where the client or the cluster itself is (fail closed, as an unknown
  // content part is opaque: probe round 26 found a dozen hosted tool types that call out). Known
  // to stay: a function the client runs (OpenAI's function and custom tools), the cluster
  // operator's own sandboxes and stores (file_search, code_interpreter, Anthropic's
  // code_execution, tool_search_tool, memory), and tools that act on the client's machine
  // (computer use, shell, apply_patch, Anthropic's bash and text_editor), image generation.
  static bool calls_out(std::string_view type) {
    static constexpr std::string_view stays[] = {
        "function",    "custom",      "file_search", "code_interpreter", "computer",
        "local_shell", "shell",       "apply_patch", "image_generation", "bash",
        "text_editor", "str_replace", "memory",      "code_execution",   "tool_search_tool"};
    return std::none_of(std::begin(stays), std::end(stays), [&](std::string_view t) {
      // The type itself, or a version of it ("bash_20250124"), in any case.
      return type.size() >= t.size() && ascii_iequals(type.substr(0, t.size()), t) &&
             (type.size() == t.size() || type[t.size()] == '_' || type[t.size()] == '-');
    });
  }
  // The value of a key that names remote servers: anything but null or false.
  // A string value that is only a URL the cluster can fetch (http, https, ftp, s3, gs) of a media
  // file or a document (by its extension: .png, .wav, .pdf, .mp4, ...), under a key of the content
  // that is not prose: read by the server from where it is, under whatever key it reads it from
  // (probe round 34: img, photo, speaker_wav, frames, http_sources). A URL in the text of a message
  // is text; tools' schemas, a tool call's arguments and the settings are not content; a link to a
  // page (a citation, a documentation URL) names no file the model reads.
  [[nodiscard]] bool fetched_url() const {
    if (!keep_text_ || !in_content_ || in_prose() || tools_depth_ != 0 || tool_json_depth_ != 0) {
      return false;
    }
    const std::string_view v = std::string_view(text_).substr(start_);
    // Only the first bytes can hold a scheme of two to five letters: a megabyte of base64 under a
    // media key is not searched.
    const std::size_t colon = v.substr(0, 8).find("://");
    if (colon == std::string_view::npos || colon < 2) {
      return false;
    }
    const std::string_view scheme = v.substr(0, colon);
    if (!ascii_iequals(scheme, "http") && !ascii_iequals(scheme, "https") && !ascii_iequals(scheme, "ftp") &&
        !ascii_iequals(scheme, "s3") && !ascii_iequals(scheme, "gs")) {
      return false;
    }
    const std::string_view path = v.substr(0, std::min(v.find_first_of("?#"), v.size()));
    const std::size_t dot = path.rfind('.');
    if (dot == std::string_view::npos || dot < colon + 3 || path.size() - dot - 1 > 7 ||
        path.find('/', dot) != std::string_view::npos ||
        path.find('/', colon + 3) == std::string_view::npos || std::any_of(v.begin(), v.end(), [](char c) {
          return c == ' ' || c == '\t' || c == '\r' || c == '\n';
        })) {
      return false;
    }
    char extension[7];
    const std::string_view written = path.substr(dot + 1);
    std::transform(written.begin(), written.end(), extension, ascii_lower);
    static constexpr word_set files{"png", "jpg",  "jpeg", "gif",  "webp", "bmp",    "tif", "tiff", "heic",
                                    "svg", "pdf",  "doc",  "docx", "ppt",  "pptx",   "xls", "xlsx", "odt",
                                    "rtf", "txt",  "md",   "csv",  "json", "jsonl",  "xml", "eml",  "wav",
                                    "mp3", "flac", "ogg",  "m4a",  "opus", "aac",    "mp4", "mov",  "webm",
                                    "avi", "mkv",  "zip",  "epub", "npy",  "parquet"};
    return files.contains(std::string_view(extension, written.size()));
  }
  void remote_value() {
    if (remote_key_ && depth_ == remote_key_depth_) {
      remote_tools_ = true;
      remote_key_ = false;
    }
  }
  // A scalar where a key naming opaque content expects it: no content, as if absent.
  void scalar_is_absent() {
    if (depth_ == opaque_depth_ && opaque_key_) {
      --opaque_fields_;
      opaque_key_ = false;
    }
  }
  // The top-level keys that hold the schema and settings of tools and of the output, not content:
  // a tool's parameters or a JSON schema may name properties `image_url` or `document`, and a
  // tool or server list has types of its own. (The model reads a tool's description and schema as
  // text, which the detectors read; it never reads media there.)
  static bool not_content(std::string_view key) {
    static constexpr word_set keys{"tools",
                                   "functions",
                                   "tool_choice",
                                   "response_format",
                                   "text",
                                   "structured_outputs",
                                   "guided_json",
                                   "guided_grammar",
                                   "guided_regex",
                                   "guided_choice",
                                   "json_schema",
                                   "grammar",
                                   "parameters",
                                   "metadata",
                                   "mcp_servers",
                                   "media_io_kwargs",
                                   "mm_processor_kwargs",
                                   "embedding_types"};
    return keys.contains(key);
  }
  // The keys whose string value is an output constraint written as a regular expression or a
  // grammar, which makes the model write what it spells (pattern_text.hpp): vLLM's guided_regex and
  // guided_grammar and structured_outputs' regex and grammar, a JSON schema's pattern, a custom
  // tool's grammar definition, llama.cpp's and TGI's grammar, vLLM's whitespace patterns.
  static bool is_pattern_key(std::string_view key) {
    static constexpr word_set keys{"pattern",
                                   "regex",
                                   "guided_regex",
                                   "grammar",
                                   "guided_grammar",
                                   "definition",
                                   "ebnf",
                                   "gbnf",
                                   "lark",
                                   "whitespace_pattern",
                                   "guided_whitespace_pattern"};
    return keys.contains(key);
  }
  // The `type` of a part in a message or an input: what is not known to be text (or a call, a
  // result, a citation holding text) is opaque: an Anthropic `image` or `document` block, vLLM's
  // `prompt_embeds` part, a `redacted_thinking` block, types the gateway has never seen. (Citations
  // and Anthropic's `cache_control: {"type": "ephemeral"}` sit in parts too, and are no content.)
  static bool part_type_is_text(std::string_view type) {
    static constexpr word_set text{"text",
                                   "input_text",
                                   "output_text",
                                   "refusal",
                                   "summary_text",
                                   "reasoning_text",
                                   "message",
                                   "function",
                                   "function_call",
                                   "function_call_output",
                                   "custom_tool_call",
                                   "custom_tool_call_output",
                                   "tool_use",
                                   "tool_result",
                                   "tool_call",
                                   "server_tool_use",
                                   "thinking",
                                   "reasoning",
                                   "search_result",
                                   "char_location",
                                   "page_location",
                                   "content_block_location",
                                   "search_result_location",
                                   "web_search_result_location",
                                   "url_citation",
                                   "file_citation",
                                   "container_file_citation",
                                   "file_path",
                                   "ephemeral"};
    return text.contains(type);
  }

  // The keys whose string value names the user (json_body.hpp): the top-level `user` and
  // `safety_identifier`, and a message's `name` and `role` (an object's, under a top-level key
  // that holds content, not under `tools` nor in the client's data: a tool's arguments, metadata).
  void note_user_key(std::string_view name) {
    user_key_ = user_key::none;
    if (depth_ == 1) {
      user_key_ = name == "user" || name == "safety_identifier" ? user_key::user : user_key::none;
    } else if (in_content_ && tools_depth_ == 0 && data_from_ == SIZE_MAX && depth_ < std::size(messages_)) {
      user_key_ = name == "name" ? user_key::name : name == "role" ? user_key::role : user_key::none;
    }
  }
  // The string value of such a key (text_[start_, end)). A message's `name` names a person
  // beside a role that is no tool's ("tool", "function", Llama's "ipython": then it names the
  // tool); read when its object ends, the role before or after it.
  void note_user_value() {
    const text_span value{start_, text_.size()};
    if (user_key_ == user_key::user) {
      user_fields_.push_back({value, true});
    } else if (user_key_ == user_key::name) {
      messages_[depth_].name = value;
    } else {
      const std::string_view r = std::string_view(text_).substr(start_);
      messages_[depth_].role =
          ascii_iequals(r, "tool") || ascii_iequals(r, "function") || ascii_iequals(r, "ipython")
              ? role_kind::tool
          : ascii_iequals(r, "user") ? role_kind::user
                                     : role_kind::other;
    }
    user_key_ = user_key::none;
  }

  // The settings whose number steers sampling or bounds the output (OpenAI's, vLLM's, TGI's,
  // Ollama's options, Cohere's and the rerankers'): a server reads the number, no model reads its
  // digits, and a random seed or a computed temperature passes a card's checksum one time in ten
  // (probe round 37: 1 in 30 SDK requests with seed=getrandbits(53) was refused). Strings under
  // these keys, and numbers in arrays or objects under them, are read as anywhere else.
  static bool is_numeric_setting(std::string_view k) {
    static constexpr std::string_view names =
        " seed random_seed temperature top_p top_k min_p typical_p top_a tfs_z presence_penalty"
        " frequency_penalty repetition_penalty repeat_penalty length_penalty repeat_last_n max_tokens"
        " max_completion_tokens max_output_tokens max_prompt_tokens max_new_tokens min_tokens n best_of"
        " logprobs top_logprobs prompt_logprobs n_predict num_predict num_ctx num_keep num_batch num_gpu"
        " num_thread mirostat mirostat_tau mirostat_eta dimensions top_n num_beams num_return_sequences"
        " min_length max_length no_repeat_ngram_size epsilon_cutoff eta_cutoff truncate_prompt_tokens"
        " priority max_tool_calls thinking_budget budget_tokens timeout ";
    const bool word = !k.empty() && k.find(' ') == std::string_view::npos;
    for (std::size_t at = word ? names.find(k) : std::string_view::npos; at != std::string_view::npos;
         at = names.find(k, at + 1)) {
      if (names[at - 1] == ' ' && names[at + k.size()] == ' ') {
        return true;
      }
    }
    return false;
  }

  // Whether key() reads the keys of the current object.
  [[nodiscard]] bool read_keys_here() const {
    return depth_ == 1 || ((in_options_ || in_sampling_) && depth_ == 2);
  }
  // Whether key() reads the keys of the current object as those of a top-level metadata object.
  [[nodiscard]] bool tag_map_keys_here() const { return depth_ == 2 && in_tag_map_; }

  // Whether a string is an integer to pydantic's lax mode, which reads vLLM's and SGLang's token
  // ids (probe round 39): white space (Unicode's, as Rust's trim() strips it) around an optional
  // sign, digits with single underscores between them, and an optional fraction of zeros ("72",
  // " +4_020 ", "72.0"; not "1.", "1e3", "0x10" nor other scripts' digits).
  static bool lax_integer(std::string_view s) {
    const auto blank_at = [](std::string_view t, std::size_t at) -> std::size_t {
      static constexpr std::string_view wide[] = {"\u0085", "\u00a0", "\u1680", "\u2028",
                                                  "\u2029", "\u202f", "\u205f", "\u3000"};
      const char c = t[at];
      if (c == ' ' || (c >= '\t' && c <= '\r')) {
        return 1;
      }
      const std::string_view rest = t.substr(at);
      if (rest.size() >= 3 && rest.starts_with("\xe2\x80") && static_cast<unsigned char>(rest[2]) <= 0x8a) {
        return 3;  // U+2000 to U+200A (a continuation byte is at least 0x80)
      }
      for (const std::string_view w : wide) {
        if (rest.starts_with(w)) {
          return w.size();
        }
      }
      return 0;
    };
    std::size_t begin = 0;
    while (begin < s.size()) {
      const std::size_t n = blank_at(s, begin);
      if (n == 0) {
        break;
      }
      begin += n;
    }
    std::size_t end = s.size();  // the blanks at the end: the last one that ends where the text does
    for (bool trimmed = true; trimmed && end > begin;) {
      trimmed = false;
      for (std::size_t n = 1; n <= 3 && n <= end - begin; ++n) {
        if (blank_at(s.substr(0, end), end - n) == n) {
          end -= n;
          trimmed = true;
          break;
        }
      }
    }
    std::string_view t = s.substr(begin, end - begin);
    if (!t.empty() && (t.front() == '+' || t.front() == '-')) {
      t.remove_prefix(1);
    }
    if (const std::size_t dot = t.find('.'); dot != std::string_view::npos) {
      const std::string_view fraction = t.substr(dot + 1);
      if (fraction.empty() || fraction.find_first_not_of('0') != std::string_view::npos) {
        return false;
      }
      t = t.substr(0, dot);
    }
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (t.empty() || !digit(t.front()) || !digit(t.back())) {
      return false;
    }
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (!digit(t[i]) && (t[i] != '_' || !digit(t[i + 1]))) {
        return false;  // an underscore between two digits only (the last character is a digit)
      }
    }
    return true;
  }
  // Whether a string or a boolean here is a token id to a lax integer parser (lax_integer): an
  // element of an array under a key naming token ids (`tokens`, `input_ids`; a flag or a string
  // beside such a key is none), or of an array of prose where a number would be one — a boolean
  // in any, a string only in an array of arrays: vLLM reads [["72"]] as list[list[int]], but
  // ["72"] as list[str], text (probe round 39).
  [[nodiscard]] bool token_id_here(bool boolean) const {
    if (depth_ < 2 || depth_ >= 64 || ((arrays_ >> depth_) & 1) == 0) {
      return false;
    }
    const bool under_token_key = token_ids_ || (token_key_depth_ != 0 && depth_ > token_key_depth_);
    const bool in_nested_array = ((arrays_ >> (depth_ - 1)) & 1) != 0;
    return under_token_key || (prose_array() && (boolean || in_nested_array));
  }

  // A key naming token ids (input_ids, token_ids, tokens, prompt_token_ids; any key ending in
  // "ids" as written in any style — inputIds, input-ids, prompt_ids, decoder_input_ids, ids: probe
  // round 36), not an output constraint's (stop_token_ids, allowed_token_ids, bad_words_ids).
  static bool names_token_ids(std::string_view name) {
    const bool constraint =
        name.starts_with("stop_") || name.starts_with("allowed_") || name.starts_with("bad_");
    return !constraint && (name.find("token") != std::string_view::npos || name.ends_with("ids"));
  }
  // The keys whose string values (or arrays of strings) are the prose a model reads: the OpenAI
  // APIs' (content, text, prompt, input, instructions; a completion's suffix; an assistant turn's
  // refusal and reasoning; a tool call's arguments and a tool's output, which the template writes
  // into the conversation), Anthropic's and Ollama's system prompt and thinking blocks, TGI's
  // inputs, the pairs a reranker or a cross-encoder reads as one input (query and documents,
  // text_1 and text_2, vLLM's data_1 and data_2 and queries, TEI's texts, source_sentence and
  // sentences, Hugging Face's text and text_pair), a fill-in-the-middle request's prefix and suffix (llama.cpp's /infill), and
  // Cohere's chat (message, preamble, chat_history's messages, documents' snippets).
  static bool is_prose_key(std::string_view k) {
    switch (k.size()) {
      case 4:
        return k == "text";
      case 5:
        return k == "input" || k == "query" || k == "texts";
      case 6:
        return k == "prompt" || k == "system" || k == "suffix" || k == "inputs" || k == "output" ||
               k == "text_1" || k == "text_2" || k == "data_1" || k == "data_2";
      case 7:
        return k == "content" || k == "refusal" || k == "message" || k == "snippet" || k == "queries";
      case 8:
        return k == "thinking" || k == "preamble";
      case 9:
        return k == "arguments" || k == "documents" || k == "reasoning" || k == "sentences" ||
               k == "text_pair";
      case 12:
        return k == "instructions" || k == "input_prefix" || k == "input_suffix";
      case 15:
        return k == "source_sentence";
      case 17:
        return k == "reasoning_content";
      default:
        return false;
    }
  }
  // Where the prose under a top-level key goes in the prompt a server builds from the body, whatever
  // the key order the client wrote (probe round 46: `"messages": [...], "system": "..."`, as an
  // SDK called with system= last writes it, was read messages first): Anthropic's and Ollama's
  // system prompt, the Responses API's instructions, Gemini's systemInstruction and Cohere's
  // preamble before the conversation (0); a completion's suffix, llama.cpp's input_suffix and
  // Cohere's current message after it (2).
  static std::uint8_t prompt_place(std::string_view top_level_key) {
    static constexpr word_set first{"system", "instructions", "systeminstruction", "system_instruction",
                                    "preamble"};
    static constexpr word_set last{"suffix", "input_suffix", "message"};
    return first.contains(top_level_key) ? 0 : last.contains(top_level_key) ? 2 : 1;
  }
  // Called with the new depth_: an array under a prose key (or inside such an array) holds prose.
  // Whether the object at depth_ is an item of the top-level input list.
  [[nodiscard]] bool input_item() const { return depth_ == 3 && in_input_ && ((arrays_ >> 2) & 1) != 0; }
  // One more prompt of a batch: a value directly in the top-level prompt array (see body_fields).
  void count_prompt() {
    if (in_batch_ && depth_ == 2 && out_.fields.prompts < 1'000'000) {
      ++out_.fields.prompts;
    }
  }
  void mark_container(bool array) {
    if (depth_ >= 64) {
      return;  // deeper than max_depth: the parser refuses the body
    }
    const std::uint64_t bit = std::uint64_t{1} << depth_;
    const bool parent_array = (arrays_ & (bit >> 1)) != 0;
    const bool prose = array && (parent_array ? (prose_arrays_ & (bit >> 1)) != 0 : key_is_prose_);
    arrays_ = array ? arrays_ | bit : arrays_ & ~bit;
    prose_arrays_ = prose ? prose_arrays_ | bit : prose_arrays_ & ~bit;
  }
  // Whether the container at depth_ is an array of prose.
  [[nodiscard]] bool prose_array() const { return depth_ < 64 && ((prose_arrays_ >> depth_) & 1) != 0; }
  // Whether a string value here is prose: under a prose key, or in an array of prose.
  [[nodiscard]] bool in_prose() const {
    if (depth_ >= 64) {
      return false;
    }
    const std::uint64_t bit = std::uint64_t{1} << depth_;
    return (arrays_ & bit) != 0 ? (prose_arrays_ & bit) != 0 : key_is_prose_;
  }

  // A value, for the media keys (note_opaque_key): one that holds something (`holds`: a string
  // that is not empty, an object, an element of an array) under a media key below the top level,
  // or in such a key's array, is content the gateway cannot read; null, false, a number, "" and []
  // are none (probe round 31: Ollama's "images": [] pinned a request). The elements of a top-level
  // media key's array are counted: an empty one is absent too.
  void media_value(bool holds) {
    if (top_media_array_ != 0 && depth_ >= top_media_array_) {
      ++media_items_;
    }
    if (media_next_) {
      opaque_parts_ = opaque_parts_ || holds;
      media_next_ = false;
    } else if (media_array_depth_ != 0 && depth_ >= media_array_depth_) {
      opaque_parts_ = true;
    }
  }

  // Collects a part of the current string when `keep` (decided at its first part).
  void append(sv s, bool keep) {
    if (!in_string_) {
      start_ = text_.size();
      in_string_ = true;
      collecting_ = keep;
    }
    if (collecting_) {
      text_.append(s.data(), s.size());
    }
  }
  void end_string() {
    if (keep_text_) {
      const std::size_t at = text_.size();
      if (at / 64 >= ends_.size()) {
        ends_.resize(at / 64 + 1);
      }
      ends_[at / 64] |= std::uint64_t{1} << (at % 64);
      text_.push_back('\n');
    } else {
      text_.resize(start_);
    }
    in_string_ = false;
  }

  bool refuse_chosen(error_code& ec) {
    const std::string key = printable(chosen_key_);
    if (chosen_next_ == chosen::adapter) {
      return refuse(
          body_error::other_models,
          fmt::format("the body names an adapter for the cluster to load or run (\"{}\" at depth {}): "
                      "weights the policy never decided; remove it",
                      key, depth_),
          ec);
    }
    return refuse(body_error::other_models,
                  fmt::format("the body names credentials for the cluster to use (\"{}\" at depth {}); the "
                              "gateway authenticates: remove it",
                              key, depth_),
                  ec);
  }

  bool refuse(body_error e, std::string message, error_code& ec) {
    out_.error = e;
    out_.message = std::move(message);
    handler_stop(ec);
    return false;
  }

  // A value of kind `what` where the pending field expects another, or at the top level.
  // The first bytes of the key being read, at any depth (keys deeper than the top are not kept).
  void short_key(std::string_view part) {
    const std::size_t room = sizeof(short_key_) - short_key_size_;
    std::memcpy(short_key_ + short_key_size_, part.data(), std::min(room, part.size()));
    short_key_size_ += std::min(room, part.size());
    short_key_long_ = short_key_long_ || part.size() > room;
  }
  // A model named below the top level is one the cluster may run (a batch's requests[].params,
  // an eval run's data_source, a realtime session, a tool that generates images): refused at its
  // string value, since the policy decides the top-level model only. Not inside what the client's
  // own tools take or a tag map (a tool call's `input` or `arguments`, `metadata`): data, which no
  // cluster runs. Any letter case.
  //
  // Likewise an adapter (a LoRA) named anywhere but in that data — LoRAX's and TGI's
  // parameters.adapter_id (with adapter_source "hub", downloaded from where it says), SGLang's
  // lora_path, vLLM's lora_request: weights the policy never decided, run on the model it did —
  // and, below the top level (TGI's and LoRAX's `parameters`), a credential for the cluster to use
  // (api_token, api_key): refused at a string value, or at an object or array one or two levels
  // down (a tool's schema may name a property so, deeper).
  void note_nested_model() {
    const std::string_view key(short_key_, short_key_size_);  // its first bytes
    short_key_size_ = 0;
    const bool long_key = short_key_long_;
    short_key_long_ = false;
    if (depth_ <= data_from_) {
      data_from_ = SIZE_MAX;  // a key beside (or above) the data key: out of its value
    }
    nested_model_next_ = false;
    chosen_next_ = chosen::none;
    if (data_from_ != SIZE_MAX || in_options_) {
      return;
    }
    char lowered[sizeof(short_key_)];
    for (std::size_t i = 0; i < key.size(); ++i) {
      lowered[i] = key[i] >= 'A' && key[i] <= 'Z' ? static_cast<char>(key[i] - 'A' + 'a') : key[i];
    }
    const std::string_view k(lowered, key.size());
    if (k.starts_with("lora") || k.starts_with("adapter")) {
      chosen_next_ = chosen::adapter;
      chosen_key_.assign(key);
      chosen_key_ += long_key ? "…" : "";
      return;
    }
    if (depth_ >= 2 && !long_key &&
        (k == "api_key" || k == "api_token" || k == "hf_token" || k == "access_token" || k == "auth_token")) {
      chosen_next_ = chosen::credential;
      chosen_key_.assign(key);
      return;
    }
    if (long_key) {
      return;
    }
    if (is_data_key(k, depth_)) {
      data_from_ = depth_;
    } else {
      nested_model_next_ = depth_ >= 2 && k == "model";
    }
  }
  // The keys whose values are the client's data or a schema, which no cluster runs or loads
  // (note_nested_model): tags, documents, the schemas of tools and of the output (JSON Schema's
  // `default` and `examples` hold any object: pydantic writes a nested model's default there),
  // and below the top level what tools take and give back (OpenAI's `arguments`, Anthropic's
  // `input`, Gemini's `args` and `response`, Cohere's `parameters` and `outputs`) and a stored
  // prompt's `variables`. The top-level `input` is the Responses API's prompt, and the top-level
  // `parameters` TGI's and LoRAX's generation settings (where an adapter is chosen), so those two
  // are read. `k` is in lower case, at most short_key_ bytes.
  static bool is_data_key(std::string_view k, std::size_t depth) {
    static constexpr word_set anywhere{"metadata",
                                       "documents",
                                       "tool_results",
                                       "response_format",
                                       "structured_outputs",
                                       "guided_json",
                                       "json_schema",
                                       "response_schema",
                                       "responseschema",
                                       "responsejsonschema",
                                       "parametersjsonschema",
                                       "input_schema",
                                       "output_schema",
                                       "text",
                                       "format"};
    static constexpr word_set below_top{"input",   "arguments", "args",   "response", "parameters",
                                        "outputs", "output",    "schema", "default",  "examples",
                                        "example", "const",     "enum",   "variables"};
    return anywhere.contains(k) || (depth >= 2 && below_top.contains(k));
  }

  bool value_may_be(std::string_view what, error_code& ec) {
    if (depth_ == 0) {
      return refuse(body_error::not_object, fmt::format("the request body is {}, not a JSON object", what),
                    ec);
    }
    // Indexed by `field`, in its order (the sampling settings may be anything else: they are read
    // only as an object).
    static constexpr std::array<std::string_view, 15> expected = {
        "",         "a string", "a boolean", "an object", "a boolean", "",         "a number", "a number",
        "a number", "a number", "a number",  "a number",  "a number",  "a number", ""};
    static constexpr std::array<std::string_view, 15> names = {"",
                                                               "model",
                                                               "stream",
                                                               "stream_options",
                                                               "stream_options.include_usage",
                                                               "background",
                                                               "max_tokens",
                                                               "max_completion_tokens",
                                                               "max_output_tokens",
                                                               "max_prompt_tokens",
                                                               "max_new_tokens",
                                                               "n_predict",
                                                               "options.num_predict",
                                                               "n (best_of)",
                                                               ""};
    static_assert(names.size() == static_cast<std::size_t>(field::sampling) + 1);
    if (pending_ == field::sampling || pending_ == field::options) {
      pending_ = field::none;
      return true;
    }
    // Any other value but null: the images API's `background` is a string ("transparent"), and a
    // lax reader of the Responses API's takes "true" or 1 for true, so the gateway does too.
    if (pending_ == field::background) {
      out_.fields.background = true;
      pending_ = field::none;
      return true;
    }
    if (pending_ != field::none) {
      const auto f = static_cast<std::size_t>(pending_);
      return refuse(body_error::wrong_type,
                    fmt::format("{} must be {} or null, not {}", names[f], expected[f], what), ec);
    }
    return true;
  }
  bool scalar(std::string_view what, error_code& ec) {
    if (!value_may_be(what, ec)) {
      return false;
    }
    pending_ = field::none;
    return true;
  }

  bool model_length_ok(error_code& ec) {
    if (text_.size() - start_ > max_model_bytes) {
      return refuse(body_error::model_too_long, fmt::format("model is longer than {} bytes", max_model_bytes),
                    ec);
    }
    return true;
  }
  // A model name is compared exactly as configured: one a server could read as another name is
  // refused — a control character, white space before or after it (trimmed by many servers), or
  // a character that fold() turns into another or removes (U+200B, U+00A0, U+FEFF, tags,
  // full-width forms: a server normalising or trimming the name reads something else, which a
  // glob may still route) or a line separator (JavaScript's trim() removes U+2028 and U+2029).
  // Whether fold() changes `text` (a model reads it as other characters), or a case-insensitive
  // comparison could take it for ASCII: the dotless ı and the dotted İ are I and i to Java's
  // equalsIgnoreCase, .NET's invariant culture, JavaScript's toUpperCase() and Python's upper().
  static bool folds(std::string_view text) {
    static thread_local folded_text folded;
    return text.find("\u0130") != std::string_view::npos || text.find("\u0131") != std::string_view::npos ||
           fold(text, folded);
  }
  bool model(std::string_view name, error_code& ec) {
    unsigned high = 0;  // any byte of a multi-byte character
    for (const char c : name) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x20 || b == 0x7f) {
        return refuse(body_error::model_control_char, "model contains a control character", ec);
      }
      high |= b;
    }
    if (name.starts_with(' ') || name.ends_with(' ')) {
      return refuse(body_error::model_control_char, "model begins or ends with a space", ec);
    }
    if (const std::string_view why = url_reads_otherwise(name); !why.empty()) {
      return refuse(body_error::model_in_url,
                    fmt::format("model {}: a cluster that puts the model into a URL (an Azure deployment's "
                                "path) would run another model than the one the policy decided; name the "
                                "model as the cluster lists it",
                                why),
                    ec);
    }
    if (name.find(',') != std::string_view::npos) {
      // LiteLLM runs "a,b" as a batch of both models.
      return refuse(body_error::other_models,
                    "model holds a comma: a router may read it as a list and run each model; name one model",
                    ec);
    }
    if ((high & 0x80u) != 0 && (name.find("\u2028") != std::string_view::npos ||
                                name.find("\u2029") != std::string_view::npos || folds(name))) {
      // The first character that folds, named by its code point (the name is valid UTF-8).
      for (std::size_t i = 0; i < name.size();) {
        const auto b = static_cast<unsigned char>(name[i]);
        const std::size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        const std::string_view c = name.substr(i, n);
        if (n > 1 && (c == "\u2028" || c == "\u2029" || folds(c))) {
          std::uint32_t cp = n == 2 ? b & 0x1Fu : n == 3 ? b & 0x0Fu : b & 0x07u;
          for (const char k : c.substr(1)) {
            cp = cp << 6 | (static_cast<unsigned char>(k) & 0x3Fu);
          }
          return refuse(body_error::model_control_char,
                        fmt::format("model contains U+{:04X}, which a server may read as another character "
                                    "or drop",
                                    cp),
                        ec);
        }
        i += n;
      }
    }
    // Variants that choose more than the model (variant_of_model).
    switch (variant_of_model(name)) {
      case model_variant::calls_out:
        remote_tools_ = true;
        break;
      case model_variant::chooses_provider:
        return refuse(body_error::other_models,
                      fmt::format("the model's variant ':{}' chooses the provider that serves it (as the "
                                  "\"provider\" key); the gateway routes: name the model without it",
                                  printable(name.substr(name.rfind(':') + 1))),
                      ec);
      case model_variant::plain:
        break;
    }
    out_.fields.model.assign(name);
    return true;
  }

  // What in a model name a URL reads as something else, or empty (probe round 39): openai-python's
  // Azure client (and LiteLLM's Azure route, and any thin proxy on it) builds
  // /deployments/{model}/chat/completions without escaping, so "gpt%2D4o" reaches Azure as gpt-4o,
  // "gpt-4o/chat/completions?" is cut at the '?' (or '#'), a backslash is a '/' to WHATWG URL parsers, and
  // a server that removes dot segments runs "gpt-4o/x/.." as gpt-4o. The target refuses the same
  // (non_canonical_target); a name the policy reads must be the one such a cluster runs.
  static std::string_view url_reads_otherwise(std::string_view name) {
    if (const std::size_t at = name.find_first_of("%?#\\"); at != std::string_view::npos) {
      return name[at] == '%'    ? "contains '%', which a URL decodes"
             : name[at] == '\\' ? "contains a backslash, which a URL parser may read as '/'"
                                : "contains '?' or '#', where a URL's path ends";
    }
    for (std::size_t at = 0; at <= name.size();) {
      const std::size_t end = std::min(name.find('/', at), name.size());
      const std::string_view segment = name.substr(at, end - at);
      if (segment == "." || segment == "..") {
        return "has a '.' or '..' segment, which a URL's path loses";
      }
      at = end + 1;
    }
    return {};
  }

  // A key of the top-level object, of stream_options or of the sampling settings: no duplicates, no
  // case variants.
  bool key(std::string_view name, error_code& ec) {
    pending_ = field::none;
    if (tag_map_keys_here()) {
      return metadata_key(name, ec);
    }
    if (!read_keys_here()) {
      return true;
    }
    const bool top = depth_ == 1;
    batch_key_ = top && (name == "prompt" || name == "text" || name == "input_ids");
    const std::string_view folded = fold_key(name, fold_buffer_);
    if (top) {
      in_tag_map_ = folded == "metadata" || folded == "litellm_metadata";
      if (in_tag_map_) {
        tag_map_key_.assign(name);
      }
    }
    if (const auto earlier = (top ? keys_ : option_keys_).insert(folded, name)) {
      if (*earlier == name) {
        return refuse(body_error::duplicate_key, fmt::format("the key \"{}\" appears twice", printable(name)),
                      ec);
      }
      return refuse(body_error::case_variant_key,
                    fmt::format("the keys \"{}\" and \"{}\" differ only in letter case", printable(*earlier),
                                printable(name)),
                    ec);
    }
    const routing_key routes = top ? routing_key_of(folded) : routing_key::none;
    if (routes == routing_key::other_model) {
      return refuse(body_error::other_models,
                    fmt::format("the body names other models a router may run instead of \"model\" (\"{}\"); "
                                "the policy decides one model: remove it",
                                printable(name)),
                    ec);
    }
    // Laravel runs a JSON body's `_method` as the request's method (Symfony and Spring a form's):
    // one the policy never decided.
    if (top && folded == "_method") {
      return refuse(body_error::other_models,
                    "the body overrides the method (\"_method\"): a server may run the request as that "
                    "method instead of the one the policy decided; send the method itself",
                    ec);
    }
    // Mistral's agents run the model (and the tools: web search, code) stored with the agent,
    // whatever a `model` beside it says (probe round 44: POST /v1/conversations {"agent_id"} was
    // forwarded with no model to decide).
    if (top && folded == "agent_id") {
      return refuse(
          body_error::other_models,
          "the body names an agent (\"agent_id\"), which runs the model and tools stored with it: no "
          "rule of the policy decides them for this request; name the model to run in \"model\" "
          "(chat completions, or a conversation started with \"model\")",
          ec);
    }
    if (top && folded == "inputs") {
      out_.fields.inputs = true;
    }
    if (routes == routing_key::client_route) {
      return refuse(body_error::other_models,
                    fmt::format("the body names a server, credentials or routes for the cluster to use "
                                "(\"{}\"); the gateway routes and authenticates: remove it",
                                printable(name)),
                    ec);
    }
    static constexpr std::pair<std::string_view, field> top_fields[] = {
        {"model", field::model},
        {"stream", field::stream},
        {"stream_options", field::stream_options},
        {"background", field::background},
        {"max_tokens", field::max_tokens},
        {"max_completion_tokens", field::max_completion_tokens},
        {"max_output_tokens", field::max_output_tokens},
        {"max_prompt_tokens", field::max_prompt_tokens},
        {"max_new_tokens", field::max_new_tokens},
        {"n_predict", field::n_predict},
        {"n", field::choices},
        {"best_of", field::choices},
        {"sampling_params", field::sampling},
        {"parameters", field::sampling},
        {"options", field::options}};
    static constexpr std::pair<std::string_view, field> option_fields[] = {
        {"include_usage", field::include_usage}};
    // The completion's bounds as SGLang's /generate (sampling_params) and TGI's (parameters) read
    // them: the same count of choices, max_new_tokens for max_tokens; and Ollama's options, whose
    // num_predict counts where Ollama reads it (gateway/usage_meter.cpp, completion_bound).
    static constexpr std::pair<std::string_view, field> sampling_fields[] = {
        {"max_new_tokens", field::max_new_tokens},
        {"max_tokens", field::max_new_tokens},
        {"n", field::choices},
        {"best_of", field::choices}};
    static constexpr std::pair<std::string_view, field> ollama_fields[] = {
        {"num_predict", field::num_predict}};
    using known_fields = std::span<const std::pair<std::string_view, field>>;
    for (const auto& [known, f] : top                  ? known_fields(top_fields)
                                  : in_ollama_options_ ? known_fields(ollama_fields)
                                  : in_sampling_       ? known_fields(sampling_fields)
                                                       : known_fields(option_fields)) {
      if (name == known) {
        pending_ = f;
      } else if (folded == known) {
        return refuse(body_error::case_variant_key,
                      fmt::format("the key \"{}\" is a case variant of \"{}\"", printable(name), known), ec);
      }
    }
    return true;
  }

  // A key of the top-level metadata (or litellm_metadata) object. LiteLLM's tag router chooses
  // among a model's deployments by the tags it reads there, where its proxy puts a top-level
  // `tags` itself (probe round 39): refused as the top-level `tags` is (routing_key_of). Any case,
  // as the top-level keys are compared.
  bool metadata_key(std::string_view name, error_code& ec) {
    if (fold_key(name, fold_buffer_) != "tags") {
      return true;
    }
    return refuse(body_error::other_models,
                  fmt::format("the body names a server, credentials or routes for the cluster to use "
                              "(\"{}.{}\": a router chooses the deployment by those tags as by a top-level "
                              "\"tags\"); the gateway routes: remove it",
                              printable(tag_map_key_), printable(name)),
                  ec);
  }

  // A key for a message: at most 64 bytes of it, control characters as '?'.
  static std::string printable(std::string_view s) {
    std::string out(s.substr(0, 64));
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
        c = '?';
      }
    }
    return s.size() > 64 ? out + "..." : out;
  }

  std::string& text_;
  std::vector<std::uint64_t>& ends_;
  std::vector<text_span>& prose_;
  std::vector<text_span>& numbers_;
  std::vector<user_field>& user_fields_;
  std::vector<text_span>& patterns_;
  std::string& fold_buffer_;
  detail::key_set& keys_;
  detail::key_set& option_keys_;
  bool keep_text_;
  inspection& out_;
  std::size_t depth_ = 0;
  field pending_ = field::none;
  bool in_options_ = false;
  bool in_tag_map_ = false;         // in the top-level metadata or litellm_metadata (metadata_key)
  std::string tag_map_key_;         // ... that key, as written
  bool in_sampling_ = false;        // in the top-level sampling_params, parameters or options
  bool in_ollama_options_ = false;  // in the top-level options
  bool in_string_ = false;
  bool collecting_ = false;           // the current string goes into text_
  std::size_t start_ = 0;             // where the current string starts in text_
  bool key_is_prose_ = false;         // the last key read names prose
  std::uint8_t place_ = 1;            // the current top-level key's prompt_place
  std::uint64_t arrays_ = 0;          // bit d: the container at depth d is an array
  std::uint64_t prose_arrays_ = 0;    // bit d: ... an array of prose
  bool in_content_ = false;           // under a top-level key that holds content (not_content())
  bool in_template_kwargs_ = false;   // under the top-level chat_template_kwargs
  bool opaque_key_ = false;           // the last key at opaque_depth_ names opaque content
  bool audio_settings_ = false;       // the last top-level key is `audio`
  std::size_t opaque_depth_ = 1;      // where opaque_key_ was read: the top level or the kwargs
  bool opaque_parts_ = false;         // a media part, or token ids
  bool part_type_next_ = false;       // the value being read is a content part's type
  bool stored_prompt_ = false;        // the top-level key read last is `prompt`
  std::size_t tools_depth_ = 0;       // under a `tools` key at this depth (0: none)
  bool in_input_ = false;             // under the top-level input
  bool in_inputs_ = false;            // under the top-level inputs (TGI's prose, KServe v2's tensors)
  bool in_output_format_ = false;     // under response_format or structured_outputs
  std::size_t token_key_depth_ = 0;   // the depth of a key naming token ids below the top level
  // An item of the top-level inputs array, as a KServe v2 input tensor: which field the last key
  // named, whether its data held numbers, and whether its name or datatype says token ids or integers.
  enum class tensor_field : std::uint8_t { none, data, name, datatype };
  bool tensor_item_ = false;
  tensor_field tensor_field_ = tensor_field::none;
  bool tensor_numbers_ = false;
  bool tensor_tokens_ = false;
  bool item_id_ = false;              // the input item being read has an id ...
  bool item_other_ = false;           // ... and other keys
  bool item_reasoning_ = false;       // ... and is of type "reasoning"
  bool tool_typed_ = false;           // the tool object being read has a `type` ...
  bool tool_unknown_kind_ = false;    // ... or a key no typeless tool has
  bool tool_type_next_ = false;       // the value being read is a tool's type
  bool container_next_ = false;       // ... is a tool's container (tools[i].container)
  bool remote_key_ = false;           // the last key read names remote servers ...
  std::size_t remote_key_depth_ = 0;  // ... at this depth
  char short_key_[24] = {};           // short_key(): the key being read, its first bytes
  std::size_t short_key_size_ = 0;
  bool short_key_long_ = false;
  bool nested_model_next_ = false;  // the value being read is a nested "model" (note_nested_model)
  enum class chosen { none, adapter, credential };
  chosen chosen_next_ = chosen::none;  // the value being read names one (note_nested_model)
  std::string chosen_key_;             // its key's first bytes
  std::size_t data_from_ = SIZE_MAX;   // depth of the key whose value is the client's data, if any
  bool remote_tools_ = false;          // a tool or a server the cluster calls out to
  bool token_ids_ = false;             // the last top-level key names token ids
  bool constraint_key_ = false;        // ... output constraints (stop_token_ids, logit_bias, ...)
  bool pattern_next_ = false;          // the last key read holds a regex or a grammar (is_pattern_key)
  bool pattern_holder_next_ = false;   // ... or an object whose `value` is one
  std::size_t pattern_object_depth_ = 0;  // in such a key's object (TGI's {"type": "regex", "value": ...})
  std::size_t number_run_ = 0;         // numbers in a row in arrays (a tensor's data)
  std::size_t tool_json_depth_ = 0;    // depth of the key holding a tool call's JSON arguments
  bool media_next_ = false;            // the key just read names media (below the top level)
  std::size_t media_array_depth_ = 0;  // the depth of such a key's array, while in it
  std::size_t top_media_array_ = 0;    // the depth of a top-level media key's array, while in it
  std::size_t media_items_ = 0;        // ... and its elements
  static constexpr std::size_t min_tensor_numbers = 8;
  bool batch_key_ = false;             // the last top-level key may hold a batch of prompts ...
  bool in_batch_ = false;              // ... and its value is the array being read
  int opaque_fields_ = 0;              // top-level opaque fields that are not null
  bool setting_next_ = false;          // the value being read is a sampling setting's (is_numeric_setting)
  enum class user_key : std::uint8_t { none, user, name, role };
  user_key user_key_ = user_key::none;  // the value being read names the user (note_user_key)
  enum class role_kind : std::uint8_t { none, user, other, tool };
  struct message_fields {
    text_span name;  // end 0: none
    role_kind role = role_kind::none;
  };
  std::array<message_fields, max_depth + 2> messages_{};  // the object at each depth's name and role
};

// Refuses what is not UTF-8 before the parser sees it: a BOM, or UTF-16/32 (RFC 4627 section 3:
// the encoding shows in the NUL bytes among the first four).
body_error encoding_error(std::string_view body) {
  if (body.starts_with("\xef\xbb\xbf")) {
    return body_error::bom;
  }
  if (body.starts_with("\xfe\xff") || body.starts_with("\xff\xfe") ||
      body.substr(0, 4).find('\0') != std::string_view::npos) {
    return body_error::utf16_or_32;
  }
  return body_error::none;
}

// What a lenient parser (Python's json, JavaScript) would have read at byte `at` and strict JSON does
// not allow, when it can be told; empty otherwise.
std::string_view lenient_form_at(std::string_view body, std::size_t at) {
  at = std::min(at, body.size());
  // The escapes that end within 6 bytes of `at` (a parser stops at or after the one it rejects),
  // and the one before them, which may be the high half of a pair.
  const std::size_t from = at >= 18 ? at - 18 : 0;
  const std::string_view near = body.substr(from, at + 6 - from);
  // The second hex digit of the surrogate escape (backslash, u, four hex digits) at `u` of `near`:
  // 8-b high, c-f low; 0 if none.
  const auto surrogate = [&](std::size_t u) -> int {
    if (u + 6 > near.size() || near[u] != '\\' || near[u + 1] != 'u' || (near[u + 2] | 0x20) != 'd') {
      return 0;
    }
    const int c = near[u + 3] | 0x20;
    return (c >= '8' && c <= '9') || (c >= 'a' && c <= 'f') ? c : 0;
  };
  const auto high = [](int c) { return c == '8' || c == '9' || c == 'a' || c == 'b'; };
  for (std::size_t u = near.find("\\u"); u != std::string_view::npos; u = near.find("\\u", u + 2)) {
    const int c = from + u + 12 >= at ? surrogate(u) : 0;
    const bool paired = c != 0 && (high(c) ? surrogate(u + 6) != 0 && !high(surrogate(u + 6))
                                           : u >= 6 && surrogate(u - 6) != 0 && high(surrogate(u - 6)));
    if (c != 0 && !paired) {
      return "a \\u escape of a surrogate without its pair (escapes of U+D800 to U+DFFF come in "
             "high-low pairs)";
    }
  }
  std::size_t k = at;
  while (k < body.size() && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r' || body[k] == '\n')) {
    ++k;
  }
  const std::string_view rest = body.substr(k);
  if (rest.starts_with("NaN") || rest.starts_with("Infinity") || rest.starts_with("-Infinity")) {
    return "NaN and Infinity are not JSON numbers";
  }
  if (rest.starts_with("//") || rest.starts_with("/*")) {
    return "comments are not JSON";
  }
  if (rest.starts_with("'")) {
    return "JSON strings take double quotes";
  }
  if (rest.starts_with("}") || rest.starts_with("]")) {
    std::size_t b = k;
    while (b > 0 &&
           (body[b - 1] == ' ' || body[b - 1] == '\t' || body[b - 1] == '\r' || body[b - 1] == '\n')) {
      --b;
    }
    if (b > 0 && body[b - 1] == ',') {
      return "a trailing comma";
    }
  }
  return {};
}

// Binary data written as text in any string (mime_decoding.hpp: a data: URI of bytes that are not
// text, long base64 of such bytes), as the strings decode: a PNG, a PDF or a recording under a key
// that names no media (Hugging Face's `{"inputs": "<base64>"}`, TF Serving's `{"b64": ...}`, a
// Triton BYTES tensor) is read by a model server as the media it is (probe round 30: only keys
// naming media were opaque).
bool holds_written_binary(std::string_view t) {
  static thread_local written_binary found;
  // Most texts hold neither: a table-driven pass finds whether one may (a run of base64 characters,
  // line breaks and padding as long as min_binary_base64 bytes' worth, or "data:") before the
  // reading proper (probe round 30: it cost a sixth of a clean 16 KiB body's inspection).
  static constexpr auto run_char = [] {
    std::array<bool, 256> in_run{};
    for (unsigned c = 0; c < 256; ++c) {
      in_run[c] = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '+' ||
                  c == '/' || c == '-' || c == '_' || c == '=' || c == '\n' || c == '\r';
    }
    return in_run;
  }();
  constexpr std::size_t min_run = (min_binary_base64 + 2) / 3 * 4;
  std::size_t run = 0;
  bool may = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    run = run_char[static_cast<unsigned char>(t[i])] ? run + 1 : 0;
    // A file's signature where a word starts (after a line break too: the strings are joined by
    // them, and the run goes on through them).
    const bool word_start = i == 0 || !run_char[static_cast<unsigned char>(t[i - 1])] || t[i - 1] == '\n';
    if (run >= min_run || (word_start && std::string_view("i/RJUSTZ").find(t[i]) != std::string_view::npos &&
                           starts_with_file_signature(t.substr(i)))) {
      may = true;
      break;
    }
  }
  if (!may && t.find(':') != std::string_view::npos) {
    for (std::size_t at = t.find(':'); at != std::string_view::npos && !may; at = t.find(':', at + 1)) {
      may = at >= 4 && ascii_iequals(t.substr(at - 4, 4), "data");
    }
  }
  if (!may) {
    return false;
  }
  read_written_binary(t, found);
  return found.found;
}

// A markdown image whose target a server reads: "![](data:image/png;base64,...)" or
// "![alt](https://...)" (TGI's /generate decodes or fetches them for a vision model, wherever
// they are in the prompt), the target after spaces or in '<' '>'.
bool holds_markdown_image(std::string_view t) {
  constexpr std::size_t max_alt = 1024;
  for (std::size_t at = t.find("!["); at != std::string_view::npos; at = t.find("![", at + 2)) {
    const std::size_t close = t.substr(at + 2, max_alt + 2).find("](");
    if (close == std::string_view::npos) {
      continue;
    }
    const std::size_t from = at + 2 + close + 2;
    std::size_t k = from;
    while (k < t.size() && k - from < 8 && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == '<')) {
      ++k;
    }
    const std::string_view target = t.substr(k, 8);
    const auto scheme = [&](std::string_view s) {
      return target.size() >= s.size() && std::equal(s.begin(), s.end(), target.begin(), [](char a, char b) {
               return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
             });
    };
    if (scheme("data:") || scheme("http://") || scheme("https://")) {
      return true;
    }
  }
  return false;
}

// A SAX handler that keeps nothing: whether a body is one strict JSON text at all.
struct syntax_handler : detail::no_size_limits {
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t, error_code&) { return true; }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_key_part(std::string_view, std::size_t, error_code&) { return true; }
  bool on_key(std::string_view, std::size_t, error_code&) { return true; }
  bool on_string_part(std::string_view, std::size_t, error_code&) { return true; }
  bool on_string(std::string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(std::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, std::string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, std::string_view, error_code&) { return true; }
  bool on_double(double, std::string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(std::string_view, error_code&) { return true; }
  bool on_comment(std::string_view, error_code&) { return true; }
};

void parse_failed(std::string_view body, const error_code& ec, std::size_t at, inspection& out);

// Whether `body` is one strict JSON text; when not, `out` says why (parse_failed). A body refused
// for what it says (a model inside it) that is not one JSON value (JSONL, trailing data) is told
// the first problem first (probe round 38).
bool one_json_text(std::string_view body, inspection& out) {
  boost::json::parse_options strict;
  strict.max_depth = max_depth;
  boost::json::basic_parser<syntax_handler> parser(strict);
  error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && (used != body.size() || !parser.done())) {
    ec = boost::json::error::extra_data;
  }
  if (!ec) {
    return true;
  }
  parse_failed(body, ec, used, out);
  return false;
}

void parse_failed(std::string_view body, const error_code& ec, std::size_t at, inspection& out) {
  if (const std::size_t bad = first_invalid_utf8(body); bad <= at) {
    out.error = body_error::not_utf8;
    out.offset = bad;
    out.message = fmt::format("the request body is not valid UTF-8 (byte {})", bad);
    return;
  }
  out.offset = at;
  if (ec == boost::json::error::too_deep) {
    out.error = body_error::too_deep;
    out.message = fmt::format("the request body nests deeper than {} levels (byte {})", max_depth, at);
    return;
  }
  out.error = body_error::invalid_json;
  const std::string_view form = lenient_form_at(body, at);
  out.message = fmt::format("the request body is not valid JSON: {} (byte {}){}{}", ec.message(), at,
                            form.empty() ? "" : ": ", form);
}

// Whether a finding of detector `d` in `scan` already covers [b, e) (a reading that finds it
// again adds nothing to redact).
bool covered(const scan_result& scan, std::size_t b, std::size_t e, unsigned d) {
  return std::any_of(scan.findings.begin(), scan.findings.end(),
                     [&](const finding& f) { return f.detector == d && f.begin <= b && e <= f.end; });
}

// scan.findings back in text order, when readings appended some past `first`.
void keep_in_order(scan_result& scan, std::size_t first) {
  if (scan.findings.size() != first) {
    std::sort(scan.findings.begin(), scan.findings.end(),
              [](const finding& a, const finding& b) { return a.begin < b.begin; });
  }
}

}  // namespace

routing_key routing_key_of(std::string_view key) noexcept {
  // A router runs one of these instead of `model` when it fails or as it chooses (LiteLLM's
  // fallbacks; OpenRouter's models; LiteLLM's deployment_id and the legacy engine), or a server
  // takes it for the model (ElevenLabs' and LocalAI's model_id, a deployment, a served model's
  // name, a speculative decoder's draft model): a model the policy never saw. The names the query
  // is refused for too. LiteLLM's Router reads all three of its per-request fallback lists from the
  // call (fallbacks, context_window_fallbacks, content_policy_fallbacks: a prompt longer than the
  // context window is enough), and its mock switches run the fallbacks, the client's or the
  // operator's, without any failure (probe round 39). default_fallbacks, model_group_alias and
  // model_alias_map are the Router's and the library's settings, not known to be read from a
  // request: they map `model` to another, so a request naming them is refused all the same (the
  // side that fails closed).
  static constexpr word_set other_models{"fallbacks",
                                         "context_window_fallbacks",
                                         "content_policy_fallbacks",
                                         "default_fallbacks",
                                         "mock_testing_fallbacks",
                                         "mock_testing_context_fallbacks",
                                         "mock_testing_content_policy_fallbacks",
                                         "model_group_alias",
                                         "model_alias_map",
                                         "models",
                                         "fallback_models",
                                         "deployment_id",
                                         "engine",
                                         "deployment",
                                         "deployment_name",
                                         "model_id",
                                         "modelid",
                                         "model_name",
                                         "served_model_name",
                                         "speculative_model",
                                         "draft_model",
                                         "model_version"};
  if (other_models.contains(key)) {
    return routing_key::other_model;
  }
  // A router that takes the server, the credentials or a whole routing table from the request
  // (LiteLLM's user_config, api_base, base_url, api_key with client-side credentials) sends
  // the prompt where the client says, to a model the policy never saw. LiteLLM's router merges
  // the body over the operator's deployment settings, so any of them in the body moves the call:
  // a server, credentials, a region or location, a project, a provider (OpenRouter's provider
  // preferences too), an API version, deployment tags (which pick among a model's deployments),
  // the headers sent to the provider; and vLLM's kv_transfer_params send the prompt's KV cache to
  // a host they name. By name, and by the suffixes those settings share (aws_region_name,
  // vertex_location, aws_bedrock_runtime_endpoint, ...).
  static constexpr word_set keys{
      "user_config", "api_base", "base_url", "api_key", "azure_endpoint", "azure_ad_token",
      "azure_ad_token_provider", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
      "aws_role_name", "aws_profile_name", "aws_session_name", "aws_web_identity_token", "vertex_credentials",
      "vertex_project", "model_list", "region_name", "custom_llm_provider", "api_token", "hf_token",
      "access_token", "auth_token", "provider", "api_version", "organization", "extra_body",
      // the headers LiteLLM sends the provider, and its deployment tags
      "extra_headers", "tags",
      // vLLM's disaggregated prefill: where the KV cache (the prompt's
      // state) is sent, remote_host/remote_port included; SGLang's
      "kv_transfer_params", "bootstrap_host",
      // where inference runs: a region, a location, Anthropic's
      // inference_geo ("global" runs it anywhere), a residency
      "region", "location", "zone", "geo", "data_residency", "residency"};
  const bool route = keys.contains(key) || key.ends_with("_region_name") || key.ends_with("_region") ||
                     key.ends_with("_location") || key.ends_with("_geo") || key.ends_with("_residency") ||
                     key.ends_with("_endpoint") || key.ends_with("_api_base");
  return route ? routing_key::client_route : routing_key::none;
}

bool readable_text(std::string_view s) noexcept {
  return s.find('\0') == std::string_view::npos && first_invalid_utf8(s) == std::string_view::npos;
}

model_variant variant_of_model(std::string_view name) noexcept {
  const std::size_t colon = name.rfind(':');
  if (colon == std::string_view::npos) {
    return model_variant::plain;
  }
  const std::string_view variant = name.substr(colon + 1);
  constexpr std::string_view cloud = "-cloud";
  if (ascii_iequals(variant, "online") || ascii_iequals(variant, "cloud") ||
      (variant.size() > cloud.size() &&
       ascii_iequals(variant.substr(variant.size() - cloud.size()), cloud))) {
    return model_variant::calls_out;
  }
  return ascii_iequals(variant, "nitro") || ascii_iequals(variant, "floor") ||
                 ascii_iequals(variant, "exacto")
             ? model_variant::chooses_provider
             : model_variant::plain;
}

std::string_view body_error_name(body_error e) noexcept {
  switch (e) {
    case body_error::none:
      return "none";
    case body_error::bom:
      return "bom";
    case body_error::utf16_or_32:
      return "utf16_or_32";
    case body_error::not_utf8:
      return "not_utf8";
    case body_error::invalid_json:
      return "invalid_json";
    case body_error::too_deep:
      return "too_deep";
    case body_error::not_object:
      return "not_object";
    case body_error::duplicate_key:
      return "duplicate_key";
    case body_error::case_variant_key:
      return "case_variant_key";
    case body_error::wrong_type:
      return "wrong_type";
    case body_error::model_too_long:
      return "model_too_long";
    case body_error::model_control_char:
      return "model_control_char";
    case body_error::model_in_url:
      return "model_in_url";
    case body_error::other_models:
      return "other_models";
  }
  return "unknown";
}

void json_inspector::inspect(std::string_view body, const inspect_options& options, inspection& out) {
  out.error = body_error::none;
  out.offset = 0;
  out.message.clear();
  out.fields = body_fields{};
  out.scan.ran = options.detectors;
  out.scan.found = 0;
  out.scan.hidden = 0;
  out.scan.findings.clear();
  out.scan.decoded = true;
  out.scan.located = options.locate;
  // A worker keeps its buffers between requests, but not one a 10 MiB body left behind.
  for (std::string* buffer : {&text_, &joined_, &rest_, &glued_}) {
    if (buffer->capacity() > std::max<std::size_t>(1 << 20, 2 * body.size())) {
      std::string().swap(*buffer);
    }
  }
  text_.clear();
  ends_.clear();
  prose_.clear();
  numbers_.clear();
  user_fields_.clear();
  patterns_.clear();
  keys_.clear();

  if (const body_error e = encoding_error(body); e != body_error::none) {
    out.error = e;
    out.message = e == body_error::bom
                      ? "the request body starts with a byte order mark; send UTF-8 JSON without one"
                      : "the request body is UTF-16 or UTF-32; send UTF-8 JSON";
    return;
  }
  const std::uint32_t which = options.detectors & implemented_detectors();
  if (which != 0) {
    text_.reserve(body.size());  // the decoded text is never longer than the body
    ends_.reserve(body.size() / 64 + 1);
  }
  boost::json::parse_options strict;
  strict.max_depth = max_depth;
  boost::json::basic_parser<inspect_handler> parser(strict, text_, ends_, prose_, numbers_, user_fields_,
                                                    patterns_, fold_buffer_, keys_, option_keys_, which != 0,
                                                    out);
  error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (out.error != body_error::none) {
    text_.clear();
    if (one_json_text(body, out)) {
      out.offset = used;
      out.message += fmt::format(" (byte {})", used);
    }
    return;
  }
  if (!ec && (used != body.size() || !parser.done())) {
    ec = boost::json::error::extra_data;
  }
  if (ec) {
    parse_failed(body, ec, used, out);
    text_.clear();
    return;
  }
  if (which == 0) {
    return;
  }
  scan_text(which, options.locate, out.scan);
  scan_nested(which, options.locate, out.scan);
  scan_markup(which, options.locate, out.scan);
  scan_patterns(which, options.locate, out.scan);
  scan_lookalike_digits(which, options.locate, out.scan);
  scan_base64(which, options.locate, out.scan);
  scan_user_fields(which, options.locate, out.scan);
  hide_findings_in_numbers(out.scan);
  if ((which & bit(detector::opaque_content)) != 0 &&
      (parser.handler().opaque() || holds_markdown_image(text_) || holds_written_binary(text_))) {
    out.scan.found |= bit(detector::opaque_content);
    out.scan.hidden |= bit(detector::opaque_content);
  }
  if ((which & bit(detector::remote_tools)) != 0 && parser.handler().remote_tools()) {
    out.scan.found |= bit(detector::remote_tools);
    out.scan.hidden |= bit(detector::remote_tools);
  }
}

std::uint32_t json_inspector::read_text(std::string_view text, std::uint32_t detectors) {
  const std::uint32_t which = detectors & implemented_detectors();
  text_.assign(text);
  text_ += '\n';
  ends_.assign(text_.size() / 64 + 1, 0);
  ends_[text.size() / 64] |= std::uint64_t{1} << (text.size() % 64);
  prose_.assign(1, {0, text.size()});
  numbers_.clear();
  user_fields_.clear();
  patterns_.clear();
  if (which == 0) {
    return 0;
  }
  scan_result scan;
  scan_text(which, false, scan);
  scan_nested(which, false, scan);
  scan_markup(which, false, scan);
  scan_lookalike_digits(which, false, scan);
  scan_base64(which, false, scan);
  return scan.found;
}

// The string text_[at] is in, from its first character to the '\n' that ends it.
text_span json_inspector::string_at(std::size_t at) const {
  text_span span{0, text_.size()};
  for (std::size_t word = std::min(at / 64 + 1, ends_.size()); word-- > 0;) {
    const std::uint64_t bits = ends_[word] & (word == at / 64 ? (std::uint64_t{1} << (at % 64)) - 1 : ~0ULL);
    if (bits != 0) {
      span.begin = word * 64 + 64 - static_cast<std::size_t>(std::countl_zero(bits));
      break;
    }
  }
  for (std::size_t word = at / 64; word < ends_.size(); ++word) {
    const std::uint64_t bits =
        ends_[word] & (word == at / 64 ? ~((std::uint64_t{1} << (at % 64)) - 1) : ~0ULL);
    if (bits != 0) {
      span.end = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      break;
    }
  }
  return span;
}

// Whether text_[b, e) holds the end of a string (the '\n' after it).
bool json_inspector::crosses_strings(std::size_t b, std::size_t e) const {
  for (std::size_t at = b; at < e;) {
    const std::size_t word = at / 64;
    if (word >= ends_.size()) {
      return false;
    }
    const std::size_t stop = std::min(e, (word + 1) * 64);
    const std::uint64_t span = (stop - at == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << (stop - at)) - 1))
                               << (at % 64);
    if ((ends_[word] & span) != 0) {
      return true;
    }
    at = stop;
  }
  return false;
}

bool json_inspector::crosses_in(const std::vector<segment>* segments, std::size_t b, std::size_t e) const {
  if (segments == nullptr) {
    return crosses_strings(b, e);
  }
  auto seg = std::upper_bound(segments->begin(), segments->end(), b,
                              [](std::size_t at, const segment& s) { return at < s.view_begin; });
  --seg;
  return e > seg->view_begin + seg->length ||
         crosses_strings(seg->text_begin + (b - seg->view_begin), seg->text_begin + (e - seg->view_begin));
}

// An e-mail address reads across a line break inside a string ("alice\n@\ngmail.com"), not
// across the one between two strings ({"a": "alice", "b": "@example.com"}).
std::uint32_t json_inspector::email_within_strings(std::uint32_t found, const std::string& view,
                                                   const std::vector<segment>* segments) const {
  const std::uint32_t email = bit(detector::email);
  if ((found & email) == 0 || view.find('\n') == std::string::npos) {
    return found;
  }
  for (const finding& f : find_all(view, email)) {
    if (!crosses_in(segments, f.begin, f.end)) {
      return found;
    }
  }
  return found & ~email;
}

// Base64 (or hex) that decodes to text, which a model reads through: each run's text is scanned
// on its own, and what is found there is a finding over the whole run (redact() replaces the
// run). A run may go on from one string into the next (base64 split over a prompt array's
// strings, or over a message's text parts: find_base64_texts reads on over the '\n' after a
// string); it is then listed as its pieces, one per string, like prose (scan_text).
void json_inspector::scan_base64(std::uint32_t which, bool locate, scan_result& scan) {
  base64_.clear();
  const std::size_t in_text = find_base64_texts(text_, base64_);
  // The prose strings joined: a run that crosses from one into the next, in text_ apart (the
  // keys of a message's parts between them).
  const bool joined = prose_.size() >= 2 && find_base64_texts(joined_, base64_) > 0;
  if (in_text == 0 && !joined) {
    return;
  }
  // Appends the pieces of text_[b, e), one per string it touches.
  const auto add_pieces = [&](std::size_t b, std::size_t e, unsigned d) {
    std::size_t piece = b;
    for (std::size_t at = b; at < e; ++at) {
      if (text_[at] == '\n' && crosses_strings(at, at + 1)) {
        if (at > piece) {
          scan.findings.push_back({piece, at, d});
        }
        piece = at + 1;
      }
    }
    if (e > piece) {
      scan.findings.push_back({piece, e, d});
    }
  };
  for (std::size_t r = 0; r < base64_.size(); ++r) {
    const base64_text& run = base64_[r];
    const bool from_joined = r >= in_text;
    // From the prose view, only runs over two prose strings or more: the others are runs of text_.
    auto seg = joined_segments_.begin();
    if (from_joined) {
      seg = std::upper_bound(joined_segments_.begin(), joined_segments_.end(), run.begin,
                             [](std::size_t at, const segment& s) { return at < s.view_begin; });
      --seg;
      bool apart = false;  // two of its strings apart in text_ (else text_'s own run is this one)
      for (auto s = seg; s + 1 != joined_segments_.end() && (s + 1)->view_begin < run.end; ++s) {
        apart = apart || (s + 1)->text_begin != s->text_begin + s->length;
      }
      if (!apart) {
        continue;
      }
    }
    if (!locate) {
      scan.found |= detect(run.text, which);
      continue;
    }
    // One finding per detector, the one that found the most first (an IBAN holds a phone-like
    // run of digits: the run is redacted as the IBAN).
    std::array<std::size_t, detector_count> longest{};
    for (const finding& f : find_all(run.text, which)) {
      longest[f.detector] = std::max(longest[f.detector], f.end - f.begin);
    }
    std::array<unsigned, detector_count> order{};
    unsigned n = 0;
    for (unsigned d = 0; d < detector_count; ++d) {
      if (longest[d] != 0) {
        order[n++] = d;
      }
    }
    std::stable_sort(order.begin(), order.begin() + n,
                     [&](unsigned a, unsigned b) { return longest[a] > longest[b]; });
    for (unsigned k = 0; k < n; ++k) {
      const unsigned d = order[k];
      scan.found |= 1u << d;
      if (!from_joined) {
        add_pieces(run.begin, run.end, d);
        continue;
      }
      for (auto s = seg; s != joined_segments_.end() && s->view_begin < run.end; ++s) {
        const std::size_t b = std::max(run.begin, s->view_begin);
        const std::size_t e = std::min(run.end, s->view_begin + s->length);
        add_pieces(s->text_begin + (b - s->view_begin), s->text_begin + (e - s->view_begin), d);
      }
    }
  }
  std::stable_sort(scan.findings.begin(), scan.findings.end(),
                   [](const finding& a, const finding& b) { return a.begin < b.begin; });
}

// The fields that name the user (inspect_handler::note_user_key) that hold a person's name or a
// pseudonym made of one (detail::names_a_person): a finding over the whole value.
void json_inspector::scan_user_fields(std::uint32_t which, bool locate, scan_result& scan) {
  const std::uint32_t name = bit(detector::person_name);
  if ((which & name) == 0 || user_fields_.empty()) {
    return;
  }
  const std::size_t first = scan.findings.size();
  for (const user_field& f : user_fields_) {
    const text_span s = f.span;
    if (!detail::names_a_person(std::string_view(text_).substr(s.begin, s.end - s.begin), f.one_word)) {
      continue;
    }
    scan.found |= name;
    if (locate && !covered(scan, s.begin, s.end, static_cast<unsigned>(detector::person_name))) {
      scan.findings.push_back({s.begin, s.end, static_cast<unsigned>(detector::person_name)});
    }
  }
  keep_in_order(scan, first);
}

// A finding in a number's digits cannot be redacted in place (a string there would change the
// value's type): it stays found, as hidden.
void json_inspector::hide_findings_in_numbers(scan_result& scan) const {
  if (numbers_.empty() || scan.findings.empty()) {
    return;
  }
  auto number = numbers_.begin();
  std::erase_if(scan.findings, [&](const finding& f) {
    while (number != numbers_.end() && number->end <= f.begin) {
      ++number;  // findings and numbers both in text order
    }
    const bool in_number = number != numbers_.end() && number->begin < f.end;
    if (in_number) {
      scan.hidden |= 1u << f.detector;
    }
    return in_number;
  });
}

// The text, with the prose read as one: when the body has two prose strings or more, the
// detectors read two views of text_, each once: the prose strings joined (each with the '\n'
// after it), and everything else. A finding that crosses from one prose string into the next
// is listed as its pieces, one per string (or one finding where the strings are adjacent in
// text_, as in a prompt array: redact() replaces it string by string).
void json_inspector::scan_text(std::uint32_t which, bool locate, scan_result& scan) {
  if (prose_.size() < 2) {
    if (locate) {
      scan.findings = find_all(text_, which);
      std::erase_if(scan.findings, [&](const finding& f) { return crosses_strings(f.begin, f.end); });
      for (const finding& f : scan.findings) {
        scan.found |= 1u << f.detector;
      }
    } else {
      scan.found = email_within_strings(detect(text_, which), text_, nullptr);
    }
    return;
  }
  joined_.clear();
  rest_.clear();
  joined_segments_.clear();
  rest_segments_.clear();
  const auto take = [&](std::string& view, std::vector<segment>& segments, std::size_t b, std::size_t e) {
    if (e > b) {
      segments.push_back({view.size(), b, e - b});
      view.append(text_, b, e - b);
    }
  };
  std::size_t cursor = 0;
  for (const text_span& span : prose_) {
    take(rest_, rest_segments_, cursor, span.begin);
    cursor = span.end + 1;
  }
  take(rest_, rest_segments_, cursor, text_.size());
  // The prose joined in the order the server builds the prompt; glued across its seams in that
  // order and, where it differs, in the order written too.
  const auto by_place = [](const text_span& a, const text_span& b) { return a.place < b.place; };
  prompt_order_.clear();
  if (!std::is_sorted(prose_.begin(), prose_.end(), by_place)) {
    prompt_order_ = prose_;
    std::stable_sort(prompt_order_.begin(), prompt_order_.end(), by_place);
  }
  const std::vector<text_span>& prompt = prompt_order_.empty() ? prose_ : prompt_order_;
  for (const text_span& span : prompt) {
    take(joined_, joined_segments_, span.begin, span.end + 1);
  }
  const auto glue = [&](bool located) {
    scan_glued(prompt, which, located, scan);
    if (!prompt_order_.empty()) {
      scan_glued(prose_, which, located, scan);
    }
  };
  if (!locate) {
    scan.found = email_within_strings(detect(rest_, which), rest_, &rest_segments_) |
                 email_within_strings(detect(joined_, which), joined_, &joined_segments_);
    glue(false);
    return;
  }
  const auto locate_in = [&](const std::string& view, const std::vector<segment>& segments, bool prose) {
    for (const finding& f : find_all(view, which)) {
      auto seg = std::upper_bound(segments.begin(), segments.end(), f.begin,
                                  [](std::size_t at, const segment& s) { return at < s.view_begin; });
      --seg;  // the segment f begins in
      if ((!prose || f.detector == static_cast<unsigned>(detector::email)) &&
          crosses_in(&segments, f.begin, f.end)) {
        continue;  // outside the prose, a string never runs on into the next one; an address never
      }
      scan.found |= 1u << f.detector;
      bool first = true;
      for (std::size_t at = f.begin; at < f.end; ++seg) {
        const std::size_t stop = std::min(f.end, seg->view_begin + seg->length);
        const std::size_t b = seg->text_begin + (at - seg->view_begin);
        const std::size_t e = seg->text_begin + (stop - seg->view_begin);
        if (!first && scan.findings.back().end == b) {
          scan.findings.back().end = e;  // adjacent in text_ as well
        } else {
          scan.findings.push_back({b, e, f.detector});
        }
        first = false;
        at = stop;
      }
    }
  };
  locate_in(rest_, rest_segments_, false);
  locate_in(joined_, joined_segments_, true);
  glue(true);
  std::sort(scan.findings.begin(), scan.findings.end(),
            [](const finding& a, const finding& b) { return a.begin < b.begin; });
}

// Consecutive prose strings joined with nothing between them, as vLLM's multimodal chat templates
// (Qwen2-VL, Gemma 3, Llama 3.2 Vision, Mistral 3.1) join a message's text parts, a server may
// concatenate a prompt array, and a model asked to joins two messages, a system prompt and a user
// turn, a prompt and its suffix, or Gemini's parts: an identifier cut anywhere across them ("Send
// it to alice", "@example.com"; "my card is 4111 1111", "1111 1111") is found,
// its pieces findings in their own strings. Only what crosses a seam between two strings is taken
// (the joined view reads the rest), so only the text near a seam is read, glue_reach bytes on
// either side (more than an identifier's written form; a short string is read whole, so that an
// identifier over three strings is found too), and only at a seam where something could run on:
// between two characters that are not blanks, or across blanks between letters, digits or '@'
// ("4111 1111" and " 1111 1111"; not "… in Lyon. " and "Thanks").
void json_inspector::scan_glued(const std::vector<text_span>& prose, std::uint32_t which, bool locate,
                                scan_result& scan) {
  constexpr std::size_t glue_reach = 64;
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  // A string of blanks or nothing between two others is no boundary: a template puts the two
  // side by side all the same ("card 4111 1111", "", "1111 1111"). It is skipped.
  const auto is_blank = [&](const text_span& s) {
    for (std::size_t at = s.begin; at < s.end; ++at) {
      if (!blank(text_[at])) {
        return false;
      }
    }
    return true;
  };
  const auto seam_matters = [&](const text_span& before, const text_span& after, bool skipped) {
    std::size_t l = before.end;
    std::size_t r = after.begin;
    bool spaced = skipped;
    for (int n = 0; n < 2 && l > before.begin && blank(text_[l - 1]); ++n, spaced = true) {
      --l;
    }
    for (int n = 0; n < 2 && r < after.end && blank(text_[r]); ++n, spaced = true) {
      ++r;
    }
    if (l == before.begin || r == after.end || blank(text_[l - 1]) || blank(text_[r])) {
      return false;
    }
    const auto runs_on = [](char c) { return detail::is_alnum(c) || c == '@'; };
    return !spaced || (runs_on(text_[l - 1]) && runs_on(text_[r]));
  };
  const auto boundary = [&](std::size_t at, std::size_t lo, std::size_t hi, bool forward) {
    while (at > lo && at < hi && (static_cast<unsigned char>(text_[at]) & 0xC0u) == 0x80u) {
      at += forward ? 1 : -1;  // not inside a UTF-8 sequence
    }
    return at;
  };
  const auto take = [&](std::size_t b, std::size_t e) {
    if (e > b) {
      glued_segments_.push_back({glued_.size(), b, e - b});
      glued_.append(text_, b, e - b);
    }
  };
  const auto flush = [&] {
    if (glued_segments_.size() >= 2) {
      scan_seams(which, locate, scan);
    }
    glued_.clear();
    glued_segments_.clear();
  };
  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  std::size_t window_ends_with = none;  // the string whose end closes the window, if any
  std::size_t previous = none;          // the last string that is not blank
  for (std::size_t k = 0; k < prose.size(); ++k) {
    if (is_blank(prose[k])) {
      continue;
    }
    if (previous == none) {
      previous = k;
      continue;
    }
    const text_span& before = prose[previous];
    const text_span& after = prose[k];
    // A skipped string of blanks reads as a blank between the two; an empty one as nothing
    // ("alice.smith@example", "", ".com").
    bool skipped = false;
    for (std::size_t j = previous + 1; j < k; ++j) {
      skipped = skipped || prose[j].end > prose[j].begin;
    }
    const std::size_t before_index = std::exchange(previous, k);
    if (!seam_matters(before, after, skipped)) {
      flush();
      window_ends_with = none;
      continue;
    }
    if (window_ends_with != before_index) {
      flush();
      take(before.end - before.begin <= glue_reach
               ? before.begin
               : boundary(before.end - glue_reach, before.begin, before.end, true),
           before.end);
    }
    if (after.end - after.begin <= 2 * glue_reach) {
      take(after.begin, after.end);
      window_ends_with = k;
    } else {
      take(after.begin, boundary(after.begin + glue_reach, after.begin, after.end, false));
      flush();
      window_ends_with = none;
    }
  }
  flush();
}

// What the detectors find across a seam of glued_ (scan_glued): in `found` and, with `locate`,
// as its pieces in text_, unless findings of the same detector already cover them.
void json_inspector::scan_seams(std::uint32_t which, bool locate, scan_result& scan) {
  const auto segment_of = [&](std::size_t at) {
    return std::upper_bound(glued_segments_.begin(), glued_segments_.end(), at,
                            [](std::size_t a, const segment& s) { return a < s.view_begin; }) -
           1;
  };
  for (const finding& f : find_all(glued_, which)) {
    auto seg = segment_of(f.begin);
    if (segment_of(f.end - 1) == seg) {
      continue;  // within one string: the joined view's
    }
    scan.found |= 1u << f.detector;
    if (!locate) {
      continue;
    }
    const std::size_t before = scan.findings.size();
    bool all_covered = true;
    for (std::size_t at = f.begin; at < f.end; ++seg) {
      const std::size_t stop = std::min(f.end, seg->view_begin + seg->length);
      const std::size_t b = seg->text_begin + (at - seg->view_begin);
      const std::size_t e = seg->text_begin + (stop - seg->view_begin);
      all_covered = all_covered && covered(scan, b, e, f.detector);
      scan.findings.push_back({b, e, f.detector});
      at = stop;
    }
    if (all_covered) {
      scan.findings.resize(before);
    }
  }
  scan_decoded_seams(which, locate, scan);
}

namespace {

// Reads `text` with `forms` decoded, then what that gives decoded again, up to max_nested_levels
// deep while a level still decodes: fn(level, origin) for each, origin[k] the offset in `text` of
// what gave level[k] (composed over the levels). The levels alternate between the two buffers.
template <typename Fn>
void for_each_decoded_level(std::string_view text, std::uint8_t forms, unescaped_text (&buffers)[2], Fn&& fn) {
  std::string_view level = text;
  std::vector<std::uint32_t> origin;
  for (std::size_t depth = 0; depth < max_nested_levels; ++depth) {
    unescaped_text& next = buffers[depth % 2];
    if (!unescape(level, forms, next)) {
      return;
    }
    if (depth == 0) {
      origin = next.origin;
    } else {
      for (std::uint32_t& o : next.origin) {
        o = origin[o];
      }
      origin = next.origin;
    }
    fn(std::string_view(next.text), origin);
    level = next.text;
  }
}

}  // namespace

// The seams of glued_ read decoded, as scan_nested reads one string and scan_markup its markup: an
// escape, a percent-encoded or HTML-referenced character or markup next to a seam
// (["mail xq7", "%40example.com"], ["IBAN DE89%203704%200044", "%200532%200130%2000"],
// ["alice<b>", "</b>@example.com"]) hid what the plain pieces give away (probe round 37). A
// finding across a seam is listed as its pieces, each spanning the escapes that spell it, unless a
// piece holds a quote (it would cut through JSON held in the string): hidden, as scan_decoded's.
void json_inspector::scan_decoded_seams(std::uint32_t which, bool locate, scan_result& scan) {
  if (glued_.find_first_of("\\%&<*`~U") == std::string::npos) {
    return;
  }
  const auto segment_of = [&](std::size_t at) {
    return std::upper_bound(glued_segments_.begin(), glued_segments_.end(), at,
                            [](std::size_t a, const segment& s) { return a < s.view_begin; }) -
           1;
  };
  constexpr std::uint8_t forms = json_escapes | percent_encoding | html_references | hex_escapes | markup;
  for_each_decoded_level(glued_, forms, nested_, [&](std::string_view level, const std::vector<std::uint32_t>& origin) {
    for (const finding& f : find_all(level, which)) {
      const std::size_t gb = origin[f.begin];
      const std::size_t ge = std::max<std::size_t>(origin[f.end], gb + 1);
      auto seg = segment_of(gb);
      if (segment_of(ge - 1) == seg) {
        continue;  // within one string: scan_nested reads it
      }
      scan.found |= 1u << f.detector;
      if (!locate) {
        continue;
      }
      const std::size_t before = scan.findings.size();
      bool all_covered = true;
      bool quoted = false;
      for (std::size_t at = gb; at < ge; ++seg) {
        const std::size_t stop = std::min(ge, seg->view_begin + seg->length);
        const std::size_t b = seg->text_begin + (at - seg->view_begin);
        const std::size_t e = seg->text_begin + (stop - seg->view_begin);
        all_covered = all_covered && covered(scan, b, e, f.detector);
        quoted = quoted || std::string_view(text_).substr(b, e - b).find('"') != std::string_view::npos;
        scan.findings.push_back({b, e, f.detector});
        at = stop;
      }
      if (all_covered || quoted) {
        scan.findings.resize(before);
        scan.hidden |= quoted && !all_covered ? 1u << f.detector : 0u;
      }
    }
  });
}

// A decoded string that still holds escapes may be JSON inside JSON (tool call arguments, a
// stringified document) that the cluster decodes again before the model reads it, or text whose
// percent-encoding, HTML character references or \xHH escapes the model reads through
// ("alice%40example.com", "alice&#64;example.com", "\x61\x6c\x69\x63\x65\x40..."): the
// detectors also read the text with those decoded, up to
// max_nested_levels deep. A finding there that no finding of the same detector covers where the
// client wrote it is listed with the span of the escapes that spell it ("alice%40example.com" is
// redacted whole), unless that span holds a quote: then it would cut through the structure of
// JSON inside the string, and it is not redactable in place (scan_result::hidden).
void json_inspector::scan_nested(std::uint32_t which, bool locate, scan_result& scan) {
  scan_nested_numbers(text_, which, locate, scan);
  std::uint8_t qp = quoted_printable_in(text_);
  if (text_.find('\\') == std::string::npos && text_.find('%') == std::string::npos &&
      text_.find('&') == std::string::npos && qp == 0 && text_.find("U+") == std::string::npos) {
    return;  // the usual case (memchr calls: find_first_of reads byte by byte)
  }
  const std::size_t first_pass = scan.findings.size();
  // Quoted-printable is a reading of its own: read in the same pass, "card=4111%201111..." would
  // lose its "=41" to an 'A' (probe round 25). It is also read when one of the other decodings
  // writes it ("alice%3D40example.com", "alice&#61;40...": probe round 26).
  constexpr std::uint8_t forms = json_escapes | percent_encoding | html_references | hex_escapes;
  qp |= scan_decoded(forms, which, locate, scan);
  if (qp != 0) {
    (void)scan_decoded(forms | quoted_printable, which, locate, scan);
  }
  keep_in_order(scan, first_pass);
}

// scan_nested's reading of text_ with `forms` decoded, up to max_nested_levels deep. Returns
// quoted_printable when a decoded level is written as quoted-printable (quoted_printable_in).
std::uint8_t json_inspector::scan_decoded(std::uint8_t forms, std::uint32_t which, bool locate,
                                          scan_result& scan) {
  std::uint8_t qp = 0;
  for_each_decoded_level(text_, forms, nested_, [&](std::string_view level, const std::vector<std::uint32_t>& origin) {
    scan_nested_numbers(level, which, locate, scan);
    qp |= (forms & quoted_printable) == 0 ? quoted_printable_in(level) : 0;
    if (!locate) {
      scan.found |= detect(level, which);
    } else {
      for (const finding& f : find_all(level, which)) {
        const std::size_t b = origin[f.begin];
        const std::size_t e = origin[f.end];
        if (covered(scan, b, e, f.detector) || crosses_strings(b, e)) {
          continue;
        }
        scan.found |= 1u << f.detector;
        if (std::string_view(text_).substr(b, e - b).find('"') == std::string_view::npos) {
          scan.findings.push_back({b, e, f.detector});
        } else {
          scan.hidden |= 1u << f.detector;
        }
      }
    }
  });
  return qp;
}

// Numbers in JSON held in a string (a tool call's `arguments`: "{\"card\": 4.111111111111111E15}",
// "{\"card\": 4111111111111110.75}"), which the cluster's server parses and prints as it does the
// body's own numbers: read in that reading too (detail::number_as_read). A number there is a JSON
// value: it follows ':', '[' or ',' (past blanks) and ends before a blank, ',', ']' or '}'; a
// number in prose is read as written. What is found is hidden, as in the body's numbers: a string
// there would change the value's type. Only numbers with an exponent or of 16 characters or more
// are looked at (number_as_read reads no shorter one otherwise).
void json_inspector::scan_nested_numbers(std::string_view level, std::uint32_t which, bool locate,
                                         scan_result& scan) const {
  const auto number_char = [](char c) { return detail::is_digit(c) || c == '.' || c == '-'; };
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  text_span json_string;  // the string of text_ the last number read as written is in
  bool holds_json = false;
  for (std::size_t begin = 1; begin < level.size(); ++begin) {
    if (!number_char(level[begin])) {
      continue;
    }
    std::size_t end = begin;
    while (end < level.size() && number_char(level[end])) {
      ++end;
    }
    bool exponent = false;
    if (end + 1 < level.size() && (level[end] == 'e' || level[end] == 'E') &&
        detail::is_digit(level[end - 1])) {
      std::size_t digits = end + 1;
      if (level[digits] == '+' || level[digits] == '-') {
        ++digits;
      }
      exponent = digits < level.size() && detail::is_digit(level[digits]);
      end = exponent ? digits : end;
      while (exponent && end < level.size() && detail::is_digit(level[end])) {
        ++end;
      }
    }
    const std::size_t number_begin = begin;
    begin = end;  // every character is looked at once
    // A number as written, in JSON held in one of the body's strings, may be an identifier
    // ("{\"card\": 4111111111111111}"): redacting it there would leave the string no JSON (its
    // server parses it), so it is hidden, as a number in the body is (probe round 38).
    const bool as_written = level.data() == text_.data() && end - number_begin >= 8;
    if (!exponent && end - number_begin < 16 && !as_written) {
      continue;
    }
    std::size_t before = number_begin;
    while (before > 0 && number_begin - before < 8 && blank(level[before - 1])) {
      --before;
    }
    const bool value =
        before > 0 && (level[before - 1] == ':' || level[before - 1] == '[' || level[before - 1] == ',');
    const bool ends = end == level.size() || blank(level[end]) || level[end] == ',' || level[end] == ']' ||
                      level[end] == '}';
    if (as_written && value && ends && number_begin >= json_string.end) {
      json_string = string_at(number_begin);  // once per string: the numbers are read in order
      const std::string_view held =
          std::string_view(text_).substr(json_string.begin, json_string.end - json_string.begin);
      const std::size_t first = held.find_first_not_of(" \t\r\n");
      const std::size_t last = held.find_last_not_of(" \t\r\n");
      holds_json = first != std::string_view::npos && (held[first] == '{' || held[first] == '[') &&
                   (held[last] == '}' || held[last] == ']');
    }
    if (as_written && value && ends && holds_json) {
      const std::uint32_t found = detect(level.substr(number_begin, end - number_begin), which);
      scan.found |= found;
      scan.hidden |= locate ? found : 0;
    }
    if (!exponent && end - number_begin < 16) {
      continue;
    }
    char as_read[64];
    const std::size_t n =
        value && ends ? detail::number_as_read(level.substr(number_begin, end - number_begin), as_read) : 0;
    if (n != 0) {
      const std::uint32_t found = detect(std::string_view(as_read, n), which);
      scan.found |= found;
      scan.hidden |= locate ? found : 0;
    }
  }
}

// Markup a model reads through as formatting, inside an identifier: Markdown's emphasis and code
// marks, its backslash escapes, HTML tags and comments, CDATA sections' wrappers, processing
// instructions, line continuations ("**alice**@example.com", "alice\\@example.com",
// "card 4111 **1111** 1111 1111", "GB82 <b>WEST</b> 1234 5698 7654 32", "alice<!-- -->@example.com",
// "alice@example<!-- -->.com", "alice<![CDATA[@]]>example.com"). Where markup has a digit or an
// '@' next to it, or joins characters of an identifier (letters, digits, '@', '.', '-', '+', '_';
// markdown around words is left alone: it hides nothing the detectors look for), the words around it that an
// identifier may run through are read again with the markup removed, and what the markup hid (a finding with
// markup removed inside it) is a finding over what the client wrote, markup and all.
void json_inspector::scan_markup(std::uint32_t which, bool locate, scan_result& scan) {
  constexpr std::size_t reach = 64;  // the most text read on either side: more than an identifier's form
  const std::string_view t = text_;
  marks_.clear();
  for (const char c : std::string_view("*`~<\\]")) {
    for (std::size_t at = t.find(c); at != std::string_view::npos; at = t.find(c, at + 1)) {
      marks_.push_back(static_cast<std::uint32_t>(at));  // memchr: most text has none of them
    }
  }
  // Line wraps inside an identifier (unescape.hpp: wrap_length) are read through the same way.
  for (const char c : std::string_view("\n\r\xc2\xe2")) {
    for (std::size_t at = t.find(c); at != std::string_view::npos; at = t.find(c, at + 1)) {
      if (wrap_length(t, at) != 0) {
        marks_.push_back(static_cast<std::uint32_t>(at));
      }
    }
  }
  if (marks_.empty()) {
    return;
  }
  std::sort(marks_.begin(), marks_.end());
  comment_memo memo;  // the marks are read in order: each comment's end is searched for once
  const auto hidden_length = [&](std::size_t k) {
    const std::size_t wrap = wrap_length(t, k);
    return wrap != 0 ? wrap : markup_length(t, k, memo);
  };
  // A digit or an '@' next to the markup, or past one space; or characters of an identifier on
  // both sides.
  const auto identifier_char = [](char c) {
    return detail::is_alnum(c) || c == '@' || c == '.' || c == '-' || c == '+' || c == '_';
  };
  const auto anchor = [](char c) { return detail::is_digit(c) || c == '@'; };
  const auto anchor_before = [&](std::size_t at) {
    return at > 0 && (anchor(t[at - 1]) || (at > 1 && t[at - 1] == ' ' && anchor(t[at - 2])));
  };
  const auto anchor_after = [&](std::size_t end) {
    return end < t.size() && (anchor(t[end]) || (end + 1 < t.size() && t[end] == ' ' && anchor(t[end + 1])));
  };
  // Words are split by blanks here (an IBAN's groups, a card's, "alice @ example.com").
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  const auto word_start = [&](std::size_t k) {
    for (std::size_t n = 0; n < reach && k > 0 && !blank(t[k - 1]); ++n) {
      --k;
    }
    return k;
  };
  const auto word_end = [&](std::size_t k) {
    for (std::size_t n = 0; n < reach && k < t.size() && !blank(t[k]); ++n) {
      ++k;
    }
    return k;
  };
  const auto gap_before = [&](std::size_t k) {
    while (k > 0 && blank(t[k - 1]) && t[k - 1] != '\n') {
      --k;
    }
    return k;
  };
  const auto gap_after = [&](std::size_t k) {
    while (k < t.size() && blank(t[k]) && t[k] != '\n') {
      ++k;
    }
    return k;
  };
  const auto continues = [&](std::size_t b, std::size_t e) {
    std::size_t letters = 0;
    bool capitals = true;
    for (std::size_t k = b; k < e;) {
      const char c = t[k];
      if (const std::size_t m = c == '*' || c == '`' || c == '~' || c == '<' || c == '\\' || c == ']' ||
                                        c == '\n' || c == '\r' || c == '\xc2' || c == '\xe2'
                                    ? hidden_length(k)
                                    : 0;
          m != 0) {
        k += m;
        continue;
      }
      if (anchor(t[k])) {
        return true;
      }
      letters += detail::is_alnum(t[k]) ? 1 : 0;
      capitals = capitals && !detail::is_lower(t[k]);
      ++k;
    }
    return capitals && letters >= 1 && letters <= 4;
  };
  windows_.clear();
  std::size_t run_end = 0;
  for (const std::uint32_t at : marks_) {
    if (at < run_end) {
      continue;  // the rest of a run already read ("**", "<b></b>")
    }
    std::size_t end = at;  // markup runs on: "<b></b>", "**`"
    for (std::size_t length = hidden_length(end); length != 0 && end < t.size();
         length = end < t.size() ? hidden_length(end) : 0) {
      end += length;
    }
    run_end = end;
    if (end == at || (!windows_.empty() && end <= windows_.back().end)) {
      continue;
    }
    // Markup that joins characters of an identifier, a letter or digit on one side at least
    // ("example<!-- -->.com", "example**.**com"; probe round 38). A wrap is one only between a
    // mark and a letter or digit: it joins.
    const bool joins = (at > 0 && end < t.size() && identifier_char(t[at - 1]) && identifier_char(t[end]) &&
                        (detail::is_alnum(t[at - 1]) || detail::is_alnum(t[end]))) ||
                       wrap_length(t, at) != 0;
    if (!joins && !anchor_before(at) && !anchor_after(end)) {
      continue;  // emphasis around words hides nothing the detectors look for
    }
    // The words around it that an identifier may run through: those with a digit or an '@', and
    // short ones in capitals ("GB82 <b>WEST</b> 1234 5698 7654 32", "12345678 **Z**").
    std::size_t b = word_start(at);
    std::size_t e = word_end(end);
    for (std::size_t from = gap_before(b); from != b && b - from <= 3 && end - from < reach;) {
      const std::size_t w = word_start(from);
      if (!continues(w, from)) {
        break;
      }
      b = w;
      from = gap_before(b);
    }
    for (std::size_t to = gap_after(e); to != e && to - e <= 3 && to - at < reach;) {
      const std::size_t w = word_end(to);
      if (!continues(to, w)) {
        break;
      }
      e = w;
      to = gap_after(e);
    }
    if (!windows_.empty() && b <= windows_.back().end) {
      windows_.back().end = std::max(windows_.back().end, e);
    } else {
      windows_.push_back({b, e});
    }
  }
  const std::size_t first_pass = scan.findings.size();
  // The windows without their markup, read at once: five line breaks apart, which no identifier
  // runs through; unmarked_.origin maps each byte to text_. Only a window with an '@' or seven
  // digits can hold what the detectors look for (the shortest: a NIE, a codice fiscale, a phone).
  constexpr std::size_t apart = 5;
  unmarked_.text.clear();
  unmarked_.origin.clear();
  for (const text_span& w : windows_) {
    const std::string_view window = t.substr(w.begin, w.end - w.begin);
    if (window.find('@') == std::string_view::npos &&
        std::count_if(window.begin(), window.end(), [](char c) { return detail::is_digit(c); }) < 7) {
      continue;
    }
    if (!unescape(window, markup | line_wraps, window_)) {
      continue;
    }
    if (!unmarked_.text.empty()) {
      unmarked_.text.append(apart, '\n');
      unmarked_.origin.insert(unmarked_.origin.end(), apart, static_cast<std::uint32_t>(w.begin));
    }
    unmarked_.text += window_.text;
    for (std::size_t k = 0; k < window_.text.size(); ++k) {
      unmarked_.origin.push_back(static_cast<std::uint32_t>(w.begin + window_.origin[k]));
    }
  }
  if (unmarked_.text.empty()) {
    return;
  }
  const std::vector<std::uint32_t>& origin = unmarked_.origin;
  for (const finding& f : find_all(unmarked_.text, which)) {
    if (origin[f.end - 1] - origin[f.begin] == f.end - 1 - f.begin) {
      continue;  // no markup inside: the text's own finding
    }
    const std::size_t b = origin[f.begin];
    const std::size_t e = origin[f.end - 1] + 1;
    if (std::string_view(unmarked_.text).substr(f.begin, f.end - f.begin).find("\n\n\n\n\n") !=
            std::string_view::npos ||
        crosses_strings(b, e)) {
      continue;  // across two windows, or two strings
    }
    scan.found |= 1u << f.detector;
    if (locate && !covered(scan, b, e, f.detector)) {
      scan.findings.push_back({b, e, f.detector});
    }
  }
  keep_in_order(scan, first_pass);
}

// Output constraints written as a regular expression or a grammar (is_pattern_key), read as the
// text they make the model write, each alternative's first and last branch: what is found there
// is a finding over the part of the pattern that gave it.
void json_inspector::scan_patterns(std::uint32_t which, bool locate, scan_result& scan) {
  const std::size_t first_pass = scan.findings.size();
  for (const text_span& s : patterns_) {
    const std::string_view pattern = std::string_view(text_).substr(s.begin, s.end - s.begin);
    for (const alternative a : {alternative::first, alternative::last}) {
      if (!pattern_text(pattern, a, pattern_reading_)) {
        if (a == alternative::first) {
          scan_pattern_seams(pattern, s, which, scan);  // a literal: read as written, and at its seams
        }
        break;  // read as written: scan_text's
      }
      if (a == alternative::first) {
        scan_pattern_seams(pattern_reading_.text, s, which, scan);
      }
      for (const finding& f : find_all(pattern_reading_.text, which)) {
        const auto [lo, hi] = std::minmax_element(pattern_reading_.origin.begin() + f.begin,
                                                  pattern_reading_.origin.begin() + f.end);
        const std::size_t b = s.begin + *lo;
        const std::size_t e = std::min(s.end, s.begin + *hi + 1);
        scan.found |= 1u << f.detector;
        if (locate && !covered(scan, b, e, f.detector)) {
          scan.findings.push_back({b, e, f.detector});
        }
      }
    }
  }
  keep_in_order(scan, first_pass);
}

// The text a constraint makes the model write runs on from the text next to it (probe round 36):
// the prompt's end ("Send it to alice.smith" and a guided_regex `@example\.com`: the model writes
// the address whole, as a completion's suffix follows its prompt), and a structural tag's literal
// before or after a pattern element. Joined at the seam (64 bytes either side, as scan_seams reads
// prose), what is found across it is hidden: no one string holds it to redact in place.
void json_inspector::scan_pattern_seams(std::string_view reading, const text_span& pattern, std::uint32_t which,
                                        scan_result& scan) {
  constexpr std::size_t reach = 64;
  const std::string_view t = text_;
  const text_span* before = nullptr;
  const text_span* after = nullptr;
  for (const text_span& p : prose_) {  // in document order
    if (p.end <= pattern.begin) {
      before = &p;
    } else if (p.begin >= pattern.end && after == nullptr) {
      after = &p;
    }
  }
  const auto text_of = [&](const text_span* p) { return t.substr(p->begin, p->end - p->begin); };
  const auto across = [&](std::string_view left, std::string_view right) {
    left = left.substr(left.size() - std::min(left.size(), reach));
    right = right.substr(0, std::min(right.size(), reach));
    std::string joined;
    joined.reserve(left.size() + right.size());
    joined.append(left).append(right);
    for (const finding& f : find_all(joined, which)) {
      if (f.begin < left.size() && f.end > left.size()) {
        scan.found |= 1u << f.detector;
        scan.hidden |= 1u << f.detector;
      }
    }
  };
  if (before != nullptr) {
    across(text_of(before), reading);
  }
  if (!prose_.empty() && &prose_.back() != before) {
    across(text_of(&prose_.back()), reading);  // the prompt's end, wherever the constraint is written
  }
  if (after != nullptr) {
    across(reading, text_of(after));
  }
}

// Letters written for digits inside a number ("IBAN DE89 37O4 OO44 O532 O13O OO", "card 4lll llll
// llll llll": digit_lookalikes.hpp): the text around each is read again with the digits put back,
// by the detectors whose check digits bound what they find (an IBAN's mod 97, a card's Luhn digit,
// a national id's), and what they find there is a finding over what the client wrote.
void json_inspector::scan_lookalike_digits(std::uint32_t which, bool locate, scan_result& scan) {
  const std::uint32_t checked =
      which & (bit(detector::iban) | bit(detector::payment_card) | bit(detector::national_id));
  if (checked == 0) {
    return;
  }
  constexpr std::size_t reach = 64;  // an IBAN in groups, with its label
  const std::string_view t = text_;
  windows_.clear();
  for (std::size_t at = next_lookalike_digit(t, 0); at != std::string_view::npos;
       at = next_lookalike_digit(t, at + 1)) {
    // The line around it, `reach` either side, from a word's start to a word's end.
    std::size_t b = at - std::min(at, reach);
    if (const std::size_t eol = t.substr(b, at - b).rfind('\n'); eol != std::string_view::npos) {
      b += eol + 1;
    }
    while (b > 0 && b < at && detail::is_alnum(t[b - 1])) {
      ++b;
    }
    std::size_t e = std::min(t.size(), at + reach);
    if (const std::size_t eol = t.substr(at, e - at).find('\n'); eol != std::string_view::npos) {
      e = at + eol;
    }
    while (e < t.size() && e > at && detail::is_alnum(t[e])) {
      --e;
    }
    if (!windows_.empty() && b <= windows_.back().end) {
      windows_.back().end = std::max(windows_.back().end, e);
    } else {
      windows_.push_back({b, e});
    }
    at = std::max(at, e == 0 ? 0 : e - 1);  // the next digit after this window: each byte read once
  }
  const std::size_t first_pass = scan.findings.size();
  for (const text_span& w : windows_) {
    const std::string_view window = t.substr(w.begin, w.end - w.begin);
    if (!put_back_digits(window, digits_)) {
      continue;
    }
    for (const finding& f : find_all(digits_, checked)) {
      if (window.substr(f.begin, f.end - f.begin) ==
          std::string_view(digits_).substr(f.begin, f.end - f.begin)) {
        continue;  // no letter inside: the text's own finding
      }
      const std::size_t b = w.begin + f.begin;
      const std::size_t e = w.begin + f.end;
      scan.found |= 1u << f.detector;
      if (locate && !covered(scan, b, e, f.detector)) {
        scan.findings.push_back({b, e, f.detector});
      }
    }
  }
  keep_in_order(scan, first_pass);
}

}  // namespace sovgw::classify
