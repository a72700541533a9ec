/* A fast stand-in for the Claude Code CLI, for bench/run.sh: its own run time is small and
 * measurable (hyperfine), so a service's round trip minus this is the service's overhead.
 *
 * Reads stdin to EOF, however long it takes to come (our service may start the CLI ahead and
 * send the prompt later; the reference app passes it as the last argument and leaves stdin
 * alone, so run the reference with stdin at /dev/null), then prints what the real CLI prints:
 * for `--output-format json` one result object, for `stream-json` the init line, a
 * message_start, the text in 8-byte deltas, an assistant message, a message_delta and the
 * result line (the shapes of tests/fixtures/fake-claude). Exit code 0.
 *
 * Input: without `--input-format` (or with `text`) the prompt is stdin as it is. With
 * `--input-format stream-json`, stdin is JSON lines as the real CLI reads them: each non-blank
 * line must be one JSON object (checked in full); the prompt is the content of the
 * {"type":"user","message":{"content":...}} lines, joined with "\n": a string (escapes
 * \" \\ \/ \b \f \n \r \t \uXXXX decoded to UTF-8, surrogate pairs joined, a lone surrogate
 * becomes U+FFFD; other bytes are kept as they are) or a list of content blocks whose
 * {"type":"text","text":...} texts are concatenated; other line types are ignored. A line that
 * is not a JSON object, or a user line whose content is neither, prints "Error: ..." on stderr
 * and exits 1; so does EOF without a user line ("Error: No messages provided"). A control
 * request line ({"type":"control_request","request_id":ID,...}) is answered as it arrives with a
 * success control_response for ID and an empty body (the service's initialize request).
 *
 * A directive `BENCH:bytes=N` in the prompt (the decoded one with stream-json input) or in
 * any argument first prints N bytes of filler as lines of BENCH_LINE bytes (default 16384,
 * newline included), for output-size runs.
 * Build: cc -O2 -o fake-claude bench/fake_claude.c */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_all(const char* data, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            exit(141); /* EPIPE or worse: the reader is gone */
        }
        data += w;
        n -= (size_t)w;
    }
}

static void write_str(const char* s) { write_all(s, strlen(s)); }

static long long directive_bytes(const char* text) {
    const char* p = text ? strstr(text, "BENCH:bytes=") : NULL;
    return p ? atoll(p + 12) : 0;
}

static void filler(long long total) {
    if (total <= 0) return;
    long line = getenv("BENCH_LINE") ? atol(getenv("BENCH_LINE")) : 16384;
    if (line < 2) line = 2;
    const size_t chunk = 1 << 20;
    char* buf = malloc(chunk);
    if (!buf) exit(1);
    /* A chunk of whole lines (the last one may be cut; the next chunk carries on). */
    for (size_t i = 0; i < chunk; ++i) buf[i] = (i % (size_t)line == (size_t)line - 1) ? '\n' : 'x';
    long long done = 0;
    while (done < total) {
        size_t n = (size_t)((total - done) < (long long)chunk ? (total - done) : (long long)chunk);
        /* keep line phase: start each chunk where the previous ended */
        size_t phase = (size_t)(done % line);
        size_t avail = chunk - phase;
        if (n > avail) n = avail;
        write_all(buf + phase, n);
        done += (long long)n;
    }
    write_all("\n", 1);
    free(buf);
}

/* ---- stream-json input ------------------------------------------------------------------ */

/* A growable byte buffer, always NUL-terminated. */
typedef struct {
    char* data;
    size_t len, cap;
} Buf;

static void buf_put(Buf* b, const char* s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char* data = realloc(b->data, cap);
        if (!data) exit(1);
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_clear(Buf* b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

static int buf_is(const Buf* b, const char* s) {
    return b->data && b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

/* A parser over one line [p, end). On the first error it records a message and every
 * function returns 0 from then on. */
typedef struct {
    const char* p;
    const char* begin;
    const char* end;
    const char* error;
    size_t error_at;
} Parser;

enum { kMaxDepth = 512 };

static int fail(Parser* ps, const char* message) {
    if (!ps->error) {
        ps->error = message;
        ps->error_at = (size_t)(ps->p - ps->begin);
    }
    return 0;
}

static void skip_ws(Parser* ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ++ps->p;
}

static int literal(Parser* ps, const char* word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "invalid literal");
    ps->p += n;
    return 1;
}

static int hex4(Parser* ps, unsigned* out) {
    if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        char c = ps->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(ps, "invalid \\u escape");
    }
    ps->p += 4;
    *out = v;
    return 1;
}

static void put_utf8(Buf* out, unsigned cp) {
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xC0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xE0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        s[0] = (char)(0xF0 | (cp >> 18));
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_put(out, s, n);
}

/* A string at ps->p (the opening quote); decoded into `out` unless it is NULL. */
static int parse_string(Parser* ps, Buf* out) {
    if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string");
    ++ps->p;
    for (;;) {
        const char* run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20)
            ++ps->p;
        if (out && ps->p > run) buf_put(out, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end) return fail(ps, "unterminated string");
        char c = *ps->p;
        if (c == '"') {
            ++ps->p;
            return 1;
        }
        if (c != '\\') return fail(ps, "control character in a string");
        ++ps->p;
        if (ps->p >= ps->end) return fail(ps, "unterminated string");
        char e = *ps->p++;
        char one;
        switch (e) {
            case '"': one = '"'; break;
            case '\\': one = '\\'; break;
            case '/': one = '/'; break;
            case 'b': one = '\b'; break;
            case 'f': one = '\f'; break;
            case 'n': one = '\n'; break;
            case 'r': one = '\r'; break;
            case 't': one = '\t'; break;
            case 'u': {
                unsigned cp;
                if (!hex4(ps, &cp)) return 0;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    /* A high surrogate: joined with a following \uDC00-\uDFFF. */
                    unsigned low;
                    if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                        const char* save = ps->p;
                        ps->p += 2;
                        if (!hex4(ps, &low)) return 0;
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            cp = 0xFFFD;
                            ps->p = save; /* the next escape stands on its own */
                        }
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD; /* a lone low surrogate */
                }
                if (out) put_utf8(out, cp);
                continue;
            }
            default: return fail(ps, "invalid escape in a string");
        }
        if (out) buf_put(out, &one, 1);
    }
}

static int parse_number(Parser* ps) {
    const char* p = ps->p;
    if (p < ps->end && *p == '-') ++p;
    if (p >= ps->end) return fail(ps, "invalid number");
    if (*p == '0') {
        ++p;
    } else if (*p >= '1' && *p <= '9') {
        while (p < ps->end && *p >= '0' && *p <= '9') ++p;
    } else {
        return fail(ps, "invalid number");
    }
    if (p < ps->end && *p == '.') {
        ++p;
        if (p >= ps->end || *p < '0' || *p > '9') return fail(ps, "invalid number");
        while (p < ps->end && *p >= '0' && *p <= '9') ++p;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p < ps->end && (*p == '+' || *p == '-')) ++p;
        if (p >= ps->end || *p < '0' || *p > '9') return fail(ps, "invalid number");
        while (p < ps->end && *p >= '0' && *p <= '9') ++p;
    }
    ps->p = p;
    return 1;
}

/* What to keep of an object while parsing it (NULL fields: keep nothing). */
typedef struct Keep Keep;
static int parse_value(Parser* ps, int depth, Keep* keep);

/* The objects the prompt is found in: a line, its message, a content block. */
enum Kind { kLine, kMessage, kBlock };
struct Keep {
    enum Kind kind;
    Buf type;        /* kLine, kBlock: the "type" string */
    Buf text;        /* kMessage: the content's text; kBlock: the "text" string */
    int has_content; /* kLine: message.content was a string or an array */
    int text_is_str; /* kBlock: "text" was a string */
};

static void keep_free(Keep* k) {
    free(k->type.data);
    free(k->text.data);
}

/* message.content as an array: the text blocks' texts are appended to `out`. */
static int parse_content_array(Parser* ps, int depth, Buf* out) {
    ++ps->p; /* '[' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ++ps->p;
        return 1;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '{') {
            Keep block = {.kind = kBlock};
            int ok = parse_value(ps, depth + 1, &block);
            if (ok && buf_is(&block.type, "text") && block.text_is_str)
                buf_put(out, block.text.data ? block.text.data : "", block.text.len);
            keep_free(&block);
            if (!ok) return 0;
        } else if (!parse_value(ps, depth + 1, NULL)) {
            return 0;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ++ps->p;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ++ps->p;
            return 1;
        }
        return fail(ps, "expected ',' or ']'");
    }
}

static int parse_object(Parser* ps, int depth, Keep* keep) {
    ++ps->p; /* '{' */
    Buf key = {0};
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ++ps->p;
        return 1;
    }
    for (;;) {
        skip_ws(ps);
        buf_clear(&key);
        if (!parse_string(ps, &key)) break;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, "expected ':'");
            break;
        }
        ++ps->p;
        skip_ws(ps);
        int ok;
        int is_str = ps->p < ps->end && *ps->p == '"';
        if (keep && keep->kind != kMessage && buf_is(&key, "type") && is_str) {
            buf_clear(&keep->type);
            ok = parse_string(ps, &keep->type);
        } else if (keep && keep->kind == kBlock && buf_is(&key, "text") && is_str) {
            buf_clear(&keep->text);
            keep->text_is_str = 1;
            ok = parse_string(ps, &keep->text);
        } else if (keep && keep->kind == kLine && buf_is(&key, "message") && ps->p < ps->end &&
                   *ps->p == '{') {
            Keep message = {.kind = kMessage};
            ok = parse_value(ps, depth + 1, &message);
            buf_clear(&keep->text);
            keep->has_content = message.has_content;
            if (message.has_content)
                buf_put(&keep->text, message.text.data ? message.text.data : "", message.text.len);
            keep_free(&message);
        } else if (keep && keep->kind == kMessage && buf_is(&key, "content") && ps->p < ps->end &&
                   (*ps->p == '"' || *ps->p == '[')) {
            buf_clear(&keep->text);
            keep->has_content = 1;
            if (*ps->p == '"') {
                ok = parse_string(ps, &keep->text);
            } else if (depth + 1 > kMaxDepth) {
                ok = fail(ps, "nested too deep");
            } else {
                ok = parse_content_array(ps, depth + 1, &keep->text);
            }
        } else {
            /* A later duplicate key wins, as in JavaScript's JSON.parse. */
            if (keep && keep->kind == kMessage && buf_is(&key, "content")) keep->has_content = 0;
            if (keep && keep->kind == kLine && buf_is(&key, "message")) keep->has_content = 0;
            ok = parse_value(ps, depth + 1, NULL);
        }
        if (!ok) break;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ++ps->p;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ++ps->p;
            free(key.data);
            return 1;
        }
        fail(ps, "expected ',' or '}'");
        break;
    }
    free(key.data);
    return 0;
}

static int parse_value(Parser* ps, int depth, Keep* keep) {
    if (depth > kMaxDepth) return fail(ps, "nested too deep");
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, "unexpected end of line");
    switch (*ps->p) {
        case '{': return parse_object(ps, depth, keep);
        case '[': {
            ++ps->p;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ']') {
                ++ps->p;
                return 1;
            }
            for (;;) {
                if (!parse_value(ps, depth + 1, NULL)) return 0;
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                    ++ps->p;
                    continue;
                }
                if (ps->p < ps->end && *ps->p == ']') {
                    ++ps->p;
                    return 1;
                }
                return fail(ps, "expected ',' or ']'");
            }
        }
        case '"': return parse_string(ps, NULL);
        case 't': return literal(ps, "true");
        case 'f': return literal(ps, "false");
        case 'n': return literal(ps, "null");
        default: return parse_number(ps);
    }
}

static void die(const char* format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    fprintf(stderr, "Error: %s\n", message);
    exit(1);
}

/* Answers a control request line at once (the service asks one before the prompt). */
static void answer_control_request(const char* line, size_t len) {
    static const char kType[] = "\"control_request\"";
    static const char kId[] = "\"request_id\":\"";
    if (!memmem(line, len, kType, sizeof kType - 1)) return;
    const char* id = memmem(line, len, kId, sizeof kId - 1);
    if (!id) return;
    id += sizeof kId - 1;
    const char* id_end = memchr(id, '"', (size_t)(line + len - id));
    if (!id_end) return;
    printf("{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\","
           "\"request_id\":\"%.*s\",\"response\":{}}}\n",
           (int)(id_end - id), id);
    fflush(stdout);
}

/* The prompt from stream-json input, or exit 1 with a message on stderr. */
static char* decode_stream_json(const char* input, size_t len) {
    Buf prompt = {0};
    int messages = 0;
    size_t number = 0;
    const char* end = input + len;
    for (const char* line = input; line < end; ++number) {
        const char* eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) eol = end;
        Parser ps = {.p = line, .begin = line, .end = eol};
        skip_ws(&ps);
        if (ps.p < ps.end) {
            Keep keep = {.kind = kLine};
            if (*ps.p != '{') die("Invalid JSON on stdin line %zu: not a JSON object", number + 1);
            int ok = parse_value(&ps, 0, &keep);
            if (ok) {
                skip_ws(&ps);
                if (ps.p < ps.end) ok = fail(&ps, "unexpected text after the object");
            }
            if (!ok)
                die("Invalid JSON on stdin line %zu: %s at byte %zu", number + 1, ps.error,
                    ps.error_at + 1);
            if (buf_is(&keep.type, "user")) {
                if (!keep.has_content)
                    die("Invalid user message on stdin line %zu: message.content must be a "
                        "string or a list of content blocks",
                        number + 1);
                if (messages++ > 0) buf_put(&prompt, "\n", 1);
                buf_put(&prompt, keep.text.data ? keep.text.data : "", keep.text.len);
            }
            keep_free(&keep);
        }
        line = eol + 1;
    }
    if (messages == 0) die("No messages provided");
    if (!prompt.data) buf_put(&prompt, "", 0);
    return prompt.data;
}

/* ---- output ----------------------------------------------------------------------------- */

static const char* kResult =
    "{\"type\": \"result\", \"subtype\": \"success\", \"is_error\": false, \"duration_ms\": 12, "
    "\"num_turns\": 1, \"result\": \"fake reply: bench\", \"stop_reason\": \"end_turn\", "
    "\"session_id\": \"00000000-fake-4000-8000-000000000000\", \"total_cost_usd\": 0.0123, "
    "\"usage\": {\"input_tokens\": 11, \"cache_creation_input_tokens\": 5, "
    "\"cache_read_input_tokens\": 7, \"output_tokens\": 13}}\n";

int main(int argc, char** argv) {
    const char* format = "text";
    const char* input_format = "text";
    long long bytes = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--version") == 0) {
            write_str("0.0.0 (bench fake Claude Code)\n");
            return 0;
        }
        if (strcmp(argv[i], "--output-format") == 0 && i + 1 < argc) format = argv[i + 1];
        if (strcmp(argv[i], "--input-format") == 0 && i + 1 < argc) input_format = argv[i + 1];
        long long b = directive_bytes(argv[i]);
        if (b > 0) bytes = b;
    }
    /* stdin: read to EOF, however long it takes to come. */
    const int stream_json = strcmp(input_format, "stream-json") == 0;
    size_t cap = 1 << 16, len = 0, answered = 0; /* input[0, answered) scanned for requests */
    char* input = malloc(cap + 1);
    if (!input) return 1;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            input = realloc(input, cap + 1);
            if (!input) return 1;
        }
        ssize_t r = read(0, input + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
        for (const char* nl; stream_json && (nl = memchr(input + answered, '\n', len - answered));) {
            answer_control_request(input + answered, (size_t)(nl - (input + answered)));
            answered = (size_t)(nl - input) + 1;
        }
    }
    input[len] = '\0';
    char* prompt = input;
    if (stream_json) {
        prompt = decode_stream_json(input, len);
        free(input);
    }
    /* The prompt may hold NUL bytes (\u0000): the directive is looked for before the first. */
    long long b = directive_bytes(prompt);
    if (b > 0) bytes = b;
    free(prompt);

    filler(bytes);
    if (strcmp(format, "stream-json") == 0) {
        write_str(
            "{\"type\": \"system\", \"subtype\": \"init\", \"session_id\": "
            "\"00000000-fake-4000-8000-000000000000\"}\n"
            "{\"type\": \"stream_event\", \"parent_tool_use_id\": null, \"event\": {\"type\": "
            "\"message_start\", \"message\": {}}}\n"
            "{\"type\": \"stream_event\", \"parent_tool_use_id\": null, \"event\": {\"type\": "
            "\"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", "
            "\"text\": \"fake rep\"}}}\n"
            "{\"type\": \"stream_event\", \"parent_tool_use_id\": null, \"event\": {\"type\": "
            "\"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", "
            "\"text\": \"ly: benc\"}}}\n"
            "{\"type\": \"stream_event\", \"parent_tool_use_id\": null, \"event\": {\"type\": "
            "\"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", "
            "\"text\": \"h\"}}}\n"
            "{\"type\": \"assistant\", \"parent_tool_use_id\": null, \"session_id\": "
            "\"00000000-fake-4000-8000-000000000000\", \"message\": {\"id\": \"msg_fake\", "
            "\"type\": \"message\", \"role\": \"assistant\", \"model\": \"claude-fake-1\", "
            "\"content\": [{\"type\": \"text\", \"text\": \"fake reply: bench\"}], "
            "\"stop_reason\": null}}\n"
            "{\"type\": \"stream_event\", \"parent_tool_use_id\": null, \"event\": {\"type\": "
            "\"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\"}}}\n");
    } else if (strcmp(format, "json") != 0) {
        write_str("fake reply: bench\n");
        return 0;
    }
    write_str(kResult);
    return 0;
}
