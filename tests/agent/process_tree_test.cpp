#include "agent/process_tree.hpp"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <sys/wait.h>
#include <thread>

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
    // The children lists and the full scan of /proc see the same tree.
    auto by_lists = descendants_of(child);
    auto by_scan = descendants_by_scan(child);
    std::sort(by_lists.begin(), by_lists.end());
    std::sort(by_scan.begin(), by_scan.end());
    CHECK(by_lists.size() == 1);
    CHECK(by_lists == by_scan);
    for (pid_t pid : by_lists) kill(pid, SIGKILL);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
}

TEST_CASE("process tree: a child started by another thread is a descendant") {
    // The kernel keeps children per thread (until that thread exits), so the walk must read
    // every thread's list: the forking thread stays alive while we look.
    std::atomic<pid_t> child{0};  // 0: not forked yet
    std::atomic<bool> looked{false};
    std::thread forker([&] {
        pid_t pid = fork();
        if (pid == 0) {
            pause();
            _exit(0);
        }
        child = pid;
        while (!looked) usleep(1000);
    });
    while (child == 0) usleep(1000);
    auto found = descendants_of(getpid());
    looked = true;
    forker.join();
    REQUIRE(child > 0);
    CHECK(std::find(found.begin(), found.end(), child.load()) != found.end());
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
