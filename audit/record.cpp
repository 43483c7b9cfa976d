#include "audit/record.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sovgw::audit {
namespace {

class writer {
 public:
  explicit writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(std::span<const std::uint8_t> b) {
    u32(static_cast<std::uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void str(std::string_view s) { bytes({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}); }
  void list(const std::vector<std::string>& l) {
    u16(static_cast<std::uint16_t>(l.size()));
    for (const auto& s : l) {
      str(s);
    }
  }

 private:
  void put(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
  }
  std::vector<std::uint8_t>& out_;
};

class reader {
 public:
  explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    std::uint64_t x = 0;
    return get(x, 1) && ((v = static_cast<std::uint8_t>(x)), true);
  }
  bool u16(std::uint16_t& v) {
    std::uint64_t x = 0;
    return get(x, 2) && ((v = static_cast<std::uint16_t>(x)), true);
  }
  bool u32(std::uint32_t& v) {
    std::uint64_t x = 0;
    return get(x, 4) && ((v = static_cast<std::uint32_t>(x)), true);
  }
  bool u64(std::uint64_t& v) { return get(v, 8); }
  bool bytes(std::vector<std::uint8_t>& out, std::size_t limit) {
    std::uint32_t n = 0;
    if (!u32(n) || n > limit || n > in_.size() - pos_) {
      return false;
    }
    out.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
               in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  bool str(std::string& out) {
    std::uint32_t n = 0;
    if (!u32(n) || n > max_string_size || n > in_.size() - pos_) {
      return false;
    }
    out.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool list(std::vector<std::string>& out) {
    std::uint16_t n = 0;
    if (!u16(n) || n > max_list_size) {
      return false;
    }
    out.resize(n);
    for (auto& s : out) {
      if (!str(s)) {
        return false;
      }
    }
    return true;
  }
  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }

 private:
  bool get(std::uint64_t& v, std::size_t n) {
    if (in_.size() - pos_ < n) {
      return false;
    }
    v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v = v << 8 | in_[pos_ + i];
    }
    pos_ += n;
    return true;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

bool has_evidence(const record& r) {
  return !r.endpoint.empty() || !r.endpoint_country.empty() || !r.signature_keyid.empty() ||
         !r.forwarded_digest.empty();
}

bool has_distance(const record& r) {
  return r.endpoint_rtt_us != 0 || r.distance_bound_km != 0 || r.redactions != 0;
}

bool has_data_key_commitment(const record& r) {
  return r.data_key_version != 0 || !r.data_key_digest.empty() || !r.auditor_key.empty();
}

void encode_into(const record& r, std::vector<std::uint8_t>& out) {
  writer w(out);
  const bool data_key = has_data_key_commitment(r);
  const bool address = data_key || !r.endpoint_address.empty();
  const bool key = address || !r.key_id.empty();
  const bool distance = key || has_distance(r);
  const bool evidence = distance || has_evidence(r);
  w.u8(data_key   ? record_format_version_data_key
       : address  ? record_format_version_address
       : key      ? record_format_version_key
       : distance ? record_format_version_distance
       : evidence ? record_format_version_evidence
                  : record_format_version);
  w.u64(r.seq);
  w.u64(r.timestamp_us);
  w.u8(static_cast<std::uint8_t>(r.kind));
  for (const std::string* s : {&r.request_id, &r.tenant, &r.client_country, &r.country_source, &r.client_ip,
                               &r.method, &r.path, &r.model}) {
    w.str(*s);
  }
  w.list(r.data_classes);
  w.str(r.decision);
  w.list(r.rule_ids);
  for (const std::string* s : {&r.policy_version, &r.cluster, &r.cluster_country}) {
    w.str(*s);
  }
  w.u32(r.status);
  for (const std::uint64_t v :
       {r.bytes_in, r.bytes_out, r.latency_us, r.prompt_tokens, r.completion_tokens}) {
    w.u64(v);
  }
  w.str(r.error_kind);
  w.u8(static_cast<std::uint8_t>(r.payload));
  w.bytes(r.payload_digest);
  w.str(r.note);
  if (evidence) {
    w.str(r.endpoint);
    w.str(r.endpoint_country);
    w.str(r.signature_keyid);
    w.str(r.forwarded_digest);
  }
  if (distance) {
    w.u64(r.endpoint_rtt_us);
    w.u32(r.distance_bound_km);
    w.u32(r.redactions);
  }
  if (key) {
    w.str(r.key_id);
  }
  if (address) {
    w.str(r.endpoint_address);
    w.str(r.endpoint_address_country);
  }
  if (data_key) {
    w.u32(r.data_key_version);
    w.str(r.data_key_digest);
    w.str(r.auditor_key);
  }
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool is_request_decision(std::string_view text) {
  return std::find(request_decisions.begin(), request_decisions.end(), text) != request_decisions.end();
}

const char* to_string(record_kind kind) { return kind == record_kind::request ? "request" : "event"; }

const char* to_string(payload_mode mode) {
  switch (mode) {
    case payload_mode::none:
      return "none";
    case payload_mode::digest:
      return "digest";
    case payload_mode::sealed:
      return "sealed";
  }
  return "?";
}

bool parse_payload_mode(std::string_view text, payload_mode& out) {
  for (auto m : {payload_mode::none, payload_mode::digest, payload_mode::sealed}) {
    if (text == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

status validate(const record& r) {
  for (const std::string* s : string_fields(r)) {
    if (s->size() > max_string_size) {
      return {error_code::invalid_argument, fmt::format("a record field exceeds {} bytes", max_string_size)};
    }
  }
  for (const auto* l : {&r.data_classes, &r.rule_ids}) {
    if (l->size() > max_list_size) {
      return {error_code::invalid_argument, fmt::format("a record list exceeds {} entries", max_list_size)};
    }
    for (const auto& s : *l) {
      if (s.size() > max_string_size) {
        return {error_code::invalid_argument, "a record list entry is too long"};
      }
    }
  }
  if (r.kind != record_kind::request && r.kind != record_kind::event) {
    return {error_code::invalid_argument, "unknown record kind"};
  }
  if (r.endpoint_address.empty() && !r.endpoint_address_country.empty()) {
    return {error_code::invalid_argument, "an endpoint address country needs the endpoint address"};
  }
  // 32 bytes in base64: 43 characters and one '='.
  if (has_data_key_commitment(r) &&
      (r.data_key_version == 0 || r.data_key_digest.size() != 64 || !is_lower_hex(r.data_key_digest) ||
       r.auditor_key.size() != 44 || r.kind != record_kind::request)) {
    return {error_code::invalid_argument,
            "a data key commitment needs a key version, a SHA-256 in hex and an auditor key, on a request "
            "record"};
  }
  std::size_t size = 128 + r.payload_digest.size();
  for (const std::string* f : string_fields(r)) {
    size += 4 + f->size();
  }
  for (const auto* l : {&r.data_classes, &r.rule_ids}) {
    for (const auto& f : *l) {
      size += 4 + f.size();
    }
  }
  if (size > max_record_size) {
    return {error_code::invalid_argument,
            fmt::format("the record encodes to more than {} bytes", max_record_size)};
  }
  const bool has_digest = !r.payload_digest.empty();
  if ((r.payload == payload_mode::none) == has_digest || (has_digest && r.payload_digest.size() != 32)) {
    return {error_code::invalid_argument,
            "payload digest must be 32 bytes exactly when a payload is recorded"};
  }
  return status::ok();
}

bool clamp_to_limits(record& r) {
  constexpr std::size_t string_cap = 8 * 1024;
  constexpr std::size_t entry_cap = 256;
  bool cut = false;
  const auto clamp = [&](std::string& s, std::size_t cap) {
    if (s.size() > cap) {
      s.resize(cap);
      cut = true;
    }
  };
  for (std::string* f : string_fields(r)) {
    clamp(*f, string_cap);
  }
  for (auto* l : {&r.data_classes, &r.rule_ids}) {
    if (l->size() > max_list_size) {
      l->resize(max_list_size);
      cut = true;
    }
    for (auto& e : *l) {
      clamp(e, entry_cap);
    }
  }
  if (cut && r.note.empty()) {
    r.note = "truncated: fields over the record limits were cut";
  }
  return cut;
}

std::vector<std::uint8_t> encode(const record& r) {
  std::vector<std::uint8_t> out;
  out.reserve(256 + r.path.size() + r.request_id.size());
  encode_into(r, out);
  return out;
}

status decode_into(std::span<const std::uint8_t> bytes, record& r) {
  if (bytes.size() > max_record_size) {
    return status{error_code::corruption, "record larger than the format allows"};
  }
  reader in(bytes);
  std::uint8_t version = 0;
  std::uint8_t kind = 0;
  std::uint8_t mode = 0;
  if (!in.u8(version)) {
    return status{error_code::corruption, "empty record"};
  }
  if (!is_record_format_version(version)) {
    return status{error_code::corruption, fmt::format("unknown record format version {}", version)};
  }
  bool ok = in.u64(r.seq) && in.u64(r.timestamp_us) && in.u8(kind);
  for (std::string* s : {&r.request_id, &r.tenant, &r.client_country, &r.country_source, &r.client_ip,
                         &r.method, &r.path, &r.model}) {
    ok = ok && in.str(*s);
  }
  ok = ok && in.list(r.data_classes) && in.str(r.decision) && in.list(r.rule_ids);
  for (std::string* s : {&r.policy_version, &r.cluster, &r.cluster_country}) {
    ok = ok && in.str(*s);
  }
  ok = ok && in.u32(r.status);
  for (std::uint64_t* v :
       {&r.bytes_in, &r.bytes_out, &r.latency_us, &r.prompt_tokens, &r.completion_tokens}) {
    ok = ok && in.u64(*v);
  }
  ok = ok && in.str(r.error_kind) && in.u8(mode) && in.bytes(r.payload_digest, 64) && in.str(r.note);
  // Fields an older version does not hold read as absent.
  for (std::string* s : {&r.endpoint, &r.endpoint_country, &r.signature_keyid, &r.forwarded_digest, &r.key_id,
                         &r.endpoint_address, &r.endpoint_address_country}) {
    s->clear();
  }
  r.endpoint_rtt_us = 0;
  r.distance_bound_km = 0;
  r.redactions = 0;
  if (version >= record_format_version_evidence) {
    ok = ok && in.str(r.endpoint) && in.str(r.endpoint_country) && in.str(r.signature_keyid) &&
         in.str(r.forwarded_digest);
  }
  if (version >= record_format_version_distance) {
    ok = ok && in.u64(r.endpoint_rtt_us) && in.u32(r.distance_bound_km) && in.u32(r.redactions);
  }
  if (version >= record_format_version_key) {
    // Version 4 is written only for a key id, version 5 only for an endpoint address.
    ok = ok && in.str(r.key_id) && (version > record_format_version_key || !r.key_id.empty());
  }
  r.data_key_version = 0;
  r.data_key_digest.clear();
  r.auditor_key.clear();
  if (version >= record_format_version_address) {
    // Version 5 is written only for an endpoint address, version 6 only for a data key commitment.
    ok = ok && in.str(r.endpoint_address) && in.str(r.endpoint_address_country) &&
         (version > record_format_version_address || !r.endpoint_address.empty());
  }
  if (version >= record_format_version_data_key) {
    ok = ok && in.u32(r.data_key_version) && in.str(r.data_key_digest) && in.str(r.auditor_key) &&
         !r.data_key_digest.empty();
  }
  if (!ok) {
    return status{error_code::corruption, "record truncated or a field is over its limit"};
  }
  if (!in.at_end()) {
    return status{error_code::corruption, "trailing bytes after the record"};
  }
  if (kind != 1 && kind != 2) {
    return status{error_code::corruption, fmt::format("unknown record kind {}", kind)};
  }
  if (mode > 2) {
    return status{error_code::corruption, fmt::format("unknown payload mode {}", mode)};
  }
  r.kind = static_cast<record_kind>(kind);
  r.payload = static_cast<payload_mode>(mode);
  if (auto s = validate(r); !s.is_ok()) {
    return status{error_code::corruption, s.message()};
  }
  return status::ok();
}

result<record> decode(std::span<const std::uint8_t> bytes) {
  record r;
  if (auto s = decode_into(bytes, r); !s.is_ok()) {
    return s;
  }
  return r;
}

bool read_index_fields(std::span<const std::uint8_t> bytes, index_fields& out) {
  constexpr std::size_t strings_offset = 1 + 8 + 8 + 1;  // version, seq, timestamp, kind
  if (bytes.size() < strings_offset || !is_record_format_version(bytes[0])) {
    return false;
  }
  std::size_t pos = strings_offset;
  const auto number = [&](std::size_t width, std::uint64_t& v) {
    if (bytes.size() - pos < width) {
      return false;
    }
    v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      v = v << 8 | bytes[pos++];
    }
    return true;
  };
  const auto string = [&](std::string_view* into) {
    std::uint64_t n = 0;
    if (!number(4, n) || n > max_string_size || n > bytes.size() - pos) {
      return false;
    }
    if (into != nullptr) {
      *into = {reinterpret_cast<const char*>(bytes.data() + pos), static_cast<std::size_t>(n)};
    }
    pos += n;
    return true;
  };
  std::uint64_t timestamp = 0;
  pos = 1 + 8;
  if (!number(8, timestamp)) {
    return false;
  }
  out.timestamp_us = timestamp;
  pos = strings_offset;
  // request_id, tenant, client_country, then country_source, client_ip, method, path, model.
  for (std::string_view* into : {&out.request_id, &out.tenant, &out.client_country}) {
    if (!string(into)) {
      return false;
    }
  }
  for (int skipped = 0; skipped < 5; ++skipped) {
    if (!string(nullptr)) {
      return false;
    }
  }
  std::uint64_t classes = 0;
  if (!number(2, classes) || classes > max_list_size) {
    return false;
  }
  for (std::uint64_t i = 0; i < classes; ++i) {
    if (!string(nullptr)) {
      return false;
    }
  }
  return string(&out.decision);
}

std::vector<std::uint8_t> payload_associated_data(const record& r) {
  static constexpr std::string_view domain = "sovgw-audit-payload-v1";
  std::vector<std::uint8_t> out(domain.begin(), domain.end());
  out.push_back(0);
  record copy = r;
  copy.seq = 0;
  copy.payload_digest.clear();
  copy.data_key_version = 0;
  copy.data_key_digest.clear();
  copy.auditor_key.clear();
  encode_into(copy, out);
  return out;
}

}  // namespace sovgw::audit
