#pragma once

// What the per-request micro benchmarks (geo_tags_bench, signature_bench) share: thread CPU time,
// the median of rounds, their common options and the chat-completion body they forward.

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sovgw::bench {

inline volatile std::uint64_t sink = 0;  // keeps the measured work observable

inline double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Thread CPU time per call of `op`, over `iterations` calls.
template <typename Op>
double cpu_us_per_op(int iterations, Op&& op) {
  const double start = thread_cpu_us();
  for (int i = 0; i < iterations; ++i) {
    op();
  }
  return (thread_cpu_us() - start) / iterations;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct options {
  int rounds = 7;
  int iterations = 2000;
  std::size_t body_bytes = 1001;
};

// --rounds R --iterations N --body-bytes B over `defaults`; for anything else, or a value that is
// not a positive whole number, prints the usage of `program` on stderr and returns nullopt.
inline std::optional<options> parse_options(int argc, char** argv, std::string_view program,
                                            options defaults) {
  const auto number = [](std::string_view text, auto& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && out > 0;
  };
  for (int i = 1; i < argc; i += 2) {
    const std::string_view name = argv[i];
    const std::string_view value = i + 1 < argc ? argv[i + 1] : "";
    const bool ok = name == "--rounds"       ? number(value, defaults.rounds)
                    : name == "--iterations" ? number(value, defaults.iterations)
                    : name == "--body-bytes" ? number(value, defaults.body_bytes)
                                             : false;
    if (!ok) {
      std::fprintf(stderr, "usage: %.*s [--rounds R] [--iterations N] [--body-bytes B]\n",
                   static_cast<int>(program.size()), program.data());
      return std::nullopt;
    }
  }
  return defaults;
}

// An OpenAI chat-completion request body of about `bytes` bytes (its content is 'x' repeated).
inline std::string chat_body(std::size_t bytes) {
  const std::string head = R"({"model":"mistral-small","messages":[{"role":"user","content":")";
  const std::string tail = R"("}]})";
  return head + std::string(bytes > head.size() + tail.size() ? bytes - head.size() - tail.size() : 0, 'x') +
         tail;
}

}  // namespace sovgw::bench
