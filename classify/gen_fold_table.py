#!/usr/bin/env python3
"""Writes classify/fold_table.inc, the code point table of classify/fold.cpp, from Python's
Unicode database (`unicodedata`; Python 3.11: Unicode 14.0).

    python3 classify/gen_fold_table.py > classify/fold_table.inc

It defines two tables. `fold_runs`: {first, last, ascii, step}: the code points first..last fold
to `ascii` (step 0: every one of them) or to ascii, ascii + 1, ... (step 1); ascii 0 removes them.
`fold_multis`: {code point, "ASCII"}: code points that fold to two to four characters. Folded:
  - every code point whose NFKC form is one to four printable ASCII characters (fullwidth forms,
    mathematical letters and digits, circled, superscript and subscript letters and digits,
    Unicode spaces, small and fullwidth punctuation, ligatures such as U+FB01 "fi", circled and
    parenthesised numbers such as U+2469 "10", ...);
  - every decimal digit (category Nd) of every script, and every other digit (a
    `unicodedata.digit()` value: the dingbat circled digits U+2776..2793, the double and negative
    circled ones, the parenthesised U+2474.. and full-stop U+2488.. ones, Ethiopic and Brahmi
    numerals, ...), to its value; the enclosed numbers ten and up (circled, parenthesised, with a
    full stop: U+24EB, U+247D, U+2491, ...) to their digits: the parentheses and stop that NFKC
    would write ("(1)", "1.") would separate every digit of a number written in them (probe round 25);
  - the enclosed Latin letters NFKC leaves alone or encloses in parentheses (negative circled
    U+1F150.., negative squared U+1F170.., parenthesised U+249C.. and U+1F110.., tortoise shell
    bracketed, squared small) and the regional indicator symbols U+1F1E6.. (flags: "DE" is
    U+1F1E9 U+1F1EA), to their letter;
  - dashes and minus signs, and the dots and bullets that separate a number's groups, to '-';
    ideographic full stops to '.'; OGHAM SPACE MARK to ' '; the line and paragraph separators to
    line feed; typographic apostrophes and quotation marks to ' and ";
  - the CJK numerals Chinese and Japanese write as positional digits (〇一二三四五六七八九, 零,
    the financial forms 壹贰叁肆伍陆柒捌玖 and their traditional and Japanese forms 貳參陸壱弐参)
    and the parenthesised and circled ideographs one to ten (㈠, ㊀: NFKC's "(一)" would
    separate the digits), to their value: "四一一一 一一一一 …" is the card a model reads. Outside a
    number they are words ("一个", "参加"), which no detector reads: a number needs a run of them
    (a card 13 or more with a Luhn digit), which prose does not write;
  - the tag characters U+E0020..E007E to the ASCII they spell;
  - every other punctuation mark and symbol (categories P*, S*) and spacing modifier (U+02B0..02FF)
    outside ASCII is a mark (MARK, read as a blank by the detectors only, see fold.hpp): a model
    reads "4111❖1111❖1111❖1111" or "+49→30→1234→5678" as the number whatever the mark is.
Removed: the default-ignorable code points (invisible: zero width space and joiners, soft hyphen,
bidirectional controls, variation selectors, the other tags, ...), combining and enclosing marks
(categories Mn, Me), format characters (Cf: interlinear annotation marks U+FFF9..FFFB, Egyptian
hieroglyph format controls, ...), the C1 controls (Cc above U+007F, NEXT LINE U+0085 among them),
U+FFFC, U+FFFD and the blank braille pattern U+2800. The ASCII controls (but tab, line feed and carriage
return) are removed by fold.cpp itself.
`lookalike_runs` (same shape): the letters fold_reading::lookalikes reads as Latin ones and the
main table keeps (Latin small capitals, precomposed Latin letters with diacritics, the Cyrillic and
Greek letters of CONFUSABLES); see below.
"""
import re
import sys
import unicodedata as u

DEFAULT_IGNORABLE = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                     (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
                     (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
                     (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
                     (0xE0000, 0xE0FFF)]
# Shown as nothing or a blank a model skips: OBJECT REPLACEMENT CHARACTER, BRAILLE PATTERN BLANK,
# and REPLACEMENT CHARACTER (what a decoder writes for a byte it could not read: "gm\ufffdail.com"
# reads as the address).
INVISIBLE = {0xFFFC, 0xFFFD, 0x2800}
# Dots, bullets and dashes that separate a number's groups as '-' does ("4111·1111·..."):
# MIDDLE DOT and GREEK ANO TELEIA (NFKC: the middle dot), MODIFIER LETTER MINUS SIGN, BULLET,
# TRIANGULAR BULLET, HYPHENATION POINT, HYPHEN BULLET, BULLET OPERATOR, DOT OPERATOR, BLACK CIRCLE,
# WHITE BULLET, WORD SEPARATOR MIDDLE DOT, RAISED DOT, TWO- and THREE-EM DASH, WAVE DASH, KATAKANA
# MIDDLE DOT, KATAKANA-HIRAGANA PROLONGED SOUND MARK, LATIN LETTER SINOLOGICAL DOT, the halfwidth
# forms and the TIBETAN MARK INTERSYLLABIC TSHEG and DELIMITER TSHEG BSTAR (raised dots). FRACTION SLASH and DIVISION SLASH are '/', the ideographic commas ','. The line and paragraph separators (U+2028, U+2029) break lines as line
# feed does: a model and Python's str.splitlines() read them so.
GROUP_SEPARATORS = (0x00B7, 0x0387, 0x02D7, 0x0F0B, 0x0F0C, 0x2022, 0x2023, 0x2027, 0x2043, 0x2219, 0x22C5, 0x25CF, 0x25E6,
                    0x2E31, 0x2E33, 0x2E3A, 0x2E3B, 0x301C, 0x30FB, 0x30FC, 0xA78F, 0xFF65, 0xFF70)
# Typographic apostrophes and quotation marks are the ASCII ones ("m’appelle", “Alice”): a
# cue or a name reads across them as across ASCII ones.
QUOTES_SINGLE = (0x2018, 0x2019, 0x201A, 0x201B, 0x2039, 0x203A, 0x02BC, 0x02BB, 0x2032)
QUOTES_DOUBLE = (0x201C, 0x201D, 0x201E, 0x201F, 0x00AB, 0x00BB, 0x2033, 0x301D, 0x301E)
EXTRA = {**{cp: ord("-") for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58)},
         **{cp: ord("-") for cp in GROUP_SEPARATORS},
         0x3002: ord("."), 0xFF61: ord("."), 0x1680: ord(" "), 0x2028: ord("\n"), 0x2029: ord("\n"),
         0x2044: ord("/"), 0x2215: ord("/"), 0x3001: ord(","), 0xFF64: ord(","),
         **{cp: ord("'") for cp in QUOTES_SINGLE}, **{cp: ord('"') for cp in QUOTES_DOUBLE}}

# A letter or number in a frame: "NEGATIVE SQUARED LATIN CAPITAL LETTER A", "PARENTHESIZED NUMBER TEN".
ENCLOSED_LETTER = re.compile(r"^(?:REGIONAL INDICATOR SYMBOL LETTER"
                             r"|.*(?:CIRCLED|SQUARED|PARENTHESIZED|BRACKETED).* LATIN (CAPITAL|SMALL) LETTER) ([A-Z])$")
ENCLOSED_NUMBER = re.compile(r"(?=.*(?:CIRCLED|PARENTHESIZED|FULL STOP|COMMA)).*\b(?:DIGIT|NUMBER)\b")


def enclosed(c):
    """What an enclosed letter, a digit or an enclosed number reads as, or None."""
    name = u.name(c, "")
    letter = ENCLOSED_LETTER.match(name)
    if letter:
        return letter.group(2).lower() if letter.group(1) == "SMALL" else letter.group(2)
    if u.digit(c, None) is not None:
        return str(u.digit(c))
    value = u.numeric(c, None)
    if u.category(c) == "No" and ENCLOSED_NUMBER.match(name) and value is not None and value == int(value):
        return str(int(value))
    return None


# The table's value for a mark: fold(..., marks=true) writes a blank for it, fold(...) keeps it.
MARK = 0x1F

fold = {}
multi = {}
for lo, hi in DEFAULT_IGNORABLE:
    for cp in range(lo, hi + 1):
        fold[cp] = 0
for cp in range(0x80, 0x110000):
    c = chr(cp)
    cat = u.category(c)
    if cat in ("Cs", "Co", "Cn"):
        continue
    if cat in ("Mn", "Me", "Cf", "Cc") or cp in INVISIBLE:
        fold[cp] = 0
        continue
    if cat == "Nd":
        fold[cp] = 0x30 + u.decimal(c)
        continue
    n = enclosed(c) or u.normalize("NFKC", c)
    if len(n) == 1 and 0x20 <= ord(n) < 0x7F:
        fold[cp] = ord(n)
    elif 2 <= len(n) <= 4 and all(0x20 <= ord(x) < 0x7F for x in n):
        multi[cp] = n
    elif cat[0] in "PS" or 0x02B0 <= cp <= 0x02FF:
        fold[cp] = MARK
fold.update(EXTRA)
CJK_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "壹": 1, "贰": 2, "貳": 2, "叁": 3, "參": 3, "肆": 4, "伍": 5, "陆": 6, "陸": 6,
              "柒": 7, "捌": 8, "玖": 9, "壱": 1, "弐": 2, "参": 3}
for c, value in CJK_DIGITS.items():
    fold[ord(c)] = 0x30 + value
for k in range(9):  # PARENTHESIZED and CIRCLED IDEOGRAPH ONE..NINE; TEN as "10"
    fold[0x3220 + k] = fold[0x3280 + k] = 0x31 + k
for cp in (0x3229, 0x3289):
    fold.pop(cp, None)
    multi[cp] = "10"
for cp in range(0xE0020, 0xE007F):  # tags spell ASCII
    fold[cp] = cp - 0xE0000

# Lookalikes (fold_reading::lookalikes, for the IBAN and national id detectors): letters a model reads as the
# Latin one they look like, UTS #39 style. Latin small capitals ("ʙᴇ68…") as the capital; precomposed
# Latin letters with diacritics ("BÉ68") as their base letter, as the decomposed ones already are
# (the combining mark is removed); Cyrillic and Greek letters confusable with Latin ones ("ВЕ68…",
# "ΑΤ61…"). Not in the main table: that would turn Cyrillic and Greek prose into Latin noise for
# the name and address detectors.
CONFUSABLES = {
    # Cyrillic capitals and small letters.
    "АВЕКМНОРСТХЅІЈԚԜ": "ABEKMHOPCTXSIJQW", "аеорсухѕіјԁһԛԝвкмнт": "aeopcyxsijdhqwBKMHT",
    # Greek capitals and small letters.
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ": "ABEZHIKMNOPTYX", "οινακρ": "oivakp",
}
SMALL_CAPITAL = re.compile(r"^LATIN LETTER SMALL CAPITAL ([A-Z])$")
lookalike = {}
for cp in range(0x80, 0x110000):
    if cp in fold or cp in multi:
        continue
    c = chr(cp)
    capital = SMALL_CAPITAL.match(u.name(c, ""))
    base = u.normalize("NFD", c)
    if capital:
        lookalike[cp] = ord(capital.group(1))
    elif (len(base) > 1 and base[0].isascii() and base[0].isalpha()
          and all(u.category(m) == "Mn" for m in base[1:])):
        lookalike[cp] = ord(base[0])
for letters, latin in CONFUSABLES.items():
    for c, a in zip(letters, latin, strict=True):
        lookalike[ord(c)] = ord(a)


def runs_of(table):
    runs = []
    for cp in sorted(table):
        a = table[cp]
        if runs:
            first, last, base, step = runs[-1]
            if last + 1 == cp:
                if step == 1 and base != 0 and base + (cp - first) == a:
                    runs[-1][1] = cp
                    continue
                if (step == 0 or first == last) and base == a:
                    runs[-1][1] = cp
                    runs[-1][3] = 0
                    continue
        runs.append([cp, cp, a, 0 if a == 0 else 1])
    return runs


out = sys.stdout
runs = runs_of(fold)
out.write(f"// Generated by classify/gen_fold_table.py from Unicode {u.unidata_version}: do not edit.\n")
out.write(f"// {len(fold)} code points in {len(runs)} runs: {{first, last, ascii (0: removed, 0x1F: a mark), step}}.\n")
out.write("constexpr fold_run fold_runs[] = {\n")
for first, last, base, step in runs:
    out.write(f"    {{0x{first:X}, 0x{last:X}, 0x{base:02X}, {step}}},\n")
out.write("};\n")
out.write(f"// {len(multi)} code points that fold to several characters: {{code point, ASCII}}.\n")
out.write("constexpr fold_multi fold_multis[] = {\n")
for cp in sorted(multi):
    text = multi[cp].replace("\\", "\\\\").replace('"', '\\"')
    out.write(f'    {{0x{cp:X}, "{text}"}},\n')
out.write("};\n")
lookalike_runs = runs_of(lookalike)
out.write(f"// {len(lookalike)} lookalike letters in {len(lookalike_runs)} runs (fold_reading::lookalikes).\n")
out.write("constexpr fold_run lookalike_runs[] = {\n")
for first, last, base, step in lookalike_runs:
    out.write(f"    {{0x{first:X}, 0x{last:X}, 0x{base:02X}, {step}}},\n")
out.write("};\n")
