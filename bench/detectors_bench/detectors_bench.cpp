// Data-class detectors: sovgw's hand-written scanners (classify/detectors.cpp) against two
// pattern engines scanning for the same identifiers' shapes (no check digits), over the same chat
// bodies, in the same run: Hyperscan (a multi-pattern automaton, one pass for every pattern) and
// std::regex (one search per pattern). And what reading the body as the cluster does costs: the
// JSON inspector (classify/json_body.cpp) validating the body and scanning its decoded strings,
// against today's raw-byte scan.
//
//   build/bench/detectors_bench/detectors_bench [--kib 1,16] [--seconds 1] [--per-detector] [--head]
//
// --head: instead, what the gateway reads outside the body (gateway/pipeline_classify.cpp, scan_head): the
// detectors and the base64/hex pass over the target and header fields of an OpenAI Python SDK
// request (395 bytes), as classify::detect and classify::detect_encoded read them:
//   head bytes=395 us=... (detect alone us=...)
//
// --per-detector: instead, each implemented detector alone over the raw clean and personal bodies
// (where a detector finds nothing it reads the whole body), then all of them together:
//   per_detector body_kib=16 kind=clean detector=email us=... mib_per_s=...
// The program only measures the detectors its library implements: to compare two trees, build
// this same file against each and run both binaries one after the other.
//
// Per body size and kind (clean: no personal data; personal: an IBAN, email, phone number and
// date of birth in every third message; escaped: the same with JSON escapes, \u0040 and \u00e9):
//   detectors body_kib=1 kind=clean raw_us=... parse_us=... decoded_us=... hyperscan_us=... regex_us=...
//             ratio_scan_decoded/raw=... ratio_classify_new/old=... ratio_hyperscan/sovgw=...
//             ratio_regex/sovgw=...
// raw_us: the detectors over the raw body; parse_us: the inspector without detectors (what the
// classify stage paid before: validate, read model and stream); decoded_us: the inspector with
// every detector (the classify stage now). ratio_scan_decoded/raw = (decoded - parse) / raw, the
// cost of scanning decoded strings against the raw bytes; ratio_classify_new/old = decoded /
// (parse + raw). The engines' ratios are against sovgw's raw scan (they read raw bytes too).
#include <fmt/format.h>
#include <hs.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "classify/detectors.hpp"
#include "classify/json_body.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

enum class kind : std::uint8_t { clean, personal, escaped };

std::string chat_body(std::size_t bytes, kind k) {
  const std::string clean =
      "Bonjour, je voudrais comprendre les frais de tenue de compte pour 2025 et les options "
      "d'epargne disponibles pour une PME de 12 salaries a Lyon. ";
  const std::string pii =
      "Mon IBAN est FR14 2004 1010 0505 0001 3M02 606, ecrivez a jeanne.dupont@exemple.fr ou au "
      "+33 6 12 34 56 78, nee le 12/03/1985. ";
  const std::string pii_escaped =
      "Mon IBAN est FR14 2004 1010 0505 0001 3M02 606,\\necrivez a jeanne.dupont\\u0040exemple.fr ou au "
      "+33 6 12 34 56 78, n\\u00e9e le 12\\/03\\/1985. ";
  std::string body = R"({"model":"mistral-small","stream":true,"messages":[)";
  for (std::size_t i = 0; body.size() + 96 < bytes; ++i) {
    const std::string& text = k == kind::clean || i % 3 != 0 ? clean
                              : k == kind::personal          ? pii
                                                             : pii_escaped;
    body += fmt::format(R"({}{{"role":"{}","content":"{}{}"}})", i == 0 ? "" : ",",
                        i % 2 == 0 ? "user" : "assistant", text, clean);
  }
  return body + R"(],"temperature":0.2,"max_tokens":512})";
}

// The identifiers' shapes, as a pattern scanner writes them: email, phone, IBAN, card, IPv4 and a
// date after a birth cue.
const std::vector<std::string> shapes = {
    R"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})",
    R"((\+|00)[1-9][0-9 ().-]{7,20}[0-9])",
    R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b)",
    R"(\b(?:[0-9][ -]?){12,18}[0-9]\b)",
    R"(\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b)",
    R"((born|birth|dob|n(?:\xc3\xa9|e)e? le)\W{1,10}[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{4})",
};
constexpr std::size_t caseless_shape = 5;

// std::regex: one search per pattern (ECMAScript grammar).
struct regex_peer {
  std::vector<std::regex> patterns;
  regex_peer() {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      patterns.emplace_back(shapes[i], i == caseless_shape ? std::regex::ECMAScript | std::regex::icase
                                                           : std::regex::ECMAScript);
    }
  }
  unsigned scan(const std::string& text) const {
    unsigned found = 0;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      if (std::regex_search(text, patterns[i])) {
        found |= 1u << i;
      }
    }
    return found;
  }
};

// Hyperscan: every pattern in one database, one pass over the text, each reported once.
class hyperscan_peer {
 public:
  hyperscan_peer() {
    std::vector<const char*> expressions;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      expressions.push_back(shapes[i].c_str());
      flags.push_back(HS_FLAG_SINGLEMATCH | (i == caseless_shape ? HS_FLAG_CASELESS : 0));
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(shapes.size()),
                         HS_MODE_BLOCK, nullptr, &db_, &error) != HS_SUCCESS) {
      const std::string message = error->message;
      hs_free_compile_error(error);
      throw std::runtime_error("hyperscan: " + message);
    }
    if (hs_alloc_scratch(db_, &scratch_) != HS_SUCCESS) {
      throw std::runtime_error("hyperscan: cannot allocate scratch space");
    }
  }
  ~hyperscan_peer() {
    hs_free_scratch(scratch_);
    hs_free_database(db_);
  }
  hyperscan_peer(const hyperscan_peer&) = delete;
  hyperscan_peer& operator=(const hyperscan_peer&) = delete;

  unsigned scan(const std::string& text) const {
    unsigned found = 0;
    hs_scan(
        db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch_,
        [](unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
          *static_cast<unsigned*>(ctx) |= 1u << id;
          return 0;
        },
        &found);
    return found;
  }

 private:
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
};

template <typename F>
double us_per_call(F&& f, double seconds) {
  unsigned sink = 0;
  std::size_t n = 0;
  const auto t0 = clock_type::now();
  const auto until =
      t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  while (clock_type::now() < until) {
    for (int i = 0; i < 16; ++i) {
      sink += f();
    }
    n += 16;
  }
  const double us =
      std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / static_cast<double>(n);
  if (sink == 0xdeadbeef) {
    fmt::print("");
  }
  return us;
}

std::vector<std::size_t> parse_list(const std::string& s) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const std::size_t comma = s.find(',', start);
    out.push_back(std::stoul(s.substr(start, comma - start)));
    start = comma == std::string::npos ? s.size() : comma + 1;
  }
  return out;
}

}  // namespace

// The target and header fields of a chat request from the OpenAI Python SDK, one line each, as
// the gateway's scan_head lays them out (the fields it strips, such as Authorization, left out).
const std::string sdk_head =
    "/v1/chat/completions\nUser-Agent: OpenAI/Python 1.54.3\nAccept: application/json\n"
    "Content-Type: application/json\nX-Stainless-Lang: python\nX-Stainless-Package-Version: 1.54.3\n"
    "X-Stainless-OS: Linux\nX-Stainless-Arch: x64\nX-Stainless-Runtime: CPython\n"
    "X-Stainless-Runtime-Version: 3.11.2\nX-Stainless-Async: false\nX-Stainless-Retry-Count: 0\n"
    "X-Stainless-Read-Timeout: 600.0\nAccept-Encoding: gzip, deflate\n";

void head(double seconds) {
  namespace classify = sovgw::classify;
  const std::uint32_t all = classify::implemented_detectors();
  const double with_encoded = us_per_call(
      [&] { return classify::detect(sdk_head, all) | classify::detect_encoded(sdk_head, all); }, seconds);
  const double alone = us_per_call([&] { return classify::detect(sdk_head, all); }, seconds);
  fmt::print("head bytes={} us={:.2f} (detect alone us={:.2f})\n", sdk_head.size(), with_encoded, alone);
}

// Each implemented detector alone, then all together, over the raw body.
void per_detector(const std::vector<std::size_t>& sizes, double seconds) {
  namespace classify = sovgw::classify;
  const std::uint32_t all = classify::implemented_detectors();
  for (std::size_t kib : sizes) {
    for (kind k : {kind::clean, kind::personal}) {
      const std::string body = chat_body(kib * 1024, k);
      const auto report = [&](std::string_view name, std::uint32_t which) {
        const double us = us_per_call([&] { return classify::detect(body, which); }, seconds);
        fmt::print("per_detector body_kib={} kind={} detector={} us={:.2f} mib_per_s={:.0f}\n", kib,
                   k == kind::clean ? "clean" : "personal", name, us,
                   static_cast<double>(body.size()) / us * 1e6 / (1024.0 * 1024.0));
        std::fflush(stdout);
      };
      for (std::size_t d = 0; d < classify::detector_count; ++d) {
        if ((all & (1u << d)) != 0) {
          report(classify::detector_names[d], 1u << d);
        }
      }
      report("all", all);
    }
  }
}

int main(int argc, char** argv) {
  namespace classify = sovgw::classify;
  std::vector<std::size_t> sizes = {1, 16};
  double seconds = 1.0;
  bool by_detector = false;
  bool head_only = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--per-detector") {
      by_detector = true;
      --i;
    } else if (a == "--head") {
      head_only = true;
      --i;
    } else if (i + 1 >= argc) {
      fmt::print(stderr, "detectors_bench: {} needs a value\n", a);
      return 2;
    } else if (a == "--kib") {
      sizes = parse_list(argv[i + 1]);
    } else if (a == "--seconds") {
      seconds = std::stod(argv[i + 1]);
    } else {
      fmt::print(stderr, "detectors_bench: unknown option {}\n", a);
      return 2;
    }
  }
  if (by_detector) {
    per_detector(sizes, seconds);
    return 0;
  }
  if (head_only) {
    head(seconds);
    return 0;
  }
  const regex_peer regex;
  const hyperscan_peer hyperscan;
  classify::json_inspector inspector;
  classify::inspection result;
  const std::uint32_t all = classify::implemented_detectors();
  for (std::size_t kib : sizes) {
    for (kind k : {kind::clean, kind::personal, kind::escaped}) {
      const std::string body = chat_body(kib * 1024, k);
      if (!inspector.inspect(body, {all, false}).ok()) {
        fmt::print(stderr, "detectors_bench: the generated body is not valid JSON\n");
        return 1;
      }
      const auto inspect = [&](std::uint32_t detectors) {
        inspector.inspect(body, {detectors, false}, result);
        return result.scan.found;
      };
      const double raw = us_per_call([&] { return classify::detect(body, all); }, seconds);
      const double parse = us_per_call([&] { return inspect(0); }, seconds);
      const double decoded = us_per_call([&] { return inspect(all); }, seconds);
      const double hs = us_per_call([&] { return hyperscan.scan(body); }, seconds);
      const double re = us_per_call([&] { return regex.scan(body); }, seconds);
      fmt::print(
          "detectors body_kib={} kind={} raw_us={:.2f} parse_us={:.2f} decoded_us={:.2f} hyperscan_us={:.2f} "
          "regex_us={:.1f} ratio_scan_decoded/raw={:.2f} ratio_classify_new/old={:.2f} "
          "ratio_hyperscan/sovgw={:.2f} "
          "ratio_regex/sovgw={:.1f}\n",
          kib,
          k == kind::clean      ? "clean"
          : k == kind::personal ? "personal"
                                : "escaped",
          raw, parse, decoded, hs, re, (decoded - parse) / raw, decoded / (parse + raw), hs / raw, re / raw);
      std::fflush(stdout);
    }
  }
  return 0;
}
