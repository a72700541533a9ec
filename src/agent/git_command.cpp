#include "agent/git_command.hpp"

#include "util/utf8.hpp"

#include <utility>

namespace cas::agent {

std::vector<std::string> git_environment(const std::vector<std::string>& secret_env,
                                         std::vector<std::string> extra_env) {
    // Never wait on a credential prompt; ssh must fail rather than ask.
    extra_env.insert(extra_env.end(),
                     {"GIT_TERMINAL_PROMPT=0", "GIT_SSH_COMMAND=ssh -oBatchMode=yes"});
    return child_environment(secret_env, extra_env);
}

boost::asio::awaitable<ProcessResult> run_git(GitContext context, std::vector<std::string> args,
                                              std::size_t output_cap, Cancellation& cancel) {
    auto launch = confine({.program = "git",
                           .args = std::move(args),
                           .working_dir = std::move(context.workspace_dir),
                           .environment = std::move(context.environment),
                           .run_as = std::nullopt},
                          context.confinement, Confine::user);
    ProcessRun limits;
    limits.output_cap = output_cap;
    limits.deadline = context.deadline;
    auto run = co_await run_process(std::move(launch), std::move(limits), cancel);
    co_return run;
}

std::string git_message(const ProcessResult& run) {
    const auto& output = run.err.text.empty() ? run.out.text : run.err.text;
    return to_valid_utf8(output.substr(0, output.find_last_not_of(" \r\n") + 1));
}

}  // namespace cas::agent
