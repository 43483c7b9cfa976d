#pragma once

// Text as a reader that decodes once more would see it. A JSON string may itself hold JSON (tool
// call `arguments`, a stringified document), whose escapes ("alice\u0040example.com") the cluster
// decodes before the model reads it; a body the gateway does not parse as JSON (off /v1/, not
// labelled JSON) may be percent-encoded, hold HTML character references or JSON escapes that its
// server decodes; and a model reads "alice%40example.com" or "alice&#64;example.com" in a prompt
// as the address it encodes. The detectors also scan these views (json_body.hpp,
// gateway/pipeline_classify.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.hpp"

namespace sovgw::classify {

enum unescape_forms : std::uint8_t {
  json_escapes = 1,       // \uXXXX (surrogate pairs joined), \n \t \r \b \f \/ \" \\, and a
                          // backslash before other punctuation or a space (\@, \-, "\ "), which
                          // JavaScript, JSON5, Markdown and a shell read as that character
  percent_encoding = 2,   // %XX
  html_references = 4,    // &#64; &#x40; (';' optional, as HTML 5 reads them), and every named
                          // reference of a character the detectors read: spaces, invisible and
                          // format characters, punctuation and symbols, letters that fold to
                          // ASCII, Latin letters (&commat; &shy; &ZeroWidthSpace; &thinsp; &bull;
                          // &eacute; ...; html_reference_table.inc), with their ';' or, where HTML 5
                          // reads them so, without ("&nbsp1111")
  plus_as_space = 8,      // '+' (application/x-www-form-urlencoded; not in text a model reads)
  quoted_printable = 16,  // =XX (RFC 2045; the Q encoding of RFC 2047's encoded words in header fields)
  markup = 32,            // what a model reads through as formatting: Markdown's emphasis and code
                          // marks (runs of '*' and '`', "~~"), its backslash escapes ("\@"),
                          // HTML comments ("<!-- -->") and inline tags ("<b>", "</span>",
                          // "<a href=...>"), XML CDATA sections' wrappers ("<![CDATA[" and "]]>":
                          // their content stays), processing instructions and bogus comments
                          // ("<?x?>", "<!DOCTYPE html>"), and a backslash before a line break (a
                          // line continuation), removed (an escape gives its character); other
                          // tags ("<td>", "<br>") give a space, as they separate what they sit in
  hex_escapes = 64,       // \xHH, as C, Python and JavaScript write a byte; \u{H...}, \x{H...},
                          // \UHHHHHHHH, \N{NAME}, \o{...}, octal \NNN and CSS's "\40 " of a
                          // printable ASCII character (hex_escape_at in unescape.cpp lists them)
  line_wraps = 128,       // a line break (wrap_length) between a '-', '.' or '/' and a letter or digit,
                          // removed: the lines read joined, as a reader joins them
};

// What a model reads through in any text it is given, wherever the gateway reads such text: a
// JSON string's decoded text (json_inspector::scan_nested), and a body that is not JSON, a form
// field, a multipart part, the request target and forwarded header fields
// (gateway/pipeline_classify.cpp, through json_inspector::read_text). One definition, so that the
// readings cannot drift apart (probe round 38). Markup and line wraps are read apart from these,
// around identifiers only (json_inspector::scan_markup); quoted-printable as a reading of its own.
inline constexpr std::uint8_t read_through_forms =
    json_escapes | percent_encoding | html_references | hex_escapes;

// The value of the braced digits at in[i] ('{'), in base 16 or 8, one to eight of them (leading
// zeros allowed: "\u{0000040}"), as the braced escapes write a code point (\u{...}, \x{...},
// \U{...}, \o{...}); `length` is theirs through the '}'. -1 when there is none.
[[nodiscard]] long braced_code_point_at(std::string_view in, std::size_t i, int base, std::size_t& length);

// The printable ASCII character Unicode names `name` (Python's \N{COMMERCIAL AT}, any letter
// case: "LATIN SMALL LETTER A", "DIGIT FOUR", "FULL STOP"), or named as U+H... (Perl); -1 for
// any other.
[[nodiscard]] long named_ascii(std::string_view name);

struct unescaped_text {
  std::string text;
  // origin[i]: the offset in the input of the escape (or byte) that gave text[i];
  // origin[text.size()] is the input's size.
  std::vector<std::uint32_t> origin;
};

// Where the last search for an HTML comment's end ("-->") in one text began and what it found
// (npos: none to the end): a pass over one text that asks at growing offsets reads the text once,
// not once per "<!--" (a text of nothing but "<!--" would otherwise cost 4 KiB per 4 bytes). One
// per pass over one text; a fresh one for another text.
struct comment_memo {
  std::size_t from = std::string_view::npos;
  std::size_t close = std::string_view::npos;
};

// The length of the markup (unescape_forms::markup) that starts at in[i], or 0 when none does.
std::size_t markup_length(std::string_view in, std::size_t i, comment_memo& memo);

// The length of the line wrap (unescape_forms::line_wraps) that starts at in[i], or 0: a line
// break (\n, \r\n, \r, U+0085, U+2028, U+2029), the blanks after it and the next line's quote or
// comment mark ("> ", ">> ", "// ", "# ", " * "), with a letter or digit and a mark before it
// ('-', '.', '/', '_', or a dash or full stop outside ASCII the detectors read as one: U+2010 to
// U+2013, U+2212, U+FF0D, U+FF0E) and a letter or digit after it, or a letter or digit before it
// and a mark and a letter or digit after it. Text wrapped at a width breaks a hyphenated word
// after its hyphen (Python's textwrap: "jean.dupont@cabinet-\navocats-lyon.fr") and an identifier
// where its separators are ("4111-1111-\n1111-1111", "example\n.com"); a reader, and a model, read
// the lines joined.
std::size_t wrap_length(std::string_view in, std::size_t i);

// Decodes the `forms` in `in` into `out` and returns true, or returns false (leaving `out` alone)
// when `in` holds none of them. Malformed escapes are kept as written; a \u escape that is a lone
// surrogate or NUL-to-control character decodes to nothing, as a model never reads it.
bool unescape(std::string_view in, std::uint8_t forms, unescaped_text& out);

// quoted_printable when `text` is written as mail pasted raw writes it: an '@' ("alice=40example.com"),
// an '=' (every link of an HTML mail: "card=3D4111..."), a '.' ("alice=2Esmith"), or a space
// between digits ("4111=201111"), in the upper-case hex RFC 2045 prescribes; else 0: '=' and hex
// digits are everywhere in code, so text is read as quoted-printable only then (as a reading of its
// own, beside the others).
[[nodiscard]] std::uint8_t quoted_printable_in(std::string_view text);

// Base64 a model reads through ("Mail YWxpY2VAZXhhbXBsZS5jb20="): a run of at least
// min_base64_run characters of the standard or the URL-safe alphabet (its '=' padding included)
// that decodes to text: UTF-8 (no control characters but tab and line breaks), or UTF-16 (a NUL
// in its first two bytes, or a byte order mark). Identifiers, long words and binary data (an
// image's base64) decode to bytes that are not text, and are left out. Hex that spells text is
// read too, whole ("616c6963...", 16 digits or more) or in pairs written apart ("61 6c 69 63 ...",
// "61:6c:...", eight pairs or more). Base64 and hex written in groups are read joined
// ("YWxp Y2Uu c21p dGhA ...", base64 wrapped at any width, "616c 6963 652e ..." as xxd prints it):
// words of alphabet characters (one alphabet; '=' padding ends the chain), one or two spaces, tabs
// or line breaks apart, read from any word on that starts the longest reading over two groups or
// more (the first of two characters or more), ending after a group, that decodes to UTF-8 text of
// at least 9 bytes (8 as hex; no C1 controls or private use either); hex that is a list of numbers
// ("2024 2025 2026 ...") is not read. Prose words decode to bytes that are not text within a
// character or two, almost always. What a run decodes to is searched again (encoded twice or three
// times), its inner runs' text appended to the run's after a line break. So is text written a
// character at a time ("a l i c e @ ...", spaced by spaces, tabs or Unicode spaces, in ASCII or in
// characters fold.hpp reads as ASCII), as the characters it spells and what they decode to, and
// text written as the numbers of its bytes or characters ("String.fromCharCode(97,108,...)",
// "{0x61, 0x6c, ...}": number_bytes.hpp).
inline constexpr std::size_t min_base64_run = 12;
struct base64_text {
  std::size_t begin = 0;  // the run in the input
  std::size_t end = 0;
  std::string text;  // what it decodes to
};
// Appends every such run of `in` to `out` (which is not cleared); returns how many it appended.
std::size_t find_base64_texts(std::string_view in, std::vector<base64_text>& out);

using sovgw::first_invalid_utf8;  // common/utf8.hpp

}  // namespace sovgw::classify
