// CPU cost of masking a cluster's credential in what it answers (gateway/secret_mask.hpp: every
// form and escape of the secret, byte for byte, across reads), against the floor a masker cannot
// go under: one memmem-style search (std::string_view::find) for the secret as written, measured in
// the same run, interleaved round by round:
//   body_us / floor_body_us     a 4 KiB JSON answer (escapes, '%', '&' and non-ASCII in it), whole
//   event_us / floor_event_us   one ~60-byte SSE event of a stream
//
//   secret_mask_bench [--rounds R] [--iterations N] [--body-bytes B]
//
// Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), the median of R rounds of N operations.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "bench/common/micro_bench.hpp"
#include "gateway/secret_mask.hpp"

namespace gw = sovgw::gateway;
using sovgw::bench::median;
using sovgw::bench::sink;

namespace {

std::string masked(const gw::secret_forms& forms, std::string_view data) {
  gw::secret_mask mask(&forms);
  std::string out;
  mask.feed(data, out);
  mask.finish(out);
  return out;
}

std::size_t floor_search(std::string_view secret, std::string_view data) {
  std::size_t found = 0;
  for (std::size_t at = data.find(secret); at != std::string_view::npos; at = data.find(secret, at + 1)) {
    ++found;
  }
  return found + data.size();
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = sovgw::bench::parse_options(argc, argv, "secret_mask_bench",
                                               {.rounds = 7, .iterations = 2000, .body_bytes = 4096});
  if (!opt) {
    return 2;
  }
  const std::string token = "k9/Qx+Lm2Zp7/Rt+Wv4Yc8Nd3Jf6Hs1Bg0Ae5Ku=";
  const gw::secret_forms forms("Bearer " + token);
  std::string body;
  while (body.size() < opt->body_bytes) {
    body += R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"message":{"role":"assistant",)"
            R"("content":"Les donn\u00e9es restent en Europe.\nBonjour & merci, 50% \"ok\""}}]})";
  }
  const std::string event = "data: {\"choices\":[{\"delta\":{\"content\":\" en Europe\"}}]}\n\n";
  std::vector<double> body_us, floor_body_us, event_us, floor_event_us;
  for (int r = 0; r < opt->rounds; ++r) {
    body_us.push_back(
        sovgw::bench::cpu_us_per_op(opt->iterations, [&] { sink = sink + masked(forms, body).size(); }));
    floor_body_us.push_back(
        sovgw::bench::cpu_us_per_op(opt->iterations, [&] { sink = sink + floor_search(token, body); }));
    event_us.push_back(sovgw::bench::cpu_us_per_op(opt->iterations * 10,
                                                   [&] { sink = sink + masked(forms, event).size(); }));
    floor_event_us.push_back(
        sovgw::bench::cpu_us_per_op(opt->iterations * 10, [&] { sink = sink + floor_search(token, event); }));
  }
  const double b = median(body_us), fb = median(floor_body_us), e = median(event_us),
               fe = median(floor_event_us);
  fmt::print("body {} bytes, secret {} characters, {} rounds x {} ops, thread CPU\n", body.size(),
             token.size(), opt->rounds, opt->iterations);
  fmt::print("body_us={:.2f} floor_body_us={:.2f} ratio_body/floor={:.1f}\n", b, fb, b / fb);
  fmt::print("event_us={:.3f} floor_event_us={:.3f} ratio_event/floor={:.1f}\n", e, fe, e / fe);
}
