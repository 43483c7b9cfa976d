// usage: audit_bench [--db DIR] [--keys DIR] [--records N] [--seconds S] [--writers 1,8,64]
//                    [--async-inflight 64,512|none] [--rates 25000,50000|none]
//                    [--payload-bytes B] [--quick]
// With --db the log is left behind (keys in --keys, default DIR-keys) for the auditors'
// walkthrough in docs/auditing.md; without it a temporary directory is used and removed.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/keys.hpp"
#include "audit/log_verifier.hpp"
#include "audit/proof_file.hpp"
#include "audit/query.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"

using namespace sovgw::audit;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  std::string db;
  std::string keys;
  bool keep = false;
  std::uint64_t records = 1'000'000;
  double seconds = 3.0;
  std::vector<int> writers = {1, 8, 64};
  std::vector<int> async_inflight = {64, 512};
  std::vector<int> rates = {25000, 50000};
  std::size_t payload_bytes = 1024;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The peer: what a naive audit log does, one synced RocksDB write per record.
double per_record_sync_baseline(const std::string& dir, double seconds, std::size_t payload_bytes) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(o, dir, &raw).ok()) {
    return 0;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const std::string value(300 + payload_bytes, 'x');
  std::uint64_t n = 0;
  const auto t0 = clock_type::now();
  while (seconds_since(t0) < seconds) {
    (void)db->Put(wo, be64(n++), value);
  }
  return static_cast<double>(n) / seconds_since(t0);
}

// A failed append ends the benchmark: figures over a log that refuses records would mean nothing.
void exit_if_failed(const status& st) {
  if (!st.is_ok()) {
    std::fprintf(stderr, "append failed: %s\n", st.message().c_str());
    std::exit(1);
  }
}

// CPU time (all threads) and context switches of the process: what an append costs the machine,
// which is steadier on a noisy VM than the wall-clock rate.
struct usage_mark {
  double cpu_s = 0;
  long switches = 0;
  static usage_mark now() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto sec = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return {sec(u.ru_utime) + sec(u.ru_stime), u.ru_nvcsw + u.ru_nivcsw};
  }
};

struct phase_result {
  std::uint64_t appends = 0;
  double elapsed = 0;
  std::vector<double> latencies_ms;
  usage_mark start = usage_mark::now();
  usage_mark end;
  log_stats log_start;
  log_stats log_end;
  [[nodiscard]] std::string cost() const {
    const double n = static_cast<double>(std::max<std::uint64_t>(appends, 1));
    const double syncs = static_cast<double>(std::max<std::uint64_t>(log_end.syncs - log_start.syncs, 1));
    return fmt::format(
        "cpu_us_per_append={:.1f} switches_per_append={:.2f} records_per_sync={:.1f} sync_ms={:.2f} "
        "sequencer_cpu_us_per_append={:.1f}",
        (end.cpu_s - start.cpu_s) * 1e6 / n, static_cast<double>(end.switches - start.switches) / n,
        static_cast<double>(log_end.records - log_start.records) / syncs,
        (log_end.sync_seconds - log_start.sync_seconds) * 1e3 / syncs,
        (log_end.sequencer_cpu_seconds - log_start.sequencer_cpu_seconds) * 1e6 / n);
  }
};

phase_result run_writers(audit_log& log, int writers, double seconds, std::size_t payload_bytes,
                         payload_mode mode, std::uint64_t limit, std::string_view run,
                         std::uint64_t base_time) {
  phase_result out;
  out.log_start = log.stats();
  std::atomic<std::uint64_t> next{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(writers));
  std::vector<std::thread> threads;
  const auto t0 = clock_type::now();
  const auto deadline =
      t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (;;) {
        const std::uint64_t i = next.fetch_add(1);
        if (i >= limit || clock_type::now() >= deadline) {
          return;
        }
        auto rec = synthetic_record(run, i, base_time, mode);
        auto data = synthetic_payload(i, payload_bytes);
        const auto a = clock_type::now();
        auto r = log.append(std::move(rec), data).get();
        exit_if_failed(r.is_ok() ? status::ok() : r.error());
        lat[static_cast<std::size_t>(w)].push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - a).count());
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  out.end = usage_mark::now();
  out.log_end = log.stats();
  out.elapsed = seconds_since(t0);
  for (auto& l : lat) {
    out.appends += l.size();
    out.latencies_ms.insert(out.latencies_ms.end(), l.begin(), l.end());
  }
  return out;
}

// The gateway's shape: few threads, appends in flight through callbacks (no thread per append).
phase_result run_async(audit_log& log, int inflight, double seconds, std::size_t payload_bytes,
                       std::string_view run, std::uint64_t base_time,
                       payload_mode mode = payload_mode::sealed, std::uint64_t limit = UINT64_MAX) {
  std::counting_semaphore<1 << 16> permits(inflight);
  std::mutex mu;
  phase_result out;
  out.log_start = log.stats();
  const auto t0 = clock_type::now();
  std::uint64_t i = 0;
  while (i < limit && seconds_since(t0) < seconds) {
    permits.acquire();
    const auto a = clock_type::now();
    log.append_async(synthetic_record(run, i, base_time, payload_mode::sealed),
                     synthetic_payload(i, payload_bytes), [&, a](const status& st, std::uint64_t) {
                       exit_if_failed(st);
                       {
                         std::lock_guard lock(mu);
                         out.latencies_ms.push_back(
                             std::chrono::duration<double, std::milli>(clock_type::now() - a).count());
                       }
                       permits.release();
                     });
    ++i;
  }
  for (int k = 0; k < inflight; ++k) {
    permits.acquire();
  }
  out.end = usage_mark::now();
  out.log_end = log.stats();
  out.elapsed = seconds_since(t0);
  out.appends = out.latencies_ms.size();
  return out;
}

// Open loop: appends offered at a fixed rate whatever the log's latency, as requests reach the
// gateway (a closed loop with N in flight runs the log at saturation and measures its queue).
// Latency counts from the moment an append was due, so a driver that falls behind shows in the
// tail instead of hiding it. The driver wakes every 200 us and issues what is due by then.
phase_result run_rate(audit_log& log, int rate, double seconds, std::size_t payload_bytes,
                      std::string_view run, std::uint64_t base_time) {
  using namespace std::chrono;
  phase_result out;
  out.log_start = log.stats();
  std::mutex mu;
  std::uint64_t done = 0;
  std::condition_variable all_done;
  const auto total = static_cast<std::uint64_t>(rate * seconds);
  const auto t0 = clock_type::now();
  const auto due_at = [&](std::uint64_t i) {
    return t0 + duration_cast<clock_type::duration>(duration<double>(static_cast<double>(i) / rate));
  };
  for (std::uint64_t i = 0; i < total;) {
    const auto now = clock_type::now();
    for (; i < total && due_at(i) <= now; ++i) {
      log.append_async(
          synthetic_record(run, i, base_time, payload_mode::sealed), synthetic_payload(i, payload_bytes),
          [&, due = due_at(i)](const status& st, std::uint64_t) {
            exit_if_failed(st);
            std::lock_guard lock(mu);
            out.latencies_ms.push_back(duration<double, std::milli>(clock_type::now() - due).count());
            if (++done == total) {
              all_done.notify_one();
            }
          });
    }
    std::this_thread::sleep_until(now + microseconds(200));
  }
  {
    std::unique_lock lock(mu);
    all_done.wait(lock, [&] { return done == total; });
  }
  out.end = usage_mark::now();
  out.log_end = log.stats();
  out.elapsed = seconds_since(t0);
  out.appends = total;
  return out;
}

// One summary line per append setting: rate, commit latencies, ratio to the baseline, costs.
void print_append_line(const std::string& setting, phase_result& r, std::size_t payload_bytes,
                       double baseline) {
  const double rate = static_cast<double>(r.appends) / r.elapsed;
  fmt::print(
      "audit {} appends_per_s={:.0f} p50_ms={:.2f} p99_ms={:.2f} payload_bytes={} "
      "ratio_vs_per_record_sync={:.1f} "
      "{}\n",
      setting, rate, percentile(r.latencies_ms, 0.50), percentile(r.latencies_ms, 0.99), payload_bytes,
      baseline > 0 ? rate / baseline : 0.0, r.cost());
  std::fflush(stdout);
}

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "audit_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") {
      s.db = value();
      s.keep = true;
    } else if (a == "--keys") {
      s.keys = value();
    } else if (a == "--records") {
      s.records = std::stoull(value());
    } else if (a == "--seconds") {
      s.seconds = std::stod(value());
    } else if (a == "--payload-bytes") {
      s.payload_bytes = std::stoull(value());
    } else if (a == "--writers" || a == "--async-inflight" || a == "--rates") {
      auto& out = a == "--writers" ? s.writers : a == "--rates" ? s.rates : s.async_inflight;
      out.clear();
      std::string list = value();
      for (std::size_t pos = 0; pos <= list.size();) {
        const auto comma = list.find(',', pos);
        if (const auto item = list.substr(pos, comma - pos); !item.empty() && item != "none") {
          out.push_back(std::stoi(item));
        }
        pos = comma == std::string::npos ? list.size() + 1 : comma + 1;
      }
    } else if (a == "--quick") {
      s.records = 20'000;
      s.seconds = 0.5;
    } else {
      std::fprintf(stderr, "audit_bench: unknown option %s\n", a.c_str());
      std::exit(2);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  settings s = parse(argc, argv);
  std::string tmp;
  if (s.db.empty()) {
    tmp = (std::filesystem::temp_directory_path() / "sovgw-audit-bench-XXXXXX").string();
    if (::mkdtemp(tmp.data()) == nullptr) {
      return 1;
    }
    s.db = tmp + "/db";
  }
  if (s.keys.empty()) {
    s.keys = s.db + "-keys";
  }
  if (!std::filesystem::exists(s.keys + "/signing.key")) {
    (void)init_keys(s.keys, "bench.sovgw.local/audit");
  }
  const std::string baseline_dir = s.db + "-baseline";
  const double baseline = per_record_sync_baseline(baseline_dir, std::min(s.seconds, 2.0), s.payload_bytes);
  std::filesystem::remove_all(baseline_dir);
  fmt::print("audit baseline=per_record_synced_put appends_per_s={:.0f}\n", baseline);

  log_config config;
  config.db_dir = s.db;
  config.key_dir = s.keys;
  auto opened = audit_log::open(config);
  if (!opened.is_ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", opened.error().message().c_str());
    return 1;
  }
  auto& log = *opened.value();
  const std::uint64_t base_time = now_us() - s.records * 1000;
  std::uint64_t written = log.durable_size();
  std::string id_run = "req";
  std::uint64_t id_count = 0;
  for (const int w : s.writers) {
    auto r = run_writers(log, w, s.seconds, s.payload_bytes, payload_mode::sealed, UINT64_MAX,
                         fmt::format("w{}", w), base_time);
    written += r.appends;
    if (id_count == 0) {
      id_run = fmt::format("w{}", w);
      id_count = r.appends;
    }
    print_append_line(fmt::format("writers={}", w), r, s.payload_bytes, baseline);
  }
  for (const int inflight : s.async_inflight) {
    auto r =
        run_async(log, inflight, s.seconds, s.payload_bytes, fmt::format("async{}", inflight), base_time);
    written += r.appends;
    print_append_line(fmt::format("async_inflight={}", inflight), r, s.payload_bytes, baseline);
  }
  for (const int rate : s.rates) {
    auto r = run_rate(log, rate, s.seconds, s.payload_bytes, fmt::format("rate{}", rate), base_time);
    written += r.appends;
    print_append_line(fmt::format("offered_per_s={}", rate), r, s.payload_bytes, baseline);
  }
  if (written < s.records) {
    const auto t0 = clock_type::now();
    auto r = run_async(log, 512, 1e9, 256, "req", base_time, payload_mode::digest, s.records - written);
    written += r.appends;
    id_run = "req";
    id_count = r.appends;
    fmt::print("audit fill records={} appends_per_s={:.0f} (payload digests only)\n", written,
               static_cast<double>(r.appends) / seconds_since(t0));
  }
  if (auto st = log.close(); !st.is_ok()) {
    std::fprintf(stderr, "audit_bench: close: %s\n", st.message().c_str());
    return 1;
  }
  opened.value().reset();

  auto reader = store::open(s.db, store::open_mode::read_only);
  if (!reader.is_ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", reader.error().message().c_str());
    return 1;
  }
  const store& st = *reader.value();
  const auto key = load_verifier(s.keys + "/signing.pub");
  auto t0 = clock_type::now();
  const auto report = verify_log(st, key);
  const double verify_s = seconds_since(t0);
  fmt::print("audit verify leaves={} leaves_per_s={:.0f} ok={}\n", report.records,
             static_cast<double>(report.records) / verify_s, report.ok());

  std::mt19937_64 rng(42);
  const std::size_t proof_count = 5000;
  std::vector<std::string> proofs;
  t0 = clock_type::now();
  for (std::size_t i = 0; i < proof_count; ++i) {
    auto p = make_inclusion_proof(st, rng() % report.records);
    if (!p.is_ok()) {
      std::fprintf(stderr, "audit_bench: prove: %s\n", p.error().message().c_str());
      return 1;
    }
    proofs.push_back(std::move(p.value()));
  }
  const double gen_s = seconds_since(t0);
  t0 = clock_type::now();
  std::size_t verified = 0;
  for (const auto& p : proofs) {
    verified += verify_inclusion_proof(p, key).is_ok() ? 1 : 0;
  }
  const double ver_s = seconds_since(t0);
  fmt::print("audit proofs generated_per_s={:.0f} verified_per_s={:.0f} verified={}/{}\n",
             static_cast<double>(proof_count) / gen_s, static_cast<double>(proof_count) / ver_s, verified,
             proof_count);

  const auto time_queries = [&](const char* name, auto make_filter) {
    std::vector<double> lat;
    std::uint64_t rows = 0;
    for (int i = 0; i < 200; ++i) {
      query_filter f = make_filter(i);
      const auto a = clock_type::now();
      (void)run_query(st, f, [&](const record&) {
        ++rows;
        return true;
      });
      lat.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - a).count());
    }
    fmt::print("audit query records={} by={} p50_ms={:.3f} p99_ms={:.3f} rows_per_query={:.0f}\n",
               report.records, name, percentile(lat, 0.5), percentile(lat, 0.99),
               static_cast<double>(rows) / 200.0);
  };
  const std::uint64_t fill_count = std::max<std::uint64_t>(report.records, 1);
  time_queries("request_id", [&](int) {
    query_filter f;
    f.request_id = fmt::format("{}-{}", id_run, rng() % std::max<std::uint64_t>(id_count, 1));
    return f;
  });
  time_queries("tenant_limit100", [&](int i) {
    query_filter f;
    f.tenant = i % 2 == 0 ? "acme" : "hooli";
    f.limit = 100;
    return f;
  });
  time_queries("decision_country_limit100", [&](int) {
    query_filter f;
    f.decision = "deny";
    f.country = "US";
    f.limit = 100;
    return f;
  });
  time_queries("time_window_1s", [&](int) {
    query_filter f;
    f.since_us = base_time + (rng() % fill_count) * 1000;
    f.until_us = *f.since_us + 1'000'000;
    return f;
  });
  reader.value().reset();
  if (!s.keep) {
    std::filesystem::remove_all(tmp);
  } else {
    fmt::print("audit log left at {} (keys in {})\n", s.db, s.keys);
  }
  return 0;
}
