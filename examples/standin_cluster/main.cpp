// standin-cluster: a small OpenAI-compatible inference server for demos and tests.
//
//   POST /v1/chat/completions   JSON, or Server-Sent Events when "stream": true
//   POST /v1/completions        same
//   POST /v1/responses          OpenAI Responses API: a response object, or its typed events when
//                               "stream": true (usage as input_tokens/output_tokens)
//                               ("background": true: a `queued` object, usage null, as OpenAI's)
//   GET  /v1/responses/{id}     a stored response read back: completed, usage 500 + 1500
//   POST /v1/embeddings         a fixed-size embedding per input
//   GET  /v1/models             the served models
//   GET  /debug/headers         the request's header fields as JSON, and each value's SHA-256 (tests check
//                               what the gateway sent)
//   GET  /debug/stats           stream counters (tests check that a client disconnect cancelled a stream)
//
// Per-request knobs (headers): x-standin-chunks, x-standin-delay-ms (streaming pace),
// x-standin-fault: slow-headers | reset-mid-body | reset-until-close (a body without a length, which
// ends at the close, cut by a reset) | close-before-response | bad-response |
// late-extra-response | early-answer (413 as soon as the head is read, then the connection closes
// with the body unread, as servers that cap a body's size do),
// x-standin-head-delay-ms (used by slow-headers), x-standin-echo-body (the answer is the request
// body exactly as received: tests check what the gateway forwarded, byte for byte),
// x-standin-content-type (the answer's Content-Type instead of application/json; empty: none),
// x-standin-stream-length (a stream sent whole, with a Content-Length, instead of chunked).
//
// --require-signature (with --verify-key FILE and/or --hmac-key FILE) makes it a cluster that only
// serves requests the gateway signed: every request must carry a valid RFC 9421 signature under the
// sovgw profile (see signature_check.hpp and docs/signatures.md), else it is answered 401 with
// {"error":{"type":"signature_error","code":<reason>,...}} and never reaches the handlers. With
// --cluster NAME it serves only requests the gateway signed for the cluster named NAME. A request
// carrying any field the signature does not cover (trailer fields too) is refused (uncovered_field)
// but for the framing fields and the names given with --allow-uncovered NAME (what a balancer of
// the operator's own adds after the gateway: better, verify right behind the gateway).
//
// Requests are framed as strictly as the gateway frames them (request_framing.hpp): what the
// parser refuses is answered 400 (a header section over --max-header-bytes 431, a body over 64 MiB
// 413), no Host or two Host fields 400, and a request not complete --read-timeout-ms after its
// first byte 408; the connection closes after each of these.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "crypto/sha256.hpp"
#include "request_framing.hpp"
#include "signature_check.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct options {
  std::string address = "127.0.0.1";
  unsigned short port = 9443;
  std::string cert;
  std::string key;
  bool plaintext = false;
  int chunks = 8;
  int delay_ms = 100;
  std::string name = "standin";
  bool echo = false;  // answers name the cluster and quote what it received (the demo shows redactions)
  // At least what the gateway forwards: limits.max_request_line (8 KiB) + limits.max_header_bytes
  // (64 KiB) + the fields it adds. Larger: 431.
  std::size_t max_header_bytes = 128 * 1024;
  // From a request's first byte to its last; the wait for a request's first byte has no deadline.
  std::chrono::milliseconds read_timeout{60'000};
  bool require_signature = false;
  standin::signature_options signature;
};

struct stats {
  std::atomic<long> requests{0};
  std::atomic<long> streams_started{0};
  std::atomic<long> streams_completed{0};
  std::atomic<long> streams_aborted{0};
} counters;

const char* words[] = {"Les", " données", " restent", " en", " Europe", ".",   " Data",  " stays",
                       " in", " the",     " EU",      ",",   " under",  " EU", " rules", "."};

int header_int(const http::request<http::string_body>& req, std::string_view name, int fallback) {
  auto it = req.find(name);
  if (it == req.end()) {
    return fallback;
  }
  try {
    return std::stoi(std::string(it->value()));
  } catch (...) {
    return fallback;
  }
}

std::string now_s() {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

json::object usage(int prompt, int completion) {
  return {
      {"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

// JSON bodies are built in plain functions: GCC 12 miscompiles brace-initialised JSON with string
// literals inside coroutine bodies ("array used as initializer").
// The request's header fields as JSON, and the SHA-256 (hex) of each value: a gateway masks its
// own credential for the cluster in what the cluster answers (gateway/secret_mask.hpp), so tests
// compare the credential the cluster was sent by its digest.
std::string headers_json(const http::request<http::string_body>& req) {
  json::object h;
  json::object digests;
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auto& slot = h[name];
    if (slot.is_string()) {
      slot = json::string(std::string(slot.as_string()) + "\n" + std::string(f.value()));
    } else {
      slot = json::string(f.value());
    }
    const std::string_view value = slot.as_string();
    const auto d = sovgw::crypto::sha256(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
    digests[name] = json::string(fmt::format("{:02x}", fmt::join(d, "")));
  }
  return json::serialize(json::object{{"headers", h}, {"header_sha256", digests}, {"body", req.body()}});
}

std::string stats_json() {
  return json::serialize(json::object{{"requests", counters.requests.load()},
                                      {"streams_started", counters.streams_started.load()},
                                      {"streams_completed", counters.streams_completed.load()},
                                      {"streams_aborted", counters.streams_aborted.load()}});
}

std::string models_json(const std::string& owner) {
  json::array data{json::object{{"id", "mistral-small"}, {"object", "model"}, {"owned_by", owner}},
                   json::object{{"id", "llama-3.1-8b-instruct"}, {"object", "model"}, {"owned_by", owner}}};
  return json::serialize(json::object{{"object", "list"}, {"data", data}});
}

std::string error_json(const char* code, const char* message) {
  return json::serialize(json::object{
      {"error", json::object{{"message", message}, {"type", "invalid_request_error"}, {"code", code}}}});
}

// One vector per input, as OpenAI's answer has: `input` is a string, a token array, or an array of
// either (an SDK's embeddings.create({input: ["a", "b"]}) reads data[1]).
std::string embeddings_json(const std::string& model, const json::object& request) {
  std::size_t inputs = 1;
  if (const json::value* input = request.if_contains("input"); input != nullptr && input->is_array() &&
                                                               !input->as_array().empty() &&
                                                               !input->as_array().front().is_number()) {
    inputs = input->as_array().size();
  }
  json::array data;
  for (std::size_t n = 0; n < inputs; ++n) {
    json::array vec;
    for (int i = 0; i < 8; ++i) {
      vec.push_back(0.125 * i + 0.001 * static_cast<double>(n));
    }
    data.push_back(json::object{{"object", "embedding"}, {"index", n}, {"embedding", vec}});
  }
  return json::serialize(json::object{{"object", "list"},
                                      {"model", model},
                                      {"data", std::move(data)},
                                      {"usage", usage(4 * static_cast<int>(inputs), 0)}});
}

// --echo: "[NAME] received: <the last message's text>", so a demo shows which cluster served a
// request and what reached it (a redacted IBAN, say).
std::string echo_text(const std::string& name, const json::object& request) {
  std::string said;
  const json::value* messages = request.if_contains("messages");
  if (messages != nullptr && messages->is_array() && !messages->as_array().empty() &&
      messages->as_array().back().is_object()) {
    const json::value* content = messages->as_array().back().as_object().if_contains("content");
    if (content != nullptr && content->is_string()) {
      said = content->as_string();
    }
  }
  return fmt::format("[{}] received: {}", name, said);
}

std::string completion_json(const std::string& model, bool chat, int chunks, std::string text) {
  if (text.empty()) {
    for (int i = 0; i < chunks; ++i) {
      text += words[i % 16];
    }
  }
  json::object r;
  r["id"] = "chatcmpl-standin";
  r["object"] = chat ? "chat.completion" : "text_completion";
  r["created"] = std::stoll(now_s());
  r["model"] = model;
  if (chat) {
    r["choices"] =
        json::array{json::object{{"index", 0},
                                 {"message", json::object{{"role", "assistant"}, {"content", text}}},
                                 {"finish_reason", "stop"}}};
  } else {
    r["choices"] = json::array{json::object{{"index", 0}, {"text", text}, {"finish_reason", "stop"}}};
  }
  r["usage"] = usage(12, chunks);
  return json::serialize(r);
}

// The Responses API's text of a request: `input` when it is a string, else the last input item's
// text (its `content` string, or the text of its last content part).
std::string responses_input_text(const json::object& request) {
  const json::value* input = request.if_contains("input");
  if (input == nullptr) {
    return {};
  }
  if (input->is_string()) {
    return std::string(input->as_string());
  }
  if (!input->is_array() || input->as_array().empty() || !input->as_array().back().is_object()) {
    return {};
  }
  const json::value* content = input->as_array().back().as_object().if_contains("content");
  if (content != nullptr && content->is_string()) {
    return std::string(content->as_string());
  }
  if (content != nullptr && content->is_array() && !content->as_array().empty() &&
      content->as_array().back().is_object()) {
    const json::value* text = content->as_array().back().as_object().if_contains("text");
    if (text != nullptr && text->is_string()) {
      return std::string(text->as_string());
    }
  }
  return {};
}

json::object response_object(const std::string& model, const std::string& text, bool completed, int chunks) {
  json::object r;
  r["id"] = "resp_standin";
  r["object"] = "response";
  r["created_at"] = std::stoll(now_s());
  r["status"] = completed ? "completed" : "in_progress";
  r["model"] = model;
  json::array output;
  if (completed) {
    output.push_back(json::object{
        {"type", "message"},
        {"id", "msg_standin"},
        {"status", "completed"},
        {"role", "assistant"},
        {"content", json::array{json::object{
                        {"type", "output_text"}, {"text", text}, {"annotations", json::array{}}}}}});
  }
  r["output"] = std::move(output);
  if (completed) {
    r["usage"] = json::object{{"input_tokens", 12},
                              {"input_tokens_details", json::object{{"cached_tokens", 0}}},
                              {"output_tokens", chunks},
                              {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
                              {"total_tokens", 12 + chunks}};
  } else {
    r["usage"] = nullptr;
  }
  return r;
}

std::string response_text(int chunks, const std::string& first_words) {
  std::string text = first_words;
  for (int i = 0; i < chunks; ++i) {
    text += words[i % 16];
  }
  return text;
}

std::string responses_json(const std::string& model, int chunks, const std::string& echo) {
  return json::serialize(
      response_object(model, echo.empty() ? response_text(chunks, "") : echo, true, chunks));
}

std::string sse_event(json::object ev, const char* type, int sequence) {
  ev["type"] = type;
  ev["sequence_number"] = sequence;
  return std::string("event: ") + type + "\ndata: " + json::serialize(ev) + "\n\n";
}

json::object message_item(const std::string& text, bool done) {
  json::array content;
  if (done) {
    content.push_back(json::object{{"type", "output_text"}, {"text", text}, {"annotations", json::array{}}});
  }
  return json::object{{"type", "message"},
                      {"id", "msg_standin"},
                      {"status", done ? "completed" : "in_progress"},
                      {"role", "assistant"},
                      {"content", std::move(content)}};
}

// Step i of a streamed response, in the order OpenAI sends its events (the SDKs' stream helpers,
// finalResponse() among them, build the response from them and refuse a delta for an item that was
// never added): i == 0 opens it (response.created, response.in_progress, output_item.added,
// content_part.added), 1..chunks are the text deltas, chunks + 1 closes it (output_text.done,
// content_part.done, output_item.done, response.completed with the whole text and the usage; the
// Responses API has no [DONE]).
std::string responses_event(const std::string& model, int i, int chunks, const std::string& first_words) {
  const json::object part_place{{"item_id", "msg_standin"}, {"output_index", 0}, {"content_index", 0}};
  const auto in_part = [&](json::object ev) {
    for (const auto& field : part_place) {
      ev[field.key()] = field.value();
    }
    return ev;
  };
  if (i == 0) {
    const json::object opening = response_object(model, "", false, chunks);
    return sse_event(json::object{{"response", opening}}, "response.created", 0) +
           sse_event(json::object{{"response", opening}}, "response.in_progress", 1) +
           sse_event(json::object{{"output_index", 0}, {"item", message_item("", false)}},
                     "response.output_item.added", 2) +
           sse_event(in_part(json::object{{"part", json::object{{"type", "output_text"},
                                                                {"text", ""},
                                                                {"annotations", json::array{}}}}}),
                     "response.content_part.added", 3);
  }
  if (i <= chunks) {
    return sse_event(
        in_part(json::object{{"delta", i == 1 ? first_words + words[0] : std::string(words[(i - 1) % 16])},
                             {"logprobs", json::array{}}}),
        "response.output_text.delta", i + 3);
  }
  const std::string text = response_text(chunks, first_words);
  return sse_event(in_part(json::object{{"text", text}, {"logprobs", json::array{}}}),
                   "response.output_text.done", chunks + 4) +
         sse_event(in_part(json::object{{"part", json::object{{"type", "output_text"},
                                                              {"text", text},
                                                              {"annotations", json::array{}}}}}),
                   "response.content_part.done", chunks + 5) +
         sse_event(json::object{{"output_index", 0}, {"item", message_item(text, true)}},
                   "response.output_item.done", chunks + 6) +
         sse_event(json::object{{"response", response_object(model, text, true, chunks)}},
                   "response.completed", chunks + 7);
}

// One SSE event: chunk i of n (i == n is the final usage chunk, sent only when the request asked
// for it with stream_options.include_usage as OpenAI's API does, followed by [DONE]).
std::string stream_event(const std::string& model, bool chat, int i, int chunks, bool include_usage,
                         const std::string& first_words) {
  if (i == chunks && !include_usage) {
    return "data: [DONE]\n\n";
  }
  json::object ev{{"id", "chatcmpl-standin"},
                  {"object", chat ? "chat.completion.chunk" : "text_completion"},
                  {"created", std::stoll(now_s())},
                  {"model", model}};
  if (i < chunks) {
    // The last content chunk says why the choice ended, as the SDKs' stream helpers require
    // (finalChatCompletion(): "missing finish_reason for choice 0"; probe round 47).
    json::object choice{{"index", 0},
                        {"finish_reason", i + 1 == chunks ? json::value("stop") : json::value()}};
    const std::string piece = i == 0 ? first_words + words[0] : std::string(words[i % 16]);
    if (chat) {
      // The first says whose message it is, as OpenAI's does (the SDK's helper: "missing role").
      choice["delta"] =
          i == 0 ? json::object{{"role", "assistant"}, {"content", piece}} : json::object{{"content", piece}};
    } else {
      choice["text"] = piece;
    }
    ev["choices"] = json::array{choice};
  } else {
    ev["choices"] = json::array{};
    ev["usage"] = usage(12, chunks);
  }
  std::string data = "data: " + json::serialize(ev) + "\n\n";
  if (i == chunks) {
    data += "data: [DONE]\n\n";
  }
  return data;
}

void log_refusal(const sovgw::crypto::httpsig::verify_result& verdict) {
  const std::string line =
      json::serialize(json::object{{"msg", "signature_refused"},
                                   {"code", sovgw::crypto::httpsig::to_string(verdict.failure)},
                                   {"detail", verdict.detail}});
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

template <typename Stream>
class handler {
 public:
  handler(Stream& s, const options& o, const standin::signature_check* signatures)
      : stream_(s), opt_(o), signatures_(signatures) {}

  // Returns false when the connection must close.
  asio::awaitable<bool> handle(http::request<http::string_body>& req) {
    counters.requests++;
    if (signatures_ != nullptr) {
      const auto verdict = signatures_->check(req, !opt_.plaintext);
      if (!verdict.ok()) {
        log_refusal(verdict);
        co_return co_await reply(req, http::status::unauthorized, standin::refusal_json(verdict));
      }
    }
    // Routed by the path, as a real server routes: the query is the handler's business.
    const std::string_view full_target = req.target();
    std::string target(full_target.substr(0, full_target.find('?')));
    std::string fault(req["x-standin-fault"]);
    if (fault == "close-before-response") {
      co_return false;
    }
    if (fault == "bad-response") {
      co_await asio::async_write(stream_, asio::buffer(std::string_view("HTTP/1.1 2OO OK\r\nbroken\r\n\r\n")),
                                 nothrow);
      co_return false;
    }
    if (fault == "late-extra-response") {
      // A cluster that answers, then sends another response nobody asked for (a body after a HEAD
      // answer, a miscounted Content-Length): a proxy that reuses the connection must not hand it
      // to its next request.
      const bool keep = co_await reply(req, http::status::ok, R"({"fault":"late-extra-response"})");
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await t.async_wait(nothrow);
      static constexpr std::string_view extra =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          "17\r\n\r\n{\"smuggled\":true}";
      co_await asio::async_write(stream_, asio::buffer(extra), nothrow);
      co_return keep;
    }
    if (fault == "slow-headers") {
      asio::steady_timer t(co_await asio::this_coro::executor,
                           std::chrono::milliseconds(header_int(req, "x-standin-head-delay-ms", 3000)));
      co_await t.async_wait(nothrow);
    }
    if (req.count("x-standin-echo-body") != 0) {
      co_return co_await reply(req, http::status::ok, req.body());
    }
    if (target == "/debug/headers") {
      co_return co_await reply(req, http::status::ok, headers_json(req));
    }
    if (target == "/debug/stats") {
      co_return co_await reply(req, http::status::ok, stats_json());
    }
    if (target == "/v1/models" && req.method() == http::verb::get) {
      co_return co_await reply(req, http::status::ok, models_json(opt_.name));
    }
    if (target.starts_with("/v1/responses/") && req.method() == http::verb::get) {
      co_return co_await reply(
          req, http::status::ok,
          fmt::format(R"({{"id":"{}","object":"response","status":"completed","output":[],)"
                      R"("usage":{{"input_tokens":500,"output_tokens":1500,"total_tokens":2000}}}})",
                      target.substr(std::string_view("/v1/responses/").size())));
    }
    bool chat = target == "/v1/chat/completions";
    bool completions = target == "/v1/completions";
    bool embeddings = target == "/v1/embeddings";
    bool responses = target == "/v1/responses";
    if (!(chat || completions || embeddings || responses) || req.method() != http::verb::post) {
      co_return co_await error(req, http::status::not_found, "not_found",
                               "no such endpoint on the stand-in cluster");
    }
    boost::system::error_code ec;
    json::value body = json::parse(req.body(), ec);
    if (ec || !body.is_object()) {
      co_return co_await error(req, http::status::bad_request, "invalid_json", "body must be a JSON object");
    }
    const json::object& o = body.as_object();
    std::string model = o.contains("model") && o.at("model").is_string()
                            ? std::string(o.at("model").as_string())
                            : std::string("mistral-small");
    if (embeddings) {
      co_return co_await reply(req, http::status::ok, embeddings_json(model, o));
    }
    bool stream = o.contains("stream") && o.at("stream").is_bool() && o.at("stream").as_bool();
    int chunks = header_int(req, "x-standin-chunks", opt_.chunks);
    int delay = header_int(req, "x-standin-delay-ms", opt_.delay_ms);
    if (stream && responses) {
      co_return co_await stream_reply(req, model, chat, chunks, delay, fault == "reset-mid-body", false,
                                      true);
    }
    if (stream) {
      const json::value* options = o.if_contains("stream_options");
      const json::value* include = options != nullptr && options->is_object()
                                       ? options->as_object().if_contains("include_usage")
                                       : nullptr;
      const bool include_usage = include != nullptr && include->is_bool() && include->as_bool();
      co_return co_await stream_reply(req, model, chat, chunks, delay, fault == "reset-mid-body",
                                      include_usage);
    }
    if (responses && o.contains("background") && o.at("background") == json::value(true)) {
      co_return co_await reply(
          req, http::status::ok,
          R"({"id":"resp_bg1","object":"response","status":"queued","output":[],"usage":null})");
    }
    if (responses) {
      const std::string echo =
          opt_.echo ? fmt::format("[{}] received: {}", opt_.name, responses_input_text(o)) : std::string();
      co_return co_await reply(req, http::status::ok, responses_json(model, chunks, echo));
    }
    std::string full = completion_json(model, chat, chunks, opt_.echo && chat ? echo_text(opt_.name, o) : "");
    if (fault == "reset-mid-body" || fault == "reset-until-close") {
      std::string head =
          fault == "reset-mid-body"
              ? fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            full.size())
              : std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
      std::string partial = head + full.substr(0, full.size() / 2);
      co_await asio::async_write(stream_, asio::buffer(partial), nothrow);
      reset();
      co_return false;
    }
    co_return co_await reply(req, http::status::ok, std::move(full));
  }

 private:
  void reset() {
    auto& sock = beast::get_lowest_layer(stream_);
    sock.set_option(asio::socket_base::linger(true, 0));
    boost::system::error_code ignored;
    sock.close(ignored);
  }

  asio::awaitable<bool> reply(const http::request<http::string_body>& req, http::status status,
                              std::string body) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, "standin-cluster");
    res.set(http::field::content_type, "application/json");
    if (const auto type = req.find("x-standin-content-type"); type != req.end()) {
      if (type->value().empty()) {
        res.erase(http::field::content_type);
      } else {
        res.set(http::field::content_type, type->value());
      }
    }
    res.set("x-standin-cluster", opt_.name);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream_, res, nothrow);
    co_return !ec && req.keep_alive();
  }

  asio::awaitable<bool> error(const http::request<http::string_body>& req, http::status status,
                              const char* code, const char* message) {
    co_return co_await reply(req, status, error_json(code, message));
  }

  asio::awaitable<bool> stream_reply(const http::request<http::string_body>& req, const std::string& model,
                                     bool chat, int chunks, int delay_ms, bool reset_mid, bool include_usage,
                                     bool responses = false) {
    counters.streams_started++;
    const int last = responses ? chunks + 1 : chunks;
    if (req.count("x-standin-stream-length") != 0) {
      // The whole stream at once, framed by a Content-Length (as some servers buffer it).
      std::string all;
      for (int i = 0; i <= last; ++i) {
        const std::string first_words = opt_.echo ? "[" + opt_.name + "] " : std::string();
        all += responses ? responses_event(model, i, chunks, first_words)
                         : stream_event(model, chat, i, chunks, include_usage, first_words);
      }
      http::response<http::string_body> whole{http::status::ok, 11};
      whole.set(http::field::server, "standin-cluster");
      whole.set(http::field::content_type, "text/event-stream");
      whole.set("x-standin-cluster", opt_.name);
      whole.keep_alive(req.keep_alive());
      whole.body() = std::move(all);
      whole.prepare_payload();
      auto [ec, n] = co_await http::async_write(stream_, whole, nothrow);
      counters.streams_completed += ec ? 0 : 1;
      co_return !ec && req.keep_alive();
    }
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::server, "standin-cluster");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("x-standin-cluster", opt_.name);
    res.chunked(true);
    res.keep_alive(req.keep_alive());
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(stream_, sr, nothrow);
    if (hec) {
      counters.streams_aborted++;
      co_return false;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i <= last; ++i) {
      const std::string first_words = opt_.echo ? "[" + opt_.name + "] " : std::string();
      std::string data = responses ? responses_event(model, i, chunks, first_words)
                                   : stream_event(model, chat, i, chunks, include_usage, first_words);
      auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk(asio::buffer(data)), nothrow);
      if (ec) {
        counters.streams_aborted++;
        co_return false;
      }
      if (reset_mid && i == chunks / 2) {
        reset();
        counters.streams_aborted++;
        co_return false;
      }
      if (i < last && delay_ms > 0) {
        timer.expires_after(std::chrono::milliseconds(delay_ms));
        co_await timer.async_wait(nothrow);
      }
    }
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), nothrow);
    if (ec) {
      counters.streams_aborted++;
      co_return false;
    }
    counters.streams_completed++;
    co_return req.keep_alive();
  }

  Stream& stream_;
  const options& opt_;
  const standin::signature_check* signatures_;
};

// Reads one request whose first byte is in `buffer`; the socket's operations are cancelled when
// `timeout` passes first (`timed_out` then says so).
template <typename Stream>
asio::awaitable<boost::system::error_code> read_request(Stream& stream, beast::flat_buffer& buffer,
                                                        standin::request_parser& parser,
                                                        std::chrono::milliseconds timeout, bool& timed_out) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
  auto read_done = std::make_shared<bool>(false);
  auto expired = std::make_shared<bool>(false);
  auto& socket = beast::get_lowest_layer(stream);
  deadline.async_wait([&socket, read_done, expired](boost::system::error_code ec) {
    if (!ec && !*read_done) {
      *expired = true;
      socket.cancel();
    }
  });
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, nothrow);
  boost::system::error_code ec = hec;
  if (!ec && parser.get()["x-standin-fault"] == "early-answer") {
    *read_done = true;
    deadline.cancel();
    timed_out = false;
    co_return http::error::end_of_stream;  // the caller answers it (the body stays unread)
  }
  if (!ec) {
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, nothrow);
    ec = bec;
  }
  *read_done = true;
  deadline.cancel();
  timed_out = *expired;
  co_return ec;
}

std::string refusal_body(const standin::framing_refusal& r) {
  return json::serialize(json::object{
      {"error", json::object{{"message", r.message}, {"type", "invalid_request_error"}, {"code", r.code}}}});
}

// Answers a request that cannot be served as it was framed; the connection closes after it.
template <typename Stream>
asio::awaitable<void> refuse(Stream& stream, const options& opt, const standin::framing_refusal& r) {
  http::response<http::string_body> res{r.status, 11};
  res.set(http::field::server, "standin-cluster");
  res.set(http::field::content_type, "application/json");
  res.set("x-standin-cluster", opt.name);
  res.keep_alive(false);
  res.body() = refusal_body(r);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(stream, res, nothrow);
  if (ec) {
    co_return;
  }
  // A lingering close, as the gateway makes: read and drop what the client is still sending (at most
  // 8 MiB, for at most 2 s) before closing, or the unread bytes would make the kernel reset the
  // connection, and a client still writing its request would never read the answer.
  asio::steady_timer deadline(co_await asio::this_coro::executor, std::chrono::seconds(2));
  auto& socket = beast::get_lowest_layer(stream);
  auto done = std::make_shared<bool>(false);
  deadline.async_wait([&socket, done](boost::system::error_code e) {
    if (!e && !*done) {
      socket.cancel();
    }
  });
  std::array<char, 16 * 1024> scratch;
  for (std::size_t drained = 0; drained < 8 * 1024 * 1024;) {
    auto [rec, got] = co_await stream.async_read_some(asio::buffer(scratch), nothrow);
    if (rec) {
      break;
    }
    drained += got;
  }
  *done = true;
  deadline.cancel();
}

template <typename Stream>
asio::awaitable<void> serve_http(Stream& stream, const options& opt,
                                 const standin::signature_check* signatures) {
  beast::flat_buffer buffer;
  handler<Stream> h(stream, opt, signatures);
  while (true) {
    if (buffer.size() == 0) {
      // Between requests the client's connection pool decides how long to keep the connection.
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), nothrow);
      if (ec) {
        co_return;
      }
      buffer.commit(n);
    }
    standin::request_parser parser;
    parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
    parser.body_limit(64 * 1024 * 1024);
    bool timed_out = false;
    const auto ec = co_await read_request(stream, buffer, parser, opt.read_timeout, timed_out);
    if (ec == http::error::end_of_stream && parser.is_header_done() &&
        parser.get()["x-standin-fault"] == "early-answer") {
      // The answer before the body is read; then close at once, the body unread (the kernel resets
      // the connection): what the gateway must relay rather than take for a failed send.
      http::response<http::string_body> res{http::status::payload_too_large, 11};
      res.set(http::field::content_type, "application/json");
      res.set("x-standin-cluster", opt.name);
      res.keep_alive(false);
      res.body() =
          R"({"error":{"message":"request too large for this cluster","type":"invalid_request_error","code":"too_large"}})";
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
      (void)wec;
      boost::system::error_code ignored;
      beast::get_lowest_layer(stream).close(ignored);
      co_return;
    }
    if (ec || timed_out) {
      if (const auto refusal = standin::refusal_for_read_error(ec, timed_out)) {
        co_await refuse(stream, opt, *refusal);
      }
      co_return;
    }
    auto req = parser.release();
    if (const auto refusal = standin::refusal_for_request(req)) {
      co_await refuse(stream, opt, *refusal);
      co_return;
    }
    if (!co_await h.handle(req)) {
      co_return;
    }
  }
}

asio::awaitable<void> serve(tcp::socket socket, ssl::context* ctx, const options& opt,
                            const standin::signature_check* signatures) {
  if (ctx == nullptr) {
    co_await serve_http(socket, opt, signatures);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  ssl::stream<tcp::socket> stream(std::move(socket), *ctx);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, nothrow);
  if (ec) {
    co_return;
  }
  co_await serve_http(stream, opt, signatures);
  if (beast::get_lowest_layer(stream).is_open()) {
    auto [sec] = co_await stream.async_shutdown(nothrow);
    (void)sec;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, ssl::context* ctx, const options& opt,
                             const standin::signature_check* signatures) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec) {
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), ctx, opt, signatures), asio::detached);
  }
}

// A port another process holds is the usual start-up failure (a second demo, say): one line that
// names the address and port, never an uncaught exception.
bool open_acceptor(tcp::acceptor& acceptor, const options& opt) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(opt.address, ec);
  if (ec) {
    std::fprintf(stderr, "standin-cluster: --address %s: %s\n", opt.address.c_str(), ec.message().c_str());
    return false;
  }
  const tcp::endpoint endpoint(address, opt.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    const std::string shown = address.is_v6() ? "[" + opt.address + "]" : opt.address;
    std::fprintf(stderr, "standin-cluster: cannot listen on %s:%u: %s\n", shown.c_str(), opt.port,
                 ec.message().c_str());
    return false;
  }
  return true;
}

void usage_exit() {
  std::fputs(
      "usage: standin-cluster [--address A] [--port P] (--cert F --key F | --plaintext) [--chunks N] "
      "[--delay-ms D] "
      "[--name NAME] [--echo] [--max-header-bytes N] [--read-timeout-ms T]\n"
      "         [--require-signature (--verify-key PEM_OR_JWK | --hmac-key FILE)... [--cluster NAME]\n"
      "          [--require-field NAME]... [--allow-uncovered NAME]... [--max-age S] [--max-skew S]\n"
      "          [--nonce-cache N]]\n",
      stderr);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage_exit();
      }
      return argv[++i];
    };
    if (a == "--address") {
      opt.address = value();
    } else if (a == "--port") {
      opt.port = static_cast<unsigned short>(std::stoi(value()));
    } else if (a == "--cert") {
      opt.cert = value();
    } else if (a == "--key") {
      opt.key = value();
    } else if (a == "--plaintext") {
      opt.plaintext = true;
    } else if (a == "--chunks") {
      opt.chunks = std::stoi(value());
    } else if (a == "--delay-ms") {
      opt.delay_ms = std::stoi(value());
    } else if (a == "--name") {
      opt.name = value();
    } else if (a == "--echo") {
      opt.echo = true;
    } else if (a == "--max-header-bytes") {
      opt.max_header_bytes = std::stoull(value());
    } else if (a == "--read-timeout-ms") {
      opt.read_timeout = std::chrono::milliseconds(std::stoll(value()));
    } else if (a == "--require-signature") {
      opt.require_signature = true;
    } else if (a == "--verify-key") {
      opt.signature.verify_key_files.push_back(value());
    } else if (a == "--hmac-key") {
      opt.signature.hmac_key_files.push_back(value());
    } else if (a == "--cluster") {
      opt.signature.cluster = value();
    } else if (a == "--allow-uncovered") {
      opt.signature.allowed_uncovered.push_back(value());
    } else if (a == "--require-field") {
      opt.signature.required_fields.push_back(value());
    } else if (a == "--max-age") {
      opt.signature.max_age = std::stoll(value());
    } else if (a == "--max-skew") {
      opt.signature.max_skew = std::stoll(value());
    } else if (a == "--nonce-cache") {
      opt.signature.nonce_capacity = std::stoull(value());
    } else {
      usage_exit();
    }
  }
  if (!opt.plaintext && (opt.cert.empty() || opt.key.empty())) {
    usage_exit();
  }
  std::unique_ptr<standin::signature_check> signatures;
  if (opt.require_signature) {
    try {
      signatures = std::make_unique<standin::signature_check>(opt.signature);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "standin-cluster: %s\n", e.what());
      return 2;
    }
    if (opt.signature.cluster.empty()) {
      std::fputs(
          "standin-cluster: without --cluster, a request the gateway signed for any other cluster is "
          "accepted too (docs/signatures.md)\n",
          stderr);
    }
  } else if (!opt.signature.verify_key_files.empty() || !opt.signature.hmac_key_files.empty() ||
             !opt.signature.cluster.empty()) {
    std::fputs("standin-cluster: --verify-key, --hmac-key and --cluster need --require-signature\n", stderr);
    return 2;
  }
  asio::io_context ioc(1);
  std::unique_ptr<ssl::context> ctx;
  if (!opt.plaintext) {
    ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain_file(opt.cert);
    ctx->use_private_key_file(opt.key, ssl::context::pem);
  }
  tcp::acceptor acceptor(ioc);
  if (!open_acceptor(acceptor, opt)) {
    return 1;
  }
  asio::co_spawn(ioc, listen(acceptor, ctx.get(), opt, signatures.get()), asio::detached);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { ioc.stop(); });
  const std::string ready = json::serialize(json::object{{"msg", "listening"},
                                                         {"name", opt.name},
                                                         {"port", acceptor.local_endpoint().port()},
                                                         {"tls", !opt.plaintext},
                                                         {"require_signature", signatures != nullptr},
                                                         {"cluster", opt.signature.cluster}});
  std::printf("%s\n", ready.c_str());
  std::fflush(stdout);
  ioc.run();
  return 0;
}
