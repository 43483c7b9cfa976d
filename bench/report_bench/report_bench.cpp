// usage: report_bench [--db DIR] [--keys DIR] [--records 1000000] [--rounds 3]
// Fills the log at DIR (synthetic records, payload digests; kept for the next run) up to
// --records, then times, alternately, `verify_log` alone (the peer: what `sovgw audit verify`
// does) and `build_report` (the same verification with the report's aggregates riding on its
// pass), and prints each and their ratio. See bench/README.md.
#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/keys.hpp"
#include "audit/log_verifier.hpp"
#include "audit/report.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"

namespace {

using namespace sovgw::audit;
using clock_type = std::chrono::steady_clock;

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "report_bench: %s\n", message.c_str());
  std::exit(1);
}

// Appends synthetic records until the log holds `records`, a batch of futures at a time.
void fill(const std::string& db, const std::string& keys, std::uint64_t records) {
  log_config config;
  config.db_dir = db;
  config.key_dir = keys;
  auto opened = audit_log::open(config);
  if (!opened.is_ok()) {
    die(opened.error().message());
  }
  auto& log = *opened.value();
  const std::uint64_t have = log.durable_size();
  if (have < records) {
    const auto t0 = clock_type::now();
    const std::uint64_t base = now_us() - records * 1000;
    std::vector<std::future<sovgw::result<std::uint64_t>>> pending;
    for (std::uint64_t i = have; i < records; ++i) {
      pending.push_back(
          log.append(synthetic_record("fill", i, base, payload_mode::digest), synthetic_payload(i, 64)));
      if (pending.size() == 4096 || i + 1 == records) {
        for (auto& f : pending) {
          if (auto r = f.get(); !r.is_ok()) {
            die(r.error().message());
          }
        }
        pending.clear();
      }
    }
    fmt::print("report fill records={} appends_per_s={:.0f}\n", records,
               static_cast<double>(records - have) / seconds_since(t0));
  }
  if (auto st = log.close(); !st.is_ok()) {
    die(st.message());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string keys;
  std::uint64_t records = 1000000;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      die("option " + a + " needs a value");
    }
    const std::string v = argv[++i];
    if (a == "--db") {
      db = v;
    } else if (a == "--keys") {
      keys = v;
    } else if (a == "--records") {
      records = std::stoull(v);
    } else if (a == "--rounds") {
      rounds = std::stoi(v);
    } else {
      die("unknown option " + a);
    }
  }
  if (db.empty()) {
    db = (std::filesystem::temp_directory_path() / "sovgw-report-bench").string();
  }
  if (keys.empty()) {
    keys = db + "-keys";
  }
  if (!std::filesystem::exists(keys + "/signing.key")) {
    (void)init_keys(keys, "bench.sovgw.local/audit");
  }
  fill(db, keys, records);
  auto reader = store::open(db, store::open_mode::read_only);
  if (!reader.is_ok()) {
    die(reader.error().message());
  }
  auto key = read_verifier(keys + "/signing.pub");
  if (!key.is_ok()) {
    die(key.error().message());
  }
  // As `sovgw audit verify` and `report` run it: record times judged against now.
  const verify_options options{
      .indexes = true, .held = {}, .require_checkpoint = true, .check_times_at_us = now_us()};
  report_options with_times;
  with_times.verify = options;
  for (int round = 0; round < rounds; ++round) {
    auto t0 = clock_type::now();
    const auto verified = verify_log(*reader.value(), key.value(), options);
    const double verify_s = seconds_since(t0);
    t0 = clock_type::now();
    const auto r = build_report(*reader.value(), key.value(), with_times);
    const double report_s = seconds_since(t0);
    fmt::print(
        "report round={} records={} verify_s={:.2f} report_s={:.2f} ratio report/verify={:.2f} "
        "records_per_s={:.0f} ok={} requests={} flows={} buckets={}\n",
        round, verified.records, verify_s, report_s, report_s / verify_s,
        static_cast<double>(r.verification.records) / report_s, r.verification.ok() && verified.ok(),
        r.outcomes.total(), r.flows.size(), r.series.size());
  }
  return 0;
}
