#pragma once

// Reading the files an admin names (configs, policies, tenants, tests, keys, certificates, geo
// data): whole, bounded, and only when they are regular files. A FIFO, a device (/dev/zero) or a
// directory named by mistake is refused at once with a reason, instead of hanging the reader (an
// open(2) of a FIFO without O_NONBLOCK waits for a writer) or growing it without bound.
// Header-only; no state; thread-safe.

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace sovgw {

enum class file_problem { none, cannot_open, not_regular, too_large, cannot_read };

// Why a file was not read. `text` says it without the path ("cannot open the policy file: No such
// file or directory", "not a regular file (a FIFO)", "larger than 64 MiB: not a policy file").
struct file_error {
  file_problem kind = file_problem::none;
  std::string text;
  int system_error = 0;  // errno, for cannot_open and cannot_read
  [[nodiscard]] const std::string& message() const { return text; }
};

// "a FIFO", "a directory", ... for a st_mode that is not a regular file.
[[nodiscard]] inline std::string_view file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "a directory";
    case S_IFIFO:
      return "a FIFO";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFSOCK:
      return "a socket";
    default:
      return "not a regular file";
  }
}

// "64 MiB", "512 KiB", "100 bytes".
[[nodiscard]] inline std::string byte_size_text(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
    return fmt::format("{} MiB", bytes >> 20);
  }
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return fmt::format("{} KiB", bytes >> 10);
  }
  return fmt::format("{} bytes", bytes);
}

namespace detail {

// `kind` with errno's reason: "cannot open the policy file: No such file or directory".
[[nodiscard]] inline file_error system_problem(file_problem kind, std::string_view verb,
                                               std::string_view what) {
  const int e = errno;
  return {kind, fmt::format("cannot {} the {}: {}", verb, what, std::strerror(e)), e};
}

// A path that does not open for want of a file: when it is a symbolic link, the target it names (a
// dangling link: the admin looks for the target, not the link).
[[nodiscard]] inline file_error with_missing_target(file_error e, const std::string& path) {
  struct stat st {};
  if (e.system_error != ENOENT || ::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
    return e;
  }
  char target[4096];
  const ssize_t n = ::readlink(path.c_str(), target, sizeof target);
  if (n > 0) {
    e.text += fmt::format(" ({} is a symbolic link to {}, which does not exist)", path,
                          std::string_view(target, static_cast<std::size_t>(n)));
  }
  return e;
}

[[nodiscard]] inline file_error too_large(std::size_t max_bytes, std::string_view what) {
  return {file_problem::too_large, fmt::format("larger than {}: not a {}", byte_size_text(max_bytes), what)};
}

[[nodiscard]] inline file_error check_stat(const struct stat& st, std::size_t max_bytes,
                                           std::string_view what) {
  if (!S_ISREG(st.st_mode)) {
    return {file_problem::not_regular,
            fmt::format("the {} is {}, not a regular file", what, file_type_name(st.st_mode))};
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    return too_large(max_bytes, what);
  }
  return {};
}

}  // namespace detail

// Whether `path` is a regular file of at most `max_bytes`, for files a library opens itself
// (OpenSSL's PEM readers, libmaxminddb): stat(2) only, nothing is opened. `what` names the file in
// the message ("policy file", "certificate").
[[nodiscard]] inline file_error check_regular_file(const std::string& path, std::size_t max_bytes,
                                                   std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return detail::with_missing_target(detail::system_problem(file_problem::cannot_open, "open", what), path);
  }
  return detail::check_stat(st, max_bytes, what);
}

// The whole content of the regular file `path`, at most `max_bytes`. Opened with O_NONBLOCK (a
// FIFO does not block the open) and judged by fstat(2) on what was opened; the size is checked
// again while reading (a file that grows meanwhile). `extra_flags` adds open flags (O_NOFOLLOW).
// `opened` receives the fstat of what was read (a caller that checked the file first compares).
[[nodiscard]] inline result<std::string, file_error> read_regular_file(const std::string& path,
                                                                       std::size_t max_bytes,
                                                                       std::string_view what,
                                                                       int extra_flags = 0,
                                                                       struct stat* opened = nullptr) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | extra_flags);
  if (fd < 0) {
    return detail::with_missing_target(detail::system_problem(file_problem::cannot_open, "open", what), path);
  }
  struct stat st {};
  file_error problem;
  if (::fstat(fd, &st) != 0) {
    problem = detail::system_problem(file_problem::cannot_read, "read", what);
  } else {
    problem = detail::check_stat(st, max_bytes, what);
    if (opened != nullptr) {
      *opened = st;
    }
  }
  std::string text;
  if (problem.kind == file_problem::none) {
    text.reserve(static_cast<std::size_t>(st.st_size));
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        problem = detail::system_problem(file_problem::cannot_read, "read", what);
        break;
      }
      if (n == 0) {
        break;
      }
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > max_bytes) {
        problem = detail::too_large(max_bytes, what);
        break;
      }
    }
  }
  ::close(fd);
  if (problem.kind != file_problem::none) {
    return problem;
  }
  return text;
}

// Size bounds of the files sovgw reads (far above any real one; a file beyond them was named by
// mistake).
inline constexpr std::size_t max_config_bytes = std::size_t{16} << 20;   // a gateway config, a clusters file
inline constexpr std::size_t max_policy_bytes = std::size_t{64} << 20;   // a policy, a policy test file
inline constexpr std::size_t max_tenants_bytes = std::size_t{64} << 20;  // a tenants file
inline constexpr std::size_t max_pem_bytes = std::size_t{16} << 20;      // a certificate, key or CA bundle
inline constexpr std::size_t max_data_bytes = std::size_t{1} << 30;      // geo data, a requests file

}  // namespace sovgw
