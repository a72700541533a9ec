// Faults from outside the service: the CLI killed, hung, or gone; output that is huge and
// not UTF-8; a git remote that never answers; a full disk under the job store; the service
// itself killed. After each: the job record says what happened, no process of the run is
// left, the slot is free and the service keeps serving.
#include "integration/agent_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <thread>

using namespace cas::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Waits for a file the fake CLI writes (its pid, its grandchild's pid) and reads the pid.
pid_t wait_for_pid(const TempDir& dir, const std::string& name) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto text = dir.read(name);
        if (!text.empty()) return std::stoi(text);
        std::this_thread::sleep_for(10ms);
    }
    FAIL("the fake CLI did not write " << name);
    return -1;
}

// The service answers and runs a job to completion: it kept serving. (A completion is
// answered at the CLI's result line; its run ends just after, the store's writes with it.)
void still_serving(const Fixture& f) {
    CHECK(eventually([&] { return !f.busy(); }));
    auto job = f.wait_job(f.start_job("after the fault"));
    CHECK(job.at("status") == "completed");
    CHECK(f.no_descendants());
}

// A TCP listener that completes handshakes (the kernel's backlog) and never reads or answers.
struct SilentServer {
    int fd = -1;
    int port = 0;
    SilentServer() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd, 16) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~SilentServer() { ::close(fd); }
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;
};

int run(const std::string& command) {
    return std::system(command.c_str());  // NOLINT(cert-env33-c): test set-up, fixed commands
}

// A git workspace whose origin is an http URL on a server that never answers.
void make_workspace_with_silent_remote(const fs::path& dir, int port) {
    auto git = "git -C '" + dir.string() + "' ";
    REQUIRE(run(git + "init -q -b main") == 0);
    REQUIRE(run(git + "-c user.email=t@t -c user.name=t commit -q --allow-empty -m init") == 0);
    REQUIRE(run(git + "remote add origin http://127.0.0.1:" + std::to_string(port) + "/repo.git") ==
            0);
    REQUIRE(run(git + "config branch.main.remote origin") == 0);
    REQUIRE(run(git + "config branch.main.merge refs/heads/main") == 0);
}

// A tmpfs of `bytes` mounted on a fresh directory (root only), unmounted at the end.
struct SmallDisk {
    TempDir mountpoint;
    bool mounted = false;
    explicit SmallDisk(std::size_t bytes) {
        auto options = "size=" + std::to_string(bytes);
        mounted = ::mount("tmpfs", mountpoint.path.c_str(), "tmpfs", 0, options.c_str()) == 0;
    }
    ~SmallDisk() {
        if (mounted) ::umount2(mountpoint.path.c_str(), MNT_DETACH);
    }
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;
    // Writes a file until the disk is full.
    void fill() const {
        std::ofstream out(mountpoint.path / "filler", std::ios::binary);
        std::string block(4096, 'f');
        while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
            out.flush();
        }
    }
    void free_space() const { fs::remove(mountpoint.path / "filler"); }
};

}  // namespace

TEST_CASE("the CLI killed by SIGKILL mid-run: the job fails saying so, its grandchild is gone") {
    Fixture f;
    auto id = f.start_job("x\nFAKE:grandchild=60\nFAKE:sleep=30");
    auto cli = wait_for_pid(f.record, "pid");
    auto grandchild = wait_for_pid(f.record, "grandchild.pid");
    REQUIRE(::kill(cli, SIGKILL) == 0);

    auto job = f.wait_job(id, 5s);
    CHECK(job.at("status") == "failed");
    CHECK(job.at("exit_code") == -9);
    CHECK(job.at("error") == "the CLI was killed by signal 9");
    CHECK_FALSE(alive(grandchild));
    CHECK(f.no_descendants());
    still_serving(f);
}

TEST_CASE("a grandchild holding the CLI's stdout open does not hold the run") {
    SECTION("the CLI exits: the run ends with it, the grandchild is killed") {
        Fixture f;
        auto started = std::chrono::steady_clock::now();
        auto job = f.wait_job(f.start_job("x\nFAKE:grandchild-stdout=60"));
        CHECK(job.at("status") == "completed");
        CHECK(job.at("result") == "fake reply: x");
        CHECK(std::chrono::steady_clock::now() - started < 5s);
        CHECK_FALSE(alive(wait_for_pid(f.record, "grandchild.pid")));
        still_serving(f);
    }
    SECTION("the CLI hangs too: the timeout ends both") {
        Fixture f;
        auto started = std::chrono::steady_clock::now();
        // 3 s: the fake CLI has started its grandchild by then even on a loaded machine (under
        // ASan, with builds beside it, 1 s was once not enough to start Python and fork).
        auto job = f.wait_job(
            f.start_job("x\nFAKE:grandchild-stdout=60\nFAKE:sleep=60", {{"timeout_seconds", 3}}));
        CHECK(job.at("status") == "timeout");
        CHECK(std::chrono::steady_clock::now() - started < 6s);
        CHECK_FALSE(alive(wait_for_pid(f.record, "grandchild.pid")));
        still_serving(f);
    }
}

TEST_CASE("100 MiB of output that is not UTF-8: capped, repaired, and the service stays up") {
    Fixture f;
    SECTION("a job") {
        auto job = f.wait_job(
            f.start_job(
                "x\nFAKE:invalid-utf8\nFAKE:stdout-bytes=104857600\nFAKE:stderr-bytes=1000"),
            60s);
        CHECK(job.at("status") == "completed");
        CHECK(job.at("output_truncated") == true);
        // The result line came after 100 MiB, far past the cap: it is still found.
        CHECK_THAT(std::string(job.at("result").as_string()),
                   Catch::StartsWith("bad:\xEF\xBF\xBD|"));
        CHECK(job.at("total_cost_usd").as_double() == Approx(0.0123));
        // Boost.JSON refuses invalid UTF-8 when parsing: the reply parsed, so it is valid.
        std::size_t kept = 0;
        for (const auto& line : job.at("output").as_array()) kept += line.as_string().size();
        CHECK(kept <= 3 * 8 * 1024 * 1024);  // 8 MiB cap; each bad byte may become 3 (U+FFFD)
        CHECK_THAT(std::string(job.at("stderr").as_string()), Catch::Contains("\xEF\xBF\xBD"));
    }
    SECTION("a completion") {
        auto reply = f.complete(chat("x\nFAKE:invalid-utf8\nFAKE:stdout-bytes=104857600"));
        REQUIRE(reply.status == 200);
        auto body = json::parse(reply.body);
        auto content =
            std::string(body.at("choices").at(0).at("message").at("content").as_string());
        // The result (after 100 MiB of filler), not the start of stdout.
        CHECK(content.starts_with("bad:\xEF\xBF\xBD|"));
        CHECK_THAT(content, Catch::Contains("|fake reply: "));
        CHECK(content.size() < 1000);
    }
    CHECK(f.no_descendants());
    still_serving(f);
}

TEST_CASE("git pull on a remote that never answers ends at the git timeout") {
    SilentServer remote;
    SECTION("best-effort: the sync is recorded as timed out and the run goes on") {
        Fixture f(Fixture::Env{{"GIT_SYNC", "best-effort"}, {"GIT_TIMEOUT_SECONDS", "1"}});
        make_workspace_with_silent_remote(f.workspace.path, remote.port);
        auto started = std::chrono::steady_clock::now();
        auto job = f.wait_job(f.start_job("x"));
        CHECK(std::chrono::steady_clock::now() - started < 5s);
        CHECK(job.at("status") == "completed");
        CHECK(job.at("git_sync").at("status") == "timeout");
        CHECK(f.no_descendants());
        still_serving(f);
    }
    SECTION("required: the job fails without running the CLI") {
        Fixture f(Fixture::Env{{"GIT_SYNC", "required"}, {"GIT_TIMEOUT_SECONDS", "1"}});
        make_workspace_with_silent_remote(f.workspace.path, remote.port);
        auto job = f.wait_job(f.start_job("x"));
        CHECK(job.at("status") == "failed");
        CHECK(job.at("error") == "git pull failed: git pull did not finish in time");
        CHECK(f.record.read("argv").empty());
        CHECK(f.no_descendants());
        CHECK(f.idle_after_final_record());
    }
}

TEST_CASE("a full disk under the job store: 503 for new jobs, a finished run's record waits",
          "[sqlite]") {
    SmallDisk disk(4U * 1024U * 1024U);
    if (!disk.mounted) {
        WARN("not checked: mounting a tmpfs needs root (errno " << errno << ")");
        return;
    }
    Fixture f(Fixture::Env{{"DATA_DIR", disk.mountpoint.path.string()}});

    SECTION("a run that ends while the disk is full is saved once there is room") {
        auto id = f.start_job("x\nFAKE:sleep=1\nFAKE:stdout-bytes=1000000");
        disk.fill();
        std::this_thread::sleep_for(2500ms);  // the run has ended; its save fails
        CHECK(f.job(id).at("status") == "running");
        CHECK(f.busy());  // the run keeps the slot until its record is safe
        CHECK_THAT(f.service->log(), Catch::Contains("cannot save the job's final record"));
        disk.free_space();
        auto job = f.wait_job(id, 10s);
        CHECK(job.at("status") == "completed");
        CHECK(job.at("output_truncated") == false);
        CHECK(f.no_descendants());
        still_serving(f);
    }
    SECTION("a new job is refused with 503 and nothing runs") {
        disk.fill();
        auto reply = f.execute({{"prompt", "x\nFAKE:stdout-bytes=1000000"}, {"agent", "a"}});
        CHECK(reply.status == 503);
        CHECK_THAT(reply.body, Catch::Contains("Job store unavailable"));
        CHECK(reply.header("retry-after") == "30");
        CHECK(f.idle_after_final_record());
        CHECK(f.record.read("argv").empty());
        disk.free_space();
        still_serving(f);
    }
}

TEST_CASE("CLAUDE_BIN deleted between runs: the job errors clearly, and it works once back") {
    TempDir bin;
    auto cli = bin.path / "claude";
    fs::copy_file(kFake, cli);
    Fixture f(Fixture::Env{{"CLAUDE_BIN", cli.string()}});
    CHECK(f.wait_job(f.start_job("first")).at("status") == "completed");

    fs::remove(cli);
    auto job = f.wait_job(f.start_job("second"));
    CHECK(job.at("status") == "error");
    CHECK_THAT(
        std::string(job.at("error").as_string()),
        Catch::Contains("cannot run the Claude CLI (CLAUDE_BIN)") && Catch::Contains(cli.string()));
    CHECK(f.idle_after_final_record());

    fs::copy_file(kFake, cli);
    still_serving(f);
}

TEST_CASE(
    "a CLI the kernel refuses to run: the job errors, and the refused child is not left behind") {
    TempDir bin;
    auto cli = bin.path / "claude";
    fs::copy_file(kFake, cli);
    Fixture f(Fixture::Env{{"CLAUDE_BIN", cli.string()}});
    // Executable, so the run forks; its interpreter does not exist, so exec fails in the child,
    // which exits at once and reports why.
    std::ofstream(cli, std::ios::trunc) << "#!/nonexistent/interpreter\n";
    auto job = f.wait_job(f.start_job("refused"));
    CHECK(job.at("status") == "error");
    CHECK_THAT(std::string(job.at("error").as_string()),
               Catch::Contains("cannot start") && Catch::Contains("No such file or directory"));
    CHECK(f.no_descendants());
    fs::remove(cli);
    fs::copy_file(kFake, cli);
    still_serving(f);
}

TEST_CASE("the service SIGKILLed mid-run: the restart ends the run's leftovers and records it") {
    Fixture f;
    auto id = f.start_job("x\nFAKE:grandchild=60\nFAKE:sleep=30");
    auto cli = wait_for_pid(f.record, "pid");
    auto grandchild = wait_for_pid(f.record, "grandchild.pid");
    f.restart(SIGKILL);

    // The CLI died with the service (PDEATHSIG); the grandchild, in its own session and
    // re-parented away, is found by the run's environment marker at start-up.
    CHECK_FALSE(alive(cli));
    CHECK_FALSE(alive(grandchild));
    CHECK_THAT(f.service->log(), Catch::Contains("killed processes left by a previous run"));
    auto job = f.job(id);
    CHECK(job.at("status") == "interrupted");
    still_serving(f);
}
