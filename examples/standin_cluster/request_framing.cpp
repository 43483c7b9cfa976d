#include "request_framing.hpp"

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
  return std::nullopt;
}

}  // namespace standin
