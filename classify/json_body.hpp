#pragma once

// A JSON request body as the cluster will read it. One pass of Boost.JSON's SAX parser
//   - validates the body strictly: UTF-8 without a byte order mark (UTF-16/32 refused), one
//     RFC 8259 JSON text (no comments, no trailing commas), at most max_depth levels, an object;
//   - reads the fields the gateway acts on: the top-level `model` (a string of at most
//     max_model_bytes, no control characters), `stream` and `stream_options.include_usage`
//     (booleans); null counts as absent;
//   - refuses what a gateway read and a cluster read could disagree on: a top-level (or
//     stream_options) key given twice, two keys that differ only in letter case, or a case
//     variant of a field the gateway reads (`Model`, `STREAM`) — keys are compared decoded, so
//     "mod\u0065l" is `model`, and folded the way case-insensitive JSON decoders fold them
//     (ASCII letters, U+017F as `s`, U+212A as `k`);
//   - runs the detectors over the body's *text*: every key and string value, decoded (every
//     escape form: \uXXXX, surrogate pairs, \/, \n ...), and every number as written, in document
//     order, each followed by one '\n' (a finding in a number is not redactable:
//     scan_result::hidden). A string split across parser calls is scanned whole. A string that still holds
//     escapes after decoding (JSON inside JSON: tool call arguments; percent-encoding or HTML character
//     references, \xHH escapes a model reads through) is read again with them decoded; base64 (and
//     hex) in a string that decodes to text ("YWxpY2VAZXhhbXBsZS5jb20=") is read decoded too, and
//     a finding there is the whole run (unescape.hpp: find_base64_texts); markup a model reads through
//     (Markdown emphasis, code marks and backslash escapes, HTML tags and comments) next to a
//     digit or an '@' is read removed (scan_markup);
//   - reads the prose a model is given as one text: the strings under `content`, `text`,
//     `prompt`, `input` and `instructions` (message contents, content parts, prompt and input
//     arrays), in document order, as if joined by line breaks, and the strings of one message's
//     content parts (or of one prompt or input array) again as if joined with nothing, as vLLM's
//     multimodal chat templates join text parts (near each seam only). An identifier split across
//     them ("DE89 3704" and "0044 0532 0130 00", "Send it to alice" and "@example.com") is
//     found, and its pieces are findings in their own strings;
//   - reads the fields that name the user as a person's name when they hold one
//     (detail::names_a_person): a message's `name` beside a `role` that is no tool's or
//     function's (the participant, which the chat template writes into the prompt; not under
//     `tools`, in a tool call, the output's schema or the client's data), and the top-level
//     `user` and `safety_identifier` (scan_user_fields);
//   - finds what a model reads but the gateway cannot (the opaque_content detector, never
//     redactable): token ids where prose is expected (`"prompt": [9906, 1917]`, `"input": [[...]]`);
//     media under any top-level key but the schema and settings of tools and of the output (the
//     keys naming an image, audio, video, embeddings or a document, the file keys, a part whose
//     type is not text: in messages, inputs, vLLM's /score and /rerank fields alike); a markdown
//     image with a data: or http(s): target in any string; and a top-level `chat_template` (or
//     one in `chat_template_kwargs`), `prompt_embeds` or `images` (Ollama) that is not null (a
//     client's own template may rewrite the text, reversed or decoded, before the model reads it).
// Data-plane code: results are values (an error kind, its byte offset and a message), never
// exceptions. Memory: the text is at most the body's size, its two views (prose and the rest)
// together at most the text's, and the window over the prose's seams at most the prose's; nothing
// else grows with the body, and an inspector reused for bodies of the usual shape allocates
// nothing.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "classify/detectors.hpp"
#include "classify/key_set.hpp"
#include "classify/unescape.hpp"

namespace sovgw::classify {

inline constexpr std::size_t max_model_bytes = 256;
inline constexpr std::size_t max_depth = 32;
// How many times a string's text is decoded again for JSON held inside it (tool call arguments):
// each level halves a run of backslashes, and a level is read only while the text still decodes.
inline constexpr std::size_t max_nested_levels = 6;

enum class body_error : std::uint8_t {
  none,
  bom,                 // starts with a UTF-8 byte order mark
  utf16_or_32,         // UTF-16 or UTF-32: their byte order marks, or NUL among the first four bytes
  not_utf8,            // a byte sequence that is not UTF-8 (overlong, surrogate, truncated, ...)
  invalid_json,        // not one strict JSON text
  too_deep,            // nested deeper than max_depth
  not_object,          // the JSON text is not an object
  duplicate_key,       // a top-level (or stream_options) key given twice
  case_variant_key,    // keys equal but for letter case, or a case variant of model/stream/...
  wrong_type,          // model not a string, stream or include_usage not a boolean, ...
  model_too_long,      // model over max_model_bytes
  model_control_char,  // model with a control character, an invisible one or a space before or after it
  model_in_url,        // model with what a URL reads otherwise ('%', '?', '#', a backslash, a "." or ".."
                       // segment): a cluster may put the model into a URL (probe round 39)
  other_models         // models, servers or credentials besides `model` a router may use instead (LiteLLM's
                       // fallbacks, user_config, api_base; OpenRouter's models; "a,b")
};

// Whether `s` is UTF-8 text (RFC 3629) without NUL bytes: text the detectors can read.
[[nodiscard]] bool readable_text(std::string_view s) noexcept;

// What a top-level key (folded: lower case) names that the inspector refuses (body_error::other_models):
// other models a router may run instead of `model` (fallbacks, deployment_id, model_name, ...), or a
// server, credentials, a region or routes for the cluster to use (api_base, api_key, region_name,
// aws_region_name, *_endpoint, ...). A form's fields are refused by the same names
// (gateway/pipeline_classify.cpp).
enum class routing_key : std::uint8_t { none, other_model, client_route };
[[nodiscard]] routing_key routing_key_of(std::string_view key) noexcept;

// The error's name, snake_case ("duplicate_key"); "none" for none.
[[nodiscard]] std::string_view body_error_name(body_error e) noexcept;

// What a model name's variant (after its last ':') asks of the server beyond the model: OpenRouter's
// `:online` its web search (the conversation goes to a search provider), and Ollama's cloud tags
// (`:cloud`, `:120b-cloud`: a signed-in Ollama server runs them on ollama.com, not on itself) send
// the conversation elsewhere (remote_tools); OpenRouter's `:nitro`, `:floor` and `:exacto` a choice
// of provider (refused, as the `provider` key is). For the body's `model` and the one a request
// target names alike; any letter case.
enum class model_variant { plain, calls_out, chooses_provider };
[[nodiscard]] model_variant variant_of_model(std::string_view name) noexcept;

struct body_fields {
  std::string model;  // empty when absent or null
  bool stream = false;
  std::optional<bool> include_usage;  // stream_options.include_usage, when given
  // The Responses API's `background`: the cluster generates after its answer (a `queued` response,
  // or a stream the client may leave), whether or not anyone reads it back.
  bool background = false;
  // The completion's bounds, each 0 when not given (capped at 10^12): which one the cluster honours
  // depends on the endpoint (gateway/usage_meter.hpp, completion_bound); and the largest of n and
  // best_of (choices generated, capped at 10^6).
  std::uint64_t max_tokens = 0;
  std::uint64_t max_completion_tokens = 0;
  std::uint64_t max_output_tokens = 0;
  std::uint64_t max_prompt_tokens = 0;  // an Assistants run's (its thread is the prompt)
  std::uint64_t max_new_tokens = 0;  // TGI's and SGLang's (top level, parameters, sampling_params)
  std::uint64_t n_predict = 0;       // llama.cpp's, which it reads before max_tokens on every endpoint
  std::uint64_t num_predict = 0;     // Ollama's (options.num_predict)
  // A negative n_predict or options.num_predict: llama.cpp and Ollama then generate without a
  // bound (-1: until a stop, -2: until the context is full), whatever max_tokens says.
  bool n_predict_unbounded = false;
  bool num_predict_unbounded = false;
  std::uint64_t choices = 0;  // also n and best_of in parameters or sampling_params
  // The prompts of a batch (capped at 10^6): the elements of a top-level `prompt`, `text` or
  // `input_ids` array that are strings, arrays (token ids) or objects (llama.cpp's multimodal
  // prompts). vLLM, the legacy OpenAI API, llama.cpp and SGLang complete each one on its own. 0
  // when the value is not such an array (one prompt, a flat array of token ids included).
  std::uint64_t prompts = 0;
  // A top-level `inputs` (any letter case): what Mistral's Conversations API generates from when it
  // starts, appends to or restarts a conversation (gateway/pipeline_classify.cpp).
  bool inputs = false;
};

// What the detectors found in a body.
struct scan_result {
  std::uint32_t ran = 0;    // the detectors asked for (bit i = detector_names[i])
  std::uint32_t found = 0;  // those that found something
  // Where, when asked (inspect_options::locate), ordered by position. With `decoded`, offsets
  // are into the body's decoded text (see above), else into the raw body bytes.
  std::vector<finding> findings;
  // Found only in a string's nested escapes (JSON inside a JSON string, "%40", "&#64;", see
  // json_inspector::scan_nested) where a span to redact would cut through a quote, or in a
  // number's digits, and opaque_content: in `found`, not in `findings`, and not redactable in place.
  std::uint32_t hidden = 0;
  bool decoded = false;  // the body was inspected as JSON (and can be redacted by redact())
  bool located = false;  // findings were listed (inspect_options::locate)
};

struct inspection {
  body_error error = body_error::none;
  std::size_t offset = 0;  // byte offset into the body where the error was found
  std::string message;     // for the client: what is wrong and where
  body_fields fields;
  scan_result scan;  // detectors run only when the body is valid

  [[nodiscard]] bool ok() const noexcept { return error == body_error::none; }
};

struct inspect_options {
  std::uint32_t detectors = 0;  // run over the decoded text
  bool locate = false;          // also list every finding (for redact())
};

// Where a string's decoded text sits in json_inspector::text().
struct text_span {
  std::size_t begin = 0;
  std::size_t end = 0;
  // For prose: where a server puts it in the prompt it builds, whatever the key order
  // (json_body.cpp, prompt_place): 0 before the rest (a system prompt, instructions), 1 the rest, 2
  // after it (a completion's suffix).
  std::uint8_t place = 1;
};

// A string value that names the user (json_inspector::scan_user_fields), and whether a name of
// one word counts there.
struct user_field {
  text_span span;
  bool one_word = false;
};

// One per thread (not thread-safe); reusing it reuses its buffers.
class json_inspector {
 public:
  // Inspects `body`; `out` is overwritten (its buffers are reused).
  void inspect(std::string_view body, const inspect_options& options, inspection& out);
  [[nodiscard]] inspection inspect(std::string_view body, const inspect_options& options) {
    inspection out;
    inspect(body, options, out);
    return out;
  }
  // The decoded text of the last valid body inspected with detectors (empty otherwise); valid
  // until the next inspect().
  [[nodiscard]] std::string_view text() const noexcept { return text_; }
  // What the detectors in `detectors` find in `text` read as one JSON string value's decoded text
  // is read: as written, with what a model reads through decoded (read_through_forms, scan_nested's
  // levels, quoted-printable), markup and line wraps inside identifiers read removed
  // (scan_markup), letters written for digits, base64 and hex that spell text. For text a model
  // reads that is not in a JSON body: a body that is not JSON, a form field, a multipart part, the
  // request target, header fields (gateway/pipeline_classify.cpp). Nothing is located; text() is
  // `text` afterwards.
  [[nodiscard]] std::uint32_t read_text(std::string_view text, std::uint32_t detectors);

 private:
  void scan_text(std::uint32_t which, bool locate, scan_result& scan);
  void scan_glued(const std::vector<text_span>& prose, std::uint32_t which, bool locate, scan_result& scan);
  void scan_seams(std::uint32_t which, bool locate, scan_result& scan);
  void scan_decoded_seams(std::uint32_t which, bool locate, scan_result& scan);
  void scan_nested(std::uint32_t which, bool locate, scan_result& scan);
  [[nodiscard]] std::uint8_t scan_decoded(std::uint8_t forms, std::uint32_t which, bool locate,
                                          scan_result& scan);
  void scan_nested_numbers(std::string_view level, std::uint32_t which, bool locate, scan_result& scan) const;
  void scan_markup(std::uint32_t which, bool locate, scan_result& scan);
  void scan_patterns(std::uint32_t which, bool locate, scan_result& scan);
  // What a constraint makes the model write (reading) joined with the prose next to it, the
  // prompt's end and a structural tag's literals (json_body.cpp).
  void scan_pattern_seams(std::string_view reading, const text_span& pattern, std::uint32_t which,
                          scan_result& scan);
  void scan_lookalike_digits(std::uint32_t which, bool locate, scan_result& scan);
  void scan_base64(std::uint32_t which, bool locate, scan_result& scan);
  void scan_user_fields(std::uint32_t which, bool locate, scan_result& scan);
  void hide_findings_in_numbers(scan_result& scan) const;
  [[nodiscard]] bool crosses_strings(std::size_t b, std::size_t e) const;
  [[nodiscard]] text_span string_at(std::size_t at) const;

  // A piece of a view of text_ (scan_text()): view[view_begin, +length) = text_[text_begin, +length).
  struct segment {
    std::size_t view_begin = 0;
    std::size_t text_begin = 0;
    std::size_t length = 0;
  };
  // Whether view[b, e) (text_ itself when segments is null) runs from one string into the next.
  [[nodiscard]] bool crosses_in(const std::vector<segment>* segments, std::size_t b, std::size_t e) const;
  // `found` without the e-mail bit when every address in `view` runs from one string into the next.
  [[nodiscard]] std::uint32_t email_within_strings(std::uint32_t found, const std::string& view,
                                                   const std::vector<segment>* segments) const;

  std::string text_;
  std::vector<std::uint64_t> ends_;  // bit i: text_[i] is the '\n' that ends a string (or number)
  std::vector<text_span> prose_;     // the prose strings' spans in text_, in document order
  std::vector<text_span> prompt_order_;  // prose_ in the order a server builds its prompt, if another
  std::vector<text_span> numbers_;   // the numbers' spans in text_, in document order
  std::vector<user_field> user_fields_;  // the strings that name the user (scan_user_fields)
  std::vector<text_span> patterns_;      // the output constraints' regexes and grammars (scan_patterns)
  unescaped_text pattern_reading_;
  std::string digits_;  // a window with letters written for digits put back (scan_lookalike_digits)
  std::string joined_;               // the prose strings, each with its '\n'
  std::string rest_;                 // the rest of text_
  std::vector<segment> joined_segments_;
  std::vector<segment> rest_segments_;
  std::string glued_;  // a window over the seams of a group of prose strings (scan_glued)
  std::vector<segment> glued_segments_;
  unescaped_text nested_[2];
  std::vector<std::uint32_t> marks_;  // where markup starts in text_ (scan_markup)
  std::vector<text_span> windows_;    // the text around it that is read without it
  unescaped_text unmarked_;           // the windows, unmarked, one text
  unescaped_text window_;
  std::vector<base64_text> base64_;
  std::string fold_buffer_;
  detail::key_set keys_;         // the top level's
  detail::key_set option_keys_;  // stream_options'
};

// The `redact` obligation on a body that inspect() accepted: what the detectors in `which` found
// (`findings`, from inspect() with locate, in decoded-text coordinates) is replaced with
// "[redacted:<detector>]" in the decoded strings, which are then re-encoded as JSON (the
// document is re-serialised: whitespace between tokens goes, numbers are kept as written).
// A finding that straddles strings is replaced piece by piece, in each string; findings that
// overlap an earlier one are left, and so is the top-level model (the name the request was routed by; it is
// bounded and detected, never rewritten). Redacted top-level keys may come out equal, or equal but for case
// ("a [redacted:email]" twice): never a key the gateway reads. Returns how many findings were replaced; with
// none (or a body that is not valid JSON) `body` is left as it is.
std::size_t redact(std::string& body, std::span<const finding> findings, std::uint32_t which);

}  // namespace sovgw::classify
