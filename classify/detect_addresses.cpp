// postal_address: a street with its house number, in the ways the EU's languages write one, and
// the postal code and town after it when there are. The rules, and why, are in docs/policy.md.
#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

#include "classify/detect_text.hpp"

namespace sovgw::classify::detail {
namespace {

// A street type and how sure it makes us: a weak one ("Way", "Place", "via" in lower case, which
// are also ordinary words) needs a postal code after the street to count.
struct street_type {
  std::string_view text;  // lower case; a trailing '.' is part of it
  bool weak = false;
  bool capitalised = false;  // only when written capitalised ("Corso", not "corso": a course)
};

// Before the street's name, the house number after it: "Via Roma 10", "Calle Mayor, 3",
// "ul. Marszałkowska 10", "Rua Augusta 25", "Rue de la Loi 16".
constexpr street_type types_before_name[] = {{"via"},
                                             {"viale"},
                                             {"piazza"},
                                             {"piazzale"},
                                             {"corso", false, true},
                                             {"largo", false, true},
                                             {"vicolo"},
                                             {"calle"},
                                             {"c/", false, true},
                                             {"avenida"},
                                             {"avda."},
                                             {"av.", false, true},
                                             {"plaza"},
                                             {"paseo"},
                                             {"carrer"},
                                             {"rua"},
                                             {"pra\u00e7a"},
                                             {"travessa"},
                                             {"alameda"},
                                             {"ul."},
                                             {"ulica"},
                                             {"aleja"},
                                             {"aleje"},
                                             {"plac"},
                                             {"rue"},
                                             {"avenue"},
                                             {"boulevard"},
                                             {"chauss\u00e9e"},
                                             {"place", false, true}};

// After the house number, before the name: "12 rue de la Paix", "3, avenue Foch".
constexpr std::string_view french_types[] = {"rue",   "avenue",     "av.",           "bd",     "boulevard",
                                             "place", "all\u00e9e", "impasse",       "chemin", "quai",
                                             "route", "cours",      "chauss\u00e9e", "voie"};

// After the name, which follows the house number: "221B Baker Street", "10 Downing St".
constexpr street_type english_types[] = {
    {"street"},      {"st."},         {"st"},         {"road"},       {"rd."},         {"rd"},
    {"avenue"},      {"ave."},        {"ave"},        {"lane"},       {"drive"},       {"boulevard"},
    {"blvd"},        {"crescent"},    {"terrace"},    {"square"},     {"place", true}, {"way", true},
    {"court", true}, {"close", true}, {"walk", true}, {"hill", true}, {"row", true},   {"gardens", true},
    {"mews", true},  {"grove", true}};

// The end of a German, Dutch or Swedish street's one word ("Hauptstra\u00dfe", "Keizersgracht",
// "Drottninggatan", "Vasav\u00e4gen"), after at least
// `min_before` bytes: "Spring" is not a street, nor "Blockade" a quay.
struct street_suffix {
  std::string_view text;
  std::size_t min_before = 4;
};
constexpr street_suffix street_suffixes[] = {
    {"stra\u00dfe"}, {"strasse"},    {"str."},       {"weg"},    {"gasse"},  {"allee"},
    {"platz"},       {"damm"},       {"ufer"},       {"straat"}, {"gracht"}, {"laan"},
    {"plein"},       {"kade", 5},    {"singel"},     {"dijk"},   {"dreef"},  {"steeg"},
    {"gatan"},       {"v\u00e4gen"}, {"gr\u00e4nd"}, {"torget"}};
// The same as a word of its own after a capitalised one: "Berliner Stra\u00dfe 12".
constexpr std::string_view street_words[] = {"stra\u00dfe", "strasse", "str.", "allee", "platz", "gasse"};

// German words with a street's ending that name no street: a place to work, park or store, a
// way back or around, a production line ("Speicherplatz 500 GB", "Arbeitsplatz 12",
// "Lösungsweg 2", "Fertigungsstraße 2"), a road known by its number ("Bundesstraße 96").
constexpr std::string_view not_streets[] = {"arbeitsplatz",
                                            "speicherplatz",
                                            "parkplatz",
                                            "stellplatz",
                                            "sitzplatz",
                                            "steckplatz",
                                            "standplatz",
                                            "liegeplatz",
                                            "studienplatz",
                                            "kitaplatz",
                                            "ausbildungsplatz",
                                            "lösungsweg",
                                            "rückweg",
                                            "umweg",
                                            "ausweg",
                                            "heimweg",
                                            "hinweg",
                                            "rechtsweg",
                                            "bildungsweg",
                                            "dienstweg",
                                            "lieferweg",
                                            "versandweg",
                                            "zahlungsweg",
                                            "lernweg",
                                            "staudamm",
                                            "lagerplatz",
                                            "tabellenplatz",
                                            "startplatz",
                                            "fluchtweg",
                                            "fertigungsstra\u00dfe",
                                            "fertigungsstrasse",
                                            "montagestra\u00dfe",
                                            "montagestrasse",
                                            "produktionsstra\u00dfe",
                                            "produktionsstrasse",
                                            "waschstra\u00dfe",
                                            "waschstrasse",
                                            "bundesstra\u00dfe",
                                            "bundesstrasse",
                                            "landesstra\u00dfe",
                                            "landesstrasse",
                                            "kreisstra\u00dfe",
                                            "kreisstrasse",
                                            "staatsstra\u00dfe",
                                            "staatsstrasse"};

// Capitalised words that are not a street's name though one may come before "Stra\u00dfe" or "Platz".
constexpr std::string_view not_street_names[] = {"der", "die", "das", "the", "ein", "eine", "den", "dem"};

bool space(char c) { return c == ' ' || c == '\t'; }

// `text` (lower case) at i as a whole word (a trailing '.' ends it): its end, or npos.
std::size_t word_end(std::string_view t, std::size_t i, std::string_view text) {
  const std::size_t k = cue_end(t, i, text);
  if (k == npos || (text.back() != '.' && text.back() != '/' && k < t.size() &&
                    (is_alnum(t[k]) || latin_letter_at(t, k).len != 0))) {
    return npos;
  }
  return k;
}

// A house number: 1-4 digits (not starting with 0), a letter ("221B", "5a") or a second number
// ("12-14", "5/7") attached, or " bis"/" ter"; not part of a decimal, a time or a version
// ("3.12", "10:30"). Its end, or npos.
std::size_t house_number_at(std::string_view t, std::size_t i) {
  if (i >= t.size() || !is_digit(t[i]) || t[i] == '0') {
    return npos;
  }
  std::size_t k = i;
  while (k < t.size() && is_digit(t[k]) && k - i < 5) {
    ++k;
  }
  if (k - i > 4) {
    return npos;
  }
  if (k + 1 < t.size() && (t[k] == '-' || t[k] == '/') && is_digit(t[k + 1])) {
    const std::size_t from = ++k;
    while (k < t.size() && is_digit(t[k]) && k - from < 5) {
      ++k;
    }
    if (k - from > 4) {
      return npos;
    }
  } else if (k < t.size() && is_alpha(t[k]) && ends_word(t, k + 1)) {
    ++k;
  }
  if (!ends_word(t, k) || (k < t.size() && t[k] == '_')) {
    return npos;
  }
  // A Polish flat after the house number ("D\u0142uga 5 m. 3": mieszkanie), not metres.
  if (t.substr(k, 4) == " m. " && k + 4 < t.size() && is_digit(t[k + 4]) && t[k + 4] != '0') {
    std::size_t e = k + 4;
    while (e < t.size() && is_digit(t[e]) && e - k < 8) {
      ++e;
    }
    if (ends_word(t, e)) {
      return e;
    }
  }
  if (k + 1 < t.size() && (t[k] == '.' || t[k] == ',' || t[k] == ':') && is_digit(t[k + 1])) {
    return npos;
  }
  if (k < t.size() && t[k] == ':') {
    return npos;  // a heading or an item: "Corso Python 2023: lezione 3", "Linie 2: steht"
  }
  // A quantity, not a house number: "Speicherplatz 500 GB", "Rückweg 3 km", "Parkplatz 5 €".
  static constexpr std::string_view units[] = {
      "gb",  "mb",  "kb", "tb",   "gib", "mib", "km",  "m", "cm",  "mm",    "kg",  "g",   "min",    "h",
      "std", "sek", "s",  "euro", "eur", "usd", "chf", "x", "mal", "stück", "stk", "pcs", "prozent"};
  if (k + 1 < t.size() && space(t[k])) {
    const std::size_t u = k + 1;
    if (t[u] == '%' || t.substr(u, 3) == "\xe2\x82\xac" || t[u] == '$' ||
        std::any_of(std::begin(units), std::end(units),
                    [&](std::string_view w) { return word_end(t, u, w) != npos; })) {
      return npos;
    }
  }
  for (const std::string_view suffix : {std::string_view(" bis"), std::string_view(" ter")}) {
    if (const std::size_t e = word_end(t, k, suffix); e != npos) {
      return e;
    }
  }
  return k;
}

// Whether a space and a lower-case plural follow at k: what comes before counts things ("3 Hard
// Drive units", "Via SSH 2 tunnels", "Click Place Order 2 times"), it is no address.
bool counted_things_at(std::string_view t, std::size_t k) {
  if (k >= t.size() || !space(t[k])) {
    return false;
  }
  const std::size_t b = k + 1;
  std::size_t e = b;
  while (e < t.size() && is_lower(t[e])) {
    ++e;
  }
  static constexpr std::string_view verbs[] = {"this", "thus", "plus",  "says",  "does", "goes", "lies",
                                               "sits", "runs", "looks", "seems", "gets", "was",  "has"};
  return e - b >= 4 && t[e - 1] == 's' && !is_alnum(e < t.size() ? t[e] : ' ') &&
         !one_of(t, b, e, verbs, std::size(verbs));
}

// Spaces, then a house number optionally after a ',' and "nº", "n.º", "n°", "no.", "nr." ("Calle
// Mayor, nº 3"): its end, or npos.
std::size_t number_after_name(std::string_view t, std::size_t k) {
  if (k < t.size() && t[k] == ',') {
    ++k;
  }
  const std::size_t spaces = k;
  while (k < t.size() && space(t[k])) {
    ++k;
  }
  if (k == spaces) {
    return npos;
  }
  // The folded text reads "nº" as "no" (NFKC).
  for (const std::string_view no : {"n.o", "n\xc2\xb0", "no.", "nr.", "n.", "no", "nr"}) {
    if (const std::size_t e = cue_end(t, k, no); e != npos && (e >= t.size() || !is_alpha(t[e]))) {
      k = e;
      while (k < t.size() && space(t[k])) {
        ++k;
      }
      break;
    }
  }
  return house_number_at(t, k);
}

// A street's name at i: up to five words, capitalised or particles ("de la", "dei", "da"), at
// least one capitalised, one space apart. Its end (after the last capitalised word), or npos.
std::size_t street_name_at(std::string_view t, std::size_t i) {
  static constexpr std::string_view particles[] = {"de",    "du",  "des",   "la",    "le", "les",
                                                   "da",    "das", "do",    "dos",   "di", "del",
                                                   "della", "dei", "degli", "delle", "y"};
  std::size_t end = npos;
  std::size_t k = i;
  for (int words = 0; words < 5 && k < t.size(); ++words) {
    std::size_t e = capitalised_word_at(t, k);
    if (e == npos) {
      e = k;
      while (e < t.size() && is_lower(t[e]) && e - k < 6) {
        ++e;
      }
      if (e == k || !one_of(t, k, e, particles, std::size(particles))) {
        break;
      }
    } else {
      end = e;
    }
    if (e + 1 >= t.size() || t[e] != ' ') {
      break;
    }
    k = e + 1;
  }
  return end;
}

// A postal code and its town at i ("75002 Paris", "D-10115 Berlin", "1012 AB Amsterdam",
// "00-950 Warszawa", "1100-148 Lisboa", "8001 Zürich"), or a town and a UK postcode ("London
// NW1 6XE", or the postcode alone). Its end, or npos.
std::size_t postal_code_and_town_at(std::string_view t, std::size_t i);

// Separators between a street and its postal code: ", ", " - ", a new line (or JSON's "\n").
std::size_t skip_separators(std::string_view t, std::size_t k) {
  for (int n = 0; n < 4 && k < t.size(); ++n) {
    if (t[k] == ',' || t[k] == ';' || t[k] == '-' || space(t[k]) || t[k] == '\n' || t[k] == '\r') {
      ++k;
    } else if (t[k] == '\\' && k + 1 < t.size() && (t[k + 1] == 'n' || t[k + 1] == 'r')) {
      k += 2;
    } else {
      break;
    }
  }
  return k;
}

// Whether the house number that ends at `end` is four digits from 1900 to 2099 alone: a year
// ("Potsdamer Platz 2025", "Piazza Affari 2024") unless a postal code follows.
bool year_before(std::string_view t, std::size_t end) {
  if (end < 4 || (end > 4 && (is_digit(t[end - 5]) || t[end - 5] == '-' || t[end - 5] == '/'))) {
    return false;
  }
  const std::string_view n = t.substr(end - 4, 4);
  return std::all_of(n.begin(), n.end(), is_digit) && (n.starts_with("19") || n.starts_with("20"));
}

// A street that ends at `end`: extended over the postal code and town after it, if any. Returns
// the finding's end, or npos when the street is weak and has none.
std::size_t with_postal_code(std::string_view t, std::size_t end, bool weak) {
  const std::size_t k = skip_separators(t, end);
  if (k > end && k < t.size()) {
    if (const std::size_t e = postal_code_and_town_at(t, k); e != npos) {
      return e;
    }
  }
  return weak ? npos : end;
}

// "12 rue de la Paix", "221B Baker Street": from a house number at i. The finding's end or npos.
std::size_t number_first_at(std::string_view t, std::size_t i) {
  if (i > 0 && (t[i - 1] == '.' || t[i - 1] == ',' || t[i - 1] == '-' || t[i - 1] == '/' || t[i - 1] == ':' ||
                t[i - 1] == '+' || t[i - 1] == '#')) {
    return npos;
  }
  const std::size_t number = house_number_at(t, i);
  if (number == npos) {
    return npos;
  }
  std::size_t k = number < t.size() && t[number] == ',' ? number + 1 : number;
  if (k >= t.size() || t[k] != ' ') {
    return npos;
  }
  ++k;
  for (const std::string_view type : french_types) {
    if (const std::size_t e = word_end(t, k, type); e != npos && e < t.size() && t[e] == ' ') {
      const std::size_t name = street_name_at(t, e + 1);
      // "route", "place", "cours", "voie" are English words too ("add 2 route Guards"): without a
      // particle ("2 route de Lyon") they need a postal code after them.
      static constexpr std::string_view also_english[] = {"route", "place", "cours", "voie"};
      static constexpr std::string_view particles[] = {"de", "du", "des", "d'", "la", "le"};
      const bool weak =
          std::find(std::begin(also_english), std::end(also_english), type) != std::end(also_english) &&
          !std::any_of(std::begin(particles), std::end(particles),
                       [&](std::string_view p) { return t.substr(e + 1, p.size()) == p; });
      return name == npos ? npos : with_postal_code(t, name, weak || year_before(t, number));
    }
  }
  // One to three capitalised words, then an English street type.
  for (int words = 0; words < 3; ++words) {
    const std::size_t e = capitalised_word_at(t, k);
    if (e == npos || e + 1 >= t.size() || t[e] != ' ') {
      return npos;
    }
    k = e + 1;
    for (const street_type& type : english_types) {
      if (const std::size_t end = word_end(t, k, type.text); end != npos) {
        return counted_things_at(t, end) ? npos
                                         : with_postal_code(t, end, type.weak || year_before(t, number));
      }
    }
  }
  return npos;
}

constexpr auto type_index = make_pair_index(types_before_name, [](const street_type& s) { return s.text; });

// "Via Roma 10", "ul. Marszałkowska 10": from a street type at i. The finding's end or npos.
std::size_t type_first_at(std::string_view t, std::size_t i) {
  std::size_t found = npos;
  type_index.for_each(t, i, [&](std::size_t n) {
    const street_type& type = types_before_name[n];
    std::size_t k = type.capitalised && !is_upper(t[i]) ? npos : word_end(t, i, type.text);
    if (k == npos) {
      return false;
    }
    while (k < t.size() && space(t[k]) && k - i < 16) {
      ++k;
    }
    const std::size_t name = street_name_at(t, k);
    const std::size_t number = name == npos ? npos : number_after_name(t, name);
    if (number == npos || counted_things_at(t, number)) {
      return false;
    }
    found = with_postal_code(t, number, (type.text == "via" && !is_upper(t[i])) || year_before(t, number));
    return true;
  });
  return found;
}

// "Hauptstra\u00dfe 5", "Keizersgracht 123", "Berliner Stra\u00dfe 12": from a capitalised word at i.
// Returns the finding's end or npos; `begin` is where it starts (the word before "Stra\u00dfe").
std::size_t street_word_first_at(std::string_view t, std::size_t i, std::size_t& begin) {
  const std::size_t letters_end = capitalised_word_at(t, i);
  if (letters_end == npos) {
    return npos;
  }
  // "Hauptstr." ends with its dot.
  const std::size_t dotted = letters_end < t.size() && t[letters_end] == '.' ? letters_end + 1 : letters_end;
  // A house number follows ("Hauptstra\u00dfe 5", "Calle Mayor, nº 3"): most words fail here.
  std::size_t next = dotted;
  while (next < t.size() && (t[next] == ',' || space(t[next])) && next - dotted < 3) {
    ++next;
  }
  if (next == dotted || next >= t.size() || (!is_digit(t[next]) && to_lower(t[next]) != 'n')) {
    return npos;
  }
  std::size_t word = letters_end;
  begin = i;
  bool street = false;
  for (const street_suffix& suffix : street_suffixes) {
    const std::size_t end = suffix.text.back() == '.' ? dotted : letters_end;
    if (end - i >= suffix.text.size() + suffix.min_before &&
        cue_end(t, end - suffix.text.size(), suffix.text) == end) {
      street = true;
      word = end;
      break;
    }
  }
  if (!street && dotted != letters_end && one_of(t, i, dotted, street_words, std::size(street_words))) {
    word = dotted;
  }
  if (!street && one_of(t, i, word, street_words, std::size(street_words)) && i >= 2 && t[i - 1] == ' ') {
    std::size_t b = i - 1;  // the word before: Latin letters (and UTF-8) and hyphens
    while (b > 0 && i - b < 42 &&
           (is_alpha(t[b - 1]) || t[b - 1] == '-' || static_cast<unsigned char>(t[b - 1]) >= 0x80)) {
      --b;
    }
    if (b < i - 1 && starts_word(t, b) && capitalised_word_at(t, b) == i - 1 &&
        !one_of(t, b, i - 1, not_street_names, std::size(not_street_names))) {
      begin = b;
      street = true;
    }
  }
  if (!street || one_of(t, i, word, not_streets, std::size(not_streets))) {
    return npos;
  }
  const std::size_t number = number_after_name(t, word);
  return number == npos ? npos : with_postal_code(t, number, year_before(t, number));
}

// A town: one to three capitalised words, one space apart ("Paris", "Den Haag", "Saint-Étienne").
std::size_t town_at(std::string_view t, std::size_t i) {
  std::size_t end = capitalised_word_at(t, i);
  for (int words = 1; end != npos && words < 3 && end + 1 < t.size() && t[end] == ' '; ++words) {
    const std::size_t next = capitalised_word_at(t, end + 1);
    if (next == npos) {
      break;
    }
    end = next;
  }
  return end;
}

// A UK postcode: A9 9AA, A99 9AA, A9A 9AA, AA9 9AA, AA99 9AA, AA9A 9AA.
std::size_t uk_postcode_at(std::string_view t, std::size_t i) {
  std::size_t k = i;
  const auto take = [&](auto pred, std::size_t min, std::size_t max) {
    std::size_t n = 0;
    while (k < t.size() && n < max && pred(t[k])) {
      ++k;
      ++n;
    }
    return n >= min;
  };
  if (!take(is_upper, 1, 2) || !take(is_digit, 1, 2)) {
    return npos;
  }
  if (k < t.size() && is_upper(t[k]) && k + 1 < t.size() && t[k + 1] == ' ') {
    ++k;
  }
  if (k >= t.size() || t[k] != ' ') {
    return npos;
  }
  ++k;
  if (!take(is_digit, 1, 1) || !take(is_upper, 2, 2)) {
    return npos;
  }
  return ends_word(t, k) ? k : npos;
}

std::size_t postal_code_and_town_at(std::string_view t, std::size_t i) {
  std::size_t k = i;
  if (k + 2 < t.size() && is_upper(t[k]) && t[k + 1] == '-' && is_digit(t[k + 2])) {
    k += 2;  // D-10115
  } else if (k + 3 < t.size() && is_upper(t[k]) && is_upper(t[k + 1]) && t[k + 2] == '-' &&
             is_digit(t[k + 3])) {
    k += 3;  // CH-8001
  }
  std::size_t digits = 0;
  while (k < t.size() && is_digit(t[k]) && digits < 6) {
    ++k;
    ++digits;
  }
  if (digits == 3 && k + 3 < t.size() && t[k] == ' ' && is_digit(t[k + 1]) && is_digit(t[k + 2])) {
    k += 3;  // 111 51 (SE)
  } else if (digits == 4 && k + 3 < t.size() && t[k] == ' ' && is_upper(t[k + 1]) && is_upper(t[k + 2]) &&
             t[k + 3] == ' ') {
    k += 3;  // 1012 AB
  } else if ((digits == 2 || digits == 4) && k + 3 < t.size() && t[k] == '-' && is_digit(t[k + 1])) {
    std::size_t more = 0;
    ++k;
    while (k < t.size() && is_digit(t[k]) && more < 4) {
      ++k;
      ++more;
    }
    if (more != 3) {
      return npos;
    }
  } else if (digits != 4 && digits != 5) {
    k = i;
    if (const std::size_t code = uk_postcode_at(t, k); code != npos) {
      return code;
    }
    const std::size_t town = town_at(t, k);
    if (town == npos) {
      return npos;
    }
    const std::size_t at = skip_separators(t, town);
    const std::size_t code = at < t.size() ? uk_postcode_at(t, at) : npos;
    return code == npos ? npos : code;
  }
  if (!ends_word(t, k) || k >= t.size() || t[k] != ' ') {
    return npos;
  }
  return town_at(t, k + 1);
}

// After an address label and ':' ("Anschrift: Unter den Linden 77, 10117 Berlin", "Wohnhaft: Am
// Markt 3, 04109 Leipzig"), a street without a listed street type: up to five words, the first
// capitalised, the others capitalised or short lower-case particles ("den", "der", "do"), then a
// house number, then a postal code and town, which it needs. The finding's end or npos; `begin`
// where the street starts.
std::size_t after_address_label_at(std::string_view t, std::size_t i, std::size_t& begin) {
  static constexpr std::string_view labels[] = {
      "anschrift", "adresse",   "lieferadresse",  "rechnungsadresse", "wohnadresse",
      "wohnhaft",  "indirizzo", "direcci\u00f3n", "direccion",        "morada",
      "adres",     "adress",    "address"};
  std::size_t e = i;
  while (e < t.size() && (is_alpha(t[e]) || static_cast<unsigned char>(t[e]) >= 0x80) && e - i < 20) {
    ++e;
  }
  const std::size_t word = e;
  while (e < t.size() && space(t[e]) && e - i < 24) {
    ++e;
  }
  // The ':' first: most words are followed by none, and the labels are then not looked at.
  if (e >= t.size() || t[e] != ':' || !one_of(t, i, word, labels, std::size(labels))) {
    return npos;
  }
  ++e;
  while (e < t.size() && space(t[e]) && e - i < 32) {
    ++e;
  }
  begin = e;
  std::size_t name = capitalised_word_at(t, e);
  for (int words = 1; name != npos && words < 5 && name + 1 < t.size() && t[name] == ' '; ++words) {
    std::size_t next = capitalised_word_at(t, name + 1);
    if (next == npos) {
      next = name + 1;
      while (next < t.size() && is_lower(t[next]) && next - name <= 4) {
        ++next;
      }
      if (next - name - 1 < 2 || next - name - 1 > 3 || next >= t.size() || t[next] != ' ' ||
          capitalised_word_at(t, next + 1) == npos) {
        break;
      }
    }
    name = next;
  }
  const std::size_t number = name == npos ? npos : number_after_name(t, name);
  return number == npos || counted_things_at(t, number) ? npos : with_postal_code(t, number, true);
}

}  // namespace

bool scan_postal_address(std::string_view t, hit_ref hit) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!is_alnum(t[i]) || !starts_word(t, i)) {
      continue;
    }
    std::size_t begin = i;
    std::size_t end = npos;
    if (is_digit(t[i])) {
      end = number_first_at(t, i);
    } else {
      end = type_first_at(t, i);
      if (end == npos && is_upper(t[i])) {
        end = street_word_first_at(t, i, begin);
      }
      if (end == npos) {
        end = after_address_label_at(t, i, begin);
        begin = end == npos ? i : begin;
      }
    }
    if (end != npos) {
      if (hit(begin, end)) {
        return true;
      }
      i = end - 1;
    } else {
      i = last_of_word(t, i);
    }
  }
  return false;
}

}  // namespace sovgw::classify::detail
