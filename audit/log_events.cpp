#include "audit/log_events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "audit/store.hpp"
#include "common/rfc3339.hpp"

namespace sovgw::audit {
namespace {

constexpr std::string_view retention_prefix = "retention: ";
constexpr std::string_view retention_cutoff_intro = " of records older than ";
constexpr std::string_view shred_prefix = "crypto-shred: ";
constexpr std::string_view shred_versions_intro = "data key version(s) ";
constexpr std::string_view shred_versions_end = " of the tenant destroyed";
constexpr std::uint64_t us_per_second = 1'000'000;

// "1-3, 5" for {1, 2, 3, 5}.
std::string format_versions(const std::vector<std::uint32_t>& versions) {
  std::string out;
  for (std::size_t i = 0; i < versions.size();) {
    std::size_t j = i;
    while (j + 1 < versions.size() && versions[j + 1] == versions[j] + 1) {
      ++j;
    }
    out += fmt::format("{}{}", out.empty() ? "" : ", ", versions[i]);
    if (j > i) {
      out += fmt::format("-{}", versions[j]);
    }
    i = j + 1;
  }
  return out;
}

std::optional<std::uint32_t> read_number(std::string_view& text) {
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc()) {
    return std::nullopt;
  }
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return v;
}

// The inverse of format_versions; nullopt when `text` is not such a list.
std::optional<std::vector<std::uint32_t>> parse_versions(std::string_view text) {
  std::vector<std::uint32_t> out;
  while (!text.empty()) {
    const auto first = read_number(text);
    auto last = first;
    if (first && text.starts_with('-')) {
      text.remove_prefix(1);
      last = read_number(text);
    }
    if (!first || !last || *last < *first || *last - *first > 1'000'000) {
      return std::nullopt;
    }
    for (std::uint32_t v = *first; v <= *last && v >= *first; ++v) {
      out.push_back(v);
    }
    if (!text.empty() && !text.starts_with(", ")) {
      return std::nullopt;
    }
    text.remove_prefix(std::min<std::size_t>(2, text.size()));
  }
  return out;
}

}  // namespace

std::string retention_note(std::uint64_t dropped, std::uint64_t cutoff_us, std::string_view remark) {
  const auto cutoff = format_rfc3339_us(cutoff_us, cutoff_us % us_per_second != 0);
  return fmt::format("retention: dropped {} stored payload(s){}{}{}{}", dropped, retention_cutoff_intro,
                     cutoff.value_or("?"), remark.empty() ? "" : "; ", remark);
}

std::string retention_cutoff_text(const log_events::retention& e) {
  return format_rfc3339_us(e.cutoff_us, !e.whole_second).value_or("?");
}

std::string shred_note(const std::vector<std::uint32_t>& versions) {
  return fmt::format("{}{}{}{}; its payloads are unreadable", shred_prefix, shred_versions_intro,
                     format_versions(versions), shred_versions_end);
}

void log_events::drop_from(std::uint64_t seq) {
  const auto from =
      std::find_if(retentions_.begin(), retentions_.end(), [&](const retention& r) { return r.seq >= seq; });
  uncovered_retentions_.insert(uncovered_retentions_.begin(), from, retentions_.end());
  retentions_.erase(from, retentions_.end());
  for (auto& [tenant, events] : shreds_) {
    const auto first =
        std::find_if(events.begin(), events.end(), [&](const shred& s) { return s.seq >= seq; });
    auto& uncovered = uncovered_shreds_[tenant];
    uncovered.insert(uncovered.begin(), first, events.end());
    events.erase(first, events.end());
  }
}

void log_events::add(const record& r) {
  if (r.kind != record_kind::event) {
    return;
  }
  const std::string_view note = r.note;
  if (note.starts_with(retention_prefix)) {
    const std::size_t at = note.find(retention_cutoff_intro);
    if (at == std::string_view::npos) {
      return;
    }
    const std::string_view rest = note.substr(at + retention_cutoff_intro.size());
    const std::string_view time = rest.substr(0, rest.find(';'));
    if (const auto cutoff = parse_rfc3339_us(time)) {
      retentions_.push_back(
          {r.seq, static_cast<std::uint64_t>(*cutoff), time.find('.') == std::string_view::npos});
    }
    return;
  }
  if (note.starts_with(shred_prefix) && !r.tenant.empty()) {
    shred event{r.seq, std::nullopt};
    std::string_view rest = note.substr(shred_prefix.size());
    if (rest.starts_with(shred_versions_intro)) {
      rest.remove_prefix(shred_versions_intro.size());
      event.versions = parse_versions(rest.substr(0, rest.find(shred_versions_end)));
      if (!event.versions) {
        return;  // an event that does not say what it destroyed explains nothing
      }
      std::sort(event.versions->begin(), event.versions->end());
    }
    shreds_[r.tenant].push_back(std::move(event));
  }
}

const log_events::retention* log_events::retention_covering(std::uint64_t seq, std::uint64_t time_us) const {
  return find_retention(retentions_, seq, time_us);
}

const log_events::retention* log_events::uncovered_retention_covering(std::uint64_t seq,
                                                                      std::uint64_t time_us) const {
  return find_retention(uncovered_retentions_, seq, time_us);
}

const log_events::shred* log_events::shred_covering(std::uint64_t seq, const std::string& tenant,
                                                    std::uint32_t version) const {
  return find_shred(shreds_, seq, tenant, version);
}

const log_events::shred* log_events::first_shred_after(std::uint64_t seq, const std::string& tenant) const {
  const auto found = shreds_.find(tenant);
  if (found == shreds_.end()) {
    return nullptr;
  }
  for (const auto& e : found->second) {
    if (e.seq > seq) {
      return &e;
    }
  }
  return nullptr;
}

const log_events::shred* log_events::uncovered_shred_covering(std::uint64_t seq, const std::string& tenant,
                                                              std::uint32_t version) const {
  return find_shred(uncovered_shreds_, seq, tenant, version);
}

const log_events::retention* log_events::find_retention(const retentions& in, std::uint64_t seq,
                                                        std::uint64_t time_us) {
  auto it = std::upper_bound(in.begin(), in.end(), seq,
                             [](std::uint64_t s, const retention& e) { return s < e.seq; });
  for (; it != in.end(); ++it) {
    if (time_us < it->cutoff_us + (it->whole_second ? us_per_second : 0)) {
      return &*it;
    }
  }
  return nullptr;
}

const log_events::shred* log_events::find_shred(const shreds& in, std::uint64_t seq,
                                                const std::string& tenant, std::uint32_t version) {
  const auto found = in.find(tenant);
  if (found == in.end()) {
    return nullptr;
  }
  for (const auto& e : found->second) {
    if (e.seq > seq && (!e.versions || std::binary_search(e.versions->begin(), e.versions->end(), version))) {
      return &e;
    }
  }
  return nullptr;
}

result<log_events> read_log_events(const store& s, std::uint64_t first_seq) {
  constexpr std::size_t kind_offset = record_seq_offset + 16;
  log_events events;
  record r;
  auto it = s.iterate(column::leaves, false);
  for (it->Seek(be64(first_seq)); it->Valid(); it->Next()) {
    const auto leaf = bytes_of(it->value().ToStringView());
    if (leaf.size() > kind_offset && leaf[kind_offset] == static_cast<std::uint8_t>(record_kind::event) &&
        decode_into(leaf, r).is_ok()) {
      events.add(r);
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading the log's events failed");
  }
  return events;
}

}  // namespace sovgw::audit
