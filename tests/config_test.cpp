#include "config.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <vector>

using cas::Config;
using cas::ExitRequest;

namespace {

struct Parse {
    std::map<std::string, std::string> env;
    std::variant<Config, ExitRequest> operator()(std::vector<const char*> args) const {
        return cas::parse_config(args,
                                 [this](const std::string& name) -> std::optional<std::string> {
                                     auto it = env.find(name);
                                     if (it == env.end()) return std::nullopt;
                                     return it->second;
                                 });
    }
};

}  // namespace

TEST_CASE("config defaults match the reference app") {
    auto result = Parse{}({});
    REQUIRE(std::holds_alternative<Config>(result));
    const auto& c = std::get<Config>(result);
    CHECK(c.api_bearer_token.empty());
    CHECK(c.workspace_dir == "/workspace/infra");
    CHECK(c.claude_bin == "claude");
    CHECK(c.host == "127.0.0.1");
    CHECK(c.port == 8000);
    CHECK(c.max_body_bytes == 4U * 1024U * 1024U);
}

TEST_CASE("config reads the environment and flags override it") {
    Parse parse{{{"API_BEARER_TOKEN", "s3cret"}, {"PORT", "9000"}, {"WORKSPACE_DIR", "/w"}}};
    auto env_only = std::get<Config>(parse({}));
    CHECK(env_only.api_bearer_token == "s3cret");
    CHECK(env_only.port == 9000);
    CHECK(env_only.workspace_dir == "/w");

    auto flagged =
        std::get<Config>(parse({"--port", "9100", "--host=0.0.0.0", "--max-body-bytes", "10"}));
    CHECK(flagged.port == 9100);
    CHECK(flagged.host == "0.0.0.0");
    CHECK(flagged.max_body_bytes == 10);
}

TEST_CASE("config rejects bad values with exit code 2 and names the setting") {
    auto check = [](Parse parse, std::vector<const char*> args, std::string_view needle) {
        auto result = parse(std::move(args));
        REQUIRE(std::holds_alternative<ExitRequest>(result));
        const auto& exit = std::get<ExitRequest>(result);
        CHECK(exit.exit_code == 2);
        CHECK_THAT(exit.message, Catch::Contains(std::string(needle)));
    };
    check({}, {"--port", "70000"}, "--port");
    check({}, {"--port", "80x"}, "80x");
    check({}, {"--port", ""}, "--port");
    check({}, {"--port", "-1"}, "--port");
    check({}, {"--port"}, "needs a value");
    check({}, {"--bogus"}, "unknown option '--bogus'");
    check({{{"PORT", "abc"}}}, {}, "PORT");
    check({{{"MAX_BODY_BYTES", "0"}}}, {}, "MAX_BODY_BYTES");
    check({{{"READ_TIMEOUT_SECONDS", "99999999999999999999999"}}}, {}, "READ_TIMEOUT_SECONDS");
    check({{{"WORKSPACE_DIR", ""}}}, {}, "must not be empty");
}

TEST_CASE("config --help and --version exit 0") {
    auto help = std::get<ExitRequest>(Parse{}({"--help"}));
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.message, Catch::Contains("API_BEARER_TOKEN") && Catch::Contains("--port N"));
    auto version = std::get<ExitRequest>(Parse{}({"--version"}));
    CHECK(version.exit_code == 0);
    CHECK_THAT(version.message, Catch::StartsWith("claude-agent-service "));
}

TEST_CASE("the bearer token cannot be given on the command line") {
    auto result = Parse{}({"--api-bearer-token", "x"});
    REQUIRE(std::holds_alternative<ExitRequest>(result));
    CHECK(std::get<ExitRequest>(result).exit_code == 2);
}

TEST_CASE("config parses modes and durations once, into types") {
    Parse parse{{{"GIT_SYNC", "required"},
                 {"KILL_GRACE_MS", "250"},
                 {"SHUTDOWN_GRACE", "500ms"},
                 {"JOB_RETENTION", "2d"},
                 {"SSE_KEEPALIVE_MS", "1500"},
                 {"OPENAI_TIMEOUT_SECONDS", "90"}}};
    auto c = std::get<Config>(parse({"--git-timeout", "7"}));
    CHECK(c.git_sync == cas::agent::GitSyncMode::required);
    CHECK(c.kill_grace == std::chrono::milliseconds(250));
    CHECK(c.shutdown_grace == std::chrono::milliseconds(500));
    CHECK(c.job_retention == std::chrono::hours(48));
    CHECK(c.sse_keepalive == std::chrono::milliseconds(1500));
    CHECK(c.openai_timeout == std::chrono::seconds(90));
    CHECK(c.git_timeout == std::chrono::seconds(7));
    auto defaults = std::get<Config>(Parse{}({}));
    CHECK(defaults.git_sync == cas::agent::GitSyncMode::best_effort);
    CHECK(std::get<Config>(Parse{{{"GIT_SYNC", "off"}}}({})).git_sync ==
          cas::agent::GitSyncMode::off);
    CHECK(std::holds_alternative<ExitRequest>(Parse{{{"GIT_SYNC", "sometimes"}}}({})));
}

TEST_CASE("config: webhooks are off by default, and need a secret once hosts are allowed") {
    auto defaults = std::get<Config>(Parse{}({}));
    CHECK(defaults.webhook_allowed_hosts.empty());
    CHECK(defaults.webhook_timeout == std::chrono::seconds(10));
    CHECK(defaults.webhook_retry_base == std::chrono::milliseconds(5000));
    CHECK(defaults.webhook_max_attempts == 8);

    auto unsigned_hosts = Parse{{{"WEBHOOK_ALLOWED_HOSTS", "hooks.example.com"}}}({});
    REQUIRE(std::holds_alternative<ExitRequest>(unsigned_hosts));
    CHECK(std::get<ExitRequest>(unsigned_hosts).exit_code == 2);
    CHECK_THAT(std::get<ExitRequest>(unsigned_hosts).message, Catch::Contains("WEBHOOK_SECRET"));

    auto on = Parse{{{"WEBHOOK_ALLOWED_HOSTS", "hooks.example.com, *.corp.example:8443"},
                     {"WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                     {"WEBHOOK_MAX_ATTEMPTS", "3"}}}({"--webhook-retry-base-ms", "100"});
    REQUIRE(std::holds_alternative<Config>(on));
    const auto& c = std::get<Config>(on);
    CHECK(c.webhook_allowed_hosts.size() == 2);
    CHECK(c.webhook_keys.size() == 1);
    CHECK(c.webhook_max_attempts == 3);
    CHECK(c.webhook_retry_base == std::chrono::milliseconds(100));

    for (auto [name, value] :
         std::vector<std::pair<const char*, const char*>>{{"WEBHOOK_ALLOWED_HOSTS", "*.1.2.3.4"},
                                                          {"WEBHOOK_SECRET", "whsec_c2hvcnQ="},
                                                          {"WEBHOOK_MAX_ATTEMPTS", "0"},
                                                          {"WEBHOOK_TIMEOUT_SECONDS", "0"}}) {
        auto bad = Parse{{{name, value}}}({});
        INFO(name);
        REQUIRE(std::holds_alternative<ExitRequest>(bad));
        CHECK_THAT(std::get<ExitRequest>(bad).message, Catch::Contains(name));
    }
}

TEST_CASE("config: the webhook secret cannot be given on the command line") {
    auto result = Parse{}({"--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
    REQUIRE(std::holds_alternative<ExitRequest>(result));
    CHECK_THAT(std::get<ExitRequest>(result).message, Catch::Contains("unknown option"));
}
