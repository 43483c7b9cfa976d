#pragma once

// Spare strings for a request's short-lived buffers (the head sent to the cluster, the cluster's
// bytes as read, the answer on its way to the client), kept per thread. A buffer handed back keeps
// its capacity and is the next one handed out: no malloc (these are often over 1 KiB, past glibc's
// per-thread cache) and memory still in cache, where a fresh block is written cold.
// Bounded: buffers over 16 KiB are freed, not kept, and a thread keeps at most 32.

#include <string>

namespace sovgw::gateway {

// The same spares for a buffer that outlives a scope (a connection's read buffer): take_spare
// gives an empty `s` a spare's capacity; give_spare hands `s`'s memory back (or frees it) and
// leaves `s` empty, without capacity.
void take_spare(std::string& s);
void give_spare(std::string& s);

class pooled_buffer {
 public:
  pooled_buffer() { take_spare(s_); }  // empty, with the capacity of the last spare handed back
  ~pooled_buffer() { give_spare(s_); }
  pooled_buffer(const pooled_buffer&) = delete;
  pooled_buffer& operator=(const pooled_buffer&) = delete;

  [[nodiscard]] std::string& operator*() noexcept { return s_; }
  [[nodiscard]] std::string* operator->() noexcept { return &s_; }

 private:
  std::string s_;
};

}  // namespace sovgw::gateway
