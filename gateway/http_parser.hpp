#pragma once

// Strict HTTP/1.1 message framing (RFC 9110 / RFC 9112) for the gateway's both sides.
//
// Pure code: no sockets, no Asio, no allocation beyond the structures returned, so it can be fuzzed
// and tested alone. The session feeds it the bytes it has read; the parser either asks for more,
// returns a complete head, or names the exact framing error (which maps to one HTTP status).
//
// Thread-safety: none needed; every object here is owned by one connection.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/field_names.hpp"

namespace sovgw::http {

enum class parse_error : std::uint8_t {
  none,
  bare_lf,
  bare_cr,
  request_line_too_long,  // 414
  head_too_large,         // 431
  too_many_fields,        // 431
  bad_request_line,
  bad_method,
  method_not_implemented,  // 501
  bad_target,
  non_canonical_target,  // dot or empty segments, encoded unreserved chars, encoded slashes, ';'
  bad_version,
  version_not_supported,  // 505
  obs_fold,
  space_before_colon,
  bad_field_name,
  underscore_in_field_name,        // servers map '_' and '-' to the same variable (CGI, WSGI, Rack)
  connection_names_checked_field,  // Connection names a field the gateway acts on
  bad_field_value,
  missing_host,
  duplicate_host,
  bad_host,
  bad_content_length,
  ambiguous_content_type,  // given twice, or as a list: readers take different ones
  content_length_and_transfer_encoding,
  bad_transfer_encoding,
  transfer_encoding_in_http10,        // RFC 9112 6.1: faulty framing
  transfer_encoding_not_implemented,  // 501
  unsupported_expectation,            // 417
  bad_chunk_size,
  chunk_size_overflow,
  bad_chunk_extension,
  chunk_extension_too_long,  // a chunk line's extensions over 4096 bytes
  chunk_missing_crlf,
  bad_trailer,
  too_many_trailer_fields,     // more than limits.max_headers (a count bound, as the head has)
  sovereign_field_in_trailer,  // a declaration the gateway reads in the head only
  body_too_large,              // 413
  bad_status_line,
};

// The HTTP status a downstream client receives for a framing error, and a one-line reason.
[[nodiscard]] int status_for(parse_error e);
[[nodiscard]] std::string_view describe(parse_error e);

struct limits {
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_head_bytes = 64 * 1024;  // request line + all fields
  std::size_t max_fields = 100;
  std::uint64_t max_body_bytes = 10 * 1024 * 1024;
  // Bytes per second a request body must keep up on average once timeouts.request_body has passed
  // (0: no minimum): one byte every few seconds would otherwise hold a connection for ever.
  std::uint64_t min_body_rate = 1024;
  // Fields on no list that clusters are sent all the same (`forward_fields`; lower case, a
  // trailing '*' a prefix): parsed as field_id::other, not field_id::unlisted.
  std::vector<std::string> forward_fields;
};

struct field {
  std::string_view name;          // as sent (case preserved)
  std::string_view value;         // OWS trimmed
  field_id id = field_id::other;  // the name, recognised (compare this, not the name)
};

enum class body_framing : std::uint8_t { none, content_length, chunked, until_close };

// A parsed head. Views point into `raw`, which the head owns, so a head can be moved freely
// (std::string keeps its heap buffer on move; small-string heads are never produced because a head
// is always longer than the SSO capacity).
struct message_head {
  std::string raw;
  // request
  std::string_view method;
  std::string_view target;  // origin-form ("/path?q"), "*" or, from absolute-form, the path part
  std::string_view host;    // Host field, or the authority of an absolute-form target
  // response
  int status = 0;
  std::string_view reason;

  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<field> fields;
  body_framing framing = body_framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
  // Header names listed in Connection (lower-cased), which are hop-by-hop for this message.
  std::vector<std::string> connection_tokens;

  [[nodiscard]] const field* find(std::string_view name) const;
  [[nodiscard]] const field* find(field_id id) const;
};

[[nodiscard]] bool iequals(std::string_view a, std::string_view b);

// The request target's path (what precedes '?'), compared as a case-insensitive router compares
// it: a cluster that serves /V1/Chat/Completions must be metered and counted like /v1/chat/completions.
[[nodiscard]] std::string_view target_path(const message_head& head);  // the target before '?'
[[nodiscard]] bool path_is(const message_head& head, std::string_view path);
[[nodiscard]] bool path_under(const message_head& head, std::string_view prefix);
// Whether the path ends in `suffix` ("/chat/completions"), under any prefix, with or without one
// trailing slash, as a router folding both reads it.
[[nodiscard]] bool path_ends_with(const message_head& head, std::string_view suffix);

// True for the fields a proxy must never forward (RFC 9110 7.6.1) plus the names listed in the
// message's Connection field.
[[nodiscard]] bool is_hop_by_hop(const message_head& head, std::string_view name);
[[nodiscard]] bool is_hop_by_hop(const message_head& head, const field& f);

// Finds the end of a head in `buffer` incrementally. Call with the whole buffered data each time
// more arrives; it resumes where it stopped. Reports bare LF / bare CR and size limits early, before
// the head is complete, so a hostile client cannot make the gateway buffer more than the limits.
class head_scanner {
 public:
  enum class state : std::uint8_t { need_more, complete, error };
  explicit head_scanner(const limits& lim, bool is_request) : limits_(lim), is_request_(is_request) {}

  state scan(std::string_view buffer);
  [[nodiscard]] std::size_t head_size() const { return head_end_; }  // valid when complete
  [[nodiscard]] parse_error error() const { return error_; }
  [[nodiscard]] bool started() const { return started_; }
  void reset();

 private:
  const limits& limits_;
  bool is_request_;
  std::size_t scanned_ = 0;
  std::size_t line_start_ = 0;
  std::size_t head_end_ = 0;
  std::size_t fields_start_ = 0;  // where the header fields start: after the first line's CRLF
  bool first_line_done_ = false;
  bool started_ = false;
  parse_error error_ = parse_error::none;
};

// Whether the path of an origin-form target (up to '?') is canonical, so that every component that
// decodes or normalises paths (the policy's matcher, a cluster's router) sees the same path:
// no empty ("//") or dot ("." / "..") segments, no percent-encoded unreserved characters,
// slashes, backslashes, control characters or percent signs, no raw backslash, no ';' path
// parameters, and every '%' followed by two hex digits. A trailing '/' is allowed.
[[nodiscard]] parse_error check_canonical_path(std::string_view path);

// Parses a complete request head (as delimited by head_scanner, including the final CRLFCRLF).
// The target's path must be canonical (check_canonical_path). On success fills `out` and returns
// parse_error::none; body_too_large (a Content-Length over lim.max_body_bytes) comes with `out`
// filled too, as the head is otherwise sound.
[[nodiscard]] parse_error parse_request_head(std::string raw, const limits& lim, message_head& out);

// Parses a complete response head. `request_method` decides whether the response has a body.
[[nodiscard]] parse_error parse_response_head(std::string raw, std::string_view request_method,
                                              message_head& out);

// Incremental chunked-body decoder (RFC 9112 7.1). Trailer fields are validated and dropped.
class chunk_decoder {
 public:
  enum class state : std::uint8_t { need_more, done, error };
  // `request`: a client's body, whose trailer may hold no Sovereign-* field (a cluster's answer's may).
  // `max_fields`: the most trailer fields it takes (limits.max_headers for a client's body).
  explicit chunk_decoder(std::uint64_t max_body, bool request = false, std::size_t max_fields = 100)
      : max_body_(max_body), request_(request), max_fields_(max_fields) {}

  // Consumes bytes from `in`, appending decoded data to `out`. Returns how far it got in
  // `consumed`. After `done`, bytes past `consumed` belong to the next message.
  state feed(std::string_view in, std::size_t& consumed, std::string& out);
  [[nodiscard]] parse_error error() const { return error_; }
  [[nodiscard]] std::uint64_t decoded_bytes() const { return total_; }

 private:
  enum class phase : std::uint8_t { size, size_ext, size_lf, data, data_cr, data_lf, trailer, done };
  state fail(parse_error e) {
    error_ = e;
    return state::error;
  }

  std::uint64_t max_body_;
  bool request_ = false;
  std::size_t max_fields_ = 100;
  std::size_t trailer_fields_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t remaining_ = 0;
  phase phase_ = phase::size;
  int size_digits_ = 0;
  std::size_t line_bytes_ = 0;      // bytes of the current size line / trailer section
  bool trailer_line_empty_ = true;  // no byte yet on the current trailer line
  bool trailer_seen_cr_ = false;
  bool trailer_in_name_ = false;        // the current trailer line's field name is being read
  bool trailer_colon_ = false;          // ... and its colon came
  std::uint8_t trailer_sovereign_ = 0;  // how many of its first bytes spell "sovereign-"
  std::string ext_;                     // the current size line's chunk extensions, checked at its CR
  parse_error error_ = parse_error::none;
};

}  // namespace sovgw::http
