#pragma once

// A MIME body read as a server's multipart reader reads it (RFC 2046 multipart/*, RFC 7578
// multipart/form-data, a message/* part as the message it holds), for the classify stage
// (gateway/pipeline_classify.cpp), which scans the body's raw bytes too and reads this as what its
// server decodes besides them. Socket-free and pure.
//
// The body is split at its delimiter lines ("--" boundary at a line's start, after CRLF or a bare
// LF, "--" after it for the last, white space allowed before the line's end), with the boundary
// of the Content-Type's `boundary` parameter, or of the body's first line when that finds none (or
// there is none: servers that take the boundary from the body read it so). Each part's header
// fields are unfolded; every value is read with its RFC 2047 encoded words decoded, and every
// parameter (in any field) with its quoting undone and its RFC 2231 continuations
// (`filename*0*=UTF-8''alice.smi; filename*1*=th%40exam`) joined in their order and
// percent-decoded. Its content is read by its Content-Transfer-Encoding: 7bit, 8bit, binary (or
// none) as it is, which the raw scan reads; quoted-printable and base64 (lenient: characters
// outside the alphabet dropped) decoded; a multipart part's parts, and a message part's header
// fields and content, read again, max_mime_depth levels deep. What cannot be read that way is an
// error: another transfer encoding (x-uuencode), a Content-Encoding (gzip), a charset whose text is
// not ASCII as the detectors read it (charset_reading::unread: UTF-7), deeper nesting, a field
// given twice with different values. A body with no delimiter line is not multipart to this
// reader: only its raw bytes are read. A last part without a closing delimiter runs to the end of
// the body.
//
// Linear in the body's size (each level of nesting reads its content once more); `text` and the
// names are each at most three readings of the body's bytes (a value as written, unquoted, with its
// encoded words decoded) and a line break per value; a reader reused for bodies of the usual shape
// allocates little (a part's name for messages).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "classify/form_fields.hpp"

namespace sovgw::classify {

// Parts in parts in ... the body: deeper is refused (mime_error::too_deep).
inline constexpr std::size_t max_mime_depth = 4;

enum class mime_error : std::uint8_t {
  none,
  transfer_encoding,  // a part's Content-Transfer-Encoding is not 7bit, 8bit, binary, quoted-printable or
                      // base64 (x-uuencode), or a multipart or message part has one but the first three
  content_encoding,   // a part's Content-Encoding is not identity (gzip)
  charset,            // a charset the detectors cannot read text in (charset_reading::unread): the body's
                      // or a part's Content-Type, an RFC 2231 value's, an RFC 2047 word's
  too_deep,           // parts nested deeper than max_mime_depth
  ambiguous,          // a part gives its Content-Type, Content-Transfer-Encoding or Content-Encoding twice,
                      // differently; a Content-Type names two boundaries
  too_many_readings   // the readings of its heads' values (folded fields, parameters, RFC 2047 words,
                      // RFC 2231 sections) would pass three times the input's size
};

struct mime_reading {
  bool multipart = false;  // a delimiter line was found: the body was read as parts
  std::size_t parts = 0;   // parts read, nested ones included
  mime_error error = mime_error::none;
  std::string message;  // for the client, with an error: which part, and what the gateway cannot read
  // What the body's server decodes besides its raw bytes, each value followed by '\n': the part
  // header fields' values with encoded words decoded (or unfolded), their parameters' values, and
  // what quoted-printable and base64 content decodes to when it is text.
  std::string text;
  // Content that decodes to bytes that are not UTF-8 text (an image in base64), or is in UTF-16 or
  // UTF-32 (charset_reading::wide): the opaque_content detector's.
  bool opaque = false;
  // Each part's form field names: Content-Disposition's `name`, as written (unquoted; RFC 2231
  // sections joined and decoded) and with its encoded words decoded.
  std::string names;
  std::vector<std::size_t> name_ends;  // names[name_ends[i-1], name_ends[i]) is the i-th
  // The contents of the parts of a form field name given to more than one part, as its server's
  // form reader lists them, read as one text (form_field_joiner::join: joined by a line break,
  // then with nothing between); empty when no name repeats.
  std::string repeated;

  [[nodiscard]] bool ok() const noexcept { return error == mime_error::none; }
  [[nodiscard]] std::size_t name_count() const noexcept { return name_ends.size(); }
  [[nodiscard]] std::string_view name(std::size_t i) const noexcept {
    const std::size_t begin = i == 0 ? 0 : name_ends[i - 1];
    return std::string_view(names).substr(begin, name_ends[i] - begin);
  }
};

// One per thread (not thread-safe); reusing it reuses its buffers.
class mime_reader {
 public:
  // Reads `body` by its Content-Type value `content_type` (empty when there is none): multipart/*
  // (found anywhere in the value, as lenient servers take it) split into parts, message/* read as a
  // message, any other checked for its charset only. `out` is overwritten.
  void read(std::string_view body, std::string_view content_type, mime_reading& out);

  // The state of one entity (the body, a part) while its header fields are read.
  struct entity_head {
    std::string type;  // Content-Type, Content-Transfer-Encoding, Content-Encoding, as given
    std::string transfer_encoding;
    std::string content_encoding;
    bool has_type = false;
    bool has_transfer_encoding = false;
    bool has_content_encoding = false;
    std::string charset;   // the Content-Type's charset parameter
    std::string boundary;  // ... and boundary
    std::string name;      // the first form field name, for messages
    std::string where;     // "part 2 of the multipart body (name 'file')", for messages
    void clear();          // as new, its buffers kept
  };
  // An RFC 2231 section of a parameter (`name*1*=...`).
  struct section {
    std::string_view attribute;  // before the first '*'
    std::size_t number = 0;
    bool extended = false;  // percent-encoded (a '*' after the number)
    std::size_t begin = 0;  // the value, unquoted, in section_values_
    std::size_t size = 0;
  };

 private:
  bool walk(std::string_view content, std::string_view boundary, std::size_t depth);
  void read_part(std::string_view part, std::size_t depth);
  bool read_content(std::string_view content, std::size_t depth);
  void read_field(std::string_view name, std::string_view value, bool folded, entity_head& head);
  void read_parameters(std::string_view value, bool disposition, entity_head& head);
  void join_sections(bool disposition, entity_head& head);
  void add_text(std::string_view value, bool as_is, entity_head& head);
  void add_name(std::string_view name);
  bool fail(mime_error e, std::string message);

  mime_reading* out_ = nullptr;
  std::size_t names_budget_ = 0;  // the names' bound: three readings of the body
  std::size_t text_budget_ = 0;  // the heads' readings' bound: three times the input (the content's reading makes four)
  std::vector<entity_head> heads_;  // one per depth
  std::vector<section> sections_;
  std::string section_values_;
  std::string field_;    // a header field's value, unfolded
  std::string value_;    // a parameter's value, unquoted
  std::string decoded_;  // content decoded
  form_field_joiner fields_;  // the named parts' contents as read
};

}  // namespace sovgw::classify
