#pragma once

// How the stand-in answers a request it cannot or must not read as one HTTP/1.1 message: the
// parser's errors, a deadline that passed, and what RFC 9112 asks a server to refuse even when a
// parser accepts it. A verifier in front of vLLM/NIM must frame requests as strictly as the
// gateway does, or the request it checked is not the one the model server reads.
//
// Pure functions; the closed list of refusals is here, the I/O in main.cpp.

#include <boost/beast/http.hpp>
#include <optional>
#include <string_view>

namespace standin {

// Beast's request parser, except that a field line too long for Beast's field storage (its name or
// value over 65533 bytes) is the error header_limit: Beast throws std::length_error for it from
// inside the read, where nothing can catch it, and the server would stop.
class request_parser final : public boost::beast::http::parser<true, boost::beast::http::string_body> {
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::system::error_code& ec) override;
};

struct framing_refusal {
  boost::beast::http::status status;
  std::string_view code;     // the `code` of the JSON error body
  std::string_view message;  // its `message`
};

// The answer to a failed read of a request, or nullopt when there is nobody to answer (the peer
// closed or reset the connection). `timed_out`: the request did not arrive in time.
[[nodiscard]] std::optional<framing_refusal> refusal_for_read_error(const boost::system::error_code& ec,
                                                                    bool timed_out);

// A request the parser accepted that RFC 9112 says to refuse, or the gateway refuses: no Host or
// more than one (section 3.2; two Host fields would let the verifier check one authority and the
// application read another); Transfer-Encoding in HTTP/1.0 (section 6.1), or other than one
// chunked coding.
[[nodiscard]] std::optional<framing_refusal> refusal_for_request(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace standin
