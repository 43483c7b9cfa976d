// Data-class detectors: sovgw's hand-written scanners (classify/detectors.cpp) against the usual
// way of writing a PII scanner, one std::regex per identifier (the shape only: no check digits),
// over the same chat bodies, in the same run.
//
//   build/bench/detectors_bench/detectors_bench [--kib 1,16] [--seconds 1]
//
// Prints, per body size and kind (a clean prompt, a prompt with personal data):
//   detectors body_kib=1 kind=clean sovgw_us=... regex_us=... ratio_regex/sovgw=...
#include <fmt/format.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "classify/detectors.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

std::string chat_body(std::size_t bytes, bool personal) {
  std::string text;
  const std::string clean =
      "Bonjour, je voudrais comprendre les frais de tenue de compte pour 2025 et les options "
      "d'epargne disponibles pour une PME de 12 salaries a Lyon. ";
  const std::string pii =
      "Mon IBAN est FR14 2004 1010 0505 0001 3M02 606, ecrivez a jeanne.dupont@exemple.fr ou au "
      "+33 6 12 34 56 78, nee le 12/03/1985. ";
  while (text.size() + 64 < bytes) {
    text += (personal && text.size() % 3 == 0) ? pii : clean;
  }
  return R"({"model":"mistral-small","messages":[{"role":"user","content":")" + text + R"("}]})";
}

// The regex peer: email, phone, IBAN, card, IPv4 and a date after a birth cue, as a pattern
// scanner would write them (ECMAScript grammar, std::regex_search per pattern).
struct regex_peer {
  std::vector<std::regex> patterns = {
      std::regex(R"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"),
      std::regex(R"((\+|00)[1-9][0-9 ().-]{7,20}[0-9])"),
      std::regex(R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b)"),
      std::regex(R"(\b(?:[0-9][ -]?){12,18}[0-9]\b)"),
      std::regex(R"(\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b)"),
      std::regex(R"((born|birth|dob|n[ée]e? le)\W{1,10}[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{4})",
                 std::regex::icase),
  };
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

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {1, 16};
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--kib") {
      sizes = parse_list(argv[i + 1]);
    } else if (a == "--seconds") {
      seconds = std::stod(argv[i + 1]);
    } else {
      fmt::print(stderr, "detectors_bench: unknown option {}\n", a);
      return 2;
    }
  }
  const regex_peer peer;
  const std::uint32_t all = sovgw::classify::implemented_detectors();
  for (std::size_t kib : sizes) {
    for (bool personal : {false, true}) {
      const std::string body = chat_body(kib * 1024, personal);
      const double ours = us_per_call([&] { return sovgw::classify::detect(body, all); }, seconds);
      const double theirs = us_per_call([&] { return peer.scan(body); }, seconds);
      fmt::print("detectors body_kib={} kind={} sovgw_us={:.2f} regex_us={:.2f} ratio_regex/sovgw={:.1f}\n",
                 kib, personal ? "personal" : "clean", ours, theirs, theirs / ours);
      std::fflush(stdout);
    }
  }
  return 0;
}
