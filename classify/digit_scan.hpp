#pragma once

// Finding digits in text where they are rare (prose): 16 bytes at a time, for the readings that
// start at a digit (number_bytes.cpp, digit_lookalikes.cpp).
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sovgw::classify {

// Where the first ASCII digit at or after `from` in `text` for which `wanted(at)` holds is, or npos.
template <typename Wanted>
std::size_t next_digit_if(std::string_view text, std::size_t from, Wanted&& wanted) {
  std::size_t i = from;
#if defined(__SSE2__)
  for (; i + 16 <= text.size(); i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    auto digits = static_cast<std::uint32_t>(_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)))));
    for (; digits != 0; digits &= digits - 1) {
      const std::size_t at = i + static_cast<std::size_t>(std::countr_zero(digits));
      if (wanted(at)) {
        return at;
      }
    }
  }
#endif
  for (; i < text.size(); ++i) {
    if (text[i] >= '0' && text[i] <= '9' && wanted(i)) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace sovgw::classify
