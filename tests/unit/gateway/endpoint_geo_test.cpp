#include "gateway/endpoint_geo.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "policy/ip_address.hpp"
#include "tests/unit/policy/mmdb_writer.hpp"

using namespace sovgw;
using namespace sovgw::gateway;

namespace {

cluster_config cluster(const char* country) {
  cluster_config c;
  c.name = "paris";
  c.country = country;
  return c;
}

policy::ip_address ip(const char* text) { return *policy::parse_ip(text); }

}  // namespace

TEST_CASE("endpoint geo: an address is used only where the cluster says it is") {
  const auto path = std::filesystem::temp_directory_path() / "sovgw-endpoint-geo-test.mmdb";
  policy::test::write_mmdb(path, {{"8.8.8.0/24", "US"}, {"9.9.9.0/24", "FR"}}, 4);
  const policy::geo_db geo = policy::geo_db::load_mmdb(path);
  std::filesystem::remove(path);

  const address_check same = judge_address(cluster("FR"), ip("9.9.9.9"), geo);
  CHECK(same.verdict == geo_verdict::matches);
  CHECK(same.country == "FR");

  const address_check elsewhere = judge_address(cluster("FR"), ip("8.8.8.8"), geo);
  CHECK(elsewhere.verdict == geo_verdict::refused);
  CHECK(elsewhere.reason == "8.8.8.8 geolocates to US, not FR as cluster 'paris' declares");

  cluster_config exempt = cluster("FR");
  exempt.endpoint_geo_exempt = "anycast front, GPUs in Paris (contract 42)";
  const address_check waived = judge_address(exempt, ip("8.8.8.8"), geo);
  CHECK(waived.verdict == geo_verdict::exempt);
  CHECK(waived.reason == exempt.endpoint_geo_exempt);

  CHECK(judge_address(cluster("FR"), ip("1.1.1.1"), geo).verdict == geo_verdict::unverified);

  // A local-use NAT64 address (64:ff9b:1::/48) does not say at which RFC 6052 length it embeds its
  // IPv4 address: the geo lookup calls it unknown when the readings disagree; the endpoint check
  // refuses it when any reading is in another country.
  const address_check nat64 = judge_address(cluster("FR"), ip("64:ff9b:1:808:8:800::"), geo);  // /48: 8.8.8.8
  CHECK(nat64.verdict == geo_verdict::refused);
  CHECK(nat64.reason.find("embeds 8.8.8.8 (one reading of its NAT64 prefix), which geolocates to US") !=
        std::string::npos);
  const address_check fr = judge_address(cluster("FR"), ip("64:ff9b:1:909:9:900::"), geo);
  CHECK_MESSAGE(fr.verdict != geo_verdict::refused, fr.reason);

  // Loopback and private addresses: on-premises clusters only, whatever the data or the exemption.
  const address_check loopback = judge_address(cluster("FR"), ip("127.0.0.1"), geo);
  CHECK(loopback.verdict == geo_verdict::refused);
  CHECK(loopback.country == "private");
  CHECK(loopback.reason.find("not on_premises") != std::string::npos);
  CHECK(judge_address(exempt, ip("10.1.2.3"), geo).verdict == geo_verdict::refused);
  cluster_config on_prem = cluster("FR");
  on_prem.on_premises = true;
  CHECK(judge_address(on_prem, ip("10.1.2.3"), geo).verdict == geo_verdict::on_premises);
  CHECK(judge_address(on_prem, ip("::1"), geo).verdict == geo_verdict::on_premises);
  CHECK(judge_address(on_prem, ip("8.8.8.8"), geo).verdict == geo_verdict::refused);
}

TEST_CASE("endpoint geo: a resolved set is judged into the addresses to use (re-resolution swaps these)") {
  const auto path = std::filesystem::temp_directory_path() / "sovgw-endpoint-geo-judge-test.mmdb";
  policy::test::write_mmdb(path, {{"8.8.8.0/24", "US"}, {"9.9.9.0/24", "FR"}}, 4);
  config cfg;
  cfg.geo_database = path.string();
  endpoint_geo_judge judge(cfg);
  cluster_config on_prem = cluster("FR");
  on_prem.on_premises = true;
  const auto addr = [](const char* text) { return tcp::endpoint(asio::ip::make_address(text), 443); };

  endpoint_addresses use;
  const endpoint_geo_report::endpoint_line mixed =
      judge.judge(on_prem, "gpu.example:443", {addr("127.0.0.1"), addr("8.8.8.8"), addr("9.9.9.9")}, use);
  std::filesystem::remove(path);  // loaded once, kept by the judge
  CHECK(mixed.usable);
  REQUIRE(mixed.addresses.size() == 3);
  CHECK(mixed.addresses[1].verdict == geo_verdict::refused);
  CHECK(use.usable == std::vector<tcp::endpoint>{addr("127.0.0.1"), addr("9.9.9.9")});
  CHECK(use.geo_country == "private,FR");
  // Each usable address with where it alone geolocates: what a request's audit record names.
  CHECK(use.notes ==
        std::vector<endpoint_addresses::address_note>{{"127.0.0.1", "private"}, {"9.9.9.9", "FR"}});
  CHECK(use.geo_reason.empty());
  CHECK(cluster_unusable_reason("paris", {&mixed}).empty());

  endpoint_addresses refused;
  const endpoint_geo_report::endpoint_line us =
      judge.judge(on_prem, "gpu.example:443", {addr("8.8.8.8")}, refused);
  CHECK_FALSE(us.usable);
  CHECK(refused.geo_refused());
  CHECK(refused.geo_reason == "8.8.8.8 geolocates to US, not FR as cluster 'paris' declares");
  CHECK(cluster_unusable_reason("paris", {&us}) ==
        "cluster 'paris' has no endpoint it may use: 8.8.8.8 geolocates to US, not FR as cluster 'paris' "
        "declares");
  CHECK(cluster_unusable_reason("paris", {&us, &mixed}).empty());

  // The same set judged again is equal: re-resolution swaps (and drops idle connections) only on change.
  endpoint_addresses again;
  (void)judge.judge(on_prem, "gpu.example:443", {addr("127.0.0.1"), addr("8.8.8.8"), addr("9.9.9.9")}, again);
  CHECK(again == use);
  CHECK_FALSE(again == refused);
}

TEST_CASE("endpoint addresses: the same set in another order is the same (its round trips are kept)") {
  const auto at = [](const char* a) { return tcp::endpoint(boost::asio::ip::make_address(a), 443); };
  using notes = std::vector<endpoint_addresses::address_note>;
  endpoint_addresses first{
      {at("9.9.9.9"), at("9.9.9.10")}, "FR,DE", "", {}, notes{{"9.9.9.9", "FR"}, {"9.9.9.10", "DE"}}};
  endpoint_addresses rotated{
      {at("9.9.9.10"), at("9.9.9.9")}, "DE,FR", "", {}, notes{{"9.9.9.10", "DE"}, {"9.9.9.9", "FR"}}};
  CHECK(first == rotated);
  endpoint_addresses other{{at("9.9.9.10"), at("9.9.9.11")}, "DE,FR", "", {}, notes{}};
  CHECK_FALSE(first == other);
  endpoint_addresses fewer{{at("9.9.9.9")}, "FR", "", {}, notes{{"9.9.9.9", "FR"}}};
  CHECK_FALSE(first == fewer);
  endpoint_addresses repeated{{at("9.9.9.9"), at("9.9.9.9")}, "FR,DE", "", {}, notes{}};
  CHECK_FALSE(first == repeated);
  // The same addresses and countries, but the geo database now places each in the other country:
  // a change (the records must not name the old country for an address).
  endpoint_addresses swapped{
      {at("9.9.9.9"), at("9.9.9.10")}, "FR,DE", "", {}, notes{{"9.9.9.9", "DE"}, {"9.9.9.10", "FR"}}};
  CHECK_FALSE(first == swapped);
}

TEST_CASE("geo store: SIGHUP's reload swaps a changed database in, keeps the last good one otherwise") {
  const auto path = std::filesystem::temp_directory_path() / "sovgw-geo-store-test.mmdb";
  policy::test::write_mmdb(path, {{"9.9.9.0/24", "FR"}}, 4);
  config cfg;
  cfg.geo_database = path.string();
  auto store = std::make_shared<geo_store>(cfg);
  CHECK(store->current() == nullptr);
  CHECK(store->reload().status == geo_store::reload_status::not_loaded);  // nothing uses it yet
  endpoint_geo_judge judge(cfg, store);
  cluster_config paris = cluster("FR");
  const auto addr = [](const char* text) { return tcp::endpoint(asio::ip::make_address(text), 443); };
  endpoint_addresses use;
  CHECK(judge.judge(paris, "gpu.example:443", {addr("9.9.9.9")}, use).usable);
  const std::shared_ptr<const geo_store::entry> first = store->current();
  REQUIRE(first != nullptr);
  CHECK(store->reload().status == geo_store::reload_status::unchanged);
  CHECK(store->current() == first);

  policy::test::write_mmdb(path, {{"9.9.9.0/24", "US"}}, 4);
  CHECK(store->reload().status == geo_store::reload_status::reloaded);
  CHECK(store->current() != first);
  CHECK(store->current()->sha256 != first->sha256);
  CHECK(policy::country_name(first->db.lookup(ip("9.9.9.9"))) == "FR");  // kept alive by its holder
  CHECK_FALSE(judge.judge(paris, "gpu.example:443", {addr("9.9.9.9")}, use).usable);  // the judge sees it

  const std::shared_ptr<const geo_store::entry> good = store->current();
  {
    std::ofstream corrupt(path, std::ios::trunc);
    corrupt << "no MaxMind DB\n";
  }
  const geo_store::reload_result bad = store->reload();
  CHECK(bad.status == geo_store::reload_status::failed);
  CHECK(bad.error.find(path.string()) != std::string::npos);
  CHECK(store->current() == good);
  std::filesystem::remove(path);
  CHECK(store->reload().status == geo_store::reload_status::failed);
  CHECK(store->current() == good);
}
