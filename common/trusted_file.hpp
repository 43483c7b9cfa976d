#pragma once

// Whether someone other than the gateway's own user (or root) could change a file the gateway
// trusts: a policy, the tenants file, a CA bundle, a key, a credential, the admin token. They could
// if they may write the file, or replace it: write a folder on its way from `/` (without the sticky
// bit, which keeps others from renaming what is not theirs), or own the file or such a folder. A
// symbolic link is followed: the folders of the link and those of the file it names are checked,
// as the link itself can be swapped. Header-only; reads the file system, no state.

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace sovgw {

namespace detail {

// The problem with one path (a file or a folder): "" when only root or this user may change it.
[[nodiscard]] inline std::string untrusted_entry(const std::filesystem::path& p, bool folder) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    return {};  // gone meanwhile: the reader reports it
  }
  const uid_t me = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != me) {
    return fmt::format(
        "{} {} belongs to uid {}, not to root or to the user the gateway runs as (uid {}); "
        "run `chown {} {}`",
        folder ? "its folder" : "it", p.string(), st.st_uid, me, me, p.string());
  }
  if ((st.st_mode & 022) != 0 && !(folder && (st.st_mode & S_ISVTX) != 0)) {
    return fmt::format("{} {} (mode {:04o}) lets group or others {} it; run `chmod go-w {}`",
                       folder ? "its folder" : "it", p.string(), st.st_mode & 07777,
                       folder ? "replace what is in" : "change", p.string());
  }
  return {};
}

// The problem with `dir` or a folder above it, up to `/`.
[[nodiscard]] inline std::string untrusted_folders(std::filesystem::path dir) {
  for (;; dir = dir.parent_path()) {
    if (std::string p = untrusted_entry(dir, true); !p.empty()) {
      return p;
    }
    if (dir.empty() || dir == dir.root_path()) {
      return {};
    }
  }
}

}  // namespace detail

// Why others could change `path` ("" when they cannot, or when it does not exist: reading it
// reports that). `what` names the file in the message ("the policy file").
[[nodiscard]] inline std::string others_may_change(const std::string& path, std::string_view what) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) {
    return {};
  }
  const std::filesystem::path real = std::filesystem::canonical(absolute, ec);
  if (ec) {
    return {};
  }
  std::string problem = detail::untrusted_entry(real, false);
  if (problem.empty()) {
    problem = detail::untrusted_folders(real.parent_path());
  }
  if (problem.empty() && real != absolute.lexically_normal()) {
    // Through a link: whoever may change the link's folder may point it elsewhere.
    const std::filesystem::path link_dir = std::filesystem::canonical(absolute.parent_path(), ec);
    if (!ec) {
      problem = detail::untrusted_folders(link_dir);
    }
  }
  return problem.empty() ? problem : fmt::format("refusing {} {}: {}", what, path, problem);
}

}  // namespace sovgw
