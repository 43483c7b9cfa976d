#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

// The libraries' error values: a status (code + message) and result<T> (a value or the status
// saying why there is none). Header-only, shared by every library (CMake target sovgw_common).
//
// Contracts:
// - Both are [[nodiscard]]: a failure cannot be dropped silently; write `(void)` to mean it.
// - result<T>::value(), operator* and operator-> on an error are programming errors: they throw
//   std::logic_error naming the error (never undefined behaviour). Test is_ok() first.
// - The code says what kind of failure it is; the message says it to a person. Callers branch on
//   the code, never on the message.
namespace sovgw {

enum class error_code {
  ok,
  invalid_argument,     // bad input from the caller
  not_found,            // the thing named does not exist
  io,                   // a storage or file failure
  busy,                 // held by someone else (e.g. the audit log is open by another writer)
  corruption,           // stored data is damaged or is not what it should be
  verification_failed,  // a signature, hash or proof does not verify
  shut_down,            // the component is closed
};

[[nodiscard]] constexpr const char* to_string(error_code c) {
  switch (c) {
    case error_code::ok:
      return "ok";
    case error_code::invalid_argument:
      return "invalid_argument";
    case error_code::not_found:
      return "not_found";
    case error_code::io:
      return "io";
    case error_code::busy:
      return "busy";
    case error_code::corruption:
      return "corruption";
    case error_code::verification_failed:
      return "verification_failed";
    case error_code::shut_down:
      return "shut_down";
  }
  return "?";
}

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

// A value, or the error explaining why there is none. E is status unless a library needs a more
// specific error (it must have message()).
template <typename T, typename E = status>
class [[nodiscard]] result {
 public:
  result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(E error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool is_ok() const { return value_.has_value(); }
  // The error; a default (ok) E when there is a value.
  [[nodiscard]] const E& error() const { return error_; }
  [[nodiscard]] T& value() & { return (check(), *value_); }
  [[nodiscard]] const T& value() const& { return (check(), *value_); }
  [[nodiscard]] T&& value() && { return (check(), std::move(*value_)); }
  [[nodiscard]] T* operator->() { return (check(), &*value_); }
  [[nodiscard]] const T* operator->() const { return (check(), &*value_); }
  [[nodiscard]] T& operator*() & { return (check(), *value_); }
  [[nodiscard]] const T& operator*() const& { return (check(), *value_); }

 private:
  void check() const {
    if (!value_) {
      throw std::logic_error("result::value() called on an error: " + error_.message());
    }
  }

  std::optional<T> value_;
  E error_;
};

}  // namespace sovgw
