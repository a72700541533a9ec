// The assembled service's route table against docs/openapi.json: every routed path and
// method is documented, and the document describes no route that does not exist.
#include "app.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

namespace json = boost::json;

TEST_CASE("app: the routes and docs/openapi.json describe the same API") {
    char dir[] = "/tmp/cas-app-test-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    cas::Config config;
    config.data_dir = dir;
    std::set<std::pair<std::string, std::string>> routed;
    {
        boost::asio::io_context io;
        cas::App app(io, config);
        for (const auto& route : app.router().routes()) {
            std::string method = route.method;
            std::transform(method.begin(), method.end(), method.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            routed.emplace(method, route.pattern);
        }
    }
    std::filesystem::remove_all(dir);

    std::ifstream in(CAS_SOURCE_DIR "/docs/openapi.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto doc = json::parse(text);
    std::set<std::pair<std::string, std::string>> documented;
    for (const auto& [path, item] : doc.at("paths").as_object()) {
        for (const auto& [method, operation] : item.as_object()) {
            if (method == "parameters" || method == "summary" || method == "description") continue;
            documented.emplace(std::string(method), std::string(path));
        }
    }
    for (const auto& r : routed) {
        INFO(r.first << " " << r.second);
        CHECK(documented.count(r) == 1);
    }
    for (const auto& d : documented) {
        INFO(d.first << " " << d.second);
        CHECK(routed.count(d) == 1);
    }
    CHECK(routed.size() >= 13);
}
