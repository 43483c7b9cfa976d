#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/in_flight.hpp"
#include "audit/keys.hpp"
#include "audit/log_verifier.hpp"
#include "audit/payload_verifier.hpp"
#include "audit/query.hpp"
#include "audit/store.hpp"
#include "cli/options.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/signed_note.hpp"

// What the audit subcommands share: reading their arguments, opening the log, reporting a library
// error. Errors are thrown as cli::usage_error / cli::command_error (see options.hpp).
namespace sovgw::cli {

// The time now, in Unix microseconds.
[[nodiscard]] std::uint64_t now_us();

[[nodiscard]] std::uint64_t parse_count(const std::string& text, const char* what);
// A checkpoint size given as --what: at least 1.
[[nodiscard]] std::uint64_t parse_checkpoint_size(const std::string& text, const char* what);
// RFC 3339 ("2026-11-27T10:00:00Z", "2026-11-27T11:00:00+01:00", optional fraction; converted to
// UTC; without a zone, or with " UTC", read as UTC; a single space for the `T`), a date (its midnight
// UTC), Unix seconds, or an age before now (15m, 2h, 7d); in microseconds.
[[nodiscard]] std::uint64_t parse_time(const std::string& text, const char* what);

// --since (inclusive) and --until (exclusive), each as parse_time; usage_error unless --since is
// before --until (an empty period matches nothing, so it is a mistake).
struct time_window {
  std::optional<std::uint64_t> since_us;
  std::optional<std::uint64_t> until_us;
};
[[nodiscard]] time_window time_window_option(const options& o);
// "90d", "12h", "30m", "10s", in microseconds.
[[nodiscard]] std::uint64_t parse_age_us(const std::string& text);

// Throws command_error with the status's message and exit code (exit_code_for): run_command prints
// it as `sovgw audit <command>: <message>`.
[[noreturn]] void throw_status(const status& s);

// --db, read-only. Failing to open it is exit 1 when the log is damaged (RocksDB reports
// corruption: a MANIFEST or table file that fails its checksum), else exit 3 (missing, not an
// audit log, unreadable).
[[nodiscard]] std::unique_ptr<audit::store> open_reader(const options& o);
// The same, returning why it did not open (verify reports a damaged log as its verdict).
[[nodiscard]] result<std::unique_ptr<audit::store>> try_open_reader(const options& o);
// The exit code for a log that did not open: 1 damaged (corruption), else 3.
[[nodiscard]] int open_failure_exit_code(const status& s);

enum class missing_log { create, refuse };
// --db with --keys [--force]. The requests a stopped gateway left noted in DB.in-flight are recorded
// first, as its next start would (gateway_stopped), and said on stderr, so that nothing the command
// writes or signs passes over them. A log that does not verify is exit 1, keys that do not belong to
// it exit 2, anything else that stops it opening exit 3 (busy: says to use the admin listener).
[[nodiscard]] std::unique_ptr<audit::audit_log> open_writer(const options& o, missing_log missing);

// The requests noted in DB.in-flight beside --db that the log `s` does not hold
// (audit::pending_in_flight): forwarded by a gateway that stopped before their records were durable,
// or, when a writer holds the log now, being served by it. Read-only commands report them beside
// the log; a writer (open_writer) records them first.
struct pending_notes {
  std::vector<audit::pending_request> requests;
  bool writer_running = false;  // a writer holds the log's lock: the notes may be requests in flight now
  std::string unreadable;       // DB.in-flight is there but cannot be read: why
  std::string path;             // DB.in-flight
  // "2 requests forwarded by a gateway that stopped are not on the log yet (DB.in-flight): the
  // gateway's next start records them ..."; empty when there are none and it could be read.
  [[nodiscard]] std::string text() const;
  [[nodiscard]] const audit::pending_request* find(std::string_view request_id) const;
};
[[nodiscard]] pending_notes pending_notes_of(const audit::store& s, const options& o);
// In verify's and report's JSON: null when there is nothing to say, else {"count", "request_ids",
// "gateway_running", "unreadable" (null or why), "text"}.
[[nodiscard]] std::string json_pending(const pending_notes& p);
// " (3 of them since dropped by retention)" when payload_report::shredded_then_dropped, else empty:
// how verify and report say that shredded payloads were later dropped too.
[[nodiscard]] std::string shredded_then_dropped(const audit::payload_report& p);
// What prove, show and query say of a request id that is pending (pending_notes::find).
[[nodiscard]] std::string pending_request_text(const pending_notes& p, const audit::pending_request& r);

// The file an option writes (`--out`, `--save-checkpoint`): usage_error (exit 2) when it is inside
// --db (it would overwrite a file of the log) or is one of the files the command reads (--pubkey,
// --checkpoint, --policy, --auditor-key): a typo must not destroy the evidence or a trust anchor.
void check_output_option(const options& o, const char* option);

// --auditor-key: the auditor's secret key. A public key given for it: exit 2; unreadable: exit 3.
[[nodiscard]] audit::auditor_key_pair auditor_key_option(const options& o);

// --pubkey: a signing.pub file or its text. Not a key: exit 2; missing or unreadable: exit 3.
[[nodiscard]] crypto::note_verifier pubkey_option(const options& o);

// The checkpoints a store is checked against beyond its own, added to `verify`'s held ones:
// --checkpoint, one the auditor kept from an earlier visit (a checkpoint note or a proof file; not
// one: exit 2; unreadable: exit 3), and the one the gateway published beside the store
// (audit::published_checkpoint_paths of --db: beside it, and beside its real folder), when there is one.
struct held_checkpoints {
  struct source {
    bool published = false;  // else --checkpoint
    std::string path;
    std::string note;  // the signed checkpoint note, verbatim (`verify --save-checkpoint` keeps it)
    crypto::checkpoint checkpoint;
  };
  std::vector<source> sources;  // per verify.held entry
  // --checkpoint as given, whether or not it is held (one the log is not checked against is a
  // problem): a command that checks again must give it again to reach the same verdict.
  std::optional<std::string> checkpoint_option;
  // The checkpoints kept outside the log that are there but not held: a --checkpoint that is not
  // this log's under the key (one of `problems`), a published file that cannot be read or is signed
  // by another key (one of `published_problems`, which the wrong key leaves out): "none published
  // beside it" would be false (probe round 39).
  struct not_held_source {
    bool published = false;  // else --checkpoint
    std::string path;
    std::string why;
  };
  std::vector<not_held_source> not_held;
  // To report first: a --checkpoint signed under the log's name by another key
  // (signing_key_changed: the key changed since that visit; not held).
  std::vector<audit::problem> problems;
  // A published file that is not one of this log's checkpoints, or cannot be read
  // (checkpoint_invalid): reported when the log's own checkpoints verify under the key (with the
  // wrong key, that is the problem).
  std::vector<audit::problem> published_problems;

  // Adds the problems to `report`'s, first.
  void add_problems_to(audit::verify_report& report) const;
};
// `held_checkpoints` in verify's and report's JSON: the held checkpoints the log reproduced, as
// [{"origin", "size", "root"}]: every one when the log verifies, else none.
[[nodiscard]] std::string json_held_checkpoints(const std::vector<held_checkpoints::source>& held,
                                                const audit::verify_report& report);

// What became of held checkpoint `i` (verify_report::held_verdicts): "reproduced", "contradicted",
// "not_reached" or "not_checked" (also when the report has no verdict for it).
[[nodiscard]] std::string_view held_verdict_name(const audit::verify_report& report, std::size_t i);
// Whether the log reproduced every held checkpoint (false when none is held).
[[nodiscard]] bool every_held_reproduced(const audit::verify_report& report, std::size_t held);

// The newest held checkpoint the log reproduced, when it is older than what the log's own stored
// checkpoints cover (a published file that stopped being updated, a --checkpoint from an earlier
// visit): it vouches for records 0..size-1 only; the records after it, up to signed_records()-1,
// are vouched for only by checkpoints stored in the log, which whoever deletes the newest records
// deletes with them. nullopt when the log does not verify, holds none, or it covers every signed record.
struct stale_held_checkpoint {
  held_checkpoints::source source;
  std::optional<std::uint64_t> newest_covered_us;  // the time of record size-1 (none when it covers none)
  // "covers records 0..1 only (the newest of them logged T): records 2..5 are covered only by
  // checkpoints stored in the log, which are deleted with them"
  std::string text;
  // (published) A writer holds the log's lock: a running gateway stores a checkpoint, then
  // publishes it, so it may be between the two (settle_stale_published).
  bool writer_running = false;
};
[[nodiscard]] std::optional<stale_held_checkpoint> stale_held(
    const audit::store& s, const audit::verify_report& report,
    const std::vector<held_checkpoints::source>& held);
// A published checkpoint older than the log's own, seen on a live log, is most often a writer that
// stored a checkpoint and has not published it yet. Call after the rest of the verification (the
// published file was read before the store, so a file that lags a moment is no deletion hidden):
// re-reads the published file once and drops `stale` when it now covers `signed_records`; else
// notes whether a writer holds the log's lock.
void settle_stale_published(const audit::store& s, const crypto::note_verifier& key,
                            std::uint64_t signed_records, std::optional<stale_held_checkpoint>& stale);

// No checkpoint verified and some are signed by another key than --pubkey's: most likely the wrong
// key, not a forgery. verify and report say so first: "none of the checkpoints is signed by the key
// K given with --pubkey: wrong public key for this log?"; empty otherwise.
[[nodiscard]] std::string wrong_key_hint(const audit::verify_report& report,
                                         const crypto::note_verifier& key);

// A failed verification's problems as verify and report list them: in the verification's order,
// except that under wrong_key_hint the checkpoints signed by another key, which all say the same,
// are one line ("... (and 3 more checkpoints likewise)").
struct listed_problem {
  audit::problem_kind kind;
  std::string text;
};
[[nodiscard]] std::vector<listed_problem> listed_problems(const audit::verify_report& report,
                                                          const crypto::note_verifier& key);

[[nodiscard]] held_checkpoints held_checkpoint_options(const options& o, const crypto::note_verifier& key,
                                                       audit::verify_options& verify);

// The records a signed checkpoint claims to cover, 0..N-1: the largest size of a checkpoint stored
// in the log or published beside it (audit::published_checkpoint_paths), read without --pubkey
// (query and show have none): records from N on are signed by nobody yet. `verify` checks the
// signatures; this only tells query and show which records no checkpoint even claims.
[[nodiscard]] std::uint64_t claimed_signed_size(const audit::store& s, const options& o);

// On stderr, one line per record a query read that does not decode (skipped), the first
// audit::max_listed_undecodable of `count`: `PREFIX: record N does not decode (...): skipped ...`.
void print_undecodable(std::string_view prefix, const std::vector<audit::undecodable_record>& listed,
                       std::uint64_t count);

// On stderr, one line per record stored at another position than its own seq (records moved):
// `PREFIX: the record stored at position N is not record N: it carries seq M: ...`.
void print_misplaced(std::string_view prefix, const std::vector<audit::undecodable_record>& listed,
                     std::uint64_t count);

// On stderr, what looking up a request id met on the way: records that do not decode
// (print_undecodable) and a request id index that did not list the record found.
void print_lookup_notes(std::string_view prefix, const audit::request_lookup& found, std::string_view id);

// Why record `seq`, which the log holds but no signed checkpoint covers, cannot be proven yet, and
// when it can: at a running writer's next checkpoint, or, when no writer holds the log's lock (a
// gateway stopped uncleanly), only at the next start of one (`writer_running` is then false).
struct unsigned_record {
  std::string text;
  bool writer_running = true;  // or unknown
  // The record's leaf hash contradicts the stored Merkle tree (or the tree holds none): no writer
  // opens the log unforced, so no checkpoint will sign it; the record or the tree was altered.
  bool altered = false;
};
[[nodiscard]] unsigned_record describe_unsigned_record(const audit::store& s, std::uint64_t seq);

// The seq named by --seq, --request-id or --last. A request id no record carries is a failed check
// (exit 1): a request the gateway answered has a record.
[[nodiscard]] std::uint64_t record_option(const audit::store& s, const options& o);

// What the gateway writes as a request id: 32 lower-case hex digits.
[[nodiscard]] bool is_request_id(std::string_view id);

int cmd_verify(const options& o);
int cmd_verify_proof(const options& o);

}  // namespace sovgw::cli
