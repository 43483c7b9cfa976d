#include "classify/detect_text.hpp"

namespace sovgw::classify::detail {

latin_letter latin_letter_at(std::string_view t, std::size_t i) noexcept {
  const auto lead = static_cast<unsigned char>(t[i]);
  if (lead < 0x80) {
    return is_alpha(t[i]) ? latin_letter{1, is_upper(t[i])} : latin_letter{};
  }
  if (lead < 0xC3 || lead > 0xC9 || i + 1 >= t.size()) {
    return {};
  }
  const auto next = static_cast<unsigned char>(t[i + 1]);
  if ((next & 0xC0u) != 0x80u) {
    return {};
  }
  const unsigned cp = ((lead & 0x1Fu) << 6) | (next & 0x3Fu);
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) {  // × and ÷
    return {};
  }
  bool upper = false;
  if (cp <= 0xFF) {
    upper = cp < 0xDF;
  } else if (cp <= 0x137 || (cp >= 0x14A && cp <= 0x177)) {  // Latin Extended-A: pairs, upper first
    upper = cp % 2 == 0;
  } else if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
    upper = cp % 2 == 1;
  } else if (cp == 0x178) {  // Ÿ
    upper = true;
  } else if (cp >= 0x218 && cp <= 0x21B) {  // Ș ș Ț ț; the rest of Extended-B counts as lower case
    upper = cp % 2 == 0;
  }
  return {2, upper};
}

namespace {

// An apostrophe at i (' or U+2019): its length, or 0.
std::size_t apostrophe_at(std::string_view t, std::size_t i) {
  if (t[i] == '\'') {
    return 1;
  }
  return t.substr(i, 3) == "\xe2\x80\x99" ? 3 : 0;
}

}  // namespace

std::size_t capitalised_word_at(std::string_view t, std::size_t i) noexcept {
  constexpr std::size_t max_bytes = 40;
  std::size_t k = i;
  if (k + 2 < t.size() && t[k] == 'd') {  // d'Artagnan
    if (const std::size_t a = apostrophe_at(t, k + 1); a != 0) {
      k += 1 + a;
    }
  }
  latin_letter first = k < t.size() ? latin_letter_at(t, k) : latin_letter{};
  if (first.len == 0 || !first.upper) {
    return npos;
  }
  k += first.len;
  std::size_t letters = 1;
  while (k < t.size() && k - i <= max_bytes) {
    if (const latin_letter l = latin_letter_at(t, k); l.len != 0) {
      k += l.len;
      ++letters;
      continue;
    }
    if (t[k] == '-' && k + 1 < t.size() && latin_letter_at(t, k + 1).len != 0) {
      ++k;
      continue;
    }
    if (const std::size_t a = apostrophe_at(t, k); a != 0 && k + a < t.size()) {
      if (const latin_letter l = latin_letter_at(t, k + a); l.len != 0 && l.upper) {
        k += a;
        continue;
      }
    }
    break;
  }
  if (letters < 2 || k - i > max_bytes) {
    return npos;
  }
  if (k < t.size() && (is_digit(t[k]) || t[k] == '_' || t[k] == '@')) {
    return npos;
  }
  return k;
}

std::size_t cue_end(std::string_view t, std::size_t i, std::string_view cue) noexcept {
  if (t.size() - i < cue.size()) {
    return npos;
  }
  for (std::size_t j = 0; j < cue.size(); ++j) {
    if (to_lower(t[i + j]) != cue[j]) {
      return npos;
    }
  }
  return i + cue.size();
}

namespace {

// The lower case of a two-byte UTF-8 code point (U+0080..U+07FF) in the scripts
// word_end_any_case reads; any other is itself.
unsigned lower_two_byte(unsigned cp) {
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) {
    return cp + 0x20;
  }
  if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {  // pairs, upper first
    return cp | 1u;
  }
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
    return cp % 2 == 1 ? cp + 1 : cp;
  }
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) {  // Greek capitals
    return cp + 0x20;
  }
  if (cp == 0x386) {
    return 0x3AC;
  }
  if (cp >= 0x388 && cp <= 0x38A) {
    return cp + 0x25;
  }
  if (cp == 0x38C) {
    return 0x3CC;
  }
  if (cp == 0x38E || cp == 0x38F) {
    return cp + 0x3F;
  }
  if (cp >= 0x410 && cp <= 0x42F) {  // Cyrillic capitals
    return cp + 0x20;
  }
  if (cp >= 0x400 && cp <= 0x40F) {
    return cp + 0x50;
  }
  return cp;
}

}  // namespace

std::size_t word_end_any_case(std::string_view t, std::size_t i, std::string_view word) noexcept {
  std::size_t k = i;
  for (std::size_t w = 0; w < word.size(); ++w, ++k) {
    if (k >= t.size()) {
      return npos;
    }
    const auto lead = static_cast<unsigned char>(t[k]);
    if (lead >= 0xC2 && lead <= 0xDF && k + 1 < t.size() && w + 1 < word.size() &&
        (static_cast<unsigned char>(t[k + 1]) & 0xC0u) == 0x80u) {
      const unsigned cp =
          lower_two_byte(((lead & 0x1Fu) << 6) | (static_cast<unsigned char>(t[k + 1]) & 0x3Fu));
      if (static_cast<unsigned char>(word[w]) != (0xC0u | (cp >> 6)) ||
          static_cast<unsigned char>(word[w + 1]) != (0x80u | (cp & 0x3Fu))) {
        return npos;
      }
      ++w;
      ++k;
      continue;
    }
    if (to_lower(t[k]) != word[w]) {
      return npos;
    }
  }
  return k;
}

bool one_of(std::string_view t, std::size_t begin, std::size_t end, std::string_view const* words,
            std::size_t count) noexcept {
  const std::size_t len = end - begin;
  for (std::size_t w = 0; w < count; ++w) {
    if (words[w].size() == len && cue_end(t, begin, words[w]) == end) {
      return true;
    }
  }
  return false;
}

}  // namespace sovgw::classify::detail
