#include "cli/audit_output.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "cli/printable.hpp"
#include "common/plural.hpp"
#include "common/rfc3339.hpp"
#include "common/utf8.hpp"
#include "crypto/base64.hpp"
#include "crypto/hex.hpp"
#include "crypto/jwk.hpp"

namespace sovgw::cli {
namespace {

using audit::record;
using audit::record_kind;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += (i == 0 ? "" : sep) + v[i];
  }
  return out;
}

// RFC 4180. The values a client chose (a model name, a path) reach the CSV as the table shows them
// (printable(): a control character, a byte that is not UTF-8, a bidirectional control and a
// backslash are escaped, so `cat` of a CSV can neither drive the terminal nor forge a row;
// `query --format jsonl` keeps them as recorded), and a cell that a spreadsheet would read as a
// formula (it starts with = + - @; a tab or a carriage return, OWASP's CSV injection list's
// others, are escaped) starts with a single quote, which makes it text.
std::string csv_field(std::string_view value) {
  const std::string shown = printable(value);
  const bool formula =
      !shown.empty() && std::string_view("=+-@").find(shown.front()) != std::string_view::npos;
  const std::string s = formula ? "'" + shown : shown;
  if (s.find_first_of(",\"") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (const char ch : s) {
    out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  }
  return out + "\"";
}

}  // namespace

std::string format_time(std::uint64_t us) {
  return format_rfc3339_us(us).value_or(fmt::format("after 9999-12-31 ({} us since 1970)", us));
}

std::string format_time_to(std::uint64_t us, std::size_t length) {
  const auto t = format_rfc3339_us(us);
  return t ? t->substr(0, length) : std::string("after 9999-12-31");
}

std::string json_time(std::uint64_t us) {
  const auto t = format_rfc3339_us(us);
  return t ? json_string(*t) : std::string("null");
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = 0;
    const std::size_t n = utf8_sequence_at(s, i, c);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (hidden_from_terminals(c)) {
      out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(c));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out + "\"";
}

std::string key_fingerprint(const crypto::note_verifier& key) {
  return crypto::ed25519_jwk_thumbprint(key.public_key);
}

std::string key_description(const crypto::note_verifier& key) {
  return fmt::format("{} (SHA-256 fingerprint {})", key.label(), key_fingerprint(key));
}

std::string json_key(const crypto::note_verifier& key) {
  return fmt::format(R"({{"name":{},"id":"{:08x}","vkey":{},"fingerprint":{}}})", json_string(key.name),
                     key.key_id, json_string(key.to_vkey()), json_string(key_fingerprint(key)));
}

std::string json_checkpoint(const std::optional<crypto::checkpoint>& cp) {
  if (!cp) {
    return "null";
  }
  return fmt::format(R"({{"origin":{},"size":{},"root":{}}})", json_string(cp->origin), cp->size,
                     json_string(crypto::to_base64(cp->root)));
}

std::string json_optional(const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : "null"; }

std::string json_problem(std::string_view kind, const std::optional<std::uint64_t>& record,
                         std::string_view text) {
  return fmt::format(R"({{"kind":{},"record":{},"text":{}}})", json_string(kind), json_optional(record),
                     json_string(text));
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
      R"({{"seq":{},"time":{},"kind":{},"request_id":{},"tenant":{},"key_id":{},"client_country":{},"country_source":{},)"
      R"("client_ip":{},"method":{},"path":{},"model":{},"data_classes":[{}],"decision":{},"rule_ids":[{}],)"
      R"("policy_version":{},"cluster":{},"cluster_country":{},"status":{},"bytes_in":{},"bytes_out":{},)"
      R"("latency_us":{},"prompt_tokens":{},"completion_tokens":{},"error_kind":{},"payload":{},"payload_sha256":{},)"
      R"("note":{},"endpoint":{},"endpoint_country":{},"signature_keyid":{},"forwarded_digest":{},)"
      R"("endpoint_rtt_us":{},"distance_bound_km":{},"redactions":{},"endpoint_address":{},)"
      R"("endpoint_address_country":{},"data_key_version":{},"data_key_digest":{},"auditor_key":{}}})",
      r.seq, json_time(r.timestamp_us), json_string(to_string(r.kind)), json_string(r.request_id),
      json_string(r.tenant), json_string(r.key_id), json_string(r.client_country),
      json_string(r.country_source), json_string(r.client_ip), json_string(r.method), json_string(r.path),
      json_string(r.model), join(classes, ","), json_string(r.decision), join(rules, ","),
      json_string(r.policy_version), json_string(r.cluster), json_string(r.cluster_country), r.status,
      r.bytes_in, r.bytes_out, r.latency_us, r.prompt_tokens, r.completion_tokens, json_string(r.error_kind),
      json_string(to_string(r.payload)), json_string(crypto::to_hex(r.payload_digest)), json_string(r.note),
      json_string(r.endpoint), json_string(r.endpoint_country), json_string(r.signature_keyid),
      json_string(r.forwarded_digest), r.endpoint_rtt_us, r.distance_bound_km, r.redactions,
      json_string(r.endpoint_address), json_string(r.endpoint_address_country), r.data_key_version,
      json_string(r.data_key_digest), json_string(r.auditor_key));
}

const char* const record_csv_header =
    "seq,time,kind,request_id,tenant,client_country,country_source,client_ip,method,path,model,"
    "data_classes,decision,rule_ids,policy_version,cluster,cluster_country,status,bytes_in,bytes_out,"
    "latency_us,prompt_tokens,completion_tokens,error_kind,payload,payload_sha256,note,"
    // The evidence fields came later: after `note`, so that a reader by position keeps working.
    "key_id,endpoint,endpoint_country,signature_keyid,forwarded_digest,endpoint_rtt_us,distance_bound_km,"
    "redactions,endpoint_address,endpoint_address_country,data_key_version,data_key_digest,auditor_key";

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
                                r.note,
                                r.key_id,
                                r.endpoint,
                                r.endpoint_country,
                                r.signature_keyid,
                                r.forwarded_digest,
                                std::to_string(r.endpoint_rtt_us),
                                std::to_string(r.distance_bound_km),
                                std::to_string(r.redactions),
                                r.endpoint_address,
                                r.endpoint_address_country,
                                std::to_string(r.data_key_version),
                                r.data_key_digest,
                                r.auditor_key};
  std::string out;
  for (std::size_t i = 0; i < f.size(); ++i) {
    out += (i == 0 ? "" : ",") + csv_field(f[i]);
  }
  return out;
}

namespace {

// `error`: the record's error_kind, which a status alone does not say: a 200 whose body the
// cluster cut short (upstream_reset_mid_body) went out as a 200 (probe round 39: the table showed a
// clean 200).
const std::vector<std::string> table_header = {"seq",      "time (UTC)",      "request id",   "tenant", "cc",
                                               "decision", "rules",           "cluster",      "at",     "st",
                                               "error",    "tokens (in+out)", "model / event"};
constexpr std::size_t right_aligned[] = {0, 9};  // seq, status

// `r` with every text field printable (a value a writer chose: it must not forge a line of output).
record printable_fields(const record& r) {
  record p = r;
  audit::for_each_text(p, [](std::string& s) { s = printable(s); });
  return p;
}

// To the millisecond, with its zone: `--since` and `--until` take it back as it is printed.
std::string table_time(std::uint64_t us) {
  std::string t = format_time_to(us, 23);
  return t.size() == 23 ? t + "Z" : t;
}

std::vector<std::string> table_cells(const record& original) {
  const record r = printable_fields(original);
  const std::string tokens = r.prompt_tokens + r.completion_tokens == 0
                                 ? std::string("-")
                                 : fmt::format("{}{}+{}", audit::tokens_estimated(r) ? "~" : "",
                                               r.prompt_tokens, r.completion_tokens);
  return {std::to_string(r.seq),
          table_time(r.timestamp_us),
          r.request_id.empty() ? "-" : r.request_id,
          r.tenant.empty() ? "-" : r.tenant,
          r.client_country.empty() ? "-" : r.client_country,
          r.decision.empty() ? "-" : r.decision,
          r.rule_ids.empty() ? "-" : join(r.rule_ids, ","),
          r.cluster.empty() ? "-" : r.cluster,
          r.cluster_country.empty() ? "-" : r.cluster_country,
          std::to_string(r.status),
          r.error_kind.empty() ? "-" : r.error_kind,
          tokens,
          r.kind == record_kind::event ? r.note : r.model};
}

}  // namespace

void record_table::add(const record& r) {
  if (sized_) {
    print(table_cells(r));
    return;
  }
  held_.push_back(table_cells(r));
  if (held_.size() >= sizing_rows) {
    finish();
  }
}

void record_table::finish() {
  if (sized_) {
    return;
  }
  sized_ = true;
  widths_.clear();
  for (const auto& name : table_header) {
    widths_.push_back(name.size());
  }
  for (const auto& row : held_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths_[i] = std::max(widths_[i], row[i].size());
    }
  }
  print(table_header);
  for (const auto& row : held_) {
    print(row);
  }
  held_.clear();
}

void record_table::print(const std::vector<std::string>& cells) const {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const bool right =
        std::find(std::begin(right_aligned), std::end(right_aligned), i) != std::end(right_aligned);
    const bool last = i + 1 == cells.size();
    line += right  ? fmt::format("{:>{}}", cells[i], widths_[i])
            : last ? cells[i]
                   : fmt::format("{:<{}}", cells[i], widths_[i]);
    line += last ? "" : "  ";
  }
  std::puts(line.c_str());
}

void print_record_summary(const record& original) {
  const record r = printable_fields(original);
  std::printf("record %llu (%s) at %s\n", static_cast<unsigned long long>(r.seq), to_string(r.kind),
              format_time(r.timestamp_us).c_str());
  if (r.kind == record_kind::event) {
    std::printf("  event:       %s\n", r.note.c_str());
    if (!r.tenant.empty()) {
      std::printf("  tenant:      %s\n", r.tenant.c_str());
    }
    return;
  }
  std::printf("  request:     %s  tenant %s%s  %s %s  model %s\n", r.request_id.c_str(), r.tenant.c_str(),
              r.key_id.empty() ? "" : fmt::format(" (API key {}...)", r.key_id).c_str(), r.method.c_str(),
              r.path.c_str(), r.model.c_str());
  std::printf("  client:      %s (country %s, from %s)\n", r.client_ip.c_str(),
              r.client_country.empty() ? "unknown" : r.client_country.c_str(), r.country_source.c_str());
  std::printf("  data:        %s\n",
              r.data_classes.empty() ? "(none declared or detected)" : join(r.data_classes, ", ").c_str());
  // The record keeps every rule that matched, not the one that decided: a permit matched under a
  // forbid, or a restrict beside it, is listed too.
  std::string decision = r.decision;  // "no-policy" or "none" name no rule and no policy
  if (!r.rule_ids.empty()) {
    decision += "; rules matched: " + join(r.rule_ids, ", ");
  }
  if (!r.policy_version.empty()) {
    decision += "; policy " + r.policy_version;
  }
  std::printf("  decision:    %s\n", decision.c_str());
  std::printf("  destination: %s\n",
              r.cluster.empty() ? "none (not forwarded)"
                                : fmt::format("cluster {} in {}", r.cluster, r.cluster_country).c_str());
  if (!r.endpoint.empty() || !r.signature_keyid.empty()) {
    // The address the connection went to, when recorded (version 5): the endpoint's name may
    // resolve to several addresses, `endpoint_country` being where all of them geolocate.
    std::string to = r.endpoint.empty() ? "-" : r.endpoint;
    std::string where = r.endpoint_country.empty() ? "country not checked" : r.endpoint_country;
    if (!r.endpoint_address.empty()) {
      to += " at " + r.endpoint_address;
      where = fmt::format(
          "{}; all its addresses: {}",
          r.endpoint_address_country.empty() ? "country not checked" : r.endpoint_address_country, where);
    }
    std::printf("  forwarded:   to %s (%s), signed by key %s, body %s\n", to.c_str(), where.c_str(),
                r.signature_keyid.empty() ? "(unsigned)" : r.signature_keyid.c_str(),
                r.forwarded_digest.empty() ? "(none)" : r.forwarded_digest.c_str());
  }
  if (r.endpoint_rtt_us != 0) {
    // The connection's TLS handshake, or its TCP connect to a plaintext cluster (probe round 40: a
    // plaintext cluster's was called a handshake): the record does not say which.
    std::printf(
        "  distance:    endpoint within %u km of the gateway (round trip %.3f ms of the connection used)\n",
        r.distance_bound_km, static_cast<double>(r.endpoint_rtt_us) / 1000.0);
  }
  if (r.redactions != 0) {
    fmt::print("  redactions:  {} {} replaced before forwarding\n", r.redactions,
               plural(r.redactions, "finding", "findings"));
  }
  // A request its gateway stopped serving ended when nobody knows: its latency is the time it
  // took to forward (probe round 44: "5 ms" for a stream killed after seconds).
  const std::string took =
      r.kind == audit::record_kind::request && r.error_kind == audit::gateway_stopped_error_kind
          ? fmt::format("forwarded in {} ms, ended when not known", r.latency_us / 1000)
          : fmt::format("{} ms", r.latency_us / 1000);
  std::printf("  outcome:     status %u%s, %s, tokens %llu+%llu\n", r.status,
              r.error_kind.empty() ? "" : (", error " + r.error_kind).c_str(), took.c_str(),
              static_cast<unsigned long long>(r.prompt_tokens),
              static_cast<unsigned long long>(r.completion_tokens));
  std::printf("  payload:     %s%s\n", to_string(r.payload),
              r.payload_digest.empty() ? "" : (" sha256 " + crypto::to_hex(r.payload_digest)).c_str());
  if (r.data_key_version != 0) {  // the first record sealed under this data key commits to it
    std::printf("  data key:    %s's version %u, sha256 %s, sealed to auditor key %s\n", r.tenant.c_str(),
                r.data_key_version, r.data_key_digest.c_str(), r.auditor_key.c_str());
  }
  if (!r.note.empty()) {  // what the writer says of it: synthetic, tokens estimated, ...
    std::printf("  note:        %s\n", r.note.c_str());
  }
}

std::string payload_modes_text(std::uint64_t sealed, std::uint64_t digest, std::uint64_t none) {
  return fmt::format("{} sealed, {} digest only, {} not kept", sealed, digest, none);
}

}  // namespace sovgw::cli
