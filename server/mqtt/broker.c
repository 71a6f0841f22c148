#include "broker.h"

#include "util/deadline.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_SECONDS 10
#define STOP_TIMEOUT_SECONDS 5
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
/* A broker that ran this long before dying restarts at the first backoff again. */
#define STABLE_SECONDS 10

enum broker_state { BROKER_STARTING, BROKER_RUNNING, BROKER_FAILED, BROKER_STOPPED };

struct broker {
    char *mosquitto_path;
    char *conf_path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    enum broker_state state;
    int stopping;
    pid_t pid;
    unsigned restarts;
    char last_error[256];
};

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(const struct broker *b, int out_fd, pid_t parent)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the emulator blocks SIGTERM for sigwait */
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0); /* a Ctrl-C in the terminal is the emulator's to handle */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    /* Descriptors libraries opened without O_CLOEXEC stay ours (close_range needs Linux 5.9). */
    if (close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 4096; fd++)
            close(fd);
    }
    char *const argv[] = {"mosquitto", "-c", b->conf_path, NULL};
    execv(b->mosquitto_path, argv);
    _exit(127);
}

/* Returns the read end of the child's stdout and stderr, or -1 (also when broker_stop came
 * first). The fork happens under the lock, so broker_stop either sees the pid or stops it. */
static int spawn(struct broker *b)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    pthread_mutex_lock(&b->lock);
    pid_t pid = b->stopping ? -1 : fork();
    if (pid == 0)
        exec_child(b, fds[1], parent);
    b->pid = pid;
    pthread_mutex_unlock(&b->lock);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    return fds[0];
}

static void set_state(struct broker *b, enum broker_state s)
{
    pthread_mutex_lock(&b->lock);
    b->state = s;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}

/* mosquitto's lines go to the emulator's log: errors and warnings as such, the rest (connection
 * notices) at trace level. "running" means every listener is open. */
/* Warnings that describe choices the emulator made on purpose: `user root` (so the broker can
 * read the private state directory), and TCP_NODELAY on the hub's Unix socket. */
static int expected_warning(const char *line)
{
    return strstr(line, "should not be run as root") != NULL ||
           strstr(line, "Unable to set TCP_NODELAY") != NULL;
}

/* A connection mosquitto closed for what the client sent (an oversized or malformed packet):
 * a rejection, worth a line. */
static int bad_client_line(const char *line)
{
    return strstr(line, " disconnected due to ") != NULL;
}

/* Lines a misbehaving client can make mosquitto repeat are limited per kind (log.h). */
static void relay_line(struct broker *b, char *line)
{
    if (expected_warning(line)) {
        log_trace("broker", "mosquitto: %s", line);
    } else if (strncmp(line, "iothub: ", 8) == 0) {
        /* the plugin's own lines: refusals it could not send to the hub */
        log_info_limited("mqtt", "%s", line + 8);
    } else if (strncmp(line, "Error", 5) == 0) {
        log_error_limited("broker", "mosquitto: %s", line);
        pthread_mutex_lock(&b->lock);
        snprintf(b->last_error, sizeof b->last_error, "%s", line);
        pthread_mutex_unlock(&b->lock);
    } else if (strncmp(line, "Warning", 7) == 0) {
        log_warn_limited("broker", "mosquitto: %s", line);
    } else if (bad_client_line(line)) {
        log_info_limited("mqtt", "mosquitto closed a connection: %s", line);
    } else {
        log_trace("broker", "mosquitto: %s", line);
    }
    if (strstr(line, "mosquitto version") != NULL && strstr(line, " running") != NULL)
        set_state(b, BROKER_RUNNING);
}

/* Reads the child's output until it closes (the child exited). A line longer than the buffer
 * is passed on in pieces. */
static void relay_output(struct broker *b, int fd)
{
    char buf[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', (size_t)(buf + used - start))) != NULL) {
            *nl = '\0';
            relay_line(b, start);
            start = nl + 1;
        }
        used -= (size_t)(start - buf);
        memmove(buf, start, used);
        if (used == sizeof buf - 1) {
            buf[used] = '\0';
            relay_line(b, buf);
            used = 0;
        }
    }
    close(fd);
}

/* Waits for the child to exit, forgets its pid, and only then reaps it: until it is reaped the
 * pid cannot be reused, so signal_child never hits another process. */
static int wait_child(struct broker *b)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    while (waitid(P_PID, (id_t)b->pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&b->lock);
    pid_t pid = b->pid;
    b->pid = -1;
    pthread_mutex_unlock(&b->lock);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* Sleeps for the backoff unless the broker is being stopped. Returns 1 when stopping. */
static int backoff(struct broker *b, int ms)
{
    struct timespec until = deadline_after_ms(ms);
    pthread_mutex_lock(&b->lock);
    while (!b->stopping && pthread_cond_timedwait(&b->changed, &b->lock, &until) == 0)
        ;
    int stopping = b->stopping;
    pthread_mutex_unlock(&b->lock);
    return stopping;
}

static int is_stopping(struct broker *b)
{
    pthread_mutex_lock(&b->lock);
    int stopping = b->stopping;
    pthread_mutex_unlock(&b->lock);
    return stopping;
}

static void describe_exit(int status, char *out, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
}

/* Runs the child, and again each time it dies, until broker_stop. The first start failing ends
 * the loop: broker_start reports it. */
static void *supervise(void *arg)
{
    struct broker *b = arg;
    int delay = BACKOFF_FIRST_MS, ever_ran = 0;
    for (;;) {
        struct timespec started, ended;
        clock_gettime(CLOCK_MONOTONIC, &started);
        int fd = spawn(b);
        if (fd >= 0)
            relay_output(b, fd);
        int status = fd >= 0 ? wait_child(b) : 0;
        clock_gettime(CLOCK_MONOTONIC, &ended);
        pthread_mutex_lock(&b->lock);
        int ran = b->state == BROKER_RUNNING;
        pthread_mutex_unlock(&b->lock);
        ever_ran |= ran;
        if (is_stopping(b) || !ever_ran)
            break;
        char how[64];
        describe_exit(status, how, sizeof how);
        if (ended.tv_sec - started.tv_sec >= STABLE_SECONDS)
            delay = BACKOFF_FIRST_MS;
        log_error("broker", "mosquitto %s; starting it again in %d ms", how, delay);
        set_state(b, BROKER_STARTING);
        if (backoff(b, delay))
            break;
        delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
        pthread_mutex_lock(&b->lock);
        b->restarts++;
        pthread_mutex_unlock(&b->lock);
    }
    set_state(b, ever_ran ? BROKER_STOPPED : BROKER_FAILED);
    return NULL;
}

/* Waits until the broker runs, or the supervisor gave up, or the deadline. */
static enum broker_state wait_running(struct broker *b)
{
    struct timespec until = deadline_after_ms(START_TIMEOUT_SECONDS * 1000L);
    pthread_mutex_lock(&b->lock);
    while (b->state == BROKER_STARTING &&
           pthread_cond_timedwait(&b->changed, &b->lock, &until) == 0)
        ;
    enum broker_state s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

static void broker_free(struct broker *b)
{
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->changed);
    free(b->mosquitto_path);
    free(b->conf_path);
    free(b);
}

int broker_start(const char *mosquitto_path, const char *conf_path, struct broker **out, char *err,
                 size_t err_len)
{
    struct broker *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -1;
    b->mosquitto_path = strdup(mosquitto_path);
    b->conf_path = strdup(conf_path);
    b->pid = -1;
    pthread_mutex_init(&b->lock, NULL);
    deadline_cond_init(&b->changed);
    if (b->mosquitto_path == NULL || b->conf_path == NULL ||
        pthread_create(&b->thread, NULL, supervise, b) != 0) {
        snprintf(err, err_len, "cannot start the broker supervisor");
        broker_free(b);
        return -1;
    }
    enum broker_state s = wait_running(b);
    if (s != BROKER_RUNNING) {
        snprintf(err, err_len, "mosquitto did not start: %s",
                 b->last_error[0] != '\0' ? b->last_error
                 : s == BROKER_STARTING   ? "no 'running' line within 10 s"
                                          : "it exited at once (see the log above)");
        broker_stop(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* Waits up to seconds for the supervisor thread to finish. */
static int wait_finished(struct broker *b, int seconds)
{
    struct timespec until = deadline_after_ms(seconds * 1000L);
    pthread_mutex_lock(&b->lock);
    while (b->state != BROKER_STOPPED && b->state != BROKER_FAILED &&
           pthread_cond_timedwait(&b->changed, &b->lock, &until) == 0)
        ;
    int done = b->state == BROKER_STOPPED || b->state == BROKER_FAILED;
    pthread_mutex_unlock(&b->lock);
    return done;
}

static void signal_child(struct broker *b, int sig)
{
    pthread_mutex_lock(&b->lock);
    if (b->pid > 0)
        kill(b->pid, sig);
    pthread_mutex_unlock(&b->lock);
}

void broker_stop(struct broker *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
    signal_child(b, SIGTERM);
    if (!wait_finished(b, STOP_TIMEOUT_SECONDS)) {
        log_warn("broker", "mosquitto did not stop within %d s of SIGTERM: killing it",
                 STOP_TIMEOUT_SECONDS);
        signal_child(b, SIGKILL);
    }
    pthread_join(b->thread, NULL);
    broker_free(b);
}

unsigned broker_restart_count(struct broker *b)
{
    pthread_mutex_lock(&b->lock);
    unsigned n = b->restarts;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int broker_pid(struct broker *b)
{
    pthread_mutex_lock(&b->lock);
    int pid = b->pid;
    pthread_mutex_unlock(&b->lock);
    return pid;
}
