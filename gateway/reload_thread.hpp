#pragma once

// The thread SIGHUP reloads run on. The signal thread only asks (request()) and never waits, so a
// slow reload — a large policy's compilation and proofs, a large tenants file — holds up neither
// SIGTERM's drain nor an I/O thread. One run at a time; asks that arrive during a run merge into
// one more run after it. stop() asks the run in flight to stop (its std::stop_token: the policy's
// proofs end early) and waits for the thread. Thread-safe.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace sovgw::gateway {

class reload_thread {
 public:
  using job_fn = std::function<void(std::stop_token)>;

  // Starts the thread; `job` runs on it once per (merged) request.
  explicit reload_thread(job_fn job);
  ~reload_thread();  // stop()
  reload_thread(const reload_thread&) = delete;
  reload_thread& operator=(const reload_thread&) = delete;

  // Asks for a run and returns at once. True when a run is in progress: this one follows it.
  bool request();
  // Asks a run in flight to stop, then waits for it and ends the thread; later requests are
  // ignored. Idempotent; not from the job itself.
  void stop();

 private:
  void run(std::stop_token stop);

  job_fn job_;
  std::mutex mutex_;  // guards the two below
  std::condition_variable_any wake_;
  bool pending_ = false;
  bool running_ = false;
  std::jthread thread_;  // last: started once the rest is built
};

}  // namespace sovgw::gateway
