#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "audit/keys.hpp"
#include "audit/log_events.hpp"
#include "audit/payload_vault.hpp"
#include "audit/proof_file.hpp"
#include "audit/query.hpp"
#include "audit/synthetic.hpp"
#include "cli/audit_output.hpp"
#include "cli/audit_report.hpp"
#include "cli/audit_support.hpp"
#include "cli/commands.hpp"
#include "common/plural.hpp"
#include "crypto/base64.hpp"
#include "policy/countries.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* query_usage =
    R"(usage: sovgw audit query --db DIR [--since T] [--until T] [--tenant T] [--decision D]
          [--country CC] [--cluster C] [--model M] [--request-id ID] [--limit N]
          [--format table|jsonl|csv] [--scan] [--explain]
  T: RFC 3339 (2026-11-27T10:00:00Z, 2026-11-27T11:00:00+01:00), a date (2026-11-27, UTC), Unix
     seconds or an age before now (15m, 2h, 7d); --since must be before --until
  D: permit, deny, no-policy or none; CC: an ISO 3166-1 code (any case), private or unknown
  --scan: read every record, not the indexes; --explain: print the plan on stderr
)";
constexpr const char* verify_usage =
    R"(usage: sovgw audit verify --db DIR --pubkey KEY [--payloads [--auditor-key KEY]] [--checkpoint FILE]
          [--save-checkpoint FILE] [--format text|json]
  recompute the tree, check every checkpoint and the indexes; --payloads: every stored payload
  against its record too, and every payload or data key gone against the log's retention and
  shredding events; --auditor-key: also open every payload with its data key (auditor.key)
  and check each prompt is the body its record says was forwarded (forwarded_digest);
  --checkpoint: the log must still reproduce a checkpoint kept from an earlier visit (a
  checkpoint or proof file); --save-checkpoint: keep the latest verified checkpoint for the next
  visit; --format json: one JSON document on stdout (docs/auditing.md)
)";
constexpr const char* prove_usage =
    R"(usage: sovgw audit prove --db DIR (--request-id ID | --seq N | --last) > proof.tlog-proof
       sovgw audit prove --db DIR --old SIZE [--new SIZE] > consistency.proof
  a --request-id no record carries fails (exit 1): a client's receipt for it that sovgw receipt
  verify accepts means the record was removed from the log, or the gateway stopped before that
  response was complete (a client that received the whole response shows it was removed)
)";
constexpr const char* verify_proof_usage =
    R"(usage: sovgw audit verify-proof FILE --pubkey KEY [--format text|json]
  check an inclusion or consistency proof offline; FILE - reads it from standard input
  (sovgw audit prove ... | sovgw audit verify-proof - --pubkey KEY)
)";
constexpr const char* show_usage =
    "usage: sovgw audit show --db DIR (--request-id ID | --seq N | --last) --auditor-key KEY   decrypt a "
    "payload\n";
constexpr const char* shred_usage =
    "usage: sovgw audit shred --db DIR --keys DIR --tenant T [--force]   destroy a tenant's payload data "
    "keys\n";
constexpr const char* retain_usage =
    "usage: sovgw audit retain --db DIR --keys DIR --older-than AGE [--below-minimum] [--force]\n"
    "  drop payloads older than AGE (90d, 12h, 30m, 10s); under 1d only with --below-minimum "
    "(recorded)\n";
constexpr const char* append_usage =
    R"(usage: sovgw audit append --db DIR --keys DIR --synthetic N [--payload-bytes B]
          [--payload none|digest|sealed] [--run NAME] [--force]
  write N synthetic records (tests and walkthroughs), marked as such and announced by an event
)";
constexpr const char* report_usage =
    R"(usage: sovgw audit report --db DIR --pubkey KEY [--since T] [--until T] [--policy FILE]
          [--checkpoint FILE] [--payloads] [--format html|json] [--out FILE]
  the sovereignty report: verification status, flows from client to cluster countries by data
  class, decisions over time, denials by rule (reasons from --policy), policy versions, tenants,
  evidence, the 20 newest denials; one self-contained HTML page (or JSON) on --out or stdout;
  the verification is verify's (--checkpoint and --payloads as there); exit 1 when the log does not verify
  (the report is still written and says why)
)";
constexpr const char* checkpoint_usage =
    "usage: sovgw audit checkpoint --db DIR --keys DIR [--force]   sign a checkpoint now\n";

constexpr const char* audit_usage = R"(usage: sovgw audit <command> [options]

  query   --db DIR [--since T] [--until T] [--tenant T] [--decision D] [--country CC]
          [--cluster C] [--model M] [--request-id ID] [--limit N] [--format table|jsonl|csv]
          [--scan] [--explain]
          T: RFC 3339 (2026-11-27T10:00:00Z, 2026-11-27T11:00:00+01:00), a date (2026-11-27, UTC),
             Unix seconds or an age before now (15m, 2h, 7d); --since must be before --until
          D: permit, deny, no-policy or none; CC: an ISO 3166-1 code (any case), private or unknown
          --scan: read every record, not the indexes; --explain: print the plan on stderr
  verify  --db DIR --pubkey KEY [--payloads [--auditor-key KEY]] [--checkpoint FILE]
          [--save-checkpoint FILE] [--format text|json]
          recompute the tree, check every checkpoint and the indexes; --payloads: every stored
          payload against its record too, and what is gone against the log's retention and
          shredding events; --auditor-key: open every payload too; --checkpoint: the log must
          still reproduce a checkpoint kept from an earlier visit (a checkpoint or proof file);
          --save-checkpoint: keep the latest verified checkpoint for the next visit
  prove   --db DIR (--request-id ID | --seq N | --last) > proof.tlog-proof
  prove   --db DIR --old SIZE [--new SIZE] > consistency.proof
  verify-proof FILE --pubkey KEY [--format text|json]   check an inclusion or consistency proof offline
  show    --db DIR (--request-id ID | --seq N | --last) --auditor-key KEY   decrypt a payload
  shred   --db DIR --keys DIR --tenant T           destroy a tenant's payload data keys
  retain  --db DIR --keys DIR --older-than AGE     drop payloads older than AGE (90d, 12h, 30m, 10s;
                                        under 1d only with --below-minimum, recorded in the log)
  append  --db DIR --keys DIR --synthetic N [--payload-bytes B] [--payload none|digest|sealed]
          [--run NAME]                  write N synthetic records (tests and walkthroughs), each
                                        marked synthetic, after an event that names them
  checkpoint --db DIR --keys DIR        sign a checkpoint now
  report  --db DIR --pubkey KEY [--since T] [--until T] [--policy FILE] [--checkpoint FILE]
          [--payloads] [--format html|json] [--out FILE]   the sovereignty report: one HTML page

KEY is a signing.pub file (or its `name+id+key` text); writers take --force to open a log that
does not verify against its last checkpoint (recorded in the log).

exit codes: 0 ok; 1 the log or proof does not verify, the log is damaged (a file that fails its
checksum), or the log answered no (no such tenant key, a payload that cannot be read); 2 bad
usage; 3 I/O or environment (no log there, the log in use by another writer, a key file missing,
unreadable or readable by others)
)";

// --decision: one of the words records hold; any other would silently match nothing.
std::string decision_option(const std::string& text) {
  if (!audit::is_request_decision(text)) {
    throw usage_error(fmt::format("--decision must be one of {} (what the gateway records), not '{}'{}",
                                  fmt::join(audit::request_decisions, ", "), text,
                                  text == "forbid" ? ": a forbid rule's denial is recorded as deny" : ""),
                      false);
  }
  return text;
}

// --country: what records hold (audit::query_country), and only a code a record can hold: an ISO
// 3166-1 code or one geo data returns (policy/countries.hpp). Anything else would match nothing.
std::string country_option(const std::string& text) {
  const auto country = audit::query_country(text);
  if (!country) {
    throw usage_error(
        fmt::format("--country must be a two-letter country code (DE, us), private or unknown, not '{}'",
                    text),
        false);
  }
  const auto id = policy::pack_country(*country);
  if (country->size() == 2 && !policy::is_assigned_country(*id) && !policy::is_geo_data_only_country(*id)) {
    throw usage_error(
        fmt::format("--country '{}': {} is not an ISO 3166-1 country code, so no record holds it", text,
                    *country),
        false);
  }
  return *country;
}

// Positions the scan passed that hold no record: a listing without them looks complete, so a script
// must be told (the exit code) as well as a reader.
void print_missing(const audit::query_stats& stats) {
  std::uint64_t listed = 0;
  for (const auto& m : stats.missing) {
    listed += m.last - m.first + 1;
    if (m.first == m.last) {
      fmt::print(
          stderr,
          "sovgw audit query: record {} is missing from the log: deleted, or the log is damaged (sovgw "
          "audit verify names what changed)\n",
          m.first);
    } else {
      fmt::print(stderr,
                 "sovgw audit query: records {}..{} are missing from the log: deleted, or the log is damaged "
                 "(sovgw audit verify names what changed)\n",
                 m.first, m.last);
    }
  }
  if (stats.missing_count > listed) {
    fmt::print(stderr, "sovgw audit query: and {} more positions that hold no record\n",
               stats.missing_count - listed);
  }
}

// Index entries naming a record the log no longer holds: the records of the other entries were
// listed, and a listing without that one looks complete (a scan's gap line names it already).
void print_index_missing(const audit::query_stats& stats, const audit::query_filter& f) {
  if (stats.index_names_missing_count == 0) {
    return;
  }
  audit::query_filter by_index = f;
  by_index.scan_all = false;  // a request id query read its index first, then the log
  std::string index(audit::query_plan(by_index));
  index.erase(0, index.find(':') + 1);
  std::replace(index.begin(), index.end(), '_', ' ');
  for (const std::uint64_t seq : stats.index_names_missing) {
    if (std::any_of(stats.missing.begin(), stats.missing.end(),
                    [&](const audit::missing_records& m) { return seq >= m.first && seq <= m.last; })) {
      continue;
    }
    fmt::print(
        stderr,
        "sovgw audit query: the {} index names record {}, but record {} is missing from the log: deleted, "
        "or the log is damaged (sovgw audit verify names what changed); the records of its other "
        "entries are listed\n",
        index, seq, seq);
  }
  if (stats.index_names_missing_count > stats.index_names_missing.size()) {
    fmt::print(stderr, "sovgw audit query: and {} more index entries that name a missing record\n",
               stats.index_names_missing_count - stats.index_names_missing.size());
  }
}

// Index entries whose record says otherwise (a repointed entry, or a rewritten record): the filter
// does not list the record, and the record the entry should name may be missing from the answer,
// which would look complete (probe round 40).
void print_index_contradicted(const audit::query_stats& stats) {
  for (const auto& e : stats.index_contradicted) {
    const bool time = std::string_view(e.index) == "time";
    const auto value = [&](const std::string& v) {
      return time ? fmt::format("{} us", v) : fmt::format("'{}'", printable(v));
    };
    fmt::print(stderr,
               "sovgw audit query: the {} index lists record {} under {}, but the record says {}: the index "
               "is damaged, or the record was rewritten (sovgw audit verify names which); the record is not "
               "listed, and the record that entry should name may be missing from this answer (--scan "
               "reads every record)\n",
               e.index, e.seq, value(e.listed), value(e.says));
  }
  if (stats.index_contradicted_count > stats.index_contradicted.size()) {
    fmt::print(stderr, "sovgw audit query: and {} more index entries whose record says otherwise\n",
               stats.index_contradicted_count - stats.index_contradicted.size());
  }
}

int cmd_query(const options& o) {
  audit::query_filter f;
  f.scan_all = o.flag("scan");
  const time_window window = time_window_option(o);
  f.since_us = window.since_us;
  f.until_us = window.until_us;
  f.tenant = o.get("tenant");
  if (const auto decision = o.get("decision")) {
    f.decision = decision_option(*decision);
  }
  if (const auto country = o.get("country")) {
    f.country = country_option(*country);
  }
  f.cluster = o.get("cluster");
  f.model = o.get("model");
  f.request_id = o.get("request-id");
  if (o.has("limit")) {
    const std::string& text = o.need("limit");
    const bool digits =
        !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    f.limit = digits && text.size() <= 19 ? parse_count(text, "limit") : 0;  // more than 19 digits: no count
    if (f.limit == 0) {
      throw usage_error(
          fmt::format(
              "--limit must be a whole number of at least 1, not '{}' (leave it out for every record)", text),
          false);
    }
  }
  const std::string format = o.get("format").value_or("table");
  if (format != "table" && format != "jsonl" && format != "csv") {
    throw usage_error(fmt::format("--format must be table, jsonl or csv, not '{}'", format), false);
  }
  const auto s = open_reader(o);
  if (o.flag("explain")) {
    std::fprintf(stderr, "plan: %s\n", audit::query_plan(f));
  }
  if (format == "csv") {
    std::printf("%s,signed\n", record_csv_header);
  }
  // Records no checkpoint covers are flagged: anyone who can write the database could have put them
  // there (docs/auditing.md, "Query").
  const std::uint64_t signed_size = claimed_signed_size(*s, o);
  std::optional<std::pair<std::uint64_t, std::uint64_t>> unsigned_listed;  // first and last listed
  record_table table;
  std::uint64_t count = 0;
  audit::query_stats stats;
  const auto st = audit::run_query(
      *s, f,
      [&](const audit::record& r) {
        ++count;
        const bool is_signed = r.seq < signed_size;
        if (!is_signed) {
          unsigned_listed = {std::min(unsigned_listed ? unsigned_listed->first : r.seq, r.seq),
                             std::max(unsigned_listed ? unsigned_listed->second : r.seq, r.seq)};
        }
        if (format == "table") {
          table.add(r);
          return true;
        }
        std::string line = format == "jsonl" ? record_json(r) : record_csv(r);
        if (format == "jsonl") {
          line.pop_back();  // the closing brace
          line += is_signed ? R"(,"signed":true})" : R"(,"signed":false})";
        } else {
          line += is_signed ? ",true" : ",false";
        }
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        return true;
      },
      &stats);
  if (stats.scanned_after_index && stats.with_request_id > 0) {
    std::fprintf(stderr,
                 "sovgw audit query: note: the request id index %s for '%s', but reading the whole log found "
                 "%llu: the index is damaged (sovgw audit verify names the damage)\n",
                 stats.index_error.empty()
                     ? "lists no record"
                     : fmt::format("cannot be read ({})", printable(stats.index_error)).c_str(),
                 printable(*f.request_id).c_str(), static_cast<unsigned long long>(stats.with_request_id));
  }
  print_undecodable("sovgw audit query", stats.undecodable, stats.undecodable_count);
  print_misplaced("sovgw audit query", stats.misplaced, stats.misplaced_count);
  print_missing(stats);
  print_index_missing(stats, f);
  print_index_contradicted(stats);
  if (format == "table") {
    table.finish();
  }
  if (!st.is_ok()) {
    throw_status(st);
  }
  if (const auto pending = pending_notes_of(*s, o); !pending.text().empty()) {
    const auto* r = f.request_id ? pending.find(*f.request_id) : nullptr;
    std::fprintf(stderr, "sovgw audit query: note: %s\n",
                 printable(r ? pending_request_text(pending, *r) : pending.text() + ": not listed").c_str());
  }
  if (count == 0 && f.since_us && *f.since_us > now_us()) {
    std::fprintf(stderr, "sovgw audit query: note: --since is in the future: no record is that new yet\n");
  }
  if (count == 0 && f.request_id && !is_request_id(*f.request_id)) {
    std::fprintf(stderr,
                 "sovgw audit query: note: the gateway's request ids are 32 lower-case hex digits (as in its "
                 "X-Request-Id), and '%s' is not one\n",
                 printable(*f.request_id).c_str());
  }
  if (count == 0 && f.country && f.country->size() == 2) {
    // EU, AP, ... are what a geo database says of an address it places no closer than a region; a
    // reader asking for "EU" most likely meant the member states, which a policy's groups name.
    if (const std::string_view hint = policy::country_code_hint(*f.country); !hint.empty()) {
      // UK, EL: a code people write for a country recorded under its ISO code.
      std::fprintf(stderr,
                   "sovgw audit query: note: no record has the client country %s%.*s: query that code\n",
                   f.country->c_str(), static_cast<int>(hint.size()), hint.data());
    } else if (const auto id = policy::pack_country(*f.country);
               id && policy::is_geo_data_only_country(*id)) {
      std::fprintf(stderr,
                   "sovgw audit query: note: --country %s matches only records whose client a geo database "
                   "placed in no single country (%s); a record holds a country code, not a group such as the "
                   "EU's member states: query them one by one (--country DE, --country FR, ...)\n",
                   f.country->c_str(), f.country->c_str());
    }
  }
  if (format == "table") {
    std::printf("(%llu record%s)\n", static_cast<unsigned long long>(count), count == 1 ? "" : "s");
    if (unsigned_listed) {
      std::printf(
          "UNSIGNED: records listed from %llu to %llu are covered by no signed checkpoint (stored or "
          "published): "
          "nothing vouches for them yet (sovgw audit verify says which records a signature covers)\n",
          static_cast<unsigned long long>(unsigned_listed->first),
          static_cast<unsigned long long>(unsigned_listed->second));
    }
  }
  // Every record that decodes was listed; the ones that do not, records moved, and positions (or
  // index entries) that name none, fail the query at its end.
  return stats.undecodable_count > 0 || stats.misplaced_count > 0 || stats.missing_count > 0 ||
                 stats.index_names_missing_count > 0 || stats.index_contradicted_count > 0
             ? exit_failed
             : exit_ok;
}

int cmd_prove(const options& o) {
  if (o.has("old") && (o.has("seq") || o.has("request-id") || o.flag("last"))) {
    throw usage_error(
        "prove makes either an inclusion proof (--seq, --request-id, --last) or a consistency proof "
        "(--old, --new), not both");
  }
  if (o.has("new") && !o.has("old")) {
    throw usage_error("--new needs --old (a consistency proof between two checkpoint sizes)");
  }
  if (!o.has("old") && !o.has("request-id") && !o.has("seq") && !o.flag("last")) {
    throw usage_error("prove needs --request-id ID, --seq N, --last, or --old SIZE");
  }
  auto s = open_reader(o);
  result<std::string> proof = std::string();
  if (o.has("old")) {
    // make_consistency_proof reads new size 0 as "the latest": only an absent --new may mean that.
    const std::uint64_t old_size = parse_checkpoint_size(o.need("old"), "old");
    const std::uint64_t new_size = o.has("new") ? parse_checkpoint_size(o.need("new"), "new") : 0;
    proof = audit::make_consistency_proof(*s, old_size, new_size);
  } else {
    const std::uint64_t seq = record_option(*s, o);
    // A record a running gateway wrote a moment ago is signed at its next checkpoint (every
    // checkpoint_interval, 1 s by default): wait for it a few seconds rather than send someone who
    // proves the request they just made away to retry.
    const auto uncovered = [&] {
      const auto signed_size = s->newest_checkpoint_size();
      const auto count = s->leaf_count();
      return signed_size.is_ok() && count.is_ok() && seq >= signed_size.value() && seq < count.value();
    };
    if (uncovered()) {
      if (const auto why = describe_unsigned_record(*s, seq); why.altered) {
        throw command_error(exit_failed, why.text);  // as prove of a signed record that was altered
      } else if (!why.writer_running) {
        throw command_error(exit_code_for(error_code::not_found), why.text);  // nothing to wait for
      }
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool said = false;
    while (uncovered() && std::chrono::steady_clock::now() < give_up) {
      if (!said) {
        std::fprintf(stderr,
                     "sovgw audit prove: record %llu is not signed yet; waiting up to 5 s for the next "
                     "checkpoint\n",
                     static_cast<unsigned long long>(seq));
        said = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      s = open_reader(o);  // a reader sees the log as it was when opened
    }
    proof = audit::make_inclusion_proof(*s, seq);
  }
  if (!proof.is_ok()) {
    throw_status(proof.error());
  }
  std::fwrite(proof->data(), 1, proof->size(), stdout);
  return exit_ok;
}

int cmd_show(const options& o) {
  const auto pair = auditor_key_option(o);
  const auto s = open_reader(o);
  auto r = audit::read_record(*s, record_option(*s, o));
  if (!r.is_ok()) {
    throw_status(r.error());
  }
  print_record_summary(r.value());
  if (r->seq >= claimed_signed_size(*s, o)) {
    std::printf(
        "  UNSIGNED:    covered by no signed checkpoint (stored or published): nothing vouches for this "
        "record "
        "yet\n");
  }
  // What happened to stored data is told by the events logged after the record.
  auto events = audit::read_log_events(*s, r->seq + 1);
  if (!events.is_ok()) {
    throw_status(events.error());
  }
  auto p = audit::open_payload(*s, r.value(), {pair.public_key, pair.secret_key}, events.value());
  if (!p.is_ok()) {
    // Not recorded, dropped by retention, shredded, missing: an answer about the log, not a usage error.
    throw command_error(p.error().code() == error_code::io ? exit_environment : exit_failed,
                        p.error().message());
  }
  // What a client sent, shown as text: no control character reaches the terminal, nothing is cut.
  const bool forwarded = audit::is_forwarded_body(r.value(), p->prompt);
  std::printf("--- prompt (%zu bytes%s) ---\n%s\n--- completion (%zu bytes) ---\n%s\n", p->prompt.size(),
              forwarded ? "" : "; NOT the body forwarded: see below", printable(p->prompt, true).c_str(),
              p->completion.size(), printable(p->completion, true).c_str());
  if (!forwarded) {
    throw command_error(exit_failed,
                        fmt::format("the sealed prompt of record {} is not the body the record "
                                    "says was forwarded {}",
                                    r->seq, audit::forwarded_body_mismatch(r.value(), p->prompt)));
  }
  return exit_ok;
}

void close_writer(audit::audit_log& log) {
  if (auto st = log.close(); !st.is_ok()) {
    throw_status(st);
  }
}

int cmd_shred(const options& o) {
  const std::string tenant = o.need("tenant");
  if (tenant.empty()) {
    throw usage_error("--tenant must name a tenant, not be empty", false);
  }
  auto log = open_writer(o, missing_log::refuse);
  auto seq = log->shred_tenant(tenant);
  if (!seq.is_ok()) {
    if (seq.error().code() == error_code::not_found) {
      // An unknown or already shredded tenant is an answer about the log, not a usage error.
      throw command_error(exit_failed, seq.error().message());
    }
    throw_status(seq.error());
  }
  close_writer(*log);
  std::printf(
      "shredded: tenant '%s' data keys destroyed; its payloads are unreadable; recorded as record %llu\n",
      tenant.c_str(), static_cast<unsigned long long>(seq.value()));
  return exit_ok;
}

// What the admin listener refuses without a config saying otherwise (admin.min_retention's default).
constexpr std::uint64_t min_retention_us = 86400ULL * 1000000;

int cmd_retain(const options& o) {
  const std::uint64_t age = parse_age_us(o.need("older-than"));
  // Like the admin listener: payloads younger than a day are kept unless the operator insists, and
  // then the log's event says so.
  if (age < min_retention_us && !o.flag("below-minimum")) {
    throw usage_error(
        fmt::format("--older-than {} is under the 1d minimum that the admin listener keeps to "
                    "by default (admin.min_retention): give --below-minimum to drop payloads that young "
                    "(the retention event then records it)",
                    o.need("older-than")),
        false);
  }
  const std::uint64_t now = now_us();
  auto log = open_writer(o, missing_log::refuse);
  auto dropped = log->drop_payloads_before(
      now > age ? now - age : 0,
      age < min_retention_us ? "below the 1d minimum (sovgw audit retain --below-minimum)" : "");
  if (!dropped.is_ok()) {
    throw_status(dropped.error());
  }
  close_writer(*log);
  fmt::print("retention: dropped {} {} older than {}; their records stay provable\n", dropped.value(),
             plural(dropped.value(), "payload", "payloads"), o.need("older-than"));
  return exit_ok;
}

// The first of run `run`'s request ids (RUN-0 .. RUN-(n-1)) the log's request id index lists.
std::optional<std::string> held_request_id(const audit::store& s, const std::string& run, std::uint64_t n) {
  auto it = s.iterate(audit::column::idx_request, false);
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::string id = fmt::format("{}-{}", run, i);
    const std::string prefix = audit::length_prefixed(id);
    it->Seek(prefix);
    if (it->Valid() && it->key().starts_with(prefix)) {
      return id;
    }
  }
  return std::nullopt;
}

// A gateway gives every request its own id and verify holds the log to it (request_id_duplicate):
// a run whose ids the log already holds would leave it failing for good, so it is refused before
// anything is written. Without --run: req, else req2, req3, ... the first the log holds no id of.
std::string synthetic_run(const options& o, std::uint64_t n) {
  if (!std::filesystem::exists(o.need("db"))) {
    return o.get("run").value_or("req");
  }
  auto opened = try_open_reader(o);
  if (!opened.is_ok()) {
    return o.get("run").value_or("req");  // the writer's open says why
  }
  const audit::store& s = *opened.value();
  if (o.has("run")) {
    const std::string& run = o.need("run");
    if (const auto id = held_request_id(s, run, n)) {
      throw usage_error(
          fmt::format(
              "the log already holds request id '{}' of a run named '{}': a second run of "
              "that name would give records the same request ids, which verify reports as "
              "forged or replayed: nothing appended; name another run (--run NAME), or leave --run out",
              printable(*id), printable(run)),
          false);
    }
    return run;
  }
  for (std::uint64_t k = 1;; ++k) {
    std::string run = k == 1 ? std::string("req") : fmt::format("req{}", k);
    if (!held_request_id(s, run, n)) {
      return run;
    }
  }
}

int cmd_append(const options& o) {
  const std::uint64_t n = parse_count(o.need("synthetic"), "synthetic");
  if (n == 0) {
    throw usage_error("--synthetic must be at least 1", false);
  }
  const std::uint64_t bytes =
      o.has("payload-bytes") ? parse_count(o.need("payload-bytes"), "payload-bytes") : 1024;
  audit::payload_mode mode = audit::payload_mode::sealed;
  if (o.has("payload") && !audit::parse_payload_mode(o.need("payload"), mode)) {
    throw usage_error("--payload must be none, digest or sealed", false);
  }
  const std::string run = synthetic_run(o, n);
  auto log = open_writer(o, missing_log::create);
  const std::uint64_t base = now_us();
  // Fabricated traffic says so, in the log and in every record: an event before them names them
  // (one writer holds the log, so they follow it), and each one's note marks it.
  audit::record event;
  event.kind = audit::record_kind::event;
  event.timestamp_us = base;
  const std::uint64_t first = log->durable_size() + 1;
  event.note = fmt::format(
      "synthetic: records {}..{} are synthetic traffic written by sovgw audit append --synthetic (run '{}'), "
      "not requests a gateway served",
      first, first + n - 1, run);
  auto announced = log->append(std::move(event)).get();
  if (!announced.is_ok()) {
    throw_status(announced.error());
  }
  // 1 ms apart from now on, as traffic would be, but never more than 100 s ahead of the clock:
  // verify refuses a record 10 minutes ahead of its own time, and a writer's next real record
  // 10 minutes behind the last one (probe round 50: 700,000 records ran 11.7 minutes ahead, and
  // failed verify until the clock caught up, or for good once a gateway wrote to the log).
  constexpr std::uint64_t span_us = 100'000'000;
  const std::uint64_t step_us = n <= span_us / 1000 ? 1000 : std::max<std::uint64_t>(1, span_us / n);
  std::vector<std::future<result<std::uint64_t>>> pending;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto r = audit::synthetic_record(run, i, base, mode);
    r.timestamp_us = base + i * step_us;
    r.note = audit::synthetic_request_note;
    pending.push_back(log->append(std::move(r), audit::synthetic_payload(i, bytes)));
  }
  std::uint64_t last = announced.value();
  for (auto& f : pending) {
    auto r = f.get();
    if (!r.is_ok()) {
      throw_status(r.error());
    }
    last = r.value();
  }
  close_writer(*log);
  fmt::print("appended {} synthetic {} ({}..{}), announced by the event at record {}\n", n,
             plural(n, "record", "records"), announced.value() + 1, last, announced.value());
  return exit_ok;
}

int cmd_checkpoint(const options& o) {
  auto log = open_writer(o, missing_log::refuse);
  auto cp = log->checkpoint_now();
  if (!cp.is_ok()) {
    throw_status(cp.error());
  }
  close_writer(*log);
  std::printf("checkpoint: size %llu root %s\n", static_cast<unsigned long long>(cp->size),
              crypto::to_base64(cp->root).c_str());
  return exit_ok;
}

const subcommand audit_subcommands[] = {
    {"query",
     query_usage,
     {.valued = {"db", "since", "until", "tenant", "decision", "country", "cluster", "model", "request-id",
                 "limit", "format"},
      .flags = {"explain", "scan"}},
     cmd_query},
    {"verify",
     verify_usage,
     {.valued = {"db", "pubkey", "checkpoint", "save-checkpoint", "format", "auditor-key"},
      .flags = {"payloads"}},
     cmd_verify},
    {"prove",
     prove_usage,
     {.valued = {"db", "request-id", "seq", "old", "new"}, .flags = {"last"}},
     cmd_prove},
    {"verify-proof",
     verify_proof_usage,
     {.valued = {"pubkey", "format"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "exactly one proof file"},
     cmd_verify_proof},
    {"show", show_usage, {.valued = {"db", "request-id", "seq", "auditor-key"}, .flags = {"last"}}, cmd_show},
    {"shred", shred_usage, {.valued = {"db", "keys", "tenant"}, .flags = {"force"}}, cmd_shred},
    {"retain",
     retain_usage,
     {.valued = {"db", "keys", "older-than"}, .flags = {"force", "below-minimum"}},
     cmd_retain},
    {"append",
     append_usage,
     {.valued = {"db", "keys", "synthetic", "payload-bytes", "payload", "run"}, .flags = {"force"}},
     cmd_append},
    {"report",
     report_usage,
     {.valued = {"db", "pubkey", "since", "until", "policy", "checkpoint", "format", "out"},
      .flags = {"payloads"}},
     cmd_report},
    {"checkpoint", checkpoint_usage, {.valued = {"db", "keys"}, .flags = {"force"}}, cmd_checkpoint},
};

}  // namespace

int run_audit(args_t args) { return run_family("audit", audit_usage, args, audit_subcommands); }

}  // namespace sovgw::cli
