#pragma once

// Tables written in text, as people paste them into a prompt: CSV (cells separated by ',', ';' or
// tabs; a cell may be quoted) and markdown ('|' between cells, a "|---|---|" line under the
// header). A header cell may name what its column holds ("Steuer-ID", "pesel"): the cells under it
// are then read as that. Internal to classify/.
#include <array>
#include <cstddef>
#include <string_view>

#include "classify/detect_text.hpp"

namespace sovgw::classify::detail {

// A line of the text: [begin, end), and where the next one starts. Lines end at '\n' (a '\r'
// before it is left out) and at a raw JSON body's "\n" escape.
struct text_line {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t next = 0;
};

inline text_line line_at(std::string_view t, std::size_t begin) {
  std::size_t k = begin;
  while (k < t.size() && t[k] != '\n' && !(t[k] == '\\' && k + 1 < t.size() && t[k + 1] == 'n')) {
    ++k;
  }
  const std::size_t next = k >= t.size() ? t.size() : k + (t[k] == '\n' ? 1 : 2);
  std::size_t end = k;
  while (end > begin &&
         (t[end - 1] == '\r' || (end - begin >= 2 && t[end - 2] == '\\' && t[end - 1] == 'r'))) {
    end -= t[end - 1] == '\r' ? 1 : 2;
  }
  return {begin, end, next};
}

// Calls each(index, begin, end) for the cells of the line [begin, end) split at `sep`, each
// trimmed of blanks and of the quotes around it (a quoted cell may hold `sep`); a markdown row's
// leading '|' starts no cell. Stops when each returns true, and returns whether it did.
template <typename Each>
bool for_each_cell(std::string_view t, std::size_t begin, std::size_t end, char sep, Each&& each) {
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t k = begin;
  while (k < end && blank(t[k]) && t[k] != sep) {
    ++k;
  }
  if (sep == '|' && k < end && t[k] == '|') {
    ++k;
  }
  for (std::size_t index = 0; k <= end; ++index) {
    while (k < end && blank(t[k]) && t[k] != sep) {
      ++k;
    }
    const bool quoted = k < end && t[k] == '"' && sep != '|';
    const std::size_t b = quoted ? ++k : k;
    while (quoted && k < end && !(t[k] == '"' && (k + 1 >= end || t[k + 1] != '"'))) {
      k += t[k] == '"' ? 2 : 1;  // "" is a quote inside the cell
    }
    std::size_t e = k;
    while (k < end && t[k] != sep) {
      ++k;
    }
    if (!quoted) {
      e = k;
      while (e > b && blank(t[e - 1])) {
        --e;
      }
    }
    if ((k < end || e > b || sep != '|') && each(index, b, e)) {
      return true;
    }
    ++k;
  }
  return false;
}

// Whether the line [begin, end) is a markdown table's line under its header: '|', '-', ':' and
// blanks, with a '-'.
inline bool markdown_rule(std::string_view t, std::size_t begin, std::size_t end) {
  bool dash = false;
  for (std::size_t k = begin; k < end; ++k) {
    if (t[k] == '-') {
      dash = true;
    } else if (t[k] != '|' && t[k] != ':' && t[k] != ' ' && t[k] != '\t') {
      return false;
    }
  }
  return dash;
}

// The columns of a table whose header cells name what they hold: for each line of two cells or
// more, split at the first of '|', tab, ';' and ',' it holds where label_of(begin, end) names a
// cell (returns a non-empty name), the cells of those columns in the rows after it (lines split at
// the same separator, up to a line without one) for which value_at(t, begin, name) reads the whole
// cell: hit(begin, end) for each, in text order; true as soon as hit returns true. Each line is
// read at most five times (four separators, then as a row), so the scan is linear.
template <typename LabelOf, typename ValueAt, typename Hit>
bool scan_table_columns(std::string_view t, LabelOf&& label_of, ValueAt&& value_at, Hit&& hit) {
  struct column {
    std::size_t index = 0;
    std::string_view name;
  };
  std::array<column, 8> columns{};
  std::size_t bound = 0;
  char sep = 0;
  for (std::size_t at = 0; at < t.size();) {
    const text_line line = line_at(t, at);
    at = line.next;
    const std::string_view text = t.substr(line.begin, line.end - line.begin);
    if (sep == '|' && markdown_rule(t, line.begin, line.end)) {
      continue;
    }
    if (sep != 0 && text.find(sep) != std::string_view::npos) {
      const bool stop =
          for_each_cell(t, line.begin, line.end, sep, [&](std::size_t index, std::size_t b, std::size_t e) {
            for (std::size_t c = 0; c < bound; ++c) {
              if (columns[c].index == index && b < e && value_at(t, b, columns[c].name) == e) {
                return hit(b, e);
              }
            }
            return false;
          });
      if (stop) {
        return true;
      }
      continue;
    }
    sep = 0;
    if (at >= t.size()) {
      break;  // the last line: a header here has no rows under it
    }
    for (const char candidate : {'|', '\t', ';', ','}) {
      if (text.find(candidate) == std::string_view::npos) {
        continue;
      }
      bound = 0;
      std::size_t cells = 0;
      for_each_cell(t, line.begin, line.end, candidate, [&](std::size_t index, std::size_t b, std::size_t e) {
        ++cells;
        const std::string_view name = bound < columns.size() ? label_of(b, e) : std::string_view();
        if (!name.empty()) {
          columns[bound++] = {index, name};
        }
        return false;
      });
      if (bound != 0 && cells >= 2) {
        sep = candidate;
        break;
      }
    }
  }
  return false;
}

}  // namespace sovgw::classify::detail
