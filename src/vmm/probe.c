/* Is /dev/kvm there and usable? */
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

bool vmm_probe(char *why, size_t n)
{
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                int err = errno;
                if (err == ENOENT)
                        snprintf(why, n,
                                 "/dev/kvm does not exist (enable virtualization in the "
                                 "firmware or the hypervisor, and load the kvm module)");
                else if (err == EACCES || err == EPERM)
                        snprintf(why, n, "/dev/kvm: %s (add your user to the kvm group)",
                                 strerror(err));
                else
                        snprintf(why, n, "/dev/kvm: %s", strerror(err));
                return false;
        }
        int version = ioctl(fd, KVM_GET_API_VERSION, 0);
        bool ok =
            version == KVM_API_VERSION && ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0;
        if (!ok)
                snprintf(why, n,
                         "/dev/kvm speaks KVM API version %d without user memory; "
                         "version %d with KVM_CAP_USER_MEMORY is needed",
                         version, KVM_API_VERSION);
        close(fd);
        return ok;
}
