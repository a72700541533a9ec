// The store a contract test runs against, chosen at run time: SQLite (a database file in a
// temporary directory) unless CAS_TEST_STORE=postgres, which CTest sets when it runs the suite
// again on PostgreSQL (a fresh database on the server the tests' fixture started, dropped at
// the end). One binary for both: the suite is compiled once.
#include "store_under_test.hpp"

#include "jobs/postgres_job_store.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "postgres_server.hpp"
#include "temp_dir.hpp"

#include <cstdlib>
#include <optional>
#include <string_view>

namespace cas::test {

struct StoreUnderTest::Database {
    std::optional<TestDatabase> postgres;  // else SQLite, in `dir`
    TempDir dir;
};

bool StoreUnderTest::on_postgres() {
    const char* store = std::getenv("CAS_TEST_STORE");  // NOLINT(concurrency-mt-unsafe)
    return store != nullptr && std::string_view(store) == "postgres";
}

StoreUnderTest::StoreUnderTest() : database_(std::make_unique<Database>()) {
    if (on_postgres()) database_->postgres.emplace(io_);
    store_ = open_again();
}

StoreUnderTest::~StoreUnderTest() {
    store_.reset();  // its connections first: a database in use cannot be dropped
}

std::unique_ptr<jobs::JobStore> StoreUnderTest::open_again() {
    if (database_->postgres) {
        return run_coroutine_test(
            io_, jobs::PostgresJobStore::open(io_.get_executor(), database_->postgres->settings()));
    }
    return std::make_unique<jobs::SqliteJobStore>((database_->dir.path / "jobs.db").string());
}

}  // namespace cas::test
