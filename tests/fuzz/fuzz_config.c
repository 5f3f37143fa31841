/* config.json parsing and validation (spec_parse), and the two partial documents the CLI reads
 * (exec -p process.json, update -r resources.json), all on the same input. A config that parses
 * must come back from spec_to_json as text that parses again and prints the same. */
#include "berth/error.h"
#include "fuzz.h"
#include "spec/spec.h"

static void check_failure(int r, struct berth_error *err, const char *what)
{
    FUZZ_CHECK(r < 0, "%s returned %d", what, r);
    FUZZ_CHECK(err && err->msg && *err->msg, "%s failed without a message", what);
}

static void round_trip(const struct spec *s)
{
    char *text = spec_to_json(s);
    struct spec *again = NULL;
    struct berth_error *err = NULL;
    int r = spec_parse(text, strlen(text), "dumped", &again, &err);
    FUZZ_CHECK(r == 0, "the dump does not parse: %s\n%s", err ? err->msg : "?", text);
    char *text2 = spec_to_json(again);
    FUZZ_CHECK(strcmp(text, text2) == 0, "the dump changes when parsed again:\n%s\n----\n%s", text,
               text2);
    free(text2);
    spec_free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly the input's bytes, no terminating NUL: the parsers take a length. */
    const char *text = (const char *)data;

    struct berth_error *err = NULL;
    struct spec *s = NULL;
    int r = spec_parse(text, size, "config.json", &s, &err);
    if (r == 0) {
        FUZZ_CHECK(s && !err, "success with an error set");
        round_trip(s);
        spec_free(s);
    } else {
        check_failure(r, err, "spec_parse");
        berth_error_free(err);
    }

    err = NULL;
    struct spec_process *p = NULL;
    r = spec_parse_process(text, size, "process.json", &p, &err);
    if (r == 0) {
        FUZZ_CHECK(p && p->args && p->args[0] && p->cwd && p->cwd[0] == '/',
                   "a process without args or an absolute cwd");
        spec_process_free(p);
    } else {
        check_failure(r, err, "spec_parse_process");
        berth_error_free(err);
    }

    err = NULL;
    struct spec_resources *res = NULL;
    r = spec_parse_resources(text, size, "resources.json", &res, &err);
    if (r == 0) {
        FUZZ_CHECK(res, "no resources on success");
        spec_resources_free(res);
    } else {
        check_failure(r, err, "spec_parse_resources");
        berth_error_free(err);
    }
    return 0;
}
