// person_name: a name after an honorific ("Madame Jeanne Dupont"), a self-introduction ("my name
// is Jeanne Dupont") or a form's label ("Nom : Dupont"). The rules, and why, are in
// docs/policy.md; the cues are below.
#include <array>
#include <cstdint>
#include <iterator>

#include "classify/detect_text.hpp"

namespace sovgw::classify::detail {
namespace {

enum class cue_kind : std::uint8_t {
  title,      // an honorific, written capitalised ("Mr", "Frau", "M."); a '.' may follow
  title_any,  // an honorific also written in lower case in running text ("madame", "pan", "dr")
  phrase,     // a self-introduction, in any case ("my name is", "je m'appelle")
  label,      // a form's field, capitalised, then ':' ("Name:", "Nom :", "Patient:")
};

struct cue {
  std::string_view text;  // lower case
  cue_kind kind;
};

using enum cue_kind;

// Longer cues before their prefixes ("sig.ra" before "sig", "mrs" before "mr").
constexpr std::array cues = {
    // English
    cue{"mrs", title},
    cue{"mr", title},
    cue{"ms", title},
    cue{"mx", title},
    cue{"miss", title},
    cue{"mister", title},
    cue{"sir", title},
    cue{"dr", title_any},
    cue{"prof", title_any},
    cue{"professor", title_any},
    cue{"doctor", title_any},
    cue{"my name is", phrase},
    cue{"my name's", phrase},
    cue{"full name", label},
    cue{"first name", label},
    cue{"last name", label},
    cue{"surname", label},
    cue{"name", label},
    cue{"patient", label},
    cue{"client", label},
    cue{"customer", label},
    // French
    cue{"monsieur", title_any},
    cue{"madame", title_any},
    cue{"mademoiselle", title_any},
    cue{"m.", title},
    cue{"mme", title},
    cue{"mlle", title},
    cue{"docteur", title_any},
    cue{"professeur", title_any},
    cue{"je m'appelle", phrase},
    cue{"je m\xe2\x80\x99"
        "appelle",
        phrase},
    cue{"mon nom est", phrase},
    cue{"je suis", phrase},
    cue{"nom complet", label},
    cue{"nom", label},
    cue{"pr\xc3\xa9nom", label},
    cue{"patiente", label},
    // German
    cue{"herrn", title},
    cue{"herr", title},
    cue{"frau", title},
    cue{"ich hei\xc3\x9f"
        "e",
        phrase},
    cue{"ich heisse", phrase},
    cue{"mein name ist", phrase},
    cue{"mein name lautet", phrase},
    cue{"vorname", label},
    cue{"nachname", label},
    cue{"patientin", label},
    cue{"kunde", label},
    cue{"kundin", label},
    // Spanish
    cue{"se\xc3\xb1orita", title_any},
    cue{"se\xc3\xb1ora", title_any},
    cue{"se\xc3\xb1or", title_any},
    cue{"senora", title_any},
    cue{"senor", title_any},
    cue{"srta", title},
    cue{"sra", title},
    cue{"sr", title},
    cue{"do\xc3\xb1"
        "a",
        title},
    cue{"me llamo", phrase},
    cue{"mi nombre es", phrase},
    cue{"nombre completo", label},
    cue{"nombre", label},
    cue{"apellidos", label},
    cue{"apellido", label},
    cue{"paciente", label},
    cue{"cliente", label},
    // Italian
    cue{"signorina", title_any},
    cue{"signora", title_any},
    cue{"signore", title_any},
    cue{"signor", title_any},
    cue{"sig.ra", title},
    cue{"sig.na", title},
    cue{"sig", title},
    cue{"dott.ssa", title},
    cue{"dott", title},
    cue{"mi chiamo", phrase},
    cue{"il mio nome \xc3\xa8", phrase},
    cue{"nome e cognome", label},
    cue{"nome", label},
    cue{"cognome", label},
    cue{"paziente", label},
    // Dutch
    cue{"meneer", title_any},
    cue{"mevrouw", title_any},
    cue{"de heer", title_any},
    cue{"dhr", title},
    cue{"mevr", title},
    cue{"mijn naam is", phrase},
    cue{"ik heet", phrase},
    cue{"naam", label},
    cue{"voornaam", label},
    cue{"achternaam", label},
    cue{"pati\xc3\xabnt", label},
    cue{"klant", label},
    // Polish
    cue{"pani\xc4\x85", title_any},
    cue{"pani", title_any},
    cue{"pana", title_any},
    cue{"panu", title_any},
    cue{"panem", title_any},
    cue{"pan", title_any},
    cue{"nazywam si\xc4\x99", phrase},
    cue{"nazywam sie", phrase},
    cue{"mam na imi\xc4\x99", phrase},
    cue{"mam na imie", phrase},
    cue{"imi\xc4\x99 i nazwisko", label},
    cue{"imi\xc4\x99", label},
    cue{"nazwisko", label},
    cue{"pacjentka", label},
    cue{"pacjent", label},
    cue{"klient", label},
    // Portuguese
    cue{"senhora", title_any},
    cue{"senhor", title_any},
    cue{"dona", title_any},
    cue{"o meu nome \xc3\xa9", phrase},
    cue{"meu nome \xc3\xa9", phrase},
    cue{"chamo-me", phrase},
    cue{"me chamo", phrase},
    cue{"nome completo", label},
};

// The cues by first letter: by_letter[c - 'a'] lists the indices into `cues`, ending with 0xff.
constexpr auto by_letter = [] {
  std::array<std::array<std::uint8_t, 32>, 26> index{};
  for (auto& list : index) {
    list.fill(0xff);
  }
  std::array<std::size_t, 26> used{};
  for (std::size_t i = 0; i < cues.size(); ++i) {
    const auto letter = static_cast<std::size_t>(cues[i].text[0] - 'a');
    index[letter][used[letter]++] = static_cast<std::uint8_t>(i);
    if (used[letter] == index[letter].size()) {
      throw "too many cues start with one letter";  // not a constant expression: fails to compile
    }
  }
  return index;
}();

// Capitalised words that start a sentence or fill a field without being a name: pronouns,
// articles, yes and no, greetings, placeholders, and the job titles "Sr." (senior) comes before.
// Lower case; compared case-insensitively.
constexpr std::string_view not_names[] = {"the",
                                          "and",
                                          "not",
                                          "yes",
                                          "hello",
                                          "hi",
                                          "hey",
                                          "dear",
                                          "thanks",
                                          "thank",
                                          "please",
                                          "we",
                                          "you",
                                          "he",
                                          "she",
                                          "it",
                                          "they",
                                          "this",
                                          "that",
                                          "what",
                                          "how",
                                          "why",
                                          "when",
                                          "where",
                                          "who",
                                          "is",
                                          "was",
                                          "my",
                                          "me",
                                          "an",
                                          "in",
                                          "at",
                                          "for",
                                          "to",
                                          "of",
                                          "from",
                                          "with",
                                          "unknown",
                                          "none",
                                          "null",
                                          "anonymous",
                                          "redacted",
                                          "here",
                                          "there",
                                          "je",
                                          "tu",
                                          "il",
                                          "elle",
                                          "on",
                                          "nous",
                                          "vous",
                                          "ils",
                                          "elles",
                                          "les",
                                          "un",
                                          "une",
                                          "des",
                                          "et",
                                          "ou",
                                          "mais",
                                          "oui",
                                          "non",
                                          "bonjour",
                                          "salut",
                                          "merci",
                                          "ce",
                                          "cette",
                                          "mon",
                                          "ma",
                                          "mes",
                                          "inconnu",
                                          "inconnue",
                                          "anonyme",
                                          "ich",
                                          "du",
                                          "er",
                                          "sie",
                                          "es",
                                          "wir",
                                          "ihr",
                                          "der",
                                          "die",
                                          "das",
                                          "ein",
                                          "eine",
                                          "und",
                                          "oder",
                                          "aber",
                                          "ja",
                                          "nein",
                                          "hallo",
                                          "danke",
                                          "bitte",
                                          "mein",
                                          "meine",
                                          "unbekannt",
                                          "anonym",
                                          "yo",
                                          "el",
                                          "ella",
                                          "los",
                                          "las",
                                          "una",
                                          "pero",
                                          "si",
                                          "s\xc3\xad",
                                          "no",
                                          "hola",
                                          "gracias",
                                          "mi",
                                          "desconocido",
                                          "an\xc3\xb3nimo",
                                          "io",
                                          "lui",
                                          "lei",
                                          "noi",
                                          "voi",
                                          "loro",
                                          "lo",
                                          "gli",
                                          "uno",
                                          "ciao",
                                          "grazie",
                                          "sconosciuto",
                                          "anonimo",
                                          "ik",
                                          "jij",
                                          "hij",
                                          "zij",
                                          "wij",
                                          "het",
                                          "een",
                                          "en",
                                          "maar",
                                          "nee",
                                          "hoi",
                                          "dank",
                                          "mijn",
                                          "onbekend",
                                          "ty",
                                          "ona",
                                          "wy",
                                          "oni",
                                          "tak",
                                          "nie",
                                          "dzie\xc5\x84",
                                          "cze\xc5\x9b\xc4\x87",
                                          "nieznany",
                                          "eu",
                                          "ele",
                                          "ela",
                                          "n\xc3\xb3s",
                                          "os",
                                          "um",
                                          "uma",
                                          "sim",
                                          "n\xc3\xa3o",
                                          "ol\xc3\xa1",
                                          "obrigado",
                                          "obrigada",
                                          "meu",
                                          "minha",
                                          "desconhecido",
                                          "developer",
                                          "engineer",
                                          "manager",
                                          "director",
                                          "analyst",
                                          "consultant",
                                          "designer",
                                          "architect",
                                          "software",
                                          "data",
                                          "vice"};

// Lower-case words inside a name ("Ludwig van Beethoven", "Jeanne de La Fontaine"); the first
// list may also open one ("Monsieur de Villepin", "Mevrouw van Dijk").
constexpr std::string_view leading_particles[] = {"de",  "du",    "des", "da",  "das", "dos", "do",  "di",
                                                  "del", "della", "van", "von", "vom", "zu",  "ten", "ter"};
constexpr std::string_view inner_particles[] = {"der", "den", "la", "le", "y", "e", "i"};

bool space(char c) { return c == ' ' || c == '\t'; }

// A lower-case particle at i followed by a space: the position after the space, or npos.
std::size_t particle_at(std::string_view t, std::size_t i, bool leading) {
  std::size_t k = i;
  while (k < t.size() && is_lower(t[k]) && k - i < 5) {
    ++k;
  }
  if (k == i || k >= t.size() || t[k] != ' ') {
    return npos;
  }
  const bool known = one_of(t, i, k, leading_particles, std::size(leading_particles)) ||
                     (!leading && one_of(t, i, k, inner_particles, std::size(inner_particles)));
  return known ? k + 1 : npos;
}

bool title_at(std::string_view t, std::size_t i);

// The name at i: one to four capitalised words or initials ("J."), one space apart, with particles
// between them, at least one a whole word and none a word of not_names. Returns its end or npos.
std::size_t name_at(std::string_view t, std::size_t i) {
  std::size_t end = npos;
  std::size_t k = i;
  int names = 0;
  bool whole_word = false;
  for (int tokens = 0; tokens < 7 && names < 4 && k < t.size(); ++tokens) {
    if (const std::size_t after = particle_at(t, k, names == 0); after != npos) {
      k = after;
      continue;
    }
    std::size_t e = npos;
    const latin_letter first = latin_letter_at(t, k);
    if (first.upper && k + first.len < t.size() && t[k + first.len] == '.') {
      e = k + first.len + 1;  // an initial
    } else if (e = capitalised_word_at(t, k);
               e != npos && (one_of(t, k, e, not_names, std::size(not_names)) || title_at(t, k))) {
      e = npos;
    } else if (e != npos) {
      whole_word = true;
    }
    std::size_t after = e;
    while (after != npos && after < t.size() && space(t[after])) {
      ++after;
    }
    if (e == npos || (after < t.size() && t[after] == ':')) {
      break;  // a form's next label ("Nom : DUPONT Prénom : Jeanne")
    }
    end = e;
    ++names;
    if (e + 1 >= t.size() || t[e] != ' ') {
      break;
    }
    k = e + 1;
  }
  return whole_word ? end : npos;
}

// The end of the cue `c` at i, with what must follow it (a '.', spaces, a ':'), or npos.
std::size_t after_cue(std::string_view t, std::size_t i, const cue& c) {
  if ((c.kind == title || c.kind == label) && !is_upper(t[i])) {
    return npos;
  }
  std::size_t k = cue_end(t, i, c.text);
  if (k == npos) {
    return npos;
  }
  if (c.text.back() != '.' && k < t.size() && (is_alnum(t[k]) || latin_letter_at(t, k).len != 0)) {
    return npos;  // "Mrs" is not "Mr", "Nomenclature" not "Nom"
  }
  if ((c.kind == title || c.kind == title_any) && c.text.back() != '.' && k < t.size() && t[k] == '.') {
    ++k;
  }
  const std::size_t before_spaces = k;
  while (k < t.size() && space(t[k])) {
    ++k;
  }
  if (c.kind == label) {
    if (k >= t.size() || t[k] != ':') {
      return npos;
    }
    ++k;
    while (k < t.size() && space(t[k])) {
      ++k;
    }
    return k;
  }
  return k > before_spaces ? k : npos;
}

bool title_at(std::string_view t, std::size_t i) {
  const char c = to_lower(t[i]);
  if (!is_lower(c)) {
    return false;
  }
  for (const std::uint8_t q : by_letter[static_cast<std::size_t>(c - 'a')]) {
    if (q == 0xff) {
      break;
    }
    if ((cues[q].kind == title || cues[q].kind == title_any) && after_cue(t, i, cues[q]) != npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool scan_person_name(std::string_view t, hit_ref hit) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = to_lower(t[i]);
    if (!is_lower(c) || by_letter[static_cast<std::size_t>(c - 'a')][0] == 0xff || !starts_word(t, i)) {
      continue;
    }
    for (const std::uint8_t q : by_letter[static_cast<std::size_t>(c - 'a')]) {
      if (q == 0xff) {
        break;
      }
      const std::size_t from = after_cue(t, i, cues[q]);
      if (from == npos) {
        continue;
      }
      if (const std::size_t end = name_at(t, from); end != npos) {
        if (hit(from, end)) {
          return true;
        }
        i = end - 1;
        break;
      }
    }
  }
  return false;
}

}  // namespace sovgw::classify::detail
