#include "crypto/structured_field.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace sovgw::crypto::sf {

namespace {

constexpr std::int64_t max_integer = 999'999'999'999'999;
constexpr std::int64_t max_decimal_thousandths = 999'999'999'999'999;  // 12 integer + 3 fraction digits

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lcalpha(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9110 tchar.
bool is_tchar(char c) {
  if (is_alpha(c) || is_digit(c)) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_key_char(char c) {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (is_digit(c)) {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

// Base64 (RFC 4648 section 4) as section 4.2.7 asks: missing padding is synthesized and non-zero pad
// bits are accepted (both SHOULD NOT fail); "=" anywhere but at the end, or too much of it, fails.
std::optional<byte_sequence> decode_base64(std::string_view text) {
  std::size_t pads = 0;
  while (pads < text.size() && text[text.size() - 1 - pads] == '=') {
    ++pads;
  }
  const std::string_view data = text.substr(0, text.size() - pads);
  if (pads > 2 || data.size() % 4 == 1 || (pads > 0 && (data.size() + pads) % 4 != 0)) {
    return std::nullopt;
  }
  byte_sequence out;
  out.reserve(data.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : data) {
    const int v = base64_value(c);
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

void encode_base64(std::string& out, const byte_sequence& bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n =
        (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += '=';
  }
}

// The parsing algorithms of section 4.2, over one input. Every parse_* consumes what it parsed;
// on failure it records the first error and its position and returns false.
class parser {
 public:
  explicit parser(std::string_view input) : in_(input) {}

  [[nodiscard]] failure why() const { return failure_; }

  bool fail(error e) {
    if (failure_.code == error::none) {
      failure_ = {e, pos_};
    }
    return false;
  }

  bool empty() const { return pos_ >= in_.size(); }
  char peek() const { return empty() ? '\0' : in_[pos_]; }

  void skip_sp() {
    while (!empty() && in_[pos_] == ' ') {
      ++pos_;
    }
  }
  void skip_ows() {
    while (!empty() && (in_[pos_] == ' ' || in_[pos_] == '\t')) {
      ++pos_;
    }
  }

  // Section 4.2 steps 5-6 for every top-level type.
  bool finish() {
    skip_sp();
    return empty() || fail(error::trailing_characters);
  }

  bool parse_list(list& out) {
    while (!empty()) {
      member m;
      if (!parse_item_or_inner_list(m)) {
        return false;
      }
      out.push_back(std::move(m));
      if (!after_member()) {
        return false;
      }
    }
    return true;
  }

  bool parse_dictionary(dictionary& out, std::vector<std::string>* repeated = nullptr) {
    while (!empty()) {
      std::string key;
      if (!parse_key(key)) {
        return false;
      }
      member value;
      if (peek() == '=') {
        ++pos_;
        if (!parse_item_or_inner_list(value)) {
          return false;
        }
      } else {
        item flag{true, {}};
        if (!parse_parameters(flag.params)) {
          return false;
        }
        value = std::move(flag);
      }
      bool replaced = false;
      for (auto& existing : out) {
        if (existing.key == key) {
          existing.value = std::move(value);
          replaced = true;
          if (repeated != nullptr && std::find(repeated->begin(), repeated->end(), key) == repeated->end()) {
            repeated->push_back(key);
          }
          break;
        }
      }
      if (!replaced) {
        out.push_back({std::move(key), std::move(value)});
      }
      if (!after_member()) {
        return false;
      }
    }
    return true;
  }

  bool parse_item(item& out) { return parse_bare_item(out.value) && parse_parameters(out.params); }

 private:
  // Section 4.2.1 steps 2.2-2.6 (and 4.2.2 steps 2.6-2.10): a comma between members, none after the last.
  bool after_member() {
    skip_ows();
    if (empty()) {
      return true;
    }
    if (in_[pos_] != ',') {
      return fail(error::expected_comma);
    }
    ++pos_;
    skip_ows();
    return !empty() || fail(error::trailing_comma);
  }

  bool parse_item_or_inner_list(member& out) {
    if (peek() == '(') {
      inner_list l;
      if (!parse_inner_list(l)) {
        return false;
      }
      out = std::move(l);
      return true;
    }
    item i;
    if (!parse_item(i)) {
      return false;
    }
    out = std::move(i);
    return true;
  }

  bool parse_inner_list(inner_list& out) {
    ++pos_;  // "("
    while (!empty()) {
      skip_sp();
      if (peek() == ')') {
        ++pos_;
        return parse_parameters(out.params);
      }
      item i;
      if (!parse_item(i)) {
        return false;
      }
      out.items.push_back(std::move(i));
      if (peek() != ' ' && peek() != ')') {
        return empty() ? fail(error::unterminated_inner_list) : fail(error::bad_inner_list);
      }
    }
    return fail(error::unterminated_inner_list);
  }

  bool parse_parameters(parameters& out) {
    while (peek() == ';') {
      ++pos_;
      skip_sp();
      std::string key;
      if (!parse_key(key)) {
        return false;
      }
      bare_item value = true;
      if (peek() == '=') {
        ++pos_;
        if (!parse_bare_item(value)) {
          return false;
        }
      }
      set(out, std::move(key), std::move(value));
    }
    return true;
  }

  bool parse_key(std::string& out) {
    const char first = peek();
    if (!(is_lcalpha(first) || first == '*')) {
      return fail(error::bad_key);
    }
    const std::size_t start = pos_;
    while (!empty() && is_key_char(in_[pos_])) {
      ++pos_;
    }
    out.assign(in_.substr(start, pos_ - start));
    return true;
  }

  bool parse_bare_item(bare_item& out) {
    const char c = peek();
    if (c == '-' || is_digit(c)) {
      return parse_number(out);
    }
    if (c == '"') {
      std::string s;
      if (!parse_string(s)) {
        return false;
      }
      out = std::move(s);
      return true;
    }
    if (is_alpha(c) || c == '*') {
      const std::size_t start = pos_;
      while (!empty() && (is_tchar(in_[pos_]) || in_[pos_] == ':' || in_[pos_] == '/')) {
        ++pos_;
      }
      out = token{std::string(in_.substr(start, pos_ - start))};
      return true;
    }
    if (c == ':') {
      return parse_byte_sequence(out);
    }
    if (c == '?') {
      ++pos_;
      if (peek() == '1' || peek() == '0') {
        out = peek() == '1';
        ++pos_;
        return true;
      }
      return fail(error::bad_boolean);
    }
    return fail(error::unknown_item_type);
  }

  // Section 4.2.4.
  bool parse_number(bare_item& out) {
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++pos_;
    }
    if (!is_digit(peek())) {
      return fail(error::bad_number);
    }
    std::int64_t integer_part = 0;
    std::int64_t fraction = 0;
    int integer_digits = 0;
    int fraction_digits = 0;
    bool is_decimal = false;
    while (!empty()) {
      const char c = in_[pos_];
      if (is_digit(c)) {
        if (is_decimal) {
          fraction = fraction * 10 + (c - '0');
          ++fraction_digits;
        } else {
          integer_part = integer_part * 10 + (c - '0');
          ++integer_digits;
        }
      } else if (!is_decimal && c == '.') {
        if (integer_digits > 12) {
          return fail(error::decimal_too_long);
        }
        is_decimal = true;
      } else {
        break;
      }
      ++pos_;
      if (!is_decimal && integer_digits > 15) {
        return fail(error::integer_too_long);
      }
      if (is_decimal && integer_digits + 1 + fraction_digits > 16) {
        return fail(error::decimal_too_long);
      }
    }
    if (!is_decimal) {
      out = negative ? -integer_part : integer_part;
      return true;
    }
    if (fraction_digits == 0) {
      return fail(error::bad_number);
    }
    if (fraction_digits > 3) {
      return fail(error::decimal_too_long);
    }
    for (int i = fraction_digits; i < 3; ++i) {
      fraction *= 10;
    }
    const std::int64_t thousandths = integer_part * 1000 + fraction;
    out = decimal{negative ? -thousandths : thousandths};
    return true;
  }

  // Section 4.2.5.
  bool parse_string(std::string& out) {
    ++pos_;  // DQUOTE
    while (!empty()) {
      const char c = in_[pos_];
      if (c == '\\') {
        ++pos_;
        if (empty()) {
          return fail(error::unterminated_string);
        }
        const char next = in_[pos_];
        if (next != '"' && next != '\\') {
          return fail(error::bad_string_escape);
        }
        out += next;
      } else if (c == '"') {
        ++pos_;
        return true;
      } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) {
        return fail(error::bad_string_character);
      } else {
        out += c;
      }
      ++pos_;
    }
    return fail(error::unterminated_string);
  }

  // Section 4.2.7.
  bool parse_byte_sequence(bare_item& out) {
    ++pos_;  // ":"
    const std::size_t end = in_.find(':', pos_);
    if (end == std::string_view::npos) {
      return fail(error::bad_byte_sequence);
    }
    auto bytes = decode_base64(in_.substr(pos_, end - pos_));
    if (!bytes) {
      return fail(error::bad_byte_sequence);
    }
    pos_ = end + 1;
    out = std::move(*bytes);
    return true;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  failure failure_;
};

template <typename T, typename Parse>
result<T> parse_top(std::string_view input, Parse parse) {
  parser p(input);
  p.skip_sp();
  T out{};
  if (!parse(p, out) || !p.finish()) {
    return p.why();
  }
  return out;
}

error append_integer(std::string& out, std::int64_t v) {
  if (v > max_integer || v < -max_integer) {
    return error::integer_out_of_range;
  }
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
  return error::none;
}

error append_decimal(std::string& out, decimal d) {
  if (d.thousandths > max_decimal_thousandths || d.thousandths < -max_decimal_thousandths) {
    return error::decimal_out_of_range;
  }
  std::int64_t t = d.thousandths;
  if (t < 0) {
    out += '-';
    t = -t;
  }
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), t / 1000);
  out.append(buf.data(), end);
  out += '.';
  std::int64_t fraction = t % 1000;
  int digits = 3;
  while (digits > 1 && fraction % 10 == 0) {
    fraction /= 10;
    --digits;
  }
  std::array<char, 4> frac{};
  for (int i = digits - 1; i >= 0; --i) {
    frac[static_cast<std::size_t>(i)] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  out.append(frac.data(), static_cast<std::size_t>(digits));
  return error::none;
}

error append_key(std::string& out, std::string_view key) {
  if (!is_valid_key(key)) {
    return error::bad_key;
  }
  out += key;
  return error::none;
}

template <typename T>
result<std::string> serialize_with(const T& value, error (*append)(std::string&, const T&)) {
  std::string out;
  if (const error e = append(out, value); e != error::none) {
    return failure{e, 0};
  }
  return out;
}

error append_list(std::string& out, const list& value) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    if (const error e = append_member(out, value[i]); e != error::none) {
      return e;
    }
  }
  return error::none;
}

error append_dictionary(std::string& out, const dictionary& value) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    const dictionary_member& m = value[i];
    if (const error e = append_key(out, m.key); e != error::none) {
      return e;
    }
    const item* it = std::get_if<item>(&m.value);
    const bool* flag = it != nullptr ? std::get_if<bool>(&it->value) : nullptr;
    error e = error::none;
    if (flag != nullptr && *flag) {
      e = append_parameters(out, it->params);
    } else {
      out += '=';
      e = append_member(out, m.value);
    }
    if (e != error::none) {
      return e;
    }
  }
  return error::none;
}

}  // namespace

std::optional<decimal> decimal::from_double(double value) {
  if (!std::isfinite(value)) {
    return std::nullopt;
  }
  // The shortest decimal text that reads back as `value`, rounded as decimal text: binary rounding
  // would turn 0.0025 (stored as 0.00250000000000000005) into 0.003 instead of 0.002.
  std::array<char, 400> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed);
  if (ec != std::errc()) {
    return std::nullopt;
  }
  std::string_view text(buf.data(), static_cast<std::size_t>(end - buf.data()));
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) {
    text.remove_prefix(1);
  }
  const std::size_t dot = text.find('.');
  const std::string_view integer_text = text.substr(0, dot);
  const std::string_view fraction_text =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (integer_text.size() > 13) {
    return std::nullopt;
  }
  std::int64_t thousandths = 0;
  for (char c : integer_text) {
    thousandths = thousandths * 10 + (c - '0');
  }
  for (std::size_t i = 0; i < 3; ++i) {
    thousandths = thousandths * 10 + (i < fraction_text.size() ? fraction_text[i] - '0' : 0);
  }
  if (fraction_text.size() > 3) {
    const char next = fraction_text[3];
    const bool beyond = fraction_text.find_first_not_of('0', 4) != std::string_view::npos;
    if (next > '5' || (next == '5' && (beyond || thousandths % 2 == 1))) {
      ++thousandths;
    }
  }
  if (thousandths > max_decimal_thousandths) {
    return std::nullopt;
  }
  return decimal{negative ? -thousandths : thousandths};
}

const bare_item* find(const parameters& params, std::string_view key) {
  for (const auto& p : params) {
    if (p.key == key) {
      return &p.value;
    }
  }
  return nullptr;
}

const member* find(const dictionary& dict, std::string_view key) {
  for (const auto& m : dict) {
    if (m.key == key) {
      return &m.value;
    }
  }
  return nullptr;
}

void set(parameters& params, std::string key, bare_item value) {
  for (auto& p : params) {
    if (p.key == key) {
      p.value = std::move(value);
      return;
    }
  }
  params.push_back({std::move(key), std::move(value)});
}

const char* describe(error e) {
  switch (e) {
    case error::none:
      return "no error";
    case error::trailing_characters:
      return "unexpected characters after the value";
    case error::trailing_comma:
      return "trailing comma";
    case error::expected_comma:
      return "expected a comma between members";
    case error::bad_key:
      return "a key must start with a-z or '*' and contain only a-z, 0-9, '_', '-', '.', '*'";
    case error::unknown_item_type:
      return "not the start of an Integer, Decimal, String, Token, Byte Sequence or Boolean";
    case error::bad_number:
      return "malformed number";
    case error::integer_too_long:
      return "an Integer has at most 15 digits";
    case error::decimal_too_long:
      return "a Decimal has at most 12 integer and 3 fractional digits";
    case error::bad_string_escape:
      return "only \\\" and \\\\ may be escaped in a String";
    case error::bad_string_character:
      return "a String may only contain printable ASCII";
    case error::unterminated_string:
      return "a String is missing its closing quote";
    case error::bad_byte_sequence:
      return "a Byte Sequence must be base64 between colons";
    case error::bad_boolean:
      return "a Boolean is ?0 or ?1";
    case error::unterminated_inner_list:
      return "an Inner List is missing its closing parenthesis";
    case error::bad_inner_list:
      return "Items in an Inner List are separated by spaces";
    case error::integer_out_of_range:
      return "an Integer must be within +-999,999,999,999,999";
    case error::decimal_out_of_range:
      return "a Decimal has at most 12 integer digits";
    case error::string_not_printable:
      return "a String may only contain printable ASCII (%x20-7E)";
    case error::bad_token:
      return "a Token starts with a letter or '*' and contains only tchar, ':' and '/'";
  }
  return "unknown error";
}

bool is_valid_key(std::string_view key) {
  if (key.empty() || !(is_lcalpha(key.front()) || key.front() == '*')) {
    return false;
  }
  for (char c : key) {
    if (!is_key_char(c)) {
      return false;
    }
  }
  return true;
}

bool is_valid_token(std::string_view text) {
  if (text.empty() || !(is_alpha(text.front()) || text.front() == '*')) {
    return false;
  }
  for (char c : text) {
    if (!(is_tchar(c) || c == ':' || c == '/')) {
      return false;
    }
  }
  return true;
}

result<item> parse_item(std::string_view input) {
  return parse_top<item>(input, [](parser& p, item& out) { return p.parse_item(out); });
}

result<list> parse_list(std::string_view input) {
  return parse_top<list>(input, [](parser& p, list& out) { return p.parse_list(out); });
}

result<dictionary> parse_dictionary(std::string_view input) {
  return parse_top<dictionary>(input, [](parser& p, dictionary& out) { return p.parse_dictionary(out); });
}

result<dictionary> parse_dictionary(std::string_view input, std::vector<std::string>& repeated) {
  return parse_top<dictionary>(
      input, [&](parser& p, dictionary& out) { return p.parse_dictionary(out, &repeated); });
}

error append_string(std::string& out, std::string_view text) {
  out += '"';
  // Common case first: nothing to escape or refuse, one append.
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7E && c != '"' &&
           c != '\\';
  });
  if (plain) {
    out += text;
    out += '"';
    return error::none;
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) {
      return error::string_not_printable;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return error::none;
}

error append_bare_item(std::string& out, const bare_item& value) {
  switch (value.index()) {
    case 0:
      return append_integer(out, std::get<std::int64_t>(value));
    case 1:
      return append_decimal(out, std::get<decimal>(value));
    case 2:
      return append_string(out, std::get<std::string>(value));
    case 3: {
      const std::string& t = std::get<token>(value).value;
      if (!is_valid_token(t)) {
        return error::bad_token;
      }
      out += t;
      return error::none;
    }
    case 4:
      out += ':';
      encode_base64(out, std::get<byte_sequence>(value));
      out += ':';
      return error::none;
    default:
      out += std::get<bool>(value) ? "?1" : "?0";
      return error::none;
  }
}

error append_parameters(std::string& out, const parameters& params) {
  for (const auto& p : params) {
    out += ';';
    if (const error e = append_key(out, p.key); e != error::none) {
      return e;
    }
    const bool* flag = std::get_if<bool>(&p.value);
    if (flag != nullptr && *flag) {
      continue;
    }
    out += '=';
    if (const error e = append_bare_item(out, p.value); e != error::none) {
      return e;
    }
  }
  return error::none;
}

error append_item(std::string& out, const item& value) {
  if (const error e = append_bare_item(out, value.value); e != error::none) {
    return e;
  }
  return append_parameters(out, value.params);
}

error append_inner_list(std::string& out, const inner_list& value) {
  out += '(';
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    if (i > 0) {
      out += ' ';
    }
    if (const error e = append_item(out, value.items[i]); e != error::none) {
      return e;
    }
  }
  out += ')';
  return append_parameters(out, value.params);
}

error append_member(std::string& out, const member& value) {
  if (const auto* i = std::get_if<item>(&value)) {
    return append_item(out, *i);
  }
  return append_inner_list(out, std::get<inner_list>(value));
}

result<std::string> serialize(const item& value) { return serialize_with<item>(value, append_item); }
result<std::string> serialize(const list& value) { return serialize_with<list>(value, append_list); }
result<std::string> serialize(const dictionary& value) {
  return serialize_with<dictionary>(value, append_dictionary);
}
result<std::string> serialize(const inner_list& value) {
  return serialize_with<inner_list>(value, append_inner_list);
}

}  // namespace sovgw::crypto::sf
