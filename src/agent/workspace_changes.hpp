// What a job's run did to its git workspace, the pure part: git's NUL-separated outputs read
// into a list of changed files, the list bounded, and the JSON the job record keeps. The git
// commands themselves run in workspace_capture.hpp. File names are bytes to git: they are
// read with -z (never quoted), and made valid UTF-8 (U+FFFD for what is not) only for the
// record.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::agent {

// The record lists at most this many files; `truncated` says when there were more.
inline constexpr std::size_t kMaxChangedFiles = 1000;

struct ChangedFile {
    std::string path;  // from the repository's top directory
    // added, modified, deleted, type_changed, unmerged (as git diff says, for tracked files),
    // or untracked (new, and not added to git).
    std::string status;
    friend bool operator==(const ChangedFile&, const ChangedFile&) = default;
};
BOOST_DESCRIBE_STRUCT(ChangedFile, (), (path, status))

struct WorkspaceChanges {
    // The commits HEAD named before the run (after the git sync) and after it; null when
    // HEAD had no commit yet (a new repository), or when it could not be read (`error`).
    std::optional<std::string> head_before;
    std::optional<std::string> head_after;
    // What differs between head_before and the working tree at the end, committed or not,
    // untracked files included (not ignored ones); sorted by path, at most kMaxChangedFiles.
    std::vector<ChangedFile> changed_files;
    // How many files were found to differ, listed or not (when git's own output was cut,
    // at least this many).
    std::size_t changed_count = 0;
    // The working tree at the end differs from head_after (changes not committed, or
    // untracked files); null when it could not be told.
    std::optional<bool> dirty;
    bool truncated = false;  // changed_files does not list every file that differs
    // Why it could not all be read (git missing, not a repository, a timeout...); the other
    // fields hold what was read.
    std::optional<std::string> error;
};
BOOST_DESCRIBE_STRUCT(WorkspaceChanges, (),
                      (head_before, head_after, changed_files, changed_count, dirty, truncated,
                       error))

// `git diff --name-status -z` output: each entry its status letters, NUL, its path, NUL (a
// rename or copy has a second path). A last entry cut short (git's output past a cap) is
// left out, as are the old paths of copies; a rename is its old path deleted and its new one
// added. Paths are as git gave them (bytes).
std::vector<ChangedFile> parse_name_status(std::string_view output);

// `git status --porcelain=v2 -z` output: whether it has any entry (the tree differs from
// HEAD: changed, unmerged or untracked files) and the untracked files' paths (bytes).
struct WorkingTreeStatus {
    bool dirty = false;
    std::vector<std::string> untracked;
};
WorkingTreeStatus parse_porcelain_v2(std::string_view output);

// Sets the list of `changes` from the tracked files git diff found and the untracked files:
// one entry a path (a path git diff calls deleted that is untracked now is `untracked`),
// sorted by path, the first `limit` kept, paths made valid UTF-8; changed_count, and
// truncated when entries were dropped or `output_cut` (git's output was past its cap).
void set_changed_files(WorkspaceChanges& changes, std::vector<ChangedFile> tracked,
                       std::vector<std::string> untracked, bool output_cut,
                       std::size_t limit = kMaxChangedFiles);

// The job record's `workspace`.
boost::json::value to_json(const WorkspaceChanges& changes);
// Makes a record's `workspace` what a listing shows: the same without `changed_files` (null
// stays null).
void summarize_workspace(boost::json::value& workspace);

}  // namespace cas::agent
