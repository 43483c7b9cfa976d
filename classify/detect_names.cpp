// person_name: a name after an honorific ("Madame Jeanne Dupont"), a self-introduction ("my name
// is Jeanne Dupont") or a form's label ("Nom : Dupont"). The rules, and why, are in
// docs/policy.md; the cues are below.
#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <unordered_set>

#include "classify/detect_text.hpp"

namespace sovgw::classify::detail {
namespace {

enum class cue_kind : std::uint8_t {
  title,       // an honorific, written capitalised ("Mr", "Frau", "M."); a '.' may follow
  title_any,   // an honorific also written in lower case in running text ("madame", "pan", "dr")
  phrase,      // a self-introduction, in any case ("my name is", "je m'appelle")
  label,       // a form's field, capitalised, then ':' ("Name:", "Nom :", "Patient:")
  team_label,  // a label that also heads a team or a company ("Contact:", "Kontakt:"): two words
};

struct cue {
  std::string_view text;  // lower case
  cue_kind kind = cue_kind::title;
};

using enum cue_kind;

// The cues, lower case, in English, French, German, Spanish, Italian, Dutch, Polish and Portuguese.
// Honorifics written capitalised ("Mr", "Frau", "M."); a '.' may follow.
constexpr std::string_view titles[] = {
    "mrs",  "mr",   "ms",  "mx", "miss",   "mister", "sir", "m.",       "mme",  "mlle", "herrn", "herr",
    "frau", "srta", "sra", "sr", "sig.ra", "sig.na", "sig", "dott.ssa", "dott", "dhr",  "mevr",  "do\u00f1a"};
// Honorifics also written in lower case in running text ("madame", "pan", "dr").
constexpr std::string_view titles_any[] = {
    "dr",           "prof",    "professor",  "doctor",          "monsieur",      "madame",
    "mademoiselle", "docteur", "professeur", "se\xc3\xb1orita", "se\xc3\xb1ora", "se\xc3\xb1or",
    "senora",       "senor",   "signorina",  "signora",         "signore",       "signor",
    "meneer",       "mevrouw", "de heer",    "pani\xc4\x85",    "pani",          "pana",
    "panu",         "panem",   "pan",        "senhora",         "senhor",        "dona",
    "geachte heer"};
// Self-introductions, in any case.
constexpr std::string_view phrases[] = {"my name is",        "my name's",          "je m'appelle",
                                        "je m\u2019appelle", "mon nom est",        "je suis",
                                        "ich hei\u00dfe",    "ich heisse",         "mein name ist",
                                        "mein name lautet",  "me llamo",           "mi nombre es",
                                        "mi chiamo",         "il mio nome \u00e8", "mijn naam is",
                                        "ik heet",           "nazywam si\u0119",   "nazywam sie",
                                        "mam na imi\u0119",  "mam na imie",        "o meu nome \u00e9",
                                        "meu nome \u00e9",   "chamo-me",           "me chamo"};
// A form's fields, capitalised, then ':' ("Name:", "Nom :").
constexpr std::string_view labels[] = {"full name",    "first name",  "last name",
                                       "surname",      "name",        "patient",
                                       "client",       "customer",    "nom complet",
                                       "nom",          "pr\u00e9nom", "patiente",
                                       "vorname",      "nachname",    "patientin",
                                       "kunde",        "kundin",      "nombre completo",
                                       "nombre",       "apellidos",   "apellido",
                                       "paciente",     "cliente",     "nome e cognome",
                                       "nome",         "cognome",     "paziente",
                                       "naam",         "voornaam",    "achternaam",
                                       "pati\u00ebnt", "klant",       "imi\u0119 i nazwisko",
                                       "imi\u0119",    "nazwisko",    "pacjentka",
                                       "pacjent",      "klient",      "nome completo"};
// Labels that also head a department, a team or a company ("Kontakt: Vertrieb", "Author: OpenAI",
// "Contact: Support Team"): a name after them is two words or more.
constexpr std::string_view team_labels[] = {"ansprechpartnerin",
                                            "ansprechpartner",
                                            "kontakt",
                                            "contact",
                                            "empf\u00e4ngerin",
                                            "empf\u00e4nger",
                                            "destinataire",
                                            "bewerberin",
                                            "bewerber",
                                            "candidate",
                                            "author",
                                            "autorin",
                                            "autor"};

template <std::size_t N>
constexpr void add(std::array<cue, std::size(titles) + std::size(titles_any) + std::size(phrases) +
                                       std::size(labels) + std::size(team_labels)>& out,
                   std::size_t& n, const std::string_view (&texts)[N], cue_kind kind) {
  for (std::string_view text : texts) {
    out[n++] = cue{text, kind};
  }
}

constexpr auto cues = [] {
  std::array<cue, std::size(titles) + std::size(titles_any) + std::size(phrases) + std::size(labels) +
                      std::size(team_labels)>
      all{};
  std::size_t n = 0;
  add(all, n, titles, title);
  add(all, n, titles_any, title_any);
  add(all, n, phrases, phrase);
  add(all, n, labels, label);
  add(all, n, team_labels, team_label);
  return all;
}();

constexpr auto cue_index = make_pair_index(cues, [](const cue& c) { return c.text; });

// Capitalised words that start a sentence or fill a field without being a name: pronouns,
// articles, yes and no, greetings, placeholders, the job titles "Sr." (senior) comes before, and
// those of "je suis Product Owner", "je suis Responsable RH".
// Lower case, each between spaces; compared case-insensitively (not_a_name).
constexpr std::string_view not_names =
    " the and not yes hello hi hey dear thanks thank please we you he she it they this that "
    "what how why when where who is was my me an in at for to of from with unknown none null "
    "anonymous redacted here there je tu il elle on nous vous ils elles les un une des et ou "
    "mais oui non bonjour salut merci ce cette mon ma mes inconnu inconnue anonyme ich du er "
    "sie es wir ihr der die das ein eine und oder aber ja nein hallo danke bitte mein meine "
    "unbekannt anonym yo el ella los las una pero si s\xc3\xad no hola gracias mi desconocido "
    "an\xc3\xb3nimo io lui lei noi voi loro lo gli uno ciao grazie sconosciuto anonimo ik jij "
    "hij zij wij het een en maar nee hoi dank mijn onbekend ty ona wy oni tak nie dzie\xc5\x84 "
    "cze\xc5\x9b\xc4\x87 nieznany eu ele ela n\xc3\xb3s os um uma sim n\xc3\xa3o ol\xc3\xa1 "
    "obrigado obrigada meu minha desconhecido developer engineer manager director analyst "
    "consultant designer architect software data vice product project owner lead head senior "
    "junior student intern founder freelance freelancer ceo cto cfo coo scrum programmer "
    "assistant responsable directeur directrice d\xc3\xa9veloppeur d\xc3\xa9veloppeuse "
    "ing\xc3\xa9nieur ing\xc3\xa9nieure chef cheffe consultante stagiaire \xc3\xa9tudiant "
    "\xc3\xa9tudiante m\xc3\xa9"
    "decin avocat avocate infirmier infirmi\xc3\xa8re pr\xc3\xa9sident "
    "pr\xc3\xa9sidente g\xc3\xa9rant g\xc3\xa9rante comptable technicien technicienne commercial "
    "commerciale fondateur fondatrice administrateur administratrice assistante ";

bool not_a_name(std::string_view t, std::size_t begin, std::size_t end) {
  // A hash set of the words, made once: a search of the list cost ~1 us per capitalised word,
  // which a text of nothing but "Mr Mr Mr ..." multiplies.
  static const std::unordered_set<std::string_view> words = [] {
    std::unordered_set<std::string_view> out;
    for (std::size_t b = 1; b < not_names.size();) {
      const std::size_t e = not_names.find(' ', b);
      out.insert(not_names.substr(b, e - b));
      b = e + 1;
    }
    return out;
  }();
  std::array<char, 42> word{};  // lower case
  if (end - begin > word.size()) {
    return false;
  }
  for (std::size_t i = begin; i < end; ++i) {
    word[i - begin] = to_lower(t[i]);
    // Latin-1's capitals (U+00C0..00DE but U+00D7): "Étudiante" is "étudiante".
    if (i > begin && t[i - 1] == '\xc3' && static_cast<unsigned char>(t[i]) >= 0x80 &&
        static_cast<unsigned char>(t[i]) <= 0x9e && static_cast<unsigned char>(t[i]) != 0x97) {
      word[i - begin] = static_cast<char>(t[i] + 0x20);
    }
  }
  return words.contains(std::string_view(word.data(), end - begin));
}

bool space(char c) { return c == ' ' || c == '\t'; }

// A company's legal form, as companies write it (case matters: "Co" is a Dutch first name, "Co."
// an abbreviation): in a name after a label, or right after it ("Siemens AG", "Contoso, Inc.",
// "Acme plc", "Telef\u00f3nica S.A."), the name is a company's.
constexpr std::string_view legal_forms[] = {
    "AG",     "GmbH", "mbH",  "KG",     "KGaA",   "SE",   "Ltd",   "LTD",       "Limited", "plc",    "PLC",
    "Inc",    "INC",  "LLC",  "LLP",    "Corp",   "Co.",  "Group", "GROUP",     "Gruppe",  "Groupe", "Grupo",
    "Gruppo", "SA",   "SAS",  "SARL",   "SL",     "SLU",  "SpA",   "SPA",       "Srl",     "SRL",    "BV",
    "NV",     "S.A.", "S.L.", "S.p.A.", "S.r.l.", "B.V.", "N.V.",  "Sp. z o.o."};
// Words that make a name after a label an organisation's, a project's or a service's: anywhere in
// it ("Checkout Service", "Support Team"), and as its first word ("Banco Santander", "Gemeente
// Utrecht", "Case A"). Lower case, compared case-insensitively.
constexpr std::string_view organisation_words[] = {
    "service",    "services",  "team",     "support",       "helpdesk",     "hotline", "desk",
    "department", "abteilung", "vertrieb", "kundenservice", "kundendienst", "project", "projekt",
    "projet",     "progetto",  "proyecto", "projeto",       "holding"};
constexpr std::string_view organisation_first_words[] = {
    "gemeente",        "gemeinde",    "banco",      "bank",         "banca",
    "banque",          "case",        "stichting",  "ayuntamiento", "comune",
    "ministerio",      "ministerium", "university", "universidad",  "universit\u00e4t",
    "universit\u00e0", "stadtwerke",  "sparkasse",  "volksbank"};

// Whether a legal form starts at t[p] and ends a word there.
bool legal_form_at(std::string_view t, std::size_t p) {
  return std::any_of(std::begin(legal_forms), std::end(legal_forms), [&](std::string_view form) {
    const std::size_t e = p + form.size();
    return t.substr(p, form.size()) == form &&
           (e >= t.size() || (!is_alnum(t[e]) && static_cast<unsigned char>(t[e]) < 0x80));
  });
}

// Whether the name t[begin, end) found after a label is an organisation's: a word of it or the
// word after it (past a ',') is a legal form, or one of its words names an organisation.
bool organisation(std::string_view t, std::size_t begin, std::size_t end) {
  for (std::size_t p = begin; p < end;) {
    std::size_t e = p;
    while (e < end && t[e] != ' ') {
      ++e;
    }
    if (legal_form_at(t, p) || one_of(t, p, e, organisation_words, std::size(organisation_words)) ||
        (p == begin && one_of(t, p, e, organisation_first_words, std::size(organisation_first_words)))) {
      return true;
    }
    p = e + 1;
  }
  std::size_t q = end < t.size() && t[end] == ',' ? end + 1 : end;
  while (q < t.size() && q - end < 3 && space(t[q])) {
    ++q;
  }
  return q > end && q < t.size() && legal_form_at(t, q);
}

// Lower-case words inside a name ("Ludwig van Beethoven", "Jeanne de La Fontaine"); the first
// list may also open one ("Monsieur de Villepin", "Mevrouw van Dijk").
constexpr std::string_view leading_particles[] = {"de",  "du",    "des", "da",  "das", "dos", "do",  "di",
                                                  "del", "della", "van", "von", "vom", "zu",  "ten", "ter"};
constexpr std::string_view inner_particles[] = {"der", "den", "la", "le", "y", "e", "i"};

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
bool label_at(std::string_view t, std::size_t i);

// The name at i after a cue of `kind`: one to four capitalised words or initials ("J."), one space
// apart, with particles between them, at least one a whole word (their count in `words`) and none a
// word of not_names. A word followed by ':' is a form's next label after a label ("Nom : DUPONT
// Prénom : Jeanne"), and ends the name after a salutation ("Dear Mr. Smith:") unless it is a label
// ("Herr Name: Müller"). Returns its end or npos.
std::size_t name_at(std::string_view t, std::size_t i, cue_kind kind, int& words) {
  std::size_t end = npos;
  std::size_t k = i;
  int names = 0;
  words = 0;
  for (int tokens = 0; tokens < 7 && names < 4 && k < t.size(); ++tokens) {
    if (const std::size_t after = particle_at(t, k, names == 0); after != npos) {
      k = after;
      continue;
    }
    std::size_t e = npos;
    bool whole = false;
    const latin_letter first = latin_letter_at(t, k);
    if (first.upper && k + first.len < t.size() && t[k + first.len] == '.') {
      e = k + first.len + 1;  // an initial
    } else if (e = capitalised_word_at(t, k); e != npos && (not_a_name(t, k, e) || title_at(t, k))) {
      e = npos;
    } else {
      whole = e != npos;
    }
    std::size_t after = e;
    while (after != npos && after < t.size() && space(t[after])) {
      ++after;
    }
    const bool colon = after < t.size() && t[after] == ':';
    if (e == npos || (colon && (kind == label || kind == team_label || label_at(t, k)))) {
      break;
    }
    end = e;
    ++names;
    words += whole ? 1 : 0;
    if (colon || e + 1 >= t.size() || t[e] != ' ') {
      break;
    }
    k = e + 1;
  }
  return words > 0 ? end : npos;
}

// The end of the cue `c` at i, with what must follow it (a '.', spaces, a ':'), or npos.
std::size_t after_cue(std::string_view t, std::size_t i, const cue& c) {
  if ((c.kind == title || c.kind == label || c.kind == team_label) && !is_upper(t[i])) {
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
  if (c.kind == label || c.kind == team_label) {
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

// Whether a cue of kind `a` or `b` is written at i.
bool cue_of_kind_at(std::string_view t, std::size_t i, cue_kind a, cue_kind b) {
  bool found = false;
  cue_index.for_each(t, i, [&](std::size_t q) {
    found = (cues[q].kind == a || cues[q].kind == b) && after_cue(t, i, cues[q]) != npos;
    return found;
  });
  return found;
}

bool title_at(std::string_view t, std::size_t i) { return cue_of_kind_at(t, i, title, title_any); }

bool label_at(std::string_view t, std::size_t i) { return cue_of_kind_at(t, i, label, team_label); }

}  // namespace

bool scan_person_name(std::string_view t, hit_ref hit) {
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    if (!is_alpha(t[i]) || !starts_word(t, i)) {
      continue;
    }
    if (!cue_index.any(t, i)) {
      i = last_of_word(t, i);
      continue;
    }
    bool stop = false;
    cue_index.for_each(t, i, [&](std::size_t q) {
      const cue_kind kind = cues[q].kind;
      const std::size_t from = after_cue(t, i, cues[q]);
      int words = 0;
      const std::size_t end = from == npos ? npos : name_at(t, from, kind, words);
      if (end == npos || (kind == team_label && words < 2) ||
          (kind != title && kind != title_any && organisation(t, from, end))) {
        return false;
      }
      stop = hit(from, end);
      i = end - 1;
      return true;
    });
    if (stop) {
      return true;
    }
    if (!starts_word(t, i + 1)) {  // no name here: the rest of the word is no cue
      i = last_of_word(t, i);
    }
  }
  return false;
}

}  // namespace sovgw::classify::detail
