// A temporary directory for one test, removed with everything in it when the test ends, with
// helpers to put files, scripts and folders in it and read files back.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace cas::test {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/cas-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] std::string read(const std::string& name) const {
        std::ifstream in(path / name, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    std::filesystem::path write(
        const std::string& name, const std::string& text,
        std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                       std::filesystem::perms::owner_write) const {
        auto file = path / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << text;
        std::filesystem::permissions(file, perms);
        return file;
    }
    // An executable shell script.
    std::filesystem::path script(const std::string& name, const std::string& body) const {
        return write(name, "#!/bin/sh\n" + body + "\n", std::filesystem::perms::owner_all);
    }
    std::filesystem::path dir(const std::string& name) const {
        std::filesystem::create_directories(path / name);
        return path / name;
    }
};

}  // namespace cas::test
