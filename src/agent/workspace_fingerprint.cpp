// The fingerprint is plain text, one line per path, rather than a hash of it: it is only kept
// for one comparison, so its size (a few KB for a normal workspace) does not matter, equality is
// exact with no collision to reason about, and two texts can be diffed to say what changed.
// Everything goes through stat/readdir/read with error codes, never a throwing filesystem call.
//
// Stat data can miss an edit made within one timestamp tick of the fingerprint (same size, same
// inode). That is harmless here: the fingerprint is taken before the CLI is spawned and the CLI
// reads its files well over a tick later, so it sees such an edit itself.
#include "agent/workspace_fingerprint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <memory>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <vector>

namespace cas::agent {
namespace {

constexpr std::size_t kMaxTreeEntries = 4096;
constexpr int kMaxTreeDepth = 8;
constexpr int kMaxSymbolicRefHops = 8;

// Memory files the CLI looks for in the workspace and each directory above it.
constexpr std::array<std::string_view, 5> kMemoryFiles = {
    "CLAUDE.md", "CLAUDE.local.md", "AGENTS.md", ".claude/CLAUDE.md", ".claude/AGENTS.md"};

// What the CLI reads from HOME; its run-time files (projects, todos, statsig...) stay out.
constexpr std::array<std::string_view, 3> kHomeFiles = {
    ".claude/settings.json", ".claude/settings.local.json", ".claude/CLAUDE.md"};
constexpr std::array<std::string_view, 5> kHomeTrees = {".claude/agents", ".claude/commands",
                                                        ".claude/skills", ".claude/output-styles",
                                                        ".claude/rules"};

constexpr std::string_view kManagedSettings = "/etc/claude-code";

std::string error_text(int error) {
    return std::generic_category().message(error);
}

// A missing path, or one under something that is not a directory, is "not there".
bool is_absent(int error) {
    return error == ENOENT || error == ENOTDIR;
}

std::string join(std::string_view dir, std::string_view name) {
    std::string path(dir);
    if (path.empty() || path.back() != '/') path += '/';
    path += name;
    return path;
}

// "" above the root (or for a relative path with no slash left).
std::string parent_of(const std::string& path) {
    if (path == "/") return {};
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return {};
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::int64_t nanoseconds(const timespec& time) {
    return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

// The canonical path, as the CLI sees it through getcwd(); "" with `error` set on failure.
std::string real_path(const std::string& path, int& error) {
    const std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr),
                                                           &std::free);
    if (!real) {
        error = errno;
        return {};
    }
    return real.get();
}

// 0, or the errno of the failure.
int read_file(const std::string& path, std::string& text) {
    struct Descriptor {
        int fd;
        ~Descriptor() {
            if (fd >= 0) ::close(fd);
        }
    };
    const Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) return errno;
    text.clear();
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t count = ::read(file.fd, buffer.data(), buffer.size());
        if (count > 0) {
            text.append(buffer.data(), static_cast<std::size_t>(count));
        } else if (count == 0) {
            return 0;
        } else if (errno != EINTR) {
            return errno;
        }
    }
}

void append_line(std::string& out, const std::string& path, std::string_view what) {
    out += path;
    out += '\t';
    out += what;
    out += '\n';
}

// Paths are looked up as `name` relative to the open directory `dir_fd` (AT_FDCWD for a whole
// path): in a tree this spares the kernel walking the whole path again for every entry.
// `path` is only what the line says.

std::string read_link(int dir_fd, const char* name) {
    std::array<char, 4096> target{};
    const ssize_t length = ::readlinkat(dir_fd, name, target.data(), target.size());
    if (length < 0) return "unreadable:" + error_text(errno);
    return {target.data(), static_cast<std::size_t>(length)};
}

enum class Kind { absent, file, directory };

// Appends the line for the path (following symlinks) unless it is absent.
Kind record(int dir_fd, const char* name, const std::string& path, std::string& out) {
    struct stat info {};
    if (::fstatat(dir_fd, name, &info, 0) == 0) {
        if (S_ISDIR(info.st_mode)) {
            // Its own times change with every entry created or removed, even briefly (an
            // editor's temporary file); the walk below already sees the entries that stay.
            append_line(out, path, "dir");
            return Kind::directory;
        }
        fmt::format_to(std::back_inserter(out), "{}\t{}\t{}\t{}\t{}\n", path, info.st_ino,
                       info.st_size, nanoseconds(info.st_mtim), nanoseconds(info.st_ctim));
        return Kind::file;
    }
    const int error = errno;
    struct stat link {};
    if (::fstatat(dir_fd, name, &link, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(link.st_mode)) {
        append_line(out, path, "dangling\t" + read_link(dir_fd, name));
        return Kind::file;
    }
    if (is_absent(error)) return Kind::absent;
    append_line(out, path, "unreadable:" + error_text(error));
    return Kind::file;
}

Kind record(const std::string& path, std::string& out) {
    return record(AT_FDCWD, path.c_str(), path, out);
}

struct CloseDirectory {
    void operator()(DIR* stream) const { ::closedir(stream); }
};
using DirectoryStream = std::unique_ptr<DIR, CloseDirectory>;

// Opens the directory and lists its entries (without "." and ".."), sorted; a null stream
// (and a line) when unreadable.
DirectoryStream list_directory(int dir_fd, const char* name, const std::string& path,
                               std::vector<std::string>& names, std::string& out) {
    DirectoryStream stream;
    const int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        stream.reset(::fdopendir(fd));
        if (!stream) ::close(fd);
    }
    int error = stream ? 0 : errno;
    while (stream) {
        errno = 0;
        const dirent* entry = ::readdir(stream.get());
        if (entry == nullptr) {
            error = errno;
            break;
        }
        const std::string_view entry_name = entry->d_name;
        if (entry_name != "." && entry_name != "..") names.emplace_back(entry_name);
    }
    if (error != 0) {
        append_line(out, path, "unreadable:" + error_text(error));
        return {};
    }
    std::sort(names.begin(), names.end());
    return stream;
}

// Walks below the directory; false once the tree has more than kMaxTreeEntries entries.
bool walk_directory(int dir_fd, const char* name, const std::string& path, int depth,
                    std::size_t& entries, std::string& out) {
    std::vector<std::string> names;
    const DirectoryStream stream = list_directory(dir_fd, name, path, names, out);
    if (!stream) return true;
    const int fd = ::dirfd(stream.get());
    for (const auto& child : names) {
        if (++entries > kMaxTreeEntries) return false;
        const std::string child_path = join(path, child);
        if (record(fd, child.c_str(), child_path, out) != Kind::directory) continue;
        // Following symlinked directories can loop; the depth bound ends that too.
        if (depth >= kMaxTreeDepth) {
            append_line(out, child_path, "too-deep");
        } else if (!walk_directory(fd, child.c_str(), child_path, depth + 1, entries, out)) {
            return false;
        }
    }
    return true;
}

void record_tree(const std::string& root, std::string& out) {
    if (record(root, out) != Kind::directory) return;
    std::size_t entries = 0;
    if (!walk_directory(AT_FDCWD, root.c_str(), root, 1, entries, out)) {
        append_line(out, root, "too-many-entries");
    }
}

// --- HEAD ---

struct Repository {
    std::string git_dir;     // HEAD and per-worktree refs
    std::string common_dir;  // shared refs and packed-refs (differs in a linked worktree)
};

bool is_object_id(std::string_view text) {
    return (text.size() == 40 || text.size() == 64) &&
           std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// As git: a `.git` directory, or a `.git` file saying "gitdir: <path>" (relative to where the
// file is), in `dir` or the nearest directory above it. Empty git_dir when there is none;
// `problem` set when there is one that cannot be read.
Repository find_repository(const std::string& dir, std::string& problem) {
    for (std::string current = dir; !current.empty(); current = parent_of(current)) {
        const std::string dot_git = join(current, ".git");
        struct stat info {};
        if (::stat(dot_git.c_str(), &info) != 0) continue;
        Repository repository;
        if (S_ISDIR(info.st_mode)) {
            repository.git_dir = dot_git;
        } else {
            std::string text;
            const int error = read_file(dot_git, text);
            constexpr std::string_view kPrefix = "gitdir:";
            const std::string_view content = trim(text);
            const std::string_view target =
                trim(content.substr(std::min(kPrefix.size(), content.size())));
            if (error != 0 || content.substr(0, kPrefix.size()) != kPrefix || target.empty()) {
                problem = "unreadable:" + dot_git;
                return {};
            }
            repository.git_dir =
                target.front() == '/' ? std::string(target) : join(current, target);
        }
        std::string common;
        if (read_file(join(repository.git_dir, "commondir"), common) == 0 &&
            !trim(common).empty()) {
            const std::string_view path = trim(common);
            repository.common_dir =
                path.front() == '/' ? std::string(path) : join(repository.git_dir, path);
        } else {
            repository.common_dir = repository.git_dir;
        }
        return repository;
    }
    return {};
}

// Each linked worktree has its own HEAD, pseudo-refs and these; other refs are shared.
bool is_per_worktree(std::string_view ref) {
    for (const std::string_view prefix : {"refs/worktree/", "refs/bisect/", "refs/rewritten/"}) {
        if (ref.substr(0, prefix.size()) == prefix) return true;
    }
    return ref.substr(0, 5) != "refs/";
}

// The sha `ref` has in packed-refs ("<sha> <ref>" lines, '#' header and '^' peeled lines).
std::string packed_ref(const Repository& repository, std::string_view ref) {
    std::string text;
    if (read_file(join(repository.common_dir, "packed-refs"), text) != 0) return {};
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto end = rest.find('\n');
        const std::string_view line = trim(rest.substr(0, end));
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        if (line.empty() || line.front() == '#' || line.front() == '^') continue;
        const auto space = line.find(' ');
        if (space != std::string_view::npos && line.substr(space + 1) == ref) {
            return std::string(line.substr(0, space));
        }
    }
    return {};
}

// Follows HEAD through symbolic refs (loose files first, then packed-refs) to a sha.
std::string resolve_head(const Repository& repository) {
    std::string text;
    if (read_file(join(repository.git_dir, "HEAD"), text) != 0) return "unreadable:HEAD";
    std::string ref = "HEAD";
    for (int hop = 0; hop < kMaxSymbolicRefHops; ++hop) {
        const std::string_view content = trim(text);
        if (is_object_id(content)) return std::string(content);
        constexpr std::string_view kPrefix = "ref:";
        if (content.substr(0, kPrefix.size()) != kPrefix) return "unreadable:" + ref;
        ref = trim(content.substr(kPrefix.size()));
        const std::string& dir = is_per_worktree(ref) ? repository.git_dir : repository.common_dir;
        const int error = read_file(join(dir, ref), text);
        if (error == 0) continue;
        // A directory where the ref would be (refs/heads/a/b exists, not refs/heads/a) is
        // as good as absent.
        if (!is_absent(error) && error != EISDIR) return "unreadable:" + ref;
        std::string sha = packed_ref(repository, ref);
        return sha.empty() ? "unresolved:" + ref : sha;
    }
    return "unresolved:" + ref;
}

std::string head_commit_of(const std::string& real_workspace) {
    std::string problem;
    const Repository repository = find_repository(real_workspace, problem);
    if (!problem.empty()) return problem;
    if (repository.git_dir.empty()) return {};
    return resolve_head(repository);
}

}  // namespace

WorkspaceFingerprint workspace_fingerprint(const std::string& workspace, const std::string& home,
                                           const std::vector<std::string>& more_files) {
    WorkspaceFingerprint fingerprint;
    std::string& out = fingerprint.files;

    int error = 0;
    std::string root = real_path(workspace, error);
    if (root.empty()) {
        append_line(out, workspace, "unresolvable:" + error_text(error));
        root = workspace;
    } else {
        fingerprint.head = head_commit_of(root);
    }

    for (const std::string_view name : {"CLAUDE.md", "CLAUDE.local.md", "AGENTS.md", ".mcp.json"}) {
        record(join(root, name), out);
    }
    record_tree(join(root, ".claude"), out);
    for (std::string dir = parent_of(root); !dir.empty(); dir = parent_of(dir)) {
        for (const std::string_view name : kMemoryFiles) record(join(dir, name), out);
    }

    if (!home.empty()) {
        for (const std::string_view name : kHomeFiles) record(join(home, name), out);
        for (const std::string_view name : kHomeTrees) record_tree(join(home, name), out);
    }

    record_tree(std::string(kManagedSettings), out);
    for (const auto& file : more_files) record(file, out);
    return fingerprint;
}

std::string head_commit(const std::string& workspace) {
    int error = 0;
    const std::string real_workspace = real_path(workspace, error);
    return real_workspace.empty() ? std::string() : head_commit_of(real_workspace);
}

}  // namespace cas::agent
