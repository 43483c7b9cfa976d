// Crash-test helper: appends synthetic records from several threads as fast as it can and prints
// "<seq> <request id>" on stdout (flushed) as soon as each append() has returned, i.e. once the
// record is durable. The test kills it with SIGKILL at random moments.
//
// usage: audit_crash_writer DB KEYS RUN [threads]
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/synthetic.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: audit_crash_writer DB KEYS RUN [threads]\n");
    return 2;
  }
  sovgw::audit::log_config config;
  config.db_dir = argv[1];
  config.key_dir = argv[2];
  config.checkpoint_interval = std::chrono::milliseconds(20);
  const std::string run = argv[3];
  const int threads = argc > 4 ? std::stoi(argv[4]) : 4;
  auto log = sovgw::audit::audit_log::open(config);
  if (!log.is_ok()) {
    std::fprintf(stderr, "open failed: %s\n", log.error().message().c_str());
    return 1;
  }
  std::fprintf(stdout, "open %llu\n", static_cast<unsigned long long>(log.value()->durable_size()));
  std::fflush(stdout);
  // Times from now on, as a gateway writes them (verify judges record times against each other).
  const auto base_us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count());
  std::mutex out;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::uint64_t i = static_cast<std::uint64_t>(t);; i += static_cast<std::uint64_t>(threads)) {
        auto r =
            log.value()
                ->append(sovgw::audit::synthetic_record(run, i, base_us, sovgw::audit::payload_mode::sealed),
                         sovgw::audit::synthetic_payload(i, 256))
                .get();
        if (!r.is_ok()) {
          std::fprintf(stderr, "append failed: %s\n", r.error().message().c_str());
          std::exit(1);
        }
        std::lock_guard lock(out);
        std::fprintf(stdout, "%llu %s-%llu\n", static_cast<unsigned long long>(r.value()), run.c_str(),
                     static_cast<unsigned long long>(i));
        std::fflush(stdout);
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
}
