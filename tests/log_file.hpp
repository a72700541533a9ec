// Points the service's log at a file for a test's life (back at stderr after), to read what
// was logged.
#pragma once

#include "telemetry/log.hpp"
#include "temp_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

namespace cas::test {

struct LogFile {
    TempDir dir;
    int fd = ::open((dir.path / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    LogFile() { cas::log::set_output(fd); }
    ~LogFile() {
        cas::log::set_output(STDERR_FILENO);
        ::close(fd);
    }
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;

    std::string flushed() {
        cas::log::flush();
        return dir.read("log");
    }

    // What was logged once `marker` is there (or after `limit`).
    std::string through(std::string_view marker,
                        std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        auto text = flushed();
        while (text.find(marker) == std::string::npos &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            text = flushed();
        }
        return text;
    }
};

}  // namespace cas::test
