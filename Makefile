# Entry points. `make demo` and `make check` do everything on a fresh Debian 12 machine as root.
PREFIX ?= /usr/local
BUILD ?= build
SAN_BUILD ?= build-san
FUZZ_BUILD ?= build-fuzz
VG_BUILD ?= build-vg
# seconds each fuzz target runs in fuzz-smoke
FUZZ_SECONDS ?= 20
PY ?= /usr/bin/python3

DEB_PACKAGES = gcc make meson ninja-build pkg-config libjansson-dev libcap-dev libseccomp-dev \
	libcmocka-dev busybox-static python3-pytest strace \
	libarchive-dev nettle-dev libacl1-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev \
	zlib1g-dev libxml2-dev zstd go-md2man \
	clang libclang-rt-dev valgrind

.PHONY: all deps build demo check unit integration sanitize valgrind vm-lane compat fuzz fuzz-smoke \
	clean install

all: build

deps:
	@scripts/ensure-packages $(DEB_PACKAGES)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	scripts/demo $(BUILD)/berth

unit: build
	meson test -C $(BUILD) --suite unit --suite docs --print-errorlogs

integration: build
	BERTH=$(abspath $(BUILD)/berth) $(PY) -m pytest -q -p no:cacheprovider tests/integration

# SELinux labels under a real SELinux kernel (../shared/vm-lane, QEMU), permissive and enforcing.
vm-lane: build
	tests/vm/run-lane $(BUILD)/berth

# podman, containerd, Docker and conmon driving berth; each installs its Debian packages first.
compat: build
	BERTH=$(abspath $(BUILD)/berth) tests/compat/run-all

$(SAN_BUILD)/build.ninja:
	meson setup $(SAN_BUILD) -Dstatic_bin=false -Db_sanitize=address,undefined \
		-Dbuildtype=debug -Db_lundef=false

sanitize: $(SAN_BUILD)/build.ninja
	ninja -C $(SAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(SAN_BUILD) --suite unit --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BERTH=$(abspath $(SAN_BUILD)/berth) $(PY) -m pytest -q -p no:cacheprovider \
		tests/integration

# Every CLI command under valgrind memcheck (tests/valgrind/run): no leak, no invalid access.
# valgrind needs a dynamically linked binary.
$(VG_BUILD)/build.ninja:
	meson setup $(VG_BUILD) -Dstatic_bin=false -Dbuildtype=debug

valgrind: $(VG_BUILD)/build.ninja
	ninja -C $(VG_BUILD) berth
	tests/valgrind/run $(VG_BUILD)

# libFuzzer targets (tests/fuzz), built with clang, ASan and UBSan in their own build dir.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dstatic_bin=false \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

# Each target for FUZZ_SECONDS from its seed corpus; any crash, leak or report fails.
fuzz-smoke: fuzz
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

check: deps
	$(MAKE) build unit integration sanitize valgrind vm-lane fuzz-smoke compat

# The binary, libberth.a with its header and berth.pc, the man pages and bash completion.
install: $(BUILD)/build.ninja
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) $(VG_BUILD) demo/bundle
