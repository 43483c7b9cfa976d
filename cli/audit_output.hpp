#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/signed_note.hpp"

// How the audit commands print records: one line per record as a table row, JSON or CSV, and the
// multi-line summary of `show` and `verify-proof`.
namespace sovgw::cli {

// RFC 3339 UTC with microseconds: 2026-11-27T10:00:00.000000Z.
[[nodiscard]] std::string format_time(std::uint64_t us);
// A JSON string literal (quotes included).
[[nodiscard]] std::string json_string(std::string_view s);
// JSON values the audit commands share (verify, verify-proof, report): the key as
// {"name","id","vkey"}, a checkpoint as {"origin","size","root"} or null, a number or null, a
// problem as {"kind","record","text"}.
[[nodiscard]] std::string json_key(const crypto::note_verifier& key);
[[nodiscard]] std::string json_checkpoint(const std::optional<crypto::checkpoint>& cp);
[[nodiscard]] std::string json_optional(const std::optional<std::uint64_t>& v);
[[nodiscard]] std::string json_problem(std::string_view kind, const std::optional<std::uint64_t>& record,
                                       std::string_view text);

[[nodiscard]] std::string record_json(const audit::record& r);
[[nodiscard]] std::string record_csv(const audit::record& r);
[[nodiscard]] std::string record_table_row(const audit::record& r);
extern const char* const record_csv_header;
extern const char* const record_table_header;

// The multi-line description of a record on stdout.
void print_record_summary(const audit::record& r);

}  // namespace sovgw::cli
