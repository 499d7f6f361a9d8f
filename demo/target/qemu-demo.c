/*
 * qemu-demo: a small program that looks like a QEMU process to a sampling
 * profiler. It uses QEMU's own function names so that role inference by
 * stack frames works on it, and it has a known, measured split of time.
 *
 * Threads (comm with default naming; --unnamed keeps the process name):
 *   main      main -> qemu_default_main -> qemu_main_loop -> main_loop_wait
 *             -> qemu_poll_ns -> ppoll          (50 ms timeout, in a loop)
 *             main_loop_wait -> event_notifier_test_and_clear -> read (8 bytes)
 *             main_loop_wait -> qemu_clock_run_all_timers -> report_progress
 *   CPU n/KVM qemu_thread_start -> kvm_vcpu_thread_fn -> kvm_cpu_exec
 *             -> vcpu_run -> guest_compute | guest_mmio   (spinning on CPU)
 *   worker    qemu_thread_start -> worker_thread -> worker_do_pread -> pread
 *             worker_thread -> qemu_cond_timedwait_impl -> pthread_cond_timedwait
 *             worker_thread -> event_notifier_set -> write (8 bytes, <= 1/ms)
 *   call_rcu  qemu_thread_start -> call_rcu_thread -> qemu_event_wait -> syscall(futex)
 *   (escape)  qemu_thread_start -> name_escape_thread -> qemu_cond_wait_impl
 *             -> pthread_cond_wait          (only with --thread-name-escape)
 *
 * The vCPU split is chosen by measured CLOCK_MONOTONIC time, not loop counts,
 * and it holds in wall-clock time, which is what a sampler of the thread's
 * stack sees: each vCPU counts the wall-clock time it spent in guest_compute
 * (compute_ns) and guest_mmio (mmio_ns), and each phase spins, reading the
 * clock every few thousand iterations, until that vCPU's totals are back on
 * split%: a round spins in guest_compute for about split% of --round-ms,
 * then in guest_mmio until the totals are on target. A preemption or a
 * debugger stop that makes one phase overshoot (a stall lands in one phase
 * whole) is thus paid back by the next phases; a phase's target is at most
 * CORRECTION_ROUNDS x --round-ms. Round lengths are drawn uniformly from
 * [0.5, 1.5] x --round-ms so that a periodic sampler cannot lock onto the
 * round phase. The totals include the phase in progress (up to the last clock
 * read), so they are exact whenever the progress report reads them.
 * Freezes (no progress for >= 50 ms: a debugger attaching, a paused or
 * starved machine) are not counted in either total: a sampler cannot stop a
 * thread that does not run, so it cannot see them as they last either. A gdb
 * sample stop (5-25 ms) or an ordinary preemption counts.
 *
 * No signals are used internally. SIGTERM and SIGINT end the program cleanly.
 *
 * Build: gcc -g -O1 -fno-omit-frame-pointer -pthread -o bin/qemu-demo qemu-demo.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Keep every named frame a real frame: no inlining, cloning or IPA renaming. */
#if defined(__GNUC__) && !defined(__clang__)
#define FRAME __attribute__((noinline, noipa))
#else
#define FRAME __attribute__((noinline))
#endif

#define MAX_THREADS 256
#define SPIN_CHECK_EVERY 2048     /* spin iterations between clock reads (~5 us) */
#define FREEZE_NS 50000000        /* a stall this long is a freeze: not counted */
#define CORRECTION_ROUNDS 5       /* longest phase target, in mean round lengths */
#define MAIN_POLL_TIMEOUT_NS (50 * 1000000LL)
#define NOTIFY_PERIOD_NS 1000000ULL  /* a worker wakes the main loop at most once per ms */
#define PROGRESS_FILE_PERIOD_NS (200 * 1000000LL)
#define PROGRESS_STDOUT_PERIOD_NS (1000 * 1000000LL)
#define ESCAPE_THREAD_NAME "\x1b[2Jevil\x07"

static const char *prog = "qemu-demo";

/* ---- configuration ---------------------------------------------------- */

static struct {
    unsigned vcpus;
    unsigned split;            /* percent of vCPU time in guest_compute */
    unsigned round_ms;
    unsigned workers;
    const char *file;
    uint64_t file_size;
    uint64_t chunk;
    uint64_t read_delay_us;
    bool unnamed;
    bool name_escape;
    bool notify;
    const char *progress;
    double duration_s;         /* 0 = forever */
} cfg = {
    .vcpus = 2,
    .split = 70,
    .round_ms = 10,
    .workers = 2,
    .file = NULL,
    .file_size = 8ULL << 20,
    .chunk = 4096,
    .read_delay_us = 200,
    .unnamed = false,
    .name_escape = false,
    .notify = true,
    .progress = NULL,
    .duration_s = 0,
};

/* ---- shared state ----------------------------------------------------- */

static int stop_flag;                        /* set once, read with atomics */
static volatile sig_atomic_t signal_stop;    /* set by SIGTERM/SIGINT */
static int signal_pipe[2] = { -1, -1 };
static int main_notifier = -1;               /* eventfd workers -> main loop */

static int data_fd = -1;
static uint64_t data_size;                   /* wrap-around point for reads */

static uint64_t start_ns;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond;             /* CLOCK_MONOTONIC, only broadcast at stop */

/* A QemuEvent-like futex word: 0 = free, 1 = set. */
typedef struct QemuEvent {
    int value;
} QemuEvent;
static QemuEvent rcu_call_ready_event;

/* Counters are written by the vCPU only and read by the main loop (atomics). */
struct vcpu {
    unsigned index;
    unsigned seq;              /* seqlock over phase, active_ns and the totals */
    unsigned phase;            /* PHASE_* in progress */
    uint64_t rng;
    uint64_t last_ns;          /* end of the last phase */
    uint64_t active_ns;        /* counted time of the phase in progress */
    uint64_t rounds;
    uint64_t compute_ns;       /* completed phases */
    uint64_t mmio_ns;
    uint64_t spins;            /* spin iterations: the work done, which a stop takes away */
} __attribute__((aligned(64)));

struct worker {
    unsigned index;
    uint64_t offset;
    char *buf;
    uint64_t reads;
    uint64_t read_bytes;
    uint64_t last_notify_ns;
    bool warned;
} __attribute__((aligned(64)));

static struct vcpu *vcpus;
static struct worker *workers;

struct thread_start {
    char name[16];
    void *(*fn)(void *);
    void *arg;
    pthread_t tid;
};
static struct thread_start threads[MAX_THREADS * 2 + 4];
static unsigned nthreads;

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static unsigned threads_started;

/* ---- small helpers ------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/*
 * Helpers on the sampled paths are macros, not inline functions: with -g, gdb
 * shows an inlined function as a frame of its own, which would put e.g.
 * `now_ns` between clock_gettime and guest_compute.
 */
#define now_ns() __extension__ ({ \
    struct timespec now_ts_; \
    clock_gettime(CLOCK_MONOTONIC, &now_ts_); \
    (uint64_t)now_ts_.tv_sec * 1000000000ULL + (uint64_t)now_ts_.tv_nsec; \
})
#define stopping() (__atomic_load_n(&stop_flag, __ATOMIC_RELAXED) != 0)
#define load_u64(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define store_u64(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define add_u64(p, v) store_u64((p), load_u64(p) + (v))  /* single writer */

/* ---- QEMU-like synchronisation primitives ------------------------------- */

FRAME void qemu_event_wait(QemuEvent *ev)
{
    while (__atomic_load_n(&ev->value, __ATOMIC_ACQUIRE) == 0) {
        long r = syscall(SYS_futex, &ev->value, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
}

static void qemu_event_set(QemuEvent *ev)
{
    __atomic_store_n(&ev->value, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &ev->value, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Waits up to us microseconds unless stopping; returns true on timeout. */
FRAME bool qemu_cond_timedwait_impl(pthread_cond_t *cond, pthread_mutex_t *mutex, uint64_t us)
{
    struct timespec ts;
    int r = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(us / 1000000);
    ts.tv_nsec += (long)(us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(mutex);
    if (!stopping()) {
        r = pthread_cond_timedwait(cond, mutex, &ts);
    }
    pthread_mutex_unlock(mutex);
    return r == ETIMEDOUT;
}

FRAME void qemu_cond_wait_impl(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
    pthread_mutex_lock(mutex);
    while (!stopping()) {
        pthread_cond_wait(cond, mutex);
    }
    pthread_mutex_unlock(mutex);
}

FRAME void event_notifier_set(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r;  /* EAGAIN when the counter is saturated: harmless */
}

FRAME bool event_notifier_test_and_clear(int fd)
{
    uint64_t value;
    ssize_t r = read(fd, &value, sizeof(value));
    return r == (ssize_t)sizeof(value) && value != 0;
}

/* ---- vCPU threads ------------------------------------------------------- */

enum { PHASE_NONE, PHASE_COMPUTE, PHASE_MMIO };

/*
 * Phase bookkeeping, readable by the progress reporter at any time: seq is a
 * seqlock (odd while a phase starts or ends), active_ns the counted time of
 * the phase in progress so far, updated at every clock read.
 */
static void phase_begin(struct vcpu *v, unsigned phase)
{
    __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&v->phase, phase, __ATOMIC_RELAXED);
    store_u64(&v->active_ns, 0);
    __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELEASE);
}

static void phase_end(struct vcpu *v, uint64_t *counter, uint64_t end, uint64_t frozen)
{
    __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    add_u64(counter, end - v->last_ns - frozen);
    __atomic_store_n(&v->phase, PHASE_NONE, __ATOMIC_RELAXED);
    store_u64(&v->active_ns, 0);
    __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELEASE);
    v->last_ns = end;
}

/*
 * The end of a spin batch: reads the clock, skips a freeze (a long gap since
 * prev: it moves the deadline and is not counted), publishes the counted time
 * so far, and leaves the loop when the phase is over.
 */
#define PHASE_CHECK() \
    now = now_ns(); \
    if (now - prev >= FREEZE_NS) { \
        deadline += now - prev; \
        *frozen += now - prev; \
    } \
    prev = now; \
    add_u64(&v->spins, SPIN_CHECK_EVERY); \
    store_u64(&v->active_ns, now - v->last_ns - *frozen); \
    if (now >= deadline || stopping()) { \
        break; \
    }

/*
 * Spins on the CPU for run_ns of wall-clock time from the end of the last
 * phase, not counting freezes; returns the end time and adds freezes to *frozen.
 */
FRAME uint64_t guest_compute(struct vcpu *v, uint64_t run_ns, uint64_t *frozen)
{
    volatile uint64_t acc = v->last_ns;
    uint64_t now, prev = v->last_ns, deadline = v->last_ns + run_ns;

    for (;;) {
        for (unsigned i = 0; i < SPIN_CHECK_EVERY; i++) {
            acc = acc * 6364136223846793005ULL + 1442695040888963407ULL;
        }
        PHASE_CHECK();
    }
    return now;
}

static volatile uint32_t mmio_regs[64];

/* Like guest_compute, pretending to access device registers. */
FRAME uint64_t guest_mmio(struct vcpu *v, uint64_t run_ns, uint64_t *frozen)
{
    volatile uint32_t acc = (uint32_t)v->last_ns;
    uint64_t now, prev = v->last_ns, deadline = v->last_ns + run_ns;

    for (;;) {
        for (unsigned i = 0; i < SPIN_CHECK_EVERY; i++) {
            mmio_regs[i & 63] = acc;
            acc = acc + mmio_regs[(i * 7) & 63] + i;
        }
        PHASE_CHECK();
    }
    return now;
}

#define clamp_ns(v, max) ((v) < 0 ? 0 : (v) > (max) ? (max) : (v))

/*
 * Runs one phase of target_ns (if > 0) and adds its wall-clock time to the
 * phase's total. A macro: an inline function would show up as a frame.
 */
#define VCPU_PHASE(v, compute, target_ns) do { \
    int64_t target_ = (target_ns); \
    uint64_t end_, frozen_ = 0; \
    if (target_ > 0) { \
        phase_begin((v), (compute) ? PHASE_COMPUTE : PHASE_MMIO); \
        end_ = (compute) ? guest_compute((v), (uint64_t)target_, &frozen_) \
                         : guest_mmio((v), (uint64_t)target_, &frozen_); \
        phase_end((v), (compute) ? &(v)->compute_ns : &(v)->mmio_ns, end_, frozen_); \
    } \
} while (0)

/*
 * One round: guest_compute for about split% of a random round length, then
 * guest_mmio until this vCPU's totals are on split% again.
 */
FRAME void vcpu_run(struct vcpu *v)
{
    int64_t base = (int64_t)cfg.round_ms * 1000000;
    int64_t cap = CORRECTION_ROUNDS * base;
    int64_t s = cfg.split;
    int64_t round_ns;
    uint64_t x = v->rng;

    x ^= x << 13;  /* xorshift64 */
    x ^= x >> 7;
    x ^= x << 17;
    v->rng = x;
    round_ns = base / 2 + (int64_t)(x % (uint64_t)(base + 1));

    /* > 0: guest_compute is ahead of split% by that many ns */
#define SPLIT_ERROR() (((100 - s) * (int64_t)v->compute_ns - s * (int64_t)v->mmio_ns) / 100)
    if (s == 100 || s == 0) {
        VCPU_PHASE(v, s == 100, round_ns);
    } else {
        VCPU_PHASE(v, true, clamp_ns(round_ns * s / 100 - SPLIT_ERROR() * 100 / (100 - s), cap));
        if (!stopping()) {
            VCPU_PHASE(v, false, clamp_ns(SPLIT_ERROR() * 100 / s, cap));
        }
    }
#undef SPLIT_ERROR
    add_u64(&v->rounds, 1);
}

FRAME void kvm_cpu_exec(struct vcpu *v)
{
    v->last_ns = now_ns();
    while (!stopping()) {
        vcpu_run(v);
    }
}

static void *kvm_vcpu_thread_fn(void *opaque)
{
    struct vcpu *v = opaque;

    kvm_cpu_exec(v);
    return NULL;
}

/* ---- worker threads ----------------------------------------------------- */

FRAME ssize_t worker_do_pread(struct worker *w, uint64_t len)
{
    ssize_t n = pread(data_fd, w->buf, len, (off_t)w->offset);

    if (n > 0) {
        add_u64(&w->reads, 1);
        add_u64(&w->read_bytes, (uint64_t)n);
        w->offset += (uint64_t)n;
    } else if (n == 0) {
        add_u64(&w->reads, 1);
        w->offset = 0;
    }
    if (w->offset >= data_size) {
        w->offset = 0;
    }
    return n;
}

static void *worker_thread(void *opaque)
{
    struct worker *w = opaque;

    while (!stopping()) {
        ssize_t n = worker_do_pread(w, cfg.chunk);
        uint64_t delay = cfg.read_delay_us;

        if (n < 0) {
            if (!w->warned) {
                fprintf(stderr, "%s: worker %u: pread: %s\n", prog, w->index, strerror(errno));
                w->warned = true;
            }
            if (delay < 1000) {
                delay = 1000;
            }
        }
        if (cfg.notify) {
            /* like a thread-pool completion waking the main loop, rate-limited */
            uint64_t now = now_ns();
            if (now - w->last_notify_ns >= NOTIFY_PERIOD_NS) {
                w->last_notify_ns = now;
                event_notifier_set(main_notifier);
            }
        }
        if (delay > 0) {
            qemu_cond_timedwait_impl(&pool_cond, &pool_lock, delay);
        }
    }
    return NULL;
}

/* ---- RCU and the escape-name thread -------------------------------------- */

static void *call_rcu_thread(void *opaque)
{
    (void)opaque;
    while (!stopping()) {
        qemu_event_wait(&rcu_call_ready_event);
    }
    return NULL;
}

static void *name_escape_thread(void *opaque)
{
    (void)opaque;
    qemu_cond_wait_impl(&pool_cond, &pool_lock);
    return NULL;
}

/* ---- thread creation ---------------------------------------------------- */

static void *qemu_thread_start(void *opaque)
{
    struct thread_start *ts = opaque;
    void *ret;

    if (ts->name[0] != '\0') {
        pthread_setname_np(pthread_self(), ts->name);
    }
    pthread_mutex_lock(&start_lock);
    threads_started++;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_lock);

    ret = ts->fn(ts->arg);
    __atomic_fetch_sub(&threads_started, 1, __ATOMIC_RELAXED);
    return ret;
}

static void qemu_thread_create(const char *name, void *(*fn)(void *), void *arg)
{
    struct thread_start *ts = &threads[nthreads];
    int r;

    memset(ts->name, 0, sizeof(ts->name));
    if (name != NULL) {
        snprintf(ts->name, sizeof(ts->name), "%s", name);
    }
    ts->fn = fn;
    ts->arg = arg;
    r = pthread_create(&ts->tid, NULL, qemu_thread_start, ts);
    if (r != 0) {
        die("pthread_create: %s", strerror(r));
    }
    nthreads++;
}

/* ---- progress ----------------------------------------------------------- */

struct totals {
    uint64_t rounds, compute_ns, mmio_ns, spins, reads, read_bytes;
};

static void collect(struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < cfg.vcpus; i++) {
        struct vcpu *v = &vcpus[i];
        uint64_t compute, mmio, active;
        unsigned seq, phase;

        /* Totals plus the phase in progress, read consistently (seqlock). */
        for (;;) {
            seq = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);
            compute = load_u64(&v->compute_ns);
            mmio = load_u64(&v->mmio_ns);
            phase = __atomic_load_n(&v->phase, __ATOMIC_RELAXED);
            active = load_u64(&v->active_ns);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if ((seq & 1) == 0 && seq == __atomic_load_n(&v->seq, __ATOMIC_RELAXED)) {
                break;
            }
        }
        t->rounds += load_u64(&v->rounds);
        t->spins += load_u64(&v->spins);
        t->compute_ns += compute + (phase == PHASE_COMPUTE ? active : 0);
        t->mmio_ns += mmio + (phase == PHASE_MMIO ? active : 0);
    }
    for (unsigned i = 0; i < cfg.workers; i++) {
        t->reads += load_u64(&workers[i].reads);
        t->read_bytes += load_u64(&workers[i].read_bytes);
    }
}

static int format_progress(char *buf, size_t len)
{
    struct totals t;

    collect(&t);
    return snprintf(buf, len,
                    "{\"pid\":%d,\"t_ms\":%" PRIu64 ",\"vcpu_rounds\":%" PRIu64
                    ",\"compute_ns\":%" PRIu64 ",\"mmio_ns\":%" PRIu64 ",\"spins\":%" PRIu64
                    ",\"reads\":%" PRIu64 ",\"read_bytes\":%" PRIu64 "}\n",
                    (int)getpid(), (uint64_t)((now_ns() - start_ns) / 1000000U), t.rounds,
                    t.compute_ns, t.mmio_ns, t.spins, t.reads, t.read_bytes);
}

/* Writes FILE atomically (temp file + rename). Returns false on error. */
static bool write_progress_file(const char *path)
{
    char line[512], tmp[PATH_MAX];
    int len = format_progress(line, sizeof(line));
    int fd;
    bool ok;

    if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return false;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return false;
    }
    ok = write(fd, line, (size_t)len) == len;
    if (close(fd) != 0) {
        ok = false;
    }
    if (ok && rename(tmp, path) == 0) {
        return true;
    }
    int saved = errno;
    unlink(tmp);
    errno = saved;
    return false;
}

FRAME void report_progress(void)
{
    static bool warned;

    if (cfg.progress != NULL) {
        if (!write_progress_file(cfg.progress) && !warned) {
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, cfg.progress, strerror(errno));
            warned = true;
        }
    } else {
        char line[512];
        format_progress(line, sizeof(line));
        fputs(line, stdout);
        fflush(stdout);
    }
}

static uint64_t next_report_ns;

FRAME void qemu_clock_run_all_timers(uint64_t now)
{
    if (now >= next_report_ns) {
        report_progress();
        next_report_ns += cfg.progress != NULL ? PROGRESS_FILE_PERIOD_NS : PROGRESS_STDOUT_PERIOD_NS;
        if (next_report_ns <= now) {
            next_report_ns = now + 1;
        }
    }
}

/* ---- main loop ---------------------------------------------------------- */

static uint64_t end_ns;  /* 0 = run forever */

FRAME int qemu_poll_ns(struct pollfd *fds, nfds_t nfds, int64_t timeout_ns)
{
    struct timespec ts;
    int ret;

    if (timeout_ns < 0) {
        timeout_ns = 0;
    }
    ts.tv_sec = timeout_ns / 1000000000LL;
    ts.tv_nsec = timeout_ns % 1000000000LL;
    ret = ppoll(fds, nfds, &ts, NULL);
    if (ret < 0 && errno == EINTR) {
        ret = 0;
    }
    return ret;
}

FRAME void main_loop_wait(int nonblocking)
{
    struct pollfd fds[2] = {
        { .fd = signal_pipe[0], .events = POLLIN },
        { .fd = main_notifier, .events = POLLIN },
    };
    uint64_t now = now_ns();
    int64_t timeout = nonblocking ? 0 : MAIN_POLL_TIMEOUT_NS;

    if ((int64_t)(next_report_ns - now) < timeout) {
        timeout = (int64_t)(next_report_ns - now);
    }
    if (end_ns != 0 && (int64_t)(end_ns - now) < timeout) {
        timeout = (int64_t)(end_ns - now);
    }
    if (qemu_poll_ns(fds, 2, timeout) > 0) {
        if (fds[0].revents & POLLIN) {
            char drain[16];
            ssize_t r = read(signal_pipe[0], drain, sizeof(drain));
            (void)r;
        }
        if (fds[1].revents & POLLIN) {
            event_notifier_test_and_clear(main_notifier);
        }
    }
    qemu_clock_run_all_timers(now_ns());
}

#define main_loop_should_exit() (signal_stop || (end_ns != 0 && now_ns() >= end_ns))

FRAME int qemu_main_loop(void)
{
    while (!main_loop_should_exit()) {
        main_loop_wait(false);
    }
    return 0;
}

static void qemu_cleanup(void)
{
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    qemu_event_set(&rcu_call_ready_event);
    pthread_mutex_lock(&pool_lock);
    pthread_cond_broadcast(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(threads[i].tid, NULL);
    }
    report_progress();
}

FRAME int qemu_default_main(void)
{
    int status = qemu_main_loop();

    qemu_cleanup();
    return status;
}

/* ---- setup -------------------------------------------------------------- */

static void on_stop_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    ssize_t r;

    signal_stop = 1;
    r = write(signal_pipe[1], &c, 1);
    (void)r;
    errno = saved;
}

static void setup_data_file(void)
{
    struct stat st;

    if (cfg.workers == 0) {
        return;
    }
    if (cfg.file != NULL) {
        data_fd = open(cfg.file, O_RDONLY | O_CLOEXEC);
        if (data_fd < 0) {
            die("cannot open %s: %s", cfg.file, strerror(errno));
        }
        if (fstat(data_fd, &st) != 0) {
            die("cannot stat %s: %s", cfg.file, strerror(errno));
        }
        data_size = st.st_size > 0 ? (uint64_t)st.st_size : cfg.file_size;
        return;
    }

    static char path[] = "/tmp/qemu-demo-XXXXXX";
    char *block;
    const size_t block_size = 1 << 20;
    uint64_t left = cfg.file_size;

    data_fd = mkstemp(path);
    if (data_fd < 0) {
        die("cannot create a file in /tmp: %s", strerror(errno));
    }
    block = malloc(block_size);
    if (block == NULL) {
        die("out of memory");
    }
    for (size_t i = 0; i < block_size; i++) {
        block[i] = (char)('a' + i % 26);
    }
    while (left > 0) {
        size_t n = left < block_size ? (size_t)left : block_size;
        ssize_t w = write(data_fd, block, n);
        if (w <= 0) {
            int e = errno;
            unlink(path);
            die("cannot fill %s: %s", path, w < 0 ? strerror(e) : "short write");
        }
        left -= (uint64_t)w;
    }
    free(block);
    /* Nobody else needs the name: unlinking it now also cleans up after SIGKILL. */
    unlink(path);
    data_size = cfg.file_size;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [OPTIONS]\n"
            "A QEMU-shaped target for profilers: a main loop in ppoll, spinning vCPU\n"
            "threads with a known time split, worker threads doing pread, call_rcu.\n"
            "\n"
            "  --vcpus N             vCPU threads 'CPU n/KVM' (default 2)\n"
            "  --split PCT           %% of vCPU time in guest_compute, rest in guest_mmio\n"
            "                        (default 70, by elapsed time)\n"
            "  --round-ms MS         mean vCPU round length, randomised x0.5..1.5 (default 10)\n"
            "  --workers M           'worker' threads reading with pread (default 2)\n"
            "  --file PATH           file the workers read (default: a temp file in /tmp,\n"
            "                        unlinked as soon as it is filled)\n"
            "  --file-size BYTES     size of the temp file, suffix K/M/G allowed (default 8M)\n"
            "  --chunk BYTES         bytes per pread (default 4096)\n"
            "  --read-delay-us US    idle wait after each read, 0 = none (default 200)\n"
            "  --no-notify           workers do not wake the main loop (by default each one\n"
            "                        writes its eventfd at most once per ms after a read)\n"
            "  --unnamed             no pthread_setname_np: all threads keep the process name\n"
            "  --thread-name-escape  add an idle thread named \"\\x1b[2Jevil\\x07\"\n"
            "                        (named even with --unnamed)\n"
            "  --progress FILE       rewrite FILE atomically every 200 ms with a JSON object;\n"
            "                        without it print one JSON line per second on stdout\n"
            "  --duration SECONDS    exit after that long (default: run until SIGTERM/SIGINT)\n"
            "  --help                show this help\n"
            "\n"
            "stdout: {\"ready\":true,\"pid\":PID} once all threads run and are named, then\n"
            "progress lines {\"pid\",\"t_ms\",\"vcpu_rounds\",\"compute_ns\",\"mmio_ns\",\"spins\",\"reads\",\"read_bytes\"}\n"
            "(cumulative totals) unless --progress is given.\n",
            prog);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, bool suffix)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (*s == '-' || *s == '\0') {
        goto bad;
    }
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s) {
        goto bad;
    }
    if (suffix && *end != '\0') {
        unsigned shift = 0;
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: goto bad;
        }
        end++;
        if (*end == 'i' || *end == 'I') {
            end++;
        }
        if (*end == 'b' || *end == 'B') {
            end++;
        }
        if (v > (ULLONG_MAX >> shift)) {
            goto bad;
        }
        v <<= shift;
    }
    if (*end != '\0' || v < min || v > max) {
        goto bad;
    }
    return v;
bad:
    fprintf(stderr, "%s: invalid value for --%s: '%s' (expected %" PRIu64 "..%" PRIu64 ")\n",
            prog, opt, s, min, max);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    enum { O_VCPUS = 256, O_SPLIT, O_ROUND, O_WORKERS, O_FILE, O_FILE_SIZE, O_CHUNK,
           O_DELAY, O_NO_NOTIFY, O_UNNAMED, O_ESCAPE, O_PROGRESS, O_DURATION, O_HELP };
    static const struct option opts[] = {
        { "vcpus", required_argument, NULL, O_VCPUS },
        { "split", required_argument, NULL, O_SPLIT },
        { "round-ms", required_argument, NULL, O_ROUND },
        { "workers", required_argument, NULL, O_WORKERS },
        { "file", required_argument, NULL, O_FILE },
        { "file-size", required_argument, NULL, O_FILE_SIZE },
        { "chunk", required_argument, NULL, O_CHUNK },
        { "read-delay-us", required_argument, NULL, O_DELAY },
        { "no-notify", no_argument, NULL, O_NO_NOTIFY },
        { "unnamed", no_argument, NULL, O_UNNAMED },
        { "thread-name-escape", no_argument, NULL, O_ESCAPE },
        { "progress", required_argument, NULL, O_PROGRESS },
        { "duration", required_argument, NULL, O_DURATION },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_VCPUS: cfg.vcpus = (unsigned)parse_u64("vcpus", optarg, 0, MAX_THREADS, false); break;
        case O_SPLIT: cfg.split = (unsigned)parse_u64("split", optarg, 0, 100, false); break;
        case O_ROUND: cfg.round_ms = (unsigned)parse_u64("round-ms", optarg, 1, 10000, false); break;
        case O_WORKERS: cfg.workers = (unsigned)parse_u64("workers", optarg, 0, MAX_THREADS, false); break;
        case O_FILE: cfg.file = optarg; break;
        case O_FILE_SIZE: cfg.file_size = parse_u64("file-size", optarg, 1, 1ULL << 40, true); break;
        case O_CHUNK: cfg.chunk = parse_u64("chunk", optarg, 1, 64ULL << 20, true); break;
        case O_DELAY: cfg.read_delay_us = parse_u64("read-delay-us", optarg, 0, 60000000, false); break;
        case O_NO_NOTIFY: cfg.notify = false; break;
        case O_UNNAMED: cfg.unnamed = true; break;
        case O_ESCAPE: cfg.name_escape = true; break;
        case O_PROGRESS: cfg.progress = optarg; break;
        case O_DURATION: {
            char *end;
            errno = 0;
            cfg.duration_s = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(cfg.duration_s > 0) ||
                cfg.duration_s > 1e7) {
                fprintf(stderr, "%s: invalid value for --duration: '%s' (expected seconds > 0)\n",
                        prog, optarg);
                exit(2);
            }
            break;
        }
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default:
            if (optopt != 0 && optopt < 256 && optopt != '?') {
                fprintf(stderr, "%s: option needs a value or is unknown: -%c\n", prog, optopt);
            } else {
                fprintf(stderr, "%s: unknown option or missing value: %s\n", prog,
                        argv[optind - 1]);
            }
            fprintf(stderr, "Try '%s --help'.\n", prog);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument: %s\nTry '%s --help'.\n", prog, argv[optind], prog);
        exit(2);
    }
}

static void qemu_init(void)
{
    pthread_condattr_t ca;
    struct sigaction sa;
    sigset_t block, old;
    char name[32];

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool_cond, &ca);
    pthread_condattr_destroy(&ca);

    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        die("pipe2: %s", strerror(errno));
    }
    main_notifier = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (main_notifier < 0) {
        die("eventfd: %s", strerror(errno));
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);  /* a closed stdout must not kill us */

    setup_data_file();

    vcpus = calloc(cfg.vcpus ? cfg.vcpus : 1, sizeof(*vcpus));
    workers = calloc(cfg.workers ? cfg.workers : 1, sizeof(*workers));
    if (vcpus == NULL || workers == NULL) {
        die("out of memory");
    }

    /* Only the main thread takes SIGTERM/SIGINT; the others inherit this mask. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);

    start_ns = now_ns();
    for (unsigned i = 0; i < cfg.vcpus; i++) {
        vcpus[i].index = i;
        vcpus[i].rng = 0x9E3779B97F4A7C15ULL ^ (start_ns + i * 0x100000001B3ULL) ^ (uint64_t)getpid();
        if (vcpus[i].rng == 0) {
            vcpus[i].rng = 1;
        }
        snprintf(name, sizeof(name), "CPU %u/KVM", i);
        qemu_thread_create(cfg.unnamed ? NULL : name, kvm_vcpu_thread_fn, &vcpus[i]);
    }
    for (unsigned i = 0; i < cfg.workers; i++) {
        workers[i].index = i;
        workers[i].buf = malloc(cfg.chunk);
        if (workers[i].buf == NULL) {
            die("out of memory");
        }
        /* spread the workers over the file, chunk-aligned */
        workers[i].offset = data_size / cfg.workers * i / cfg.chunk * cfg.chunk;
        qemu_thread_create(cfg.unnamed ? NULL : "worker", worker_thread, &workers[i]);
    }
    qemu_thread_create(cfg.unnamed ? NULL : "call_rcu", call_rcu_thread, NULL);
    if (cfg.name_escape) {
        qemu_thread_create(ESCAPE_THREAD_NAME, name_escape_thread, NULL);
    }

    pthread_mutex_lock(&start_lock);
    while (threads_started < nthreads) {
        pthread_cond_wait(&start_cond, &start_lock);
    }
    pthread_mutex_unlock(&start_lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (cfg.duration_s > 0) {
        end_ns = start_ns + (uint64_t)(cfg.duration_s * 1e9);
    }
    if (cfg.progress != NULL) {
        if (!write_progress_file(cfg.progress)) {
            die("cannot write %s: %s", cfg.progress, strerror(errno));
        }
        next_report_ns = now_ns() + PROGRESS_FILE_PERIOD_NS;
    } else {
        next_report_ns = now_ns() + PROGRESS_STDOUT_PERIOD_NS;
    }
    printf("{\"ready\":true,\"pid\":%d}\n", (int)getpid());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int status;

    parse_args(argc, argv);
    qemu_init();
    status = qemu_default_main();
    if (data_fd >= 0) {
        close(data_fd);
    }
    return status;
}
