#include "classify/json_body.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace sovgw::classify;

namespace {

inspection inspect(std::string_view body, std::uint32_t detectors = 0, bool locate = false) {
  json_inspector inspector;
  return inspector.inspect(body, {detectors, locate});
}

const std::uint32_t email = bit(detector::email);
const std::uint32_t phone = bit(detector::phone);
const std::uint32_t card = bit(detector::payment_card);

// `text` a character at a time, `sep` between the characters (written as JSON escapes).
std::string spaced(std::string_view text, std::string_view sep) {
  std::string out;
  for (const char c : text) {
    out += (out.empty() ? "" : std::string(sep)) + c;
  }
  return out;
}

std::string nested(std::size_t levels) {
  return "{\"a\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
}

}  // namespace

TEST_CASE("the fields the gateway reads") {
  struct row {
    std::string body;
    std::string model;
    bool stream;
    std::optional<bool> include_usage;
  };
  const row rows[] = {
      {R"({"model":"mistral-small","stream":true,"messages":[]})", "mistral-small", true, {}},
      {R"({"messages":[{"role":"user","content":"hi"}],"model":"m"})", "m", false, {}},
      {R"({"model":null,"stream":null,"stream_options":null})", "", false, {}},
      {R"({"stream":true,"stream_options":{"include_usage":true}})", "", true, true},
      {R"({"stream_options":{"include_usage":false,"other":{"include_usage":1}}})", "", false, false},
      {R"( {"mod\u0065l" : "mis\u0074ral\/small"} )", "mistral/small", false, {}},
      // Only the top level counts: nested objects may have any keys.
      {R"({"model":"a","metadata":{"model":"b","Model":"c","model":1}})", "a", false, {}},
      // The client's own tool's input (a parameter named model) is data: no cluster runs it.
      {R"({"model":"a","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f",)"
       R"("input":{"model":"x","deeper":{"model":"y"}}}]}],"tools":[{"name":"f","input_schema":{"type":"object",)"
       R"("properties":{"model":{"type":"string"}}}}]})",
       "a",
       false,
       {}},
      {R"({"model":")" + std::string(max_model_bytes, 'm') + "\"}",
       std::string(max_model_bytes, 'm'),
       false,
       {}},
      {R"({"model":"caf\u00e9-\ud83d\ude00"})", "caf\xc3\xa9-\xf0\x9f\x98\x80", false, {}},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    const inspection got = inspect(r.body);
    REQUIRE(got.ok());
    CHECK(got.fields.model == r.model);
    CHECK(got.fields.stream == r.stream);
    CHECK(got.fields.include_usage == r.include_usage);
  }
}

TEST_CASE("bodies the cluster could read differently are refused with their kind and position") {
  struct row {
    std::string body;
    body_error error;
    std::string_view message;  // a part of it
  };
  const std::string long_model = "{\"model\":\"" + std::string(max_model_bytes + 1, 'm') + "\"}";
  std::string escaped_model = "{\"model\":\"";
  for (std::size_t i = 0; i <= max_model_bytes; ++i) {
    escaped_model += "\\u0061";
  }
  escaped_model += "\"}";
  const row rows[] = {
      {"\xef\xbb\xbf{\"model\":\"m\"}", body_error::bom, "byte order mark"},
      {std::string("\xff\xfe{\0\"\0}\0", 8), body_error::utf16_or_32, "UTF-16 or UTF-32"},
      {std::string("\xfe\xff\0{\0}", 6), body_error::utf16_or_32, "UTF-16"},
      {std::string("{\0}\0", 4), body_error::utf16_or_32, "UTF-16"},
      {std::string("\0\0\0{\0\0\0}", 8), body_error::utf16_or_32, "UTF-32"},
      {"{\"a\":\"\xc3\x28\"}", body_error::not_utf8, "not valid UTF-8 (byte 6)"},
      {"{\"a\":\"\xc0\xaf\"}", body_error::not_utf8, "UTF-8"},          // overlong '/'
      {"{\"a\":\"\xed\xa0\x80\"}", body_error::not_utf8, "UTF-8"},      // a surrogate
      {"{\"a\":\"\xf4\x90\x80\x80\"}", body_error::not_utf8, "UTF-8"},  // over U+10FFFF
      {"{\"a\":\"\xe2\x82", body_error::not_utf8, "UTF-8"},             // truncated
      {"{\"a\":1} \xe9", body_error::not_utf8, "UTF-8"},                // Latin-1 after the document
      {R"({"a":1,})", body_error::invalid_json, "not valid JSON: syntax error (byte 7): a trailing comma"},
      {R"({"a":[1,2, ]})", body_error::invalid_json, "a trailing comma"},
      {R"({"a":1} // comment)", body_error::invalid_json, "comments are not JSON"},
      {R"({/* c */"a":1})", body_error::invalid_json, "comments are not JSON"},
      {R"({"a":1}{"b":2})", body_error::invalid_json, "byte 7"},
      {R"({'a':1})", body_error::invalid_json, "double quotes"},
      {R"({"a":"\ud800"})", body_error::invalid_json, "surrogate without its pair"},
      {R"({"a":"x \uDC00 y"})", body_error::invalid_json, "surrogate without its pair"},
      {R"({"a":"\ud83d\u0041"})", body_error::invalid_json, "surrogate without its pair"},
      {R"({"a":"\ud83d\ude00",})", body_error::invalid_json, "): a trailing comma"},  // a pair is fine
      {R"({"a":"\x41"})", body_error::invalid_json, "not valid JSON"},
      {R"({"a":NaN})", body_error::invalid_json, "NaN and Infinity"},
      {R"({"a":-Infinity})", body_error::invalid_json, "not valid JSON"},
      {R"({"a":1)", body_error::invalid_json, "not valid JSON"},
      {"", body_error::invalid_json, "not valid JSON"},
      {nested(max_depth + 1), body_error::too_deep, "deeper than 32"},
      {R"([{"model":"m"}])", body_error::not_object, "an array, not a JSON object"},
      {R"("model")", body_error::not_object, "a string"},
      {"42", body_error::not_object, "a number"},
      {"null", body_error::not_object, "null"},
      {R"({"model":"a","model":"b"})", body_error::duplicate_key, "\"model\" appears twice"},
      {R"({"model":"a","mod\u0065l":"b"})", body_error::duplicate_key, "\"model\" appears twice"},
      {R"({"x":1,"y":2,"x":3})", body_error::duplicate_key, "\"x\" appears twice"},
      {R"({"stream_options":{},"stream_options":{}})", body_error::duplicate_key, "stream_options"},
      {R"({"stream_options":{"include_usage":true,"include_usage":false}})", body_error::duplicate_key,
       "include_usage"},
      {R"({"model":"a","Model":"b"})", body_error::case_variant_key, "\"model\" and \"Model\" differ"},
      {R"({"Model":"llama-3"})", body_error::case_variant_key, "\"Model\" is a case variant of \"model\""},
      {R"({"STREAM":true})", body_error::case_variant_key, "case variant of \"stream\""},
      {R"({"\u017ftream":true})", body_error::case_variant_key, "case variant of \"stream\""},  // long s
      {R"({"stream_options":{"include_u\u017fage":true}})", body_error::case_variant_key, "include_usage"},
      {R"({"kind":1,"\u212aind":2})", body_error::case_variant_key, "differ only in letter case"},  // Kelvin
      {R"({"user":"a","User":"b"})", body_error::case_variant_key, "differ only in letter case"},
      // Models a router may run instead of the one the policy decided.
      {R"({"model":"llama-3","fallbacks":["gpt-4o"],"mock_testing_fallbacks":true})",
       body_error::other_models, "(\"fallbacks\")"},
      {R"({"model":"llama-3","models":["gpt-4o","llama-3"]})", body_error::other_models,
       "instead of \"model\""},
      {R"({"model":"llama-3","Fallbacks":null})", body_error::other_models, "Fallbacks"},
      // Mistral's agents run the model and tools stored with the agent (probe round 44).
      {R"({"agent_id":"ag_1","messages":[{"role":"user","content":"hi"}]})", body_error::other_models,
       "names an agent"},
      {R"({"model":"m","Agent_ID":"ag_1"})", body_error::other_models, "names an agent"},
      // LiteLLM runs "a,b" as a batch of both; deployment_id and engine replace the model; a
      // client's own routing table, server or credentials send the prompt where it says.
      {R"({"model":"mistral-small,gpt-4o"})", body_error::other_models, "holds a comma"},
      {R"({"model":"mistral-small, gpt-4o"})", body_error::other_models, "holds a comma"},
      {R"({"model":"m","deployment_id":"gpt-4o"})", body_error::other_models, "(\"deployment_id\")"},
      {R"({"model":"m","Engine":"gpt-4o"})", body_error::other_models, "(\"Engine\")"},
      {R"({"model":"m","user_config":{"model_list":[{"model_name":"m","litellm_params":{"model":"gpt-4o",)"
       R"("api_base":"https://x.example"}}]}})",
       body_error::other_models, "(\"user_config\")"},
      {R"({"model":"m","api_base":"https://x.example/v1"})", body_error::other_models, "server, credentials"},
      {R"({"model":"m","BASE_URL":"https://x.example/v1"})", body_error::other_models, "BASE_URL"},
      {R"({"model":"m","api_key":"sk-other"})", body_error::other_models, "api_key"},
      // A model below the top level is one a cluster may run (a batch, an eval run, a realtime
      // session, an image-generating tool): the policy decides the top-level one only.
      {R"({"requests":[{"custom_id":"a","params":{"model":"claude-3-opus","messages":[]}}]})",
       body_error::other_models, R"("model": "claude-3-opus" at depth 4)"},
      {R"({"data_source":{"type":"completions","model":"gpt-4o"}})", body_error::other_models, "gpt-4o"},
      {R"({"session":{"type":"realtime","MODEL":"gpt-4o"}})", body_error::other_models, "inside it"},
      {R"({"model":"m","tools":[{"type":"image_generation","model":"gpt-image-1"}]})",
       body_error::other_models, "gpt-image-1"},
      // ... also after the client's own data beside it.
      {R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","input":{"model":"x"}},)"
       R"({"type":"text","model":"y"}]}]})",
       body_error::other_models, R"("model": "y")"},
      {R"({"model":"m","aws_region_name":"us-east-1"})", body_error::other_models, "aws_region_name"},
      // vLLM sends the prompt's KV cache where these say; LiteLLM picks a deployment by tags and sends
      // the provider headers the client chose.
      {R"({"model":"m","kv_transfer_params":{"remote_host":"10.0.0.9"}})", body_error::other_models,
       "kv_transfer_params"},
      {R"({"text":"hi","bootstrap_host":"10.0.0.9","bootstrap_room":1})", body_error::other_models,
       "bootstrap_host"},
      {R"({"model":"m","tags":["us-deployment"]})", body_error::other_models, "tags"},
      {R"({"model":"m","extra_headers":{"x":"y"}})", body_error::other_models, "extra_headers"},
      {R"({"model":"m","Vertex_Location":"us-central1"})", body_error::other_models, "Vertex_Location"},
      // Probe round 27: the names the query is refused for, and where inference runs (Anthropic's
      // inference_geo), were forwarded in the body.
      {R"({"model":"m","deployment":"us-only"})", body_error::other_models, "(\"deployment\")"},
      {R"({"model":"m","model_id":"eleven_multilingual_v2"})", body_error::other_models, "model_id"},
      {R"({"model":"m","modelId":"x"})", body_error::other_models, "modelId"},
      {R"({"model":"m","Model_Name":"x"})", body_error::other_models, "Model_Name"},
      {R"({"model":"m","served_model_name":"x"})", body_error::other_models, "served_model_name"},
      {R"({"model":"m","speculative_model":"x"})", body_error::other_models, "speculative_model"},
      {R"({"model":"m","region":"us-east-1"})", body_error::other_models, "(\"region\")"},
      {R"({"model":"m","max_tokens":16,"inference_geo":"global","messages":[]})", body_error::other_models,
       "inference_geo"},
      {R"({"model":"m","data_residency":"us"})", body_error::other_models, "data_residency"},
      {R"({"model":"m","bedrock_region":"us-east-1"})", body_error::other_models, "bedrock_region"},
      // Adapters (LoRA): weights the policy never decided (LoRAX and TGI, SGLang, vLLM); and
      // credentials for the cluster below the top level (LoRAX's parameters.api_token).
      {R"({"model":"m","inputs":"hi","parameters":{"adapter_id":"someone/evil-lora","adapter_source":"hub"}})",
       body_error::other_models, R"(adapter for the cluster to load or run ("adapter_id" at depth 2))"},
      {R"({"model":"m","text":"hi","LoRA_Path":"evil"})", body_error::other_models, "LoRA_Path"},
      {R"({"model":"m","lora_request":{"lora_name":"x","lora_path":"/tmp/x"}})", body_error::other_models,
       "lora_request"},
      {R"({"model":"m","parameters":{"adapter_parameters":{"ids":["a","b"]}}})", body_error::other_models,
       "adapter_parameters"},
      {R"({"model":"m","parameters":{"api_token":"hf_x"}})", body_error::other_models,
       R"(credentials for the cluster to use ("api_token" at depth 2))"},
      {R"({"model":"m","hf_token":"hf_x"})", body_error::other_models, "hf_token"},
      {R"({"model":"m","_Method":"DELETE"})", body_error::other_models, "overrides the method"},
      {R"({"model":5})", body_error::wrong_type, "model must be a string or null, not a number"},
      {R"({"model":["llama-3"]})", body_error::wrong_type, "model must be a string"},
      {R"({"model":{"name":"llama-3"}})", body_error::wrong_type, "not an object"},
      {R"({"model":true})", body_error::wrong_type, "model must be a string"},
      {R"({"stream":"true"})", body_error::wrong_type, "stream must be a boolean"},
      {R"({"stream":1})", body_error::wrong_type, "stream must be a boolean"},
      {R"({"stream_options":[]})", body_error::wrong_type, "stream_options must be an object"},
      {R"({"stream_options":{"include_usage":"yes"}})", body_error::wrong_type,
       "include_usage must be a boolean"},
      {long_model, body_error::model_too_long, "longer than 256 bytes"},
      {escaped_model, body_error::model_too_long, "longer than 256 bytes"},
      {R"({"model":"mistral-small\n"})", body_error::model_control_char, "control character"},
      {R"({"model":"a\u0000b"})", body_error::model_control_char, "control character"},
      {R"({"model":"llama-3.1-70b "})", body_error::model_control_char, "ends with a space"},
      {R"({"model":" llama-3.1-70b"})", body_error::model_control_char, "begins or ends with a space"},
      {R"({"model":"llama-3.1-70b\u200b"})", body_error::model_control_char, "U+200B"},
      {R"({"model":"llama\u00a0-3"})", body_error::model_control_char, "U+00A0"},
      {"{\"model\":\"llama-3\xef\xbb\xbf\"}", body_error::model_control_char, "U+FEFF"},
      {R"({"model":"llama-3\udb40\udc41"})", body_error::model_control_char, "U+E0041"},
      {R"({"model":"\uff4c\uff4c\uff41\uff4d\uff41-3"})", body_error::model_control_char, "U+FF4C"},
      {R"({"model":"llama-3\u2028"})", body_error::model_control_char, "U+2028"},
      // I and i to Java's equalsIgnoreCase, .NET's invariant culture, JavaScript's toUpperCase().
      {R"({"model":"m\u0131stral-large"})", body_error::model_control_char, "U+0131"},
      {"{\"model\":\"M\xc4\xb0STRAL-LARGE\"}", body_error::model_control_char, "U+0130"},
      {R"({"model":"\u017ftral"})", body_error::model_control_char, "U+017F"},
      {R"({"model":"\u212aimi"})", body_error::model_control_char, "U+212A"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    const inspection got = inspect(r.body, email);
    CAPTURE(got.message);
    CHECK(got.error == r.error);
    CHECK(got.message.find(r.message) != std::string::npos);
    CHECK(got.offset <= r.body.size());
    CHECK(got.scan.found == 0);
  }
  CHECK(inspect(R"({"a":1,})").offset == 7);
  CHECK(body_error_name(body_error::case_variant_key) == "case_variant_key");
  CHECK(body_error_name(body_error::other_models) == "other_models");
}

TEST_CASE("the detectors see the decoded text of every key and string") {
  // Regression: the detectors used to scan the raw bytes, so "\u0040" hid an address from them
  // while the cluster decodes it to '@'.
  const std::string escaped =
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"Mail alice\u0040example.com"}]})";
  CHECK(detect(escaped, email) == 0);  // what the raw-byte scan saw
  CHECK(inspect(escaped, email).scan.found == email);

  struct row {
    std::string body;
    std::uint32_t found;
  };
  const row rows[] = {
      {R"({"content":"jeanne\u002edupont\u0040exemple\u002Efr"})", email},
      {R"({"content":"card 4111\u00201111 1111 1111"})", card},
      {R"({"content":"call \u002b33 6 12 34 56 78"})", phone},
      {R"({"content":"\u006a@x.example\/path"})", email},
      // Keys reach the model too (tool schemas): they are scanned.
      {R"({"tools":[{"function":{"parameters":{"properties":{"jeanne@exemple.fr":{}}}}}]})", email},
      // Deeply nested, in arrays of parts.
      {R"({"messages":[{"content":[{"type":"text","text":"x"},{"type":"text","text":"a@b.example"}]}]})",
       email},
      // A value never joins the next one: two strings are two words.
      {R"({"a":"4111 1111","b":"1111 1111"})", 0},
      {R"({"a":"jeanne","b":"@exemple.fr"})", 0},
      // Numbers are read as written (a tool's JSON schema reaches the model as text).
      {R"({"account":4111111111111111})", card},
      {R"({"tools":[{"function":{"parameters":{"properties":{"x":{"enum":[4111111111111111]}}}}}]})", card},
      {R"({"a":4111,"b":1111111111111111})", 0},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | phone | card).scan.found == r.found);
  }
}

TEST_CASE("the text is every key and string, decoded, each followed by a newline") {
  json_inspector inspector;
  inspection got;
  inspector.inspect(R"({"a":"b\n","c":[1,"d\u00e9",{"e":null}],"f":-1.5e3})", {email, false}, got);
  REQUIRE(got.ok());
  CHECK(inspector.text() == "a\nb\n\nc\n1\nd\xc3\xa9\ne\nf\n-1.5e3\n");  // numbers as written
  CHECK(got.scan.ran == email);
  CHECK(got.scan.decoded);
  inspector.inspect(R"({"a":"b"})", {0, false}, got);  // no detectors: no text kept
  CHECK(inspector.text().empty());
}

TEST_CASE("a finding that straddles the parser's string parts is found whole") {
  // Escaped strings reach the handler in parts (of 1168 decoded bytes here, with Boost 1.81):
  // place an escaped address and a card number at every offset across the first two boundaries.
  for (std::size_t pad = 1000; pad < 2500; ++pad) {
    CAPTURE(pad);
    std::string body = R"({"content":")";
    for (std::size_t i = 0; i < pad; ++i) {
      body += i % 2 == 0 ? "\\u0020" : " ";
    }
    body += R"(jeanne.dupont\u0040exemple.fr and 4111 1111 1111 1111"})";
    const inspection got = inspect(body, email | card, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == (email | card));
    std::string redacted = body;
    CHECK(redact(redacted, got.scan.findings, email) == 1);
    CHECK(redacted.find("[redacted:email] and 4111") != std::string::npos);
  }
}

TEST_CASE("redaction rewrites the decoded strings and re-encodes them") {
  struct row {
    std::string body;
    std::uint32_t which;
    std::size_t count;
    std::string expected;
  };
  const row rows[] = {
      {R"({"model":"m","messages":[{"role":"user","content":"Mail alice\u0040example.com or +33 6 12 34 56 78"}]})",
       email | phone, 2,
       R"({"model":"m","messages":[{"role":"user","content":"Mail [redacted:email] or [redacted:phone]"}]})"},
      // Only the listed detectors; numbers kept as written; escapes re-encoded minimally.
      {R"({ "n" : 1.50e3, "max_tokens":4111111111111111, "t":[true,false,null],)"
       R"( "c":"a\"b\\c\/d\u0001\t\u00e9 a@b.example 4111 1111 1111 1111"})",
       email, 1,
       R"({"n":1.50e3,"max_tokens":4111111111111111,"t":[true,false,null],)"
       R"("c":"a\"b\\c/d\u0001\t)"
       "\xc3\xa9"
       R"( [redacted:email] 4111 1111 1111 1111"})"},
      // Only inside strings (a number shaped like a card stays), escaped quotes kept around it.
      {R"({"model":"m","max_tokens":4111111111111111,"messages":[{"role":"user",)"
       R"("content":"card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, mail \"x@y.example\"."}]})",
       card | bit(detector::iban) | email, 3,
       R"({"model":"m","max_tokens":4111111111111111,"messages":[{"role":"user",)"
       R"("content":"card [redacted:payment_card], IBAN [redacted:iban], mail \"[redacted:email]\"."}]})"},
      // Escapes end words and are never cut: the text is decoded before it is scanned.
      {R"({"content":"Contact:\njane@x.example\t+33 6 12 34 56 78\u00e9"})", email | phone, 2,
       "{\"content\":\"Contact:\\n[redacted:email]\\t[redacted:phone]\xc3\xa9\"}"},
      // Keys too.
      {R"({"properties":{"jeanne@exemple.fr":{"type":"string"}},"x":[]})", email, 1,
       R"({"properties":{"[redacted:email]":{"type":"string"}},"x":[]})"},
      // Two redacted keys of one object stay two keys: the second is numbered.
      {R"({"metadata":{"[redacted:iban]#2":"c","DE89370400440532013000":"a","GB82WEST12345698765432":"b"}})",
       bit(detector::iban), 2,
       R"({"metadata":{"[redacted:iban]#2":"c","[redacted:iban]":"a","[redacted:iban]#3":"b"}})"},
      {R"({"m":{"[redacted:iban]":"a","DE89370400440532013000":"b"},"o":{"DE89370400440532013000":"c"}})",
       bit(detector::iban), 2,
       R"({"m":{"[redacted:iban]":"a","[redacted:iban]#2":"b"},"o":{"[redacted:iban]":"c"}})"},
      // The top-level model is the name the request was routed by: never rewritten.
      {R"({"model":"a@b.example","a\"model":"c@d.example","metadata":{"model":"e@f.example"}})", email, 2,
       R"({"model":"a@b.example","a\"model":"[redacted:email]","metadata":{"model":"[redacted:email]"}})"},
      // Nothing found: the body is left as it was (whitespace and all).
      {R"({ "content" : "nothing here" })", email, 0, R"({ "content" : "nothing here" })"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    const inspection got = inspect(r.body, email | phone | card | bit(detector::iban), true);
    REQUIRE(got.ok());
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, r.which) == r.count);
    CHECK(body == r.expected);
    CHECK(inspect(body).ok());
  }
  // A key as the client wrote it that repeats an earlier redacted key cannot be renamed: no redaction
  // (the request is then refused, its data still there).
  {
    std::string body = R"({"m":{"DE89370400440532013000":"a","[redacted:iban]":"b"}})";
    const std::string sent = body;
    const inspection got = inspect(body, bit(detector::iban), true);
    CHECK(redact(body, got.scan.findings, bit(detector::iban)) == 0);
    CHECK(body == sent);
  }
  // Findings of detectors not listed leave the body alone.
  std::string body = R"({"c":"4111 1111 1111 1111"})";
  const inspection got = inspect(body, card, true);
  CHECK(redact(body, got.scan.findings, email) == 0);
  CHECK(body == R"({"c":"4111 1111 1111 1111"})");
}

TEST_CASE(
    "redact: every national id listed after one label, so the re-check finds none (probe round 27 m-7)") {
  const std::uint32_t national_id = bit(detector::national_id);
  struct row {
    const char* body;
    std::size_t count;
    const char* expected;
  };
  const row rows[] = {
      {R"({"model":"m","messages":[{"role":"user","content":"Steuer-IDs der Eheleute: 65929970489 und 86095742719"}]})",
       2,
       R"({"model":"m","messages":[{"role":"user","content":"Steuer-IDs der Eheleute: [redacted:national_id] und )"
       R"([redacted:national_id]"}]})"},
      {R"({"model":"m","messages":[{"role":"user","content":"PESEL: 44051401359, 44051401359"}]})", 2,
       R"({"model":"m","messages":[{"role":"user","content":"PESEL: [redacted:national_id], [redacted:national_id]"}]})"},
      {R"({"model":"m","pesel":["44051401359","44051401359"]})", 2,
       R"({"model":"m","pesel":["[redacted:national_id]","[redacted:national_id]"]})"},
      // A table's column under its header's label (probe round 27 m-6).
      {R"({"model":"m","messages":[{"role":"user","content":"nr;pesel;dzial\n1;44051401359;IT\n2;44051401359;HR"}]})",
       2,
       R"({"model":"m","messages":[{"role":"user","content":"nr;pesel;dzial\n1;[redacted:national_id];IT\n2;)"
       R"([redacted:national_id];HR"}]})"},
      {R"({"model":"m","messages":[{"role":"user","content":"name,steuer_id,city\nMax Mustermann,65929970489,)"
       R"(Berlin\nErika Musterfrau,65929970489,Koeln"}]})",
       2,
       R"({"model":"m","messages":[{"role":"user","content":"name,steuer_id,city\nMax Mustermann,)"
       R"([redacted:national_id],Berlin\nErika Musterfrau,[redacted:national_id],Koeln"}]})"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    const inspection got = inspect(r.body, national_id, true);
    REQUIRE(got.ok());
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, national_id) == r.count);
    CHECK(body == r.expected);
    const inspection again = inspect(body, national_id);
    REQUIRE(again.ok());
    CHECK(again.scan.found == 0);
  }
}

TEST_CASE("large bodies are inspected with bounded memory") {
  // One string the size of the body (the gateway's max_body_bytes bounds it): the text holds it
  // once.
  json_inspector inspector;
  std::string body = R"({"content":")" + std::string(4 << 20, 'x') + R"( a@b.example"})";
  inspection got;
  inspector.inspect(body, {email, true}, got);
  REQUIRE(got.ok());
  CHECK(got.scan.found == email);
  CHECK(inspector.text().size() == body.size() - 5);
  inspector.inspect(R"({"content":"small"})", {email, false}, got);
  CHECK(inspector.text() == "content\nsmall\n");
}

TEST_CASE("one inspector reused: keys of a body never leak into the next, however many there are") {
  json_inspector inspector;
  inspection got;
  // Thousands of top-level keys (the key set grows past its first table several times), then one
  // given again, or again but for case, at the very end.
  std::string many = "{";
  for (int i = 0; i < 5000; ++i) {
    many += "\"key" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  inspector.inspect(many + "\"model\":\"m\"}", {}, got);
  CHECK(got.ok());
  inspector.inspect(many + "\"key4321\":0}", {}, got);
  CHECK(got.error == body_error::duplicate_key);
  CHECK(got.message.find("\"key4321\" appears twice") != std::string::npos);
  inspector.inspect(many + "\"KEY17\":0}", {}, got);
  CHECK(got.error == body_error::case_variant_key);
  CHECK(got.message.find("\"key17\" and \"KEY17\"") != std::string::npos);
  // The same keys in the next body are not duplicates of the last body's.
  inspector.inspect(R"({"key17":1,"model":"a","stream_options":{"include_usage":true}})", {}, got);
  CHECK(got.ok());
  CHECK(got.fields.model == "a");
  inspector.inspect(R"({"stream_options":{"include_usage":false},"key17":2})", {}, got);
  CHECK(got.ok());
  CHECK(got.fields.include_usage == false);
  // Nested objects' keys are not the top level's: a repeated nested key is the cluster's business.
  inspector.inspect(R"({"messages":[{"role":"user"},{"role":"user"}],"m":{"a":1,"A":2}})", {}, got);
  CHECK(got.ok());
}

TEST_CASE("escapes inside a string (JSON in JSON, %XX, &#64;) are read decoded and redacted as written") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::string redacted;
  };
  const row rows[] = {
      // Level 1: the decoded string holds \u0040; level 2: it holds \\u0040 (JSON in JSON in JSON).
      {R"({"a":"{\"to\":\"alice\\u0040example.com\"}"})", R"({"a":"{\"to\":\"[redacted:email]\"}"})"},
      {R"({"a":"{\"b\":\"{\\\"to\\\":\\\"alice\\\\u0040example.com\\\"}\"}"})",
       R"({"a":"{\"b\":\"{\\\"to\\\":\\\"[redacted:email]\\\"}\"}"})"},
      // What a model reads through: percent-encoding, HTML references, and both at once.
      {R"({"a":"mail alice%40example.com now"})", R"({"a":"mail [redacted:email] now"})"},
      {R"({"a":"mail alice&#64;example&period;com now"})", R"({"a":"mail [redacted:email] now"})"},
      {R"({"a":"mail alice&commat;example.com"})", R"({"a":"mail [redacted:email]"})"},
      // Numeric references without their ';', as HTML 5 (and Python's html.unescape) read them.
      {R"({"a":"mail alice&#64example.com now"})", R"({"a":"mail [redacted:email] now"})"},
      {R"({"a":"mail alice&#x40;example&#46com"})", R"({"a":"mail [redacted:email]"})"},
      {R"({"a":"mail alice%26%2364%3Bexample.com"})", R"({"a":"mail [redacted:email]"})"},
      {R"({"a":"IBAN DE89&nbsp;3704&nbsp;0044&nbsp;0532&nbsp;0130&nbsp;00"})",
       R"({"a":"IBAN [redacted:iban]"})"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | iban).scan.found != 0);
    const inspection located = inspect(r.body, email | iban, true);
    CHECK(located.scan.found != 0);
    CHECK(located.scan.hidden == 0);
    REQUIRE(located.scan.findings.size() == 1);
    std::string body = r.body;
    CHECK(redact(body, located.scan.findings, email | iban) == 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | iban).scan.found == 0);
  }
  // Spelled with a quote of the nested JSON inside it: found, but a span to redact would cut the
  // nested document's structure.
  const inspection quoted =
      inspect(R"({"a":"{\"to\":\"\\\"alice smith\\\"\\u0040example.com\"}"})", email, true);
  CHECK(quoted.scan.found == email);
  CHECK(quoted.scan.hidden == email);
  CHECK(quoted.scan.findings.empty());
  // Found where the client wrote it and again decoded: listed once.
  const inspection plain =
      inspect(R"({"a":"alice@example.com \\n DE89\\u00203704 0044 0532 0130 00"})", email | iban, true);
  CHECK(plain.scan.found == (email | iban));
  CHECK(plain.scan.hidden == 0);
  CHECK(plain.scan.findings.size() == 2);
  // Text with '%' and '&' that encode nothing is read once.
  const inspection ordinary = inspect(R"({"a":"50% off at R&D, 100%25 sure"})", email | iban, true);
  CHECK(ordinary.scan.found == 0);
}

TEST_CASE("named HTML references of invisible, space and punctuation characters are read (probe round 29)") {
  const std::uint32_t iban = bit(detector::iban);
  const std::uint32_t all = email | card | iban | phone;
  struct row {
    std::string body;
    std::string redacted;
  };
  std::vector<row> rows;
  // Every HTML 5 name of a character a model reads through or as a separator, with its ';' and,
  // where HTML 5 allows it, without.
  for (const char* ref : {"&shy;", "&zwnj;", "&zwj;", "&ZeroWidthSpace;", "&NoBreak;", "&InvisibleTimes;",
                          "&it;", "&ic;", "&af;", "&NegativeMediumSpace;", "&shy"}) {
    rows.push_back({std::string(R"({"a":"mail alice.martin@gm)") + ref + R"(ail.com now"})",
                    R"({"a":"mail [redacted:email] now"})"});
  }
  for (const char* ref : {"&shy;",           "&thinsp;", "&hairsp;",         "&numsp;",   "&puncsp;",
                          "&MediumSpace;",   "&Tab;",    "&NewLine;",        "&middot;",  "&bull;",
                          "&comma;",         "&zwj;",    "&ZeroWidthSpace;", "&NoBreak;", "&ThinSpace;",
                          "&centerdot;",     "&hyphen;", "&ndash;",          "&nbsp",     "&middot",
                          "&VeryThinSpace;", "&emsp13;", "&period;"}) {
    std::string card_body = R"({"a":"card 4111)";
    for (int i = 0; i < 3; ++i) {
      card_body += std::string(ref) + "1111";
    }
    rows.push_back({card_body + R"( ok"})", R"({"a":"card [redacted:payment_card] ok"})"});
  }
  for (const char* ref : {"&shy;", "&zwj;", "&ZeroWidthSpace;", "&NoBreak;", "&thinsp;"}) {
    std::string iban_body = R"({"a":"IBAN DE89)";
    for (const char* group : {"3704", "0044", "0532", "0130", "00"}) {
      iban_body += std::string(ref) + group;
    }
    rows.push_back({iban_body + R"( ok"})", R"({"a":"IBAN [redacted:iban] ok"})"});
  }
  // Letters and digits written by name: mathematical ones, and ASCII's own punctuation.
  rows.push_back(
      {R"({"a":"mail &aopf;lice&commat;example&period;com now"})", R"({"a":"mail [redacted:email] now"})"});
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, all).scan.found != 0);
    const inspection located = inspect(r.body, all, true);
    CHECK(located.scan.hidden == 0);
    REQUIRE(located.scan.findings.size() == 1);
    std::string body = r.body;
    CHECK(redact(body, located.scan.findings, all) == 1);
    CHECK(body == r.redacted);
  }
  // Ampersands in prose, names, queries and references of other characters: nothing.
  for (
      const std::string body :
      {R"({"a":"R&D, AT&T, Q&A, M&S; ?a=1&b=2&copy=3&middot=4&not=5&reg; &euro; 4111 &rarr; 1111"})",
       R"({"a":"Tom&amp;Jerry &lt;b&gt; &hellip; &Sum; &alpha;&beta; &nbsp;&nbsp; 4210&thinsp;&euro; 3875&thinsp;&euro;"})",
       R"({"a":"&unknownname; &shyness; &ZeroWidthSpaceX; &;&#;&#x;"})"}) {
    CAPTURE(body);
    CHECK(inspect(body, all).scan.found == 0);
  }
}

TEST_CASE("markup a model reads through inside an identifier is read removed, and redacted as written") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  };
  const row rows[] = {
      // Markdown's backslash escape, emphasis and code marks.
      {R"j({"content":"mail alice\\@example.com now"})j", email,
       R"j({"content":"mail [redacted:email] now"})j"},
      {R"j({"content":"mail **alice**@example.com"})j", email, R"j({"content":"mail **[redacted:email]"})j"},
      {R"j({"content":"mail `alice`@example.com"})j", email, R"j({"content":"mail `[redacted:email]"})j"},
      {R"j({"content":"card 4111 **1111** 1111 1111 ok"})j", card,
       R"j({"content":"card [redacted:payment_card] ok"})j"},
      {R"j({"content":"card 4111 ~~1111~~ 1111 1111 ok"})j", card,
       R"j({"content":"card [redacted:payment_card] ok"})j"},
      // HTML tags and comments.
      {R"j({"content":"mail alice@<b></b>example.com"})j", email, R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"mail alice<!-- -->@example.com"})j", email,
       R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"mail alice<span class=\"x\"></span>@example.com"})j", email,
       R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"IBAN GB82 <b>WEST</b> 1234 5698 7654 32."})j", iban,
       R"j({"content":"IBAN [redacted:iban]."})j"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | card | iban).scan.found == r.found);
    const inspection got = inspect(r.body, email | card | iban, true);
    CHECK(got.scan.found == r.found);
    CHECK(got.scan.hidden == 0);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | card | iban) == 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | card | iban).scan.found == 0);
  }
  // Markdown and HTML around words and numbers that are no identifiers: nothing.
  for (const std::string body :
       {R"j({"content":"**Note:** run `make -j2` at 10:30; 1. **Step** two, <b>42</b> items, a < b > c"})j",
        R"j({"content":"Price: **4111** EUR, `1111 1111` and <i>1111</i> 1111 units; \\@user"})j",
        // Cells of a table are apart: "4111" and "1111 1111 1111" are no card.
        R"j({"content":"<table><tr><td>4111</td><td>1111 1111 1111</td></tr></table>"})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, email | card | iban | phone).scan.found == 0);
  }
}

TEST_CASE(
    "markup next to a domain's dot, CDATA, processing instructions and line continuations (probe round 38)") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  };
  const row rows[] = {
      {R"j({"content":"mail alice@example<!-- -->.com"})j", email,
       R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"write to jean.dupont@gmail<!-- -->.com now"})j", email,
       R"j({"content":"write to [redacted:email] now"})j"},
      {R"j({"content":"mail alice@example<b></b>.com"})j", email, R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"mail alice@example.<!-- -->com"})j", email,
       R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"mail alice@example**.**com"})j", email, R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"mail alice<![CDATA[@]]>example.com"})j", email,
       R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"IBAN DE89 3704<![CDATA[ 0044 0532]]> 0130 00 ok"})j", iban,
       R"j({"content":"IBAN [redacted:iban] ok"})j"},
      {R"j({"content":"card 4111 1111 <![CDATA[1111]]> 1111 ok"})j", card,
       R"j({"content":"card [redacted:payment_card] ok"})j"},
      {R"j({"content":"mail alice<?x?>@example.com"})j", email, R"j({"content":"mail [redacted:email]"})j"},
      {R"j({"content":"mail alice\\\n@example.com"})j", email, R"j({"content":"mail [redacted:email]"})j"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | card | iban).scan.found == r.found);
    const inspection got = inspect(r.body, email | card | iban, true);
    CHECK(got.scan.found == r.found);
    CHECK(got.scan.hidden == 0);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | card | iban) == 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | card | iban).scan.found == 0);
  }
  // Prose, documents and code: nothing.
  for (
      const std::string body :
      {R"j({"content":"**Note**: see example.com, <b>docs</b>.html and <![CDATA[x < y]]> 4111; <?xml version=\"1.0\"?>"})j",
       R"j({"content":"printf(\"total: %d\\n\\x41\\t%s\\n\", 4111, name); see www.example**.**org"})j",
       R"j({"content":"<p>Call us</p><!-- nav -->.<b>Version</b> 1.2.3, line one \\\nline two"})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, email | card | iban | phone).scan.found == 0);
  }
}

TEST_CASE("a card written as a number in JSON held in a string is hidden, not redacted (probe round 38)") {
  for (const std::string n : {"4111111111111111", "378282246310005", "4111111111111111.0"}) {
    const std::string body = R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",)"
                             R"("function":{"name":"f","arguments":"{\"card\": )" +
                             n + R"(, \"n\": 1}"}}]}]})";
    CAPTURE(body);
    const inspection got = inspect(body, card, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == card);
    CHECK(got.scan.hidden == card);
  }
  // In a string in the arguments it is text, and redacted in place.
  const std::string quoted = R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",)"
                             R"("function":{"name":"f","arguments":"{\"card\": \"4111111111111111\"}"}}]}]})";
  const inspection got = inspect(quoted, card, true);
  CHECK(got.scan.found == card);
  CHECK(got.scan.hidden == 0);
}

TEST_CASE("JSONL is told it is not one JSON value before what its lines say (probe round 38)") {
  const std::string line = R"({"custom_id":"1","method":"POST","url":"/v1/chat/completions",)"
                           R"("body":{"model":"mistral-small","messages":[]}})";
  const inspection got = inspect(line + "\n" + line + "\n");
  CHECK(got.error == body_error::invalid_json);
  CHECK(got.message.find("extra data") != std::string::npos);
  // One such value alone is refused for what it says.
  CHECK(inspect(line).error != body_error::invalid_json);
}

TEST_CASE("prose split across message parts and messages is read as one text, and redacted piece by piece") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::string redacted;
  };
  const row rows[] = {
      // Content parts (a cluster joins them with line breaks).
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"IBAN DE89 3704"},)"
       R"({"type":"text","text":"0044 0532 0130 00 thanks"}]}]})",
       R"({"messages":[{"role":"user","content":[{"type":"text","text":"IBAN [redacted:iban]"},)"
       R"({"type":"text","text":"[redacted:iban] thanks"}]}]})"},
      // Two messages, and the pieces spread over three short strings.
      {R"({"messages":[{"role":"user","content":"pay DE89"},{"role":"user","content":"3704 0044"},)"
       R"({"role":"user","content":"0532 0130 00"}]})",
       R"({"messages":[{"role":"user","content":"pay [redacted:iban]"},{"role":"user","content":"[redacted:iban]"},)"
       R"({"role":"user","content":"[redacted:iban]"}]})"},
      // A prompt array (completions) and an input array (embeddings).
      {R"({"prompt":["DE89 3704 0044","0532 0130 00"]})",
       R"({"prompt":["[redacted:iban]","[redacted:iban]"]})"},
      {R"({"input":["x","DE89 3704 0044","0532 0130 00"]})",
       R"({"input":["x","[redacted:iban]","[redacted:iban]"]})"},
      // The other strings a model reads with the conversation: a system prompt (Anthropic,
      // Ollama), a completion's suffix, an assistant's reasoning and refusal, a tool call's
      // arguments and a tool's output, a reranker's query and documents, a cross-encoder's pair.
      {R"({"system":"pay DE89 3704","messages":[{"role":"user","content":"0044 0532 0130 00"}]})",
       R"({"system":"pay [redacted:iban]","messages":[{"role":"user","content":"[redacted:iban]"}]})"},
      {R"({"prompt":"pay DE89 3704","suffix":"0044 0532 0130 00"})",
       R"({"prompt":"pay [redacted:iban]","suffix":"[redacted:iban]"})"},
      {R"({"messages":[{"role":"assistant","reasoning_content":"DE89 3704","content":"0044 0532 0130 00"}]})",
       R"({"messages":[{"role":"assistant","reasoning_content":"[redacted:iban]","content":"[redacted:iban]"}]})"},
      {R"({"messages":[{"role":"assistant","refusal":"DE89 3704"},{"role":"user","content":"0044 0532 0130 00"}]})",
       R"({"messages":[{"role":"assistant","refusal":"[redacted:iban]"},{"role":"user","content":"[redacted:iban]"}]})"},
      {R"({"input":[{"role":"user","content":"DE89 3704"},{"type":"function_call_output","output":"0044 0532 0130 00"}]})",
       R"({"input":[{"role":"user","content":"[redacted:iban]"},{"type":"function_call_output","output":"[redacted:iban]"}]})"},
      {R"({"query":"DE89 3704","documents":["0044 0532 0130 00"]})",
       R"({"query":"[redacted:iban]","documents":["[redacted:iban]"]})"},
      {R"({"text_1":"DE89 3704","text_2":"0044 0532 0130 00"})",
       R"({"text_1":"[redacted:iban]","text_2":"[redacted:iban]"})"},
      // Probe round 35: llama.cpp's /infill prefix and suffix, TEI's /rerank texts and /similarity
      // sentences, vLLM's /score data_1/data_2 and queries, and a structural tag's literals.
      {R"({"input_prefix":"pay DE89 3704","input_suffix":"0044 0532 0130 00"})",
       R"({"input_prefix":"pay [redacted:iban]","input_suffix":"[redacted:iban]"})"},
      {R"({"query":"DE89 3704","texts":["0044 0532 0130 00"]})",
       R"({"query":"[redacted:iban]","texts":["[redacted:iban]"]})"},
      {R"({"inputs":{"source_sentence":"DE89 3704","sentences":["0044 0532 0130 00"]}})",
       R"({"inputs":{"source_sentence":"[redacted:iban]","sentences":["[redacted:iban]"]}})"},
      {R"({"inputs":{"text":"DE89 3704","text_pair":"0044 0532 0130 00"}})",
       R"({"inputs":{"text":"[redacted:iban]","text_pair":"[redacted:iban]"}})"},
      {R"({"data_1":"DE89 3704","data_2":["0044 0532 0130 00"]})",
       R"({"data_1":"[redacted:iban]","data_2":["[redacted:iban]"]})"},
      {R"({"queries":"DE89 3704","documents":["0044 0532 0130 00"]})",
       R"({"queries":"[redacted:iban]","documents":["[redacted:iban]"]})"},
      {R"({"messages":[],"response_format":{"type":"structural_tag","format":{"type":"sequence","elements":[)"
       R"({"type":"const_string","value":"DE89 3704"},{"type":"const_string","value":"0044 0532 0130 00"}]}}})",
       R"({"messages":[],"response_format":{"type":"structural_tag","format":{"type":"sequence","elements":[)"
       R"({"type":"const_string","value":"[redacted:iban]"},{"type":"const_string","value":"[redacted:iban]"}]}}})"},
      // Keys in another letter case, which Ollama's Go decoder reads as content and system.
      {R"({"messages":[{"role":"user","Content":"pay DE89 3704"},{"role":"user","CONTENT":"0044 0532 0130 00"}]})",
       R"({"messages":[{"role":"user","Content":"pay [redacted:iban]"},{"role":"user","CONTENT":"[redacted:iban]"}]})"},
      {R"({"ſystem":"pay DE89 3704","prompt":"0044 0532 0130 00"})",
       R"({"ſystem":"pay [redacted:iban]","prompt":"[redacted:iban]"})"},
      // Probe round 46: in the order the server builds the prompt, whatever the key order: a
      // system prompt, instructions, a system instruction or a preamble first, a suffix last.
      {R"({"messages":[{"role":"user","content":"0044 0532 0130 00"}],"system":"pay DE89 3704"})",
       R"({"messages":[{"role":"user","content":"[redacted:iban]"}],"system":"pay [redacted:iban]"})"},
      {R"({"input":"0044 0532 0130 00","instructions":"pay DE89 3704"})",
       R"({"input":"[redacted:iban]","instructions":"pay [redacted:iban]"})"},
      {R"({"contents":[{"role":"user","parts":[{"text":"0044 0532 0130 00"}]}],)"
       R"("systemInstruction":{"parts":[{"text":"pay DE89 3704"}]}})",
       R"({"contents":[{"role":"user","parts":[{"text":"[redacted:iban]"}]}],)"
       R"("systemInstruction":{"parts":[{"text":"pay [redacted:iban]"}]}})"},
      {R"({"prompt":"0044 0532 0130 00","system":"pay DE89 3704"})",
       R"({"prompt":"[redacted:iban]","system":"pay [redacted:iban]"})"},
      {R"({"suffix":"0044 0532 0130 00","prompt":"pay DE89 3704"})",
       R"({"suffix":"[redacted:iban]","prompt":"pay [redacted:iban]"})"},
      {R"({"message":"0044 0532 0130 00","chat_history":[{"role":"USER","message":"3704"}],"preamble":"pay DE89"})",
       R"({"message":"[redacted:iban]","chat_history":[{"role":"USER","message":"[redacted:iban]"}],"preamble":"pay [redacted:iban]"})"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, iban).scan.found == iban);
    const inspection located = inspect(r.body, iban, true);
    CHECK(located.scan.found == iban);
    CHECK(located.scan.hidden == 0);
    std::string body = r.body;
    CHECK(redact(body, located.scan.findings, iban) >= 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, iban).scan.found == 0);
  }
  // Strings that are not prose do not join it (a role, a type, a key), and a long prose string
  // is read at its edges only: nothing is found across these.
  for (const std::string& body :
       {std::string(
            R"({"messages":[{"role":"user","content":"pay DE89"},{"role":"DE89 3704 0044 0532 0130 00"}]})"),
        std::string(R"({"a":"DE89 3704","b":"0044 0532 0130 00"})"),
        R"({"messages":[{"content":"DE89 3704 0044 0532 0130 00)" + std::string(300, 'x') +
            R"("},{"content":"y"}]})"}) {
    CAPTURE(body);
    const inspection got = inspect(body, iban, true);
    for (const finding& f : got.scan.findings) {
      CHECK(body.find("DE89 3704 0044 0532 0130 00") != std::string::npos);
      CHECK(f.end - f.begin == std::string_view("DE89 3704 0044 0532 0130 00").size());
    }
  }
  CHECK(inspect(R"({"a":"DE89 3704","b":"0044 0532 0130 00"})", iban).scan.found == 0);
}

TEST_CASE("a message's text parts and a prompt array's items are read joined with nothing, too") {
  // vLLM's multimodal chat templates join a message's text parts with nothing between them: an
  // identifier cut mid-word across parts is the identifier to the model.
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  };
  const std::string x(1000, 'x');
  const row rows[] = {
      {R"j({"messages":[{"role":"user","content":[{"type":"text","text":"Send it to alice"},)j"
       R"j({"type":"text","text":"@example.com, card 4111 1111"},{"type":"text","text":" 1111 1111"}]}]})j",
       email | card,
       R"j({"messages":[{"role":"user","content":[{"type":"text","text":"Send it to [redacted:email]"},)j"
       R"j({"type":"text","text":"[redacted:email], card [redacted:payment_card]"},)j"
       R"j({"type":"text","text":"[redacted:payment_card]"}]}]})j"},
      // Over three parts; in the Responses API's input; in a prompt array.
      {R"j({"messages":[{"role":"user","content":[{"type":"text","text":"ali"},{"type":"text","text":"ce@exa"},)j"
       R"j({"type":"text","text":"mple.com"}]}]})j",
       email,
       R"j({"messages":[{"role":"user","content":[{"type":"text","text":"[redacted:email]"},)j"
       R"j({"type":"text","text":"[redacted:email]"},{"type":"text","text":"[redacted:email]"}]}]})j"},
      {R"j({"input":[{"role":"user","content":[{"type":"input_text","text":"mail alice"},)j"
       R"j({"type":"input_text","text":"@example.com"}]}]})j",
       email,
       R"j({"input":[{"role":"user","content":[{"type":"input_text","text":"mail [redacted:email]"},)j"
       R"j({"type":"input_text","text":"[redacted:email]"}]}]})j"},
      {R"j({"prompt":["IBAN DE89370400","440532013000 ok"]})j", iban,
       R"j({"prompt":["IBAN [redacted:iban]","[redacted:iban] ok"]})j"},
      // Long parts: read near the seam.
      {R"j({"messages":[{"role":"user","content":[{"type":"text","text":")j" + x +
           R"j( alice"},)j"
           R"j({"type":"text","text":"@example.com )j" +
           x + R"j("}]}]})j",
       email,
       R"j({"messages":[{"role":"user","content":[{"type":"text","text":")j" + x +
           R"j( [redacted:email]"},)j"
           R"j({"type":"text","text":"[redacted:email] )j" +
           x + R"j("}]}]})j"},
      // Spaced after its country code, the IBAN is found whole (not only the phone-like run of
      // digits in it, which is no phone number inside it: probe round 25) and redacted.
      {R"j({"messages":[{"role":"user","content":"IBAN DE 89 3704 0044 0532 0130 00 please"}]})j", iban,
       R"j({"messages":[{"role":"user","content":"IBAN [redacted:iban] please"}]})j"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | phone | card | iban).scan.found == r.found);
    const inspection got = inspect(r.body, email | phone | card | iban, true);
    CHECK(got.scan.found == r.found);
    CHECK(got.scan.hidden == 0);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | card | iban) >= 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | card | iban).scan.found == 0);
  }
  // A line break around the '@' inside a string is read; the break between two strings is not.
  CHECK(
      inspect(R"({"messages":[{"role":"user","content":"alice.martin\n@\ngmail.com"}]})", email).scan.found ==
      email);
  {
    const std::string body = R"({"messages":[{"role":"user","content":"write alice.martin\n@\ngmail.com"}]})";
    const inspection got = inspect(body, email, true);
    REQUIRE(got.scan.findings.size() == 1);
    std::string redacted = body;
    CHECK(redact(redacted, got.scan.findings, email) == 1);
    CHECK(redacted == R"({"messages":[{"role":"user","content":"write [redacted:email]"}]})");
  }
  for (const std::string body :
       {R"j({"a":"alice","b":"@\nexample.com"})j", R"j({"a":"alice\n","b":"@example.com"})j",
        R"j({"a":"alice","b":"@","c":"example.com"})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, email).scan.found == 0);
    CHECK(inspect(body, email, true).scan.findings.empty());
  }
  // Two strings that are not prose are not one text, nor are two sentences.
  for (
      const std::string body :
      {R"j({"a":"alice","b":"@example.com"})j",
       R"j({"messages":[{"role":"user","content":"Thanks, see you in Lyon."},{"role":"user","content":"Bye"}]})j",
       R"j({"messages":[{"role":"user","content":"order 4111"},{"role":"user","content":"is late"}]})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, email | card).scan.found == 0);
    CHECK(inspect(body, email | card, true).scan.findings.empty());
  }
}

TEST_CASE("consecutive prose strings of any kind are read joined with nothing near their seams") {
  // A model asked to join two messages, a system prompt and a user turn, a prompt and its suffix,
  // or Gemini's parts reads the identifier cut between them (probe round 15: a card, a phone number
  // or an address cut between two messages reached a US-operated cluster).
  struct row {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  };
  const row rows[] = {
      {R"j({"messages":[{"role":"user","content":"Send it to alice"},{"role":"user","content":"@example.com"}]})j",
       email,
       R"j({"messages":[{"role":"user","content":"Send it to [redacted:email]"},)j"
       R"j({"role":"user","content":"[redacted:email]"}]})j"},
      {R"j({"messages":[{"role":"user","content":[{"type":"text","text":"alice"}]},)j"
       R"j({"role":"user","content":[{"type":"text","text":"@example.com"}]}]})j",
       email,
       R"j({"messages":[{"role":"user","content":[{"type":"text","text":"[redacted:email]"}]},)j"
       R"j({"role":"user","content":[{"type":"text","text":"[redacted:email]"}]}]})j"},
      {R"j({"messages":[{"role":"system","content":"my card is 4111 1111"},{"role":"user","content":"1111 1111"}]})j",
       card,
       R"j({"messages":[{"role":"system","content":"my card is [redacted:payment_card]"},)j"
       R"j({"role":"user","content":"[redacted:payment_card]"}]})j"},
      {R"j({"prompt":"card 4111 1111","suffix":"1111 1111"})j", card,
       R"j({"prompt":"card [redacted:payment_card]","suffix":"[redacted:payment_card]"})j"},
      {R"j({"contents":[{"role":"user","parts":[{"text":"mail alice"},{"text":"@example.com"}]}]})j", email,
       R"j({"contents":[{"role":"user","parts":[{"text":"mail [redacted:email]"},{"text":"[redacted:email]"}]}]})j"},
      // Cohere's chat: its preamble, message, history and documents are prose.
      {R"j({"preamble":"customer card: 4111 1111","message":"1111 1111 charge it"})j", card,
       R"j({"preamble":"customer card: [redacted:payment_card]","message":"[redacted:payment_card] charge it"})j"},
      {R"j({"message":"join","documents":[{"title":"a","snippet":"4111 1111"},{"title":"b","snippet":"1111 1111"}]})j",
       card,
       R"j({"message":"join","documents":[{"title":"a","snippet":"[redacted:payment_card]"},)j"
       R"j({"title":"b","snippet":"[redacted:payment_card]"}]})j"},
      // An empty or blank string between the halves is no boundary (probe round 18: it was).
      {R"j({"messages":[{"role":"user","content":"card 4111 1111"},{"role":"user","content":""},)j"
       R"j({"role":"user","content":"1111 1111"}]})j",
       card,
       R"j({"messages":[{"role":"user","content":"card [redacted:payment_card]"},{"role":"user","content":""},)j"
       R"j({"role":"user","content":"[redacted:payment_card]"}]})j"},
      {R"j({"prompt":["mail alice"," \n ","@example.com"]})j", email,
       R"j({"prompt":["mail [redacted:email]"," \n ","[redacted:email]"]})j"},
      {R"j({"input":["card 4111 1111","","  ","1111 1111"]})j", card,
       R"j({"input":["card [redacted:payment_card]","","  ","[redacted:payment_card]"]})j"},
      // An empty one is nothing between them, not a blank (probe round 19).
      {R"j({"prompt":["mail alice.smith@example","",".com"]})j", email,
       R"j({"prompt":["mail [redacted:email]","","[redacted:email]"]})j"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | phone | card).scan.found == r.found);
    const inspection got = inspect(r.body, email | phone | card, true);
    CHECK(got.scan.found == r.found);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | card) >= 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | card).scan.found == 0);
  }
  CHECK(
      inspect(
          R"j({"messages":[{"role":"user","content":"call +49 30"},{"role":"user","content":"1234 5678"}]})j",
          phone)
          .scan.found == phone);
  CHECK(inspect(R"j({"messages":[{"role":"user","content":"call +49 30"},{"role":"user","content":" "},)j"
                R"j({"role":"user","content":"1234 5678"}]})j",
                phone)
            .scan.found == phone);
  // A mention or a decorator opening the next string is no address's domain ("done" +
  // "@john.doe", "handler" + "@app.route(...)"): those end in no top-level domain.
  CHECK(inspect(R"j({"messages":[{"role":"user","content":"Deploy to prod is done"},)j"
                R"j({"role":"user","content":"@john.doe can you verify?"}]})j",
                email)
            .scan.found == 0);
  CHECK(inspect(R"j({"input":["    return app","@app.route('/health')\ndef health(): ..."]})j", email)
            .scan.found == 0);
}

TEST_CASE(
    "schemas, documents and what tools take are data: a model, an adapter or a key there is no choice") {
  // Probe round 18: pydantic writes a nested model's default into the schema ("default":
  // {"adapter": "eth0"}, {"model": "iPhone 15"}), and Gemini's args, Cohere's documents and a stored
  // prompt's variables are the client's data. None of them is refused.
  const std::string bodies[] = {
      R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"setup","parameters":)"
      R"({"type":"object","properties":{"network":{"type":"object","default":{"adapter":"eth0","dhcp":true}},)"
      R"("phone":{"default":{"model":"iPhone 15"}},"keys":{"examples":[{"api_key":""}]}}}}}]})",
      R"({"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"q","schema":)"
      R"({"type":"object","examples":[{"model":"Pixel 8","adapter_type":"USB-C","access_token":"x"}]}}}})",
      R"({"model":"m","input":"hi","text":{"format":{"type":"json_schema","schema":{"default":{"model":"x"}}}}})",
      R"({"model":"m","prompt":"hi","guided_json":{"properties":{"p":{"default":{"model":"x","lora":"y"}}}}})",
      R"({"model":"m","format":{"type":"object","default":{"model":"x"}}})",
      R"({"model":"m","contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":)"
      R"({"adapter":"USB-C","model":"XPS 13"}}},{"functionResponse":{"name":"f","response":{"adapter_sku":"D"}}}]}]})",
      R"({"model":"m","message":"which?","documents":[{"title":"FAQ","model":"XPS 13","adapter_type":"USB-C"}]})",
      R"({"model":"m","message":"x","tool_results":[{"call":{"name":"f","parameters":{"model":"a"}},)"
      R"("outputs":[{"adapter":"b"}]}]})",
      R"({"model":"m","prompt":{"id":"pmpt_1","variables":{"adapter_name":"USB-C"}}})",
      R"({"model":"m","chat_template_kwargs":{"documents":[{"text":"t","adapter":"USB-C"}]}})",
  };
  for (const std::string& body : bodies) {
    CAPTURE(body);
    const inspection got = inspect(body);
    CAPTURE(got.message);
    CHECK(got.error == body_error::none);
  }
  // Beside such data, and in the settings a cluster reads, they are refused still.
  CHECK(inspect(R"({"model":"m","inputs":"hi","parameters":{"adapter_id":"x/y"}})").error ==
        body_error::other_models);
  CHECK(
      inspect(R"({"model":"m","tools":[{"type":"image_generation","model":"gpt-image-1","parameters":{}}]})")
          .error == body_error::other_models);
  CHECK(inspect(R"({"model":"m","documents":[],"lora_path":"/x"})").error == body_error::other_models);
}

TEST_CASE("a backslash run before a separator is read through at any depth (probe round 37)") {
  // The text a model reads holds two backslashes or more before the '@' or the separators, or a
  // decoding gives one ("%5C%40", "\\&#64;"): each level of decoding halves the run.
  const std::uint32_t all = implemented_detectors();
  struct row {
    std::string body;
    detector expected;
  };
  const row rows[] = {
      {R"j({"content":"Send the contract to alice.smith\\\\@example.com"})j", detector::email},
      {R"j({"content":"mail xq7\\\\\\\\@example.com"})j", detector::email},
      {R"j({"content":"mail xq7@example\\\\.com"})j", detector::email},
      {R"j({"content":"mail xq7\\\\\\u0040example.com"})j", detector::email},
      {R"j({"content":"mail xq7\\\\\\\\\\\\\\\\u0040example.com"})j", detector::email},
      {R"j({"content":"mail xq7\\\\%40example.com"})j", detector::email},
      {R"j({"content":"mail xq7%5C%40example.com"})j", detector::email},
      {R"j({"content":"mail xq7\\\\&#64;example.com"})j", detector::email},
      {R"j({"content":"card 4111\\\\-1111\\\\-1111\\\\-1111"})j", detector::payment_card},
      {R"j({"content":"call +33\\\\-6\\\\-12\\\\-34\\\\-56\\\\-78"})j", detector::phone},
      {R"j({"content":"NIR 1\\\\ 85\\\\ 05\\\\ 78\\\\ 006\\\\ 084\\\\ 91"})j", detector::national_id},
      {R"j({"user":"xq7\\\\@example.com","messages":[]})j", detector::email},
      // One JSON level down: a tool call's arguments.
      {R"j({"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f",)j"
       R"j("arguments":"{\"to\":\"xq7\\\\\\u0040example.com\"}"}}]}]})j",
       detector::email},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK((inspect(r.body, all).scan.found & bit(r.expected)) != 0);
    const inspection got = inspect(r.body, all, true);
    CHECK((got.scan.found & bit(r.expected)) != 0);
  }
  // Escaped punctuation that spells no identifier: nothing.
  CHECK(inspect(R"j({"content":"regex \\\\d+\\\\.\\\\d+ and \\\\@user, C:\\\\Users\\\\x, 4\\\\-2"})j", all)
            .scan.found == 0);
}

TEST_CASE("lookalike letters inside a national id are read as Latin (probe round 37)") {
  const std::uint32_t ids = bit(detector::national_id);
  const std::uint32_t health = bit(detector::health_code);
  struct row {
    std::string content;
    std::uint32_t found;
  };
  const row rows[] = {
      {"codice fiscale RSSMR\u041085T10A562S", ids},  // Cyrillic A
      {"codice fiscale RSSMRA85T10A562\u0405", ids},  // Cyrillic S (the check letter)
      {"DNI 12345678\u0396", ids},                    // Greek Z
      {"NIE \u03a71234567L", ids},                    // Greek X
      {"NINO \u051aQ123456C", ids},                   // Cyrillic Q
  };
  for (const row& r : rows) {
    const std::string body = R"({"messages":[{"role":"user","content":")" + r.content + R"("}]})";
    CAPTURE(body);
    CHECK((inspect(body, ids | health).scan.found & r.found) == r.found);
    CHECK((inspect(body, ids | health, true).scan.found & r.found) == r.found);
  }
  // Cyrillic and Greek prose is no id.
  CHECK(inspect(R"({"a":"Пациент АВС 12345678 Р, диагноз Е, код ОК 2024; Αθήνα ΑΒΓ 123"})", ids | health)
            .scan.found == 0);
}

TEST_CASE("the seam between two prose strings is read decoded too (probe round 37)") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::uint32_t found;
  };
  const row rows[] = {
      {R"j({"prompt":["mail xq7","%40example.com"]})j", email},
      {R"j({"prompt":["mail xq7\\","u0040example.com"]})j", email},
      {R"j({"prompt":["mail xq7\\u0040","example.com"]})j", email},
      {R"j({"prompt":["mail xq7","\\x40example.com"]})j", email},
      {R"j({"prompt":["mail xq7","&#64;example.com"]})j", email},
      {R"j({"messages":[{"role":"user","content":[{"type":"text","text":"mail xq7%"},{"type":"text","text":"40example.com"}]}]})j",
       email},
      {R"j({"messages":[{"role":"user","content":"mail xq7&#"},{"role":"user","content":"64;example.com"}]})j",
       email},
      {R"j({"prompt":["mail alice.smith<b>","</b>@example.com"]})j", email},
      {R"j({"prompt":["IBAN DE89%203704%200044","%200532%200130%2000"]})j", iban},
      {R"j({"prompt":["card 4111%201111","%201111%201111"]})j", card},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK((inspect(r.body, email | card | iban).scan.found & r.found) == r.found);
    const inspection got = inspect(r.body, email | card | iban, true);
    CHECK((got.scan.found & r.found) == r.found);
    // Found and redactable where the pieces are written (no quote in them).
    CHECK(got.scan.hidden == 0);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | card | iban) >= 1);
    CAPTURE(body);
    CHECK(inspect(body, email | card | iban).scan.found == 0);
  }
  // Escapes at a seam that spell nothing: nothing.
  CHECK(inspect(R"j({"prompt":["50%","20 off &amp; more"]})j", email | card | iban | phone).scan.found == 0);
}

TEST_CASE("a finding in a number is found but not redactable, and numbers keep redaction in place") {
  const std::uint32_t iban = bit(detector::iban);
  const std::string body = R"({"account":4111111111111111,"temperature":0.25,"messages":[{"role":"user",)"
                           R"("content":"IBAN DE89 3704 0044 0532 0130 00"}],"k":[1,2,3]})";
  const inspection got = inspect(body, card | iban, true);
  REQUIRE(got.ok());
  CHECK(got.scan.found == (card | iban));
  CHECK(got.scan.hidden == card);  // a string in its place would change the value's type
  REQUIRE(got.scan.findings.size() == 1);
  CHECK(got.scan.findings[0].detector == static_cast<unsigned>(detector::iban));
  std::string redacted = body;
  CHECK(redact(redacted, got.scan.findings, card | iban) == 1);
  CHECK(redacted == R"({"account":4111111111111111,"temperature":0.25,"messages":[{"role":"user",)"
                    R"("content":"IBAN [redacted:iban]"}],"k":[1,2,3]})");
  // A number split across the parser's parts is one number (and the offsets after it still hold).
  std::string long_number = R"({"a":)" + std::string(3000, '1') + R"(,"c":"x@y.example"})";
  const inspection split = inspect(long_number, email, true);
  REQUIRE(split.ok());
  CHECK(redact(long_number, split.scan.findings, email) == 1);
  CHECK(long_number.ends_with(R"(,"c":"[redacted:email]"})"));
  // Written with an exponent, a card number reaches a model as its server prints the value
  // (Python: 4111111111111111.0): found in that reading, hidden; the offsets after it still hold.
  for (const std::string n : {"4.111111111111111e15", "41111111111111110e-1", "0.4111111111111111E+16"}) {
    CAPTURE(n);
    const std::string b = R"({"tools":[{"type":"function","function":{"name":"pay","parameters":)"
                          R"({"properties":{"card":{"enum":[)" +
                          n + R"(]}}}}}],"messages":[{"role":"user","content":"x@y.example"}]})";
    const inspection e = inspect(b, card | email, true);
    REQUIRE(e.ok());
    CHECK((e.scan.hidden & card) == card);
    std::string r = b;
    CHECK(redact(r, e.scan.findings, email) == 1);
    CHECK(r.ends_with(R"("content":"[redacted:email]"}]})"));
  }
  // Exponents whose value spells no identifier add nothing found.
  CHECK(inspect(R"({"a":[1e3,2.5e-3,1e300,-7E2]})", card | phone, true).scan.found == 0);
}

TEST_CASE("a sampling setting's number is no text a model reads (probe round 37)") {
  // A random seed or a computed temperature passes a card's checksum one time in ten.
  const std::uint32_t all = implemented_detectors();
  for (
      const std::string body :
      {R"({"model":"m","messages":[{"role":"user","content":"hello"}],"seed":3556250748849463})",
       R"({"model":"m","seed":-3556250748849463,"temperature":0.3556250748849463,"top_p":0.3556250748849463})",
       R"({"model":"m","max_tokens":3556250748849463,"n":1})",
       R"({"model":"m","options":{"seed":3556250748849463,"temperature":0.3556250748849463}})",
       R"({"model":"m","input":"hi","seed":3556250748849463.0})"}) {
    CAPTURE(body);
    const inspection got = inspect(body, all, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == 0);
    CHECK(got.scan.hidden == 0);
  }
  // The same digits elsewhere, in a string under such a key, or in an array there are read.
  for (const std::string body :
       {R"({"model":"m","metadata":{"seed":3556250748849463}})", R"({"model":"m","seed":"3556250748849463"})",
        R"({"model":"m","seed":[3556250748849463]})", R"({"model":"m","seeds":3556250748849463})"}) {
    CAPTURE(body);
    CHECK((inspect(body, all).scan.found & card) == card);
  }
}

TEST_CASE("a number whose float64 prints other digits is read as printed too (probe: numbers)") {
  // A server that parses a number as a float64 prints its value, not what was written: Python's
  // repr(4111111111111110.75) is 4111111111111111.0 (the double nearest it), Go's encoding/json
  // and JavaScript print 4111111111111117001 and 4.111111111111117e18 as 4111111111111117000.
  // Each reads as a card once printed: found, and hidden (a string there would change the type).
  const std::string cards[] = {"4111111111111110.75",
                               "-4111111111111110.75",
                               "4111111111111110.9999999",
                               "4111111111111111.25",  // ties to even: 4111111111111111.0
                               "4111111111111110.75" + std::string(300, '0'),
                               "4.111111111111117e18",
                               "4111111111111117001"};
  const auto where = [](const std::string& n) {
    return std::vector<std::string>{
        R"({"card":)" + n + R"(,"messages":[{"role":"user","content":"x@y.example"}]})",
        R"({"tools":[{"type":"function","function":{"name":"pay","parameters":{"properties":{"card":)"
        R"({"type":"number","default":)" +
            n + R"(}}}}}],"messages":[{"role":"user","content":"x@y.example"}]})",
        R"({"tools":[{"type":"function","function":{"name":"pay","parameters":{"properties":{"card":)"
        R"({"enum":[)" +
            n + R"(]}}}}}],"messages":[{"role":"user","content":"x@y.example"}]})",
        R"j({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":)j"
        R"j({"name":"pay","arguments":"{\"card\": )j" +
            n + R"j(}"}}]},{"role":"user","content":"x@y.example"}]})j",
    };
  };
  for (const std::string& n : cards) {
    for (const std::string& body : where(n)) {
      CAPTURE(body);
      CHECK(inspect(body, card).scan.found == card);
      const inspection got = inspect(body, card | email, true);
      REQUIRE(got.ok());
      CHECK(got.scan.found == (card | email));
      CHECK((got.scan.hidden & card) == card);
      std::string r = body;
      CHECK(redact(r, got.scan.findings, email) == 1);  // the offsets after the number still hold
      CHECK(r.ends_with(R"("content":"[redacted:email]"}]})"));
    }
  }
  // Written out in full, the 19-digit card that 4111111111111117001 prints as is one too.
  for (const std::string& body : where("4111111111111117000")) {
    CAPTURE(body);
    CHECK(inspect(body, card).scan.found == card);
  }
  // Values that print as written, or as digits that spell no identifier, add nothing: a decimal
  // that is exactly a double (4111111111111112.5; 4111111111111111.5 is a card as written, its
  // digits before the point), one that prints as no card (…112.25 is 4111111111111112.0),
  // integers up to 2^53, short numbers and token ids.
  for (const std::string n : {"4111111111111112.5", "4111111111111112.25", "9007199254740993", "0.1",
                              "123456.789", "[9906,11,1917,100000,4111111]", "1.0000000000000000001"}) {
    for (const std::string& body : where(n)) {
      CAPTURE(body);
      CHECK(inspect(body, card | phone, true).scan.found == 0);
    }
  }
}

TEST_CASE("content a model reads but the gateway cannot is opaque_content") {
  const std::uint32_t opaque = bit(detector::opaque_content);
  const std::string opaque_bodies[] = {
      // Token ids where prose is expected (completions, embeddings), one level or two.
      R"({"model":"m","prompt":[9906,11,1917]})",
      R"({"model":"m","input":[[9906,11],[1917]]})",
      R"({"model":"m","prompt":["text",[9906]]})",
      // Media parts: OpenAI chat, the Responses API, vLLM's extensions.
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGR","format":"wav"}}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"JVBERi0x"}}]}]})",
      R"({"input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x.example/a.png"}]}]})",
      R"({"input":[{"role":"user","content":[{"type":"input_file","file_id":"file-123"}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"video_url","video_url":{"url":"https://x.example/v.mp4"}}]}]})",
      // Escaped key spellings are the same key.
      R"({"messages":[{"content":[{"type":"image_url","image\u005furl":{"url":"https://x.example/a.png"}}]}]})",
      // A client's own chat template may reverse or decode the text; prompt embeddings are no text.
      R"({"model":"m","messages":[{"role":"user","content":"moc.elpmaxe@ecila"}],)"
      R"("chat_template":"{{ messages[0].content | reverse }}"})",
      R"({"model":"m","prompt_embeds":"k4JvPw=="})",
      // vLLM's embedding parts, Gemini's inline data, a video in the Responses API's shape.
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"who is this"},)"
      R"({"type":"prompt_embeds","data":"AAAAAAAAAAAAAAAA"}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"audio_embeds","audio_embeds":"AAAA"}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"video_embeds","video_embeds":"AAAA"}]}]})",
      R"({"messages":[{"role":"user","content":[{"inline_data":{"mime_type":"image/png","data":"iVBO"}}]}]})",
      R"({"input":[{"role":"user","content":[{"type":"input_video","video_url":"https://x.example/v"}]}]})",
      // Anthropic's Messages API: image and document blocks carry their bytes under `source`.
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64",)"
      R"("media_type":"image/png","data":"iVBORw0KGgo="}}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"url",)"
      R"("url":"https://x.example/id.pdf"}}]}]})",
      R"({"model":"m","system":[{"type":"image","source":{"type":"url","url":"https://x.example/a"}}]})",
      // A part type never seen, an encrypted block: what is not known to be text is not read as text.
      R"({"messages":[{"role":"user","content":[{"type":"x-scan","payload":"moc.elpmaxe@ecila"}]}]})",
      R"({"messages":[{"role":"assistant","content":[{"type":"redacted_thinking","data":"EmwKAhgB"}]}]})",
      // A stored item referred to by its id alone (item_reference's type is optional); stored files a
      // tool puts before the model; an Assistants run's stored assistant and thread.
      R"({"model":"m","input":[{"role":"user","content":"hi"},{"id":"msg_1"}]})",
      // Probe round 34: stored agents, conversations, threads, sessions and knowledge bases; media
      // under common synonyms.
      R"({"model":"m","conversation_id":"c1","message":"hi"})",
      R"({"model":"m","text":"hi","session_params":{"id":"s1"}})",
      R"({"model":"m","prompt":"describe","img":"https://x.example/a.png"})",
      R"({"model":"m","prompt":"describe","screenshot":"https://x.example/a.png"})",
      R"({"model":"m","text":"say it","speaker_wav":"https://x.example/voice.wav"})",
      R"({"model":"m","prompt":"summarise","attachments":["https://x.example/a.pdf"]})",
      R"({"model":"m","prompt":"x","media_url":"https://x.example/v.mp4"})",
      // A bare URL under any key of the content that is not prose: fetched by the server.
      R"({"model":"m","prompt":"describe","pic_src":"https://x.example/a.png"})",
      R"({"http_sources":[{"url":"HTTPS://x.example/report.pdf"}],"options":{"to_formats":["md"]}})",
      R"({"model":"m","messages":[{"role":"user","content":"read it","source":"s3://bucket/notes.txt"}]})",
      R"({"model":"m","prompt":"sum the column","table":"S3://bucket/t.PARQUET?version=2"})",
      // A reasoning item by its id (probe round 34): the cluster reads the stored reasoning.
      R"({"model":"m","input":[{"type":"reasoning","id":"rs_abc","summary":[]},{"role":"user","content":"hi"}]})",
      R"({"model":"m","input":[{"id":"rs_abc","summary":[{"type":"summary_text","text":"s"}],"type":"reasoning"}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs_1"]}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"code_interpreter","container":{"type":"auto","file_ids":["f"]}}]})",
      R"({"assistant_id":"asst_1"})",
      // Token ids under a key naming tokens: vLLM's /detokenize and its token-in generate endpoint.
      R"({"model":"m","tokens":[9906,11,1917]})",
      R"({"model":"m","token_ids":[9906,11,1917],"sampling_params":{"max_tokens":5}})",
      R"({"model":"m","prompt_token_ids":[[9906],[1917]]})",
      // Embeddings under any *_embeds key at the top level.
      R"({"model":"m","mm_embeds":"k4JvPw=="})",
      // Ollama: images beside a message, or beside the prompt.
      R"({"model":"m","messages":[{"role":"user","content":"what is this?","images":["iVBORw0KGgo="]}]})",
      R"({"model":"m","prompt":"what is this?","images":["iVBORw0KGgo="]})",
      // Media and stored files at the top level: SGLang's /generate, llama.cpp's /completion, a
      // batch's input file, an image beside a chat.
      R"({"text":"read the name on this card","image_data":"data:image/png;base64,iVBORw0KGgo="})",
      R"({"prompt":"describe","image_data":[{"data":"iVBORw0KGgo=","id":1}]})",
      R"({"text":"transcribe","audio_data":"https://x.example/a.wav"})",
      R"({"model":"m","messages":[],"image":"iVBORw0KGgo="})",
      R"({"model":"m","messages":[],"input_audio":{"data":"UklGR","format":"wav"}})",
      R"({"model":"m","messages":[],"video_data":["https://x.example/v.mp4"]})",
      R"({"model":"m","messages":[],"file":{"file_data":"JVBERi0x"}})",
      R"({"input_file_id":"file-abc","endpoint":"/v1/chat/completions","completion_window":"24h"})",
      R"({"model":"m","training_file":"file-abc"})",
      R"({"model":"m","messages":[],"document":"JVBERi0x"})",
      // Keys in any letter case (Ollama's Go decoder matches them so); the long s and the Kelvin
      // sign fold to s and k there too.
      R"({"model":"m","prompt":"describe","Images":["iVBORw0KGgo="]})",
      R"({"model":"m","messages":[{"role":"user","content":"describe","IMAGES":["iVBORw0KGgo="]}]})",
      R"({"model":"m","Chat_Template":"{{ messages[0].content | reverse }}","messages":[]})",
      // Ollama: a client's Go template, the token ids of an earlier answer.
      R"({"model":"m","prompt":"alice","system":"example.com","template":"{{ .Prompt }}@{{ .System }}"})",
      R"({"model":"m","prompt":"and tomorrow?","context":[128000,9906,11,856,2613]})",
      // Reasoning the client holds only encrypted.
      R"({"model":"m","input":[{"type":"reasoning","encrypted_content":"gAAAAB"},{"role":"user","content":"hi"}]})",
      // Gemini's media in lowerCamelCase, as protobuf JSON readers take it beside snake_case.
      R"({"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]})",
      R"({"contents":[{"role":"user","parts":[{"fileData":{"mimeType":"application/pdf",)"
      R"("fileUri":"gs://b/id.pdf"}}]}]})",
      R"({"contents":[{"role":"user","parts":[{"text":"summarise"},{"fileUri":"gs://b/id.pdf"}]}]})",
      // Content the cluster stores and the model reads again.
      R"({"model":"m","previous_response_id":"resp_123","input":"and then?"})",
      R"({"model":"m","conversation":"conv_123","input":"and then?"})",
      R"({"model":"m","conversation":{"id":"conv_123"},"input":"and then?"})",
      R"({"model":"m","prompt":{"id":"pmpt_123","variables":{"city":"Paris"}},"input":"hi"})",
      R"({"contents":[{"role":"user","parts":[{"text":"and then?"}]}],"cachedContent":"cachedContents/x"})",
      // A container made earlier, with the files uploaded into it, named by its id; a tool's input media.
      R"({"model":"m","input":"run it","tools":[{"type":"code_interpreter","container":"cntr_68a1"}]})",
      R"({"model":"m","input":"ls","tools":[{"type":"shell","environment":{"type":"container_reference",)"
      R"("container_id":"cntr_68a1"}}]})",
      R"({"model":"m","messages":[],"container":"container_011C","tools":[{"type":"code_execution_20250825"}]})",
      R"({"model":"m","input":"edit","tools":[{"type":"image_generation","input_image_mask":)"
      R"({"image_url":"data:image/png;base64,iVBORw0KGgo="}}]})",
  };
  for (const std::string& body : opaque_bodies) {
    CAPTURE(body);
    const inspection got = inspect(body, opaque | email, true);
    REQUIRE(got.ok());
    CHECK((got.scan.found & opaque) == opaque);
    CHECK((got.scan.hidden & opaque) == opaque);
    CHECK(got.scan.findings.empty());
    CHECK(inspect(body, email).scan.found == 0);  // only when asked for
  }
  const std::string readable_bodies[] = {
      R"({"model":"m","max_tokens":100,"temperature":0.5,"messages":[{"role":"user","content":"hi"}]})",
      // A URL in a message's text, a tool's schema, a tool call's arguments or the metadata: text
      // or the client's data, nothing a server fetches.
      R"({"model":"m","messages":[{"role":"user","content":"https://x.example/a.png"},{"role":"user","content":[{"type":"text","text":"https://x.example"}]}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"u":{"type":"string","default":"https://x.example"}}}}}]})",
      R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"url":"https://x.example"}}}]}]})",
      R"({"model":"m","messages":[],"metadata":{"source":"https://x.example"}})",
      R"({"model":"m","prompt":"see https://x.example/a b","user":"alice"})",
      R"({"model":"m","prompt":["a","b"],"logit_bias":{"50256":-100}})",
      R"({"model":"m","input":"text","dimensions":256})",
      R"({"model":"m","chat_template":null,"prompt_embeds":null,"messages":[]})",
      // Settings beside content: audio output's voice, Cohere's flags and embedding types, a
      // count; a context given as text is read as text.
      R"({"model":"m","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[]})",
      R"({"model":"m","query":"q","documents":["a","b"],"return_documents":true,"max_images":2})",
      R"({"model":"m","texts":["hello"],"input_type":"search_document","embedding_types":["float"]})",
      R"({"model":"m","prompt":"hi","context":"the user asked about trains","profile":"x"})",
      // A stored response or conversation left unset; a prompt as text or a list of texts.
      R"({"model":"m","previous_response_id":null,"conversation":null,"input":"hi"})",
      R"({"model":"m","prompt":["a",{"x":1}]})",
      // An input item with its content inline (an earlier output item, id and all); a function whose
      // parameters name a file (its schema, read as text).
      R"({"model":"m","input":[{"id":"msg_1","type":"message","role":"assistant","content":"ok"}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"type":"object",)"
      R"("properties":{"file_id":{"type":"string"}}}}]})",
      // The same keys outside a message's content are a tool's parameters, read as text.
      R"({"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",)"
      R"("properties":{"image_url":{"type":"string"},"file":{"type":"string"}}}}}],"messages":[]})",
      R"({"response_format":{"type":"json_schema","json_schema":{"schema":{"properties":{"image":{}}}}}})",
      // A container made for the request; an image tool's settings (a count of partial images).
      R"({"model":"m","input":"run","tools":[{"type":"code_interpreter","container":{"type":"auto"}}]})",
      R"({"model":"m","input":"draw","tools":[{"type":"image_generation","partial_images":2,"size":"auto"}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"type":"object",)"
      R"("properties":{"container":{"type":"string"},"input_image":{"type":"string"}}}}]})",
      // Text parts of every API, with their citations and cache hints; tool calls and results.
      R"({"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant",)"
      R"("content":[{"type":"thinking","thinking":"..."},{"type":"text","text":"yes","citations":)"
      R"([{"type":"char_location","cited_text":"x"}]},{"type":"tool_use","id":"t","name":"f","input":{}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"42"}]}]})",
      // A tool call's input is the client's own JSON: its `type` is no part's.
      R"({"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"search",)"
      R"("input":{"query":"weather","type":"web"}}]}]})",
      R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":)"
      R"({"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]})",
      R"({"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},)"
      R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"yo",)"
      R"("annotations":[{"type":"url_citation","url":"https://x.example"}]}]},)"
      R"({"type":"function_call_output","call_id":"c","output":"ok"}]})",
      // Output constraints are token ids that no model reads as its input; counts are numbers.
      R"({"model":"m","prompt":"hi","stop_token_ids":[128001,128009],"allowed_token_ids":[1,2],)"
      R"("max_tokens":5,"min_tokens":1,"skip_special_tokens":true})",
  };
  for (const std::string& body : readable_bodies) {
    CAPTURE(body);
    const inspection got = inspect(body, opaque, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == 0);
  }
  CHECK(readable_text("plain text, caf\xc3\xa9"));
  CHECK_FALSE(readable_text("\x89PNG\r\n\x1a\n"));
  CHECK_FALSE(readable_text(std::string_view("a\0b", 3)));
}

TEST_CASE("a model variant that chooses the provider is refused as the provider key is") {
  for (const char* model : {"llama-3.1-70b:nitro", "x/llama:floor", "llama:Exacto"}) {
    CAPTURE(model);
    const inspection got = inspect(std::string(R"({"model":")") + model + R"(","messages":[]})", 0);
    CHECK(got.error == body_error::other_models);
    CHECK(got.message.find("chooses the provider") != std::string::npos);
  }
  CHECK(inspect(R"({"model":"llama-3.1-70b:free","messages":[]})", 0).ok());
}

TEST_CASE("tools the cluster runs by calling out to another server are remote_tools") {
  const std::uint32_t remote = bit(detector::remote_tools);
  const std::string calls_out[] = {
      R"({"model":"m","input":"hi","tools":[{"type":"mcp","server_label":"x","server_url":"https://x.example/mcp"}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"web_search_preview"}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"function","name":"f"},{"type":"web_search"}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"web_fetch_20250910","name":"web_fetch"}]})",
      R"({"model":"m","messages":[],"mcp_servers":[{"type":"url","url":"https://x.example/sse","name":"x"}]})",
      R"({"model":"m","messages":[],"web_search_options":{}})",
      R"({"model":"m","input":"hi","tools":[{"type":"mcp","server_label":"x","connector_id":"connector_gmail"}]})",
      R"({"model":"m","input":"hi","Tools":[{"Type":"mcp","server_url":"https://x.example/mcp"}]})",
      // OpenRouter's :online variant is its web search plugin.
      R"({"model":"meta-llama/llama-3.1-70b:online","messages":[]})",
      R"({"model":"llama-3.1-70b:ONLINE","messages":[]})",
      // Tools one level down (probe round 25): a realtime session's, an eval run's sampling
      // settings', and remote servers named below the top level.
      R"({"session":{"type":"realtime","tools":[{"type":"mcp","server_label":"x","server_url":"https://x.example/sse"}]}})",
      R"({"sdp":"v=0","session":{"type":"realtime","tools":[{"type":"web_search"}]}})",
      R"({"data_source":{"type":"completions","sampling_params":{"tools":[{"type":"web_search_preview"}]}}})",
      R"({"data_source":{"sampling_params":{"tools":[{"server_label":"x","server_url":"https://x.example/mcp"}]}}})",
      R"({"session":{"tools":[{"type":"function","name":"f"}],"instructions":"hi","mcp_servers":[{"url":"https://x"}]}})",
      R"({"data_source":{"sampling_params":{"web_search_options":{"search_context_size":"low"}}}})",
      // Hosted tools that call out under names of their own, and a tool type the gateway does not
      // know (fail closed, probe round 26): Azure agents' OpenAPI (its spec names the server) and
      // Bing grounding, xAI's X search, Kimi's builtin $web_search, Bedrock's system tools, and
      // the search switches of DashScope, Groq and Baidu.
      R"({"model":"m","input":"hi","tools":[{"type":"openapi","openapi":{"spec":{"servers":[{"url":"https://x.example"}]}}}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"bing_grounding"}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"x_search"}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"builtin_function","function":{"name":"$web_search"}}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"Brand_New_Tool"}]})",
      R"({"model":"m","messages":[],"toolConfig":{"tools":[{"systemTool":{"name":"nova_grounding"}}]}})",
      R"({"model":"m","messages":[],"enable_search":true})",
      R"({"model":"m","messages":[],"compound_custom":{"tools":{"enabled_tools":["web_search"]}}})",
      // Probe round 27: a webhook or callback the cluster posts the prediction (input and output)
      // to (Replicate's and Cog's), in any spelling; and Ollama's cloud tags, which a signed-in
      // Ollama server runs on ollama.com.
      R"({"model":"m","input":{"prompt":"hi"},"webhook":"https://collector.example.us/hook"})",
      R"({"model":"m","input":{"prompt":"hi"},"webhook_events_filter":["completed"]})",
      R"({"model":"m","messages":[],"callback_url":"https://x.example"})",
      R"({"model":"m","messages":[],"webhookUrl":"https://x.example"})",
      R"({"model":"m","messages":[],"CallbackUrl":"https://x.example"})",
      R"({"model":"m","messages":[],"notification_url":"https://x.example"})",
      R"({"model":"m","messages":[],"completion_webhook":{"url":"https://x.example"}})",
      R"({"model":"gpt-oss:120b-cloud","messages":[]})",
      R"({"model":"gemma4:Cloud","messages":[]})",
      // Probe round 34: a tool keyed by a kind the gateway does not know, with no `type` (Gemini's
      // tools are keyed so): fail closed, as for an unknown `type`.
      R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"someFutureWebTool":{}}]})",
      R"({"contents":[],"tools":[{"functionDeclarations":[{"name":"f"}]},{"computerUse":{"environment":"x"}}]})",
      R"({"contents":[],"tools":[{"fileSearch":{"fileSearchStoreNames":["fileSearchStores/x"]}}]})",
  };
  for (const std::string& body : calls_out) {
    CAPTURE(body);
    const inspection got = inspect(body, remote | bit(detector::email), true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == remote);
    CHECK(got.scan.hidden == remote);
    CHECK(inspect(body, bit(detector::email)).scan.found == 0);  // only when asked for
  }
  const std::string local[] = {
      R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"mcp","parameters":)"
      R"({"type":"object","properties":{"server_url":{"type":"string"}}}}}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs_1"]},{"type":"code_interpreter"}]})",
      // The tool types known to run where the client or the cluster itself is.
      R"({"model":"m","input":"hi","tools":[{"type":"custom","name":"f"},{"type":"computer_use_preview"},)"
      R"({"type":"local_shell"},{"type":"shell"},{"type":"apply_patch"},{"type":"image_generation"}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"bash_20250124","name":"bash"},)"
      R"({"type":"text_editor_20250429","name":"str_replace_based_edit_tool"},{"type":"computer_20250124"},)"
      R"({"type":"code_execution_20250825"},{"type":"memory_20250818"},{"type":"tool_search_tool_regex_20251119"}]})",
      R"({"model":"m","messages":[],"enable_search":false,"web_search_options":null})",
      R"({"model":"m","messages":[],"mcp_servers":null,"web_search_options":null})",
      R"({"model":"m","messages":[],"webhook":null})",
      R"({"model":"mistral-small:latest","messages":[{"role":"user","content":"send it to my webhook_url"}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"notify","parameters":)"
      R"({"type":"object","properties":{"webhook":{"type":"string"}}}}}]})",
      R"({"model":"m","messages":[],"metadata":{"webhook":"https://x.example"}})",
      R"({"model":"icloud-assistant:v1","messages":[]})",
      R"({"model":"m","messages":[{"role":"user","content":"what is an mcp server_url?"}]})",
      // The client's own data and schemas may name tools: no cluster runs them.
      R"({"model":"m","messages":[],"metadata":{"tools":[{"type":"mcp"}],"plugins":"x"}})",
      R"({"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"schema":)"
      R"({"type":"object","properties":{"tools":{"type":"array","items":{"type":"string"}}}}}}})",
      R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":)"
      R"({"type":"object","properties":{"tools":{"type":"array"},"web_search_options":{"type":"object"}}}}}]})",
      // Tools without a `type`: Gemini's function declarations and code execution, Anthropic's
      // and Cohere's functions, Bedrock's tool specs.
      R"({"contents":[],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"object"}}]},{"codeExecution":{}}]})",
      R"({"contents":[],"tools":[{"function_declarations":[{"name":"f"}]}]})",
      R"({"model":"m","messages":[],"tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}]})",
      R"({"model":"m","message":"hi","tools":[{"name":"f","description":"d","parameter_definitions":{"x":{"type":"str"}}}]})",
      R"({"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}},{"cachePoint":{"type":"default"}}]}})",
      // A nested `tools` ends with its object: a `type` beside it later is not a tool's.
      R"({"session":{"tools":[{"type":"function","name":"f"}]},"input":[{"type":"web_search_call","x":{"type":"mcp"}}]})",
  };
  for (const std::string& body : local) {
    CAPTURE(body);
    const inspection got = inspect(body, remote, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == 0);
  }
}

TEST_CASE("media anywhere a model reads, markdown images and a nested chat template are opaque_content") {
  const std::uint32_t opaque = bit(detector::opaque_content);
  const std::string image =
      R"j({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}})j";
  const std::string opaque_bodies[] = {
      // vLLM's /score and /rerank: multimodal content in text_1/text_2, data_1/data_2, query, documents.
      R"j({"model":"m","text_1":"what is shown?","text_2":{"content":[)j" + image + "]}}",
      R"j({"model":"m","data_1":{"content":[)j" + image + R"j(]},"data_2":"a cat"})j",
      R"j({"model":"m","query":{"content":[)j" + image + R"j(]},"documents":["a cat","a dog"]})j",
      R"j({"model":"m","query":"which one?","documents":[{"content":[)j" + image + "]}]}",
      R"j({"model":"m","documents":{"content":[{"type":"video_url","video_url":{"url":"https://x.example/v"}}]}})j",
      // A part type that is not text, under any key.
      R"j({"model":"m","text_2":[{"type":"x-scan","payload":"moc.elpmaxe@ecila"}]})j",
      // Markdown images with a data: or http(s): target, in any string (TGI's /generate reads them).
      R"j({"inputs":"What is in ![](data:image/png;base64,iVBORw0KGgo=) ?","parameters":{"max_new_tokens":9}})j",
      R"j({"inputs":"Describe ![a scan](https://x.example/id.png)"})j",
      R"j({"messages":[{"role":"user","content":"see ![]( <HTTP://x.example/a.png> )"}]})j",
      R"j({"messages":[{"role":"user","content":[{"type":"text","text":"![x](data:image/jpeg;base64,/9j/4AAQ)"}]}]})j",
      // A chat template passed as a template keyword argument is the client's own template too.
      R"j({"model":"m","messages":[{"role":"user","content":"moc.elpmaxe@ecila"}],)j"
      R"j("chat_template_kwargs":{"enable_thinking":false,"chat_template":"{{ messages[0].content | reverse }}"}})j",
      // llama.cpp's multimodal prompt, in a prompt array and at the top level.
      R"j({"model":"m","prompt":[{"prompt_string":"Describe <__media__>","multimodal_data":["iVBORw0KGgo="]}]})j",
      R"j({"model":"m","messages":[{"role":"user","content":"hi"}],"multimodal_data":["iVBORw0KGgo="]})j",
  };
  for (const std::string& body : opaque_bodies) {
    CAPTURE(body);
    const inspection got = inspect(body, opaque | email, true);
    REQUIRE(got.ok());
    CHECK((got.scan.found & opaque) == opaque);
    CHECK((got.scan.hidden & opaque) == opaque);
    CHECK(inspect(body, email).scan.found == 0);  // only when asked for
  }
  const std::string readable_bodies[] = {
      // The schema and settings of tools and of the output may name media: not content.
      R"j({"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"r","schema":)j"
      R"j({"type":"object","properties":{"image_url":{"type":"string"},"document":{"type":"string"}}}}}})j",
      R"j({"model":"m","prompt":"hi","guided_json":{"properties":{"image":{"type":"string"}}},)j"
      R"j("structured_outputs":{"json":{"properties":{"video_url":{}}}}})j",
      R"j({"inputs":"hi","parameters":{"grammar":{"type":"json","value":{"properties":{"image":{}}}}}})j",
      R"j({"model":"m","messages":[],"metadata":{"document_id":"d-1"},"tool_choice":{"type":"function",)j"
      R"j("function":{"name":"get_image"}},"mcp_servers":[{"type":"url","url":"https://x.example/sse"}]})j",
      R"j({"model":"m","messages":[],"media_io_kwargs":{"video":{"num_frames":8}},"mm_processor_kwargs":{"image_size":4}})j",
      // Scoring text against text.
      R"j({"model":"m","text_1":"a cat","text_2":["a dog","a cow"]})j",
      R"j({"model":"m","query":"cats","documents":["a cat","a dog"],"top_n":1})j",
      // Links, relative images, an exclamation before a link: nothing a server fetches.
      R"j({"messages":[{"role":"user","content":"see [the docs](https://x.example), ![logo](img/logo.png), wow![1]"}]})j",
      R"j({"model":"m","messages":[],"chat_template_kwargs":{"enable_thinking":false,"chat_template":null}})j",
  };
  for (const std::string& body : readable_bodies) {
    CAPTURE(body);
    const inspection got = inspect(body, opaque, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == 0);
  }
}

namespace {

// A PNG of `size` bytes of noise (its signature, then bytes that are no text), as base64.
std::string png_base64(std::size_t size, bool signature = true) {
  std::string bytes = signature ? std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16) : std::string("\x89");
  std::uint32_t x = 2463534242u;
  while (bytes.size() < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    bytes.push_back(static_cast<char>(x & 0xff));
  }
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    n |= i + 1 < bytes.size() ? static_cast<unsigned char>(bytes[i + 1]) << 8 : 0u;
    n |= i + 2 < bytes.size() ? static_cast<unsigned char>(bytes[i + 2]) : 0u;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[n & 63] : '=';
  }
  return out;
}

std::string numbers(std::size_t n, int first = 97) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += (i == 0 ? "" : ",") + std::to_string(first + static_cast<int>(i % 26));
  }
  return out;
}

}  // namespace

TEST_CASE("binary data and tensors under any key are opaque_content (probe round 30)") {
  const std::uint32_t opaque = bit(detector::opaque_content);
  const std::string png = png_base64(600);
  std::string escaped = png;  // JSON may escape every '/' as "\/"
  for (std::size_t at = 0; (at = escaped.find('/', at)) != std::string::npos; at += 2) {
    escaped.insert(at, "\\");
  }
  const std::string opaque_bodies[] = {
      // Hugging Face's image tasks, TF Serving's and KServe v1's binary convention, SageMaker.
      R"({"inputs":")" + png + R"("})",
      R"({"instances":[{"b64":")" + png + R"("}]})",
      R"({"model":"m","instances":[{"photo":")" + escaped + R"("}]})",
      R"({"model":"m","messages":[{"role":"user","content":"data:image/png;base64,)" + png + R"("}]})",
      // Triton: a BYTES tensor holding a data: URI, wrapped as MIME writes base64.
      R"({"inputs":[{"name":"img","datatype":"BYTES","shape":[1],"data":["data:image/png;base64,)" + png +
          R"("]}]})",
      R"({"payload":{"scan":")" + png.substr(0, 76) + "\\n" + png.substr(76, 76) + "\\n" + png.substr(152) +
          R"("}})",
      // Tensors: token ids (TensorRT-LLM), a string's bytes ("alice.smith@example.com"), nested rows.
      R"({"inputs":[{"name":"input_ids","datatype":"INT32","shape":[1,12],"data":[)" + numbers(12, 1000) +
          R"(]},{"name":"input_lengths","datatype":"INT32","shape":[1,1],"data":[12]}]})",
      R"({"inputs":[{"name":"text","datatype":"UINT8","shape":[23],)"
      R"("data":[97,108,105,99,101,46,115,109,105,116,104,64,101,120,97,109,112,108,101,46,99,111,109]}]})",
      R"({"inputs":{"input_ids":[[)" + numbers(5) + "],[" + numbers(5) + R"(]]}})",
      // However few, token ids below the top level (KServe v1's instances, TF Serving's columns)
      // and a KServe v2 tensor of token ids or integers, its fields in any order (probe round 35).
      R"({"instances":[{"input_ids":[9906,1917,11,264,1,2,3]},{"input_ids":[4,5,6,7,8,9,10]}]})",
      R"({"inputs":{"input_ids":[[1,2,3],[4,5,6]]}})",
      R"({"inputs":[{"name":"input_ids","datatype":"INT32","shape":[1,4],"data":[9906,1917,11,264]}]})",
      R"({"inputs":[{"data":[[9906,1917],[11,264]],"shape":[2,2],"datatype":"INT64","name":"x"}]})",
      R"({"inputs":[{"data":[9906,1917],"name":"Input_IDs"}]})",
      // ... in any naming style (probe round 36: protobuf JSON's inputIds, Whisper's prompt_ids).
      R"({"instances":[{"inputIds":[9906,1917,11]}]})",
      R"({"model":"m","inputs":{"decoderInputIds":[1,2,3],"input-ids":[4]}})",
      R"({"model":"whisper","messages":[{"role":"user","content":"hi","prompt_ids":[50361,2221]}]})",
      // Media with something in it, nested or at the top level; a thinking block's signature (the
      // provider's encrypted reasoning), whatever its length.
      R"({"model":"m","messages":[{"role":"user","content":"hi","images":["aGk="]}]})",
      R"({"model":"m","prompt":"hi","images":["aGk="]})",
      R"({"model":"m","max_tokens":9,"messages":[{"role":"assistant","content":[{"type":"thinking",)"
      R"("thinking":"Let me see.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}]}]})",
      // A file's signature makes a short run binary (a 1-bit PNG of a line of text is under 256
      // bytes; probe round 31), and 256 bytes of noise are (the off-by-one of padding).
      R"({"model":"trocr","inputs":")" + png_base64(120) + R"("})",
      R"({"model":"m","messages":[{"role":"user","content":"OCR this PNG: )" + png_base64(120) + R"("}]})",
      R"({"model":"m","messages":[{"role":"user","content":"decode: )" + png_base64(256, false) + R"("}]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi","token_ids":[)" +
          numbers(9) + R"(]}]}]})",
  };
  for (const std::string& body : opaque_bodies) {
    CAPTURE(body.substr(0, 160));
    const inspection got = inspect(body, opaque | email, true);
    REQUIRE(got.ok());
    CHECK((got.scan.found & opaque) == opaque);
    CHECK((got.scan.hidden & opaque) == opaque);
  }
  const std::string readable_bodies[] = {
      // Long base64 of text is read as the text (scan_base64); a digest in hex is no binary data.
      R"({"model":"m","messages":[{"role":"user","content":"sha256 )" + std::string(64, 'a') + "0123456789" +
          R"( and the digest e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]})",
      // Output constraints, sampling settings, shapes and a few features (fewer than eight numbers in
      // a row: a table of two such rows is a tensor); tools' and outputs' schemas.
      R"({"model":"m","prompt":"hi","stop_token_ids":[)" + numbers(20, 128000) +
          R"(],"allowed_token_ids":[)" + numbers(30) + R"(],"bad_words_ids":[[)" + numbers(10) +
          R"(]],"logit_bias":{"50256":-100}})",
      R"({"model":"m","prompt":"hi","sampling_params":{"stop_token_ids":[)" + numbers(12) + R"(]}})",
      R"({"instances":[[5.1,3.5,1.4,0.2]],"signature_name":"serving_default","shape":[1,4]})",
      R"({"inputs":[{"name":"prompt","datatype":"BYTES","shape":[1,1],"data":["hello there"]}]})",
      R"({"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]})",
      R"({"instances":[{"prompt":"hi","max_tokens":20,"top_k":[1,2]}]})",
      R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":)"
      R"({"type":"object","properties":{"n":{"type":"integer","enum":[)" +
          numbers(12) + R"(]}}}}}]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema",)"
      R"("json_schema":{"name":"r","schema":{"type":"integer","enum":[)" +
          numbers(10) + R"(]}}}})",
      // A tool call's arguments and results written as JSON are text the template renders (probe
      // round 31): Anthropic's tool_use input, an object `arguments`, Gemini's args and response.
      R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[)"
      R"({"type":"tool_use","id":"t1","name":"get_orders","input":{"order_ids":[)" +
          numbers(8, 1001) + R"(]}}]}]})",
      R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":)"
      R"({"name":"f","arguments":{"values":[12.5,13.1,14.2,15.3,16.4,17.5,18.6,19.7,20.1,21.0]}}}]}]})",
      R"({"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"v":[)" + numbers(10) +
          R"(]}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"v":[)" +
          numbers(10) + R"(]}}}]}]})",
      // Empty media fields hold nothing (probe round 31: Ollama clients send them), nor do keys that
      // only begin like a media word.
      R"({"model":"m","messages":[{"role":"user","content":"hi","images":[]}]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi","images":null}]})",
      R"({"model":"m","prompt":"hi","images":[]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi","image":""}],"imagery_style":"none",)"
      R"("documentation_url":"https://x.example/docs"})",
      // A JWT's RS256 signature (256 random bytes) is no binary data a model reads (probe round 31).
      R"({"model":"m","messages":[{"role":"user","content":"Why is this token rejected? )"
      R"(eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.)" +
          [] {
            std::string sig = png_base64(256, false);
            sig.erase(sig.find('='));
            std::replace(sig.begin(), sig.end(), '+', '-');
            std::replace(sig.begin(), sig.end(), '/', '_');
            return sig;
          }() +
          R"("}]})",
      // Lists one per line, of names, paths and ids: no base64 wrapped in lines (probe round 31).
      R"({"model":"m","messages":[{"role":"user","content":"Duplicates?\n)" +
          [] {
            std::string lines;
            for (int i = 0; i < 12; ++i) {
              lines += "4462ebfc-5f91-4ef0-9cfb-ac6e7687a6" + std::to_string(10 + i) + "\\n";
            }
            return lines;
          }() +
          R"("}]})",
      R"({"model":"m","messages":[{"role":"user","content":"Why crash looping?\npayment-service-7d9f8b6c5d-x2k4p\n)"
      R"(checkout-frontend-5c8b7d9f6-abcde\ninventory-worker-6f7d8c9b5-qwert\nnotification-dispatcher-7b9c-zz1\n)"
      R"(payment-service-7d9f8b6c5d-k9m2n\nsearch-indexer-job-28475610-xk2p9\norders-api-deployment-54f7-9xk2\n)"
      R"(recommendation-engine-6c5d-pp2q1\nauth-gateway-internal-7f8d9c-m3n4\nreporting-batch-cron-29384756-a1\n)"
      R"(src/main/java/com/acme/orders/service\nsrc/main/java/com/acme/billing/invoices\n"}]})",
  };
  for (const std::string& body : readable_bodies) {
    CAPTURE(body);
    const inspection got = inspect(body, opaque, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == 0);
  }
}

TEST_CASE("base64 a model reads through is read decoded, and redacted whole") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  };
  const row rows[] = {
      // "alice@example.com", padded; URL-safe and unpadded; "IBAN DE89 3704 0044 0532 0130 00".
      {R"({"messages":[{"role":"user","content":"Decode and mail YWxpY2VAZXhhbXBsZS5jb20= the report"}]})",
       email, R"({"messages":[{"role":"user","content":"Decode and mail [redacted:email] the report"}]})"},
      {R"({"content":"amVhbm5lLmR1cG9udEBleGVtcGxlLmZyLCArMzMgNiAxMiAzNCA1NiA3OA"})", email | phone,
       R"({"content":"[redacted:email]"})"},
      // The IBAN's digits hold a phone-like number, as they do in plain text: the IBAN only.
      {R"({"content":"pay to SUJBTiBERTg5IDM3MDQgMDA0NCAwNTMyIDAxMzAgMDA="})", iban,
       R"({"content":"pay to [redacted:iban]"})"},
      // Wrapped in lines, as MIME and PEM write it: it reads on after the line break.
      {R"({"content":"UGxlYXNlIG1haWwgdGhlIHJlc3VsdHMg\ndG8gYWxpY2VAZXhhbXBsZS5jb20gdG9kYXksIHRoYW5rcw== ok"})",
       email, R"({"content":"[redacted:email] ok"})"},
      // Split over the strings of a prompt array, or over a message's text parts (apart in the
      // body, one text to the model): redacted in each string.
      {R"({"prompt":["YWxpY2VAZXhh","bXBsZS5jb20="]})", email,
       R"({"prompt":["[redacted:email]","[redacted:email]"]})"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"YWxpY2VAZXhh"},)"
       R"({"type":"text","text":"bXBsZS5jb20="}]}]})",
       email,
       R"({"messages":[{"role":"user","content":[{"type":"text","text":"[redacted:email]"},)"
       R"({"type":"text","text":"[redacted:email]"}]}]})"},
      // Hex that spells text.
      {R"({"content":"decode 616c696365406578616d706c652e636f6d please"})", email,
       R"({"content":"decode [redacted:email] please"})"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | phone | iban).scan.found == r.found);
    const inspection got = inspect(r.body, email | phone | iban, true);
    CHECK(got.scan.found == r.found);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | phone | iban) >= 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | phone | iban).scan.found == 0);
  }
  // What is not base64 text: identifiers, long words, numbers, an image's bytes, and base64 text
  // without personal data.
  for (
      const std::string& body :
      {std::string(R"({"content":"internationalization getUserByIdFromDatabase 41111111111111111111"})"),
       std::string(
           R"({"content":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"})"),
       std::string(R"({"content":"SGVsbG8gd29ybGQh"})"),
       // Digests, ids and hex that is not text; base64 followed by prose.
       std::string(R"({"content":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 )"
                   R"(ea99e45d-c31d-4dda-a4ac-1a3ff935a1f7 0123456789abcdef0123"})"),
       std::string(R"({"content":"SGVsbG8gd29ybGQh and then some words"})")}) {
    CAPTURE(body);
    CHECK(inspect(body, email | phone | iban | card).scan.found == 0);
  }
  // At every offset across the 64-byte blocks the runs are looked for in, after short words.
  for (std::size_t pad = 0; pad < 140; ++pad) {
    CAPTURE(pad);
    std::string text;
    for (std::size_t k = 0; k < pad; ++k) {
      text += k % 6 == 5 ? ' ' : 'w';
    }
    text += " SGVsbG8gd29ybGQh x SGVsbG8gd29ybGQh";
    std::vector<base64_text> found;
    REQUIRE(find_base64_texts(text, found) == 2);
    CHECK(found[0].begin == pad + 1);
    CHECK(found[1].end == text.size());
  }
  std::vector<base64_text> texts;
  CHECK(find_base64_texts("say SGVsbG8gd29ybGQh, not ThisIsAnIdentifierName or SGVsbG8gd29ybGQh_x+", texts) ==
        1);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0].text == "Hello world!");
  CHECK(texts[0].begin == 4);
  CHECK(texts[0].end == 20);
}

TEST_CASE("text written a character at a time is read as the words it spells, and only then") {
  for (const char* text : {"digits 0 1 2 3 4 5 6 7 8 9 in order", "a b c d e f g h i j k l m n o p",
                           "x = 1 + 2 * 3 - 4 / 5 ^ 6", "I am a b c student", "y e s , it is"}) {
    CAPTURE(std::string(text));
    CHECK(inspect(std::string(R"({"content":")") + text + R"("})", email | phone | bit(detector::iban))
              .scan.found == 0);
  }
  CHECK(inspect(R"({"content":"card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 exp"})", bit(detector::payment_card))
            .scan.found == bit(detector::payment_card));
}

TEST_CASE("spaced hex, \\x escapes, base64 of UTF-16 and base64 twice are read decoded") {
  const std::uint32_t iban = bit(detector::iban);
  struct row {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  };
  const row rows[] = {
      // Hex bytes written apart, as hex dumps and tools print them.
      {R"j({"content":"decode 61 6c 69 63 65 40 65 78 61 6d 70 6c 65 2e 63 6f 6d please"})j", email,
       R"j({"content":"decode [redacted:email] please"})j"},
      {R"j({"content":"decode 61:6C:69:63:65:40:65:78:61:6D:70:6C:65:2E:63:6F:6D."})j", email,
       R"j({"content":"decode [redacted:email]."})j"},
      // \xHH escapes in the text (JSON-escaped here: the string holds a backslash).
      {R"j({"content":"print(\"\\x61\\x6c\\x69\\x63\\x65\\x40\\x65\\x78\\x61\\x6d\\x70\\x6c\\x65\\x2e\\x63\\x6f\\x6d\")"})j",
       email, R"j({"content":"print(\"[redacted:email]\")"})j"},
      // Base64 of UTF-16 (little-endian as PowerShell's -EncodedCommand, with a byte order mark,
      // big-endian).
      {R"j({"content":"run YQBsAGkAYwBlAEAAZQB4AGEAbQBwAGwAZQAuAGMAbwBtAA== now"})j", email,
       R"j({"content":"run [redacted:email] now"})j"},
      {R"j({"content":"run //5hAGwAaQBjAGUAQABlAHgAYQBtAHAAbABlAC4AYwBvAG0A now"})j", email,
       R"j({"content":"run [redacted:email] now"})j"},
      {R"j({"content":"run AG0AYQBpAGwAIABhAGwAaQBjAGUAQABlAHgAYQBtAHAAbABlAC4AYwBvAG0= now"})j", email,
       R"j({"content":"run [redacted:email] now"})j"},
      {R"j({"content":"SQBCAEEATgAgAEQARQA4ADkAIAAzADcAMAA0ACAAMAAwADQANAAgADAANQAzADIAIAAwADEAMwAwACAAMAAwAA=="})j",
       iban, R"j({"content":"[redacted:iban]"})j"},
      // Base64 of base64.
      {R"j({"content":"decode twice: WVd4cFkyVkFaWGhoYlhCc1pTNWpiMjA9"})j", email,
       R"j({"content":"decode twice: [redacted:email]"})j"},
      // Other escapes languages write a character with: octal, \u{...}, JavaScript's %uHHHH.
      {R"j({"content":"write to alice\\100example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice\\u{40}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      // Probe round 34: \UHHHHHHHH (Python, C, Go), \x{...}, \U{...}, \o{...}, \N{NAME}, Java's
      // \0NNN and \uuHHHH, \u{...} with leading zeros, Unicode's U+HHHH.
      {R"j({"content":"write to alice.smith\\U00000040example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"IBAN \\U00000044E89 3704 0044 0532 0130 00"})j", iban | phone,
       R"j({"content":"IBAN [redacted:iban]"})j"},
      {R"j({"content":"write to alice.smith\\x{40}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\U{40}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\o{100}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\N{COMMERCIAL AT}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\N{commercial at}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\N{U+0040}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\0100example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\uu0040example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smith\\u{0000040}example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice.smithU+0040example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      {R"j({"content":"write to alice%u0040example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      // Quoted-printable's '@', as mail pasted raw writes it.
      {R"j({"content":"write to alice=40example.com today"})j", email,
       R"j({"content":"write to [redacted:email] today"})j"},
      // Quoted-printable is read on its own: an "=40" elsewhere does not turn the "=BE" of a
      // percent-encoded value into a byte (probe round 25).
      {R"j({"content":"width=400; https://bank.example/pay?iban=BE68%205390%200754%207034"})j", iban,
       R"j({"content":"width=400; https://bank.example/pay?iban=[redacted:iban]"})j"},
      // Quoted-printable an HTML mail writes every link in ("=3D" before a value), wrapped by soft
      // line breaks, or written in another escape (probe round 26).
      {R"j({"content":"<a href=3D\"https://bank.example/pay?iban=3DGB82WEST12345698765432\">"})j", iban,
       R"j({"content":"<a href=3D\"https://bank.example/pay?iban=3D[redacted:iban]\">"})j"},
      {R"j({"content":"mail alice.smith=40gm=\nail.com today"})j", email,
       R"j({"content":"mail [redacted:email] today"})j"},
      {R"j({"content":"mail alice.smith%3D40example.com today"})j", email,
       R"j({"content":"mail [redacted:email] today"})j"},
      // Written a character at a time, one to three spaces apart.
      {R"j({"content":"mail a l i c e @ e x a m p l e . c o m today"})j", email,
       R"j({"content":"mail [redacted:email] today"})j"},
      {R"j({"content":"I B A N  D E 8 9  3 7 0 4  0 0 4 4  0 5 3 2  0 1 3 0  0 0"})j", iban,
       R"j({"content":"[redacted:iban]"})j"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, email | phone | iban).scan.found == r.found);
    const inspection got = inspect(r.body, email | phone | iban, true);
    CHECK(got.scan.found == r.found);
    CHECK(got.scan.hidden == 0);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, email | phone | iban) >= 1);
    CHECK(body == r.redacted);
    CHECK(inspect(body, email | phone | iban).scan.found == 0);
  }
  // Numbers in pairs, MAC addresses, UUIDs and times: not text, or nothing in it.
  for (
      const std::string body :
      {R"j({"content":"scores 12 34 56 78 90 12 34 56 78, mac 00:1a:2b:3c:4d:5e, 10-20-30-40-50-60-70-80"})j",
       R"j({"content":"21 33 45 56 67 72 48 59 and ea99e45d-c31d-4dda-a4ac-1a3ff935a1f7 at 12:30:45:00"})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, email | phone | iban | card).scan.found == 0);
  }
  std::vector<base64_text> texts;
  CHECK(find_base64_texts("a 61 6c 69 63 65 40 65 78 b", texts) == 1);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0].text == "alice@ex");
  CHECK(texts[0].begin == 2);
  CHECK(texts[0].end == 25);
}

namespace {

// `encoded` in groups of `size` characters, `sep` between them.
std::string grouped(std::string_view encoded, std::size_t size, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += size) {
    out += (i == 0 ? "" : std::string(sep)) + std::string(encoded.substr(i, size));
  }
  return out;
}

// `text` as a JSON string's contents.
std::string json_escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '"' ? "\\\"" : std::string(1, c);
  }
  return out;
}

// A chat body with one user message of `text`.
std::string user_message(std::string_view text) {
  return R"({"messages":[{"role":"user","content":")" + json_escaped(text) + R"("}]})";
}

}  // namespace

TEST_CASE("base64 and hex written in groups are read across the groups (probe round 29)") {
  const std::uint32_t iban = bit(detector::iban);
  const struct {
    std::string_view encoded;
    std::string_view text;
    std::uint32_t which;
  } rows[] = {
      {"YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=", "alice.smith@example.com", email},
      {"SUJBTiBERTg5MzcwNDAwNDQwNTMyMDEzMDAw", "IBAN DE89370400440532013000", iban},
      // Hex as xxd prints it (groups of four digits; of eight with -g4), or wrapped anywhere.
      {"616c6963652e736d697468406578616d706c652e636f6d", "alice.smith@example.com", email},
      {"4942414e2044453839333730343030343430353332303133303030", "IBAN DE89370400440532013000", iban},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    // Groups of four and eight (whole groups of base64), and of eleven (wrapped anywhere).
    for (const std::size_t size : {4, 8, 11}) {
      CAPTURE(size);
      for (const std::string_view sep : {" ", "\n", "\r\n", "\t", " \t"}) {
        CAPTURE(sep);
        for (const std::string_view before : {"Decode: ", "please decode ", ""}) {
          CAPTURE(before);
          const std::string groups = grouped(r.encoded, size, sep);
          const std::string text = std::string(before) + groups + " please, thanks";
          std::vector<base64_text> runs;
          CHECK(find_base64_texts(text, runs) >= 1);
          const auto run = std::find_if(runs.begin(), runs.end(), [&](const base64_text& t) {
            return t.begin == before.size() && t.end == before.size() + groups.size();
          });
          CHECK((run != runs.end() && run->text == r.text));
          CHECK(detect_encoded(text, r.which) == r.which);
          // In a JSON body: found, and redacted whole.
          const std::string body = user_message(text);
          const inspection got = inspect(body, r.which, true);
          CHECK(got.scan.found == r.which);
          std::string redacted = body;
          CHECK(redact(redacted, got.scan.findings, r.which) >= 1);
          CHECK(redacted == R"({"messages":[{"role":"user","content":")" + json_escaped(before) +
                                R"([redacted:)" + (r.which == email ? "email" : "iban") +
                                R"(] please, thanks"}]})");
        }
      }
    }
  }
  // Over a prompt array's strings, or a message's text parts (one text to the model).
  const struct {
    std::string body;
    std::uint32_t which;
    std::string redacted;
  } bodies[] = {
      {R"({"prompt":["YWxpY2Uu","c21pdGhA","ZXhhbXBs","ZS5jb20="]})", email,
       R"({"prompt":["[redacted:email]","[redacted:email]","[redacted:email]","[redacted:email]"]})"},
      // Broken anywhere, not at whole groups of four.
      {R"({"prompt":["YWxpY2Uuc21","pdGhAZXhhbX","BsZS5jb20="]})", email,
       R"({"prompt":["[redacted:email]","[redacted:email]","[redacted:email]"]})"},
      {R"({"prompt":["SUJBTiBE","RTg5Mzcw","NDAwNDQw","NTMyMDEz","MDAw"]})", iban,
       R"({"prompt":["[redacted:iban]","[redacted:iban]","[redacted:iban]","[redacted:iban]","[redacted:iban]"]})"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"YWxp Y2Uu"},)"
       R"({"type":"text","text":"c21p dGhA"},{"type":"text","text":"ZXhh bXBs ZS5j b20="}]}]})",
       email,
       R"({"messages":[{"role":"user","content":[{"type":"text","text":"[redacted:email]"},)"
       R"({"type":"text","text":"[redacted:email]"},{"type":"text","text":"[redacted:email]"}]}]})"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"616c 6963 652e 736d"},)"
       R"({"type":"text","text":"6974 6840 6578 616d 706c 652e 636f 6d"}]}]})",
       email,
       R"({"messages":[{"role":"user","content":[{"type":"text","text":"[redacted:email]"},)"
       R"({"type":"text","text":"[redacted:email]"}]}]})"},
  };
  for (const auto& b : bodies) {
    CAPTURE(b.body);
    CHECK(inspect(b.body, b.which).scan.found == b.which);
    const inspection got = inspect(b.body, b.which, true);
    CHECK(got.scan.found == b.which);
    std::string redacted = b.body;
    CHECK(redact(redacted, got.scan.findings, b.which) >= 1);
    CHECK(redacted == b.redacted);
    CHECK(inspect(redacted, b.which).scan.found == 0);
  }
}

TEST_CASE(
    "base64 and hex in groups of every size are read, whatever is between the groups (probe round 29)") {
  const std::uint32_t iban = bit(detector::iban);
  const struct {
    std::string_view encoded;
    std::string_view text;
    std::uint32_t which;
  } rows[] = {
      {"YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=", "alice.smith@example.com", email},
      {"amVhbm5lLmR1cG9udEBleGVtcGxlLmZy", "jeanne.dupont@exemple.fr", email},
      {"SUJBTiBERTg5MzcwNDAwNDQwNTMyMDEzMDAw", "IBAN DE89370400440532013000", iban},
      {"616c6963652e736d697468406578616d706c652e636f6d", "alice.smith@example.com", email},
      {"4942414E2044453839333730343030343430353332303133303030", "IBAN DE89370400440532013000", iban},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    for (std::size_t size = 2; size <= r.encoded.size(); size += size < 20 ? 1 : 56) {
      CAPTURE(size);
      for (const std::string_view sep : {" ", "  ", "\n", "\r\n", "\t", "\n\n"}) {
        CAPTURE(sep);
        const std::string groups = grouped(r.encoded, size, sep);
        const std::string text = "mail " + groups + ", thanks";
        std::vector<base64_text> runs;
        (void)find_base64_texts(text, runs);
        CHECK(std::count_if(runs.begin(), runs.end(), [&](const base64_text& t) {
                return t.begin == 5 && t.end == 5 + groups.size() && t.text == r.text;
              }) == 1);
        CHECK(detect_encoded(text, r.which) == r.which);
      }
    }
    // A character at a time: read as the word it spells (spaced letters), then decoded.
    for (const std::string_view sep : {" ", "\t", "  "}) {
      CAPTURE(sep);
      CHECK(detect_encoded("mail " + grouped(r.encoded, 1, sep) + " thanks", r.which) == r.which);
    }
  }
  // Encoded twice: base64 in groups of base64 in groups.
  const std::string inner = grouped("YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=", 4, " ");  // "YWxp Y2Uu ..."
  CHECK(inner == "YWxp Y2Uu c21p dGhA ZXhh bXBs ZS5j b20=");
  CHECK(detect_encoded("decode " + grouped("WVd4cCBZMlV1IGMyMXAgZEdoQSBaWGhoIGJYQnMgWlM1aiBiMjA9", 8, "\n"),
                       email) == email);
}

TEST_CASE("prose, code, ids, versions and numbers are not read as base64 in groups (probe round 29)") {
  const std::uint32_t all = implemented_detectors();
  for (const std::string_view text : {
           "The quick brown fox jumps over the lazy dog. Please review the attached report and send me "
           "your comments by Friday, we will discuss them at the weekly meeting.",
           "Could you explain how a binary search tree keeps its nodes balanced after many inserts and "
           "deletes, and why that matters for lookups",
           "Die Sitzung beginnt um neun Uhr. Bitte bringen Sie die Unterlagen mit und melden Sie sich "
           "vorher am Empfang an, damit wir rechtzeitig anfangen koennen.",
           "Bonjour, je voudrais comprendre les frais de tenue de compte pour 2025 et les options "
           "d'epargne disponibles pour une PME de 12 salaries a Lyon.",
           "for (int i = 0; i < n; ++i) {\n  total += values[i] * weight;\n}\nreturn total / count;",
           "def main():\n    data = load_data(path)\n    return process(data, verbose=True)\n",
           "SELECT id, name FROM users WHERE created_at > now() - interval '7 days' ORDER BY id",
           "ids ea99e45d-c31d-4dda-a4ac-1a3ff935a1f7 550e8400-e29b-41d4-a716-446655440000 done",
           "versions 1.2.3 2.0.0-rc1 v3.14.159 10.0.19045 and 4.18.0-553.el8 on x86_64",
           "years 2024 2025 2026 2027 2028 2029 2030 2031 2032",
           "SKU AB12 CD34 EF56 GH78 IJ90 KL12 MN34 and part numbers 4711 0815 1234 5678 9012",
           "sha1 da39a3ee 5e6b4b0d 3255bfef 95601890 afd80709 and deadbeef cafebabe 0badf00d",
           "aaaa bbbb cccc dddd eeee ffff gggg hhhh",
           "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
           "labore et dolore magna aliqua",
           "TODO FIXME XXX HACK NOTE WARN INFO DEBUG TRACE ERROR FATAL",
       }) {
    CAPTURE(text);
    std::vector<base64_text> runs;
    CHECK(find_base64_texts(text, runs) == 0);
    CHECK(detect_encoded(text, all) == 0);
    CHECK(inspect(user_message(text), all).scan.found == 0);
  }
}

namespace {

// `body` read by the detectors in `wanted`: found as `found` (with and without locating), and
// redact() replaces it by `redactions` replacements (0: one or more), into `redacted` unless that
// is empty, leaving nothing for them to find.
void check_redacted(const std::string& body, std::uint32_t wanted, std::uint32_t found,
                    std::string_view redacted = {}, std::size_t redactions = 0) {
  CAPTURE(body);
  CHECK(inspect(body, wanted).scan.found == found);
  const inspection got = inspect(body, wanted, true);
  CHECK(got.scan.found == found);
  std::string out = body;
  const auto n = redact(out, got.scan.findings, wanted);
  if (redactions == 0) {
    CHECK(n >= 1);
  } else {
    CHECK(n == redactions);
  }
  if (!redacted.empty()) {
    CHECK(out == redacted);
  }
  CHECK(inspect(out, wanted).scan.found == 0);
}

}  // namespace

TEST_CASE("a line break next to a '-', '.' or '/' inside an identifier is read joined (probe round 32)") {
  const std::uint32_t national_id = bit(detector::national_id);
  const std::uint32_t wanted = email | card | phone | national_id;
  const struct {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  } rows[] = {
      // Python's textwrap.fill breaks a hyphenated domain after its hyphen.
      {R"j({"content":"Please forward the signed contract to our lawyer at jean.dupont@cabinet-\navocats-lyon.fr before Friday"})j",
       email,
       R"j({"content":"Please forward the signed contract to our lawyer at [redacted:email] before Friday"})j"},
      {R"j({"content":"mail alice.smith@example\n.com today"})j", email,
       R"j({"content":"mail [redacted:email] today"})j"},
      {R"j({"content":"mail alice.smith@example.\r\ncom today"})j", email,
       R"j({"content":"mail [redacted:email] today"})j"},
      {"{\"content\":\"mail alice.smith@example.\u2028com today\"}", email,
       R"j({"content":"mail [redacted:email] today"})j"},
      // A card's, a phone's, a national id's groups with the break next to their separator.
      {R"j({"content":"Charge card 4111-1111-\n1111-1111 please"})j", card,
       R"j({"content":"Charge card [redacted:payment_card] please"})j"},
      {R"j({"content":"Charge card 4111-1111\n-1111-1111 please"})j", card,
       R"j({"content":"Charge card [redacted:payment_card] please"})j"},
      {R"j({"content":"Charge card 4111.1111.\n    1111.1111 please"})j", card,
       R"j({"content":"Charge card [redacted:payment_card] please"})j"},
      {R"j({"content":"call +49-30-\n1234-5678 today"})j", phone,
       R"j({"content":"call [redacted:phone] today"})j"},
      {R"j({"content":"NIR 1-85-05-78-006-\n084-91 merci"})j", national_id,
       R"j({"content":"NIR [redacted:national_id] merci"})j"},
  };
  for (const auto& r : rows) {
    check_redacted(r.body, wanted, r.found, r.redacted, 1);
  }
  // Lists and prose whose lines start or end with a mark: nothing.
  for (const std::string body : {
           R"j({"content":"Items:\n- 4111 apples\n- 1111 pears\n- 1111 plums\n- 1111 figs"})j",
           R"j({"content":"Steps: 1.\n2. run make\n3. see docs/\nreadme.md and www.example.\ncom"})j",
       }) {
    CAPTURE(body);
    CHECK(inspect(body, wanted).scan.found == 0);
  }
}

TEST_CASE(
    "output constraints written as a regex or a grammar are read as the text they force (probe round 32)") {
  const std::uint32_t iban = bit(detector::iban);
  const std::uint32_t wanted = email | card | iban;
  const struct {
    std::string body;
    std::uint32_t found;
  } rows[] = {
      {R"j({"model":"m","messages":[],"guided_regex":"4111-?1111-?1111-?1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111[ ]1111[ ]1111[ ]1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111\\s1111\\s1111\\s1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"(4111) (1111) (1111) (1111)"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111(?: )1111(?: )1111(?: )1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111 1111 1111 111[1]"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111 (0000|1111) 1111 1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111 (1111|0000) 1111 1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"DE89\\s?3704\\s?0044\\s?0532\\s?0130\\s?00"})j", iban},
      {R"j({"model":"m","messages":[],"guided_regex":"(alice\\.smith)@(example\\.com)"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\x40example\\.(?:com)"})j", email},
      // Probe round 34: the escapes Python's re, Rust's regex, PCRE and Java read, comments and
      // look-arounds (which match no text of their own).
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\U00000040example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith[\\U00000040]example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"\\U00000034111 1111 1111 1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\U{40}example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\N{COMMERCIAL AT}example\\.com"})j",
       email},
      {R"j({"model":"m","messages":[],"guided_regex":"\\N{DIGIT FOUR}111 1111 1111 1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\100example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\0100example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\o{100}example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith\\u{0000040}example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith(?=@)@example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"a(?:l)ice\\.smith(?=[@])@example\\.com"})j", email},
      {R"j({"model":"m","messages":[],"guided_regex":"4111 1111 (?=1)1111 1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"4111(?=\\s) 1111 1111 1111"})j", card},
      {R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith@example\\.c(?#x)om"})j", email},
      {R"j({"model":"m","messages":[],"guided_grammar":"root ::= \"alice.smith\\U00000040example.com\""})j",
       email},
      {R"j({"model":"m","messages":[],"guided_grammar":"start: /alice\\.smith\\U00000040example\\.com/"})j",
       email},
      {R"j({"model":"m","messages":[],"structured_outputs":{"regex":"4111 ?1111 ?1111 ?1111"}})j", card},
      {R"j({"model":"m","messages":[],"structured_outputs":{"grammar":"root ::= \"4111 \" \"1111 \" \"1111 \" \"1111\""}})j",
       card},
      {R"j({"model":"m","messages":[],"guided_grammar":"root ::= \"alice.smith\" \"@\" \"example.com\""})j",
       email},
      // A rule named by another is read inlined; Lark's rules and regex terminals.
      {R"j({"model":"m","messages":[],"guided_grammar":"root ::= user \"@\" host\nuser ::= \"alice.smith\"\nhost ::= \"example\" \".com\""})j",
       email},
      {R"j({"model":"m","input":"Call pay.","tools":[{"type":"custom","name":"pay","format":{"type":"grammar","syntax":"lark","definition":"start: \"DE89\" \" \" \"3704\" \" \" \"0044\" \" \" \"0532\" \" \" \"0130\" \" \" \"00\""}}]})j",
       iban},
      {R"j({"model":"m","input":"x","tools":[{"type":"custom","name":"pay","format":{"type":"grammar","syntax":"regex","definition":"4111[- ]1111[- ]1111[- ]1111"}}]})j",
       card},
      {R"j({"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"card":{"type":"string","pattern":"^4111-?1111-?1111-?1111$"}}}}}})j",
       card},
      // TGI's grammar object, llama.cpp's grammar.
      {R"j({"inputs":"x","parameters":{"grammar":{"type":"regex","value":"4111-?1111-?1111-?1111"}}})j",
       card},
      {R"j({"prompt":"x","grammar":"root ::= \"4111\" \" \" \"1111\" \" \" \"1111\" \" \" \"1111\""})j",
       card},
  };
  for (const auto& r : rows) {
    check_redacted(r.body, wanted, r.found);
  }
  // Patterns that match no identifier: nothing.
  for (const std::string body : {
           R"j({"model":"m","messages":[],"guided_regex":"\\d{4}-\\d{4}-\\d{4}-\\d{4}"})j",
           R"j({"model":"m","messages":[],"guided_regex":"[A-Z]{2}[0-9]{2}( ?[0-9A-Z]{4}){4}"})j",
           R"j({"model":"m","messages":[],"guided_regex":"^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$"})j",
           R"j({"model":"m","messages":[],"guided_grammar":"root ::= answer\nanswer ::= \"yes\" | \"no\""})j",
       }) {
    CAPTURE(body);
    CHECK(inspect(body, wanted).scan.found == 0);
  }
}

TEST_CASE("what a constraint forces runs on from the prompt's end and a structural tag's literals (probe round 36)") {
  const std::uint32_t wanted = email | card;
  const struct {
    std::string body;
    std::uint32_t found;
  } rows[] = {
      // The model writes the address whole: the prompt, then what the constraint forces.
      {R"j({"model":"m","prompt":"Send it to alice.smith","guided_regex":"@example\\.com"})j", email},
      {R"j({"model":"m","guided_regex":"@example\\.com today","prompt":"Send it to alice.smith"})j", email},
      {R"j({"model":"m","messages":[{"role":"user","content":"pay with card 4111 1111"}],)j"
       R"j("structured_outputs":{"regex":" 1111 1111"}})j",
       card},
      {R"j({"inputs":"Send it to alice.smith","parameters":{"grammar":{"type":"regex","value":"@example\\.com"}}})j",
       email},
      // A structural tag's literal and a pattern element, in either order.
      {R"j({"messages":[{"role":"user","content":"Hello!"}],"response_format":{"type":"structural_tag","format":)j"
       R"j({"type":"sequence","elements":[{"type":"const_string","value":"alice.smith"},)j"
       R"j({"type":"regex","pattern":"@example\\.com"}]}}})j",
       email},
      {R"j({"messages":[{"role":"user","content":"Hello!"}],"response_format":{"type":"structural_tag","format":)j"
       R"j({"type":"sequence","elements":[{"type":"regex","pattern":"alice\\.smith"},)j"
       R"j({"type":"const_string","value":"@example.com"}]}}})j",
       email},
  };
  for (const auto& r : rows) {
    CAPTURE(r.body);
    const inspection got = inspect(r.body, wanted, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == r.found);
    CHECK(got.scan.hidden == r.found);  // across two strings: no one string to redact
  }
  // A prompt and a constraint that only meet: nothing.
  CHECK(inspect(R"j({"model":"m","prompt":"Answer yes or no.","guided_regex":"(yes|no)"})j", wanted).scan.found ==
        0);
}

TEST_CASE("letters written for digits inside a number are read as the digits (probe round 32)") {
  const std::uint32_t iban = bit(detector::iban);
  const std::uint32_t wanted = card | iban | phone;
  const struct {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  } rows[] = {
      {R"j({"content":"IBAN DE89 37O4 OO44 O532 O13O OO thanks"})j", iban,
       R"j({"content":"IBAN [redacted:iban] thanks"})j"},
      {R"j({"content":"IBAN DE89 37o4 oo44 o532 o13o oo"})j", iban,
       R"j({"content":"IBAN [redacted:iban]"})j"},
      {R"j({"content":"card 4lll llll llll llll ok"})j", card,
       R"j({"content":"card [redacted:payment_card] ok"})j"},
      {R"j({"content":"card 4III IIII IIII IIII ok"})j", card,
       R"j({"content":"card [redacted:payment_card] ok"})j"},
      {R"j({"content":"card 4111 l111 1111 1111 ok"})j", card,
       R"j({"content":"card [redacted:payment_card] ok"})j"},
  };
  for (const auto& r : rows) {
    check_redacted(r.body, wanted, r.found, r.redacted, 1);
  }
  // Words with such letters that are no numbers, and numbers that fail their checks: nothing.
  const std::uint32_t all = implemented_detectors();
  for (const std::string_view text : {
           "I lOOk at 10 lOlz in 2O24 and 4lll llll llll lll2",
           "Room IO1, build 1O.2, version l.0.1, call me at lO",
           "Account DE89 37O4 OO44 O532 O13O O1 and card 4lll llll llll lll2",
       }) {
    CAPTURE(text);
    CHECK((inspect(user_message(text), all).scan.found & (card | iban)) == 0);
  }
}

TEST_CASE("wraps at dashes outside ASCII or under a quote mark, repeats in patterns (probe round 33)") {
  const std::uint32_t iban = bit(detector::iban);
  const std::uint32_t wanted = email | card | phone | iban;
  for (
      const std::string& body : {
          // Wraps at a dash outside ASCII, at '_', under a mail reply's or a comment's mark.
          std::string(R"j({"content":"card 4111\u20101111\u2010\n1111\u20101111"})j"),
          std::string(R"j({"content":"mail jean.dupont@cabinet\u2010\navocats\u2010lyon.fr"})j"),
          std::string(R"j({"content":"mail alice.smith@example\uff0e\ncom"})j"),
          std::string(R"j({"content":"card 4111-1111-\n> 1111-1111"})j"),
          std::string(R"j({"content":"mail jean.dupont@cabinet-\n> avocats-lyon.fr"})j"),
          std::string(R"j({"content":"card 4111-1111-\n// 1111-1111"})j"),
          std::string(R"j({"content":"card 4111-1111-\n * 1111-1111"})j"),
          std::string(R"j({"content":"card 4111_1111_\n1111_1111"})j"),
          // Repeats and ranges of one character in a regex or a grammar.
          std::string(R"j({"model":"m","messages":[],"guided_regex":"41{15}"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_regex":"4111(-1111){3}"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_regex":"DE8937040044053201300{2}"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_regex":"[4-4][1-1]{15}"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_regex":"alice\\.smith[@-@]example\\.com"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_grammar":"root ::= \"4\" \"1\"{15}"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_grammar":"start: \"4\" \"1\"~15"})j"),
          std::string(R"j({"model":"m","messages":[],"guided_grammar":"start: \"4\"..\"4\" /1{15}/"})j"),
          // Rules inlined deeper than three.
          std::string(
              R"j({"model":"m","messages":[],"guided_grammar":"root ::= a\na ::= b\nb ::= c\nc ::= d\nd ::= \"alice.smith\" \"@\" e\ne ::= \"example.com\""})j"),
          // Other keys that hold a regex the decoder enforces.
          std::string(
              R"j({"model":"m","messages":[],"response_format":{"type":"regex","value":"4111-?1111-?1111-?1111"}})j"),
          std::string(
              R"j({"model":"m","messages":[],"guided_whitespace_pattern":"4111-?1111-?1111-?1111"})j"),
          std::string(
              R"j({"model":"m","messages":[],"structured_outputs":{"json":{"type":"object"},"whitespace_pattern":"4111-?1111-?1111-?1111"}})j"),
      }) {
    CAPTURE(body);
    CHECK(inspect(body, wanted).scan.found != 0);
    const inspection got = inspect(body, wanted, true);
    std::string redacted = body;
    CHECK(redact(redacted, got.scan.findings, wanted) >= 1);
    CHECK(inspect(redacted, wanted).scan.found == 0);
  }
}

TEST_CASE("text written as a list of one-character items is read joined (probe round 33)") {
  const std::uint32_t iban = bit(detector::iban);
  const std::uint32_t national_id = bit(detector::national_id);
  const std::uint32_t wanted = email | card | iban | national_id;
  const struct {
    std::string body;
    std::uint32_t found;
  } rows[] = {
      {R"j({"content":"decode ''.join(['a','l','i','c','e','.','s','m','i','t','h','@','e','x','a','m','p','l','e','.','c','o','m'])"})j",
       email},
      {R"j({"content":"char s[] = {'a', 'l', 'i', 'c', 'e', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm'};"})j",
       email},
      {R"j({"content":"[\"a\",\"l\",\"i\",\"c\",\"e\",\"@\",\"e\",\"x\",\"a\",\"m\",\"p\",\"l\",\"e\",\".\",\"c\",\"o\",\"m\"]"})j",
       email},
      {R"j({"content":"card = ['4','1','1','1','1','1','1','1','1','1','1','1','1','1','1','1']"})j", card},
      {R"j({"content":"iban = ['D', 'E', '8', '9', '3', '7', '0', '4', '0', '0', '4', '4', '0', '5', '3', '2', '0', '1', '3', '0', '0', '0']"})j",
       iban},
      {R"j({"content":"letters a,l,i,c,e,@,e,x,a,m,p,l,e,.,c,o,m please"})j", email},
      // Prefixed hex and binary literals.
      {R"j({"content":"x = 0x616c696365406578616d706c652e636f6d"})j", email},
      {R"j({"content":"0b01100001 0b01101100 0b01101001 0b01100011 0b01100101 0b01000000 0b01100101 0b01111000 0b01100001 0b01101101 0b01110000 0b01101100 0b01100101 0b00101110 0b01100011 0b01101111 0b01101101"})j",
       email},
  };
  for (const auto& r : rows) {
    check_redacted(r.body, wanted, r.found);
  }
  // Ratings, CSV headers and prose with one-letter words: nothing.
  const std::uint32_t all = implemented_detectors();
  for (const std::string_view text : {
           "ratings 4,5,3,4,2,5,4,3,5,4,4,3,2,5,4,3 from the panel",
           "columns a,b,c,d,e,f,g,h,i,j and x;y;z",
           "I said a, b, c, d, e, f, g, h are fine, and 'x', 'y', 'z' too",
       }) {
    CAPTURE(text);
    CHECK(inspect(user_message(text), all).scan.found == 0);
  }
}

TEST_CASE("measurements, measures in litres and address patterns are no personal data (probe round 33)") {
  const std::uint32_t all = implemented_detectors();
  for (const std::string_view text : {
           // Values between 48 and 57 spell digits as char codes.
           "Boston highs (F): 52, 54, 54, 54, 49, 55, 54, 48, 51, 49, 51, 55, 50, 49, 53, 57",
           "resting heart rate 55 52 57 54 49 50 53 56 51 48 52 55 50 49 53 57 56",
           // 'l' after digits is a litre.
           "Canister sizes: 4l 5l 10l 20l 50l 80l",
           // Patterns of addresses, no address.
           "SELECT * FROM users WHERE email LIKE '%@acme.com'",
           "placeholders +@example.com and -@-.com",
           // A printed array of small integers (numpy), a build's date-stamped id.
           "I ran print(arr) and got:\n[46 85 73 74 60 85 14 71]\nWhy is the mean off?",
           "Our nightly build 20240325A fails the smoke tests; docker pull "
           "registry.example.com/app:20240319C",
       }) {
    CAPTURE(text);
    CHECK(inspect(user_message(text), all).scan.found == 0);
  }
  CHECK(inspect(R"j({"model":"m","messages":[],"guided_regex":"^[a-z0-9._%+-]+@acme\\.com$"})j", all)
            .scan.found == 0);
  CHECK(
      inspect(
          R"j({"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"mail":{"type":"string","pattern":"^[^@]+@example\\.com$"}}}}}})j",
          all)
          .scan.found == 0);
}

TEST_CASE("byte values written as numbers are read as the text they spell (probe round 32)") {
  const std::uint32_t iban = bit(detector::iban);
  const struct {
    std::string body;
    std::uint32_t found;
    std::string redacted;
  } rows[] = {
      // JavaScript's char codes, Python's bytes, a C array, hex pairs in a list, binary octets.
      {R"j({"content":"eval String.fromCharCode(97,108,105,99,101,64,101,120,97,109,112,108,101,46,99,111,109) and mail it"})j",
       email, R"j({"content":"eval String.fromCharCode([redacted:email]) and mail it"})j"},
      {R"j({"content":"bytes([97, 108, 105, 99, 101, 64, 101, 120, 97, 109, 112, 108, 101, 46, 99, 111, 109]).decode()"})j",
       email, R"j({"content":"bytes([[redacted:email]]).decode()"})j"},
      {R"j({"content":"char s[] = {0x61, 0x6c, 0x69, 0x63, 0x65, 0x40, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d};"})j",
       email, R"j({"content":"char s[] = {[redacted:email]};"})j"},
      {R"j({"content":"hex 61,6c,69,63,65,40,65,78,61,6d,70,6c,65,2e,63,6f,6d end"})j", email,
       R"j({"content":"hex [redacted:email] end"})j"},
      {R"j({"content":"01100001 01101100 01101001 01100011 01100101 01000000 01100101 01111000 01100001 01101101 01110000 01101100 01100101 00101110 01100011 01101111 01101101"})j",
       email, R"j({"content":"[redacted:email]"})j"},
      // ASCII codes, one per line or space-separated; an IBAN; a list starting with other bytes.
      {R"j({"content":"codes:\n71\n66\n56\n50\n87\n69\n83\n84\n49\n50\n51\n52\n53\n54\n57\n56\n55\n54\n53\n52\n51\n50"})j",
       iban, R"j({"content":"codes:\n[redacted:iban]"})j"},
      {R"j({"content":"ascii 1 2 3 97 108 105 99 101 64 101 120 97 109 112 108 101 46 99 111 109"})j", email,
       R"j({"content":"ascii 1 2 3 [redacted:email]"})j"},
      // Char codes past Latin-1 in the list (an accented name): code points.
      {R"j({"content":"String.fromCharCode(97,108,105,99,101,8203,64,101,120,97,109,112,108,101,46,99,111,109)"})j",
       email, R"j({"content":"String.fromCharCode([redacted:email])"})j"},
  };
  for (const auto& r : rows) {
    check_redacted(r.body, email | phone | iban, r.found, r.redacted);
  }
  // Split over two messages, as a model reads them one after the other.
  CHECK(inspect(R"j({"messages":[{"role":"user","content":"97,108,105,99,101,64,101,"},{"role":"user","content":"120,97,109,112,108,101,46,99,111,109"}]})j",
                email)
            .scan.found == email);
  // Lists of numbers that are no text, or spell nothing personal.
  const std::uint32_t all = implemented_detectors();
  for (const std::string_view text : {
           "years 2024, 2025, 2026, 2027, 2028, 2029, 2030, 2031, 2032",
           "scores 72, 85, 90, 65, 77, 88, 91, 70, 64, 99, 100, 46",
           "ports 8080, 8081, 8443, 9000, 9090, 3000, 5000, 5432, 6379, 27017",
           "coordinates [-3.70, 40.41, 2.35, 48.85, 13.40, 52.52, 12.49, 41.90]",
           "total 1,234,567,890,123,456,789,012 units",
           "versions 1.2, 1.3, 1.4, 2.0, 2.1, 2.2, 3.0, 3.1, 3.2",
           "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12",
           "weights 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80",
       }) {
    CAPTURE(text);
    CHECK(detect_encoded(text, all) == 0);
    CHECK(inspect(user_message(text), all).scan.found == 0);
  }
}

TEST_CASE("written a character at a time with tabs or Unicode spaces, in folded letters (probe round 25)") {
  const std::uint32_t iban = bit(detector::iban);
  // Tab, no-break space, en space, thin space, narrow no-break space, ideographic space; a zero
  // width space before a space.
  for (const std::string_view sep :
       {"\\t", "\\u00a0", "\\u2002", "\\u2009", "\\u202f", "\\u3000", "\\u200b "}) {
    CAPTURE(sep);
    const struct {
      std::string id;
      std::uint32_t which;
    } rows[] = {
        {"alice.smith@gmail.com", email}, {"DE89370400440532013000", iban}, {"5555555555554444", card}};
    for (const auto& r : rows) {
      CAPTURE(r.id);
      const std::string body = R"({"content":"mine: )" + spaced(r.id, sep) + R"( thanks"})";
      const inspection got = inspect(body, r.which, true);
      CHECK((got.scan.found & r.which) == r.which);
      std::string redacted = body;
      CHECK(redact(redacted, got.scan.findings, r.which) >= 1);
      CHECK(inspect(redacted, r.which).scan.found == 0);
    }
  }
  // Letters that fold (fullwidth, circled), spaced by ASCII or ideographic spaces.
  CHECK(
      inspect(
          R"({"content":"\uff41 \uff4c \uff49 \uff43 \uff45 \uff20 \uff45 \uff58 \uff41 \uff4d \uff50 \uff4c \uff45 . \uff43 \uff4f \uff4d"})",
          email)
          .scan.found == email);
  CHECK(
      inspect(
          R"({"content":"\u24d0\u3000\u24db\u3000\u24d8\u3000\u24d2\u3000\u24d4\u3000@\u3000e\u3000x\u3000a\u3000m\u3000p\u3000l\u3000e\u3000.\u3000c\u3000o\u3000m"})",
          email)
          .scan.found == email);
  // Where: the run's bytes as the client wrote them.
  std::vector<base64_text> texts;
  const std::string in =
      "to a\xc2\xa0l\xc2\xa0i\xc2\xa0"
      "c\xc2\xa0"
      "e\xc2\xa0@\xc2\xa0"
      "b\xc2\xa0.\xc2\xa0"
      "d\xc2\xa0"
      "e now";
  CHECK(find_base64_texts(in, texts) == 1);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0].text == "alice@b.de");
  CHECK(texts[0].begin == 3);
  CHECK(texts[0].end == in.size() - 4);
  // Punctuation that folds to ASCII (a dash, typographic quotes) ends a run as it does unfolded.
  for (const char* around : {"a l i c e @ e x a m p l e . c o m \xe2\x80\x94 ok",
                             "\xe2\x80\x9c"
                             "a l i c e @ e x a m p l e . c o m"
                             "\xe2\x80\x9d",
                             "\xe2\x80\x94 a l i c e @ e x a m p l e . c o m"}) {
    CAPTURE(around);
    texts.clear();
    CHECK(find_base64_texts(around, texts) == 1);
    CHECK((texts.size() == 1 && texts[0].text == "alice@example.com"));
  }
  // Prose with tabs and Unicode spaces is not a run: words, French typography, a table's cells.
  for (
      const char* body :
      {R"({"content":"Prix\u00a0: 5\u00a0\u20ac ; TVA\u00a0: 20\u00a0% ; total\u00a0: 6\u00a0\u20ac !"})",
       R"({"content":"a\tb\tc\td\n1\t2\t3\t4\nx\ty\tz\tw"})",
       R"({"content":"Score\u2009: 4\u2009\u2013\u20092, then 3\u2009\u2013\u20091, so 7\u2009\u2013\u20093 in all"})"}) {
    CAPTURE(body);
    CHECK(inspect(body, email | phone | iban | card).scan.found == 0);
  }
}

TEST_CASE("written a character at a time, two or three blanks apart from the start (probe round 26)") {
  const std::uint32_t iban_bit = bit(detector::iban);
  for (const std::string_view sep :
       {"  ", "   ", "\\t\\t", " \\t", "\\u00a0\\u00a0", "\\u3000\\u3000", "  \\u00a0"}) {
    CAPTURE(sep);
    for (const auto& [id, which] : {std::pair<std::string, std::uint32_t>{"alice.smith@gmail.com", email},
                                    {"BE68539007547034", iban_bit},
                                    {"4111111111111111", card}}) {
      CAPTURE(id);
      CHECK((inspect(R"({"content":"mine: )" + spaced(id, sep) + R"( thanks"})", which).scan.found & which) ==
            which);
    }
  }
  // Alternating two and one.
  CHECK(inspect(R"({"content":"a  l i  c e  . s m  i t  h @ g  m a  i l  . c  o m"})", email).scan.found ==
        email);
  std::vector<base64_text> texts;
  CHECK(find_base64_texts("to a  l  i  c  e  @  b  .  d  e now", texts) == 1);
  CHECK((texts.size() == 1 && texts[0].text == "alice@b.de" && texts[0].begin == 3));
}

TEST_CASE(
    "written a character at a time with an invisible or combining character after each (probe round 26)") {
  const std::uint32_t iban_bit = bit(detector::iban);
  // Each character followed by `after`, a space between them.
  const auto marked = [](std::string_view text, std::string_view after) {
    std::string out;
    for (const char c : text) {
      out += (out.empty() ? "" : " ") + std::string(1, c) + std::string(after);
    }
    return out;
  };
  // Combining acute, grapheme joiner, Arabic letter mark, Hangul fillers, braille blank, object
  // replacement and replacement characters, a tag, a variation selector of the supplement, a
  // musical symbol format control.
  for (const std::string_view after :
       {"\\u0301", "\\u034f", "\\u061c", "\\u115f", "\\u3164", "\\u2800", "\\ufffc", "\\ufffd",
        "\\udb40\\udc78", "\\udb40\\udd00", "\\ud834\\udd73"}) {
    CAPTURE(after);
    for (const auto& [id, which] : {std::pair<std::string, std::uint32_t>{"alice.smith@gmail.com", email},
                                    {"BE68539007547034", iban_bit}}) {
      CAPTURE(id);
      CHECK((inspect(R"({"content":"mine: )" + marked(id, after) + R"( thanks"})", which).scan.found &
             which) == which);
    }
  }
}

TEST_CASE("outside the prose, a finding never runs from one string into the next") {
  // Regression (found by the fuzzer): the IBAN detector reads line breaks between groups, and
  // "NI12/03/14953//80198odel", "m", "stream" and "stream" passed its check as one identifier
  // across a key, a value and two keys, so redaction rewrote the key `stream`.
  const std::string body = R"({"x NI12/03/14953//80198odel":"m","stream":true,"stream_m":true})";
  const inspection got = inspect(body, bit(detector::iban), true);
  REQUIRE(got.ok());
  CHECK(got.scan.findings.empty());
  CHECK(got.scan.found == 0);
  // Nor across the strings between two prose strings.
  const std::string around = R"({"messages":[{"role":"DE89 3704","content":"x"},{"role":"0044 0532 0130 00",)"
                             R"("content":"y"}]})";
  CHECK(inspect(around, bit(detector::iban), true).scan.found == 0);
}

TEST_CASE("the completion's bounds: max_tokens and its aliases apart, n and best_of at their largest") {
  inspection got;
  got = inspect(R"({"model":"m","max_tokens":100,"max_completion_tokens":300,"n":2})");
  REQUIRE(got.ok());
  CHECK(got.fields.max_tokens == 100);  // each apart: which one bounds depends on the endpoint
  CHECK(got.fields.max_completion_tokens == 300);
  CHECK(got.fields.choices == 2);
  got = inspect(R"({"model":"m","max_output_tokens":1e6,"best_of":3.0,"n":-1})");
  REQUIRE(got.ok());
  CHECK(got.fields.max_output_tokens == 1000000);  // a server reads 1e6 as an integer too
  CHECK(got.fields.choices == 3);
  got = inspect(R"({"model":"m","max_tokens":1e300,"n":18446744073709551616})");
  REQUIRE(got.ok());
  CHECK(got.fields.max_tokens == 1000000000000ULL);
  CHECK(got.fields.choices == 1000000);
  // An Assistants run's bound on its prompt (its stored thread), apart too (probe round 40).
  got = inspect(R"({"model":"m","assistant_id":"a","max_prompt_tokens":3000,"max_completion_tokens":700})");
  REQUIRE(got.ok());
  CHECK((got.fields.max_prompt_tokens == 3000 && got.fields.max_completion_tokens == 700));
  got = inspect(R"({"model":"m"})");
  CHECK((got.fields.max_tokens == 0 && got.fields.max_completion_tokens == 0 &&
         got.fields.max_prompt_tokens == 0 && got.fields.max_output_tokens == 0 && got.fields.choices == 0 &&
         got.fields.prompts == 0));
  // SGLang's sampling_params and TGI's parameters: their n, best_of and max_new_tokens count as the
  // top level's (probe round 21: n there let six /generate batches spend 60,006 of 5,000 tokens).
  got = inspect(R"({"text":"hi","sampling_params":{"n":6,"max_new_tokens":500}})");
  REQUIRE(got.ok());
  CHECK((got.fields.choices == 6 && got.fields.max_new_tokens == 500));
  got = inspect(R"({"inputs":"hi","parameters":{"best_of":3,"max_new_tokens":20}})");
  REQUIRE(got.ok());
  CHECK((got.fields.choices == 3 && got.fields.max_new_tokens == 20));
  // llama.cpp's n_predict (top level) and Ollama's options.num_predict, where each is read.
  got = inspect(R"({"prompt":"hi","n_predict":2000,"options":{"num_predict":300}})");
  CHECK((got.fields.n_predict == 2000 && got.fields.num_predict == 300 && got.fields.max_new_tokens == 0));
  got = inspect(
      R"({"prompt":"hi","parameters":{"num_predict":300},"options":{"max_new_tokens":5},"n_predict":-1})");
  CHECK((got.fields.num_predict == 0 && got.fields.max_new_tokens == 0 && got.fields.n_predict == 0));
  CHECK((got.fields.n_predict_unbounded && !got.fields.num_predict_unbounded));
  got = inspect(R"({"prompt":"hi","options":{"num_predict":-2}})");
  CHECK((got.fields.num_predict_unbounded && !got.fields.n_predict_unbounded));
  got = inspect(R"({"prompt":"hi","options":"x","n_predict":"many"})");
  CHECK(got.error == sovgw::classify::body_error::wrong_type);
  CHECK(inspect(R"({"inputs":"hi","parameters":{"adapter_id":"x"}})").error ==
        body_error::other_models);  // still
  CHECK(inspect(R"({"text":"hi","sampling_params":{"n":2,"N":3}})").error == body_error::case_variant_key);
  CHECK(inspect(R"({"text":"hi","sampling_params":{"n":"6"}})").error == body_error::wrong_type);
  CHECK(inspect(R"({"model":"m","parameters":["a"],"stream_options":{"n":9}})").ok());  // not settings
  CHECK(inspect(R"({"model":"m","stream_options":{"n":9}})").fields.choices == 0);
  // A batch: each string, token-id array or object of a top-level prompt (text, input_ids) array
  // is completed on its own; a flat array of token ids is one prompt.
  for (const bool keep_text : {false, true}) {
    for (const auto& [body, prompts] :
         {std::pair{R"({"prompt":["a","b",["c"],[1,2],{"prompt_string":"d"}],"max_tokens":5})", 5},
          std::pair{R"({"prompt":[1,2,3]})", 0}, std::pair{R"({"prompt":"one"})", 0},
          std::pair{R"({"text":["a","b"]})", 2}, std::pair{R"({"input_ids":[[1],[2],[3]]})", 3},
          std::pair{R"({"messages":[{"content":["a","b"]}],"stop":["x","y"]})", 0},
          std::pair{R"({"x":{"prompt":["a","b"]}})", 0}}) {
      CAPTURE(body);
      got = inspect(body, keep_text ? bit(detector::email) : 0);
      REQUIRE(got.ok());
      CHECK(got.fields.prompts == static_cast<std::uint64_t>(prompts));
    }
  }
  // A bound the gateway cannot read as a number is refused (a lenient server reads "500" as 500).
  for (const auto& [body, message] :
       {std::pair{R"({"max_tokens":"500"})", "max_tokens must be a number or null, not a string"},
        std::pair{R"({"n":[1]})", "n (best_of) must be a number or null, not an array"},
        std::pair{R"({"max_output_tokens":true})",
                  "max_output_tokens must be a number or null, not a boolean"},
        std::pair{R"({"max_completion_tokens":{}})",
                  "max_completion_tokens must be a number or null, not an object"},
        std::pair{R"({"max_prompt_tokens":"3000"})",
                  "max_prompt_tokens must be a number or null, not a string"},
        std::pair{R"({"max_new_tokens":"5"})", "max_new_tokens must be a number or null, not a string"}}) {
    CAPTURE(body);
    got = inspect(body);
    CHECK(got.error == body_error::wrong_type);
    CHECK(got.message.starts_with(message));
  }
  got = inspect(R"({"max_tokens":null,"n":null})");
  CHECK(got.ok());
}

TEST_CASE("CSS escapes and numbers with an exponent in JSON held in a string (probe round 20 A-F4)") {
  const std::uint32_t iban = bit(detector::iban);
  // CSS escapes: one to six hex digits and an optional white space.
  const std::pair<std::string, std::string> css[] = {
      {R"j({"content":"mail alice.smith\\40 gmail.com today"})j",
       R"j({"content":"mail [redacted:email] today"})j"},
      {R"j({"content":"mail alice.smith\\000040gmail.com today"})j",
       R"j({"content":"mail [redacted:email] today"})j"},
      {R"j({"content":"a::after { content: \"alice\\40 example\\2e com\" }"})j",
       R"j({"content":"a::after { content: \"[redacted:email]\" }"})j"},
  };
  for (const auto& [body, redacted] : css) {
    CAPTURE(body);
    const inspection got = inspect(body, email | phone | iban, true);
    CHECK(got.scan.found == email);
    CHECK(got.scan.hidden == 0);
    std::string r = body;
    CHECK(redact(r, got.scan.findings, email) == 1);
    CHECK(r == redacted);
  }
  // Backslashes of paths, regular expressions and TeX spell no address.
  for (const std::string body :
       {R"j({"content":"C:\\data\\40 files\\2024\\report and \\d+\\.\\d+ and \\frac{a}{b} \\beta"})j",
        R"j({"content":"font-family: \"\\5FAE\\8F6F\\96C5\\9ED1\"; content: \"\\201C\""})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, email | phone | iban | card).scan.found == 0);
  }
  // A number with an exponent in JSON inside a string (a tool call's arguments) reaches the model
  // as its server prints it, as the body's own numbers do: found in that reading, hidden.
  for (const std::string args :
       {R"j({\"card\": 4.111111111111111E15})j", R"j({\"cards\":[1,4.111111111111111e+15]})j",
        R"j({\"a\": {\"card\" :41111111111111110e-1}})j"}) {
    const std::string body =
        R"j({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",)j"
        R"j("function":{"name":"pay","arguments":")j" +
        args + R"j("}}]},{"role":"user","content":"x@y.example"}]})j";
    CAPTURE(body);
    CHECK(inspect(body, card).scan.found == card);
    const inspection got = inspect(body, card | email, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == (card | email));
    CHECK(got.scan.hidden == card);
    std::string r = body;
    CHECK(redact(r, got.scan.findings, email) == 1);
  }
  // Nested twice (JSON in a string in a string).
  CHECK(inspect(R"j({"content":"{\"arguments\": \"{\\\"card\\\": 4.111111111111111E15}\"}"})j", card)
            .scan.found == card);
  // A number in prose is read as written; exponents that spell no identifier add nothing.
  for (const std::string body :
       {R"j({"content":"Avogadro: 6.02214076E23, and 4.111111111111111E15 in prose"})j",
        R"j({"content":"{\"a\": 1.5e3, \"b\": [2.5E-3, 1e300], \"c\": -7E2}"})j"}) {
    CAPTURE(body);
    CHECK(inspect(body, card | phone).scan.found == 0);
  }
}

TEST_CASE("a data field's key names a person's name in the inspector's text (probe round 22)") {
  // The inspector writes a key and its value a line each; person_name reads the value after a key
  // such as first_name there, and in JSON held in a string (a tool's result).
  const std::uint32_t name = bit(detector::person_name);
  for (
      const char* body :
      {R"({"model":"m","customer":{"first_name":"Matteo","last_name":"Conti"}})",
       R"({"model":"m","messages":[{"role":"tool","content":"{\"contact\": {\"firstName\": \"Matteo\"}}"}]})",
       R"({"model":"m","record":{"name":{"given":"Lukas","family":"Hofmann"}}})",
       R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],)"
       R"("metadata":{"last_name":"Conti"}})"}) {
    CAPTURE(std::string(body));
    const inspection got = inspect(body, name, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == name);
    CHECK(got.scan.findings.size() >= 1);
  }
  for (const char* body :
       {R"({"model":"m","tools":[{"name":"lookup","parameters":{"properties":{"first_name":)"
        R"({"type":"string","description":"First name"}}}}]})",
        R"({"model":"m","user":{"first_name":"string"}})"}) {
    CAPTURE(std::string(body));
    CHECK(inspect(body, name).scan.found == 0);
  }
}

TEST_CASE("the fields that name the user are read as names (probe round 29)") {
  // A message's `name` (its participant, which the chat template writes into the prompt) beside a
  // `role` that is no tool's, in the forms the OpenAI API accepts; the top-level `user` and
  // `safety_identifier`, which the operator keeps.
  const std::uint32_t name = bit(detector::person_name);
  struct row {
    std::string body;
    std::string redacted;
  };
  const row rows[] = {
      {R"({"model":"m","messages":[{"role":"user","name":"Jeanne Dupont","content":"Please summarise."}]})",
       R"({"model":"m","messages":[{"role":"user","name":"[redacted:person_name]","content":"Please summarise."}]})"},
      {R"({"model":"m","messages":[{"role":"user","name":"Jeanne_Dupont","content":"hi"}]})",
       R"({"model":"m","messages":[{"role":"user","name":"[redacted:person_name]","content":"hi"}]})"},
      {R"({"model":"m","messages":[{"name":"jeanne.dupont","role":"user","content":"hi"}]})",
       R"({"model":"m","messages":[{"name":"[redacted:person_name]","role":"user","content":"hi"}]})"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}],"name":"Jeanne"}]})",
       R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}],)"
       R"("name":"[redacted:person_name]"}]})"},
      {R"({"model":"m","messages":[{"role":"system","name":"Lukas_Hofmann","content":"hi"}]})",
       R"({"model":"m","messages":[{"role":"system","name":"[redacted:person_name]","content":"hi"}]})"},
      {R"({"model":"m","input":[{"role":"user","content":"hi"}],"user":"Jeanne Dupont"})",
       R"({"model":"m","input":[{"role":"user","content":"hi"}],"user":"[redacted:person_name]"})"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"safety_identifier":"jeanne.dupont"})",
       R"({"model":"m","messages":[{"role":"user","content":"hi"}],"safety_identifier":"[redacted:person_name]"})"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"user":"Jo\u00e3o"})",
       R"({"model":"m","messages":[{"role":"user","content":"hi"}],"user":"[redacted:person_name]"})"},
  };
  for (const row& r : rows) {
    CAPTURE(r.body);
    CHECK(inspect(r.body, name).scan.found == name);
    const inspection got = inspect(r.body, name, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == name);
    REQUIRE(got.scan.findings.size() == 1);
    std::string body = r.body;
    CHECK(redact(body, got.scan.findings, name) == 1);
    CHECK(body == r.redacted);
  }
  // A tool's name (under `tools`, in a call, in a tool's or a function's message), a name that is
  // a role or a placeholder, an id, and the same keys elsewhere: none.
  for (const char* body :
       {R"({"model":"m","messages":[{"role":"tool","name":"Lookup_Customer","content":"{}"}]})",
        R"({"model":"m","messages":[{"role":"function","name":"get_weather","content":"sunny"}]})",
        R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function",)"
        R"("function":{"name":"Send_Email","arguments":"{}"}}]}]})",
        R"({"model":"m","tools":[{"type":"function","function":{"name":"Create_Ticket","parameters":{}}}]})",
        R"({"model":"m","messages":[{"role":"system","name":"example_user","content":"hi"},)"
        R"({"role":"system","name":"example_assistant","content":"ho"}]})",
        R"({"model":"m","messages":[{"role":"assistant","name":"Assistant","content":"hi"}]})",
        R"({"model":"m","messages":[{"role":"assistant","name":"Claude","content":"hi"}]})",
        R"({"model":"m","messages":[{"role":"user","name":"user","content":"hi"}]})",
        R"({"model":"m","messages":[{"role":"user","name":"Customer Support","content":"hi"}]})",
        R"({"model":"m","messages":[{"role":"user","content":"hi"}],"user":"user-1234"})",
        R"({"model":"m","messages":[{"role":"user","content":"hi"}],"user":"anonymous"})",
        R"({"model":"m","messages":[{"role":"user","content":"hi"}],"user":"alice"})",
        R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
        R"("safety_identifier":"6f1c2a9e4b7d8c3f0a5e1b2d4c6f8a0e"})",
        R"({"model":"m","messages":[{"role":"user","content":"hi"}],"safety_identifier":"TEST_USER"})",
        R"({"model":"m","name":"Jeanne Dupont","messages":[{"role":"user","content":"hi"}]})",
        R"({"model":"m","metadata":{"user":"Jeanne Dupont"},"messages":[{"role":"user","content":"hi"}]})",
        R"({"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"Invoice_Summary",)"
        R"("schema":{"type":"object","properties":{"role":{"type":"string"}}}}}})"}) {
    CAPTURE(std::string(body));
    CHECK(inspect(body, name).scan.found == 0);
  }
}

TEST_CASE(
    "token ids as strings or booleans that a lax parser reads as integers are opaque (probe round 39)") {
  // vLLM's prompt and input are Union[list[int], list[list[int]], str, list[str]] to pydantic in lax
  // mode, which reads "72", " 72 ", "+72", "7_2", "72.0" and true as integers: [["72","4020"]] is
  // token ids, as [[72,4020]] is; so are the strings and booleans in an array under a key naming
  // token ids (vLLM's /detokenize `tokens`, SGLang's `input_ids`).
  const std::uint32_t opaque = bit(detector::opaque_content);
  for (const char* body : {
           R"({"model":"m","prompt":[["72","4020","13","3647"]]})",
           R"({"model":"m","input":[["72","4020"]]})",
           R"({"model":"m","prompt":[["72"]]})",
           R"({"model":"m","prompt":[[" 72","4020 "]]})",
           R"({"model":"m","prompt":[["\t72\n"]]})",
           R"({"model":"m","prompt":[["\u200372"]]})",
           R"({"model":"m","prompt":[["+72"]]})",
           R"({"model":"m","prompt":[["-1"]]})",
           R"({"model":"m","prompt":[["4_020"]]})",
           R"({"model":"m","prompt":[["72.0"]]})",
           R"({"model":"m","prompt":[["1_0.00"]]})",
           R"({"model":"m","prompt":[["\u0037\u0032"]]})",
           R"({"model":"m","prompt":[["hello"],["72"]]})",
           R"({"model":"m","tokens":["72","4020","13"]})",
           R"({"model":"m","input_ids":["72","4020"]})",
           R"({"model":"m","prompt_token_ids":["72"]})",
           R"({"model":"m","prompt_token_ids":[["72"],["4020"]]})",
           R"({"instances":[{"input_ids":["72","4020"]}]})",
           // Booleans are 1 and 0 to the same parser: in an array of prose or of token ids.
           R"({"model":"m","prompt":[true,false,true]})",
           R"({"model":"m","prompt":[[true,false]]})",
           R"({"model":"m","input":[true,false]})",
           R"({"model":"m","tokens":[true]})",
       }) {
    CAPTURE(std::string(body));
    const inspection got = inspect(body, opaque | email, true);
    REQUIRE(got.ok());
    CHECK((got.scan.found & opaque) == opaque);
  }
  // A flat list of strings is list[str] (text); what no lax parser reads as an integer is text; a
  // flag or a string beside a key naming tokens is no element of a list of ids; the output
  // constraints are not read by the model.
  for (const char* body : {
           R"({"model":"m","prompt":["72","4020"]})",
           R"({"model":"m","input":["72","4020"]})",
           R"({"model":"m","prompt":"72"})",
           R"({"model":"m","prompt":[["hello","world"]]})",
           R"({"model":"m","prompt":[["1.5","1e3","0x10","1.","_1","1__0","+ 72","","-","72a"]]})",
           R"({"model":"m","prompt":[["\uff17\uff12","7_","1.0_0"]]})",
           R"({"model":"m","messages":[{"role":"user","content":"72"}],"logprobs":true})",
           R"({"model":"m","prompt":"hi","stop_token_ids":["2"],"skip_special_tokens":true})",
           R"({"model":"m","prompt":"hi","return_token_ids":true})",
           R"({"model":"m","prompt":"hi","tokenizer_kwargs":{"add_special_tokens":true,"max":"512"}})",
           R"({"model":"m","input":"hi","metadata":{"ids":["72"],"flags":[true]}})",
       }) {
    CAPTURE(std::string(body));
    const inspection got = inspect(body, opaque, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == 0);
  }
}

TEST_CASE("LiteLLM's other fallback lists, mock switches and metadata tags are refused (probe round 39)") {
  struct row {
    const char* body;
    const char* message;  // a part of it
  };
  for (const row& r : {
           row{R"({"model":"m","context_window_fallbacks":[{"m":["skynet"]}]})",
               "(\"context_window_fallbacks\")"},
           row{R"({"model":"m","content_policy_fallbacks":[{"m":["gpt-4o"]}]})",
               "(\"content_policy_fallbacks\")"},
           row{R"({"model":"m","Context_Window_Fallbacks":[{"m":["skynet"]}]})", "Context_Window_Fallbacks"},
           row{R"({"model":"m","default_fallbacks":["skynet"]})", "default_fallbacks"},
           row{R"({"model":"m","mock_testing_fallbacks":true})", "mock_testing_fallbacks"},
           row{R"({"model":"m","mock_testing_context_fallbacks":true})", "mock_testing_context_fallbacks"},
           row{R"({"model":"m","mock_testing_content_policy_fallbacks":true})",
               "mock_testing_content_policy_fallbacks"},
           row{R"({"model":"m","model_group_alias":{"m":"skynet"}})", "model_group_alias"},
           row{R"({"model":"m","model_alias_map":{"m":"skynet"}})", "model_alias_map"},
           // LiteLLM's tag router reads the tags from metadata (or litellm_metadata), where its proxy
           // puts a top-level `tags` itself.
           row{R"({"model":"m","metadata":{"tags":["us"]}})", "(\"metadata.tags\""},
           row{R"({"model":"m","metadata":{"user":"u","tags":["!eu-only"]}})", "metadata.tags"},
           row{R"({"model":"m","litellm_metadata":{"tags":["us"]}})", "(\"litellm_metadata.tags\""},
           row{R"({"model":"m","metadata":{"Tags":["us"]}})", "metadata.Tags"},
           row{R"({"model":"m","Metadata":{"ta\u0067s":["us"]}})", "Metadata.tags"},
           row{R"({"model":"m","metadata":{"TAG\u017f":["us"]}})", "metadata.TAG"},
       }) {
    CAPTURE(std::string(r.body));
    for (const std::uint32_t detectors : {0u, email}) {
      const inspection got = inspect(r.body, detectors);
      CAPTURE(got.message);
      CHECK(got.error == body_error::other_models);
      CHECK(got.message.find(r.message) != std::string::npos);
    }
  }
  // Tags deeper in the metadata, or a key only beginning so, are the client's data.
  for (const char* body : {R"({"model":"m","metadata":{"project":{"tags":["a"]},"tagsline":"x"}})",
                           R"({"model":"m","messages":[{"role":"user","content":"hi","tags":["a"]}]})"}) {
    CAPTURE(std::string(body));
    CHECK(inspect(body, email).ok());
  }
  CHECK(routing_key_of("content_policy_fallbacks") == routing_key::other_model);
  CHECK(routing_key_of("mock_testing_context_fallbacks") == routing_key::other_model);
}

TEST_CASE("a model a cluster may put into a URL is refused: %, ?, #, \\ and dot segments (probe round 39)") {
  // openai-python's Azure client builds /deployments/{model}/... unescaped: "gpt%2D4o" reaches
  // Azure as gpt-4o, "gpt-4o/chat/completions?" is cut at the '?', "gpt-4o/x/.." loses its dot
  // segments.
  for (const char* model : {"gpt%2D4o", "%67pt-4o", "azure/gpt%2D4o", "gpt-4o/chat/completions?",
                            "gpt-4o/chat/completions#", "gpt-4o\\\\x", "gpt-4o/.", "gpt-4o/..", "gpt-4o/x/..",
                            "./gpt-4o", "x/../gpt-4o", "gpt-4o/./x", "gpt-4o/x/%2E%2E", ".", ".."}) {
    const std::string body = std::string(R"({"model":")") + model + R"(","messages":[]})";
    CAPTURE(body);
    const inspection got = inspect(body);
    CAPTURE(got.message);
    CHECK(got.error == body_error::model_in_url);
    CHECK(got.message.find("a cluster that puts the model into a URL") != std::string::npos);
  }
  // Dots inside a segment, and a trailing or doubled slash, are no dot segments.
  for (const char* model :
       {"llama-3.1-70b", "hf.co/org/m.gguf", "..x", "x..", "gpt-4o/", "a//b", "v1.0/.x"}) {
    const std::string body = std::string(R"({"model":")") + model + R"("})";
    CAPTURE(body);
    const inspection got = inspect(body);
    CHECK(got.ok());
    CHECK(got.fields.model == model);
  }
  CHECK(body_error_name(body_error::model_in_url) == "model_in_url");
}

TEST_CASE("LiteLLM's stored prompt (prompt_id) is opaque, as the Responses API's is (probe round 39)") {
  const std::uint32_t opaque = bit(detector::opaque_content);
  for (const char* body : {
           R"({"model":"m","messages":[{"role":"user","content":"hi"}],"prompt_id":"customer-profile"})",
           R"({"model":"m","messages":[],"promptId":"p1"})",
           R"({"model":"m","input":"hi","prompt_id":"p1","prompt_version":2,"prompt_variables":{"x":"y"}})",
       }) {
    CAPTURE(std::string(body));
    const inspection got = inspect(body, opaque | email, true);
    REQUIRE(got.ok());
    CHECK((got.scan.found & opaque) == opaque);
  }
  CHECK(inspect(R"({"model":"m","messages":[],"prompt_id":null})", opaque).scan.found == 0);
}

TEST_CASE("a number a double cannot hold exactly leaves redaction elsewhere in the body intact") {
  // Probe round 40: with a redact obligation, `"seed":18446744073709551615` beside an IBAN was
  // refused as "after redaction the request still holds such data".
  const std::uint32_t iban = bit(detector::iban);
  for (const std::string seed :
       {"18446744073709551615", "18446744073709551616", "12345678901234567891", "-9223372036854775809",
        "99999999999999999999", "9223372036854775808", "1e400"}) {
    CAPTURE(seed);
    const std::string body =
        R"({"model":"m","seed":)" + seed +
        R"(,"messages":[{"role":"user","content":"pay to FR76 3000 6000 0112 3456 7890 189"}]})";
    const inspection got = inspect(body, iban, true);
    REQUIRE(got.ok());
    CHECK(got.scan.found == iban);
    std::string redacted = body;
    CHECK(redact(redacted, got.scan.findings, iban) == 1);
    CAPTURE(redacted);
    CHECK(redacted.find(R"("seed":)" + seed + ",") != std::string::npos);
    const inspection again = inspect(redacted, iban, false);
    CHECK(again.ok());
    CHECK(again.scan.found == 0);
  }
}

TEST_CASE(
    "prose is read in the order the server builds the prompt, whatever the key order (probe round 46)") {
  for (const char* body :
       {R"({"input":"@example.com please","instructions":"Send the file to alice.smith"})",
        R"({"messages":[{"role":"user","content":"@example.com please"}],"system":"mail alice.smith"})",
        R"({"prompt":"@example.com","system":"write to alice.smith"})"}) {
    CAPTURE(body);
    CHECK(inspect(body, email).scan.found == email);
    CHECK(inspect(body, email, true).scan.found == email);
  }
  CHECK(inspect(R"({"input":"1234 5678","instructions":"Ring Jana: +49 30"})", phone).scan.found == phone);
  // The order written is still read too: a server that does not reorder reads it so.
  CHECK(
      inspect(R"({"messages":[{"role":"user","content":"mail alice.smith"}],"system":"@example.com"})", email)
          .scan.found == email);
}
