#include "classify/form_fields.hpp"

#include <algorithm>

#include "common/ascii.hpp"

namespace sovgw::classify {

void form_field_joiner::clear() {
  bytes_.clear();
  entries_.clear();
}

void form_field_joiner::add(std::string_view name, std::string_view value) {
  // A list's suffix: `prompt[]`, `prompt[0]` (PHP, Rails, qs).
  if (name.size() > 2 && name.back() == ']') {
    const std::size_t open = name.rfind('[');
    const std::string_view index = name.substr(open + 1, name.size() - open - 2);
    if (open != 0 && open != std::string_view::npos &&
        std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      name = name.substr(0, open);
    }
  }
  entries_.push_back({bytes_.size(), name.size(), value.size()});
  bytes_.append(name);
  bytes_.append(value);
}

void form_field_joiner::join(std::string& out) {
  out.clear();
  if (entries_.size() < 2) {
    return;
  }
  const auto name_of = [&](std::size_t i) {
    return std::string_view(bytes_).substr(entries_[i].name_begin, entries_[i].name_size);
  };
  const auto value_of = [&](std::size_t i) {
    const entry& e = entries_[i];
    return std::string_view(bytes_).substr(e.name_begin + e.name_size, e.value_size);
  };
  order_.resize(entries_.size());
  for (std::size_t i = 0; i < order_.size(); ++i) {
    order_[i] = i;
  }
  // Grouped by name, each group in the values' order.
  std::stable_sort(order_.begin(), order_.end(),
                   [&](std::size_t a, std::size_t b) { return name_of(a) < name_of(b); });
  std::vector<std::size_t>::iterator from = order_.begin();
  while (from != order_.end()) {
    const auto to =
        std::find_if(from, order_.end(), [&](std::size_t i) { return name_of(i) != name_of(*from); });
    if (to - from >= 2) {
      for (const char* between : {"\n", ""}) {
        for (auto it = from; it != to; ++it) {
          out.append(it == from ? "" : between);
          out.append(value_of(*it));
        }
        out += '\n';
      }
    }
    from = to;
  }
}

void join_repeated_form_fields(std::string_view body, form_field_joiner& joiner, std::string& out) {
  joiner.clear();
  out.clear();
  if (body.find('=') == std::string_view::npos) {
    return;
  }
  static thread_local std::string name;
  for (std::size_t at = 0; at < body.size();) {
    const std::size_t end = std::min(body.find_first_of("&;", at), body.size());
    const std::string_view field = body.substr(at, end - at);
    at = end + 1;
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      continue;
    }
    name.clear();
    const std::string_view written = field.substr(0, eq);
    for (std::size_t k = 0; k < written.size(); ++k) {
      const int hi = k + 2 < written.size() && written[k] == '%' ? hex_digit_value(written[k + 1]) : -1;
      const int lo = hi >= 0 ? hex_digit_value(written[k + 2]) : -1;
      if (lo >= 0) {
        name.push_back(static_cast<char>(hi * 16 + lo));
        k += 2;
      } else {
        name.push_back(written[k] == '+' ? ' ' : written[k]);
      }
    }
    joiner.add(name, field.substr(eq + 1));
  }
  joiner.join(out);
}

}  // namespace sovgw::classify
