/* probe: report what the sandbox shows an app, to check that it is deterministic.
 *
 * Writes to $IEXEC_OUT/result.txt: the arguments, the IEXEC_* environment, the wall and
 * monotonic clocks (before and after sleep(3600), which the runtime serves from a virtual
 * clock without sleeping), 32 bytes of getentropy(), and whether files outside the
 * preopened directories can be opened, whether /iexec_in can be written, the listing of
 * /iexec_in and its timestamps. Under dexec every run of the same task writes the
 * same bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void try_open(FILE *out, const char *path) {
    errno = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        fprintf(out, "open %s: OPENED\n", path);
        fclose(f);
    } else {
        fprintf(out, "open %s: refused (%s)\n", path, strerror(errno));
    }
}

int main(int argc, char **argv) {
    const char *dir = getenv("IEXEC_OUT");
    if (!dir || !*dir) dir = "/iexec_out";
    char path[4096];
    snprintf(path, sizeof path, "%s/result.txt", dir);
    FILE *out = fopen(path, "w");
    if (!out) {
        perror(path);
        return 2;
    }

    for (int i = 0; i < argc; i++) fprintf(out, "argv[%d] = %s\n", i, argv[i]);

    size_t n = 0;
    while (environ[n]) n++;
    char **env = malloc((n ? n : 1) * sizeof *env);
    if (!env) return 2;
    memcpy(env, environ, n * sizeof *env);
    qsort(env, n, sizeof *env, cmp);
    for (size_t i = 0; i < n; i++) fprintf(out, "env %s\n", env[i]);

    struct timespec wall, mono, wall2, mono2;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    sleep(3600);
    clock_gettime(CLOCK_REALTIME, &wall2);
    clock_gettime(CLOCK_MONOTONIC, &mono2);
    fprintf(out, "wall %lld.%09ld\nmonotonic %lld.%09ld\n", (long long)wall.tv_sec, wall.tv_nsec,
            (long long)mono.tv_sec, mono.tv_nsec);
    fprintf(out, "after sleep(3600): wall %lld.%09ld monotonic %lld.%09ld\n", (long long)wall2.tv_sec,
            wall2.tv_nsec, (long long)mono2.tv_sec, mono2.tv_nsec);

    unsigned char random[32];
    if (getentropy(random, sizeof random) != 0) {
        perror("getentropy");
        return 2;
    }
    fprintf(out, "random ");
    for (size_t i = 0; i < sizeof random; i++) fprintf(out, "%02x", random[i]);
    fprintf(out, "\n");

    try_open(out, "/etc/passwd");
    try_open(out, "/iexec_in/../etc/passwd");
    try_open(out, "/iexec_out/../../etc/passwd");

    /* directory order and file times are the host's unless the runtime fixes them */
    DIR *listing = opendir("/iexec_in");
    fprintf(out, "ls /iexec_in:");
    if (listing) {
        struct dirent *entry;
        while ((entry = readdir(listing)) != NULL) fprintf(out, " %s", entry->d_name);
        closedir(listing);
    }
    fprintf(out, "\n");
    struct stat st;
    if (stat("/iexec_in", &st) == 0)
        fprintf(out, "mtime /iexec_in: %lld ctime %lld atime %lld\n", (long long)st.st_mtim.tv_sec,
                (long long)st.st_ctim.tv_sec, (long long)st.st_atim.tv_sec);

    errno = 0;
    FILE *in = fopen("/iexec_in/written-by-probe", "w");
    fprintf(out, "write /iexec_in: %s\n", in ? "WRITTEN" : "refused");
    if (in) fclose(in);

    if (fclose(out) != 0) return 2;

    snprintf(path, sizeof path, "%s/computed.json", dir);
    FILE *computed = fopen(path, "w");
    if (!computed) return 2;
    fputs("{\"deterministic-output-path\":\"/iexec_out/result.txt\"}\n", computed);
    if (fclose(computed) != 0) return 2;
    return 0;
}
