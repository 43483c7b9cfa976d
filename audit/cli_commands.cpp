#include "audit/cli_commands.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/keys.hpp"
#include "audit/log_verifier.hpp"
#include "audit/payload_vault.hpp"
#include "audit/proof_file.hpp"
#include "audit/query.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"
#include "crypto/base64.hpp"
#include "crypto/hex.hpp"
#include "crypto/key_file.hpp"

namespace sovgw::audit {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr const char* audit_usage = R"(usage: sovgw audit <command> [options]

  query   --db DIR [--since T] [--until T] [--tenant T] [--decision D] [--country CC]
          [--cluster C] [--model M] [--request-id ID] [--limit N] [--format table|jsonl|csv]
          [--scan] [--explain]
          T: RFC 3339 UTC (2026-11-27T10:00:00Z), a date (2026-11-27) or Unix seconds
          --scan: read every record, not the indexes; --explain: print the plan on stderr
  verify  --db DIR --pubkey KEY [--payloads] [--checkpoint FILE] [--save-checkpoint FILE]
          recompute the tree, check every checkpoint and the indexes; --payloads: every stored
          payload against its record too; --checkpoint: the log must still reproduce a checkpoint
          kept from an earlier visit (a checkpoint or proof file); --save-checkpoint: keep the
          latest verified checkpoint for the next visit
  prove   --db DIR (--request-id ID | --seq N) > proof.tlog-proof
  prove   --db DIR --old SIZE [--new SIZE] > consistency.proof
  verify-proof FILE --pubkey KEY        check an inclusion or consistency proof offline
  show    --db DIR (--request-id ID | --seq N) --auditor-key KEY   decrypt a payload
  shred   --db DIR --keys DIR --tenant T           destroy a tenant's payload data keys
  retain  --db DIR --keys DIR --older-than AGE     drop payloads older than AGE (90d, 12h, 30m, 10s)
  append  --db DIR --keys DIR --synthetic N [--payload-bytes B] [--payload none|digest|sealed]
          [--run NAME]                  write N synthetic records (tests and walkthroughs)
  checkpoint --db DIR --keys DIR        sign a checkpoint now

KEY is a signing.pub file (or its `name+id+key` text); writers take --force to open a log that
does not verify against its last checkpoint (recorded in the log).
)";

class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct options {
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  std::set<std::string> flags;

  [[nodiscard]] bool has(const std::string& k) const { return named.count(k) != 0; }
  [[nodiscard]] std::optional<std::string> get(const std::string& k) const {
    auto it = named.find(k);
    return it == named.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  [[nodiscard]] std::string need(const std::string& k) const {
    auto v = get(k);
    if (!v) {
      throw usage_error(fmt::format("missing --{}", k));
    }
    return *v;
  }
};

options parse_options(std::span<const std::string_view> args, const std::set<std::string>& valued,
                      const std::set<std::string>& boolean) {
  options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a.starts_with("--")) {
      std::string name(a.substr(2));
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (boolean.count(name) != 0 && !inline_value) {
        o.flags.insert(name);
        continue;
      }
      if (valued.count(name) == 0) {
        throw usage_error(fmt::format("unknown option --{}", name));
      }
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          throw usage_error(fmt::format("--{} needs a value", name));
        }
        inline_value = std::string(args[++i]);
      }
      if (o.named.count(name) != 0) {
        throw usage_error(fmt::format("--{} given twice", name));
      }
      o.named[name] = *inline_value;
    } else {
      o.positional.emplace_back(a);
    }
  }
  return o;
}

std::uint64_t parse_count(const std::string& text, const char* what) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw usage_error(fmt::format("--{} must be a non-negative integer, got '{}'", what, text));
  }
  return v;
}

std::uint64_t parse_checkpoint_size(const std::string& text, const char* what) {
  const std::uint64_t size = parse_count(text, what);
  if (size == 0) {
    throw usage_error(
        fmt::format("--{} must be a checkpoint size of at least 1 (a tree size from `verify`)", what));
  }
  return size;
}

constexpr std::uint64_t us_per_second = 1000000;

// Exactly `n` ASCII digits at `pos`.
bool read_digits(std::string_view text, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

bool char_at(std::string_view text, std::size_t pos, char c) { return pos < text.size() && text[pos] == c; }

// "2026-11-27" or "2026-11-27T10:00:00[.ffffff]Z"; nullopt for anything else, including
// impossible dates (2026-02-30): timegm would roll those over into the next month.
std::optional<std::uint64_t> read_calendar_time_us(std::string_view text) {
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!read_digits(text, 0, 4, y) || !char_at(text, 4, '-') || !read_digits(text, 5, 2, mo) ||
      !char_at(text, 7, '-') || !read_digits(text, 8, 2, d)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(y)), std::chrono::month(mo),
                                         std::chrono::day(d)};
  if (!date.ok() || y < 1970) {
    return std::nullopt;
  }
  std::uint64_t frac_us = 0;
  if (text.size() > 10) {
    if (!char_at(text, 10, 'T') || !read_digits(text, 11, 2, h) || !char_at(text, 13, ':') ||
        !read_digits(text, 14, 2, mi) || !char_at(text, 16, ':') || !read_digits(text, 17, 2, s) || h > 23 ||
        mi > 59 || s > 60) {
      return std::nullopt;
    }
    std::size_t pos = 19;
    if (char_at(text, pos, '.')) {
      const std::size_t first = ++pos;
      unsigned digit = 0;
      for (; pos < text.size() && read_digits(text, pos, 1, digit); ++pos) {
        if (pos - first < 6) {
          frac_us = frac_us * 10 + digit;
        }
      }
      if (pos == first) {
        return std::nullopt;
      }
      for (std::size_t n = pos - first; n < 6; ++n) {
        frac_us *= 10;
      }
    }
    if (text.substr(pos) != "Z") {
      return std::nullopt;
    }
  }
  const auto days = static_cast<std::uint64_t>(std::chrono::sys_days(date).time_since_epoch().count());
  return ((days * 24 + h) * 60 + mi) * 60 * us_per_second + s * us_per_second + frac_us;
}

// RFC 3339 UTC ("2026-11-27T10:00:00Z", optional fraction), a date, or Unix seconds.
std::uint64_t parse_time(const std::string& text, const char* what) {
  std::optional<std::uint64_t> us;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    std::uint64_t seconds = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), seconds).ec != std::errc() ||
        seconds > UINT64_MAX / us_per_second) {
      throw usage_error(fmt::format("--{}: {} Unix seconds is too far in the future (at most {})", what, text,
                                    UINT64_MAX / us_per_second));
    }
    us = seconds * us_per_second;
  } else {
    us = read_calendar_time_us(text);
  }
  if (!us) {
    throw usage_error(
        fmt::format("--{}: cannot read '{}' as a time (use 2026-11-27T10:00:00Z, 2026-11-27 or Unix "
                    "seconds)",
                    what, text));
  }
  return *us;
}

std::uint64_t parse_age_us(const std::string& text) {
  const auto seconds = parse_age_seconds(text);
  if (!seconds && text.size() >= 2 && std::string_view("dhms").find(text.back()) == std::string_view::npos) {
    throw usage_error(fmt::format("--older-than: unknown unit in '{}' (use d, h, m or s)", text));
  }
  if (!seconds) {
    throw usage_error(fmt::format("--older-than: cannot read '{}' (use e.g. 90d, 12h, 30m, 10s)", text));
  }
  return *seconds * 1000000;
}

std::string format_time(std::uint64_t us) {
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06}Z", buf, us % 1000000);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += (i == 0 ? "" : sep) + v[i];
  }
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (const char ch : s) {
    out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  }
  return out + "\"";
}

std::string record_json(const record& r) {
  std::vector<std::string> classes;
  std::vector<std::string> rules;
  for (const auto& c : r.data_classes) {
    classes.push_back(json_string(c));
  }
  for (const auto& c : r.rule_ids) {
    rules.push_back(json_string(c));
  }
  return fmt::format(
      R"({{"seq":{},"time":{},"kind":{},"request_id":{},"tenant":{},"client_country":{},"country_source":{},)"
      R"("client_ip":{},"method":{},"path":{},"model":{},"data_classes":[{}],"decision":{},"rule_ids":[{}],)"
      R"("policy_version":{},"cluster":{},"cluster_country":{},"status":{},"bytes_in":{},"bytes_out":{},)"
      R"("latency_us":{},"prompt_tokens":{},"completion_tokens":{},"error_kind":{},"payload":{},"payload_sha256":{},)"
      R"("note":{}}})",
      r.seq, json_string(format_time(r.timestamp_us)), json_string(to_string(r.kind)),
      json_string(r.request_id), json_string(r.tenant), json_string(r.client_country),
      json_string(r.country_source), json_string(r.client_ip), json_string(r.method), json_string(r.path),
      json_string(r.model), join(classes, ","), json_string(r.decision), join(rules, ","),
      json_string(r.policy_version), json_string(r.cluster), json_string(r.cluster_country), r.status,
      r.bytes_in, r.bytes_out, r.latency_us, r.prompt_tokens, r.completion_tokens, json_string(r.error_kind),
      json_string(to_string(r.payload)), json_string(crypto::to_hex(r.payload_digest)), json_string(r.note));
}

constexpr const char* csv_header =
    "seq,time,kind,request_id,tenant,client_country,country_source,client_ip,method,path,model,data_classes,"
    "decision,rule_ids,policy_version,cluster,cluster_country,status,bytes_in,bytes_out,latency_us,prompt_"
    "tokens,"
    "completion_tokens,error_kind,payload,payload_sha256,note";

std::string record_csv(const record& r) {
  std::vector<std::string> f = {std::to_string(r.seq),
                                format_time(r.timestamp_us),
                                to_string(r.kind),
                                r.request_id,
                                r.tenant,
                                r.client_country,
                                r.country_source,
                                r.client_ip,
                                r.method,
                                r.path,
                                r.model,
                                join(r.data_classes, ";"),
                                r.decision,
                                join(r.rule_ids, ";"),
                                r.policy_version,
                                r.cluster,
                                r.cluster_country,
                                std::to_string(r.status),
                                std::to_string(r.bytes_in),
                                std::to_string(r.bytes_out),
                                std::to_string(r.latency_us),
                                std::to_string(r.prompt_tokens),
                                std::to_string(r.completion_tokens),
                                r.error_kind,
                                to_string(r.payload),
                                crypto::to_hex(r.payload_digest),
                                r.note};
  std::string out;
  for (std::size_t i = 0; i < f.size(); ++i) {
    out += (i == 0 ? "" : ",") + csv_field(f[i]);
  }
  return out;
}

std::string record_table_row(const record& r) {
  return fmt::format("{:>8}  {}  {:<24} {:<10} {:<3} {:<7} {:<24} {:<8} {:<3} {:>3}  {}", r.seq,
                     format_time(r.timestamp_us).substr(0, 23), r.request_id, r.tenant, r.client_country,
                     r.decision, join(r.rule_ids, ","), r.cluster.empty() ? "-" : r.cluster,
                     r.cluster_country.empty() ? "-" : r.cluster_country, r.status,
                     r.kind == record_kind::event ? r.note : r.model);
}

void print_record_summary(const record& r) {
  std::printf("record %llu (%s) at %s\n", static_cast<unsigned long long>(r.seq), to_string(r.kind),
              format_time(r.timestamp_us).c_str());
  if (r.kind == record_kind::event) {
    std::printf("  event:       %s\n", r.note.c_str());
    if (!r.tenant.empty()) {
      std::printf("  tenant:      %s\n", r.tenant.c_str());
    }
    return;
  }
  std::printf("  request:     %s  tenant %s  %s %s  model %s\n", r.request_id.c_str(), r.tenant.c_str(),
              r.method.c_str(), r.path.c_str(), r.model.c_str());
  std::printf("  client:      %s (country %s, from %s)\n", r.client_ip.c_str(),
              r.client_country.empty() ? "unknown" : r.client_country.c_str(), r.country_source.c_str());
  std::printf("  data:        %s\n",
              r.data_classes.empty() ? "(none declared or detected)" : join(r.data_classes, ", ").c_str());
  std::printf("  decision:    %s by rule(s) %s, policy %s\n", r.decision.c_str(),
              join(r.rule_ids, ", ").c_str(), r.policy_version.c_str());
  std::printf("  destination: %s\n",
              r.cluster.empty() ? "none (not forwarded)"
                                : fmt::format("cluster {} in {}", r.cluster, r.cluster_country).c_str());
  std::printf("  outcome:     status %u%s, %llu ms, tokens %llu+%llu\n", r.status,
              r.error_kind.empty() ? "" : (", error " + r.error_kind).c_str(),
              static_cast<unsigned long long>(r.latency_us / 1000),
              static_cast<unsigned long long>(r.prompt_tokens),
              static_cast<unsigned long long>(r.completion_tokens));
  std::printf("  payload:     %s%s\n", to_string(r.payload),
              r.payload_digest.empty() ? "" : (" sha256 " + crypto::to_hex(r.payload_digest)).c_str());
}

int fail(const status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return s.code() == error_code::verification_failed ? exit_failed : exit_usage;
}

std::unique_ptr<store> open_reader(const options& o) {
  auto s = store::open(o.need("db"), store::open_mode::read_only);
  if (!s.is_ok()) {
    throw usage_error(s.error().message());
  }
  return std::move(s.value());
}

enum class missing_log { create, refuse };

std::unique_ptr<audit_log> open_writer(const options& o, missing_log missing) {
  log_config config;
  config.db_dir = o.need("db");
  config.key_dir = o.need("keys");
  config.allow_unverified_open = o.flags.count("force") != 0;
  config.create_if_missing = missing == missing_log::create;
  auto log = audit_log::open(config);
  if (!log.is_ok()) {
    std::string message = log.error().message();
    if (message.find("in use by another writer") != std::string::npos) {
      message +=
          "\n(a running gateway holds it: shred and retain through its admin listener instead, e.g. "
          "curl -X POST 'http://127.0.0.1:9901/admin/audit/shred?tenant=T' or "
          "'.../admin/audit/retain?older_than=90d')";
    }
    throw usage_error(message);
  }
  return std::move(log.value());
}

// The seq of the record named by --seq or --request-id (the first such record).
std::uint64_t find_record(const store& s, const options& o) {
  if (o.has("seq")) {
    return parse_count(o.need("seq"), "seq");
  }
  query_filter f;
  f.request_id = o.need("request-id");
  f.limit = 1;
  std::optional<std::uint64_t> seq;
  if (auto st = run_query(s, f,
                          [&](const record& r) {
                            seq = r.seq;
                            return false;
                          });
      !st.is_ok()) {
    throw usage_error(st.message());
  }
  if (!seq) {
    throw usage_error(fmt::format("no record with request id '{}'", *f.request_id));
  }
  return *seq;
}

record load_record(const store& s, std::uint64_t seq) {
  auto leaf = s.get(column::leaves, be64(seq));
  if (!leaf.is_ok()) {
    throw usage_error(leaf.error().message());
  }
  if (!leaf->has_value()) {
    throw usage_error(fmt::format("there is no record {}", seq));
  }
  auto r = decode({reinterpret_cast<const std::uint8_t*>((*leaf)->data()), (*leaf)->size()});
  if (!r.is_ok()) {
    throw usage_error(fmt::format("record {}: {}", seq, r.error().message()));
  }
  return std::move(r.value());
}

int cmd_query(std::span<const std::string_view> args) {
  const auto o = parse_options(args,
                               {"db", "since", "until", "tenant", "decision", "country", "cluster", "model",
                                "request-id", "limit", "format"},
                               {"explain", "scan"});
  query_filter f;
  f.scan_all = o.flags.count("scan") != 0;
  if (o.has("since")) {
    f.since_us = parse_time(o.need("since"), "since");
  }
  if (o.has("until")) {
    f.until_us = parse_time(o.need("until"), "until");
  }
  f.tenant = o.get("tenant");
  f.decision = o.get("decision");
  f.country = o.get("country");
  f.cluster = o.get("cluster");
  f.model = o.get("model");
  f.request_id = o.get("request-id");
  if (o.has("limit")) {
    f.limit = parse_count(o.need("limit"), "limit");
  }
  const std::string format = o.get("format").value_or("table");
  if (format != "table" && format != "jsonl" && format != "csv") {
    throw usage_error(fmt::format("--format must be table, jsonl or csv, not '{}'", format));
  }
  if (!o.positional.empty()) {
    throw usage_error(fmt::format("unexpected argument '{}'", o.positional[0]));
  }
  const auto s = open_reader(o);
  if (o.flags.count("explain") != 0) {
    std::fprintf(stderr, "plan: %s\n", query_plan(f));
  }
  if (format == "csv") {
    std::puts(csv_header);
  } else if (format == "table") {
    std::printf("%8s  %-23s  %-24s %-10s %-3s %-7s %-24s %-8s %-3s %3s  %s\n", "seq", "time (UTC)",
                "request id", "tenant", "cc", "effect", "rules", "cluster", "at", "st", "model / event");
  }
  std::uint64_t count = 0;
  const auto st = run_query(*s, f, [&](const record& r) {
    const std::string line = format == "jsonl" ? record_json(r)
                             : format == "csv" ? record_csv(r)
                                               : record_table_row(r);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    ++count;
    return true;
  });
  if (!st.is_ok()) {
    return fail(st);
  }
  if (format == "table") {
    std::printf("(%llu record%s)\n", static_cast<unsigned long long>(count), count == 1 ? "" : "s");
  }
  return exit_ok;
}

// A signed checkpoint an auditor kept: a checkpoint note, or the one a proof file ends with.
crypto::checkpoint load_held_checkpoint(const std::string& path, const crypto::note_verifier& key) {
  std::string text;
  try {
    text = crypto::read_small_file(path, "checkpoint file");
  } catch (const crypto::key_file_error& e) {
    throw usage_error(e.what());
  }
  auto cp = read_kept_checkpoint(text, key);
  if (!cp.is_ok()) {
    throw usage_error(fmt::format("--checkpoint {}: {}", path, cp.error().message()));
  }
  return cp.value();
}

int cmd_verify(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"db", "pubkey", "checkpoint", "save-checkpoint"}, {"payloads"});
  const auto key = load_verifier(o.need("pubkey"));
  verify_options options;
  if (o.has("checkpoint")) {
    options.held.push_back(load_held_checkpoint(o.need("checkpoint"), key));
  }
  const auto s = open_reader(o);
  const auto t0 = std::chrono::steady_clock::now();
  const auto report = verify_log(*s, key, options);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!report.ok()) {
    std::printf("FAILED: the audit log at %s does not verify\n", s->dir().c_str());
    bool unknown_signer = false;
    for (const auto& p : report.problems) {
      std::printf("  - %s\n", p.c_str());
      unknown_signer =
          unknown_signer ||
          p.find(crypto::to_string(crypto::note_verdict::no_known_signature)) != std::string::npos;
    }
    if (unknown_signer && report.checkpoints == 0) {
      std::printf(
          "none of the checkpoints is signed by the key %s+%08x given with --pubkey: wrong public key "
          "for this log?\n",
          key.name.c_str(), key.key_id);
    }
    if (report.first_bad_record) {
      std::printf("first record that does not match: %llu\n",
                  static_cast<unsigned long long>(*report.first_bad_record));
    }
    return exit_failed;
  }
  if (report.checkpoints == 0) {
    std::printf("FAILED: %llu records but no signed checkpoint by %s\n",
                static_cast<unsigned long long>(report.records), key.name.c_str());
    return exit_failed;
  }
  std::printf(
      "OK: %llu records, %llu signed checkpoints verified, %llu index entries match (%.0f leaves/s)\n",
      static_cast<unsigned long long>(report.records), static_cast<unsigned long long>(report.checkpoints),
      static_cast<unsigned long long>(report.index_entries),
      secs > 0 ? static_cast<double>(report.records) / secs : 0.0);
  std::printf("latest checkpoint: size %llu root %s\n", static_cast<unsigned long long>(report.latest->size),
              crypto::to_base64(report.latest->root).c_str());
  for (const auto& held : options.held) {
    std::printf("the checkpoint you hold (size %llu) is reproduced: the log only grew since\n",
                static_cast<unsigned long long>(held.size));
  }
  if (o.has("save-checkpoint")) {
    auto note = s->get(column::checkpoints, be64(report.latest->size));
    if (!note.is_ok() || !note->has_value()) {
      return fail(note.is_ok() ? status{error_code::not_found, "the latest checkpoint vanished"}
                               : note.error());
    }
    // Written aside and renamed: the file being replaced may be the checkpoint just checked.
    const std::string path = o.need("save-checkpoint");
    const std::string partial = path + ".partial";
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << **note;
    out.close();
    if (!out || std::rename(partial.c_str(), path.c_str()) != 0) {
      std::remove(partial.c_str());
      throw usage_error(fmt::format("cannot write {}", path));
    }
    std::printf("saved the checkpoint at size %llu to %s: give it to --checkpoint next time\n",
                static_cast<unsigned long long>(report.latest->size), o.need("save-checkpoint").c_str());
  }
  if (report.records > report.latest->size) {
    std::printf("note: %llu newer record(s) are not covered by a checkpoint yet\n",
                static_cast<unsigned long long>(report.records - report.latest->size));
  }
  if (report.forced_opens > 0) {
    std::printf("note: the log records %llu forced open(s) over a failed verification\n",
                static_cast<unsigned long long>(report.forced_opens));
  }
  if (o.flags.count("payloads") != 0) {
    const auto payloads = verify_payloads(*s);
    if (!payloads.ok()) {
      std::printf("FAILED: stored payloads of the audit log at %s do not match their records\n",
                  s->dir().c_str());
      for (const auto& p : payloads.problems) {
        std::printf("  - %s\n", p.c_str());
      }
      if (payloads.first_bad_record) {
        std::printf("first record that does not match: %llu\n",
                    static_cast<unsigned long long>(*payloads.first_bad_record));
      }
      return exit_failed;
    }
    std::printf("payloads: %llu stored payload(s) match the hashes their records commit to\n",
                static_cast<unsigned long long>(payloads.checked));
  }
  return exit_ok;
}

int cmd_prove(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"db", "request-id", "seq", "old", "new"}, {});
  const auto s = open_reader(o);
  result<std::string> proof = std::string();
  if (o.has("old") && (o.has("seq") || o.has("request-id"))) {
    throw usage_error(
        "prove makes either an inclusion proof (--seq, --request-id) or a consistency proof "
        "(--old, --new), not both");
  }
  if (o.has("new") && !o.has("old")) {
    throw usage_error("--new needs --old (a consistency proof between two checkpoint sizes)");
  }
  if (o.has("old")) {
    // make_consistency_proof reads new size 0 as "the latest": only an absent --new may mean that.
    const std::uint64_t old_size = parse_checkpoint_size(o.need("old"), "old");
    const std::uint64_t new_size = o.has("new") ? parse_checkpoint_size(o.need("new"), "new") : 0;
    proof = make_consistency_proof(*s, old_size, new_size);
  } else {
    if (!o.has("request-id") && !o.has("seq")) {
      throw usage_error("prove needs --request-id ID, --seq N, or --old SIZE");
    }
    proof = make_inclusion_proof(*s, find_record(*s, o));
  }
  if (!proof.is_ok()) {
    return fail(proof.error());
  }
  std::fwrite(proof->data(), 1, proof->size(), stdout);
  return exit_ok;
}

int cmd_verify_proof(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"pubkey"}, {});
  if (o.positional.size() != 1) {
    throw usage_error("verify-proof needs exactly one proof file");
  }
  const auto key = load_verifier(o.need("pubkey"));
  std::string text;
  try {
    text = crypto::read_small_file(o.positional[0], "proof file");
  } catch (const crypto::key_file_error& e) {
    throw usage_error(e.what());
  }
  if (text.starts_with(consistency_proof_header)) {
    auto v = verify_consistency_proof(text, key);
    if (!v.is_ok()) {
      return fail(v.error());
    }
    std::printf(
        "OK: checkpoint at size %llu is consistent with checkpoint at size %llu (append-only), both signed "
        "by %s\n",
        static_cast<unsigned long long>(v->old_checkpoint.size),
        static_cast<unsigned long long>(v->new_checkpoint.size), key.name.c_str());
    return exit_ok;
  }
  auto v = verify_inclusion_proof(text, key);
  if (!v.is_ok()) {
    return fail(v.error());
  }
  std::printf("OK: record %llu is included in the log %s at tree size %llu (root %s)\n",
              static_cast<unsigned long long>(v->rec.seq), v->checkpoint.origin.c_str(),
              static_cast<unsigned long long>(v->checkpoint.size),
              crypto::to_base64(v->checkpoint.root).c_str());
  print_record_summary(v->rec);
  return exit_ok;
}

int cmd_show(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"db", "request-id", "seq", "auditor-key"}, {});
  const auto pair = load_auditor_key(o.need("auditor-key"));
  const auto s = open_reader(o);
  const record r = load_record(*s, find_record(*s, o));
  print_record_summary(r);
  auto p = open_payload(*s, r, pair.public_key, pair.secret_key);
  if (!p.is_ok()) {
    return fail(p.error());
  }
  std::printf("--- prompt (%zu bytes) ---\n%s\n--- completion (%zu bytes) ---\n%s\n", p->prompt.size(),
              p->prompt.c_str(), p->completion.size(), p->completion.c_str());
  return exit_ok;
}

int cmd_shred(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"db", "keys", "tenant"}, {"force"});
  const std::string tenant = o.need("tenant");
  if (tenant.empty()) {
    throw usage_error("--tenant must name a tenant, not be empty");
  }
  auto log = open_writer(o, missing_log::refuse);
  auto seq = log->shred_tenant(tenant);
  if (!seq.is_ok()) {
    if (seq.error().code() == error_code::not_found) {
      // An unknown or already shredded tenant is an answer about the log, not a usage error.
      std::fprintf(stderr, "error: %s\n", seq.error().message().c_str());
      return exit_failed;
    }
    return fail(seq.error());
  }
  if (auto st = log->close(); !st.is_ok()) {
    return fail(st);
  }
  std::printf(
      "shredded: tenant '%s' data keys destroyed; its payloads are unreadable; recorded as record %llu\n",
      tenant.c_str(), static_cast<unsigned long long>(seq.value()));
  return exit_ok;
}

int cmd_retain(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"db", "keys", "older-than"}, {"force"});
  const std::uint64_t age = parse_age_us(o.need("older-than"));
  const auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count());
  auto log = open_writer(o, missing_log::refuse);
  auto dropped = log->drop_payloads_before(now > age ? now - age : 0);
  if (!dropped.is_ok()) {
    return fail(dropped.error());
  }
  if (auto st = log->close(); !st.is_ok()) {
    return fail(st);
  }
  std::printf("retention: dropped %llu payload(s) older than %s; their records stay provable\n",
              static_cast<unsigned long long>(dropped.value()), o.need("older-than").c_str());
  return exit_ok;
}

int cmd_append(std::span<const std::string_view> args) {
  const auto o =
      parse_options(args, {"db", "keys", "synthetic", "payload-bytes", "payload", "run"}, {"force"});
  const std::uint64_t n = parse_count(o.need("synthetic"), "synthetic");
  const std::uint64_t bytes =
      o.has("payload-bytes") ? parse_count(o.need("payload-bytes"), "payload-bytes") : 1024;
  payload_mode mode = payload_mode::sealed;
  if (o.has("payload") && !parse_payload_mode(o.need("payload"), mode)) {
    throw usage_error("--payload must be none, digest or sealed");
  }
  const std::string run = o.get("run").value_or("req");
  auto log = open_writer(o, missing_log::create);
  const auto base = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count());
  std::vector<std::future<result<std::uint64_t>>> pending;
  for (std::uint64_t i = 0; i < n; ++i) {
    pending.push_back(log->append(synthetic_record(run, i, base, mode), synthetic_payload(i, bytes)));
  }
  std::uint64_t last = 0;
  for (auto& f : pending) {
    auto r = f.get();
    if (!r.is_ok()) {
      return fail(r.error());
    }
    last = r.value();
  }
  if (auto st = log->close(); !st.is_ok()) {
    return fail(st);
  }
  std::printf("appended %llu record(s); last seq %llu\n", static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(last));
  return exit_ok;
}

int cmd_checkpoint(std::span<const std::string_view> args) {
  const auto o = parse_options(args, {"db", "keys"}, {"force"});
  auto log = open_writer(o, missing_log::refuse);
  auto cp = log->checkpoint_now();
  if (!cp.is_ok()) {
    return fail(cp.error());
  }
  if (auto st = log->close(); !st.is_ok()) {
    return fail(st);
  }
  std::printf("checkpoint: size %llu root %s\n", static_cast<unsigned long long>(cp->size),
              crypto::to_base64(cp->root).c_str());
  return exit_ok;
}

}  // namespace

int run_audit_command(std::span<const std::string_view> args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(audit_usage, args.empty() ? stderr : stdout);
    return args.empty() ? exit_usage : exit_ok;
  }
  const std::string_view cmd = args[0];
  const auto rest = args.subspan(1);
  try {
    if (cmd == "query") {
      return cmd_query(rest);
    }
    if (cmd == "verify") {
      return cmd_verify(rest);
    }
    if (cmd == "prove") {
      return cmd_prove(rest);
    }
    if (cmd == "verify-proof") {
      return cmd_verify_proof(rest);
    }
    if (cmd == "show") {
      return cmd_show(rest);
    }
    if (cmd == "shred") {
      return cmd_shred(rest);
    }
    if (cmd == "retain") {
      return cmd_retain(rest);
    }
    if (cmd == "append") {
      return cmd_append(rest);
    }
    if (cmd == "checkpoint") {
      return cmd_checkpoint(rest);
    }
  } catch (const usage_error& e) {
    std::fprintf(stderr, "sovgw audit %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(), e.what());
    return exit_usage;
  } catch (const crypto::key_file_error& e) {
    std::fprintf(stderr, "sovgw audit %.*s: %s\n", static_cast<int>(cmd.size()), cmd.data(), e.what());
    return exit_usage;
  }
  std::fprintf(stderr, "sovgw audit: unknown command '%.*s'\n\n%s", static_cast<int>(cmd.size()), cmd.data(),
               audit_usage);
  return exit_usage;
}

int run_keys_command(std::span<const std::string_view> args) {
  constexpr const char* keys_usage =
      "usage: sovgw keys init DIR [--name LOG_NAME]\n"
      "  creates signing.key/.pub (checkpoint signing), kek.key (payload key wrapping) and\n"
      "  auditor.key/.pub (payload decryption by auditors) in DIR; prints the public keys\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(keys_usage, args.empty() ? stderr : stdout);
    return args.empty() ? exit_usage : exit_ok;
  }
  try {
    if (args[0] != "init") {
      throw usage_error(fmt::format("unknown command '{}'\n{}", args[0], keys_usage));
    }
    const auto o = parse_options(args.subspan(1), {"name"}, {});
    if (o.positional.size() != 1) {
      throw usage_error(std::string("keys init needs exactly one directory\n") + keys_usage);
    }
    const std::string& dir = o.positional[0];
    const auto keys = init_keys(dir, o.get("name").value_or(default_log_name));
    std::printf("created keys in %s (secret key files are mode 0600)\n", dir.c_str());
    std::printf("checkpoint verifier key (%s/signing.pub, give to auditors):\n  %s\n", dir.c_str(),
                keys.signing_vkey.c_str());
    std::printf("auditor public key (%s/auditor.pub):\n  %s\n", dir.c_str(), keys.auditor_public.c_str());
    std::printf(
        "move %s/auditor.key to the auditors; the gateway needs signing.key, kek.key and auditor.pub\n",
        dir.c_str());
    return exit_ok;
  } catch (const usage_error& e) {
    std::fprintf(stderr, "sovgw keys: %s\n", e.what());
  } catch (const crypto::key_file_error& e) {
    std::fprintf(stderr, "sovgw keys: %s\n", e.what());
  }
  return exit_usage;
}

}  // namespace sovgw::audit
