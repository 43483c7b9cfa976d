// `sovgw audit verify` and `sovgw audit verify-proof`: the checks are the audit library's
// (verify_log, verify_payloads, verify_*_proof); this file reads the options and prints the
// outcome as text or as one JSON document (schema in docs/auditing.md).
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "audit/keys.hpp"
#include "audit/log_verifier.hpp"
#include "audit/payload_verifier.hpp"
#include "audit/proof_file.hpp"
#include "audit/published_checkpoint.hpp"
#include "cli/audit_output.hpp"
#include "cli/audit_support.hpp"
#include "common/plural.hpp"
#include "crypto/base64.hpp"

namespace sovgw::cli {
namespace {

constexpr std::size_t max_proof_file_bytes = 1 << 20;

bool json_format(const options& o) {
  const std::string format = o.get("format").value_or("text");
  if (format != "text" && format != "json") {
    throw usage_error(fmt::format("--format must be text or json, not '{}'", format), false);
  }
  return format == "json";
}

// --save-checkpoint: a verified checkpoint's signed note, verbatim, written aside and renamed (the
// file being replaced may be the checkpoint just checked).
void write_checkpoint(const std::string& note, const std::string& path) {
  const std::string partial = path + ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  out << note;
  out.close();
  if (!out || std::rename(partial.c_str(), path.c_str()) != 0) {
    const int e = errno;  // the open, the write or the rename's
    std::remove(partial.c_str());
    throw command_error(exit_environment, fmt::format("cannot write {}: {}", path, std::strerror(e)));
  }
}

// What --save-checkpoint kept: the newest checkpoint that verified and that the log reproduces.
struct saved_checkpoint {
  std::string file;
  std::uint64_t size = 0;
  std::optional<held_checkpoints::source> held;  // a held one newer than every stored one, else stored
};

// The newest of the log's stored checkpoint and the held ones (--checkpoint, DB.checkpoint), all of
// which the log reproduced: an older one kept for the next visit would let the records after it be
// removed unnoticed.
saved_checkpoint save_newest_checkpoint(const audit::store& s, const audit::verify_report& report,
                                        const std::vector<held_checkpoints::source>& held,
                                        const std::string& path) {
  saved_checkpoint saved{.file = path, .size = report.latest->size, .held = std::nullopt};
  for (const auto& h : held) {
    if (h.checkpoint.size > saved.size) {
      saved = {.file = path, .size = h.checkpoint.size, .held = h};
    }
  }
  if (saved.held) {
    write_checkpoint(saved.held->note, path);
    return saved;
  }
  auto note = audit::stored_checkpoint_note(s, saved.size);
  if (!note.is_ok()) {
    throw command_error(exit_code_for(note.error().code()), note.error().message());
  }
  write_checkpoint(note.value(), path);
  return saved;
}

// `verify-proof -`: a proof piped in (prove ... | verify-proof -), at most max_bytes; nullopt beyond.
std::optional<std::string> read_standard_input(std::size_t max_bytes) {
  std::string text;
  char buf[16384];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
    text.append(buf, n);
    if (text.size() > max_bytes) {
      return std::nullopt;
    }
  }
  if (std::ferror(stdin)) {
    throw command_error(exit_environment,
                        fmt::format("cannot read standard input: {}", std::strerror(errno)));
  }
  return text;
}

struct verify_outcome {
  audit::verify_report report;
  std::optional<audit::payload_report> payloads;
  std::vector<held_checkpoints::source>
      held;  // kept outside the log, all reproduced (of a log that verifies)
  std::vector<std::uint64_t> checkpoint_sizes;  // of a log that verifies
  std::optional<saved_checkpoint> saved;        // --save-checkpoint, of a log that verifies
  std::optional<stale_held_checkpoint> stale;   // the newest held one covers fewer than the signed records
  // Requests noted in DB.in-flight and not on the log: no tampering, but the log is not complete
  // until a writer records them, so a WARNING, not a failure (a crash would fail every cron run).
  pending_notes pending;
  double seconds = 0;

  [[nodiscard]] bool ok() const { return report.ok() && (!payloads || payloads->ok()); }
};

// One verdict: FAILED with every problem (the log's, then the payloads'), or OK with the figures.
void print_verify_text(const verify_outcome& v, const std::string& dir, const crypto::note_verifier& key,
                       const options& o) {
  const auto& report = v.report;
  if (!v.ok()) {
    if (report.ok() && v.payloads->auditor_key_opens_none && v.payloads->problems.size() == 1) {
      // Most likely the auditor's own mistake: nothing here says the log is damaged.
      std::printf(
          "FAILED: the payloads of the audit log at %s could not be checked: its records and checkpoints "
          "verify, but the auditor key given is not this log's\n",
          dir.c_str());
    } else if (report.ok()) {
      std::printf(
          "FAILED: the audit log at %s does not verify: its records and checkpoints do, but stored payloads "
          "or data keys do not\n",
          dir.c_str());
    } else if (report.unreadable()) {
      // What could not be read was not checked: the read error comes first, and nothing below it
      // is to be read as forgery.
      std::printf("FAILED: the audit log at %s cannot be read, so it does not verify\n", dir.c_str());
    } else {
      std::printf("FAILED: the audit log at %s does not verify\n", dir.c_str());
    }
    // No checkpoint signed by the key given: most likely the wrong key. Said first, with one of the
    // checkpoints' lines (they all say the same) rather than one per checkpoint.
    if (const std::string hint = wrong_key_hint(report, key); !hint.empty()) {
      std::printf("  - %s\n", hint.c_str());
    }
    for (const auto& p : listed_problems(report, key)) {
      std::printf("  - %s\n", printable(p.text, true).c_str());
    }
    for (const auto& p : v.payloads ? v.payloads->problems : std::vector<audit::problem>{}) {
      std::printf("  - %s\n", printable(p.text, true).c_str());
    }
    // The counts of --format json: stored_checkpoints, failed_checkpoints and checkpoints (the ones that
    // verify), so that a reader of both finds the same numbers.
    if (report.failed_checkpoints() > 0) {
      fmt::print("{} of {} stored {} fail{} verification, {}\n", report.failed_checkpoints(),
                 report.stored_checkpoints, plural(report.stored_checkpoints, "checkpoint", "checkpoints"),
                 report.failed_checkpoints() == 1 ? "s" : "",
                 report.checkpoints == 0   ? std::string("none verifies")
                 : report.checkpoints == 1 ? std::string("1 verifies")
                                           : fmt::format("{} verify", report.checkpoints));
    }
    if (report.contradicting_checkpoints > 0) {
      const std::uint64_t n = report.contradicting_checkpoints;
      fmt::print(
          "{} of {} stored {} {} by the key and {} the records, but contradict{} a checkpoint kept "
          "outside the log (the fork named above){}\n",
          n, report.stored_checkpoints, plural(report.stored_checkpoints, "checkpoint", "checkpoints"),
          n == 1 ? "is signed" : "are signed", n == 1 ? "matches" : "match", n == 1 ? "s" : "",
          report.failed_checkpoints() > 0 ? std::string()
          : report.checkpoints == 0       ? std::string(", none verifies")
          : report.checkpoints == 1       ? std::string(", 1 verifies")
                                          : fmt::format(", {} verify", report.checkpoints));
    }
    if (report.unchecked_checkpoints > 0) {
      fmt::print("{} of {} stored {} not checked: the records they cover could not be read\n",
                 report.unchecked_checkpoints, report.stored_checkpoints,
                 plural(report.stored_checkpoints, "checkpoint", "checkpoints"));
    }
    const auto first_bad = report.first_bad_record ? report.first_bad_record
                           : v.payloads            ? v.payloads->first_bad_record
                                                   : std::nullopt;
    if (first_bad) {
      std::printf("first record that does not match: %llu\n", static_cast<unsigned long long>(*first_bad));
    }
    if (v.payloads && !report.ok()) {
      const auto& p = *v.payloads;
      fmt::print(
          "payloads (checked although the records do not verify): {} stored {} checked against the hashes "
          "their records commit to{}{}\n",
          p.checked, plural(p.checked, "payload", "payloads"),
          p.ok() ? std::string(", all match, as do the data keys")
                 : std::string(": their problems are above"),
          p.unsigned_payloads > 0
              ? fmt::format("; {} more stored for records no signed checkpoint covers: not checked",
                            p.unsigned_payloads)
              : std::string());
    } else if (o.flag("payloads") && !v.payloads) {
      std::printf("payloads: not checked: the log could not be read\n");
    }
    if (o.has("save-checkpoint")) {
      std::printf("not saved to %s: the log does not verify, so none of its checkpoints is to be kept\n",
                  o.need("save-checkpoint").c_str());
    }
    if (const std::string pending = v.pending.text(); !pending.empty()) {
      std::printf("WARNING: %s\n", printable(pending, true).c_str());
    }
    return;
  }
  // The key, as `name+id` and its full fingerprint: what an auditor compares with the key the
  // operator published (a log verifies under any key that signed it, a substituted one included).
  // The headline counts what a signature covers: records after the newest checkpoint are unsigned,
  // whoever appended them (the writer since its last checkpoint, or anyone with the database).
  std::printf(
      "OK: %llu record%s, %llu signed checkpoint%s verified with the key %s, %llu index entries match (%.0f "
      "leaves/s)\n",
      static_cast<unsigned long long>(report.signed_records()), report.signed_records() == 1 ? "" : "s",
      static_cast<unsigned long long>(report.checkpoints), report.checkpoints == 1 ? "" : "s",
      key_description(key).c_str(), static_cast<unsigned long long>(report.index_entries),
      v.seconds > 0 ? static_cast<double>(report.records) / v.seconds : 0.0);
  if (report.uncovered_records() > 0) {
    const std::uint64_t newer = report.uncovered_records();
    fmt::print(
        "UNSIGNED: {} newer {}, {}, {} covered by no signed checkpoint: nothing vouches for {} yet: {} not "
        "verified (a running gateway signs a checkpoint every checkpoint_interval, and its last at a clean "
        "shutdown)\n",
        newer, plural(newer, "record", "records"),
        newer == 1 ? fmt::format("{}", report.signed_records())
                   : fmt::format("{}..{}", report.signed_records(), report.records - 1),
        newer == 1 ? "is" : "are", newer == 1 ? "it" : "them", newer == 1 ? "it is" : "they are");
  }
  if (const std::string pending = v.pending.text(); !pending.empty()) {
    std::printf("WARNING: %s\n", printable(pending, true).c_str());
  }
  std::printf("latest checkpoint: size %llu root %s\n", static_cast<unsigned long long>(report.latest->size),
              crypto::to_base64(report.latest->root).c_str());
  if (!v.checkpoint_sizes.empty()) {
    // The sizes `prove --old/--new` take: every stored checkpoint verified.
    const std::size_t n = v.checkpoint_sizes.size();
    std::printf("signed checkpoints at sizes %s%s\n",
                audit::format_checkpoint_sizes(v.checkpoint_sizes, UINT64_MAX).c_str(),
                n > audit::max_listed_checkpoint_sizes ? fmt::format(" ({} in all)", n).c_str() : "");
  }
  for (const auto& h : v.held) {
    std::printf("the checkpoint %s (size %llu) is reproduced: %s\n",
                h.published ? fmt::format("published at {}", h.path).c_str() : "you hold",
                static_cast<unsigned long long>(h.checkpoint.size),
                report.records > h.checkpoint.size ? "the log only grew since" : "the log is as it was then");
  }
  if (v.saved) {
    const std::string& file = o.need("save-checkpoint");
    if (!v.saved->held) {
      std::printf("saved the checkpoint at size %llu to %s: give it to --checkpoint next time\n",
                  static_cast<unsigned long long>(v.saved->size), file.c_str());
    } else {
      std::printf(
          "saved the checkpoint %s (size %llu) to %s: newer than the log's newest stored one (size %llu), "
          "it is the one to give to --checkpoint next time\n",
          v.saved->held->published ? fmt::format("published at {}", v.saved->held->path).c_str() : "you hold",
          static_cast<unsigned long long>(v.saved->size), file.c_str(),
          static_cast<unsigned long long>(report.latest->size));
    }
  }
  if (report.forced_opens > 0) {
    fmt::print("note: the log records {} forced {} over a failed verification\n", report.forced_opens,
               plural(report.forced_opens, "open", "opens"));
  }
  if (v.held.empty()) {
    std::printf(
        "note: records deleted from the end of the log together with their checkpoints are found only "
        "against a checkpoint kept outside it (none here: no --checkpoint, and no %s published beside "
        "it)%s\n",
        audit::published_checkpoint_path(o.need("db")).c_str(),
        v.saved ? "" : ": --save-checkpoint FILE now, --checkpoint FILE next time");
  } else if (v.stale) {
    // A checkpoint kept outside the log vouches for its own records only: what was deleted from the
    // end after them, together with its stored checkpoints, would not show.
    fmt::print(
        "note: the checkpoint {} (size {}) {}, unnoticed without a newer checkpoint kept outside the "
        "log{}{}\n",
        v.stale->source.published ? fmt::format("published at {}", v.stale->source.path) : "you hold",
        v.stale->source.checkpoint.size, v.stale->text,
        !v.stale->source.published ? ""
        : v.stale->writer_running
            ? " (a published checkpoint older than the log's own, while a writer holds the log: a running "
              "gateway stores each checkpoint before it publishes it, and may not have published this one "
              "yet: run again; if it stays older, the gateway cannot publish it: its log says 'audit "
              "checkpoint not signed or published' with why, and sovgw_audit_checkpoint_failures_total "
              "grows)"
            : " (a published checkpoint older than the log's own: the writer could not publish since, and "
              "logged 'audit checkpoint not signed or published', or the file was replaced)",
        v.saved ? "" : ": --save-checkpoint FILE now, --checkpoint FILE next time");
  }
  if (v.payloads) {
    const auto& p = *v.payloads;
    // "every" only when it is true: not of the payloads a crypto-shred made unreadable, nor with problems.
    const std::string opened =
        !p.opened ? "data keys not opened (--auditor-key opens every payload with them)"
        : !p.ok() ? fmt::format("{} opened with the auditor key", *p.opened)
        : p.shredded > 0
            ? fmt::format("every stored payload not crypto-shredded ({}) opens with the auditor key",
                          *p.opened)
            : std::string("every stored payload opens with the auditor key");
    std::printf(
        "payloads: %llu stored payload%s match%s the hashes their records commit to, %llu dropped by "
        "retention, "
        "%llu unreadable after crypto-shredding%s (as the log's events record); %llu data key store entr%s "
        "read, "
        "all well-formed; %s\n",
        static_cast<unsigned long long>(p.checked), p.checked == 1 ? "" : "s", p.checked == 1 ? "es" : "",
        static_cast<unsigned long long>(p.dropped_by_retention), static_cast<unsigned long long>(p.shredded),
        shredded_then_dropped(p).c_str(), static_cast<unsigned long long>(p.data_keys),
        p.data_keys == 1 ? "y" : "ies", opened.c_str());
    if (p.unsigned_payloads > 0) {
      std::printf("          %llu more stored for the UNSIGNED records above: not checked\n",
                  static_cast<unsigned long long>(p.unsigned_payloads));
    }
    if (p.committed_data_keys + p.uncommitted_data_keys > 0) {
      fmt::print("data keys: {} the payloads need match the commitments in the signed records{}\n",
                 p.committed_data_keys,
                 p.uncommitted_data_keys == 0
                     ? std::string()
                     : fmt::format("; {} more {} from before the log committed its data keys (an older "
                                   "writer's): to whom {} sealed is known only by opening {} (--auditor-key)",
                                   p.uncommitted_data_keys, p.uncommitted_data_keys == 1 ? "is" : "are",
                                   p.uncommitted_data_keys == 1 ? "it was" : "they were",
                                   p.uncommitted_data_keys == 1 ? "it" : "them"));
    }
  }
  const auto& modes = report.request_payloads;
  fmt::print(
      "request payloads: {} (of {} request {}, as audit.payload and the policies' log_payload chose "
      "for each)\n",
      payload_modes_text(modes.sealed, modes.digest, modes.none), modes.sealed + modes.digest + modes.none,
      plural(modes.sealed + modes.digest + modes.none, "record", "records"));
}

void print_verify_json(const verify_outcome& v, const std::string& dir, const crypto::note_verifier& key) {
  const auto& r = v.report;
  std::vector<std::string> problems;
  for (const auto& p : r.problems) {
    problems.push_back(json_problem(to_string(p.kind), p.record, p.text));
  }
  if (v.payloads) {
    for (const auto& p : v.payloads->problems) {
      problems.push_back(json_problem(to_string(p.kind), p.record, p.text));
    }
  }
  const std::optional<std::uint64_t> first_bad = r.first_bad_record ? r.first_bad_record
                                                 : v.payloads       ? v.payloads->first_bad_record
                                                                    : std::nullopt;
  // As report's held_from names a held checkpoint's source.
  const std::string saved = !v.saved ? "null"
                                     : fmt::format(R"({{"file":{},"size":{},"source":"{}"}})",
                                                   json_string(v.saved->file), v.saved->size,
                                                   !v.saved->held             ? "stored"
                                                   : v.saved->held->published ? "published"
                                                                              : "checkpoint_option");
  fmt::print(
      R"({{"command":"verify","ok":{},"log":{},"key":{},"records":{},"missing_records":{},"truncated_records":{},"signed_records":{},"checkpoints":{},"failed_checkpoints":{},)"
      R"("contradicting_checkpoints":{},"unchecked_checkpoints":{},"stored_checkpoints":{},"checkpoint":{},"held_checkpoints":{},"uncovered_records":{},"index_entries":{},"forced_opens":{},)"
      R"("payloads_checked":{},"payloads_unsigned":{},"payloads_dropped_by_retention":{},"payloads_shredded":{},"payloads_shredded_then_dropped":{},"payloads_opened":{},)"
      R"("data_keys_checked":{},"data_keys_committed":{},"data_keys_uncommitted":{},"request_payloads":{{"sealed":{},"digest":{},"none":{}}},)"
      R"("first_bad_record":{},"saved_checkpoint":{},"pending_in_flight":{},"problems":[{}]}})"
      "\n",
      v.ok() ? "true" : "false", json_string(dir), json_key(key), r.records, r.missing_records,
      r.truncated_records, r.signed_records(), r.checkpoints, r.failed_checkpoints(),
      r.contradicting_checkpoints, r.unchecked_checkpoints, r.stored_checkpoints, json_checkpoint(r.latest),
      json_held_checkpoints(v.held, r), r.uncovered_records(), r.index_entries, r.forced_opens,
      v.payloads ? std::to_string(v.payloads->checked) : "null",
      v.payloads ? std::to_string(v.payloads->unsigned_payloads) : "null",
      v.payloads ? std::to_string(v.payloads->dropped_by_retention) : "null",
      v.payloads ? std::to_string(v.payloads->shredded) : "null",
      v.payloads ? std::to_string(v.payloads->shredded_then_dropped) : "null",
      json_optional(v.payloads ? v.payloads->opened : std::nullopt),
      v.payloads ? std::to_string(v.payloads->data_keys) : "null",
      v.payloads ? std::to_string(v.payloads->committed_data_keys) : "null",
      v.payloads ? std::to_string(v.payloads->uncommitted_data_keys) : "null", r.request_payloads.sealed,
      r.request_payloads.digest, r.request_payloads.none, json_optional(first_bad), saved,
      json_pending(v.pending), fmt::join(problems, ","));
}

}  // namespace

int cmd_verify(const options& o) {
  const bool json = json_format(o);
  check_output_option(o, "save-checkpoint");
  const auto key = pubkey_option(o);
  if (o.has("auditor-key") && !o.flag("payloads")) {
    throw usage_error("--auditor-key needs --payloads (it opens every stored payload)", false);
  }
  const auto auditor = o.has("auditor-key") ? std::optional(auditor_key_option(o)) : std::nullopt;
  verify_outcome v;
  // Record times are judged against now (docs/auditing.md: time_backwards, time_implausible).
  audit::verify_options options{
      .indexes = true, .held = {}, .require_checkpoint = true, .check_times_at_us = now_us()};
  const held_checkpoints extra = held_checkpoint_options(o, key, options);
  auto opened = try_open_reader(o);
  if (!opened.is_ok() && open_failure_exit_code(opened.error()) == exit_failed) {
    // A damaged log is a verdict, not an environment error: say it like any other problem.
    v.report.problems.push_back({audit::problem_kind::read_failed, std::nullopt, opened.error().message()});
    if (json) {
      print_verify_json(v, o.need("db"), key);
    } else {
      print_verify_text(v, o.need("db"), key, o);
    }
    return exit_failed;
  }
  if (!opened.is_ok()) {
    // Emptied or removed while a checkpoint kept outside it says what it held: the largest deletion
    // there is, not a wrong path.
    if (auto gone = audit::verify_missing_store(o.need("db"), options)) {
      v.report = std::move(*gone);
      extra.add_problems_to(v.report);
      if (json) {
        print_verify_json(v, o.need("db"), key);
      } else {
        print_verify_text(v, o.need("db"), key, o);
      }
      return exit_failed;
    }
    throw command_error(exit_environment, opened.error().message());
  }
  const auto& s = opened.value();
  const auto t0 = std::chrono::steady_clock::now();
  v.report = audit::verify_log(*s, key, options);
  v.pending = pending_notes_of(*s, o);
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  extra.add_problems_to(v.report);
  if (v.report.ok()) {
    v.held = extra.sources;
    v.stale = stale_held(*s, v.report, v.held);
    auto sizes = audit::stored_checkpoint_sizes(*s);
    if (!sizes.is_ok()) {
      throw_status(sizes.error());
    }
    v.checkpoint_sizes = std::move(sizes.value());
  }
  // The payloads are checked over a log that fails too (unless it cannot be read): a payload swapped
  // or deleted is more evidence, which the auditor who asked for it would otherwise lose (probe
  // round 40: --payloads was silently skipped).
  if (o.flag("payloads") && !v.report.unreadable()) {
    const auto keys = auditor ? std::optional<audit::auditor_keys>({auditor->public_key, auditor->secret_key})
                              : std::nullopt;
    // Only what a signed checkpoint covers: anyone who can write the database could have
    // written the rest (counted apart, as the records are).
    v.payloads =
        audit::verify_payloads(*s, v.report.events, keys ? &*keys : nullptr, v.report.signed_records());
  }
  if (v.report.ok()) {
    settle_stale_published(*s, key, v.report.signed_records(), v.stale);
    if (o.has("save-checkpoint") && v.ok()) {  // payloads that fail fail the log: nothing is saved
      v.saved = save_newest_checkpoint(*s, v.report, v.held, o.need("save-checkpoint"));
    }
  }
  if (json) {
    print_verify_json(v, s->dir(), key);
  } else {
    print_verify_text(v, s->dir(), key, o);
  }
  return v.ok() ? exit_ok : exit_failed;
}

int cmd_verify_proof(const options& o) {
  const bool json = json_format(o);
  const auto key = pubkey_option(o);
  const std::string& path = o.positional()[0];
  const auto text =
      path == "-" ? read_standard_input(max_proof_file_bytes) : read_input_file(path, max_proof_file_bytes);
  std::optional<audit::proof_error> error;
  std::string_view kind = "inclusion";
  std::optional<crypto::checkpoint> old_checkpoint;
  std::optional<crypto::checkpoint> checkpoint;
  std::optional<audit::record> rec;
  if (!text) {
    error = audit::proof_error{audit::proof_failure::malformed,
                               fmt::format("{} is too large to be a proof file (over 1 MiB)",
                                           path == "-" ? "standard input" : path)};
  } else if (text->starts_with(audit::consistency_proof_header)) {
    kind = "consistency";
    auto v = audit::verify_consistency_proof(*text, key);
    if (v.is_ok()) {
      old_checkpoint = v->old_checkpoint;
      checkpoint = v->new_checkpoint;
    } else {
      error = v.error();
    }
  } else {
    auto v = audit::verify_inclusion_proof(*text, key);
    if (v.is_ok()) {
      checkpoint = v->checkpoint;
      rec = std::move(v->rec);
    } else {
      error = v.error();
    }
  }
  if (error && text) {
    if (const std::string hint = audit::line_ending_hint(*text); !hint.empty()) {
      error->text = fmt::format("{} (as it is: {})", hint, error->text);
    }
  }
  if (json) {
    fmt::print(R"({{"command":"verify-proof","ok":{},"proof":{},"key":{},"records":{},"checkpoint":{},)"
               R"("old_checkpoint":{},"record":{},"problems":[{}]}})"
               "\n",
               error ? "false" : "true", json_string(kind), json_key(key), checkpoint ? checkpoint->size : 0,
               json_checkpoint(checkpoint), json_checkpoint(old_checkpoint), rec ? record_json(*rec) : "null",
               error ? json_problem(to_string(error->kind), std::nullopt, error->text) : "");
    return error ? exit_failed : exit_ok;
  }
  if (error) {
    throw command_error(exit_failed, error->text);
  }
  if (old_checkpoint) {
    std::printf(
        "OK: checkpoint at size %llu is consistent with checkpoint at size %llu (append-only), both signed "
        "by %s\n",
        static_cast<unsigned long long>(old_checkpoint->size),
        static_cast<unsigned long long>(checkpoint->size), key_description(key).c_str());
    return exit_ok;
  }
  std::printf("OK: record %llu is included in the log %s at tree size %llu (root %s), signed by %s\n",
              static_cast<unsigned long long>(rec->seq), checkpoint->origin.c_str(),
              static_cast<unsigned long long>(checkpoint->size), crypto::to_base64(checkpoint->root).c_str(),
              key_description(key).c_str());
  print_record_summary(*rec);
  return exit_ok;
}

}  // namespace sovgw::cli
