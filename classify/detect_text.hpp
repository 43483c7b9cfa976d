#pragma once

// What the detectors (detectors.cpp, detect_names.cpp, detect_addresses.cpp) share: character
// classes over the folded text (fold.hpp), word boundaries, case-insensitive cues, words of Latin
// letters in UTF-8, and the callback each scanner reports its findings to. Internal to classify/.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sovgw::classify::detail {

inline constexpr std::size_t npos = std::string_view::npos;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
inline bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline char to_upper(char c) { return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }
inline char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

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

// Whether [begin, end) equals one of `words`, ASCII letters compared case-insensitively.
bool one_of(std::string_view t, std::size_t begin, std::size_t end, std::string_view const* words,
            std::size_t count) noexcept;

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

}  // namespace sovgw::classify::detail
