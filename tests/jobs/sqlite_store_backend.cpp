// The SQLite build of the store contract suite: a database file in a temporary directory.
#include "jobs/sqlite_job_store.hpp"
#include "store_under_test.hpp"
#include "temp_dir.hpp"

namespace cas::test {

struct StoreUnderTest::Database {
    TempDir dir;
    std::string path = (dir.path / "jobs.db").string();
};

StoreUnderTest::StoreUnderTest()
    : database_(std::make_unique<Database>()), store_(open_again()) {}

StoreUnderTest::~StoreUnderTest() = default;

const char* StoreUnderTest::backend() {
    return "sqlite";
}

std::unique_ptr<jobs::JobStore> StoreUnderTest::open_again() {
    return std::make_unique<jobs::SqliteJobStore>(database_->path);
}

}  // namespace cas::test
