#include "gateway/http_parser.hpp"

#include <array>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/ascii.hpp"
#include "common/canonical_path.hpp"

namespace sovgw::http {

namespace {

// Field slots reserved per head: 24 of 40 bytes stay within glibc's per-thread cache (1032 bytes;
// 32 did not, and each head's allocation took malloc's slow path). More fields still fit (the
// vector grows); SDK requests send 12-20.
constexpr std::size_t fields_reserved = 24;
static_assert(fields_reserved * sizeof(field) <= 1024);

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) {
    t[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] = true;
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    t[c] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}
constexpr auto tchar_table = make_tchar_table();

bool is_token(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (unsigned char c : s) {
    if (!tchar_table[c]) {
      return false;
    }
  }
  return true;
}

bool is_field_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = lower(c);
  }
  return out;
}

// Calls fn(item) for every comma-separated element; returns false if an element is empty.
template <typename Fn>
bool for_each_list_item(std::string_view list, Fn&& fn) {
  while (true) {
    std::size_t comma = list.find(',');
    std::string_view item = trim_ows(list.substr(0, comma));
    if (item.empty() || !fn(item)) {
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    list.remove_prefix(comma + 1);
  }
}

bool parse_decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 18) {  // 18 digits < 2^63: no overflow possible
    return false;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// uri-host [ ":" port ] (RFC 3986 reg-name or IP-literal; percent-encoding allowed in reg-name).
bool is_valid_host(std::string_view h) {
  if (h.empty()) {
    return false;
  }
  std::string_view host = h;
  std::string_view port;
  if (h.front() == '[') {
    std::size_t close = h.find(']');
    if (close == std::string_view::npos || close == 1) {
      return false;
    }
    for (char c : h.substr(1, close - 1)) {
      bool ok =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!ok) {
        return false;
      }
    }
    std::string_view rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      port = rest.substr(1);
    }
    host = {};
  } else {
    std::size_t colon = h.rfind(':');
    if (colon != std::string_view::npos) {
      host = h.substr(0, colon);
      port = h.substr(colon + 1);
      if (host.empty()) {
        return false;
      }
    }
  }
  for (char c : host) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  if (port.size() > 5) {
    return false;
  }
  for (char c : port) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool known_method(std::string_view m) {
  return m == "GET" || m == "POST" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
         m == "PATCH";
}

constexpr std::array<bool, 256> make_field_value_table() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
  }
  return t;
}
constexpr auto field_value_table = make_field_value_table();

// The first byte in [p, end) that is not a field-value character (a control character other than
// HTAB, or DEL), or end. Sixteen bytes at a time where SSE2 is there (every x86-64).
const char* skip_field_value(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i below_space = _mm_set1_epi8(static_cast<char>(0x20 ^ 0x80));  // c < 0x20, signed after flip
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i bad = _mm_cmplt_epi8(_mm_xor_si128(v, flip), below_space);
    bad = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), bad);
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, del));
    const int mask = _mm_movemask_epi8(bad);
    if (mask != 0) {
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    }
    p += 16;
  }
#endif
  while (p < end && field_value_table[static_cast<unsigned char>(*p)]) {
    ++p;
  }
  return p;
}

// The field line at the start of `block` when it is well-formed: a token, ':', a value of
// field-value characters and CRLF. One pass; false (nothing consumed) for anything else, which
// field_line_error() then names.
bool well_formed_field_line(std::string_view& block, field& out) {
  const char* const begin = block.data();
  const char* const end = begin + block.size();
  const char* p = begin;
  while (p < end && tchar_table[static_cast<unsigned char>(*p)]) {
    ++p;
  }
  if (p == begin || p == end || *p != ':') {
    return false;
  }
  const char* const colon = p++;
  while (p < end && (*p == ' ' || *p == '\t')) {
    ++p;
  }
  const char* const value = p;
  p = skip_field_value(p, end);
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
    return false;
  }
  const char* value_end = p;
  while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) {
    --value_end;
  }
  out.name = std::string_view(begin, static_cast<std::size_t>(colon - begin));
  out.value = std::string_view(value, static_cast<std::size_t>(value_end - value));
  out.id = identify_field(out.name);
  block.remove_prefix(static_cast<std::size_t>(p + 2 - begin));
  return true;
}

// Splits `head` (ending in CRLFCRLF) into lines without their CRLF, after the first line.
parse_error parse_fields(std::string_view fields_block, std::size_t max_fields, message_head& out) {
  out.fields.reserve(std::min<std::size_t>(max_fields, fields_reserved));
  field f;
  while (!fields_block.empty()) {
    if (fields_block.starts_with("\r\n")) {
      break;  // the empty line that ends the head
    }
    if (well_formed_field_line(fields_block, f)) {
      if (out.fields.size() >= max_fields) {
        return parse_error::too_many_fields;
      }
      out.fields.push_back(f);
      continue;
    }
    // Not well-formed: name exactly what is wrong, in this order.
    std::size_t eol = fields_block.find("\r\n");
    std::string_view line = fields_block.substr(0, eol);
    fields_block.remove_prefix(eol == std::string_view::npos ? fields_block.size() : eol + 2);
    if (line.empty()) {
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return parse_error::obs_fold;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return parse_error::bad_field_name;
    }
    std::string_view name = line.substr(0, colon);
    if (name.back() == ' ' || name.back() == '\t') {
      return parse_error::space_before_colon;
    }
    if (!is_token(name)) {
      return name.find('\r') != std::string_view::npos ? parse_error::bare_cr : parse_error::bad_field_name;
    }
    std::string_view value = trim_ows(line.substr(colon + 1));
    for (unsigned char c : value) {
      if (!is_field_value_char(c)) {
        return c == '\r' ? parse_error::bare_cr : parse_error::bad_field_value;
      }
    }
    if (out.fields.size() >= max_fields) {
      return parse_error::too_many_fields;
    }
    out.fields.push_back(field{name, value, identify_field(name)});
  }
  return parse_error::none;
}

// Content-Length: every element of every field line must be the same decimal number.
// Content-Type is a singleton (RFC 9110 8.3): given twice, or as a list ("text/plain,
// application/json"), one reader takes the first media type, another the last, another any that is
// JSON (the OpenAI SDKs test for `application/json` anywhere in it), so the gateway's reading (the
// detectors', the usage meter's) and the other side's could differ (probe round 46). A ',' inside a
// quoted parameter is no list.
parse_error content_type_of(const message_head& head) {
  const field* seen = nullptr;
  for (const field& f : head.fields) {
    if (f.id != field_id::content_type) {
      continue;
    }
    if (seen != nullptr) {
      return parse_error::ambiguous_content_type;
    }
    seen = &f;
    const std::string_view type = std::string_view(f.value).substr(0, f.value.find(';'));
    if (type.find(',') != std::string_view::npos) {
      return parse_error::ambiguous_content_type;
    }
  }
  return parse_error::none;
}

parse_error content_length_of(const message_head& head, bool& present, std::uint64_t& length) {
  present = false;
  for (const field& f : head.fields) {
    if (f.id != field_id::content_length) {
      continue;
    }
    bool ok = for_each_list_item(f.value, [&](std::string_view item) {
      std::uint64_t v = 0;
      if (!parse_decimal(item, v)) {
        return false;
      }
      if (present && v != length) {
        return false;
      }
      present = true;
      length = v;
      return true;
    });
    if (!ok) {
      return parse_error::bad_content_length;
    }
  }
  return parse_error::none;
}

// Transfer-Encoding: returns whether present and whether the final coding is chunked.
parse_error transfer_encoding_of(const message_head& head, bool& present, bool& chunked,
                                 std::size_t& codings) {
  present = false;
  chunked = false;
  codings = 0;
  for (const field& f : head.fields) {
    if (f.id != field_id::transfer_encoding) {
      continue;
    }
    present = true;
    bool ok = for_each_list_item(f.value, [&](std::string_view item) {
      if (chunked) {
        return false;  // nothing may follow chunked, and chunked never twice
      }
      ++codings;
      chunked = iequals(item, "chunked");
      return chunked || is_token(item);
    });
    if (!ok) {
      return parse_error::bad_transfer_encoding;
    }
  }
  return parse_error::none;
}

void read_connection(message_head& out) {
  out.keep_alive = out.version_minor >= 1;
  for (const field& f : out.fields) {
    if (f.id != field_id::connection) {
      continue;
    }
    (void)for_each_list_item(f.value, [&](std::string_view item) {
      if (iequals(item, "close")) {
        out.keep_alive = false;
      } else if (iequals(item, "keep-alive")) {
        if (out.version_minor == 0) {
          out.keep_alive = true;
        }
      } else {
        out.connection_tokens.push_back(to_lower(item));
      }
      return true;
    });
  }
}

}  // namespace

int status_for(parse_error e) {
  switch (e) {
    case parse_error::request_line_too_long:
      return 414;
    case parse_error::head_too_large:
    case parse_error::too_many_fields:
      return 431;
    case parse_error::method_not_implemented:
    case parse_error::transfer_encoding_not_implemented:
      return 501;
    case parse_error::version_not_supported:
      return 505;
    case parse_error::unsupported_expectation:
      return 417;
    case parse_error::body_too_large:
      return 413;
    default:
      return 400;
  }
}

std::string_view describe(parse_error e) {
  switch (e) {
    case parse_error::none:
      return "no error";
    case parse_error::bare_lf:
      return "line ends in a bare LF; HTTP/1.1 lines end in CRLF";
    case parse_error::bare_cr:
      return "bare CR in the message";
    case parse_error::request_line_too_long:
      return "request line exceeds the configured limit";
    case parse_error::head_too_large:
      return "request header section exceeds the configured limit";
    case parse_error::too_many_fields:
      return "too many header fields";
    case parse_error::bad_request_line:
      return "malformed request line";
    case parse_error::bad_method:
      return "request method is not a valid token";
    case parse_error::method_not_implemented:
      return "request method is not supported by this gateway";
    case parse_error::bad_target:
      return "malformed request target";
    case parse_error::non_canonical_target:
      return "the request path is not in canonical form (empty or dot segments, a segment ending in '.' or a "
             "space, percent-encoded unreserved characters, ':', '@', sub-delimiters, slashes, ';', '?' or "
             "'#', "
             "encoded bytes that are not UTF-8, or ';' parameters); send the plain path";
    case parse_error::bad_version:
      return "malformed HTTP version";
    case parse_error::version_not_supported:
      return "HTTP version not supported; use HTTP/1.1";
    case parse_error::obs_fold:
      return "obsolete line folding in a header field";
    case parse_error::space_before_colon:
      return "whitespace between a header field name and the colon";
    case parse_error::bad_field_name:
      return "invalid header field name";
    case parse_error::underscore_in_field_name:
      return "a header field name with '_': many servers read it as the same field as the name with '-' "
             "(X_Api_Key as X-Api-Key), which the gateway would not have checked; use '-'";
    case parse_error::connection_names_checked_field:
      return "the Connection field names a field the gateway acts on (Content-Type, Host, Authorization, "
             "Sovereign-*, ...): a hop-by-hop option cannot remove what the gateway checked";
    case parse_error::bad_field_value:
      return "invalid character in a header field value";
    case parse_error::missing_host:
      return "HTTP/1.1 request without a Host header field";
    case parse_error::duplicate_host:
      return "more than one Host header field";
    case parse_error::bad_host:
      return "invalid Host header field";
    case parse_error::bad_content_length:
      return "invalid or conflicting Content-Length";
    case parse_error::ambiguous_content_type:
      return "Content-Type given more than once, or as a list: its media type is ambiguous; send one";
    case parse_error::content_length_and_transfer_encoding:
      return "both Content-Length and Transfer-Encoding present";
    case parse_error::bad_transfer_encoding:
      return "Transfer-Encoding must end with a single chunked coding";
    case parse_error::transfer_encoding_in_http10:
      return "Transfer-Encoding in an HTTP/1.0 message (RFC 9112 section 6.1: its framing is faulty); send "
             "HTTP/1.1, or a Content-Length";
    case parse_error::transfer_encoding_not_implemented:
      return "transfer coding not supported; use chunked only";
    case parse_error::unsupported_expectation:
      return "unsupported Expect value; only 100-continue is supported";
    case parse_error::bad_chunk_size:
      return "invalid chunk size";
    case parse_error::chunk_size_overflow:
      return "chunk size too large";
    case parse_error::bad_chunk_extension:
      return "invalid chunk extension";
    case parse_error::chunk_extension_too_long:
      return "chunk extension longer than 4096 bytes";
    case parse_error::chunk_missing_crlf:
      return "chunk data not followed by CRLF";
    case parse_error::bad_trailer:
      return "invalid trailer section";
    case parse_error::too_many_trailer_fields:
      return "too many trailer fields (more than limits.max_headers)";
    case parse_error::sovereign_field_in_trailer:
      return "a Sovereign-* field in the trailer section: the gateway reads Sovereign-Data-Class in the "
             "head only, so a class declared after the body would be lost; send it in the head";
    case parse_error::body_too_large:
      return "request body exceeds the configured limit";
    case parse_error::bad_status_line:
      return "malformed status line";
  }
  return "unknown error";
}

parse_error check_canonical_path(std::string_view path) {
  switch (canonical_path_form(path)) {
    case path_form::canonical:
      return parse_error::none;
    case path_form::malformed:
      return parse_error::bad_target;
    case path_form::not_canonical:
      break;
  }
  return parse_error::non_canonical_target;
}

bool iequals(std::string_view a, std::string_view b) { return ascii_iequals(a, b); }

std::string_view target_path(const message_head& head) {
  return std::string_view(head.target).substr(0, head.target.find('?'));
}

bool path_is(const message_head& head, std::string_view path) { return iequals(target_path(head), path); }

bool path_under(const message_head& head, std::string_view prefix) {
  const std::string_view path = target_path(head);
  return path.size() >= prefix.size() && iequals(path.substr(0, prefix.size()), prefix);
}

bool path_ends_with(const message_head& head, std::string_view suffix) {
  std::string_view path = target_path(head);
  if (path.size() > 1 && path.ends_with('/')) {
    path.remove_suffix(1);
  }
  return path.size() >= suffix.size() && iequals(path.substr(path.size() - suffix.size()), suffix);
}

const field* message_head::find(std::string_view name) const {
  for (const field& f : fields) {
    if (iequals(f.name, name)) {
      return &f;
    }
  }
  return nullptr;
}

const field* message_head::find(field_id id) const {
  for (const field& f : fields) {
    if (f.id == id) {
      return &f;
    }
  }
  return nullptr;
}

bool is_hop_by_hop(const message_head& head, std::string_view name) {
  return is_hop_by_hop(head, field{name, {}, identify_field(name)});
}

bool is_hop_by_hop(const message_head& head, const field& f) {
  if (hop_by_hop_id(f.id)) {
    return true;
  }
  const std::string_view name = f.name;
  for (const std::string& token : head.connection_tokens) {
    if (iequals(name, token)) {
      return true;
    }
  }
  return false;
}

void head_scanner::reset() {
  scanned_ = 0;
  line_start_ = 0;
  head_end_ = 0;
  fields_start_ = 0;
  first_line_done_ = false;
  started_ = false;
  error_ = parse_error::none;
}

head_scanner::state head_scanner::scan(std::string_view buffer) {
  if (!buffer.empty()) {
    started_ = true;
  }
  while (true) {
    const void* found = scanned_ < buffer.size()
                            ? std::memchr(buffer.data() + scanned_, '\n', buffer.size() - scanned_)
                            : nullptr;
    if (found == nullptr) {
      scanned_ = buffer.size();
      if (!first_line_done_ && buffer.size() - line_start_ > limits_.max_request_line) {
        error_ = is_request_ ? parse_error::request_line_too_long : parse_error::bad_status_line;
        return state::error;
      }
      // The header section (after the first line) is bounded by itself: a short request line does
      // not lend its unused allowance to the fields.
      if (first_line_done_ ? buffer.size() - fields_start_ > limits_.max_head_bytes
                           : buffer.size() > limits_.max_head_bytes + limits_.max_request_line) {
        error_ = parse_error::head_too_large;
        return state::error;
      }
      return state::need_more;
    }
    std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(found) - buffer.data());
    if (lf == 0 || buffer[lf - 1] != '\r') {
      error_ = parse_error::bare_lf;
      return state::error;
    }
    std::size_t line_len = lf - 1 - line_start_;
    if (!first_line_done_) {
      if (line_len == 0) {
        error_ = is_request_ ? parse_error::bad_request_line : parse_error::bad_status_line;
        return state::error;
      }
      if (line_len > limits_.max_request_line) {
        error_ = is_request_ ? parse_error::request_line_too_long : parse_error::bad_status_line;
        return state::error;
      }
      first_line_done_ = true;
      fields_start_ = lf + 1;
    } else if (line_len == 0) {
      head_end_ = lf + 1;
      scanned_ = lf + 1;
      return state::complete;
    }
    line_start_ = lf + 1;
    scanned_ = lf + 1;
    if (line_start_ - fields_start_ > limits_.max_head_bytes) {
      error_ = parse_error::head_too_large;
      return state::error;
    }
  }
}

parse_error parse_request_head(std::string raw, const limits& lim, message_head& out) {
  out = message_head{};
  out.raw = std::move(raw);
  std::string_view s = out.raw;
  std::size_t eol = s.find("\r\n");
  if (eol == std::string_view::npos) {
    return parse_error::bad_request_line;
  }
  std::string_view line = s.substr(0, eol);
  if (line.find('\r') != std::string_view::npos) {
    return parse_error::bare_cr;
  }
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) {
    return parse_error::bad_request_line;
  }
  out.method = line.substr(0, sp1);
  if (!is_token(out.method)) {
    return parse_error::bad_method;
  }
  std::string_view rest = line.substr(sp1 + 1);
  std::size_t sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos || sp2 == 0) {
    return parse_error::bad_request_line;
  }
  std::string_view target = rest.substr(0, sp2);
  std::string_view version = rest.substr(sp2 + 1);
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f || c == '#') {
      return parse_error::bad_target;
    }
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return parse_error::bad_version;
  }
  if (version[5] != '1') {
    return parse_error::version_not_supported;
  }
  out.version_minor = version[7] - '0';
  if (!known_method(out.method)) {
    return parse_error::method_not_implemented;
  }
  std::string_view authority;
  if (target.front() == '/') {
    out.target = target;
  } else if (target == "*") {
    if (out.method != "OPTIONS") {
      return parse_error::bad_target;
    }
    out.target = target;
  } else {
    std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos ||
        !(iequals(target.substr(0, scheme_end), "http") || iequals(target.substr(0, scheme_end), "https"))) {
      return parse_error::bad_target;
    }
    std::string_view after = target.substr(scheme_end + 3);
    std::size_t path_start = after.find_first_of("/?");
    authority = after.substr(0, path_start);
    if (authority.empty() || authority.find('@') != std::string_view::npos || !is_valid_host(authority)) {
      return parse_error::bad_target;
    }
    out.target = path_start == std::string_view::npos ? std::string_view("/") : after.substr(path_start);
    if (out.target.front() == '?') {
      return parse_error::bad_target;
    }
  }
  // A target that is not canonical is refused once the rest of the head is read (a malformed one
  // at once): the head is whole, so the answer's receipt is bound to the request line and Host the
  // client sent (probe round 50: its receipt was bound to no request).
  parse_error not_canonical = parse_error::none;
  if (out.target != "*") {
    not_canonical = check_canonical_path(out.target.substr(0, out.target.find('?')));
    if (not_canonical == parse_error::bad_target) {
      return not_canonical;
    }
  }
  if (parse_error e = parse_fields(s.substr(eol + 2), lim.max_fields, out); e != parse_error::none) {
    return e;
  }

  int hosts = 0;
  for (field& f : out.fields) {
    if (f.name.find('_') != std::string_view::npos) {
      return parse_error::underscore_in_field_name;
    }
    if (f.id == field_id::unlisted && name_listed(f.name, lim.forward_fields)) {
      f.id = field_id::other;  // the configuration sends it to clusters
    }
    if (f.id == field_id::host) {
      ++hosts;
      out.host = f.value;
    }
  }
  if (hosts > 1) {
    return parse_error::duplicate_host;
  }
  if (hosts == 0 && out.version_minor >= 1) {
    return parse_error::missing_host;
  }
  if (hosts == 1 && !is_valid_host(out.host)) {
    return parse_error::bad_host;
  }
  if (!authority.empty()) {
    out.host = authority;
  }

  bool has_cl = false;
  bool has_te = false;
  bool chunked = false;
  std::size_t codings = 0;
  if (parse_error e = content_type_of(out); e != parse_error::none) {
    return e;
  }
  if (parse_error e = content_length_of(out, has_cl, out.content_length); e != parse_error::none) {
    return e;
  }
  if (parse_error e = transfer_encoding_of(out, has_te, chunked, codings); e != parse_error::none) {
    return e;
  }
  if (has_te && has_cl) {
    return parse_error::content_length_and_transfer_encoding;
  }
  if (has_te) {
    if (out.version_minor == 0) {
      return parse_error::transfer_encoding_in_http10;
    }
    if (!chunked) {
      return parse_error::bad_transfer_encoding;
    }
    if (codings > 1) {
      return parse_error::transfer_encoding_not_implemented;
    }
    out.framing = body_framing::chunked;
  } else if (has_cl) {
    out.framing = body_framing::content_length;
  }
  read_connection(out);
  for (const std::string& token : out.connection_tokens) {
    const field_id id = identify_field(token);  // a claim is dropped either way: naming it changes nothing
    if (id != field_id::other && id != field_id::client_claim && id != field_id::unlisted &&
        !hop_by_hop_id(id)) {
      return parse_error::connection_names_checked_field;
    }
  }
  if (const field* expect = out.find(field_id::expect)) {
    if (!iequals(expect->value, "100-continue")) {
      return parse_error::unsupported_expectation;
    }
    out.expect_continue = out.version_minor >= 1;
  }
  if (not_canonical != parse_error::none) {
    return not_canonical;
  }
  // Last: a head that is sound but announces too large a body is whole, so the gateway can tell
  // who sent it (its API key) before it answers 413.
  if (out.framing == body_framing::content_length && out.content_length > lim.max_body_bytes) {
    return parse_error::body_too_large;
  }
  return parse_error::none;
}

parse_error parse_response_head(std::string raw, std::string_view request_method, message_head& out) {
  out = message_head{};
  out.raw = std::move(raw);
  std::string_view s = out.raw;
  std::size_t eol = s.find("\r\n");
  if (eol == std::string_view::npos) {
    return parse_error::bad_status_line;
  }
  std::string_view line = s.substr(0, eol);
  // "HTTP/1.x SP 3DIGIT [SP reason]"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ') {
    return parse_error::bad_status_line;
  }
  out.version_minor = line[7] - '0';
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      return parse_error::bad_status_line;
    }
    status = status * 10 + (line[i] - '0');
  }
  // RFC 9110 section 15: values outside 100..599 are invalid (a client cannot tell their class).
  if (status < 100 || status > 599 || (line.size() > 12 && line[12] != ' ')) {
    return parse_error::bad_status_line;
  }
  out.status = status;
  out.reason = line.size() > 13 ? line.substr(13) : std::string_view();
  for (unsigned char c : out.reason) {
    if (!is_field_value_char(c)) {
      return parse_error::bad_status_line;
    }
  }
  if (parse_error e = parse_fields(s.substr(eol + 2), 1000, out); e != parse_error::none) {
    return e;
  }
  bool has_cl = false;
  bool has_te = false;
  bool chunked = false;
  std::size_t codings = 0;
  if (parse_error e = content_type_of(out); e != parse_error::none) {
    return e;
  }
  if (parse_error e = content_length_of(out, has_cl, out.content_length); e != parse_error::none) {
    return e;
  }
  if (parse_error e = transfer_encoding_of(out, has_te, chunked, codings); e != parse_error::none) {
    return e;
  }
  if (has_te && out.version_minor == 0) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a proxy before the
    // cluster may read it to the close); refused as in a request (probe round 46: relayed, and the
    // connection went back to the pool).
    return parse_error::transfer_encoding_in_http10;
  }
  if (has_te && (codings > 1 || !chunked)) {
    // The gateway asks for no transfer coding (it sends no TE): a gzip'd body would reach the
    // client undecoded (Transfer-Encoding is hop-by-hop) and its usage could not be read.
    return parse_error::transfer_encoding_not_implemented;
  }
  if (has_te && has_cl) {
    // Refused as in a request (RFC 9112 6.3: "ought to be handled as an error"): a cluster, or a
    // proxy before it, that frames one response two ways may read the next one differently from
    // the gateway, and the connection would go back to the pool (probe round 40).
    return parse_error::content_length_and_transfer_encoding;
  }
  read_connection(out);
  if (request_method == "HEAD" || status < 200 || status == 204 || status == 304) {
    out.framing = body_framing::none;
  } else if (has_te) {
    out.framing = chunked ? body_framing::chunked : body_framing::until_close;
  } else if (has_cl) {
    out.framing = body_framing::content_length;
  } else {
    out.framing = body_framing::until_close;
  }
  if (out.framing == body_framing::until_close) {
    out.keep_alive = false;
  }
  return parse_error::none;
}

namespace {

// Chunk extensions as RFC 9112 7.1.1 writes them, after the size: *( BWS ";" BWS name
// [ BWS "=" BWS ( token / quoted-string ) ] ), and white space at the end.
bool valid_chunk_extensions(std::string_view ext) {
  std::size_t i = 0;
  const auto blank = [&] {
    while (i < ext.size() && (ext[i] == ' ' || ext[i] == '\t')) {
      ++i;
    }
  };
  const auto token = [&] {
    const std::size_t from = i;
    while (i < ext.size() && tchar_table[static_cast<unsigned char>(ext[i])]) {
      ++i;
    }
    return i > from;
  };
  while (true) {
    blank();
    if (i == ext.size()) {
      return true;
    }
    if (ext[i] != ';') {
      return false;
    }
    ++i;
    blank();
    if (!token()) {
      return false;
    }
    blank();
    if (i < ext.size() && ext[i] == '=') {
      ++i;
      blank();
      if (i < ext.size() && ext[i] == '"') {
        for (++i; i < ext.size() && ext[i] != '"'; ++i) {
          if (ext[i] == '\\') {
            ++i;
          }
        }
        if (i >= ext.size()) {
          return false;
        }
        ++i;
      } else if (!token()) {
        return false;
      }
    }
  }
}

}  // namespace

chunk_decoder::state chunk_decoder::feed(std::string_view in, std::size_t& consumed, std::string& out) {
  constexpr std::size_t max_line = 4096;
  constexpr std::size_t max_trailer = 64 * 1024;
  std::size_t i = 0;
  consumed = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    switch (phase_) {
      case phase::size: {
        const int v = hex_digit_value(static_cast<char>(c));
        if (v >= 0) {
          if (size_digits_ >= 16) {
            return fail(parse_error::chunk_size_overflow);
          }
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(v);
          ++size_digits_;
          ++i;
        } else if (size_digits_ == 0) {
          return fail(parse_error::bad_chunk_size);
        } else if (c == ';' || c == ' ' || c == '\t') {
          phase_ = phase::size_ext;
          line_bytes_ = 0;
          ext_.clear();
          ext_.push_back(static_cast<char>(c));
          ++i;
        } else if (c == '\r') {
          phase_ = phase::size_lf;
          ++i;
        } else {
          return fail(parse_error::bad_chunk_size);
        }
        break;
      }
      case phase::size_ext:
        if (c == '\r') {
          if (!valid_chunk_extensions(ext_)) {
            return fail(parse_error::bad_chunk_extension);
          }
          phase_ = phase::size_lf;
        } else if (!is_field_value_char(c)) {
          return fail(parse_error::bad_chunk_extension);
        } else if (++line_bytes_ > max_line) {
          return fail(parse_error::chunk_extension_too_long);
        } else {
          ext_.push_back(static_cast<char>(c));
        }
        ++i;
        break;
      case phase::size_lf:
        if (c != '\n') {
          return fail(parse_error::bad_chunk_size);
        }
        ++i;
        size_digits_ = 0;
        if (remaining_ > max_body_ - total_) {
          return fail(parse_error::body_too_large);
        }
        if (remaining_ == 0) {
          phase_ = phase::trailer;
          line_bytes_ = 0;
          trailer_line_empty_ = true;
          trailer_seen_cr_ = false;
        } else {
          phase_ = phase::data;
        }
        break;
      case phase::data: {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
        out.append(in.data() + i, n);
        i += n;
        remaining_ -= n;
        total_ += n;
        if (remaining_ == 0) {
          phase_ = phase::data_cr;
        }
        break;
      }
      case phase::data_cr:
        if (c != '\r') {
          return fail(parse_error::chunk_missing_crlf);
        }
        phase_ = phase::data_lf;
        ++i;
        break;
      case phase::data_lf:
        if (c != '\n') {
          return fail(parse_error::chunk_missing_crlf);
        }
        phase_ = phase::size;
        ++i;
        break;
      case phase::trailer:
        if (++line_bytes_ > max_trailer) {
          return fail(parse_error::bad_trailer);
        }
        ++i;
        if (trailer_seen_cr_) {
          if (c != '\n') {
            return fail(parse_error::bad_trailer);
          }
          trailer_seen_cr_ = false;
          if (trailer_line_empty_) {
            phase_ = phase::done;
            consumed = i;
            return state::done;
          }
          trailer_line_empty_ = true;
        } else if (c == '\r') {
          if (!trailer_line_empty_ && !trailer_colon_) {
            return fail(parse_error::bad_trailer);  // a trailer line is a field: name ':' value
          }
          trailer_seen_cr_ = true;
        } else if (c == '\n' || !is_field_value_char(c) || (trailer_line_empty_ && (c == ' ' || c == '\t'))) {
          return fail(parse_error::bad_trailer);
        } else {
          if (trailer_line_empty_) {
            if (++trailer_fields_ > max_fields_) {
              return fail(parse_error::too_many_trailer_fields);
            }
            trailer_in_name_ = true;
            trailer_colon_ = false;
            trailer_sovereign_ = 0;
          }
          trailer_line_empty_ = false;
          constexpr std::string_view sovereign = "sovereign-";
          if (trailer_in_name_ && c == ':') {
            trailer_in_name_ = false;
            trailer_colon_ = true;
            if (request_ && trailer_sovereign_ == sovereign.size()) {
              return fail(parse_error::sovereign_field_in_trailer);
            }
          } else if (trailer_in_name_ && !tchar_table[c]) {
            return fail(parse_error::bad_trailer);
          } else if (trailer_in_name_ && trailer_sovereign_ < sovereign.size() &&
                     ((c | (c >= 'A' && c <= 'Z' ? 0x20 : 0)) == sovereign[trailer_sovereign_] ||
                      (c == '_' && sovereign[trailer_sovereign_] == '-'))) {  // CGI-style Sovereign_
            ++trailer_sovereign_;
          } else if (trailer_in_name_ && trailer_sovereign_ < sovereign.size()) {
            trailer_sovereign_ = sovereign.size() + 1;  // spells something else: never again
          }
        }
        break;
      case phase::done:
        consumed = i;
        return state::done;
    }
  }
  consumed = i;
  return phase_ == phase::done ? state::done : state::need_more;
}

}  // namespace sovgw::http
