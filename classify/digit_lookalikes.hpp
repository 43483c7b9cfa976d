#pragma once

// Letters written for digits: `O` or `o` for 0, `I`, `l` or `|` for 1, as OCR reads a scanned
// statement and as a client who means to hide a number types it ("IBAN DE89 37O4 OO44 O532 O13O
// OO", "card 4lll llll llll llll"). A model reads them back as the digits. json_body.cpp reads the
// words around them again with the digits put back, for the detectors whose check digits bound
// what they find (IBAN, payment card, national id).
#include <string>
#include <string_view>

namespace sovgw::classify {

// Where a digit with such a letter beside it (in one word) is, at or after `from` in `text`, or
// npos: 16 bytes at a time where there is no digit (prose).
std::size_t next_lookalike_digit(std::string_view text, std::size_t from);

// `text` with the letters of its digit-like words made digits, into `out` (the same length):
// words of digits and those letters with a digit in them ("37O4", "l111"; not digits and one
// trailing 'l', a measure in litres: "4l", "10l"), and words of those
// letters alone, up to four, next to such a word across one space, '-', '.' or '/' ("OO" after
// "O13O", "llll" after "4lll"). False when no letter was changed.
bool put_back_digits(std::string_view text, std::string& out);

}  // namespace sovgw::classify
