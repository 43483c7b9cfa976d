#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Country codes and country sets. A country is a small integer (`country_id`): two upper-case letters
// packed as (a-'A')*26 + (b-'A'), plus two explicit non-countries: `private` (reserved, private and
// special-purpose address space) and `unknown` (no geo data). All functions are pure and thread-safe.
namespace sovgw::policy {

using country_id = std::uint16_t;

inline constexpr country_id country_private = 26 * 26;
inline constexpr country_id country_unknown = 26 * 26 + 1;
inline constexpr std::size_t country_slots = 26 * 26 + 2;

using country_set = std::bitset<country_slots>;

// Packs any two upper-case ASCII letters (also codes a geo database may return that ISO does not
// assign, such as "EU" or "AP"); "private" and "unknown" map to the special values. nullopt otherwise.
[[nodiscard]] std::optional<country_id> pack_country(std::string_view text) noexcept;

// True if `id` is an officially assigned ISO 3166-1 alpha-2 code (or XK, Kosovo, which all geo
// databases use). Policy files may only name these, `private` or `unknown`.
[[nodiscard]] bool is_assigned_country(country_id id) noexcept;

// True for the codes geo databases return that ISO 3166-1 does not assign: AP and EU (address
// blocks registered to a region, not a country), AN and CS (deleted codes), UK (reserved; GB is
// assigned). Tor's geoip files hold all five, so a request's client country can be one of them.
[[nodiscard]] bool is_geo_data_only_country(country_id id) noexcept;

// What is wrong with `text` as a request's client country (a policy test, `policy explain
// --request`), empty when nothing: an assigned code, one a geo database returns
// (is_geo_data_only_country), private or unknown.
[[nodiscard]] std::string request_country_problem(std::string_view text);

// A hint for a code people write for a country whose ISO 3166-1 code is another: "; the United
// Kingdom is GB" for UK, "; Greece is GR (EL is the EU's abbreviation)" for EL; else empty.
[[nodiscard]] std::string_view country_code_hint(std::string_view text) noexcept;

// "DE", "private" or "unknown".
[[nodiscard]] std::string country_name(country_id id);

// The 27 EU member states; the EEA (EU + Iceland, Liechtenstein, Norway).
[[nodiscard]] const country_set& eu_countries() noexcept;
[[nodiscard]] const country_set& eea_countries() noexcept;

// Every assigned code plus `private` and `unknown`: the universe of client countries.
[[nodiscard]] const country_set& all_countries() noexcept;

}  // namespace sovgw::policy
