/* A fast stand-in for the Claude Code CLI, for bench/run.sh: its own run time is small and
 * measurable (hyperfine), so a service's round trip minus this is the service's overhead.
 *
 * Reads stdin to EOF (our service sends the prompt there; the reference app passes it as the
 * last argument and leaves stdin alone, so run the reference with stdin at /dev/null), then
 * prints what the real CLI prints: for `--output-format json` one result object, for
 * `stream-json` the init line, a message_start, the text in 8-byte deltas, a message_delta
 * and the result line (the shapes of tests/fixtures/fake-claude). Exit code 0.
 *
 * A directive `BENCH:bytes=N` in the prompt (stdin or any argument) first prints N bytes of
 * filler as lines of BENCH_LINE bytes (default 16384, newline included), for output-size runs.
 * Build: cc -O2 -o fake-claude bench/fake_claude.c */
#include <errno.h>
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

static const char* kResult =
    "{\"type\": \"result\", \"subtype\": \"success\", \"is_error\": false, \"duration_ms\": 12, "
    "\"num_turns\": 1, \"result\": \"fake reply: bench\", \"stop_reason\": \"end_turn\", "
    "\"session_id\": \"00000000-fake-4000-8000-000000000000\", \"total_cost_usd\": 0.0123, "
    "\"usage\": {\"input_tokens\": 11, \"cache_creation_input_tokens\": 5, "
    "\"cache_read_input_tokens\": 7, \"output_tokens\": 13}}\n";

int main(int argc, char** argv) {
    const char* format = "text";
    long long bytes = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--version") == 0) {
            write_str("0.0.0 (bench fake Claude Code)\n");
            return 0;
        }
        if (strcmp(argv[i], "--output-format") == 0 && i + 1 < argc) format = argv[i + 1];
        long long b = directive_bytes(argv[i]);
        if (b > 0) bytes = b;
    }
    /* The prompt: read to EOF. */
    size_t cap = 1 << 16, len = 0;
    char* prompt = malloc(cap + 1);
    if (!prompt) return 1;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            prompt = realloc(prompt, cap + 1);
            if (!prompt) return 1;
        }
        ssize_t r = read(0, prompt + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    prompt[len] = '\0';
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
            "{\"type\": \"stream_event\", \"parent_tool_use_id\": null, \"event\": {\"type\": "
            "\"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\"}}}\n");
    } else if (strcmp(format, "json") != 0) {
        write_str("fake reply: bench\n");
        return 0;
    }
    write_str(kResult);
    return 0;
}
