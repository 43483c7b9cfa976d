#include "gateway/secret_mask.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>

#include "crypto/base64.hpp"

namespace sovgw::gateway {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same(std::string_view a, std::string_view b, bool any_case) {
  if (!any_case) {
    return a == b;
  }
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// The part of the base64 text of some bytes holding `secret` at byte offset `shift` (mod 3) of its
// group that depends on the secret alone: the characters carrying bits of the bytes around it are
// left out.
std::string base64_core(std::string_view secret, std::size_t shift) {
  std::vector<std::uint8_t> bytes(shift, 0);
  bytes.insert(bytes.end(), secret.begin(), secret.end());
  const std::string encoded = crypto::to_base64(std::span<const std::uint8_t>(bytes));
  constexpr std::size_t lead[] = {0, 2, 3};  // characters holding bits of the bytes before it
  const std::size_t n = bytes.size();
  const std::size_t known = 4 * (n / 3) + n % 3;  // the last character of a partial group: not known
  return encoded.substr(lead[shift], known - lead[shift]);
}

}  // namespace

secret_forms::secret_forms(std::string_view value) {
  // The value as sent, each word of it (an `Authorization: Basic …` or `Bearer …` value's token: an
  // echo quotes the token alone), and what a base64 word spells (Basic's `user:password`, and each
  // side of it; probe round 47).
  add_secret(value);
  for (std::size_t at = 0; at < value.size();) {
    const std::size_t space = std::min(value.find(' ', at), value.size());
    const std::string_view word = value.substr(at, space - at);
    at = space + 1;
    if (word.size() == value.size()) {
      break;
    }
    add_secret(word);
    const std::optional<std::vector<std::uint8_t>> decoded = crypto::from_base64(word);
    if (!decoded || decoded->empty() || !std::all_of(decoded->begin(), decoded->end(), [](std::uint8_t c) {
          return c >= 0x20 && c < 0x7f;
        })) {
      continue;
    }
    const std::string text(decoded->begin(), decoded->end());
    add_secret(text);
    if (const std::size_t colon = text.find(':'); colon != std::string::npos) {
      add_secret(std::string_view(text).substr(0, colon));
      add_secret(std::string_view(text).substr(colon + 1));
    }
  }
}

void secret_forms::add_secret(std::string_view secret) {
  if (secret.size() < 8) {
    return;
  }
  const auto add = [&](std::string text, bool any_case) {
    if (text.size() < 8 ||
        std::any_of(forms_.begin(), forms_.end(), [&](const form& f) { return f.text == text; })) {
      return;
    }
    longest_ = std::max(longest_, text.size());
    forms_.push_back({std::move(text), any_case});
  };
  add(std::string(secret), true);
  if (secret.find('/') != std::string_view::npos) {  // as a JSON encoder may escape it: "\\/"
    std::string escaped;
    for (const char c : secret) {
      escaped += c == '/' ? std::string_view("\\/") : std::string_view(&c, 1);
    }
    add(std::move(escaped), true);
  }
  for (std::size_t shift = 0; shift < 3; ++shift) {
    std::string core = base64_core(secret, shift);
    std::string url = core;
    std::replace(url.begin(), url.end(), '+', '-');
    std::replace(url.begin(), url.end(), '/', '_');
    add(std::move(core), false);
    add(std::move(url), false);
  }
}

std::size_t secret_forms::find(const form& f, std::string_view text, std::size_t from) {
  if (!f.any_case) {
    return text.find(f.text, from);
  }
  const char first[] = {
      lower(f.text[0]),
      f.text[0] >= 'a' && f.text[0] <= 'z' ? static_cast<char>(f.text[0] - 'a' + 'A') : f.text[0], '\0'};
  for (std::size_t at = text.find_first_of(first, from); at != std::string_view::npos;
       at = text.find_first_of(first, at + 1)) {
    if (same(text.substr(at, f.text.size()), f.text, true)) {
      return at;
    }
  }
  return std::string_view::npos;
}

bool secret_forms::begins(const form& f, std::string_view tail) {
  return tail.size() < f.text.size() &&
         same(tail, std::string_view(f.text).substr(0, tail.size()), f.any_case);
}

bool secret_forms::found_in(std::string_view text) const {
  return std::any_of(forms_.begin(), forms_.end(),
                     [&](const form& f) { return find(f, text, 0) != std::string_view::npos; });
}

void secret_mask::feed(std::string_view data, std::string& out) {
  if (!active()) {
    out += data;
    return;
  }
  const std::vector<secret_forms::form>& forms = forms_->forms_;
  work_.assign(held_).append(data);
  held_.clear();
  const std::string_view text = work_;
  for (const secret_forms::form& f : forms) {
    for (std::size_t at = secret_forms::find(f, text, 0); at != std::string_view::npos;
         at = secret_forms::find(f, text, at + f.text.size())) {
      std::fill_n(work_.begin() + static_cast<std::ptrdiff_t>(at), f.text.size(), '*');
    }
  }
  // A tail that may begin a form, once more bytes come: held back, the longest such.
  std::size_t hold = 0;
  for (std::size_t k = std::min(forms_->longest_ - 1, text.size()); k > 0 && hold == 0; --k) {
    const std::string_view tail = text.substr(text.size() - k);
    if (std::any_of(forms.begin(), forms.end(),
                    [&](const secret_forms::form& f) { return secret_forms::begins(f, tail); })) {
      hold = k;
    }
  }
  out.append(work_, 0, work_.size() - hold);
  held_.assign(work_, work_.size() - hold, hold);
}

void secret_mask::finish(std::string& out) {
  out += held_;
  held_.clear();
}

}  // namespace sovgw::gateway
