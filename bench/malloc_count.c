/* Heap calls counted, for bench/profile.sh: LD_PRELOAD it into the service, send SIGUSR2 before
 * and after a load, and the difference over the requests served is allocations per request.
 * On SIGUSR2 (and at exit) it appends one line to $MALLOC_COUNT_FILE (default
 * /tmp/malloc_count.txt): "mallocs=N frees=N reallocs=N bytes=N".
 * operator new/delete in libstdc++ call malloc/free, so C++ allocations are counted too.
 * Build: cc -O2 -shared -fPIC -o malloc_count.so bench/malloc_count.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void __libc_free(void*);
extern void* __libc_memalign(size_t, size_t);

static atomic_ulong n_malloc, n_free, n_realloc, n_bytes;

void* malloc(size_t n) {
    atomic_fetch_add_explicit(&n_malloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, n, memory_order_relaxed);
    return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
    atomic_fetch_add_explicit(&n_malloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, a * b, memory_order_relaxed);
    return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
    atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, n, memory_order_relaxed);
    return __libc_realloc(p, n);
}
void free(void* p) {
    if (p) atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    __libc_free(p);
}
void* memalign(size_t a, size_t n) {
    atomic_fetch_add_explicit(&n_malloc, 1, memory_order_relaxed);
    return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
    void* p = memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

static char* put(char* at, const char* label, unsigned long v) {
    size_t l = strlen(label);
    memcpy(at, label, l);
    at += l;
    char digits[24];
    int k = 0;
    do { digits[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (k) *at++ = digits[--k];
    return at;
}

static void report(void) {
    char line[160], *at = line;
    at = put(at, "mallocs=", atomic_load(&n_malloc));
    at = put(at, " frees=", atomic_load(&n_free));
    at = put(at, " reallocs=", atomic_load(&n_realloc));
    at = put(at, " bytes=", atomic_load(&n_bytes));
    *at++ = '\n';
    const char* path = getenv("MALLOC_COUNT_FILE");
    int fd = open(path ? path : "/tmp/malloc_count.txt", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        (void)!write(fd, line, (size_t)(at - line));
        close(fd);
    }
}

static void on_usr2(int sig) {
    (void)sig;
    report();
}

__attribute__((constructor)) static void init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
}

__attribute__((destructor)) static void fini(void) { report(); }
