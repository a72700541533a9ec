// Test harness: starts the real claude-agent-service binary on an ephemeral port with a
// chosen environment, finds its port from its "listening" log line, and talks raw HTTP
// to it over blocking POSIX sockets (so tests can also send broken bytes).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::test {

struct HttpReply {
    int status = 0;                              // 0: no response (connection closed or timed out)
    std::map<std::string, std::string> headers;  // lowercase names
    std::string body;
    [[nodiscard]] std::string header(const std::string& lower_name) const;
};

class ServiceProcess {
public:
    // `env` is added to a minimal environment (PATH, HOME, and a fresh DATA_DIR unless
    // given, removed afterwards); `args` go after the binary.
    explicit ServiceProcess(std::map<std::string, std::string> env = {},
                            std::vector<std::string> args = {});
    ~ServiceProcess();
    ServiceProcess(const ServiceProcess&) = delete;
    ServiceProcess& operator=(const ServiceProcess&) = delete;

    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] int pid() const { return pid_; }
    [[nodiscard]] std::string log() const;  // everything written to stderr so far
    // The log once it holds `marker` (or after `limit`): info lines are written in batches
    // (within 50 ms), in order, so every line logged before the marker's is there too.
    [[nodiscard]] std::string log_through(
        std::string_view marker, std::chrono::milliseconds limit = std::chrono::seconds(5)) const;
    [[nodiscard]] const std::string& data_dir() const { return data_dir_; }

    // Sends `signal` and waits for the exit; returns the exit status (or 128+signal).
    int stop(int signal = 15, std::chrono::milliseconds limit = std::chrono::seconds(10));

private:
    void cleanup();

    int pid_ = -1;
    int port_ = 0;
    std::string log_path_;
    std::string data_dir_;
    bool own_data_dir_ = false;
};

// A connected socket to 127.0.0.1:port with a receive timeout.
class Connection {
public:
    explicit Connection(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    bool send(const std::string& bytes);
    // Reads one response; status 0 if the peer closed or timed out first.
    HttpReply read_reply();
    // True if the peer closes the connection (EOF) within `limit`.
    bool closed_within(std::chrono::milliseconds limit);
    // Reads raw bytes until `needle` has arrived; everything read so far (empty on timeout).
    std::string read_until(const std::string& needle, std::chrono::milliseconds limit);
    void close_now();

private:
    int fd_ = -1;
    std::string pending_;
};

// One request on a fresh connection.
HttpReply request(int port, const std::string& method, const std::string& target,
                  const std::string& body = {}, std::map<std::string, std::string> headers = {});

}  // namespace cas::test
