/* Start-up time to the first answered GET /health, for bench/run.sh.
 *
 * Usage: startup_probe RUNS PORT [PATH] -- COMMAND [ARGS...]
 * RUNS times: fork+exec COMMAND (stdin /dev/null, stdout/stderr to /dev/null), then poll
 * 127.0.0.1:PORT every 200 us with `GET PATH HTTP/1.1` (default /health) until a response
 * starting "HTTP/1.1 200" arrives; the time from fork to that response is one sample.
 * Then SIGTERM (SIGKILL after 5 s) and wait, so the port is free for the next run.
 * Prints one JSON object: {"runs":N,"samples_ms":[...],"median_ms":...,"min_ms":...,"max_ms":...}.
 * Build: cc -O2 -o startup_probe bench/startup_probe.c */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int try_health(int port, const char* path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (connect(fd, (struct sockaddr*)&addr, sizeof addr) == 0) {
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
        struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (write(fd, req, (size_t)n) == n) {
            char buf[32] = {0};
            ssize_t got = 0;
            while (got < 12) {
                ssize_t r = read(fd, buf + got, sizeof buf - 1 - (size_t)got);
                if (r <= 0) break;
                got += r;
            }
            ok = got >= 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
        }
    }
    close(fd);
    return ok;
}

static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
    int sep = 0;
    for (int i = 1; i < argc; ++i)
        if (strcmp(argv[i], "--") == 0) { sep = i; break; }
    if (sep < 3 || sep + 1 >= argc) {
        fprintf(stderr, "usage: startup_probe RUNS PORT [PATH] -- COMMAND [ARGS...]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    int port = atoi(argv[2]);
    const char* path = sep > 3 ? argv[3] : "/health";
    double* samples = calloc((size_t)runs, sizeof(double));
    for (int r = 0; r < runs; ++r) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            execvp(argv[sep + 1], argv + sep + 1);
            _exit(127);
        }
        double elapsed = -1;
        while (now_ms() - t0 < 30000) {
            if (try_health(port, path)) {
                elapsed = now_ms() - t0;
                break;
            }
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                fprintf(stderr, "startup_probe: the command exited before answering\n");
                return 1;
            }
            usleep(200);
        }
        kill(pid, SIGTERM);
        double t_kill = now_ms();
        int status;
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (now_ms() - t_kill > 5000) kill(pid, SIGKILL);
            usleep(1000);
        }
        if (elapsed < 0) {
            fprintf(stderr, "startup_probe: no answer within 30 s\n");
            return 1;
        }
        samples[r] = elapsed;
        usleep(50000); /* let the port and the CPU settle */
    }
    printf("{\"runs\":%d,\"samples_ms\":[", runs);
    for (int r = 0; r < runs; ++r) printf("%s%.3f", r ? "," : "", samples[r]);
    qsort(samples, (size_t)runs, sizeof(double), cmp);
    printf("],\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f}\n", samples[runs / 2], samples[0],
           samples[runs - 1]);
    return 0;
}
