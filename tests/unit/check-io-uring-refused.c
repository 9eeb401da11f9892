/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs a unit test program as on a kernel that refuses io_uring (its
 * io_uring_setup() fails with EPERM, as under kernel.io_uring_disabled=2
 * or a container's seccomp policy) and checks how the program copes:
 *
 *   check-io-uring-refused skip PROGRAM
 *       with QEMU_FDMON=io_uring the whole program must be reported
 *       skipped, with the reason (TAP plan "1..0 # SKIP io_uring
 *       refused ..."), exit status 0 and no test run;
 *   check-io-uring-refused pass PROGRAM
 *       the program must pass, skipping at least one case for that
 *       reason and failing none.
 *
 * Exit status 0 when it does, 1 when it does not, 77 (skipped) when this
 * host cannot install the seccomp filter that plays the kernel's part.
 */
#include "qemu/osdep.h"
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define REASON "# SKIP io_uring refused by this kernel"

/* From now on, io_uring_setup() fails with EPERM here and in children. */
static bool refuse_io_uring(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {
        .len = G_N_ELEMENTS(filter),
        .filter = filter,
    };

    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

int main(int argc, char **argv)
{
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;
    char *child_argv[3];
    bool skip_mode;
    int status;
    bool ok;

    if (argc != 3 || (strcmp(argv[1], "skip") && strcmp(argv[1], "pass"))) {
        fprintf(stderr, "usage: %s skip|pass PROGRAM\n", argv[0]);
        return 2;
    }
    skip_mode = !strcmp(argv[1], "skip");
    if (!refuse_io_uring()) {
        printf("cannot install a seccomp filter here: %s\n",
               strerror(errno));
        return 77;
    }
    if (skip_mode) {
        g_setenv("QEMU_FDMON", "io_uring", TRUE);
    }
    child_argv[0] = argv[2];
    child_argv[1] = (char *)"--tap";
    child_argv[2] = NULL;
    if (!g_spawn_sync(NULL, child_argv, NULL, (GSpawnFlags)0, NULL, NULL,
                      &out, NULL, &status, &err)) {
        printf("cannot run %s: %s\n", argv[2], err->message);
        return 1;
    }
    /*
     * The child's skips are what this check expects, not skips of its own:
     * quote its output so that no test runner counts them.
     */
    {
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

        for (char **l = lines; *l; l++) {
            if (**l) {
                printf("child: %s\n", *l);
            }
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL: %s did not exit with status 0\n", argv[2]);
        return 1;
    }
    if (skip_mode) {
        ok = strstr(out, "1..0 " REASON) && !strstr(out, "\nok ");
    } else {
        ok = strstr(out, REASON) && !strstr(out, "not ok");
    }
    if (!ok) {
        printf("FAIL: %s\n", skip_mode ?
               "the program was not reported skipped for the refusal" :
               "no case skipped for the refusal, or one failed");
        return 1;
    }
    return 0;
}
