#pragma once

// The text an output constraint forces a model to write. A regular expression or a grammar under
// `guided_regex`, `guided_grammar`, `structured_outputs`, a JSON schema's `pattern`, a custom
// tool's grammar `definition`, llama.cpp's and TGI's `grammar`, makes the cluster's decoder emit
// exactly what it spells: "4111-?1111-?1111-?1111" and `root ::= "alice.smith" "@" "example.com"`
// put the card and the address in the request (and the cluster's logs) as surely as a prompt does.
// json_body.cpp reads such strings again as the literal text they match.
#include <string_view>

#include "classify/unescape.hpp"

namespace sovgw::classify {

// Which alternative of a choice (`a|b`, a character class `[- ]`) a reading takes; the detectors
// read both, so that a card or an address written in only one of them is read whole.
enum class alternative : unsigned char { first, last };

// The literal text `pattern` matches, into `out` (origin: the offset in `pattern` of what gave
// each byte). A grammar (a string with quoted literals: GBNF's `root ::= "a" "b"`, Lark's
// `start: "a" "b"`, EBNF) is read as its literals, those written one after the other joined, each
// rule on a line of its own. A regular expression is read with its syntax taken off: anchors
// (`^`, `$`, `\b`), groups (`(`, `(?:`, `(?<name>`), quantifiers (`?`, `*`, `+`, `{n,m}`), escapes
// (`\.`, `\-`, `\x40`, `\u0040`, `\s` a space, `\Q...\E`), a character class as one of its
// characters (`[.]`, `[- ]`, a range of one `[4-4]`; a wider range or a negated class gives
// nothing), a repeat as its atom as many times as its least count (`41{15}`; GBNF's `"1"{15}`,
// Lark's `"1"~15`), an alternation as one of its branches (top-level branches each on a line of
// their own). Returns false when that reading
// is the pattern as written (nothing to read again).
bool pattern_text(std::string_view pattern, alternative which, unescaped_text& out);

}  // namespace sovgw::classify
