#include "classify/mime_decoding.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>

#include "common/ascii.hpp"
#include "common/utf8.hpp"

namespace sovgw::classify {
namespace {

// The value of a base64 character, -1 for any other; '-' and '_' only `url_safe`.
int base64_value(char c, bool url_safe) noexcept {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+' || (url_safe && c == '-')) {
    return 62;
  }
  if (c == '/' || (url_safe && c == '_')) {
    return 63;
  }
  return -1;
}

bool text_bytes(std::string_view s) noexcept {
  return s.find('\0') == std::string_view::npos && first_invalid_utf8(s) == std::string_view::npos;
}

// `s` in lower case without the separators charset names are written with, into `buffer`
// (longer names are no charset's: cut, they match none).
std::string_view charset_key(std::string_view s, std::array<char, 64>& buffer) noexcept {
  std::size_t n = 0;
  for (const char c : s.substr(0, buffer.size())) {
    if (c != '-' && c != '_' && c != '.' && c != ' ' && c != ':') {
      buffer[n++] = ascii_lower(c);
    }
  }
  return {buffer.data(), n};
}

bool all_digits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void decode_base64_lenient(std::string_view in, bool url_safe, std::string& out) {
  std::uint32_t bits = 0;
  int n = 0;  // characters in the current group of four
  const auto flush = [&] {
    if (n == 2) {
      out += static_cast<char>(bits >> 4);
    } else if (n == 3) {
      out += static_cast<char>(bits >> 10);
      out += static_cast<char>(bits >> 2);
    }
    bits = 0;
    n = 0;
  };
  for (const char c : in) {
    if (c == '=') {
      if (n >= 2) {
        flush();
      }
      continue;
    }
    const int v = base64_value(c, url_safe);
    if (v < 0) {
      continue;
    }
    bits = bits << 6 | static_cast<std::uint32_t>(v);
    if (++n == 4) {
      out += static_cast<char>(bits >> 16);
      out += static_cast<char>(bits >> 8);
      out += static_cast<char>(bits);
      bits = 0;
      n = 0;
    }
  }
  flush();
}

void decode_quoted_printable(std::string_view in, std::string& out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
      continue;
    }
    if (i + 2 < in.size() && hex_digit_value(in[i + 1]) >= 0 && hex_digit_value(in[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit_value(in[i + 1]) * 16 + hex_digit_value(in[i + 2]));
      i += 2;
      continue;
    }
    std::size_t k = i + 1;
    while (k < in.size() && (in[k] == ' ' || in[k] == '\t')) {
      ++k;
    }
    if (k < in.size() && in[k] == '\r') {
      ++k;
    }
    if (k == in.size() || in[k] == '\n') {
      i = k;  // a soft line break
      continue;
    }
    out += '=';
  }
}

std::optional<std::string> decode_encoded_words(std::string_view text, std::string_view* unread_charset) {
  if (unread_charset != nullptr) {
    *unread_charset = {};
  }
  if (text.find("=?") == std::string_view::npos) {
    return std::nullopt;  // the usual value: no copy of it
  }
  std::string out;
  bool any = false;
  bool after_word = false;  // only blanks since the last word's end
  // The next "?=" and line break at or after where they were last looked for: each is searched
  // for once per occurrence, not once per "=?" (linear in a text of "=?a?q?" without an end).
  std::size_t close = text.find("?=");
  std::size_t line_break = text.find('\n');
  const auto next = [&](std::size_t& memo, std::string_view what, std::size_t from) {
    if (memo != std::string_view::npos && memo < from) {
      memo = text.find(what, from);
    }
    return memo;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = text.find("=?", i);
    const std::size_t q = start == std::string_view::npos ? start : text.find('?', start + 2);
    const std::size_t end = q == std::string_view::npos || q + 3 >= text.size() || text[q + 2] != '?'
                                ? std::string_view::npos
                                : next(close, "?=", q + 3);
    const char encoding = end == std::string_view::npos ? '\0' : ascii_lower(text[q + 1]);
    if (start == std::string_view::npos || (encoding != 'q' && encoding != 'b') ||
        next(line_break, "\n", start) < end) {
      const std::size_t to = start == std::string_view::npos ? text.size() : start + 2;
      out.append(text.substr(i, to - i));
      after_word = false;
      i = to;
      continue;
    }
    const std::string_view gap = text.substr(i, start - i);
    if (!after_word || gap.find_first_not_of(" \t") != std::string_view::npos) {
      out.append(gap);
    }
    // RFC 2231 section 5: charset*language.
    const std::string_view charset = text.substr(start + 2, q - start - 2);
    if (unread_charset != nullptr && unread_charset->empty() &&
        charset_reading_of(charset.substr(0, charset.find('*'))) == charset_reading::unread) {
      *unread_charset = charset;
    }
    const std::string_view payload = text.substr(q + 3, end - q - 3);
    if (encoding == 'q') {
      for (std::size_t j = 0; j < payload.size(); ++j) {
        if (payload[j] == '_') {
          out += ' ';
        } else if (payload[j] == '=' && j + 2 < payload.size() && hex_digit_value(payload[j + 1]) >= 0 &&
                   hex_digit_value(payload[j + 2]) >= 0) {
          out += static_cast<char>(hex_digit_value(payload[j + 1]) * 16 + hex_digit_value(payload[j + 2]));
          j += 2;
        } else {
          out += payload[j];
        }
      }
    } else {
      decode_base64_lenient(payload, false, out);
    }
    any = true;
    after_word = true;
    i = end + 2;
  }
  return any ? std::optional(std::move(out)) : std::nullopt;
}

charset_reading charset_reading_of(std::string_view charset) noexcept {
  std::array<char, 64> buffer{};
  const std::string_view k = charset_key(charset, buffer);
  static constexpr std::string_view ascii[] = {
      "",          "utf8",     "utf8sig", "usascii",   "ascii",      "us",        "ansix341968",
      "iso646us",  "csascii",  "binary",  "macintosh", "macroman",   "xmacroman", "gb2312",
      "gbk",       "gb18030",  "euccn",   "eucjp",     "euckr",      "euctw",     "big5",
      "big5hkscs", "shiftjis", "sjis",    "xsjis",     "windows31j", "mskanji",   "ksc56011987",
      "tis620",    "viscii",   "cseuckr", "csshiftjis"};
  // The DOS and Windows code pages that keep ASCII (not the EBCDIC ones: 037, 273, 500, 1140...).
  static constexpr std::string_view code_pages[] = {"437", "737", "775", "850", "852", "855", "857",
                                                    "858", "860", "861", "862", "863", "864", "865",
                                                    "866", "869", "874", "932", "936", "949", "950"};
  const auto number_after = [&](std::string_view prefix) {
    return k.starts_with(prefix) && all_digits(k.substr(prefix.size()));
  };
  if (std::find(std::begin(ascii), std::end(ascii), k) != std::end(ascii) || number_after("iso8859") ||
      k == "koi8r" || k == "koi8u" || k == "koi8ru" || number_after("latin") || number_after("windows125") ||
      number_after("cp125") || k == "windows874") {
    return charset_reading::ascii;
  }
  for (const std::string_view prefix : {"cp", "ibm", "windows"}) {
    if (k.starts_with(prefix) && std::find(std::begin(code_pages), std::end(code_pages),
                                           k.substr(prefix.size())) != std::end(code_pages)) {
      return charset_reading::ascii;
    }
  }
  if (k.starts_with("utf16") || k.starts_with("utf32") || k.starts_with("ucs2") || k.starts_with("ucs4") ||
      k == "unicode" || k == "unicodefffe" || k == "csunicode" || k == "iso10646ucs2") {
    return charset_reading::wide;
  }
  return charset_reading::unread;
}

namespace {

// A data: URI at in[at] ("data:" already matched): its end, and what its data decodes to read into
// `out`; npos when it is not one.
std::size_t read_data_uri(std::string_view in, std::size_t at, std::string& scratch, written_binary& out,
                          std::string& next_level) {
  std::size_t j = at + 5;
  const std::size_t limit = std::min(in.size(), j + 256);
  while (j < limit && in[j] != ',' &&
         ((std::isalnum(static_cast<unsigned char>(in[j])) != 0) ||
          std::string_view("!#$&^_.+-/;=%\"").find(in[j]) != std::string_view::npos)) {
    ++j;
  }
  if (j >= limit || in[j] != ',') {
    return std::string_view::npos;
  }
  const std::string_view meta = in.substr(at + 5, j - at - 5);
  const bool base64 = meta.size() >= 7 && ascii_iequals(meta.substr(meta.size() - 7), ";base64");
  std::size_t end = j + 1;
  scratch.clear();
  if (base64) {
    // Browsers drop ASCII white space from base64 data (forgiving-base64 decode).
    while (end < in.size() && (base64_value(in[end], true) >= 0 || in[end] == '=' || in[end] == ' ' ||
                               in[end] == '\t' || in[end] == '\r' || in[end] == '\n' || in[end] == '\f')) {
      ++end;
    }
    decode_base64_lenient(in.substr(j + 1, end - j - 1), false, scratch);
  } else {
    while (end < in.size() && std::string_view(" \t\r\n\"'<>()`").find(in[end]) == std::string_view::npos) {
      ++end;
    }
    const std::string_view data = in.substr(j + 1, end - j - 1);
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (data[i] == '%' && i + 2 < data.size() && hex_digit_value(data[i + 1]) >= 0 &&
          hex_digit_value(data[i + 2]) >= 0) {
        scratch += static_cast<char>(hex_digit_value(data[i + 1]) * 16 + hex_digit_value(data[i + 2]));
        i += 2;
      } else {
        scratch += data[i];
      }
    }
  }
  if (!text_bytes(scratch)) {
    out.found = true;
  } else if (!scratch.empty()) {
    next_level += scratch;
    next_level += '\n';
  }
  return end;
}

}  // namespace

bool starts_with_file_signature(std::string_view base64) noexcept {
  // PNG, JPEG, GIF, PDF, RIFF (WebP, WAV, AVI), TIFF (both byte orders), ZIP (docx, xlsx, odt),
  // Ogg, FLAC, MP3 with an ID3 tag: their signatures as base64 writes them.
  static constexpr std::string_view signatures[] = {"iVBORw0KGgo", "/9j/",   "R0lGOD", "JVBERi0",
                                                    "UklGR",       "SUkqAA", "TU0AKg", "UEsDBA",
                                                    "T2dnUw",      "ZkxhQw", "SUQz"};
  return std::any_of(std::begin(signatures), std::end(signatures),
                     [&](std::string_view s) { return base64.starts_with(s); });
}

namespace {

// Whether the run at in[start] is the signature of a JWT or another JWS in compact form
// ("eyJ...header.eyJ...claims.signature"): random bytes (RS256's 256, a 4096-bit key's 512), not
// data a model reads; the claims before it are read as base64 text (probe round 31: a token
// pasted into a question was opaque). The token is looked back for within 8 KiB.
bool jws_signature(std::string_view in, std::size_t start) {
  if (start == 0 || in[start - 1] != '.') {
    return false;
  }
  std::size_t k = start - 1;
  int dots = 0;
  while (k > 0 && start - k < 8192) {
    const char c = in[k - 1];
    if (c == '.') {
      ++dots;
    } else if (base64_value(c, true) < 0) {
      break;
    }
    --k;
  }
  return dots == 1 && in.substr(k).starts_with("eyJ");
}

// Whether a base64 run of `in` at least min_binary_base64 bytes long decodes to bytes that are not
// text (above).
bool long_binary_base64(std::string_view in, std::string& scratch) {
  const auto run_char = [](char c) { return base64_value(c, true) >= 0; };
  for (std::size_t i = 0; i < in.size();) {
    if (!run_char(in[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    std::size_t chars = 0;
    bool hex = true;       // hex digits (a digest), with '-' (UUIDs) too
    bool url_safe = false;
    std::size_t width = 0;  // of the first line, when wrapped
    while (true) {
      const std::size_t line = i;
      for (; i < in.size() && run_char(in[i]); ++i) {
        hex = hex && (hex_digit_value(in[i]) >= 0 || in[i] == '-');
        url_safe = url_safe || in[i] == '-' || in[i] == '_';
      }
      chars += i - line;
      std::size_t pad = 0;
      while (i < in.size() && in[i] == '=' && pad < 2) {
        ++i;
        ++pad;
      }
      width = width == 0 ? i - line : width;
      // Wrapped: the line ends here, and the next one goes on. Encoders wrap at one width (76 in
      // MIME, 64 in PEM): every line but the last is as long as the first, which a list of names,
      // paths or ids one per line is not (probe round 31: pod names and paths read as binary).
      std::size_t k = i;
      k += k < in.size() && in[k] == '\r' ? 1 : 0;
      if (pad == 0 && i - line >= 16 && i - line == width && k < in.size() && in[k] == '\n' &&
          k + 1 < in.size() && run_char(in[k + 1])) {
        i = k + 1;
        continue;
      }
      break;
    }
    // Its decoded length (342 characters and "==" are 256 bytes); or a file format's signature at
    // its start, at any length from 16 characters: a 1-bit PNG of a line of text, which an OCR
    // model reads, is under 256 bytes (probe round 31).
    if (!hex && !jws_signature(in, start) && (chars * 3 / 4 >= min_binary_base64 || (chars >= 16 && starts_with_file_signature(in.substr(start))))) {
      scratch.clear();
      decode_base64_lenient(in.substr(start, i - start), url_safe, scratch);
      if (!text_bytes(scratch)) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

void read_written_binary(std::string_view text, written_binary& out) {
  out.found = false;
  out.text.clear();
  static thread_local std::string scratch;
  static thread_local std::string levels[2];  // what the data: URIs of one level decode to
  std::string_view in = text;
  for (std::size_t depth = 0; depth < 3 && !in.empty(); ++depth) {
    if (long_binary_base64(in, scratch)) {
      out.found = true;
      return;
    }
    std::string& next = levels[depth % 2];
    next.clear();
    for (std::size_t at = 0; (at = in.find(':', at)) != std::string_view::npos;) {
      const std::size_t begin = at >= 4 ? at - 4 : 0;
      if (at < 4 || !ascii_iequals(in.substr(begin, 4), "data") ||
          (begin > 0 && std::isalnum(static_cast<unsigned char>(in[begin - 1])) != 0)) {
        ++at;
        continue;
      }
      const std::size_t end = read_data_uri(in, begin, scratch, out, next);
      at = end == std::string_view::npos ? at + 1 : std::max(end, at + 1);
    }
    if (out.found) {
      return;
    }
    out.text += next;
    in = next;
  }
}

}  // namespace sovgw::classify
