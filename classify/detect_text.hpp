#pragma once

// What the detectors (detectors.cpp, detect_names.cpp, detect_addresses.cpp) share: character
// classes over the folded text (fold.hpp), word boundaries, case-insensitive cues, words of Latin
// letters in UTF-8, and the callback each scanner reports its findings to. Internal to classify/.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>

namespace sovgw::classify::detail {

inline constexpr std::size_t npos = std::string_view::npos;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
constexpr bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr char to_upper(char c) { return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }
constexpr char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

// The body is JSON: "\n", "\t", ... end a word even though their second character is a letter.
inline bool escape_letter_at(std::string_view t, std::size_t i) {
  return i >= 1 && t[i - 1] == '\\' &&
         (t[i] == 'n' || t[i] == 'r' || t[i] == 't' || t[i] == 'b' || t[i] == 'f');
}

// Starts a token at i: the previous character does not continue it.
inline bool starts_word(std::string_view t, std::size_t i) {
  return i == 0 || !is_alnum(t[i - 1]) || escape_letter_at(t, i - 1);
}
inline bool ends_word(std::string_view t, std::size_t i) { return i >= t.size() || !is_alnum(t[i]); }
// Where a reader sees an identifier end inside a word: at a word's end, or where digits meet
// letters or capitals meet lower case ("DE89370400440532013000thanks", "4111111111111111exp").
// For identifiers whose length or check digits bound them: a word's end alone would let a client
// glue a letter to one to hide it.
inline bool ends_identifier(std::string_view t, std::size_t i) {
  return ends_word(t, i) ||
         (i > 0 && ((is_digit(t[i - 1]) && is_alpha(t[i])) || (is_upper(t[i - 1]) && is_lower(t[i]))));
}
// Where one starts inside a word: at a word's start, or where capitals follow lower case
// ("ibanDE89...", "xDE89...").
inline bool starts_identifier(std::string_view t, std::size_t i) {
  return starts_word(t, i) || (is_lower(t[i - 1]) && is_upper(t[i]));
}

// The last character of the word (letters and digits) at i: a scanner that has tried a word skips
// the rest of it. A JSON escape's letter ("\nJean") ends a word.
inline std::size_t last_of_word(std::string_view t, std::size_t i) {
  while (i + 1 < t.size() && is_alnum(t[i + 1]) && !escape_letter_at(t, i)) {
    ++i;
  }
  return i;
}

// A Latin letter at t[i]: ASCII, or U+00C0–U+024F in UTF-8 (é, ß, ł, ż, ș, ...). len 0: none.
struct latin_letter {
  std::size_t len = 0;
  bool upper = false;
};
latin_letter latin_letter_at(std::string_view t, std::size_t i) noexcept;

// A capitalised word at i: an upper-case Latin letter, then letters; a hyphen followed by a letter
// ("Jean-Pierre", "Saint-Étienne") or an apostrophe (' or ’) followed by an upper-case letter
// ("O'Brien", "D’Angelo") continues it, and so does a leading "d'" ("d'Artagnan"). Returns its end,
// or npos when there is none, it is a single letter, it is longer than 40 bytes, or a digit, '_'
// or '@' follows it (an identifier, not a word).
std::size_t capitalised_word_at(std::string_view t, std::size_t i) noexcept;

// The end of `cue` at t[i], or npos. The cue is lower case: ASCII letters match either case,
// every other byte matches itself.
std::size_t cue_end(std::string_view t, std::size_t i, std::string_view cue) noexcept;

// The end of `word` at t[i], or npos, in any letter case: `word` is lower case, and a letter of
// ASCII, Latin-1, Latin Extended-A, Greek or Cyrillic in t matches its lower case ("MAŁPA",
// "ΤΕΛΕΊΑ" match "małpa", "τελεία"); every other byte matches itself.
std::size_t word_end_any_case(std::string_view t, std::size_t i, std::string_view word) noexcept;

// Whether [begin, end) equals one of `words`, ASCII letters compared case-insensitively.
bool one_of(std::string_view t, std::size_t begin, std::size_t end, std::string_view const* words,
            std::size_t count) noexcept;

// Cues indexed by their first two characters, so that a scanner tries, at a word, only the cues
// that start the way it does: key(c, d) for a letter c (either case) and d a letter (either case),
// '.', '/' or anything else; no_key when c is not a letter.
struct pair_key {
  static constexpr std::size_t count = 26 * 29;
  static constexpr std::size_t none = count;
  static constexpr std::size_t of(char c, char d) {
    const char first = to_lower(c);
    if (!is_lower(first)) {
      return none;
    }
    const char second = to_lower(d);
    const std::size_t column = is_lower(second) ? static_cast<std::size_t>(second - 'a')
                               : second == '.'  ? 26
                               : second == '/'  ? 27
                                                : 28;
    return static_cast<std::size_t>(first - 'a') * 29 + column;
  }
};

template <std::size_t N>
struct pair_index {
  std::array<std::uint8_t, N> order{};                     // item indices, by key (stable)
  std::array<std::uint16_t, pair_key::count + 2> start{};  // order[start[k], start[k + 1]) have key k

  // Calls each(i) for the items whose text starts like t[at], t[at + 1], in their list order.
  template <typename Each>
  void for_each(std::string_view t, std::size_t at, Each&& each) const {
    if (at + 1 >= t.size()) {
      return;
    }
    const std::size_t key = pair_key::of(t[at], t[at + 1]);
    for (std::size_t k = start[key]; k < start[key + 1]; ++k) {
      if (each(order[k])) {
        return;
      }
    }
  }
  [[nodiscard]] bool any(std::string_view t, std::size_t at) const {
    if (at + 1 >= t.size()) {
      return false;
    }
    const std::size_t key = pair_key::of(t[at], t[at + 1]);
    return start[key] != start[key + 1];
  }
};

// Indexes items[i] by text_of(items[i]) (lower case, at least two characters).
template <typename Items>
inline constexpr std::size_t item_count = std::tuple_size_v<Items>;
template <typename T, std::size_t N>
inline constexpr std::size_t item_count<T[N]> = N;

template <typename Items, typename TextOf>
constexpr auto make_pair_index(const Items& items, TextOf text_of) {
  constexpr std::size_t N = item_count<Items>;
  static_assert(N < 256, "indices are bytes");
  pair_index<N> index;
  std::array<std::uint16_t, pair_key::count + 2> count{};
  for (const auto& item : items) {
    ++count[pair_key::of(text_of(item)[0], text_of(item)[1]) + 1];
  }
  for (std::size_t k = 1; k < count.size(); ++k) {
    index.start[k] = static_cast<std::uint16_t>(index.start[k - 1] + count[k]);
  }
  std::array<std::uint16_t, pair_key::count + 2> next = index.start;
  for (std::size_t i = 0; i < N; ++i) {
    index.order[next[pair_key::of(text_of(items[i])[0], text_of(items[i])[1])]++] =
        static_cast<std::uint8_t>(i);
  }
  return index;
}

// A finding's callback, as a reference to the caller's callable (no allocation): returns true to
// stop the scan.
class hit_ref {
 public:
  template <typename F>
  explicit hit_ref(F& f) noexcept
      : object_(&f),
        call_([](void* o, std::size_t b, std::size_t e) { return (*static_cast<F*>(o))(b, e); }) {}
  bool operator()(std::size_t begin, std::size_t end) const { return call_(object_, begin, end); }

 private:
  void* object_;
  bool (*call_)(void*, std::size_t, std::size_t);
};

// The scanners of detect_names.cpp and detect_addresses.cpp: each calls hit(begin, end) for every
// finding, in text order, and returns true as soon as hit does.
bool scan_person_name(std::string_view t, hit_ref hit);
bool scan_postal_address(std::string_view t, hit_ref hit);

// National ids (detect_national_ids.cpp). A label naming one at t[i], a word's start ("PESEL",
// "Steuer-ID", "personnummer", "ЕГН", "rodné číslo"; a space in a label matches a run of blanks,
// "-" or "_"): its end and its text in `label`, or npos.
std::size_t national_id_label_at(std::string_view t, std::size_t i, std::string_view& label) noexcept;
// The id `label` names at t[k], with its checks: its end, or npos.
std::size_t labelled_national_id_at(std::string_view t, std::size_t k, std::string_view label) noexcept;
// An id whose written form alone says what it is, at t[i]: Finland's with a letter for its century
// or its check ("070985-123N"), Belgium's dotted "85.07.30-033.28". Its end, or npos.
std::size_t distinctive_national_id_at(std::string_view t, std::size_t i) noexcept;
// Spain's DNI or NIE at t[i]; `labelled`: after its label, a lower-case letter after a space too.
std::size_t dni_at(std::string_view t, std::size_t i, bool labelled) noexcept;
// The length of one line break at t[k] ("\n", "\r\n", or a raw body's "\\n"), with up to two blanks
// on either side, or 0: an id wrapped once is read through it.
std::size_t line_break_at(std::string_view t, std::size_t k) noexcept;
// Whether the number at t[i] follows a label naming a product's, an order's or a document's
// number ("Part number", "SKU", "Artikelnummer", "order no."), past up to two words for "number".
bool thing_label_before(std::string_view t, std::size_t i) noexcept;
// Whether `value`, the whole of a field that names a user (a chat message's `name`, a request's
// `user`), is a person's name or a pseudonym made of one: one to four words of Latin letters
// (two or more each) separated by single spaces, '_' or '.' ("Jeanne Dupont", "Jeanne_Dupont",
// "jeanne.dupont"), capitalised or all in lower case, none of them a role, a placeholder or a
// word that starts sentences (not_names: "example_user", "Assistant", "anonymous"), and no
// organisation's (detect_names.cpp); one word only when `one_word` and capitalised ("Jeanne").
bool names_a_person(std::string_view value, bool one_word);

}  // namespace sovgw::classify::detail
