// What a job's run did to its git workspace, read with git around the run (the parsing and
// the record's shape are in workspace_changes.hpp): HEAD before the run; after it, HEAD
// again, the files that differ between the HEAD before and the working tree, and whether the
// tree differs from the HEAD after. A few cheap commands (rev-parse, diff --name-status,
// status), each by the context's deadline. Best-effort: whatever fails (no git, not a
// repository, a timeout) is in the result's `error`, never the run's.
#pragma once

#include "agent/cancellation.hpp"
#include "agent/git_command.hpp"
#include "agent/workspace_changes.hpp"

#include <boost/asio/awaitable.hpp>

namespace cas::agent {

// Before the run: head_before (or the error that kept it from being read).
boost::asio::awaitable<WorkspaceChanges> workspace_before(GitContext context, Cancellation& cancel);

// After the run, from what workspace_before read: head_after, the changed files and dirty.
// A `before` with an error is returned as it is (there is nothing to compare with).
boost::asio::awaitable<WorkspaceChanges> workspace_after(WorkspaceChanges before,
                                                         GitContext context, Cancellation& cancel);

}  // namespace cas::agent
