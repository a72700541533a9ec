// libpq, loaded when a PostgreSQL store is first opened rather than linked: linked, it
// brings libssl, libcrypto, Kerberos and LDAP into every process, SQLite deployments too
// (idle RSS 13.6 MiB against 7.7). Types and signatures come from libpq-fe.h (libpq-dev).
#pragma once

#include <libpq-fe.h>

namespace cas::pg {

// clang-format off
#define CAS_LIBPQ_FUNCTIONS(X)                                                                    \
    X(PQclear) X(PQcmdTuples) X(PQconnectPoll) X(PQconnectStart) X(PQconsumeInput)                \
    X(PQerrorMessage) X(PQfinish) X(PQflush) X(PQfreemem) X(PQgetResult) X(PQgetisnull)           \
    X(PQgetlength) X(PQgetvalue) X(PQisBusy) X(PQnotifies) X(PQntuples) X(PQresultErrorField)     \
    X(PQresultErrorMessage) X(PQresultStatus) X(PQsendQuery) X(PQsendQueryParams)                 \
    X(PQsetNoticeReceiver) X(PQsetnonblocking) X(PQsocket) X(PQstatus) X(PQtransactionStatus)
// clang-format on

struct Libpq {
#define CAS_LIBPQ_POINTER(name) \
    decltype(&::name) name = nullptr;  // NOLINT(bugprone-macro-parentheses)
    CAS_LIBPQ_FUNCTIONS(CAS_LIBPQ_POINTER)
#undef CAS_LIBPQ_POINTER
};

// The loaded library (libpq.so.5, Debian libpq5); throws pg::Error when it cannot be loaded.
const Libpq& libpq();

}  // namespace cas::pg
