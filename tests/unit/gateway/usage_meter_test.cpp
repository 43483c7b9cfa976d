#include "gateway/usage_meter.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace sovgw::gateway;

namespace {

const std::string chunk = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n";
const std::string usage_event =
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17}}\n\n";
const std::string done = "data: [DONE]\n\n";

// Feeds `body` in pieces of `step` bytes; returns what the client gets.
std::string run(usage_meter& m, const std::string& body, std::size_t step) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); i += step) {
    m.feed(std::string_view(body).substr(i, step), out);
  }
  m.finish(out);
  return out;
}

}  // namespace

TEST_CASE("usage meter: a stream's usage event is read wherever the reads split it") {
  const std::string body = chunk + chunk + usage_event + done;
  for (std::size_t step : {1u, 7u, 64u, 4096u}) {
    CAPTURE(step);
    usage_meter kept(usage_meter::mode::sse, false);
    CHECK(run(kept, body, step) == body);
    CHECK(kept.known(true));
    CHECK(kept.prompt_tokens() == 12);
    CHECK(kept.completion_tokens() == 5);
    usage_meter stripped(usage_meter::mode::sse, true);
    CHECK(run(stripped, body, step) == chunk + chunk + done);
    CHECK(stripped.completion_tokens() == 5);
  }
}

TEST_CASE(
    "usage meter: the usage-only event the gateway asked for is removed even when its counts do not read") {
  // Probe round 23: negative, fractional or string counts made it reach a client that never asked
  // for it (client code reading chunk.choices[0] breaks on it).
  for (const std::string counts : {R"({"prompt_tokens":-1,"completion_tokens":4})",
                                   R"({"prompt_tokens":1.5,"completion_tokens":"4"})", R"("lots")"}) {
    CAPTURE(counts);
    const std::string unread = "data: {\"choices\":[],\"usage\":" + counts + "}\n\n";
    usage_meter m(usage_meter::mode::sse, true);
    CHECK(run(m, chunk + unread + done, 7) == chunk + done);
    CHECK_FALSE(m.known(true));
    usage_meter kept(usage_meter::mode::sse, false);
    CHECK(run(kept, chunk + unread + done, 7) == chunk + unread + done);
  }
}

TEST_CASE("usage meter: CRLF events, usage:null chunks, and a usage event with choices is never removed") {
  std::string crlf = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\r\n\r\n";
  usage_meter m(usage_meter::mode::sse, true);
  CHECK(run(m, chunk + crlf + done, 5) == chunk + done);
  CHECK(m.prompt_tokens() == 3);
  // Its content reaches the client; the usage the gateway asked for does not (probe round 39).
  const std::string with_choices =
      "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
  usage_meter n(usage_meter::mode::sse, true);
  CHECK(run(n, with_choices + done, 3) == "data: {\"choices\":[{\"delta\":{}}]}\n\n" + done);
  CHECK(n.completion_tokens() == 2);
  usage_meter asked(usage_meter::mode::sse, false);
  CHECK(run(asked, with_choices + done, 3) == with_choices + done);
  usage_meter none(usage_meter::mode::sse, true);
  CHECK(run(none, chunk + done, 2) == chunk + done);
  CHECK_FALSE(none.known(true));
}

TEST_CASE("usage meter: JSON bodies, including usage far from the start and text that mentions usage") {
  const std::string body = "{\"choices\":[{\"message\":{\"content\":\"the \\\"usage\\\": field " +
                           std::string(200000, 'x') +
                           "\"}}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":9}}";
  usage_meter m(usage_meter::mode::json, false);
  CHECK(run(m, body, 16384) == body);
  CHECK(m.known(true));
  CHECK(m.prompt_tokens() == 7);
  CHECK(m.completion_tokens() == 9);
  usage_meter none(usage_meter::mode::json, false);
  (void)run(none, "{\"usage\":null}", 4);
  CHECK_FALSE(none.known(true));
  // The relay's path for answers that pass through unchanged: observe() reads without copying.
  usage_meter observed(usage_meter::mode::json, false);
  REQUIRE(observed.passes_through());
  for (std::size_t i = 0; i < body.size(); i += 16384) {
    observed.observe(std::string_view(body).substr(i, 16384));
  }
  std::string held;
  observed.finish(held);
  CHECK(held.empty());
  CHECK(observed.known(true));
  CHECK(observed.prompt_tokens() == 7);
  CHECK(observed.completion_tokens() == 9);
  CHECK_FALSE(usage_meter(usage_meter::mode::sse, false).passes_through());
}

TEST_CASE("usage meter: a usage object far before the end of a large JSON body is read") {
  // Probe round 37: a `usage` more than 128 KiB before the end was never seen; the request was
  // charged a size estimate and the record said the cluster reported no usage.
  const std::string body =
      "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":9},"
      "\"choices\":[{\"message\":{\"content\":\"" +
      std::string(300000, 'x') + "\"}}]}";
  for (const std::size_t step : {std::size_t{1000}, std::size_t{16384}, std::size_t{70000}}) {
    CAPTURE(step);
    usage_meter m(usage_meter::mode::json, false);
    CHECK(run(m, body, step) == body);
    CHECK(m.known(true));
    CHECK(m.prompt_tokens() == 7);
    CHECK(m.completion_tokens() == 9);
  }
  // A "usage" inside the text before the tail is the model's, not the cluster's.
  const std::string text =
      "{\"choices\":[{\"message\":{\"content\":\"\\\"usage\\\":{\\\"prompt_tokens\\\":1}" +
      std::string(300000, 'x') + "\"}}]}";
  usage_meter t(usage_meter::mode::json, false);
  (void)run(t, text, 16384);
  CHECK_FALSE(t.known(true));
}

TEST_CASE("usage meter: only the usage object's own counts, non-negative integers, are read") {
  const auto read = [](const std::string& usage) {
    usage_meter m(usage_meter::mode::json, false);
    (void)run(m, "{\"id\":\"x\",\"usage\":" + usage + "}", 4096);
    return m;
  };
  // Nested objects (OpenAI's *_tokens_details) with the same key names do not override the counts.
  const usage_meter nested =
      read(R"({"prompt_tokens":10,"prompt_tokens_details":{"prompt_tokens":99,"cached_tokens":4},)"
           R"("completion_tokens":3,"completion_tokens_details":{"completion_tokens":77}})");
  CHECK(nested.known(true));
  CHECK(nested.prompt_tokens() == 10);
  CHECK(nested.completion_tokens() == 3);
  // Negative, fractional, string or null counts count 0; an escaped key is still the key. A usage
  // object with no count in it says nothing of what the answer cost: estimated, never free.
  const usage_meter odd = read(R"({"prompt_tokens":-5,"completion_\u0074okens":2.5})");
  CHECK_FALSE(odd.known(true));
  CHECK_FALSE(read(R"({"total_tokens":30})").known(true));
  CHECK_FALSE(read(R"({})").known(true));
  const usage_meter escaped = read(R"({"prompt_\u0074okens":"7","completion_\u0074okens":8})");
  CHECK(escaped.prompt_tokens() == 0);
  CHECK(escaped.completion_tokens() == 8);
  CHECK_FALSE(read("[1,2]").known(true));
  CHECK_FALSE(read("\"12\"").known(true));
  CHECK_FALSE(read("{\"prompt_tokens\":").known(true));  // not JSON
}

TEST_CASE("usage meter: without the cluster's usage, an estimate from what was relayed") {
  usage_meter cut(usage_meter::mode::sse, true);
  std::string out;
  cut.feed(chunk + chunk + chunk + "data: {\"choi", out);  // the client left here
  cut.estimate(101, true);
  CHECK_FALSE(cut.known(true));
  CHECK(cut.prompt_tokens() == 26);     // 101 bytes forwarded, one token per 4
  CHECK(cut.completion_tokens() == 3);  // one per whole event relayed
  usage_meter json(usage_meter::mode::json, false);
  json.observe(std::string(40, 'x'));
  json.estimate(8, true);
  CHECK((json.prompt_tokens() == 2 && json.completion_tokens() == 10));
  json.estimate(8, false);  // an embedding's vector is not generated text
  CHECK(json.completion_tokens() == 0);
  // The cluster's own usage is never replaced.
  usage_meter reported(usage_meter::mode::sse, true);
  (void)run(reported, chunk + usage_event + done, 7);
  reported.estimate(1000, true);
  CHECK((reported.prompt_tokens() == 12 && reported.completion_tokens() == 5));
}

TEST_CASE("usage meter: the Responses API's usage (input_tokens, output_tokens), JSON and streamed") {
  const std::string body =
      R"({"id":"resp_1","object":"response","output":[{"type":"message","content":[{"type":"output_text",)"
      R"("text":"Hi"}]}],"usage":{"input_tokens":21,"input_tokens_details":{"cached_tokens":3},)"
      R"("output_tokens":9,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":30}})";
  usage_meter json(usage_meter::mode::json, false);
  CHECK(run(json, body, 11) == body);
  CHECK(json.known(true));
  CHECK(json.prompt_tokens() == 21);
  CHECK(json.completion_tokens() == 9);

  // created (usage null), a delta, completed (the usage inside `response`); no [DONE].
  const std::string stream =
      "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n"
      "event: response.output_text.delta\ndata: "
      "{\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
      "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"output\":[],"
      "\"usage\":{\"input_tokens\":21,\"output_tokens\":9,\"total_tokens\":30}}}\n\n";
  for (std::size_t step : {1u, 13u, 4096u}) {
    CAPTURE(step);
    usage_meter sse(usage_meter::mode::sse, false);
    CHECK(run(sse, stream, step) == stream);
    CHECK(sse.known(true));
    CHECK(sse.prompt_tokens() == 21);
    CHECK(sse.completion_tokens() == 9);
  }
}

TEST_CASE("usage meter: counts reported over several events are merged, none reset by an event without it") {
  // Anthropic's Messages stream: message_start has the input tokens (and a first output count),
  // message_delta the output tokens so far, and no input count.
  const std::string stream =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":"
      "{\"input_tokens\":5000,\"output_tokens\":1}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
      "{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
      "\"usage\":{\"output_tokens\":7}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  for (std::size_t step : {1u, 17u, 4096u}) {
    CAPTURE(step);
    usage_meter sse(usage_meter::mode::sse, false);
    CHECK(run(sse, stream, step) == stream);
    CHECK(sse.known(true));
    CHECK(sse.prompt_tokens() == 5000);
    CHECK(sse.completion_tokens() == 7);
  }
  // Only the output count reported: the prompt's is estimated, the output's kept.
  usage_meter half(usage_meter::mode::sse, false);
  (void)run(half, "data: {\"usage\":{\"output_tokens\":7}}\n\n", 4096);
  CHECK_FALSE(half.known(true));
  half.estimate(4000, true);
  CHECK(half.prompt_tokens() == 1000);
  CHECK(half.completion_tokens() == 7);
  // An embedding's usage has no completion count, and needs none.
  usage_meter embedding(usage_meter::mode::json, false);
  (void)run(embedding, R"({"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}})", 4096);
  CHECK(embedding.known(false));
  CHECK_FALSE(embedding.known(true));
}

TEST_CASE("usage meter: Anthropic's cached prompt, Gemini's usageMetadata and Ollama's own counts are read") {
  // Probe round 26: each was charged a fraction of the work (a 40,000-token cached document cost 12
  // tokens; a Gemini stream one token per event) or many times it (Ollama's NDJSON by its bytes).
  const std::string anthropic =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,"
      "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":40000,\"output_tokens\":1}}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":20}}\n\n";
  usage_meter sse(usage_meter::mode::sse, false);
  CHECK(run(sse, anthropic, 9) == anthropic);
  CHECK(sse.known(true));
  CHECK(sse.prompt_tokens() == 40012);
  CHECK(sse.completion_tokens() == 20);
  usage_meter json(usage_meter::mode::json, false);
  (void)run(
      json,
      R"({"content":[],"usage":{"input_tokens":12,"cache_creation_input_tokens":40000,"output_tokens":20}})",
      4096);
  CHECK(json.prompt_tokens() == 40012);
  // Gemini: cumulative usageMetadata in each chunk; thoughts are completion tokens the candidates
  // count leaves out.
  const std::string gemini =
      "data: "
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":{"
      "\"promptTokenCount\":5,"
      "\"candidatesTokenCount\":500}}\r\n\r\n"
      "data: "
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]}}],\"usageMetadata\":{"
      "\"promptTokenCount\":5,"
      "\"candidatesTokenCount\":1500,\"thoughtsTokenCount\":100,\"totalTokenCount\":1605}}\r\n\r\n";
  usage_meter g(usage_meter::mode::sse, false);
  CHECK(run(g, gemini, 13) == gemini);
  CHECK(g.known(true));
  CHECK(g.prompt_tokens() == 5);
  CHECK(g.completion_tokens() == 1600);
  // Ollama's NDJSON: its counts at the top level of the final object; a model's text that writes
  // the key is a string, not a count.
  const std::string ollama =
      "{\"message\":{\"content\":\"say \\\"eval_count\\\": 1\"},\"done\":false}\n"
      "{\"message\":{\"content\":\"\"},\"done\":true,\"prompt_eval_count\":26,\"eval_count\":300}\n";
  usage_meter o(usage_meter::mode::json, false);
  (void)run(o, ollama, 11);
  CHECK(o.known(true));
  CHECK(o.prompt_tokens() == 26);
  CHECK(o.completion_tokens() == 300);
  // llama.cpp's server's /completion answer: its counts at the top level (probe round 50: charged by
  // the answer's size, a quarter of 4000 digits predicted); the same keys in the text are not.
  const std::string llama =
      R"({"content":"1 2 3 \"tokens_predicted\": 1","tokens_predicted":4000,"tokens_evaluated":12,)"
      R"("timings":{"predicted_n":4000}})";
  usage_meter l(usage_meter::mode::json, false);
  (void)run(l, llama, 17);
  CHECK(l.known(true));
  CHECK(l.prompt_tokens() == 12);
  CHECK(l.completion_tokens() == 4000);
}

TEST_CASE("usage meter: an event too large to hold is passed on and counted, and the meter reads on") {
  // A vLLM stream with echo: the first event repeats a 1.1 MiB prompt.
  const std::string big = "data: {\"choices\":[{\"text\":\"" + std::string(1100 * 1024, 'p') + "\"}]}\n\n";
  const std::string stream = big + chunk + usage_event + done;
  for (std::size_t step : {4096u, 65536u, 1u << 21}) {
    CAPTURE(step);
    usage_meter m(usage_meter::mode::sse, true);
    CHECK(run(m, stream, step) == big + chunk + done);  // the usage event the gateway asked for removed
    CHECK(m.known(true));
    CHECK(m.prompt_tokens() == 12);
    CHECK(m.completion_tokens() == 5);
  }
  // Cut inside the large event: estimated from the events relayed, never nothing.
  usage_meter cut(usage_meter::mode::sse, true);
  std::string out;
  cut.feed(big.substr(0, big.size() - 10), out);
  cut.estimate(4000, true);
  CHECK(cut.prompt_tokens() == 1000);
  CHECK(out.size() + 3 == big.size() - 10);  // all but the bytes that may start the blank line
}

TEST_CASE("usage meter: events whose lines end in CR alone, and every usage object counts at its largest") {
  const auto cr_only = [](std::string text) {
    std::replace(text.begin(), text.end(), '\n', '\r');
    return text;
  };
  for (std::size_t step : {1u, 5u, 4096u}) {
    CAPTURE(step);
    usage_meter m(usage_meter::mode::sse, true);
    CHECK(run(m, cr_only(chunk + usage_event + done), step) == cr_only(chunk + done));
    CHECK((m.prompt_tokens() == 12 && m.completion_tokens() == 5));
  }
  // A body that echoes an object of the client's with its own "usage" after the cluster's.
  usage_meter echoed(usage_meter::mode::json, false);
  (void)run(echoed,
            R"({"usage":{"prompt_tokens":900,"completion_tokens":40},)"
            R"("metadata":{"usage":{"prompt_tokens":0,"completion_tokens":0}}})",
            4096);
  CHECK((echoed.prompt_tokens() == 900 && echoed.completion_tokens() == 40));
  // Probe round 30: only the top level's usage is the cluster's. An echoed one of the client's
  // with huge counts (its tool schema's default) set the charge, and one with zeros made an answer
  // without the cluster's usage free; Gemini's and Ollama's names alike.
  for (const std::size_t step : {1u, 7u, 4096u}) {
    CAPTURE(step);
    usage_meter inflated(usage_meter::mode::json, false);
    (void)run(
        inflated,
        R"({"tools":[{"parameters":{"default":{"usage":{"prompt_tokens":1099511627776,)"
        R"("completion_tokens":1099511627776},"usageMetadata":{"promptTokenCount":5},"eval_count":7}}}],)"
        R"("usage":{"prompt_tokens":900,"completion_tokens":40}})",
        step);
    CHECK((inflated.prompt_tokens() == 900 && inflated.completion_tokens() == 40));
    usage_meter zeroed(usage_meter::mode::json, false);
    (void)run(zeroed,
              R"({"choices":[{"message":{"content":"{\"usage\":{\"prompt_tokens\":0}}"}}],)"
              R"("metadata":{"usage":{"prompt_tokens":0,"completion_tokens":0}}})",
              step);
    CHECK(!zeroed.known(true));
    zeroed.estimate(4000, true);
    CHECK(zeroed.prompt_tokens() == 1000);
  }
  // The top level is followed across a long answer, whose tail alone is kept: strings holding
  // quotes, backslashes and braces before it change nothing.
  const std::string filler(300 * 1024, 'x');
  usage_meter long_answer(usage_meter::mode::json, false);
  (void)run(long_answer,
            R"({"choices":[{"message":{"content":"a \"quoted\" {brace} [x] \\)" + filler +
                R"("}}],"echo":{"usage":{"prompt_tokens":5,"completion_tokens":5}},)"
                R"("usage":{"prompt_tokens":77,"completion_tokens":3}})",
            4096);
  CHECK((long_answer.prompt_tokens() == 77 && long_answer.completion_tokens() == 3));
  // A count beyond any real answer's is held to 2^40: a sum of two cannot wrap.
  usage_meter huge(usage_meter::mode::json, false);
  (void)run(huge, R"({"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":2}})", 4096);
  CHECK(huge.prompt_tokens() == (std::uint64_t{1} << 40));
  CHECK(huge.prompt_tokens() + huge.completion_tokens() > huge.prompt_tokens());
  // Past 2^64 too (read as a double; probe round 30: taken for no count, and estimated).
  usage_meter past(usage_meter::mode::json, false);
  (void)run(past, R"({"usage":{"prompt_tokens":18446744073709551616,"completion_tokens":1e30}})", 4096);
  CHECK(past.known(true));
  CHECK((past.prompt_tokens() == (std::uint64_t{1} << 40) &&
         past.completion_tokens() == (std::uint64_t{1} << 40)));
}

TEST_CASE("usage meter: the usage key is found at every offset, near-misses around it ignored") {
  // The search tests sixteen positions at a time and the last few bytes one by one: the key at
  // every offset of a short body crosses both, and decoys that share its first, second or last
  // byte must not stop it.
  for (std::size_t pad = 0; pad < 48; ++pad) {
    const std::string body =
        "{\"" + std::string(pad, 'a') +
        "\":\"\\\"us\\\"\"u\"usag\",\"usage\":{\"prompt_tokens\":" + std::to_string(pad + 1) +
        ",\"completion_tokens\":2}}";
    usage_meter m(usage_meter::mode::json, false);
    CHECK(run(m, body, body.size()) == body);
    CHECK(m.known(true));
    CHECK(m.prompt_tokens() == pad + 1);
  }
  usage_meter tail(usage_meter::mode::json, false);
  (void)run(tail, std::string(40, ' ') + "\"usage\"", 64);
  CHECK_FALSE(tail.known(true));
}

TEST_CASE("the completion's bound is the one the endpoint honours; one it ignores bounds nothing") {
  const auto bound = [](const char* path, const sovgw::classify::body_fields& f) {
    sovgw::http::message_head h;
    REQUIRE(sovgw::http::parse_request_head(std::string("POST ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n", {},
                                            h) == sovgw::http::parse_error::none);
    return sovgw::gateway::completion_bound(h, f);
  };
  sovgw::classify::body_fields f;
  f.max_output_tokens = 1;  // the Responses API's field, sent to chat completions
  CHECK(bound("/v1/chat/completions", f) == 0);
  CHECK(bound("/v1/responses", f) == 1);
  f.max_tokens = 100;
  f.max_completion_tokens = 300;
  f.choices = 2;
  CHECK(bound("/v1/chat/completions", f) == 600);  // the larger, times n
  CHECK(bound("/v1/completions", f) == 200);
  CHECK(bound("/v1/messages", f) == 200);
  CHECK(bound("/api/chat", f) == 0);  // Ollama reads options.num_predict
  CHECK(bound("/openai/deployments/x/chat/completions", f) == 600);
  // Each prompt of a batch is completed n times; a conversation is one prompt.
  f.prompts = 10;
  CHECK(bound("/v1/completions", f) == 2000);
  CHECK(bound("/v1/chat/completions", f) == 600);
  f.max_tokens = 1'000'000'000'000;
  f.choices = 1'000'000;
  f.prompts = 1'000'000;
  CHECK(bound("/v1/completions", f) == sovgw::gateway::max_completion_bound);
  // SGLang's and TGI's /generate honour max_new_tokens, for each of n choices of each prompt.
  sovgw::classify::body_fields g;
  g.max_new_tokens = 500;
  g.choices = 6;
  g.prompts = 2;
  CHECK(bound("/generate", g) == 6000);
  CHECK(bound("/generate_stream", g) == 6000);
  CHECK(bound("/v1/chat/completions", g) == 0);
  // Probe round 22: llama.cpp's n_predict and Ollama's options.num_predict were no bound, so six
  // requests asking 2,000 tokens each were all admitted on a budget with room for three.
  sovgw::classify::body_fields llama;
  llama.n_predict = 2000;
  CHECK(bound("/completion", llama) == 2000);  // llama.cpp's own endpoint
  CHECK(bound("/infill", llama) == 2000);
  CHECK(bound("/v1/chat/completions", llama) == 0);  // vLLM ignores it: no bound the cluster honours
  llama.max_tokens = 10;  // llama.cpp reads n_predict first, on every endpoint: the larger counts
  CHECK(bound("/v1/chat/completions", llama) == 2000);
  CHECK(bound("/v1/completions", llama) == 2000);
  CHECK(bound("/completion", llama) == 2000);
  sovgw::classify::body_fields ollama;
  ollama.num_predict = 2000;
  CHECK(bound("/api/generate", ollama) == 2000);
  CHECK(bound("/api/chat", ollama) == 2000);
  CHECK(bound("/generate", ollama) == 0);  // SGLang and TGI read no options
  ollama.max_new_tokens = 10;              // Ollama reads no max_new_tokens
  CHECK(bound("/api/generate", ollama) == 2000);
  // An Assistants run honours max_completion_tokens, for all its turns (probe round 40: no bound).
  sovgw::classify::body_fields run;
  run.max_completion_tokens = 700;
  run.max_tokens = 9000;  // not a run's field
  CHECK(bound("/v1/threads/thread_1/runs", run) == 700);
  CHECK(bound("/v1/threads/runs", run) == 700);
  CHECK(bound("/openai/threads/thread_1/runs/", run) == 700);
  CHECK(bound("/v1/evals/eval_1/runs", run) == 0);
}

TEST_CASE("usage meter: an event's usage is read only where the APIs put it, never in what it echoes") {
  // Probe round 28: a Responses stream's first event echoes the request's tools; a client put
  // "usage":{"input_tokens":0,"output_tokens":0} in a tool's schema and left before
  // response.completed: the request was charged nothing, as if the cluster had said so.
  const std::string created =
      "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null,"
      "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":"
      "{\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}},\"usage\":{\"input_tokens\":0,"
      "\"output_tokens\":0}}],\"metadata\":{\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}}\n\n";
  const std::string delta =
      "event: response.output_text.delta\ndata: "
      "{\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n";
  for (std::size_t step : {1u, 13u, 4096u}) {
    CAPTURE(step);
    usage_meter cut(usage_meter::mode::sse, false);
    CHECK(run(cut, created + delta, step) == created + delta);
    CHECK_FALSE(cut.known(false));  // estimated, as an answer that ended without usage
    cut.estimate(4000, true);
    CHECK(cut.prompt_tokens() == 1000);
  }
  // The client's echoed zeros beside the cluster's own counts change nothing.
  const std::string completed =
      "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"tools\":[{\"usage\":"
      "{\"input_tokens\":0}}],\"usage\":{\"input_tokens\":21,\"output_tokens\":9}}}\n\n";
  usage_meter whole(usage_meter::mode::sse, false);
  (void)run(whole, created + delta + completed, 7);
  CHECK(whole.known(true));
  CHECK((whole.prompt_tokens() == 21 && whole.completion_tokens() == 9));
  // Nor in a chunk's choices (a model's tool call arguments are strings; an object there is not usage).
  usage_meter chunked(usage_meter::mode::sse, false);
  (void)run(chunked, "data: {\"choices\":[{\"delta\":{\"x\":{\"usage\":{\"prompt_tokens\":0}}}}]}\n\n", 4096);
  CHECK_FALSE(chunked.known(false));
}

TEST_CASE("usage meter: an event that says more than the usage reaches the client without the usage") {
  // Probe round 39: an in-band error riding in the usage event the gateway asked for was removed
  // with it, and the client's SDK ended the stream as a success.
  const std::string cases[][2] = {
      {R"({"error":{"message":"stream failed: CUDA OOM"},"usage":{"prompt_tokens":7,"completion_tokens":2}})",
       R"({"error":{"message":"stream failed: CUDA OOM"}})"},
      {R"({"id":"c1","choices":[], "usage" : {"prompt_tokens":7,"completion_tokens":2} ,"error":{"code":"x"}})",
       R"({"id":"c1","choices":[] ,"error":{"code":"x"}})"},
      {R"({ "usage":{"prompt_tokens":7,"completion_tokens":2},"prompt_filter_results":[{"a":"}\"{"}],"choices":[]})",
       R"({ "prompt_filter_results":[{"a":"}\"{"}],"choices":[]})"},
      // a repeated or escaped key is the same member to a client's parser
      {R"({"\u0075sage":{"prompt_tokens":7,"completion_tokens":2},"usage":{"prompt_tokens":7,"completion_tokens":2},"x":1.50e2,"choices":[]})",
       R"({"x":1.50e2,"choices":[]})"},
  };
  for (const auto& [sent, relayed] : cases) {
    CAPTURE(sent);
    for (const std::size_t step : {1u, 9u, 4096u}) {
      usage_meter m(usage_meter::mode::sse, true);
      CHECK(run(m, chunk + "data: " + sent + "\n\n" + done, step) ==
            chunk + "data: " + relayed + "\n\n" + done);
      CHECK(m.prompt_tokens() == 7);
      CHECK(m.completion_tokens() == 2);
    }
  }
  // The event's other lines stay; its data, on several lines, comes back on as many.
  usage_meter lines(usage_meter::mode::sse, true);
  CHECK(
      run(lines,
          "event: error\r\nid: 4\r\ndata: {\"error\":{},\r\ndata: \"usage\":{\"prompt_tokens\":7}}\r\n\r\n" +
              done,
          5) == "event: error\r\nid: 4\r\ndata: {\"error\":{}}\r\n\r\n" + done);
  // Nothing but the usage and the chunk's envelope: removed whole, as before.
  for (const std::string only :
       {R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp",)"
        R"("service_tier":"default","obfuscation":"x","choices":[],"usage":{"prompt_tokens":7}})",
        R"({"choices":{},"usage":{"prompt_tokens":7},"timings":{"predicted_ms":3}})"}) {
    CAPTURE(only);
    usage_meter m(usage_meter::mode::sse, true);
    CHECK(run(m, chunk + "data: " + only + "\n\n" + done, 7) == chunk + done);
    CHECK(m.prompt_tokens() == 7);
  }
}

TEST_CASE("usage meter: content chunks carry no usage the client declined, each read (continuous usage)") {
  // Probe round 39: vLLM's continuous_usage_stats puts a usage in every chunk once include_usage
  // is true, which the gateway sets even over a client's `false`.
  std::string body;
  for (int i = 1; i <= 3; ++i) {
    body +=
        R"(data: {"choices":[{"index":0,"delta":{"content":"w"}}],"usage":{"prompt_tokens":5,"completion_tokens":)" +
        std::to_string(i) + "}}\n\n";
  }
  usage_meter m(usage_meter::mode::sse, true);
  const std::string out = run(m, body + done, 11);
  CHECK(out.find("usage") == std::string::npos);
  CHECK(out ==
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\"}}]}\n\n" +
            done);
  CHECK(m.known(true));
  CHECK(m.completion_tokens() == 3);
  // A chunk's "usage":null says nothing: it goes as it came.
  usage_meter nulls(usage_meter::mode::sse, true);
  CHECK(run(nulls, chunk + chunk + done, 3) == chunk + chunk + done);
}

TEST_CASE("usage meter: the usage-only event is removed when the stream ends without its blank line") {
  // Probe round 39 (info): read but relayed when unterminated.
  usage_meter m(usage_meter::mode::sse, true);
  CHECK(run(m, chunk + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n",
            6) == chunk);
  CHECK(m.completion_tokens() == 2);
}

TEST_CASE("usage meter: a stream the gateway asked usage for is read as events whatever its media type") {
  // Probe round 39: under no Content-Type, text/plain or application/json, the usage-only event
  // reached the client, and its usage went unread (but under JSON).
  const auto meter = [](const std::string& type, bool requested) {
    sovgw::http::message_head req;
    REQUIRE(sovgw::http::parse_request_head("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n\r\n", {},
                                            req) == sovgw::http::parse_error::none);
    sovgw::http::message_head up;
    REQUIRE(sovgw::http::parse_response_head("HTTP/1.1 200 OK\r\n" +
                                                 (type.empty() ? "" : "Content-Type: " + type + "\r\n") +
                                                 "Transfer-Encoding: chunked\r\n\r\n",
                                             "POST", up) == sovgw::http::parse_error::none);
    return usage_meter_for(req, up, requested);
  };
  const std::string usage_only =
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n";
  // (A list such as "text/event-stream, text/plain" is refused as ambiguous: http_parser_test.)
  for (const std::string type : {"", "text/plain", "application/json"}) {
    for (const std::string start : {"", "\xEF\xBB\xBF", "\n\n", ": ping\n\n"}) {
      CAPTURE(type);
      CAPTURE(start);
      for (const std::size_t step : {1u, 3u, 4096u}) {
        usage_meter m = meter(type, true);
        CHECK(m.may_change_body());
        CHECK(run(m, start + chunk + usage_only + done, step) == start + chunk + done);
        CHECK(m.known(true));
        CHECK(m.completion_tokens() == 2);
      }
    }
    // Not written as events: the body as it came, its usage read as a JSON answer's.
    const std::string answer = R"({"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1}})";
    usage_meter m = meter(type, true);
    CHECK(run(m, "  " + answer, 2) == "  " + answer);
    CHECK(m.known(true) == (type == "application/json"));
    // A stream the gateway did not ask usage for is read as it always was.
    usage_meter plain = meter(type, false);
    CHECK_FALSE(plain.may_change_body());
    CHECK(run(plain, chunk + usage_only + done, 5) == chunk + usage_only + done);
  }
  usage_meter empty = meter("text/plain", true);
  CHECK(run(empty, "", 1).empty());
}

namespace {

usage_meter meter_for_type(const std::string& type, bool requested) {
  sovgw::http::message_head req;
  REQUIRE(sovgw::http::parse_request_head("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n\r\n", {}, req) ==
          sovgw::http::parse_error::none);
  sovgw::http::message_head up;
  REQUIRE(sovgw::http::parse_response_head(
              "HTTP/1.1 200 OK\r\nContent-Type: " + type + "\r\nTransfer-Encoding: chunked\r\n\r\n", "POST",
              up) == sovgw::http::parse_error::none);
  return usage_meter_for(req, up, requested);
}

}  // namespace

TEST_CASE("usage meter: a JSON answer labelled text/event-stream is read as the JSON answer it is") {
  // Probe round 41: its usage was ignored and its completion charged 0 (no events in it), with a
  // note saying the cluster reported no usage.
  const std::string answer =
      R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",)"
      R"("content":"hi"}}],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}})";
  const std::string no_usage = R"({"choices":[{"message":{"content":")" + std::string(4000, 'w') + R"("}}]})";
  for (const bool requested : {true, false}) {
    for (const std::size_t step : {1u, 7u, 4096u}) {
      CAPTURE(requested);
      CAPTURE(step);
      usage_meter m = meter_for_type("text/event-stream", requested);
      CHECK(run(m, answer, step) == answer);
      CHECK(m.known(true));
      CHECK((m.prompt_tokens() == 10 && m.completion_tokens() == 20));
      usage_meter bare = meter_for_type("text/event-stream; charset=utf-8", requested);
      CHECK(run(bare, no_usage, step) == no_usage);
      CHECK_FALSE(bare.known(true));
      bare.estimate(40, true);
      CHECK(bare.completion_tokens() == (no_usage.size() + 3) / 4);
    }
  }
  // Written as events, it is read as events as ever.
  usage_meter events = meter_for_type("text/event-stream", true);
  CHECK(run(events, chunk + usage_event + done, 3) == chunk + done);
  CHECK(events.completion_tokens() == 5);
}

TEST_CASE(
    "usage meter: streamed and JSON answers read usage alike: keys decoded, duplicates at their largest") {
  // Probe round 41: an escaped "\u0075sage" went unread in a stream (an estimate charged, the event
  // passed to a client that did not ask for usage) and in a JSON answer; a repeated usage member
  // was the largest in a JSON answer but the last in a stream; a repeated count, the last in both.
  const std::string envelope =
      R"("id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[])";
  const std::string bodies[] = {
      "{" + envelope + R"(,"\u0075sage":{"prompt_tokens":10,"completion_tokens":20}})",
      "{" + envelope + R"(,"us\u0061ge":{"prompt_\u0074okens":10,"\u0063ompletion_tokens":20}})",
      "{" + envelope +
          R"(,"usage":{"prompt_tokens":10,"completion_tokens":20},"usage":{"prompt_tokens":1,"completion_tokens":1}})",
      "{" + envelope +
          R"(,"usage":{"prompt_tokens":1,"completion_tokens":1},"usage":{"prompt_tokens":10,"completion_tokens":20}})",
      "{" + envelope + R"(,"usage":{"prompt_tokens":10,"completion_tokens":20,"completion_tokens":1}})",
      "{" + envelope + R"(,"usage":{"prompt_tokens":10,"completion_tokens":1,"completion_tokens":20}})",
  };
  for (const std::string& body : bodies) {
    CAPTURE(body);
    for (const std::size_t step : {1u, 5u, 4096u}) {
      CAPTURE(step);
      usage_meter stripped(usage_meter::mode::sse, true);
      CHECK(run(stripped, chunk + "data: " + body + "\n\n" + done, step) == chunk + done);
      CHECK(stripped.known(true));
      CHECK((stripped.prompt_tokens() == 10 && stripped.completion_tokens() == 20));
      usage_meter kept(usage_meter::mode::sse, false);
      CHECK(run(kept, chunk + "data: " + body + "\n\n" + done, step) ==
            chunk + "data: " + body + "\n\n" + done);
      CHECK((kept.prompt_tokens() == 10 && kept.completion_tokens() == 20));
      usage_meter answer(usage_meter::mode::json, false);
      CHECK(run(answer, body, step) == body);
      CHECK(answer.known(true));
      CHECK((answer.prompt_tokens() == 10 && answer.completion_tokens() == 20));
    }
  }
  // Escaped, but not the usage: a client's `usage` one level down stays the client's.
  usage_meter nested(usage_meter::mode::json, false);
  (void)run(nested, R"({"metadata":{"\u0075sage":{"prompt_tokens":0,"completion_tokens":0}}})", 4096);
  CHECK_FALSE(nested.known(true));
  usage_meter nested_event(usage_meter::mode::sse, true);
  const std::string echo =
      "data: {\"choices\":[{\"delta\":{\"x\":{\"\\u0075sage\":{\"prompt_tokens\":0}}}}]}\n\n";
  CHECK(run(nested_event, echo + done, 4096) == echo + done);
  CHECK_FALSE(nested_event.known(true));
}

TEST_CASE(
    "usage meter: nothing after data: [DONE] is read, and it is dropped where the answer is re-framed") {
  // Probe round 46: a usage event after [DONE] was charged, though the SDKs stop reading there
  // (they test the data with startswith("[DONE]")), and content after it reached the client.
  const std::string after = chunk + usage_event;
  for (const std::string& end :
       {done, std::string("data:[DONE]\r\n\r\n"), std::string("event: end\ndata: [DONE] \n\n")}) {
    for (std::size_t step : {1u, 5u, 4096u}) {
      CAPTURE(end);
      CAPTURE(step);
      usage_meter kept(usage_meter::mode::sse, false);
      CHECK(run(kept, chunk + end + after, step) == chunk + end + after);  // the body is the cluster's
      CHECK_FALSE(kept.known(true));
      usage_meter stripped(usage_meter::mode::sse, true);
      CHECK(run(stripped, chunk + end + after, step) == chunk + end);
      CHECK_FALSE(stripped.known(true));
      stripped.estimate(100, true);
      CHECK(stripped.completion_tokens() == 1);  // the one content event before [DONE]
    }
  }
  // A content whose text is "[DONE]" is no end.
  usage_meter m(usage_meter::mode::sse, false);
  const std::string text = "data: {\"choices\":[{\"delta\":{\"content\":\"[DONE]\"}}]}\n\n";
  CHECK(run(m, text + usage_event + done, 3) == text + usage_event + done);
  CHECK(m.completion_tokens() == 5);
}
