#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "cli/printable.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/signed_note.hpp"

// How the audit commands print records: one line per record as a table row, JSON or CSV, and the
// multi-line summary of `show` and `verify-proof`.
namespace sovgw::cli {

// RFC 3339 UTC with microseconds: 2026-11-27T10:00:00.000000Z. A time from the year 10000 on (a
// record's clock gone wrong, or forged: verify names it) has no RFC 3339 form and is written
// "after 9999-12-31 (N us since 1970)".
[[nodiscard]] std::string format_time(std::uint64_t us);
// The same cut to `length` characters (19: to the second, 23: to the millisecond); "after
// 9999-12-31" from the year 10000 on.
[[nodiscard]] std::string format_time_to(std::uint64_t us, std::size_t length);
// A time as a JSON value: its RFC 3339 string, or null from the year 10000 on.
[[nodiscard]] std::string json_time(std::uint64_t us);
// A JSON string literal (quotes included), always valid JSON: control characters, DEL, C1 controls,
// U+2028/2029 and the bidirectional controls as \uXXXX; a byte that is not UTF-8 as U+FFFD.
[[nodiscard]] std::string json_string(std::string_view s);
// (Text output of record values: cli/printable.hpp.)
// JSON values the audit commands share (verify, verify-proof, report): the key as
// {"name","id","vkey"}, a checkpoint as {"origin","size","root"} or null, a number or null, a
// problem as {"kind","record","text"}.
[[nodiscard]] std::string json_key(const crypto::note_verifier& key);
// The key's full fingerprint: its RFC 7638 SHA-256 thumbprint (base64url, 43 characters), the one
// `keys init`, verify, verify-proof and the report print. The key id in `name+id` is 32 bits only:
// another key with the same name and id can be found by brute force.
[[nodiscard]] std::string key_fingerprint(const crypto::note_verifier& key);
// "name+id (SHA-256 fingerprint ...)": how text output names the key.
[[nodiscard]] std::string key_description(const crypto::note_verifier& key);
[[nodiscard]] std::string json_checkpoint(const std::optional<crypto::checkpoint>& cp);
[[nodiscard]] std::string json_optional(const std::optional<std::uint64_t>& v);
[[nodiscard]] std::string json_problem(std::string_view kind, const std::optional<std::uint64_t>& record,
                                       std::string_view text);

[[nodiscard]] std::string record_json(const audit::record& r);
[[nodiscard]] std::string record_csv(const audit::record& r);
extern const char* const record_csv_header;

// `audit query`'s table: columns sized to their content. The first `sizing_rows` rows are held
// back to size the columns, then printed with the header; later rows keep those widths (a longer
// value widens only its own row). Not thread-safe.
class record_table {
 public:
  static constexpr std::size_t sizing_rows = 1000;
  void add(const audit::record& r);  // prints, or holds the row while sizing
  void finish();                     // prints what is held (the header at least)

 private:
  void print(const std::vector<std::string>& cells) const;
  std::vector<std::vector<std::string>> held_;
  std::vector<std::size_t> widths_;
  bool sized_ = false;
};

// What request records kept of their payload, as verify and report say it: "3 sealed, 3 digest
// only, 6 not kept".
[[nodiscard]] std::string payload_modes_text(std::uint64_t sealed, std::uint64_t digest, std::uint64_t none);

// The multi-line description of a record on stdout.
void print_record_summary(const audit::record& r);

}  // namespace sovgw::cli
