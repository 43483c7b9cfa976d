// Inspection time grows linearly with the text: a client must not be able to hold a worker thread
// with a small body. Each case is a 512 KiB text of one repeated unit chosen to hit a detector's or
// a decoding pass's worst case (letters and digits alternating inside one word, '&' with no ';',
// "<!--" with no "-->", honorifics before capitalised words, ...), read by every detector, by the
// encoded-text pass and by the JSON inspector (one string, and an array of short strings).
//
// There is no clock here: with linear passes the whole suite takes a few seconds; a quadratic one
// takes hours on these inputs, and the test's TIMEOUT (tests/unit/classify/CMakeLists.txt, ten
// times the linear run at the least) stops it as a failure.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "classify/detectors.hpp"
#include "classify/json_body.hpp"
#include "classify/mime_decoding.hpp"
#include "classify/multipart.hpp"

using namespace sovgw::classify;

namespace {

constexpr std::size_t size = 512 * 1024;

std::string repeated(std::string_view unit, std::size_t bytes) {
  std::string out;
  out.reserve(bytes + unit.size());
  while (out.size() < bytes) {
    out += unit;
  }
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

// Units that reached a pass's worst case once (each is a regression test) or that look like one.
// No control characters (the inspector's JSON string): "\\n" is a raw body's line break.
constexpr std::string_view units[] = {"a1",
                                      "1a",
                                      "aZ1",
                                      "a*1",
                                      "a`1",
                                      "0x",
                                      "ab12",
                                      "A1B2",
                                      "x1y2z3",
                                      "1e",
                                      "FR76",
                                      "NL91",
                                      "&",
                                      "&#",
                                      "&#x",
                                      "&nbsp",
                                      "&shy;",
                                      "&ZeroWidthSpaceZeroWidthSpaceZeroWidth",
                                      "<!--",
                                      "<!--a",
                                      "<a ",
                                      "<",
                                      "Mr ",
                                      "Dr. ",
                                      "Ab Cd ",
                                      "@",
                                      "a@",
                                      "a.",
                                      "aa@bb.",
                                      "1 ",
                                      "1-",
                                      "+1 ",
                                      "%",
                                      "%2",
                                      "=",
                                      "\\u",
                                      "\\x",
                                      "\\\\",
                                      "[at]",
                                      " at ",
                                      "1.1.1.1 ",
                                      "::1:",
                                      "QUJD",
                                      "QUJD ",  // base64 in groups (probe round 29): one long chain
                                      "QUJD\\r\\n",
                                      "YW ",
                                      "a b ",
                                      "616c ",
                                      "2024 ",   // hex of text, but a list of numbers
                                      "5L q6 ",  // a token boundary inside a character
                                      "BSN 1 ",
                                      "PESEL (",
                                      "PESEL 44051401359, ",
                                      "PESEL,",
                                      "nr;pesel\\n1;44051401359\\n",
                                      "| PESEL |\\n|---|\\n| 1 |\\n",
                                      "From: Ab Cd, Ef;\\n",
                                      "To: Ab\\nSubject: x\\n",
                                      "Attendees: Ab Cd, ",
                                      "**Name:** <b>",
                                      "Name: Ab\\nSteps: 3\\n",
                                      "my  name\\tis Ab ",
                                      "<b>Nom</b>__:__ ",
                                      "Ab Cd (x), ",
                                      "Best regards,\\n",
                                      "Thanks,\\nAb ",
                                      "\"first_name\": \"",
                                      "\"name\": {\"given\": [\"Ab\", ",
                                      "name\\ngiven\\nAb\\n",
                                      "IMEI 4111111111111111 ",
                                      "030 1234567-",
                                      "\xe2\x9d\x96",  // a mark outside ASCII: a blank to the detectors
                                      "\xe2\x80\xa8",
                                      "a\xe2\x80\x8b"
                                      "1",
                                      "4111 1111 1111 1111 x 4111\xf3\xa0\x81\xb8"  // read twice: tags
                                      "1111 1111 1111 x ",
                                      "\xd0\x92\xd0\x95"  // lookalikes beside digits: read for an IBAN
                                      "68 ",
                                      "a  ",
                                      "a\xcc\x81 ",
                                      "NI 1 ",  // national id labels, their values, wrapped ids
                                      "personnummer ",
                                      "tax  id  ",
                                      "\xd0\x95\xd0\x93\xd0\x9d 1",
                                      "070985-",
                                      "85.07.30-",
                                      "Part number 12345678Z ",
                                      "RSSMRA\\n",
                                      "1 85\\n",
                                      "| 4210 | 3875 | 4390 | 4527 ",  // table rows, ports, ids: no card
                                      "4040 4041 4042 4043 ",
                                      "dd.trace_id=4986947095633979044 ",
                                      "\xe5\x9b\x9b\xe4\xb8\x80",  // CJK numerals: digits
                                      "Diagnostic cell B12 ",
                                      "ICD ",
                                      "Hauptdiagnose ",  // compounds ending in a cue (probe round 48)
                                      "adiag",
                                      "adiagno",
                                      "a\xc3\x9c",
                                      "a\xc3\x9c\x64iag",
                                      "I.C.D. ",
                                      "ICD 10 ",
                                      "\xce\x94\xce\xb9\xce\xac",  // Διά
                                      "Patientin Ab Cd ",
                                      "Name des Patienten: ",
                                      "97,",  // byte values as numbers (probe round 32)
                                      "97, 1, ",
                                      ",4111111111111110.75",  // JSON values a server prints otherwise
                                      ",-4.111111111111117e18",
                                      "0x61,",
                                      "61,6c,",
                                      "01100001 ",
                                      "4lll",  // letters for digits (probe round 33: quadratic once)
                                      "4lll ",
                                      "0O",
                                      "l4",
                                      "'a',",  // one-character list items
                                      "a,",
                                      "'a' , ",
                                      "0b01100001 "};

}  // namespace

TEST_SUITE("linear") {
  TEST_CASE("every pass reads a 1 MiB adversarial text in linear time") {
    json_inspector inspector;
    inspection out;
    const std::uint32_t all = implemented_detectors();
    for (const std::string_view unit : units) {
      CAPTURE(unit);
      const std::string text = repeated(unit, size);
      (void)detect(text, all);
      (void)detect_encoded(text, all);
      (void)find_all(text, all);
      inspector.inspect(R"({"model":"m","messages":[{"role":"user","content":)" + json_string(text) + "}]}",
                        {all, true}, out);
      CHECK(out.error == body_error::none);
      std::string items = R"({"model":"m","prompt":[)";
      for (std::size_t i = 0; i < size / 8; ++i) {
        items += (i == 0 ? "" : ",") + json_string(unit);
      }
      inspector.inspect(items + "]}", {all, true}, out);
      CHECK(out.error == body_error::none);
    }
  }

  TEST_CASE(
      "line wraps, and an output constraint's regex or grammar, are read in linear time (probe round 32)") {
    json_inspector inspector;
    inspection out;
    const std::uint32_t all = implemented_detectors();
    // A JSON string of `text`, its line breaks escaped.
    const auto with_line_breaks = [](std::string_view text) {
      std::string out = "\"";
      for (const char c : text) {
        out += c == '\n'               ? std::string("\\n")
               : c == '"' || c == '\\' ? std::string("\\") + c
                                       : std::string(1, c);
      }
      return out + "\"";
    };
    for (const std::string_view unit : {"a-\n", "1-\n1", "a\n.a", "-\n-\n", "a-\n  "}) {
      CAPTURE(unit);
      inspector.inspect(R"({"model":"m","messages":[{"role":"user","content":)" +
                            with_line_breaks(repeated(unit, size)) + "}]}",
                        {all, true}, out);
      CHECK(out.error == body_error::none);
    }
    for (const std::string_view unit : {"(",
                                        ")",
                                        "(a|",
                                        "a|",
                                        "|",
                                        "[",
                                        "[a-",
                                        "[\\",
                                        "\\Q",
                                        "(?<",
                                        "(?i)",
                                        "{1,",
                                        "\"a\" ",
                                        "\"",
                                        "a ::= b\n",
                                        "b ",
                                        "r ::= r r r r\n",
                                        "/a/ ",
                                        "# \n",
                                        "a: \"1\" b\nb: a a\n",
                                        "x ::= \"4111 \" x\n",
                                        "4111|",
                                        "a{256}",
                                        "(a){256}",
                                        "((a){99}){99}",
                                        "\"1\"~99 ",
                                        "\"1\"{256} ",
                                        "[4-4]"}) {
      CAPTURE(unit);
      const std::string text = with_line_breaks(repeated(unit, size));
      for (const std::string_view key : {"guided_regex", "guided_grammar"}) {
        inspector.inspect(R"({"model":"m","messages":[],")" + std::string(key) + "\":" + text + "}",
                          {all, true}, out);
        CHECK(out.error == body_error::none);
      }
    }
  }

  TEST_CASE("a multipart body is read in linear time, however many parts, sections or near-delimiters") {
    // Each body is 512 KiB of one unit after a head; the reader, its decodings and the search
    // for binary written as text read it.
    struct body_case {
      std::string_view head;
      std::string_view unit;
      std::string_view type;
    };
    const std::string long_boundary(1000, 'b');
    const std::string near_delimiter = "--" + long_boundary.substr(1) + "c\n";
    const std::string long_type = "multipart/form-data; boundary=" + long_boundary;
    const body_case cases[] = {
        {"", "--b\r\n\r\nx\r\n", "multipart/form-data; boundary=b"},  // parts
        {"", "--b\n", "multipart/form-data; boundary=b"},             // empty parts
        {"--b\r\nContent-Disposition: form-data; name*0=a", "; name*9*=%41",
         "multipart/form-data; boundary=b"},
        {"--b\r\nContent-Disposition: form-data; name=", "\"a\\\"", "multipart/form-data; boundary=b"},
        {"--b\r\nX: ", "=?a?q?x", "multipart/form-data; boundary=b"},  // encoded words that never end
        {"--b\r\nX: ", "=?", "multipart/form-data; boundary=b"},
        {"--b\r\n", "X: y\r\n", "multipart/form-data; boundary=b"},  // a header without its end
        {"--b\r\n", " folded\r\n", "multipart/form-data; boundary=b"},
        {"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n", "QUJD\r\n", "multipart/form-data; boundary=b"},
        {"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", "=\r\n",
         "multipart/form-data; boundary=b"},
        {"", near_delimiter, long_type},    // lines that almost delimit
        {"", "--", "multipart/form-data"},  // the boundary from the first line
        {"", "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n", "multipart/form-data; boundary=b"},
        {"", "data:", "text/plain"},
        {"", "data:;base64,", "text/plain"},
        {"", "data:,%", "text/plain"},
        {"", "QUJDREVGR0hJSktMTU5PUFFS\n", "text/plain"},  // wrapped base64 of text
        {"", "0123456789abcdef", "text/plain"},
    };
    mime_reader reader;
    mime_reading reading;
    written_binary binary;
    for (const body_case& c : cases) {
      CAPTURE(c.unit);
      const std::string body = std::string(c.head) + repeated(c.unit, size);
      reader.read(body, c.type, reading);
      read_written_binary(body, binary);
      read_written_binary(reading.text, binary);
      (void)decode_encoded_words(body);
      CHECK(reading.text.size() <= 2 * body.size() + reading.parts + 16);
    }
  }

  TEST_CASE("numbers across line breaks are read in linear time") {
    const std::uint32_t all = implemented_detectors();
    for (const std::string_view unit :
         {"4210\n", "Card 4111 1111\n", "4111\n", "+49\n30\n", "4210\t3875\n"}) {
      CAPTURE(unit);
      const std::string text = repeated(unit, size);
      (void)detect(text, all);
      (void)find_all(text, all);
    }
  }
}
