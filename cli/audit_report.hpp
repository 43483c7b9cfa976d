#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/payload_verifier.hpp"
#include "audit/report.hpp"
#include "cli/audit_support.hpp"
#include "cli/options.hpp"
#include "crypto/signed_note.hpp"

// `sovgw audit report`: the sovereignty report (audit/report.hpp) written as one self-contained
// HTML page (inline CSS and SVG, no script, no fetch: its Content-Security-Policy forbids any) or
// as one JSON document with the same aggregates (schema in docs/auditing.md).
namespace sovgw::cli {

// What the page says beside the aggregates.
struct report_context {
  std::string db;  // --db as given: the prove commands in the page use it
  crypto::note_verifier key;
  std::string pubkey_path;  // --pubkey as given: the commands the page prints use it
  std::uint64_t generated_us = 0;
  std::string policy_file;                          // --policy, or empty
  std::string policy_version;                       // its SHA-256 (the version records name)
  std::map<std::string, std::string> rule_reasons;  // its rules' reasons by rule id
  std::map<std::string, std::string> rule_effects;  // and effects: "forbid", "permit", "restrict"
  // --payloads: the stored payloads checked (their problems are among the verification's).
  std::optional<audit::payload_report> payloads;
  // Where the checkpoints kept outside the log came from (--checkpoint, the one published beside
  // it), one per verify_options::held entry; none: the end of the log was not checked.
  std::vector<held_checkpoints::source> held_from;
  // What was there and is not held (held_checkpoints::not_held), and --checkpoint as given: the
  // re-check command repeats it, held or not, so that it reaches the page's verdict.
  std::vector<held_checkpoints::not_held_source> not_held;
  std::optional<std::string> checkpoint_option;
  bool payloads_option = false;  // --payloads: the re-check command repeats it
  std::string published_path;  // audit::published_checkpoint_path(db)
  // The newest held checkpoint, when it covers fewer records than the log's stored ones: the end of
  // the log was checked only up to it.
  std::optional<stale_held_checkpoint> stale;
  // Requests noted in DB.in-flight that the log does not hold yet: a notice (the log is not
  // complete until a writer records them), not a failed verification.
  pending_notes pending;
};

// Why a refusal no rule made was refused (audit::report::denials_by_kind), by its error_kind.
[[nodiscard]] std::string refusal_reason(std::string_view error_kind);

[[nodiscard]] std::string report_html(const audit::report& r, const report_context& c);
[[nodiscard]] std::string report_json(const audit::report& r, const report_context& c);

int cmd_report(const options& o);

}  // namespace sovgw::cli
