#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/payload_vault.hpp"
#include "audit/record.hpp"

// Deterministic synthetic traffic for benchmarks, walkthroughs and crash tests: record `i` of a
// run always has the same content, so a test can check that nothing in the log was invented.
namespace sovgw::audit {

// The note `sovgw audit append --synthetic` gives each record it writes: what marks it as made-up
// traffic in the log (the report counts such records apart, never as gateway requests).
inline constexpr std::string_view synthetic_request_note =
    "synthetic: written by sovgw audit append, not a gateway request";

// `run` distinguishes runs (it is part of the request id: "<run>-<i>"); `base_time_us` is the
// timestamp of record 0, later records are 1 ms apart.
[[nodiscard]] record synthetic_record(std::string_view run, std::uint64_t i, std::uint64_t base_time_us,
                                      payload_mode mode);
[[nodiscard]] payload synthetic_payload(std::uint64_t i, std::size_t bytes);

}  // namespace sovgw::audit
