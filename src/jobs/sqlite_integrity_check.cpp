#include "jobs/sqlite_integrity_check.hpp"

#include "jobs/sqlite_statement.hpp"
#include "telemetry/log.hpp"

#include <sqlite3.h>

#include <chrono>
#include <utility>

namespace cas::jobs {
namespace {

// The first problems are enough to name the damage; the file needs restoring either way.
constexpr const char* kCheck = "PRAGMA quick_check(5)";

}  // namespace

SqliteIntegrityCheck::SqliteIntegrityCheck(std::string path)
    : path_(std::move(path)), thread_([this] { run(); }) {}

SqliteIntegrityCheck::~SqliteIntegrityCheck() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        if (db_ != nullptr) sqlite3_interrupt(db_);
    }
    thread_.join();
}

void SqliteIntegrityCheck::run() {
    auto started = std::chrono::steady_clock::now();
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
        log::error("cannot check the job database",
                   {{"path", path_}, {"error", sqlite3_errmsg(db)}});
        sqlite3_close(db);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            sqlite3_close(db);
            return;
        }
        db_ = db;
    }
    std::string problems;
    try {
        sqlite_detail::Statement check(db, kCheck);
        while (check.step()) {
            if (check.text(0) == "ok") continue;
            if (!problems.empty()) problems += "; ";
            problems += check.text(0);
        }
    } catch (const StoreError& e) {
        // A check that cannot read the file is a finding too ("database disk image is malformed").
        if (!problems.empty()) problems += "; ";
        problems += e.what();
    }
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        db_ = nullptr;
        stopping = stopping_;  // then the check was interrupted: it found nothing
    }
    sqlite3_close(db);
    if (stopping) return;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (!problems.empty()) {
        log::error(
            "the job database is corrupt: restore it from a backup, or move it away to "
            "start with an empty one",
            {{"path", path_}, {"problems", problems}, {"check_ms", took.count()}});
        return;
    }
    log::info("job database checked", {{"path", path_}, {"check_ms", took.count()}});
}

}  // namespace cas::jobs
