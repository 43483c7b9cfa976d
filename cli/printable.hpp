#pragma once

#include <string>
#include <string_view>

// Text a terminal (or a text viewer) shows as it is, whatever bytes a value holds.
namespace sovgw::cli {

// What no terminal should receive as it is: C0 and C1 controls, DEL, the line and paragraph
// separators (U+2028/2029) and the bidirectional controls (which reorder what follows).
[[nodiscard]] bool hidden_from_terminals(char32_t code_point);

// A value as text for a terminal: control characters as \n, \t, \r or \xNN, DEL and bytes that are
// not UTF-8 as \xNN, the other hidden characters as \uXXXX, and a backslash as \\: a value can
// neither forge a line nor drive the terminal, and reads back unambiguously. `lines`: a text of
// several lines (a payload, a message): newlines and tabs stay, backslashes too.
[[nodiscard]] std::string printable(std::string_view s, bool lines = false);

}  // namespace sovgw::cli
