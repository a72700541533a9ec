// A running service with the fake CLI, a temporary workspace and data directory, and
// helpers to drive jobs and completions over HTTP; shared by the integration suites.
#pragma once

#include "agent/process_tree.hpp"
#include "integration/service_process.hpp"
#include "jobs/postgres_server.hpp"
#include "temp_dir.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>

namespace cas::test {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

inline const std::string kFake = CAS_FIXTURES_DIR "/fake-claude";
inline const std::map<std::string, std::string> kAuth{{"Authorization", "Bearer test-token"}};

// The integration binary runs its suite twice (tests/CMakeLists.txt): on SQLite, and with
// CAS_INTEGRATION_STORE=postgres on the tests' PostgreSQL server.
inline bool integration_on_postgres() {
    const char* store = std::getenv("CAS_INTEGRATION_STORE");  // NOLINT(concurrency-mt-unsafe)
    return store != nullptr && std::string_view(store) == "postgres";
}

// A service with the fake CLI, a temporary workspace and data directory, git sync off and
// no warm CLI unless asked. When the suite runs on PostgreSQL (integration_on_postgres), its
// job store is a fresh database of its own on the tests' server instead. (A process waiting for the
// next run would rewrite the fake's record files and count as a descendant; warm_cli_test.cpp
// covers it.)
struct Fixture {
    TempDir workspace;
    TempDir record;
    TempDir data;
    TempDir home;  // the CLI's HOME: its session files
    boost::asio::io_context io;
    std::optional<TestDatabase> database;
    std::map<std::string, std::string> env;
    std::unique_ptr<ServiceProcess> service;

    using Env = std::map<std::string, std::string>;
    // `prepare` runs before the service starts, with `env` complete (e.g. to hand the
    // directories to another user).
    explicit Fixture(Env extra = {}, const std::function<void(Fixture&)>& prepare = {})
        : env(std::move(extra)) {
        if (integration_on_postgres()) {
            database.emplace(io);
            env.try_emplace("DATABASE_URL", database->conninfo());
            env.try_emplace("REPLICA_ID", "the-only-one");  // a restart finds its leftovers at once
        }
        env.try_emplace("API_BEARER_TOKEN", "test-token");
        env.try_emplace("CLAUDE_BIN", kFake);
        env.try_emplace("WORKSPACE_DIR", workspace.path.string());
        env.try_emplace("GIT_SYNC", "off");
        env.try_emplace("WARM_CLI", "off");
        env.try_emplace("FAKE_CLAUDE_RECORD_DIR", record.path.string());
        env.try_emplace("DATA_DIR", data.path.string());
        env.try_emplace("HOME", home.path.string());
        if (prepare) prepare(*this);
        service = std::make_unique<ServiceProcess>(env);
    }
    // Stops the service with `signal` and starts a new one on the same data directory.
    void restart(int signal) {
        service->stop(signal);
        service = std::make_unique<ServiceProcess>(env);
    }
    [[nodiscard]] int port() const { return service->port(); }

    HttpReply execute(const json::object& body,
                      std::map<std::string, std::string> headers = kAuth) const {
        return request(port(), "POST", "/execute", json::serialize(body), std::move(headers));
    }
    std::string start_job(const std::string& prompt, json::object extra = {},
                          std::string_view expected_status = "running") const {
        extra["prompt"] = prompt;
        extra.emplace("agent", "recruiter-triage");
        auto reply = execute(extra);
        REQUIRE(reply.status == 202);
        auto body = json::parse(reply.body);
        CHECK(body.at("status").as_string() == expected_status);
        return std::string(body.at("job_id").as_string());
    }
    json::object job(const std::string& id) const {
        auto reply = request(port(), "GET", "/jobs/" + id, "", kAuth);
        REQUIRE(reply.status == 200);
        return json::parse(reply.body).as_object();
    }
    json::object wait_job(const std::string& id, std::chrono::seconds limit = 20s) const {
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto current = job(id);
            if (current.at("status") != "running" && current.at("status") != "queued")
                return current;
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(20ms);
        }
    }
    bool busy() const {
        auto reply = request(port(), "GET", "/health");
        return json::parse(reply.body).at("busy").as_bool();
    }
    // The slot is free once a job's final record can be read. On PostgreSQL the record is
    // visible to others the moment it commits, and the run lets the slot go when the commit's
    // answer reaches it: a round trip later, polled for here.
    [[nodiscard]] bool idle_after_final_record() const {
        if (database) {
            auto deadline = std::chrono::steady_clock::now() + 2s;
            while (busy() && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(5ms);
            }
        }
        return !busy();
    }
    // No process of any run is left below the service.
    bool no_descendants() const { return cas::agent::descendants_of(service->pid()).empty(); }
    HttpReply complete(const json::object& body) const {
        return request(port(), "POST", "/v1/chat/completions", json::serialize(body), kAuth);
    }
};

inline json::object chat(const std::string& content, json::object extra = {}) {
    extra["messages"] = json::array{json::object{{"role", "user"}, {"content", content}}};
    return extra;
}

// Polls `check` every 10 ms until it holds or `limit` has passed; whether it held. For what
// follows an answer: a completion is answered at the CLI's result line, and its run (the
// CLI's exit, the metrics) ends just after.
inline bool eventually(const std::function<bool()>& check, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!check()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

inline bool alive(pid_t pid) {
    if (kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    return close != std::string::npos && text.size() > close + 2 && text[close + 2] != 'Z';
}

}  // namespace cas::test
