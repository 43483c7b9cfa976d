#pragma once

// Whether someone other than the gateway's own user (or root) could change a file the gateway
// trusts: a policy, the tenants file, a CA bundle, a key, a credential, the admin token. They could
// if they may write the file, or replace it: write a folder on its way from `/` (without the sticky
// bit, which keeps others from renaming what is not theirs), or own the file or such a folder. A
// symbolic link is followed: the folders of the link and those of the file it names are checked,
// as the link itself can be swapped. Header-only; reads the file system, no state.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/shell_word.hpp"

namespace sovgw {

namespace detail {

// The problem with one path (a file or a folder): "" when only root or this user may change it
// (with `any_owner`, whoever owns it, as long as group and others may not).
[[nodiscard]] inline std::string untrusted_entry(const std::filesystem::path& p, bool folder,
                                                 bool any_owner = false) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    return {};  // gone meanwhile: the reader reports it
  }
  const uid_t me = ::geteuid();
  if (!any_owner && st.st_uid != 0 && st.st_uid != me) {
    return fmt::format(
        "{} {} belongs to uid {}, not to root or to the user the gateway runs as (uid {}); "
        "run `chown {} {}`",
        folder ? "its folder" : "the file", p.string(), st.st_uid, me, me, shell_word(p.string()));
  }
  // Group write by a user private group (the owner's own group, named after it, with no other
  // member: umask 002 makes such files) lets nobody else in.
  const auto private_group = [&] {
    const passwd* owner = ::getpwuid(st.st_uid);
    const group* g = ::getgrgid(st.st_gid);
    return owner != nullptr && g != nullptr && owner->pw_gid == st.st_gid &&
           std::string_view(g->gr_name) == owner->pw_name &&
           (g->gr_mem == nullptr || g->gr_mem[0] == nullptr);
  };
  const mode_t writers = st.st_mode & ((st.st_mode & 020) != 0 && private_group() ? 002 : 022);
  if (writers != 0 && !(folder && (st.st_mode & S_ISVTX) != 0)) {
    return fmt::format("{} {} (mode {:04o}) lets group or others {} it; run `chmod go-w {}`",
                       folder ? "its folder" : "the file", p.string(), st.st_mode & 07777,
                       folder ? "replace what is in" : "change", shell_word(p.string()));
  }
  return {};
}

}  // namespace detail

// What a trusted file was when it was checked: a reader compares it with what it opened, so that a
// link or the file swapped between the check and the read is not loaded.
struct file_identity {
  dev_t dev = 0;
  ino_t ino = 0;
  [[nodiscard]] bool same_as(const struct stat& st) const {
    return ino != 0 && st.st_dev == dev && st.st_ino == ino;
  }
};

// Why others could change `path` ("" when they cannot, or when it does not exist: reading it
// reports that). The path is resolved one name at a time from `/`: every folder passed through is
// checked, the one holding each symbolic link met included (whoever may change it may point the
// link elsewhere), at any depth, and the file reached. `what` names the file in the message ("the
// policy file"); `checked` receives what the file was. `any_owner`: a public file others may read
// (a public key an auditor reads from the gateway's folder): only group and others' write matter.
[[nodiscard]] inline std::string others_may_change(const std::string& path, std::string_view what,
                                                   file_identity* checked = nullptr, bool any_owner = false) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec) {
    return fmt::format("refusing {} {}: cannot resolve its path: {}", what, path, ec.message());
  }
  std::vector<std::string> todo;  // the names still to walk, the next last
  const auto push = [&](const fs::path& p) {
    std::vector<std::string> names;
    for (const auto& part : p.relative_path()) {
      names.push_back(part.string());
    }
    todo.insert(todo.end(), names.rbegin(), names.rend());
  };
  push(absolute);
  fs::path current = "/";
  // Every problem on the way, so that one run names every folder to fix.
  std::vector<std::string> problems;
  const auto refuse = [&](std::string problem) {
    problems.push_back(std::move(problem));
    return fmt::format("refusing {} {}: {}", what, path, fmt::join(problems, "; and "));
  };
  const auto note = [&](std::string problem) {
    if (!problem.empty()) {
      problems.push_back(std::move(problem));
    }
  };
  note(detail::untrusted_entry(current, true, any_owner));
  int links = 0;
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    if (name.empty() || name == ".") {
      continue;
    }
    if (name == "..") {
      current = current.parent_path();  // `current` holds no link: its parent is the real one
      continue;
    }
    const fs::path next = current / name;
    struct stat st {};
    if (::lstat(next.c_str(), &st) != 0) {
      break;  // missing: the reader says so (and a reader that compares identities refuses)
    }
    if (S_ISLNK(st.st_mode)) {
      // `current`, which holds the link, was checked on the way in.
      if (++links > 40) {
        return refuse("too many symbolic links on its path");
      }
      const fs::path target = fs::read_symlink(next, ec);
      if (ec) {
        return refuse(fmt::format("cannot read the link {}: {}", next.string(), ec.message()));
      }
      if (target.is_absolute()) {
        current = "/";
      }
      push(target);
      continue;
    }
    if (todo.empty()) {
      // A device or a FIFO (/dev/zero's mode is 0666) is refused by its type: the reader says so,
      // rather than a mode to fix on a file that is no file to trust.
      if (S_ISREG(st.st_mode)) {
        note(detail::untrusted_entry(next, false, any_owner));
      }
      if (checked != nullptr && problems.empty()) {
        *checked = file_identity{st.st_dev, st.st_ino};
      }
      break;
    }
    if (!S_ISDIR(st.st_mode)) {
      break;  // not a folder: the reader says so
    }
    note(detail::untrusted_entry(next, true, any_owner));
    current = next;
  }
  if (problems.empty()) {
    return {};
  }
  const std::string last = std::move(problems.back());
  problems.pop_back();
  return refuse(last);
}

}  // namespace sovgw
