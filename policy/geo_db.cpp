#include "policy/geo_db.hpp"

#include <maxminddb.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <span>
#include <string_view>
#include <unordered_map>

#include "common/regular_file.hpp"
#include "policy/special_purpose.hpp"

namespace sovgw::policy {
namespace {

constexpr country_id no_country = 0xffff;
constexpr country_id carries_ipv4 = 0xfffe;  // in the IPv6 table: lookup() reads the IPv4 address

template <typename key_t>
struct interval {
  key_t first;
  key_t last;
  country_id country;
};

// The IANA special-purpose address registries (RFC 6890 and successors): the blocks that are not
// globally reachable are `private`, never a country...
constexpr const char* reserved_v4[] = {
    "0.0.0.0/8",       "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16",
    "172.16.0.0/12",   "192.0.0.0/24",   "192.0.2.0/24",  "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",   "240.0.0.0/4",
};
constexpr const char* reserved_v6[] = {
    "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "ff00::/8",
};
// ...except their globally reachable parts (anycast services, AMT, AS112, ORCHIDv2, drone remote
// ID), which are looked up like any address...
constexpr const char* reachable_v4[] = {"192.0.0.9/32", "192.0.0.10/32"};
constexpr const char* reachable_v6[] = {"2001:1::1/128",   "2001:1::2/128", "2001:1::3/128", "2001:3::/32",
                                        "2001:4:112::/48", "2001:20::/28",  "2001:30::/28"};
// ...and the IPv6 blocks whose addresses carry an IPv4 address (ip_address.hpp: ::/96,
// ::ffff:0:0/96, ::ffff:0:0:0/96, 64:ff9b::/96, 64:ff9b:1::/48, Teredo 2001::/32, 6to4 2002::/16): they are
// marked carries_ipv4, and lookup() resolves the IPv4 address instead.
constexpr const char* embedding_v6[] = {"::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32", "2002::/16"};

template <typename key_t>
std::vector<interval<key_t>> intervals_of(std::span<const char* const> blocks, country_id country) {
  std::vector<interval<key_t>> out;
  std::string error;
  for (const char* text : blocks) {
    const auto block = parse_cidr(text, error);
    out.push_back({static_cast<key_t>(block->first()), static_cast<key_t>(block->last()), country});
  }
  return out;
}

template <typename key_t>
void sort_intervals(std::vector<interval<key_t>>& v) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

// The reserved blocks minus their reachable and IPv4-carrying parts, plus the IPv4-carrying blocks:
// sorted, disjoint.
template <typename key_t>
std::vector<interval<key_t>> reserved_intervals(bool v4) {
  using list = std::span<const char* const>;
  auto reserved = intervals_of<key_t>(v4 ? list(reserved_v4) : list(reserved_v6), country_private);
  auto holes = intervals_of<key_t>(v4 ? list(reachable_v4) : list(reachable_v6), no_country);
  std::vector<interval<key_t>> carrying;
  if (!v4) {
    carrying = intervals_of<key_t>(embedding_v6, carries_ipv4);
    const auto mapped =
        static_cast<key_t>(u128{0xffff} << 32);  // ::ffff:0:0/96 (parse_cidr reads it as IPv4)
    carrying.push_back({mapped, static_cast<key_t>(mapped | 0xffffffffu), carries_ipv4});
    const auto translated = static_cast<key_t>(u128{0xffff0000} << 32);  // ::ffff:0:0:0/96
    carrying.push_back({translated, static_cast<key_t>(translated | 0xffffffffu), carries_ipv4});
    holes.insert(holes.end(), carrying.begin(), carrying.end());
  }
  sort_intervals(reserved);
  sort_intervals(holes);
  std::vector<interval<key_t>> out = carrying;
  for (auto iv : reserved) {
    for (const auto& hole : holes) {
      if (hole.last < iv.first || hole.first > iv.last) {
        continue;
      }
      if (hole.first > iv.first) {
        out.push_back({iv.first, static_cast<key_t>(hole.first - 1), country_private});
      }
      iv.first = static_cast<key_t>(hole.last + 1);  // holes lie inside their block, never at its end
    }
    out.push_back(iv);
  }
  sort_intervals(out);
  return out;
}

// Sorted disjoint intervals -> step function (starts[0] == 0), gaps filled with `gap`.
template <typename key_t>
std::vector<std::pair<key_t, country_id>> to_steps(const std::vector<interval<key_t>>& in, country_id gap) {
  std::vector<std::pair<key_t, country_id>> steps;
  key_t next = 0;
  bool covered_to_end = false;
  for (const auto& iv : in) {
    if (steps.empty() && iv.first != 0) {
      steps.emplace_back(0, gap);
    } else if (!steps.empty() && iv.first != next) {
      steps.emplace_back(next, gap);
    }
    steps.emplace_back(iv.first, iv.country);
    covered_to_end = iv.last == std::numeric_limits<key_t>::max();
    next = iv.last + 1;
  }
  if (steps.empty()) {
    steps.emplace_back(0, gap);
  } else if (!covered_to_end) {
    steps.emplace_back(next, gap);
  }
  return steps;
}

template <typename key_t>
geo_db::step_table<key_t> build_table(std::vector<interval<key_t>> data, bool v4) {
  const auto base = to_steps(data, country_unknown);
  const auto overlay = to_steps(reserved_intervals<key_t>(v4), no_country);
  geo_db::step_table<key_t> table;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < base.size() || j < overlay.size()) {
    key_t key;
    if (j == overlay.size() || (i < base.size() && base[i].first <= overlay[j].first)) {
      key = base[i].first;
    } else {
      key = overlay[j].first;
    }
    while (i < base.size() && base[i].first == key) {
      ++i;
    }
    while (j < overlay.size() && overlay[j].first == key) {
      ++j;
    }
    const country_id over = overlay[j - 1].second;
    const country_id value = over != no_country ? over : base[i - 1].second;
    if (table.countries.empty() || table.countries.back() != value) {
      table.starts.push_back(key);
      table.countries.push_back(value);
    }
  }
  constexpr unsigned shift = sizeof(key_t) * 8 - 16;
  table.index.resize(65537);
  for (std::uint32_t p = 0; p < 65536; ++p) {
    const key_t key = static_cast<key_t>(static_cast<key_t>(p) << shift);
    table.index[p] = static_cast<std::uint32_t>(
        std::upper_bound(table.starts.begin(), table.starts.end(), key) - table.starts.begin() - 1);
  }
  table.index[65536] = static_cast<std::uint32_t>(table.starts.size() - 1);
  return table;
}

template <typename key_t>
void check_sorted(std::vector<interval<key_t>>& data, const std::string& file) {
  std::sort(data.begin(), data.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t k = 1; k < data.size(); ++k) {
    if (data[k].first <= data[k - 1].last) {
      throw geo_error(file + ": overlapping ranges in geo data");
    }
  }
}

std::string read_file(const std::filesystem::path& path) {
  auto text = read_regular_file(path.string(), max_data_bytes, "geo database");
  if (!text.is_ok()) {
    throw geo_error(path.string() + ": " + text.error().message());
  }
  return std::move(text).value();
}

country_id tor_country(std::string_view cc) {
  if (cc == "??") {
    return country_unknown;
  }
  const auto id = pack_country(cc);
  return id && *id < country_private ? *id : country_unknown;
}

template <typename line_fn>
void for_each_line(const std::string& text, line_fn&& fn) {
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string_view line(text.data() + pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    fn(line, line_no);
  }
}

bool split3(std::string_view line, std::string_view& a, std::string_view& b, std::string_view& c) {
  const auto p1 = line.find(',');
  const auto p2 = p1 == std::string_view::npos ? p1 : line.find(',', p1 + 1);
  if (p2 == std::string_view::npos) {
    return false;
  }
  a = line.substr(0, p1);
  b = line.substr(p1 + 1, p2 - p1 - 1);
  c = line.substr(p2 + 1);
  return true;
}

std::vector<interval<std::uint32_t>> parse_tor_v4(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  std::vector<interval<std::uint32_t>> out;
  for_each_line(text, [&](std::string_view line, std::size_t line_no) {
    std::string_view a, b, c;
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    if (!split3(line, a, b, c) ||
        std::from_chars(a.data(), a.data() + a.size(), first).ptr != a.data() + a.size() ||
        std::from_chars(b.data(), b.data() + b.size(), last).ptr != b.data() + b.size() || a.empty() ||
        b.empty() || first > last || c.size() != 2) {
      throw geo_error(path.string() + ":" + std::to_string(line_no) + ": malformed IPv4 range line");
    }
    out.push_back({first, last, tor_country(c)});
  });
  check_sorted(out, path.string());
  return out;
}

std::vector<interval<u128>> parse_tor_v6(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  std::vector<interval<u128>> out;
  for_each_line(text, [&](std::string_view line, std::size_t line_no) {
    std::string_view a, b, c;
    std::optional<ip_address> first;
    std::optional<ip_address> last;
    if (!split3(line, a, b, c) || !(first = parse_ip(a)) || !(last = parse_ip(b)) || first->v4 || last->v4 ||
        first->value > last->value || c.size() != 2) {
      throw geo_error(path.string() + ":" + std::to_string(line_no) + ": malformed IPv6 range line");
    }
    out.push_back({first->value, last->value, tor_country(c)});
  });
  check_sorted(out, path.string());
  return out;
}

struct mmdb_walker {
  const MMDB_s* db;
  std::unordered_map<std::uint32_t, country_id> cache;

  country_id country_of(MMDB_entry_s entry) {
    const auto [it, inserted] = cache.try_emplace(entry.offset, country_unknown);
    if (!inserted) {
      return it->second;
    }
    MMDB_entry_data_s data{};
    const auto string_at = [&](auto... path) -> std::optional<std::string_view> {
      MMDB_entry_s e = entry;
      if (MMDB_get_value(&e, &data, path..., nullptr) == MMDB_SUCCESS && data.has_data &&
          data.type == MMDB_DATA_TYPE_UTF8_STRING) {
        return std::string_view(data.utf8_string, data.data_size);
      }
      return std::nullopt;
    };
    auto code = string_at("country", "iso_code");
    if (!code) {
      code = string_at("country");
    }
    if (!code) {
      code = string_at("country_code");
    }
    if (!code) {
      code = string_at("registered_country", "iso_code");
    }
    if (code) {
      // ISO 3166 codes are upper case; a database that writes "de" means DE, not "no country".
      char upper[2] = {};
      if (code->size() == 2) {
        for (std::size_t i = 0; i < 2; ++i) {
          const char c = (*code)[i];
          upper[i] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
        }
        code = std::string_view(upper, 2);
      }
      const auto id = pack_country(*code);
      if (id && *id < country_private) {
        it->second = *id;
      }
    }
    return it->second;
  }

  template <typename key_t>
  void walk(std::uint64_t node, key_t prefix, unsigned depth, unsigned bits,
            std::vector<interval<key_t>>& out) {
    MMDB_search_node_s record{};
    if (MMDB_read_node(db, static_cast<std::uint32_t>(node), &record) != MMDB_SUCCESS) {
      throw geo_error("corrupt search tree in MaxMind DB");
    }
    for (int side = 0; side < 2; ++side) {
      const unsigned host_bits = bits - depth - 1;
      const key_t child = side ? static_cast<key_t>(prefix | (key_t{1} << host_bits)) : prefix;
      const auto type = side ? record.right_record_type : record.left_record_type;
      const auto next = side ? record.right_record : record.left_record;
      if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        if (depth + 1 >= bits) {
          throw geo_error("MaxMind DB search tree deeper than the address");
        }
        walk(next, child, depth + 1, bits, out);
      } else if (type == MMDB_RECORD_TYPE_DATA) {
        const key_t mask = host_bits == 0 ? key_t{0} : static_cast<key_t>((key_t{1} << host_bits) - 1);
        const country_id country = country_of(side ? record.right_record_entry : record.left_record_entry);
        if (!out.empty() && out.back().country == country && out.back().last + 1 == child) {
          out.back().last = child | mask;
        } else {
          out.push_back({child, static_cast<key_t>(child | mask), country});
        }
      } else if (type == MMDB_RECORD_TYPE_INVALID) {
        throw geo_error("invalid record in MaxMind DB search tree");
      }
    }
  }
};

}  // namespace

template <typename key_t>
[[gnu::always_inline]] inline country_id geo_db::step_table<key_t>::find(key_t key) const noexcept {
  constexpr unsigned shift = sizeof(key_t) * 8 - 16;
  const auto top = static_cast<std::uint32_t>(key >> shift);
  const key_t* lo = starts.data() + index[top];
  const key_t* hi = starts.data() + index[top + 1] + 1;
  return countries[static_cast<std::size_t>(std::upper_bound(lo, hi, key) - starts.data() - 1)];
}

bool geo_db::always_private(const cidr_block& block) {
  const auto within = [&](const auto& intervals) {
    using key_t = decltype(intervals.front().first);
    return std::any_of(intervals.begin(), intervals.end(), [&](const auto& iv) {
      return iv.country == country_private && iv.first <= static_cast<key_t>(block.first()) &&
             static_cast<key_t>(block.last()) <= iv.last;
    });
  };
  static const auto v4 = reserved_intervals<std::uint32_t>(true);
  static const auto v6 = reserved_intervals<u128>(false);
  return block.base.v4 ? within(v4) : within(v6);
}

bool never_private(const cidr_block& block) {
  const auto overlaps = [&](const auto& intervals) {
    using key_t = decltype(intervals.front().first);
    return std::any_of(intervals.begin(), intervals.end(), [&](const auto& iv) {
      return (iv.country == country_private || iv.country == carries_ipv4) &&
             iv.first <= static_cast<key_t>(block.last()) && static_cast<key_t>(block.first()) <= iv.last;
    });
  };
  static const auto v4 = reserved_intervals<std::uint32_t>(true);
  static const auto v6 = reserved_intervals<u128>(false);
  return !(block.base.v4 ? overlaps(v4) : overlaps(v6));
}

bool is_special_purpose(const ip_address& ip) {
  static const geo_db reserved_only;  // the special-purpose blocks over no data: everything else unknown
  return reserved_only.lookup(ip) == country_private;
}

geo_db::geo_db()
    : v4_(build_table<std::uint32_t>({}, true)),
      v6_(build_table<u128>({}, false)),
      source_("reserved ranges only") {}

geo_db geo_db::load_tor(const std::filesystem::path& v4_file, const std::filesystem::path& v6_file) {
  geo_db db;
  db.v4_ = build_table(parse_tor_v4(v4_file), true);
  db.v6_ = build_table(parse_tor_v6(v6_file), false);
  db.source_ = "tor-geoipdb " + v4_file.string() + " " + v6_file.string();
  return db;
}

geo_db geo_db::load_default() { return load_tor(SOVGW_DEFAULT_GEOIP, SOVGW_DEFAULT_GEOIP6); }

std::vector<std::filesystem::path> geo_db::default_files() {
  return {SOVGW_DEFAULT_GEOIP, SOVGW_DEFAULT_GEOIP6};
}

geo_db geo_db::load_mmdb(const std::filesystem::path& file) {
  // libmaxminddb opens the file itself: a FIFO would block its open(2).
  if (const file_error e = check_regular_file(file.string(), max_data_bytes, "geo database");
      e.kind != file_problem::none) {
    throw geo_error(file.string() + ": " + e.message());
  }
  MMDB_s mmdb{};
  const int status = MMDB_open(file.c_str(), MMDB_MODE_MMAP, &mmdb);
  if (status != MMDB_SUCCESS) {
    throw geo_error(file.string() + ": " + MMDB_strerror(status));
  }
  struct closer {
    MMDB_s* db;
    ~closer() { MMDB_close(db); }
  } close_guard{&mmdb};
  mmdb_walker walker{&mmdb, {}};
  std::vector<interval<std::uint32_t>> v4;
  std::vector<interval<u128>> v6;
  try {
    if (mmdb.metadata.ip_version == 4) {
      walker.walk<std::uint32_t>(0, 0, 0, 32, v4);
    } else {
      walker.walk<u128>(0, 0, 0, 128, v6);
      // IPv4 lives under ::/96 in an IPv6 tree.
      std::uint64_t node = 0;
      for (int depth = 0; depth < 96 && node < mmdb.metadata.node_count; ++depth) {
        MMDB_search_node_s record{};
        if (MMDB_read_node(&mmdb, static_cast<std::uint32_t>(node), &record) != MMDB_SUCCESS) {
          throw geo_error("corrupt search tree in MaxMind DB");
        }
        if (record.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE) {
          node = mmdb.metadata.node_count;
          break;
        }
        node = record.left_record;
      }
      if (node < mmdb.metadata.node_count) {
        walker.walk<std::uint32_t>(node, 0, 0, 32, v4);
      }
    }
  } catch (const geo_error& e) {
    throw geo_error(file.string() + ": " + e.what());
  }
  check_sorted(v4, file.string());
  check_sorted(v6, file.string());
  geo_db db;
  db.v4_ = build_table(std::move(v4), true);
  db.v6_ = build_table(std::move(v6), false);
  db.source_ = "mmdb " + file.string();
  db.build_epoch_ = mmdb.metadata.build_epoch;
  return db;
}

country_id geo_db::lookup(const ip_address& ip) const noexcept {
  if (ip.v4) {
    return v4_.find(static_cast<std::uint32_t>(ip.value));
  }
  const country_id c = v6_.find(ip.value);
  return c == carries_ipv4 ? lookup_embedded(ip) : c;
}

country_id geo_db::lookup_embedded(const ip_address& ip) const noexcept {
  const embedded_ipv4 embedded = find_embedded_ipv4(ip);
  if (embedded.count == 0) {
    return country_unknown;  // 64:ff9b:1::/48 that fits no RFC 6052 layout
  }
  const country_id first = v4_.find(embedded.candidates[0]);
  for (unsigned i = 1; i < embedded.count; ++i) {
    if (v4_.find(embedded.candidates[i]) != first) {
      return country_unknown;  // readings disagree: never a guess
    }
  }
  return first;
}

std::size_t geo_db::memory_bytes() const noexcept {
  return v4_.starts.size() * (sizeof(std::uint32_t) + sizeof(country_id)) +
         v6_.starts.size() * (sizeof(u128) + sizeof(country_id)) + (v4_.index.size() + v6_.index.size()) * 4;
}

}  // namespace sovgw::policy
