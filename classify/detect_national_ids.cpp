// National ids: the labels people write before them, and each member state's number with its check
// digits and its birth date (detectors.cpp reads them after their labels, scan_labelled_ids, and
// NIR, DNI/NIE and codice fiscale, whose shape and check say enough, without one).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "classify/detect_text.hpp"

namespace sovgw::classify::detail {
namespace {

enum class id_kind : std::uint8_t {
  pesel,         // PL
  bsn,           // NL
  steuer_id,     // DE
  nino,          // UK
  dni,           // ES: DNI, NIE
  nif,           // PT's NIF, or ES's NIF (a DNI)
  personnummer,  // SE or DK (the word is both's)
  se,            // SE personnummer, samordningsnummer
  dk,            // DK CPR
  fi,            // FI henkilötunnus
  be,            // BE Rijksregisternummer / numéro de registre national
  ie,            // IE PPSN
  social,        // AT SVNR, DE Rentenversicherungsnummer, LU matricule
  de_rv,         // DE Rentenversicherungsnummer
  lu,            // LU matricule
  ro,            // RO CNP
  bg,            // BG ЕГН
  hr,            // HR OIB
  cz,            // CZ/SK rodné číslo
  baltic,        // EE isikukood, LT asmens kodas
  lv,            // LV personas kods
  si,            // SI EMŠO (and the JMBG it continues)
  gr_amka,       // GR ΑΜΚΑ
  gr_afm,        // GR ΑΦΜ
  hu_person,     // HU személyi azonosító
  hu_tax,        // HU adóazonosító jel
  hu_taj,        // HU TAJ
  de_id_card,    // DE Personalausweis
  passport,      // any state's passport
};

// A label: lower case, a space in it stands for any run of blanks (up to eight spaces or tabs) or
// one '-' or '_' ("Steuer  ID", "tax\tid", "CPR-nummer", "steuer_id"). `whole`: it must end a word
// ("bsn", not "bsnx"); otherwise a prefix ("personas kod" finds "personas kods" and "personas
// koda"). `upper`: only in capitals ("NI", not the French and Spanish "ni").
struct id_label {
  std::string_view text;
  id_kind kind;
  bool whole = false;
  bool upper = false;
};

using enum id_kind;

constexpr id_label labels[] = {
    {"pesel", pesel, true},
    {"numer ewidencyjny", pesel},
    {"bsn", bsn, true},
    {"burgerservicenummer", bsn},
    {"sofinummer", bsn},
    {"sofi nummer", bsn},
    {"citizen service number", bsn},
    // As prefixes, "steuer id" and "steuerid" find Steuer-ID, Steuer-Identifikationsnummer,
    // SteuerID and Steueridentifikationsnummer (not Steuergerät); "tin" is the EU's and the
    // OECD's name for it, "tax id" tax ID number, tax identification number, tax_id; a Steuer-ID
    // written after "Steuernummer" is one.
    {"steuer id", steuer_id},
    {"steuerid", steuer_id},
    {"steuerliche id", steuer_id},
    {"steuernummer", steuer_id},
    {"idnr", steuer_id, true},
    {"identifikationsnummer", steuer_id},
    {"tin", steuer_id, true},
    {"tax id", steuer_id},
    {"taxid", steuer_id, true},
    {"nino", nino, true},
    {"ni number", nino},
    {"ni no", nino, true},
    {"ni", nino, true, true},
    {"national insurance", nino},
    {"dni", dni, true},
    {"d.n.i", dni},
    {"nie", dni, true},
    {"n.i.e", dni},
    {"documento nacional de identidad", dni},
    {"nif", nif, true},
    {"n.i.f", nif},
    {"contribuinte", nif},
    {"personnummer", personnummer},
    {"personnumret", personnummer},
    {"personnr", personnummer},
    {"personal identity number", personnummer},
    {"samordningsnummer", se},
    {"cpr", dk, true},
    {"henkil\u00f6tunnu", fi},
    {"henkilotunnu", fi},
    {"hetu", fi, true},
    {"personbeteckning", fi},
    {"personal identity code", fi},
    {"rijksregister", be},
    {"registre national", be},
    {"num\u00e9ro national", be},
    {"numero national", be},
    {"nationaal nummer", be},
    {"nationaalnummer", be},
    {"national register", be},
    {"insz", be, true},
    {"niss", be, true},
    {"pps", ie, true},
    {"ppsn", ie, true},
    {"personal public service", ie},
    {"svnr", social, true},
    {"sv nr", social},
    {"sv nummer", social},
    {"sozialversicherungsnummer", social},
    {"social security number", social},
    {"rentenversicherungsnummer", de_rv},
    {"rvnr", de_rv, true},
    {"rv nummer", de_rv},
    {"matricule", lu},
    {"cnp", ro, true},
    {"cod numeric personal", ro},
    {"codul numeric personal", ro},
    {"personal numeric code", ro},
    {"\u0435\u0433\u043d", bg, true},  // ЕГН
    {"egn", bg, true},
    {"\u0435\u0434\u0438\u043d\u0435\u043d \u0433\u0440\u0430\u0436\u0434\u0430\u043d\u0441\u043a\u0438", bg},
    {"unified civil number", bg},
    {"oib", hr, true},
    {"osobni identifikacijski broj", hr},
    {"rodn\u00e9 \u010d\u00edslo", cz},
    {"rodn\u00e9ho \u010d\u00edsla", cz},
    {"rodne cislo", cz},
    {"rodneho cisla", cz},
    {"r\u010d", cz, true},
    {"birth number", cz},
    {"isikukood", baltic},
    {"asmens kod", baltic},
    {"personas kod", lv},
    {"em\u0161o", si, true},
    {"emso", si, true},
    {"jmbg", si, true},
    {"enotna mati\u010dna \u0161tevilka", si},
    {"\u03b1\u03bc\u03ba\u03b1", gr_amka, true},  // ΑΜΚΑ
    {"amka", gr_amka, true},
    {"\u03b1\u03c6\u03bc", gr_afm, true},  // ΑΦΜ
    {"afm", gr_afm, true},
    {"szem\u00e9lyi azonos\u00edt\u00f3", hu_person},
    {"szemelyi azonosito", hu_person},
    {"szem\u00e9lyi sz\u00e1m", hu_person},
    {"ad\u00f3azonos\u00edt\u00f3", hu_tax},
    {"adoazonosito", hu_tax},
    {"taj sz\u00e1m", hu_taj},
    {"tajsz\u00e1m", hu_taj},
    {"taj szam", hu_taj},
    {"personalausweisnummer", de_id_card},
    {"personalausweis nr", de_id_card},
    {"ausweisnummer", de_id_card},
    {"ausweis nr", de_id_card},
    {"id card number", de_id_card},
    {"identity card number", de_id_card},
    {"passport number", passport},
    {"passport no", passport, true},
    {"passport nr", passport},
    {"reisepassnummer", passport},
    {"passnummer", passport},
    {"reisepass nr", passport},
    {"pass nr", passport},
    {"num\u00e9ro de passeport", passport},
    {"numero de passeport", passport},
    {"n\u00famero de pasaporte", passport},
    {"numero de pasaporte", passport},
    {"numero di passaporto", passport},
    {"numero del passaporto", passport},
    {"paspoortnummer", passport},
    {"numer paszportu", passport},
    {"n\u00famero do passaporte", passport},
    {"n\u00famero de passaporte", passport},
};

constexpr auto label_index = make_pair_index(labels, [](const id_label& l) { return l.text; });

// A letter of the scripts the labels are in, at t[k] (a lead byte of Latin, Greek or Cyrillic).
bool letter_at(std::string_view t, std::size_t k) {
  const auto c = static_cast<unsigned char>(t[k]);
  return is_alpha(t[k]) || (c >= 0xC3 && c <= 0xD4);
}

std::size_t label_end(std::string_view t, std::size_t i, const id_label& l) {
  std::size_t k = i;
  std::string_view rest = l.text;
  while (true) {
    const std::size_t space = rest.find(' ');
    const std::string_view word = rest.substr(0, space);
    if (l.upper) {
      for (std::size_t j = 0; j < word.size(); ++j, ++k) {
        if (k >= t.size() || t[k] != to_upper(word[j])) {
          return npos;
        }
      }
    } else {
      k = word_end_any_case(t, k, word);
    }
    if (k == npos) {
      return npos;
    }
    if (space == npos) {
      break;
    }
    rest.remove_prefix(space + 1);
    std::size_t b = k;
    while (b < t.size() && b - k < 8 && (t[b] == ' ' || t[b] == '\t')) {
      ++b;
    }
    if (b == k && k < t.size() && (t[k] == '-' || t[k] == '_')) {
      b = k + 1;
    }
    if (b == k) {
      return npos;
    }
    k = b;
  }
  return l.whole && k < t.size() && letter_at(t, k) ? npos : k;
}

id_kind kind_of(std::string_view label) {
  for (const id_label& l : labels) {
    if (l.text.data() == label.data()) {
      return l.kind;
    }
  }
  return passport;  // not reached: labels come from national_id_label_at
}

// Up to `most` digits from t[i], a single character of `seps` between two of them; the digits in
// `d`, their end in `end`. Their count, or 0 when there are more or a word goes on after them.
std::size_t digits_at(std::string_view t, std::size_t i, std::size_t most, std::string_view seps,
                      std::array<int, 13>& d, std::size_t& end) {
  std::size_t n = 0;
  std::size_t k = i;
  while (k < t.size()) {
    if (is_digit(t[k])) {
      if (n == most) {
        return 0;
      }
      d[n++] = t[k++] - '0';
    } else if (n > 0 && seps.find(t[k]) != npos && k + 1 < t.size() && is_digit(t[k + 1])) {
      ++k;
    } else {
      break;
    }
  }
  end = k;
  return ends_word(t, k) ? n : 0;
}

int number(const std::array<int, 13>& d, std::size_t from, std::size_t count) {
  int n = 0;
  for (std::size_t j = from; j < from + count; ++j) {
    n = n * 10 + d[j];
  }
  return n;
}

// A day of a month; `year` only for 29 February (a two-digit year is read as is).
bool valid_date(int day, int month, int year) {
  static constexpr std::array<int, 12> days = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > days[static_cast<std::size_t>(month - 1)]) {
    return false;
  }
  return month != 2 || day < 29 || year % 4 == 0;
}

int weighted(const std::array<int, 13>& d, std::initializer_list<int> weights, std::size_t from = 0) {
  int sum = 0;
  std::size_t j = from;
  for (const int w : weights) {
    sum += d[j++] * w;
  }
  return sum;
}

bool luhn(const std::array<int, 13>& d, std::size_t count) {
  int sum = 0;
  for (std::size_t j = 0; j < count; ++j) {
    int v = d[count - 1 - j];
    if (j % 2 == 1) {
      v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    }
    sum += v;
  }
  return sum % 10 == 0;
}

// ISO 7064 MOD 11,10 over the first `count` digits: whether the next one is their check digit.
bool mod11_10(const std::array<int, 13>& d, std::size_t count) {
  int product = 10;
  for (std::size_t j = 0; j < count; ++j) {
    int sum = (d[j] + product) % 10;
    sum = sum == 0 ? 10 : sum;
    product = (sum * 2) % 11;
  }
  const int check = 11 - product;
  return (check == 10 ? 0 : check) == d[count];
}

bool verhoeff(const std::array<int, 13>& d, std::size_t count) {
  static constexpr int mul[10][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
                                      {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
                                      {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
                                      {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
                                      {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
  static constexpr int perm[8][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
                                      {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
                                      {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
                                      {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}};
  int c = 0;
  for (std::size_t j = 0; j < count; ++j) {
    c = mul[c][perm[j % 8][d[count - 1 - j]]];
  }
  return c == 0;
}

// Poland's PESEL: 11 digits, a birth month (+20, +40, +60 or +80 for the century) and a check
// digit of weights 1 3 7 9.
std::size_t pesel_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 11, " .-", d, end) != 11) {
    return npos;
  }
  const int month = number(d, 2, 2) % 20;
  const int sum = weighted(d, {1, 3, 7, 9, 1, 3, 7, 9, 1, 3});
  return month >= 1 && month <= 12 && (10 - sum % 10) % 10 == d[10] ? end : npos;
}

// The Netherlands' BSN: 9 digits passing the eleven test (9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11).
std::size_t bsn_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 9, " .-", d, end) != 9) {
    return npos;
  }
  const int sum = weighted(d, {9, 8, 7, 6, 5, 4, 3, 2, -1});
  return sum % 11 == 0 && sum != 0 ? end : npos;
}

// Germany's Steuer-ID (steuerliche Identifikationsnummer): 11 digits, no leading zero; in the
// first ten exactly one digit repeats, twice or three times, and the others appear once at most;
// the last is an ISO 7064 MOD 11,10 check digit. (About one eleven-digit number in 250 passes.)
std::size_t steuer_id_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 11, " .-", d, end) != 11 || d[0] == 0) {
    return npos;
  }
  std::array<int, 10> seen{};
  for (std::size_t j = 0; j < 10; ++j) {
    ++seen[static_cast<std::size_t>(d[j])];
  }
  const auto repeated = std::count_if(seen.begin(), seen.end(), [](int n) { return n > 1; });
  if (repeated != 1 || *std::max_element(seen.begin(), seen.end()) > 3) {
    return npos;
  }
  return mod11_10(d, 10) ? end : npos;
}

// The UK's National Insurance number: two letters, six digits (in pairs or not) and A to D
// ("QQ 12 34 56 C"), or all in lower case ("qq123456c": it is only read after its label).
std::size_t nino_at(std::string_view t, std::size_t i) {
  if (t.size() - i < 9 || !is_alpha(t[i]) || is_upper(t[i]) != is_upper(t[i + 1]) || !is_alpha(t[i + 1])) {
    return npos;
  }
  const char a = is_upper(t[i]) ? 'A' : 'a';
  std::size_t k = i + 2;
  std::size_t digits = 0;
  while (k < t.size() && digits < 6) {
    if (is_digit(t[k])) {
      ++digits;
      ++k;
    } else if (t[k] == ' ' && digits % 2 == 0 && k + 1 < t.size() && is_digit(t[k + 1])) {
      ++k;
    } else {
      break;
    }
  }
  if (digits != 6) {
    return npos;
  }
  const auto suffix = [&](char c) { return c >= a && c <= a + 3; };
  if (k + 1 < t.size() && t[k] == ' ' && suffix(t[k + 1])) {
    ++k;
  }
  return k < t.size() && suffix(t[k]) && ends_word(t, k + 1) ? k + 1 : npos;
}

// Sweden's personnummer: YYMMDD, '-' ('+' from the 100th birthday) and three digits and a Luhn
// check digit, or the year in four digits ("19850709-9805"); a samordningsnummer adds 60 to the
// day.
std::size_t se_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  const std::size_t n = digits_at(t, i, 12, " -+", d, end);
  if (n == 12) {
    const int century = number(d, 0, 2);
    if (century < 18 || century > 20) {
      return npos;
    }
    std::copy(d.begin() + 2, d.begin() + 12, d.begin());
  } else if (n != 10) {
    return npos;
  }
  const int day = number(d, 4, 2);
  return valid_date(day > 60 ? day - 60 : day, number(d, 2, 2), number(d, 0, 2)) && luhn(d, 10) ? end : npos;
}

// Denmark's CPR-nummer: DDMMYY and four digits; there is no check digit since 2007.
std::size_t dk_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  return digits_at(t, i, 10, " -", d, end) == 10 &&
                 valid_date(number(d, 0, 2), number(d, 2, 2), number(d, 4, 2))
             ? end
             : npos;
}

// Finland's henkilötunnus: DDMMYY, the century sign ('+' 1800s, '-' or U–Y 1900s, A–F 2000s),
// three digits and the check character of DDMMYYNNN mod 31. `labelled`: after its label, where
// lower case is read too; without one, only when a letter in it says what it is (the century sign
// or the check character): "070985-1235" is also how an order number of a day is written.
std::size_t fi_at(std::string_view t, std::size_t i, bool labelled) {
  static constexpr std::string_view checks = "0123456789ABCDEFHJKLMNPRSTUVWXY";
  static constexpr std::string_view signs = "+-ABCDEFUVWXY";
  if (t.size() - i < 11) {
    return npos;
  }
  int n = 0;
  for (std::size_t j = 0; j < 10; ++j) {
    if (j == 6) {
      continue;
    }
    if (!is_digit(t[i + j])) {
      return npos;
    }
    n = n * 10 + (t[i + j] - '0');
  }
  const char sign = labelled ? to_upper(t[i + 6]) : t[i + 6];
  const char check = labelled ? to_upper(t[i + 10]) : t[i + 10];
  if (signs.find(sign) == npos || !ends_word(t, i + 11) ||
      !valid_date(n / 10000000, n / 100000 % 100, n / 1000 % 100) ||
      checks[static_cast<std::size_t>(n % 31)] != check) {
    return npos;
  }
  return labelled || is_upper(sign) || is_upper(check) ? i + 11 : npos;
}

// Belgium's national register number: YYMMDD (a month + 20 or + 40 in a bis number, 0 when not
// known), three digits, two check digits 97 − n mod 97 of the first nine (of 2 and those nine for
// a birth from 2000). Without its label only in the form it is printed in, "85.07.30-033.28": no
// other number is written so; eleven digits alone pass one time in a hundred.
std::size_t be_at(std::string_view t, std::size_t i, bool labelled) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (!labelled) {
    static constexpr std::string_view shape = "99.99.99-999.99";
    if (t.size() - i < shape.size()) {
      return npos;
    }
    for (std::size_t j = 0; j < shape.size(); ++j) {
      if (shape[j] == '9' ? !is_digit(t[i + j]) : t[i + j] != shape[j]) {
        return npos;
      }
    }
  }
  if (digits_at(t, i, 11, " .-", d, end) != 11) {
    return npos;
  }
  const int month = number(d, 2, 2) % 20;
  const int day = number(d, 4, 2);
  if (number(d, 2, 2) > 52 || month > 12 || day > 31) {
    return npos;
  }
  const auto first = static_cast<std::int64_t>(number(d, 0, 9));
  const std::int64_t check = number(d, 9, 2);
  return check == 97 - first % 97 || check == 97 - (2000000000 + first) % 97 ? end : npos;
}

// Portugal's NIF of a person (1, 2, 3 or 45 first): 9 digits, the last 11 − Σ dᵢ·(9 − i) mod 11
// (0 for 10 and 11).
std::size_t pt_nif_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 9, " .-", d, end) != 9 || ((d[0] < 1 || d[0] > 3) && number(d, 0, 2) != 45)) {
    return npos;
  }
  const int r = weighted(d, {9, 8, 7, 6, 5, 4, 3, 2}) % 11;
  return (r < 2 ? 0 : 11 - r) == d[8] ? end : npos;
}

// Ireland's PPS number: seven digits, a check letter (Σ dᵢ·(8 − i) and 9 × the second letter,
// mod 23) and since 2013 a second letter ("1234567T", "1234567FA").
std::size_t ie_at(std::string_view t, std::size_t i) {
  static constexpr std::string_view letters = "WABCDEFGHIJKLMNOPQRSTUV";
  std::array<int, 13> d{};
  std::size_t end = 0;
  for (std::size_t j = 0; j < 7; ++j) {
    if (i + j >= t.size() || !is_digit(t[i + j])) {
      return npos;
    }
    d[j] = t[i + j] - '0';
  }
  std::size_t k = i + 7;
  if (k + 1 < t.size() && t[k] == ' ' && is_alpha(t[k + 1])) {
    ++k;
  }
  if (k >= t.size() || !is_alpha(t[k])) {
    return npos;
  }
  const char check = to_upper(t[k]);
  int second = 0;
  end = k + 1;
  if (end < t.size() && is_alpha(t[end])) {
    const std::size_t at = letters.find(to_upper(t[end]));
    if (at == npos) {
      return npos;
    }
    second = static_cast<int>(at);
    ++end;
  }
  const int sum = weighted(d, {8, 7, 6, 5, 4, 3, 2}) + 9 * second;
  return ends_word(t, end) && letters[static_cast<std::size_t>(sum % 23)] == check ? end : npos;
}

// Austria's Sozialversicherungsnummer: a serial of three digits, a check digit (Σ of weights
// 3 7 9 · 5 8 4 2 1 6, mod 11) and the birth date DDMMYY ("1237 010180").
std::size_t at_svnr_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 10, " -", d, end) != 10 || d[0] == 0) {
    return npos;
  }
  const int sum = weighted(d, {3, 7, 9}) + weighted(d, {5, 8, 4, 2, 1, 6}, 4);
  return sum % 11 == d[3] && valid_date(number(d, 4, 2), number(d, 6, 2), number(d, 8, 2)) ? end : npos;
}

// Germany's Rentenversicherungsnummer (the social insurance number): area (2 digits), DDMMYY, the
// initial of the birth name, a serial of two digits and a check digit ("65 170839 J 003"): the
// letter as its two-digit place in the alphabet, weights 2 1 2 5 7 1 2 1 2 1 2 1, the products'
// digit sums mod 10.
std::size_t de_rv_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t k = i;
  std::size_t n = 0;
  while (k < t.size() && n < 8) {
    if (is_digit(t[k])) {
      d[n++] = t[k++] - '0';
    } else if (n > 0 && t[k] == ' ' && k + 1 < t.size() && is_digit(t[k + 1])) {
      ++k;
    } else {
      return npos;
    }
  }
  if (n != 8) {
    return npos;
  }
  if (k + 1 < t.size() && t[k] == ' ') {
    ++k;
  }
  if (k >= t.size() || !is_alpha(t[k])) {
    return npos;
  }
  const int letter = to_upper(t[k]) - 'A' + 1;
  ++k;
  if (k + 1 < t.size() && t[k] == ' ') {
    ++k;
  }
  std::array<int, 13> tail{};
  std::size_t end = 0;
  if (k >= t.size() || !is_digit(t[k]) || digits_at(t, k, 3, "", tail, end) != 3) {
    return npos;
  }
  const std::array<int, 12> all = {d[0], d[1], d[2],        d[3],        d[4],    d[5],
                                   d[6], d[7], letter / 10, letter % 10, tail[0], tail[1]};
  static constexpr std::array<int, 12> weights = {2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1};
  int sum = 0;
  for (std::size_t j = 0; j < 12; ++j) {
    const int p = all[j] * weights[j];
    sum += p / 10 + p % 10;
  }
  return sum % 10 == tail[2] && valid_date(number(d, 2, 2), number(d, 4, 2), number(d, 6, 2)) ? end : npos;
}

// Luxembourg's matricule: YYYYMMDD, three digits, a Luhn and a Verhoeff check digit of those
// eleven.
std::size_t lu_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 13, " ", d, end) != 13 ||
      !valid_date(number(d, 6, 2), number(d, 4, 2), number(d, 0, 4))) {
    return npos;
  }
  std::array<int, 13> verhoeff_digits = d;
  verhoeff_digits[11] = d[12];
  return luhn(d, 12) && verhoeff(verhoeff_digits, 12) ? end : npos;
}

// Romania's CNP: sex and century (1-9), YYMMDD, county (01-52), three digits, a check digit of
// weights 2 7 9 1 4 6 3 5 8 2 7 9 mod 11 (10 reads 1).
std::size_t ro_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 13, " ", d, end) != 13 || d[0] == 0 ||
      !valid_date(number(d, 5, 2), number(d, 3, 2), number(d, 1, 2)) || number(d, 7, 2) < 1 ||
      number(d, 7, 2) > 52) {
    return npos;
  }
  const int r = weighted(d, {2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9}) % 11;
  return (r == 10 ? 1 : r) == d[12] ? end : npos;
}

// Bulgaria's ЕГН: YYMMDD (the month + 20 for 1800s, + 40 for 2000s), three digits, a check digit
// of weights 2 4 8 5 10 9 7 3 6 mod 11 (10 reads 0).
std::size_t bg_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 10, " ", d, end) != 10 ||
      !valid_date(number(d, 4, 2), number(d, 2, 2) % 20, number(d, 0, 2)) || number(d, 2, 2) > 52) {
    return npos;
  }
  const int r = weighted(d, {2, 4, 8, 5, 10, 9, 7, 3, 6}) % 11;
  return (r == 10 ? 0 : r) == d[9] ? end : npos;
}

// Croatia's OIB: 11 digits, ISO 7064 MOD 11,10.
std::size_t hr_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  return digits_at(t, i, 11, " ", d, end) == 11 && mod11_10(d, 10) ? end : npos;
}

// Czechia's and Slovakia's rodné číslo: YYMMDD (the month + 50 for women, + 20 or + 70 from
// 2004), '/', and four digits, the ten divisible by 11 (or the first nine leaving 10 and a last
// 0); before 1954 three digits and no check. Only after its label: the same form,
// "185209/0300", is a Czech or Slovak bank account and its bank's code.
std::size_t cz_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  const std::size_t n = digits_at(t, i, 10, " /", d, end);
  const int month = number(d, 2, 2) % 50;
  if ((n != 9 && n != 10) || !valid_date(number(d, 4, 2), month > 20 ? month - 20 : month, number(d, 0, 2))) {
    return npos;
  }
  if (n == 9) {
    return number(d, 0, 2) < 54 ? end : npos;
  }
  const std::int64_t first = number(d, 0, 9);
  return (first * 10 + d[9]) % 11 == 0 || (first % 11 == 10 && d[9] == 0) ? end : npos;
}

// Estonia's isikukood and Lithuania's asmens kodas: sex and century (1-6), YYMMDD, three digits,
// a check digit of weights 1 2 3 4 5 6 7 8 9 1, or where that leaves 10 of 3 4 5 6 7 8 9 1 2 3
// (10 again reads 0).
std::size_t baltic_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 11, " ", d, end) != 11 || d[0] < 1 || d[0] > 6 ||
      !valid_date(number(d, 5, 2), number(d, 3, 2), number(d, 1, 2))) {
    return npos;
  }
  int r = weighted(d, {1, 2, 3, 4, 5, 6, 7, 8, 9, 1}) % 11;
  if (r == 10) {
    r = weighted(d, {3, 4, 5, 6, 7, 8, 9, 1, 2, 3}) % 11;
  }
  return (r == 10 ? 0 : r) == d[10] ? end : npos;
}

// Latvia's personas kods: DDMMYY, the century (0-2), four digits and a check digit (1 + Σ of
// weights 10 5 8 4 2 1 6 3 7 9, mod 11 mod 10), "161175-19997"; since 2017 "32" and nine digits
// without a date or a check.
std::size_t lv_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 11, " -", d, end) != 11) {
    return npos;
  }
  if (d[0] == 3 && d[1] == 2) {
    return end;
  }
  const int check = (1 + weighted(d, {10, 5, 8, 4, 2, 1, 6, 3, 7, 9})) % 11 % 10;
  return d[6] <= 2 && valid_date(number(d, 0, 2), number(d, 2, 2), number(d, 4, 2)) && check == d[10] ? end
                                                                                                      : npos;
}

// Slovenia's EMŠO (Yugoslavia's JMBG): DDMMYYY, region, three digits, check 11 − Σ of weights
// 7 6 5 4 3 2 7 6 5 4 3 2 mod 11 (11 reads 0; 10 is none).
std::size_t si_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 13, " ", d, end) != 13 ||
      !valid_date(number(d, 0, 2), number(d, 2, 2), number(d, 4, 3))) {
    return npos;
  }
  const int m = 11 - weighted(d, {7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}) % 11;
  return (m == 11 ? 0 : m) == d[12] ? end : npos;
}

// Greece's ΑΜΚΑ: DDMMYY, five digits, the last a Luhn check digit.
std::size_t gr_amka_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  return digits_at(t, i, 11, " ", d, end) == 11 &&
                 valid_date(number(d, 0, 2), number(d, 2, 2), number(d, 4, 2)) && luhn(d, 11)
             ? end
             : npos;
}

// Greece's ΑΦΜ: 9 digits, the last Σ dᵢ·2⁸⁻ⁱ mod 11 mod 10.
std::size_t gr_afm_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  return digits_at(t, i, 9, " ", d, end) == 9 && number(d, 0, 8) != 0 &&
                 weighted(d, {256, 128, 64, 32, 16, 8, 4, 2}) % 11 % 10 == d[8]
             ? end
             : npos;
}

// Hungary's személyi azonosító: sex and century (1-8), YYMMDD, three digits, a check digit
// Σ dᵢ·i mod 11 (from 1997; before, of weights 10 down to 1).
std::size_t hu_person_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  if (digits_at(t, i, 11, " -", d, end) != 11 || d[0] < 1 || d[0] > 8 ||
      !valid_date(number(d, 5, 2), number(d, 3, 2), number(d, 1, 2))) {
    return npos;
  }
  const int up = weighted(d, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) % 11;
  const int down = weighted(d, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}) % 11;
  return up == d[10] || down == d[10] ? end : npos;
}

// Hungary's adóazonosító jel: 8, the days from 1867-01-01 (5 digits), three digits, a check
// digit Σ dᵢ·i mod 11.
std::size_t hu_tax_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  return digits_at(t, i, 10, " ", d, end) == 10 && d[0] == 8 &&
                 weighted(d, {1, 2, 3, 4, 5, 6, 7, 8, 9}) % 11 == d[9]
             ? end
             : npos;
}

// Hungary's TAJ: 9 digits, the last Σ of weights 3 7 3 7 3 7 3 7 mod 10.
std::size_t hu_taj_at(std::string_view t, std::size_t i) {
  std::array<int, 13> d{};
  std::size_t end = 0;
  return digits_at(t, i, 9, " -", d, end) == 9 && weighted(d, {3, 7, 3, 7, 3, 7, 3, 7}) % 10 == d[8] ? end
                                                                                                     : npos;
}

// The value of a character of an ICAO document number (0-9, A=10 … Z=35), or -1.
int icao_value(char c) { return is_digit(c) ? c - '0' : is_upper(c) ? c - 'A' + 10 : -1; }

// Germany's Personalausweis number: nine characters of digits and the consonants it uses
// ("T22000129"), with or without its check digit of weights 7 3 1 mod 10 ("T220001293").
std::size_t de_id_card_at(std::string_view t, std::size_t i) {
  static constexpr std::string_view alphabet = "0123456789CFGHJKLMNPRTVWXYZ";
  std::size_t k = i;
  int sum = 0;
  int digits = 0;
  while (k < t.size() && k - i < 9 && alphabet.find(t[k]) != npos) {
    static constexpr std::array<int, 3> weights = {7, 3, 1};
    sum += icao_value(t[k]) * weights[(k - i) % 3];
    digits += is_digit(t[k]) ? 1 : 0;
    ++k;
  }
  if (k - i != 9 || digits < 4) {
    return npos;
  }
  if (k < t.size() && is_digit(t[k])) {
    return t[k] - '0' == sum % 10 && ends_word(t, k + 1) ? k + 1 : npos;
  }
  return ends_word(t, k) ? k : npos;
}

// A passport's number, after its label: 8 or 9 capitals and digits, 2 digits at least ("C01X00T47",
// "18AV12345", "PA1234567"; every state's differs, and none has a check digit of its own).
std::size_t passport_at(std::string_view t, std::size_t i) {
  std::size_t k = i;
  int digits = 0;
  while (k < t.size() && k - i < 10 && (is_upper(t[k]) || is_digit(t[k]))) {
    digits += is_digit(t[k]) ? 1 : 0;
    ++k;
  }
  return (k - i == 8 || k - i == 9) && digits >= 2 && ends_word(t, k) ? k : npos;
}

}  // namespace

std::size_t national_id_label_at(std::string_view t, std::size_t i, std::string_view& label) noexcept {
  const auto c = static_cast<unsigned char>(t[i]);
  if (c >= 0x80 ? c < 0xC0 || (i > 0 && static_cast<unsigned char>(t[i - 1]) >= 0x80) : !is_alpha(t[i])) {
    return npos;  // a label starts at a letter, a Greek or Cyrillic one after no other
  }
  std::size_t end = npos;
  label_index.for_each(t, i, [&](std::size_t n) {
    end = label_end(t, i, labels[n]);
    if (end != npos) {
      label = labels[n].text;
    }
    return end != npos;
  });
  return end;
}

std::size_t labelled_national_id_at(std::string_view t, std::size_t k, std::string_view label) noexcept {
  switch (kind_of(label)) {
    case pesel:
      return pesel_at(t, k);
    case bsn:
      return bsn_at(t, k);
    case steuer_id:
      return steuer_id_at(t, k);
    case nino:
      return nino_at(t, k);
    case dni:
      return dni_at(t, k, true);
    case nif:
      return std::min(pt_nif_at(t, k), dni_at(t, k, true));
    case personnummer:
      return std::min(se_at(t, k), dk_at(t, k));
    case se:
      return se_at(t, k);
    case dk:
      return dk_at(t, k);
    case fi:
      return fi_at(t, k, true);
    case be:
      return be_at(t, k, true);
    case ie:
      return ie_at(t, k);
    case social:
      return std::min({at_svnr_at(t, k), de_rv_at(t, k), lu_at(t, k)});
    case de_rv:
      return de_rv_at(t, k);
    case lu:
      return lu_at(t, k);
    case ro:
      return ro_at(t, k);
    case bg:
      return bg_at(t, k);
    case hr:
      return hr_at(t, k);
    case cz:
      return cz_at(t, k);
    case baltic:
      return baltic_at(t, k);
    case lv:
      return lv_at(t, k);
    case si:
      return si_at(t, k);
    case gr_amka:
      return gr_amka_at(t, k);
    case gr_afm:
      return gr_afm_at(t, k);
    case hu_person:
      return hu_person_at(t, k);
    case hu_tax:
      return hu_tax_at(t, k);
    case hu_taj:
      return hu_taj_at(t, k);
    case de_id_card:
      return de_id_card_at(t, k);
    case passport:
      return passport_at(t, k);
  }
  return npos;
}

std::size_t distinctive_national_id_at(std::string_view t, std::size_t i) noexcept {
  if (!is_digit(t[i]) || t.size() - i < 11) {
    return npos;
  }
  return t[i + 2] == '.' ? be_at(t, i, false) : fi_at(t, i, false);
}

// Spain: DNI 8 digits + letter, NIE X/Y/Z + 7 digits + letter; letter = table[n mod 23]. Written
// "12345678Z", "12345678-Z", "12.345.678-Z", "12345678 Z" (a capital after a space: "... 12345678
// a year" is no DNI; after its label, "dni 12345678 z", any), "X1234567L", "X-1234567-L".
std::size_t dni_at(std::string_view t, std::size_t i, bool labelled) noexcept {
  static constexpr std::string_view letters = "TRWAGMYFPDXBNJZSQVHLCKE";
  std::uint64_t n = 0;
  std::size_t k = i;
  std::size_t want = 8;
  const char first = to_upper(t[i]);
  if (first == 'X' || first == 'Y' || first == 'Z') {
    n = static_cast<std::uint64_t>(first - 'X');
    want = 7;
    ++k;
    if (k + 1 < t.size() && (t[k] == '-' || t[k] == ' ') && is_digit(t[k + 1])) {
      ++k;
    }
  }
  std::size_t digits = 0;
  while (k < t.size() && digits <= want) {
    if (is_digit(t[k])) {
      n = n * 10 + static_cast<std::uint64_t>(t[k++] - '0');
      ++digits;
    } else if (t[k] == '.' && want == 8 && (digits == 2 || digits == 5) && k + 1 < t.size() &&
               is_digit(t[k + 1])) {
      ++k;  // 12.345.678
    } else {
      break;
    }
  }
  if (digits != want || k >= t.size()) {
    return npos;
  }
  // Unlabelled, eight digits in a row that are a date (YYYYMMDD, 1970 to 2039) and a letter are a
  // build's, a release's or an image tag's id ("build 20240325A", "app:20240319C"; one date in 23
  // passes the check; probe round 33), not one of the 0.03 % of DNI numbers that read as a date.
  if (!labelled && want == 8 && k == i + 8) {
    const std::uint64_t year = n / 10000;
    const std::uint64_t month = n / 100 % 100;
    const std::uint64_t day = n % 100;
    if (year >= 1970 && year <= 2039 && month >= 1 && month <= 12 && day >= 1 && day <= 31) {
      return npos;
    }
  }
  const bool spaced = t[k] == ' ';
  if (t[k] == '-' || spaced) {
    ++k;
  }
  return k < t.size() && to_upper(t[k]) == letters[n % 23] && (!spaced || labelled || is_upper(t[k])) &&
                 ends_word(t, k + 1)
             ? k + 1
             : npos;
}

std::size_t line_break_at(std::string_view t, std::size_t k) noexcept {
  const auto blanks = [&](std::size_t at) {
    std::size_t b = at;
    while (b < t.size() && b - at < 2 && (t[b] == ' ' || t[b] == '\t')) {
      ++b;
    }
    return b;
  };
  std::size_t b = blanks(k);
  const auto take = [&](std::string_view s) {
    if (t.substr(b, s.size()) == s) {
      b += s.size();
      return true;
    }
    return false;
  };
  if (!(take("\n") || take("\r\n") || take("\\n") || take("\\r\\n"))) {
    return 0;
  }
  return blanks(b) - k;
}

bool thing_label_before(std::string_view t, std::size_t i) noexcept {
  // Words that name a product's, an order's or a document's number, and the words for "number".
  static constexpr std::string_view things[] = {
      "part",       "product",  "order",         "article",  "item",       "sku",        "serial",
      "model",      "ref",      "invoice",       "batch",    "lot",        "artikel",    "teil",
      "bestellung", "pedido",   "art\u00edculo", "articulo", "referencia", "commande",   "produit",
      "pi\u00e8ce", "piece",    "ordine",        "articolo", "prodotto",   "bestelling", "onderdeel",
      "reference",  "tracking", "shipment",      "sendung"};
  static constexpr std::string_view fillers[] = {"no",  "nr",          "number",  "nummer",
                                                 "num", "n\u00famero", "numero",  "num\u00e9ro",
                                                 "id",  "code",        "n\u00b0", "n\u00ba"};
  const auto mark = [](char c) {
    return c == ' ' || c == '\t' || c == ':' || c == '#' || c == '.' || c == '-' || c == '(' || c == '"' ||
           c == '\'' || c == '=';
  };
  std::size_t k = i;
  for (int words = 0; words < 3; ++words) {
    const std::size_t marks_end = k;
    while (k > 0 && marks_end - k < 8 && mark(t[k - 1])) {
      --k;
    }
    if (k == marks_end) {
      return false;
    }
    const std::size_t word_end = k;
    while (k > 0 && word_end - k < 24 &&
           (is_alpha(t[k - 1]) || static_cast<unsigned char>(t[k - 1]) >= 0x80)) {
      --k;
    }
    if (k == word_end || (k > 0 && is_alnum(t[k - 1]))) {
      return false;
    }
    if (one_of(t, k, word_end, things, std::size(things))) {
      return true;
    }
    const std::string_view word = t.substr(k, word_end - k);
    const auto ends_with = [&](std::string_view suffix) {
      return word.size() > suffix.size() + 1 && cue_end(t, word_end - suffix.size(), suffix) == word_end;
    };
    if (ends_with("nummer") || ends_with("number") || ends_with("nr")) {
      return true;  // Artikelnummer, Bestellnr, ordernumber
    }
    if (!one_of(t, k, word_end, fillers, std::size(fillers))) {
      return false;
    }
  }
  return false;
}

}  // namespace sovgw::classify::detail
