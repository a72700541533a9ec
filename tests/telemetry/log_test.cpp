// The log line's text and the sink's urgent writes, with the sink pointed at a file. (That info
// lines wait at most a batch, and survive a fatal signal, is checked on the running service:
// integration/operations_test.cpp.)
#include "telemetry/log.hpp"

#include "log_file.hpp"
#include "util/json_text.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace json = boost::json;
using cas::test::LogFile;

namespace {

// A line without its "time" (which differs), to compare with what json_text writes.
std::string without_time(const std::string& line) {
    auto after = line.find(R"(","level")");
    REQUIRE(line.starts_with(R"({"time":")"));
    REQUIRE(after != std::string::npos);
    return "{" + line.substr(after + 2);
}

}  // namespace

TEST_CASE("log: a line is its fields in the order given, written as json_text writes them") {
    LogFile file;
    cas::log::Line line(cas::log::Level::info, "request \"quoted\"");
    line.field("text", "a \"b\"\n\tc\x01")
        .field("count", 42)
        .field("negative", -7)
        .field("size", std::size_t{18446744073709551615U})
        .field("duration_ms", 0.73)
        .field("whole", 5.0)
        .field("flag", true)
        .field("off", false)
        .field("list", json::value(json::array{1, "two", 3.5}));
    line.write();

    json::object expected{{"level", "info"},
                          {"msg", "request \"quoted\""},
                          {"text", "a \"b\"\n\tc\x01"},
                          {"count", 42},
                          {"negative", -7},
                          {"size", std::uint64_t{18446744073709551615U}},
                          {"duration_ms", 0.73},
                          {"whole", 5.0},
                          {"flag", true},
                          {"off", false},
                          {"list", json::array{1, "two", 3.5}}};
    auto text = file.flushed();
    REQUIRE(text.ends_with("\n"));
    REQUIRE(text.find('\n') == text.size() - 1);  // one line
    text.pop_back();
    CHECK(without_time(text) == cas::json_text(expected));
    auto time = json::parse(text).at("time").as_string();
    CHECK(time.size() == 24);  // 2026-12-07T19:00:00.123Z
    CHECK(time.ends_with("Z"));
}

TEST_CASE("log: write() with a JSON object gives the same line") {
    LogFile file;
    cas::log::info("done", {{"job_id", "0123456789ab"}, {"ms", 1.5}, {"n", 3}});
    auto text = file.flushed();
    CHECK_THAT(text, Catch::EndsWith(
                         R"("level":"info","msg":"done","job_id":"0123456789ab","ms":1.5,"n":3})"
                         "\n"));
}

TEST_CASE("log: bytes that are not UTF-8 are replaced, so every line parses") {
    LogFile file;
    cas::log::Line line(cas::log::Level::info, "request");
    line.field("target", "/health\xff\xfe").field("error", json::value("bad \xc3"));
    line.write();
    auto text = file.flushed();
    auto parsed = json::parse(text).as_object();
    CHECK(parsed.at("target") == "/health\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(parsed.at("error") == "bad \xef\xbf\xbd");
}

TEST_CASE("log: lines below the minimum level are not written; life-cycle lines always are") {
    LogFile file;
    cas::log::set_min_level(cas::log::Level::warn);
    cas::log::info("hidden");
    cas::log::Line line(cas::log::Level::info, "hidden too");
    line.field("n", 1).write();
    cas::log::announce("listening", {{"port", 8080}});
    cas::log::set_min_level(cas::log::Level::info);
    auto text = file.flushed();
    CHECK(text.find("hidden") == std::string::npos);
    CHECK_THAT(text, Catch::Contains(R"("level":"info","msg":"listening","port":8080})"));
}

TEST_CASE("log: a warning or an error is written at once, after the lines before it") {
    LogFile file;
    cas::log::info("first");
    cas::log::info("second");
    cas::log::warn("third");
    // No flush: the warning wrote them.
    auto text = file.dir.read("log");
    auto first = text.find(R"("msg":"first")");
    auto second = text.find(R"("msg":"second")");
    auto third = text.find(R"("level":"warn","msg":"third")");
    REQUIRE(third != std::string::npos);
    CHECK(first < second);
    CHECK(second < third);
    cas::log::error("fourth");
    CHECK_THAT(file.dir.read("log"), Catch::Contains(R"("level":"error","msg":"fourth")"));
}
