// The MIME reader and its decodings (classify/multipart.hpp, classify/mime_decoding.hpp): what a
// server's multipart reader decodes is read decoded, and what the gateway cannot decode is an error
// that names the part (probe round 29).
#include "classify/multipart.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "classify/form_fields.hpp"
#include "classify/mime_decoding.hpp"

using namespace sovgw::classify;

namespace {

// A multipart body of parts, each its header lines (CRLF-terminated) and content.
std::string body_of(std::initializer_list<std::pair<std::string_view, std::string_view>> parts,
                    std::string_view boundary = "b0", std::string_view eol = "\r\n") {
  std::string out;
  for (const auto& [head, content] : parts) {
    out += std::string("--") + std::string(boundary) + std::string(eol) + std::string(head) +
           std::string(eol) + std::string(content) + std::string(eol);
  }
  return out + "--" + std::string(boundary) + "--" + std::string(eol);
}

mime_reading read(std::string_view body, std::string_view type = "multipart/form-data; boundary=b0") {
  mime_reader reader;
  mime_reading out;
  reader.read(body, type, out);
  return out;
}

bool has_name(const mime_reading& r, std::string_view name) {
  for (std::size_t i = 0; i < r.name_count(); ++i) {
    if (r.name(i) == name) {
      return true;
    }
  }
  return false;
}

constexpr std::string_view address = "alice.smith@example.com";

}  // namespace

TEST_CASE("a part's header values are read decoded: RFC 2231 sections joined, RFC 2047 words") {
  struct row {
    std::string_view head;
    std::string_view expected;  // in the text
  };
  const row rows[] = {
      {"Content-Disposition: form-data; name=\"file\"; filename*0*=UTF-8''alice.smi; filename*1*=th%40exam; "
       "filename*2=\"ple.com.txt\"\r\n",
       "alice.smith@example.com.txt"},
      // in their numbers' order, whatever the order written
      {"Content-Disposition: form-data; name=\"f\"; filename*1*=th%40exam; filename*0*=UTF-8''alice.smi; "
       "filename*2=ple.com\r\n",
       "alice.smith@example.com"},
      {"Content-Disposition: form-data; name=\"f\"; filename*=utf-8'en'alice.smith%40example.com\r\n",
       address},
      {"Content-Disposition: form-data; name=\"f\"; filename=\"=?UTF-8?Q?alice.smith=40ex?= "
       "=?UTF-8?Q?ample.com?=\"\r\n",
       address},
      {"Content-Disposition: form-data; name=\"f\"; filename=\"=?UTF-8?B?YWxpY2Uu?= =?UTF-8?B?c21pdGhA?= "
       "=?UTF-8?B?ZXhhbXBs?= =?UTF-8?B?ZS5jb20=?=\"\r\n",
       address},
      {"Content-Disposition: form-data; name=\"f\"; filename=\"alice.smith\\@example.com\"\r\n", address},
      // folded over lines, as MIME libraries unfold it
      {"Content-Disposition: form-data; name=\"f\";\r\n filename=\"=?UTF-8?Q?alice.smith=40ex?=\r\n "
       "=?UTF-8?Q?ample.com?=\"\r\n",
       address},
      {"X-Note: =?utf-8?q?alice=2Esmith=40example=2Ecom?=\r\n", address},
  };
  for (const row& r : rows) {
    CAPTURE(r.head);
    const mime_reading out = read(body_of({{r.head, "hello"}}));
    CHECK(out.ok());
    CHECK(out.multipart);
    CHECK(out.parts == 1);
    CHECK(out.text.find(r.expected) != std::string::npos);
  }
}

TEST_CASE("form field names are read as a server's reader joins and decodes them") {
  const mime_reading out =
      read(body_of({{"Content-Disposition: form-data; name*0=\"_met\"; name*1=\"hod\"\r\n", "DELETE"},
                    {"Content-Disposition: form-data; name*=utf-8''mod%65l\r\n", "x"},
                    {"Content-Disposition: form-data; name='region'\r\n", "x"},
                    {"Content-Disposition: form-data; name=\"=?utf-8?q?api=5Fbase?=\"\r\n", "x"},
                    {"Content-Disposition: attachment; filename=\"name.txt\"\r\n", "name=\"x\""}}));
  REQUIRE(out.ok());
  CHECK(has_name(out, "_method"));
  CHECK(has_name(out, "model"));
  CHECK(has_name(out, "region"));
  CHECK(has_name(out, "api_base"));
  CHECK_FALSE(has_name(out, "x"));  // in a file's content: not a part's name
  CHECK(out.parts == 5);
}

TEST_CASE("content is read by its transfer encoding") {
  const std::string b64 =
      "V3JpdGUgdG8gYWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=";  // "Write to alice.smith@example.com"
  std::string wrapped4;
  std::string junk;
  for (std::size_t i = 0; i < b64.size(); i += 4) {
    wrapped4 += b64.substr(i, 4) + "\r\n";
    junk += b64.substr(i, 4) + "* ";
  }
  struct row {
    std::string_view encoding;
    std::string content;
  };
  const row rows[] = {
      {"base64", b64},
      {"BASE64", wrapped4},
      {" base64 ", junk},
      {"quoted-printable", "Write to alice.sm=\r\nith=40exam=\nple.com"},
      {"Quoted-Printable", "Write to alice.smith=40example.com=  \r\n"},
  };
  for (const row& r : rows) {
    CAPTURE(r.content);
    const std::string head = "Content-Disposition: form-data; name=\"n\"\r\nContent-Transfer-Encoding: " +
                             std::string(r.encoding) + "\r\n";
    const mime_reading out = read(body_of({{head, r.content}}));
    REQUIRE(out.ok());
    CHECK(out.text.find(address) != std::string::npos);
    CHECK_FALSE(out.opaque);
  }
  // Not text once decoded: opaque (the same bytes sent as they are are the raw scan's).
  const mime_reading png =
      read(body_of({{"Content-Disposition: form-data; name=\"f\"\r\nContent-Transfer-Encoding: base64\r\n",
                     "iVBORw0KGgoAAAANSUhEUg=="}}));
  CHECK(png.ok());
  CHECK(png.opaque);
  // As it is: read by the raw scan, not here.
  for (const std::string_view encoding : {"7bit", "8bit", "binary", ""}) {
    const mime_reading out = read(body_of(
        {{"Content-Transfer-Encoding: " + std::string(encoding) + "\r\n", "YWxpY2VAZXhhbXBsZS5jb20="}}));
    CHECK(out.ok());
    CHECK_FALSE(out.opaque);
    CHECK(out.text.find("alice@") == std::string::npos);
  }
}

TEST_CASE("what the gateway cannot decode is an error naming the part") {
  struct row {
    std::string_view head;
    mime_error expected;
    std::string_view message;
  };
  const row rows[] = {
      {"Content-Transfer-Encoding: x-uuencode\r\n", mime_error::transfer_encoding, "'x-uuencode'"},
      {"Content-Transfer-Encoding: base64 (ok)\r\n", mime_error::transfer_encoding, "'base64 (ok)'"},
      {"Content-Encoding: gzip\r\n", mime_error::content_encoding, "'gzip'"},
      {"Content-Type: text/plain; charset=utf-7\r\n", mime_error::charset, "'utf-7'"},
      {"Content-Type: text/plain; charset=\"UTF7\"\r\n", mime_error::charset, "'UTF7'"},
      {"Content-Type: text/plain; charset=cp037\r\n", mime_error::charset, "'cp037'"},
      {"Content-Type: text/plain; charset*=us-ascii''utf-7\r\n", mime_error::charset, "'utf-7'"},
      {"Content-Disposition: form-data; name=\"f\"; filename*=utf-7''a+AEA-b\r\n", mime_error::charset,
       "'utf-7'"},
      {"Content-Disposition: form-data; filename=\"=?UTF-7?Q?alice+AEA-example.com?=\"\r\n",
       mime_error::charset, "'UTF-7'"},
      {"Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n", mime_error::ambiguous,
       "twice"},
      {"Content-Type: multipart/mixed; boundary=x\r\nContent-Transfer-Encoding: base64\r\n",
       mime_error::transfer_encoding, "multipart/mixed"},
      {"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n",
       mime_error::transfer_encoding, "message/rfc822"},
      {"Content-Type: multipart/mixed; boundary=x; boundary=y\r\n", mime_error::ambiguous, "two boundaries"},
  };
  for (const row& r : rows) {
    CAPTURE(r.head);
    const mime_reading out =
        read(body_of({{"Content-Disposition: form-data; name=\"ok\"\r\n", "fine"},
                      {"Content-Disposition: form-data; name=\"note\"\r\n" + std::string(r.head), "text"}}));
    CHECK(out.error == r.expected);
    CHECK(out.message.find("part 2 of the multipart body") != std::string::npos);
    CHECK(out.message.find(r.message) != std::string::npos);
  }
  // Given twice alike: one reading.
  CHECK(
      read(body_of({{"Content-Transfer-Encoding: 7bit\r\ncontent-transfer-encoding: 7BIT\r\n", "x"}})).ok());
  // The charsets that write ASCII as ASCII are read; UTF-16 and UTF-32 are opaque.
  for (const std::string_view charset : {"utf-8", "UTF8", "us-ascii", "iso-8859-15", "windows-1252", "latin1",
                                         "Shift_JIS", "cp850", "koi8-r", "binary"}) {
    CAPTURE(charset);
    const mime_reading out =
        read(body_of({{"Content-Type: text/plain; charset=" + std::string(charset) + "\r\n", "x"}}));
    CHECK(out.ok());
    CHECK_FALSE(out.opaque);
  }
  for (const std::string_view charset : {"utf-16", "UTF-16LE", "utf-32be", "ucs-2"}) {
    CAPTURE(charset);
    const mime_reading out =
        read(body_of({{"Content-Type: text/plain; charset=" + std::string(charset) + "\r\n", "x"}}));
    CHECK(out.ok());
    CHECK(out.opaque);
  }
}

TEST_CASE("the body's own charset") {
  CHECK(read("alice.smith+AEA-example.com", "text/plain; charset=utf-7").error == mime_error::charset);
  CHECK(read("x", "application/x-www-form-urlencoded; charset=UTF-7").error == mime_error::charset);
  CHECK(read("x", "multipart/form-data; boundary=b0; charset=utf-7").error == mime_error::charset);
  const mime_reading wide = read("x", "text/plain; charset=utf-16");
  CHECK(wide.ok());
  CHECK(wide.opaque);
  const mime_reading plain = read("alice", "text/plain; charset=utf-8");
  CHECK(plain.ok());
  CHECK_FALSE(plain.multipart);
  CHECK(read("x", "").ok());
  CHECK(read("x", "image/png").ok());
}

TEST_CASE("nested parts are read, max_mime_depth deep") {
  const std::string inner =
      body_of({{"Content-Transfer-Encoding: base64\r\n", "YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20="}}, "inner");
  const mime_reading nested =
      read(body_of({{"Content-Disposition: form-data; name=\"files\"\r\nContent-Type: multipart/mixed; "
                     "boundary=inner\r\n",
                     inner}}));
  REQUIRE(nested.ok());
  CHECK(nested.parts == 2);
  CHECK(nested.text.find(address) != std::string::npos);
  // A message part: its header fields and its content, by its own transfer encoding.
  const mime_reading message = read(body_of({{"Content-Type: message/rfc822\r\n",
                                              "Subject: =?utf-8?q?hi?=\r\nContent-Transfer-Encoding: "
                                              "base64\r\n\r\nYWxpY2Uuc21pdGhAZXhhbXBsZS5jb20="}}));
  REQUIRE(message.ok());
  CHECK(message.text.find(address) != std::string::npos);
  // Deeper than max_mime_depth: refused; as deep: read.
  const auto nested_parts = [](std::size_t levels) {
    std::string body = body_of({{"Content-Type: text/plain\r\n", "x"}}, "l0");
    for (std::size_t k = 1; k < levels; ++k) {
      body = body_of({{"Content-Type: multipart/mixed; boundary=l" + std::to_string(k - 1) + "\r\n", body}},
                     "l" + std::to_string(k));
    }
    return read(body, "multipart/mixed; boundary=l" + std::to_string(levels - 1));
  };
  CHECK(nested_parts(max_mime_depth).ok());
  const mime_reading too_deep = nested_parts(max_mime_depth + 1);
  CHECK(too_deep.error == mime_error::too_deep);
  CHECK(too_deep.message.find("levels deep") != std::string::npos);
}

TEST_CASE("delimiters as lenient readers find them; a malformed body is read as far as it goes") {
  const std::string_view part = "Content-Transfer-Encoding: base64\n";
  // Bare LF line ends.
  const mime_reading lf = read(body_of({{part, "YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20="}}, "b0", "\n"));
  CHECK(lf.multipart);
  CHECK(lf.text.find(address) != std::string::npos);
  // No closing delimiter: the last part runs to the end.
  const mime_reading open =
      read("--b0\r\nContent-Transfer-Encoding: base64\r\n\r\nYWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=");
  CHECK(open.multipart);
  CHECK(open.text.find(address) != std::string::npos);
  // No boundary in the label, or another one: the body's first line gives it.
  for (const std::string_view type : {"multipart/form-data", "multipart/form-data; boundary=zz"}) {
    const mime_reading sniffed =
        read(body_of({{"Content-Transfer-Encoding: base64\r\n", "YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20="}}), type);
    CHECK(sniffed.multipart);
    CHECK(sniffed.text.find(address) != std::string::npos);
  }
  // A line that only begins with the boundary does not end a part; white space after one does not matter.
  const mime_reading prefixed = read("--b0 \r\n\r\nx\r\n--b0x\r\n\r\ny\r\n--b0--\t\r\nepilogue");
  CHECK(prefixed.parts == 1);
  // A delimiter line after the closing one starts a part again, as a reader that does not stop
  // there reads it.
  const mime_reading after_close = read(
      "--b0\r\n\r\nx\r\n--b0--\r\nepilogue\r\n--b0\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=\r\n--b0--\r\n");
  CHECK(after_close.parts == 2);
  CHECK(after_close.text.find(address) != std::string::npos);
  // Nothing that delimits: not multipart; no headers' end, no part header line, empty: no crash.
  for (const std::string_view body :
       {"", "--", "--b0", "no parts here", "--b0\r\nContent-Type: x", "--b0\r\n\r\n", "--b0--",
        "\r\n--b0\r\n:\r\n \r\n\r\n", "--b0\r\n folded first\r\n\r\n"}) {
    CAPTURE(body);
    const mime_reading out = read(body);
    CHECK(out.ok());
  }
  CHECK_FALSE(read("no parts here").multipart);
}

TEST_CASE("lenient base64, quoted-printable and encoded words") {
  const auto b64 = [](std::string_view in, bool url_safe = false) {
    std::string out;
    decode_base64_lenient(in, url_safe, out);
    return out;
  };
  CHECK(b64("YWxpY2U=") == "alice");
  CHECK(b64("YWxpY2U") == "alice");  // no padding
  CHECK(b64("YW*xp Y2U=\r\n") == "alice");
  CHECK(b64("YWxp=Y2U=") == "alice");  // a '=' where no group ends is dropped
  CHECK(b64("YQ==YWxp") == "aali");    // concatenated
  CHECK(b64("-_-_") == "");
  CHECK(b64("-_-_", true) == "\xfb\xff\xbf");
  const auto qp = [](std::string_view in) {
    std::string out;
    decode_quoted_printable(in, out);
    return out;
  };
  CHECK(qp("alice=40example.com") == "alice@example.com");
  CHECK(qp("alice=2esmith") == "alice.smith");
  CHECK(qp("ali=\r\nce=\nx= \t\r\ny") == "alicexy");
  CHECK(qp("a=b=4") == "a=b=4");
  CHECK(qp("end=") == "end");
  CHECK(decode_encoded_words("=?UTF-8?B?YWxpY2Uuc21pdGhAZXg?= =?utf-8?b?YW1wbGUuY29t?=") ==
        std::optional<std::string>("alice.smith@example.com"));
  CHECK_FALSE(decode_encoded_words("plain").has_value());
  std::string_view charset;
  CHECK(decode_encoded_words("=?utf-7?q?a+AEA-b?=", &charset).has_value());
  CHECK(charset == "utf-7");
  CHECK(decode_encoded_words("=?utf-8*en?q?a?=", &charset).has_value());
  CHECK(charset.empty());
  CHECK(charset_reading_of("UTF-8") == charset_reading::ascii);
  CHECK(charset_reading_of("ISO_8859-1:1987") == charset_reading::ascii);
  CHECK(charset_reading_of("utf-16be") == charset_reading::wide);
  CHECK(charset_reading_of("utf-7") == charset_reading::unread);
  CHECK(charset_reading_of("ibm037") == charset_reading::unread);
  CHECK(charset_reading_of("iso-2022-jp") == charset_reading::unread);
  CHECK(charset_reading_of("no-such-charset") == charset_reading::unread);
}

TEST_CASE("binary written as text: data: URIs and long base64") {
  const auto read_binary = [](std::string_view text) {
    written_binary out;
    read_written_binary(text, out);
    return out;
  };
  // 300 bytes that are not text, in base64 (400 characters), as it is and wrapped at 76.
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes += static_cast<char>(0x80 + i % 0x7f);
  }
  const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  for (std::size_t i = 0; i + 2 < bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<unsigned char>(bytes[i + 2]);
    for (const int shift : {18, 12, 6, 0}) {
      encoded += alphabet[(n >> shift) & 63];
    }
  }
  std::string wrapped;
  for (std::size_t i = 0; i < encoded.size(); i += 76) {
    wrapped += encoded.substr(i, 76) + "\r\n";
  }
  CHECK(read_binary("image: " + encoded).found);
  CHECK(read_binary(wrapped).found);
  CHECK_FALSE(read_binary(encoded.substr(0, 300)).found);  // under min_binary_base64 bytes
  CHECK(read_binary("data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==").found);
  CHECK(read_binary("<img src='data:;base64,iVBO Rw0K GgoA AAAN SUhE Ug=='>").found);
  CHECK(read_binary("url(data:application/octet-stream,%89PNG%00)").found);
  // Text in a data: URI is text, read again for its own data: URIs (an SVG's image).
  const written_binary text = read_binary("data:text/plain;base64,YWxpY2Uuc21pdGhAZXhhbXBsZS5jb20=");
  CHECK_FALSE(text.found);
  CHECK(text.text.find(address) != std::string::npos);
  CHECK(
      read_binary("data:image/svg+xml,%3Csvg%3E%3Cimage%20href=%22data:image/png;base64,iVBORw0KGgo=%22/%3E")
          .found);
  // Not binary: base64 of text, hex, words, "metadata:".
  CHECK_FALSE(read_binary("metadata:, x, y").found);
  std::string hashes;
  for (int i = 0; i < 10; ++i) {
    hashes += "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n";
  }
  CHECK_FALSE(read_binary(hashes).found);
  std::string words;
  for (int i = 0; i < 200; ++i) {
    words += "word\n";
  }
  CHECK_FALSE(read_binary(words).found);
  CHECK_FALSE(read_binary("The meeting is on Friday at ten, in room 4.").found);
}

TEST_CASE("a form field given more than once is read joined, raw or decoded (probe round 46)") {
  const std::string body = body_of({{"Content-Disposition: form-data; name=\"prompt\"\r\n"
                                     "Content-Transfer-Encoding: base64\r\n",
                                     "YWxpY2Uuc21pdGg="},  // alice.smith
                                    {"Content-Disposition: form-data; name=\"other\"\r\n", "x"},
                                    {"Content-Disposition: form-data; name=\"prompt\"\r\n", "@example.com"}});
  const mime_reading r = read(body);
  REQUIRE(r.ok());
  CHECK(r.repeated == "alice.smith\n@example.com\nalice.smith@example.com\n");
  // No name given twice: nothing joined.
  CHECK(read(body_of({{"Content-Disposition: form-data; name=\"a\"\r\n", "alice.smith"},
                      {"Content-Disposition: form-data; name=\"b\"\r\n", "@example.com"}}))
            .repeated.empty());
}

TEST_CASE("form-urlencoded fields given more than once are joined by name (probe round 46)") {
  form_field_joiner joiner;
  std::string out;
  join_repeated_form_fields("prompt[0]=alice.smith&n=1&prom%70t[1]=%40example.com;n=2&x", joiner, out);
  // Grouped by name (in the names' order), each group's values in their order.
  CHECK(out == "1\n2\n12\nalice.smith\n%40example.com\nalice.smith%40example.com\n");
  join_repeated_form_fields("a=alice.smith&b=%40example.com", joiner, out);
  CHECK(out.empty());
  join_repeated_form_fields("no fields here", joiner, out);
  CHECK(out.empty());
}
