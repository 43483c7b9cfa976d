#include "gateway/buffer_pool.hpp"

#include <cstddef>
#include <utility>
#include <vector>

namespace sovgw::gateway {

namespace {

constexpr std::size_t kept_buffers = 32;
constexpr std::size_t kept_capacity = 16 * 1024;
const std::size_t inline_capacity = std::string().capacity();  // the small-string buffer: no heap

// A buffer destroyed after the thread's thread_local destructors (a coroutine frame destroyed
// late) finds `closed` set (trivially destructible, so still readable) and is simply freed.
thread_local bool closed = false;

struct spare_list {
  std::vector<std::string> buffers;
  spare_list() { buffers.reserve(kept_buffers); }
  spare_list(const spare_list&) = delete;
  spare_list& operator=(const spare_list&) = delete;
  ~spare_list() { closed = true; }
};

spare_list& spares() {
  static thread_local spare_list list;
  return list;
}

}  // namespace

void take_spare(std::string& s) {
  if (closed || !s.empty() || s.capacity() > inline_capacity) {
    return;  // it has memory of its own
  }
  std::vector<std::string>& buffers = spares().buffers;
  if (!buffers.empty()) {
    s = std::move(buffers.back());
    buffers.pop_back();
  }
}

void give_spare(std::string& s) {
  std::string held = std::move(s);
  s.clear();  // a moved-from string is valid but unspecified: make it empty
  if (closed || held.capacity() <= inline_capacity || held.capacity() > kept_capacity) {
    return;  // nothing to keep, or too much
  }
  std::vector<std::string>& buffers = spares().buffers;
  if (buffers.size() < kept_buffers) {
    held.clear();
    buffers.push_back(std::move(held));  // within the reserved capacity: never allocates
  }
}

}  // namespace sovgw::gateway
