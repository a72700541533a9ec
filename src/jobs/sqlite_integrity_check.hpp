// SQLite's `PRAGMA quick_check` of the job database, in the background: it reads the whole
// file (47 ms at 10,000 records), so start-up does not wait for it. A corrupt file that SQLite
// cannot open at all still stops start-up (the store's constructor); one whose damage lies
// deeper is reported by an error line as soon as the check finds it.
#pragma once

#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace cas::jobs {

class SqliteIntegrityCheck {
public:
    // Starts the check of the database at `path` on a connection and a thread of its own.
    explicit SqliteIntegrityCheck(std::string path);
    // Interrupts a check still running and waits for its thread.
    ~SqliteIntegrityCheck();
    SqliteIntegrityCheck(const SqliteIntegrityCheck&) = delete;
    SqliteIntegrityCheck& operator=(const SqliteIntegrityCheck&) = delete;

private:
    void run();

    std::string path_;
    std::mutex mutex_;
    sqlite3* db_ = nullptr;  // while the check runs; under mutex_
    bool stopping_ = false;  // under mutex_
    std::thread thread_;
};

}  // namespace cas::jobs
