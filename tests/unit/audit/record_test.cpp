#include "audit/record.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "audit/query.hpp"
#include "audit/synthetic.hpp"

using namespace sovgw::audit;

TEST_CASE("record encoding round-trips and is deterministic") {
  record r = synthetic_record("t", 42, 1'700'000'000'000'000, payload_mode::digest);
  r.seq = 42;
  r.payload_digest.assign(32, 0xab);
  r.data_classes = {"personal.email", "financial.iban"};
  const auto bytes = encode(r);
  CHECK(bytes == encode(r));
  CHECK(bytes[0] == record_format_version);
  CHECK(bytes[record_seq_offset + 7] == 42);
  auto back = decode(bytes);
  REQUIRE(back.is_ok());
  CHECK(back.value() == r);
}

TEST_CASE("evidence of what was forwarded: version 2, only when there is some") {
  record r = synthetic_record("t", 7, 1'700'000'000'000'000, payload_mode::none);
  const auto v1 = encode(r);
  CHECK(v1[0] == record_format_version);
  r.endpoint = "10.0.0.1:443";
  r.endpoint_country = "FR";
  r.signature_keyid = "YMjGadacAMsVoB-tXtVXxtsGyEDFm6tBEkhSvCuYWmc";
  r.forwarded_digest = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
  const auto v2 = encode(r);
  CHECK(v2[0] == record_format_version_evidence);
  CHECK(std::equal(v1.begin() + 1, v1.end(), v2.begin() + 1));  // version 1, then the evidence
  auto back = decode(v2);
  REQUIRE(back.is_ok());
  CHECK(back.value() == r);
  index_fields f;
  CHECK(read_index_fields(v2, f));
  CHECK(f.request_id == r.request_id);
  for (std::size_t n = v1.size(); n < v2.size(); ++n) {
    CHECK_FALSE(decode(std::span(v2).first(n)).is_ok());
  }
  auto as_v1 = v2;
  as_v1[0] = record_format_version;
  CHECK(decode(as_v1).error().message().find("trailing") != std::string::npos);
}

TEST_CASE(
    "physical evidence and redactions: version 3, only when there is some; older versions stay readable") {
  record r = synthetic_record("t", 8, 1'700'000'000'000'000, payload_mode::none);
  r.endpoint = "10.0.0.1:443";
  const auto v2 = encode(r);
  CHECK(v2[0] == record_format_version_evidence);
  r.endpoint_rtt_us = 4321;
  r.distance_bound_km = 433;
  r.redactions = 2;
  const auto v3 = encode(r);
  CHECK(v3[0] == record_format_version_distance);
  CHECK(v3.size() == v2.size() + 16);
  CHECK(std::equal(v2.begin() + 1, v2.end(), v3.begin() + 1));  // version 2, then the distance
  auto back = decode(v3);
  REQUIRE(back.is_ok());
  CHECK(back.value() == r);
  index_fields f;
  CHECK(read_index_fields(v3, f));
  CHECK(f.request_id == r.request_id);
  for (std::size_t n = v2.size(); n < v3.size(); ++n) {
    CHECK_FALSE(decode(std::span(v3).first(n)).is_ok());
  }
  auto as_v2 = v3;
  as_v2[0] = record_format_version_evidence;
  CHECK(decode(as_v2).error().message().find("trailing") != std::string::npos);
  auto old = decode(v2);  // a version-2 record reads with no distance
  REQUIRE(old.is_ok());
  CHECK(old.value().endpoint_rtt_us == 0);
  CHECK(old.value().redactions == 0);

  record only_redactions = synthetic_record("t", 9, 1'700'000'000'000'000, payload_mode::none);
  only_redactions.redactions = 1;
  CHECK(encode(only_redactions)[0] == record_format_version_distance);
  auto back2 = decode(encode(only_redactions));
  REQUIRE(back2.is_ok());
  CHECK(back2.value() == only_redactions);
}

TEST_CASE("the API key's id: version 4, only when there is one") {
  record r = synthetic_record("t", 10, 1'700'000'000'000'000, payload_mode::none);
  r.redactions = 1;
  const auto v3 = encode(r);
  CHECK(v3[0] == record_format_version_distance);
  r.key_id = "sk-sovgw-Ab3dEf9h";
  const auto v4 = encode(r);
  CHECK(v4[0] == record_format_version_key);
  CHECK(v4.size() == v3.size() + 4 + r.key_id.size());
  CHECK(std::equal(v3.begin() + 1, v3.end(), v4.begin() + 1));  // version 3, then the key id
  auto back = decode(v4);
  REQUIRE(back.is_ok());
  CHECK(back.value() == r);
  for (std::size_t n = v3.size(); n < v4.size(); ++n) {
    CHECK_FALSE(decode(std::span(v4).first(n)).is_ok());
  }
  // A key alone brings the version-2 and -3 fields along (empty, zero).
  record only_key = synthetic_record("t", 11, 1'700'000'000'000'000, payload_mode::none);
  only_key.key_id = "sk-sovgw-Ab3dEf9h";
  auto back2 = decode(encode(only_key));
  REQUIRE(back2.is_ok());
  CHECK(back2.value() == only_key);
  // Version 4 with an empty key id is not what the encoder writes: refused.
  std::vector<std::uint8_t> empty_key = encode(r);
  empty_key.resize(v3.size());
  empty_key.insert(empty_key.end(), {0, 0, 0, 0});
  CHECK_FALSE(decode(empty_key).is_ok());
}

TEST_CASE("the address connected to: version 5, only when there is one; the key id may then be empty") {
  record r = synthetic_record("t", 12, 1'700'000'000'000'000, payload_mode::none);
  r.endpoint = "llm.example:443";
  r.endpoint_country = "FR,DE";
  r.key_id = "sk-sovgw-Ab3dEf9h";
  const auto v4 = encode(r);
  CHECK(v4[0] == record_format_version_key);
  r.endpoint_address = "2001:db8::7";
  r.endpoint_address_country = "DE";
  const auto v5 = encode(r);
  CHECK(v5[0] == record_format_version_address);
  CHECK(v5.size() == v4.size() + 8 + r.endpoint_address.size() + r.endpoint_address_country.size());
  CHECK(std::equal(v4.begin() + 1, v4.end(), v5.begin() + 1));  // version 4, then the address
  auto back = decode(v5);
  REQUIRE(back.is_ok());
  CHECK(back.value() == r);
  for (std::size_t n = v4.size(); n < v5.size(); ++n) {
    CHECK_FALSE(decode(std::span(v5).first(n)).is_ok());
  }
  auto as_v4 = v5;
  as_v4[0] = record_format_version_key;
  CHECK(decode(as_v4).error().message().find("trailing") != std::string::npos);
  auto old = decode(v4);  // a version-4 record reads with no address
  REQUIRE(old.is_ok());
  CHECK(old.value().endpoint_address.empty());

  record no_key = r;  // an address without a key id: version 5 with an empty key id
  no_key.key_id.clear();
  const auto v5_no_key = encode(no_key);
  CHECK(v5_no_key[0] == record_format_version_address);
  auto back2 = decode(v5_no_key);
  REQUIRE(back2.is_ok());
  CHECK(back2.value() == no_key);

  // Version 5 with an empty address is not what the encoder writes: refused.
  std::vector<std::uint8_t> empty_address(v4);
  empty_address[0] = record_format_version_address;
  empty_address.insert(empty_address.end(), {0, 0, 0, 0, 0, 0, 0, 0});
  CHECK_FALSE(decode(empty_address).is_ok());
  // A country without the address it belongs to is refused before it could be silently dropped.
  record country_only = synthetic_record("t", 13, 1'700'000'000'000'000, payload_mode::none);
  country_only.endpoint_address_country = "FR";
  CHECK_FALSE(validate(country_only).is_ok());
}

TEST_CASE("a data key commitment: version 6, only when there is one, outside the payload's associated data") {
  record r = synthetic_record("t", 14, 1'700'000'000'000'000, payload_mode::sealed);
  r.payload_digest.assign(32, 0xcd);
  const auto v1 = encode(r);
  CHECK(v1[0] == record_format_version);
  const auto ad = payload_associated_data(r);
  r.data_key_version = 3;
  r.data_key_digest = std::string(64, 'e');
  r.auditor_key = std::string(43, 'A') + "=";
  const auto v6 = encode(r);
  CHECK(v6[0] == record_format_version_data_key);
  // Version 5's strings (empty here), then the commitment.
  CHECK(v6.size() == v1.size() + 4 * 4 + (8 + 4 + 4) + 4 + 2 * 4 + 4 + (4 + 64) + (4 + 44));
  auto back = decode(v6);
  REQUIRE(back.is_ok());
  CHECK(back.value() == r);
  CHECK(payload_associated_data(r) == ad);  // set after sealing: not bound to the payload
  CHECK(decode(v1).value().data_key_digest.empty());
  for (std::size_t n = v6.size() - 60; n < v6.size(); ++n) {
    CHECK_FALSE(decode(std::span(v6).first(n)).is_ok());
  }
  // Half a commitment, a digest that is not lowercase hex, on an event: refused.
  for (const auto& change : std::vector<std::function<void(record&)>>{
           [](record& x) { x.auditor_key.clear(); }, [](record& x) { x.data_key_version = 0; },
           [](record& x) { x.data_key_digest[0] = 'E'; }, [](record& x) { x.kind = record_kind::event; }}) {
    record bad = r;
    change(bad);
    CHECK_FALSE(validate(bad).is_ok());
  }
}

TEST_CASE("record decoding is strict") {
  record r = synthetic_record("t", 1, 0, payload_mode::none);
  auto bytes = encode(r);
  SUBCASE("truncated at every length") {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      CHECK_FALSE(decode(std::span(bytes).first(n)).is_ok());
    }
  }
  SUBCASE("trailing bytes") {
    bytes.push_back(0);
    CHECK(decode(bytes).error().message().find("trailing") != std::string::npos);
  }
  SUBCASE("unknown version") {
    bytes[0] = 9;
    CHECK(decode(bytes).error().message().find("version 9") != std::string::npos);
  }
  SUBCASE("unknown kind") {
    bytes[record_seq_offset + 16] = 7;
    CHECK_FALSE(decode(bytes).is_ok());
  }
  SUBCASE("string length beyond the record") {
    bytes[record_seq_offset + 17] = 0x7f;
    CHECK_FALSE(decode(bytes).is_ok());
  }
}

TEST_CASE("record validation") {
  record r;
  CHECK(validate(r).is_ok());
  r.payload = payload_mode::sealed;
  CHECK_FALSE(validate(r).is_ok());
  r.payload_digest.assign(32, 1);
  CHECK(validate(r).is_ok());
  r.tenant.assign(max_string_size + 1, 'x');
  CHECK(validate(r).code() == error_code::invalid_argument);
  r.tenant.clear();
  r.rule_ids.assign(max_list_size, std::string(max_string_size, 'r'));
  CHECK(validate(r).message().find("encodes to more than") != std::string::npos);
  r.rule_ids.resize(8);
  CHECK(validate(r).is_ok());
  CHECK(decode(encode(r)).is_ok());
}

TEST_CASE("payload associated data ignores seq and digest but binds everything else") {
  record a = synthetic_record("t", 3, 5, payload_mode::sealed);
  record b = a;
  b.seq = 99;
  b.payload_digest.assign(32, 7);
  CHECK(payload_associated_data(a) == payload_associated_data(b));
  b.cluster_country = "US";
  CHECK(payload_associated_data(a) != payload_associated_data(b));
}

TEST_CASE("over-long fields are cut so that the record is still written") {
  record r = synthetic_record("t", 1, 0, payload_mode::none);
  r.path.assign(100 * 1024, 'p');
  r.rule_ids.assign(1000, std::string(4096, 'r'));
  CHECK_FALSE(validate(r).is_ok());
  CHECK(clamp_to_limits(r));
  CHECK(validate(r).is_ok());
  CHECK(r.note.find("truncated") == 0);
  CHECK(decode(encode(r)).is_ok());
  record small = synthetic_record("t", 2, 0, payload_mode::none);
  CHECK_FALSE(clamp_to_limits(small));
}

TEST_CASE("synthetic records use the gateway's decision words, and queries take only those") {
  for (std::uint64_t i = 0; i < 200; ++i) {
    const record r = synthetic_record("v", i, 0, payload_mode::none);
    CHECK_MESSAGE(is_request_decision(r.decision), r.decision);
  }
  CHECK(is_request_decision("deny"));
  CHECK(is_request_decision("no-policy"));
  CHECK_FALSE(is_request_decision("forbid"));
  CHECK_FALSE(is_request_decision(""));
  CHECK_FALSE(is_request_decision("Permit"));
}

TEST_CASE("a country filter is normalised to what records hold, or refused") {
  struct row {
    const char* text;
    std::optional<std::string> want;
  };
  for (const row& r :
       {row{"ru", "RU"}, row{"Ru", "RU"}, row{"DE", "DE"}, row{"private", "private"}, row{"unknown", ""},
        row{"XYZ", std::nullopt}, row{"R", std::nullopt}, row{"r1", std::nullopt},
        row{"PRIVATE", std::nullopt}, row{"", std::nullopt}, row{"\xc3\xa9", std::nullopt}}) {
    CHECK_MESSAGE(query_country(r.text) == r.want, r.text);
  }
}
