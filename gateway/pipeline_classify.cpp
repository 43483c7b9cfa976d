// The classify stage, kept apart from pipeline.cpp: the body read the way the cluster will read it
// (JSON decoded by the inspector, anything else scanned as text or refused), the request target
// and forwarded header fields read by the detectors, the model settled between body and target,
// and a client's Content-Digest checked against the body.
#include "gateway/pipeline_classify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "classify/detectors.hpp"
#include "classify/fold.hpp"
#include "classify/form_fields.hpp"
#include "classify/json_body.hpp"
#include "classify/json_edit.hpp"
#include "classify/media_type.hpp"
#include "classify/mime_decoding.hpp"
#include "classify/multipart.hpp"
#include "classify/unescape.hpp"
#include "common/ascii.hpp"
#include "common/printable.hpp"
#include "common/utf8.hpp"
#include "crypto/content_digest.hpp"
#include "crypto/structured_field.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/usage_meter.hpp"

namespace sovgw::gateway {

namespace {

// One inspector per thread: its buffers are reused from request to request.
classify::json_inspector& thread_inspector() {
  static thread_local classify::json_inspector inspector;
  return inspector;
}

}  // namespace

namespace {
std::string conversation_model_work(const http::message_head& head, const classify::body_fields& f);
}  // namespace

// The body as JSON (see classify/json_body.hpp): the fields the gateway routes on and what the
// detectors find in the decoded strings; 400 for a body the cluster could read differently.
stage_result inspect_json(request_context& ctx, std::uint32_t detectors, bool locate) {
  static thread_local classify::inspection result;
  thread_inspector().inspect(ctx.body, {detectors, locate}, result);
  if (!result.ok()) {
    using enum classify::body_error;
    const classify::body_error e = result.error;
    const bool not_json = e == bom || e == utf16_or_32 || e == not_utf8 || e == invalid_json || e == too_deep;
    return stage_result::respond(not_json ? outcome::invalid_json : outcome::invalid_body, result.message);
  }
  ctx.model = result.fields.model;
  ctx.stream = result.fields.stream;
  ctx.background = result.fields.background && http::path_ends_with(ctx.head, "/responses");
  ctx.include_usage = result.fields.include_usage;
  ctx.completion_bound = completion_bound(ctx.head, result.fields);
  ctx.completion_bound_field = completion_bound_field(ctx.head, result.fields);
  ctx.completions = completions(ctx.head, result.fields);
  ctx.prompt_bound = prompt_bound(ctx.head, result.fields);
  ctx.scan = std::move(result.scan);
  if (const std::string why = conversation_model_work(ctx.head, result.fields); !why.empty()) {
    return stage_result::respond(outcome::invalid_body, why);
  }
  return stage_result::next();
}

namespace {

// Whether a body is text a server may parse as JSON whatever its label says: its first
// character (after a byte order mark and white space) opens an object or an array, in UTF-8,
// UTF-16 or UTF-32.
// Whether, read as code units of `width` bytes (1, 2 or 4; `big_endian` for the byte order), the
// body's first character after white space opens an object or an array. White space as lenient
// parsers skip it, not only JSON's four: form feed, vertical tab, JSON text sequences' record
// separator, and in UTF-8 a no-break space, U+2028, U+2029 and byte order marks (Json.NET, JSON5 and
// .NET's char.IsWhiteSpace readers skip them; probe round 24: such a body went unread as JSON).
bool opens_json(std::string_view body, std::size_t width, bool big_endian) {
  for (std::size_t at = 0; at + width <= body.size(); at += width) {
    const std::size_t ascii = big_endian ? at + width - 1 : at;
    for (std::size_t i = at; i < at + width; ++i) {
      if (i != ascii && body[i] != '\0') {
        return false;
      }
    }
    const char c = body[ascii];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v' || c == '\x1e') {
      continue;
    }
    if (width == 1) {
      const std::string_view rest = body.substr(at);
      if (rest.starts_with("\xc2\xa0")) {
        at += 1;  // U+00A0
        continue;
      }
      if (rest.starts_with("\xe2\x80\xa8") || rest.starts_with("\xe2\x80\xa9") ||
          rest.starts_with("\xef\xbb\xbf")) {
        at += 2;  // U+2028, U+2029, U+FEFF
        continue;
      }
    }
    return c == '{' || c == '[';
  }
  return false;
}

bool looks_like_json(std::string_view body) {
  if (body.starts_with("\xef\xbb\xbf")) {
    body.remove_prefix(3);
  } else if (body.starts_with("\xff\xfe") || body.starts_with("\xfe\xff") ||
             body.starts_with(std::string_view("\0\0\xfe\xff", 4))) {
    return true;  // UTF-16 or UTF-32 text of any kind: nothing the detectors can read
  }
  // UTF-8, and UTF-16 and UTF-32 in either byte order without a mark, white space first or not
  // (Python's json.loads reads them all, by where the first bytes are NUL).
  return opens_json(body, 1, false) || opens_json(body, 2, false) || opens_json(body, 2, true) ||
         opens_json(body, 4, false) || opens_json(body, 4, true);
}

}  // namespace

// The body as its server's MIME reader decodes it (classify/multipart.hpp), by its Content-Type:
// a multipart body's parts, a message, the charset of any other.
const classify::mime_reading& read_mime_body(const request_context& ctx) {
  static thread_local classify::mime_reader reader;
  static thread_local classify::mime_reading reading;
  const auto type = std::find_if(ctx.head.fields.begin(), ctx.head.fields.end(),
                                 [](const http::field& f) { return f.id == http::field_id::content_type; });
  reader.read(ctx.body, type != ctx.head.fields.end() ? std::string_view(type->value) : std::string_view(),
              reading);
  return reading;
}

namespace {

// Whether `decoded`, `layer` decoded, holds a byte that is not UTF-8 where `layer` percent-encodes
// one (an escape of another form, "\xC1", is code a model reads as written).
bool percent_encodes_non_utf8(std::string_view layer, const classify::unescaped_text& decoded) {
  const std::string_view text = decoded.text;
  for (std::size_t from = 0; from < text.size();) {
    const std::size_t bad = first_invalid_utf8(text.substr(from));
    if (bad == std::string_view::npos) {
      return false;
    }
    if (layer[decoded.origin[from + bad]] == '%') {
      return true;
    }
    from += bad + 1;
  }
  return false;
}

// What the detectors find in text a server may decode, read as the JSON inspector reads a JSON
// string's text (json_inspector::read_text: the escapes and markup a model reads through, base64
// and hex that spell text; probe round 38: only some of them were), as written and with
// percent-encoding ('+' as a space) and the rest of read_through_forms decoded, again while that
// changes it, up to three times, as a server decodes a form or a query and the JSON inspector
// reads JSON in a string in JSON (a batch line's tool call arguments, probe round 29).
std::uint32_t scan_text(std::string_view text, std::uint32_t detectors) {
  static thread_local classify::unescaped_text layers[2];
  constexpr std::uint8_t forms = classify::read_through_forms | classify::plus_as_space;
  classify::json_inspector& reader = thread_inspector();
  std::uint32_t found = reader.read_text(text, detectors);
  std::string_view layer = text;
  for (std::size_t depth = 0; depth < 3; ++depth) {
    classify::unescaped_text& next = layers[depth % 2];
    if (!classify::unescape(layer, forms, next)) {
      break;
    }
    // Percent-encoded bytes that are not UTF-8 ("%C1%80", an overlong '@'): what a lenient decoder
    // passes on is not text the gateway reads, as the same bytes sent raw are not (probe round 46).
    if (percent_encodes_non_utf8(layer, next)) {
      found |= detectors & classify::bit(classify::detector::opaque_content);
    }
    found |= reader.read_text(next.text, detectors);
    layer = next.text;
  }
  return found | classify::detect_encoded(text, detectors);
}

}  // namespace

// A body that is not labelled JSON, on a path that is not a JSON endpoint: a server may still
// parse it as JSON (many ignore the label) or decode it as a form. The detectors read its bytes,
// its decoded strings when it is strict JSON, its text with JSON escapes, percent-encoding and
// HTML character references decoded, and base64 that decodes to text; a body that looks like
// JSON but is not strict JSON is refused, since a lenient parser could read it differently. Such
// a body cannot be redacted. A body that is not UTF-8 text (an image, an archive), or holds binary
// data written as text (classify/mime_decoding.hpp: data: URIs, long base64), is opaque_content.
// What its server's MIME reader decodes (`parts`, read here when null) is read too: a multipart
// body's part header values and decoded contents; what that reader cannot decode is refused (415).
stage_result scan_raw(request_context& ctx, std::uint32_t detectors, bool model_decides,
                      const classify::mime_reading* parts) {
  ctx.scan = {};
  ctx.scan.ran = detectors;
  ctx.scan.located = true;
  const bool json_like = looks_like_json(ctx.body);
  if (detectors == 0 && !json_like) {
    return stage_result::next();
  }
  static thread_local classify::written_binary in_body;
  static thread_local classify::written_binary in_parts;
  if (detectors != 0) {
    parts = parts != nullptr ? parts : &read_mime_body(ctx);
    if (!parts->ok()) {
      return stage_result::respond(parts->error == classify::mime_error::content_encoding
                                       ? outcome::unsupported_content_encoding
                                       : outcome::unsupported_media_type,
                                   parts->message);
    }
    ctx.scan.found = classify::detect(ctx.body, detectors);
    classify::read_written_binary(ctx.body, in_body);
    classify::read_written_binary(parts->text, in_parts);
    if (!classify::readable_text(ctx.body) || parts->opaque || in_body.found || in_parts.found) {
      ctx.scan.found |= detectors & classify::bit(classify::detector::opaque_content);
    }
  }
  static thread_local classify::inspection as_json;
  thread_inspector().inspect(ctx.body, {detectors, false}, as_json);
  if (as_json.ok()) {
    ctx.scan.found |= as_json.scan.found;
    // Many servers parse a body as JSON whatever its label (Ollama's /api/chat with text/plain):
    // the model it names is the model they run, and the one the policy decides.
    if (!as_json.fields.model.empty()) {
      ctx.model = as_json.fields.model;
    }
    ctx.completion_bound = completion_bound(ctx.head, as_json.fields);
    ctx.completion_bound_field = completion_bound_field(ctx.head, as_json.fields);
    ctx.completions = completions(ctx.head, as_json.fields);
    ctx.prompt_bound = prompt_bound(ctx.head, as_json.fields);
    return stage_result::next();
  }
  // Not strict JSON, but a server that parses bodies whatever their label may read it as JSON
  // anyway, its own way: the model it takes from `{"model":"a","model":"b"}` or beside a
  // `fallbacks` list is not one the policy (or a tenant's model limit) can decide. Without them, nothing
  // depends on it: forwarded as it is.
  if (json_like && (detectors != 0 || model_decides)) {
    using enum classify::body_error;
    const classify::body_error e = as_json.error;
    if (e == other_models || e == wrong_type || e == model_too_long || e == model_control_char ||
        e == model_in_url) {
      // Strict JSON, refused for what it says (a server, a credential or a route named, a model
      // that is not one name): the inspector's own reason, as on the API (probe round 29: called
      // "not strict JSON").
      return stage_result::respond(outcome::invalid_body, as_json.message);
    }
    return stage_result::respond(
        outcome::invalid_json,
        fmt::format("the request body looks like JSON but is not strict UTF-8 JSON ({}); a cluster could "
                    "read it differently from the gateway: send strict JSON (RFC 8259)",
                    as_json.message));
  }
  if (detectors == 0) {
    return stage_result::next();  // no detectors to answer to: forwarded as it is
  }
  ctx.scan.found |= scan_text(ctx.body, detectors);
  // A form field given more than once, read as one text as its server lists it (probe round 46):
  // a form-urlencoded body's (by its shape, whatever its label), a multipart body's parts'.
  static thread_local classify::form_field_joiner fields;
  static thread_local std::string repeated;
  repeated.clear();
  if (!parts->multipart) {
    classify::join_repeated_form_fields(ctx.body, fields, repeated);
  }
  for (const std::string_view decoded :
       {std::string_view(parts->text), std::string_view(in_body.text), std::string_view(in_parts.text),
        std::string_view(parts->repeated), std::string_view(repeated)}) {
    if (!decoded.empty()) {
      ctx.scan.found |= scan_text(decoded, detectors);
    }
  }
  return stage_result::next();
}

// One segment of a request path, with the two before it (empty at the start) and where it ends.
struct path_step {
  std::string_view before;
  std::string_view previous;
  std::string_view segment;
  std::size_t end = 0;
};

// Calls visit(step) for each non-empty segment of `path` in order until it returns true; returns
// whether one did. `last`, if given, is left at the last segment's step.
template <typename Visit>
bool any_segment(std::string_view path, Visit&& visit, path_step* last = nullptr) {
  path_step step;
  for (std::size_t at = 1; at <= path.size();) {
    step.end = std::min(path.find('/', at), path.size());
    step.segment = path.substr(at, step.end - at);
    if (!step.segment.empty()) {
      if (visit(std::as_const(step))) {
        return true;
      }
      if (last != nullptr) {
        *last = step;
      }
      step.before = step.previous;
      step.previous = step.segment;
    }
    at = step.end + 1;
  }
  return false;
}

// Whether the target reads back or acts on content the cluster stores, by its id: a stored
// response or chat completion (/responses/{id}, /responses/{id}/input_items,
// /chat/completions/{id}/messages), a conversation's items, a file's content, an Assistants
// thread, a vector store, a batch, an upload, a container, an eval's runs, a generated video (its
// content, a remix of it); and a collection of them read (GET /v1/chat/completions, GET /v1/files,
// GET /v1/videos). The gateway never sees that content;
// where clusters share a store, a conversation first held in the EU would be read elsewhere: the
// same as naming it in the body (previous_response_id, docs/policy.md).
bool names_stored_object(const http::message_head& head) {
  static constexpr std::string_view collections[] = {"responses",     "conversations", "threads", "files",
                                                     "vector_stores", "assistants",    "batches", "uploads",
                                                     "containers",    "fine_tuning",   "evals",
                                                     "videos"};
  const auto collection = [](std::string_view before, std::string_view name) {
    return std::any_of(std::begin(collections), std::end(collections),
                       [&](std::string_view c) { return ascii_iequals(name, c); }) ||
           (ascii_iequals(before, "chat") && ascii_iequals(name, "completions"));
  };
  // The collection's name, then an id (or a sub-resource: /threads/runs).
  path_step last;
  if (any_segment(
          http::target_path(head), [&](const path_step& s) { return collection(s.before, s.previous); },
          &last)) {
    return true;
  }
  // Or the collection itself, read: GET /v1/chat/completions lists the stored ones, messages too.
  return (head.method == "GET" || head.method == "HEAD") && collection(last.previous, last.segment);
}

// What a cluster reads besides the body: the request target (path and query, also
// percent-decoded with '+' as a space, as a server reads a query) and every header field the
// gateway forwards as the client wrote it. A cluster's logs keep `?user=alice%40example.com` or
// `X-Customer: alice@example.com` as surely as a prompt, so the detectors read them too: one
// line each, so that no finding runs from one into the next; base64 and hex that spell text
// (an RFC 2047 encoded word, a query value) decoded too. Nothing there can be redacted.
namespace {
// The model a request target names (model_in_path): `unclear` says why the target names one that
// cannot be read as one name, which servers would read differently (the request is refused), and
// is empty when it can; `model` is then what the target holds there.
struct target_model {
  std::string_view model;
  std::string_view unclear;
};
target_model model_in_path(const http::message_head& head);
bool target_calls_out(const http::message_head& head);
}  // namespace

namespace {
// Whether `text` writes a quoted-printable escape ("=40", "=2E").
bool has_quoted_printable(std::string_view text) {
  for (std::size_t at = text.find('='); at != std::string_view::npos && at + 2 < text.size();
       at = text.find('=', at + 1)) {
    if (hex_digit_value(text[at + 1]) >= 0 && hex_digit_value(text[at + 2]) >= 0) {
      return true;
    }
  }
  return false;
}
}  // namespace

std::uint32_t scan_head(const http::message_head& head, std::uint32_t detectors) {
  static thread_local std::string text;
  static thread_local classify::unescaped_text decoded;
  text.assign(head.target);
  text += '\n';
  using enum classify::unescape_forms;
  bool unreadable = false;  // the target's percent-encoding writes bytes that are not UTF-8
  if (classify::unescape(head.target, percent_encoding | plus_as_space, decoded)) {
    unreadable = percent_encodes_non_utf8(head.target, decoded);
    text += decoded.text;
    text += '\n';
  }
  const auto forwarded = [&](const http::field& f) {
    return !http::never_forwarded(f.id) && !http::is_hop_by_hop(head, f);
  };
  for (std::size_t i = 0; i < head.fields.size(); ++i) {
    const http::field& f = head.fields[i];
    if (!forwarded(f)) {
      continue;
    }
    text += f.name;
    text += ": ";
    text += f.value;
    text += '\n';
    // A field given more than once is also read as a server or a logger joins it (RFC 9110
    // 5.3): "X-Iban: GB82 WEST" and "X-Iban: 1234 5698 7654 32" are one IBAN there.
    const auto same = [&](const http::field& g) { return forwarded(g) && ascii_iequals(g.name, f.name); };
    if (std::none_of(head.fields.begin(), head.fields.begin() + static_cast<std::ptrdiff_t>(i), same) &&
        std::any_of(head.fields.begin() + static_cast<std::ptrdiff_t>(i) + 1, head.fields.end(), same)) {
      text += f.name;
      text += ": ";
      text += f.value;
      for (std::size_t j = i + 1; j < head.fields.size(); ++j) {
        if (same(head.fields[j])) {
          text += ", ";
          text += head.fields[j].value;
        }
      }
      text += '\n';
    }
  }
  // Escapes a server, a logger or a mail library decodes, once or twice: "?u=alice%2540example.com",
  // "X-Customer: alice&#64;example.com", an RFC 2047 Q word "=?UTF-8?Q?alice=40example.com?=".
  // Up to three layers, each read as well as what it was decoded from. Quoted-printable in a
  // reading of its own: in the same pass, "baggage: card=4111%201111..." would lose its "=41".
  // RFC 2047 encoded words, as mail and log libraries decode them (probe round 26).
  if (std::optional<std::string> words = classify::decode_encoded_words(text)) {
    text += *words;
    text += '\n';
  }
  const std::size_t written = text.size();
  const auto read_layers = [&](std::uint8_t forms) {
    std::size_t from = 0;
    std::size_t to = written;
    for (int depth = 0; depth < 3; ++depth) {
      if (!classify::unescape(std::string_view(text).substr(from, to - from), forms, decoded)) {
        break;
      }
      from = text.size();
      text += decoded.text;
      text += '\n';
      to = text.size();
    }
  };
  read_layers(classify::read_through_forms);
  if (has_quoted_printable(text)) {  // as written, or once decoded ("%3D40")
    read_layers(classify::read_through_forms | quoted_printable);
  }
  // And what base64 and hex spell: "=?UTF-8?B?...?=", ?q=<base64>.
  // A stored object named in the target; a model variant there that sends the conversation elsewhere
  // (OpenRouter's `:online`, Ollama's `:cloud`), as the body's model would, or a target that has the
  // cluster send the request on (target_calls_out).
  const std::uint32_t opaque = classify::bit(classify::detector::opaque_content);
  const std::uint32_t remote = classify::bit(classify::detector::remote_tools);
  // Read as the JSON inspector reads a string's text (markup a model reads through, above all).
  return thread_inspector().read_text(text, detectors) | classify::detect_encoded(text, detectors) |
         ((detectors & opaque) != 0 && (names_stored_object(head) || unreadable) ? opaque : 0) |
         ((detectors & remote) != 0 && (classify::variant_of_model(model_in_path(head).model) ==
                                            classify::model_variant::calls_out ||
                                        target_calls_out(head))
              ? remote
              : 0);
}

// The redacted detectors that still find something in the redacted body.
std::uint32_t remaining_after_redaction(std::string_view body, std::uint32_t redacted) {
  static thread_local classify::inspection again;
  thread_inspector().inspect(body, {redacted, false}, again);
  return again.ok() ? again.scan.found & redacted : redacted;
}

namespace {

stage_result unsupported_media_type(std::string message) {
  return stage_result::respond(outcome::unsupported_media_type, std::move(message));
}

// The endpoints that run a model, by how their path ends, under any prefix (/v1, none as LiteLLM
// serves them, /openai/v1, /api/v1, /ollama) and in any case, with a trailing slash, as routers
// fold them: the OpenAI API's (chat and text completions, embeddings, responses, moderations,
// image and video generation, speech; transcriptions and image edits are multipart, which the gateway
// does not read: refused as not JSON), Anthropic's messages, Ollama's and Cohere's chat and embed,
// TGI's and SGLang's generate, vLLM's pooling, scoring, reranking, classification and tokenizer,
// SageMaker's invocations, TEI's embed and predict, Triton's infer, Replicate's predictions; an
// Assistants run (.../threads/runs, .../threads/{id}/runs), whose `model` the API takes over the
// assistant's, and a fine-tuning job (/fine_tuning/jobs), which trains the model it names. A body
// there that names no model ("model" absent, null or "") would be served by whatever model the
// cluster defaults to or stored with the object it names (an assistant's, probe round 40), which no
// model rule of the policy or of a tenant's limits saw. The endpoints that start or continue model
// work without a field to name it are refused whatever the body says: unnamed_model_work below.
bool runs_a_model(const http::message_head& head) {
  static constexpr std::string_view endings[] = {
      "/completions", "/embeddings", "/responses", "/moderations", "/audio/speech", "/audio/transcriptions",
      "/audio/translations", "/images/edits", "/images/variations", "/videos", "/v1/messages",
      "/messages/count_tokens", "/chat", "/generate", "/generate_stream", "/embed", "/embed_sparse",
      "/embed_all", "/invocations", "/rerank", "/score", "/pooling", "/classify", "/tokenize", "/detokenize",
      "/encode", "/predict", "/infer", "/predictions",
      // llama.cpp's server's own
      "/completion", "/infill", "/embedding", "/reranking",
      // TGI's Vertex route, TEI's similarity, Anthropic's legacy completions, LocalAI's speech,
      // text-to-speech and sound generation (ElevenLabs' API, which LocalAI serves), summaries
      "/vertex", "/similarity", "/complete", "/tts", "/sound-generation", "/summarize",
      // LocalAI's: an empty model there is filled with the server's first model of the kind, or a
      // fixed one (/v1/edits runs "gpt-4o"; probe round 49): edits, image and video generation
      // (/v1/videos/generations, /video), inpainting, object detection, voice activity detection.
      // Not whisper.cpp's /inference: its server runs the one model it loaded, which no request
      // can name (a form body, read off the API).
      "/edits", "/generations", "/video", "/inpainting", "/detection", "/vad"};
  if (starts_assistants_run(head) || http::path_ends_with(head, "/fine_tuning/jobs")) {
    return true;
  }
  if (std::any_of(std::begin(endings), std::end(endings),
                  [&](std::string_view suffix) { return http::path_ends_with(head, suffix); })) {
    // Not an upload's completion (/v1/uploads/{id}/complete): a stored object's action runs no
    // model (probe round 29: "the request names no model").
    return !http::path_ends_with(head, "/complete") || !names_stored_object(head);
  }
  // TGI generates at its root (POST /, as /generate or /generate_stream); ElevenLabs' speech
  // endpoints take the voice after them (/v1/text-to-speech/{voice_id}[/stream]).
  const std::string_view path = http::target_path(head);
  return (path == "/" && head.method == "POST") || any_segment(path, [](const path_step& s) {
           return ascii_iequals(s.segment, "text-to-speech") || ascii_iequals(s.segment, "speech-to-speech");
         });
}

// The other half of runs_a_model: a POST that starts or continues model work on a model the
// request has no field to name, so that no rule of the policy or of a tenant's limits could decide
// it and its audit record could not name it (probe round 40). Returns why it is refused and what to
// do instead, empty for any other request. Under any prefix and in any case, as runs_a_model.
//  - A batch (/batches; Anthropic's /messages/batches too): it runs the requests of an input file
//    the gateway never sees, each with the model it names.
//  - An Assistants run's tool outputs (.../runs/{run_id}/submit_tool_outputs): the run goes on with
//    the model it was started with. The gateway keeps no state of the runs it let start, so it
//    cannot tell that model, nor whether the run started through it, for this tenant (every tenant
//    reaches a cluster with the gateway's credential, so one can continue another's run) or under
//    the policy in force now: continuing it would run a model no rule decided for this request.
//  - A fine-tuning job's resumption (/fine_tuning/jobs/{id}/resume): it trains the job's model
//    again, the same way.
//  - A video's remix (/videos/{id}/remix): the video's model generates again.
//  - A stored agent's, task's or job's execution (LocalAI's /api/agent/jobs/execute,
//    /api/agent/tasks/{name}/execute): the model, prompt and tools stored with it run.
// Not model work: cancelling or pausing, reading back (a run's steps, a response, a stored chat
// completion, an eval's runs), an assistant's creation (it names its model; a run of it must too).
// Vector stores' files and file batches and their search run the cluster's own embedding model,
// which no request of the API chooses: no tenant can pick a model through them (docs/http.md).
std::string_view unnamed_model_work(const http::message_head& head) {
  if (head.method != "POST") {
    return {};
  }
  path_step last;
  any_segment(
      http::target_path(head), [](const path_step&) { return false; }, &last);
  if (ascii_iequals(last.segment, "batches")) {
    return "a batch runs the requests of its input file, each with the model it names, and the gateway "
           "never sees that file: no rule decides those models or that content; send each request "
           "through the gateway";
  }
  if (ascii_iequals(last.segment, "submit_tool_outputs")) {
    return "tool outputs continue an Assistants run with the model it was started with, which the gateway "
           "cannot know (it keeps no state of runs; a run may have started for another tenant, under "
           "another policy or outside the gateway), so no rule decides it for this request; send the "
           "tool outputs in a new request naming \"model\": a Responses API request with "
           "function_call_output items, or chat completions with tool messages";
  }
  if (ascii_iequals(last.segment, "resume") && ascii_iequals(last.before, "jobs")) {
    return "resuming a fine-tuning job trains the job's model again, which the request cannot name, so no "
           "rule decides it for this request; create a new job (POST /v1/fine_tuning/jobs) naming "
           "\"model\"";
  }
  if (ascii_iequals(last.segment, "restart") && ascii_iequals(last.before, "conversations")) {
    return "restarting a conversation (Mistral's Conversations API) generates with the model stored with it, "
           "which the request cannot name, so no rule decides it for this request; start a new conversation "
           "naming \"model\", with the entries to keep in \"inputs\"";
  }
  if (ascii_iequals(last.segment, "execute")) {
    return "executing a stored agent, task or job (LocalAI's /api/agent/.../execute) runs the model, "
           "prompt and tools stored with it, which the request cannot name, so no rule decides it for this "
           "request; send the prompt in a request naming \"model\" (POST /v1/chat/completions)";
  }
  if (ascii_iequals(last.segment, "remix") && ascii_iequals(last.before, "videos")) {
    return "a remix generates with the model of the video it remixes, which the request cannot name, so no "
           "rule decides it for this request; create a new video (POST /v1/videos) naming \"model\"";
  }
  return {};
}

// Mistral's Conversations API generates from a top-level `inputs`: POST .../conversations starts a
// conversation with the `model` it names (or an agent's, refused as `agent_id` is), POST
// .../conversations/{id} appends to one with the model stored with it, which the request cannot
// name (OpenAI's Conversations API shares these paths: it creates with `items` and updates
// `metadata`, and runs no model). Probe round 44: both were forwarded with no model decided.
std::string conversation_model_work(const http::message_head& head, const classify::body_fields& f) {
  if (head.method != "POST" || !f.inputs) {
    return {};
  }
  path_step last;
  any_segment(
      http::target_path(head), [](const path_step&) { return false; }, &last);
  if (ascii_iequals(last.previous, "conversations")) {
    return "the request runs a model it cannot name: appending \"inputs\" to a conversation (Mistral's "
           "Conversations API) generates with the model stored with it, so no rule decides it for this "
           "request; start a new conversation naming \"model\", with the history in \"inputs\"";
  }
  if (ascii_iequals(last.segment, "conversations") && f.model.empty()) {
    return "the request names no model: a conversation started with \"inputs\" generates; set \"model\" to "
           "the model to run";
  }
  return {};
}

// Where the ':' that starts the method of a `{resource}:{method}` path segment is: the last ':', or
// a later %3A, which a server decodes; npos when there is none.
std::size_t method_colon(std::string_view segment) {
  std::size_t colon = segment.rfind(':');
  for (std::size_t i = colon == std::string_view::npos ? 0 : colon; i + 3 <= segment.size(); ++i) {
    if (segment[i] == '%' && segment[i + 1] == '3' && ascii_lower(segment[i + 2]) == 'a') {
      colon = i;
    }
  }
  return colon;
}

// A target in the `{collection}/{id}:{method}` shape of Google's and KServe's APIs whose method
// runs a model (in any case): `id` and `collection` are what precede it, `method` empty for any
// other target. A trailing '/' aside, as routers fold it.
struct model_method_target {
  std::string_view collection;
  std::string_view id;
  std::string_view method;
};
model_method_target model_method_of(const http::message_head& head) {
  static constexpr std::string_view methods[] = {"generateContent",
                                                 "streamGenerateContent",
                                                 "batchGenerateContent",
                                                 "predict",
                                                 "rawPredict",
                                                 "streamRawPredict",
                                                 "serverStreamingPredict",
                                                 "streamingPredict",
                                                 "streamingRawPredict",
                                                 "directPredict",
                                                 "directRawPredict",
                                                 "predictLongRunning",
                                                 "explain",
                                                 "embedContent",
                                                 "batchEmbedContents",
                                                 "asyncBatchEmbedContent",
                                                 "countTokens",
                                                 "computeTokens",
                                                 "generateText",
                                                 "generateMessage",
                                                 "generateAnswer",
                                                 "embedText",
                                                 "batchEmbedText",
                                                 "countTextTokens",
                                                 "countMessageTokens",
                                                 "generateImages",
                                                 "generateVideos"};
  path_step last;
  any_segment(
      http::target_path(head), [](const path_step&) { return false; }, &last);
  const std::size_t colon = method_colon(last.segment);
  if (colon == std::string_view::npos) {
    return {};
  }
  const std::string_view method = last.segment.substr(colon + (last.segment[colon] == ':' ? 1 : 3));
  if (std::none_of(std::begin(methods), std::end(methods),
                   [&](std::string_view m) { return ascii_iequals(method, m); })) {
    return {};
  }
  return {last.previous, last.segment.substr(0, colon), method};
}

// A deployment's or an engine's name, from `rest`, the path after /deployments/ or /engines/:
// everything before the action that ends the path. LiteLLM declares its routes so
// (/openai/deployments/{model:path}/chat/completions, /engines/{model:path}/embeddings; Starlette's
// `path` is greedy) and runs that model whatever the body says, so /openai/deployments/openai/gpt-4o/
// chat/completions runs `openai/gpt-4o` (probe round 32: `openai` was decided, audited and limited).
// Azure's own names are one segment, read alike. Unclear where the readers disagree on where the
// name ends: more than one segment before an action the gateway does not know (a greedy reader
// takes all but the last, Azure the first), or a segment of the name that is itself an action or a
// collection (Azure's /{name}/extensions/chat/completions is `{name}/extensions` to LiteLLM; which
// of /chat/completions and /completions a greedy router tries first decides
// /{name}/completions/chat/completions).
target_model deployment_in_path(std::string_view rest) {
  static constexpr std::string_view actions[] = {
      "chat/completions",   "completions",       "embeddings",   "images/generations",
      "images/edits",       "images/variations", "audio/speech", "audio/transcriptions",
      "audio/translations", "responses",         "moderations"};
  static constexpr std::string_view ambiguous[] = {"chat",        "completions", "embeddings",  "images",
                                                   "audio",       "responses",   "moderations", "extensions",
                                                   "deployments", "engines",     "models",      "model"};
  if (rest.ends_with('/')) {
    rest.remove_suffix(1);
  }
  if (rest.empty()) {
    return {};
  }
  std::string_view name;
  for (const std::string_view action : actions) {  // the longest first where one ends another
    if (rest.size() > action.size() + 1 && rest[rest.size() - action.size() - 1] == '/' &&
        ascii_iequals(rest.substr(rest.size() - action.size()), action)) {
      name = rest.substr(0, rest.size() - action.size() - 1);
      break;
    }
  }
  if (name.empty()) {
    // No action the gateway knows: one segment, or one and the action (/v1/engines/{model}/search),
    // is read alike by every server.
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || rest.find('/', slash + 1) == std::string_view::npos) {
      return {rest.substr(0, slash), {}};
    }
    return {
        rest,
        "it has more than one segment and the path ends in no action the gateway knows (chat/completions, "
        "completions, embeddings, images/..., audio/..., responses, moderations), so servers disagree on "
        "where the name ends"};
  }
  if (name.find('/') == std::string_view::npos) {
    return {name, {}};
  }
  for (std::size_t at = 0; at <= name.size();) {
    const std::size_t end = std::min(name.find('/', at), name.size());
    const std::string_view segment = name.substr(at, end - at);
    if (segment.empty() || segment == "." || segment == "..") {
      return {name, "it has an empty or a dot segment, which servers read differently"};
    }
    if (std::any_of(std::begin(ambiguous), std::end(ambiguous),
                    [&](std::string_view a) { return ascii_iequals(segment, a); })) {
      return {
          name,
          "a segment of it is also an action or a collection (chat, completions, extensions, models, ...), "
          "so servers disagree on where the name ends"};
    }
    at = end + 1;
  }
  return {name, {}};
}

// The model a request target names, in the forms APIs put it there: Azure OpenAI's
// /openai/deployments/{model}/..., the legacy /v1/engines/{model}/... (deployment_in_path: the
// model may have more than one segment), Bedrock's /model/{id}/...,
// Gemini's, Vertex's and KServe's .../models/{model}:{method} (the last ':', also as %3A, which a
// server decodes), and .../models/{model}/... (Hugging Face's router and, on a POST, its Inference
// API's .../models/{model}, Triton's /v2/models/{model}/infer,
// Replicate's /v1/models/{owner}/{name}/predictions: {org}/{name} when the segment after the
// model is no action, see below), TorchServe's /predictions/{model}/... Empty when the target names
// none. A cluster
// serving such a path runs that model, whatever the body says.
target_model model_in_path(const http::message_head& head) {
  const std::string_view path = http::target_path(head);
  std::string_view model;
  std::string_view unclear;
  target_model deployment;
  any_segment(path, [&](const path_step& s) {
    if (ascii_iequals(s.previous, "deployments") || ascii_iequals(s.previous, "engines")) {
      deployment = deployment_in_path(path.substr(s.end - s.segment.size()));
      return true;
    }
    if (ascii_iequals(s.previous, "model")) {
      model = s.segment;
      return true;
    }
    // TorchServe's /predictions/{model}[/{version}[/v1/...]] and /explanations/{model} (the path
    // picks the worker); not Replicate's /v1/predictions/{id}, a prediction's id.
    if ((ascii_iequals(s.previous, "predictions") || ascii_iequals(s.previous, "explanations")) &&
        !ascii_iequals(s.before, "v1")) {
      model = s.segment;
      return true;
    }
    if (!ascii_iequals(s.previous, "models")) {
      return false;
    }
    const std::string_view rest = s.end < path.size() ? path.substr(s.end + 1) : std::string_view();
    // The method follows the last ':' of the segment that ends the target (path templates and
    // Starlette's {model}:{method} are greedy): in "llama3:70b:generateContent" the model is
    // "llama3:70b", another model than "llama3" to Ollama; in /models/llama3:70b/infer it is
    // "llama3:70b". Empty in "models/:generateContent", which names none (check_model_nameable).
    if (rest.empty() || rest == "/") {
      if (const std::size_t colon = method_colon(s.segment); colon != std::string_view::npos) {
        model = s.segment.substr(0, colon);
        return true;
      }
    }
    // More follows (/models/{model}/v1/chat/completions, /models/{model}/infer), or the target ends
    // there on a request that runs it: Hugging Face's Inference API, POST /models/{model} (probe
    // round 30: decided as naming no model, past every model rule). Not GET or DELETE
    // /v1/models/{id}, the OpenAI API's model retrieve and delete.
    const bool runs = head.method != "GET" && head.method != "HEAD" && head.method != "DELETE";
    // A model named by two segments, {org}/{name} as Hugging Face (meta-llama/Llama-3.1-8B) and
    // Replicate ({owner}/{name}) name them, when the next segment is no action of Triton's, KServe's
    // or the router's (/v2/models/{model}/infer, .../versions/1, /models/{model}/v1/...): the model
    // is both (probe round 31: `meta-llama` was decided, and a body naming the whole id refused).
    static constexpr std::string_view actions[] = {
        "v1",    "v2",       "infer",   "generate", "generate_stream", "ready",   "config",
        "stats", "versions", "predict", "trace",    "explain",         "metadata"};
    const std::string_view next = rest.substr(0, rest.find('/'));
    if (!next.empty() && std::none_of(std::begin(actions), std::end(actions),
                                      [&](std::string_view a) { return ascii_iequals(next, a); })) {
      if (rest.size() > next.size() + 1 || runs) {
        std::size_t name = next.size();
        const std::string_view after = rest.substr(next.size());
        if (after.empty() || after == "/") {
          // {org}/{name}:{method} ends the target, as {model}:{method} above (probe round 45:
          // /v1beta/models/openai/gpt-4o:generateContent was decided as the model
          // "openai/gpt-4o:generateContent", whose base name meets no rule on gpt-4o).
          name = std::min(method_colon(next), next.size());
          if (name == 0) {
            unclear = "its name is empty before the ':' that starts the method";
          }
        } else if (method_colon(after.substr(after.rfind('/', after.size() - 2) + 1)) !=
                   std::string_view::npos) {
          // /models/a/b/c:{method}: a greedy reader runs "a/b/c", the {org}/{name} reading "a/b".
          unclear =
              "it has more than two segments before the ':' that starts the method, so servers disagree "
              "on where the name ends";
          model = path.substr(s.end - s.segment.size());
          return true;
        }
        model = std::string_view(s.segment.data(), s.segment.size() + 1 + name);
        return true;
      }
      return false;
    }
    if (s.end + 1 < path.size() || runs) {
      model = s.segment;
      return true;
    }
    return false;
  });
  return deployment.model.empty() ? target_model{model, unclear} : deployment;
}

// Whether a parameter's name, as a server decodes it (percent-encoding, '+' as a space; in any
// case; `model[]` too), is one of `names`; also as PHP reads a parameter's name (Laravel and
// Symfony take `_method` from it): leading spaces dropped, then spaces and dots as '_'
// (`?.method=`, `?+_method=`).
template <std::size_t N>
bool names_one_of(std::string_view name, const std::string_view (&names)[N]) {
  static thread_local classify::unescaped_text decoded;
  if (classify::unescape(name, classify::percent_encoding | classify::plus_as_space, decoded)) {
    name = decoded.text;
  }
  static thread_local std::string lowered;
  (void)ascii_lower_into(name, lowered);
  // model[]=a&model[]=b, model[0]=a; and PHP ends a name at a NUL (`_method%00x`).
  if (const std::size_t cut = lowered.find_first_of(std::string_view("[\0", 2)); cut != std::string::npos) {
    lowered.resize(cut);
  }
  while (!lowered.empty() && (lowered.back() == ' ' || lowered.back() == '\t')) {
    lowered.pop_back();
  }
  if (std::find(std::begin(names), std::end(names), lowered) != std::end(names)) {
    return true;
  }
  lowered.erase(0, std::min(lowered.find_first_not_of(' '), lowered.size()));
  std::replace_if(
      lowered.begin(), lowered.end(), [](char c) { return c == ' ' || c == '.'; }, '_');
  return std::find(std::begin(names), std::end(names), lowered) != std::end(names);
}

// The first parameter of `params` (a query, or a form-urlencoded body: '&' or ';' between
// parameters) named one of `names` (names_one_of), or empty. A '?' separates too: JavaScript's
// URLSearchParams drops the one that starts a query (`??model=` names `model`) and Hono's query
// reader finds `?model=` anywhere in the target (`?x=1?model=`).
template <std::size_t N>
std::string named_parameter(std::string_view params, const std::string_view (&names)[N]) {
  for (std::size_t at = 0; at <= params.size();) {
    const std::size_t end = std::min(params.find_first_of("&;?", at), params.size());
    const std::string_view param = params.substr(at, end - at);
    if (names_one_of(param.substr(0, param.find('=')), names)) {
      return std::string(param);
    }
    at = end + 1;
  }
  return {};
}

// The first query parameter named one of `names`, or empty.
template <std::size_t N>
std::string query_parameter(const http::message_head& head, const std::string_view (&names)[N]) {
  const std::string_view target = head.target;
  const std::size_t q = target.find('?');
  return q == std::string_view::npos ? std::string() : named_parameter(target.substr(q + 1), names);
}

// A query parameter that names a model, a deployment or a region, or empty. LiteLLM's handlers
// take `?model=` over the body's model; FastAPI and others bind such a parameter wherever the
// route has none in its path. Except `?model=` on OpenAI's list of stored chat completions (GET
// /v1/chat/completions?model=...), a filter of a read that runs no model (the read is opaque_content:
// kept where personal data is).
std::string model_parameter(const http::message_head& head) {
  // LiteLLM's fallback lists, as the body's (probe round 39: context_window_fallbacks and
  // content_policy_fallbacks run other models as fallbacks does).
  static constexpr std::string_view names[] = {
      "model", "models", "model_name", "model_id", "deployment", "deployment_id", "deployment_name", "engine",
      "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
      // where to run it, as *_location in the body
      "location", "locations", "region", "regions", "zone", "region_name"};
  static constexpr std::string_view but_model[] = {"models",
                                                   "model_name",
                                                   "model_id",
                                                   "deployment",
                                                   "deployment_id",
                                                   "deployment_name",
                                                   "engine",
                                                   "fallbacks",
                                                   "context_window_fallbacks",
                                                   "content_policy_fallbacks",
                                                   "location",
                                                   "locations",
                                                   "region",
                                                   "regions",
                                                   "zone",
                                                   "region_name"};
  const bool list_read = (head.method == "GET" || head.method == "HEAD") &&
                         http::path_ends_with(head, "/chat/completions") && names_stored_object(head);
  return list_read ? query_parameter(head, but_model) : query_parameter(head, names);
}

// Whether the request target has the cluster send the request, or what it makes of it, on to a
// server outside the gateway's reach, as the body's remote tools and webhooks do (probe round 49):
// - a path through an MCP endpoint (LocalAI's /mcp/v1/chat/completions, /v1/mcp/chat/completions
//   run the model with the MCP servers of its configuration, remote ones included) or a proxy
//   (LocalAI's /api/cors-proxy?url=... re-sends the request, body and all, to the URL it is given);
// - a query parameter naming a webhook, a callback or a URL to send to (`?callback_url=`, `?url=`),
//   which servers read as they read the body's.
bool target_calls_out(const http::message_head& head) {
  static constexpr std::string_view relays[] = {"mcp", "cors-proxy", "cors_proxy"};
  const auto relay = [](const path_step& s) {
    return std::any_of(std::begin(relays), std::end(relays),
                       [&](std::string_view word) { return ascii_iequals(s.segment, word); });
  };
  static constexpr std::string_view sent_to[] = {"webhook",
                                                 "webhooks",
                                                 "webhook_url",
                                                 "webhookurl",
                                                 "callback",
                                                 "callbacks",
                                                 "callback_url",
                                                 "callbackurl",
                                                 "notify_url",
                                                 "notification_url",
                                                 "status_callback",
                                                 "mcp_servers",
                                                 "url",
                                                 "uri",
                                                 "target_url",
                                                 "forward_url",
                                                 "proxy_url",
                                                 "redirect_url",
                                                 "destination_url",
                                                 "upload_url"};
  return any_segment(http::target_path(head), relay) || !query_parameter(head, sent_to).empty();
}

// A query parameter that carries a credential, or empty: Google's and LiteLLM's Gemini pass-through
// read `?key=`, Azure API Management `?subscription-key=`, others `?api_key=`, `?access_token=`.
// The client's credentials never reach a cluster (the gateway sends its own): in the query, a
// key of another tenant of the cluster would be used instead of the gateway's.
std::string credential_parameter(const http::message_head& head) {
  static constexpr std::string_view names[] = {"key",
                                               "api_key",
                                               "apikey",
                                               "api-key",
                                               "x-api-key",
                                               "x_api_key",
                                               "access_token",
                                               "accesstoken",
                                               "token",
                                               "auth",
                                               "auth_token",
                                               "authorization",
                                               "bearer",
                                               "id_token",
                                               "password",
                                               "passwd",
                                               "secret",
                                               "client_secret",
                                               "api_secret",
                                               "session_token",
                                               "refresh_token",
                                               "subscription-key",
                                               "subscription_key",
                                               "ocp-apim-subscription-key",
                                               "code",
                                               "sig",
                                               "x-goog-api-key"};
  return query_parameter(head, names);
}

// A query parameter that overrides the method, or empty: Laravel, Symfony and Spring run
// `POST ...?_method=DELETE` as a DELETE, which the policy never decided (the header forms,
// X-HTTP-Method-Override and the like, are claims the gateway removes).
constexpr std::string_view method_override_names[] = {"_method", "x-http-method-override", "x-http-method",
                                                      "x-method-override", "_httpmethod"};

std::string method_parameter(const http::message_head& head) {
  return query_parameter(head, method_override_names);
}

// A form body's field that overrides the method (Laravel, Symfony and Spring read `_method` from
// a form as from the query), or empty: a form-urlencoded body's parameters; a multipart body's
// part names, read wherever `name` is given a value in the body — in any part header however
// folded or spaced (`name="_method"`, `name = '_method'`, RFC 2231's `name*=utf-8''%5Fmethod`),
// and in a file's own text too: refusing such a file is the safe side of a parser's guess — and
// as its MIME reader reads them (`parts`: RFC 2231 sections joined, `name*0="_met"; name*1="hod"`,
// and encoded words decoded; probe round 29).
std::string form_method_parameter(std::string_view body, bool multipart,
                                  const classify::mime_reading* parts) {
  if (!multipart) {
    return named_parameter(body, method_override_names);
  }
  for (std::size_t i = 0; parts != nullptr && i < parts->name_count(); ++i) {
    if (names_one_of(parts->name(i), method_override_names)) {
      return std::string(parts->name(i).substr(0, 128));
    }
  }
  for (std::size_t at = 0; (at = body.find_first_of("nN", at)) != std::string_view::npos; ++at) {
    if (at + 4 > body.size() || !ascii_iequals(body.substr(at, 4), "name") ||
        (at > 0 && (std::isalnum(static_cast<unsigned char>(body[at - 1])) != 0 || body[at - 1] == '-'))) {
      continue;  // not a parameter `name` (filename, username)
    }
    std::size_t k = at + 4;
    k += body.substr(k, 1) == "*" ? 1 : 0;
    while (k < body.size() && (body[k] == ' ' || body[k] == '\t')) {
      ++k;
    }
    if (k >= body.size() || body[k] != '=') {
      continue;
    }
    ++k;
    while (k < body.size() && (body[k] == ' ' || body[k] == '\t')) {
      ++k;
    }
    std::string_view value = body.substr(k, 256);
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      value = value.substr(1, value.find(value.front(), 1) - 1);
    } else {
      value = value.substr(0, value.find_first_of("; \t\r\n"));
    }
    if (const std::size_t charset = value.find("''"); charset != std::string_view::npos) {
      value.remove_prefix(charset + 2);  // RFC 2231: charset'language'value
    }
    if (names_one_of(value, method_override_names)) {
      return std::string(body.substr(at, std::min<std::size_t>(k - at + value.size() + 1, 128)));
    }
  }
  return {};
}

// Whether a form field's name chooses a model, a deployment, a region, a server or credentials:
// the names the query is refused for (model_parameter) and those a JSON body is (other models, a
// server, credentials or routes: classify::routing_key_of), read as names_one_of reads a name
// (decoded, any case, `model[]`, PHP's spaces and dots). Whisper-style servers and FastAPI's
// Form(...) read the model from the form as others from the query or the body.
bool form_field_routes(std::string_view name) {
  static thread_local classify::unescaped_text decoded;
  if (classify::unescape(name, classify::percent_encoding | classify::plus_as_space, decoded)) {
    name = decoded.text;
  }
  static thread_local std::string lowered;
  (void)ascii_lower_into(name, lowered);
  if (const std::size_t cut = lowered.find_first_of(std::string_view("[\0", 2)); cut != std::string::npos) {
    lowered.resize(cut);
  }
  while (!lowered.empty() && (lowered.back() == ' ' || lowered.back() == '\t')) {
    lowered.pop_back();
  }
  // `model` itself, and the query's plurals that the JSON body's key set does not list.
  const auto routes = [](std::string_view n) {
    return n == "model" || n == "locations" || n == "regions" ||
           classify::routing_key_of(n) != classify::routing_key::none;
  };
  if (routes(lowered)) {
    return true;
  }
  lowered.erase(0, std::min(lowered.find_first_not_of(' '), lowered.size()));
  std::replace_if(
      lowered.begin(), lowered.end(), [](char c) { return c == ' ' || c == '.'; }, '_');
  return routes(lowered);
}

// The first field of a form that routes (form_field_routes), or empty: a form-urlencoded body's
// parameters (as named_parameter splits them), or a multipart body's part names as its MIME
// reader reads them (`parts`).
std::string routing_form_field(std::string_view body, const classify::mime_reading* parts) {
  if (parts != nullptr) {
    for (std::size_t i = 0; i < parts->name_count(); ++i) {
      if (form_field_routes(parts->name(i))) {
        return std::string(parts->name(i));
      }
    }
    return {};
  }
  for (std::size_t at = 0; at <= body.size();) {
    const std::size_t end = std::min(body.find_first_of("&;?", at), body.size());
    const std::string_view name = body.substr(at, std::min(body.find('=', at), end) - at);
    if (form_field_routes(name)) {
      return std::string(name);
    }
    at = end + 1;
  }
  return {};
}

stage_result routing_field_refused(std::string_view where, std::string_view field) {
  // The field's name only: its value may be a secret.
  return stage_result::respond(
      outcome::invalid_body,
      fmt::format(
          "{} names a model, a deployment, a region, a server or credentials ('{}'): a server reading "
          "the form may run the request with it instead of what the policy decided; the gateway "
          "routes and authenticates: remove the field",
          where, printable(field.substr(0, 64))));
}

// A header field a serving stack routes on to choose the model or the deployment, or nullptr:
// any field whose name holds "model" or "deployment" (Azure ML's Azureml-Model-Deployment,
// SageMaker's X-Amzn-SageMaker-Target-Model, Seldon's Seldon-Model, ModelMesh's mm-vmodel-id,
// Envoy AI Gateway's x-ai-eg-model), SageMaker's other routing fields (target variant, container,
// inference component) and the Gateway API inference extension's destination endpoint. The
// policy decides one model, and the gateway routes: the query's like fields are refused too.
const http::field* model_field(const http::message_head& head) {
  static thread_local std::string lowered;
  for (const http::field& f : head.fields) {
    if (f.id != http::field_id::other && f.id != http::field_id::unlisted) {
      continue;  // the fields the gateway knows by name route nothing
    }
    (void)ascii_lower_into(f.name, lowered);
    const std::string_view name = lowered;
    if (name.find("model") != std::string_view::npos || name.find("deployment") != std::string_view::npos ||
        name.starts_with("x-amzn-sagemaker-") ||
        name.find("destination-endpoint") != std::string_view::npos ||
        name.starts_with("x-litellm-")) {  // x-litellm-tags picks among a model's deployments
      return &f;
    }
  }
  return nullptr;
}

// A region or location named in the target (Vertex's /projects/{p}/locations/{region}/..., which
// LiteLLM's Vertex pass-through and Vertex-style servers run the request in), or empty: as a
// `*_location` key in the body, it moves the call where the policy did not decide. Triton's shared
// memory regions (/v2/systemsharedmemory/region/{name}/register, /v2/cudasharedmemory/...) are
// memory, not places (probe round 35): the policy decides those targets.
std::string_view region_in_path(const http::message_head& head) {
  static constexpr std::string_view names[] = {"locations", "regions", "location", "region", "zones", "zone"};
  std::string_view region;
  any_segment(http::target_path(head), [&](const path_step& s) {
    const bool memory =
        s.before.size() > 12 && ascii_iequals(s.before.substr(s.before.size() - 12), "sharedmemory");
    const bool named = !memory && std::any_of(std::begin(names), std::end(names), [&](std::string_view n) {
      return ascii_iequals(s.previous, n);
    });
    region = named ? s.segment : region;
    return named;
  });
  return region;
}

stage_result method_override_refused(std::string_view where, std::string_view param,
                                     std::string_view method) {
  return stage_result::respond(
      outcome::invalid_body,
      fmt::format(
          "{} overrides the method ('{}'): a server may run the request as that method instead of {}, "
          "which the policy decided; send the method itself",
          where, param.substr(0, 128), method));
}

// The body's model and the target's must be one model: the policy decides the model the cluster
// runs, and a cluster reading the model from the path (or the query) runs the path's.
stage_result settle_model(request_context& ctx) {
  if (const std::string_view region = region_in_path(ctx.head); !region.empty()) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("the request target names a region or location ('{}'): a cluster may run the request "
                    "there, which the policy did not decide; the gateway routes: remove it",
                    region.substr(0, 64)));
  }
  if (const http::field* f = model_field(ctx.head)) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format(
            "the header field {} chooses a model or a deployment: a cluster may run it instead of the "
            "body's model, which the policy decided; remove it",
            std::string_view(f->name).substr(0, 64)));
  }
  if (const std::string param = method_parameter(ctx.head); !param.empty()) {
    return method_override_refused("the query", param, ctx.head.method);
  }
  if (const std::string param = credential_parameter(ctx.head); !param.empty()) {
    // The parameter's name only: its value is a secret.
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("the query carries a credential ('{}'): the client's credentials never reach a cluster, "
                    "the gateway authenticates to it; send your API key as Authorization: Bearer",
                    std::string_view(param).substr(0, std::min<std::size_t>(param.find('='), 64))));
  }
  if (const std::string param = model_parameter(ctx.head); !param.empty()) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format(
            "the query names a model, a deployment or a region ('{}'): a cluster may run the request "
            "with it instead of what the policy decided; name the model in the body only, and let the "
            "gateway route",
            param.substr(0, 128)));
  }
  const auto [in_path, unclear] = model_in_path(ctx.head);
  if (!unclear.empty()) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("the model in the request target cannot be read as one name ('{}'): {}; name the model "
                    "in the body, or as /openai/deployments/{{model}}/chat/completions",
                    in_path.substr(0, 128), unclear));
  }
  if (in_path.empty()) {
    return stage_result::next();
  }
  if (in_path.find(',') != std::string_view::npos) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("the model in the request target holds a comma ('{}'): a router may read it as a list "
                    "and run each model; name one model",
                    in_path));
  }
  if (in_path.find('%') != std::string_view::npos) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("the model in the request target is percent-encoded ('{}'): a cluster "
                    "decodes it into a name the policy did not see; write it as it is",
                    in_path));
  }
  if (ctx.model.empty()) {
    // As for the body's model; its `:online` (web search) is read with the target (scan_head).
    if (classify::variant_of_model(in_path) == classify::model_variant::chooses_provider) {
      return stage_result::respond(
          outcome::invalid_body,
          fmt::format("the model's variant in the request target ('{}') chooses the provider that serves "
                      "it; the gateway routes: name the model without it",
                      in_path));
    }
    ctx.model = in_path;
    return stage_result::next();
  }
  if (ctx.model != in_path) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("the request target names the model '{}' and the body the model '{}': a cluster may run "
                    "either; name one model",
                    in_path, ctx.model));
  }
  return stage_result::next();
}

// A client's Content-Digest (RFC 9530) must be the digest of the body the gateway received: the
// receipt covers it (`content-digest;req`), and a client that sent the digest of another body
// would hold a receipt "bound" to a prompt the gateway never saw; a cluster checking it would
// refuse the request anyway. Every sha-256 and sha-512 member is checked, and one given twice is
// refused (a Dictionary keeps only the last); a field with neither binds nothing the gateway can
// vouch for.
stage_result check_content_digest(const request_context& ctx) {
  static thread_local std::string joined;
  joined.clear();
  for (const http::field& f : ctx.head.fields) {
    if (f.id == http::field_id::content_digest) {
      joined += joined.empty() ? "" : ", ";
      joined += f.value;
    }
  }
  if (joined.empty()) {
    return stage_result::next();
  }
  using enum crypto::digest_verdict;
  switch (crypto::verify_content_digest(joined, ctx.body)) {
    case ok:
      return stage_result::next();
    case mismatch:
      return stage_result::respond(outcome::bad_content_digest,
                                   "Content-Digest does not match the request body received: send the "
                                   "digest of the body as sent, or no Content-Digest");
    case no_known_algorithm:
      return stage_result::respond(outcome::bad_content_digest,
                                   "Content-Digest has neither sha-256 nor sha-512, the digests the gateway "
                                   "checks: send one of them, or no Content-Digest");
    case malformed:
      break;
  }
  std::vector<std::string> repeated;
  if (crypto::sf::parse_dictionary(joined, repeated).ok()) {
    for (const std::string& key : repeated) {
      if (crypto::checked_algorithm(key)) {
        // Probe round 45: "sha-256=:H(X):, sha-256=:H(Y):" with body Y was served, the last
        // member checked and the receipt bound to a value whose first digest is of X.
        return stage_result::respond(
            outcome::bad_content_digest,
            fmt::format("Content-Digest gives {} more than once: readers disagree on which one counts "
                        "(RFC 8941 keeps the last, others take the first); send one digest per algorithm",
                        key));
      }
    }
  }
  return stage_result::respond(outcome::bad_content_digest,
                               "Content-Digest is not an RFC 9530 dictionary of byte sequences "
                               "(sha-256=:<base64>:)");
}

// The APIs whose request bodies are JSON: the OpenAI-style API under /v1/ and /v2/ behind any
// prefix (/openai/v1/files, /api/v1/..., Cohere's and Triton's /v2/), its file, batch and upload
// endpoints without one (LiteLLM serves /files), and every endpoint that runs a model. Compared
// case-insensitively: a case-insensitive router serves /V1/chat/completions too.
bool json_endpoint(const http::message_head& head) {
  const std::string_view path = http::target_path(head);
  std::size_t at = 1;
  while (at < path.size()) {
    std::size_t end = path.find('/', at);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    const std::string_view segment = path.substr(at, end - at);
    if (((ascii_iequals(segment, "v1") || ascii_iequals(segment, "v2")) && end + 1 < path.size()) ||
        ascii_iequals(segment, "files") || ascii_iequals(segment, "uploads") ||
        ascii_iequals(segment, "batches")) {
      return true;
    }
    at = end + 1;
  }
  return runs_a_model(head);
}

}  // namespace

// A body is inspected the way the cluster will read it, or refused: an encoded body (415) or a
// body not labelled JSON on a JSON endpoint (415) would be read by the detectors as something
// other than what the cluster decodes.
// A percent-encoded character in the path that a router normalising or case-folding paths takes
// for other ASCII (Unicode NFKC or case folding: the ligature "\uFB02" is "fl", a fullwidth
// letter is its ASCII letter, a zero-width space is nothing): "/%EF%AC%82ush_cache" would meet no
// rule on /flush_cache and run it. (The dotless i, dotted I, long s and Kelvin sign are refused by
// the parser already: common/canonical_path.hpp.)
stage_result check_folded_path(const http::message_head& head) {
  const std::string_view path = http::target_path(head);
  if (path.find('%') == std::string_view::npos) {
    return stage_result::next();
  }
  static thread_local classify::unescaped_text decoded;
  static thread_local classify::folded_text folded;
  if (classify::unescape(path, classify::percent_encoding, decoded) && classify::fold(decoded.text, folded)) {
    return stage_result::respond(
        outcome::non_canonical_target,
        "the request path holds a percent-encoded character that a server normalising or case-folding "
        "paths reads as other ASCII characters (a ligature, a fullwidth or mathematical letter, an "
        "invisible character): write the path in ASCII");
  }
  return stage_result::next();
}

// Endpoints whose use happens outside the gateway: a realtime session (OpenAI's and Azure's
// /realtime, /realtime/calls, /realtime/client_secrets, /realtime/sessions,
// /realtime/transcription_sessions; Azure's /realtimeapi/sessions) carries its audio and text
// between the client and the cluster over WebRTC or a WebSocket opened with a client secret the
// cluster mints, and ChatKit's sessions and Gemini Live's auth_tokens mint such a secret too. A
// secret minted with the gateway's credential for the cluster lets the client call the cluster
// without the gateway: no policy decides those calls and no audit record keeps them. Any prefix and
// letter case, as routers serve them.
stage_result check_endpoint_served(const http::message_head& head) {
  std::string_view why;
  any_segment(http::target_path(head), [&](const path_step& s) {
    if (ascii_iequals(s.segment, "realtime") || ascii_iequals(s.segment, "realtimeapi")) {
      why =
          "realtime sessions run between the client and the cluster over WebRTC or a WebSocket, outside "
          "the gateway";
    } else if ((ascii_iequals(s.previous, "chatkit") && ascii_iequals(s.segment, "sessions")) ||
               ascii_iequals(s.segment, "auth_tokens") || ascii_iequals(s.segment, "client_secrets")) {
      why = "it mints a client secret with which a client calls the cluster directly, outside the gateway";
    }
    return !why.empty();
  });
  if (why.empty()) {
    return stage_result::next();
  }
  return stage_result::respond(
      outcome::endpoint_not_served,
      fmt::format("the gateway does not serve {}: {}, where no policy decides and no audit record is kept",
                  http::target_path(head).substr(0, 256), why));
}

stage_result body_where_none_is_read(const request_context& ctx) {
  // A body where cluster servers read none (cpp-httplib, llama.cpp's server, reads bodies on POST,
  // PUT and PATCH only): one that leaves it unread on the connection reads it as the next request,
  // which no policy decided and no record keeps (probe round 34: a GET /health carrying a denied
  // POST). Nothing is lost: these methods define no meaning for a body.
  const std::string_view m = ctx.head.method;
  if (!ctx.body.empty() && (m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "DELETE" || m == "TRACE")) {
    return stage_result::respond(
        outcome::invalid_body,
        fmt::format("a {} request carries a body ({} bytes): cluster servers may leave it unread and take "
                    "it for the next request on the connection; send {} without a body (data goes in a "
                    "POST)",
                    m, ctx.body.size(), m));
  }
  return stage_result::next();
}

stage_result check_model_nameable(const http::message_head& head) {
  // {collection}/{id}:{method} running a model (probe round 45): an empty id names none, and a
  // collection other than models (Gemini's tunedModels, Vertex's endpoints) runs a model that no
  // field of the request names, forwarded with no model decided.
  if (const model_method_target t = model_method_of(head);
      !t.method.empty() && head.method != "GET" && head.method != "HEAD") {
    if (t.id.empty()) {
      return stage_result::respond(
          outcome::invalid_body,
          fmt::format("the request names no model: the request target has nothing before ':{}'; name the "
                      "model there, as .../models/{{model}}:{}",
                      t.method.substr(0, 64), t.method.substr(0, 64)));
    }
    if (const target_model named = model_in_path(head); named.model.empty() && named.unclear.empty()) {
      return stage_result::respond(
          outcome::invalid_body,
          fmt::format("the request runs a model it cannot name: ':{}' on '{}/{}' runs the model stored with "
                      "it (a tuned model, Gemini's tunedModels/{{id}}; the model deployed at a Vertex "
                      "endpoint, endpoints/{{id}}), which no field of the request names, so no rule decides "
                      "it; call the model by name, as .../models/{{model}}:{}",
                      t.method.substr(0, 64), t.collection.substr(0, 64), t.id.substr(0, 128),
                      t.method.substr(0, 64)));
    }
  }
  const std::string_view why = unnamed_model_work(head);
  if (why.empty()) {
    return stage_result::next();
  }
  return stage_result::respond(outcome::invalid_body,
                               fmt::format("the request runs a model it cannot name: {}", why));
}

stage_result pipeline::classify(request_context& ctx) const {
  stage_result r = check_folded_path(ctx.head);
  r = r.proceed() ? check_endpoint_served(ctx.head) : r;
  r = r.proceed() ? check_model_nameable(ctx.head) : r;
  r = r.proceed() ? check_content_digest(ctx) : r;
  r = r.proceed() ? classify_body(ctx) : r;
  return r.proceed() ? settle_model(ctx) : r;
}

stage_result pipeline::classify_body(request_context& ctx) const {
  if (ctx.body.empty()) {
    // A POST that runs a model and names none, in the body or the path: as an empty JSON object.
    if (ctx.head.method == "POST" && runs_a_model(ctx.head) && model_in_path(ctx.head).model.empty()) {
      return stage_result::respond(outcome::invalid_body,
                                   "the request names no model (its body is empty): send a JSON body with "
                                   "\"model\" set to the model to run");
    }
    return stage_result::next();
  }
  if (stage_result r = body_where_none_is_read(ctx); !r.proceed()) {
    return r;
  }
  const http::field* type = nullptr;
  for (const http::field& f : ctx.head.fields) {
    if (f.id == http::field_id::content_encoding && !classify::identity_encoding(f.value)) {
      return stage_result::respond(
          outcome::unsupported_content_encoding,
          fmt::format("Content-Encoding '{}': the gateway inspects request bodies as sent; send them "
                      "without a content coding (identity)",
                      f.value));
    }
    if (f.id == http::field_id::content_type) {
      if (type != nullptr) {
        return unsupported_media_type("more than one Content-Type field");
      }
      type = &f;
    }
  }
  const std::optional<classify::media_type> media =
      type != nullptr ? classify::parse_media_type(type->value) : std::nullopt;
  const classify::json_media kind = media ? classify::json_media_of(*media) : classify::json_media::not_json;
  if (kind == classify::json_media::not_utf8) {
    return unsupported_media_type(
        fmt::format("Content-Type '{}': JSON request bodies must be UTF-8 (charset=utf-8)", type->value));
  }
  std::shared_ptr<const binding> b = binding_.load();
  const std::uint32_t detectors = b ? b->detectors | b->redactors : 0;
  if (kind == classify::json_media::json) {
    stage_result r = inspect_json(ctx, detectors, b && b->redactors != 0);
    if (r.proceed() && ctx.model.empty() && runs_a_model(ctx.head) && model_in_path(ctx.head).model.empty()) {
      return stage_result::respond(outcome::invalid_body,
                                   "the request names no model: set \"model\" to the model to run");
    }
    return r;
  }
  if (json_endpoint(ctx.head)) {
    if (media && ascii_iequals(media->type, "multipart")) {
      // The file, upload-part, audio and image-edit APIs take only multipart: "send JSON" would be
      // advice the client cannot follow (probe round 29).
      return unsupported_media_type(fmt::format(
          "Content-Type '{}': the gateway does not accept file, audio or image uploads "
          "(multipart/form-data) on the API, since it cannot inspect them the way the cluster reads "
          "them; request bodies on the API must be application/json",
          std::string_view(type->value).substr(0, 64)));
    }
    return unsupported_media_type(
        type == nullptr
            ? std::string("a request body on the API (/v1/, /chat/completions and the like) needs "
                          "Content-Type: application/json")
            : fmt::format(
                  "Content-Type '{}': request bodies on the API (/v1/, /chat/completions and the like) "
                  "must be application/json",
                  type->value));
  }
  // A form, by what its label says to a lenient parser too (PHP, Tomcat and Rack take
  // `application/x-www-form-urlencoded;charset` or a list as a form).
  static thread_local std::string label;
  (void)ascii_lower_into(type != nullptr ? type->value : std::string_view(), label);
  const bool model_decides = b != nullptr || !cfg_->tenants_file.empty();
  if (label.find("multipart") != std::string::npos) {
    const classify::mime_reading& parts = read_mime_body(ctx);
    if (const std::string param = form_method_parameter(ctx.body, true, &parts); !param.empty()) {
      return method_override_refused("a part of the multipart body", param, ctx.head.method);
    }
    if (const std::string field = routing_form_field(ctx.body, &parts); !field.empty()) {
      return routing_field_refused("a part of the multipart body", field);
    }
    return scan_raw(ctx, detectors, model_decides, &parts);
  }
  if (label.find("x-www-form-urlencoded") != std::string::npos) {
    if (const std::string param = form_method_parameter(ctx.body, false, nullptr); !param.empty()) {
      return method_override_refused("the form body", param, ctx.head.method);
    }
    if (const std::string field = routing_form_field(ctx.body, nullptr); !field.empty()) {
      return routing_field_refused("the form body", field);
    }
  }
  return scan_raw(ctx, detectors, model_decides);
}

}  // namespace sovgw::gateway
