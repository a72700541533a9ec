// The PostgreSQL build of the store contract suite: a fresh database per test on the server
// the tests' fixture started (tests/fixtures/postgres-server.sh; CTest passes its socket
// directory as CAS_TEST_POSTGRES_DIR), dropped at the end.
#include "jobs/postgres_job_store.hpp"
#include "postgres_server.hpp"
#include "store_under_test.hpp"

namespace cas::test {

struct StoreUnderTest::Database {
    TestDatabase database;
};

StoreUnderTest::StoreUnderTest()
    : database_(std::make_unique<Database>(Database{TestDatabase(io_)})), store_(open_again()) {}

StoreUnderTest::~StoreUnderTest() {
    store_.reset();  // its connections first: a database in use cannot be dropped
}

const char* StoreUnderTest::backend() {
    return "postgres";
}

std::unique_ptr<jobs::JobStore> StoreUnderTest::open_again() {
    return run_coroutine_test(
        io_, jobs::PostgresJobStore::open(io_.get_executor(), database_->database.settings()));
}

}  // namespace cas::test
