#pragma once

// RFC 8941 Structured Field Values for HTTP: the data model (section 3), strict serialization
// (section 4.1) and parsing (section 4.2).
//
// Pure code: no I/O, no global state. Parsing takes the whole field value (several field lines of
// the same name joined with ", " by the caller, as section 4.2 requires) and either returns the
// structure or names the first error and where it happened. Serialization never produces a value
// the parser would refuse: an unserializable structure (a key with an upper-case letter, a String
// with a control character, an Integer of 16 digits, ...) is an error, not a best effort.
//
// Thread-safety: values and free functions only; nothing shared.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sovgw::crypto::sf {

struct token {
  std::string value;
  friend bool operator==(const token&, const token&) = default;
};

// A Decimal, held exactly as thousandths (4.5 is {4500}): the wire format has at most three
// fractional digits, so no value ever needs rounding once parsed.
struct decimal {
  std::int64_t thousandths = 0;
  // Rounds to three fractional digits, ties to even (section 4.1.5).
  [[nodiscard]] static std::optional<decimal> from_double(double value);
  friend bool operator==(const decimal&, const decimal&) = default;
};

using byte_sequence = std::vector<std::uint8_t>;

// The alternatives in the order of RFC 8941 section 3.3. Build Strings as std::string explicitly
// (a string literal would otherwise convert to bool).
using bare_item = std::variant<std::int64_t, decimal, std::string, token, byte_sequence, bool>;

struct parameter {
  std::string key;
  bare_item value;
  friend bool operator==(const parameter&, const parameter&) = default;
};
// Ordered as serialized; keys are unique (parsing keeps the last value at the first position).
using parameters = std::vector<parameter>;

struct item {
  bare_item value;
  parameters params;
  friend bool operator==(const item&, const item&) = default;
};

struct inner_list {
  std::vector<item> items;
  parameters params;
  friend bool operator==(const inner_list&, const inner_list&) = default;
};

// A member of a List, or the value of a Dictionary member.
using member = std::variant<item, inner_list>;
using list = std::vector<member>;

struct dictionary_member {
  std::string key;
  member value;
  friend bool operator==(const dictionary_member&, const dictionary_member&) = default;
};
using dictionary = std::vector<dictionary_member>;

[[nodiscard]] const bare_item* find(const parameters& params, std::string_view key);
[[nodiscard]] const member* find(const dictionary& dict, std::string_view key);
// Sets `key` to `value`, replacing an existing value in place or appending.
void set(parameters& params, std::string key, bare_item value);

enum class error : std::uint8_t {
  none,
  // parsing
  trailing_characters,      // something after the value
  trailing_comma,           // "a, b,"
  expected_comma,           // two members without a comma between them
  bad_key,                  // not lcalpha or "*" first, or a character outside the key alphabet
  unknown_item_type,        // a bare item cannot start with this character
  bad_number,               // "-" without a digit, "1." or other malformed number
  integer_too_long,         // more than 15 digits
  decimal_too_long,         // more than 12 integer digits or more than 3 fractional digits
  bad_string_escape,        // "\" followed by something other than DQUOTE or "\"
  bad_string_character,     // a control character or non-ASCII byte in a String
  unterminated_string,      // no closing DQUOTE
  bad_byte_sequence,        // no closing ":", or not base64
  bad_boolean,              // "?" not followed by "0" or "1"
  unterminated_inner_list,  // no closing ")"
  bad_inner_list,           // Items in an Inner List not separated by a space
  // serialization
  integer_out_of_range,  // beyond +-999,999,999,999,999
  decimal_out_of_range,  // more than 12 integer digits after rounding
  string_not_printable,  // a String character outside %x20-7E
  bad_token,             // a Token that does not match sf-token
};

[[nodiscard]] const char* describe(error e);

struct failure {
  error code = error::none;
  std::size_t offset = 0;  // position in the input where parsing stopped (0 for serialization)
};

// A value or the reason there is none. Must be checked before use.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(failure f) : failure_(f) {}             // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return value_.has_value(); }
  [[nodiscard]] const failure& why() const { return failure_; }
  [[nodiscard]] T& value() { return *value_; }
  [[nodiscard]] const T& value() const { return *value_; }
  [[nodiscard]] T* operator->() { return &*value_; }
  [[nodiscard]] const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  failure failure_;
};

// Parsing (RFC 8941 section 4.2). Leading and trailing SP are allowed; nothing else is.
[[nodiscard]] result<item> parse_item(std::string_view input);
[[nodiscard]] result<list> parse_list(std::string_view input);
[[nodiscard]] result<dictionary> parse_dictionary(std::string_view input);
// The same, and `repeated` receives each key that appears more than once (the Dictionary keeps its
// last value, as section 4.2.2 says; a caller that must not guess which member was meant refuses).
[[nodiscard]] result<dictionary> parse_dictionary(std::string_view input, std::vector<std::string>& repeated);

// Serialization (RFC 8941 section 4.1). An empty List or Dictionary serializes to "" (the field
// is then omitted, section 4.1 step 1). The append_* forms write into `out` and return
// error::none, or the error with `out` left in an unspecified state.
[[nodiscard]] result<std::string> serialize(const item& value);
[[nodiscard]] result<std::string> serialize(const list& value);
[[nodiscard]] result<std::string> serialize(const dictionary& value);
[[nodiscard]] result<std::string> serialize(const inner_list& value);

[[nodiscard]] error append_bare_item(std::string& out, const bare_item& value);
[[nodiscard]] error append_parameters(std::string& out, const parameters& params);
[[nodiscard]] error append_item(std::string& out, const item& value);
[[nodiscard]] error append_inner_list(std::string& out, const inner_list& value);
[[nodiscard]] error append_member(std::string& out, const member& value);
// A String bare item ("..." with escapes), the common case kept cheap for signature bases.
[[nodiscard]] error append_string(std::string& out, std::string_view text);

[[nodiscard]] bool is_valid_key(std::string_view key);
[[nodiscard]] bool is_valid_token(std::string_view text);

}  // namespace sovgw::crypto::sf
