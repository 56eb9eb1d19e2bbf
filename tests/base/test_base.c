/* The base layer: bounded reads, atomic writes, UTF-8, errors, the log file bound. */
#include "testutil.h"

#include "base/base.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
        (void)state;
        return tu_tempdir(dir, sizeof(dir), "base");
}

static int teardown(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

static void test_read_bounds(void **state)
{
        (void)state;
        char *p = xasprintf("%s/f", dir);
        osvm_err e = {0};
        assert_int_equal(fs_write_atomic(p, "hello", 5, 0600, &e), 0);
        char *text;
        size_t len;
        assert_int_equal(fs_read_file(p, 5, &text, &len, &e), 0);
        assert_int_equal(len, 5);
        assert_string_equal(text, "hello");
        free(text);
        assert_int_equal(fs_read_file(p, 4, &text, &len, &e), -1);
        assert_int_equal(e.code, EFBIG);
        assert_non_null(strstr(e.msg, "too large"));
        /* Not a regular file: refused without reading (a FIFO would block). */
        char *fifo = xasprintf("%s/fifo", dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(fs_read_file(fifo, 100, &text, &len, &e), -1);
        assert_non_null(strstr(e.msg, "not a regular file"));
        assert_int_equal(fs_read_file("/proc/self/status", 1 << 20, &text, &len, &e), 0);
        free(text);
        free(fifo);
        free(p);
}

/* fs_read_proc: one read, never past the buffer, always NUL-terminated. */
static void test_read_proc(void **state)
{
        (void)state;
        char buf[64], want[32];
        snprintf(want, sizeof(want), "%d (", (int)getpid());
        ssize_t n = fs_read_proc("/proc/self/stat", buf, sizeof(buf));
        assert_int_equal(n, (ssize_t)strlen(buf));
        assert_int_equal(n, (ssize_t)sizeof(buf) - 1); /* longer than the buffer: cut */
        assert_memory_equal(buf, want, strlen(want));
        char one[1] = {'x'};
        assert_int_equal(fs_read_proc("/proc/self/stat", one, sizeof(one)), 0);
        assert_int_equal(one[0], '\0');
        assert_int_equal(fs_read_proc("/proc/self/stat", one, 0), -1);
        buf[0] = 'x';
        assert_int_equal(fs_read_proc("/proc/self/no such file", buf, sizeof(buf)), -1);
        assert_int_equal(buf[0], 'x');
}

static void test_create_never_overwrites(void **state)
{
        (void)state;
        char *p = xasprintf("%s/c", dir);
        osvm_err e = {0};
        assert_int_equal(fs_create_atomic(p, "one", 3, 0600, &e), 0);
        assert_int_equal(fs_create_atomic(p, "two", 3, 0600, &e), -1);
        assert_int_equal(e.code, EEXIST);
        char *text;
        assert_int_equal(fs_read_file(p, 10, &text, NULL, &e), 0);
        assert_string_equal(text, "one");
        free(text);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* No temporary files are left behind: only c remains. */
        DIR *dh = opendir(dir);
        assert_non_null(dh);
        for (struct dirent *de; (de = readdir(dh));)
                assert_null(strstr(de->d_name, ".tmp"));
        closedir(dh);
        free(p);
}

static void test_mkdir_p(void **state)
{
        (void)state;
        char *p = xasprintf("%s/a/b/c", dir);
        osvm_err e = {0};
        assert_int_equal(fs_mkdir_p(p, 0700, &e), 0);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        char *f = xasprintf("%s/a/file", dir);
        assert_int_equal(fs_write_atomic(f, "", 0, 0600, &e), 0);
        char *under = xasprintf("%s/x", f);
        assert_int_equal(fs_mkdir_p(under, 0700, &e), -1);
        free(under);
        free(f);
        free(p);
}

/* A cut never ends in half a character (found by fuzz_isolation_config: a
 * name cut at 80 bytes through a "μ" made a reason no JSON string took). */
static void test_cut(void **state)
{
        (void)state;
        assert_int_equal(text_cut("abc", 80), 3);
        assert_int_equal(text_cut("abcdef", 3), 3);
        assert_int_equal(text_cut("ab\xce\xbc", 3), 2);    /* before the 2-byte μ */
        assert_int_equal(text_cut("ab\xce\xbc", 4), 4);    /* it fits whole */
        assert_int_equal(text_cut("a\xe2\x82\xac", 3), 1); /* before the 3-byte € */
        assert_int_equal(text_cut("a\xf0\x9f\x98\x80"
                                  "b",
                                  4),
                         1); /* before a 4-byte emoji */
        assert_int_equal(text_cut("a\xf0\x9f\x98\x80"
                                  "b",
                                  5),
                         5);
        assert_int_equal(text_cut("", 10), 0);
        char buf[16];
        snprintf(buf, sizeof(buf), "%.*s", text_cut("xx\xce\xbc", 3), "xx\xce\xbc");
        assert_true(text_valid_utf8(buf, strlen(buf)));
}

static void test_utf8(void **state)
{
        (void)state;
        static const struct {
                const char *s;
                bool ok;
        } cases[] = {
            {"plain", true},
            {"\xce\xbcVM-1", true},
            {"\xe2\x80\xa2", true},
            {"\xf0\x9f\x98\x80", true},
            {"\xff", false},
            {"\xc0\xaf", false},         /* overlong */
            {"\xed\xa0\x80", false},     /* surrogate */
            {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
            {"\xe2\x80", false},         /* truncated */
            {"\x80", false},             /* lone continuation */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_int_equal(text_valid_utf8(cases[i].s, strlen(cases[i].s)), cases[i].ok);
        assert_false(text_valid_utf8("a\0b", 3));
}

static void sanitized_is(const char *in, unsigned flags, const char *want)
{
        char *out = text_sanitize(in, flags);
        assert_string_equal(out, want);
        free(out);
}

static void test_sanitize(void **state)
{
        (void)state;
        sanitized_is("plain text, \xce\xbcVM-1 \xe2\x80\xa2 ok", 0,
                     "plain text, \xce\xbcVM-1 \xe2\x80\xa2 ok");
        sanitized_is(NULL, 0, "");
        /* clear the screen, set the title, write the clipboard, ring the bell */
        sanitized_is("\x1b[2Jgone", 0, "^[[2Jgone");
        sanitized_is("\x1b]0;owned\x07", 0, "^[]0;owned^G");
        sanitized_is("\x1b]52;c;Y3VybCB4fHNo\x1b\\", 0, "^[]52;c;Y3VybCB4fHNo^[\\");
        /* a carriage return cannot overwrite the line; DEL is shown */
        sanitized_is("ok\rFAKE\x7f", 0, "ok^MFAKE^?");
        /* newlines and tabs: kept in multi-line text, shown on one line */
        sanitized_is("a\nb\tc", TEXT_MULTILINE, "a\nb\tc");
        sanitized_is("a\nWARN: forged\tc", 0, "a\\nWARN: forged c");
        /* C1 controls (CSI as U+009B) and bidi overrides, as escapes */
        sanitized_is("\xc2\x9b"
                     "2J",
                     0, "\\u009b2J");
        sanitized_is("abc\xe2\x80\xae"
                     "dcba",
                     0, "abc\\u202edcba");
        /* bytes that are not UTF-8, a raw 8-bit CSI among them */
        sanitized_is("\x9b"
                     "2J\xff\xc0\xaf",
                     0, "\\x9b2J\\xff\\xc0\\xaf");
        sanitized_is("\xe2\x80", 0, "\\xe2\\x80");
        /* NULs inside the length are shown, not the end of the text */
        strbuf b = {0};
        sb_add_sanitized(&b, "a\0b", 3, 0);
        assert_string_equal(b.s, "a^@b");
        sb_free(&b);
        sb_add_sanitized(&b, "", 0, 0);
        assert_non_null(b.s);
        assert_string_equal(b.s, "");
        sb_free(&b);
}

static void test_header_checks(void **state)
{
        (void)state;
        assert_true(text_header_name_ok("MCP-Protocol-Version"));
        assert_true(text_header_name_ok("x-api-key"));
        assert_false(text_header_name_ok(""));
        assert_false(text_header_name_ok(NULL));
        assert_false(text_header_name_ok("Bad Name"));
        assert_false(text_header_name_ok("a:b"));
        assert_false(text_header_name_ok("a\r\nb"));
        assert_true(text_header_value_ok("2025-11-25"));
        assert_true(text_header_value_ok("Bearer abc\tdef"));
        assert_true(text_header_value_ok(""));
        assert_false(text_header_value_ok(NULL));
        assert_false(text_header_value_ok("2025-11-25\r\nX-Evil: 1"));
        assert_false(text_header_value_ok("key\n"));
        assert_false(text_header_value_ok("key\x7f"));
        assert_false(text_header_value_ok("k\x01y"));
}

static void test_err_chain(void **state)
{
        (void)state;
        osvm_err e = {0};
        errno = ENOENT;
        assert_int_equal(err_sys(&e, "opening %s", "x"), -1);
        err_wrap(&e, "loading config");
        assert_string_equal(e.msg, "loading config: opening x: No such file or directory");
        assert_int_equal(e.code, ENOENT);
        assert_int_equal(e.exit, OSVM_EXIT_FAILURE);
}

static void test_log_file_is_bounded(void **state)
{
        (void)state;
        char *logs = xasprintf("%s/logs", dir);
        log_set_level(LOG_ERROR); /* keep stderr quiet; the file takes info */
        log_set_file_dir(logs);
        char big[1000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        for (int i = 0; i < 3000; i++) /* ~3 MB of messages */
                log_info("%d %s", i, big);
        log_close();
        char *f = xasprintf("%s/osvm.log", logs), *f1 = xasprintf("%s/osvm.log.1", logs);
        struct stat st, st1;
        assert_int_equal(stat(f, &st), 0);
        assert_int_equal(stat(f1, &st1), 0);
        assert_true(st.st_size <= LOG_FILE_MAX_BYTES);
        assert_true(st1.st_size <= LOG_FILE_MAX_BYTES);
        assert_true(st.st_size > 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        char *text;
        assert_int_equal(fs_read_file(f, LOG_FILE_MAX_BYTES, &text, NULL, NULL), 0);
        assert_non_null(strstr(text, "info: 2999 xxx"));
        free(text);
        free(f);
        free(f1);
        free(logs);
}

/* A batch's lines reach the file together at its (outermost) end, in order,
 * each a line of its own as when logged one by one. */
static void test_log_batch(void **state)
{
        (void)state;
        char *logs = xasprintf("%s/batch", dir);
        char *f = xasprintf("%s/osvm.log", logs);
        log_set_level(LOG_ERROR);
        log_set_file_dir(logs);
        log_info("before");
        log_batch_begin();
        log_info("one");
        log_batch_begin(); /* nested: the outer end writes */
        log_warn("two\nstill two");
        log_batch_end();
        log_info("three");
        char *text;
        assert_int_equal(fs_read_file(f, 1 << 20, &text, NULL, NULL), 0);
        assert_non_null(strstr(text, "info: before\n"));
        assert_null(strstr(text, "one")); /* not yet */
        free(text);
        log_batch_end();
        log_batch_end(); /* one end too many: nothing happens */
        log_info("after");
        assert_int_equal(fs_read_file(f, 1 << 20, &text, NULL, NULL), 0);
        const char *one = strstr(text, "] info: one\n"),
                   *two = strstr(text, "] warn: two\\nstill two\n"),
                   *three = strstr(text, "] info: three\n"),
                   *after = strstr(text, "] info: after\n");
        assert_true(one && two && three && after);
        assert_true(one < two && two < three && three < after);
        free(text);
        log_close();
        free(f);
        free(logs);
}

/* Reads what fn writes to fd (1 or 2) while it runs. */
static char *capture(int fd, void (*fn)(void))
{
        char *path = xasprintf("%s/captured", dir);
        fflush(NULL);
        int saved = dup(fd);
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(saved >= 0 && out >= 0);
        dup2(out, fd);
        close(out);
        fn();
        fflush(NULL);
        dup2(saved, fd);
        close(saved);
        char *text;
        assert_int_equal(fs_read_file(path, 1 << 20, &text, NULL, NULL), 0);
        unlink(path);
        free(path);
        return text;
}

static void log_hostile(void)
{
        /* what a server might say: a clear, a title, a line break, a CR, a C1 CSI */
        log_warn("server said: %s", "a\033[2J\033]0;t\007\nb\r\xc2\x9b"
                                    "c");
}

/* Every message is sanitized once, in the log: one line in the file, its
 * lines kept and indented on stderr. */
static void test_log_sanitizes(void **state)
{
        (void)state;
        char *logs = xasprintf("%s/logs-s", dir);
        log_set_level(LOG_WARN);
        log_set_file_dir(logs);
        char *err = capture(2, log_hostile);
        assert_string_equal(err, "WARN: server said: a^[[2J^[]0;t^G\n  b^M\\u009bc\n");
        free(err);
        log_close();
        char *f = xasprintf("%s/osvm.log", logs), *text;
        assert_int_equal(fs_read_file(f, 1 << 20, &text, NULL, NULL), 0);
        assert_non_null(strstr(text, "] warn: server said: a^[[2J^[]0;t^G\\nb^M\\u009bc\n"));
        assert_null(strchr(text, '\033'));
        assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text)); /* one line */
        free(text);
        free(f);
        free(logs);
}

static void log_long(void)
{
        char big[5000];
        for (size_t i = 0; i + 2 < sizeof(big); i += 2)
                memcpy(big + i, "\xc3\xa9", 2); /* é */
        big[sizeof(big) - 2] = '\0';
        log_error("%s", big);
}

/* A message cut at the log's bound is not cut inside a character. */
static void test_log_cuts_whole_characters(void **state)
{
        (void)state;
        log_set_level(LOG_WARN);
        char *err = capture(2, log_long);
        assert_true(strlen(err) > 1000);
        assert_null(strstr(err, "\\x"));
        assert_true(text_valid_utf8(err, strlen(err)));
        free(err);
}

static void test_level_parse(void **state)
{
        (void)state;
        assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
        assert_int_equal(log_level_parse("WARN"), LOG_WARN);
        assert_int_equal(log_level_parse("warning"), LOG_WARN);
        assert_int_equal(log_level_parse("error"), LOG_ERROR);
        assert_int_equal(log_level_parse("loud"), -1);
}

static void test_paths(void **state)
{
        (void)state;
        setenv("OSVM_HOME", "/o", 1);
        char *p = paths_config_dir();
        assert_string_equal(p, "/o");
        free(p);
        unsetenv("OSVM_HOME");
        setenv("XDG_CONFIG_HOME", "/x", 1);
        p = paths_config_dir();
        assert_string_equal(p, "/x/osvm");
        free(p);
        setenv("XDG_CONFIG_HOME", "relative", 1); /* ignored, as the spec says */
        setenv("HOME", "/h", 1);
        p = paths_config_dir();
        assert_string_equal(p, "/h/.config/osvm");
        free(p);
        unsetenv("XDG_STATE_HOME");
        p = paths_state_dir();
        assert_string_equal(p, "/h/.local/state/osvm");
        free(p);
        p = fs_expand_home("~/a");
        assert_string_equal(p, "/h/a");
        free(p);
        p = fs_expand_home("~other/a");
        assert_string_equal(p, "~other/a");
        free(p);

        assert_true(fs_under("/a/b", "/a"));
        assert_true(fs_under("/a", "/a"));
        assert_true(fs_under("/a/b", "/a/"));
        assert_true(fs_under("/a", "/"));
        assert_false(fs_under("/ab", "/a"));
        assert_false(fs_under("/a", "/a/b"));
        char *held[] = {"/x/y", "/a/b/c"};
        assert_true(fs_holds_any("/a", held, 2));
        assert_true(fs_holds_any("/x/y", held, 2));
        assert_false(fs_holds_any("/a/c", held, 2));
        assert_false(fs_holds_any("/a", held, 0));

        /* osvm's own files: the two folders, and a secrets file put elsewhere
         * (only an absolute one); through symlinks where they exist */
        char *own[PATHS_OWN_MAX];
        unsetenv("OSVM_SECRETS_FILE");
        size_t n = paths_own(own);
        assert_int_equal(n, 2);
        assert_string_equal(own[0], "/h/.config/osvm");
        assert_string_equal(own[1], "/h/.local/state/osvm");
        for (size_t i = 0; i < n; i++)
                free(own[i]);
        char tmp[] = "/tmp/osvm-own-XXXXXX";
        assert_non_null(mkdtemp(tmp));
        char real[PATH_MAX], link[PATH_MAX + 8];
        snprintf(real, sizeof(real), "%s/real", tmp);
        snprintf(link, sizeof(link), "%s/link", tmp);
        assert_int_equal(mkdir(real, 0700), 0);
        assert_int_equal(symlink("real", link), 0);
        setenv("OSVM_HOME", link, 1);
        setenv("OSVM_SECRETS_FILE", "/s/secrets.json", 1);
        n = paths_own(own);
        assert_int_equal(n, 3);
        char *want = realpath(real, NULL);
        assert_non_null(want);
        assert_string_equal(own[0], want);
        free(want);
        assert_string_equal(own[2], "/s/secrets.json");
        for (size_t i = 0; i < n; i++)
                free(own[i]);
        setenv("OSVM_SECRETS_FILE", "relative.json", 1);
        n = paths_own(own);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++)
                free(own[i]);
        unsetenv("OSVM_SECRETS_FILE");
        unsetenv("OSVM_HOME");
        unlink(link);
        rmdir(real);
        rmdir(tmp);
}

/* jansson allocates through xmalloc: out of memory ends osvm as everywhere
 * else, and no json_* call returns NULL (or leaves out a member) for want of
 * it. (libc's malloc was jansson's own default.) */
static void test_json_alloc_is_xmalloc(void **state)
{
        (void)state;
        json_malloc_t m = NULL;
        json_free_t f = NULL;
        json_get_alloc_funcs(&m, &f);
        assert_non_null(m);
        assert_true((void *)m != dlsym(RTLD_DEFAULT, "malloc"));
        void *p = m(16);
        assert_non_null(p);
        f(p);
}

/* The log's and the audit's time stamp agrees with gmtime_r and strftime:
 * the epoch, leap days, the turns of centuries, and times spread from 1970 to
 * 9999; the milliseconds are cut, not rounded. */
static void test_utc_stamp(void **state)
{
        (void)state;
        char got[TIME_STAMP_LEN + 1], want[64];
        time_utc_format((struct timespec){0, 999999999}, got);
        assert_string_equal(got, "1970-01-01T00:00:00.999Z");
        time_utc_format((struct timespec){951782400, 5000000}, got);
        assert_string_equal(got, "2000-02-29T00:00:00.005Z");
        time_utc_format((struct timespec){4107542399, 0}, got);
        assert_string_equal(got, "2100-02-28T23:59:59.000Z");
        time_utc_format((struct timespec){-5, 0}, got);
        assert_string_equal(got, "1970-01-01T00:00:00.000Z");
        time_utc_format((struct timespec){253402300800 + 86400, 0}, got);
        assert_string_equal(got, "9999-12-31T23:59:59.000Z");
        unsigned long long x = 88172645463325252ull; /* xorshift64 */
        for (int i = 0; i < 20000; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                time_t t = (time_t)(x % 253402300800ull);
                struct tm tm;
                assert_non_null(gmtime_r(&t, &tm));
                strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
                long ms = (long)(x % 1000);
                snprintf(want + strlen(want), sizeof(want) - strlen(want), ".%03ldZ", ms);
                time_utc_format((struct timespec){t, ms * 1000000 + 999}, got);
                assert_string_equal(got, want);
        }
        time_utc_stamp(got);
        assert_int_equal(strlen(got), TIME_STAMP_LEN);
}

/* A string built in pieces: formatted where it fits in the room left and
 * where it does not, reserved room used without a move, NULs kept. */
static void test_strbuf(void **state)
{
        (void)state;
        strbuf b = {0};
        sb_addf(&b, "%s-%d", "a", 1); /* no buffer yet */
        assert_string_equal(b.s, "a-1");
        sb_reserve(&b, 1000);
        char *at = b.s;
        size_t cap = b.cap;
        assert_true(cap >= b.len + 1000 + 1);
        for (int i = 0; i < 100; i++)
                sb_addf(&b, "%03d,", i); /* 400 bytes: into the room reserved */
        assert_ptr_equal(b.s, at);
        assert_int_equal(b.cap, cap);
        assert_int_equal(b.len, 3 + 400);
        assert_memory_equal(b.s + 3, "000,001,", 8);
        assert_memory_equal(b.s + b.len - 4, "099,", 4);
        char big[3000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        sb_addf(&b, "[%s]", big); /* more than the room left: grown, formatted again */
        assert_int_equal(b.len, 3 + 400 + 3001);
        assert_int_equal(b.s[403], '[');
        assert_int_equal(b.s[b.len - 1], ']');
        assert_int_equal(b.s[b.len], '\0');
        assert_int_equal(strlen(b.s), b.len);
        sb_addn(&b, "a\0b", 3);
        assert_int_equal(b.len, 3 + 400 + 3001 + 3);
        assert_memory_equal(b.s + b.len - 3, "a\0b", 4);
        sb_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_json_alloc_is_xmalloc),
            cmocka_unit_test(test_read_bounds),
            cmocka_unit_test(test_read_proc),
            cmocka_unit_test(test_create_never_overwrites),
            cmocka_unit_test(test_mkdir_p),
            cmocka_unit_test(test_utf8),
            cmocka_unit_test(test_cut),
            cmocka_unit_test(test_sanitize),
            cmocka_unit_test(test_header_checks),
            cmocka_unit_test(test_err_chain),
            cmocka_unit_test(test_log_file_is_bounded),
            cmocka_unit_test(test_log_batch),
            cmocka_unit_test(test_level_parse),
            cmocka_unit_test(test_paths),
            cmocka_unit_test(test_log_sanitizes),
            cmocka_unit_test(test_log_cuts_whole_characters),
            cmocka_unit_test(test_utc_stamp),
            cmocka_unit_test(test_strbuf),
        };
        return cmocka_run_group_tests_name("base", tests, setup, teardown);
}
