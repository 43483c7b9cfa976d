#include "audit/published_checkpoint.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "audit/proof_file.hpp"
#include "common/regular_file.hpp"

namespace sovgw::audit {

namespace {

constexpr std::size_t max_note_bytes = 64 * 1024;

status io_error(const std::string& what, const std::string& path) {
  return status{error_code::io, fmt::format("{} {}: {}", what, path, std::strerror(errno))};
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string published_checkpoint_path(std::string_view db_dir) {
  // The folder's own name, however it is written: `audit/`, `audit/.` and `./audit/./` all name
  // `audit` (else the file would land inside the store, at `audit/..checkpoint`); a path that ends
  // in `.` or `..` after that (`.`, `x/..`) is made absolute to find the name.
  std::filesystem::path p = std::filesystem::path(db_dir).lexically_normal();
  if (!p.empty() && p.filename().empty()) {
    p = p.parent_path();
  }
  if (p.empty() || p.filename() == "." || p.filename() == "..") {
    std::error_code ec;
    p = std::filesystem::absolute(p.empty() ? "." : p, ec).lexically_normal();
    if (p.filename().empty()) {
      p = p.parent_path();
    }
  }
  return p.string() + ".checkpoint";
}

std::vector<std::string> published_checkpoint_paths(std::string_view db_dir) {
  std::vector<std::string> paths{published_checkpoint_path(db_dir)};
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(std::string(db_dir), ec);
  if (!ec) {
    std::string beside_real = published_checkpoint_path(real.string());
    // Two names of one file count once: the same name in the same folder (whatever the file is: a
    // dangling link or a FIFO has no identity to compare), or one file.
    const std::filesystem::path given(paths.front());
    std::error_code dir_ec;
    const std::filesystem::path given_dir =
        std::filesystem::canonical(given.has_parent_path() ? given.parent_path() : ".", dir_ec);
    const bool same_name = !dir_ec && (given_dir / given.filename()).string() == beside_real;
    if (beside_real != paths.front() && !same_name &&
        !std::filesystem::equivalent(beside_real, paths.front(), ec)) {
      paths.push_back(std::move(beside_real));
    }
  }
  return paths;
}

result<std::optional<crypto::checkpoint>> read_published_checkpoint(const std::string& path,
                                                                    const crypto::note_verifier& key,
                                                                    std::string* note) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0) {
    if (errno == ENOENT) {
      return std::optional<crypto::checkpoint>();
    }
    return status{error_code::io, fmt::format("the checkpoint published at {} cannot be read: {}", path,
                                              std::strerror(errno))};
  }
  // O_NONBLOCK and fstat (common/regular_file.hpp): a FIFO there is refused, never waited on.
  auto read = read_regular_file(path, max_note_bytes, "file");
  if (!read.is_ok()) {
    const file_error& e = read.error();
    if (e.kind == file_problem::too_large) {
      return status{error_code::verification_failed,
                    fmt::format("the checkpoint published at {} is too large to be a checkpoint", path)};
    }
    if (e.kind == file_problem::cannot_open && e.system_error == ENOENT && S_ISLNK(link.st_mode)) {
      std::error_code ec;
      return status{
          error_code::io,
          fmt::format("the checkpoint published at {} is a symbolic link to {}, which does not exist", path,
                      std::filesystem::read_symlink(path, ec).string())};
    }
    if (e.kind == file_problem::not_regular) {
      return status{error_code::io, fmt::format("the checkpoint published at {}: {}", path, e.message())};
    }
    return status{error_code::io, fmt::format("the checkpoint published at {} cannot be read: {}", path,
                                              std::strerror(e.system_error))};
  }
  const std::string& text = read.value();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return status{error_code::verification_failed,
                  fmt::format("the checkpoint published at {} is empty (as a crash or a full disk can leave "
                              "it): it vouches for nothing; move it aside",
                              path)};
  }
  auto cp = read_kept_checkpoint(text, key, note);
  if (!cp.is_ok() && cp.error().kind == proof_failure::bad_signature) {
    return status{error_code::verification_failed,
                  fmt::format("the checkpoint published at {} does not verify under the key {}: it was "
                              "altered or damaged",
                              path, key.label())};
  }
  if (!cp.is_ok()) {
    const std::string why =
        cp.error().kind == proof_failure::key_changed
            ? fmt::format(
                  "it is signed by {}, not by the key {} under the same log name "
                  "(the log's signing key changed, or the file was altered)",
                  crypto::note_signer_labels(text), key.label())
        : cp.error().kind == proof_failure::unknown_key || cp.error().kind == proof_failure::other_log
            ? fmt::format(
                  "it is signed by {}, not by the key {}: wrong public key, or the file is another "
                  "log's",
                  crypto::note_signer_labels(text), key.label())
            : cp.error().message();
    // Unreadable as a checkpoint at all (CR LF line endings, a truncated or edited file): damaged,
    // not another log's.
    if (cp.error().kind == proof_failure::malformed ||
        crypto::verify_note(text, key).verdict == crypto::note_verdict::malformed) {
      const std::string hint = line_ending_hint(text);
      return status{error_code::verification_failed,
                    fmt::format("the checkpoint published at {} is damaged: {}{}", path,
                                hint.empty() ? "it is not a signed checkpoint (" + why + ")" : hint,
                                hint.empty() ? "" : " (as it is: " + why + ")")};
    }
    return status{error_code::verification_failed,
                  fmt::format("the checkpoint published at {} is not one of this log's: {}", path, why)};
  }
  return std::optional<crypto::checkpoint>(std::move(cp.value()));
}

status publish_checkpoint(const std::string& path, std::string_view note) {
  const std::string partial = path + ".partial";
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return io_error("cannot write", partial);
  }
  const bool written = write_all(fd, note) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    return io_error("cannot write", partial);
  }
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    return io_error("cannot replace", path);
  }
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    return io_error("cannot sync the folder of", path);
  }
  const bool synced = ::fsync(dir) == 0;
  ::close(dir);
  return synced ? status::ok() : io_error("cannot sync the folder of", path);
}

}  // namespace sovgw::audit
