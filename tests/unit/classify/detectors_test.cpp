#include "classify/detectors.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace sovgw::classify;

namespace {

std::uint32_t bit_of(std::string_view name) {
  for (std::size_t i = 0; i < detector_names.size(); ++i) {
    if (detector_names[i] == name) {
      return 1u << i;
    }
  }
  FAIL("unknown detector ", name);
  return 0;
}

// Whether detector `name` fires on `text`, embedded in a JSON chat message as it reaches the gateway.
bool fires(std::string_view name, const std::string& text) {
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":")" + text + R"("}]})";
  return (detect(body, bit_of(name)) & bit_of(name)) != 0;
}

}  // namespace

TEST_CASE("email") {
  CHECK(fires("email", "write to jeanne.dupont+ai@exemple.fr."));
  CHECK(fires("email", "j@mail.example.com"));
  CHECK_FALSE(fires("email", "the @ sign, user@localhost, a@b.c"));
  CHECK_FALSE(fires("email", "decorators like @property, or x@2x.p"));
}

TEST_CASE("phone: international and the 0X XX XX XX XX national form") {
  CHECK(fires("phone", "call +33 6 12 34 56 78 tomorrow"));
  CHECK(fires("phone", "call +33 (0)6 12 34 56 78 tomorrow"));
  CHECK(fires("phone", "Tel. +49-30-1234567"));
  CHECK(fires("phone", "0049 30 1234567"));
  CHECK(fires("phone", "portable 06 12 34 56 78"));
  CHECK(fires("phone", "portable 06.12.34.56.78"));
  CHECK(fires("phone", "0612345678"));
  CHECK_FALSE(fires("phone", "+1 555"));                     // too short
  CHECK_FALSE(fires("phone", "order 06 123 456 78"));        // not in pairs
  CHECK_FALSE(fires("phone", "version 2.0.1, 1234567890"));  // no prefix, not 0X...
}

TEST_CASE("iban: mod 97, grouped or not") {
  CHECK(fires("iban", "IBAN DE89 3704 0044 0532 0130 00 please"));
  // Its first 16 characters check too (one prefix in 97 does): the whole IBAN is the finding.
  const std::string grouped = "IBAN DE62 7939 2375 5950 4655 46.";
  const auto found = find_all(grouped, bit_of("iban"));
  REQUIRE(found.size() == 1);
  CHECK(grouped.substr(found[0].begin, found[0].end - found[0].begin) == "DE62 7939 2375 5950 4655 46");
  CHECK(fires("iban", "GB82WEST12345698765432"));
  CHECK(fires("iban", "FR1420041010050500013M02606, merci"));
  CHECK_FALSE(fires("iban", "DE89 3704 0044 0532 0130 01"));  // check digits wrong
  CHECK_FALSE(fires("iban", "AB12 hello world"));
}

TEST_CASE("payment card: network prefix and Luhn") {
  CHECK(fires("payment_card", "card 4111 1111 1111 1111 exp 12/29"));
  CHECK(fires("payment_card", "5500-0000-0000-0004"));
  CHECK(fires("payment_card", "amex 378282246310005"));
  CHECK_FALSE(fires("payment_card", "4111 1111 1111 1112"));  // Luhn fails
  CHECK_FALSE(fires("payment_card", "9999 9999 9999 9995"));  // no network starts with 9
  CHECK_FALSE(fires("payment_card", "1234567812345670"));     // Luhn ok, no network
}

TEST_CASE("national id: NIR, DNI/NIE, codice fiscale") {
  CHECK(fires("national_id", "NIR 1 85 05 78 006 084 91"));
  CHECK(fires("national_id", "185057800608491"));
  CHECK_FALSE(fires("national_id", "1 85 05 78 006 084 92"));  // key wrong
  CHECK(fires("national_id", "DNI 12345678Z"));
  CHECK(fires("national_id", "DNI 12345678-z"));
  CHECK_FALSE(fires("national_id", "DNI 12345678A"));  // letter wrong
  CHECK(fires("national_id", "NIE X1234567L"));
  CHECK(fires("national_id", "CF RSSMRA85T10A562S"));
  CHECK_FALSE(fires("national_id", "CF RSSMRA85T10A562T"));  // check letter wrong
}

TEST_CASE("ip address: IPv4 and IPv6, not versions or code") {
  CHECK(fires("ip_address", "from 192.168.1.20 yesterday"));
  CHECK(fires("ip_address", "host 2001:db8::8a2e:370:7334."));
  CHECK(fires("ip_address", "link-local fe80::1"));
  CHECK_FALSE(fires("ip_address", "version 1.2.3.4.5 and 300.1.1.1"));
  CHECK_FALSE(fires("ip_address", "std::vector<int> at 12:30:45, mac 00:1a:2b:3c:4d:5e"));
}

TEST_CASE("date of birth: a date after a cue, in five languages") {
  CHECK(fires("date_of_birth", "Patient born 12/03/1985 in Lyon"));
  CHECK(fires("date_of_birth", "date of birth: 1985-03-12"));
  CHECK(fires("date_of_birth", "DOB 3 March 1985"));
  CHECK(fires("date_of_birth", "born on March 12, 1985"));
  CHECK(fires("date_of_birth", "n\xc3\xa9\x65 le 12.03.1985"));
  CHECK(fires("date_of_birth", "n\\u00e9 le 12 mars 1985"));
  CHECK(fires("date_of_birth", "geboren am 12.03.1985"));
  CHECK(fires("date_of_birth", "nato il 12/03/1985"));
  CHECK_FALSE(fires("date_of_birth", "meeting on 12/03/2025"));             // no cue
  CHECK_FALSE(fires("date_of_birth", "born to run. The album from 1975"));  // no date near the cue
}

TEST_CASE("health code: an ICD-10 code after a diagnosis cue") {
  CHECK(fires("health_code", "ICD-10 E11.9, follow-up in May"));
  CHECK(fires("health_code", "diagnosis: J45.909 (asthma)"));
  CHECK(fires("health_code", "She was diagnosed with F32 last year"));
  CHECK(fires("health_code", "CIM-10 : F41.1"));
  CHECK(fires("health_code", "Diagnose F41.1 laut Arzt"));
  CHECK(fires("health_code", "diagn\xc3\xb3stico E66"));
  CHECK(fires("health_code", "Dx: U07.1"));
  CHECK_FALSE(fires("health_code", "seat J45 on flight AF123"));              // no cue
  CHECK_FALSE(fires("health_code", "diagnostics of E1 engine, part A1234"));  // not a code's shape
  CHECK_FALSE(fires("health_code", "dxf file E11 exported"));                 // "dx" only as a word
  CHECK_FALSE(fires("health_code",
                    "the diagnosis took a long time, many weeks of tests and waiting; E11.9 is a part"));
  const std::string text = "ICD-10: E11.9";
  const auto found = find_all(text, bit_of("health_code"));
  REQUIRE(found.size() == 1);
  CHECK(text.substr(found[0].begin, found[0].end - found[0].begin) == "E11.9");
}

TEST_CASE("only wanted and implemented detectors run") {
  const std::string text = "mail a@b.example and 4111 1111 1111 1111";
  CHECK(detect(text, bit_of("email")) == bit_of("email"));
  CHECK(detect(text, bit_of("email") | bit_of("payment_card")) == (bit_of("email") | bit_of("payment_card")));
  CHECK(detect(text, bit_of("iban")) == 0);
  CHECK((implemented_detectors() & bit_of("person_name")) == 0);
  CHECK(detect("Madame Jeanne Dupont", bit_of("person_name")) == 0);
}

TEST_CASE("find_all reports where each finding is") {
  const std::string text = "a@b.example, 192.168.0.1 and a@c.example";
  const auto found = find_all(text, bit_of("email") | bit_of("ip_address"));
  REQUIRE(found.size() == 3);
  CHECK(text.substr(found[0].begin, found[0].end - found[0].begin) == "a@b.example");
  CHECK(text.substr(found[1].begin, found[1].end - found[1].begin) == "192.168.0.1");
  CHECK(detector_names[found[1].detector] == "ip_address");
  CHECK(text.substr(found[2].begin, found[2].end - found[2].begin) == "a@c.example");
}

TEST_CASE("JSON-style escapes end words in raw text") {
  CHECK(detect(R"({"content":"Contact:\njane@x.example\t+33 6 12 34 56 78\u00e9"})", bit_of("phone")) ==
        bit_of("phone"));
  CHECK(detect(R"(host:\nfe80::1 and\n10.0.0.1)", bit_of("ip_address")) == bit_of("ip_address"));
  CHECK(find_all(R"(a\nfe80::1 b\n10.0.0.1)", bit_of("ip_address")).size() == 2);
}

TEST_CASE("identifiers in characters a model reads as ASCII are found where the client wrote them") {
  CHECK(fires("email",
              "Mail alice\xef\xbc\xa0"
              "example.com"));                             // FULLWIDTH COMMERCIAL AT
  CHECK(fires("email", "alice@exa\xe2\x80\x8bmple.com"));  // ZERO WIDTH SPACE
  CHECK(fires("email", "alice@pro\xef\xac\x81le.example"));  // LATIN SMALL LIGATURE FI
  CHECK(fires("iban",
              "\xef\xbc\xa4\xef\xbc\xa5"
              "89 3704 0044 0532 0130 00"));                                        // FULLWIDTH D E
  CHECK(fires("payment_card", "\xd9\xa4\xd9\xa1\xd9\xa1\xd9\xa1 1111 1111 1111"));  // ARABIC-INDIC 4111
  CHECK(fires("phone",
              "+33\xe3\x80\x80"
              "6 12 34 56 78"));  // IDEOGRAPHIC SPACE
  // Tag characters spell "a@b.example" invisibly.
  std::string tags;
  for (const char c : std::string_view("a@b.example")) {
    tags += "\xf3\xa0";
    tags.push_back(static_cast<char>(0x80 | ((0x00 + static_cast<unsigned char>(c)) >> 6)));
    tags.push_back(static_cast<char>(0x80 | (static_cast<unsigned char>(c) & 0x3f)));
  }
  CHECK(fires("email", "see " + tags));
  // Letters of other scripts that only look Latin are left alone (a Cyrillic е in the domain).
  CHECK_FALSE(fires("email", "alice@\xd0\xb5xample.com"));
  // Where: the finding spans the bytes the client sent.
  const std::string text =
      "x alice\xef\xbc\xa0"
      "example.com y";
  const auto found = find_all(text, bit_of("email"));
  REQUIRE(found.size() == 1);
  CHECK(text.substr(found[0].begin, found[0].end - found[0].begin) ==
        "alice\xef\xbc\xa0"
        "example.com");
}
