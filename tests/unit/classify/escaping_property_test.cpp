// Properties: a JSON string is classified by what it decodes to, and an identifier by what a model
// reads. For random prompts carrying an email address, an IBAN, a payment card, a phone number, a
// person's name or a postal address, every JSON escaping of the body's strings (\uXXXX for any
// character in either hex case, surrogate pairs for characters outside the BMP, \/ and the short
// escapes, mixed at random) gives
// the same detectors, the same fields and the same redacted body as the plain form; and so does
// every Unicode disguise of the identifier (classify/fold.hpp: fullwidth forms, other scripts'
// digits, mathematical letters and digits, circled letters, Unicode spaces, invisible characters
// between its characters, tag characters), escaped or not.
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "classify/json_body.hpp"
#include "common/utf8.hpp"

using namespace sovgw::classify;
using sovgw::append_utf8;

namespace {

using rng = std::mt19937;

std::size_t pick(rng& r, std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(r); }

std::string digits(rng& r, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<char>('0' + pick(r, 10)));
  }
  return out;
}

std::string letters(rng& r, std::size_t n, char first = 'a') {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<char>(first + pick(r, 26)));
  }
  return out;
}

std::string grouped(const std::string& s, std::size_t every) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && i % every == 0) {
      out.push_back(' ');
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string email(rng& r) {
  std::string local = letters(r, 1 + pick(r, 8));
  if (pick(r, 2) == 0) {
    local += (pick(r, 2) == 0 ? "." : "_") + letters(r, 1 + pick(r, 6)) + digits(r, pick(r, 3));
  }
  // An address ends in a top-level domain there is (the detector knows them).
  static const char* const tlds[] = {"com", "org", "net", "eu",   "de",    "fr",     "it",
                                     "es",  "nl",  "pl",  "info", "email", "online", "io"};
  return local + "@" + letters(r, 3 + pick(r, 6)) + (pick(r, 2) == 0 ? "." + letters(r, 4) : "") + "." +
         tlds[pick(r, std::size(tlds))];
}

std::string iban(rng& r) {
  const std::string bban = digits(r, 18);
  int rem = 0;
  for (const char c : bban + "131400") {  // D=13 E=14, check digits 00
    rem = (rem * 10 + (c - '0')) % 97;
  }
  const int check = 98 - rem;
  const std::string s = "DE" + std::string(1, static_cast<char>('0' + check / 10)) +
                        std::string(1, static_cast<char>('0' + check % 10)) + bban;
  return pick(r, 2) == 0 ? s : grouped(s, 4);
}

std::string card(rng& r) {
  std::string s = "4" + digits(r, 14);
  int sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {  // the check digit will be rightmost: double from the end
    int d = s[s.size() - 1 - i] - '0';
    if (i % 2 == 0) {
      d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    }
    sum += d;
  }
  s.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return pick(r, 2) == 0 ? s : grouped(s, 4);
}

std::string phone(rng& r) {
  switch (pick(r, 3)) {
    case 0:
      return "+33 6 " + grouped(digits(r, 8), 2);
    case 1:
      return "+49-30-" + digits(r, 7);
    default:
      return "0044 20 " + digits(r, 8);
  }
}

// A name (detect_names.cpp), ASCII: disguised() reads ASCII. The detector finds it after a cue
// (person_cue) and redacts the name only.
std::string person(rng& r) {
  static const std::vector<std::string> first = {"Jeanne", "Max", "Ana", "Jan", "O'Neil", "Jean-Luc"};
  static const std::vector<std::string> last = {"Dupont", "Mustermann", "Rossi", "de Vries", "Kowalski"};
  return first[pick(r, first.size())] + " " + last[pick(r, last.size())];
}

std::string person_cue(rng& r) {
  static const std::vector<std::string> cues = {"Madame", "Mr",         "Herr",         "Signora",
                                                "Pani",   "my name is", "je m'appelle", "Name:"};
  return cues[pick(r, cues.size())] + " ";
}

// A street and its number, sometimes with a postal code and town (detect_addresses.cpp).
std::string address(rng& r) {
  const std::string n = std::to_string(1 + pick(r, 300));
  switch (pick(r, 5)) {
    case 0:
      return n + " rue de la Paix, 75002 Paris";
    case 1:
      return "Hauptstrasse " + n;
    case 2:
      return "Via Roma " + n + ", 00184 Roma";
    case 3:
      return n + "B Baker Street, London NW1 6XE";
    default:
      return "Keizersgracht " + n + ", 1015 CJ Amsterdam";
  }
}

// Filler words, with non-ASCII ones (2-, 3- and 4-byte UTF-8) and characters JSON must escape.
const std::vector<std::string> words = {"Bonjour",
                                        "please",
                                        "write",
                                        "to",
                                        "caf\xc3\xa9",
                                        "na\xc3\xafve",
                                        "Gr\xc3\xbc\xc3\x9f\x65",
                                        "\xe2\x82\xac",
                                        "\xe6\x97\xa5\xe6\x9c\xac",
                                        "\xf0\x9f\x98\x80",
                                        "a/b",
                                        "\"quoted\"",
                                        "back\\slash",
                                        "line\nbreak",
                                        "tab\there",
                                        "cr\rlf",
                                        "\b\f",
                                        "\x01",
                                        "ok.",
                                        "merci,"};

std::string prompt(rng& r, std::string_view identifier) {
  std::string out;
  const std::size_t before = pick(r, 6);
  const std::size_t after = pick(r, 6);
  for (std::size_t i = 0; i < before; ++i) {
    out += words[pick(r, words.size())] + " ";
  }
  out += identifier;
  for (std::size_t i = 0; i < after; ++i) {
    out += " " + words[pick(r, words.size())];
  }
  return out;
}

// A JSON string literal for `s` (valid UTF-8). mode 0: only the escapes JSON requires; 1: every
// character as \uXXXX; 2: a random mix of every allowed form.
std::string encode(rng& r, std::string_view s, int mode) {
  static constexpr char lower[] = "0123456789abcdef";
  static constexpr char upper[] = "0123456789ABCDEF";
  const auto u_escape = [&](std::string& out, unsigned unit) {
    const char* hex = pick(r, 2) == 0 ? lower : upper;
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) {
      out.push_back(hex[(unit >> shift) & 0xf]);
    }
  };
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    unsigned cp = len == 1 ? c : c & (0xff >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    const std::string_view shorts = "\"\"\\\\\bb\ff\nn\rr\tt";  // character, escape letter
    const std::size_t short_at = c < 0x80 ? shorts.find(static_cast<char>(c)) : std::string_view::npos;
    if (mode == 1 || (mode == 2 && pick(r, 2) == 0)) {
      if (cp >= 0x10000) {
        u_escape(out, 0xd800 + ((cp - 0x10000) >> 10));
        u_escape(out, 0xdc00 + ((cp - 0x10000) & 0x3ff));
      } else {
        u_escape(out, cp);
      }
    } else if (short_at != std::string_view::npos && short_at % 2 == 0) {
      out.push_back('\\');
      out.push_back(shorts[short_at + 1]);
    } else if (c == '/' && mode == 2 && pick(r, 2) == 0) {
      out += "\\/";
    } else if (c < 0x20) {
      u_escape(out, cp);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out + "\"";
}

std::string body(rng& r, std::string_view text, int mode) {
  return "{" + encode(r, "model", mode) + ":" + encode(r, "mistral-small", mode) + "," +
         encode(r, "messages", mode) + ":[{" + encode(r, "role", mode) + ":" + encode(r, "user", mode) + "," +
         encode(r, "content", mode) + ":" + encode(r, text, mode) + "}]," + encode(r, "stream", mode) +
         ":true}";
}

// `id` as a client could write it for a model to read the same: each character kept or written
// in a form a model reads as it, with invisible characters between them; or (1 in 8) entirely in
// tag characters.
std::string disguised(rng& r, std::string_view id) {
  std::string out;
  if (pick(r, 8) == 0) {
    for (const char c : id) {
      append_utf8(out, 0xe0000 + static_cast<unsigned char>(c));
    }
    return out;
  }
  static constexpr std::uint32_t zeros[] = {0x0660, 0x06f0, 0x0966,  0x09e6,  0x0e50,
                                            0x1040, 0xff10, 0x1d7ce, 0x1d7ec, 0x1fbf0};
  static constexpr std::uint32_t upper_a[] = {0xff21, 0x1d400, 0x1d5d4, 0x1d670, 0x24b6};
  static constexpr std::uint32_t lower_a[] = {0xff41, 0x1d41a, 0x1d5ee, 0x1d68a, 0x24d0};
  static constexpr std::uint32_t spaces[] = {0x00a0, 0x2002, 0x2009, 0x202f, 0x205f, 0x3000, 0x1680};
  static constexpr std::uint32_t invisible[] = {0x200b, 0x200c, 0x200d, 0x2060, 0xfeff,
                                                0x00ad, 0xfe0f, 0x180e, 0x0301};
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i > 0 && pick(r, 3) == 0) {
      append_utf8(out, invisible[pick(r, std::size(invisible))]);
    }
    const bool keep = pick(r, 3) == 0;
    if (keep) {
      out.push_back(c);
    } else if (c >= '0' && c <= '9') {
      append_utf8(out, zeros[pick(r, std::size(zeros))] + static_cast<std::uint32_t>(c - '0'));
    } else if (c >= 'A' && c <= 'Z') {
      append_utf8(out, upper_a[pick(r, std::size(upper_a))] + static_cast<std::uint32_t>(c - 'A'));
    } else if (c >= 'a' && c <= 'z') {
      append_utf8(out, lower_a[pick(r, std::size(lower_a))] + static_cast<std::uint32_t>(c - 'a'));
    } else if (c == ' ') {
      append_utf8(out, spaces[pick(r, std::size(spaces))]);
    } else if (c == '@') {
      append_utf8(out, pick(r, 2) == 0 ? 0xfe6b : 0xff20);
    } else if (c == '-') {
      append_utf8(out, pick(r, 2) == 0 ? 0x2011 : 0x2212);
    } else {
      append_utf8(out, 0xff01 + static_cast<std::uint32_t>(c - '!'));  // fullwidth . + ( ) _
    }
  }
  return out;
}

// The identifiers planted, and how to make one.
struct kind {
  detector planted;
  std::string (*make)(rng&);
  std::string (*cue)(rng&) = nullptr;  // what must come before it, if anything
};
const kind kinds[] = {{detector::email, email},
                      {detector::iban, iban},
                      {detector::payment_card, card},
                      {detector::phone, phone},
                      {detector::person_name, person, person_cue},
                      {detector::postal_address, address}};

}  // namespace

TEST_CASE("every JSON escaping of a prompt is classified as its plain form") {
  rng r(20261202);
  const std::uint32_t all = implemented_detectors();
  json_inspector inspector;
  std::size_t bodies = 0;
  for (int round = 0; round < 250; ++round) {
    for (const kind& k : kinds) {
      const std::string text = prompt(r, (k.cue != nullptr ? k.cue(r) : "") + k.make(r));
      CAPTURE(text);
      const std::string plain = body(r, text, 0);
      const inspection expected = inspector.inspect(plain, {all, true});
      REQUIRE(expected.ok());
      REQUIRE((expected.scan.found & bit(k.planted)) != 0);
      std::string plain_redacted = plain;
      const std::size_t plain_count = redact(plain_redacted, expected.scan.findings, all);
      for (int variant = 0; variant < 8; ++variant) {
        const std::string escaped = body(r, text, variant == 0 ? 1 : 2);
        CAPTURE(escaped);
        const inspection got = inspector.inspect(escaped, {all, true});
        REQUIRE(got.ok());
        CHECK(got.scan.found == expected.scan.found);
        CHECK(got.fields.model == "mistral-small");
        CHECK(got.fields.stream);
        std::string redacted = escaped;
        CHECK(redact(redacted, got.scan.findings, all) == plain_count);
        CHECK(redacted == plain_redacted);
        ++bodies;
      }
    }
  }
  CHECK(bodies == 250 * std::size(kinds) * 8);
}

TEST_CASE("every Unicode disguise of an identifier is classified and redacted as the identifier") {
  rng r(20261203);
  const std::uint32_t all = implemented_detectors();
  json_inspector inspector;
  std::size_t bodies = 0;
  for (int round = 0; round < 250; ++round) {
    for (const kind& k : kinds) {
      const std::string id = k.make(r);
      const std::string cue = k.cue != nullptr ? k.cue(r) : "";
      const std::string before = pick(r, 2) == 0 ? "" : words[pick(r, words.size())] + " ";
      const std::string after = pick(r, 2) == 0 ? "" : " " + words[pick(r, words.size())];
      for (int variant = 0; variant < 4; ++variant) {
        // The cue is disguised too, and stays as sent: only the identifier is redacted.
        const std::string lead = before + (variant == 0 ? cue : disguised(r, cue));
        const std::string plain = body(r, lead + id + after, 0);
        const inspection expected = inspector.inspect(plain, {all, true});
        REQUIRE(expected.ok());
        REQUIRE((expected.scan.found & bit(k.planted)) != 0);
        std::string plain_redacted = plain;
        const std::size_t plain_count = redact(plain_redacted, expected.scan.findings, all);
        const std::string sent = body(r, lead + disguised(r, id) + after, variant == 0 ? 0 : 2);
        CAPTURE(sent);
        const inspection got = inspector.inspect(sent, {all, true});
        REQUIRE(got.ok());
        CHECK((got.scan.found & bit(k.planted)) != 0);
        std::string redacted = sent;
        CHECK(redact(redacted, got.scan.findings, all) == plain_count);
        CHECK(redacted == plain_redacted);
        ++bodies;
      }
    }
  }
  CHECK(bodies == 250 * std::size(kinds) * 4);
}
