// A value for "what a Claude Code CLI started now would read of its configuration", so a CLI
// process started ahead of time (warm) can be discarded when its configuration is out of date.
//
// Two fingerprints differ when the commit HEAD resolves to differs, or when any of these paths
// appears, disappears, or changes size, inode, modification time (ns) or status-change time (ns):
// - in the workspace and in each of its ancestors up to `/`: CLAUDE.md, CLAUDE.local.md,
//   AGENTS.md, .claude/CLAUDE.md, .claude/AGENTS.md;
// - in the workspace: .mcp.json and the whole .claude/ tree;
// - in `home`: .claude/settings.json, .claude/settings.local.json, .claude/CLAUDE.md and the trees
//   .claude/{agents,commands,skills,output-styles,rules} (not what the CLI writes on every run:
//   .claude/projects, .claude.json, todos, statsig...);
// - the /etc/claude-code tree (managed settings);
// - `more_files` (the session file a `--resume` reads).
// Trees are walked in sorted order, following symlinks, to depth 8 and 4096 entries at most (past
// that a marker stands in, so the value stays deterministic). Errors become part of the value.
//
// Cheap and synchronous (stat, readdir and small reads; no child process) and never throws on
// I/O, so it can run on the io_context thread.
#pragma once

#include <string>
#include <vector>

namespace cas::agent {

struct WorkspaceFingerprint {
    std::string head;   // head_commit(workspace)
    std::string files;  // one "path\tino\tsize\tmtime_ns\tctime_ns" line per path found
    friend bool operator==(const WorkspaceFingerprint&, const WorkspaceFingerprint&) = default;
};

// `workspace` is the CLI's working directory; `home` the HOME it gets (empty: skip the home part).
WorkspaceFingerprint workspace_fingerprint(const std::string& workspace, const std::string& home,
                                           const std::vector<std::string>& more_files = {});

// The commit HEAD points to, read from the repository's files (no git process): `.git` as a
// directory or a `gitdir:` file (worktrees, submodules), refs loose or in packed-refs, or a
// detached HEAD. "" when `workspace` is not in a repository; "unresolved:<ref>" for an unborn
// branch; "unreadable:<what>" when the repository cannot be read.
std::string head_commit(const std::string& workspace);

}  // namespace cas::agent
