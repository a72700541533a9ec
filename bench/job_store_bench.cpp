// Job store costs: N job records written as the service writes them (insert as running,
// then the final update), then listed page by page and read back one by one.
// Usage: cas_bench_job_store [N] [DIR]   (default 10000 records in a temporary directory)
#include "jobs/sqlite_job_store.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

using namespace cas::jobs;
using Clock = std::chrono::steady_clock;

namespace {

double micros(Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

boost::asio::awaitable<bool> measure(JobStore& store, int count) {
    std::vector<double> inserts;
    std::vector<double> updates;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        Job job;
        job.id = new_job_id();
        job.status = JobStatus::running;
        job.prompt = fmt::format("Summarise ticket #{} and propose a fix", i);
        job.agent = i % 2 == 0 ? "infra-helper" : "recruiter-triage";
        job.created_at = utc_now_iso();
        job.started_at = job.created_at;
        auto t0 = Clock::now();
        co_await store.save(job);
        auto t1 = Clock::now();
        job.status = i % 10 == 0 ? JobStatus::failed : JobStatus::completed;
        job.finished_at = utc_now_iso();
        job.exit_code = 0;
        job.output.assign(20, std::string(200, 'o') + "\n");  // ~4 KB of stream-json lines
        job.result = std::string(500, 'r');
        co_await store.save(job);
        auto t2 = Clock::now();
        inserts.push_back(micros(t1 - t0));
        updates.push_back(micros(t2 - t1));
        ids.push_back(job.id);
    }

    std::vector<double> pages;
    std::size_t listed = 0;
    JobFilter filter;
    filter.limit = 50;
    for (;;) {
        auto t0 = Clock::now();
        auto page = co_await store.list(filter);
        pages.push_back(micros(Clock::now() - t0));
        listed += page.jobs.size();
        if (!page.next) break;
        filter.before = page.next;
    }
    JobFilter failed;
    failed.status = JobStatus::failed;
    failed.limit = 50;
    auto t0 = Clock::now();
    auto failed_page = co_await store.list(failed);
    auto filtered = micros(Clock::now() - t0);

    std::vector<double> reads;
    for (int i = 0; i < count; i += std::max(1, count / 1000)) {
        auto r0 = Clock::now();
        auto job = co_await store.find(ids[static_cast<std::size_t>(i)]);
        reads.push_back(micros(Clock::now() - r0));
    }

    fmt::print("job store: {} records\n", count);
    fmt::print("  write (insert as running): p50 {:.0f} us  p99 {:.0f} us\n",
               percentile(inserts, 0.5), percentile(inserts, 0.99));
    fmt::print("  write (final update, ~4 KB output): p50 {:.0f} us  p99 {:.0f} us\n",
               percentile(updates, 0.5), percentile(updates, 0.99));
    fmt::print("  list, 50 per page, {} pages ({} jobs): p50 {:.0f} us  p99 {:.0f} us\n",
               pages.size(), listed, percentile(pages, 0.5), percentile(pages, 0.99));
    fmt::print("  list ?status=failed (first page, {} jobs): {:.0f} us\n", failed_page.jobs.size(),
               filtered);
    fmt::print("  read one record: p50 {:.0f} us  p99 {:.0f} us\n", percentile(reads, 0.5),
               percentile(reads, 0.99));
    co_return listed == static_cast<std::size_t>(count);
}

}  // namespace

int main(int argc, char** argv) {
    const int count = argc > 1 ? std::stoi(argv[1]) : 10000;
    std::filesystem::path dir;
    if (argc > 2) {
        dir = argv[2];
    } else {
        char tmpl[] = "/tmp/cas-bench-store-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    auto path = (dir / "jobs.db").string();
    std::filesystem::remove(path);
    SqliteJobStore store(path);
    boost::asio::io_context io;
    auto done = boost::asio::co_spawn(io, measure(store, count), boost::asio::use_future);
    io.run();
    bool complete = done.get();
    fmt::print("  {}: {:.1f} MiB\n", path,
               static_cast<double>(std::filesystem::file_size(path)) / (1024.0 * 1024.0));
    if (argc <= 2) std::filesystem::remove_all(dir);
    return complete ? 0 : 1;
}
