#include "cli/audit_support.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "audit/keys.hpp"
#include "audit/proof_file.hpp"
#include "audit/published_checkpoint.hpp"
#include "audit/query.hpp"
#include "audit/store.hpp"
#include "audit/tree_tiles.hpp"
#include "cli/audit_output.hpp"
#include "common/regular_file.hpp"
#include "common/rfc3339.hpp"

namespace sovgw::cli {
namespace {

// A malformed option value: the message says enough without the usage text.
usage_error value_error(const std::string& message) { return usage_error(message, false); }

constexpr std::uint64_t us_per_second = 1000000;

}  // namespace

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t parse_count(const std::string& text, const char* what) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) {
    throw value_error(fmt::format("--{} is out of range: '{}' is larger than {}", what, text, UINT64_MAX));
  }
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw value_error(fmt::format("--{} must be a non-negative integer, got '{}'", what, text));
  }
  return v;
}

std::uint64_t parse_checkpoint_size(const std::string& text, const char* what) {
  const std::uint64_t size = parse_count(text, what);
  if (size == 0) {
    throw value_error(
        fmt::format("--{} must be a checkpoint size of at least 1 (a tree size from `verify`): the empty "
                    "log's checkpoint "
                    "(size 0) needs no proof, every log extends it",
                    what));
  }
  return size;
}

namespace {

// A date-time as people paste it from our own output or other tools, as RFC 3339: a space for the
// `T` ("2026-12-07 14:46:46Z": only a single space right after the date, so nothing else can be
// meant), " UTC" or "UTC" for `Z` (the report's "2026-12-07 14:46:46 UTC"), and no zone at all read
// as UTC (the query table's "2026-12-07T14:46:46.729" under its header "time (UTC)").
std::string as_rfc3339(std::string text) {
  if (text.size() > 10 && text[10] == ' ' && text.find(' ', 11) == std::string::npos) {
    text[10] = 'T';
  } else if (text.size() > 14 && text[10] == ' ' && text.ends_with(" UTC") &&
             text.find(' ', 11) == text.size() - 4) {
    text[10] = 'T';
  }
  if (text.ends_with(" UTC") || text.ends_with("UTC")) {
    text.resize(text.size() - (text.ends_with(" UTC") ? 4 : 3));
    return text + "Z";
  }
  // Zone-less: HH:MM:SS right after the `T`, then at most a fraction.
  if (text.size() >= 19 && (text[10] == 'T' || text[10] == 't')) {
    std::size_t pos = 19;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
    }
    if (text.find_first_not_of("0123456789", pos) == std::string::npos) {
      return text + "Z";
    }
  }
  return text;
}

}  // namespace

// RFC 3339 (common/rfc3339.hpp: "2026-11-27T10:00:00Z", "2026-11-27T11:00:00+01:00", a fraction, read by
// as_rfc3339), a date, Unix seconds, or an age before now ("15m", "2h", "7d": what an auditor means by "since
// a quarter of an hour ago").
std::uint64_t parse_time(const std::string& original, const char* what) {
  const std::string text = as_rfc3339(original);
  std::optional<std::uint64_t> us;
  if (const auto age = audit::parse_age_seconds(text)) {
    const auto now = now_us();
    const std::uint64_t back = *age > now / us_per_second ? now : *age * us_per_second;
    us = now - back;
  } else if (text.size() == 8 && text.find_first_not_of("0123456789") == std::string::npos &&
             parse_rfc3339_date_us(
                 fmt::format("{}-{}-{}", text.substr(0, 4), text.substr(4, 2), text.substr(6)))) {
    // 20261206 is Unix seconds in August 1970, which no log holds: a compact date was meant.
    throw value_error(fmt::format("--{}: '{}' reads as Unix seconds in 1970; for that date write {}-{}-{}",
                                  what, text, text.substr(0, 4), text.substr(4, 2), text.substr(6)));
  } else if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    std::uint64_t seconds = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), seconds).ec != std::errc() ||
        seconds > UINT64_MAX / us_per_second) {
      throw value_error(fmt::format("--{}: {} Unix seconds is too far in the future (at most {})", what, text,
                                    UINT64_MAX / us_per_second));
    }
    us = seconds * us_per_second;
  } else if (const auto t = text.size() == 10 ? parse_rfc3339_date_us(text) : parse_rfc3339_us(text, true)) {
    us = static_cast<std::uint64_t>(*t);
  }
  if (!us && rfc3339_before_epoch(text)) {
    // Well-formed, so "cannot read" would send the reader hunting for a typo (probe round 39).
    throw value_error(fmt::format(
        "--{}: '{}' is before 1970-01-01T00:00:00Z: times before 1970 are not accepted (no record is that "
        "old){}",
        what, original,
        std::string_view(what) == "since" ? "; for the whole log from its start, leave --since out" : ""));
  }
  // Written as a date (and time) that the calendar does not have: "cannot read" would send the
  // reader hunting for a typo in the form (probe round 47: 2026-02-30, T24:00:00, :60).
  const auto number = [&](std::size_t from, std::size_t n) -> int {
    if (text.size() < from + n || text.substr(from, n).find_first_not_of("0123456789") != std::string::npos) {
      return -1;
    }
    return std::stoi(text.substr(from, n));
  };
  if (!us && text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    const int year = number(0, 4);
    const int month = number(5, 2);
    const int day = number(8, 2);
    const bool timed = text.size() >= 19 && (text[10] == 'T' || text[10] == 't' || text[10] == ' ') &&
                       text[13] == ':' && text[16] == ':';
    const int hour = timed ? number(11, 2) : 0;
    const int minute = timed ? number(14, 2) : 0;
    const int second = timed ? number(17, 2) : 0;
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (year >= 0 && month >= 0 && day >= 0 && hour >= 0 && minute >= 0 && second >= 0 &&
        (month < 1 || month > 12 || day < 1 || day > days[std::max(month, 1) - 1] + (month == 2 && leap) ||
         hour > 23 || minute > 59 || second > 59)) {
      throw value_error(fmt::format(
          "--{}: '{}' is written as a date{} but names none the calendar has: months run 01-12, the day must "
          "exist in its month ({}-{:02} has {} days), hours run 00-23, minutes and seconds 00-59",
          what, original, timed ? " and time" : "", year, std::clamp(month, 1, 12),
          days[std::clamp(month, 1, 12) - 1] + (std::clamp(month, 1, 12) == 2 && leap)));
    }
  }
  if (!us) {
    throw value_error(
        fmt::format("--{}: cannot read '{}' as a time (use 2026-11-27T10:00:00Z, 2026-11-27T11:00:00+01:00, "
                    "2026-11-27T10:00:00 (UTC), 2026-11-27, Unix seconds, or an age such as 15m, 2h, 7d)",
                    what, original));
  }
  return *us;
}

time_window time_window_option(const options& o) {
  time_window w;
  if (o.has("since")) {
    w.since_us = parse_time(o.need("since"), "since");
  }
  if (o.has("until")) {
    w.until_us = parse_time(o.need("until"), "until");
  }
  if (w.since_us && w.until_us && *w.since_us >= *w.until_us) {
    throw value_error("--since must be before --until");
  }
  return w;
}

std::uint64_t parse_age_us(const std::string& text) {
  const auto seconds = audit::parse_age_seconds(text);
  if (!seconds && text.size() >= 2 && std::string_view("dhms").find(text.back()) == std::string_view::npos) {
    throw value_error(fmt::format("--older-than: unknown unit in '{}' (use d, h, m or s)", text));
  }
  if (!seconds && text.size() >= 2 &&
      text.find_first_not_of("0123456789") == text.size() - 1) {  // digits and a unit: too many
    throw value_error(fmt::format("--older-than {} is out of range: older than any record can be", text));
  }
  if (!seconds) {
    throw value_error(fmt::format("--older-than: cannot read '{}' (use e.g. 90d, 12h, 30m, 10s)", text));
  }
  return *seconds * 1000000;
}

void throw_status(const status& s) { throw command_error(exit_code_for(s.code()), s.message()); }

result<std::unique_ptr<audit::store>> try_open_reader(const options& o) {
  return audit::store::open(o.need("db"), audit::store::open_mode::read_only);
}

int open_failure_exit_code(const status& s) {
  return s.code() == error_code::corruption ? exit_failed : exit_environment;
}

std::unique_ptr<audit::store> open_reader(const options& o) {
  auto s = try_open_reader(o);
  if (!s.is_ok()) {
    throw command_error(open_failure_exit_code(s.error()), s.error().message());
  }
  return std::move(s.value());
}

std::unique_ptr<audit::audit_log> open_writer(const options& o, missing_log missing) {
  audit::log_config config;
  config.db_dir = o.need("db");
  config.key_dir = o.need("keys");
  config.allow_unverified_open = o.flag("force");
  config.create_if_missing = missing == missing_log::create;
  std::error_code ec;
  // Only when there are notes: a command does not leave a DB.in-flight where no gateway ran.
  config.in_flight = std::filesystem::is_directory(audit::in_flight_path(config.db_dir), ec);
  auto log = audit::audit_log::open(config);
  if (log.is_ok()) {
    if (const auto n = log.value()->recorded_in_flight(); n > 0) {
      std::fprintf(
          stderr,
          "sovgw audit: recorded %llu request%s a stopped gateway left in %s, each as its note says\n",
          static_cast<unsigned long long>(n), n == 1 ? "" : "s",
          audit::in_flight_path(config.db_dir).c_str());
    }
    return std::move(log.value());
  }
  const status& e = log.error();
  switch (e.code()) {
    case error_code::verification_failed:
    case error_code::corruption:
      throw command_error(exit_failed, e.message());
    case error_code::invalid_argument:
      throw command_error(exit_usage, e.message());
    case error_code::busy:
      throw command_error(
          exit_environment,
          e.message() +
              "\n(if a running gateway holds it, shred and retain through its admin listener "
              "instead (admin.address and admin.port in its configuration), e.g. curl -X POST -H "
              "\"Authorization: Bearer $(cat ADMIN_TOKEN_FILE)\" 'http://ADMIN/admin/audit/shred?tenant=T' "
              "or '.../admin/audit/retain?older_than=90d')");
    default:
      throw command_error(exit_environment, e.message());
  }
}

pending_notes pending_notes_of(const audit::store& s, const options& o) {
  pending_notes out;
  out.path = audit::in_flight_path(o.need("db"));
  auto found = audit::pending_in_flight(o.need("db"), s);
  if (!found.is_ok()) {
    out.unreadable = found.error().message();
    return out;
  }
  out.requests = std::move(found.value());
  if (!out.requests.empty()) {
    out.writer_running = audit::writer_lock::probe(s.dir()) == audit::writer_lock::holder::writer;
  }
  return out;
}

std::string pending_notes::text() const {
  if (!unreadable.empty()) {
    return fmt::format("{}: requests a stopped gateway was serving may be missing from the log", unreadable);
  }
  if (requests.empty()) {
    return {};
  }
  const auto n = requests.size();
  if (writer_running) {
    return fmt::format(
        "{} request{} of the running gateway {} not on the log yet ({}): recorded when {} "
        "response{} end{} or its audit log resumes, or at its next start if it stops first",
        n, n == 1 ? "" : "s", n == 1 ? "is" : "are", path, n == 1 ? "its" : "their", n == 1 ? "" : "s",
        n == 1 ? "s" : "");
  }
  // Not all "forwarded" (probe round 43): an answer the gateway gave itself while its audit log
  // could not write is noted too. Each note says which.
  return fmt::format(
      "{} request{} a gateway that stopped was serving {} not on the log yet ({}): forwarded to a "
      "cluster, or answered by the gateway while its audit log could not write; the gateway's next "
      "start records {} as {} note{} say{} (as does a sovgw audit command that writes the log: "
      "checkpoint, retain, shred, append)",
      n, n == 1 ? "" : "s", n == 1 ? "is" : "are", path, n == 1 ? "it" : "them", n == 1 ? "its" : "their",
      n == 1 ? "" : "s", n == 1 ? "s" : "");
}

const audit::pending_request* pending_notes::find(std::string_view request_id) const {
  for (const auto& r : requests) {
    if (r.request_id == request_id) {
      return &r;
    }
  }
  return nullptr;
}

std::string json_pending(const pending_notes& p) {
  const std::string text = p.text();
  if (text.empty()) {
    return "null";
  }
  std::vector<std::string> ids;
  for (const auto& r : p.requests) {
    ids.push_back(json_string(r.request_id));
  }
  return fmt::format(R"({{"count":{},"request_ids":[{}],"gateway_running":{},"unreadable":{},"text":{}}})",
                     p.requests.size(), fmt::join(ids, ","), p.writer_running ? "true" : "false",
                     p.unreadable.empty() ? std::string("null") : json_string(p.unreadable),
                     json_string(text));
}

std::string shredded_then_dropped(const audit::payload_report& p) {
  return p.shredded_then_dropped == 0
             ? std::string()
             : fmt::format(" ({} of them since dropped by retention too)", p.shredded_then_dropped);
}

std::string pending_request_text(const pending_notes& p, const audit::pending_request& r) {
  const std::string when = r.noted ? fmt::format(" (received {})", format_time(r.noted->timestamp_us)) : "";
  const std::string what =
      !r.noted ? std::string("its note does not decode")
      : r.noted->error_kind == audit::gateway_stopped_error_kind
          ? std::string("noted when it was forwarded to a cluster")
          : fmt::format("noted when its record failed (status {}, decision {}, {})", r.noted->status,
                        r.noted->decision.empty() ? "none" : r.noted->decision,
                        r.noted->error_kind.empty() ? "no error" : r.noted->error_kind);
  return fmt::format(
      "request id {}{} has no record on the log yet: it is pending in {}, {}; {}", r.request_id, when, p.path,
      what,
      p.writer_running
          ? "the running gateway records it when its response ends or its audit log resumes, or at its next "
            "start"
          : "the gateway stopped before recording it; its next start records it as its note says, as does a "
            "sovgw audit command that writes the log (e.g. sovgw audit checkpoint)");
}

void check_output_option(const options& o, const char* option) {
  if (!o.has(option)) {
    return;
  }
  namespace fs = std::filesystem;
  const std::string& out = o.need(option);
  std::error_code ec;
  // Where the file would be: its folder resolved (links followed), then its name.
  const fs::path target = fs::weakly_canonical(fs::absolute(out, ec), ec);
  if (o.has("db")) {
    const fs::path db = fs::weakly_canonical(fs::absolute(o.need("db"), ec), ec);
    const auto [db_end, at] = std::mismatch(db.begin(), db.end(), target.begin(), target.end());
    if (db_end == db.end()) {
      throw usage_error(
          fmt::format("--{} {} is inside the audit log {}: writing it would destroy a file of the "
                      "log; write it elsewhere",
                      option, out, o.need("db")),
          false);
    }
    // The checkpoint the gateway publishes beside the log: writers require it, verify reads it.
    const auto beside = audit::published_checkpoint_paths(o.need("db"));
    if (std::any_of(beside.begin(), beside.end(), [&](const std::string& published) {
          return target == fs::weakly_canonical(fs::absolute(published, ec), ec);
        })) {
      throw usage_error(
          fmt::format("--{} {} is the checkpoint the gateway publishes beside the log: writing it "
                      "would replace what writers and verify check the log against; write it "
                      "elsewhere",
                      option, out),
          false);
    }
  }
  // The file is written beside and renamed over the name: whatever is there is replaced, a link
  // or a device included (--save-checkpoint /dev/stdout, run as root, would replace the link).
  if (const fs::file_status st = fs::symlink_status(out, ec);
      !ec && fs::exists(st) && !fs::is_regular_file(st)) {
    throw usage_error(fmt::format("--{} {} is {}, not a regular file: writing it would replace it; name a "
                                  "file (or a new name)",
                                  option, out,
                                  fs::is_symlink(st)     ? "a symbolic link"
                                  : fs::is_directory(st) ? "a folder"
                                  : fs::is_fifo(st)      ? "a FIFO"
                                                         : "a device or socket"),
                      false);
  }
  for (const char* input : {"pubkey", "checkpoint", "policy", "auditor-key"}) {
    if (o.has(input) && fs::exists(out, ec) && fs::equivalent(out, o.need(input), ec)) {
      throw usage_error(fmt::format("--{} {} is the file given to --{}: writing it would replace what this "
                                    "command reads; write it elsewhere",
                                    option, out, input),
                        false);
    }
  }
}

crypto::note_verifier pubkey_option(const options& o) {
  auto key = audit::read_verifier(o.need("pubkey"));
  if (!key.is_ok()) {
    // A missing or unreadable file is exit 3, like every input file (--checkpoint included); a file
    // that is not a key, or a malformed key text (`name+id+key`: it holds a '+'), is exit 2.
    const bool missing_file =
        key.error().code() == error_code::not_found && o.need("pubkey").find('+') == std::string::npos;
    const bool unreadable = key.error().code() == error_code::io || missing_file;
    throw command_error(unreadable ? exit_environment : exit_usage, key.error().message());
  }
  return std::move(key.value());
}

audit::auditor_key_pair auditor_key_option(const options& o) {
  try {
    return audit::load_auditor_key(o.need("auditor-key"));
  } catch (const audit::wrong_key_file_error& e) {
    throw usage_error(e.what(), false);  // the wrong file named: bad usage, as --pubkey's
  }
}

held_checkpoints held_checkpoint_options(const options& o, const crypto::note_verifier& key,
                                         audit::verify_options& verify) {
  held_checkpoints out;
  if (o.has("checkpoint")) {
    constexpr std::size_t max_bytes = 1 << 20;  // a checkpoint note or a proof file
    const std::string& path = o.need("checkpoint");
    out.checkpoint_option = path;
    const auto text = read_input_file(path, max_bytes);
    if (!text) {
      throw usage_error(fmt::format("--checkpoint {}: too large to be a checkpoint or proof file", path),
                        false);
    }
    std::string note;
    auto cp = audit::read_kept_checkpoint(*text, key, &note);
    if (!cp.is_ok() && cp.error().kind == audit::proof_failure::key_changed) {
      out.problems.push_back({audit::problem_kind::signing_key_changed, std::nullopt,
                              fmt::format("--checkpoint {}: {}", path, cp.error().message())});
    } else if (!cp.is_ok() && cp.error().kind == audit::proof_failure::other_log) {
      out.problems.push_back({audit::problem_kind::log_replaced, std::nullopt,
                              fmt::format("--checkpoint {}: {}", path, cp.error().message())});
    } else if (!cp.is_ok() && cp.error().kind == audit::proof_failure::bad_signature) {
      out.problems.push_back(
          {audit::problem_kind::checkpoint_invalid, std::nullopt,
           fmt::format("--checkpoint {}: the checkpoint you hold does not verify under the key {} given with "
                       "--pubkey: it was altered or damaged (the log is checked without it)",
                       path, key.label())});
    } else if (!cp.is_ok() &&
               crypto::note_verifier::parse(std::string_view(*text).substr(0, text->find('\n')))) {
      throw usage_error(fmt::format("--checkpoint {}: this is a public key file (a signing.pub: give it to "
                                    "--pubkey), not a checkpoint: give a checkpoint saved with verify "
                                    "--save-checkpoint, or a proof file",
                                    path),
                        false);
    } else if (!cp.is_ok()) {
      const std::string hint = audit::line_ending_hint(*text);
      throw usage_error(
          fmt::format("--checkpoint {}: {}", path,
                      hint.empty() ? cp.error().message()
                                   : fmt::format("{} (as it is: {})", hint, cp.error().message())),
          false);
    } else {
      verify.held.push_back(cp.value());
      verify.held_labels.push_back(
          "the checkpoint you hold");  // --checkpoint's; the published one names its file
      verify.held_by_auditor.push_back(true);
      out.sources.push_back({false, path, std::move(note), cp.value()});
    }
    if (!out.problems.empty()) {
      out.not_held.push_back({false, path, out.problems.back().text});
    }
  }
  for (const std::string& published : audit::published_checkpoint_paths(o.need("db"))) {
    std::string note;
    auto cp = audit::read_published_checkpoint(published, key, &note);
    if (!cp.is_ok()) {
      out.published_problems.push_back(
          audit::problem{audit::problem_kind::checkpoint_invalid, std::nullopt, cp.error().message()});
      out.not_held.push_back({true, published, cp.error().message()});
    } else if (cp.value()) {
      verify.held.push_back(**cp);
      verify.held_labels.push_back(fmt::format("the checkpoint the gateway published at {}", published));
      verify.held_by_auditor.push_back(false);
      out.sources.push_back({true, published, std::move(note), **cp});
    }
  }
  return out;
}

std::string wrong_key_hint(const audit::verify_report& report, const crypto::note_verifier& key) {
  const bool unknown_signer = std::any_of(
      report.problems.begin(), report.problems.end(),
      [](const audit::problem& p) { return p.kind == audit::problem_kind::checkpoint_unknown_key; });
  if (!unknown_signer || report.checkpoints > 0) {
    return {};
  }
  return fmt::format(
      "none of the checkpoints is signed by the key {} given with --pubkey: wrong public key for this log?",
      key.label());
}

std::vector<listed_problem> listed_problems(const audit::verify_report& report,
                                            const crypto::note_verifier& key) {
  const bool wrong_key = !wrong_key_hint(report, key).empty();
  const auto unknown_signer = static_cast<std::size_t>(std::count_if(
      report.problems.begin(), report.problems.end(),
      [](const audit::problem& p) { return p.kind == audit::problem_kind::checkpoint_unknown_key; }));
  std::vector<listed_problem> out;
  bool shown = false;
  for (const auto& p : report.problems) {
    if (wrong_key && p.kind == audit::problem_kind::checkpoint_unknown_key) {
      if (shown) {
        continue;
      }
      shown = true;
      if (unknown_signer > 1) {
        out.push_back(
            {p.kind, fmt::format("{} (and {} more checkpoints likewise)", p.text, unknown_signer - 1)});
        continue;
      }
    }
    out.push_back({p.kind, p.text});
  }
  return out;
}

std::string json_held_checkpoints(const std::vector<held_checkpoints::source>& held,
                                  const audit::verify_report& report) {
  std::vector<std::string> out;
  for (const auto& h : report.ok() ? held : std::vector<held_checkpoints::source>{}) {
    out.push_back(json_checkpoint(h.checkpoint));
  }
  return fmt::format("[{}]", fmt::join(out, ","));
}

std::string_view held_verdict_name(const audit::verify_report& report, std::size_t i) {
  using verdict = audit::verify_report::held_verdict;
  if (i >= report.held_verdicts.size()) {
    return "not_checked";
  }
  switch (report.held_verdicts[i]) {
    case verdict::reproduced:
      return "reproduced";
    case verdict::contradicted:
      return "contradicted";
    case verdict::not_reached:
      return "not_reached";
    case verdict::not_checked:
      break;
  }
  return "not_checked";
}

bool every_held_reproduced(const audit::verify_report& report, std::size_t held) {
  for (std::size_t i = 0; i < held; ++i) {
    if (held_verdict_name(report, i) != "reproduced") {
      return false;
    }
  }
  return held > 0;
}

std::optional<stale_held_checkpoint> stale_held(const audit::store& s, const audit::verify_report& report,
                                                const std::vector<held_checkpoints::source>& held) {
  const std::uint64_t size = report.newest_held_size;
  const std::uint64_t signed_records = report.signed_records();
  const auto newest =
      std::find_if(held.begin(), held.end(), [&](const auto& h) { return h.checkpoint.size == size; });
  if (!report.ok() || report.held_checkpoints == 0 || size >= signed_records || newest == held.end()) {
    return std::nullopt;
  }
  stale_held_checkpoint out{.source = *newest, .newest_covered_us = std::nullopt, .text = {}};
  if (size > 0) {
    if (auto r = audit::read_record(s, size - 1); r.is_ok()) {
      out.newest_covered_us = r->timestamp_us;
    }
  }
  const auto range = [](std::uint64_t first, std::uint64_t last) {
    return first == last ? fmt::format("record {}", first) : fmt::format("records {}..{}", first, last);
  };
  out.text = fmt::format(
      "{}: {} {} covered only by checkpoints stored in the log, which are deleted with them",
      size == 0 ? std::string("covers no record")
                : fmt::format("covers {} only{}", range(0, size - 1),
                              out.newest_covered_us ? fmt::format(" (the newest of them logged {})",
                                                                  format_time(*out.newest_covered_us))
                                                    : std::string()),
      range(size, signed_records - 1), signed_records - size == 1 ? "is" : "are");
  return out;
}

void settle_stale_published(const audit::store& s, const crypto::note_verifier& key,
                            std::uint64_t signed_records, std::optional<stale_held_checkpoint>& stale) {
  if (!stale || !stale->source.published) {
    return;
  }
  auto again = audit::read_published_checkpoint(stale->source.path, key);
  if (again.is_ok() && again.value() && again.value()->size >= signed_records) {
    stale.reset();  // published since: the writer's ordinary lag
    return;
  }
  stale->writer_running = audit::writer_lock::probe(s.dir()) == audit::writer_lock::holder::writer;
}

void held_checkpoints::add_problems_to(audit::verify_report& report) const {
  std::vector<audit::problem> first = problems;
  if (report.checkpoints > 0) {
    first.insert(first.end(), published_problems.begin(), published_problems.end());
  }
  report.problems.insert(report.problems.begin(), first.begin(), first.end());
}

std::uint64_t claimed_signed_size(const audit::store& s, const options& o) {
  std::uint64_t size = 0;
  if (auto sizes = audit::stored_checkpoint_sizes(s); sizes.is_ok() && !sizes->empty()) {
    size = sizes->back();
  }
  for (const std::string& path : audit::published_checkpoint_paths(o.need("db"))) {
    constexpr std::size_t max_note_bytes = 64 * 1024;
    auto text = read_regular_file(path, max_note_bytes, "file");  // a FIFO is not waited on
    const auto note = text.is_ok() ? crypto::parse_note(text.value()) : std::nullopt;
    const auto cp = note ? crypto::checkpoint::parse(note->text) : std::nullopt;
    if (cp) {
      size = std::max(size, cp->size);
    }
  }
  return size;
}

namespace {

// On stderr, `line` of each listed record after `prefix`, then how many more of `count` there are.
template <typename line_fn>
void print_listed(std::string_view prefix, const std::vector<audit::undecodable_record>& listed,
                  std::uint64_t count, line_fn&& line, std::string_view more) {
  for (const auto& r : listed) {
    fmt::print(stderr, "{}: {}\n", prefix, line(r));
  }
  if (count > listed.size()) {
    fmt::print(stderr, "{}: and {} more records {}\n", prefix, count - listed.size(), more);
  }
}

}  // namespace

void print_undecodable(std::string_view prefix, const std::vector<audit::undecodable_record>& listed,
                       std::uint64_t count) {
  print_listed(
      prefix, listed, count,
      [](const audit::undecodable_record& u) {
        return fmt::format(
            "record {} does not decode ({}): skipped; the log is damaged or was altered (sovgw "
            "audit verify names it)",
            u.seq, printable(u.reason));
      },
      "that do not decode, skipped");
}

bool is_request_id(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::uint64_t record_option(const audit::store& s, const options& o) {
  if (o.flag("last")) {
    if (o.has("seq") || o.has("request-id")) {
      throw usage_error("--last names a record already: drop --seq and --request-id", false);
    }
    auto count = s.leaf_count();
    if (!count.is_ok()) {
      throw command_error(exit_code_for(count.error().code()), count.error().message());
    }
    if (count.value() == 0) {
      throw command_error(exit_usage, "there is no last record: the log holds no records");
    }
    return count.value() - 1;
  }
  if (o.has("seq") && o.has("request-id")) {
    throw usage_error("--seq and --request-id each name a record: give one of them", false);
  }
  if (o.has("seq")) {
    return parse_count(o.need("seq"), "seq");
  }
  const std::string& id = o.need("request-id");
  auto found = audit::find_request(s, id);
  if (!found.is_ok()) {
    throw command_error(exit_code_for(found.error().code()), found.error().message());
  }
  if (found->deleted) {
    throw command_error(exit_failed,
                        fmt::format("{}: the record was written, then removed from the log (its index entry "
                                    "remains)",
                                    found->absent));
  }
  if (!found->seq) {
    if (const auto pending = pending_notes_of(s, o); const auto* r = pending.find(id)) {
      throw command_error(exit_code_for(error_code::not_found), pending_request_text(pending, *r));
    }
    // An answer about the log, not about the command: a request the gateway answered completely has a
    // record. The receipt goes out in the head, before the record is durable, so it alone cannot say.
    // An id the gateway never writes (quotes copied from `receipt verify`, upper case, a digit
    // dropped) is most likely mistyped: said first (probe round 45: it read as evidence of tampering).
    throw command_error(
        exit_failed,
        fmt::format(
            "{}{}: a client's receipt for this request id that `sovgw receipt verify` accepts means "
            "the record was removed from the log, or the gateway stopped (a crash or kill) or "
            "could not write the record before that response was complete; a client that "
            "received the whole response (every Content-Length byte, or a stream's terminating chunk) "
            "holds proof the record was made durable, so then it was removed (`sovgw receipt "
            "verify ... --db DIR` checks a receipt against the log)",
            is_request_id(id)
                ? std::string()
                : fmt::format("'{}' is not a request id the gateway writes (32 lower-case hex "
                              "digits, as in its X-Request-Id header, without quotes): check it "
                              "was copied whole. ",
                              printable(id)),
            found->absent));
  }
  print_lookup_notes("sovgw audit: note", *found, id);
  return *found->seq;
}

unsigned_record describe_unsigned_record(const audit::store& s, std::uint64_t seq) {
  const auto signed_size = s.newest_checkpoint_size();
  const std::string head =
      signed_size.is_ok()
          ? fmt::format("record {} is not covered by a signed checkpoint yet (latest covers {} records)", seq,
                        signed_size.value())
          : fmt::format("record {} is not covered by a signed checkpoint yet", seq);
  // The writer compares every record with the stored tree before it signs (as verify does): a
  // record whose leaf the tree contradicts will not be signed, by the next start or otherwise
  // (probe round 40: "the next start of its gateway signs it" of an altered record).
  if (auto leaf = s.get(audit::column::leaves, audit::be64(seq)); leaf.is_ok() && leaf->has_value()) {
    audit::stored_tree tree(s);
    const auto stored = tree.source()(0, seq);
    const auto computed = crypto::merkle::leaf_hash(audit::bytes_of(**leaf));
    if (tree.error().is_ok() && (!stored || *stored != computed)) {
      return {fmt::format("{}, and {}: the record or the stored tree was altered after it was logged (sovgw "
                          "audit verify names it); a writer refuses to open this log, so no checkpoint will "
                          "sign it",
                          head,
                          stored ? "its leaf hash does not match the stored Merkle tree"
                                 : "the stored Merkle tree holds no hash of it"),
              false, true};
    }
  }
  // A writer stores each checkpoint before it publishes it: a published one over the record, past
  // the stored ones, means the stored one was lost, not that none was signed (probe round 44: a
  // crash was blamed). Its signature is verify's to check.
  for (const std::string& path : audit::published_checkpoint_paths(s.dir())) {
    constexpr std::size_t max_note_bytes = 64 * 1024;
    auto text = read_regular_file(path, max_note_bytes, "file");  // a FIFO is not waited on
    const auto note = text.is_ok() ? crypto::parse_note(text.value()) : std::nullopt;
    const auto cp = note ? crypto::checkpoint::parse(note->text) : std::nullopt;
    if (cp && cp->size > seq && signed_size.is_ok() && cp->size > signed_size.value()) {
      // One whose root the stored tree (which holds the record, as checked above) does not
      // reproduce is not this log's checkpoint over the records as they are: verify rejects it, so
      // it ties nothing to the record (probe round 47: a sibling log's was taken for the lost one).
      audit::stored_tree tree(s);
      if (const auto root = crypto::merkle::tree_root(cp->size, tree.source());
          tree.error().is_ok() && root && *root != cp->root) {
        return {fmt::format(
                    "record {} is not covered by a signed checkpoint stored in the log (latest covers {} "
                    "records), and the checkpoint published beside it at {} covers {} but its root is not "
                    "the stored tree's at that size: a record or the stored tree was altered, "
                    "or that checkpoint is another log's that shares the key (a second gateway or a "
                    "staging log under the same keys); sovgw audit verify rejects it, and a writer "
                    "refuses to open this log, so no checkpoint will sign the record",
                    seq, signed_size.value(), path, cp->size),
                false, true};
      }
      return {
          fmt::format("record {} is not covered by a signed checkpoint stored in the log (latest covers {} "
                      "records), but the checkpoint published beside it at {} covers {}: the log's own "
                      "checkpoint over it is missing from the store (deleted, or lost with the store's "
                      "newest writes); a writer stores each checkpoint before it publishes it (sovgw "
                      "audit verify checks the published one against the log)",
                      seq, signed_size.value(), path, cp->size),
          false};
    }
  }
  if (audit::writer_lock::probe(s.dir()) != audit::writer_lock::holder::none) {
    return {fmt::format("{}; retry after the next checkpoint", head), true};
  }
  return {fmt::format("{}, and no gateway is writing this log now (its writer lock is free: one stopped "
                      "without closing the log, a crash or kill): the next start of its gateway signs "
                      "it, not before",
                      head),
          false};
}

void print_misplaced(std::string_view prefix, const std::vector<audit::undecodable_record>& listed,
                     std::uint64_t count) {
  print_listed(
      prefix, listed, count,
      [](const audit::undecodable_record& m) {
        return fmt::format(
            "the record stored at position {} is not record {}: {}: the log's records were moved "
            "(sovgw audit verify names it)",
            m.seq, m.seq, printable(m.reason));
      },
      "stored at another position than their own");
}

void print_lookup_notes(std::string_view prefix, const audit::request_lookup& found, std::string_view id) {
  print_undecodable(prefix, found.undecodable, found.undecodable_count);
  print_misplaced(prefix, found.misplaced, found.misplaced_count);
  if (found.index_missed) {
    fmt::print(stderr,
               "{}: the request id index {} request id '{}', but record {} carries it: the index is damaged "
               "(sovgw audit verify names the damage)\n",
               prefix,
               found.index_error.empty()
                   ? std::string("does not list")
                   : fmt::format("cannot be read ({}) for", printable(found.index_error)),
               printable(id), found.seq.value_or(0));
  }
}

}  // namespace sovgw::cli
