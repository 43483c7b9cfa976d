#pragma once

// What a model reads, in the ASCII the detectors look for. A client can write an identifier in
// characters that a language model reads as the plain one while a byte-level detector does not:
// fullwidth forms ("alice＠example.com", "ＤＥ８９…"), digits of other scripts ("٤١١١"), the CJK
// numerals written as positional digits ("四一一一", "〇", "壹"),
// mathematical letters and digits ("𝐚𝐥𝐢𝐜𝐞", "𝟒𝟏𝟏𝟏"), circled, superscript and subscript digits,
// enclosed digits and letters NFKC leaves alone or parenthesises ("❺", "⑸", "⒌", "🅰", "⒜", and
// the regional indicators of flags, "🇩🇪"),
// Unicode spaces and dashes as separators, invisible characters inside it (zero width space,
// soft hyphen, word joiner, variation selectors, bidirectional controls, format characters,
// ASCII and C1 control characters, U+FFFC and U+FFFD, the blank braille pattern), or the invisible tag
// characters (U+E0020–E007E) that spell ASCII, or ligatures ("proﬁle": U+FB01 is "fi"). fold()
// maps each of those code points to the ASCII it stands for (compatibility decomposition, NFKC,
// for the forms, one to four characters; the digit's value for digits of every script and
// enclosed ones; the enclosed letter; the tag's ASCII) or removes it (invisible ones), and keeps
// every other byte as it is. The detectors then scan the folded text, and findings are mapped
// back to the original bytes, so redaction replaces what the client sent.
//
// The tag characters are read twice: as the ASCII they spell (a message hidden in them) and, where
// any are present, as nothing (what is shown: "4111<tag x>1111…" is the card a model reads).
//
// Not folded in the reading every detector scans: letters of other scripts that merely look Latin
// (Cyrillic "е", Greek "ο"), Latin small capitals ("ʙ") and precomposed accented letters ("É"): a
// confusables skeleton would also turn ordinary Cyrillic and Greek prose into Latin noise for the
// name and address detectors. fold_reading::lookalikes reads them as the Latin letter, for the
// detectors whose check makes noise harmless (an IBAN's mod 97: "ВЕ68 5390 …", "ʙᴇ68 …", "BÉ68 …";
// a national id's check character or label).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::classify {

struct folded_text {
  std::string text;
  // origin[i]: the offset in the original text of the code point that gave folded byte i;
  // origin[text.size()] is the original's size. A span [b, e) of `text` came from
  // [origin[b], origin[e]) of the original (with any removed characters just before origin[e]).
  std::vector<std::uint32_t> origin;
};

// Folds `text` into `out` and returns true, or returns false (leaving `out` alone) when nothing
// in it folds (every ASCII text, and most others): then the text is scanned as it is.
// Bytes that are not UTF-8 are kept as they are.
//
// `marks`: also write every other punctuation mark and symbol outside ASCII (Unicode categories P
// and S, and the spacing modifiers U+02B0..02FF: "❖", "→", "€", "ː") as one byte, `mark_byte`
// (ASCII's unit separator, which nothing else leaves in the folded text), so that a detector can
// take any of them for what separates an identifier's groups where its check is strong enough
// (an IBAN's mod 97: "DE89❖3704❖…"), and none where benign text writes them between numbers
// ("4210 → 3875 → 4390 → 4527", "4210 € 3875 €"). Off for the checks that ask whether a name
// reads as another ASCII name (a model name, a request path): a mark is not a letter.
inline constexpr char mark_byte = '\x1f';
bool fold(std::string_view text, folded_text& out, bool marks = false);

// Which reading of `text` fold() writes: `marks` as above; `without_tags`: the tag characters
// U+E0000..E007F removed rather than read as the ASCII they spell; `lookalikes`: the letters
// that look Latin (above) read as the Latin letter.
struct fold_reading {
  bool marks = false;
  bool without_tags = false;
  bool lookalikes = false;
};
bool fold(std::string_view text, folded_text& out, const fold_reading& reading);

// What the reading makes of the code point `cp`.
enum class folds_to : std::uint8_t { itself, nothing, space, line_break, other };
folds_to fold_class(char32_t cp, const fold_reading& reading = {});

// Whether `text` holds a tag character (U+E0000..E007F), or a letter fold_reading::lookalikes
// reads as another with an ASCII digit a few bytes from it (where an identifier may be): whether
// that reading is worth scanning. Cheap on ASCII.
bool has_tags(std::string_view text);
bool has_lookalikes(std::string_view text);

}  // namespace sovgw::classify
