#pragma once

// The decodings a server's MIME, mail and form libraries apply to what a client sends, written as
// the lenient ones read it, so that the detectors read what the cluster's code reads: base64
// (RFC 2045 6.8, as Python's email and binascii, Node's Buffer and browsers' data: URLs decode it),
// quoted-printable content (RFC 2045 6.7), RFC 2047 encoded words, how a charset writes ASCII; and
// binary data written as text (data: URIs, RFC 2397, and long base64), which a server decodes into
// bytes that the gateway cannot read (opaque_content). Pure functions, linear in their input; each
// output is at most its input's size.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sovgw::classify {

// Appends to `out` what `in` decodes to as lenient base64 decoders read it: every character outside
// the alphabet dropped (line breaks, spaces, '*'), '=' ends a group of four (or is dropped where no
// group can end: decoding goes on after it, as for concatenated base64), and a last partial group
// decoded as far as it goes. `url_safe`: '-' and '_' are 62 and 63 (Node's Buffer reads both
// alphabets) rather than dropped (Python's email).
void decode_base64_lenient(std::string_view in, bool url_safe, std::string& out);

// Appends to `out` the content of a quoted-printable part as a MIME library decodes it: =XX (hex
// in either case) as the byte, a soft line break ('=' at a line's end, white space between them
// allowed) as nothing, anything else (a malformed '=') as written.
void decode_quoted_printable(std::string_view in, std::string& out);

// RFC 2047 encoded words ("=?UTF-8?Q?alice.smith=40ex?= =?UTF-8?Q?ample.com?="), decoded as mail
// and log libraries decode them: a Q word's '_' as a space and its =XX as the byte, a B word as
// lenient base64 (missing padding too), and the white space between two adjacent words dropped
// (section 6.2), so that a value split over words is read whole. nullopt when `text` holds none.
// `unread_charset`, when given, is set to the charset of the first word that charset_reading_of()
// says is not read as text (empty when none).
[[nodiscard]] std::optional<std::string> decode_encoded_words(std::string_view text,
                                                              std::string_view* unread_charset = nullptr);

// How the detectors can read text in a charset (an IANA name or alias, in any case; '-', '_', '.'
// and spaces ignored: "UTF8", "utf_8", "Latin-1").
enum class charset_reading : std::uint8_t {
  // UTF-8, and the charsets that write ASCII as ASCII bytes (US-ASCII, ISO-8859-*, windows-125*,
  // the DOS code pages, KOI8, Mac Roman, the CJK EUC and GB charsets, Big5, Shift_JIS), and
  // "binary": what is ASCII is read as written; anything else is not UTF-8, so opaque_content.
  ascii,
  // UTF-16 and UTF-32 (UCS-2, UCS-4, "unicode"): text the detectors cannot read, opaque_content.
  wide,
  // Any other (UTF-7, EBCDIC, ISO-2022-*, HZ, a name the gateway does not know): ASCII text written
  // as other ASCII ("alice.smith+AEA-example.com") or other bytes; the gateway refuses it.
  unread
};
[[nodiscard]] charset_reading charset_reading_of(std::string_view charset) noexcept;

// Binary data written as text, as a server decodes it: a data: URI (RFC 2397, `data:[<media
// type>][;base64],<data>`, not after a letter or a digit) whose data decodes (base64, or
// percent-encoding) to bytes that are not UTF-8 text; or a base64 run of at least
// min_binary_base64 decoded bytes, or of 16 characters or more that starts with a file format's
// signature (its lines joined when it is wrapped, as encoders wrap it: lines of one width, 16
// characters or more, the last one shorter or not) that decodes to such bytes and is not hex,
// with dashes or not (a hash, a UUID is not binary data). What a data: URI decodes to that is text is appended to `text`
// (each followed by '\n'), and searched again, three levels deep (an SVG's own data: URIs).
inline constexpr std::size_t min_binary_base64 = 256;
// Whether base64 starts with a file format's signature (PNG, JPEG, GIF, PDF, RIFF, TIFF, ZIP, Ogg,
// FLAC, ID3): such a run is binary data from 16 characters on, whatever its length.
[[nodiscard]] bool starts_with_file_signature(std::string_view base64) noexcept;
struct written_binary {
  bool found = false;  // binary data written as text
  std::string text;    // what data: URIs that hold text decode to
};
void read_written_binary(std::string_view text, written_binary& out);

}  // namespace sovgw::classify
