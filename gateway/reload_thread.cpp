#include "gateway/reload_thread.hpp"

namespace sovgw::gateway {

reload_thread::reload_thread(job_fn job)
    : job_(std::move(job)), thread_([this](std::stop_token stop) { run(stop); }) {}

reload_thread::~reload_thread() { stop(); }

bool reload_thread::request() {
  std::lock_guard lock(mutex_);
  pending_ = true;
  wake_.notify_one();
  return running_;
}

void reload_thread::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();  // wakes the wait below too
    thread_.join();
  }
}

void reload_thread::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (wake_.wait(lock, stop, [this] { return pending_; }) && !stop.stop_requested()) {
    pending_ = false;
    running_ = true;
    lock.unlock();
    job_(stop);
    lock.lock();
    running_ = false;
  }
}

}  // namespace sovgw::gateway
