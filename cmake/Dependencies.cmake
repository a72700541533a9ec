# Every dependency comes from Debian bookworm packages (see scripts/install-deps.sh);
# nothing is downloaded at configure or build time.
find_package(Boost 1.81 REQUIRED COMPONENTS json url filesystem)
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)  # libpq-fe.h (Debian libpq-dev); libpq is loaded at run time
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(OpenSSL 3 REQUIRED)  # libssl-dev: https webhooks (Beast over OpenSSL), HMAC-SHA256
