#pragma once

// Token usage read from a cluster's answer while it is relayed (OpenAI `usage`: prompt_tokens,
// completion_tokens; the Responses API's input_tokens, output_tokens; Anthropic's, with the prompt
// tokens it counts apart for its prompt cache; Gemini's `usageMetadata`; Ollama's prompt_eval_count
// and eval_count: usage_part). Pure code, one instance per response, on the request's thread.
//
// - Other answers (JSON, Ollama's NDJSON, text): the `usage` objects near the end of the body (the
//   last 64 KiB are kept), each count at its largest; none, and the body is charged by its size.
// - Server-sent events: the event whose data carries a non-null `usage` (a Responses API stream's
//   `response.completed` event carries it inside its `response`), read only where the APIs put it:
//   a usage object elsewhere in an event is the client's (a Responses stream's first event echoes
//   the request's tools, whose schemas may name `usage`). Both read usage objects with one reader:
//   member names decoded ("\u0075sage" is `usage`), a count or a usage given twice at its largest.
//   When the gateway itself
//   asked the cluster for usage (stream_options.include_usage, which the client did not ask for,
//   or declined), the client gets no usage it did not ask for: the usage-only event (`"choices":[]`
//   and the chunk's envelope: id, object, created, model, system_fingerprint, service_tier,
//   obfuscation, llama.cpp's timings) is removed, and any other event that carries a `usage` (an
//   `error` beside it, a content chunk under vLLM's continuous_usage_stats) reaches the client
//   without that member, every other byte of its JSON as the cluster wrote it (probe round 39: an
//   in-band error went with the usage event it rode in). The usage is read first in every case.
//   Events are passed on whole: a partial event waits for its end (the client could not use it
//   before either).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "classify/json_body.hpp"
#include "gateway/http_parser.hpp"

namespace boost::json {
class object;
}  // namespace boost::json

namespace sovgw::gateway {

// The counts a usage object gives, by what they count (usage_part_named: the names the APIs give
// them). The prompt is the sum of the first four, the completion of the last two.
enum class usage_part : std::uint8_t {
  prompt,           // prompt_tokens, input_tokens, promptTokenCount (Ollama's prompt_eval_count)
  cache_creation,   // Anthropic's cache_creation_input_tokens
  cache_read,       // Anthropic's cache_read_input_tokens
  tool_use_prompt,  // Gemini's toolUsePromptTokenCount
  completion,       // completion_tokens, output_tokens, candidatesTokenCount (Ollama's eval_count)
  thoughts,         // Gemini's thoughtsTokenCount
  none,
};
inline constexpr std::size_t usage_parts = static_cast<std::size_t>(usage_part::none);
inline constexpr std::uint64_t max_usage_count = std::uint64_t{1} << 40;
[[nodiscard]] usage_part usage_part_named(std::string_view key);

class usage_meter {
 public:
  // sniff: a stream the gateway asked usage for, answered under another media type than
  // text/event-stream (none, text/plain, application/json, a list of types): read as events when
  // its first bytes are written as events (`data:`, `event:`, `id:`, `retry:`, a `:` comment, after
  // blank lines), else as `json` (whose `usage` counts only under a JSON media type: `json_type`).
  // An answer labelled text/event-stream is sniffed too (labelled_events()).
  enum class mode : std::uint8_t { off, json, sse, sniff };

  usage_meter() = default;
  usage_meter(mode m, bool strip_usage_event, bool json_type = true)
      : mode_(m), strip_(strip_usage_event), usage_in_body_(json_type) {}
  // A body that is not JSON (text/plain, no type): its `usage` would be whatever the model wrote,
  // which a prompt can steer; it is charged by its size.
  void ignore_usage_in_body() { usage_in_body_ = false; }

  // sniff: the answer is labelled text/event-stream: read as events unless its first bytes start
  // a JSON text (`{`, `[`), read then as a JSON answer (probe round 41).
  void labelled_events() { labelled_events_ = true; }

  [[nodiscard]] bool active() const { return mode_ != mode::off; }

  // Body bytes from the cluster; appends to `out` what the client gets.
  void feed(std::string_view data, std::string& out);
  // True when the client gets the body exactly as it came (no meter, or a JSON answer): then
  // observe() reads it for usage without the copy feed() makes.
  [[nodiscard]] bool passes_through() const { return mode_ != mode::sse && mode_ != mode::sniff; }
  // Whether the client may get other bytes than the cluster's (the gateway's usage taken out of
  // events): its Content-Length and digests would no longer be true.
  [[nodiscard]] bool may_change_body() const {
    return strip_ && (mode_ == mode::sse || mode_ == mode::sniff);
  }
  void observe(std::string_view data);
  // The end of the body: appends what is still held back to `out` and reads the JSON usage.
  void finish(std::string& out);

  // The cluster reported the counts the answer has: the prompt's, and the completion's when it
  // `generates` text (an embedding's usage has no completion). A `usage` object without a count is
  // not taken for "free", nor one event's partial counts for the whole (Anthropic's stream gives the
  // input tokens in its first event and the output tokens in a later one).
  [[nodiscard]] bool known(bool generates) const {
    return prompt_given_ && (completion_given_ || !generates);
  }
  // When the answer ended without the cluster's usage (the client left mid-stream, the cluster
  // broke off, or it never reported any): an estimate of each count the cluster did not report, so
  // that no answer is charged nothing. The
  // prompt at one token per 4 bytes of the request body as forwarded; the completion at one token
  // per content event of a stream (a cluster sends one or more tokens per event) or per 4 bytes of
  // a JSON answer that generates text (`generates`: not an embedding's vector). Counted from what
  // was relayed, so an answer cut short is charged what it got.
  void estimate(std::size_t request_body_bytes, bool generates);
  // The prompt's share of the estimate: one token per 4 bytes of the request body as forwarded.
  [[nodiscard]] static std::uint64_t estimate_prompt(std::size_t request_body_bytes) {
    return (request_body_bytes + 3) / 4;
  }
  [[nodiscard]] std::uint64_t prompt_tokens() const { return prompt_; }
  // Whether the cluster gave the count (else estimate() made it).
  [[nodiscard]] bool prompt_reported() const { return prompt_given_; }
  [[nodiscard]] bool completion_reported() const { return completion_given_; }
  [[nodiscard]] std::uint64_t completion_tokens() const { return completion_; }

 private:
  void event(std::string_view ev, std::string_view separator, std::string& out);
  // sniff: settles the mode from the first bytes held in pending_; false while they may still be
  // either (`at_end`: no more will come).
  bool settle_mode(bool at_end);
  // Reads the usage objects of a JSON answer's top level in `text` (its tail): `top_strings`, the
  // offsets where a string at the top level starts (json_nesting), sorted; true if found.
  bool read_usage(std::string_view text, const std::vector<std::size_t>& top_strings);
  // An event's usage (its data's JSON text), where the APIs put it; true if it gave a count.
  bool read_event_usage(std::string_view data);
  bool finish_parts();

  mode mode_ = mode::off;
  bool strip_ = false;
  bool labelled_events_ = false;   // sniff: labelled_events()
  bool skipping_ = false;          // sse: passing on an event too large to hold, up to its end
  bool done_ = false;              // sse: `data: [DONE]` was read, the stream's end for a client
  bool usage_in_body_ = true;      // json: the body is JSON, so a `usage` key is the cluster's
  bool prompt_given_ = false;      // some usage object gave the prompt's count
  bool completion_given_ = false;  // ... the completion's
  std::uint64_t prompt_ = 0;
  std::uint64_t completion_ = 0;
  std::uint64_t parts_[usage_parts] = {};  // each usage_part at its largest
  bool given_[usage_parts] = {};
  std::uint64_t events_ = 0;      // sse: events with data other than [DONE]
  std::uint64_t json_bytes_ = 0;  // json: the body's bytes
  std::string pending_;           // sse: an incomplete event; json: the body's tail
  // json: how deep in the answer's JSON pending_ starts (in a string, after a backslash there).
  struct json_nesting {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
  } tail_nesting_;
};

// The meter for the answer `up` to `request`: usage is read from successful answers of the
// OpenAI-style API, of every POST elsewhere (clusters serve models off /v1/ too: /chat/completions,
// TGI's /generate, SageMaker-style /invocations), and of any request answered with JSON or events
// (a background response read back with GET /responses/{id} under any prefix): event streams event
// by event, every other body from its end, charged by its size when it reports no usage; a `usage`
// only in a body that is JSON (in text it is whatever the model wrote). The usage the gateway
// asked for (`usage_requested`) is taken out of the events (usage_meter::may_change_body: the
// relay re-frames a Content-Length answer); such an answer is read as events whatever its media
// type says when it is written as events (mode::sniff: the gateway cannot know how a cluster frames
// a stream before it asks; probe round 39: under text/plain or no type the usage event reached the
// client). Inactive for other answers.
[[nodiscard]] usage_meter usage_meter_for(const http::message_head& request, const http::message_head& up,
                                          bool usage_requested);

// Whether an answer is generated text (charged by its size when the cluster reports no usage, and
// a completion reserved for before it when the request does not bound it): every request but those
// answered with vectors or scores (embeddings, rerank, tokenize, moderations and the like); on
// /v1/, only a POST, PUT or PATCH (or a read-back of a stored completion or response), and not the
// endpoints that store or manage objects (files, batches, assistants, threads...) or answer with
// media (images, videos, speech).
[[nodiscard]] bool answers_with_text(const http::message_head& head);
// Whether the target starts an Assistants run: .../threads/runs (a thread created and run) or
// .../threads/{thread_id}/runs, under any prefix and in any case (on a POST: GET lists runs).
[[nodiscard]] bool starts_assistants_run(const http::message_head& head);
// Whether a POST's answer says nothing of the work it starts, which the cluster does after it: a
// Responses API request (a background one answers `queued`), an Assistants run (a `queued` run
// object; the thread it reads is stored), a video's generation (a queued job) and image
// generation, edits and variations (the images' bytes). Admission reserves a completion for each
// completion asked for when the request bounds none (an image is one; pipeline_identify.cpp), and
// an answer without usage is charged what admission reserved, not its size (relay.cpp).
[[nodiscard]] bool charged_as_reserved(const http::message_head& head);
// The bound the request sets on its prompt's tokens where its prompt is not in its body, 0 when
// none: an Assistants run's max_prompt_tokens (its prompt is the stored thread). Admission reserves
// the larger of it and the body's estimate.
[[nodiscard]] std::uint64_t prompt_bound(const http::message_head& head, const classify::body_fields& f);
// How many completions a request asks for: its choices (n, best_of) for each prompt of its batch
// (body_fields::prompts; a conversation endpoint's body is one prompt).
[[nodiscard]] std::uint64_t completions(const http::message_head& head, const classify::body_fields& f);
// The largest completion bound counted (10^15 tokens: far above any budget).
inline constexpr std::uint64_t max_completion_bound = 1'000'000'000'000'000;
// The completion's bound the cluster honours on this endpoint, times completions(); 0
// when the client gave none it honours (the limiter then estimates from like completions):
// max_output_tokens on /responses; max_completion_tokens on an Assistants run; the larger of max_tokens and
// max_completion_tokens on chat completions; max_tokens on completions and Anthropic's messages;
// max_new_tokens on SGLang's and TGI's /generate and /generate_stream (also in sampling_params or
// parameters); options.num_predict on Ollama's /api/generate and /api/chat; n_predict or max_tokens on
// llama.cpp's /completion and /infill; none elsewhere. llama.cpp reads n_predict before max_tokens on every
// endpoint: a larger n_predict raises any of these bounds. A field the endpoint ignores bounds nothing:
// `max_output_tokens: 1` on chat completions would otherwise reserve one token for a completion
// the cluster does not limit.
[[nodiscard]] std::uint64_t completion_bound(const http::message_head& head, const classify::body_fields& f);
// The name of the field that set completion_bound (a static string: "max_tokens",
// "options.num_predict"...), empty when it is 0: what a client is told to lower.
[[nodiscard]] std::string_view completion_bound_field(const http::message_head& head,
                                                      const classify::body_fields& f);

}  // namespace sovgw::gateway
