// A catalogue of malformed and hostile requests against the real binary, each with the exact
// answer it must get: a status and a JSON error body, or a closed connection. After every
// entry the server must still answer GET /health with 200 and busy:false (no crash, no lost
// execution slot). Every reply is also checked for the things that hold for all of them:
// JSON content type, an X-Request-Id, WWW-Authenticate on 401s, and no Access-Control-*
// headers (CORS is off).
//
// Where the README fixes an answer (statuses, error texts, 422 shape) the entry asserts it
// exactly. Where the choice is the service's own (or Beast's) and reasonable, the entry
// asserts what it does and says why that is acceptable.
//
// "bad input: found by this catalogue" holds the entries that first failed (request smuggling
// through a Transfer-Encoding not ending in chunked, an endless chunk extension or trailer
// growing memory, invalid UTF-8 echoed into JSON), kept as regression tests.
#include "integration/bad_input.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace cas::test;
using namespace cas::test::bad_input;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string execute(const std::string& body, const std::string& extra = {}) {
    return post("/execute", body, extra);
}

std::string chat_completion(const std::string& body, const std::string& extra = {}) {
    return post("/v1/chat/completions", body, extra);
}

const std::string kUnknownField =
    "unknown field (expected prompt, agent, max_budget_usd, timeout_seconds, metadata, resume, "
    "fork, callback_url, or a run option: model, fallback_model, allowed_tools, "
    "disallowed_tools, max_turns, append_system_prompt, effort, json_schema)";
const std::string kResumeForm =
    "must be a job id (12 hex characters) or a CLI session id (a lowercase UUID)";
const std::string kAgentChars = "agent name may only contain letters, digits, '-', '_' and '.'";
const std::string kLimitRange = "must be an integer from 1 to 200";
const std::string kModelName =
    "must be a model name: 1 to 128 letters, digits and . _ : - / @ [ ], not starting with '-'";
const std::string kToolPattern =
    "must be a tool name (letters, digits, '_', '-', '*'), optionally followed by a rule in "
    "parentheses, e.g. Bash(git:*)";

// ---- entries that need more than one send ----

// A header sent one byte every 100 ms: the read timeout bounds the whole header, so the
// trickle does not keep the connection alive.
void drip_fed_header(int port) {
    Connection conn(port, 5s);
    const std::string slow = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(60, 's');
    auto start = Clock::now();
    bool closed = false;
    for (char c : slow) {
        if (!conn.send(std::string(1, c)) || conn.closed_within(100ms)) {
            closed = true;
            break;
        }
    }
    auto took = Clock::now() - start;
    CHECK(closed);
    CHECK(took >= kReadTimeout - 100ms);
    CHECK(took < kReadTimeout * 3);
}

std::vector<Entry> catalogue() {
    const std::string chunked_post =
        "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer + "Transfer-Encoding: chunked\r\n\r\n";
    const std::string chunk_40k = fmt::format("{:x}\r\n{}\r\n", 40000, std::string(40000, 'y'));
    const auto method_not_allowed = [](std::string allow) {
        return with_header(exact(405, detail("Method Not Allowed")), "allow", std::move(allow));
    };
    const std::string user_hi = R"([{"role":"user","content":"hi"}])";

    return {
        // ---------------- limits and stalls ----------------
        {"headers over MAX_HEADER_BYTES (20 KB field) -> 431",
         get("/health", "X-Filler: " + std::string(20000, 'a') + "\r\n", false),
         {exact(431, detail("Request headers too large"))},
         Then::closed},
        // The request line counts against the header limit: 431 rather than a separate 414.
        {"a 20 KB URL -> 431 (request line counts against MAX_HEADER_BYTES)",
         get("/" + std::string(20000, 'a'), {}, false),
         {exact(431, detail("Request headers too large"))},
         Then::closed},
        {"declared body over MAX_BODY_BYTES -> 413 before the body is read",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer + "Content-Length: 65537\r\n\r\n",
         {exact(413, detail("Request body too large (limit 65536 bytes)"))},
         Then::closed},
        {"anonymous 100 MiB declared body -> 401 first, the body is never read",
         "POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n",
         {exact(401, detail("Missing bearer token"))},
         Then::closed},
        {"Content-Length beyond 2^64 -> 400",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Content-Length: 99999999999999999999999\r\n\r\n",
         {exact(400, detail("Malformed HTTP request: bad Content-Length"))},
         Then::closed},
        {"Content-Length with a sign (+2) -> 400",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer + "Content-Length: +2\r\n\r\n{}",
         {exact(400, detail("Malformed HTTP request: bad Content-Length"))},
         Then::closed},
        {"chunked body over MAX_BODY_BYTES (2 x 40 KB) -> 413 while reading",
         chunked_post + chunk_40k + chunk_40k + "0\r\n\r\n",
         {exact(413, detail("Request body too large (limit 65536 bytes)"))},
         Then::closed},
        {"one chunk declared larger than MAX_BODY_BYTES -> 413 at its size line",
         chunked_post + "100000\r\n",
         {exact(413, detail("Request body too large (limit 65536 bytes)"))},
         Then::closed},
        {"chunk size overflowing 64 bits -> 400",
         chunked_post + "fffffffffffffffffffff\r\nab\r\n0\r\n\r\n",
         {exact(400, detail("Malformed request body: bad chunk"))},
         Then::closed},
        {"chunk size that is not hex -> 400",
         chunked_post + "zz\r\nab\r\n0\r\n\r\n",
         {exact(400, detail("Malformed request body: bad chunk"))},
         Then::closed},
        // A timed-out read closes the socket (Beast's tcp_stream), so there is no 408.
        {"chunked body that never ends -> closed after the read timeout",
         chunked_post + "5\r\nhello\r\n",
         {},
         Then::closed_after_timeout},
        {"body shorter than Content-Length, then a stall -> closed after the read timeout",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Content-Length: 100\r\n\r\n{\"prompt\":",
         {},
         Then::closed_after_timeout},
        {"slowloris: half a header, then a stall -> closed after the read timeout",
         "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow:",
         {},
         Then::closed_after_timeout},
        {"drip-fed header, one byte every 100 ms -> closed at the read timeout",
         {},
         {},
         Then::any,
         drip_fed_header},
        {"idle keep-alive connection -> closed after the read timeout",
         get("/health", {}, false),
         {exact(200, kHealthy)},
         Then::closed_after_timeout},

        // ---------------- versions and pipelining ----------------
        {"HTTP/1.0 request -> answered, then closed",
         "GET /health HTTP/1.0\r\n\r\n",
         {exact(200, kHealthy)},
         Then::closed},
        {"HTTP/1.0 with Connection: keep-alive -> answered and kept open",
         "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
         {with_header(exact(200, kHealthy), "connection", "keep-alive")},
         Then::open},
        {"HTTP/2 prior-knowledge preface -> 400",
         "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
         {exact(400, detail("Malformed HTTP request: bad version"))},
         Then::closed},
        {"pipelined good, malformed, good -> 200, 400, then closed (framing is lost)",
         get("/health", {}, false) + "GET /health HTTP/1.1\r\nBad Header\r\n\r\n" +
             get("/health", {}, false),
         {exact(200, kHealthy), has(400, {R"({"detail":"Malformed HTTP request: )"})},
         Then::closed},
        {"pipelined good, invalid JSON body, good -> 200, 400, 200, still open",
         get("/health", {}, false) + execute("{\"prompt\":") + get("/health", {}, false),
         {exact(200, kHealthy),
          exact(400, detail("Request body is not valid JSON: incomplete JSON")),
          exact(200, kHealthy)},
         Then::open},
        {"pipelined anonymous POST with a body -> 401 and closed; its body is never a request",
         post("/execute", kSmuggled, {}, false),
         {exact(401, detail("Missing bearer token"))},
         Then::closed},
        {"405 with an unread body -> closed; the body is never a request",
         "PUT /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             fmt::format("Content-Length: {}\r\n\r\n", kSmuggled.size()) + kSmuggled,
         {method_not_allowed("POST")},
         Then::closed},
        {"404 with an unread body -> closed; the body is never a request",
         post("/nope", kSmuggled),
         {exact(404, detail("Not Found"))},
         Then::closed},
        {"GET with a body: the body is read and skipped, the next request stays in sync",
         "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + kSmuggled,
         {exact(200, kHealthy), exact(404, detail("Not Found"))},
         Then::open},

        // ---------------- smuggling and header syntax ----------------
        {"Content-Length and Transfer-Encoding: chunked -> 400, closed",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kSmuggled,
         {exact(400, detail("Malformed HTTP request: bad Transfer-Encoding"))},
         Then::closed},
        {"Transfer-Encoding: chunked and Content-Length -> 400, closed",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + kSmuggled,
         {exact(400, detail("Malformed HTTP request: bad Content-Length"))},
         Then::closed},
        {"two Content-Length headers with different values -> 400",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
         {exact(400, detail("Malformed HTTP request: multiple Content-Length"))},
         Then::closed},
        {"Content-Length list '2, 3' -> 400",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer + "Content-Length: 2, 3\r\n\r\n{}x",
         {exact(400, detail("Malformed HTTP request: multiple Content-Length"))},
         Then::closed},
        // RFC 9110 8.6 lets a recipient treat identical repeated values as one.
        {"two identical Content-Length headers are one length -> 422 for the body, still open",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
         {has(422, {R"({"loc":["body","prompt"],"msg":"field required")"})},
         Then::open},
        {"Transfer-Encoding: chunked twice -> 400",
         chunked_post.substr(0, chunked_post.size() - 2) + "Transfer-Encoding: chunked\r\n\r\n" +
             "0\r\n\r\n",
         {exact(400, detail("Malformed HTTP request: bad Transfer-Encoding"))},
         Then::closed},
        {"'Transfer-Encoding : chunked' (space before the colon) -> 400",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
         {exact(400, detail("Malformed HTTP request: bad field"))},
         Then::closed},
        // RFC 9112 5.2 allows a server to replace obs-fold with spaces instead of rejecting.
        {"obs-fold continuation line -> accepted as part of the value",
         "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
         {exact(200, kHealthy)},
         Then::open},
        {"bare LF line endings -> 400",
         "GET /health HTTP/1.1\nHost: x\n\n",
         {has(400, {R"({"detail":"Malformed HTTP request: )"})},
         Then::closed},
        {"NUL byte in a header value -> 400",
         [] {
             const char raw[] = "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
             return std::string(raw, sizeof raw - 1);
         }(),
         {exact(400, detail("Malformed HTTP request: bad value"))},
         Then::closed},

        // ---------------- methods, CORS, request ids ----------------
        {"absurd method FOO /health -> 405 with Allow: GET, HEAD",
         "FOO /health HTTP/1.1\r\nHost: x\r\n\r\n",
         {method_not_allowed("GET, HEAD")},
         Then::open},
        {"lowercase 'get' is another method (methods are case-sensitive) -> 405",
         "get /health HTTP/1.1\r\nHost: x\r\n\r\n",
         {method_not_allowed("GET, HEAD")},
         Then::open},
        {"CORS preflight OPTIONS /execute from another origin -> 405, no Access-Control-*",
         "OPTIONS /execute HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
         "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: "
         "authorization\r\n\r\n",
         {method_not_allowed("POST")},
         Then::open},
        {"CORS preflight OPTIONS /v1/chat/completions -> 405 OpenAI error, no Access-Control-*",
         "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
         "Access-Control-Request-Method: POST\r\n\r\n",
         {with_header(exact(405, openai_error("Method Not Allowed", std::nullopt)), "allow",
                      "POST")},
         Then::open},
        {"cross-origin GET /health -> 200 without Access-Control-Allow-Origin",
         get("/health", "Origin: https://evil.example\r\n", false),
         {exact(200, kHealthy)},
         Then::open},
        {"X-Request-Id with markup -> replaced by a fresh 16-hex id",
         get("/health", "X-Request-Id: <script>\r\n", false),
         {also(exact(200, kHealthy),
               [](const HttpReply& r) { CHECK(r.header("x-request-id").size() == 16); })},
         Then::open},
        {"X-Request-Id of 129 characters -> replaced by a fresh 16-hex id",
         get("/health", "X-Request-Id: " + std::string(129, 'a') + "\r\n", false),
         {also(exact(200, kHealthy),
               [](const HttpReply& r) { CHECK(r.header("x-request-id").size() == 16); })},
         Then::open},

        // ---------------- paths ----------------
        // A decoded segment is one path parameter; it is not a job id, so "Job not found".
        {"/jobs/..%2F..%2Fetc%2Fpasswd -> 404 Job not found",
         get("/jobs/..%2F..%2Fetc%2Fpasswd"),
         {exact(404, detail("Job not found"))},
         Then::open},
        // Dot segments are not resolved: three segments match no route. Nothing maps a path
        // to a file, so resolving them would only make /jobs/../health an alias of /health.
        {"/jobs/../health -> 404 Not Found (dot segments are not resolved)",
         get("/jobs/../health"),
         {exact(404, detail("Not Found"))},
         Then::open},
        {"/jobs/../../../etc/passwd -> 404 Not Found",
         get("/jobs/../../../etc/passwd"),
         {exact(404, detail("Not Found"))},
         Then::open},
        {"/jobs/abc%2Fdef (encoded slash) -> 404 Job not found",
         get("/jobs/abc%2Fdef"),
         {exact(404, detail("Job not found"))},
         Then::open},
        {"/jobs/%00 -> 404 Job not found",
         get("/jobs/%00"),
         {exact(404, detail("Job not found"))},
         Then::open},
        {"/jobs/ABCDEF123456 (ids are lowercase hex) -> 404 Job not found",
         get("/jobs/ABCDEF123456"),
         {exact(404, detail("Job not found"))},
         Then::open},
        {"DELETE /jobs/..%2F..%2Fetc -> 404 Job not found",
         "DELETE /jobs/..%2F..%2Fetc HTTP/1.1\r\nHost: x\r\n" + kBearer + "\r\n",
         {exact(404, detail("Job not found"))},
         Then::open},
        {"POST /jobs/0123456789ab/cancel for an unknown id -> 404 Job not found",
         post("/jobs/0123456789ab/cancel", ""),
         {exact(404, detail("Job not found"))},
         Then::open},
        {"/v1/models/..%2F..%2Fetc%2Fpasswd -> 404 model_not_found",
         get("/v1/models/..%2F..%2Fetc%2Fpasswd"),
         {exact(404, cas::json_text(json::object{
                         {"error",
                          json::object{{"message", "The model '../../etc/passwd' does not exist"},
                                       {"type", "invalid_request_error"},
                                       {"param", "model"},
                                       {"code", "model_not_found"}}}}))},
         Then::open},
        {"//health -> 404",
         get("//health", {}, false),
         {exact(404, detail("Not Found"))},
         Then::open},

        // ---------------- Authorization ----------------
        // The reference app's prefix test is case-sensitive ("Bearer "), so is this one.
        {"lowercase 'bearer' scheme -> 401 Missing bearer token",
         get("/jobs", "Authorization: bearer test-token\r\n", false),
         {exact(401, detail("Missing bearer token"))},
         Then::open},
        {"'Bearer' with no token -> 401 Missing bearer token",
         get("/jobs", "Authorization: Bearer\r\n", false),
         {exact(401, detail("Missing bearer token"))},
         Then::open},
        {"two spaces after Bearer -> 401 Invalid token",
         get("/jobs", "Authorization: Bearer  test-token\r\n", false),
         {exact(401, detail("Invalid token"))},
         Then::open},
        // RFC 9110 5.5: whitespace around a field value is not part of it; the parser strips
        // it before the service sees the header, so this is the right token.
        {"trailing space after the token is stripped by HTTP -> 200",
         get("/jobs", "Authorization: Bearer test-token \r\n", false),
         {exact(200, kNoJobs)},
         Then::open},
        {"10 KB token -> 401 Invalid token",
         get("/jobs", "Authorization: Bearer " + std::string(10240, 't') + "\r\n", false),
         {exact(401, detail("Invalid token"))},
         Then::open},
        {"non-ASCII token bytes -> 401 Invalid token",
         get("/jobs", "Authorization: Bearer t\xc3\xa9st-token\xff\r\n", false),
         {exact(401, detail("Invalid token"))},
         Then::open},
        // With two Authorization headers the first is used. RFC 9110 forbids sending two;
        // taking the first cannot let anyone in who does not already hold the token.
        {"two Authorization headers, wrong one first -> 401 Invalid token",
         get("/jobs", "Authorization: Bearer nope\r\nAuthorization: Bearer test-token\r\n", false),
         {exact(401, detail("Invalid token"))},
         Then::open},
        {"two Authorization headers, right one first -> 200 (the first is used)",
         get("/jobs", "Authorization: Bearer test-token\r\nAuthorization: Bearer nope\r\n", false),
         {exact(200, kNoJobs)},
         Then::open},
        {"'Bearer test-token, Bearer other' -> 401 Invalid token",
         get("/jobs", "Authorization: Bearer test-token, Bearer other\r\n", false),
         {exact(401, detail("Invalid token"))},
         Then::open},

        // ---------------- JSON syntax (400) ----------------
        {"invalid JSON -> 400",
         execute("{\"prompt\":"),
         {exact(400, detail("Request body is not valid JSON: incomplete JSON"))},
         Then::open},
        {"empty body -> 400",
         execute(""),
         {exact(400, detail("Request body is not valid JSON: incomplete JSON"))},
         Then::open},
        {"JSON array -> 400 not an object",
         execute("[]"),
         {exact(400, detail("Request body must be a JSON object"))},
         Then::open},
        {"JSON null -> 400 not an object",
         execute("null"),
         {exact(400, detail("Request body must be a JSON object"))},
         Then::open},
        {"10,000 '[' -> 400 too deep, not a crash",
         execute(std::string(10000, '[')),
         {exact(400, detail("Request body is not valid JSON: too deep"))},
         Then::open},
        {"10,000 nested objects -> 400 too deep",
         [] {
             std::string deep;
             for (int i = 0; i < 10000; ++i) deep += "{\"a\":";
             return execute(deep);
         }(),
         {exact(400, detail("Request body is not valid JSON: too deep"))},
         Then::open},
        {"NaN literal -> 400",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":NaN})"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},
        {"Infinity literal -> 400",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":Infinity})"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},
        {"-Infinity literal -> 400",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":-Infinity})"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},
        {"invalid UTF-8 byte 0xFF in a string -> 400",
         execute("{\"prompt\":\"a\xff"
                 "b\",\"agent\":\"a\"}"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},
        {"overlong UTF-8 (C0 AF) in a string -> 400",
         execute("{\"prompt\":\"a\xc0\xaf"
                 "b\",\"agent\":\"a\"}"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},
        {"UTF-8-encoded surrogate (ED A0 80) in a string -> 400",
         execute("{\"prompt\":\"a\xed\xa0\x80"
                 "b\",\"agent\":\"a\"}"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},
        {"unpaired high surrogate escape \\ud800 -> 400",
         execute(R"({"prompt":"a\ud800b","agent":"a"})"),
         {has(400, {R"({"detail":"Request body is not valid JSON: )"})},
         Then::open},
        {"lone low surrogate escape \\udc00 -> 400",
         execute(R"({"prompt":"a\udc00b","agent":"a"})"),
         {exact(400, detail("Request body is not valid JSON: illegal leading surrogate"))},
         Then::open},
        {"trailing garbage after the object -> 400",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":0} x)"),
         {exact(400, detail("Request body is not valid JSON: extra data"))},
         Then::open},
        {"UTF-8 byte order mark before the object -> 400",
         execute("\xef\xbb\xbf{\"prompt\":\"x\",\"agent\":\"a\"}"),
         {exact(400, detail("Request body is not valid JSON: syntax error"))},
         Then::open},

        // ---------------- /execute fields (422, naming the field) ----------------
        {"NUL in prompt -> 422",
         execute(R"({"prompt":"a\u0000b","agent":"a"})"),
         {exact(422, field_error("prompt", "must not contain NUL characters"))},
         Then::open},
        // Duplicate keys: the last one wins, as with Python's json in the reference app. Both
        // values here are invalid, so the message shows which one was kept and nothing runs.
        {"duplicate keys -> the last wins",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":"first","timeout_seconds":0})"),
         {exact(422, field_error("timeout_seconds", "must be from 1 to 86400"))},
         Then::open},
        {"unknown field 'timeout' -> 422 naming it",
         execute(R"({"prompt":"x","agent":"a","timeout":30})"),
         {exact(422, field_error("timeout", kUnknownField, "value_error.extra"))},
         Then::open},
        {"resume that is neither a job id nor a session id -> 422 naming resume",
         execute(R"({"prompt":"x","agent":"a","resume":"--help"})"),
         {exact(422, field_error("resume", kResumeForm))},
         Then::open},
        {"resume of an uppercase UUID -> 422 (only the CLI's own form reaches --resume)",
         execute(R"({"prompt":"x","agent":"a","resume":"E23B6204-45C8-4286-8939-ACCEA201A19A"})"),
         {exact(422, field_error("resume", kResumeForm))},
         Then::open},
        {"resume of a job the store does not know -> 422 naming resume",
         execute(R"({"prompt":"x","agent":"a","resume":"0123456789ab"})"),
         {exact(422,
                field_error("resume", "no job 0123456789ab (or it was deleted by retention)"))},
         Then::open},
        {"resume of type number -> 422",
         execute(R"({"prompt":"x","agent":"a","resume":5})"),
         {exact(422, field_error("resume", "must be a string", "type_error.str"))},
         Then::open},
        {"fork without resume -> 422 naming fork",
         execute(R"({"prompt":"x","agent":"a","fork":true})"),
         {exact(422, field_error("fork", "needs resume: a session to fork"))},
         Then::open},
        {"fork not a boolean -> 422",
         execute(R"({"prompt":"x","agent":"a","fork":"yes"})"),
         {exact(422, field_error("fork", "must be true or false", "type_error.bool"))},
         Then::open},
        {"model that could be a flag -> 422 naming model",
         execute(R"({"prompt":"x","agent":"a","model":"--dangerously-skip-permissions"})"),
         {exact(422, field_error("model", kModelName))},
         Then::open},
        {"fallback_model not a string -> 422",
         execute(R"({"prompt":"x","agent":"a","fallback_model":["a"]})"),
         {exact(422, field_error("fallback_model", "must be a string"))},
         Then::open},
        {"allowed_tools not a list -> 422",
         execute(R"({"prompt":"x","agent":"a","allowed_tools":"Bash"})"),
         {exact(422, field_error("allowed_tools",
                                 "must be an array of at most 128 tool names or patterns"))},
         Then::open},
        {"a tool that is two tools to the CLI -> 422 naming its index",
         execute(R"J({"prompt":"x","agent":"a","allowed_tools":["Read","Bash,Write"]})J"),
         {exact(422, field_error("allowed_tools[1]", kToolPattern))},
         Then::open},
        {"a tool rule with a newline -> 422 naming its index",
         execute(R"J({"prompt":"x","agent":"a","disallowed_tools":["Bash(a\nb)"]})J"),
         {exact(422, field_error("disallowed_tools[0]",
                                 "a rule must be UTF-8 text without control characters or nested "
                                 "parentheses"))},
         Then::open},
        {"max_turns 0 -> 422",
         execute(R"({"prompt":"x","agent":"a","max_turns":0})"),
         {exact(422, field_error("max_turns", "must be at least 1"))},
         Then::open},
        {"max_turns past the service's bound -> 422",
         execute(R"({"prompt":"x","agent":"a","max_turns":1e30})"),
         {exact(422, field_error("max_turns", "must be an integer"))},
         Then::open},
        {"append_system_prompt with NUL -> 422",
         execute(R"J({"prompt":"x","agent":"a","append_system_prompt":"a\u0000b"})J"),
         {exact(422, field_error("append_system_prompt",
                                 "must be valid UTF-8 text without NUL characters"))},
         Then::open},
        {"effort unknown -> 422 naming the levels",
         execute(R"({"prompt":"x","agent":"a","effort":"ultra"})"),
         {exact(422, field_error("effort", "must be one of low, medium, high, xhigh, max"))},
         Then::open},
        {"callback_url while callbacks are off -> 422 not_allowed",
         execute(R"({"prompt":"x","agent":"a","callback_url":"https://hooks.example.com/x"})"),
         {exact(422, field_error("callback_url",
                                 "callbacks are off on this service (the operator has not set "
                                 "WEBHOOK_ALLOWED_HOSTS)",
                                 "value_error.not_allowed"))},
         Then::open},
        {"callback_url not a string -> 422",
         execute(R"({"prompt":"x","agent":"a","callback_url":{"url":"x"}})"),
         {exact(422, field_error("callback_url", "must be a string", "type_error.str"))},
         Then::open},
        {"json_schema not an object -> 422",
         execute(R"({"prompt":"x","agent":"a","json_schema":"{}"})"),
         {exact(422, field_error("json_schema", "'json_schema' must be a JSON Schema object"))},
         Then::open},
        {"chat: a run option of the wrong type -> 400 naming it",
         chat_completion(R"({"messages":[{"role":"user","content":"hi"}],"max_turns":"2"})"),
         {exact(400, openai_error("max_turns: must be an integer", "max_turns"))},
         Then::open},
        {"chat: a flag-like tool -> 400 naming its index",
         chat_completion(
             R"({"messages":[{"role":"user","content":"hi"}],"disallowed_tools":["-p"]})"),
         {exact(400, openai_error("disallowed_tools[0]: " + kToolPattern, "disallowed_tools[0]"))},
         Then::open},
        {"chat: response_format of another type -> 400 naming it",
         chat_completion(
             R"({"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}})"),
         {exact(400, openai_error("response_format.type: 'response_format' type must be text, "
                                  "json_schema or json_object",
                                  "response_format.type"))},
         Then::open},
        {"chat: response_format json_schema without a schema -> 400 naming it",
         chat_completion(R"({"messages":[{"role":"user","content":"hi"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"a"}}})"),
         {has(400, {R"("param":"response_format.json_schema.schema")"})},
         Then::open},
        {"two unknown fields -> 422 naming both",
         execute(R"({"prompt":"x","agent":"a","temperature":0.5,"__proto__":{}})"),
         {has(422, {R"({"loc":["body","temperature"],)", R"({"loc":["body","__proto__"],)"})},
         Then::open},
        {"prompt of type number -> 422",
         execute(R"({"prompt":1,"agent":"a"})"),
         {exact(422, field_error("prompt", "must be a string", "type_error.str"))},
         Then::open},
        {"agent of type boolean -> 422",
         execute(R"({"prompt":"x","agent":true})"),
         {exact(422, field_error("agent", "must be a string", "type_error.str"))},
         Then::open},
        {"max_budget_usd as a string -> 422",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":"5"})"),
         {exact(422, field_error("max_budget_usd", "must be a number", "type_error.float"))},
         Then::open},
        {"timeout_seconds as a string -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":"30"})"),
         {exact(422, field_error("timeout_seconds", "must be an integer", "type_error.integer"))},
         Then::open},
        {"metadata as an array -> 422",
         execute(R"({"prompt":"x","agent":"a","metadata":[1]})"),
         {exact(422, field_error("metadata", "must be an object or null", "type_error.dict"))},
         Then::open},
        {"metadata as a string -> 422",
         execute(R"({"prompt":"x","agent":"a","metadata":"x"})"),
         {exact(422, field_error("metadata", "must be an object or null", "type_error.dict"))},
         Then::open},
        {"empty object -> 422 naming prompt and agent",
         execute("{}"),
         {exact(
             422,
             R"({"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"},)"
             R"({"loc":["body","agent"],"msg":"field required","type":"value_error.missing"}]})")},
         Then::open},
        {"empty prompt -> 422",
         execute(R"({"prompt":"","agent":"a"})"),
         {exact(422, field_error("prompt", "must not be empty"))},
         Then::open},
        // Boost.JSON reads 1e400 as infinity; the field check refuses it.
        {"max_budget_usd 1e400 -> 422 must be finite",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":1e400})"),
         {exact(422,
                field_error("max_budget_usd", "must be a finite number", "value_error.float"))},
         Then::open},
        {"timeout_seconds 1e400 -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":1e400})"),
         {exact(422, field_error("timeout_seconds", "must be an integer", "type_error.integer"))},
         Then::open},
        // A double beyond 2^53 is not taken as an integer ("must be an integer", not the range
        // message); either way it is a 422 naming the field.
        {"timeout_seconds 1e20 -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":1e20})"),
         {exact(422, field_error("timeout_seconds", "must be an integer", "type_error.integer"))},
         Then::open},
        {"timeout_seconds 2^64-1 -> 422 too large",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":18446744073709551615})"),
         {exact(422,
                field_error("timeout_seconds", "integer is too large", "value_error.integer"))},
         Then::open},
        {"timeout_seconds -1 -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":-1})"),
         {exact(422, field_error("timeout_seconds", "must be from 1 to 86400"))},
         Then::open},
        {"timeout_seconds 0 -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":0})"),
         {exact(422, field_error("timeout_seconds", "must be from 1 to 86400"))},
         Then::open},
        {"timeout_seconds 1.5 -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":1.5})"),
         {exact(422, field_error("timeout_seconds", "must be an integer", "type_error.integer"))},
         Then::open},
        {"timeout_seconds 86401 -> 422",
         execute(R"({"prompt":"x","agent":"a","timeout_seconds":86401})"),
         {exact(422, field_error("timeout_seconds", "must be from 1 to 86400"))},
         Then::open},
        {"max_budget_usd 0 -> 422",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":0})"),
         {exact(422, field_error("max_budget_usd", "must be greater than 0 and at most 100"))},
         Then::open},
        {"max_budget_usd -5 -> 422",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":-5})"),
         {exact(422, field_error("max_budget_usd", "must be greater than 0 and at most 100"))},
         Then::open},
        {"max_budget_usd 100.01 (over MAX_BUDGET_USD) -> 422",
         execute(R"({"prompt":"x","agent":"a","max_budget_usd":100.01})"),
         {exact(422, field_error("max_budget_usd", "must be greater than 0 and at most 100"))},
         Then::open},
        {"agent 'a;rm -rf /' -> 422",
         execute(R"({"prompt":"x","agent":"a;rm -rf /"})"),
         {exact(422, field_error("agent", kAgentChars))},
         Then::open},
        {"agent '$(id)' -> 422",
         execute(R"j({"prompt":"x","agent":"$(id)"})j"),
         {exact(422, field_error("agent", kAgentChars))},
         Then::open},
        {"agent '--help' (leading dash) -> 422",
         execute(R"({"prompt":"x","agent":"--help"})"),
         {exact(422, field_error("agent", "agent name must not start with '-'"))},
         Then::open},
        {"agent of 65 characters -> 422",
         execute(R"({"prompt":"x","agent":")" + std::string(65, 'a') + "\"}"),
         {exact(422, field_error("agent", "agent name must be at most 64 characters"))},
         Then::open},
        {"agent with a non-ASCII letter -> 422",
         execute(R"({"prompt":"x","agent":"ag\u00e9nt"})"),
         {exact(422, field_error("agent", kAgentChars))},
         Then::open},
        {"agent '../../etc/passwd' -> 422",
         execute(R"({"prompt":"x","agent":"../../etc/passwd"})"),
         {exact(422, field_error("agent", kAgentChars))},
         Then::open},
        {"agent with a newline -> 422",
         execute(R"({"prompt":"x","agent":"a\nb"})"),
         {exact(422, field_error("agent", kAgentChars))},
         Then::open},
        {"empty agent -> 422",
         execute(R"({"prompt":"x","agent":""})"),
         {exact(422, field_error("agent", "agent name must not be empty"))},
         Then::open},
        {"Idempotency-Key of 256 characters -> 422 naming the header",
         execute(R"({"prompt":"x","agent":"a"})",
                 "Idempotency-Key: " + std::string(256, 'k') + "\r\n"),
         {exact(422, field_error("Idempotency-Key", "must be 1 to 255 visible ASCII characters",
                                 "value_error", "header"))},
         Then::open},
        {"Idempotency-Key with a space -> 422 naming the header",
         execute(R"({"prompt":"x","agent":"a"})", "Idempotency-Key: a b\r\n"),
         {exact(422, field_error("Idempotency-Key", "must be 1 to 255 visible ASCII characters",
                                 "value_error", "header"))},
         Then::open},

        // ---------------- GET /jobs query parameters ----------------
        {"limit=-1 -> 422",
         get("/jobs?limit=-1"),
         {exact(422, field_error("limit", kLimitRange, "value_error", "query"))},
         Then::open},
        {"limit=99999999999999999999 -> 422",
         get("/jobs?limit=99999999999999999999"),
         {exact(422, field_error("limit", kLimitRange, "value_error", "query"))},
         Then::open},
        {"limit=0 -> 422",
         get("/jobs?limit=0"),
         {exact(422, field_error("limit", kLimitRange, "value_error", "query"))},
         Then::open},
        {"limit=201 -> 422",
         get("/jobs?limit=201"),
         {exact(422, field_error("limit", kLimitRange, "value_error", "query"))},
         Then::open},
        {"limit=1e2 -> 422",
         get("/jobs?limit=1e2"),
         {exact(422, field_error("limit", kLimitRange, "value_error", "query"))},
         Then::open},
        {"limit= (empty) -> 422",
         get("/jobs?limit="),
         {exact(422, field_error("limit", kLimitRange, "value_error", "query"))},
         Then::open},
        {"cursor=abc -> 422",
         get("/jobs?cursor=abc"),
         {exact(422, field_error("cursor", "must be an integer from 1 to 9223372036854775807",
                                 "value_error", "query"))},
         Then::open},
        {"status=' OR 1=1 -> 422",
         get("/jobs?status=%27%20OR%201%3D1"),
         {exact(422, field_error("status",
                                 "must be one of queued, running, completed, failed, timeout, "
                                 "cancelled, error, interrupted",
                                 "value_error", "query"))},
         Then::open},
        // agent is a free-text filter bound as an SQL parameter: no match, no injection.
        {"agent=' OR 1=1-- -> 200 with no jobs (bound parameter)",
         get("/jobs?agent=%27%20OR%201%3D1--"),
         {exact(200, kNoJobs)},
         Then::open},
        {"agent='; DROP TABLE jobs;-- -> 200 with no jobs, and the table is still there",
         get("/jobs?agent=%27%3B%20DROP%20TABLE%20jobs%3B--"),
         {exact(200, kNoJobs)},
         Then::open},
        {"three bad query parameters -> one 422 naming all three",
         get("/jobs?limit=-1&cursor=x&status=nope"),
         {has(422, {R"({"loc":["query","status"],)", R"({"loc":["query","limit"],)",
                    R"({"loc":["query","cursor"],)"})},
         Then::open},

        // ---------------- chat completions (OpenAI errors, 400) ----------------
        {"chat: X-Session-Id that is not a session id -> 400 naming it",
         chat_completion(R"({"messages":[{"role":"user","content":"hi"}]})",
                         "X-Session-Id: ../../x\r\n"),
         {exact(400, openai_error("X-Session-Id must be a CLI session id (a lowercase UUID, as a "
                                  "response's X-Session-Id gives it)",
                                  "X-Session-Id"))},
         Then::open},
        {"chat: messages not an array -> 400",
         chat_completion(R"({"messages":"hi"})"),
         {exact(400, openai_error("'messages' must be a non-empty array", "messages"))},
         Then::open},
        {"chat: messages empty -> 400",
         chat_completion(R"({"messages":[]})"),
         {exact(400, openai_error("'messages' must be a non-empty array", "messages"))},
         Then::open},
        {"chat: unknown role -> 400",
         chat_completion(R"({"messages":[{"role":"hacker","content":"hi"}]})"),
         {exact(400, openai_error(
                         "messages[0].role must be one of system, developer, user, assistant, tool",
                         "messages[0].role"))},
         Then::open},
        {"chat: content part of type image_url -> 400 naming the type",
         chat_completion(
             R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]})"),
         {exact(400, openai_error("content part type 'image_url' is not supported (only 'text')",
                                  "messages[0].content[0].type"))},
         Then::open},
        {"chat: content of type number -> 400",
         chat_completion(R"({"messages":[{"role":"user","content":5}]})"),
         {exact(400, openai_error("messages[0].content must be a string or an array of parts",
                                  "messages[0].content"))},
         Then::open},
        {"chat: NUL in content -> 400",
         chat_completion(R"({"messages":[{"role":"user","content":"a\u0000b"}]})"),
         {exact(400,
                openai_error("messages[0].content must be valid UTF-8 text without NUL characters",
                             "messages[0].content"))},
         Then::open},
        {"chat: no user message -> 400",
         chat_completion(R"({"messages":[{"role":"system","content":"hi"}]})"),
         {exact(400,
                openai_error("'messages' must contain at least one user message", "messages"))},
         Then::open},
        {"chat: n=2 -> 400",
         chat_completion(R"({"n":2,"messages":)" + user_hi + "}"),
         {exact(400, openai_error("only n=1 is supported: an agent run produces one answer", "n"))},
         Then::open},
        {"chat: stream=\"yes\" -> 400",
         chat_completion(R"({"stream":"yes","messages":)" + user_hi + "}"),
         {exact(400, openai_error("'stream' must be a boolean", "stream"))},
         Then::open},
        {"chat: stream_options=1 -> 400",
         chat_completion(R"({"stream_options":1,"messages":)" + user_hi + "}"),
         {exact(400, openai_error("'stream_options' must be an object", "stream_options"))},
         Then::open},
        {"chat: model=123 -> 400",
         chat_completion(R"({"model":123,"messages":)" + user_hi + "}"),
         {exact(400, openai_error("'model' must be a string", "model"))},
         Then::open},
        {"chat: unsupported model -> 400 model_not_found with the supported list",
         chat_completion(R"({"model":"gpt-4o","messages":)" + user_hi + "}"),
         {also(has(400, {R"("message":"unsupported model 'gpt-4o'; supported: claude-haiku-4-5, )",
                         R"("param":"model","code":"model_not_found")"}),
               [](const HttpReply& r) {
                   auto supported = json::parse(r.body).at("error").at("supported");
                   CHECK(supported ==
                         json::array{"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"});
               })},
         Then::open},
        {"chat: invalid JSON -> 400 in OpenAI's shape",
         chat_completion("{\"messages\":"),
         {exact(400,
                openai_error("Request body is not valid JSON: incomplete JSON", std::nullopt))},
         Then::open},
        {"chat: JSON array -> 400 in OpenAI's shape",
         chat_completion("[]"),
         {exact(400, openai_error("Request body must be a JSON object", std::nullopt))},
         Then::open},
    };
}

// ---- known bugs: the correct answers, which the service does not give yet ----

std::int64_t proc_status_kib(int pid, std::string_view field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(field)) return std::stoll(line.substr(field.size() + 1));
    }
    return -1;
}

// Streams 32 MiB after `prefix` with no line end: framing bytes that are neither header nor
// body. The server must refuse them once past its limits, not buffer them until the read
// timeout (anonymous clients can do this on GET /health, 512 connections at a time).
std::function<void(int)> unbounded_framing(const Fixture& f, std::string prefix) {
    return
        [&f, prefix = std::move(prefix)](int port) {
            const int pid = f.service->pid();
            {
                std::ofstream reset("/proc/" + std::to_string(pid) + "/clear_refs");
                reset << "5";  // resets VmHWM to the current RSS
            }
            auto before = proc_status_kib(pid, "VmRSS:");
            Connection conn(port, 5s);
            auto start = Clock::now();
            conn.send(prefix);
            conn.send(std::string(32U << 20U, 'a'));  // fails early once the server closes
            auto reply = conn.read_reply();
            auto answered = Clock::now() - start;
            auto peak = proc_status_kib(pid, "VmHWM:");
            INFO("peak RSS grew by "
                 << (peak - before) / 1024 << " MiB; reply " << reply.status << " after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(answered).count()
                 << " ms");
            CHECK(peak - before < 8 * 1024);
            // Refused (400 or 413, or a reset that ate the answer) well before the read
            // timeout, which is what ends it today.
            CHECK((reply.status == 400 || reply.status == 413 || reply.status == 0));
            CHECK(answered < kReadTimeout - 200ms);
        };
}

std::vector<Entry> known_bugs(const Fixture& f) {
    return {
        // RFC 9112 6.3 (4): Transfer-Encoding without chunked last → 400, then close. Beast
        // treats the body as empty, so the body is parsed as a second request and answered.
        {"BUG Transfer-Encoding 'chunked, gzip' (chunked not last) -> 400 and close, "
         "the body is never a request",
         "GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + kSmuggled,
         {has(400, {"\"detail\""})},
         Then::closed},
        {"BUG Transfer-Encoding: gzip on /execute -> 400 and close, the body is never a request",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer + "Transfer-Encoding: gzip\r\n\r\n" +
             kSmuggled,
         {has(400, {"\"detail\""})},
         Then::closed},
        // RFC 9112 6.1: with Transfer-Encoding and Content-Length the server MUST close after
        // answering; 6.3 (4): gzip without chunked is 400.
        {"BUG Transfer-Encoding: gzip then Content-Length -> 400 and close",
         "POST /execute HTTP/1.1\r\nHost: x\r\n" + kBearer +
             "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}" + kSmuggled,
         {has(400, {"\"detail\""})},
         Then::closed},
        {"BUG endless chunk extension on anonymous GET /health -> refused, memory bounded",
         {},
         {},
         Then::any,
         unbounded_framing(
             f, "GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;")},
        {"BUG endless trailer section on anonymous GET /health -> refused, memory bounded",
         {},
         {},
         Then::any,
         unbounded_framing(
             f, "GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ")},
        // Every reply must be valid JSON, so valid UTF-8 (check_reply_invariants): the
        // percent-decoded id is echoed raw.
        {"BUG /v1/models/%FF%FE -> 404 model_not_found with a valid UTF-8 body",
         get("/v1/models/%FF%FE"),
         {has(404, {R"("code":"model_not_found")"})},
         Then::open},
        // The request log line repeats the raw target: it must still be valid UTF-8 JSON.
        {"BUG raw 0xFF byte in the request target -> 400, and the log line is valid JSON",
         {},
         {},
         Then::any,
         [&f](int port) {
             Connection conn(port, 5s);
             conn.send("GET /health\xff HTTP/1.1\r\nHost: x\r\n\r\n");
             check_reply(conn.read_reply(), exact(400, detail("Malformed request target")));
             check_still_healthy(port);
             std::istringstream log(settled_log(f));
             std::string line;
             while (std::getline(log, line)) {
                 boost::system::error_code ec;
                 json::parse(line, ec);
                 INFO("log line: " << line);
                 CHECK_FALSE(ec);
             }
         }},
    };
}

}  // namespace

TEST_CASE("bad input: a catalogue of malformed and hostile requests, each answered exactly") {
    Fixture f(kEnv);
    auto entries = catalogue();
    CHECK(entries.size() >= 35);
    auto started = Clock::now();
    run_catalogue(f, entries);
    WARN(entries.size()
         << " catalogue entries in "
         << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
         << " ms");

    // Nothing in the catalogue may have started a run or reached the 500 boundary.
    auto jobs = request(f.port(), "GET", "/jobs", "", kAuth);
    CHECK(jobs.status == 200);
    CHECK(jobs.body == kNoJobs);
    CHECK(f.record.read("argv").empty());
    auto log = settled_log(f);
    CHECK(log.find("\"status\":500") == std::string::npos);
    CHECK(log.find("handler failed") == std::string::npos);
    CHECK(log.find("session failed") == std::string::npos);
    CHECK(log.find("test-token") == std::string::npos);
    std::istringstream lines(log);  // one JSON object per line, whatever the requests held
    for (std::string line; std::getline(lines, line);) {
        boost::system::error_code ec;
        json::parse(line, ec);
        INFO("log line: " << line);
        CHECK_FALSE(ec);
    }
}

TEST_CASE("bad input: found by this catalogue, fixed, kept as regressions") {
    Fixture f(kEnv);
    run_catalogue(f, known_bugs(f));
}
