// Conversations that continue, with the fake CLI (it keeps session files under HOME as the
// real one does, and answers "user-turns=N" with FAKE:turns): jobs resumed and forked, chat
// histories continued by their exact key, X-Session-Id, a session file restored from the
// store, and chat completions waiting for a busy slot (CHAT_WAIT_SECONDS).
#include "agent/cli_command.hpp"
#include "integration/agent_fixture.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <sstream>

using namespace cas::test;

namespace {

std::string resume_job(const Fixture& f, const std::string& prompt, const std::string& resume,
                       bool fork = false) {
    json::object extra{{"resume", resume}};
    if (fork) extra["fork"] = true;
    return f.start_job(prompt, extra);
}

// The answer's text, the X-Session-Id it came with.
struct ChatAnswer {
    int status = 0;
    std::string text;
    std::string session;
};

ChatAnswer ask(const Fixture& f, const json::array& messages,
               std::map<std::string, std::string> headers = kAuth) {
    auto reply = request(f.port(), "POST", "/v1/chat/completions",
                         json::serialize(json::object{{"messages", messages}}), std::move(headers));
    ChatAnswer answer{.status = reply.status, .text = {}, .session = reply.header("x-session-id")};
    if (reply.status == 200) {
        answer.text = std::string(
            json::parse(reply.body).at("choices").at(0).at("message").at("content").as_string());
    }
    return answer;
}

json::object message(const std::string& role, const std::string& content) {
    return {{"role", role}, {"content", content}};
}

std::string text(const json::value& value) {
    return value.is_string() ? std::string(value.as_string()) : json::serialize(value);
}

// The text of a streamed answer: its chunks' deltas, joined.
std::string streamed_text(const std::string& sse) {
    std::string out;
    std::istringstream lines(sse);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("data: {")) continue;
        auto chunk = json::parse(line.substr(6)).as_object();
        const auto* choices = chunk.if_contains("choices");
        if (choices == nullptr || choices->as_array().empty()) continue;
        const auto* content =
            choices->as_array()[0].as_object().at("delta").as_object().if_contains("content");
        if (content != nullptr && content->is_string()) out += content->as_string();
    }
    return out;
}

double sample(const Fixture& f, const std::string& series) {
    auto scrape = request(f.port(), "GET", "/metrics").body;
    auto at = scrape.find(series + " ");
    return at == std::string::npos ? 0 : std::stod(scrape.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("sessions: a job resumed, then resumed again, is one line of conversation") {
    Fixture f;
    auto first = f.wait_job(f.start_job("one\nFAKE:turns"));
    REQUIRE(first.at("status") == "completed");
    CHECK(first.at("result") == "user-turns=1");
    auto session = std::string(first.at("session_id").as_string());
    REQUIRE(cas::agent::is_session_id(session));
    CHECK(first.at("resumed_from").is_null());

    auto first_id = std::string(first.at("job_id").as_string());
    auto second = f.wait_job(resume_job(f, "two\nFAKE:turns", first_id));
    CHECK(second.at("status") == "completed");
    CHECK(second.at("result") == "user-turns=2");
    CHECK(text(second.at("session_id")) == session);
    CHECK(text(second.at("resumed_from")) == first_id);
    CHECK(text(second.at("resumed_session")) == session);
    CHECK(second.at("fork") == false);
    CHECK(f.record.read("argv").find("--resume\n" + session + "\n") != std::string::npos);

    // Resumed by its session id this time.
    auto third = f.wait_job(resume_job(f, "three\nFAKE:turns", session));
    CHECK(third.at("result") == "user-turns=3");
    CHECK(text(third.at("resumed_from")) == session);
    CHECK(f.record.read("prompt") == "three\nFAKE:turns");  // only the new prompt

    SECTION("fork: a new session from that point; the parent goes on unchanged") {
        auto forked = f.wait_job(resume_job(f, "fork\nFAKE:turns", session, true));
        CHECK(forked.at("status") == "completed");
        CHECK(forked.at("result") == "user-turns=4");
        CHECK(text(forked.at("session_id")) != session);
        CHECK(forked.at("fork") == true);
        CHECK(f.record.read("argv").find("--fork-session") != std::string::npos);
        auto parent = f.wait_job(resume_job(f, "parent\nFAKE:turns", session));
        CHECK(parent.at("result") == "user-turns=4");  // the fork's turn is not in it
        CHECK(text(parent.at("session_id")) == session);
    }
    SECTION("the CLI's session file deleted: the copy from the store is put back") {
        std::filesystem::remove_all(f.home.path / ".claude");
        auto after = f.wait_job(resume_job(f, "after\nFAKE:turns", session));
        CHECK(after.at("status") == "completed");
        CHECK(after.at("result") == "user-turns=4");
        CHECK(sample(f, R"(cas_session_restores_total{result="restored"})") == 1);
    }
}

TEST_CASE("sessions: what resume names must exist") {
    Fixture f(Fixture::Env{{"QUEUE_DEPTH", "1"}});
    SECTION("an unknown job is a 422 naming resume") {
        auto reply = f.execute({{"prompt", "x"}, {"agent", "a"}, {"resume", "0123456789ab"}});
        CHECK(reply.status == 422);
        CHECK(reply.body.find(R"("loc":["body","resume"])") != std::string::npos);
    }
    SECTION("a job that never ran has no session: 422") {
        auto running = f.start_job("busy\nFAKE:sleep=5");
        auto queued = f.start_job("never\n", {}, "queued");
        request(f.port(), "POST", "/jobs/" + queued + "/cancel", "", kAuth);
        auto reply = f.execute({{"prompt", "x"}, {"agent", "a"}, {"resume", queued}});
        CHECK(reply.status == 422);
        CHECK(reply.body.find("has no session to resume") != std::string::npos);
        request(f.port(), "POST", "/jobs/" + running + "/cancel", "", kAuth);
    }
    SECTION("a session the CLI does not find fails the job, never a fresh session") {
        const std::string unknown = "11111111-2222-3333-4444-555555555555";
        auto job = f.wait_job(resume_job(f, "x", unknown));
        CHECK(job.at("status") == "failed");
        CHECK(text(job.at("error")) == "No conversation found with session ID: " + unknown);
        CHECK(sample(f, R"(cas_session_restores_total{result="no_copy"})") == 1);
    }
}

TEST_CASE("sessions: a chat history that ends with an answer continues its session") {
    Fixture f;
    json::array history{message("system", "be brief"), message("user", "first\nFAKE:turns")};
    auto one = ask(f, history);
    REQUIRE(one.status == 200);
    CHECK(one.text == "user-turns=1");
    REQUIRE(cas::agent::is_session_id(one.session));
    CHECK(f.record.read("argv").find("--resume") == std::string::npos);

    history.push_back(message("assistant", one.text));
    history.push_back(message("user", "second\nFAKE:turns"));
    auto two = ask(f, history);
    CHECK(two.text == "user-turns=2");
    CHECK(two.session == one.session);
    CHECK(f.record.read("prompt") == "second\nFAKE:turns");  // the new message only
    CHECK(f.record.read("argv").find("--resume\n" + one.session + "\n") != std::string::npos);

    history.push_back(message("assistant", two.text));
    history.push_back(message("user", "third\nFAKE:turns"));
    auto three = ask(f, history);
    CHECK(three.text == "user-turns=3");

    SECTION("an edited earlier message starts fresh, with the whole transcript") {
        auto edited = history;
        edited[1] = message("user", "first, edited\nFAKE:turns");
        auto fresh = ask(f, edited);
        CHECK(fresh.text == "user-turns=1");
        CHECK(fresh.session != one.session);
        CHECK(f.record.read("prompt").find("Conversation so far:") != std::string::npos);
    }
    SECTION("an answer that is not the one given starts fresh") {
        auto other = json::array{history[0], history[1], message("assistant", "something else"),
                                 message("user", "again\nFAKE:turns")};
        CHECK(ask(f, other).text == "user-turns=1");
    }
    SECTION("X-Session-Id names the session: only the last user message goes to it") {
        auto headers = kAuth;
        headers["X-Session-Id"] = one.session;
        auto named = ask(
            f,
            json::array{message("user", "unrelated history"), message("user", "named\nFAKE:turns")},
            headers);
        CHECK(named.text == "user-turns=4");
        CHECK(named.session == one.session);
        CHECK(f.record.read("prompt") == "named\nFAKE:turns");
        CHECK(sample(f, R"(cas_chat_sessions_total{how="explicit"})") == 1);
    }
    CHECK(sample(f, R"(cas_chat_sessions_total{how="continued"})") == 2);
}

TEST_CASE("sessions: a streamed answer continues too") {
    Fixture f;
    json::array history{message("user", "first\nFAKE:turns")};
    auto streamed =
        request(f.port(), "POST", "/v1/chat/completions",
                json::serialize(json::object{{"messages", history}, {"stream", true}}), kAuth);
    REQUIRE(streamed.status == 200);
    CHECK(streamed_text(streamed.body) == "user-turns=1");
    auto fresh_session = streamed.header("x-session-id");  // named by the CLI's first line
    CHECK(cas::agent::is_session_id(fresh_session));
    history.push_back(message("assistant", "user-turns=1"));
    history.push_back(message("user", "second\nFAKE:turns"));
    auto reply =
        request(f.port(), "POST", "/v1/chat/completions",
                json::serialize(json::object{{"messages", history}, {"stream", true}}), kAuth);
    CHECK(streamed_text(reply.body) == "user-turns=2");
    CHECK(reply.header("x-session-id") == fresh_session);  // known before the run
}

TEST_CASE("sessions: CHAT_WAIT_SECONDS lets a completion wait for the slot") {
    auto two_at_once = [](const Fixture& f) {
        auto slow = std::async(std::launch::async, [&] {
            return ask(f, json::array{message("user", "slow\nFAKE:sleep=1")}).status;
        });
        std::this_thread::sleep_for(300ms);  // the slow one holds the slot
        auto second = ask(f, json::array{message("user", "second")}).status;
        return std::pair{slow.get(), second};
    };
    SECTION("waiting: both are answered") {
        Fixture f(Fixture::Env{{"CHAT_WAIT_SECONDS", "10"}});
        CHECK(two_at_once(f) == std::pair{200, 200});
    }
    SECTION("not waiting (the default): the second is 503") {
        Fixture f;
        CHECK(two_at_once(f) == std::pair{200, 503});
    }
}

TEST_CASE("sessions: a history whose session is gone for good runs fresh, not 503") {
    Fixture f(Fixture::Env{{"SESSION_MAX_BYTES", "0"}});  // no copies: the file is all there is
    json::array history{message("user", "first\nFAKE:turns")};
    auto one = ask(f, history);
    REQUIRE(one.text == "user-turns=1");
    std::filesystem::remove_all(f.home.path / ".claude");
    history.push_back(message("assistant", one.text));
    history.push_back(message("user", "second\nFAKE:turns"));
    auto two = ask(f, history);
    CHECK(two.status == 200);
    CHECK(two.text == "user-turns=1");  // a new session, with the whole transcript
    CHECK(f.record.read("prompt").find("Conversation so far:") != std::string::npos);
}
