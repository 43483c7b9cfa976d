#include "gateway/reload_thread.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <latch>
#include <mutex>

using sovgw::gateway::reload_thread;

TEST_CASE("reload thread: the asker never waits, asks during a run merge into one more") {
  std::latch started(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> runs{0};
  std::promise<void> second_done;
  reload_thread reloads([&](std::stop_token) {
    if (++runs == 1) {
      started.count_down();
      released.wait();  // a reload that takes as long as the test likes
    } else {
      second_done.set_value();
    }
  });
  CHECK_FALSE(reloads.request());
  started.wait();
  // The first run is blocked: each ask returns at once, and says it queued behind it.
  CHECK(reloads.request());
  CHECK(reloads.request());
  CHECK(runs == 1);
  release.set_value();
  second_done.get_future().wait();
  reloads.stop();
  CHECK(runs == 2);
}

TEST_CASE("reload thread: stop() reaches the run in flight through its stop token") {
  std::latch started(1);
  std::atomic<bool> saw_stop{false};
  reload_thread reloads([&](std::stop_token stop) {
    started.count_down();
    // A proof that would run for ever unless asked to stop.
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait(lock, stop, [] { return false; });
    saw_stop = stop.stop_requested();
  });
  (void)reloads.request();
  started.wait();
  reloads.stop();
  CHECK(saw_stop);
  CHECK_FALSE(reloads.request());  // ignored once stopped
}
