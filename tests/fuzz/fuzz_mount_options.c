/* Mount options of config.json (one option a line; an option may hold commas, as a JSON string
 * can), then what rootfs does with the result: the flag text of its messages and the SELinux
 * context added to the filesystem data. The mount_setattr attributes must be ones the kernel
 * takes. */
#include <stdbool.h>
#include <sys/mount.h>

#include "berth/error.h"
#include "fuzz.h"
#include "linux/label.h"
#include "linux/mnt.h"

#define LABEL "system_u:object_r:container_file_t:s0:c1,c2"

/* What mount_setattr(2) requires of the atime field: it is one mode, not bits, so setting a mode
 * takes the whole field in attr_clr, and clearing takes all of it or none. */
static bool atime_valid(uint64_t set, uint64_t clr)
{
    uint64_t s = set & MOUNT_ATTR__ATIME, c = clr & MOUNT_ATTR__ATIME;
    if (!c)
        return !s;
    return c == MOUNT_ATTR__ATIME &&
           (s == MOUNT_ATTR_RELATIME || s == MOUNT_ATTR_NOATIME || s == MOUNT_ATTR_STRICTATIME);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **options = fuzz_lines(data, size);
    struct berth_error *err = NULL;
    struct mnt_opts o;
    int r = mnt_parse_options(options, "mounts[0]", &o, &err);
    if (r < 0) {
        FUZZ_CHECK(err && err->msg && *err->msg, "failed without a message");
        berth_error_free(err);
        strv_free(options);
        return 0;
    }
    FUZZ_CHECK(!err, "success with an error set");
    FUZZ_CHECK(o.bind == !!(o.flags & MS_BIND), "bind %d, flags %#lx", o.bind, o.flags);
    FUZZ_CHECK(o.recursive == !!(o.flags & MS_REC), "recursive %d, flags %#lx", o.recursive,
               o.flags);
    FUZZ_CHECK(!(o.relabel_shared && o.relabel_private), "z and Z both taken");
    FUZZ_CHECK(!o.data || *o.data, "empty data instead of none");
    FUZZ_CHECK(atime_valid(o.attr_set, o.attr_clr), "attr_set %#llx attr_clr %#llx",
               (unsigned long long)o.attr_set, (unsigned long long)o.attr_clr);
    FUZZ_CHECK(atime_valid(o.rattr_set, o.rattr_clr), "rattr_set %#llx rattr_clr %#llx",
               (unsigned long long)o.rattr_set, (unsigned long long)o.rattr_clr);
    /* Every byte of the data comes from an option the table does not know. */
    FUZZ_CHECK(!o.data || strlen(o.data) <= size, "data longer than the input");

    /* The same options give the same result. */
    struct mnt_opts again;
    FUZZ_CHECK(mnt_parse_options(options, "mounts[0]", &again, NULL) == 0, "second parse failed");
    FUZZ_CHECK(again.flags == o.flags && again.propagation == o.propagation &&
                   again.attr_set == o.attr_set && again.attr_clr == o.attr_clr &&
                   again.rattr_set == o.rattr_set && again.rattr_clr == o.rattr_clr &&
                   (!o.data) == (!again.data) && (!o.data || strcmp(o.data, again.data) == 0),
               "two parses differ");
    mnt_opts_clear(&again);

    char *flags = mnt_flags_text(o.flags | o.propagation);
    FUZZ_CHECK(flags && *flags, "no flag text");
    free(flags);

    char *with_label = label_mount_data(o.data, LABEL);
    FUZZ_CHECK(with_label, "no mount data with a label");
    FUZZ_CHECK(!o.data || strncmp(with_label, o.data, strlen(o.data)) == 0,
               "the label did not keep the data in front: %s", with_label);
    free(with_label);

    mnt_opts_clear(&o);
    FUZZ_CHECK(!o.data && !o.flags, "clear left something");
    strv_free(options);
    return 0;
}
