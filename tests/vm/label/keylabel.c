/* keylabel: print the description and the SELinux label of the caller's session keyring.
 * Built statically by tests/vm/run-lane and run inside containers of the lane. */
#include <linux/keyctl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    char desc[512], label[512];
    long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, desc, sizeof(desc));
    if (n < 0 || n > (long)sizeof(desc)) {
        perror("keyctl describe");
        return 1;
    }
    desc[sizeof(desc) - 1] = '\0';
    n = syscall(SYS_keyctl, KEYCTL_GET_SECURITY, KEY_SPEC_SESSION_KEYRING, label, sizeof(label));
    if (n < 0 || n > (long)sizeof(label)) {
        perror("keyctl get_security");
        return 1;
    }
    label[sizeof(label) - 1] = '\0';
    /* "keyring;uid;gid;perm;name" */
    const char *name = desc;
    for (int i = 0; i < 4 && name; i++) {
        while (*name && *name != ';')
            name++;
        name = *name ? name + 1 : NULL;
    }
    printf("keyring=%s\nkeylabel=%s\n", name ? name : desc, label);
    return 0;
}
