// Harness implementation: posix_spawn for the service (stderr to a temp file we poll),
// and a small HTTP/1.1 response reader (Content-Length or chunked bodies).
#include "integration/service_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>

#ifndef CAS_SERVICE_BINARY
#error "CAS_SERVICE_BINARY must be defined"
#endif

namespace cas::test {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

}  // namespace

std::string HttpReply::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

ServiceProcess::ServiceProcess(std::map<std::string, std::string> env,
                               std::vector<std::string> args) {
    char tmpl[] = "/tmp/cas-test-log-XXXXXX";
    int log_fd = mkstemp(tmpl);
    if (log_fd < 0) throw std::runtime_error("mkstemp failed");
    log_path_ = tmpl;

    if (auto it = env.find("DATA_DIR"); it != env.end()) {
        data_dir_ = it->second;
    } else {
        char dir[] = "/tmp/cas-test-data-XXXXXX";
        if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
        data_dir_ = dir;
        own_data_dir_ = true;
        env["DATA_DIR"] = data_dir_;
    }
    env.try_emplace("PATH", std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin");
    env.try_emplace("HOME", "/tmp");
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS"}) {
        if (const char* v = std::getenv(name)) env.try_emplace(name, v);
    }
    std::vector<std::string> env_strings;
    for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    // CAS_TEST_SERVICE_BINARY runs the suite against another build (an older commit's, to
    // show that a test fails without its fix).
    const char* binary = std::getenv("CAS_TEST_SERVICE_BINARY");
    std::vector<std::string> argv_strings{binary != nullptr ? binary : CAS_SERVICE_BINARY, "--port",
                                          "0"};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(log_fd);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    pid_ = pid;

    // Wait for the "listening" line and take the port from it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        auto text = read_file(log_path_);
        auto at = text.find("\"msg\":\"listening\"");
        if (at != std::string::npos) {
            auto p = text.find("\"port\":", at);
            if (p != std::string::npos) {
                port_ = std::atoi(text.c_str() + p + 7);
                return;
            }
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            cleanup();  // a throwing constructor runs no destructor
            throw std::runtime_error(
                "service exited at start-up (exit code " +
                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                "): " + text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto text = read_file(log_path_);
    cleanup();
    throw std::runtime_error("service did not start listening: " + text);
}

ServiceProcess::~ServiceProcess() {
    cleanup();
}

void ServiceProcess::cleanup() {
    if (pid_ > 0) stop(SIGKILL);
    if (!log_path_.empty()) unlink(log_path_.c_str());
    log_path_.clear();
    if (own_data_dir_) {
        std::error_code ec;
        std::filesystem::remove_all(data_dir_, ec);
        own_data_dir_ = false;
    }
}

std::string ServiceProcess::log() const {
    return read_file(log_path_);
}

std::string ServiceProcess::log_through(std::string_view marker,
                                        std::chrono::milliseconds limit) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    auto text = log();
    while (text.find(marker) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        text = log();
    }
    return text;
}

int ServiceProcess::stop(int signal, std::chrono::milliseconds limit) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
            pid_ = -1;
            return -2;  // did not stop in time
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Connection::Connection(int port, std::chrono::milliseconds timeout) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::runtime_error(fmt::format("connect to port {} failed", port));
    }
}

Connection::~Connection() {
    if (fd_ >= 0) close(fd_);
}

bool Connection::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

HttpReply Connection::read_reply() {
    HttpReply reply;
    auto fill = [this] {
        char buf[65536];
        auto n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        pending_.append(buf, static_cast<std::size_t>(n));
        return true;
    };
    std::size_t header_end = 0;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) return reply;
    }
    std::istringstream head(pending_.substr(0, header_end));
    pending_.erase(0, header_end + 4);
    std::string line;
    std::getline(head, line);
    if (line.size() < 12) return reply;
    int status = std::atoi(line.c_str() + 9);
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        reply.headers[lower(line.substr(0, colon))] = value;
    }
    if (reply.header("transfer-encoding") == "chunked") {
        for (;;) {
            std::size_t eol = 0;
            while ((eol = pending_.find("\r\n")) == std::string::npos) {
                if (!fill()) return reply;
            }
            auto size = std::stoul(pending_.substr(0, eol), nullptr, 16);
            while (pending_.size() < eol + 2 + size + 2) {
                if (!fill()) return reply;
            }
            reply.body += pending_.substr(eol + 2, size);
            pending_.erase(0, eol + 2 + size + 2);
            if (size == 0) break;
        }
    } else {
        auto length = static_cast<std::size_t>(std::atol(reply.header("content-length").c_str()));
        while (pending_.size() < length) {
            if (!fill()) return reply;
        }
        reply.body = pending_.substr(0, length);
        pending_.erase(0, length);
    }
    reply.status = status;
    return reply;
}

bool Connection::closed_within(std::chrono::milliseconds limit) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(limit.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((limit.count() % 1000) * 1000);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (;;) {
        auto n = recv(fd_, buf, sizeof buf, 0);
        if (n == 0) return true;                // EOF
        if (n < 0) return errno == ECONNRESET;  // timeout → still open
    }
}

std::string Connection::read_until(const std::string& needle, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (pending_.find(needle) == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline) return {};
        timeval tv{0, 20000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[65536];
        auto n = recv(fd_, buf, sizeof buf, 0);
        if (n == 0) return {};
        if (n > 0) pending_.append(buf, static_cast<std::size_t>(n));
    }
    return pending_;
}

void Connection::close_now() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

HttpReply request(int port, const std::string& method, const std::string& target,
                  const std::string& body, std::map<std::string, std::string> headers) {
    Connection conn(port);
    std::string raw =
        fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, target);
    if (!body.empty() || method == "POST") {
        headers.try_emplace("Content-Type", "application/json");
        raw += fmt::format("Content-Length: {}\r\n", body.size());
    }
    for (auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
    raw += "\r\n" + body;
    conn.send(raw);
    return conn.read_reply();
}

}  // namespace cas::test
