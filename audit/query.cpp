#include "audit/query.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "audit/store.hpp"

namespace sovgw::audit {
namespace {

struct index_choice {
  column col = column::leaves;
  std::string prefix;  // keys are prefix || be64(seq)
};

index_choice choose(const query_filter& f) {
  if (f.scan_all) {
    return {column::leaves, {}};
  }
  if (f.request_id) {
    return {column::idx_request, length_prefixed(*f.request_id)};
  }
  if (f.tenant) {
    return {column::idx_tenant, length_prefixed(*f.tenant)};
  }
  if (f.decision) {
    return {column::idx_decision, length_prefixed(*f.decision)};
  }
  if (f.country) {
    return {column::idx_country, length_prefixed(*f.country)};
  }
  if (f.since_us || f.until_us) {
    return {column::idx_time, {}};
  }
  return {column::leaves, {}};
}

}  // namespace

std::optional<std::string> query_country(std::string_view text) {
  const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (text.size() == 2 && letter(text[0]) && letter(text[1])) {
    std::string code(text);
    for (char& c : code) {
      c = static_cast<char>(c & ~0x20);  // ASCII upper case
    }
    return code;
  }
  if (text == "private") {
    return std::string(text);
  }
  if (text == "unknown") {
    return std::string();
  }
  return std::nullopt;
}

bool matches(const query_filter& f, const record& r) {
  return (!f.since_us || r.timestamp_us >= *f.since_us) && (!f.until_us || r.timestamp_us < *f.until_us) &&
         (!f.tenant || r.tenant == *f.tenant) && (!f.decision || r.decision == *f.decision) &&
         (!f.country || (r.client_country == *f.country && r.kind == record_kind::request)) &&
         (!f.cluster || r.cluster == *f.cluster) && (!f.model || r.model == *f.model) &&
         (!f.request_id || r.request_id == *f.request_id);
}

const char* query_plan(const query_filter& f) {
  switch (choose(f).col) {
    case column::idx_request:
      return "index:request_id";
    case column::idx_tenant:
      return "index:tenant";
    case column::idx_decision:
      return "index:decision";
    case column::idx_country:
      return "index:country";
    case column::idx_time:
      return "index:time";
    default:
      return "scan";
  }
}

namespace {

status run_plan(const store& s, const query_filter& f, const std::function<bool(const record&)>& sink,
                query_stats& stats) {
  const auto choice = choose(f);
  const auto deliver = [&](std::string_view leaf_bytes, std::uint64_t seq, bool& go_on) -> status {
    auto r = decode({reinterpret_cast<const std::uint8_t*>(leaf_bytes.data()), leaf_bytes.size()});
    if (!r.is_ok()) {
      if (stats.undecodable.size() < max_listed_undecodable) {
        stats.undecodable.push_back({seq, r.error().message()});
      }
      ++stats.undecodable_count;
      return status::ok();
    }
    if (r->seq != seq) {
      if (stats.misplaced.size() < max_listed_undecodable) {
        stats.misplaced.push_back({seq, fmt::format("it carries seq {}", r->seq)});
      }
      ++stats.misplaced_count;
      r->seq = seq;
    }
    stats.with_request_id += f.request_id && r->request_id == *f.request_id ? 1 : 0;
    if (matches(f, r.value())) {
      ++stats.matched;
      go_on = sink(r.value()) && (f.limit == 0 || stats.matched < f.limit);
    }
    return status::ok();
  };
  bool go_on = true;
  if (choice.col == column::leaves) {
    auto it = s.iterate(column::leaves, false);
    std::uint64_t expected = 0;  // the next position; a record past it means the ones between are gone
    for (it->SeekToFirst(); go_on && it->Valid(); it->Next()) {
      if (it->key().size() != 8) {
        return {error_code::corruption, "a leaf key is malformed"};
      }
      ++stats.records_read;
      const std::uint64_t seq = read_be64(it->key().ToStringView());
      if (seq > expected) {
        if (stats.missing.size() < max_listed_missing) {
          stats.missing.push_back({expected, seq - 1});
        }
        stats.missing_count += seq - expected;
      }
      expected = seq + 1;
      if (auto st = deliver(it->value().ToStringView(), seq, go_on); !st.is_ok()) {
        return st;
      }
    }
    return from_rocksdb(it->status(), "reading records failed");
  }
  auto it = s.iterate(choice.col);
  const std::string start = choice.col == column::idx_time ? be64(f.since_us.value_or(0)) : choice.prefix;
  const std::string until = f.until_us ? be64(*f.until_us) : std::string();
  for (it->Seek(start); go_on && it->Valid(); it->Next()) {
    const auto key = it->key().ToStringView();
    if (choice.col == column::idx_time) {
      if (!until.empty() && key.substr(0, 8) >= until) {
        break;
      }
    } else if (!key.starts_with(choice.prefix)) {
      break;
    }
    if (key.size() != choice.prefix.size() + (choice.col == column::idx_time ? 16 : 8)) {
      return {error_code::corruption, "an index key is malformed"};
    }
    const std::uint64_t seq = read_be64(key.substr(key.size() - 8));
    auto leaf = s.get(column::leaves, be64(seq));
    if (!leaf.is_ok()) {
      return leaf.error();
    }
    if (!leaf->has_value()) {
      if (stats.index_names_missing.size() < max_listed_missing) {
        stats.index_names_missing.push_back(seq);
      }
      ++stats.index_names_missing_count;
      continue;  // named at the end; the entries after it are listed
    }
    // An entry whose record is not listed under it by its own fields: the index was repointed (or
    // the record rewritten). The filter drops the record; a query that said nothing would hide that
    // the record the entry should name may be missing from its answer (probe round 40).
    if (index_fields fields;
        choice.col != column::idx_request && read_index_fields(bytes_of(**leaf), fields)) {
      std::string own;
      append_index_key(choice.col, fields, seq, own);
      if (own != key) {
        if (stats.index_contradicted.size() < max_listed_missing) {
          const bool time = choice.col == column::idx_time;
          const std::string_view says = choice.col == column::idx_tenant     ? fields.tenant
                                        : choice.col == column::idx_decision ? fields.decision
                                                                             : fields.client_country;
          stats.index_contradicted.push_back(
              {seq, index_name(choice.col),
               time ? std::to_string(read_be64(key.substr(0, 8)))
                    : std::string(f.tenant     ? *f.tenant
                                  : f.decision ? *f.decision
                                               : f.country.value_or(std::string())),
               time ? std::to_string(fields.timestamp_us) : std::string(says)});
        }
        ++stats.index_contradicted_count;
      }
    }
    if (auto st = deliver(**leaf, seq, go_on); !st.is_ok()) {
      return st;
    }
  }
  return from_rocksdb(it->status(), "reading an index failed");
}

}  // namespace

status run_query(const store& s, const query_filter& f, const std::function<bool(const record&)>& sink,
                 query_stats* stats) {
  query_stats local;
  query_stats& out = stats != nullptr ? *stats : local;
  out = {};
  if (!f.request_id || f.scan_all) {
    return run_plan(s, f, sink, out);
  }
  // A request id's index entries are read first. When none of the records they name carries the id,
  // or the index cannot be read (a malformed key, an entry naming a record the log does not hold),
  // the whole log is read instead; no record is given twice.
  std::vector<std::uint64_t> given;
  bool open = true;
  const auto once = [&](const record& r) {
    if (std::find(given.begin(), given.end(), r.seq) == given.end()) {
      given.push_back(r.seq);
      open = sink(r) && (f.limit == 0 || given.size() < f.limit);
    }
    return open;
  };
  query_filter by_index = f;
  by_index.limit = 0;  // `once` keeps to f.limit
  const status st = run_plan(s, by_index, once, out);
  if (!open || (st.is_ok() && out.with_request_id > 0) ||
      (!st.is_ok() && st.code() != error_code::corruption)) {
    out.matched = given.size();
    return st;
  }
  query_filter scan = by_index;
  scan.scan_all = true;
  out.scanned_after_index = true;
  out.index_error =
      !st.is_ok() ? st.message()
      : out.index_names_missing.empty()
          ? std::string()
          : fmt::format("the index names record {} but it is missing", out.index_names_missing.front());
  out.undecodable.clear();  // the scan reads every record again
  out.undecodable_count = 0;
  out.misplaced.clear();
  out.misplaced_count = 0;
  out.missing.clear();
  out.missing_count = 0;
  out.with_request_id = 0;
  const status rest = run_plan(s, scan, once, out);
  out.matched = given.size();
  return rest;
}

namespace {

// Why no record carries a request id, from what the lookup saw: an index entry naming a record the
// log no longer holds says the record was written and removed; positions the scan found empty may
// have held it.
std::string describe_absent(const std::string& request_id, const query_stats& stats) {
  std::string undecodable;
  if (stats.undecodable_count > 0) {
    undecodable = fmt::format(" ({} of them {} not decode, record {} first: any may be the one)",
                              stats.undecodable_count, stats.undecodable_count == 1 ? "does" : "do",
                              stats.undecodable.front().seq);
  }
  const std::uint64_t present = stats.records_read;
  const std::string held = fmt::format("{} record{} the log holds", present, present == 1 ? "" : "s");
  if (!stats.index_names_missing.empty()) {
    const std::uint64_t seq = stats.index_names_missing.front();
    return fmt::format(
        "no record with request id '{}': the request id index names record {}, but record {} is missing "
        "from the log (deleted; sovgw audit verify names what changed), and none of the {} carries it{}",
        request_id, seq, seq, held, undecodable);
  }
  if (!stats.missing.empty()) {
    const missing_records& m = stats.missing.front();
    const std::string first = m.first == m.last ? fmt::format("record {} is", m.first)
                                                : fmt::format("records {}..{} are", m.first, m.last);
    return fmt::format(
        "no record with request id '{}': the request id index lists none, and none of the {} carries it{}; "
        "{} missing from the log{} (deleted, or the log is damaged: sovgw audit verify names what changed), "
        "and any of them may have been the one",
        request_id, held, undecodable, first,
        stats.missing_count > m.last - m.first + 1
            ? fmt::format(", with {} positions in all", stats.missing_count)
            : std::string());
  }
  return fmt::format(
      "no record with request id '{}': the request id index lists none, and none of the log's {} "
      "record{} carries it{}",
      request_id, present, present == 1 ? "" : "s", undecodable);
}

}  // namespace

result<request_lookup> find_request(const store& s, const std::string& request_id) {
  query_filter f;
  f.request_id = request_id;
  std::vector<std::uint64_t> seqs;
  query_stats stats;
  if (auto st = run_query(
          s, f,
          [&](const record& r) {
            seqs.push_back(r.seq);
            return seqs.size() < 10;
          },
          &stats);
      !st.is_ok()) {
    return st;
  }
  if (seqs.empty()) {
    request_lookup absent;
    absent.absent = describe_absent(request_id, stats);
    if (!stats.index_names_missing.empty()) {
      absent.deleted = stats.index_names_missing.front();
    }
    return absent;
  }
  if (seqs.size() > 1) {
    std::string listed;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      listed += fmt::format("{}{}", i == 0 ? "" : i + 1 == seqs.size() ? " and " : ", ", seqs[i]);
    }
    return status{error_code::verification_failed,
                  fmt::format("request id '{}' is carried by records {}{}: a gateway gives every request its "
                              "own id, so one of them was forged or replayed; name one with --seq",
                              request_id, listed, seqs.size() == 10 ? " (and maybe more)" : "")};
  }
  return request_lookup{.seq = seqs.front(),
                        .absent = {},
                        .deleted = std::nullopt,
                        .index_missed = stats.scanned_after_index,
                        .index_error = stats.index_error,
                        .undecodable = std::move(stats.undecodable),
                        .undecodable_count = stats.undecodable_count,
                        .misplaced = std::move(stats.misplaced),
                        .misplaced_count = stats.misplaced_count};
}

result<record> read_record(const store& s, std::uint64_t seq) {
  auto leaf = s.get(column::leaves, be64(seq));
  if (!leaf.is_ok()) {
    return leaf.error();
  }
  if (!leaf->has_value()) {
    return status{error_code::not_found, fmt::format("there is no record {}", seq)};
  }
  auto r = decode(bytes_of(**leaf));
  if (!r.is_ok()) {
    return status{error_code::corruption, fmt::format("record {}: {}", seq, r.error().message())};
  }
  return std::move(r.value());
}

}  // namespace sovgw::audit
