#include "policy/countries.hpp"

namespace sovgw::policy {
namespace {

constexpr std::string_view assigned_codes =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT "
    "BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH "
    "ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT "
    "HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS "
    "LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI "
    "NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG "
    "SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG "
    "UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

constexpr std::string_view eu_codes =
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE";

constexpr country_id pack(char a, char b) { return static_cast<country_id>((a - 'A') * 26 + (b - 'A')); }

country_set set_of(std::string_view codes) {
  country_set set;
  for (std::size_t i = 0; i + 1 < codes.size(); i += 3) {
    set.set(pack(codes[i], codes[i + 1]));
  }
  return set;
}

}  // namespace

std::optional<country_id> pack_country(std::string_view text) noexcept {
  if (text.size() == 2 && text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'A' && text[1] <= 'Z') {
    return pack(text[0], text[1]);
  }
  if (text == "private") {
    return country_private;
  }
  if (text == "unknown") {
    return country_unknown;
  }
  return std::nullopt;
}

bool is_assigned_country(country_id id) noexcept {
  static const country_set assigned = set_of(assigned_codes);
  return id < country_slots && assigned.test(id);
}

bool is_geo_data_only_country(country_id id) noexcept {
  static const country_set codes = set_of("AN AP CS EU UK");
  return id < country_slots && codes.test(id);
}

std::string_view country_code_hint(std::string_view text) noexcept {
  if (text == "UK") {
    return "; the United Kingdom is GB";
  }
  if (text == "EL") {
    return "; Greece is GR (EL is the EU's own abbreviation)";
  }
  return {};
}

std::string request_country_problem(std::string_view text) {
  const std::optional<country_id> id = pack_country(text);
  if (!id) {
    return "'" + std::string(text) + "' is not a country code (two upper-case letters), private or unknown";
  }
  if (*id >= country_private || is_assigned_country(*id) || is_geo_data_only_country(*id)) {
    return {};
  }
  return "'" + std::string(text) +
         "' is not an ISO 3166-1 alpha-2 code (nor one a geo database returns: AP, EU, AN, CS, UK)";
}

std::string country_name(country_id id) {
  if (id == country_private) {
    return "private";
  }
  if (id >= country_unknown) {
    return "unknown";
  }
  return std::string{static_cast<char>('A' + id / 26), static_cast<char>('A' + id % 26)};
}

const country_set& eu_countries() noexcept {
  static const country_set set = set_of(eu_codes);
  return set;
}

const country_set& eea_countries() noexcept {
  static const country_set set = [] {
    country_set s = set_of(eu_codes);
    s |= set_of("IS LI NO");
    return s;
  }();
  return set;
}

const country_set& all_countries() noexcept {
  static const country_set set = [] {
    country_set s = set_of(assigned_codes);
    s.set(country_private);
    s.set(country_unknown);
    return s;
  }();
  return set;
}

}  // namespace sovgw::policy
