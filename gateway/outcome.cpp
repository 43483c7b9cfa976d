#include "gateway/outcome.hpp"

#include <array>

namespace sovgw::gateway {

namespace {

#define SOVGW_OUTCOME_ROW(name, status, type, code) outcome_info{#name, status, type, code},
constexpr std::array table{SOVGW_OUTCOMES(SOVGW_OUTCOME_ROW)};
#undef SOVGW_OUTCOME_ROW

constexpr outcome_info ok_info{"", 0, "", ""};  // success carries no kind

}  // namespace

const outcome_info& info(outcome o) noexcept {
  return o == outcome::ok ? ok_info : table[static_cast<std::size_t>(o)];
}

std::size_t outcome_count() noexcept { return table.size(); }

std::optional<outcome> outcome_from_kind(std::string_view kind) noexcept {
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (info(static_cast<outcome>(i)).kind == kind) {
      return static_cast<outcome>(i);
    }
  }
  return std::nullopt;
}

outcome outcome_for(http::parse_error e) noexcept {
  if (e == http::parse_error::non_canonical_target) {
    return outcome::non_canonical_target;
  }
  switch (http::status_for(e)) {
    case 408:
      return outcome::request_timeout;
    case 413:
      return outcome::request_too_large;
    case 414:
      return outcome::request_line_too_long;
    case 417:
      return outcome::expectation_failed;
    case 431:
      return outcome::headers_too_large;
    case 501:
      return outcome::not_implemented;
    case 505:
      return outcome::http_version_not_supported;
    default:
      return outcome::bad_request;
  }
}

}  // namespace sovgw::gateway
