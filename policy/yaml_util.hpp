#pragma once

// Internal helpers for reading YAML with positions (yaml-cpp marks are 0-based; we report 1-based).
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.hpp"
#include "policy/diagnostics.hpp"
#include "policy/policy_source.hpp"

namespace sovgw::policy::yaml {

inline source_pos pos_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

inline source_pos pos_of(const YAML::Node& node) {
  return node.IsDefined() ? pos_of(node.Mark()) : source_pos{};
}

// A scalar written in quotes ("48443", '600'): a string, where a number is asked for a mistake to
// name rather than read through (yaml-cpp tags a quoted scalar "!", a plain one "?").
inline bool quoted_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "!"; }

inline std::string_view type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "undefined";
  }
}

// Line `n` (1-based) of `text`, without its line end; empty past the end.
inline std::string_view line_of(std::string_view text, int n) {
  std::size_t at = 0;
  for (int i = 1; i < n && at != std::string_view::npos; ++i) {
    at = text.find('\n', at);
    at = at == std::string_view::npos ? at : at + 1;
  }
  if (n < 1 || at == std::string_view::npos || at >= text.size()) {
    return {};
  }
  std::string_view line = text.substr(at, text.find('\n', at) - at);
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  return line;
}

// The column (1-based) of a tab in the indentation of a non-blank `line`, else 0.
inline int indentation_tab_column(std::string_view line) {
  const std::size_t indent = line.find_first_not_of(" \t");
  if (indent == std::string_view::npos) {
    return 0;
  }
  const std::size_t tab = line.substr(0, indent).find('\t');
  return tab == std::string_view::npos ? 0 : static_cast<int>(tab) + 1;
}

// A YAML syntax error as it is reported: where, and yaml-cpp's message. yaml-cpp names a tab in
// the indentation as such only where it looks for indentation; elsewhere it reports what the tab
// broke ("end of map not found", "illegal block entry"). When the error's line, or the nearest
// non-blank line before it, is indented with a tab, the error is reported at that tab.
struct syntax_error {
  source_pos pos;
  std::string message;
};
inline syntax_error describe_syntax_error(std::string_view text, const YAML::Mark& mark,
                                          const std::string& message) {
  const source_pos at = pos_of(mark);
  int before = at.line - 1;
  while (before >= 1 && line_of(text, before).find_first_not_of(" \t") == std::string_view::npos) {
    --before;
  }
  for (const int line : {at.line, before}) {
    if (const int column = line >= 1 ? indentation_tab_column(line_of(text, line)) : 0; column != 0) {
      return {{line, column}, "illegal tab when looking for indentation"};
    }
  }
  return {at, message};
}

// Why a text is not one YAML document: where, and what (without the file name).
struct load_error {
  source_pos pos;
  std::string message;
};

// Records where each document of a stream starts (its `---`), and the first explicit tag
// (`!!binary`, `!custom`): the readers take every value as plain text, so a tag would be dropped
// without a word (`id: !!binary YWJj` read as the id YWJj).
class document_starts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  std::optional<std::pair<YAML::Mark, std::string>> first_tag;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t, const std::string&) override {
    note(mark, tag);
    if (tag == "!" && starts.size() < 2) {
      quoted.push_back(mark);
    }
  }
  // Where each quoted scalar of the first document starts (its opening quote).
  std::vector<YAML::Mark> quoted;
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(mark, tag);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(mark, tag);
  }
  void OnMapEnd() override {}

 private:
  // yaml-cpp says "?" for a plain node and "!" for a quoted scalar: neither was written.
  void note(const YAML::Mark& mark, const std::string& tag) {
    if (!first_tag && starts.size() < 2 && !tag.empty() && tag != "?" && tag != "!") {
      first_tag.emplace(mark, tag);
    }
  }
};

// The position of the first character in `text` that would make what a reviewer sees differ from
// what the reader loads, with its message; line 0 when none. `text` is UTF-8 with its CR LF line
// ends already read as LF.
// - A control character that YAML does not allow in a stream (a C0 control but tab and line feed,
//   or DEL): yaml-cpp reads a NUL as the start of an escape ("R<NUL>x55" is "RU"), while a reviewer
//   sees "Rx55", or a diff that says "binary files differ".
// - A line break that yaml-cpp does not take for one: a lone CR (YAML 1.2's own line break, an old
//   Mac line end; PyYAML, editors and viewers break the line there) and NEL, LS and PS (YAML 1.1's
//   and editors'). After a '#', yaml-cpp's comment ran on to the next LF: a rule, a condition or a
//   key's `revoked:` that every other reader showed was not loaded (probe round 49).
// - A bidirectional embedding, override or isolate control (U+202A..U+202E, U+2066..U+2069): it
//   reorders how the rest of its line is displayed ("Trojan Source", CVE-2021-42574), so a comment
//   can be shown over a condition that says something else.
inline utf8_problem find_control_character(std::string_view text) {
  std::size_t at = 0;
  std::string message;
  for (; at < text.size(); ++at) {
    const auto c = static_cast<unsigned char>(text[at]);
    const auto next = [&](std::size_t k) {
      return at + k < text.size() ? static_cast<unsigned char>(text[at + k]) : 0;
    };
    if (c == '\r') {
      message =
          "a carriage return not followed by a line feed: some YAML readers and editors end a line "
          "there and sovgw's does not, so what a reviewer sees would not be what is loaded (save the "
          "file with LF or CR LF line ends)";
      break;
    }
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
      message = fmt::format(
          "byte 0x{:02X} is a control character, which a YAML file may not hold: the file must be "
          "text (remove it; a tab and a line end, LF or CR LF, are the only ones allowed)",
          c);
      break;
    }
    std::uint32_t cp = 0;
    if (c == 0xC2 && next(1) == 0x85) {
      cp = 0x85;
    } else if (c == 0xE2 && next(1) == 0x80 && next(2) >= 0xA8 && next(2) <= 0xAE) {
      cp = 0x2000u + (next(2) - 0x80u);
    } else if (c == 0xE2 && next(1) == 0x81 && next(2) >= 0xA6 && next(2) <= 0xA9) {
      cp = 0x2040u + (next(2) - 0x80u);
    }
    if (cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
      message = fmt::format(
          "U+{:04X} ({}) is a line break to some YAML readers and editors and not to sovgw's, so what "
          "a reviewer sees would not be what is loaded (remove it; end lines with LF or CR LF)",
          cp,
          cp == 0x85     ? "NEXT LINE"
          : cp == 0x2028 ? "LINE SEPARATOR"
                         : "PARAGRAPH SEPARATOR");
      break;
    }
    if (cp != 0) {
      message = fmt::format(
          "U+{:04X} is a bidirectional control: it reorders how the rest of the line is displayed, "
          "so what a reviewer sees would not be what is loaded (remove it)",
          cp);
      break;
    }
  }
  if (at == text.size()) {
    return {};
  }
  int line = 1;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      begin = i + 1;
    }
  }
  return {line, static_cast<int>(at - begin) + 1, message};
}

// Whether the quoted scalar that opens at text[at] (its quote) is closed before the text ends.
// yaml-cpp accepts a quoted scalar still open at the end of a file that ends with a line break,
// the rest of the file its value: one forgotten quote in a rule's reason would turn every later
// rule and invariant into text, and the file would load without them.
inline bool quoted_scalar_closed(std::string_view text, std::size_t at) {
  if (at >= text.size() || (text[at] != '"' && text[at] != '\'')) {
    return true;  // not where a quote opens: nothing to check
  }
  const char quote = text[at];
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escape: the next character is never the closing quote
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
        continue;
      }
      return true;
    }
  }
  return false;
}

// Parses `text` as one YAML document: valid UTF-8 (a Latin-1 accent would reach answers and logs as
// invalid JSON), no syntax error, and nothing after it — a second document (after a `---`) would
// be silently ignored by every reader, so it is refused where it starts. Every YAML file sovgw
// reads (configs, policies, policy tests, clusters, tenants) goes through here. On failure returns
// an undefined node and sets `error`.
inline YAML::Node load_document(std::string_view file_text, std::optional<load_error>& error) {
  // CR LF line breaks read as LF, as YAML folds them: yaml-cpp kept the CR inside a double-quoted
  // string that runs on to the next line of a CR LF file, refused as a control character the
  // admin never typed (probe round 37). Lines and columns stay as the file's.
  std::string unified;
  std::string_view text = file_text;
  if (file_text.find("\r\n") != std::string_view::npos) {
    unified.reserve(file_text.size());
    for (std::size_t i = 0; i < file_text.size(); ++i) {
      if (file_text[i] != '\r' || i + 1 >= file_text.size() || file_text[i + 1] != '\n') {
        unified.push_back(file_text[i]);
      }
    }
    text = unified;
  }
  if (const utf8_problem bad = find_utf8_problem(text); bad.line != 0) {
    error = load_error{source_pos{bad.line, bad.column}, bad.message};
    return YAML::Node(YAML::NodeType::Undefined);
  }
  if (const utf8_problem bad = find_control_character(text); bad.line != 0) {
    error = load_error{source_pos{bad.line, bad.column}, bad.message};
    return YAML::Node(YAML::NodeType::Undefined);
  }
  try {
    // The first document as nodes; whether a second one follows, from the parser's events alone
    // (LoadAll would build every document's nodes: the policy fuzzer found inputs where that took
    // over a gigabyte and never finished).
    YAML::Node first = YAML::Load(std::string(text));
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    document_starts starts;
    while (starts.starts.size() < 2 && parser.HandleNextDocument(starts)) {
    }
    for (const YAML::Mark& mark : starts.quoted) {
      if (mark.pos >= 0 && !quoted_scalar_closed(text, static_cast<std::size_t>(mark.pos))) {
        error = load_error{pos_of(mark),
                           std::string("a quoted string opened here (") +
                               text[static_cast<std::size_t>(mark.pos)] +
                               ") is never closed: everything after it to the end of the file would be its "
                               "text; add the closing quote"};
        return YAML::Node(YAML::NodeType::Undefined);
      }
    }
    if (starts.first_tag) {
      std::string tag = starts.first_tag->second;
      if (tag.starts_with("tag:yaml.org,2002:")) {
        tag = "!!" + tag.substr(18);
      }
      error = load_error{
          pos_of(starts.first_tag->first),
          "a YAML tag (" + tag + ") is not read: every value is taken as written, so remove the tag"};
      return YAML::Node(YAML::NodeType::Undefined);
    }
    if (starts.starts.size() < 2) {
      return first;
    }
    // The first document ended by its end marker ("...") or by the next one's start ("---").
    const std::size_t at =
        std::min<std::size_t>(static_cast<std::size_t>(std::max(starts.starts[1].pos, 0)), text.size());
    const std::size_t dashes = text.substr(0, at + 3).rfind("---");
    const std::size_t dots = text.substr(0, at).rfind("...");
    const bool ended = dots != std::string_view::npos && (dashes == std::string_view::npos || dots > dashes);
    error = load_error{pos_of(starts.starts[1]),
                       ended ? "a second YAML document is not supported: a file holds one document, and "
                               "this follows its end marker '...' (remove the marker and what follows, or "
                               "the marker alone)"
                             : "a second YAML document is not supported: a file holds one document (remove "
                               "this '---' and what follows, or merge it into the first)"};
  } catch (const YAML::ParserException& e) {
    const syntax_error s = describe_syntax_error(text, e.mark, e.msg);
    error = load_error{s.pos, "YAML syntax error: " + s.message};
  } catch (const YAML::Exception& e) {
    error = load_error{pos_of(e.mark), std::string("YAML error: ") + e.msg};
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// load_document, its error reported to `diags`.
inline YAML::Node load(std::string_view text, diagnostics& diags) {
  std::optional<load_error> error;
  YAML::Node root = load_document(text, error);
  if (error) {
    diags.error(error->pos, error->message);
  }
  return root;
}

// Iterates a mapping's entries, reporting non-scalar and duplicate keys and keys not in `allowed`
// (when `allowed` is non-empty). fn(key, key_pos, value) is called for each accepted key.
template <typename fn_t>
void for_each_entry(const YAML::Node& map, diagnostics& diags, std::string_view what,
                    const std::vector<std::string_view>& allowed, fn_t&& fn) {
  std::map<std::string, int, std::less<>> seen;  // key -> the line it was first written on
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    const source_pos kpos = pos_of(key);
    if (!key.IsScalar()) {
      diags.error(kpos, "expected a key name in " + std::string(what));
      continue;
    }
    const std::string name = key.Scalar();
    if (const auto [first, added] = seen.emplace(name, kpos.line); !added) {
      diags.error(kpos, "duplicate key '" + name + "' in " + std::string(what) + " (first at line " +
                            std::to_string(first->second) + ")");
      continue;
    }
    if (!allowed.empty()) {
      bool ok = false;
      for (auto a : allowed) {
        ok = ok || a == name;
      }
      if (!ok) {
        std::string list;
        for (auto a : allowed) {
          list += list.empty() ? "" : ", ";
          list += a;
        }
        diags.error(
            kpos, "unknown key '" + name + "' in " + std::string(what) + " (expected one of: " + list + ")");
        continue;
      }
    }
    fn(name, kpos, it->second);
  }
}

// A scalar, or a list of scalars, as sourced strings. Reports (and returns empty for) anything else,
// including an empty list or null ("empty value set").
inline std::vector<sourced> value_list(const YAML::Node& node, source_pos owner, diagnostics& diags,
                                       std::string_view what) {
  std::vector<sourced> out;
  if (node.IsScalar()) {
    out.push_back({node.Scalar(), pos_of(node)});
    if (out.back().text.empty()) {
      diags.error(pos_of(node), "empty value in " + std::string(what));
      out.clear();
    }
    return out;
  }
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        diags.error(pos_of(item), "expected a non-empty scalar value in " + std::string(what) + ", got " +
                                      std::string(item.IsScalar() ? "an empty string" : type_name(item)));
        continue;
      }
      out.push_back({item.Scalar(), pos_of(item)});
    }
    if (node.size() == 0) {
      diags.error(pos_of(node).line ? pos_of(node) : owner, "empty value set for " + std::string(what));
    }
    return out;
  }
  diags.error(
      node.IsNull() ? owner : pos_of(node),
      "empty value set for " + std::string(what) +
          (node.IsNull() ? std::string()
                         : " (expected a value or a list, got " + std::string(type_name(node)) + ")"));
  return out;
}

inline bool expect_map(const YAML::Node& node, source_pos owner, diagnostics& diags, std::string_view what) {
  if (node.IsMap()) {
    return true;
  }
  diags.error(node.IsNull() ? owner : pos_of(node),
              std::string(what) + " must be a mapping, got " + std::string(type_name(node)));
  return false;
}

inline bool expect_list(const YAML::Node& node, source_pos owner, diagnostics& diags, std::string_view what) {
  if (node.IsSequence()) {
    return true;
  }
  diags.error(node.IsNull() ? owner : pos_of(node),
              std::string(what) + " must be a list, got " + std::string(type_name(node)));
  return false;
}

inline std::optional<std::string> scalar(const YAML::Node& node, source_pos owner, diagnostics& diags,
                                         std::string_view what) {
  if (node.IsScalar()) {
    return node.Scalar();
  }
  diags.error(node.IsNull() ? owner : pos_of(node),
              std::string(what) + " must be a scalar, got " + std::string(type_name(node)));
  return std::nullopt;
}

}  // namespace sovgw::policy::yaml
