// git for tests that need a real repository: runs it through the shell, as a fixed user, on
// branch `main`, unsigned, and hands back what it printed.
#pragma once

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace cas::test {

// Runs `git <args>` in `dir` and returns its output, trimmed; fails the test if it fails. The
// output goes through a file in `tmp`: a directory outside the repository, or it would be an
// untracked file there.
inline std::string git(const TempDir& tmp, const std::filesystem::path& dir,
                       const std::string& args) {
    const auto output_file = tmp.path / "git-output";
    const std::string command = "git -C '" + dir.string() +
                                "' -c user.email=t@t -c user.name=t -c commit.gpgsign=false "
                                "-c init.defaultBranch=main " +
                                args + " >'" + output_file.string() + "' 2>&1";
    const int status = std::system(command.c_str());  // NOLINT(cert-env33-c): test set-up
    std::string output = tmp.read("git-output");
    INFO(command << "\n" << output);
    REQUIRE(status == 0);
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
    return output;
}

}  // namespace cas::test
