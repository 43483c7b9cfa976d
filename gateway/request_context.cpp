#include "gateway/request_context.hpp"

#include <cstdlib>
#include <new>

#include "audit/record.hpp"
#include "gateway/thread_blocks.hpp"

namespace sovgw::gateway {

namespace {

// More than the requests a worker has in flight at once would be memory held for nothing.
using context_blocks = thread_blocks<struct request_context_tag, 64>;

}  // namespace

request_slot::request_slot() {
  void* block = context_blocks::take([](std::size_t) { return true; }).p;
  if (block == nullptr) {
    block = std::malloc(sizeof(request_context));
    if (block == nullptr) {
      throw std::bad_alloc();
    }
  }
  try {
    ctx_ = new (block) request_context();
  } catch (...) {
    std::free(block);
    throw;
  }
}

request_slot::~request_slot() {
  ctx_->~request_context();
  if (!context_blocks::keep({ctx_, sizeof(request_context)})) {
    std::free(ctx_);
  }
}

std::string_view request_context::decision(bool answered) const {
  if (!policy_decided()) {
    return answered ? audit::decision_no_policy : audit::decision_none;
  }
  return permitted ? audit::decision_permit : audit::decision_deny;
}

}  // namespace sovgw::gateway
