// Interleaved timing of commands: round r runs command 1, 2, …, n once each, so that a host whose
// speed drifts during the measurement slows every command alike (hyperfine runs all of one
// command's runs before the next's). Each run is timed from posix_spawn to waitpid (stdout to
// /dev/null, stderr kept); a failing run stops everything with its exit status. Measures, never
// asserts a time.
//
//   interleave ROUNDS WARMUP ::: NAME CMD ARGS… [::: NAME CMD ARGS…]…
//
// Prints, per command: median, mean, p10, p90 (ms) and the median's ratio to the last command's.
// Built and run by bench/runtime.sh (`cc -O2 -o interleave interleave.c`).
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define MAX_CMDS 16

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 6 || strcmp(argv[3], ":::")) {
    fprintf(stderr, "usage: %s ROUNDS WARMUP ::: NAME CMD ARGS… [::: NAME CMD ARGS…]…\n", argv[0]);
    return 2;
  }
  int rounds = atoi(argv[1]), warmup = atoi(argv[2]), n = 0;
  if (rounds < 1 || warmup < 0) {
    fprintf(stderr, "interleave: bad ROUNDS or WARMUP\n");
    return 2;
  }
  const char *names[MAX_CMDS];
  char **cmds[MAX_CMDS];
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], ":::")) continue;
    argv[i] = NULL;  // ends the previous command's argv
    if (n == MAX_CMDS || i + 2 >= argc || !strcmp(argv[i + 1], ":::") || !strcmp(argv[i + 2], ":::")) {
      fprintf(stderr, "interleave: each ::: needs a NAME and a command (at most %d)\n", MAX_CMDS);
      return 2;
    }
    names[n] = argv[i + 1];
    cmds[n++] = &argv[i + 2];
  }
  double *t = calloc((size_t)n * (size_t)rounds, sizeof(double));
  if (!t) return 1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  for (int r = -warmup; r < rounds; r++) {
    for (int c = 0; c < n; c++) {
      pid_t pid;
      int st;
      double a = now_ms();
      int e = posix_spawn(&pid, cmds[c][0], &fa, NULL, cmds[c], environ);
      if (e) {
        fprintf(stderr, "interleave: %s: cannot start %s: %s\n", names[c], cmds[c][0], strerror(e));
        return 1;
      }
      if (waitpid(pid, &st, 0) < 0) {
        perror("interleave: waitpid");
        return 1;
      }
      double b = now_ms();
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "interleave: %s failed (wait status %d)\n", names[c], st);
        return 1;
      }
      if (r >= 0) t[(size_t)c * rounds + r] = b - a;
    }
  }
  double medians[MAX_CMDS];
  for (int c = 0; c < n; c++) {
    double *x = &t[(size_t)c * rounds];
    qsort(x, rounds, sizeof(double), cmp_double);
    medians[c] = x[rounds / 2];
  }
  printf("| command | median | mean | p10 | p90 | median / %s |\n|:---|---:|---:|---:|---:|---:|\n",
         names[n - 1]);
  for (int c = 0; c < n; c++) {
    double *x = &t[(size_t)c * rounds], s = 0;
    for (int i = 0; i < rounds; i++) s += x[i];
    printf("| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f |\n", names[c], medians[c], s / rounds,
           x[rounds / 10], x[rounds * 9 / 10], medians[c] / medians[n - 1]);
  }
  return 0;
}
