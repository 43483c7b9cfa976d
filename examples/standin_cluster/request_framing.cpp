#include "request_framing.hpp"

#include <string>

namespace standin {

namespace http = boost::beast::http;

void request_parser::on_field_impl(http::field name, boost::beast::string_view name_string,
                                   boost::beast::string_view value, boost::system::error_code& ec) {
  constexpr std::size_t storable = 0xffff - 2;  // basic_fields keeps offsets in 16 bits
  if (name_string.size() > storable || value.size() > storable) {
    ec = http::error::header_limit;
    return;
  }
  get().insert(name, name_string, value);
}

std::optional<framing_refusal> refusal_for_read_error(const boost::system::error_code& ec, bool timed_out) {
  if (timed_out) {
    return framing_refusal{http::status::request_timeout, "request_timeout",
                           "the request did not arrive in time"};
  }
  if (ec == http::error::header_limit) {
    return framing_refusal{http::status::request_header_fields_too_large, "header_too_large",
                           "the request's header section is larger than this server accepts"};
  }
  if (ec == http::error::body_limit) {
    return framing_refusal{http::status::payload_too_large, "body_too_large",
                           "the request body is larger than this server accepts"};
  }
  if (ec.category() != http::make_error_code(http::error::bad_method).category() ||
      ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return std::nullopt;  // the peer went away
  }
  // Everything else the parser refuses: both Content-Length and Transfer-Encoding, two different
  // Content-Lengths, a bad chunk, a malformed field line, ...
  return framing_refusal{http::status::bad_request, "bad_request", "the request is not well-formed HTTP/1.1"};
}

std::optional<framing_refusal> refusal_for_request(const http::request<http::string_body>& req) {
  const std::size_t hosts = req.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && req.version() >= 11)) {
    return framing_refusal{http::status::bad_request, "bad_host",
                           "a request carries exactly one Host field (RFC 9112, section 3.2)"};
  }
  // Transfer-Encoding as the gateway takes it (probe round 50: the stand-in read an HTTP/1.0
  // chunked request, and `identity, chunked`, which the gateway refuses): nothing but one chunked
  // coding, in HTTP/1.1 only. A server behind the verifier may frame anything else otherwise.
  std::string codings;
  for (const auto& f : req.base()) {
    if (f.name() == http::field::transfer_encoding) {
      codings += codings.empty() ? "" : ",";
      codings.append(f.value().data(), f.value().size());
    }
  }
  if (!codings.empty() && req.version() < 11) {
    return framing_refusal{http::status::bad_request, "bad_request",
                           "Transfer-Encoding in an HTTP/1.0 request (RFC 9112, section 6.1: its framing is "
                           "faulty)"};
  }
  if (!codings.empty()) {
    std::size_t begin = codings.find_first_not_of(" \t");
    std::size_t end = codings.find_last_not_of(" \t");
    const std::string_view only = begin == std::string::npos
                                      ? std::string_view()
                                      : std::string_view(codings).substr(begin, end - begin + 1);
    if (!boost::beast::iequals(only, "chunked")) {
      return framing_refusal{http::status::not_implemented, "not_implemented",
                             "a request's Transfer-Encoding may only be chunked, once"};
    }
  }
  return std::nullopt;
}

}  // namespace standin
