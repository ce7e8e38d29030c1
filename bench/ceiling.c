/* ceiling.c: the machine's process-spawn ceiling, to measure runners against.
 *
 *   ceiling [-a] [-c] N K PROGRAM [ARGS...]
 *
 * Runs PROGRAM N times with posix_spawn, keeping K children in flight, and reaps each with
 * waitpid. With -a the task index is appended as a last argument (`true 17`), as the runners
 * get it from their input. With -c each child's stdout goes to its own pipe (1 MiB, as
 * batchrun's at -j 4), read (poll over all of them) into a buffer kept per slot, and written out
 * whole when the child exits: the cost of grouped output. No shell, no parsing, no bookkeeping beyond that. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct slot { pid_t pid; int fd; char *buf; size_t len, cap; };

/* Reads what the slot's pipe holds; returns 0 at its end. */
static int drain(struct slot *s) {
    if (s->cap - s->len < 65536) {
        s->cap = s->cap ? s->cap * 2 : 1 << 20;
        s->buf = realloc(s->buf, s->cap);
    }
    ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
    if (n <= 0) return 0;
    s->len += (size_t)n;
    return 1;
}

int main(int argc, char **argv) {
    int capture = 0, append = 0, a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (strcmp(argv[a], "-c") == 0) capture = 1;
        else if (strcmp(argv[a], "-a") == 0) append = 1;
        else break;
    }
    if (argc - a < 3) { fprintf(stderr, "usage: ceiling [-a] [-c] N K PROGRAM [ARGS...]\n"); return 2; }
    long n = atol(argv[a]), k = atol(argv[a + 1]);
    int nargs = argc - (a + 2);
    char **args = calloc((size_t)nargs + 2, sizeof *args);
    for (int i = 0; i < nargs; i++) args[i] = argv[a + 2 + i];
    char index[32];
    args[nargs] = append ? index : NULL;
    struct slot *slots = calloc((size_t)k, sizeof *slots);
    long started = 0, running = 0, failed = 0;
    while (started < n || running > 0) {
        while (running < k && started < n) {
            long s = 0;
            while (s < k && slots[s].pid) s++;
            if (s == k) return 1;
            snprintf(index, sizeof index, "%ld", started + 1);
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            int fds[2] = {-1, -1};
            if (capture) {
                if (pipe(fds) != 0) return 1;
                fcntl(fds[0], F_SETPIPE_SZ, 1 << 20); /* as batchrun asks, best effort */
                posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
                posix_spawn_file_actions_addclose(&fa, fds[0]);
                posix_spawn_file_actions_addclose(&fa, fds[1]);
            }
            if (posix_spawnp(&slots[s].pid, args[0], &fa, NULL, args, environ) != 0) return 1;
            posix_spawn_file_actions_destroy(&fa);
            if (capture) { close(fds[1]); slots[s].fd = fds[0]; slots[s].len = 0; }
            started++;
            running++;
        }
        int status;
        pid_t pid;
        if (capture) {
            /* Read every pipe as data comes; a child whose pipe ends is reaped and printed. */
            struct pollfd *pfds = calloc((size_t)k, sizeof *pfds);
            long ended = -1;
            while (ended < 0) {
                for (long s = 0; s < k; s++) { pfds[s].fd = slots[s].pid ? slots[s].fd : -1; pfds[s].events = POLLIN; }
                if (poll(pfds, (nfds_t)k, -1) < 0) return 1;
                for (long s = 0; s < k && ended < 0; s++)
                    if (pfds[s].revents && !drain(&slots[s])) ended = s;
            }
            free(pfds);
            close(slots[ended].fd);
            pid = waitpid(slots[ended].pid, &status, 0);
            fwrite(slots[ended].buf, 1, slots[ended].len, stdout);
            fflush(stdout);
            slots[ended].len = 0;
        } else {
            pid = waitpid(-1, &status, 0);
        }
        if (pid < 0) return 1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
        for (long s = 0; s < k; s++) if (slots[s].pid == pid) slots[s].pid = 0;
        running--;
    }
    fflush(stdout);
    return failed ? 1 : 0;
}
