#pragma once

// Text written as the numbers of its bytes or characters, which a model asked to "decode this"
// reads as the text: `String.fromCharCode(97,108,105,99,101,64,...)`, Python's
// `bytes([97, 108, ...])`, a C array `{0x61, 0x6c, ...}`, hex pairs in a list (`61,6c,69,...`),
// binary octets (`01100001 01101100 ...`), char codes one per line. unescape.cpp's find_texts()
// reads what they spell like base64 that decodes to text.
#include <string_view>
#include <vector>

#include "classify/unescape.hpp"

namespace sovgw::classify {

// Lists of at least min_number_bytes numbers, one separator throughout (a ',' or ';' with blanks
// and line breaks around it, or blanks and line breaks alone), each a word of its own: decimal
// (0-255 a byte, then UTF-8; up to U+10FFFF a character, UTF-16 surrogate pairs joined), `0x` hex,
// two hex digits apart by ',' or ';', or eight binary digits. Each stretch of such a list whose
// values are text (no control characters but tab and line breaks, no private use; characters past
// Latin-1 only where three in four are printable ASCII, so a list of years is not read) of at
// least min_number_bytes characters, with an ASCII letter among them (a series of measurements
// between 48 and 57 spells digits alone), is appended to `out` as a run: its first number to its
// last, and the text it spells.
// Also text written a character at a time as a list's items ("''.join(['a','l','i',...])", a C
// "{'a', 'l', ...}", a JSON array of characters, "a,l,i,c,e,@,..."): at least min_number_bytes
// items, ',' or ';' apart (one mark throughout), all quoted or all bare; bare ones not digits alone
// (ratings, "4,5,3,4,...", would read as a card by chance).
inline constexpr std::size_t min_number_bytes = 8;
void find_number_texts(std::string_view in, std::vector<base64_text>& out);

}  // namespace sovgw::classify
