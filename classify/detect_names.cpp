// person_name: a name after an honorific ("Madame Jeanne Dupont"), a self-introduction ("my name
// is Jeanne Dupont"), a form's label ("Nom : Dupont"), a mail header ("Von: Schneider, Anna"), a
// list of attendees, a letter's closing ("Viele Grüße\nAnna Schneider") or a data field's key
// ("first_name": "Matteo"). The rules, and why, are in docs/policy.md; the cues are below.
#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <unordered_set>

#include "classify/detect_text.hpp"
#include "classify/unescape.hpp"

namespace sovgw::classify::detail {
namespace {

enum class cue_kind : std::uint8_t {
  title,          // an honorific, written capitalised ("Mr", "Frau", "M."); a '.' may follow
  title_any,      // an honorific also written in lower case in running text ("madame", "pan", "dr")
  phrase,         // a self-introduction, in any case ("my name is", "je m'appelle")
  phrase_two,     // one that also says what one is ("ich bin Arzt"): a name of two words or more
  label,          // a form's field, capitalised, then ':' ("Name:", "Nom :", "Patient:")
  team_label,     // a label that also heads a team or a company ("Contact:", "Kontakt:"): two words
  list_label,     // heads a list of people ("Attendees:", "Teilnehmer:"), capitalised, then ':'
  patient_title,  // a patient named without a ':' ("Patientin Anna Schmidt"): two words or more
  closing,        // a letter's closing, in any case, ending its line ("Best regards", "Viele Grüße")
  thanks,         // a closing that is also thanks ("Thanks,", "Danke"): a name of two words or more
  key,            // a data field's key naming a person's name ("first_name", "lastName"): its value
  name_key,       // "name" holding a name's parts ({"given": "Lukas", "family": "Hofmann"})
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
constexpr std::string_view phrases[] = {
    "my name is", "my name's", "je m'appelle", "je m\u2019appelle", "mon nom est", "je suis",
    "ich hei\u00dfe", "ich heisse", "mein name ist", "mein name lautet", "me llamo", "mi nombre es",
    "mi chiamo", "il mio nome \u00e8", "mijn naam is", "ik heet", "nazywam si\u0119", "nazywam sie",
    "mam na imi\u0119", "mam na imie", "o meu nome \u00e9", "meu nome \u00e9", "chamo-me", "me chamo",
    // and in the other EU languages written in Latin letters
    "jag heter", "mitt namn \u00e4r", "jeg hedder", "jeg heter", "mit navn er", "mitt navn er", "nimeni on",
    "minu nimi on", "jmenuji se", "jmenuju se", "vol\u00e1m se", "vol\u00e1m sa", "men\u00e1m sa", "a nevem",
    "m\u0103 numesc", "ma numesc", "numele meu este", "zovem se", "ime mi je", "mano vardas", "mani sauc",
    "nazivam se"};
// Self-introductions that also say what one is (German nouns are capitalised: "ich bin Arzt").
constexpr std::string_view phrases_two[] = {"ich bin"};
// A form's fields, capitalised, then ':' ("Name:", "Nom :").
constexpr std::string_view labels[] = {
    "full name", "first name", "last name", "surname", "name", "patient", "client", "customer", "nom complet",
    "nom", "pr\u00e9nom", "patiente", "vorname", "nachname", "patientin", "kunde", "kundin",
    "nombre completo", "nombre", "apellidos", "apellido", "paciente", "cliente", "nome e cognome", "nome",
    "cognome", "paziente", "naam", "voornaam", "achternaam", "pati\u00ebnt", "klant", "imi\u0119 i nazwisko",
    "imi\u0119", "nazwisko", "pacjentka", "pacjent", "klient", "nome completo",
    // a patient's name in several words or one compound
    "patientenname", "name des patienten", "name der patientin", "name des versicherten",
    "name der versicherten", "versicherter", "versicherte(r)", "versicherte", "pat.", "patient name",
    "patient's name", "patient\u2019s name", "name of patient", "name of the patient", "nom du patient",
    "nom de la patiente", "nom et pr\u00e9nom du patient", "nom et pr\u00e9nom de la patiente",
    "nom et pr\u00e9nom", "nome del paziente", "nome della paziente", "cognome e nome", "nombre del paciente",
    "nombre de la paciente", "nombre y apellidos", "nome do paciente", "nome da paciente", "nome do utente",
    "nome do doente", "naam pati\u00ebnt", "naam patient", "naam van de pati\u00ebnt", "pati\u00ebntnaam",
    "patientnaam", "imi\u0119 i nazwisko pacjenta", "imi\u0119 i nazwisko pacjentki", "nazwisko pacjenta",
    "patientens namn", "patientens navn", "pasientens navn", "potilaan nimi", "jm\u00e9no pacienta",
    "jm\u00e9no a p\u0159\u00edjmen\u00ed", "meno pacienta", "meno a priezvisko", "beteg neve",
    "numele pacientului", "ime i prezime", "ime pacijenta", "ime in priimek", "ime pacienta",
    "paciento vardas", "pacienta v\u0101rds", "patsiendi nimi"};
// A patient named without a ':' ("Patientin Anna Schmidt"), capitalised: two words or more, the
// first not a noun that "Patient" heads (patient_noun).
constexpr std::string_view patient_titles[] = {"patientin", "patient", "pat."};
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

// Labels that head a list of people ("Attendees: Laura Schmidt (chair), Daniel Kovač, ...").
constexpr std::string_view list_labels[] = {
    "attendees",     "participants", "invitees",      "teilnehmer", "teilnehmende", "anwesend",
    "pr\u00e9sents", "partecipanti", "presenti",      "deelnemers", "aanwezig",     "uczestnicy",
    "obecni",        "asistentes",   "participantes", "presentes",  "deltagare",    "n\u00e4rvarande"};
// A letter's closings, in any case; the signature's name is on the next line.
constexpr std::string_view closings[] = {"best regards",
                                         "kind regards",
                                         "warm regards",
                                         "regards",
                                         "best wishes",
                                         "yours sincerely",
                                         "sincerely",
                                         "yours faithfully",
                                         "viele gr\u00fc\u00dfe",
                                         "viele gr\u00fcsse",
                                         "viele gruesse",
                                         "beste gr\u00fc\u00dfe",
                                         "liebe gr\u00fc\u00dfe",
                                         "freundliche gr\u00fc\u00dfe",
                                         "mit freundlichen gr\u00fc\u00dfen",
                                         "mit freundlichen gr\u00fcssen",
                                         "mit besten gr\u00fc\u00dfen",
                                         "gr\u00fc\u00dfe",
                                         "gru\u00df",
                                         "cordialement",
                                         "bien cordialement",
                                         "bien \u00e0 vous",
                                         "salutations",
                                         "meilleures salutations",
                                         "cordiali saluti",
                                         "distinti saluti",
                                         "saluti",
                                         "un saluto",
                                         "met vriendelijke groet",
                                         "met vriendelijke groeten",
                                         "vriendelijke groet",
                                         "groeten",
                                         "groet",
                                         "pozdrawiam",
                                         "z powa\u017caniem",
                                         "z wyrazami szacunku",
                                         "saludos",
                                         "saludos cordiales",
                                         "un saludo",
                                         "un cordial saludo",
                                         "atentamente",
                                         "atenciosamente",
                                         "cumprimentos",
                                         "melhores cumprimentos",
                                         "med v\u00e4nlig h\u00e4lsning",
                                         "v\u00e4nliga h\u00e4lsningar",
                                         "h\u00e4lsningar"};
// Closings that are also thanks, in any case: a name of two words or more after them.
constexpr std::string_view thanks_closings[] = {"thanks",   "thank you", "many thanks", "danke",
                                                "merci",    "grazie",    "gracias",     "bedankt",
                                                "obrigado", "obrigada",  "tack",        "cheers"};
// A data field's keys naming a person's name, in any case ("firstName", "FIRST_NAME").
constexpr std::string_view keys[] = {
    "first_name", "firstname", "last_name", "lastname",    "given_name", "givenname", "family_name",
    "familyname", "full_name", "fullname",  "middle_name", "surname",    "forename",  "vorname",
    "nachname",   "nom",       "prenom",    "pr\u00e9nom", "nombre",     "apellido",  "apellidos",
    "cognome",    "nome",      "voornaam",  "achternaam",  "nazwisko",   "imie",      "imi\u0119"};
constexpr std::string_view name_keys[] = {"name"};

template <std::size_t M, std::size_t N>
constexpr void add(std::array<cue, M>& out, std::size_t& n, const std::string_view (&texts)[N],
                   cue_kind kind) {
  for (std::string_view text : texts) {
    out[n++] = cue{text, kind};
  }
}

// The cues looked for at any word.
constexpr auto cues = [] {
  std::array<cue, std::size(titles) + std::size(titles_any) + std::size(phrases) + std::size(phrases_two) +
                      std::size(labels) + std::size(team_labels) + std::size(patient_titles)>
      all{};
  std::size_t n = 0;
  add(all, n, titles, title);
  add(all, n, titles_any, title_any);
  add(all, n, phrases, phrase);
  add(all, n, phrases_two, phrase_two);
  add(all, n, labels, label);
  add(all, n, team_labels, team_label);
  add(all, n, patient_titles, patient_title);
  return all;
}();

// The cues looked for only at a line's start or after a quote (a JSON key): many begin as common
// words do ("Thanks" as "the", "Best regards" as "be"), and these are written there.
constexpr auto line_cues = [] {
  std::array<cue, std::size(list_labels) + std::size(closings) + std::size(thanks_closings) +
                      std::size(keys) + std::size(name_keys)>
      all{};
  std::size_t n = 0;
  add(all, n, list_labels, list_label);
  add(all, n, closings, closing);
  add(all, n, thanks_closings, thanks);
  add(all, n, keys, key);
  add(all, n, name_keys, name_key);
  return all;
}();

constexpr auto cue_index = make_pair_index(cues, [](const cue& c) { return c.text; });
constexpr auto line_cue_index = make_pair_index(line_cues, [](const cue& c) { return c.text; });

// Capitalised words that start a sentence or fill a field without being a name: pronouns,
// articles, yes and no, greetings, placeholders, the job titles "Sr." (senior) comes before, and
// those of "je suis Product Owner", "je suis Responsable RH".
// Lower case, each between spaces; compared case-insensitively (not_a_name).
constexpr std::string_view not_names =
    " the and not yes hello hi hey dear thanks thank please we you he she it they this that "
    "what how why when where who is was my me an in at for to of from with unknown none null "
    "anonymous redacted string example sample placeholder here there je tu il elle on nous vous ils elles "
    "les un une des et ou "
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
    "service", "services", "team", "support", "helpdesk", "hotline", "desk", "department", "abteilung",
    "vertrieb", "kundenservice", "kundendienst", "project", "projekt", "projet", "progetto", "proyecto",
    "projeto", "holding", "guild", "chapter", "tribe", "squad", "einkauf", "buchhaltung", "sales",
    "marketing", "staff",
    // and the words of company and team names (probe round 25: "Customer: Acme Holdings",
    // "Contact: Platform Engineering", "Client: Web Portal")
    "holdings", "engineering", "portal", "platform", "operations", "solutions", "systems", "technologies",
    "consulting", "logistics", "partners", "infrastructure"};
constexpr std::string_view organisation_first_words[] = {
    "deutsche",  // Deutsche Bahn, Deutsche Telekom, Deutsche Post, Deutsche Bank
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

// The end of the markup a model reads through as formatting around a label or its value at t[k]
// (unescape.hpp's markup_length, as the markup reading of identifiers reads it: "**", "`", "~~",
// "<b>", "</strong>", "<td>"; and a run of '_' that closes an emphasis, a ':', a space or the end
// after it: "__Customer:__ "), or k when there is none. Not HTML comments: each would be looked
// for to the text's end.
std::size_t past_markup(std::string_view t, std::size_t k) {
  comment_memo memo;
  for (int runs = 0; runs < 4 && k < t.size(); ++runs) {
    const char c = t[k];
    std::size_t m = (c == '*' || c == '`' || c == '~' || c == '<') && t.compare(k, 4, "<!--") != 0
                        ? markup_length(t, k, memo)
                        : 0;
    if (c == '_') {
      while (k + m < t.size() && t[k + m] == '_' && m < 3) {
        ++m;
      }
      m = k + m >= t.size() || space(t[k + m]) || t[k + m] == ':' || t[k + m] == '\n' ? m : 0;
    }
    if (m == 0) {
      break;
    }
    k += m;
  }
  return k;
}

// The end of the cue `text` at t[i] (cue_end), each space of it written as up to eight spaces
// or tabs ("my  name\tis", "Best  regards"), or npos.
std::size_t phrase_end(std::string_view t, std::size_t i, std::string_view text) {
  std::size_t k = i;
  for (const char c : text) {
    if (c == ' ') {
      const std::size_t from = k;
      while (k < t.size() && k - from < 8 && space(t[k])) {
        ++k;
      }
      if (k == from) {
        return npos;
      }
    } else if (k >= t.size() || to_lower(t[k]) != c) {
      return npos;
    } else {
      ++k;
    }
  }
  return k;
}

// The end of the cue `c` at i, with what must follow it (a '.', spaces, a ':'), or npos. Markup
// around a label and its ':' is read through ("**Name:** ", "**Name**: ", "<b>Nom :</b> ").
std::size_t after_cue(std::string_view t, std::size_t i, const cue& c) {
  const bool labelled = c.kind == label || c.kind == team_label || c.kind == list_label;
  if ((c.kind == title || c.kind == patient_title || labelled) && !is_upper(t[i])) {
    return npos;
  }
  std::size_t k = phrase_end(t, i, c.text);
  if (k == npos) {
    return npos;
  }
  if (c.text.back() != '.' && k < t.size() && (is_alnum(t[k]) || latin_letter_at(t, k).len != 0)) {
    return npos;  // "Mrs" is not "Mr", "Nomenclature" not "Nom"
  }
  if (c.kind == closing || c.kind == thanks || c.kind == key || c.kind == name_key) {
    return k;  // what follows is read by closing_name, key_value and name_parts
  }
  if ((c.kind == title || c.kind == title_any) && c.text.back() != '.' && k < t.size() && t[k] == '.') {
    ++k;
  }
  if (labelled) {
    k = past_markup(t, k);
    while (k < t.size() && space(t[k])) {
      ++k;
    }
    if (k >= t.size() || t[k] != ':') {
      return npos;
    }
    k = past_markup(t, k + 1);
    while (k < t.size() && space(t[k])) {
      ++k;
    }
    return past_markup(t, k);
  }
  const std::size_t before_spaces = k;
  while (k < t.size() && space(t[k])) {
    ++k;
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

// The end of the line break at p ("\n", "\r\n", or the JSON escapes "\\n", "\\r\\n" of a raw
// body), or npos.
std::size_t line_break(std::string_view t, std::size_t p) {
  if (p >= t.size()) {
    return npos;
  }
  if (t[p] == '\n') {
    return p + 1;
  }
  if (t[p] == '\r') {
    return p + 1 < t.size() && t[p + 1] == '\n' ? p + 2 : p + 1;
  }
  if (t[p] == '\\' && p + 1 < t.size() && (t[p + 1] == 'n' || t[p + 1] == 'r')) {
    return t.substr(p, 4) == "\\r\\n" ? p + 4 : p + 2;
  }
  return npos;
}

// Whether a line, or a JSON string, ends at p.
bool line_ends_at(std::string_view t, std::size_t p) {
  return p >= t.size() || t[p] == '"' || line_break(t, p) != npos;
}

// Whether i starts a line, after spaces, quoting marks, a bullet or emphasis ("> From: ...",
// "- Attendees:", "**Attendees:**"), or a JSON string.
bool line_start(std::string_view t, std::size_t i) {
  std::size_t p = i;
  while (p > 0 && i - p < 8 && (space(t[p - 1]) || t[p - 1] == '>' || t[p - 1] == '*' || t[p - 1] == '-')) {
    --p;
  }
  if (p == 0) {
    return true;
  }
  const char c = t[p - 1];
  return c == '\n' || c == '\r' || c == '"' || (p >= 2 && (c == 'n' || c == 'r') && t[p - 2] == '\\');
}

bool all_capitals(std::string_view t, std::size_t begin, std::size_t end) {
  return std::none_of(t.begin() + static_cast<std::ptrdiff_t>(begin),
                      t.begin() + static_cast<std::ptrdiff_t>(end), is_lower);
}

struct span {
  std::size_t begin = npos;
  std::size_t end = npos;
};

// The signature's name after a letter's closing that ends at k ("Viele Grüße\nAnna Schneider",
// "Thanks,\nSiobhan O'Connor"): on the next line that is not empty, or on the closing's own line
// after a ',' ("Best regards, Rachel Thompson"). The name ends its line, or a role follows it after
// a ',' or a '|' when it has two words or more ("Anna Schneider, Teamleiterin"); it is not an
// organisation's ("Kind regards,\nACME Support"), not one word of capitals ("Regards\nACME"), and
// after thanks ("Thanks,\nSure") two words or more.
span closing_name(std::string_view t, std::size_t k, cue_kind kind) {
  std::size_t p = k;
  const bool comma = p < t.size() && t[p] == ',';
  if (p < t.size() && (t[p] == ',' || t[p] == '!' || t[p] == '.')) {
    ++p;
  }
  while (p < t.size() && space(t[p])) {
    ++p;
  }
  std::size_t from = p;
  if (const std::size_t b = line_break(t, p); b != npos) {
    from = b;
    for (int lines = 0; lines < 2; ++lines) {  // at most one empty line between
      while (from < t.size() && space(t[from])) {
        ++from;
      }
      const std::size_t next = line_break(t, from);
      if (next == npos) {
        break;
      }
      if (lines == 1) {
        return {};
      }
      from = next;
    }
  } else if (!comma || p == k + 1) {
    return {};
  }
  int words = 0;
  const std::size_t end = name_at(t, from, kind, words);
  if (end == npos) {
    return {};
  }
  const bool role =
      end + 1 < t.size() && (t[end] == ',' || (t[end] == ' ' && (t[end + 1] == '|' || t[end + 1] == '-')));
  if (!(line_ends_at(t, end) || (role && words >= 2)) || (kind == thanks && words < 2) ||
      (words == 1 && all_capitals(t, from, end)) || organisation(t, from, end)) {
    return {};
  }
  return {from, end};
}

// The labels that also name things in a record ("Name: Build\nSteps: 3", "Nom : Sauvegarde").
constexpr std::string_view generic_name_labels[] = {"name", "nom", "nombre", "nome", "naam"};
// The keys of a person's record beside a name, lower case.
constexpr std::string_view person_keys[] = {
    "age",        "alter",     "\u00e2ge",       "edad",         "et\u00e0",    "leeftijd",
    "wiek",       "idade",     "email",          "e-mail",       "mail",        "phone",
    "telephone",  "tel",       "telefon",        "telefono",     "telefoon",    "mobile",
    "mobil",      "handy",     "address",        "adresse",      "anschrift",   "adres",
    "indirizzo",  "direccion", "direcci\u00f3n", "morada",       "dob",         "date of birth",
    "birthday",   "born",      "geboren",        "geburtsdatum", "gender",      "sex",
    "geschlecht", "sexe",      "sexo",           "sesso",        "title",       "anrede",
    "titre",      "role",      "position",       "company",      "firma",       "department",
    "city",       "stadt",     "ville",          "country",      "nationality", "occupation",
    "job",        "beruf",     "username",       "login",        "account",     "salutation",
    "dept",       "team",      "manager",        "notes"};

// The key of a "Key: value" line at t[p] (after spaces, a bullet or emphasis): 1 a person's
// (person_keys, or a label of a name), 2 another, 0 none.
int record_key_at(std::string_view t, std::size_t p) {
  while (p < t.size() && (space(t[p]) || t[p] == '-' || t[p] == '*')) {
    ++p;
  }
  const std::size_t begin = p;
  while (p < t.size() && p - begin < 24 && (latin_letter_at(t, p).len != 0 || t[p] == ' ' || t[p] == '-')) {
    p += std::max<std::size_t>(1, latin_letter_at(t, p).len);
  }
  std::size_t end = p;
  while (end > begin && t[end - 1] == ' ') {
    --end;
  }
  if (end == begin || p >= t.size() || t[p] != ':') {
    return 0;
  }
  const bool person = one_of(t, begin, end, person_keys, std::size(person_keys)) ||
                      (is_upper(t[begin]) && label_at(t, begin));
  return person ? 1 : 2;
}

// Whether the line holding t[at] sits in a record of a thing: the line before or after it is
// "Key: value" with a key that names no person's attribute, and neither names one. Lines are
// looked for within 200 bytes (a long line is no record).
bool thing_record(std::string_view t, std::size_t at) {
  constexpr std::size_t reach = 200;
  std::size_t b = at;
  while (b > 0 && t[b - 1] != '\n' && at - b < reach) {
    --b;
  }
  std::size_t e = at;
  while (e < t.size() && t[e] != '\n' && e - at < reach) {
    ++e;
  }
  int keys = 0;  // bit 1: a person's key, bit 2: another
  if (e < t.size() && t[e] == '\n') {
    keys |= record_key_at(t, e + 1);
  }
  if (b > 0 && t[b - 1] == '\n') {
    std::size_t pb = b - 1;
    while (pb > 0 && t[pb - 1] != '\n' && b - pb < reach) {
      --pb;
    }
    if (pb == 0 || t[pb - 1] == '\n') {
      keys |= record_key_at(t, pb);
    }
  }
  return keys == 2;
}

// Whether the "Surname, Given" pair ends at p: a ';', an address or a role, or the line's end.
bool pair_ends(std::string_view t, std::size_t p) {
  while (p < t.size() && space(t[p])) {
    ++p;
  }
  return line_ends_at(t, p) || t[p] == ';' || t[p] == '<' || t[p] == '(' || t[p] == '[';
}

// Names listed from p to the end of its line, after a mail header's label or an attendee list's
// ("Laura Schmidt (chair), Daniel Kovač and Tom Jansen", "Weber, Thomas; Kowalczyk, Marek"): each
// of two words or more, or with `pairs` one word, ',' and one word ("Surname, Given") before a ';'
// or the line's end; entries separated by ',' or ';' or "and" (in the eight languages and
// Swedish), each perhaps followed by an address or a role; organisations skipped ("Cc: Einkauf
// DE"). Calls hit for each name; returns true when it asks to stop. `last` is where the list ends.
bool name_list(std::string_view t, std::size_t p, bool pairs, hit_ref hit, std::size_t& last) {
  static constexpr std::string_view ands[] = {"and", "und", "et", "e", "y", "en", "i", "och", "oraz", "&"};
  for (int entries = 0; entries < 32 && p < t.size(); ++entries) {
    while (p < t.size() && (space(t[p]) || t[p] == '"' || t[p] == '\'')) {
      ++p;
    }
    int words = 0;
    std::size_t end = name_at(t, p, label, words);
    if (end != npos && words == 1 && pairs && end + 1 < t.size() && t[end] == ',') {
      std::size_t q = end + 1;
      while (q < t.size() && space(t[q])) {
        ++q;
      }
      int given = 0;
      const std::size_t e = name_at(t, q, label, given);
      if (e != npos && given == 1 && pair_ends(t, e) && !organisation(t, q, e)) {
        words = 2;
        end = e;
      }
    }
    if (end != npos && words >= 2 && !organisation(t, p, end) && hit(p, end)) {
      return true;
    }
    std::size_t q = end == npos ? p : end;  // to the next entry
    const std::size_t limit = q + 120;
    bool next = false;
    while (!next && q < t.size() && q < limit && line_break(t, q) == npos && t[q] != '"') {
      if (t[q] == ',' || t[q] == ';') {
        next = true;
        p = q + 1;
        break;
      }
      if (t[q] == ' ') {
        std::size_t w = q + 1;
        while (w < t.size() && w - q < 6 && t[w] != ' ' && !is_upper(t[w])) {
          ++w;
        }
        if (w < t.size() && t[w] == ' ' && one_of(t, q + 1, w, ands, std::size(ands))) {
          next = true;
          p = w + 1;
          break;
        }
      }
      ++q;
    }
    if (!next) {
      last = q;
      return false;
    }
  }
  last = p;
  return false;
}

// A mail header's label at i, capitalised, then ':' ("From:", "An:", "De :", "À :", "Från:"): the
// position after it, or npos.
std::size_t mail_label_at(std::string_view t, std::size_t i) {
  static constexpr std::string_view labels[] = {
      "from", "to", "cc", "bcc", "von",  "an",  "de",        "da",   "a",     "van",   "aan",
      "od",   "do", "dw", "udw", "para", "cco", "fr\u00e5n", "till", "kopia", "\u00c0"};
  if (!is_upper(t[i]) && t.substr(i, 2) != "\u00c0") {
    return npos;
  }
  std::size_t colon = i + 1;  // most capitalised words at a line's start are followed by no ':'
  while (colon < t.size() && colon - i < 8 &&
         (is_alpha(t[colon]) || t[colon] == ' ' || t[colon] == '\x80' ||
          static_cast<unsigned char>(t[colon]) >= 0xa0)) {
    ++colon;
  }
  if (colon >= t.size() || t[colon] != ':') {
    return npos;
  }
  for (std::string_view label : labels) {
    std::size_t k = cue_end(t, i, label);
    if (k == npos || (k < t.size() && (is_alnum(t[k]) || latin_letter_at(t, k).len != 0))) {
      continue;
    }
    while (k < t.size() && space(t[k]) && k - i < label.size() + 2) {
      ++k;
    }
    if (k < t.size() && t[k] == ':') {
      return k + 1;
    }
  }
  return npos;
}

// Whether a mail header's line (a subject or the time it was sent: "Subject:", "Betreff:",
// "Envoyé :", "Gesendet:") starts within reach of i: a "From:" or "To:" line is a mail's only in
// its header block ("From: Berlin, Germany" may be a journey's). Read forward once: `checked` is
// how far the text was read, `last` the last such line found.
struct mail_header_block {
  static constexpr std::size_t reach = 300;
  std::size_t checked = 0;
  std::size_t last = npos;

  bool near(std::string_view t, std::size_t i) {
    static constexpr std::string_view labels[] = {
        "subject",   "betreff",      "objet",     "oggetto", "onderwerp", "temat",       "asunto",
        "assunto",   "\u00e4mne",    "\u00c4mne", "sent",    "gesendet",  "envoy\u00e9", "inviato",
        "verzonden", "wys\u0142ano", "enviado",   "enviada", "skickat"};
    const std::size_t to = std::min(t.size(), i + reach);
    for (std::size_t p = std::max(checked, i > reach ? i - reach : 0); p < to; ++p) {
      if ((p == 0 || t[p - 1] == '\n' || (p >= 2 && t[p - 1] == 'n' && t[p - 2] == '\\')) &&
          p + 1 < t.size()) {
        std::size_t q = p;
        while (q < t.size() && q - p < 4 && (space(t[q]) || t[q] == '>')) {
          ++q;
        }
        for (std::string_view label : labels) {
          std::size_t k = cue_end(t, q, label);
          while (k != npos && k < t.size() && space(t[k]) && k - q < label.size() + 2) {
            ++k;
          }
          if (k != npos && k < t.size() && t[k] == ':') {
            last = p;
            break;
          }
        }
      }
    }
    checked = std::max(checked, to);
    return last != npos && last + reach >= i;
  }
};

// The value of a data field whose key t[i, k) names a person's name: a JSON member ("first_name":
// "Matteo", also single-quoted and escaped inside a string: \"first_name\": \"Matteo\"), the JSON
// inspector's text of one (the key and the value a line each: "first_name\nMatteo\n"), or a YAML
// or form field of a key of seven letters or more ("surname: Smith"). The value is the name alone.
span key_value(std::string_view t, std::size_t i, std::size_t k, std::string_view text) {
  char close = 0;
  std::size_t from = npos;
  const char q = i > 0 && (t[i - 1] == '"' || t[i - 1] == '\'') ? t[i - 1] : 0;
  const auto colon = [&](std::size_t p) {
    while (p < t.size() && space(t[p])) {
      ++p;
    }
    if (p >= t.size() || t[p] != ':') {
      return npos;
    }
    ++p;
    while (p < t.size() && space(t[p])) {
      ++p;
    }
    return p;
  };
  if ((i == 0 || t[i - 1] == '\n') && k < t.size() && t[k] == '\n') {
    close = '\n';
    from = k + 1;
  } else if (q != 0) {
    std::size_t p = k < t.size() && t[k] == '\\' ? k + 1 : k;
    p = p < t.size() && t[p] == q ? colon(p + 1) : npos;
    p = p < t.size() && t[p] == '\\' ? p + 1 : p;
    if (p < t.size() && t[p] == q) {
      close = q;
      from = p + 1;
    }
  } else if (text.size() >= 7 && line_start(t, i)) {
    from = colon(k);
  }
  int words = 0;
  const std::size_t end = from == npos || from >= t.size() ? npos : name_at(t, from, key, words);
  if (end == npos || organisation(t, from, end)) {
    return {};
  }
  const std::size_t e = close != 0 && close != '\n' && end < t.size() && t[end] == '\\' ? end + 1 : end;
  const bool whole = close == 0 ? line_ends_at(t, end) : e < t.size() && t[e] == close;
  return whole ? span{from, end} : span{};
}

// A name's parts under "name" at t[i, k): {"given": "Lukas", "family": "Hofmann"}, FHIR's
// [{"family": "Hofmann", "given": ["Lukas"]}] (quoted with " or ', or escaped inside a string), or
// the JSON inspector's lines for them ("name\ngiven\nLukas\nfamily\nHofmann\n"). Calls hit for
// each part that is a name; returns true when it asks to stop. `last` is where the parts end.
bool name_parts(std::string_view t, std::size_t i, std::size_t k, hit_ref hit, std::size_t& last) {
  static constexpr std::string_view parts[] = {"given", "family", "first", "last", "middle"};
  last = k;
  const auto value = [&](std::size_t from, char close) {
    int words = 0;
    const std::size_t end = name_at(t, from, key, words);
    const std::size_t e = end != npos && close != '\n' && end < t.size() && t[end] == '\\' ? end + 1 : end;
    return e != npos && e < t.size() && t[e] == close ? end : npos;
  };
  if ((i == 0 || t[i - 1] == '\n') && k < t.size() && t[k] == '\n') {
    std::size_t p = k + 1;
    for (int n = 0; n < 8; ++n) {
      std::size_t e = p;
      while (e < t.size() && e - p < 8 && is_lower(t[e])) {
        ++e;
      }
      if (e >= t.size() || t[e] != '\n' || !one_of(t, p, e, parts, std::size(parts))) {
        break;
      }
      const std::size_t end = value(e + 1, '\n');
      if (end == npos) {
        break;
      }
      if (hit(e + 1, end)) {
        return true;
      }
      p = last = end + 1;
    }
    return false;
  }
  const char q = i > 0 && (t[i - 1] == '"' || t[i - 1] == '\'') ? t[i - 1] : 0;
  if (q == 0) {
    return false;
  }
  std::size_t p = k;
  const auto skip = [&](std::string_view what) {
    while (p < t.size() && (space(t[p]) || what.find(t[p]) != npos)) {
      ++p;
    }
  };
  const auto quote = [&] {  // past an opening or closing quote, or npos
    const std::size_t at = p < t.size() && t[p] == '\\' ? p + 1 : p;
    return at < t.size() && t[at] == q ? at + 1 : npos;
  };
  const auto past = [&](char c, std::string_view also_skipped = "") {  // past `c` after spaces, or false
    skip(also_skipped);
    if (p >= t.size() || t[p] != c) {
      return false;
    }
    ++p;
    return true;
  };
  if ((p = quote()) == npos || !past(':') || !past('{', "[")) {
    return false;
  }
  for (int members = 0; members < 8; ++members) {
    skip("");
    if ((p = quote()) == npos) {
      return false;
    }
    const std::size_t key_begin = p;
    while (p < t.size() && p - key_begin < 12 && (is_alpha(t[p]) || t[p] == '_')) {
      ++p;
    }
    const bool part = one_of(t, key_begin, p, parts, std::size(parts));
    if ((p = quote()) == npos || !past(':')) {
      return false;
    }
    skip("");
    const bool array = p < t.size() && t[p] == '[';
    p += array ? 1 : 0;
    for (int strings = 0; strings < 4; ++strings) {
      skip("");
      if ((p = quote()) == npos) {
        return false;
      }
      const std::size_t end = part ? value(p, q) : npos;
      if (end != npos && hit(p, end)) {
        return true;
      }
      const std::size_t close = t.substr(p, 80).find(q);  // a short string: a name or a word
      if (close == npos) {
        return false;
      }
      p = last = p + close + 1;
      if (!array || !past(',')) {
        break;
      }
    }
    if (!past(',', "]")) {
      return false;
    }
  }
  return false;
}

// Words that name a role, a bot or a placeholder in a field that names a user ("example_user",
// "Assistant", "test_user", "Guest"), beside not_names. Lower case.
constexpr std::string_view user_role_words[] = {
    "user",    "users",    "assistant", "system",      "developer",     "bot",       "chatbot", "ai",
    "agent",   "model",    "tool",      "function",    "example",       "test",      "tester",  "demo",
    "sample",  "default",  "guest",     "admin",       "administrator", "root",      "support", "customer",
    "client",  "human",    "person",    "operator",    "moderator",     "service",   "api",     "app",
    "member",  "speaker",  "narrator",  "interviewer", "interviewee",   "candidate", "teacher", "tutor",
    "expert",  "reviewer", "helper",    "gpt",         "llm",           "dummy",     "foo",     "bar",
    "baz",     "doe",      "name",      "first",       "last",          "unknown",   "anon",    "nobody",
    "someone", "me",       "you",       "self",        "other"};

}  // namespace

bool names_a_person(std::string_view value, bool one_word) {
  if (value.empty() || value.size() > 100) {
    return false;
  }
  std::array<char, 100> spaced{};  // the words one space apart, for organisation()
  std::size_t words = 0;
  bool lower = true;        // every letter in lower case
  bool capitalised = true;  // every word's first letter in upper case ...
  bool some_lower = false;  // ... and not every letter
  for (std::size_t p = 0; p < value.size();) {
    const std::size_t begin = p;
    std::size_t letters = 0;
    while (p < value.size()) {
      const latin_letter l = latin_letter_at(value, p);
      if (l.len != 0) {
        lower = lower && !l.upper;
        capitalised = capitalised && (p != begin || l.upper);
        some_lower = some_lower || !l.upper;
        p += l.len;
        ++letters;
      } else if (value[p] == '-' && p > begin && p + 1 < value.size() &&
                 latin_letter_at(value, p + 1).len != 0) {
        ++p;
      } else {
        break;
      }
    }
    if (letters < 2 || not_a_name(value, begin, p) ||
        one_of(value, begin, p, user_role_words, std::size(user_role_words))) {
      return false;
    }
    for (std::size_t k = begin; k < p; ++k) {
      spaced[k] = value[k];
    }
    ++words;
    if (p == value.size()) {
      break;
    }
    if (value[p] != ' ' && value[p] != '_' && value[p] != '.') {
      return false;
    }
    spaced[p] = ' ';
    ++p;
    if (p == value.size() || words == 4) {
      return false;
    }
  }
  // Capitalised words ("Jeanne DUPONT", not "ADMIN"), or two or more all in lower case.
  if (!(lower && words >= 2) && !(capitalised && some_lower)) {
    return false;
  }
  return (words >= 2 || one_word) &&
         !organisation(std::string_view(spaced.data(), value.size()), 0, value.size());
}

// Whether the word at t[k] after "Patient" makes a noun of it ("Patient Safety Officer",
// "Patient Portal Login") rather than name the patient.
bool patient_noun(std::string_view t, std::size_t k) {
  static constexpr std::string_view nouns[] = {
      "safety",     "care",       "portal",     "record",    "records",      "zero",         "information",
      "info",       "data",       "experience", "services",  "service",      "advocate",     "education",
      "journey",    "outcomes",   "outcome",    "flow",      "access",       "satisfaction", "engagement",
      "monitoring", "management", "transport",  "transfer",  "registration", "login",        "name",
      "id",         "number",     "summary",    "history",   "list",         "details",      "profile",
      "support",    "room",       "group",      "reported",  "centered",     "centred",      "first",
      "day",        "files",      "file",       "notes",     "note",         "identifier",   "aufnahme",
      "akte",       "daten",      "versorgung", "sicherheit"};
  std::size_t e = k;
  while (e < t.size() && is_alpha(t[e])) {
    ++e;
  }
  return one_of(t, k, e, nouns, std::size(nouns));
}

bool scan_person_name(std::string_view t, hit_ref hit) {
  mail_header_block headers;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    if ((!is_alpha(t[i]) && t[i] != '\xc3') || !starts_word(t, i)) {
      continue;
    }
    // Mail headers, lists, closings and keys are looked for only at a line's start or after a
    // quote; most words follow a word and a space.
    const bool line =
        !(i >= 2 && t[i - 1] == ' ' && is_alnum(t[i - 2])) && (line_start(t, i) || t[i - 1] == '\'');
    if (line && (is_upper(t[i]) || t[i] == '\xc3')) {
      if (const std::size_t from = mail_label_at(t, i); from != npos && headers.near(t, i)) {
        std::size_t last = from;
        if (name_list(t, from, true, hit, last)) {
          return true;
        }
        i = std::max(i, last - 1);
        continue;
      }
    }
    if (!is_alpha(t[i])) {
      continue;
    }
    bool stop = false;
    const bool upper = is_upper(t[i]);
    const auto try_cue = [&](const cue& c) {
      const cue_kind kind = c.kind;
      if (!upper && (kind == title || kind == label || kind == team_label || kind == patient_title ||
                     kind == list_label)) {
        return false;  // written capitalised (after_cue): not looked for at a lower-case word
      }
      const std::size_t from = after_cue(t, i, c);
      if (from == npos) {
        return false;
      }
      if (kind == list_label || kind == name_key) {
        std::size_t last = from;
        stop = kind == list_label ? name_list(t, from, false, hit, last) : name_parts(t, i, from, hit, last);
        if (stop || last == from) {
          return stop;
        }
        i = last - 1;
        return true;
      }
      if (kind == closing || kind == thanks || kind == key) {
        const span name = kind == key ? key_value(t, i, from, c.text) : closing_name(t, from, kind);
        if (name.begin == npos) {
          return false;
        }
        stop = hit(name.begin, name.end);
        i = name.end - 1;
        return true;
      }
      int words = 0;
      const std::size_t end = name_at(t, from, kind, words);
      if (end == npos || ((kind == team_label || kind == phrase_two || kind == patient_title) && words < 2) ||
          (kind == patient_title && patient_noun(t, from)) ||
          (kind != title && kind != title_any && organisation(t, from, end)) ||
          (kind == label && words == 1 &&
           one_of(t, i, i + c.text.size(), generic_name_labels, std::size(generic_name_labels)) &&
           thing_record(t, i))) {
        return false;
      }
      stop = hit(from, end);
      i = end - 1;
      return true;
    };
    bool matched = false;
    if (line) {
      line_cue_index.for_each(t, i, [&](std::size_t q) { return matched = try_cue(line_cues[q]); });
    }
    if (!matched) {
      if (!cue_index.any(t, i)) {
        i = last_of_word(t, i);
        continue;
      }
      cue_index.for_each(t, i, [&](std::size_t q) { return try_cue(cues[q]); });
    }
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
