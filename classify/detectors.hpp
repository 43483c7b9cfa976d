#pragma once

// Personal-data detectors over a request body, for the policy's data classes (a class whose
// detectors fire is carried by the request). Each one looks for the shape of an identifier and,
// where the identifier has one, checks its check digits, so that ordinary numbers rarely fire:
//   email          local@domain.tld (quoted local parts, address literals), and written out or
//                  bracketed: "alice [at] example [dot] com", "alice at example dot com",
//                  "alice[@]example[.]com", a middle dot for the domain's dot ("gmail·com");
//                  not a URL's userinfo nor a host and a path or a port
//                  ("postgres://app:pw@db.internal", "git@github.com:acme/x.git")
//   phone          international (+CC or 00CC, 8-15 digits, common separators; not an amount,
//                  "+12 345 678 €"), the EU's 0X XX XX XX XX national form (not a list of pairs),
//                  and trunk 0, area code, subscriber ("030 1234567", "(030) 12345678", "06 1234
//                  5678", "020 7946 0958"); after a phone cue ("Tel.", "Handy", "número",
//                  "cellulare", ...) also each country's national groupings ("06-12345678",
//                  "0470 12 34 56", "612 345 678", "347 123 4567")
//   iban           2 letters, 2 check digits, 11-30 characters, grouped or not (the separators
//                  people write, "GB 82 WEST ...", "IBANGB82..."); ISO 7064 mod 97
//   payment_card   a card network's prefix at its lengths (Visa 16-19, Amex 15, Mastercard 16,
//                  JCB, Discover, UnionPay 16-19, Diners 14 or 16-19) and the Luhn check, grouped
//                  as cards are printed or not ("4111.1111.1111.1111", "x4111..."; not 3-7-7 or
//                  thousands groups), not after a label naming another identifier (IMEI, SIRET,
//                  SSCC, an order or a tracking number)
//   national_id    France's NIR (key mod 97), Spain's DNI and NIE (letter mod 23), Italy's
//                  codice fiscale (check letter), with the separators each is written with (and
//                  one line break), Finland's henkilötunnus with a letter in it and Belgium's
//                  dotted "85.07.30-033.28"; after their labels the ids of 25 member states and
//                  the UK (PESEL, BSN, Steuer-ID, NINO, personnummer, CPR, CNP, ЕГН, OIB, rodné
//                  číslo, ...: detect_national_ids.cpp; every id of a list after one label, and the
//                  column under a table header's label: table_columns.hpp)
//   ip_address     IPv4 dotted quads and IPv6 addresses
//   date_of_birth  a date within 48 characters after "born", "date of birth", "DOB", "né(e) le",
//                  "geboren", "geb.", "nacido/a", "nato/a il", "geboortedatum", "ur.", "data de
//                  nascimento", "född", ... (the eight languages and Swedish)
//   health_code    an ICD-10 code (E11.9, J45, U07.1) within 48 characters after "ICD", "CIM-10",
//                  "diagnos…" (diagnosis, diagnosed, Diagnose, diagnosi), "diagnóstico" or "Dx"
//   person_name    one to four capitalised words (particles such as de, van, von, di between
//                  them; initials; accented Latin letters) after an honorific (Mr, Mme, Frau,
//                  Señora, Sig.ra, Mevrouw, Pani, Senhor, ...), a self-introduction ("my name is",
//                  "je m'appelle", "ich heiße", "me llamo", "mi chiamo", "ik heet", "nazywam się",
//                  "chamo-me", ...), a capitalised label and ':' ("Name:", "Nom :", "Patient:";
//                  not a company or a project: "Kunde: Siemens AG"), a mail header's in a header
//                  block ("Von: Schneider, Anna; ..."), a list of attendees, the line after a
//                  letter's closing ("Viele Grüße\nAnna Schneider"), or a data field's key
//                  ("first_name": "Matteo", "name": {"given": ...}); the finding is the name, not
//                  its cue (detect_names.cpp)
//   postal_address a street with its house number ("12 rue de la Paix", "Hauptstraße 5", "Via Roma
//                  10", "221B Baker Street", "ul. Marszałkowska 10"), extended over the postal code
//                  and town after it ("75002 Paris", "1015 CJ Amsterdam", "London NW1 6XE"); a
//                  street type that is also an ordinary word ("Way", lower-case "via") needs the
//                  postal code, and so does a house number that reads as a year ("Potsdamer
//                  Platz 2025"); after an address label ("Anschrift: Unter den Linden 77, 10117
//                  Berlin"), a street without a listed type with its postal code and town
//                  (detect_addresses.cpp)
//   opaque_content content a model reads that the gateway cannot: found from a JSON body's
//                  structure and its markdown images, not by these scanners (json_body.hpp),
//                  and never redactable; a raw body that is not UTF-8 text
//   remote_tools   a request asking the cluster to send what the model reads on to another server:
//                  a remote MCP tool or server (OpenAI's `{"type": "mcp", "server_url": ...}`,
//                  Anthropic's `mcp_servers`), web search or fetch tools, `web_search_options`
//                  (json_body.hpp); never redactable
// Every detector a policy may name is implemented (implemented_detectors()). The text is scanned
// as a model reads it (fold.hpp: fullwidth forms, other scripts' digits, invisible characters,
// ...), with findings in the text's own bytes; a JSON body is scanned decoded (json_body.hpp:
// escapes, percent-encoding, HTML references, markup and base64 a model reads through),
// but a raw body's JSON-style escapes ("\n") still end words.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "classify/detector_list.hpp"

namespace sovgw::classify {

// Bit i = detector_names[i] (detector_list.hpp).
[[nodiscard]] std::uint32_t implemented_detectors() noexcept;

// Runs the detectors in `wanted` (and implemented) over `text`; returns the bits of those that
// found something. Linear in the text's length for each detector.
[[nodiscard]] std::uint32_t detect(std::string_view text, std::uint32_t wanted);

struct finding {
  std::size_t begin = 0;  // byte offsets into the text
  std::size_t end = 0;
  unsigned detector = 0;  // index into detector_names
};

// detect() over what the base64 and hex in `text` spell (find_base64_texts in unescape.hpp):
// what a reader decoding them sees. For text that cannot be redacted in place, such as a
// request's target and header fields or a body that is not JSON (gateway/pipeline_classify.cpp).
[[nodiscard]] std::uint32_t detect_encoded(std::string_view text, std::uint32_t wanted);

// Every finding of the detectors in `which`, ordered by position (they may overlap).
[[nodiscard]] std::vector<finding> find_all(std::string_view text, std::uint32_t which);

}  // namespace sovgw::classify
