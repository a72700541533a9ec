#include "agent/process_tree.hpp"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <sys/wait.h>

using namespace cas::agent;

TEST_CASE("process tree: the parent pid comes after the last parenthesis") {
    CHECK(parent_from_stat("123 (bash) S 45 123 123 0 -1") == 45);
    CHECK(parent_from_stat("123 (a) b) (c) R 7 1 1") == 7);
    CHECK(parent_from_stat("123 (x y) Z 1 0 0") == 1);
    CHECK(parent_from_stat("") == -1);
    CHECK(parent_from_stat("123 (broken") == -1);
    CHECK(parent_from_stat("123 (x) S") == -1);
    CHECK(parent_from_stat("123 (x) S notanumber 1") == -1);
}

TEST_CASE("process tree: a forked child and its child are descendants") {
    pid_t child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            pause();
            _exit(0);
        }
        pause();
        _exit(0);
    }
    REQUIRE(child > 0);
    std::vector<pid_t> found;
    for (int i = 0; i < 200 && found.size() < 2; ++i) {
        found = descendants_of(getpid());
        usleep(5000);
    }
    CHECK(std::find(found.begin(), found.end(), child) != found.end());
    CHECK(found.size() >= 2);
    for (pid_t pid : descendants_of(child)) kill(pid, SIGKILL);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
}

TEST_CASE("process tree: processes are found by an exact entry of their environment") {
    pid_t child = fork();
    if (child == 0) {
        char marker[] = "CAS_TEST_MARKER=process-tree-test";
        char* env[] = {marker, nullptr};
        char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("30"), nullptr};
        execve("/bin/sleep", argv, env);
        _exit(127);
    }
    REQUIRE(child > 0);
    std::vector<pid_t> found;
    for (int i = 0; i < 200 && found.empty(); ++i) {
        found = processes_with_env_entry("CAS_TEST_MARKER=process-tree-test");
        usleep(5000);
    }
    CHECK(found == std::vector<pid_t>{child});
    CHECK(processes_with_env_entry("CAS_TEST_MARKER=process-tree").empty());
    CHECK(kill_processes_with_env_entry("CAS_TEST_MARKER=process-tree-test") == 1);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
}
