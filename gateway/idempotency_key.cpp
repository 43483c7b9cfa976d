#include "gateway/idempotency_key.hpp"

namespace sovgw::http {

namespace {

idempotency_key_form read_sf_string(std::string_view value) {
  std::size_t i = 1;  // past the opening '"'
  std::size_t chars = 0;
  for (; i < value.size() && value[i] != '"'; ++i, ++chars) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c > 0x7e) {
      return idempotency_key_form::invalid;
    }
    if (c == '\\') {
      if (++i == value.size() || (value[i] != '"' && value[i] != '\\')) {
        return idempotency_key_form::invalid;
      }
    }
  }
  if (i == value.size()) {
    return idempotency_key_form::invalid;  // unterminated
  }
  const std::string_view after = value.substr(i + 1);
  const std::size_t more = after.find_first_not_of(" \t");
  if (more != std::string_view::npos) {
    return after[more] == ',' ? idempotency_key_form::list : idempotency_key_form::invalid;
  }
  return chars == 0 ? idempotency_key_form::empty : idempotency_key_form::sf_string;
}

}  // namespace

idempotency_key_form read_idempotency_key(std::string_view value) noexcept {
  if (value.empty()) {
    return idempotency_key_form::empty;
  }
  if (value.front() == '"') {
    return read_sf_string(value);
  }
  if (value.find(',') != std::string_view::npos) {
    return idempotency_key_form::list;
  }
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c > 0x7e || c == '"') {
      return idempotency_key_form::invalid;
    }
  }
  return idempotency_key_form::raw;
}

std::string_view idempotency_key_problem(idempotency_key_form form) noexcept {
  switch (form) {
    case idempotency_key_form::empty:
      return "it is empty";
    case idempotency_key_form::list:
      return "it holds more than one key (a list, or the field sent twice)";
    case idempotency_key_form::invalid:
      return "it is neither a string (\"...\", printable ASCII, only \\\" and \\\\ escaped, nothing after "
             "it) "
             "nor a bare key (printable ASCII, no space, '\"' or ',')";
    case idempotency_key_form::raw:
    case idempotency_key_form::sf_string:
      break;
  }
  return {};
}

}  // namespace sovgw::http
