// Fuzz target: the gateway's request reader (head scanner, request-head parser, chunked decoder),
// fed the way a session feeds it: in pieces, resuming after each one.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/http_parser.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace sovgw::http;

using sovgw::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  limits lim;
  lim.max_request_line = 256;
  lim.max_head_bytes = 2048;
  lim.max_fields = 20;
  lim.max_body_bytes = 4096;
  // The first byte picks the piece size, so the corpus explores every way reads can split a message.
  const std::size_t step = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string buffer;
  head_scanner scanner(lim, true);
  std::size_t fed = 0;
  head_scanner::state st = head_scanner::state::need_more;
  while (st == head_scanner::state::need_more && fed < input.size()) {
    std::size_t n = std::min(step, input.size() - fed);
    buffer.append(input.substr(fed, n));
    fed += n;
    st = scanner.scan(buffer);
  }
  if (st != head_scanner::state::complete) {
    check(st == head_scanner::state::need_more || scanner.error() != parse_error::none);
    // The request line (its CRLF counted in neither limit) and the fields, then one piece more.
    check(buffer.size() <= lim.max_request_line + 2 + lim.max_head_bytes + step);
    return 0;
  }
  check(scanner.head_size() <= buffer.size());
  message_head head;
  parse_error e = parse_request_head(buffer.substr(0, scanner.head_size()), lim, head);
  if (e != parse_error::none) {
    int status = status_for(e);
    check(status >= 400 && status < 600);
    check(!describe(e).empty());
    return 0;
  }
  check(head.fields.size() <= lim.max_fields);
  check(!head.method.empty() && !head.target.empty());
  check(head.version_minor == 0 || !head.host.empty());
  for (const field& f : head.fields) {
    check(f.value.find('\r') == std::string_view::npos && f.value.find('\n') == std::string_view::npos);
    check(f.value.find('\0') == std::string_view::npos);
  }
  std::string rest = buffer.substr(scanner.head_size()) + std::string(input.substr(fed));
  if (head.framing == body_framing::content_length) {
    check(head.content_length <= lim.max_body_bytes);
  } else if (head.framing == body_framing::chunked) {
    check(head.find("content-length") == nullptr);
    chunk_decoder decoder(lim.max_body_bytes);
    std::string body;
    std::size_t pos = 0;
    while (pos < rest.size()) {
      std::size_t n = std::min(step, rest.size() - pos);
      std::size_t consumed = 0;
      chunk_decoder::state cs = decoder.feed(std::string_view(rest).substr(pos, n), consumed, body);
      check(consumed <= n);
      pos += consumed;
      check(body.size() <= lim.max_body_bytes);
      if (cs != chunk_decoder::state::need_more) {
        break;
      }
    }
  }
  return 0;
}
