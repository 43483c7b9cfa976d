#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sovgw::audit {

// Error codes of the audit library. `corruption` and `verification_failed` mean the stored log
// does not match what was signed; `io` is a storage failure; `invalid_argument` is bad input.
enum class error_code { ok, invalid_argument, not_found, io, corruption, verification_failed, shut_down };

// RocksDB-style status: cheap to return, must not be ignored.
class [[nodiscard]] status {
 public:
  status() = default;
  status(error_code code, std::string message) : code_(code), message_(std::move(message)) {}
  static status ok() { return {}; }

  [[nodiscard]] bool is_ok() const { return code_ == error_code::ok; }
  [[nodiscard]] error_code code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  error_code code_ = error_code::ok;
  std::string message_;
};

// A value or the status explaining why there is none.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(status s) : status_(std::move(s)) {}    // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool is_ok() const { return value_.has_value(); }
  [[nodiscard]] const status& error() const { return status_; }
  [[nodiscard]] T& value() { return *value_; }
  [[nodiscard]] const T& value() const { return *value_; }
  [[nodiscard]] T* operator->() { return &*value_; }
  [[nodiscard]] const T* operator->() const { return &*value_; }
  [[nodiscard]] T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  status status_;
};

}  // namespace sovgw::audit
